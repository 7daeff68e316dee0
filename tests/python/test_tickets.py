"""Tickets (jsapi, wx_card) and the JS-SDK signature through the Python face."""

from __future__ import annotations

import hashlib
from typing import Any, cast

import pytest
import wxtoken
from conftest import Mock
from test_threads import run_together

# The platform's documented example (docs/wechat-api.md section 8).
TICKET = "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg"
NONCE = "Wm3WZYTPz0wzccnW"
TIMESTAMP = 1414587457
URL = "http://mp.weixin.qq.com?params=value"
SIGNATURE = "0f9de62fce790f9a083d5c99e95740ceb90c27ed"


def ticket_calls(mock: Mock, appid: str, kind: str) -> int:
    return int(mock.stats()["ticket_calls"].get(appid, {}).get(kind, 0))


def test_the_documented_signature() -> None:
    assert wxtoken.jssdk_signature(TICKET, NONCE, TIMESTAMP, URL) == SIGNATURE


def test_the_fragment_is_not_signed() -> None:
    assert wxtoken.jssdk_signature(TICKET, NONCE, TIMESTAMP, URL + "#section") == SIGNATURE
    assert wxtoken.jssdk_signature(TICKET, NONCE, TIMESTAMP, URL + "&x=1") != SIGNATURE


def test_cold_start_16_threads_one_token_and_one_ticket_fetch(mock: Mock) -> None:
    app = mock.configure()
    tickets = run_together(16, lambda _: wxtoken.get_ticket(app, "jsapi"))
    assert len(set(tickets)) == 1 and tickets[0]
    assert mock.fetches(app) == 1
    assert ticket_calls(mock, app, "jsapi") == 1
    # From memory afterwards; the card ticket is another credential.
    assert wxtoken.get_ticket(app, "jsapi") == tickets[0]
    card = wxtoken.get_ticket(app, "wx_card")
    assert card != tickets[0]
    assert (mock.fetches(app), ticket_calls(mock, app, "jsapi"), ticket_calls(mock, app, "wx_card")) == (1, 1, 1)


def test_jssdk_config_signature_recomputes(mock: Mock) -> None:
    app = mock.configure()
    url = "https://example.com/page?id=7"
    config = wxtoken.jssdk_config(app, url + "#top")
    assert sorted(config) == ["appId", "nonceStr", "signature", "timestamp"]
    assert config["appId"] == app
    assert isinstance(config["timestamp"], int) and len(config["nonceStr"]) == 16
    ticket = wxtoken.get_ticket(app, "jsapi")
    text = f"jsapi_ticket={ticket}&noncestr={config['nonceStr']}&timestamp={config['timestamp']}&url={url}"
    assert config["signature"] == hashlib.sha1(text.encode()).hexdigest()
    assert config["signature"] == wxtoken.jssdk_signature(ticket, config["nonceStr"], config["timestamp"], url)
    assert wxtoken.jssdk_config(app, url)["nonceStr"] != config["nonceStr"], "a fresh nonce each time"
    assert ticket_calls(mock, app, "jsapi") == 1


def test_invalidate_ticket_refetches_once_and_ignores_an_old_one(mock: Mock) -> None:
    app = mock.configure()
    bad = wxtoken.get_ticket(app, "jsapi")
    generation = wxtoken.status(app)["tickets"]["jsapi"]["token"]["generation"]
    # The platform hands the same ticket back until its last overlap window:
    # the refetch is what counts.
    good = wxtoken.invalidate_ticket(app, "jsapi", bad)
    assert good and ticket_calls(mock, app, "jsapi") == 2
    assert wxtoken.status(app)["tickets"]["jsapi"]["token"]["generation"] > generation
    # A ticket that is no longer current: the current one, no upstream call.
    assert wxtoken.invalidate_ticket(app, "jsapi", "old-" + bad) == good
    assert ticket_calls(mock, app, "jsapi") == 2
    assert mock.fetches(app) == 1


@pytest.mark.parametrize("kind", ["JSAPI", "bogus", "", "agent_config"])
def test_unknown_or_foreign_kind_is_invalid_argument(mock: Mock, kind: str) -> None:
    app = mock.configure()
    with pytest.raises(wxtoken.InvalidArgument):
        wxtoken.get_ticket(app, cast(Any, kind))
    with pytest.raises(wxtoken.InvalidArgument):
        wxtoken.invalidate_ticket(app, cast(Any, kind), "x")
    assert mock.fetches(app) == 0


def test_empty_url_and_bad_ticket_are_invalid_argument(mock: Mock) -> None:
    app = mock.configure()
    with pytest.raises(wxtoken.InvalidArgument):
        wxtoken.jssdk_config(app, "")
    with pytest.raises(wxtoken.InvalidArgument):
        wxtoken.invalidate_ticket(app, "jsapi", "")


def test_unconfigured_app_is_not_configured() -> None:
    with pytest.raises(wxtoken.NotConfigured):
        wxtoken.get_ticket("wxnosuchapp0000000", "jsapi")
    with pytest.raises(wxtoken.NotConfigured):
        wxtoken.jssdk_config("wxnosuchapp0000000", "https://example.com/")


def test_client_methods_and_no_ticket_in_repr_or_status(mock: Mock) -> None:
    appid, secret = mock.new_app()
    client = wxtoken.Client(appid, secret, api_base=mock.url, store="memory")
    ticket = client.get_ticket("jsapi")
    assert ticket == wxtoken.get_ticket(client.name, "jsapi")
    config = client.jssdk_config("https://example.com/")
    assert config["signature"] == wxtoken.jssdk_signature(
        ticket, config["nonceStr"], config["timestamp"], "https://example.com/"
    )
    assert ticket not in repr(client)
    status = client.status()
    assert "tickets" in status
    assert ticket not in repr(status)
    fresh = client.invalidate_ticket("jsapi", ticket)
    assert fresh not in repr(client) and fresh not in repr(client.status())
    assert ticket_calls(mock, appid, "jsapi") == 2


def test_wecom_agent_config_ticket(mock: Mock) -> None:
    corpid, secret = mock.new_corp()
    app = wxtoken.configure(corpid, secret, api_base=mock.url, store="memory", platform="wecom")
    jsapi = wxtoken.get_ticket(app, "jsapi")
    agent = wxtoken.get_ticket(app, "agent_config")
    assert jsapi != agent
    with pytest.raises(wxtoken.InvalidArgument):
        wxtoken.get_ticket(app, "wx_card")
