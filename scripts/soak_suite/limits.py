"""Limits: connections over --max-clients, and a process out of descriptors."""

import time

from .processes import LoadTest, run_load
from .report import Result, percent_of_core
from .sockets import Flow, close_all, connect_many, frame, pump


def scenario_max_clients(ctx):
    limit = 100
    flood = ctx.scale(2000, 500)
    server = ctx.server(["--max-clients", limit, "--timeout", 60, "--workers", 2])
    try:
        holders, failures = connect_many(limit, server.port, timeout=30)
        held = server.wait_fds_at_least(server.idle_fds + limit, 10)
        time.sleep(0.3)  # the log writer writes the holders' accept lines first (baseline only)
        log0, lines0 = server.log_size(), len(server.log_lines())
        t0 = time.monotonic()
        extra, extra_failures = connect_many(flood, server.port, batch=500, timeout=60)
        flows = [Flow(s, b"", expect=b"") for s in extra]
        pump(flows, 10, want_eof=True)
        window = time.monotonic() - t0
        refused = sum(1 for f in flows if (f.eof or f.error) and f.got == 0)
        close_all(extra)
        # Wait for the refusal lines, and measure before the holders' own lines are added.
        server.wait_log(server.events, lambda counts: counts["connection_refused"] >= refused)
        events = server.events()
        log_bytes = server.log_size() - log0
        log_lines = len(server.log_lines()) - lines0
        # The holders are unaffected: one verified round trip each.
        hold_flows = [Flow(s, frame(b"still here %d" % i)) for i, s in enumerate(holders)]
        pump(hold_flows, 30)
        ok = sum(1 for f in hold_flows if f.got == len(f.expect) and not f.mismatch and not f.error)
        close_all(holders)
        passed = failures == 0 and held and refused == flood and ok == limit
        details = (
            f"--max-clients {limit}, {limit} holders, then {flood} more connections: {refused} accepted and closed at "
            f"once (no byte echoed), logged connection_refused {events['connection_refused']}; holders then "
            f"{ok}/{limit} verified round trips; log {log_bytes} B, {log_lines} lines for the flood "
            f"({log_bytes / max(1, flood):.0f} B and {log_lines / max(1, flood):.2f} lines per refused connection, "
            f"{log_lines / window:.0f} lines/s)"
        )
        return Result(
            "max-clients",
            f"--max-clients {limit}; {flood:,} connections over the limit",
            f"{refused:,}/{flood:,} refused; holders {ok}/{limit} ok; {log_bytes / max(1, flood):.0f} B log each",
            "all extra refused at once; holders unaffected",
            passed,
            details,
        )
    finally:
        server.cleanup()


def scenario_out_of_fds(ctx):
    flood = ctx.scale(2000, 500)
    limit = 256
    residents = 20
    seconds = 6
    server = ctx.server(["--timeout", 60, "--workers", 2], nofile=limit)
    try:
        idle_fds = server.fds()
        resident = LoadTest(
            ctx.trustctl,
            server.port,
            ["--clients", residents, "--concurrency", residents, "--messages", 10**9,
             "--duration", seconds + 4, "--rate", 400],
        )
        resident_connected = server.wait_fds_at_least(idle_fds + residents, 10)
        log0, lines0 = server.log_size(), len(server.log_lines())
        cpu0, t0 = server.cpu_ticks(), time.monotonic()
        sockets, not_connected = connect_many(flood, server.port, batch=500, timeout=seconds, batch_timeout=1.0)
        remaining = t0 + seconds - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)  # hold the flood for the measured window
        window = time.monotonic() - t0
        cpu = percent_of_core(server.cpu_ticks() - cpu0, window)
        at_limit = server.fds()
        log_bytes, log_lines = server.log_size() - log0, len(server.log_lines()) - lines0
        close_all(sockets)
        resident_report = resident.result(60)
        server.wait_fds(idle_fds, 10)
        after = run_load(ctx.trustctl, server.port, ["--clients", 50, "--concurrency", 10, "--messages", 1], 60)
        events = server.events()
        passed = resident_connected and resident_report.get("failed") == 0 and cpu < 10 and after.get("failed") == 0
        passed = passed and after.get("ok") == 50
        details = (
            f"server under prlimit --nofile={limit}; {flood} connection attempts held {window:.1f} s "
            f"({len(sockets)} completed the TCP handshake, {not_connected} did not); server fds at the limit: {at_limit}; "
            f"server CPU {cpu:.1f}% of a core over the flood; {residents} resident clients at 400 round trips/s: "
            f"{resident_report.get('ok')} ok, {resident_report.get('failed')} failed, p99 "
            f"{resident_report.get('latency_us', {}).get('p99')} us; after the flood 50 new clients: {after.get('ok')} ok; "
            f"log during flood {log_bytes} B / {log_lines} lines ({log_lines / window:.1f} lines/s); "
            f"accept_paused lines in all: {events['accept_paused']}"
        )
        return Result(
            "out-of-fds",
            f"nofile {limit}, {flood:,} connection flood for {seconds} s, {residents} residents",
            f"CPU {cpu:.1f}% of a core; residents {resident_report.get('ok'):,} ok/{resident_report.get('failed')} failed; "
            f"{after.get('ok')}/50 after",
            "CPU < 10%; residents all ok; new clients accepted after",
            passed,
            details,
        )
    finally:
        server.cleanup()

