"""The `tls` scenario of run_bench.py (`--scenarios tls`): TLS figures of
trustctl (io_uring and epoll, one worker) against socat's
`OPENSSL-LISTEN:...,fork` echo (`PIPE`), the server pinned to core 0 and
`trustctl echo-load-test --tls` on core 1:

- handshakes/s, full and resumed (`--tls-resume`): one round trip per
  connection, 32 connections at a time, for the window;
- server CPU per round trip over TLS at 100 connections (64-byte raw echo,
  closed loop), counted over the server's whole process group (socat forks
  a process per connection);
- memory of an idle TLS connection: the server's RSS (all processes of the
  group) with N idle, handshaken connections (Python's ssl holds them)
  minus before, per connection.

Certificates (P-256) are made for the run with openssl in a temporary
directory. Writes docs/benchmarks-tls.md and docs/bench-tls.json unless told
otherwise.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SERVER_CORE = "0"
DRIVER_CORE = "1"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def make_certificates(directory: Path) -> tuple[str, str, str]:
    def openssl(*arguments: str) -> None:
        subprocess.run(["openssl", *arguments], cwd=directory, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    (directory / "server.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=bench CA", "-days", "2")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "server.ext")
    return str(directory / "ca.pem"), str(directory / "server.pem"), str(directory / "server.key")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class GroupServer:
    """A server started in its own session (process group = its PID), pinned to
    the server core; ready once its port accepts. CPU and RSS are summed over
    the group (socat's forked children included)."""

    def __init__(self, argv: list[str], env: dict[str, str], port: int | None):
        self.proc = subprocess.Popen(["taskset", "-c", SERVER_CORE, *argv], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
                                     start_new_session=True, text=True)
        self.port = port if port is not None else self._ready_line_port()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{argv[0]} did not accept on port {self.port}")

    def _ready_line_port(self) -> int:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            self.stop()
            raise RuntimeError(f"no ready line: {line!r}")
        return int(line.split("listening on", 1)[1].split()[0].rsplit(":", 1)[1])

    def members(self) -> list[int]:
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                text = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = text[text.rindex(")") + 2:].split()
            if int(fields[2]) == self.proc.pid:  # pgrp
                pids.append(int(entry))
        return pids

    def cpu_ticks(self) -> int:
        total = 0
        for pid in self.members():
            try:
                text = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            fields = text[text.rindex(")") + 2:].split()
            total += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
        return total

    def rss_kib(self) -> int:
        total = 0
        for pid in self.members():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except OSError:
                continue
        return total

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, 15)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, 9)
            self.proc.wait(timeout=10)


def load(trustctl: str, port: int, ca: str, window: float, extra: list[str]) -> dict:
    argv = ["taskset", "-c", DRIVER_CORE, trustctl, "echo-load-test", "--host", "127.0.0.1",
            "--port", str(port), "--mode", "raw", "--payload-size", "64", "--duration", str(window),
            "--tls", "--tls-ca", ca, "--sni", "localhost", "--json", *extra]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=window + 120)
    try:
        result = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"load test exit {done.returncode}: {done.stderr.strip()[-300:]}")
    result["client_exit"] = done.returncode
    return result


IDLE_SCRIPT = r"""
import resource, socket, ssl, sys, time
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
context = ssl.create_default_context(cafile=sys.argv[2])
held = []
for i in range(int(sys.argv[3])):
    s = context.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30),
                            server_hostname="localhost")
    s.sendall(b"x")
    assert s.recv(1) == b"x"
    held.append(s)
print("ready", flush=True)
sys.stdin.readline()
"""


def idle_memory(server: GroupServer, ca: str, count: int) -> dict:
    before = server.rss_kib()
    proc = subprocess.Popen(["taskset", "-c", DRIVER_CORE, sys.executable, "-c", IDLE_SCRIPT,
                             str(server.port), ca, str(count)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if line.strip() != "ready":
            raise RuntimeError(f"idle client failed: {line!r}")
        time.sleep(0.5)
        during = server.rss_kib()
    finally:
        if proc.stdin:
            proc.stdin.close()
        proc.wait(timeout=30)
    return {"rss_before_kib": before, "rss_idle_kib": during,
            "bytes_per_idle_conn": (during - before) * 1024 / count}


def measure(name: str, server: GroupServer, trustctl: str, ca: str, window: float, idle: int) -> dict:
    out: dict = {"server": name}
    # First, on the fresh server: after a load its allocator has pages to reuse.
    out.update(idle_memory(server, ca, idle))
    full = load(trustctl, server.port, ca, window, ["--clients", "100000000", "--messages", "1",
                                                    "--concurrency", "32"])
    out["full_handshakes_per_s"] = full["tls"]["handshakes_per_s"]
    out["full_handshake_us_p50"] = (full["tls"].get("handshake_us") or {}).get("p50")
    resumed = load(trustctl, server.port, ca, window, ["--clients", "100000000", "--messages", "1",
                                                       "--concurrency", "32", "--tls-resume"])
    out["resumed_handshakes_per_s"] = resumed["tls"]["handshakes_per_s"]
    out["resumed_share"] = (resumed["tls"]["resumed"] / resumed["tls"]["handshakes"]
                            if resumed["tls"]["handshakes"] else None)
    ticks0 = server.cpu_ticks()
    steady = load(trustctl, server.port, ca, window, ["--clients", "100", "--concurrency", "100",
                                                      "--messages", "1000000000"])
    ticks = server.cpu_ticks() - ticks0
    clk = os.sysconf("SC_CLK_TCK")
    out["rt_per_s_100c"] = steady["round_trips_per_s"]
    out["server_cpu_us_per_rt_100c"] = ticks / clk * 1e6 / steady["ok"] if steady["ok"] else None
    failed = [r for r in (full, resumed, steady) if r.get("failed")]
    out["ok"] = not failed
    if failed:
        out["error"] = str(failed[0].get("first_failure"))
    return out


def table(results: list[dict]) -> list[str]:
    def cell(value, fmt):
        return "–" if value is None else format(value, fmt)
    lines = ["| server | full handshakes/s | handshake p50 µs | resumed handshakes/s | resumed share | "
             "rt/s at 100 conns | server CPU µs/rt | bytes per idle TLS conn |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['server']} | {cell(r.get('full_handshakes_per_s'), ',.0f')} | "
                     f"{cell(r.get('full_handshake_us_p50'), ',')} | "
                     f"{cell(r.get('resumed_handshakes_per_s'), ',.0f')} | {cell(r.get('resumed_share'), '.2f')} | "
                     f"{cell(r.get('rt_per_s_100c'), ',.0f')} | {cell(r.get('server_cpu_us_per_rt_100c'), '.2f')} | "
                     f"{cell(r.get('bytes_per_idle_conn'), ',.0f')} |")
    return lines


def run(trustctl: str, window: float, runs: int, idle: int, out_md: str, out_json: str) -> int:
    env = dict(os.environ)
    env.setdefault("TRUST_HOME", tempfile.mkdtemp(prefix="trust-bench-tls-"))
    directory = Path(tempfile.mkdtemp(prefix="trust-bench-certs-"))
    ca, cert, key = make_certificates(directory)
    servers = {
        "trustctl io_uring": ([trustctl, "echo-server", "--port", "0", "--host", "127.0.0.1", "--workers", "1",
                               "--mode", "raw", "--timeout", "0", "--max-clients", "20000", "--log-level",
                               "warning", "--tls-cert", cert, "--tls-key", key], {"TRUST_ECHO_IO": "io_uring"}),
        "trustctl epoll": ([trustctl, "echo-server", "--port", "0", "--host", "127.0.0.1", "--workers", "1",
                            "--mode", "raw", "--timeout", "0", "--max-clients", "20000", "--log-level",
                            "warning", "--tls-cert", cert, "--tls-key", key], {"TRUST_ECHO_IO": "epoll"}),
        "socat OPENSSL-LISTEN fork": (None, {}),
    }
    results: list[dict] = []
    failures = 0
    for run_index in range(runs):
        for name, (argv, extra_env) in servers.items():
            log(f"tls: {name} run {run_index + 1}/{runs}")
            port = None
            if argv is None:
                port = free_port()
                argv = ["socat", f"OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,cert={cert},"
                                 f"key={key},verify=0", "PIPE"]
            try:
                server = GroupServer(argv, {**env, **extra_env}, port)
            except (RuntimeError, OSError) as error:
                results.append({"server": name, "ok": False, "error": str(error)})
                failures += 1
                continue
            try:
                outcome = measure(name, server, trustctl, ca, window, idle)
            except (RuntimeError, OSError, subprocess.TimeoutExpired, KeyError) as error:
                outcome = {"server": name, "ok": False, "error": str(error)}
            finally:
                server.stop()
            if not outcome.get("ok"):
                failures += 1
                log(f"  FAILED: {outcome.get('error')}")
            else:
                log(f"  -> {outcome['full_handshakes_per_s']:,.0f} full/s, "
                    f"{outcome['resumed_handshakes_per_s']:,.0f} resumed/s, "
                    f"{outcome.get('server_cpu_us_per_rt_100c') or 0:.2f} µs CPU/rt, "
                    f"{outcome['bytes_per_idle_conn']:,.0f} B/idle conn")
            results.append(outcome)
    lines = ["# TLS benchmarks", "",
             f"`python3 Benchmarks/run_bench.py --scenarios tls` ({runs} run(s), {window:g} s windows, "
             f"{idle} idle connections; server on core {SERVER_CORE}, `echo-load-test --tls` on core "
             f"{DRIVER_CORE}; P-256 certificate, TLS 1.3, OpenSSL's default cipher). See docs/tls.md, "
             "\"What is measured\". socat forks a process per connection: its memory is the RSS of every "
             "process of its group summed (shared pages counted once per process, so an upper bound), its CPU "
             "that of the whole group.", ""]
    lines += table(results)
    Path(out_md).write_text("\n".join(lines) + "\n")
    Path(out_json).write_text(json.dumps({"window_s": window, "runs": runs, "idle": idle,
                                          "results": results}, indent=1) + "\n")
    log(f"tls: wrote {out_md} and {out_json}")
    return 1 if failures else 0
