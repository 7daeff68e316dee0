#!/usr/bin/env bash
# wxtoken serve's fresh path under load, beside Redis in the same run:
# GET /v1/apps/{name}/token over keep-alive at 50 connections (wrk), then
# redis-benchmark GET at 50 connections; serve once with a worker per CPU,
# once with Redis's thread budget (one worker, one load thread). A benchmark, not a test: it prints
# requests/s and p50/p99 and asserts nothing. Needs wrk and redis-server
# (apt-get install wrk redis-server). DURATION=10 by default.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${DURATION:-10}
for tool in wrk redis-server redis-benchmark; do
  command -v "$tool" >/dev/null || { echo "$tool is needed (apt-get install wrk redis-server)" >&2; exit 1; }
done
cargo build --release -q --bin wxtoken
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

printf '[{"appid":"wxbench0000000001","secret":"bench-secret","platform":"mp"}]' >"$tmp/apps.json"
target/release/wxtoken mock --apps-file "$tmp/apps.json" --port-file "$tmp/mock.url" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$tmp/mock.url" ] && break; sleep 0.05; done

key=bench-key-$RANDOM$RANDOM
printf bench-secret >"$tmp/secret"
# serve_with WORKERS: starts a server with that many worker threads
# ("" = one per CPU), fetches the one token, sets $url.
serve_with() {
  local n=$1 dir=$tmp/serve$1
  mkdir -p "$dir"
  cat >"$dir/serve.toml" <<TOML
listen = "127.0.0.1:0"
store = "memory"
${n:+workers = $n}
[[apps]]
name = "shop"
appid = "wxbench0000000001"
secret_file = "$tmp/secret"
api_base = "$(cat "$tmp/mock.url")"
[[clients]]
name = "bench"
key_sha256 = "$(printf %s "$key" | sha256sum | cut -d' ' -f1)"
apps = ["shop"]
TOML
  target/release/wxtoken serve --config "$dir/serve.toml" --addr-file "$dir/serve.url" 2>"$dir/serve.log" &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$dir/serve.url" ] && break; sleep 0.05; done
  url=$(cat "$dir/serve.url")/v1/apps/shop/token
  curl -fsS -o /dev/null -H "Authorization: Bearer $key" "$url" # the one fetch
}

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no >/dev/null &
pids+=($!)
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
redis-cli -p "$port" set key:__rand_int__ "$(head -c 136 /dev/zero | tr '\0' x)" >/dev/null

wrk_serve() {
  wrk -t"$1" -c50 -d"${duration}s" --latency -H "Authorization: Bearer $key" "$url" |
    grep -E 'Requests/sec|^ +(50|99)%|Non-2xx|Socket errors'
}
serve_with ""
echo "=== wxtoken serve (a worker per CPU): GET /v1/apps/shop/token, 50 keep-alive connections, ${duration}s (wrk -t2)"
wrk_serve 2
# Redis answers on one thread and redis-benchmark loads it from one: the
# same two threads for serve.
serve_with 1
echo "=== wxtoken serve (workers = 1, as Redis): the same, wrk -t1"
wrk_serve 1
echo "=== redis-server: GET of a 136-byte value, 50 connections (redis-benchmark)"
redis-benchmark -p "$port" -t get -c 50 -n $((duration * 40000)) -d 136 2>/dev/null | tr '\r' '\n' |
  grep -E 'throughput summary|latency summary' -A2 | grep -v '^--$'
echo "(one machine: the load generator shares the CPUs with the server)"
