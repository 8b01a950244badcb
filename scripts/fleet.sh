#!/usr/bin/env bash
# fleet.sh - three trustctl echo servers behind HAProxy on loopback, and a
# rolling restart under load that must lose nothing (docs/operations.md,
# "A fleet behind HAProxy").
#
#   scripts/fleet.sh              # the rolling-restart check: `make fleet`; `make test` runs it
#   scripts/fleet.sh --serve      # start the fleet and keep it up until Ctrl-C
#   CONFIG=release scripts/fleet.sh --connections 500 --duration 20
#
# The check: HAProxy (deploy/haproxy/trustctl.cfg, TCP mode, send-proxy-v2,
# health checks on each server's /readyz) in front of 3 servers run with
# --proxy-protocol v2; `echo-load-test --reconnect` through HAProxy; during
# the load each server in turn gets SIGTERM, must drain and exit 0, is
# started again on the same ports and must be UP in HAProxy before the next.
# Passes only with zero failed round trips, zero refused connections, every
# server exiting 0, each server's log naming the load tester (127.0.0.1) as
# peer and HAProxy's own source address (127.0.0.3) as proxied_by, and
# HAProxy's stats showing every server took traffic. Loopback only; every
# wait is bounded; only processes started here are stopped, by PID.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
config=${CONFIG:-debug}
connections=200
duration=10
serve=0
while (($# > 0)); do
    case "$1" in
    --serve) serve=1 ;;
    --connections) connections=${2:?}; shift ;;
    --duration) duration=${2:?}; shift ;;
    -h | --help) sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fleet: unknown argument: $1 (try --help)" >&2; exit 64 ;;
    esac
    shift
done

bin_dir=$(cd "$repo" && swift build -c "$config" --show-bin-path 2>/dev/null)
trustctl="$bin_dir/trustctl"
[[ -x "$trustctl" ]] || { echo "fleet: $trustctl is not built (run 'swift build -c $config')" >&2; exit 1; }
command -v haproxy >/dev/null || { echo "fleet: haproxy is not installed (Debian package haproxy; .ci/run installs it)" >&2; exit 1; }

work=$(mktemp -d)
declare -a pid port mport
haproxy_pid=""
load_pid=""
cleanup() {
    for p in "${pid[@]}" "$haproxy_pid" "$load_pid"; do
        if [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null; then kill -KILL "$p" 2>/dev/null; fi
    done
    if [[ -n "${KEEP_FLEET_DIR:-}" ]]; then echo "fleet: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

die() {
    echo "fleet: $*" >&2
    for i in 1 2 3; do [[ -f "$work/$i/stderr" ]] && sed "s/^/fleet: echo$i stderr: /" "$work/$i/stderr" >&2; done
    [[ -f "$work/haproxy.log" ]] && tail -n 20 "$work/haproxy.log" | sed 's/^/fleet: haproxy: /' >&2
    exit 1
}

now_ms() { date +%s%3N; }

# A free loopback port below the kernel's ephemeral range. A server restarted on its port
# must find it free, and a port from the ephemeral range (what --port 0 gives) can meanwhile
# become the source port of one of the hundreds of connections the load tester and HAProxy
# open during the restart: the restart then fails with EADDRINUSE, SO_REUSEADDR or not.
free_port() {
    python3 - <<'PY'
import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(1000):
    port = random.randrange(max(1024, low - 12000), low)
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        print(port)
        break
PY
}

# HAProxy's `show stat` CSV through the admin socket.
haproxy_stat() {
    python3 - "$work/haproxy.sock" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(2)
s.connect(sys.argv[1])
s.sendall(b"show stat\n")
data = b""
while chunk := s.recv(65536):
    data += chunk
sys.stdout.write(data.decode())
EOF
}

# One field of one server's row: stat_field echo1 status
stat_field() {
    haproxy_stat 2>/dev/null | python3 -c '
import csv, sys
rows = list(csv.reader(line for line in sys.stdin if line.strip()))
head = [h.lstrip("# ") for h in rows[0]]
for row in rows[1:]:
    if row[0] == "trustctl" and row[1] == sys.argv[1]:
        print(row[head.index(sys.argv[2])])' "$1" "$2"
}

# Polls (every 50 ms, at most $2 s) until the command succeeds.
wait_for() {
    local what=$1 limit=$2
    shift 2
    local deadline=$(($(now_ms) + limit * 1000))
    until "$@"; do
        (($(now_ms) < deadline)) || die "timed out after ${limit} s waiting for $what"
        sleep 0.05
    done
}

ready_line_seen() { grep -q '^listening on ' "$work/$1/stdout" 2>/dev/null || ! kill -0 "${pid[$1]}" 2>/dev/null; }
server_up() { [[ "$(stat_field "echo$1" status)" == UP ]]; }
took_traffic() { local n; n=$(stat_field "echo$1" stot); [[ -n "$n" && "$n" -gt 0 ]]; }

# start_instance I: ports chosen once (free_port), bound again by each restart, where
# HAProxy expects them.
start_instance() {
    local i=$1
    mkdir -p "$work/$i"
    : >"$work/$i/stdout"
    TRUST_HOME="$work/$i" "$trustctl" echo-server --host 127.0.0.1 --port "${port[$i]:-0}" \
        --metrics-port "${mport[$i]:-0}" --proxy-protocol v2 --workers 1 --drain-timeout 5 \
        >"$work/$i/stdout" 2>"$work/$i/stderr" &
    pid[$i]=$!
    wait_for "echo$i's ready line" 10 ready_line_seen "$i"
    kill -0 "${pid[$i]}" 2>/dev/null || die "echo$i exited at start"
    port[$i]=$(sed -n 's/^listening on .*:\([0-9]*\) (.*/\1/p' "$work/$i/stdout")
    mport[$i]=$(grep '"event":"server_started"' "$work/$i/logs/trustctl.log" | tail -n 1 |
        python3 -c 'import json, sys; print(json.loads(sys.stdin.read())["metrics_port"])')
}

for i in 1 2 3; do
    port[$i]=$(free_port)
    mport[$i]=$(free_port)
    start_instance "$i"
done

export TRUSTCTL_FLEET_DIR="$work" TRUSTCTL_FLEET_PORT
TRUSTCTL_FLEET_PORT=$(free_port)
for i in 1 2 3; do
    export "TRUSTCTL_ECHO${i}_PORT=${port[$i]}" "TRUSTCTL_METRICS${i}_PORT=${mport[$i]}"
done
haproxy -c -q -f "$repo/deploy/haproxy/trustctl.cfg" || die "haproxy -c rejects deploy/haproxy/trustctl.cfg"
haproxy -db -f "$repo/deploy/haproxy/trustctl.cfg" >"$work/haproxy.log" 2>&1 &
haproxy_pid=$!
wait_for "HAProxy's stats socket" 10 test -S "$work/haproxy.sock"
for i in 1 2 3; do wait_for "echo$i UP in HAProxy" 10 server_up "$i"; done
echo "fleet: HAProxy on 127.0.0.1:$TRUSTCTL_FLEET_PORT -> echo1 :${port[1]}, echo2 :${port[2]}, echo3 :${port[3]}" \
    "(metrics :${mport[1]}, :${mport[2]}, :${mport[3]})"

if ((serve)); then
    echo "fleet: serving until Ctrl-C; try: $trustctl echo-client 127.0.0.1 $TRUSTCTL_FLEET_PORT hello"
    wait "$haproxy_pid"
    exit 0
fi

# The load: every connection lives through the whole run (sessions of a billion round trips), so
# each restart ends some of them; --reconnect opens them again through HAProxy.
"$trustctl" echo-load-test --host 127.0.0.1 --port "$TRUSTCTL_FLEET_PORT" --clients "$connections" \
    --concurrency "$connections" --messages 1000000000 --duration "$duration" --reconnect --timeout 5 --json \
    >"$work/load.json" 2>"$work/load.stderr" &
load_pid=$!
for i in 1 2 3; do wait_for "echo$i to take traffic" 10 took_traffic "$i"; done

declare -a drain_ms up_ms
failures=0
for i in 1 2 3; do
    t0=$(now_ms)
    kill -TERM "${pid[$i]}"
    wait "${pid[$i]}"
    rc=$?
    t1=$(now_ms)
    drain_ms[$i]=$((t1 - t0))
    if ((rc != 0)); then
        echo "fleet: FAILED: echo$i exited $rc after SIGTERM (expected 0)"
        failures=$((failures + 1))
    fi
    start_instance "$i"
    wait_for "echo$i UP again in HAProxy" 10 server_up "$i"
    up_ms[$i]=$(($(now_ms) - t1))
    echo "fleet: echo$i restarted: SIGTERM to exit ${drain_ms[$i]} ms (exit $rc), start to UP in HAProxy ${up_ms[$i]} ms"
done
kill -0 "$load_pid" 2>/dev/null || echo "fleet: note: the load ended before the rolling restart did (raise --duration)"

wait "$load_pid"
load_rc=$?
load_pid=""
[[ -s "$work/load.json" ]] || die "echo-load-test wrote no JSON (exit $load_rc): $(cat "$work/load.stderr")"

# Every check, with the figures, from the load test's JSON, the servers' logs and HAProxy's stats.
haproxy_stat >"$work/haproxy-stat.csv"
for i in 1 2 3; do
    kill -TERM "${pid[$i]}"
    wait "${pid[$i]}" || { echo "fleet: FAILED: echo$i exited $? at the end (expected 0)"; failures=$((failures + 1)); }
done
kill -TERM "$haproxy_pid"
wait "$haproxy_pid" 2>/dev/null
python3 - "$work" "$load_rc" "$failures" <<'EOF'
import csv, json, pathlib, sys

work, load_rc, failures = pathlib.Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
problems = []
load = json.loads((work / "load.json").read_text())
refused = load["connections_failed_by_kind"]["refused"]
latency = load["latency_us"] or {}
print(f"fleet: load: {load['ok']} round trips ok, {load['failed']} failed, {refused} connections refused, "
      f"{load['connections_failed']} connections failed; {load['round_trips_per_s']} rt/s over {load['wall_time_s']} s; "
      f"{load['connections_opened']} connections opened, {load['reconnects']} reopened after a server ended them, "
      f"{load['resent']} round trips sent again; latency us p50 {latency.get('p50')}, p99 {latency.get('p99')}, "
      f"max {latency.get('max')}")
if load["failed"] != 0 or load["connections_failed"] != 0 or load_rc != 0:
    problems.append(f"the load test failed (exit {load_rc}): {load['first_failure']}")
if load["ok"] == 0:
    problems.append("no round trip was verified")

rows = list(csv.reader(line for line in (work / "haproxy-stat.csv").read_text().splitlines() if line.strip()))
head = [h.lstrip("# ") for h in rows[0]]
stat = {row[1]: dict(zip(head, row)) for row in rows[1:] if row[0] == "trustctl"}
backend = stat["BACKEND"]
print(f"fleet: HAProxy: sessions per server " +
      ", ".join(f"echo{i} {stat[f'echo{i}']['stot']}" for i in (1, 2, 3)) +
      f"; connection retries {backend['wretr']}, redispatches {backend['wredis']}, "
      f"connection errors {backend['econ']}, response errors {backend['eresp']}")
for i in (1, 2, 3):
    if int(stat[f"echo{i}"]["stot"]) == 0:
        problems.append(f"HAProxy sent no connection to echo{i}")

for i in (1, 2, 3):
    peers = proxied = 0
    for line in (work / str(i) / "logs" / "trustctl.log").read_text().splitlines():
        event = json.loads(line)
        if event["event"] != "connection_accepted":
            continue
        if "proxied_by" not in event:
            problems.append(f"echo{i}: an accepted connection without proxied_by: {line}")
            break
        peers += event["peer"].startswith("127.0.0.1:")
        proxied += event["proxied_by"].startswith("127.0.0.3:")
        if not (event["peer"].startswith("127.0.0.1:") and event["proxied_by"].startswith("127.0.0.3:")):
            problems.append(f"echo{i}: peer/proxied_by are not the load tester/HAProxy: {line}")
            break
    print(f"fleet: echo{i}: {peers} connections logged with the load tester as peer, HAProxy as proxied_by")
    if peers == 0:
        problems.append(f"echo{i} logged no proxied connection")

if failures:
    problems.append(f"{failures} server(s) did not exit 0 after SIGTERM")
for p in problems:
    print(f"fleet: FAILED: {p}")
print("fleet: ok: rolling restart of 3 servers under load, nothing lost" if not problems else
      f"fleet: {len(problems)} check(s) failed")
sys.exit(1 if problems else 0)
EOF
