#!/usr/bin/env bash
# wxtoken serve's client suite: the released wechatpy through the compatible
# endpoint, and the curl and Python examples of docs/serve.md, against the
# simulator. Builds the CLI; a venv (target/serve-venv) holds pytest and wechatpy.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
command -v curl >/dev/null || { echo "curl is needed" >&2; exit 1; }
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
  [ "$(id -u)" = 0 ] || { echo "python3 lacks venv/ensurepip: install python3-venv" >&2; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
fi
cargo build --quiet --bin wxtoken
venv=$root/target/serve-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check "wechatpy[cryptography]==1.8.18" "pytest>=8,<10"
WXTOKEN_BIN=$root/target/debug/wxtoken "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/serve_clients
