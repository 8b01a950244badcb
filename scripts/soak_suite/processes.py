"""The processes under test: one `trustctl echo-server` per scenario and
`trustctl echo-load-test` runs against it, every one killed by PID at exit."""

import collections
import json
import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import time

from .sockets import HOST

READY = re.compile(r"listening on (\S+):(\d+) \(mode (\w+), (\d+) workers?\)")
STARTED = []  # every Popen started here, killed by PID at exit if still running


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

    def log_entries(self):
        for line in self.log_lines():
            try:
                yield json.loads(line)
            except ValueError:
                continue

    def close_reasons(self):
        return collections.Counter(
            entry.get("reason") for entry in self.log_entries() if entry.get("event") == "connection_closed"
        )

    def events(self):
        return collections.Counter(entry.get("event") for entry in self.log_entries())

    def wait_log(self, tally, enough, timeout=5):
        """The log writer is asynchronous: poll `tally()` (close_reasons or
        events) until `enough(counts)` or `timeout`; returns the last counts."""
        deadline = time.monotonic() + timeout
        counts = tally()
        while not enough(counts) and time.monotonic() < deadline:
            time.sleep(0.1)
            counts = tally()
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


class Context:
    """What every scenario gets: the binary, the scale, and a server factory."""

    def __init__(self, trustctl, quick):
        self.trustctl = trustctl
        self.quick = quick

    def scale(self, full, quick):
        return quick if self.quick else full

    def server(self, args, nofile=None):
        return Server(self.trustctl, [str(a) for a in args], nofile=nofile)


def kill_started():
    for process in STARTED:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)
