#!/usr/bin/env python3
"""UDP echo benchmark (issue 14, docs/udp.md): datagrams/s and server CPU per
datagram, 64-byte datagrams, 1 and 100 client sockets, for

  trustctl        trustctl echo-server --transport udp --udp-rate 0 --workers 1 --io io_uring
  trustctl-epoll  the same with --io epoll
  c               Benchmarks/.build-c/udp_echo_server (recvmmsg/sendmmsg, no guards)
  socat           socat UDP4-RECVFROM:P,fork PIPE (a process per datagram)

The driver is `trustctl echo-load-test --transport udp` in closed loop (one
datagram in flight per socket) for --window seconds after --warmup seconds.
Interleaved like run_bench.py: for each run, for each scenario, every server
in turn, each started fresh. Server CPU is utime+stime (+ reaped children,
for socat's forks) from /proc/PID/stat over the window.

Builds nothing (make bench-udp does). Do not run it on a busy machine.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(f"[udp-bench] {message}", file=sys.stderr, flush=True)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime stime cutime cstime are fields 14-17 (1-based), 12-15 after the name.
    return sum(int(x) for x in fields[11:15])


def probe(port: int, timeout: float) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        deadline = time.time() + timeout
        while time.time() < deadline:
            s.sendto(b"probe", ("127.0.0.1", port))
            try:
                if s.recv(100) == b"probe":
                    return True
            except (socket.timeout, ConnectionRefusedError):
                pass
    return False


class Server:
    def __init__(self, name: str, argv: list[str] | None, env: dict[str, str], fixed_port: bool):
        self.name, self.argv, self.env, self.fixed_port = name, argv, env, fixed_port


def make_servers(trustctl: Path) -> dict[str, Server]:
    home = tempfile.mkdtemp(prefix="udp-bench-")
    env = dict(os.environ, TRUST_HOME=home)
    base = [str(trustctl), "echo-server", "--host", "127.0.0.1", "--transport", "udp", "--udp-rate", "0",
            "--workers", "1", "--log-level", "warning"]
    c_server = ROOT / "Benchmarks/.build-c/udp_echo_server"
    return {
        "trustctl": Server("trustctl", base + ["--io", "io_uring"], env, False),
        "trustctl-epoll": Server("trustctl-epoll", base + ["--io", "epoll"], env, False),
        "c": Server("c", [str(c_server)] if c_server.exists() else None, env, False),
        "socat": Server("socat", ["socat"] if shutil.which("socat") else None, env, True),
    }


class Running:
    def __init__(self, server: Server):
        self.server = server
        if server.fixed_port:
            self.port = free_udp_port()
            argv = server.argv + [f"UDP4-RECVFROM:{self.port},reuseaddr,fork", "PIPE"]
        else:
            argv = server.argv + ["--port", "0"]
        self.proc = subprocess.Popen(argv, env=server.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True)
        if not server.fixed_port:
            line = self.proc.stdout.readline()
            match = re.search(r":(\d+) \(", line)
            if not match:
                self.stop()
                raise RuntimeError(f"{server.name}: no ready line ({line!r})")
            self.port = int(match.group(1))
        if not probe(self.port, 10):
            self.stop()
            raise RuntimeError(f"{server.name}: no echo on UDP {self.port}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def drive(trustctl: Path, port: int, clients: int, payload: int, seconds: float) -> dict:
    argv = [str(trustctl), "echo-load-test", "--transport", "udp", "--host", "127.0.0.1", "--port", str(port),
            "--clients", str(clients), "--messages", str(max(1, 50_000_000 // clients)),
            "--payload-size", str(payload), "--duration", str(seconds), "--timeout", "1", "--max-loss", "100",
            "--json"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(args, trustctl: Path, server: Server, clients: int) -> dict:
    running = Running(server)
    try:
        if args.warmup > 0:
            drive(trustctl, running.port, clients, args.payload, args.warmup)
        before = cpu_ticks(running.proc.pid)
        result = drive(trustctl, running.port, clients, args.payload, args.window)
        after = cpu_ticks(running.proc.pid)
    finally:
        running.stop()
    received = result["received"]
    cpu_us = (after - before) * 1e6 / CLK_TCK
    return {
        "datagrams_per_s": result["datagrams_per_s"],
        "cpu_us_per_datagram": cpu_us / received if received else None,
        "loss_percent": result["loss_percent"],
        "p99_us": (result.get("latency_us") or {}).get("p99"),
    }


def spread(values: list[float], fmt: str) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "—"
    return f"{format(statistics.median(values), fmt)} ({format(min(values), fmt)}–{format(max(values), fmt)})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--window", type=float, default=5)
    parser.add_argument("--warmup", type=float, default=1)
    parser.add_argument("--payload", type=int, default=64)
    parser.add_argument("--clients", default="1,100")
    parser.add_argument("--servers", default="trustctl,trustctl-epoll,c,socat")
    parser.add_argument("--trustctl", default=str(ROOT / ".build/release/trustctl"))
    parser.add_argument("--out-md", default=str(ROOT / "Benchmarks/.build-c/udp-bench.md"))
    parser.add_argument("--out-json", default=str(ROOT / "Benchmarks/.build-c/udp-bench.json"))
    args = parser.parse_args()

    trustctl = Path(args.trustctl)
    if not trustctl.exists():
        log(f"{trustctl} missing (make bench-trustctl)")
        return 1
    servers = make_servers(trustctl)
    chosen = []
    for name in args.servers.split(","):
        if name not in servers:
            log(f"unknown server {name}")
            return 64
        if servers[name].argv is None:
            log(f"skipping {name}: not built or not installed")
            continue
        chosen.append(servers[name])
    client_counts = [int(c) for c in args.clients.split(",")]
    results: dict[str, dict[str, list[dict]]] = {}
    for run in range(args.runs):
        for clients in client_counts:
            scenario = f"udp-{args.payload}B-{clients}c"
            for server in chosen:
                log(f"run {run + 1}/{args.runs} {scenario} {server.name}")
                try:
                    sample = measure(args, trustctl, server, clients)
                except Exception as error:  # one server failing does not end the run
                    log(f"{server.name}: {error}")
                    sample = {"error": str(error)}
                results.setdefault(scenario, {}).setdefault(server.name, []).append(sample)

    lines = ["| scenario | server | datagrams/s median (min–max) | server CPU µs/datagram median (min–max) | "
             "loss % median | p99 µs median |", "|---|---|---|---|---|---|"]
    for scenario, by_server in results.items():
        for name, samples in by_server.items():
            ok = [s for s in samples if "error" not in s]
            lines.append(
                f"| {scenario} | {name} | {spread([s['datagrams_per_s'] for s in ok], '.0f')} | "
                f"{spread([s['cpu_us_per_datagram'] for s in ok], '.2f')} | "
                f"{spread([s['loss_percent'] for s in ok], '.3f')} | {spread([s['p99_us'] for s in ok], '.0f')} |")
    table = "\n".join(lines)
    print(table)
    Path(args.out_md).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out_md).write_text(
        f"runs {args.runs} x {args.window} s (warmup {args.warmup} s), payload {args.payload} B, "
        f"closed loop, one datagram in flight per socket\n\n{table}\n")
    Path(args.out_json).write_text(json.dumps(results, indent=1, sort_keys=True))
    failed = any("error" in s for by in results.values() for ss in by.values() for s in ss)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
