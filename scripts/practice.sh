#!/usr/bin/env bash
# practice.sh - runs the SPEC §9 practice sequence verbatim on a fresh
# TRUST_HOME and checks every expected result, step by step.
#
#   scripts/practice.sh            # uses the debug build (make test builds it)
#   CONFIG=release scripts/practice.sh
#
# The sequence talks to port 9900 as written in the spec; if 9900 is taken on
# this machine, it uses a free port instead (and says so). Loopback only;
# every wait is bounded; only processes started here are stopped, by PID.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
config=${CONFIG:-debug}
bin_dir=$(cd "$repo" && swift build -c "$config" --show-bin-path 2>/dev/null)
if [[ ! -x "$bin_dir/trustctl" ]]; then
    echo "practice: $bin_dir/trustctl is not built (run 'swift build -c $config' first)" >&2
    exit 1
fi

work=$(mktemp -d)
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then kill -KILL "$server_pid" 2>/dev/null; fi
    rm -rf "$work"
}
trap cleanup EXIT

# The sequence's names: `trustctl` on PATH, ./echo-client and ./echo-load-test in the working directory.
mkdir -p "$work/bin" "$work/cwd"
for name in trustctl echo-client echo-load-test; do ln -s "$bin_dir/trustctl" "$work/cwd/$name"; done
ln -s "$bin_dir/trustctl" "$work/bin/trustctl"
export PATH="$work/bin:$PATH"
cd "$work/cwd" || exit 1

passed=0
failed=0
step() { printf '%-58s ' "$1"; }
ok() {
    passed=$((passed + 1))
    echo "ok${1:+ ($1)}"
}
fail() {
    failed=$((failed + 1))
    echo "FAILED: $1"
}

port=9900
if ss -Htln "sport = :$port" 2>/dev/null | grep -q .; then
    echo "practice: port 9900 is in use here; using a free port instead"
    port=0
fi

# Starts the server like the spec does; sets server_pid and port (the real one).
start_server() {
    : >"$work/server.out"
    trustctl echo-server --port "$1" --timeout 5 >"$work/server.out" 2>"$work/server.err" &
    server_pid=$!
    local line=""
    for _ in $(seq 100); do
        line=$(head -n 1 "$work/server.out")
        [[ -n "$line" ]] && break
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    if [[ "$line" =~ ^listening\ on\ .*:([0-9]+)\ \(mode\ auto,\ [0-9]+\ workers?\)$ ]]; then
        port=${BASH_REMATCH[1]}
        return 0
    fi
    echo "server did not become ready: '$line' $(head -c 300 "$work/server.err")"
    return 1
}

fd_count() { ls "/proc/$server_pid/fd" 2>/dev/null | wc -l; }

# Waits (bounded) for the server's fd count to return to $1.
wait_fd_count() {
    local want=$1 now=""
    for _ in $(seq 50); do
        now=$(fd_count)
        [[ "$now" == "$want" ]] && return 0
        sleep 0.1
    done
    echo "$now"
    return 1
}

echo "practice: SPEC §9 sequence with $(trustctl --version)"

export TRUST_HOME=$(mktemp -d -p "$work")
step "1. trustctl echo-server --port $port --timeout 5 &"
if start_server "$port" >"$work/start.txt"; then ok "$(head -n 1 "$work/server.out")"; else fail "$(cat "$work/start.txt")"; exit 1; fi
idle_fds=$(fd_count)

step "2. ss shows the port in LISTEN"
if ss -Htln "sport = :$port" | grep -q LISTEN; then ok; else fail "$(ss -tln)"; fi

step '3. echo "raw test" | nc localhost PORT'
# nc keeps the connection open after stdin ends; the server's 5 s idle
# timeout closes it, which is why the sequence runs with --timeout 5.
started=$(date +%s)
out=$(echo "raw test" | timeout 20 nc localhost "$port")
took=$(($(date +%s) - started))
if [[ "$out" == "raw test" ]]; then ok "echoed; closed by the idle timeout after ${took}s"; else fail "got '$out'"; fi

step '4. ./echo-client localhost PORT "hello framed"'
out=$(timeout 20 ./echo-client localhost "$port" "hello framed" 2>&1)
rc=$?
if [[ $rc -eq 0 && "$out" == "hello framed" ]]; then ok; else fail "exit $rc, '$out'"; fi

step '5. ./echo-client localhost PORT "MSG_A" "MSG_B"'
out=$(timeout 20 ./echo-client localhost "$port" "MSG_A" "MSG_B" 2>&1)
rc=$?
if [[ $rc -eq 0 && "$out" == $'MSG_A\nMSG_B' ]]; then ok; else fail "exit $rc, '$out'"; fi

step "6. ./echo-client ... --payload-size 70000 (non-zero)"
out=$(timeout 20 ./echo-client localhost "$port" --payload-size 70000 2>&1)
rc=$?
echo "exit: $rc" >"$work/oversize.txt"
if [[ $rc -ne 0 && $rc -ne 124 ]]; then ok "exit: $rc, $out"; else fail "exit $rc, '$out'"; fi

step "7. the server goes on after the oversize frame"
out=$(timeout 20 ./echo-client localhost "$port" "still here" 2>&1)
if [[ $? -eq 0 && "$out" == "still here" ]] && kill -0 "$server_pid"; then ok; else fail "'$out'"; fi

step "8. a client vanishing mid-frame does not disturb the next"
# Half a frame (header says 100 bytes, 3 arrive), then the client is gone.
printf '\x00\x00\x00\x64abc' | timeout 5 nc -N localhost "$port" >/dev/null 2>&1
out=$(timeout 20 ./echo-client localhost "$port" "next client" 2>&1)
if [[ $? -eq 0 && "$out" == "next client" ]]; then ok; else fail "'$out'"; fi

step "9. an idle client is closed after the 5 s timeout"
started=$(date +%s)
timeout 20 nc localhost "$port" </dev/null >/dev/null 2>&1 &
nc_pid=$!
# nc with stdin at EOF waits for the server to close; the timeout does that.
wait "$nc_pid"
rc=$?
took=$(($(date +%s) - started))
if [[ $rc -ne 124 && $took -ge 4 && $took -le 12 ]]; then ok "closed after ${took}s"; else fail "nc exit $rc after ${took}s"; fi

step "10. the idle timeout is logged"
for _ in $(seq 50); do grep -q '"reason":"idle_timeout"' "$TRUST_HOME/logs/trustctl.log" && break; sleep 0.1; done
if grep -q '"reason":"idle_timeout"' "$TRUST_HOME/logs/trustctl.log"; then ok; else fail "no idle_timeout line"; fi

step "11. ./echo-load-test --clients 100 --messages 10"
out=$(timeout 120 ./echo-load-test --host localhost --port "$port" --clients 100 --messages 10 2>&1)
rc=$?
first=$(head -n 1 <<<"$out")
if [[ $rc -eq 0 && "$first" == "1000/1000 ok, 0 failed" ]]; then ok "$first"; else fail "exit $rc, $out"; fi

step "12. fd count back to its idle value ($idle_fds)"
if now=$(wait_fd_count "$idle_fds"); then ok "$idle_fds before, $(fd_count) after"; else fail "$idle_fds before, $now after"; fi

step "13. log lines are JSON with ts, level, event, pid"
if head "$TRUST_HOME/logs/trustctl.log" >"$work/head.log" && python3 - "$TRUST_HOME/logs/trustctl.log" <<'EOF'; then ok "$(wc -l <"$TRUST_HOME/logs/trustctl.log") lines"; else fail "see above"; fi
import json, sys
for n, line in enumerate(open(sys.argv[1]), 1):
    record = json.loads(line)
    missing = {"ts", "level", "event", "pid"} - record.keys()
    assert not missing, f"line {n} lacks {missing}: {line}"
EOF
sed 's/^/    /' "$work/head.log" | head -n 3

step "14. SIGTERM: drains, logs server_stopped, exits 0"
kill -TERM "$server_pid"
rc=""
for _ in $(seq 100); do
    if ! kill -0 "$server_pid" 2>/dev/null; then
        wait "$server_pid"
        rc=$?
        break
    fi
    sleep 0.1
done
if [[ "$rc" == "0" ]] && grep -q '"event":"server_stopped"' "$TRUST_HOME/logs/trustctl.log"; then ok; else fail "exit '$rc'"; fi

step "15. immediate restart on the same port ($port)"
if start_server "$port" >"$work/start.txt"; then ok; else fail "$(cat "$work/start.txt")"; fi
out=$(timeout 20 ./echo-client localhost "$port" "after restart" 2>&1)
kill -TERM "$server_pid"
wait "$server_pid"
rc=$?
step "16. the restarted server echoes and stops cleanly"
if [[ "$out" == "after restart" && $rc -eq 0 ]]; then ok; else fail "'$out', exit $rc"; fi

if ((failed == 0)); then
    echo "practice: all $passed steps ok"
    exit 0
fi
echo "practice: $failed of $((passed + failed)) steps FAILED"
exit 1
