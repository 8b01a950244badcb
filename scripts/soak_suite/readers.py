"""Readers that do not read: backpressure bounds the server's memory."""

import random
import time

from .processes import probe, probe_figure, run_load
from .report import Result, mib, tcp_kernel_kib
from .sockets import Flow, close_all, connect_many, pump


def slow_readers(ctx, name, n, size, rss_bound_mib):
    """n clients each send `size` bytes without reading (SO_RCVBUF 4096), a
    probe is served meanwhile, then they read everything back, verified."""
    block = bytearray(random.Random(7).randbytes(size))
    block[0] = 0x41  # auto mode would decide raw anyway; --mode raw is explicit
    server = ctx.server(["--mode", "raw", "--timeout", 120, "--workers", 2, "--max-clients", n + 100])
    try:
        run_load(ctx.trustctl, server.port, ["--clients", 200, "--concurrency", 100, "--messages", 1, "--mode", "raw"], 60)
        time.sleep(0.5)
        rss0, kernel0 = server.rss_kib(), tcp_kernel_kib()
        sockets, connect_failures = connect_many(n, server.port, batch=500, timeout=60, rcvbuf=4096)
        flows = [Flow(s, block) for s in sockets]
        # Send until every one is done or the server has stopped reading them
        # (backpressure): no progress for 2 s.
        pump(flows, 120, read=False, stall=2.0)
        sent = sum(f.sent for f in flows)
        stalled = sum(1 for f in flows if not f.done_sending())
        rss1, kernel1 = server.rss_kib(), tcp_kernel_kib()
        growth = rss1 - rss0
        report = probe(ctx.trustctl, server.port).result(60)
        p99 = probe_figure(report)
        # Now they read: every byte must come back, verified.
        start = time.monotonic()
        pump(flows, 300)
        readback = time.monotonic() - start
        complete = sum(1 for f in flows if f.got == size and not f.mismatch and not f.error)
        close_all(sockets)
        passed = connect_failures == 0 and complete == n and growth <= rss_bound_mib * 1024
        passed = passed and p99 is not None and p99 < 50
        details = (
            f"{n} readers (SO_RCVBUF 4096) pushed {sent / 2**20:.0f} of {n * size / 2**20:.0f} MiB; {stalled} were "
            f"stopped by backpressure (could not send all); server RSS {mib(rss0)} -> {mib(rss1)} "
            f"(+{growth / 1024:.1f} MiB, {growth / n:.1f} KiB per reader; design bound 64 KiB pending per reader); "
            f"kernel TCP memory (all sockets, both ends) +{(kernel1 - kernel0) / 1024:.0f} MiB: the rest waits in "
            f"socket buffers; probe 500 round trips p99 {p99} ms; read back: {complete}/{n} got all "
            f"{size / 2**20:.0f} MiB verified in {readback:.1f} s"
        )
        return Result(
            name,
            f"{n:,} clients send {size / 2**20:.0f} MiB each without reading",
            f"RSS +{growth / 1024:.1f} MiB ({stalled:,} backpressured); probe p99 {p99} ms; {complete:,}/{n:,} read back",
            f"<= {rss_bound_mib} MiB; p99 < 50 ms; all bytes back",
            passed,
            details,
        )
    finally:
        server.cleanup()


def scenario_slow_readers(ctx):
    return slow_readers(ctx, "slow-readers", ctx.scale(1000, 200), 1 << 20, 70)


def scenario_slow_readers_deep(ctx):
    # Enough per reader that the kernel's buffers fill and the server's own
    # pending bound (64 KiB per connection) is reached: 200 x 64 KiB = 12.5 MiB.
    n = ctx.scale(200, 50)
    return slow_readers(ctx, "slow-readers-deep", n, 8 << 20, (n * 64 + 4096) // 1024)

