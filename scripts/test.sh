#!/usr/bin/env bash
# Every test suite, from a fresh Debian machine: installs what the suites
# need, then runs lint, the Rust suites, and the C, PHP and Python suites.
# Ends with "suites: N passed, N failed"; exits non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

log() { printf '\n=== %s\n' "$*"; }

# --- setup: system packages (as root on Debian), fail loudly if impossible
need_pkgs=()
command -v php >/dev/null || need_pkgs+=(php-cli)
command -v php-fpm8.2 >/dev/null || ls /usr/sbin/php-fpm* >/dev/null 2>&1 || need_pkgs+=(php-fpm)
command -v cgi-fcgi >/dev/null || need_pkgs+=(libfcgi-bin)
command -v valgrind >/dev/null || need_pkgs+=(valgrind)
command -v pkg-config >/dev/null || need_pkgs+=(pkg-config)
command -v redis-server >/dev/null || need_pkgs+=(redis-server)
command -v faketime >/dev/null || need_pkgs+=(faketime)
command -v curl >/dev/null || need_pkgs+=(curl)
command -v openssl >/dev/null || need_pkgs+=(openssl)
command -v gcc >/dev/null || need_pkgs+=(gcc libc6-dev)
command -v make >/dev/null || need_pkgs+=(make)
python3 -c 'import ensurepip' 2>/dev/null || need_pkgs+=(python3-venv)
command -v cargo >/dev/null || {
  echo "cargo is needed (Rust 1.83 or later, from https://rustup.rs; Debian's is too old)" >&2
  exit 1
}
command -v composer >/dev/null || need_pkgs+=(composer)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing ${need_pkgs[*]}"
  if [ "$(id -u)" != 0 ]; then
    echo "missing packages ${need_pkgs[*]} and not root: install them first" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${need_pkgs[@]}" >/dev/null || {
    echo "apt-get install ${need_pkgs[*]} failed" >&2
    exit 1
  }
fi

passed=0
failed=0
failed_names=()
suite() {
  local name=$1
  shift
  log "$name"
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failed_names+=("$name")
    echo "--- suite '$name' FAILED"
  fi
}

suite "rustfmt" cargo fmt --all -- --check
# --workspace: the simulator (crates/wxtoken-mock) and the Python extension
# (bindings/python) are linted too.
suite "clippy" cargo clippy --workspace --all-targets -- -D warnings
# Includes tests/redis and tests/redis_fork (each test starts its own
# redis-server); scripts/test-redis.sh runs those alone.
suite "cargo test (core, adversarial, Redis store, simulator)" cargo test --workspace --exclude wxtoken-python --all-targets
suite "doc tests" cargo test --workspace --exclude wxtoken-python --doc
suite "C headers up to date" bash bindings/c/check-header.sh --build
suite "C (shared, static, valgrind, install)" bash bindings/c/run-tests.sh
suite "PHP (CLI FFI, php-fpm + opcache.preload)" bash bindings/php/run-tests.sh
suite "Python (wheel, sdist, pytest, mypy --strict)" bash bindings/python/run-tests.sh
suite "C + PHP + Python processes on one store" bash tests/cross/run.sh
suite "C + PHP + Python on 3 simulated hosts, one Redis" bash tests/fleet/run.sh
suite "wxtoken serve clients (wechatpy, curl, Python examples)" bash tests/serve_clients/run-tests.sh

log "summary"
[ ${#failed_names[@]} -eq 0 ] || echo "failed suites: ${failed_names[*]}"
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
