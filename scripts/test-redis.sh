#!/usr/bin/env bash
# The Redis store's tests (tests/redis) against a real redis-server: each
# test starts its own on a free loopback port with a temp dir, and stops it.
# Needs Debian's redis-server and faketime (installed here when root).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v faketime >/dev/null || need+=(faketime)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing ${need[*]} and not root: apt-get install ${need[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null || {
    echo "apt-get install ${need[*]} failed" >&2
    exit 1
  }
fi
redis-server --version
cargo test --test redis --test redis_fork "$@"
