#!/bin/sh
# wxtoken serve from a shell: print the token of app $APP; with a token as
# $1 (one a business call answered 40001/40014/42001 for), report it and
# print the replacement. The key goes to curl on stdin (-K -), never in
# its arguments, where every local user could read it in ps.
#   WXTOKEN_URL=http://127.0.0.1:8700 WXTOKEN_KEY=... APP=shop ./curl.sh [BAD_TOKEN]
set -eu
auth() { printf 'header = "Authorization: Bearer %s"\n' "$WXTOKEN_KEY"; }
if [ $# -eq 0 ]; then
  auth | curl -fsS -K - "$WXTOKEN_URL/v1/apps/$APP/token"
else
  auth | curl -fsS -K - -H 'Content-Type: application/json' \
    --data "{\"bad_token\": \"$1\"}" "$WXTOKEN_URL/v1/apps/$APP/invalidate"
fi
echo
