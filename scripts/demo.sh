#!/usr/bin/env bash
# The demo: two simulated hosts, each running 2 C, 2 PHP and 2 Python
# processes in a business loop against the WeChat simulator, all sharing ONE
# token through wxtoken's Redis store. Midway the simulator supersedes the
# token (as if a rogue script fetched one); later the token nears expiry and
# is refreshed ahead of time. The upstream sees one fetch per event, however
# many processes and hosts there are.
#
# A host is its own UTS and mount namespace (unshare): its own hostname and
# its own /dev/shm, so no file store is shared, but this machine's network,
# where the simulator and redis-server listen on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
say() { printf '\n\033[1m%s\033[0m\n' "$*"; }

# --- setup (a fresh Debian machine: PHP and Redis from Debian, a venv with the wheel)
need=()
command -v php >/dev/null || need+=(php-cli)
command -v redis-server >/dev/null || need+=(redis-server)
command -v gcc >/dev/null || need+=(gcc libc6-dev)
python3 -c 'import ensurepip' 2>/dev/null || need+=(python3-venv)
command -v cargo >/dev/null || {
  echo "demo: cargo is needed (Rust 1.83 or later, from https://rustup.rs; Debian's is too old)" >&2
  exit 1
}
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
# As root the hosts' namespaces are plain; otherwise inside a user namespace.
userns=()
[ "$(id -u)" = 0 ] || userns=(--user --map-root-user)
unshare "${userns[@]}" --uts --mount true 2>/dev/null || {
  echo "demo: cannot create the hosts' namespaces (run it as root)" >&2
  exit 1
}
say "building libwxtoken, the CLI and the Python wheel"
cargo build --release -q
venv=target/demo-venv
[ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q "maturin>=1.5,<2"
rm -rf target/demo-wheels
"$venv/bin/maturin" build --release -o target/demo-wheels \
  >target/demo-maturin.log 2>&1 || { cat target/demo-maturin.log; exit 1; }
"$venv/bin/python" -m pip install -q --force-reinstall --no-deps target/demo-wheels/wxtoken-*.whl

tmp=$(mktemp -d)
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
ln -s "$root/target/release/libwxtoken.so" "$tmp/libwxtoken.so.0" # the soname
gcc -O2 -std=c11 -Wall -Wextra -Werror -Iinclude demo/worker.c -Ltarget/release -lwxtoken \
  -Wl,-rpath,"$tmp" -o "$tmp/worker"

# --- the simulator: 12 s tokens; a replaced token keeps working 5 s
export WXTOKEN_APPID=wx0000000000demo WXTOKEN_SECRET=demo-secret-not-real
target/release/wxtoken mock --lifetime 12 --overlap 5 --port-file "$tmp/url" >/dev/null 2>&1 &
for _ in $(seq 200); do [ -s "$tmp/url" ] && break; sleep 0.05; done
export WXTOKEN_API_BASE=$(cat "$tmp/url")
# --- Redis on a free loopback port, nothing kept on disk
port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$tmp" >/dev/null &
for _ in $(seq 200); do [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && break; sleep 0.05; done
# --- every process: the same Redis store, refresh 4 s before expiry
export WXTOKEN_STORE="redis://127.0.0.1:$port/0" WXTOKEN_REFRESH_MARGIN_S=4
export WXTOKEN_LIB="$root/target/release/libwxtoken.so"
mock() { "$venv/bin/python" -c "import json,sys,urllib.request as u
r=u.urlopen(u.Request(sys.argv[1], data=(sys.argv[2].encode() if len(sys.argv)>2 else None)))
print(r.read().decode())" "$WXTOKEN_API_BASE/mock/$1" "${@:2}"; }

# One host, inside its namespaces: 2 C, 2 PHP and 2 Python processes for
# $2 s, their lines prefixed with the hostname $1; exits with how many failed.
cat >"$tmp/host.sh" <<'EOF'
mount -t tmpfs tmpfs /dev/shm && hostname "$1" || exit 99
exec > >(sed -u "s/^/$1  /")
prefix=$!
pids=()
trap 'kill "${pids[@]}" 2>/dev/null' TERM
for i in 1 2; do
  "$tmp/worker" "$2" & pids+=($!)
  php -d ffi.enable=1 demo/worker.php "$2" & pids+=($!)
  "$venv/bin/python" demo/worker.py "$2" & pids+=($!)
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
exec >&-
wait "$prefix"
exit "$failed"
EOF
export tmp venv

say "simulator at $WXTOKEN_API_BASE; store $WXTOKEN_STORE
starting 2 hosts, each with 2 C, 2 PHP and 2 Python processes, at once (16 s each)"
hosts=()
for h in demo-host1 demo-host2; do
  unshare "${userns[@]}" --uts --mount --propagation private bash "$tmp/host.sh" "$h" 16 & hosts+=($!)
done
sleep 6
say "t=6s: the simulator supersedes the token (someone else fetched one; the old one now answers 40001)"
mock supersede "{\"appid\":\"$WXTOKEN_APPID\"}" >/dev/null
sleep 2
say "t=8s: waiting for the token to near expiry: the refresher renews it 4 s early, nobody waits"
failed=0
for p in "${hosts[@]}"; do wait "$p" || failed=$((failed + $?)); done

stats=$(mock stats)
fetches=$(printf '%s' "$stats" | "$venv/bin/python" -c "import json,sys; print(json.load(sys.stdin)['token_calls']['$WXTOKEN_APPID']['token'])")
say "result: 12 processes in 3 languages on 2 hosts, $failed failed
upstream token fetches: $fetches (one at cold start, one after the supersede, one ahead of expiry)"
[ "$failed" -eq 0 ] && [ "$fetches" -eq 3 ]
