#!/usr/bin/env bash
# The fleet tests (Redis store issue, item 8): C, PHP and Python workers from
# demo/ on several simulated hosts (own UTS + mount namespace, private
# /dev/shm, the root's loopback) sharing one token through a real
# redis-server. Needs root (or user namespaces), redis-server, php, and
# the venv that bindings/python/run-tests.sh builds; builds the C worker.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
venv=target/py-venv
fail() {
  echo "tests/fleet: $*" >&2
  exit 1
}
"$venv/bin/python" -c "import pytest, wxtoken" 2>/dev/null ||
  fail "no $venv with wxtoken and pytest: run bindings/python/run-tests.sh first"
# Root, or user namespaces (the hosts' mount and UTS namespaces then live in one).
[ "$(id -u)" = 0 ] || unshare --user --map-root-user --uts --mount true 2>/dev/null ||
  fail "needs root or unprivileged user namespaces (for the simulated hosts' namespaces)"
for cmd in php redis-server redis-cli unshare nsenter; do
  command -v "$cmd" >/dev/null || fail "$cmd is missing"
done
cargo build --release -q
mkdir -p target/fleet
ln -sf "$root/target/release/libwxtoken.so" target/fleet/libwxtoken.so.0 # the soname
gcc -O2 -std=c11 -Wall -Wextra -Werror -pedantic -Iinclude demo/worker.c -Ltarget/release -lwxtoken \
  -Wl,-rpath,"$root/target/fleet" -o target/fleet/worker
FLEET_C_WORKER=$root/target/fleet/worker exec "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/fleet "$@"
