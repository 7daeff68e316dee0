"""Demo worker in Python: a business loop (get the token, call the
simulator's get_api_domain_ip through wxtoken.call(), which reports a
refused token and retries once) for N seconds, printing each token change."""
import json
import os
import sys
import time
import urllib.request

import wxtoken

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10
app = wxtoken.configure(os.environ["WXTOKEN_APPID"], os.environ["WXTOKEN_SECRET"])
base = os.environ["WXTOKEN_API_BASE"]
pid = os.getpid()
calls = refused = 0
last = ""


def check(token: str) -> dict:
    global refused
    with urllib.request.urlopen(f"{base}/cgi-bin/get_api_domain_ip?access_token={token}") as r:
        answer = json.load(r)
    refused += "errcode" in answer
    return answer


end = time.monotonic() + seconds
while time.monotonic() < end:
    answer = wxtoken.call(app, check)
    calls += 1
    if "errcode" in answer:
        sys.exit(f"python pid {pid}: refused even after a refresh: {answer}")
    token = wxtoken.get_token(app)
    if token != last:
        print(f"python pid {pid:<7} token ...{token[-8:]}", flush=True)
        last = token
    time.sleep(0.02)
print(f"python pid {pid:<7} done: {calls} business calls, {refused} refused and retried once, 0 failed")
