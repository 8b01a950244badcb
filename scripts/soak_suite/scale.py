"""Scale: many connections open at once, and many opened and closed in turn."""

import time

from .processes import run_load
from .report import Result, mib
from .sockets import Flow, close_all, connect_many, frame, pump


def scenario_concurrent(ctx):
    n = ctx.scale(10000, 2000)
    server = ctx.server(["--max-clients", n + 2000, "--timeout", 120, "--workers", 2])
    try:
        # A small warm-up (threads, allocator arenas), not a large one: a large one
        # would pre-touch the connection-table pages that N connections need.
        run_load(ctx.trustctl, server.port, ["--clients", 200, "--concurrency", 100, "--messages", 1], 60)
        server.wait_fds(server.idle_fds, 10)
        time.sleep(0.5)  # let the log writer catch up before the baseline (not a server wait)
        before_rss, before_fds = server.rss_kib(), server.fds()
        sockets, connect_failures = connect_many(n, server.port, batch=1000, timeout=120)
        flows = []
        for i, s in enumerate(sockets):
            flows.append(Flow(s, frame(f"client {i:06d} round trip".encode() + bytes(40))))
        pump(flows, 60)
        ok = sum(1 for f in flows if not f.mismatch and not f.error and f.got == len(f.expect))
        open_fds = server.fds()
        after_rss = server.rss_kib()
        per_connection = (after_rss - before_rss) * 1024 / max(1, len(sockets))
        close_all(sockets)
        back = server.wait_fds(before_fds, 20)
        passed = ok == n and connect_failures == 0 and open_fds - before_fds >= n and back <= before_fds
        passed = passed and per_connection <= 1024
        details = (
            f"{ok}/{n} verified round trips with all {n} open at once; server fds {before_fds} -> {open_fds} -> {back}; "
            f"RSS {mib(before_rss)} -> {mib(after_rss)} (+{(after_rss - before_rss) / 1024:.1f} MiB), "
            f"{per_connection:.0f} B per connection (baseline after a 200-connection warm-up; includes the log queue)"
        )
        return Result(
            "concurrent",
            f"{n:,} connections open at once, 1 framed round trip each",
            f"{ok:,}/{n:,} ok; RSS {per_connection:.0f} B/connection",
            "all ok; <= 1 KiB/connection; fds back to idle",
            passed,
            details,
        )
    finally:
        server.cleanup()


def scenario_churn(ctx):
    n = ctx.scale(100000, 20000)
    warm = 1000
    server = ctx.server(["--timeout", 30, "--workers", 2])
    try:
        idle_fds = server.fds()
        warmup = run_load(ctx.trustctl, server.port, ["--clients", warm, "--concurrency", 100, "--messages", 1], 60)
        server.wait_fds(idle_fds, 10)
        time.sleep(0.5)  # the log writer drains its queue; RSS baseline after it
        rss0 = server.rss_kib()
        log0 = server.log_size()
        start = time.monotonic()
        report = run_load(ctx.trustctl, server.port, ["--clients", n, "--concurrency", 100, "--messages", 1], 600)
        wall = time.monotonic() - start
        fds = server.wait_fds(idle_fds, 20)
        time.sleep(0.5)
        rss1 = server.rss_kib()
        log_bytes = server.log_size() - log0
        growth = (rss1 - rss0) / rss0
        passed = report.get("ok") == n and report.get("failed") == 0 and warmup.get("failed") == 0
        passed = passed and fds == idle_fds and rss1 <= rss0 * 1.10
        details = (
            f"{report.get('ok')}/{n} cycles ok in {wall:.1f} s ({n / wall:,.0f}/s), p99 "
            f"{report.get('latency_us', {}).get('p99')} us; fds idle {idle_fds}, after {fds}; "
            f"RSS after {warm:,}-cycle warm-up {mib(rss0)}, after churn {mib(rss1)} ({growth * 100:+.1f}%); "
            f"log {log_bytes / n:.0f} B per connection {report.get('error', '')}"
        )
        return Result(
            "churn",
            f"{n:,} connect/echo/close cycles, 100 at a time",
            f"{report.get('ok'):,} ok; fds {fds} (idle {idle_fds}); RSS {growth * 100:+.1f}%",
            "all ok; fds = idle; RSS within 10% of post-warm-up",
            passed,
            details,
        )
    finally:
        server.cleanup()

