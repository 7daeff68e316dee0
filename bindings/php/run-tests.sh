#!/usr/bin/env bash
# Tests of the PHP binding, end to end against the real library and `wxtoken mock`:
#   1. installs what is missing (Debian packages: php-cli, phpunit, php-fpm, libfcgi-bin)
#   2. builds the library and the CLI: cargo build --release (skip: WXTOKEN_NO_BUILD=1)
#   3. starts the simulator with a file of apps (every test takes apps of its own)
#   4. starts php-fpm (pm=static, 2 workers) with opcache.preload=preload.php and
#      ffi.enable=preload, in each README setup that can run here (A: root master +
#      ffi.preload; B: unprivileged master + FFI::load), for FpmPreloadTest (cgi-fcgi)
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
FPM_PIDS=()
cleanup() {
    set +e
    local pid
    for pid in "${FPM_PIDS[@]}" $MOCK_PID; do
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
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

# ---- 4. php-fpm with opcache.preload + FFI scope ---------------------------------------
# Setup A (README): master as root, workers and preload as www-data (opcache.preload_user),
#   the scope from ffi.preload (a header written by ffi-header.php). Needs root.
# Setup B: master as an ordinary user, preload.php FFI::load()s a temporary header.
# Each setup that can run here gets its own php-fpm; FpmPreloadTest requests every one.
FPM_PIDS=()
FPM_LIST=
start_fpm() { # label dir master-user pool-user|"" [php-fpm flags...]
    local label=$1 dir=$2 master=$3 pool=$4
    shift 4
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown "$master" "$dir"
    {
        printf '[global]\nerror_log = %s/fpm.log\npid = %s/fpm.pid\ndaemonize = no\n\n' "$dir" "$dir"
        printf '[wxtoken-tests]\nlisten = %s/fpm.sock\nlisten.mode = 0666\n' "$dir"
        [ -n "$pool" ] && printf 'user = %s\ngroup = %s\n' "$pool" "$(id -gn "$pool")"
        printf 'pm = static\npm.max_children = 2\nclear_env = yes\ncatch_workers_output = yes\n'
        printf 'php_admin_value[error_log] = %s/php.log\nphp_admin_flag[log_errors] = on\n' "$dir"
        printf 'php_admin_flag[display_errors] = off\n'
    } >"$dir/fpm.conf"
    local run=()
    [ "$master" != "$(id -un)" ] && run=(setpriv --reuid="$master" --regid="$(id -gn "$master")" --init-groups)
    # The master's environment is what preload.php sees (WXTOKEN_LIB, WXTOKEN_HEADER).
    "${run[@]}" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin TMPDIR="$dir" \
        WXTOKEN_LIB="$LIB" WXTOKEN_HEADER="$ROOT/include/wxtoken_ffi.h" \
        "$FPM" -F -y "$dir/fpm.conf" -d opcache.enable=1 -d "opcache.preload=$HERE/preload.php" \
        -d ffi.enable=preload "$@" >"$dir/fpm.out" 2>&1 &
    FPM_PIDS+=($!)
    local pid=$!
    for _ in $(seq 200); do
        [ -S "$dir/fpm.sock" ] && break
        kill -0 "$pid" 2>/dev/null || die "php-fpm ($label) exited: $(cat "$dir/fpm.out" "$dir/fpm.log" 2>/dev/null)"
        sleep 0.05
    done
    [ -S "$dir/fpm.sock" ] || die "php-fpm ($label) did not listen: $(cat "$dir/fpm.out" "$dir/fpm.log" 2>/dev/null)"
    say "php-fpm $PHPV, $label: $dir/fpm.sock"
    FPM_LIST="$FPM_LIST $label=$dir/fpm.sock"
}

WWW_OK=
if [ "$(id -u)" = 0 ] && id www-data >/dev/null 2>&1 && command -v runuser >/dev/null 2>&1 && command -v setpriv >/dev/null 2>&1 \
    && runuser -u www-data -- test -r "$LIB" -a -r "$ROOT/include/wxtoken_ffi.h" \
        -a -r "$HERE/preload.php" -a -r "$HERE/src/WxToken.php" -a -r "$HERE/tests/fpm/page.php"; then
    WWW_OK=1
fi
if [ "$(id -u)" = 0 ]; then
    WXTOKEN_LIB="$LIB" php "$HERE/ffi-header.php" "$TMP/wxtoken-ffi.h" || die "ffi-header.php failed"
    if [ -n "$WWW_OK" ]; then
        start_fpm "A:root-master,ffi.preload" "$TMP/fpm-a" root www-data \
            -d opcache.preload_user=www-data -d "ffi.preload=$TMP/wxtoken-ffi.h"
        start_fpm "B:www-data-master,FFI::load" "$TMP/fpm-b" www-data ""
    else
        say "www-data cannot read $ROOT: setup A runs as root (php-fpm -R), setup B is skipped"
        start_fpm "A:root-master,ffi.preload" "$TMP/fpm-a" root root -R \
            -d opcache.preload_user=root -d "ffi.preload=$TMP/wxtoken-ffi.h"
    fi
else
    start_fpm "B:$(id -un)-master,FFI::load" "$TMP/fpm-b" "$(id -un)" ""
fi

# ---- 5. PHPUnit -----------------------------------------------------------------------
set +e
env WXTOKEN_TEST_API_BASE="$API_BASE" \
    WXTOKEN_TEST_APPS="$TMP/apps.json" \
    WXTOKEN_TEST_CLI="$CLI" \
    WXTOKEN_TEST_FPM="${FPM_LIST# }" \
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
