"""What help(), repr() and except clauses show a user: options, docstrings, builtin bases, no token."""

from __future__ import annotations

import ast
import importlib.metadata
import inspect
import pickle
import pydoc
import re
from pathlib import Path
from typing import Any

import pytest
import wxtoken
from conftest import Mock

STUBS = Path(wxtoken.__file__).with_name("_wxtoken.pyi")


def help_text(obj: object) -> str:
    """What help(obj) prints."""
    return pydoc.plain(pydoc.render_doc(obj))


def core_option_names() -> list[str]:
    """The options the core accepts, as its own error message lists them."""
    with pytest.raises(wxtoken.InvalidArgument) as info:
        wxtoken.configure("wxappid", "secret", no_such_option=1)  # type: ignore[call-arg]
    known = re.search(r"\(known: ([^)]*)\)", str(info.value))
    assert known, str(info.value)
    names = [n.strip() for n in known.group(1).split(",")]
    assert "timeout_ms" in names and len(names) > 5
    return names


def test_help_of_configure_lists_every_option() -> None:
    text = help_text(wxtoken.configure)
    assert "configure(appid=None, secret=None, **options)" in text
    for name in core_option_names():
        assert re.search(rf"\b{name}\b", text), f"help(configure) does not mention {name}"


FUNCTIONS = [
    "configure",
    "get_token",
    "invalidate",
    "status",
    "call",
    "get_ticket",
    "invalidate_ticket",
    "jssdk_signature",
    "jssdk_config",
    "flush_log",
]


def test_signatures_are_introspectable() -> None:
    assert str(inspect.signature(wxtoken.configure)) == "(appid=None, secret=None, **options)"
    assert str(inspect.signature(wxtoken.get_token)) == "(app)"
    assert str(inspect.signature(wxtoken.invalidate)) == "(app, bad_token)"
    assert str(inspect.signature(wxtoken.call)) == "(app, fn)"
    assert str(inspect.signature(wxtoken.Client)) == "(appid=None, secret=None, **options)"
    assert str(inspect.signature(wxtoken.Client.invalidate)) == "(self, /, bad_token)"
    assert str(inspect.signature(wxtoken.get_ticket)) == "(app, kind)"
    assert str(inspect.signature(wxtoken.invalidate_ticket)) == "(app, kind, bad_ticket)"
    assert str(inspect.signature(wxtoken.jssdk_signature)) == "(ticket, noncestr, timestamp, url)"
    assert str(inspect.signature(wxtoken.jssdk_config)) == "(app, url)"
    assert str(inspect.signature(wxtoken.Client.get_ticket)) == "(self, /, kind)"
    assert str(inspect.signature(wxtoken.Client.jssdk_config)) == "(self, /, url)"


@pytest.mark.parametrize("name", FUNCTIONS)
def test_every_function_has_a_docstring(name: str) -> None:
    doc = getattr(wxtoken, name).__doc__
    assert doc and len(doc.strip()) > 20, f"{name}: {doc!r}"


def test_every_client_method_has_a_docstring() -> None:
    public = [n for n in dir(wxtoken.Client) if not n.startswith("_")]
    assert set(public) >= {
        "name",
        "get_token",
        "invalidate",
        "status",
        "call",
        "get_ticket",
        "invalidate_ticket",
        "jssdk_config",
    }
    for name in public:
        doc = getattr(wxtoken.Client, name).__doc__
        assert doc and doc.strip(), f"Client.{name} has no docstring"
    assert wxtoken.Client.__doc__ and "configure" in wxtoken.Client.__doc__
    assert "get_token" in help_text(wxtoken.Client)


def test_the_stubs_document_what_the_module_has() -> None:
    tree = ast.parse(STUBS.read_text())
    options = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Options")
    fields = [n.target.id for n in options.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)]
    assert fields == core_option_names()
    every = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert all(hasattr(wxtoken._wxtoken, name) for name in every), "a stub of nothing"
    # The private helpers (_fresh_token, ...) serve wxtoken.aio and wxtoken.wechatpy.
    functions = {name: node for name, node in every.items() if not name.startswith("_")}
    assert set(functions) == set(FUNCTIONS)
    client = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Client")
    methods = {n.name: n for n in client.body if isinstance(n, ast.FunctionDef)}
    for name, node in [*functions.items(), *((f"Client.{k}", v) for k, v in methods.items())]:
        assert ast.get_docstring(node), f"{name} has no docstring in {STUBS.name}"
    doc = ast.get_docstring(functions["configure"]) or ""
    for name in core_option_names():
        assert name in doc, f"the stub of configure does not mention {name}"


def test_the_wheel_version_is_the_core_version() -> None:
    # Two crates (core and extension) carry a version: they must not drift.
    assert importlib.metadata.version("wxtoken") == wxtoken.__version__


# --- exceptions are also the builtin kinds ------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "builtin", "options"),
    [("hang", TimeoutError, {"timeout_ms": 200}), ("drop", ConnectionError, {})],
)
def test_timeouts_and_network_failures_are_builtin_exceptions(
    mock: Mock, mode: str, builtin: type[OSError], options: dict[str, Any]
) -> None:
    mock.fault(mode, count=1000)
    app = mock.configure(wait_ms=5000, **options)
    with pytest.raises(builtin) as info:
        wxtoken.get_token(app)
    err = info.value
    assert isinstance(err, wxtoken.WxTokenError)
    # OSError reads two arguments as (errno, strerror): the message must stay whole.
    assert str(err) == err.args[0] and err.args == (str(err),)
    assert err.errno is None
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is type(err) and str(copy) == str(err) and copy.errmsg == err.errmsg


def test_builtin_bases_are_in_the_hierarchy() -> None:
    assert issubclass(wxtoken.TokenTimeout, TimeoutError)
    assert issubclass(wxtoken.NetworkError, ConnectionError)
    e = wxtoken.TokenTimeout("timed out: no token within 10 ms", 0, "no token within 10 ms")
    assert str(e) == "timed out: no token within 10 ms" and e.errcode == 0


# --- nothing shows a token or a secret ------------------------------------------------------


def test_no_repr_or_str_shows_the_token_or_the_secret(mock: Mock) -> None:
    appid, secret = mock.new_app()
    client = wxtoken.Client(appid, secret, api_base=mock.url, store="memory")
    token = client.get_token()
    bad = client.invalidate(token)
    errors: list[BaseException] = []
    other, other_secret = mock.new_app()
    wrong = "wrong-" + other_secret
    try:
        wxtoken.Client(other, wrong, api_base=mock.url, store="memory").get_token()
    except wxtoken.WxTokenError as e:
        errors.append(e)
    try:
        wxtoken.configure(appid, secret, api_base=mock.url, store="memory", timeout_ms=-1)
    except wxtoken.WxTokenError as e:
        errors.append(e)
    assert len(errors) == 2
    shown = [client, client.status(), wxtoken.status(appid), wxtoken, *errors, *(e.args for e in errors)]
    texts = [f(o) for o in shown for f in (repr, str)] + [help_text(client)]
    for text in texts:
        for needle in (token, bad, secret, wrong):
            assert needle not in text
    assert appid in repr(client)
