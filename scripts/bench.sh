#!/usr/bin/env bash
# Every benchmark, against the simulator: the Rust fresh get (criterion),
# the C ABI, PHP through FFI, and Python beside wechatpy. Each prints
# medians and ratios to baselines measured in the same run.
# Run scripts/test.sh once first (it installs PHP and builds the venv).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

echo "=== Rust: fresh get (criterion)"
cargo bench --bench get -- --warm-up-time 1 --measurement-time 5 >/dev/null
scripts/bench-report.py

cargo build --release -q
tmp=$(mktemp -d)
trap 'kill $(cat "$tmp/pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$tmp"' EXIT
printf '[{"appid":"wxbench0000000001","secret":"bench-secret","platform":"mp"}]' >"$tmp/apps.json"
target/release/wxtoken mock --apps-file "$tmp/apps.json" --port-file "$tmp/url" >/dev/null 2>&1 &
echo $! >"$tmp/pid"
for _ in $(seq 100); do [ -s "$tmp/url" ] && break; sleep 0.05; done
api_base=$(cat "$tmp/url")

echo "=== C: wxtoken_get into a caller buffer"
ln -s "$root/target/release/libwxtoken.so" "$tmp/libwxtoken.so.0" # the soname
gcc -O2 -std=c11 -Wall -Wextra -Werror -pedantic -Iinclude benches/c_get.c \
  -Ltarget/release -lwxtoken -Wl,-rpath,"$tmp" -lpthread -o "$tmp/c_get"
WXTOKEN_API_BASE=$api_base "$tmp/c_get"

# The PHP and Python benchmarks start simulators of their own.
if [ -f benches/php_get.php ]; then
  echo "=== PHP: get through FFI"
  WXTOKEN_LIB="$root/target/release/libwxtoken.so" php -d ffi.enable=1 benches/php_get.php
fi
if [ -f benches/python_get.py ]; then
  echo "=== Python: get_token beside wechatpy"
  venv=target/py-venv
  [ -x "$venv/bin/python" ] || { echo "no $venv: run scripts/test.sh first" >&2; exit 1; }
  "$venv/bin/python" -c 'import wechatpy' 2>/dev/null || "$venv/bin/pip" install -q 'wechatpy[cryptography]'
  "$venv/bin/python" benches/python_get.py
fi
