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
The pieces are in soak_suite/ next to this file.
"""

import argparse
import os
import shutil
import sys
import time

from soak_suite import hostile, lifecycle, limits, readers, scale
from soak_suite.processes import Context, kill_started
from soak_suite.report import Result, write_results
from soak_suite.sockets import raise_fd_limit

SCENARIOS = [
    ("concurrent", scale.scenario_concurrent),
    ("churn", scale.scenario_churn),
    ("slow-readers", readers.scenario_slow_readers),
    ("slow-readers-deep", readers.scenario_slow_readers_deep),
    ("slowloris", hostile.scenario_slowloris),
    ("garbage", hostile.scenario_garbage),
    ("out-of-fds", limits.scenario_out_of_fds),
    ("max-clients", limits.scenario_max_clients),
    ("sigterm", lifecycle.scenario_sigterm),
    ("soak", lifecycle.scenario_soak),
]


def log(message):
    print(message, file=sys.stderr, flush=True)


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
        kill_started()
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
