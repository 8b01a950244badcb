"""Hostile clients: slowloris trickles and random bytes on the framed protocol."""

import collections
import random
import select
import time

from .processes import probe, probe_figure
from .report import Result, mib, percent_of_core
from .sockets import Flow, close_all, connect_many, frame, pump


def scenario_slowloris(ctx):
    n = ctx.scale(5000, 1000)
    timeout = 2
    server = ctx.server(
        ["--mode", "framed", "--timeout", timeout, "--workers", 2, "--max-clients", n + 100, "--log-level", "info"]
    )
    try:
        stream = frame(b"t" * 256)
        # Case A: one byte per second per connection, timeout 2 s: never idle.
        sockets, failures_a = connect_many(n, server.port, batch=1000, timeout=60)
        flows = [Flow(s, stream) for s in sockets]
        trickle_seconds = 6
        cpu0, t0 = server.cpu_ticks(), time.monotonic()
        prober = probe(ctx.trustctl, server.port, messages=500, rate=100)
        poller = select.epoll()
        for f in flows:
            poller.register(f.sock.fileno(), select.EPOLLIN)
        by_fd = {f.sock.fileno(): f for f in flows}
        # Each connection sends at its own phase within the second (20 slices of
        # 50 ms), as independent slowloris clients would: 5,000 bytes/s in all.
        slices = 20
        step = 0
        next_send = time.monotonic()
        for _ in range(trickle_seconds * slices * 4):  # bounded
            now = time.monotonic()
            if now >= t0 + trickle_seconds:
                break
            if now >= next_send:
                for f in flows[step % slices :: slices]:
                    if not f.eof and not f.error:
                        f.send_some(1)
                step += 1
                next_send += 1.0 / slices
            for fd, _ in poller.poll(max(0.0, min(0.05, next_send - time.monotonic()))):
                f = by_fd[fd]
                if not f.receive(4096) and (f.eof or f.error):
                    poller.unregister(fd)
        cpu_a = percent_of_core(server.cpu_ticks() - cpu0, time.monotonic() - t0)
        rss_a = server.rss_kib()
        report_a = prober.result(60)
        p99_a = probe_figure(report_a)
        # What was echoed must be exactly what was sent minus bytes of an incomplete header.
        still_open = sum(1 for f in flows if not f.eof and not f.error and not f.mismatch)
        # Echoes still on their way (the last byte's) are read with a short bounded wait.
        for _ in range(20):
            if all(f.got == (f.sent if f.sent >= 4 else 0) for f in flows):
                break
            for fd, _ in poller.poll(0.05):
                by_fd[fd].receive(4096)
        poller.close()
        echo_ok = sum(1 for f in flows if f.got == (f.sent if f.sent >= 4 else 0))
        close_all(sockets)
        server.wait_fds(server.idle_fds, 20)

        # Case B: one byte, then nothing for 3 s: closed by the idle timeout.
        sockets, failures_b = connect_many(n, server.port, batch=1000, timeout=60)
        flows = [Flow(s, b"", expect=b"") for s in sockets]  # pump sends nothing more: silence
        sent_at = {}
        prober = probe(ctx.trustctl, server.port, messages=400, rate=100)
        for f in flows:
            f.sock.send(stream[:1])
            sent_at[f.sock.fileno()] = time.monotonic()
        pump(flows, timeout + 5, want_eof=True)
        report_b = prober.result(60)
        p99_b = probe_figure(report_b)
        lifetimes = [f.closed_at - sent_at[f.sock.fileno()] for f in flows if f.closed_at]
        closed = sum(1 for f in flows if f.eof and f.got == 0)
        # The third second: a byte now would be too late for every one of them.
        earliest = min(lifetimes) if lifetimes else 0
        latest = max(lifetimes) if lifetimes else 0
        close_all(sockets)
        reasons = server.close_reasons()
        passed = failures_a == 0 and failures_b == 0 and still_open == n and echo_ok == n
        passed = passed and closed == n and earliest >= timeout - 0.05 and latest <= timeout + 1.5
        passed = passed and p99_a is not None and p99_a < 50 and p99_b is not None and p99_b < 50
        details = (
            f"A: {n} connections x 1 byte/s (each at its own phase) for {trickle_seconds} s with --timeout {timeout}: {still_open} still open "
            f"(each received byte resets the idle timer: a trickle is activity), echoes exact {echo_ok}/{n}, "
            f"server CPU {cpu_a:.1f}% of a core, RSS {mib(rss_a)}, probe p99 {p99_a} ms. "
            f"B: 1 byte then silence (the next byte would come at 3 s): {closed}/{n} closed by the server "
            f"{earliest:.2f}-{latest:.2f} s after their byte, nothing echoed; probe p99 {p99_b} ms; "
            f"log reasons {dict(reasons)}"
        )
        return Result(
            "slowloris",
            f"{n:,} conns trickling 1 B/s (A) and 1 B/3 s (B), --timeout {timeout}",
            f"A: {still_open:,} stay open, probe p99 {p99_a} ms; B: {closed:,} closed at {earliest:.1f}-{latest:.1f} s",
            "A: served, probe p99 < 50 ms; B: all closed at timeout..timeout+1.5 s",
            passed,
            details,
        )
    finally:
        server.cleanup()


def expected_framed_echo(data, max_frame):
    """What a framed server echoes of `data` (cut-through), and why the connection ends."""
    pos = 0
    while True:
        left = len(data) - pos
        if left == 0:
            return data, "idle_timeout"
        if left < 4:
            return data[:pos], "idle_timeout"  # an incomplete header is held, never echoed
        declared = int.from_bytes(data[pos : pos + 4], "big")
        if declared > max_frame:
            return data[:pos], "frame_too_large"
        if left - 4 < declared:
            return data, "idle_timeout"  # payload bytes are echoed as they come
        pos += 4 + declared


def scenario_garbage(ctx):
    n = ctx.scale(2000, 500)
    max_frame = 1024
    timeout = 2
    rng = random.Random(11)
    server = ctx.server(
        ["--mode", "framed", "--timeout", timeout, "--max-frame", max_frame, "--workers", 2, "--max-clients", n + 100]
    )
    try:
        inputs = []
        for i in range(n):
            data = b""
            if i % 10 == 0:  # 10%: some valid frames first, so the echo is a non-trivial prefix
                for _ in range(rng.randint(1, 5)):
                    data += frame(rng.randbytes(rng.randint(0, max_frame)))
            if i % 50 == 1:  # 2%: valid frames then a cut one: idle timeout with a partial echo
                data += frame(rng.randbytes(rng.randint(0, 64)))
                data += frame(rng.randbytes(200))[: rng.randint(1, 100)]
            else:
                data += rng.randbytes(rng.randint(1, 8192))
            inputs.append(data)
        expected = [expected_framed_echo(d, max_frame) for d in inputs]
        want = collections.Counter(reason for _, reason in expected)
        log0, lines0 = server.log_size(), len(server.log_lines())
        t0 = time.monotonic()
        sockets, failures = connect_many(n, server.port, batch=500, timeout=60)
        flows = [Flow(s, inputs[i], expect=expected[i][0]) for i, s in enumerate(sockets)]
        pump(flows, timeout + 10, want_eof=True)
        window = time.monotonic() - t0
        exact = sum(1 for f in flows if f.eof and not f.mismatch and f.got == len(f.expect))
        resets = [f for f in flows if f.error]
        resets_prefix_ok = all(not f.mismatch for f in resets)
        close_all(sockets)
        report = probe(ctx.trustctl, server.port, messages=200).result(60)
        alive = server.process.poll() is None and report.get("failed") == 0
        # Wait for every close line.
        reasons = server.wait_log(server.close_reasons, lambda counts: sum(counts[r] for r in want) >= n)
        log_bytes, log_lines = server.log_size() - log0, len(server.log_lines()) - lines0
        passed = failures == 0 and exact + len(resets) == n and resets_prefix_ok and alive
        passed = passed and all(reasons[r] == want[r] for r in want)
        details = (
            f"{n} connections of random bytes (1-8192 B; 10% start with valid frames, 2% end in a cut frame), "
            f"--max-frame {max_frame}, --timeout {timeout}: expected closes {dict(want)}, logged {dict(reasons)}; "
            f"echo exactly as predicted (whole valid frames, then the payload of a cut frame, never a held header "
            f"or an oversize frame) on {exact}/{n}, {len(resets)} reset (prefix ok: {resets_prefix_ok}); "
            f"server alive and probe ok: {alive}; log {log_bytes} B, {log_lines} lines "
            f"({log_bytes / n:.0f} B and {log_lines / n:.1f} lines per connection, {log_lines / window:.0f} lines/s)"
        )
        return Result(
            "garbage",
            f"{n:,} conns of random bytes, framed, --max-frame {max_frame}",
            f"{exact + len(resets):,}/{n:,} closed with exact echo; reasons match; probe ok",
            "all closed; echo = predicted valid prefix; server serves after",
            passed,
            details,
        )
    finally:
        server.cleanup()

