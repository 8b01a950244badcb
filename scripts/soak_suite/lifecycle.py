"""Lifecycle: SIGTERM with data in flight, and the long mixed soak."""

import collections
import fcntl
import os
import random
import select
import signal
import socket
import struct
import subprocess
import termios
import time

from .processes import LoadTest
from .report import Result, mib
from .sockets import HOST, Flow, close_all, connect_many, frame, pump


def scenario_sigterm(ctx):
    n = ctx.scale(1000, 200)
    frames = 32
    drain = 10
    server = ctx.server(["--timeout", 60, "--workers", 2, "--drain-timeout", drain, "--max-clients", n + 100])
    try:
        rng = random.Random(5)
        sockets, failures = connect_many(n, server.port, batch=500, timeout=60)
        flows = []
        for s in sockets:
            data = b"".join(frame(rng.randbytes(1024)) for _ in range(frames))
            flows.append(Flow(s, data))
        # The server is stopped (SIGSTOP) while the clients send, so every frame
        # is in flight when SIGTERM arrives: 33 KiB per client fits the server's
        # receive window, so "sent" means "in the server's receive queue".
        # Then SIGTERM is queued and the server continued (SIGCONT).
        accepted = server.wait_fds_at_least(server.idle_fds + n, 20)
        os.kill(server.pid, signal.SIGSTOP)
        pump(flows, 60, read=False, stall=2.0)
        all_sent = all(f.done_sending() for f in flows)
        total = sum(len(f.out) for f in flows)
        echoed_already = 0
        for f in flows:
            echoed_already += struct.unpack("i", fcntl.ioctl(f.sock.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0]
        t0 = time.monotonic()
        os.kill(server.pid, signal.SIGTERM)
        os.kill(server.pid, signal.SIGCONT)
        pump(flows, drain + 10, want_eof=True)
        try:
            code = server.process.wait(drain + 5)
        except subprocess.TimeoutExpired:
            code = None
        exit_seconds = time.monotonic() - t0
        complete = sum(1 for f in flows if f.got == len(f.expect) and not f.mismatch and f.eof)
        close_all(sockets)
        reasons = server.close_reasons()
        passed = failures == 0 and accepted and all_sent and complete == n and code == 0 and exit_seconds <= drain
        details = (
            f"{n} clients each sent {frames} x 1 KiB frames while the server was stopped (SIGSTOP) ({total / 2**20:.1f} MiB in all) without reading; "
            f"at SIGTERM (sent with SIGCONT) {echoed_already / 2**20:.1f} MiB had been echoed, "
            f"{(total - echoed_already) / 2**20:.1f} MiB was still in flight; after: {complete}/{n} got their whole "
            f"echo and EOF; exit {code} {exit_seconds:.2f} s after the signal (--drain-timeout {drain}); "
            f"close reasons {dict(reasons)}"
        )
        return Result(
            "sigterm",
            f"SIGTERM with {n:,} clients, {(total - echoed_already) / 2**20:.1f} MiB in flight",
            f"{complete:,}/{n:,} full echo; exit {code} in {exit_seconds:.2f} s",
            f"all echoed; exit 0 within {drain} s",
            passed,
            details,
        )
    finally:
        server.cleanup()


def scenario_soak(ctx):
    seconds = int(os.environ.get("SOAK_SECONDS", "20" if ctx.quick else "120"))
    timeout = 10
    server = ctx.server(["--timeout", timeout, "--workers", 2])
    try:
        idle_fds = server.fds()
        loads = {
            "framed": LoadTest(ctx.trustctl, server.port,
                               ["--clients", 50, "--concurrency", 50, "--messages", 200, "--duration", seconds,
                                "--rate", 2000, "--payload-size", 256]),
            "raw": LoadTest(ctx.trustctl, server.port,
                            ["--clients", 20, "--concurrency", 20, "--messages", 100, "--duration", seconds,
                             "--rate", 1000, "--mode", "raw", "--payload-size", 1000]),
            "churn": LoadTest(ctx.trustctl, server.port,
                              ["--clients", 10, "--concurrency", 10, "--messages", 1, "--duration", seconds,
                               "--connect-rate", 200]),
        }
        block = bytearray(random.Random(3).randbytes(256 * 1024))
        block[0] = 0x52
        idle_count, slow_count = 50, 20
        failures = collections.Counter()
        idle = {}  # fd -> (socket, connected at)
        slow = {}  # fd -> Flow
        poller = select.epoll()
        cycles = collections.Counter()

        def open_idle():
            s = socket.create_connection((HOST, server.port), timeout=5)
            s.setblocking(False)
            idle[s.fileno()] = (s, time.monotonic())
            poller.register(s.fileno(), select.EPOLLIN)

        def open_slow():
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.settimeout(5)
            s.connect((HOST, server.port))
            s.setblocking(False)
            slow[s.fileno()] = Flow(s, block)

        for _ in range(idle_count):
            open_idle()
        for _ in range(slow_count):
            open_slow()
        samples = []
        start = time.monotonic()
        next_sample = start + 10
        next_tick = start
        while time.monotonic() < start + seconds:
            now = time.monotonic()
            if now >= next_sample:
                samples.append((round(now - start), server.rss_kib(), server.fds()))
                next_sample += 10
            if now >= next_tick:  # slow readers: push up to 64 KiB, read at most 8 KiB, 4 times a second
                next_tick += 0.25
                for fd in list(slow):
                    f = slow[fd]
                    if not f.done_sending():
                        f.send_some(65536)
                    f.receive(8192)
                    if f.error or f.eof or f.mismatch:
                        failures["slow_reader"] += 1
                    if f.error or f.eof or f.mismatch or f.got == len(f.expect):
                        cycles["slow_reader"] += f.got == len(f.expect)
                        del slow[fd]
                        f.sock.close()
                        open_slow()
            for fd, _ in poller.poll(0.05):
                s, opened = idle.pop(fd)
                poller.unregister(fd)
                try:
                    data = s.recv(1)
                except OSError:
                    data = None
                lifetime = time.monotonic() - opened
                if data != b"" or lifetime < timeout - 0.2:
                    failures["idle"] += 1  # idle connections must only ever be closed, at the timeout
                cycles["idle_timeout"] += 1
                s.close()
                open_idle()
        if not samples or samples[-1][0] < seconds:
            samples.append((round(time.monotonic() - start), server.rss_kib(), server.fds()))
        for s, _ in idle.values():
            s.close()
        for f in slow.values():
            f.sock.close()
        poller.close()
        reports = {name: load.result(seconds + 60) for name, load in loads.items()}
        for name, report in reports.items():
            if report.get("failed") != 0:
                failures[name] += max(1, report.get("failed", 1))
        end_fds = server.wait_fds(idle_fds, 20)
        rss = [r for _, r, _ in samples]
        fds = [f for _, _, f in samples]
        if not rss:
            rss, fds = [server.rss_kib()], [server.fds()]
        verified = sum(r.get("ok", 0) for r in reports.values())
        flat = rss[-1] <= rss[0] * 1.10 + 1024
        passed = not failures and flat and end_fds == idle_fds
        details = (
            f"{seconds} s mixed: framed 50 conns 2,000 rt/s + raw 20 conns 1,000 rt/s (sessions reconnect every "
            f"200/100 messages) + churn 10 at a time at 200 connects/s + {idle_count} idle (closed at --timeout "
            f"{timeout}, reopened: {cycles['idle_timeout']} times) + {slow_count} slow readers of 256 KiB "
            f"({cycles['slow_reader']} completed); {verified:,} verified round trips, failures {dict(failures) or 0}; "
            f"samples (s, RSS KiB, fds): {samples}; fds after {end_fds} (idle {idle_fds})"
        )
        return Result(
            "soak",
            f"{seconds} s mixed framed/raw/churn/idle/slow",
            f"{sum(failures.values())} failures in {verified:,} round trips; RSS first/last/max {mib(rss[0])}/{mib(rss[-1])}/{mib(max(rss))}; "
            f"fds first/last/max {fds[0]}/{fds[-1]}/{max(fds)}",
            "no failures; RSS last <= first + 10%; fds back to idle",
            passed,
            details,
        )
    finally:
        server.cleanup()

