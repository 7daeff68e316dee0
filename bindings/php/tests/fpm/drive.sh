#!/usr/bin/env bash
# The FastCGI client of the php-fpm tests (Fpm::drive()):
#   drive.sh SOCKET LOOPS PER_LOOP OUTDIR
# runs LOOPS client loops in parallel; each sends PER_LOOP requests one after another with
# cgi-fcgi, each bounded by `timeout 10` (a hung worker shows as exit status 124, not as a
# hung test). The FastCGI parameters are this script's environment (SCRIPT_FILENAME, ...).
# OUTDIR/<loop>.out gets one line per request: cgi-fcgi's exit status, a tab, the body.
set -u
sock=$1 loops=$2 per=$3 out=$4
loop() {
    local i ans rc
    for ((i = 0; i < per; i++)); do
        ans=$(timeout 10 cgi-fcgi -bind -connect "$sock" 2>&1 </dev/null)
        rc=$?
        ans=${ans#*$'\r\n\r\n'}            # drop the headers
        printf '%s\t%s\n' "$rc" "${ans//[$'\r\n']/ }"
    done >"$out/$1.out"
}
for ((n = 0; n < loops; n++)); do
    loop "$n" &
done
wait
