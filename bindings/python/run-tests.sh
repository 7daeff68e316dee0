#!/usr/bin/env bash
# The Python binding's suite, from a fresh Debian machine:
#   1. a venv (target/py-venv) with maturin, pytest and mypy;
#   2. the C library and simulator CLI (cargo build --release), then the wheel
#      and the sdist (maturin), and `pip install .` as the README says: none of
#      these may touch target/release/libwxtoken.so, which PHP must still load;
#   3. pytest (tests/python, with the released wechatpy for wxtoken.wechatpy)
#      against the simulator, and mypy --strict on the typing sample (plus a
#      sample of misuse that must be refused);
#   4. the sdist, pip-installed (compiling the crate) into a second venv
#      (target/py-venv-sdist), with a smoke test against the simulator.
# Exits non-zero on any failure. Cargo builds go to target/, beside the other
# suites': the extension is the crate bindings/python (libwxtoken_python.so).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

unset CARGO_TARGET_DIR # the README's builds use the workspace's target/
python=${PYTHON:-python3}
venv=$root/target/py-venv
sdist_venv=$root/target/py-venv-sdist
dist=$root/target/py-dist
clib=$root/target/release/libwxtoken.so
pins=("maturin>=1.9.4,<2" "pytest>=9,<10" "mypy>=2,<3")
# The released wechatpy that tests/python/test_wechatpy.py runs against (the
# release tests/serve_clients pins), installed through the wheel's extra.
wechatpy_pin="wechatpy[cryptography]==1.8.18"

log() { printf '\n=== python: %s\n' "$*"; }
fail() {
  echo "python: $*" >&2
  exit 1
}

# --- a Python with venv and pip (Debian ships ensurepip as python3-venv)
command -v "$python" >/dev/null || fail "$python not found (apt-get install python3)"
if ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null ||
    fail "$python lacks venv/ensurepip: install python3-venv"
  log "installing python3-venv"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null ||
    fail "apt-get install python3-venv failed"
fi

make_venv() {
  if ! "$1/bin/python" -c 'import sys' 2>/dev/null; then
    rm -rf "$1"
    "$python" -m venv "$1"
  fi
  "$1/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
}

log "venv $venv"
make_venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check "${pins[@]}"
"$venv/bin/python" -c 'import sys; print(sys.version)'

log "building the C library and the simulator CLI"
cargo build --release --locked
export WXTOKEN_BIN=$root/target/release/wxtoken
[ -x "$WXTOKEN_BIN" ] && [ -f "$clib" ] || fail "$WXTOKEN_BIN or $clib was not built"
clib_sum=$(sha256sum "$clib")

log "building the wheel and the sdist"
rm -rf "$dist"
"$venv/bin/maturin" build --release --locked --interpreter "$venv/bin/python" --out "$dist"
"$venv/bin/maturin" sdist --out "$dist"
wheels=("$dist"/wxtoken-*.whl)
sdists=("$dist"/wxtoken-*.tar.gz)
[ ${#wheels[@]} -eq 1 ] && [ -f "${wheels[0]}" ] || fail "expected one wheel in $dist"
[ ${#sdists[@]} -eq 1 ] && [ -f "${sdists[0]}" ] || fail "expected one sdist in $dist"
case ${wheels[0]} in *-abi3-*) ;; *) fail "the wheel is not abi3: ${wheels[0]}" ;; esac
"$venv/bin/python" - "${wheels[0]}" <<'EOF'
import sys, zipfile
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
for need in ("wxtoken/__init__.py", "wxtoken/_errors.py", "wxtoken/_wxtoken.pyi", "wxtoken/py.typed"):
    assert need in names, f"{need} missing from the wheel"
assert any(n.startswith("wxtoken/_wxtoken.") and n.endswith(".so") for n in names), "no extension module"
for lic in ("LICENSE-MIT", "LICENSE-APACHE"):
    assert any(n.endswith(lic) for n in names), f"{lic} missing from the wheel"
print("wheel contents ok:", sys.argv[1].rsplit("/", 1)[-1])
EOF
"$venv/bin/python" - "${sdists[0]}" <<'EOF'
import sys, tarfile
names = tarfile.open(sys.argv[1]).getnames()
for lic in ("LICENSE-MIT", "LICENSE-APACHE"):
    assert any(n.endswith("/" + lic) for n in names), f"{lic} missing from the sdist"
print("sdist has both licenses")
EOF

log "pip install . (the README's way), then the C library is checked"
"$venv/bin/python" -m pip install -q --disable-pip-version-check .
# Issue 13: a Python build once replaced the C library with a libpython-linked
# one, which PHP's FFI then refused ("undefined symbol: PyExc_TypeError").
[ "$(sha256sum "$clib")" = "$clib_sum" ] || fail "a Python build changed $clib"
if nm -D --undefined-only "$clib" | grep -w 'Py[A-Za-z_]*'; then
  fail "$clib needs Python symbols"
fi
command -v php >/dev/null || fail "php missing (apt-get install php-cli): it checks $clib still loads"
php -d ffi.enable=1 -r 'require $argv[1]; echo "PHP loads it: wxtoken ", (new WxToken\WxToken($argv[2]))->version(), "\n";' \
  "$root/bindings/php/autoload.php" "$clib" || fail "PHP cannot load $clib after the Python builds"

"$venv/bin/python" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "${wheels[0]}"
log "wxtoken[wechatpy] (the extra) with $wechatpy_pin"
"$venv/bin/python" -m pip install -q --disable-pip-version-check "${wheels[0]}[wechatpy]" "$wechatpy_pin"

log "pytest"
"$venv/bin/python" -m pytest tests/python -p no:cacheprovider -ra

log "mypy --strict"
"$venv/bin/python" -m mypy --strict --no-incremental tests/python
misuse=$(mktemp -d)
trap 'rm -rf "$misuse"' EXIT
cat >"$misuse/misuse.py" <<'EOF'
import wxtoken

wxtoken.get_token(1)
wxtoken.configure("wxappid", "secret", timeout_ms="soon")
wxtoken.configure("wxappid", "secret", timeout=5)
length: int = wxtoken.get_token("app")
wxtoken.Client("wxappid", "secret").name = "other"
wxtoken.get_tokn("app")
EOF
if out=$(cd "$misuse" && "$venv/bin/python" -m mypy --strict --no-incremental misuse.py 2>&1); then
  fail "mypy accepted misuse of the API: the stubs are too loose"
fi
echo "$out" | tail -n 1
# (The last: wxtoken's lazy `aio` must not give mypy a module __getattr__.)
echo "$out" | grep -q "Found 6 errors in 1 file" || fail "mypy did not refuse exactly the 6 misuses: $out"

log "installing from the sdist into $sdist_venv"
make_venv "$sdist_venv"
"$sdist_venv/bin/python" -m pip install -q --disable-pip-version-check --force-reinstall "${sdists[0]}"
(cd "$misuse" && "$sdist_venv/bin/python" - <<'EOF'
import json, os, pathlib, subprocess, tempfile, time, urllib.request
import wxtoken

pkg = pathlib.Path(wxtoken.__file__).parent
assert "site-packages" in str(pkg), pkg
assert (pkg / "py.typed").is_file() and (pkg / "_wxtoken.pyi").is_file()
with tempfile.TemporaryDirectory() as tmp:
    url_file = pathlib.Path(tmp, "url")
    env = dict(os.environ, WXTOKEN_APPID="wx0000000000demo", WXTOKEN_SECRET="demo-secret-not-real")
    mock = subprocess.Popen([os.environ["WXTOKEN_BIN"], "mock", "--port-file", str(url_file)],
                            env=env, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not url_file.exists():
            assert mock.poll() is None and time.monotonic() < deadline, "mock did not start"
            time.sleep(0.02)
        url = url_file.read_text().strip()
        app = wxtoken.configure("wx0000000000demo", "demo-secret-not-real", api_base=url, store="memory")
        token = wxtoken.get_token(app)
        check = json.load(urllib.request.urlopen(f"{url}/cgi-bin/get_api_domain_ip?access_token={token}"))
        assert "ip_list" in check, check
    finally:
        mock.terminate()
        mock.wait()
print(f"sdist install ok: wxtoken {wxtoken.__version__} from {pkg}")
EOF
)

log "ok"
