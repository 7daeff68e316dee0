"""wxtoken serve from Python's standard library (no wxtoken package needed).

    client = TokenClient("http://127.0.0.1:8700", key, "shop")
    token = client.token()
    # a business call answered 40001 / 40014 / 42001 for `token`:
    token = client.invalidate(token)
"""

import json
import urllib.error
import urllib.request


class TokenError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code = status, code


class TokenClient:
    def __init__(self, base_url: str, key: str, app: str, timeout: float = 15.0):
        self.base = f"{base_url.rstrip('/')}/v1/apps/{app}"
        self.headers = {"Authorization": f"Bearer {key}"}
        self.timeout = timeout

    def token(self) -> str:
        return self._call(urllib.request.Request(f"{self.base}/token", headers=self.headers))

    def invalidate(self, bad_token: str) -> str:
        body = json.dumps({"bad_token": bad_token}).encode()
        headers = {**self.headers, "Content-Type": "application/json"}
        req = urllib.request.Request(f"{self.base}/invalidate", data=body, headers=headers, method="POST")
        return self._call(req)

    def _call(self, req: urllib.request.Request) -> str:
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.load(resp)["access_token"]
        except urllib.error.HTTPError as e:
            err = json.load(e).get("error", {})
            raise TokenError(e.code, err.get("code", "?"), err.get("message", "")) from None


if __name__ == "__main__":
    import os
    import sys

    c = TokenClient(os.environ["WXTOKEN_URL"], os.environ["WXTOKEN_KEY"], os.environ["APP"])
    print(c.invalidate(sys.argv[1]) if len(sys.argv) > 1 else c.token())
