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

# A plain attribute, imported with the package: a module __getattr__ that
# deferred it made every `wxtoken.get_token` lookup 13 ns slower (it turns
# off CPython's attribute specialisation for the module). aio imports
# asyncio only when one of its functions runs.
from wxtoken import aio

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
