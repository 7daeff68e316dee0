#!/usr/bin/env bash
# Fails (exit 1, with the diff) when the headers in include/ differ from what
# is committed. build.rs regenerates them from src/ffi/ on every build, so run
# this after `cargo build`; pass --build to have it build first.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [[ "${1:-}" == "--build" ]]; then
    cargo build --quiet --lib
fi

headers=(include/wxtoken.h include/wxtoken_ffi.h)
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    echo "check-header: not a git checkout: cannot tell whether include/ is stale" >&2
    exit 1
fi
status=0
for h in "${headers[@]}"; do
    if [[ ! -f "$h" ]]; then
        echo "check-header: $h was not generated (run cargo build first)" >&2
        status=1
    elif ! git ls-files --error-unmatch "$h" >/dev/null 2>&1; then
        echo "check-header: $h is generated but not committed: git add it" >&2
        status=1
    elif ! git diff --exit-code -- "$h"; then
        echo "check-header: $h is stale: the build regenerated it from src/ffi/ (diff above)." >&2
        echo "check-header: commit the regenerated header together with the Rust change." >&2
        status=1
    fi
done
if [[ $status -eq 0 ]]; then
    echo "check-header: include/ matches src/ffi/"
fi
exit $status
