#!/usr/bin/env bash
# install-check.sh - install into a throwaway prefix and prove the result is
# usable: the files are there, a C program builds against the installed
# header and library through pkg-config and runs, and trustctl starts.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

step() { printf 'install-check: %s\n' "$*"; }
fail() { printf 'install-check: FAILED: %s\n' "$*" >&2; exit 1; }

tmp="$(mktemp -d "${TMPDIR:-/tmp}/trustctl-install-check.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"

# Debug reuses the build that `make test` just made. MAKEFLAGS is cleared
# so that variables given to an outer make cannot override ours.
step "make install PREFIX=$prefix CONFIG=debug"
MAKEFLAGS= MFLAGS= make --no-print-directory -C "$root" install PREFIX="$prefix" CONFIG=debug \
    || fail "make install PREFIX=$prefix CONFIG=debug exited non-zero"

step "checking installed files"
[[ -f "$prefix/bin/trustctl" && -x "$prefix/bin/trustctl" ]] || fail "missing executable bin/trustctl"
for link in echo-client echo-load-test; do
    [[ -L "$prefix/bin/$link" ]] || fail "bin/$link is not a symbolic link"
    [[ "$(readlink "$prefix/bin/$link")" == trustctl ]] || fail "bin/$link does not point to trustctl"
done
for file in lib/libcnetshim.a include/cnetshim.h lib/pkgconfig/cnetshim.pc; do
    [[ -s "$prefix/$file" ]] || fail "missing or empty $file"
done

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

step "$prefix/bin/trustctl --help"
timeout 30 "$prefix/bin/trustctl" --help >/dev/null || fail "installed trustctl --help exited non-zero"

echo "install-check: ok"
