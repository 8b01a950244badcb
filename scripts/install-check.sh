#!/usr/bin/env bash
# install-check.sh - install into a throwaway prefix and prove the result is
# usable: the files are there; trustctl needs nothing from the Swift
# toolchain (ldd) and runs with the toolchain out of sight; C programs build
# against the installed header and library through pkg-config and run: the
# one-shot example and the epoll echo server, which gets a raw smoke test.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

step() { printf 'install-check: %s\n' "$*"; }
fail() { printf 'install-check: FAILED: %s\n' "$*" >&2; exit 1; }

tmp="$(mktemp -d "${TMPDIR:-/tmp}/trustctl-install-check.XXXXXX")"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
prefix="$tmp/prefix"

# Waits (bounded, polling) for a line matching $2 in file $1 while process
# $3 lives; prints the line.
wait_for_line() {
    local file=$1 pattern=$2 pid=$3 line=""
    for _ in $(seq 300); do
        line="$(grep -m1 -E "$pattern" "$file" 2>/dev/null || true)"
        if [[ -n "$line" ]]; then printf '%s\n' "$line"; return 0; fi
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# Stops process $1 with SIGTERM and returns its exit status (bounded wait).
stop() {
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 200); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    local status=0
    wait "$pid" || status=$?
    return "$status"
}

# The C library's source builds on its own, in strict C11, without the
# -D_GNU_SOURCE that SwiftPM passes.
step "cc -std=c11 -pedantic -Werror -c Sources/CNetShim/cnetshim.c (no -D_GNU_SOURCE)"
cc -std=c11 -pedantic -Wall -Wextra -Werror -Iinclude -c Sources/CNetShim/cnetshim.c -o "$tmp/cnetshim.o" \
    || fail "cnetshim.c does not build on its own"

# Debug keeps this quick; the static build has its own scratch path, so it is
# incremental from the second run on. MAKEFLAGS is cleared so that variables
# given to an outer make cannot override ours.
step "make install PREFIX=$prefix CONFIG=debug"
started=$SECONDS
MAKEFLAGS= MFLAGS= make --no-print-directory -C "$root" install PREFIX="$prefix" CONFIG=debug \
    || fail "make install PREFIX=$prefix CONFIG=debug exited non-zero"
step "  make install took $((SECONDS - started)) s"

step "checking installed files"
[[ -f "$prefix/bin/trustctl" && -x "$prefix/bin/trustctl" ]] || fail "missing executable bin/trustctl"
for link in echo-client echo-load-test; do
    [[ -L "$prefix/bin/$link" ]] || fail "bin/$link is not a symbolic link"
    [[ "$(readlink "$prefix/bin/$link")" == trustctl ]] || fail "bin/$link does not point to trustctl"
done
for file in lib/libcnetshim.a include/cnetshim.h lib/pkgconfig/cnetshim.pc; do
    [[ -s "$prefix/$file" ]] || fail "missing or empty $file"
done

# The toolchain's root: the directory holding usr/bin/swift (/opt/swift here).
swift_path="$(readlink -f "$(command -v swift)")"
toolchain="$(dirname "$(dirname "$(dirname "$swift_path")")")"

step "ldd bin/trustctl: nothing from the Swift toolchain ($toolchain)"
libraries="$(ldd "$prefix/bin/trustctl")" || fail "ldd bin/trustctl failed"
if grep -E 'libswift|libFoundation|lib_Foundation|libdispatch|libBlocksRuntime|not found' <<<"$libraries" \
    || { [[ "$toolchain" != / && "$toolchain" != /usr ]] && grep -F "$toolchain/" <<<"$libraries"; }; then
    fail "bin/trustctl still needs the toolchain's runtime: $(tr '\n' ' ' <<<"$libraries")"
fi
step "  $(awk '{print $1}' <<<"$libraries" | tr '\n' ' ')"

# A command prefix that runs a program with the toolchain off PATH,
# LD_LIBRARY_PATH empty, and (as root, when the toolchain has a directory of
# its own) that directory hidden under an empty tmpfs in a private mount
# namespace: as on a machine where Swift was never installed. Every step
# execs the next, so a background program's PID is the program's own.
toolchain_free=(env -i PATH=/usr/bin:/bin LD_LIBRARY_PATH= TRUST_HOME="$tmp/trust")
hidden=no
if [[ $EUID -eq 0 && "$toolchain" != / && "$toolchain" != /usr ]] && command -v unshare >/dev/null \
    && unshare --mount sh -c "mount -t tmpfs tmpfs '$toolchain'" 2>/dev/null; then
    hidden=yes
    toolchain_free=(unshare --mount sh -c 'mount -t tmpfs tmpfs "$1" && shift && exec "$@"' sh "$toolchain"
        "${toolchain_free[@]}")
fi
step "running bin/trustctl without the toolchain (PATH=/usr/bin:/bin, LD_LIBRARY_PATH empty, $toolchain hidden: $hidden)"
version="$("${toolchain_free[@]}" "$prefix/bin/trustctl" --version)" || fail "installed trustctl --version failed"
step "  trustctl --version: $version"
"${toolchain_free[@]}" "$prefix/bin/trustctl" --help >/dev/null || fail "installed trustctl --help exited non-zero"

"${toolchain_free[@]}" "$prefix/bin/trustctl" echo-server --port 0 --host 127.0.0.1 --timeout 30 \
    >"$tmp/server.out" 2>"$tmp/server.err" &
server=$!
pids+=("$server")
ready="$(wait_for_line "$tmp/server.out" '^listening on ' "$server")" \
    || fail "installed echo-server did not start: $(cat "$tmp/server.err")"
port="${ready##*:}"
port="${port%% *}"
echoed="$("${toolchain_free[@]}" "$prefix/bin/echo-client" 127.0.0.1 "$port" "installed and static")" \
    || fail "installed echo-client failed"
[[ "$echoed" == "installed and static" ]] || fail "installed echo-client printed: $echoed"
stop "$server" || fail "installed echo-server exited $? on SIGTERM: $(cat "$tmp/server.err")"
step "  echo-server on port $port and echo-client exchanged a framed message; SIGTERM exit 0"

step "pkg-config --cflags --libs cnetshim"
flags="$(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs cnetshim)" \
    || fail "pkg-config does not find cnetshim in $prefix/lib/pkgconfig"
[[ "$(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --modversion cnetshim)" == 0.1.0 ]] \
    || fail "cnetshim.pc does not say version 0.1.0"
step "  $flags"

step "cc examples/cnet_echo_once.c \$(pkg-config --cflags --libs cnetshim)"
# $flags is split into words on purpose: it holds several compiler flags.
# shellcheck disable=SC2086
cc -Wall -Wextra -Werror -o "$tmp/cnet_echo_once" examples/cnet_echo_once.c $flags \
    || fail "examples/cnet_echo_once.c does not build against the installed library"

step "running cnet_echo_once"
output="$(timeout 30 "$tmp/cnet_echo_once")" || fail "cnet_echo_once exited non-zero"
[[ "$output" =~ ^cnet_echo_once:\ ok\ \([0-9]+\ bytes\ via\ port\ [0-9]+\)$ ]] \
    || fail "unexpected cnet_echo_once output: $output"
step "  $output"

step "cc -std=c11 examples/c-echo-server/c_echo_server.c \$(pkg-config --cflags --libs cnetshim)"
# shellcheck disable=SC2086
cc -std=c11 -pedantic -Wall -Wextra -Werror -o "$tmp/c_echo_server" examples/c-echo-server/c_echo_server.c $flags \
    || fail "examples/c-echo-server does not build against the installed library"
lines="$(wc -l <examples/c-echo-server/c_echo_server.c)"
((lines <= 150)) || fail "c_echo_server.c has $lines lines (at most 150)"

step "raw smoke test against c_echo_server: 12 clients at once, binary data, half-close"
"$tmp/c_echo_server" 127.0.0.1 0 >"$tmp/c-server.out" 2>"$tmp/c-server.err" &
c_server=$!
pids+=("$c_server")
ready="$(wait_for_line "$tmp/c-server.out" '^c_echo_server: listening on ' "$c_server")" \
    || fail "c_echo_server did not start: $(cat "$tmp/c-server.err")"
c_port="${ready##* }"
smoke="$(timeout 180 python3 examples/c-echo-server/smoke_client.py 127.0.0.1 "$c_port" --clients 12)" \
    || fail "smoke test against c_echo_server failed (see above); server stderr: $(cat "$tmp/c-server.err")"
step "  $smoke"
stop "$c_server" || fail "c_echo_server exited $? on SIGTERM: $(cat "$tmp/c-server.err")"
grep -q '^c_echo_server: stopped$' "$tmp/c-server.out" || fail "c_echo_server did not say it stopped"
step "  c_echo_server (port $c_port, $lines lines): SIGTERM exit 0"

echo "install-check: ok"
