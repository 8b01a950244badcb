#!/usr/bin/env python3
"""Prints the closing summary of `make test` from swift test's xUnit report.

Usage: test-summary.py RESULTS RUNNER_STATUS [CHECK=ok|failed ...]

RESULTS is one xUnit file, or several as LABEL:FILE,LABEL:FILE (one run of
the suite per IO backend): each run's test targets are named LABEL/TARGET.

One line per test target, the names of failed tests, then the last line:
`tests: N passed, M failed` (extra CHECKs such as install-check count as one
test each). Exits 1 if anything failed or no test ran.
"""
import sys
import xml.etree.ElementTree as ET
from collections import Counter


def reports(argument: str) -> list[tuple[str, str]]:
    """'a.xml' or 'epoll:a.xml,io_uring:b.xml' -> [(label, path)]."""
    result = []
    for item in argument.split(","):
        label, sep, path = item.partition(":")
        result.append((label, path) if sep else ("", item))
    return result


def main() -> int:
    if len(sys.argv) < 3:
        print("usage: test-summary.py RESULTS.xml RUNNER_STATUS [NAME=ok|failed ...]", file=sys.stderr)
        return 64
    runner_status = sys.argv[2]
    passed, failed = Counter(), Counter()
    failures = []
    for label, path in reports(sys.argv[1]):
        prefix = f"{label}/" if label else ""
        try:
            root = ET.parse(path).getroot()
        except (OSError, ET.ParseError) as error:
            print(f"test-summary: cannot read {path}: {error}")
            failed[f"{prefix}report"] += 1
            failures.append(f"{prefix}swift test report")
            continue
        for case in root.iter("testcase"):
            target = prefix + case.get("classname", "?").split(".")[0]
            if case.find("failure") is not None or case.find("error") is not None:
                failed[target] += 1
                failures.append(f"{prefix}{case.get('classname')}.{case.get('name')}")
            else:
                passed[target] += 1
    for check in sys.argv[3:]:
        name, _, status = check.partition("=")
        (passed if status == "ok" else failed)["checks"] += 1
        if status != "ok":
            failures.append(name)
    print("==> summary")
    for target in sorted(set(passed) | set(failed)):
        print(f"    {target:<26} {passed[target]:>4} passed, {failed[target]} failed")
    for name in failures:
        print(f"    FAILED {name}")
    total_passed, total_failed = sum(passed.values()), sum(failed.values())
    # A runner that failed without recording a failure (a build error, a
    # crashed test process, a missing report) still fails the run.
    if runner_status != "0" and not failures:
        print(f"    FAILED swift test exited with status {runner_status} (see its output above)")
        total_failed += 1
    print(f"tests: {total_passed} passed, {total_failed} failed")
    return 0 if total_failed == 0 and total_passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
