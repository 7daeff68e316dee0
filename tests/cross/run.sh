#!/usr/bin/env bash
# The cross-language process tests (issue 6): C, PHP and Python workers from
# demo/ sharing one file store; and (issue 12) the ticket workers of
# tests/cross/workers/ asking for one jsapi ticket at once. Needs the venv
# that bindings/python/run-tests.sh builds (the wheel installed, pytest);
# builds the C workers itself.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
venv=target/py-venv
if [ ! -x "$venv/bin/pytest" ] || ! "$venv/bin/python" -c 'import wxtoken' 2>/dev/null; then
  echo "tests/cross: no $venv with wxtoken and pytest: run bindings/python/run-tests.sh first" >&2
  exit 1
fi
command -v php >/dev/null || { echo "tests/cross: php is missing" >&2; exit 1; }
cargo build --release -q
mkdir -p target/cross
ln -sf "$root/target/release/libwxtoken.so" target/cross/libwxtoken.so.0 # the soname
gcc -O2 -std=c11 -Wall -Wextra -Werror -pedantic -Iinclude demo/worker.c -Ltarget/release -lwxtoken \
  -Wl,-rpath,"$root/target/cross" -o target/cross/worker
gcc -O2 -std=c11 -Wall -Wextra -Werror -pedantic -Iinclude tests/cross/workers/ticket_worker.c -Ltarget/release \
  -lwxtoken -Wl,-rpath,"$root/target/cross" -o target/cross/ticket_worker
CROSS_C_WORKER=$root/target/cross/worker CROSS_C_TICKET_WORKER=$root/target/cross/ticket_worker exec "$venv/bin/pytest" -q -p no:cacheprovider tests/cross "$@"
