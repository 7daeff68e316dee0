#!/usr/bin/env bash
# wxtoken serve's fresh path under load, beside Redis in the same run:
# GET /v1/apps/{name}/token over keep-alive at 50 connections (wrk), and
# redis-benchmark GET at 50 connections; serve once with a worker per CPU,
# once with Redis's thread budget (one worker, one load thread, each on a
# CPU of its own). A benchmark, not a test: it prints the medians of
# requests/s, p50 and p99 and asserts nothing. Needs wrk, redis-server and
# taskset (apt-get install wrk redis-server util-linux).
# DURATION=10 (seconds a run) and RUNS=3 by default.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${DURATION:-10}
for tool in wrk redis-server redis-benchmark taskset python3; do
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
redis_pid=$!
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
redis-cli -p "$port" set key:__rand_int__ "$(head -c 136 /dev/zero | tr '\0' x)" >/dev/null

# Each configuration runs $RUNS times, interleaved (A B C A B C ...) so that
# the machine's noise falls on all alike; the medians are printed at the end.
# The one-thread configurations pin the server to CPU 0 and the load
# generator to CPU 1 (taskset), Redis and serve alike: neither then
# preempts the other on a shared core.
runs=${RUNS:-3}
results=$tmp/results
: >"$results"
wrk_serve() { # LABEL THREADS [CPU for wrk]
  local out
  out=$(${3:+taskset -c "$3"} wrk -t"$2" -c50 -d"${duration}s" --latency -H "Authorization: Bearer $key" "$url")
  echo "$out" | grep -qE 'Non-2xx|Socket errors' && { echo "$1: errors: $out" >&2; return 1; }
  printf '%s\t%s\t%s\t%s\n' "$1" \
    "$(echo "$out" | awk '/Requests\/sec/ {printf "%d", $2}')" \
    "$(echo "$out" | awk '$1=="50%" {print $2}')" \
    "$(echo "$out" | awk '$1=="99%" {print $2}')" >>"$results"
}
redis_get() {
  local out
  out=$(taskset -c 1 redis-benchmark -p "$port" -t get -c 50 -n $((duration * 80000)) -d 136 2>/dev/null | tr '\r' '\n')
  # "avg min p50 p95 p99 max" (ms) under the latency summary.
  printf 'redis\t%s\t%sms\t%sms\n' \
    "$(echo "$out" | awk '/throughput summary/ {printf "%d", $3}')" \
    "$(echo "$out" | awk '/latency summary/ {getline; getline; print $3}')" \
    "$(echo "$out" | awk '/latency summary/ {getline; getline; print $5}')" >>"$results"
}
taskset -acp 0 "$redis_pid" >/dev/null
serve_with ""
url_all=$url
serve_with 1
url_one=$url
taskset -acp 0 "${pids[-1]}" >/dev/null
for i in $(seq "$runs"); do
  url=$url_all wrk_serve serve-per-cpu 2
  url=$url_one wrk_serve serve-1-worker 1 1
  redis_get
done

# Medians per configuration; latencies in ms.
python3 - "$results" "$runs" "$duration" <<'PY'
import statistics, sys
def ms(v):
    for unit, f in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if v.endswith(unit):
            return float(v[: -len(unit)]) * f
    raise ValueError(v)
rows = {}
for line in open(sys.argv[1]):
    label, rps, p50, p99 = line.split()
    rows.setdefault(label, []).append((int(rps), ms(p50), ms(p99)))
names = {
    "serve-per-cpu": "serve, a worker per CPU, wrk -t2 (4 busy threads, 2 cores)",
    "serve-1-worker": "serve, workers = 1 on CPU 0, wrk -t1 on CPU 1",
    "redis": "redis-server GET on CPU 0, redis-benchmark on CPU 1",
}
print(f"medians of {sys.argv[2]} runs of {sys.argv[3]} s, 50 keep-alive connections")
print(f"{'':58} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7}  (each run's p99)")
for label, name in names.items():
    r = rows.get(label, [])
    if not r:
        continue
    med = [statistics.median(c) for c in zip(*r)]
    each = " ".join(f"{x[2]:.2f}" for x in r)
    print(f"{name:58} {med[0]:>8.0f} {med[1]:>7.2f} {med[2]:>7.2f}  ({each})")
redis = rows.get("redis")
one = rows.get("serve-1-worker")
if redis and one:
    ratio = statistics.median(x[0] for x in one) / statistics.median(x[0] for x in redis)
    print(f"serve (1 worker) / redis requests/s: {ratio:.2f}x")
PY
echo "(one machine: the load generator shares the CPUs with the server; load: $(cut -d' ' -f1-3 /proc/loadavg))"
