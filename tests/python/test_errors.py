"""Failures: each kind's exception class and fields, bad input, and no secret in any error."""

from __future__ import annotations

import json
import secrets
import socket
from typing import Any, Callable

import pytest
import wxtoken
from conftest import Mock

MB = 1_000_000


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- upstream failures map to their classes ------------------------------------------------


def test_wrong_secret_is_credentials_rejected(mock: Mock) -> None:
    appid, _ = mock.new_app()
    app = wxtoken.configure(appid, "wrong-secret-" + secrets.token_hex(4), api_base=mock.url, store="memory")
    with pytest.raises(wxtoken.CredentialsRejected) as info:
        wxtoken.get_token(app)
    err = info.value
    assert isinstance(err, wxtoken.WxTokenError)
    assert err.errcode == 40125
    assert err.kind == "credentials_rejected"
    assert "appsecret" in err.errmsg
    assert "40125" in str(err)
    # Not retried, cooled down: the next caller gets the error without a fetch.
    with pytest.raises(wxtoken.CredentialsRejected):
        wxtoken.get_token(app)
    assert mock.fetches(appid) == 1


def test_unknown_appid_is_credentials_rejected(mock: Mock) -> None:
    app = wxtoken.configure("wxnotonthemock" + secrets.token_hex(3), "s3cret", api_base=mock.url, store="memory")
    with pytest.raises(wxtoken.CredentialsRejected) as info:
        wxtoken.get_token(app)
    assert info.value.errcode == 40013


@pytest.mark.parametrize(
    ("mode", "cls", "errcode", "options"),
    [
        ("busy", wxtoken.UpstreamError, -1, {}),
        ("http500", wxtoken.UpstreamError, 0, {}),
        ("garbage", wxtoken.BadResponse, 0, {}),
        ("drop", wxtoken.NetworkError, 0, {}),
        ("hang", wxtoken.TokenTimeout, 0, {"timeout_ms": 200}),
    ],
)
def test_upstream_faults_map_to_their_class(
    mock: Mock, mode: str, cls: type[wxtoken.WxTokenError], errcode: int, options: dict[str, Any]
) -> None:
    mock.fault(mode, count=1000)
    app = mock.configure(wait_ms=5000, **options)
    with pytest.raises(cls) as info:
        wxtoken.get_token(app)
    assert info.value.errcode == errcode
    assert info.value.kind == cls.kind
    assert wxtoken.status(app)["last_error"]["kind"] == cls.kind


def test_unreachable_upstream_is_network_error(mock: Mock) -> None:
    appid, secret = mock.new_app()
    app = wxtoken.configure(
        appid, secret, api_base=f"http://127.0.0.1:{unused_port()}", store="memory", name="down-" + appid
    )
    with pytest.raises(wxtoken.NetworkError):
        wxtoken.get_token(app)


def test_not_configured() -> None:
    name = "never-configured-" + secrets.token_hex(4)
    with pytest.raises(wxtoken.NotConfigured) as info:
        wxtoken.get_token(name)
    assert info.value.kind == "not_configured" and info.value.errcode == 0
    assert name in str(info.value)
    for op in (lambda: wxtoken.invalidate(name, "t"), lambda: wxtoken.status(name), lambda: wxtoken.call(name, len)):
        with pytest.raises(wxtoken.NotConfigured):
            op()


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [None, 123, b"wxapp", 1.5, ["wx"], object()], ids=repr)
def test_non_str_arguments_are_type_errors(bad: Any) -> None:
    with pytest.raises(TypeError):
        wxtoken.get_token(bad)
    with pytest.raises(TypeError):
        wxtoken.invalidate(bad, "token")
    with pytest.raises(TypeError):
        wxtoken.invalidate("app", bad)
    with pytest.raises(TypeError):
        wxtoken.status(bad)
    with pytest.raises(TypeError):
        wxtoken.call(bad, len)
    if bad is not None:  # None means "from the environment" for appid and secret
        with pytest.raises(TypeError):
            wxtoken.configure(bad, "secret")
        with pytest.raises(TypeError):
            wxtoken.configure("wxappid", bad)


def test_wrong_arity_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        wxtoken.get_token()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        wxtoken.get_token("a", "b")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        wxtoken.invalidate("a")  # type: ignore[call-arg]


def test_empty_strings_are_invalid_arguments(mock: Mock) -> None:
    app = mock.configure()
    cases: list[Callable[[], Any]] = [
        lambda: wxtoken.get_token(""),
        lambda: wxtoken.status(""),
        lambda: wxtoken.invalidate("", "token"),
        lambda: wxtoken.invalidate(app, ""),
        lambda: wxtoken.configure("", "secret"),
        lambda: wxtoken.configure("wxappid", ""),
        lambda: wxtoken.configure("   ", "secret"),
    ]
    for case in cases:
        with pytest.raises(wxtoken.InvalidArgument) as info:
            case()
        assert isinstance(info.value, ValueError)
        assert info.value.kind == "invalid_argument"


def test_missing_credentials_name_the_environment(no_wxtoken_env: None) -> None:
    with pytest.raises(wxtoken.InvalidArgument, match="WXTOKEN_APPID"):
        wxtoken.configure()
    with pytest.raises(wxtoken.InvalidArgument, match="WXTOKEN_SECRET"):
        wxtoken.configure("wxappid", None)


def test_credentials_from_the_environment(mock: Mock, monkeypatch: pytest.MonkeyPatch, no_wxtoken_env: None) -> None:
    appid, secret = mock.new_app()
    monkeypatch.setenv("WXTOKEN_APPID", appid)
    monkeypatch.setenv("WXTOKEN_SECRET", secret)
    app = wxtoken.configure(api_base=mock.url, store="memory")
    assert app == appid
    assert "ip_list" in mock.check(wxtoken.get_token(app))


def test_unknown_option_is_invalid_argument() -> None:
    with pytest.raises(wxtoken.InvalidArgument, match="unknown option 'timeout'"):
        wxtoken.configure("wxappid", "secret", timeout=5)  # type: ignore[call-arg]


@pytest.mark.parametrize("value", [1.5, True, b"100", [100], {"ms": 1}], ids=repr)
def test_wrong_option_type_is_a_type_error_naming_it(value: Any) -> None:
    with pytest.raises(TypeError, match="timeout_ms"):
        wxtoken.configure("wxappid", "secret", store="memory", timeout_ms=value)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("timeout_ms", -1),
        ("timeout_ms", 0),
        ("wait_ms", 2**70),
        ("timeout_ms", "soon"),
        ("platform", "weibo"),
        ("mode", "fast"),
        ("store", "mongodb://x"),
        ("api_base", "http://example.com"),
        ("name", ""),
    ],
)
def test_bad_option_values_are_invalid_arguments(option: str, value: Any) -> None:
    with pytest.raises(wxtoken.InvalidArgument, match=option):
        wxtoken.configure("wxappid", "secret", **{"store": "memory", option: value})


def test_options_accept_none_and_numeric_strings(mock: Mock) -> None:
    app = mock.configure(timeout_ms="800", wait_ms=None, name=None)
    assert wxtoken.status(app)["name"] == app


def test_huge_strings_give_clear_errors(mock: Mock) -> None:
    huge = "x" * MB
    with pytest.raises(wxtoken.NotConfigured):
        wxtoken.get_token(huge)
    with pytest.raises(wxtoken.InvalidArgument, match="appid"):
        wxtoken.configure(huge, "secret")
    with pytest.raises(wxtoken.InvalidArgument):
        wxtoken.configure("wxappid", "secret", store="memory", name=huge)
    with pytest.raises(wxtoken.InvalidArgument):
        wxtoken.configure("wxappid", "secret", store="memory", api_base=huge)
    # A 1 MB secret is refused before anything is sent (secrets are at most
    # 4096 bytes), and the refusal does not quote it.
    appid, _ = mock.new_app()
    huge_secret = "S" + secrets.token_hex(MB // 2)
    with pytest.raises(wxtoken.InvalidArgument, match="4096") as info:
        wxtoken.configure(appid, huge_secret, api_base=mock.url, store="memory")
    assert huge_secret[:64] not in repr(info.value) + str(info.value.args)
    assert mock.fetches(appid) == 0


def test_strings_that_are_not_utf8_encodable() -> None:
    with pytest.raises(UnicodeEncodeError):
        wxtoken.get_token("\ud800")
    with pytest.raises(UnicodeEncodeError):
        wxtoken.configure("wxappid", "\udcff")


def test_nul_and_control_characters(mock: Mock) -> None:
    with pytest.raises(wxtoken.NotConfigured):
        wxtoken.get_token("a\x00b")
    with pytest.raises(wxtoken.InvalidArgument):
        wxtoken.configure("wx\x00app", "secret", store="memory")


# --- the secret never shows ----------------------------------------------------------------


def test_the_secret_appears_in_no_error_or_status(mock: Mock) -> None:
    secret = "TOPSECRET-" + secrets.token_hex(16)
    appid, _ = mock.new_app()
    texts: list[str] = []

    def capture(fn: Callable[[], Any]) -> None:
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - every failure's text is checked
            texts.extend([str(e), repr(e), repr(e.args), str(getattr(e, "errmsg", ""))])
            if e.__cause__ is not None or e.__context__ is not None:
                texts.append(repr(e.__cause__) + repr(e.__context__))

    app = wxtoken.configure(appid, secret, api_base=mock.url, store="memory", name="leak-" + appid)
    capture(lambda: wxtoken.get_token(app))  # 40125: the upstream refuses this secret
    texts.append(json.dumps(wxtoken.status(app)))
    client = wxtoken.Client(appid, secret, api_base=mock.url, store="memory", name="leak2-" + appid)
    texts.append(repr(client))
    capture(client.get_token)
    mock.fault("busy", count=100)
    capture(
        lambda: wxtoken.get_token(
            wxtoken.configure("wxother" + secrets.token_hex(4), secret, api_base=mock.url, store="memory")
        )
    )
    mock.fault("none")
    down = f"http://127.0.0.1:{unused_port()}"
    capture(
        lambda: wxtoken.get_token(
            wxtoken.configure(appid, secret, api_base=down, store="memory", name="leak3-" + appid)
        )
    )
    capture(lambda: wxtoken.configure(appid, secret, store="memory", bogus=1))  # type: ignore[call-arg]
    capture(lambda: wxtoken.configure(appid, secret, store="memory", timeout_ms=1.5))  # type: ignore[arg-type]
    capture(lambda: wxtoken.configure(appid, secret, store="memory", api_base="ftp://x"))
    capture(lambda: wxtoken.configure("bad appid", secret))
    assert len(texts) > 10
    for text in texts:
        assert secret not in text
        assert secret[10:30] not in text
