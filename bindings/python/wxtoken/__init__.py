"""wxtoken: one WeChat access_token per app, shared by every thread, process and host.

    import wxtoken

    app = wxtoken.configure("wx1234567890abcdef", secret)   # returns the app name
    token = wxtoken.get_token(app)
    # A business API answered 40001 / 40014 / 42001 for `token`:
    token = wxtoken.invalidate(app, token)
    # Or let wxtoken do that dance: fn(token) is retried once on a bad token.
    result = wxtoken.call(app, lambda token: my_api(token))
    # JS-SDK: the object a page at `url` passes to wx.config.
    config = wxtoken.jssdk_config(app, url)
    # Log records (refreshes, failures, rejected credentials) go to logging.getLogger("wxtoken").
    # asyncio: the same functions, awaitable (a fresh token never leaves the loop).
    token = await wxtoken.aio.get_token(app)

The token logic lives in the Rust core; this package only converts types.
"""

from typing import TYPE_CHECKING

from wxtoken._errors import (
    BadResponse,
    CredentialsRejected,
    InvalidArgument,
    IpNotAllowed,
    NetworkError,
    NotConfigured,
    QuotaExhausted,
    StoreError,
    TokenTimeout,
    UpstreamError,
    WxTokenError,
)
from wxtoken import _log  # noqa: F401  (routes the core's records to logging)
from wxtoken._wxtoken import (
    BAD_TOKEN_ERRCODES,
    Client,
    __version__,
    call,
    configure,
    flush_log,
    get_ticket,
    get_token,
    invalidate,
    invalidate_ticket,
    jssdk_config,
    jssdk_signature,
    status,
)

__all__ = [
    "BAD_TOKEN_ERRCODES",
    "BadResponse",
    "Client",
    "CredentialsRejected",
    "InvalidArgument",
    "IpNotAllowed",
    "NetworkError",
    "NotConfigured",
    "QuotaExhausted",
    "StoreError",
    "TokenTimeout",
    "UpstreamError",
    "WxTokenError",
    "__version__",
    "aio",
    "call",
    "configure",
    "flush_log",
    "get_ticket",
    "get_token",
    "invalidate",
    "invalidate_ticket",
    "jssdk_config",
    "jssdk_signature",
    "status",
]

# wxtoken.aio (and asyncio with it) loads on first use, not with every
# `import wxtoken`. mypy sees the plain import; a module __getattr__ it saw
# would let any misspelt attribute of wxtoken type-check.
if TYPE_CHECKING:
    from wxtoken import aio
else:

    def __getattr__(name: str) -> object:
        if name == "aio":
            import importlib

            return importlib.import_module("wxtoken.aio")
        raise AttributeError(f"module 'wxtoken' has no attribute {name!r}")
