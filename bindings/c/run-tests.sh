#!/usr/bin/env bash
# The C tests: builds the release library and the simulator, compiles every
# bindings/c/tests/test_*.c against include/wxtoken.h with
# -Wall -Wextra -Werror -pedantic, links each once to the shared and once to
# the static library, runs them against `wxtoken mock`, runs them again under
# valgrind (fewer iterations), then checks `make install` + pkg-config with
# bindings/c/example.c. Ends with the line `N passed, N failed` (N counts the
# tests' checks and the runner's own steps) and exits non-zero on any failure.
#
# Environment: VALGRIND=0 skips the valgrind pass; WXTOKEN_TEST_ITERS sets the
# gets per thread of the concurrency test (default 10000; VALGRIND_ITERS, 200,
# under valgrind); TEST_TIMEOUT bounds each test program (default 600 s).
# The ABI fuzzer (tests/test_fuzz.c) runs FUZZ_SECONDS per linkage (default
# 20; FUZZ_VALGRIND_SECONDS, 5, under valgrind) against two simulators of its
# own; FUZZ_SEED repeats a run (each run prints its seed). C_TESTS="test_x ..."
# runs only the named test programs. ASAN=1 adds a pass under AddressSanitizer
# and UBSan (needs a nightly toolchain).
set -uo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
RELEASE="$TARGET_DIR/release"
WORK="$TARGET_DIR/c-tests"
CFLAGS=(-std=c11 -Wall -Wextra -Werror -pedantic -pthread -g -O1)

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok      $*"; }
fail() { failed=$((failed + 1)); echo "FAILED  $*"; }
finish() {
    echo "$passed passed, $failed failed"
    [[ $failed -eq 0 ]]
    exit $?
}

# Settings of the machine's environment must not leak into the tests.
for v in $(compgen -e | grep '^WXTOKEN_' || true); do unset "$v"; done

# ---- tools ------------------------------------------------------------------
need_apt=()
command -v gcc >/dev/null || need_apt+=(gcc libc6-dev)
command -v make >/dev/null || need_apt+=(make)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
if [[ "${VALGRIND:-1}" != 0 ]] && ! command -v valgrind >/dev/null; then need_apt+=(valgrind); fi
if [[ ${#need_apt[@]} -gt 0 ]]; then
    echo "installing ${need_apt[*]}"
    if [[ $(id -u) -eq 0 ]]; then
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}") >/dev/null
    else
        sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
    fi
fi

# ---- build --------------------------------------------------------------------
echo "== cargo build --release"
if cargo build --release --quiet; then pass "cargo build --release"; else fail "cargo build --release"; finish; fi

rm -rf "$WORK"
mkdir -p "$WORK/lib" "$WORK/bin" "$WORK/logs"
# The shared library's soname is libwxtoken.so.0: give the loader that name.
soname=$(readelf -d "$RELEASE/libwxtoken.so" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [[ "$soname" == libwxtoken.so.0 ]]; then pass "soname $soname"; else fail "soname is '$soname', want libwxtoken.so.0"; fi
cp "$RELEASE/libwxtoken.so" "$WORK/lib/libwxtoken.so"
ln -sf libwxtoken.so "$WORK/lib/${soname:-libwxtoken.so.0}"
cp "$RELEASE/libwxtoken.a" "$WORK/lib/libwxtoken.a"

# The build tree as the README documents it: `make`, then link against
# target/release; the program starts (the loader finds the soname) and the
# header's version macros match the library's version.
cat >"$WORK/version.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <wxtoken.h>
int main(void) {
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", WXTOKEN_VERSION_MAJOR, WXTOKEN_VERSION_MINOR,
             WXTOKEN_VERSION_PATCH);
    int num = (WXTOKEN_VERSION_MAJOR << 16) | (WXTOKEN_VERSION_MINOR << 8) | WXTOKEN_VERSION_PATCH;
    if (num != WXTOKEN_VERSION_NUM || strcmp(want, WXTOKEN_VERSION) != 0) return 2;
    printf("%s %s\n", WXTOKEN_VERSION, wxtoken_version());
    return 0;
}
C
cargo_version=$(sed -n 's/^version = "\([^"]*\)".*/\1/p' Cargo.toml | head -n 1)
if make -s build >"$WORK/logs/make-build.log" 2>&1 &&
    gcc "${CFLAGS[@]}" "$WORK/version.c" -Iinclude -L"$RELEASE" -Wl,-rpath,"$RELEASE" -lwxtoken \
        -o "$WORK/bin/version" 2>"$WORK/logs/version.log" &&
    [[ "$("$WORK/bin/version" 2>>"$WORK/logs/version.log")" == "$cargo_version $cargo_version" ]]; then
    pass "a program linked to the build tree after make starts; version macros = $cargo_version"
else
    fail "build-tree linking or version macros:"; cat "$WORK/logs/make-build.log" "$WORK/logs/version.log"
fi

# Exported symbols: exactly the header's functions carry the wxtoken_ prefix.
header_fns=$(grep -o '\bwxtoken_[a-z_]*(' include/wxtoken.h | tr -d '(' | sort -u)
so_fns=$(nm -D --defined-only "$WORK/lib/libwxtoken.so" | awk '{print $3}' | grep '^wxtoken_' | sort -u)
if [[ "$header_fns" == "$so_fns" ]]; then pass "exported symbols match the header"; else
    fail "exported symbols differ from the header:"; diff <(echo "$header_fns") <(echo "$so_fns"); fi

echo "== compile"
tests=()
for src in bindings/c/tests/test_*.c; do
    name=$(basename "$src" .c)
    [[ -n "${C_TESTS:-}" && " $C_TESTS " != *" $name "* ]] && continue
    tests+=("$name")
    if gcc "${CFLAGS[@]}" -Iinclude "$src" -L"$WORK/lib" -lwxtoken -Wl,-rpath,"$WORK/lib" \
        -o "$WORK/bin/$name.shared" 2>"$WORK/logs/$name.shared.cc"; then
        pass "compile $name (shared)"
    else
        fail "compile $name (shared)"; cat "$WORK/logs/$name.shared.cc"
    fi
    if gcc "${CFLAGS[@]}" -Iinclude "$src" "$WORK/lib/libwxtoken.a" -lpthread -ldl -lm \
        -o "$WORK/bin/$name.static" 2>"$WORK/logs/$name.static.cc"; then
        pass "compile $name (static)"
    else
        fail "compile $name (static)"; cat "$WORK/logs/$name.static.cc"
    fi
done
# The header also compiles as C++ (extern "C") and as strict C99.
echo '#include "wxtoken.h"
int main(void) { return wxtoken_version() == 0; }' >"$WORK/header.c"
if gcc -std=c99 -Wall -Wextra -Werror -pedantic -Iinclude -c "$WORK/header.c" -o "$WORK/header.o"; then
    pass "header compiles as C99"; else fail "header compiles as C99"; fi
if command -v g++ >/dev/null; then
    cp "$WORK/header.c" "$WORK/header.cc"
    if g++ -std=c++11 -Wall -Wextra -Werror -pedantic -Iinclude "$WORK/header.cc" -L"$WORK/lib" \
        -lwxtoken -Wl,-rpath,"$WORK/lib" -o "$WORK/bin/header_cxx" && "$WORK/bin/header_cxx"; then
        pass "header compiles and links as C++"; else fail "header compiles and links as C++"; fi
fi
# The PHP variant has no preprocessor lines and no extern "C", and is valid C.
if grep -qE '^[[:space:]]*#|extern "C"' include/wxtoken_ffi.h; then
    fail "include/wxtoken_ffi.h has preprocessor lines or extern \"C\""
elif (echo '#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>'; cat include/wxtoken_ffi.h) | gcc -std=c11 -Wall -Werror -pedantic -x c -fsyntax-only -; then
    pass "include/wxtoken_ffi.h: plain declarations, valid C"
else
    fail "include/wxtoken_ffi.h does not compile"
fi

# ---- simulators ---------------------------------------------------------------
apps="$WORK/apps.json"
{
    echo '['
    sep=""
    for id in wxcapi00000000001 wxcapi00000000002 wxcapi00000000003 \
        wxcflt0000000001 wxcflt0000000002 wxcflt0000000003 wxcflt0000000004 \
        wxcflt0000000005 wxcflt0000000006 wxcflt0000000007 wxcflt0000000008 \
        wxcthr0000000001 wxclong000000001 wxcexample000001 wxctkt0000000001 \
        wxcfork000000001 wxcfork000000002 wxcstorm00000001 wxcstorm00000002 wxclog0000000001 wxclog0000000002; do
        printf '%s{"appid":"%s","secret":"sec-%s","platform":"mp"}\n' "$sep" "$id" "$id"
        sep=","
    done
    echo ']'
} >"$apps"

# The fuzzer's simulators serve the apps it names (one list, in test_fuzz.c).
fuzz_apps="$WORK/fuzz-apps.json"
[[ -x "$WORK/bin/test_fuzz.shared" ]] && "$WORK/bin/test_fuzz.shared" --print-apps >"$fuzz_apps"

sim_pids=()
cleanup() {
    for pid in "${sim_pids[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${sim_pids[@]}"; do wait "$pid" 2>/dev/null; done
}
trap cleanup EXIT

# start_sim VAR PORT_FILE ARGS...: starts `wxtoken mock`, waits for its URL and
# stores it in VAR. No $(...) around it: a subshell would lose sim_pids, and
# cleanup would leave the simulator running.
start_sim() {
    local var=$1 port_file=$2
    shift 2
    rm -f "$port_file"
    "$RELEASE/wxtoken" mock --apps-file "${SIM_APPS:-$apps}" --port-file "$port_file" "$@" \
        >"$port_file.log" 2>&1 &
    sim_pids+=($!)
    for _ in $(seq 1 100); do
        [[ -s "$port_file" ]] && { printf -v "$var" '%s' "$(tr -d '[:space:]' <"$port_file")"; return 0; }
        sleep 0.1
    done
    echo "the simulator did not start:" >&2
    cat "$port_file.log" >&2
    return 1
}

echo "== simulators"
if start_sim URL "$WORK/sim.url" && start_sim URL_LONG "$WORK/sim-long.url" --token-len 600; then
    pass "simulators at $URL and $URL_LONG"
else
    fail "starting the simulators"
    finish
fi
export WXTOKEN_TEST_API_BASE="$URL" WXTOKEN_TEST_API_BASE_LONG="$URL_LONG"
# The fuzzer toggles faults and settings on one simulator and never on the
# second, whose apps must then always answer; a third refuses this host's IP.
# None is shared with a test.
if [[ -s "$fuzz_apps" ]]; then
    if SIM_APPS="$fuzz_apps" start_sim FUZZ_URL "$WORK/sim-fuzz.url" --lifetime 20 --overlap 5 \
        --quota 100000000 && SIM_APPS="$fuzz_apps" start_sim FUZZ_CALM "$WORK/sim-calm.url" \
        --quota 100000000 && SIM_APPS="$fuzz_apps" start_sim FUZZ_DENIED "$WORK/sim-denied.url" \
        --allow-ip 192.0.2.1; then
        pass "fuzz simulators at $FUZZ_URL, $FUZZ_CALM and $FUZZ_DENIED"
        export WXTOKEN_FUZZ_API_BASE="$FUZZ_URL" WXTOKEN_FUZZ_API_BASE_CALM="$FUZZ_CALM" \
            WXTOKEN_FUZZ_API_BASE_DENIED="$FUZZ_DENIED"
    else
        fail "starting the fuzz simulators"
    fi
fi
export WXTOKEN_FUZZ_SECONDS="${FUZZ_SECONDS:-20}"
[[ -n "${FUZZ_SEED:-}" ]] && export WXTOKEN_FUZZ_SEED="$FUZZ_SEED"

# run_test LABEL COMMAND...: runs one test program, adds up its RESULT line.
run_test() {
    local label=$1
    shift
    local log="$WORK/logs/${label//[^A-Za-z0-9_.-]/_}.log"
    # A hang (a deadlock, a lost wake-up) fails the test instead of the run.
    timeout --kill-after=10 "${TEST_TIMEOUT:-600}" "$@" >"$log" 2>&1
    local rc=$?
    [[ $rc -eq 124 || $rc -eq 137 ]] && echo "(timed out after ${TEST_TIMEOUT:-600} s)" >>"$log"
    local result
    result=$(grep -E '^RESULT [0-9]+ [0-9]+$' "$log" | tail -n 1)
    if [[ -z "$result" ]]; then
        fail "$label: exited $rc without a result"
        tail -n 40 "$log"
        return
    fi
    read -r _ p f <<<"$result"
    passed=$((passed + p))
    failed=$((failed + f))
    if [[ $rc -eq 0 && $f -eq 0 ]]; then
        echo "ok      $label ($p checks)"
    else
        echo "FAILED  $label ($p passed, $f failed, exit $rc)"
        grep -v '^-- ' "$log" | tail -n 60
        [[ $f -eq 0 ]] && fail "$label: exit status $rc"
    fi
}

echo "== tests"
for name in "${tests[@]}"; do
    for kind in shared static; do
        [[ -x "$WORK/bin/$name.$kind" ]] && run_test "$name ($kind)" "$WORK/bin/$name.$kind"
    done
done

# ---- valgrind -----------------------------------------------------------------
if [[ "${VALGRIND:-1}" != 0 ]]; then
    echo "== valgrind (memcheck, leak check; WXTOKEN_TEST_ITERS=200)"
    for name in "${tests[@]}"; do
        for kind in shared static; do
            [[ -x "$WORK/bin/$name.$kind" ]] || continue
            # Leaks: only "definitely lost" fails. The app registry lives for
            # the whole process by design and holds its entries through
            # pointers into Arc allocations, which memcheck can only call
            # "possibly lost" at exit; no suppression file is needed.
            # A forked child holds its parent's thread-owned memory with no
            # live owner, so memcheck calls it "definitely lost" at the
            # child's exit: test_fork is checked for memory errors only.
            leaks=(--leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite)
            [[ $name == test_fork || $name == test_fork_storm ]] && leaks=(--leak-check=no)
            WXTOKEN_TEST_ITERS=${VALGRIND_ITERS:-200} WXTOKEN_FUZZ_SECONDS=${FUZZ_VALGRIND_SECONDS:-5} \
                run_test "$name ($kind, valgrind)" \
                valgrind -q --error-exitcode=99 "${leaks[@]}" --track-origins=yes "$WORK/bin/$name.$kind"
        done
    done
fi

# ---- AddressSanitizer + UBSan (opt-in) ------------------------------------------
# ASAN=1: the library built with -Zsanitizer=address (a nightly toolchain), the
# tests with -fsanitize=address,undefined, so that memcheck's blind spots (the
# Rust side's own heap and stack) are covered too. Leaks stay valgrind's job.
if [[ "${ASAN:-0}" != 0 ]]; then
    echo "== AddressSanitizer + UBSan (cargo +nightly, -Zsanitizer=address)"
    host=$(rustc -vV | sed -n 's/^host: //p')
    asan_lib="$TARGET_DIR/asan/$host/release/libwxtoken.a"
    if CARGO_TARGET_DIR="$TARGET_DIR/asan" RUSTFLAGS="-Zsanitizer=address" \
        cargo +nightly build --release --quiet --lib --target "$host" >"$WORK/logs/asan-build.log" 2>&1; then
        pass "library built with AddressSanitizer"
        for name in "${tests[@]}"; do
            if ! gcc "${CFLAGS[@]}" -fsanitize=address,undefined -fno-sanitize-recover=undefined \
                -fno-omit-frame-pointer -Iinclude "bindings/c/tests/$name.c" "$asan_lib" -lpthread -ldl -lm \
                -o "$WORK/bin/$name.asan" 2>"$WORK/logs/$name.asan.cc"; then
                fail "compile $name (ASan)"; cat "$WORK/logs/$name.asan.cc"; continue
            fi
            # Reports go to files: test_fuzz sends stderr to the library's log.
            ASAN_OPTIONS="detect_leaks=0:log_path=$WORK/logs/$name.asan-report" \
                UBSAN_OPTIONS="print_stacktrace=1:log_path=$WORK/logs/$name.asan-report" \
                WXTOKEN_FUZZ_SECONDS=${FUZZ_VALGRIND_SECONDS:-5} \
                run_test "$name (ASan+UBSan)" "$WORK/bin/$name.asan"
            if compgen -G "$WORK/logs/$name.asan-report*" >/dev/null; then
                fail "$name: sanitizer report"; cat "$WORK/logs/$name.asan-report"*
            fi
        done
    else
        fail "cargo +nightly build with -Zsanitizer=address"; tail -n 20 "$WORK/logs/asan-build.log"
    fi
fi

# ---- make install + pkg-config + example ---------------------------------------
echo "== make install DESTDIR=... PREFIX=/usr, then the example via pkg-config"
stage="$WORK/stage"
if make -s install DESTDIR="$stage" PREFIX=/usr >"$WORK/logs/install.log" 2>&1; then
    pass "make install"
else
    fail "make install"; tail -n 30 "$WORK/logs/install.log"
fi
missing=""
for f in usr/include/wxtoken.h usr/lib/libwxtoken.so.0.1.0 usr/lib/libwxtoken.so.0 \
    usr/lib/libwxtoken.so usr/lib/libwxtoken.a usr/lib/pkgconfig/wxtoken.pc usr/bin/wxtoken \
    usr/share/wxtoken/wxtoken_ffi.h; do
    [[ -e "$stage/$f" ]] || missing+=" $f"
done
if [[ -z "$missing" && "$(readlink "$stage/usr/lib/libwxtoken.so")" == libwxtoken.so.0 &&
    "$(readlink "$stage/usr/lib/libwxtoken.so.0")" == libwxtoken.so.0.1.0 ]]; then
    pass "installed files and links"
else
    fail "installed files and links (missing:${missing:-none})"
fi
export PKG_CONFIG_PATH="$stage/usr/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$stage"
pc_flags=$(pkg-config --cflags --libs wxtoken 2>&1)
pc_static=$(pkg-config --static --libs wxtoken 2>&1)
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
if [[ "$pc_flags" == *"-I$stage/usr/include"* && "$pc_flags" == *"-lwxtoken"* &&
    "$pc_static" == *"-lpthread"* ]]; then
    pass "pkg-config: $pc_flags"
else
    fail "pkg-config: '$pc_flags' / '$pc_static'"
fi
# shellcheck disable=SC2086 # pkg-config output is a list of words
if gcc "${CFLAGS[@]}" bindings/c/example.c $pc_flags -o "$WORK/bin/example" 2>"$WORK/logs/example.cc"; then
    pass "compile example.c with pkg-config"
    out=$(WXTOKEN_APPID=wxcexample000001 WXTOKEN_SECRET=sec-wxcexample000001 \
        WXTOKEN_API_BASE="$URL" LD_LIBRARY_PATH="$stage/usr/lib" "$WORK/bin/example" 2>&1)
    rc=$?
    if [[ $rc -eq 0 && "$out" == *"token: "* && "$out" == *"replaced"* && "$out" == *'"appid":"wxcexample000001"'* ]]; then
        pass "example runs against the simulator"
    else
        fail "example (exit $rc):"; echo "$out"
    fi
    out=$(WXTOKEN_APPID=wxcexample000001 WXTOKEN_SECRET=wrong-secret-c0ffee WXTOKEN_API_BASE="$URL" \
        LD_LIBRARY_PATH="$stage/usr/lib" "$WORK/bin/example" 2>&1)
    rc=$?
    if [[ $rc -eq 1 && "$out" == *"WXTOKEN_CREDENTIALS_REJECTED"* && "$out" != *c0ffee* ]]; then
        pass "example reports a failure with exit status 1"
    else
        fail "example with a wrong secret (exit $rc):"; echo "$out"
    fi
else
    fail "compile example.c with pkg-config"; cat "$WORK/logs/example.cc"
fi

finish
