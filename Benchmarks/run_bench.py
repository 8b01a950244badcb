#!/usr/bin/env python3
"""Side-by-side benchmark of echo servers: trustctl, SwiftNIO and a C epoll
reference, all driven by the same C load client (Benchmarks/c/echo_client.c).

Builds nothing (make does). For every scenario it runs every server in turn,
A B C A B C ..., a fresh server process per run, so drift on this shared
machine hits all servers alike. The server is pinned to core 0 and the load
driver to core 1 with `taskset -c`. Server CPU per round trip comes from
/proc/PID/stat (utime+stime of all threads), sampled by the client itself at
the exact edges of its measurement window. RSS per idle connection comes
from /proc/PID/status VmRSS.

Writes docs/benchmarks.md (tables, machine, command), docs/bench-results.json
(every run's raw numbers) and, if gnuplot is installed, docs/bench-cost-curve.png.
Exits non-zero if any server failed to start or any echo failed verification.
Stdlib only.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import resource
import select
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
SERVER_CORE = "0"
DRIVER_CORE = "1"
READY_TIMEOUT_S = 20.0
PORT_PATTERN = re.compile(r":(\d+)(?=[\s)]|$)")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- servers


@dataclass
class Server:
    """A server under test: how to start it, and whether it exists here."""

    name: str
    label: str
    argv: list[str]
    binary: Path
    env: dict = field(default_factory=dict)  # added to the server's environment
    metrics: bool = False  # serve --metrics-port, scraped once a second during load windows

    def available(self) -> bool:
        return self.binary.is_file() and os.access(self.binary, os.X_OK)


def make_servers(args: argparse.Namespace) -> dict[str, Server]:
    trustctl = Path(args.trustctl)
    nio1 = Path(args.nio1)
    nio = Path(args.nio)
    c_server = Path(args.c_server)
    c_uring_server = Path(args.c_uring_server)
    baseline = Path(args.baseline) if args.baseline else Path("/nonexistent")

    def trust_argv(mode: str, binary: Path = trustctl) -> list[str]:
        return [str(binary), "echo-server", "--port", "0", "--workers", "1", "--mode", mode,
                "--timeout", "0", "--max-clients", "20000"]

    return {
        # TRUST_ECHO_IO picks the backend (SPEC §18): both are measured.
        "trustctl": Server("trustctl", "trustctl io_uring (1 worker)", trust_argv("raw"), trustctl,
                           {"TRUST_ECHO_IO": "io_uring"}),
        "trustctl-epoll": Server("trustctl-epoll", "trustctl epoll (1 worker)", trust_argv("raw"), trustctl,
                                 {"TRUST_ECHO_IO": "epoll"}),
        "nio1": Server("nio1", "NIO (1 loop)", [str(nio1), "--threads", "1", "--port", "0"], nio1),
        # NIO's example prints its ready line with print(), which stdio
        # buffers when stdout is a pipe: stdbuf makes it line-buffered.
        "nio": Server("nio", "NIO as shipped (2 loops)",
                      ["stdbuf", "-oL", str(nio), "127.0.0.1", "0"], nio),
        "c": Server("c", "C epoll", [str(c_server), "--port", "0", "--raw"], c_server),
        # A minimal C io_uring server: the limit this machine allows (issue 11).
        "c-uring": Server("c-uring", "C io_uring", [str(c_uring_server), "--port", "0", "--raw"], c_uring_server),
        "trustctl-framed": Server("trustctl-framed", "trustctl io_uring framed", trust_argv("framed"), trustctl,
                                  {"TRUST_ECHO_IO": "io_uring"}),
        "trustctl-epoll-framed": Server("trustctl-epoll-framed", "trustctl epoll framed", trust_argv("framed"),
                                        trustctl, {"TRUST_ECHO_IO": "epoll"}),
        # The metrics endpoint on (issue 12: its cost per round trip, ≤ 1.03× off).
        "trustctl-metrics": Server("trustctl-metrics", "trustctl io_uring + /metrics", trust_argv("raw"),
                                   trustctl, {"TRUST_ECHO_IO": "io_uring"}, metrics=True),
        "trustctl-epoll-metrics": Server("trustctl-epoll-metrics", "trustctl epoll + /metrics",
                                         trust_argv("raw"), trustctl, {"TRUST_ECHO_IO": "epoll"}, metrics=True),
        "c-framed": Server("c-framed", "C epoll framed",
                           [str(c_server), "--port", "0", "--framed"], c_server),
        # --baseline PATH: another trustctl build (e.g. main before a change),
        # measured in the same interleaved runs for a before/after ratio.
        "baseline": Server("baseline", "trustctl baseline", trust_argv("raw", baseline), baseline),
        "baseline-framed": Server("baseline-framed", "trustctl baseline framed",
                                  trust_argv("framed", baseline), baseline),
    }


class RunningServer:
    """A started server pinned to the server core; stop() ends it by PID."""

    def __init__(self, server: Server, env: dict[str, str]):
        self.server = server
        self.stderr_file = tempfile.TemporaryFile()
        self.metrics_port = free_port() if server.metrics else None
        extra = ["--metrics-port", str(self.metrics_port)] if self.metrics_port else []
        self.proc = subprocess.Popen(
            ["taskset", "-c", SERVER_CORE, *server.argv, *extra],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.stderr_file,
            env={**env, **server.env}, start_new_session=True)
        self.port = self._wait_ready()
        # Keep draining stdout so a chatty server never blocks on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()

    def _wait_ready(self) -> int:
        deadline = time.monotonic() + READY_TIMEOUT_S
        buffer = b""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if not ready:
                if self.proc.poll() is not None:
                    break
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            buffer += chunk
            for line in buffer.decode(errors="replace").splitlines():
                if "listening on" in line:
                    match = PORT_PATTERN.search(line.split("listening on", 1)[1])
                    if match:
                        return int(match.group(1))
        self.stop()
        self.stderr_file.seek(0)
        detail = self.stderr_file.read().decode(errors="replace").strip().splitlines()
        raise RuntimeError(f"{self.server.name} did not print a ready line within "
                           f"{READY_TIMEOUT_S:.0f} s; stdout {buffer[:200]!r}; "
                           f"stderr {' | '.join(detail[-3:])!r}")

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        try:
            while self.proc.stdout.read(65536):
                pass
        except (OSError, ValueError):
            pass

    @property
    def pid(self) -> int:
        return self.proc.pid  # taskset execs the server, so this is the server

    def rss_kib(self) -> int:
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def fd_count(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Scraper:
    """GET /metrics once a second (what a 1 s Prometheus scrape costs),
    until stopped; counts the scrapes that parsed as 200 responses."""

    def __init__(self, port: int):
        self.port, self.scrapes, self.failures = port, 0, 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping.wait(1.0):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=2) as reply:
                    body = reply.read()
                ok = reply.status == 200 and b"trustctl_connections_accepted_total" in body
            except OSError:
                ok = False
            self.scrapes += ok
            self.failures += not ok

    def stop(self) -> tuple[int, int]:
        self.stopping.set()
        self.thread.join(timeout=5)
        return self.scrapes, self.failures


# ---------------------------------------------------------------- scenarios


@dataclass
class Scenario:
    name: str
    kind: str  # "load", "idle", "driver"
    servers: list[str]
    connections: int
    payload: int = 64
    pipeline: int = 1
    framed: bool = False
    note: str = ""


def make_scenarios(quick: bool, load_servers: list[str]) -> list[Scenario]:
    curve = [1, 10, 100, 1000] if quick else [1, 10, 100, 1000, 10000]
    idle = [1000] if quick else [10000, 19000]
    scenarios = [
        Scenario(f"pingpong-64B-{n}c", "load", load_servers, n,
                 note="cost curve" + (" (one connection: measures the machine's wake-up cost)"
                                      if n == 1 else ""))
        for n in curve
    ]
    scenarios += [
        Scenario("pingpong-4KiB-100c", "load", load_servers, 100, payload=4096),
        Scenario("pipelined-64B-100c-d16", "load", load_servers, 100, pipeline=16,
                 note="16 messages in flight per connection"),
        Scenario("stream-64KiB-1c", "load", load_servers, 1, payload=65536,
                 note="throughput of one connection"),
        Scenario("framed-64B-100c", "load",
                 [s + "-framed" for s in load_servers if s in ("trustctl", "trustctl-epoll", "c", "baseline")], 100,
                 framed=True, note="framed mode; compare with pingpong-64B-100c"),
        Scenario("framed-64B-1000c", "load",
                 [s + "-framed" for s in load_servers if s in ("trustctl", "trustctl-epoll", "c", "baseline")], 1000,
                 framed=True, note="framed mode; compare with pingpong-64B-1000c"),
    ]
    metered = [v for s in ("trustctl-epoll", "trustctl") if s in load_servers for v in (s, s + "-metrics")]
    if metered:
        scenarios.append(Scenario("metrics-64B-100c", "load", metered, 100,
                                  note="the metrics endpoint on (scraped every second) vs off"))
    scenarios += [Scenario(f"idle-{n}c", "idle", load_servers, n) for n in idle]
    for n in (100, 1000):
        scenarios.append(Scenario(f"driver-64B-{n}c", "driver", ["c"], n,
                                  note="C client vs trustctl echo-load-test, both against the C server"))
    return scenarios


# ---------------------------------------------------------------- running


def client_argv(args: argparse.Namespace, port: int, scenario: Scenario) -> list[str]:
    return ["taskset", "-c", DRIVER_CORE, str(args.c_client), "--host", "127.0.0.1",
            "--port", str(port), "--connections", str(scenario.connections),
            "--payload", str(scenario.payload), "--pipeline", str(scenario.pipeline),
            "--framed" if scenario.framed else "--raw"]


def busy_ticks() -> int:
    """Busy jiffies of all CPUs together, from /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    values = [int(v) for v in fields]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return sum(values[:8]) - idle


def process_ticks(pid: int) -> int:
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def run_load(args, server: RunningServer, scenario: Scenario) -> dict:
    argv = client_argv(args, server.port, scenario) + [
        "--duration", str(args.window), "--warmup", str(args.warmup),
        "--server-pid", str(server.pid)]
    timeout = args.window + args.warmup + 120
    # Whatever else the machine did meanwhile (other builds, fuzzers): all
    # busy CPU time minus the server's and the driver's, as a share of one
    # core. Our numbers are trustworthy only when this stays near zero.
    busy0, server0, children0 = busy_ticks(), process_ticks(server.pid), os.times()
    wall0 = time.monotonic()
    syscalls = start_syscall_count(server.pid, args.warmup, args.window)
    scraper = Scraper(server.metrics_port) if server.metrics_port else None
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    scrapes = scraper.stop() if scraper else None
    wall = time.monotonic() - wall0
    syscall_count = finish_syscall_count(syscalls)
    children1 = os.times()
    driver_ticks = ((children1.children_user - children0.children_user)
                    + (children1.children_system - children0.children_system)) * os.sysconf("SC_CLK_TCK")
    other = busy_ticks() - busy0 - (process_ticks(server.pid) - server0) - driver_ticks
    other_share = max(0.0, other / os.sysconf("SC_CLK_TCK") / wall)
    rss_after = server.rss_kib()
    result = parse_json_line(done.stdout)
    if result is None:
        return {"ok": False, "error": f"client exit {done.returncode}: {done.stderr.strip()[-300:]}"}
    result["client_exit"] = done.returncode
    if scrapes is not None:
        result["scrapes"], result["scrape_failures"] = scrapes
    result["server_rss_kib"] = rss_after
    result["other_cpu_share"] = other_share
    rts = result.get("round_trips", 0)
    ticks = result.get("server_cpu_ticks", 0)
    clk = result.get("clk_tck", 100) or 100
    result["server_cpu_us_per_rt"] = ticks / clk * 1e6 / rts if rts else None
    result["server_cpu_share"] = ticks / clk / args.window
    result["client_cpu_us_per_rt"] = result.get("client_cpu_us", 0) / rts if rts else None
    # The server's system calls over the measurement window (perf counts
    # every thread's raw_syscalls:sys_enter), per verified round trip.
    result["server_syscalls_per_rt"] = syscall_count / rts if rts and syscall_count is not None else None
    result["ok"] = done.returncode == 0 and result.get("errors_total", 1) == 0 and not result.get("scrape_failures")
    if not result["ok"]:
        result["error"] = f"client exit {done.returncode}: {done.stderr.strip()[-300:]}"
    return result


def start_syscall_count(pid: int, warmup: float, window: float):
    """`perf stat` on the server over the client's window (after its
    warm-up); None when perf is missing or refuses (then no figure)."""
    if shutil.which("perf") is None:
        return None
    argv = ["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "-p", str(pid),
            "--delay", str(int(warmup * 1000)), "--", "sleep", f"{warmup + window:.3f}"]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finish_syscall_count(perf) -> int | None:
    if perf is None:
        return None
    try:
        _, err = perf.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        perf.kill()
        perf.communicate()
        return None
    for line in err.splitlines():
        fields = line.split(",")
        if len(fields) > 2 and fields[2] == "raw_syscalls:sys_enter" and fields[0].isdigit():
            return int(fields[0])
    return None


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.01
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(delay)  # polling a condition, bounded by the deadline
        delay = min(delay * 2, 0.2)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


def read_line(proc: subprocess.Popen, timeout: float) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        raise RuntimeError(f"no answer from the idle client within {timeout:.0f} s")
    return proc.stdout.readline().strip()


def run_idle(args, server: RunningServer, scenario: Scenario) -> dict:
    """RSS per idle connection: (RSS with N open - RSS before) / N, then again
    after one verified round trip on each connection."""
    base_fds = server.fd_count()
    rss_before = server.rss_kib()
    proc = subprocess.Popen(client_argv(args, server.port, scenario) + ["--idle", "--batch", "100"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = read_line(proc, 120)
        if line != f"ready {scenario.connections}":
            raise RuntimeError(f"idle client said {line!r}: {proc.stderr.read()[-300:] if proc.poll() is not None else ''}")
        # The client's connects complete before the server accepts; wait
        # until the server really holds every connection.
        wait_for(lambda: server.fd_count() >= base_fds + scenario.connections, 60,
                 f"the server to hold {scenario.connections} connections")
        rss_idle = server.rss_kib()
        assert proc.stdin is not None
        proc.stdin.write("roundtrip\n")
        proc.stdin.flush()
        line = read_line(proc, 120)
        if line != f"roundtrip done {scenario.connections}":
            raise RuntimeError(f"idle client round trips failed: {line!r}")
        rss_used = server.rss_kib()
        proc.stdin.close()
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    n = scenario.connections
    return {
        "ok": code == 0, "connections": n, "rss_before_kib": rss_before,
        "rss_idle_kib": rss_idle, "rss_after_rt_kib": rss_used,
        "bytes_per_idle_conn": (rss_idle - rss_before) * 1024 / n,
        "bytes_per_conn_after_rt": (rss_used - rss_before) * 1024 / n,
        "error": "" if code == 0 else f"idle client exit {code}",
    }


def run_driver_pair(args, server: RunningServer, scenario: Scenario, driver: str) -> dict:
    """One run of one load driver against the C server (reached rate)."""
    if driver == "c-client":
        return run_load(args, server, scenario)
    total = args.warmup + args.window
    argv = ["taskset", "-c", DRIVER_CORE, str(args.trustctl), "echo-load-test",
            "--host", "127.0.0.1", "--port", str(server.port), "--clients", str(scenario.connections),
            "--concurrency", str(scenario.connections), "--messages", "1000000000",
            "--payload-size", str(scenario.payload), "--mode", "raw",
            "--duration", f"{total:g}", "--json",
            "--io", "epoll" if driver == "trustctl-load-epoll" else "io_uring"]
    before = os.times()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=total + 120)
    after = os.times()
    result = parse_json_line(done.stdout) or {}
    rate = find_rate(result)
    # The load tester's own CPU (user + system, all its threads) per verified round trip.
    cpu_s = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    ok_count = result.get("ok") or 0
    return {"ok": done.returncode == 0 and rate is not None, "rt_per_s": rate,
            "client_cpu_us_per_rt": cpu_s * 1e6 / ok_count if ok_count else None,
            "client_exit": done.returncode, "raw": result,
            "error": "" if done.returncode == 0 else done.stderr.strip()[-300:]}


def parse_json_line(text: str) -> dict | None:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def find_rate(obj) -> float | None:
    """Round trips per second from echo-load-test's JSON, whatever it names it.
    Inputs are echoed in that JSON too (`rate`, `connect-rate`), so only keys
    that say "per second" count, the most specific name first."""
    preferred = ("roundtripspersecond", "roundtripspers", "rtpersecond", "rtpers", "rps",
                 "persecond", "pers")

    def keys(node, found):
        if isinstance(node, dict):
            for key, value in node.items():
                normal = re.sub(r"[^a-z]", "", key.lower())
                if isinstance(value, (int, float)) and not isinstance(value, bool) and not any(
                        word in normal for word in ("mb", "byte", "connect", "target")):
                    found.append((normal, float(value)))
                keys(value, found)
        elif isinstance(node, list):
            for value in node:
                keys(value, found)
        return found

    found = keys(obj, [])
    for wanted in preferred:
        for normal, value in found:
            if normal.endswith(wanted) or normal == wanted:
                return value
    return None


# ---------------------------------------------------------------- reporting


def spread(values: list[float], fmt: str) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "—"
    med = statistics.median(values)
    if len(values) == 1:
        return format(med, fmt)
    return f"{format(med, fmt)} ({format(min(values), fmt)}–{format(max(values), fmt)})"


def median_of(runs: list[dict], key: str) -> float | None:
    values = [r.get(key) for r in runs if r.get("ok") and r.get(key) is not None]
    return statistics.median(values) if values else None


def show(value: float | None, fmt: str, scale: float = 1.0) -> str:
    """A figure for a table cell; "—" when a run could not measure it (a
    window with no CPU ticks, say)."""
    return "—" if value is None else format(value * scale, fmt)


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}×" if a and b else "—"


def load_table(results: dict, scenarios: list[Scenario], servers: dict[str, Server]) -> list[str]:
    lines = [
        "| scenario | server | rt/s median (min–max) | server CPU µs/rt median (min–max) | "
        "server CPU | p99 µs | syscalls/rt | MB/s | driver CPU µs/rt | other load | rate ÷ NIO(1) | CPU/rt ÷ NIO(1) | "
        "rate ÷ C | CPU/rt ÷ C |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for sc in scenarios:
        if sc.kind != "load":
            continue
        per = results.get(sc.name, {})
        ref_nio = "nio1"
        ref_c = "c-framed" if sc.framed else "c"
        for name in sc.servers:
            runs = per.get(name)
            if runs is None:
                continue
            good = [r for r in runs if r.get("ok")]
            if not good:
                lines.append(f"| {sc.name} | {servers[name].label} | failed: "
                             f"{runs[0].get('error', '?') if runs else 'no runs'} | | | | | | | | | | | |")
                continue
            rate = median_of(runs, "rt_per_s")
            cpu = median_of(runs, "server_cpu_us_per_rt")
            nio_rate = median_of(per.get(ref_nio, []), "rt_per_s")
            nio_cpu = median_of(per.get(ref_nio, []), "server_cpu_us_per_rt")
            c_rate = median_of(per.get(ref_c, []), "rt_per_s")
            c_cpu = median_of(per.get(ref_c, []), "server_cpu_us_per_rt")
            lines.append(
                f"| {sc.name} | {servers[name].label} | {spread([r['rt_per_s'] for r in good], ',.0f')} "
                f"| {spread([r['server_cpu_us_per_rt'] for r in good], '.2f')} "
                f"| {show(median_of(runs, 'server_cpu_share'), '.0f', 100)}% "
                f"| {show(median_of(runs, 'latency_p99'), '.0f')} "
                f"| {show(median_of(runs, 'server_syscalls_per_rt'), '.2f')} "
                f"| {show(median_of(runs, 'mb_per_s'), ',.1f')} "
                f"| {show(median_of(runs, 'client_cpu_us_per_rt'), '.2f')} "
                f"| {show(median_of(runs, 'other_cpu_share'), '.0f', 100)}% "
                f"| {ratio(rate, nio_rate)} | {ratio(cpu, nio_cpu)} "
                f"| {ratio(rate, c_rate)} | {ratio(cpu, c_cpu)} |")
    return lines


def idle_table(results: dict, scenarios: list[Scenario], servers: dict[str, Server]) -> list[str]:
    lines = [
        "| scenario | server | RSS before (KiB) | bytes/conn idle median (min–max) | "
        "bytes/conn after 1 round trip median (min–max) |",
        "|---|---|---|---|---|",
    ]
    for sc in scenarios:
        if sc.kind != "idle":
            continue
        for name in sc.servers:
            runs = results.get(sc.name, {}).get(name)
            if runs is None:
                continue
            good = [r for r in runs if r.get("ok")]
            if not good:
                lines.append(f"| {sc.name} | {servers[name].label} | failed: "
                             f"{runs[0].get('error', '?') if runs else ''} | | |")
                continue
            lines.append(
                f"| {sc.name} | {servers[name].label} | {show(median_of(good, 'rss_before_kib'), ',.0f')} "
                f"| {spread([r['bytes_per_idle_conn'] for r in good], ',.0f')} "
                f"| {spread([r['bytes_per_conn_after_rt'] for r in good], ',.0f')} |")
    return lines


def framed_table(results: dict) -> list[str]:
    lines = ["| server | raw CPU µs/rt | framed CPU µs/rt | framed ÷ raw |", "|---|---|---|---|"]
    raw = results.get("pingpong-64B-100c", {})
    framed = results.get("framed-64B-100c", {})
    for base in ("trustctl", "c"):
        if base in raw and f"{base}-framed" in framed:
            r = median_of(raw[base], "server_cpu_us_per_rt")
            f = median_of(framed[f"{base}-framed"], "server_cpu_us_per_rt")
            lines.append(f"| {base} | {show(r, '.2f')} | {show(f, '.2f')} | {ratio(f, r)} |")
    return lines if len(lines) > 2 else []


def metrics_table(results: dict) -> list[str]:
    """Server CPU per round trip with --metrics-port (scraped each second)
    against without, per backend, same interleaved runs."""
    per_server = results.get("metrics-64B-100c", {})
    lines = ["| backend | off CPU µs/rt | on CPU µs/rt | on ÷ off | rt/s on ÷ off | scrapes |",
             "|---|---|---|---|---|---|"]
    for off in ("trustctl-epoll", "trustctl"):
        on = off + "-metrics"
        if off in per_server and on in per_server:
            a = median_of(per_server[off], "server_cpu_us_per_rt")
            b = median_of(per_server[on], "server_cpu_us_per_rt")
            ar = median_of(per_server[off], "rt_per_s")
            br = median_of(per_server[on], "rt_per_s")
            scrapes = sum(r.get("scrapes", 0) for r in per_server[on])
            lines.append(f"| {off} | {show(a, '.2f')} | {show(b, '.2f')} | {ratio(b, a)} | {ratio(br, ar)} "
                         f"| {scrapes} |")
    return lines if len(lines) > 2 else []


def baseline_table(results: dict) -> list[str]:
    """trustctl (each backend) against the --baseline build, per scenario: the
    before/after ratio a change on the echo path must show."""
    lines = ["| scenario | trustctl | baseline CPU µs/rt | trustctl CPU µs/rt | trustctl ÷ baseline | "
             "rt/s ÷ baseline |", "|---|---|---|---|---|---|"]
    pairs = (("baseline", "trustctl-epoll"), ("baseline", "trustctl"),
             ("baseline-framed", "trustctl-epoll-framed"), ("baseline-framed", "trustctl-framed"))
    for scenario, per_server in results.items():
        for base, new in pairs:
            if base in per_server and new in per_server:
                b = median_of(per_server[base], "server_cpu_us_per_rt")
                n = median_of(per_server[new], "server_cpu_us_per_rt")
                br = median_of(per_server[base], "rt_per_s")
                nr = median_of(per_server[new], "rt_per_s")
                lines.append(f"| {scenario} | {new} | {show(b, '.2f')} | {show(n, '.2f')} | {ratio(n, b)} "
                             f"| {ratio(nr, br)} |")
    return lines if len(lines) > 2 else []


def driver_table(results: dict) -> list[str]:
    lines = ["| scenario | driver (against the C server) | rt/s median (min–max) | rate ÷ C client "
             "| driver CPU µs/rt | CPU ÷ C client |", "|---|---|---|---|---|---|"]
    for name in ("driver-64B-100c", "driver-64B-1000c"):
        per = results.get(name, {})
        c_good = [r for r in per.get("c-client", []) if r.get("ok")]
        c_rate = median_of(c_good, "rt_per_s")
        c_cpu = median_of(c_good, "client_cpu_us_per_rt")
        for driver in ("c-client", "trustctl-load", "trustctl-load-epoll"):
            runs = per.get(driver)
            if not runs:
                continue
            good = [r for r in runs if r.get("ok")]
            if not good:
                lines.append(f"| {name} | {driver} | failed: {runs[0].get('error', '?')} | | | |")
                continue
            cpu = median_of(good, "client_cpu_us_per_rt")
            lines.append(f"| {name} | {driver} | {spread([r['rt_per_s'] for r in good], ',.0f')} "
                         f"| {ratio(median_of(good, 'rt_per_s'), c_rate)} | {show(cpu, '.2f')} | {ratio(cpu, c_cpu)} |")
    return lines if len(lines) > 2 else []


def machine_info() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(), "memory": mem,
            "somaxconn": Path("/proc/sys/net/core/somaxconn").read_text().strip(),
            "loadavg": Path("/proc/loadavg").read_text().split()[:3],
            "nofile": " ".join(map(str, resource.getrlimit(resource.RLIMIT_NOFILE)))}


def draw_chart(results: dict, scenarios: list[Scenario], servers: dict[str, Server],
               png: Path) -> str:
    if not shutil.which("gnuplot"):
        return "gnuplot is not installed (`apt-get install -y gnuplot-nox`), so no chart was drawn."
    curve = [sc for sc in scenarios if sc.name.startswith("pingpong-64B-") and sc.kind == "load"]
    names = [n for n in (curve[0].servers if curve else []) if any(
        results.get(sc.name, {}).get(n) for sc in curve)]
    if not names:
        return "no cost-curve data to chart."
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for name in names:
            path = Path(tmp) / f"{name}.dat"
            rows = []
            for sc in curve:
                runs = results.get(sc.name, {}).get(name, [])
                rate, cpu = median_of(runs, "rt_per_s"), median_of(runs, "server_cpu_us_per_rt")
                if rate and cpu:
                    rows.append(f"{sc.connections} {rate} {cpu}")
            path.write_text("\n".join(rows) + "\n")
            files.append((path, servers[name].label))
        plot_rate = ", ".join(f"'{p}' using 1:2 with linespoints title '{t}'" for p, t in files)
        plot_cpu = ", ".join(f"'{p}' using 1:3 with linespoints title '{t}'" for p, t in files)
        script = f"""
set terminal pngcairo size 1100,460 noenhanced
set output '{png}'
set multiplot layout 1,2 title '64 B ping-pong: cost curve (server on core 0, driver on core 1)'
set logscale x
set xlabel 'connections'
set grid
set key bottom right
set ylabel 'round trips/s'
set yrange [0:*]
plot {plot_rate}
set ylabel 'server CPU µs per round trip'
set key top right
plot {plot_cpu}
unset multiplot
"""
        done = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
        if done.returncode != 0:
            script = script.replace("pngcairo", "png")  # builds without cairo
            done = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
        if done.returncode != 0:
            return f"gnuplot failed: {done.stderr.strip()[-200:]}"
    return ""


def write_report(args, results: dict, scenarios: list[Scenario], servers: dict[str, Server],
                 skipped: list[str], started: float, failures: list[str]) -> None:
    md = Path(args.out_md)
    md.parent.mkdir(parents=True, exist_ok=True)
    machine = machine_info()
    chart_note = draw_chart(results, scenarios, servers, Path(args.chart))
    command = " ".join(shlex.quote(a) for a in sys.argv)

    def shown(argv: list[str]) -> str:  # repository-relative, so reports diff cleanly
        return " ".join(argv).replace(f"{REPO}/", "")

    lines = [
        "# Benchmarks (generated)",
        "",
        "Generated by `Benchmarks/run_bench.py`; do not edit by hand. Method: "
        "[benchmarking.md](benchmarking.md).",
        "",
        f"- date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {machine['nproc']} vCPU, {machine['cpu']}, kernel {machine['kernel']}, "
        f"{machine['memory']} memory, somaxconn {machine['somaxconn']}, "
        f"RLIMIT_NOFILE {machine['nofile']}, load average at the end {' '.join(machine['loadavg'])}",
        f"- command: `{command}`",
        f"- {args.runs} run(s) per server and scenario, interleaved; {args.window:g} s measurement "
        f"window after {args.warmup:g} s warm-up; server on core {SERVER_CORE}, driver on core "
        f"{DRIVER_CORE}; wall time {time.monotonic() - started:.0f} s",
        f"- servers: " + ", ".join(f"`{s.name}` = `{shown(s.argv)}`" for s in servers.values()
                                   if s.name in {n for sc in scenarios for n in sc.servers}),
    ]
    if skipped:
        lines.append(f"- skipped: {'; '.join(skipped)}")
    if failures:
        lines.append(f"- **failures**: {'; '.join(failures)}")
    lines += ["", "## Load: round trips, server CPU per round trip, latency", "",
              "rt/s: verified round trips per second inside the window. server CPU: utime+stime "
              "of the server over the window (100% = one core). p99: latency from send to "
              "verified echo, median over runs. MB/s: payload bytes echoed per second, one way. "
              "driver CPU: the load client's CPU per round trip (near 100% of its core means the "
              "driver, not the server, was the limit). other load: CPU used by anything else on "
              "the machine during the run, in cores (above a few % the run was disturbed). "
              "Ratios compare medians; CPU/rt below 1× means cheaper than the reference.", ""]
    lines += load_table(results, scenarios, servers)
    notes = [f"- `{sc.name}`: {sc.note}" for sc in scenarios if sc.note and sc.kind == "load"]
    lines += ["", *notes]
    before_after = baseline_table(results)
    if before_after:
        lines += ["", "## trustctl before/after (the --baseline build, same interleaved runs)", ""]
        lines += before_after
    metered = metrics_table(results)
    if metered:
        lines += ["", "## Metrics endpoint on vs off (64 B, 100 connections, scraped every second)", "",
                  *metered]
    framed = framed_table(results)
    if framed:
        lines += ["", "## Framed vs raw (64 B, 100 connections)", "", *framed]
    idle = idle_table(results, scenarios, servers)
    if len(idle) > 2:
        lines += ["", "## Memory per connection", "",
                  "(VmRSS with N idle connections − VmRSS before) / N; then the same after one "
                  "verified 64 B round trip on every connection. Kernel socket buffers are not "
                  "in RSS.", "", *idle]
    drivers = driver_table(results)
    if drivers:
        lines += ["", "## Load drivers compared (64 B ping-pong, 100 and 1,000 connections, C server)", "",
                  *drivers]
    lines += ["", "## Cost curve", ""]
    lines.append(f"![cost curve]({Path(args.chart).name})" if not chart_note else chart_note)
    lines.append("")
    md.write_text("\n".join(lines))
    Path(args.out_json).write_text(json.dumps({
        "machine": machine, "command": command, "runs": args.runs, "window_s": args.window,
        "warmup_s": args.warmup, "skipped": skipped, "failures": failures,
        "servers": {n: s.argv for n, s in servers.items()},
        "scenarios": [sc.__dict__ for sc in scenarios], "results": results}, indent=1) + "\n")
    print("\n".join(lines))


# ---------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", default="trustctl,nio1,nio,c",
                        help="comma-separated: trustctl, nio1, nio, c (default all)")
    parser.add_argument("--require", default="",
                        help="comma-separated servers whose absence is an error, not a warning "
                             "(e.g. trustctl in CI)")
    parser.add_argument("--runs", type=int, default=3, help="runs per server and scenario")
    parser.add_argument("--window", type=float, default=5.0, help="measurement window, seconds")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up before the window, seconds")
    parser.add_argument("--quick", action="store_true",
                        help="small connection counts (curve to 1,000, idle 1,000)")
    parser.add_argument("--scenarios", default="", help="comma-separated name prefixes to run")
    parser.add_argument("--trustctl", default=str(REPO / ".build/release/trustctl"))
    parser.add_argument("--nio1", default=str(BENCH_DIR / ".build/release/NIOEchoServer1"))
    parser.add_argument("--nio", default=str(BENCH_DIR / ".build-nio/release/NIOEchoServer"))
    parser.add_argument("--baseline", default="",
                        help="a second trustctl binary, server name 'baseline' (before/after ratios)")
    parser.add_argument("--c-uring-server", default=str(BENCH_DIR / ".build-c/uring_echo_server"))
    parser.add_argument("--c-server", default=str(BENCH_DIR / ".build-c/echo_server"))
    parser.add_argument("--c-client", default=str(BENCH_DIR / ".build-c/echo_client"))
    parser.add_argument("--out-md", default=str(REPO / "docs/benchmarks.md"))
    parser.add_argument("--out-json", default=str(REPO / "docs/bench-results.json"))
    parser.add_argument("--chart", default=str(REPO / "docs/bench-cost-curve.png"))
    # --scenarios tls: the TLS scenario (Benchmarks/tls_bench.py), run apart from the others.
    parser.add_argument("--tls-idle", type=int, default=1000, help="tls: idle TLS connections held")
    parser.add_argument("--tls-out-md", default=str(REPO / "docs/benchmarks-tls.md"))
    parser.add_argument("--tls-out-json", default=str(REPO / "docs/bench-tls.json"))
    args = parser.parse_args()
    if args.runs < 1 or args.runs > 50 or args.window <= 0 or args.window > 600 or args.warmup < 0:
        parser.error("--runs must be 1..50, --window in (0, 600], --warmup >= 0")
    if (os.cpu_count() or 1) < 2:
        parser.error("needs at least 2 CPUs (server on core 0, driver on core 1)")
    prefixes = [p.strip() for p in args.scenarios.split(",") if p.strip()]
    if "tls" in prefixes:
        import tls_bench  # the TLS scenario: its own servers (trustctl --tls-cert, socat) and report

        status = tls_bench.run(args.trustctl, args.window, args.runs, args.tls_idle, args.tls_out_md,
                               args.tls_out_json)
        prefixes.remove("tls")
        if not prefixes:
            return status
        args.scenarios = ",".join(prefixes)
    if not Path(args.c_client).is_file():
        parser.error(f"load client missing: {args.c_client} (run `make bench-tools`)")

    started = time.monotonic()
    servers = make_servers(args)
    wanted = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in ("trustctl", "trustctl-epoll", "nio1", "nio", "c", "c-uring", "baseline")]
    if unknown:
        parser.error(f"unknown server(s): {', '.join(unknown)}")
    required = {s.strip() for s in args.require.split(",") if s.strip()}
    skipped = []
    load_servers = []
    for name in wanted:
        if servers[name].available():
            load_servers.append(name)
        else:
            message = f"{name}: binary missing at {servers[name].binary}"
            if name in required:
                log(f"error: required server {message}")
                return 1
            skipped.append(message)
            log(f"WARNING: skipping server {message}")
    scenarios = make_scenarios(args.quick, load_servers)
    if args.scenarios:
        prefixes = args.scenarios.split(",")
        scenarios = [sc for sc in scenarios if any(sc.name.startswith(p) for p in prefixes)]

    env = dict(os.environ)
    env.setdefault("TRUST_HOME", tempfile.mkdtemp(prefix="trust-bench-"))
    results: dict[str, dict[str, list[dict]]] = {}
    failures: list[str] = []
    for sc in scenarios:
        if sc.kind == "driver":
            if "c" not in load_servers:
                continue
            drivers = ["c-client"]
            if Path(args.trustctl).is_file():
                drivers += ["trustctl-load", "trustctl-load-epoll"]
            else:
                skipped.append("driver comparison: trustctl echo-load-test missing")
                log("WARNING: skipping trustctl echo-load-test: binary missing")
            order = [(d, "c") for d in drivers]
        else:
            order = [(name, name) for name in sc.servers]
        for run in range(args.runs):
            for label, server_name in order:
                log(f"[{time.monotonic() - started:6.0f}s] {sc.name} {label} run {run + 1}/{args.runs}")
                try:
                    server = RunningServer(servers[server_name], env)
                except (RuntimeError, OSError) as error:
                    outcome = {"ok": False, "error": str(error)}
                    failures.append(f"{sc.name}/{label}: server failed to start: {error}")
                else:
                    try:
                        if sc.kind == "load":
                            outcome = run_load(args, server, sc)
                        elif sc.kind == "idle":
                            outcome = run_idle(args, server, sc)
                        else:
                            outcome = run_driver_pair(args, server, sc, label)
                    except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
                        outcome = {"ok": False, "error": str(error)}
                    finally:
                        server.stop()
                    if not outcome.get("ok"):
                        failures.append(f"{sc.name}/{label} run {run + 1}: {outcome.get('error')}")
                if "latency_us" in outcome:
                    outcome["latency_p99"] = outcome["latency_us"].get("p99")
                results.setdefault(sc.name, {}).setdefault(label, []).append(outcome)
                summary = (f"{outcome.get('rt_per_s') or 0:,.0f} rt/s" if "rt_per_s" in outcome
                           else f"{outcome.get('bytes_per_idle_conn', 0):,.0f} B/idle conn"
                           if "bytes_per_idle_conn" in outcome else outcome.get("error", ""))
                cpu = outcome.get("server_cpu_us_per_rt")
                log(f"         -> {'ok' if outcome.get('ok') else 'FAILED'} {summary}"
                    + (f", {cpu:.2f} µs CPU/rt" if cpu else ""))

    write_report(args, results, scenarios, servers, skipped, started, failures)
    if failures:
        log(f"{len(failures)} failure(s):")
        for failure in failures:
            log(f"  {failure}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
