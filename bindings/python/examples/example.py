"""wxtoken from Python against the offline simulator: configure, get, call, invalidate.

Run:  wxtoken mock --port-file /tmp/wx.url &  then  python3 example.py [/tmp/wx.url]
The same code is in README.md (tests/python/test_example.py keeps them equal).
"""

import json
import sys
import urllib.request
from typing import Any

import wxtoken

url_file = sys.argv[1] if len(sys.argv) > 1 else "/tmp/wx.url"  # wxtoken mock --port-file
api = open(url_file).read().strip()               # http://127.0.0.1:PORT
app = wxtoken.configure("wx0000000000demo", "demo-secret-not-real",
                        api_base=api, store="memory")

token = wxtoken.get_token(app)                     # fetched once, then served from memory
print("token expires in", wxtoken.status(app)["token"]["expires_in_ms"], "ms")

def server_ips(token: str) -> dict[str, Any]:
    """A business API: {"ip_list": [...]} or {"errcode": 40001, ...}."""
    url = f"{api}/cgi-bin/get_api_domain_ip?access_token={token}"
    with urllib.request.urlopen(url) as resp:
        answer: dict[str, Any] = json.load(resp)
        return answer

# call() runs fn(token); on 40001/40014/42001 (returned in a dict, or raised as an
# exception with an `errcode` attribute; an int or its decimal str such as "40001",
# as in every binding) it invalidates that token and runs fn once more.
print(wxtoken.call(app, server_ips))

# Someone else fetched a token (the old one now answers 40001): report it; however
# many threads report the same bad token, one refresh happens.
new = wxtoken.invalidate(app, token)
print("refreshed:", new != token)

# A Client holds one app's name.
client = wxtoken.Client("wx0000000000demo", "demo-secret-not-real",
                        api_base=api, store="memory")
assert client.get_token() == new

try:
    wxtoken.get_token(wxtoken.configure("wx_not_registered", "secret",
                                        api_base=api, store="memory"))
except wxtoken.CredentialsRejected as e:
    print(e.kind, e.errcode, e.errmsg)             # credentials_rejected 40013 invalid appid ...
