#!/usr/bin/env bash
# Tests of the PHP binding, end to end against the real library and `wxtoken mock`:
#   1. installs what is missing (Debian packages: php-cli, phpunit, php-fpm, libfcgi-bin,
#      gcc, composer)
#   2. builds the library and the CLI: cargo build --release (skip: WXTOKEN_NO_BUILD=1)
#   3. starts the simulator with a file of apps (every test takes apps of its own)
#   4. works out how the PHP-FPM tests may run php-fpm (with opcache.preload=preload.php and
#      ffi.enable=preload) in each README setup that can run here (A: root master +
#      ffi.preload; B: unprivileged master + FFI::load); the tests start and stop their own
#      (tests/Fpm.php) and request them with cgi-fcgi (tests/fpm/drive.sh)
#   5. runs PHPUnit under `php -d ffi.enable=1`
# The last line printed is `N passed, N failed` (a skipped test counts as failed: here
# everything it needs is provided); the exit status is non-zero on any failure.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

say() { echo "run-tests: $*" >&2; }
die() { say "$*"; echo "0 passed, 1 failed"; exit 1; }

APT_UPDATED=
install() { # package...
    if ! command -v apt-get >/dev/null 2>&1; then
        die "missing $*, and no apt-get to install it: install it by hand"
    fi
    local sudo=
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null 2>&1 || die "missing $*: install it (apt-get needs root)"
        sudo=sudo
    fi
    say "installing $* with apt-get"
    if [ -z "$APT_UPDATED" ]; then
        $sudo apt-get update -qq || die "apt-get update failed"
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >&2 || die "apt-get install $* failed"
}
need() { # command package
    command -v "$1" >/dev/null 2>&1 || install "$2"
    command -v "$1" >/dev/null 2>&1 || die "$1 still missing after installing $2"
}

# ---- 1. tools -------------------------------------------------------------------------
need php php-cli
PHPV=$(php -r 'echo PHP_MAJOR_VERSION, ".", PHP_MINOR_VERSION;')
php -r 'exit(version_compare(PHP_VERSION, "8.1", ">=") ? 0 : 1);' || die "PHP >= 8.1 needed, found $PHPV"
has_ext() { php -r 'exit(extension_loaded($argv[1]) ? 0 : 1);' "$1"; }
has_ext ffi || install "php$PHPV-common"
has_ext ffi || die "ext-ffi missing from php $PHPV"
has_ext 'Zend OPcache' || install "php$PHPV-opcache"
need phpunit phpunit
FPM=$(command -v "php-fpm$PHPV" || command -v "/usr/sbin/php-fpm$PHPV" || true)
[ -n "$FPM" ] || { install "php$PHPV-fpm"; FPM=$(command -v "php-fpm$PHPV" || echo "/usr/sbin/php-fpm$PHPV"); }
[ -x "$FPM" ] || die "php-fpm$PHPV missing"
need cgi-fcgi libfcgi-bin
need cc gcc            # LoadTest builds a library the loader refuses
need composer composer # ComposerTest installs the package as the README says, offline

# ---- 2. build -------------------------------------------------------------------------
if [ "${WXTOKEN_NO_BUILD:-}" != 1 ]; then
    say "cargo build --release"
    (cd "$ROOT" && cargo build --release >&2) || die "cargo build --release failed"
fi
LIB="$ROOT/target/release/libwxtoken.so"
CLI="$ROOT/target/release/wxtoken"
[ -f "$LIB" ] || die "no $LIB: cargo build --release"
[ -x "$CLI" ] || die "no $CLI: cargo build --release"
[ -f "$ROOT/include/wxtoken_ffi.h" ] || die "no $ROOT/include/wxtoken_ffi.h (build.rs writes it)"

# ---- 3. simulator ---------------------------------------------------------------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/wxtoken-php-tests.XXXXXX")
chmod 755 "$TMP"
MOCK_PID=
cleanup() {
    set +e
    local f pid
    # php-fpm masters a test left running (PHPUnit killed): by their pid files.
    for f in "$TMP"/fpm-*/fpm.pid; do
        [ -s "$f" ] && pid=$(cat "$f") || continue
        case "$(cat "/proc/$pid/comm" 2>/dev/null)" in php-fpm*) kill "$pid" 2>/dev/null ;; esac
    done
    if [ -n "$MOCK_PID" ]; then
        kill "$MOCK_PID" 2>/dev/null
        wait "$MOCK_PID" 2>/dev/null
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

php -r '
    $apps = [];
    for ($i = 1; $i <= 160; $i++) {
        $apps[] = ["appid" => sprintf("wxphp%013d", $i), "secret" => sprintf("php-secret-%04d", $i), "platform" => "mp"];
    }
    for ($i = 1; $i <= 12; $i++) {
        $apps[] = ["appid" => sprintf("wwphp%013d", $i), "secret" => sprintf("php-corpsecret-%04d", $i), "platform" => "wecom"];
    }
    file_put_contents($argv[1], json_encode($apps, JSON_PRETTY_PRINT));
' "$TMP/apps.json"

"$CLI" mock --port-file "$TMP/mock.url" --apps-file "$TMP/apps.json" >"$TMP/mock.log" 2>&1 &
MOCK_PID=$!
for _ in $(seq 200); do
    [ -s "$TMP/mock.url" ] && break
    kill -0 "$MOCK_PID" 2>/dev/null || die "wxtoken mock exited: $(cat "$TMP/mock.log")"
    sleep 0.05
done
[ -s "$TMP/mock.url" ] || die "wxtoken mock wrote no port file: $(cat "$TMP/mock.log")"
API_BASE=$(cat "$TMP/mock.url")
say "simulator at $API_BASE"

# ---- 4. php-fpm: what the tests may start -----------------------------------------------
# The PHP-FPM tests start their own php-fpm (tests/Fpm.php) with opcache.preload and
# ffi.enable=preload, in each README setup that can run here:
#   A: master as root, workers and preload as www-data (opcache.preload_user), the scope from
#      ffi.preload (a header written by ffi-header.php). Only when root.
#   B: master as an ordinary user (www-data when root), preload.php FFI::load()s the header.
# The workers never run as root: a file store's directory belongs to the workers' user
# (mode 0700), as in production. If www-data cannot read the checkout (say under /root),
# php-fpm gets a world-readable copy of what it reads (the package, the library, the header).
FPM_USER=$(id -un)
FPM_PKG=$HERE
FPM_LIB=$LIB
FPM_HEADER=$ROOT/include/wxtoken_ffi.h
FFI_PRELOAD=
if [ "$(id -u)" = 0 ]; then
    command -v setpriv >/dev/null 2>&1 || install util-linux
    command -v setpriv >/dev/null 2>&1 || die "setpriv missing (util-linux): needed to run php-fpm as www-data"
    FPM_USER=www-data
    id "$FPM_USER" >/dev/null 2>&1 || FPM_USER=nobody
    id "$FPM_USER" >/dev/null 2>&1 || die "neither www-data nor nobody exists: php-fpm's workers must not run as root"
    fpm_user_reads() { setpriv --reuid="$FPM_USER" --regid="$(id -g "$FPM_USER")" --clear-groups test -r "$1"; }
    fpm_user_reads "$TMP/apps.json" || die "$FPM_USER cannot read $TMP: set TMPDIR to a directory it can enter"
    if [ "${WXTOKEN_TEST_STAGE:-}" = 1 ] || ! { fpm_user_reads "$LIB" && fpm_user_reads "$FPM_HEADER" \
            && fpm_user_reads "$HERE/preload.php" && fpm_user_reads "$HERE/src/WxToken.php" \
            && fpm_user_reads "$HERE/tests/fpm/token-page.php"; }; then
        say "php-fpm gets a copy in $TMP/stage (${WXTOKEN_TEST_STAGE:+WXTOKEN_TEST_STAGE=1}${WXTOKEN_TEST_STAGE:-$FPM_USER cannot read $ROOT})"
        mkdir -p "$TMP/stage/bindings/php/tests" "$TMP/stage/target/release" "$TMP/stage/include"
        cp -R "$HERE/src" "$HERE/preload.php" "$TMP/stage/bindings/php/"
        cp -R "$HERE/tests/fpm" "$HERE/tests/EasyWeChat" "$TMP/stage/bindings/php/tests/"
        cp "$LIB" "$TMP/stage/target/release/"
        cp "$FPM_HEADER" "$TMP/stage/include/"
        chmod -R a+rX "$TMP/stage"
        FPM_PKG=$TMP/stage/bindings/php
        FPM_LIB=$TMP/stage/target/release/$(basename "$LIB")
        FPM_HEADER=$TMP/stage/include/wxtoken_ffi.h
    fi
    FFI_PRELOAD=$TMP/wxtoken-ffi.h
    WXTOKEN_LIB="$FPM_LIB" php "$HERE/ffi-header.php" "$FFI_PRELOAD" || die "ffi-header.php failed"
fi
say "php-fpm $PHPV ($FPM): workers as $FPM_USER, setups: ${FFI_PRELOAD:+A (root master) and }B ($FPM_USER master)"

# ---- 5. PHPUnit -----------------------------------------------------------------------
set +e
env WXTOKEN_TEST_API_BASE="$API_BASE" \
    WXTOKEN_TEST_APPS="$TMP/apps.json" \
    WXTOKEN_TEST_CLI="$CLI" \
    WXTOKEN_TEST_FPM_BIN="$FPM" \
    WXTOKEN_TEST_FPM_USER="$FPM_USER" \
    WXTOKEN_TEST_FPM_PKG="$FPM_PKG" \
    WXTOKEN_TEST_FPM_LIB="$FPM_LIB" \
    WXTOKEN_TEST_FPM_HEADER="$FPM_HEADER" \
    WXTOKEN_TEST_FFI_PRELOAD="$FFI_PRELOAD" \
    WXTOKEN_TEST_FPM_TMP="$TMP" \
    WXTOKEN_LIB="$LIB" \
    WXTOKEN_API_BASE="$API_BASE" \
    WXTOKEN_STORE=memory \
    php -d ffi.enable=1 -d zend.assertions=1 -d error_reporting=-1 "$(command -v phpunit)" \
        -c "$HERE/phpunit.xml.dist" --log-junit "$TMP/junit.xml" "$@"
RC=$?
set -e
for log in "$TMP"/fpm-*/php.log "$TMP"/fpm-*/fpm.log; do
    if [ -s "$log" ] && grep -qiE 'warning|error|fatal|deprecated' "$log"; then
        say "php-fpm log $log:"; cat "$log" >&2
    fi
done
php -r '
    $rc = (int) $argv[2];
    $xml = is_file($argv[1]) ? @simplexml_load_file($argv[1]) : false;
    if ($xml === false || !isset($xml->testsuite)) {
        fwrite(STDERR, "run-tests: PHPUnit left no report (exit status $rc)\n");
        echo "0 passed, 1 failed\n";
        exit(1);
    }
    $s = $xml->testsuite->attributes();
    $tests = (int) $s["tests"];
    $failed = (int) $s["failures"] + (int) $s["errors"] + (int) $s["skipped"] + (int) ($s["warnings"] ?? 0);
    $failed = min($failed, $tests);
    if ($failed === 0 && $rc !== 0) {
        $failed = 1; // PHPUnit said no (risky test, warning...) without a failing test
    }
    if ((int) $s["skipped"] > 0) {
        fwrite(STDERR, "run-tests: " . (int) $s["skipped"] . " skipped test(s) counted as failed\n");
    }
    echo ($tests - min($failed, $tests)), " passed, ", $failed, " failed\n";
    exit($failed > 0 ? 1 : 0);
' "$TMP/junit.xml" "$RC"
