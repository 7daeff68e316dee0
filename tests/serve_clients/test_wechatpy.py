"""The released wechatpy, unchanged but for its token URL, through the
WeChat-compatible endpoint, with a client key as its "secret"."""

from wechatpy import WeChatClient

from conftest import APPID, KEY, SECRET


def make_client(stack):
    class ServedClient(WeChatClient):
        # Business calls go to the (simulated) platform, the token to wxtoken serve.
        API_BASE_URL = f"{stack.mock_url}/cgi-bin/"

        def fetch_access_token(self):
            return self._fetch_access_token(
                url=f"{stack.url}/cgi-bin/token",
                params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
            )

    return ServedClient(APPID, KEY)


def test_wechatpy_gets_its_token_from_the_server(stack):
    client = make_client(stack)
    ips = client.misc.get_wechat_ips()
    assert ips, "the business call succeeded with the served token"
    assert stack.check(client.access_token) == 0
    assert stack.token_calls() == 1


def test_wechatpy_40001_retry_refreshes_once(stack):
    client = make_client(stack)
    first = client.access_token
    assert stack.token_calls() == 1
    # Someone else fetched: the served token is dead at the platform.
    stack.supersede()
    assert stack.check(first) == 40001
    # wechatpy sees 40001, asks the server again, retries with the new token.
    assert client.misc.get_wechat_ips()
    second = client.access_token
    assert second != first
    assert stack.check(second) == 0
    assert stack.token_calls() == 2, "the re-request refreshed exactly once"
    # A second wechatpy process with the same key gets the new token, no fetch.
    other = make_client(stack)
    assert other.access_token == second
    assert stack.token_calls() == 2


def test_secrets_stay_out_of_the_log(stack):
    client = make_client(stack)
    client.misc.get_wechat_ips()
    stack.log.flush()
    log = (stack.tmp / "serve.log").read_text()
    assert "listening on" in log
    for secret in (SECRET, KEY, client.access_token):
        assert secret not in log
