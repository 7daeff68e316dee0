"""wechatpy's clients with their access_token from wxtoken.

    from wxtoken.wechatpy import WeChatClient        # was: from wechatpy import WeChatClient

    client = WeChatClient(appid, secret)              # optional: store=..., any configure() option
    client.message.send_text(openid, "hi")           # wechatpy as before

The classes are wechatpy's own (subclasses), so every API group and argument is
wechatpy's. What changes is the token: it comes from wxtoken (one fetch per app
for every thread, process and host sharing the store), and a business answer of
40001/40014/42001 reports the token it was sent with to wxtoken (one refresh for
the whole group) and retries once with the new token. wechatpy on its own fetches
a token with the secret at that point, which kills the token every other process
holds. The secret goes to wxtoken only; wechatpy never fetches with it.

Needs wechatpy (``pip install 'wxtoken[wechatpy]'``); ``import wxtoken`` does not.
"""

from __future__ import annotations

import contextvars
import threading
from typing import TYPE_CHECKING, Any

try:
    from wechatpy import WeChatClient as _WeChatPyClient  # type: ignore[import-untyped, unused-ignore]
except ImportError as e:
    raise ImportError(
        "wxtoken.wechatpy needs wechatpy: pip install 'wxtoken[wechatpy]' (or pip install wechatpy)"
    ) from e

import wxtoken
from wxtoken import _wxtoken

if TYPE_CHECKING:  # names of the stubs only
    from typing_extensions import Unpack

    from wxtoken._wxtoken import Options

__all__ = ["TokenFromWxtoken", "WeChatClient"]

# Set while one business call is retried: a second bad-token answer is raised.
_retrying: contextvars.ContextVar[bool] = contextvars.ContextVar("wxtoken_wechatpy_retrying", default=False)
# Set while wechatpy's own _handle_result runs: its retry (a fetch with the
# secret) sees auto_retry off and never runs; ours has decided already.
_in_wechatpy: contextvars.ContextVar[bool] = contextvars.ContextVar("wxtoken_wechatpy_handling", default=False)


class TokenFromWxtoken:
    """The wechatpy hooks, on top of a wechatpy client class (put it first in
    the bases): ``access_token`` from wxtoken, ``fetch_access_token`` and the
    bad-token retry as reports to wxtoken."""

    wxtoken_app: str
    _wxtoken_auto_retry: bool

    @property
    def access_token(self) -> str:
        """The app's token, from wxtoken (wechatpy's session store is not used for it)."""
        token = wxtoken.get_token(self.wxtoken_app)
        self._wxtoken_handed_out.token = token
        return token

    @property
    def _wxtoken_handed_out(self) -> threading.local:
        """What ``access_token`` last gave this thread (``.token``): what its
        request sent. Per thread: threads sharing a client each report their own."""
        local: threading.local = self.__dict__.setdefault("_wxtoken_local", threading.local())
        return local

    @property
    def auto_retry(self) -> bool:
        """wechatpy's switch: retry once after a bad-token answer (default True)."""
        return self._wxtoken_auto_retry and not _in_wechatpy.get()

    @auto_retry.setter
    def auto_retry(self, value: bool) -> None:
        self._wxtoken_auto_retry = bool(value)

    def fetch_access_token(self) -> dict[str, Any]:
        """wechatpy's "get a new token": reports the token ``access_token`` last
        gave this thread to wxtoken as refused (one refresh for every process
        sharing the store, none if it was already replaced); with none handed
        out yet (an app calling this at startup, in every worker) it reports
        nothing and answers the current token. Answers like wechatpy,
        ``{"access_token", "expires_in"}``; the answer is not handed out, so a
        second call reports the same token again (stale: no fetch). Never
        fetches with the secret itself."""
        app = self.wxtoken_app
        sent: str | None = getattr(self._wxtoken_handed_out, "token", None)
        token = wxtoken.get_token(app) if sent is None else wxtoken.invalidate(app, sent)
        expires_in_ms = wxtoken.status(app)["token"].get("expires_in_ms", 0)
        return {"access_token": token, "expires_in": int(expires_in_ms) // 1000}

    def _handle_result(
        self, res: Any, method: Any = None, url: Any = None, result_processor: Any = None, **kwargs: Any
    ) -> Any:
        params = kwargs.get("params")  # wechatpy put the token it sent there
        sent = params.get("access_token") if isinstance(params, dict) else None
        if isinstance(params, dict) and sent and self.auto_retry and not _retrying.get() and self._refused_token(res):
            params["access_token"] = wxtoken.invalidate(self.wxtoken_app, sent)
            retrying = _retrying.set(True)
            try:
                return self._request(method=method, url_or_endpoint=url, result_processor=result_processor, **kwargs)  # type: ignore[attr-defined]
            finally:
                _retrying.reset(retrying)
        # Everything else (a success, another error, a second bad answer) as
        # wechatpy does it, with its own retry switched off.
        handling = _in_wechatpy.set(True)
        try:
            return super()._handle_result(res, method, url, result_processor, **kwargs)  # type: ignore[misc]
        finally:
            _in_wechatpy.reset(handling)

    def _refused_token(self, res: Any) -> bool:
        """Whether the answer is a bad-token errcode, by wxtoken.call's rule
        (wechatpy's device APIs nest it in "base_resp")."""
        result = res if isinstance(res, dict) else self._decode_result(res)  # type: ignore[attr-defined]
        if not isinstance(result, dict):
            return False
        return _wxtoken._is_bad_token_result(result) or _wxtoken._is_bad_token_result(result.get("base_resp"))


def _no_access_token(access_token: object) -> None:
    if access_token is not None:
        raise TypeError("access_token: a wxtoken.wechatpy client takes its token from wxtoken; leave it out")


class WeChatClient(TokenFromWxtoken, _WeChatPyClient):  # type: ignore[misc]
    """``wechatpy.WeChatClient`` (Official Accounts), its token from wxtoken.

    WeChatClient(appid, secret, session=None, timeout=None, auto_retry=True,
    **options): wechatpy's arguments, then keyword options of
    wxtoken.configure(): store ("memory", "file" by default, "file:/dir",
    "redis://..."), api_base, wait_ms, name... The app is configured in
    wxtoken under its appid (or ``name``), held in ``wxtoken_app``.
    """

    def __init__(
        self,
        appid: str,
        secret: str,
        access_token: None = None,
        session: Any = None,
        timeout: Any = None,
        auto_retry: bool = True,
        **options: Unpack[Options],
    ) -> None:
        _no_access_token(access_token)
        options["platform"] = "mp"  # the platform of the wechatpy class
        super().__init__(appid, secret, None, session, timeout, auto_retry)
        self.wxtoken_app = wxtoken.configure(appid, secret, **options)
