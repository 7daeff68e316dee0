"""The client examples of docs/serve.md, run as a user would run them."""

import os
import subprocess
import sys

from conftest import KEY, ROOT

EXAMPLES = ROOT / "docs" / "serve-examples"


def run(stack, cmd):
    env = {**os.environ, "WXTOKEN_URL": stack.url, "WXTOKEN_KEY": KEY, "APP": "shop"}
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_curl_example_gets_and_replaces_the_token(stack):
    import json

    first = json.loads(run(stack, ["sh", str(EXAMPLES / "curl.sh")]))
    assert stack.check(first["access_token"]) == 0
    second = json.loads(run(stack, ["sh", str(EXAMPLES / "curl.sh"), first["access_token"]]))
    assert second["access_token"] != first["access_token"]
    assert second["generation"] > first["generation"]
    assert stack.check(second["access_token"]) == 0
    assert stack.token_calls() == 2


def test_python_stdlib_example_gets_and_replaces_the_token(stack):
    first = run(stack, [sys.executable, str(EXAMPLES / "client.py")])
    assert stack.check(first) == 0
    second = run(stack, [sys.executable, str(EXAMPLES / "client.py"), first])
    assert second != first and stack.check(second) == 0
    assert stack.token_calls() == 2


def test_python_stdlib_example_raises_with_the_stable_code(stack):
    sys.path.insert(0, str(EXAMPLES))
    try:
        from client import TokenClient, TokenError
    finally:
        sys.path.pop(0)
    try:
        TokenClient(stack.url, "wrong-key", "shop").token()
    except TokenError as e:
        assert (e.status, e.code) == (401, "unauthorized")
    else:
        raise AssertionError("a wrong key must fail")
