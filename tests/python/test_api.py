"""The module's surface, tokens, invalidate, status, call() and Client."""

from __future__ import annotations

import inspect
import json
import pickle
import re
import secrets
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import wxtoken
from conftest import ROOT, Mock, kept_token
from wxtoken import _errors

KINDS = [
    "credentials_rejected",
    "ip_not_allowed",
    "quota_exhausted",
    "upstream",
    "network",
    "timeout",
    "bad_response",
    "store",
    "not_configured",
    "invalid_argument",
]


def cargo_version() -> str:
    text = (ROOT / "Cargo.toml").read_text()
    match = re.search(r'^version = "([^"]+)"', text, re.M)
    assert match
    return match.group(1)


# --- surface -------------------------------------------------------------------------------


def test_version_is_the_crates() -> None:
    assert wxtoken.__version__ == cargo_version()


def test_bad_token_errcodes() -> None:
    assert wxtoken.BAD_TOKEN_ERRCODES == frozenset({40001, 40014, 42001})
    assert isinstance(wxtoken.BAD_TOKEN_ERRCODES, frozenset)


def test_exports() -> None:
    for name in wxtoken.__all__:
        assert hasattr(wxtoken, name), name
    for fn in (wxtoken.configure, wxtoken.get_token, wxtoken.invalidate, wxtoken.status, wxtoken.call):
        assert callable(fn)


def test_one_exception_class_per_kind() -> None:
    assert sorted(_errors.BY_KIND) == sorted(KINDS)
    for kind, cls in _errors.BY_KIND.items():
        assert issubclass(cls, wxtoken.WxTokenError)
        assert cls.kind == kind
        assert cls.__module__ == "wxtoken"
        assert getattr(wxtoken, cls.__name__) is cls
    assert issubclass(wxtoken.InvalidArgument, ValueError)
    assert issubclass(wxtoken.WxTokenError, Exception)


def test_typing_files_ship_in_the_package() -> None:
    pkg = Path(wxtoken.__file__).parent
    assert (pkg / "py.typed").is_file()
    assert (pkg / "_wxtoken.pyi").is_file()


def test_exception_fields_and_pickling() -> None:
    err = wxtoken.CredentialsRejected(
        "credentials rejected: invalid appsecret (errcode 40125)", 40125, "invalid appsecret"
    )
    assert (err.kind, err.errcode, err.errmsg) == ("credentials_rejected", 40125, "invalid appsecret")
    assert str(err) == "credentials rejected: invalid appsecret (errcode 40125)"
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is wxtoken.CredentialsRejected
    assert (back.errcode, back.errmsg, str(back)) == (40125, "invalid appsecret", str(err))
    assert wxtoken.WxTokenError("x").errcode == 0


# --- tokens --------------------------------------------------------------------------------


def test_configure_returns_the_name(mock: Mock) -> None:
    appid, secret = mock.new_app()
    assert wxtoken.configure(appid, secret, api_base=mock.url, store="memory") == appid
    assert wxtoken.configure(appid, secret, api_base=mock.url, store="memory", name="shop") == "shop"


def test_get_token_works_upstream_and_is_cached(mock: Mock) -> None:
    app = mock.configure()
    token = wxtoken.get_token(app)
    assert isinstance(token, str) and len(token) > 20
    assert "ip_list" in mock.check(token)
    assert all(wxtoken.get_token(app) == token for _ in range(1000))
    assert wxtoken.get_token(app=app) == token
    assert mock.fetches(app) == 1


def test_a_fresh_token_is_one_str_object_until_it_changes(mock: Mock) -> None:
    appid, secret = mock.new_app()
    client = wxtoken.Client(appid, secret, api_base=mock.url, store="memory")
    app = client.name
    token = wxtoken.get_token(app)
    kept = kept_token(app)
    assert kept == token and client.get_token() is kept
    fresh = wxtoken.invalidate(app, token)
    assert fresh != token
    assert wxtoken.get_token(app) == fresh and client.get_token() == fresh
    assert mock.fetches(app) == 2


def test_get_token_fast_path_keeps_references_and_arguments(mock: Mock) -> None:
    # get_token's fresh path is a C entry of its own (bindings/python/src/fast.rs):
    # it must hand out the kept str with exactly one new reference, and every
    # other call (keywords, str subclasses, bad arguments) must behave as the
    # pyo3 function behind it does.
    app = mock.configure()
    token = wxtoken.get_token(app)
    kept = kept_token(app)
    before = sys.getrefcount(kept)
    for _ in range(10_000):
        assert wxtoken.get_token(app) is kept
    assert sys.getrefcount(kept) == before, "a reference leaked or was lost"
    assert str(inspect.signature(wxtoken.get_token)) == "(app)"
    assert wxtoken.get_token(app=app) is kept

    class Name(str):
        pass

    assert wxtoken.get_token(Name(app)) == token
    with pytest.raises(TypeError, match="missing 1 required positional argument"):
        wxtoken.get_token()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="takes 1 positional arguments but 2 were given"):
        wxtoken.get_token(app, app)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'name'"):
        wxtoken.get_token(name=app)  # type: ignore[call-arg]
    with pytest.raises(UnicodeEncodeError):
        wxtoken.get_token("wx\udc80")
    assert mock.fetches(app) == 1


def test_a_second_interpreter_is_refused_at_import() -> None:
    # The module's statics hold one interpreter's objects (kept strs, the
    # pyo3 function behind get_token): a subinterpreter gets an ImportError,
    # and the main interpreter keeps working.
    import _xxsubinterpreters as interpreters  # type: ignore[import-not-found]  # CPython 3.11

    sub = interpreters.create()
    try:
        with pytest.raises(interpreters.RunFailedError, match="one interpreter per process"):
            interpreters.run_string(sub, "import wxtoken")
    finally:
        interpreters.destroy(sub)
    with pytest.raises(wxtoken.NotConfigured):
        wxtoken.get_token("never-configured-" + secrets.token_hex(4))


def test_wecom_app(mock: Mock) -> None:
    corpid, secret = mock.new_corp()
    app = wxtoken.configure(corpid, secret, platform="wecom", api_base=mock.url, store="memory", name="wecom-" + corpid)
    token = wxtoken.get_token(app)
    assert wxtoken.get_token(app) == token
    assert mock.stats()["token_calls"][corpid]["gettoken"] == 1


def test_invalidate_current_refreshes_once(mock: Mock) -> None:
    app = mock.configure()
    t1 = wxtoken.get_token(app)
    t2 = wxtoken.invalidate(app, t1)
    assert t2 != t1
    assert wxtoken.get_token(app) == t2
    assert mock.fetches(app) == 2
    assert "ip_list" in mock.check(t2)


def test_invalidate_stale_token_fetches_nothing(mock: Mock) -> None:
    app = mock.configure()
    t1 = wxtoken.get_token(app)
    t2 = wxtoken.invalidate(app, t1)
    before = mock.fetches(app)
    assert wxtoken.invalidate(app, t1) == t2
    assert wxtoken.invalidate(app, "never-issued-" + secrets.token_hex(8)) == t2
    assert wxtoken.invalidate(app, "x" * 1_000_000) == t2
    assert mock.fetches(app) == before


# --- status --------------------------------------------------------------------------------


def test_status_shape(mock: Mock) -> None:
    appid, secret = mock.new_app()
    app = wxtoken.configure(appid, secret, api_base=mock.url, store="memory", refresh_margin_s=60)
    before = wxtoken.status(app)
    assert isinstance(before, dict)
    assert before["token"] == {"present": False}
    token = wxtoken.get_token(app)
    st = wxtoken.status(app)
    for key, typ in {
        "name": str,
        "appid": str,
        "platform": str,
        "mode": str,
        "api_base": str,
        "store": str,
        "refresh_margin_s": int,
        "token": dict,
        "refreshing": bool,
        "cooldown_ms": int,
        "stats": dict,
    }.items():
        assert isinstance(st[key], typ), key
    assert (st["name"], st["appid"], st["platform"], st["mode"]) == (app, appid, "mp", "token")
    assert (st["api_base"], st["store"], st["refresh_margin_s"]) == (mock.url, "memory", 60)
    assert st["last_error"] is None
    tok = st["token"]
    assert tok["present"] is True and tok["valid"] is True and tok["fresh"] is True
    assert isinstance(tok["generation"], int)
    assert 0 < tok["expires_in_ms"] <= 7200 * 1000
    assert st["stats"]["upstream_calls"] == 1
    text = json.dumps(st)
    assert token not in text
    assert secret not in text


def test_status_reports_the_last_error(mock: Mock) -> None:
    appid, _ = mock.new_app()
    app = wxtoken.configure(appid, "wrong-secret-" + secrets.token_hex(4), api_base=mock.url, store="memory")
    with pytest.raises(wxtoken.CredentialsRejected):
        wxtoken.get_token(app)
    err = wxtoken.status(app)["last_error"]
    assert err["kind"] == "credentials_rejected"
    assert err["errcode"] == 40125
    assert isinstance(err["errmsg"], str)


# --- call() --------------------------------------------------------------------------------


class ApiError(Exception):
    """What an SDK raises for a business errcode (wechatpy's WeChatClientException has errcode too)."""

    def __init__(self, errcode: Any) -> None:
        super().__init__(f"errcode {errcode}")
        self.errcode = errcode


class Recorder:
    """fn(token) for call(): records tokens; answers from a script, one entry per call."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.tokens: list[str] = []

    def __call__(self, token: str) -> Any:
        self.tokens.append(token)
        answer = self.answers[min(len(self.tokens), len(self.answers)) - 1]
        if isinstance(answer, BaseException):
            raise answer
        return answer


def test_call_passes_the_token_and_returns_the_value(mock: Mock) -> None:
    app = mock.configure()
    fn = Recorder({"ok": 1})
    assert wxtoken.call(app, fn) == {"ok": 1}
    assert fn.tokens == [wxtoken.get_token(app)]
    assert mock.fetches(app) == 1
    assert wxtoken.call(app, fn=len) == len(wxtoken.get_token(app))


def test_call_against_a_superseded_token_retries_once(mock: Mock) -> None:
    """The real flow: someone else fetched, the business call answers 40001."""
    app = mock.configure()
    t1 = wxtoken.get_token(app)
    mock.supersede(app)
    seen: list[str] = []

    def business(token: str) -> Any:
        seen.append(token)
        return mock.check(token)

    result = wxtoken.call(app, business)
    assert "ip_list" in result
    assert seen[0] == t1 and len(seen) == 2 and seen[1] != t1
    assert mock.fetches(app) == 2


# The core's rule (wxtoken::is_bad_token_errcode_text), as in every binding: an int,
# or the decimal str some JSON decoders give.
BAD_ERRCODES = [40001, 40014, 42001, "40001", "42001"]


@pytest.mark.parametrize("errcode", BAD_ERRCODES, ids=repr)
def test_call_retries_a_returned_bad_errcode_once(mock: Mock, errcode: int | str) -> None:
    app = mock.configure()
    fn = Recorder({"errcode": errcode, "errmsg": "bad token"}, {"errcode": 0, "data": 7})
    assert wxtoken.call(app, fn) == {"errcode": 0, "data": 7}
    assert len(fn.tokens) == 2 and fn.tokens[0] != fn.tokens[1]
    assert fn.tokens[1] == wxtoken.get_token(app)
    assert mock.fetches(app) == 2


@pytest.mark.parametrize("errcode", BAD_ERRCODES, ids=repr)
def test_call_retries_a_raised_bad_errcode_once(mock: Mock, errcode: int | str) -> None:
    app = mock.configure()
    fn = Recorder(ApiError(errcode), "second answer")
    assert wxtoken.call(app, fn) == "second answer"
    assert len(fn.tokens) == 2 and fn.tokens[0] != fn.tokens[1]
    assert mock.fetches(app) == 2


def test_call_returns_a_second_bad_answer(mock: Mock) -> None:
    app = mock.configure()
    fn = Recorder({"errcode": 40001}, {"errcode": 42001})
    assert wxtoken.call(app, fn) == {"errcode": 42001}
    assert len(fn.tokens) == 2
    assert mock.fetches(app) == 2


def test_call_raises_a_second_bad_exception(mock: Mock) -> None:
    app = mock.configure()
    second = ApiError(40014)
    fn = Recorder(ApiError(40001), second)
    with pytest.raises(ApiError) as info:
        wxtoken.call(app, fn)
    assert info.value is second
    assert len(fn.tokens) == 2
    assert mock.fetches(app) == 2


@pytest.mark.parametrize(
    "answer",
    [
        {"errcode": 45009, "errmsg": "quota"},
        {"errcode": 40013},
        {"errcode": "+40001"},
        {"errcode": " 40001"},
        {"errcode": "040001"},
        {"errcode": "40001.0"},
        {"errcode": b"40001"},
        {"errcode": True},
        {"errcode": 40001.0},
        {"access_token": "x"},
        ["errcode", 40001],
        None,
        ApiError(45009),
        ApiError("4e4"),
        ValueError("no errcode at all"),
        KeyError("errcode"),
    ],
    ids=repr,
)
def test_call_does_not_retry_other_answers(mock: Mock, answer: Any) -> None:
    app = mock.configure()
    fn = Recorder(answer)
    if isinstance(answer, BaseException):
        with pytest.raises(type(answer)) as info:
            wxtoken.call(app, fn)
        assert info.value is answer
    else:
        assert wxtoken.call(app, fn) == answer
    assert len(fn.tokens) == 1
    assert mock.fetches(app) == 1


class ApiResult(Mapping[str, Any]):
    """A non-dict Mapping, as some SDKs return."""

    def __init__(self, **fields: Any) -> None:
        self._fields = fields

    def __getitem__(self, key: str) -> Any:
        return self._fields[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)


def test_call_reads_errcode_from_any_mapping(mock: Mock) -> None:
    app = mock.configure()
    ok = ApiResult(errcode=0)
    fn = Recorder(ApiResult(errcode=42001), ok)
    assert wxtoken.call(app, fn) is ok
    assert len(fn.tokens) == 2


def test_call_with_a_bad_errcode_property_is_not_retried(mock: Mock) -> None:
    class Weird(Exception):
        @property
        def errcode(self) -> int:
            raise RuntimeError("no")

    app = mock.configure()
    fn = Recorder(Weird())
    with pytest.raises(Weird):
        wxtoken.call(app, fn)
    assert len(fn.tokens) == 1


def test_call_propagates_base_exceptions(mock: Mock) -> None:
    app = mock.configure()
    with pytest.raises(KeyboardInterrupt):
        wxtoken.call(app, Recorder(KeyboardInterrupt()))


def test_call_needs_a_callable(mock: Mock) -> None:
    app = mock.configure()
    with pytest.raises(TypeError, match="callable"):
        wxtoken.call(app, "not callable")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        wxtoken.call(app, None)  # type: ignore[arg-type]


def test_call_reports_token_errors_without_running_fn(mock: Mock) -> None:
    appid, _ = mock.new_app()
    app = wxtoken.configure(appid, "wrong-" + secrets.token_hex(4), api_base=mock.url, store="memory")
    fn = Recorder("never")
    with pytest.raises(wxtoken.CredentialsRejected):
        wxtoken.call(app, fn)
    assert fn.tokens == []


# --- Client --------------------------------------------------------------------------------


def test_client(mock: Mock) -> None:
    appid, secret = mock.new_app()
    client = wxtoken.Client(appid, secret, api_base=mock.url, store="memory")
    assert client.name == appid
    assert secret not in repr(client) and appid in repr(client)
    token = client.get_token()
    assert token == wxtoken.get_token(appid)
    assert client.status()["token"]["present"] is True
    fresh = client.invalidate(token)
    assert fresh != token and client.get_token() == fresh
    fn = Recorder({"errcode": 40001}, "done")
    assert client.call(fn) == "done"
    assert len(fn.tokens) == 2
    assert mock.fetches(appid) == 3


def test_client_with_a_name(mock: Mock) -> None:
    appid, secret = mock.new_app()
    client = wxtoken.Client(appid, secret, api_base=mock.url, store="memory", name="orders-" + appid)
    assert client.name == "orders-" + appid
    assert wxtoken.status(client.name)["appid"] == appid
    with pytest.raises(AttributeError):
        client.name = "other"  # type: ignore[misc]


def test_client_rejects_bad_config() -> None:
    with pytest.raises(wxtoken.InvalidArgument):
        wxtoken.Client("wx-appid", "")
    with pytest.raises(TypeError):
        wxtoken.Client(123, "secret")  # type: ignore[arg-type]
