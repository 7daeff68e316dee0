"""The exceptions wxtoken raises: one class per kind of failure.

Every failure of the token machinery is a :class:`WxTokenError`; catch a
subclass to act on one kind. ``errcode`` is WeChat's errcode when the platform
answered one (else 0), ``errmsg`` its message (or wxtoken's), and ``kind`` the
snake_case name shared by every binding (C, PHP, the CLI's JSON).
"""

from __future__ import annotations

from typing import ClassVar


class WxTokenError(Exception):
    """A wxtoken operation failed. ``str(e)`` says what, with the errcode."""

    kind: ClassVar[str] = "error"
    errcode: int
    errmsg: str

    def __init__(self, message: str = "", errcode: int = 0, errmsg: str | None = None) -> None:
        # One argument: OSError's subclasses (TokenTimeout, NetworkError) would
        # read (message, errcode) as (errno, strerror).
        super().__init__(message)
        self.errcode = errcode
        self.errmsg = message if errmsg is None else errmsg

    def __reduce__(self) -> tuple[type[WxTokenError], tuple[str, int, str]]:
        # Keeps errcode and errmsg across pickling (multiprocessing).
        message = str(self.args[0]) if self.args else ""
        return (type(self), (message, self.errcode, self.errmsg))


class CredentialsRejected(WxTokenError):
    """appid or secret rejected (40001, 40013, 40125, ...). Not retried: cooled down."""

    kind = "credentials_rejected"


class IpNotAllowed(WxTokenError):
    """This machine's IP is not on the account's allow-list (40164, 60020, ...)."""

    kind = "ip_not_allowed"


class QuotaExhausted(WxTokenError):
    """The daily or per-minute token quota is spent (45009, 45011)."""

    kind = "quota_exhausted"


class UpstreamError(WxTokenError):
    """The platform answered busy (-1), an HTTP 5xx or an unknown errcode."""

    kind = "upstream"


class NetworkError(WxTokenError, ConnectionError):
    """Could not connect to the platform, or the connection broke.

    Also a :class:`ConnectionError`, so code that already handles network
    failures catches it.
    """

    kind = "network"


class TokenTimeout(WxTokenError, TimeoutError):
    """An upstream call, or the wait for a refresh (``wait_ms``), ran out of time.

    Also a :class:`TimeoutError`, like the standard library's timeouts.
    """

    kind = "timeout"


class BadResponse(WxTokenError):
    """The platform answered something that is not a token response."""

    kind = "bad_response"


class StoreError(WxTokenError):
    """The shared store (file, redis) could not be read, written or locked."""

    kind = "store"


class NotConfigured(WxTokenError):
    """No app of that name was configured (and the environment names none)."""

    kind = "not_configured"


class InvalidArgument(WxTokenError, ValueError):
    """A bad argument or option value (empty appid, unknown option, ...)."""

    kind = "invalid_argument"


#: The class raised for each ``kind``; the extension module looks it up here.
BY_KIND: dict[str, type[WxTokenError]] = {
    cls.kind: cls
    for cls in (
        CredentialsRejected,
        IpNotAllowed,
        QuotaExhausted,
        UpstreamError,
        NetworkError,
        TokenTimeout,
        BadResponse,
        StoreError,
        NotConfigured,
        InvalidArgument,
    )
}

# Shown (in tracebacks, reprs, pickles) under the package that exports them.
for _cls in (WxTokenError, *BY_KIND.values()):
    _cls.__module__ = "wxtoken"
del _cls
