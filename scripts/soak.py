#!/usr/bin/env python3
"""Adversarial scale and soak suite for `trustctl echo-server` (the Hardening issue).

Standard library only, loopback only. Each scenario starts its own server
(`--port 0`, a fresh TRUST_HOME in a temporary directory), drives it with
python sockets and/or `trustctl echo-load-test`, and prints one line:
scenario, load, figure, bound, PASS/FAIL. Every wait is bounded in time and
every loop in count; only processes started here are killed, by PID.

    scripts/soak.py --trustctl PATH [--quick] [--results FILE] [--only NAME,...]

SOAK_SECONDS (environment) sets the length of the mixed soak (default 120,
20 with --quick). Exit status: 0 if every scenario passed, 1 otherwise.
"""

import argparse
import collections
import datetime
import errno
import fcntl
import json
import os
import platform
import random
import re
import resource
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import time

HOST = "127.0.0.1"
READY = re.compile(r"listening on (\S+):(\d+) \(mode (\w+), (\d+) workers?\)")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
STARTED = []  # every Popen started here, killed by PID at exit if still running


def log(message):
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- processes


class Server:
    """One `trustctl echo-server` on 127.0.0.1, port 0, its own TRUST_HOME."""

    def __init__(self, trustctl, args, nofile=None, ready_timeout=20):
        self.home = tempfile.mkdtemp(prefix="trustctl-soak-")
        env = dict(os.environ, TRUST_HOME=self.home)
        command = [trustctl, "echo-server", "--port", "0", "--host", HOST] + args
        if nofile is not None:
            # prlimit execs the server: the PID we get is the server's.
            command = ["prlimit", f"--nofile={nofile}:{nofile}", "--"] + command
        self.stderr = open(os.path.join(self.home, "server.stderr"), "wb")
        self.process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=self.stderr, stdin=subprocess.DEVNULL
        )
        STARTED.append(self.process)
        self.pid = self.process.pid
        self.port = self._wait_ready(ready_timeout)
        self.idle_fds = self.fds()  # the value to return to once clients are gone
        self.log_path = os.path.join(self.home, "logs", "trustctl.log")

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        fd = self.process.stdout.fileno()
        text = b""
        while time.monotonic() < deadline and len(text) < 65536:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                chunk = os.read(fd, 4096)  # unbuffered: select and a buffered reader disagree
                if not chunk:
                    break
                text += chunk
                match = READY.search(text.decode(errors="replace"))
                if match:
                    return int(match.group(2))
            elif self.process.poll() is not None:
                break
        self.kill()
        raise RuntimeError(f"server did not print its ready line within {timeout}s: {text!r}")

    def status(self, key):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        raise RuntimeError(f"{key} not in /proc/{self.pid}/status")

    def rss_kib(self):
        return self.status("VmRSS")

    def fds(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def cpu_ticks(self):
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime

    def log_size(self):
        try:
            return os.path.getsize(self.log_path)
        except FileNotFoundError:
            return 0

    def log_lines(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def close_reasons(self):
        counts = collections.Counter()
        for line in self.log_lines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("event") == "connection_closed":
                counts[entry.get("reason")] += 1
        return counts

    def events(self):
        counts = collections.Counter()
        for line in self.log_lines():
            try:
                counts[json.loads(line).get("event")] += 1
            except ValueError:
                pass
        return counts

    def wait_fds(self, target, timeout=10):
        """Poll until the fd count is at most target; returns the last count."""
        deadline = time.monotonic() + timeout
        count = self.fds()
        while count > target and time.monotonic() < deadline:
            time.sleep(0.05)
            count = self.fds()
        return count

    def wait_fds_at_least(self, target, timeout=10):
        deadline = time.monotonic() + timeout
        while self.fds() < target and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.fds() >= target

    def terminate(self, timeout):
        """SIGTERM; returns (exit code or None, seconds to exit)."""
        start = time.monotonic()
        os.kill(self.pid, signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            code = None
        return code, time.monotonic() - start

    def kill(self):
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                pass

    def cleanup(self):
        self.kill()
        self.stderr.close()
        self.process.stdout.close()
        shutil.rmtree(self.home, ignore_errors=True)


class LoadTest:
    """`trustctl echo-load-test ... --json` in the background."""

    def __init__(self, trustctl, port, args):
        command = [trustctl, "echo-load-test", "--host", HOST, "--port", str(port), "--json"] + [str(a) for a in args]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        STARTED.append(self.process)

    def result(self, timeout):
        try:
            out, err = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.communicate(timeout=10)
            return {"ok": 0, "failed": -1, "error": f"echo-load-test still running after {timeout}s; killed"}
        try:
            report = json.loads(out)
        except ValueError:
            return {"ok": 0, "failed": -1, "error": f"no JSON (exit {self.process.returncode}): {err.decode()[-300:]}"}
        if self.process.returncode != 0:
            report["error"] = err.decode().strip()[-300:]
        return report


def run_load(trustctl, port, args, timeout):
    return LoadTest(trustctl, port, args).result(timeout)


def probe(trustctl, port, messages=500, rate=None):
    """A probe client: one connection, sequential 64-byte framed round trips."""
    args = ["--clients", 1, "--messages", messages, "--payload-size", 64]
    if rate:
        args += ["--rate", rate]
    return LoadTest(trustctl, port, args)


def probe_figure(report):
    if report.get("failed", 1) != 0 or "latency_us" not in report:
        return None
    return report["latency_us"]["p99"] / 1000.0


# ---------------------------------------------------------------- sockets


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def connect_many(n, port, batch=500, timeout=30, rcvbuf=None, batch_timeout=None):
    """Non-blocking connects in batches; returns (connected sockets, failures)."""
    sockets, failures = [], 0
    poller = select.epoll()
    deadline = time.monotonic() + timeout
    started = 0
    try:
        while started < n and time.monotonic() < deadline:
            waiting = {}
            for _ in range(min(batch, n - started)):
                started += 1
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                if rcvbuf:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
                code = s.connect_ex((HOST, port))
                if code not in (0, errno.EINPROGRESS):
                    failures += 1
                    s.close()
                    continue
                waiting[s.fileno()] = s
                poller.register(s.fileno(), select.EPOLLOUT)
            batch_deadline = min(deadline, time.monotonic() + (batch_timeout or timeout))
            while waiting and time.monotonic() < batch_deadline:
                for fd, _ in poller.poll(0.2):
                    s = waiting.pop(fd)
                    poller.unregister(fd)
                    if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                        failures += 1
                        s.close()
                    else:
                        sockets.append(s)
            for s in waiting.values():
                poller.unregister(s.fileno())
                s.close()
            failures += len(waiting)
        failures += n - started
    finally:
        poller.close()
    return sockets, failures


class Flow:
    """One connection's exchange: bytes to send, the exact echo expected."""

    __slots__ = ("sock", "out", "sent", "expect", "got", "eof", "error", "mismatch", "closed_at")

    def __init__(self, sock, out, expect=None):
        self.sock = sock
        self.out = memoryview(out)
        self.sent = 0
        self.expect = memoryview(expect if expect is not None else out)
        self.got = 0
        self.eof = False
        self.error = None
        self.mismatch = False
        self.closed_at = None

    def done_sending(self):
        return self.sent >= len(self.out)

    def finished(self, want_eof):
        if self.error or self.mismatch or self.eof:
            return True
        return self.done_sending() and self.got >= len(self.expect) and not want_eof

    def on_data(self, data):
        end = self.got + len(data)
        if end > len(self.expect) or self.expect[self.got : end] != data:
            self.mismatch = True
        self.got = end


def pump(flows, timeout, read=True, want_eof=False, stall=None):
    """Send every flow's bytes and read its echo (verified as it arrives) until
    each is finished, `timeout` passes, or (send-only with `stall`) nothing
    has moved for `stall` seconds. Returns the flows not finished."""
    poller = select.epoll()
    by_fd = {}
    for flow in flows:
        if flow.finished(want_eof) or (not read and flow.done_sending()):
            continue
        mask = (select.EPOLLIN if read else 0) | (0 if flow.done_sending() else select.EPOLLOUT)
        by_fd[flow.sock.fileno()] = flow
        poller.register(flow.sock.fileno(), mask)
    deadline = time.monotonic() + timeout
    last_progress = time.monotonic()
    try:
        while by_fd and time.monotonic() < deadline:
            if stall and time.monotonic() - last_progress > stall:
                break
            for fd, events in poller.poll(0.2):
                flow = by_fd.get(fd)
                if flow is None:
                    continue
                if events & select.EPOLLOUT and not flow.done_sending():
                    try:
                        n = flow.sock.send(flow.out[flow.sent : flow.sent + 262144])
                        flow.sent += n
                        last_progress = time.monotonic()
                    except BlockingIOError:
                        pass
                    except OSError as e:
                        flow.error = e.errno
                    if flow.done_sending() and not flow.error:
                        if not read:
                            poller.unregister(fd)
                            del by_fd[fd]
                            continue
                        poller.modify(fd, select.EPOLLIN)
                if read and events & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR) and not flow.error:
                    try:
                        data = flow.sock.recv(262144)
                        if data:
                            flow.on_data(data)
                            last_progress = time.monotonic()
                        else:
                            flow.eof = True
                            flow.closed_at = time.monotonic()
                    except BlockingIOError:
                        pass
                    except OSError as e:
                        flow.error = e.errno
                        flow.closed_at = time.monotonic()
                if flow.finished(want_eof) and fd in by_fd:
                    poller.unregister(fd)
                    del by_fd[fd]
    finally:
        poller.close()
    return list(by_fd.values())


def frame(payload):
    return struct.pack(">I", len(payload)) + payload


def close_all(sockets):
    for s in sockets:
        try:
            s.close()
        except OSError:
            pass


# ---------------------------------------------------------------- results


class Result:
    def __init__(self, name, load, figure, bound, passed, details=""):
        self.name, self.load, self.figure, self.bound, self.passed, self.details = (
            name,
            load,
            figure,
            bound,
            passed,
            details,
        )

    def line(self):
        return f"{self.name} | {self.load} | {self.figure} | {self.bound} | {'PASS' if self.passed else 'FAIL'}"


def tcp_kernel_kib():
    """Kernel memory of all TCP sockets (/proc/net/sockstat "TCP: ... mem PAGES")."""
    with open("/proc/net/sockstat") as f:
        for line in f:
            if line.startswith("TCP:"):
                fields = line.split()
                return int(fields[fields.index("mem") + 1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    return 0


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


def percent_of_core(ticks, seconds):
    return 100.0 * ticks / CLOCK_TICKS / seconds if seconds > 0 else 0.0


# ---------------------------------------------------------------- scenarios


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
        # The log writer is asynchronous: wait (bounded) for the refusal lines,
        # and measure before the holders' own lines are added.
        deadline = time.monotonic() + 5
        while server.events()["connection_refused"] < refused and time.monotonic() < deadline:
            time.sleep(0.1)
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
        ctx.log_figures["max_clients"] = (log_bytes / max(1, flood), log_lines / max(1, flood), log_lines / window)
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
                        try:
                            f.sent += f.sock.send(f.out[f.sent : f.sent + 1])
                        except OSError as e:
                            f.error = e.errno
                step += 1
                next_send += 1.0 / slices
            for fd, _ in poller.poll(max(0.0, min(0.05, next_send - time.monotonic()))):
                f = by_fd[fd]
                try:
                    data = f.sock.recv(4096)
                    if data:
                        f.on_data(data)
                    else:
                        f.eof = True
                        poller.unregister(fd)
                except OSError as e:
                    f.error = e.errno
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
                f = by_fd[fd]
                try:
                    data = f.sock.recv(4096)
                    if data:
                        f.on_data(data)
                except OSError:
                    pass
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
        # The log writer is asynchronous: wait (bounded) for every close line.
        deadline = time.monotonic() + 5
        reasons = server.close_reasons()
        while sum(reasons[r] for r in want) < n and time.monotonic() < deadline:
            time.sleep(0.1)
            reasons = server.close_reasons()
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
        ctx.log_figures["garbage"] = (log_bytes / n, log_lines / n, log_lines / window)
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
        deadline = time.monotonic() + 10
        while server.fds() < idle_fds + residents and time.monotonic() < deadline:
            time.sleep(0.05)
        resident_connected = server.fds() >= idle_fds + residents
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
        ctx.log_figures["out_of_fds"] = (log_bytes / max(1, flood), log_lines / max(1, flood), log_lines / window)
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
                    try:
                        if not f.done_sending():
                            f.sent += f.sock.send(f.out[f.sent : f.sent + 65536])
                    except BlockingIOError:
                        pass
                    except OSError as e:
                        f.error = e.errno
                    try:
                        data = f.sock.recv(8192)
                        if data:
                            f.on_data(data)
                        else:
                            f.eof = True
                    except BlockingIOError:
                        pass
                    except OSError as e:
                        f.error = e.errno
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


SCENARIOS = [
    ("concurrent", scenario_concurrent),
    ("churn", scenario_churn),
    ("slow-readers", scenario_slow_readers),
    ("slow-readers-deep", scenario_slow_readers_deep),
    ("slowloris", scenario_slowloris),
    ("garbage", scenario_garbage),
    ("out-of-fds", scenario_out_of_fds),
    ("max-clients", scenario_max_clients),
    ("sigterm", scenario_sigterm),
    ("soak", scenario_soak),
]


class Context:
    def __init__(self, trustctl, quick):
        self.trustctl = trustctl
        self.quick = quick
        self.log_figures = {}

    def scale(self, full, quick):
        return quick if self.quick else full

    def server(self, args, nofile=None):
        return Server(self.trustctl, [str(a) for a in args], nofile=nofile)


def machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs, {model}, Linux {platform.release()}"


def write_results(path, results, quick, elapsed):
    lines = [
        "# Soak results",
        "",
        f"Generated by `scripts/soak.py{' --quick' if quick else ''}` (`make soak{'-quick' if quick else ''}`) on "
        f"{datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}; "
        f"machine: {machine()}; release build; total {elapsed:.0f} s.",
        "",
        "| scenario | load | figure | bound | result |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(f"| {r.name} | {r.load} | {r.figure} | {r.bound} | {'PASS' if r.passed else 'FAIL'} |")
    lines += ["", "## Details", ""]
    for r in results:
        lines.append(f"- **{r.name}**: {r.details}")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trustctl", required=True, help="path of the (release) trustctl binary")
    parser.add_argument("--quick", action="store_true", help="smaller counts and a 20 s soak (CI)")
    parser.add_argument("--results", help="markdown file to write the table to")
    parser.add_argument("--only", help="comma-separated scenario names")
    options = parser.parse_args()
    if not os.access(options.trustctl, os.X_OK):
        print(f"soak: {options.trustctl} is not an executable", file=sys.stderr)
        return 64
    if shutil.which("prlimit") is None:
        print("soak: prlimit not found (Debian package util-linux)", file=sys.stderr)
        return 69
    raise_fd_limit()
    selected = SCENARIOS
    if options.only:
        names = options.only.split(",")
        unknown = [n for n in names if n not in dict(SCENARIOS)]
        if unknown:
            print(f"soak: unknown scenario {unknown[0]}; known: {', '.join(n for n, _ in SCENARIOS)}", file=sys.stderr)
            return 64
        selected = [(n, f) for n, f in SCENARIOS if n in names]
    ctx = Context(options.trustctl, options.quick)
    results = []
    start = time.monotonic()
    print("scenario | load | figure | bound | result", flush=True)
    try:
        for name, run in selected:
            t0 = time.monotonic()
            try:
                result = run(ctx)
            except Exception as e:  # one broken scenario must not hide the others
                result = Result(name, "-", f"error: {type(e).__name__}: {e}", "-", False, repr(e))
            print(result.line() + f"   ({time.monotonic() - t0:.0f} s)", flush=True)
            log(f"    {result.details}")
            results.append(result)
    finally:
        for process in STARTED:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(10)
    elapsed = time.monotonic() - start
    if options.results:
        write_results(options.results, results, options.quick, elapsed)
        print(f"soak: table written to {options.results}", flush=True)
    failed = [r.name for r in results if not r.passed]
    print(f"soak: {len(results) - len(failed)} passed, {len(failed)} failed{': ' + ', '.join(failed) if failed else ''} "
          f"({elapsed:.0f} s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
