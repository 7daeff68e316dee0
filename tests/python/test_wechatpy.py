"""wxtoken.wechatpy against the released wechatpy (pinned by run-tests.sh) and the
simulator: the token comes from wxtoken, a 40001 is reported to wxtoken (one
refresh for the group) instead of wechatpy fetching with the secret."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import wxtoken
from conftest import Mock
from wechatpy.exceptions import WeChatClientException  # type: ignore[import-untyped]
from wxtoken.wechatpy import WeChatClient
from wxtoken.wechatpy import work


def mp_client(mock: Mock, api: str | None = None, **options: Any) -> WeChatClient:
    """A client of a fresh app: tokens from the simulator, business calls to api."""

    class Client(WeChatClient):
        API_BASE_URL = f"{api or mock.url}/cgi-bin/"

    appid, secret = mock.new_app()
    options.setdefault("store", "memory")
    return Client(appid, secret, api_base=mock.url, **options)


def test_importing_wxtoken_does_not_need_wechatpy() -> None:
    script = """
import sys
sys.modules["wechatpy"] = None  # as if not installed
import wxtoken, wxtoken.aio
assert "wechatpy" not in {m.split(".")[0] for m in sys.modules if sys.modules[m] is not None}
for name in ("wxtoken.wechatpy", "wxtoken.wechatpy.work"):
    try:
        __import__(name)
    except ImportError as e:
        print(e)
    else:
        raise SystemExit(name + " imported without wechatpy")
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 2 and all("pip install 'wxtoken[wechatpy]'" in line for line in lines), out.stdout


def test_the_token_comes_from_wxtoken(mock: Mock) -> None:
    client = mp_client(mock)
    assert client.misc.get_wechat_ips() == ["127.0.0.1"]
    assert client.access_token == wxtoken.get_token(client.wxtoken_app)
    assert client.wxtoken_app == client.appid
    assert mock.fetches(client.appid) == 1
    # wechatpy's session store is left alone: the token lives in wxtoken's store.
    assert client.session.get(client.access_token_key) is None


def test_a_superseded_token_is_reported_not_refetched(mock: Mock) -> None:
    client = mp_client(mock)
    first = client.access_token
    mock.supersede(client.appid)
    assert client.misc.get_wechat_ips() == ["127.0.0.1"]
    second = client.access_token
    assert second != first and "ip_list" in mock.check(second)
    assert mock.fetches(client.appid) == 2, "one refresh, through wxtoken"


class AlwaysBadToken(http.server.BaseHTTPRequestHandler):
    """A business API that refuses every token with 40001."""

    requests = 0

    def do_GET(self) -> None:
        type(self).requests += 1
        body = json.dumps({"errcode": 40001, "errmsg": "invalid credential"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def refusing_api() -> Iterator[str]:
    AlwaysBadToken.requests = 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), AlwaysBadToken)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_second_bad_answer_is_raised_not_retried_forever(mock: Mock, refusing_api: str) -> None:
    # wechatpy alone retries a 40001 without end; wxtoken.call's rule is once.
    client = mp_client(mock, api=refusing_api)
    with pytest.raises(WeChatClientException) as info:
        client.misc.get_wechat_ips()
    assert info.value.errcode == 40001
    assert AlwaysBadToken.requests == 2
    assert mock.fetches(client.appid) == 2, "the first token and one refresh"


def test_auto_retry_off_raises_the_first_bad_answer(mock: Mock, refusing_api: str) -> None:
    client = mp_client(mock, api=refusing_api)
    client.auto_retry = False
    with pytest.raises(WeChatClientException) as info:
        client.misc.get_wechat_ips()
    assert info.value.errcode == 40001
    assert AlwaysBadToken.requests == 1
    assert mock.fetches(client.appid) == 1
    assert client.auto_retry is False


def test_other_errors_are_wechatpys(mock: Mock) -> None:
    client = mp_client(mock)
    with pytest.raises(WeChatClientException) as info:
        client.get("getcallbackip", params={"access_token": ""})  # wechatpy's 41001
    assert info.value.errcode == 41001
    assert mock.fetches(client.appid) == 0


def test_a_stale_token_reported_costs_no_fetch(mock: Mock) -> None:
    client = mp_client(mock)
    client.misc.get_wechat_ips()
    # A token of the caller's own, long replaced: wxtoken answers the current one.
    answer = client.get("getcallbackip", params={"access_token": "an-old-token"})
    assert answer["ip_list"] == ["127.0.0.1"]
    assert mock.fetches(client.appid) == 1


def test_fetch_access_token_refreshes_through_wxtoken(mock: Mock) -> None:
    client = mp_client(mock)
    first = client.access_token
    fetched = client.fetch_access_token()
    assert fetched["access_token"] == wxtoken.get_token(client.wxtoken_app) != first
    assert 0 < fetched["expires_in"] <= 7200
    assert mock.fetches(client.appid) == 2
    # It reports what access_token handed out, not its own answer: a second
    # call is a stale report of `first`, no fetch.
    assert client.fetch_access_token()["access_token"] == fetched["access_token"]
    assert mock.fetches(client.appid) == 2


def test_fetch_access_token_with_nothing_handed_out_reports_nothing(mock: Mock) -> None:
    client = mp_client(mock)
    fetched = client.fetch_access_token()  # an app's startup
    assert "ip_list" in mock.check(fetched["access_token"])
    assert mock.fetches(client.appid) == 1
    # Another client (another worker) of the app at startup: the same token.
    other = WeChatClient(client.appid, client.secret, store="memory", api_base=mock.url)
    assert other.fetch_access_token()["access_token"] == fetched["access_token"]
    assert mock.fetches(client.appid) == 1


def test_fetch_access_token_reports_each_threads_own_token(mock: Mock) -> None:
    client = mp_client(mock)
    first = client.access_token  # this thread's request carried `first`
    mock.supersede(client.appid)
    second = client.fetch_access_token()["access_token"]
    assert second != first and mock.fetches(client.appid) == 2
    # Another thread sharing the client sent `second` meanwhile; this thread's
    # report is still of `first`: stale, no fetch.
    other: list[str] = []
    thread = threading.Thread(target=lambda: other.append(client.access_token))
    thread.start()
    thread.join()
    assert other == [second]
    assert client.fetch_access_token()["access_token"] == second
    assert mock.fetches(client.appid) == 2


def test_wechatpy_arguments_and_wxtoken_options(mock: Mock) -> None:
    appid, secret = mock.new_app()
    client = WeChatClient(appid, secret, timeout=3, auto_retry=True, store="memory", name="shop", api_base=mock.url)
    assert (client.appid, client.secret, client.timeout, client.auto_retry) == (appid, secret, 3, True)
    assert client.wxtoken_app == "shop"
    assert wxtoken.status("shop")["store"] == "memory"
    with pytest.raises(TypeError, match="wxtoken"):
        WeChatClient(appid, secret, access_token="a-token-of-my-own")  # type: ignore[arg-type]
    with pytest.raises(wxtoken.InvalidArgument):
        WeChatClient(appid, secret, no_such_option=1)  # type: ignore[call-arg]


def test_wecom_client(mock: Mock) -> None:
    corp, secret = mock.new_corp()

    class Client(work.WeChatClient):
        API_BASE_URL = f"{mock.url}/cgi-bin/"

    client = Client(corp, secret, store="memory", api_base=mock.url)
    assert client.corp_id == corp and client.misc.get_wechat_ips() == ["127.0.0.1"]
    assert wxtoken.status(client.wxtoken_app)["platform"] == "wecom"
    mock.supersede(corp)
    assert client.misc.get_wechat_ips() == ["127.0.0.1"]
    assert mock.fetches(corp) == 2
    # Two applications of one corp: two secrets, two names, never one token.
    other = work.WeChatClient(corp, secret + "-other-app", store="memory", api_base=mock.url)
    assert other.wxtoken_app != client.wxtoken_app
    assert secret not in other.wxtoken_app
    # The core's rule (PHP's EasyWeChat AccessToken names a WeCom app by it too).
    assert re.fullmatch(re.escape(corp) + "-[0-9a-f]{16}", client.wxtoken_app)
    assert client.wxtoken_app == wxtoken._wxtoken._default_wecom_name(corp, secret)
    assert work.WeChatClient(corp, secret, store="memory", name="hr", api_base=mock.url).wxtoken_app == "hr"


# --- several processes -------------------------------------------------------------------

WORKER = """
import json, sys, threading
from wxtoken.wechatpy import WeChatClient

url, appid, secret, store, threads = sys.argv[1:6]

class Client(WeChatClient):
    API_BASE_URL = url + "/cgi-bin/"

client = Client(appid, secret, store=store, api_base=url)
for line in sys.stdin:
    if line.strip() != "call":
        break
    errors, tokens = [], set()
    def business():
        try:
            assert client.misc.get_wechat_ips() == ["127.0.0.1"]
            tokens.add(client.access_token)
        except Exception as e:
            errors.append(repr(e))
    workers = [threading.Thread(target=business) for _ in range(int(threads))]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    print(json.dumps({"errors": errors, "tokens": sorted(tokens)}), flush=True)
"""


@contextlib.contextmanager
def python_workers(n: int, script: str, *args: str) -> Iterator[list[subprocess.Popen[str]]]:
    """n Python processes running script with args (no WXTOKEN_* settings of
    this machine); on leaving, their stdin closes and each must exit 0."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WXTOKEN_")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        for _ in range(n)
    ]
    try:
        yield procs
    finally:
        for p in procs:
            if p.stdin:
                p.stdin.close()
        for p in procs:
            assert p.wait(30) == 0


def tell(procs: list[subprocess.Popen[str]], line: str) -> None:
    for p in procs:
        assert p.stdin
        p.stdin.write(line + "\n")
        p.stdin.flush()


STARTUP = """
import sys
from wxtoken.wechatpy import WeChatClient

url, appid, secret, store = sys.argv[1:5]
client = WeChatClient(appid, secret, store=store, api_base=url)
sys.stdin.readline()  # all processes are up: go
print(client.fetch_access_token()["access_token"], flush=True)
"""


def test_workers_calling_fetch_access_token_at_startup_fetch_once(mock: Mock, tmp_path: Path) -> None:
    """An app calling fetch_access_token() at startup in each of 4 workers (one
    store): one fetch, one token, not one forced refresh per worker."""
    appid, secret = mock.new_app()
    with python_workers(4, STARTUP, mock.url, appid, secret, f"file:{tmp_path}") as procs:
        tell(procs, "go")
        tokens = set()
        for p in procs:
            assert p.stdout
            tokens.add(p.stdout.readline().strip())
    assert len(tokens) == 1 and "ip_list" in mock.check(tokens.pop())
    assert mock.fetches(appid) == 1


def test_processes_make_one_fetch_per_event(mock: Mock, tmp_path: Path) -> None:
    """4 processes x 4 threads of wechatpy business calls, the token superseded
    twice: the group fetches once at start and once per supersede, no call raises."""
    appid, secret = mock.new_app()
    with python_workers(4, WORKER, mock.url, appid, secret, f"file:{tmp_path}", "4") as procs:
        seen = [round_of_calls(procs)]
        assert mock.fetches(appid) == 1
        for event in (2, 3):
            mock.supersede(appid)
            seen.append(round_of_calls(procs))
            assert mock.fetches(appid) == event, "one refresh for the group"
        assert [len(tokens) for tokens in seen] == [1, 1, 1], "every process used one token"
        assert len(set.union(*seen)) == 3
    for file in tmp_path.rglob("*"):
        if file.is_file():
            assert secret.encode() not in file.read_bytes(), f"the secret is in {file}"


def round_of_calls(procs: list[subprocess.Popen[str]]) -> set[str]:
    """Each WORKER process makes its business calls; the tokens they used."""
    tell(procs, "call")
    tokens: set[str] = set()
    for p in procs:
        assert p.stdout
        answer = json.loads(p.stdout.readline())
        assert answer["errors"] == []
        tokens.update(answer["tokens"])
    return tokens
