# Type stubs for the extension module built from bindings/python/src/lib.rs.
from typing import Any, Callable, Final, Literal, TypeVar, final

from typing_extensions import TypedDict, Unpack

_T = TypeVar("_T")

__version__: Final[str]
#: The errcodes with which a business API says the access_token is bad.
BAD_TOKEN_ERRCODES: Final[frozenset[int]]

class Options(TypedDict, total=False):
    """configure()'s keyword options; each falls back to its WXTOKEN_* variable."""

    name: str
    platform: Literal["mp", "wecom"]
    mode: Literal["token", "stable"]
    api_base: str
    store: str
    refresh_margin_s: int
    timeout_ms: int
    wait_ms: int
    key_prefix: str
    redis_ca_file: str
    daily_fetch_budget: int

def configure(appid: str | None = None, secret: str | None = None, **options: Unpack[Options]) -> str:
    """Registers an app (or replaces its configuration); returns its name.

    appid and secret of None take WXTOKEN_APPID / WXTOKEN_SECRET. Options (each
    left out falls back to its WXTOKEN_* variable, then to the default): name,
    platform ("mp", "wecom"), mode ("token", "stable"), api_base, store
    ("memory", "file", "file:/dir", "redis://..."), refresh_margin_s (0..7200),
    timeout_ms (1..60000), wait_ms (0..600000), key_prefix, redis_ca_file,
    daily_fetch_budget (1..2000). Raises InvalidArgument for a bad one.
    """

def get_token(app: str) -> str:
    """A token the platform accepts now."""

def invalidate(app: str, bad_token: str) -> str:
    """Reports bad_token as refused (40001/40014/42001); returns the good token."""

def status(app: str) -> dict[str, Any]:
    """The app's state (never the token or the secret)."""

def call(app: str, fn: Callable[[str], _T]) -> _T:
    """Runs fn(token); on a bad-token errcode (int or decimal str, returned in a
    mapping's "errcode" or raised as an errcode attribute), invalidates and runs
    it once more."""

def _fresh_token(app: str) -> str | None:
    """The token if a fresh one is at hand, else None; never waits (wxtoken.aio)."""

def _is_bad_token_result(value: object) -> bool:
    """call()'s rule for a returned value: a mapping whose "errcode" is a bad-token errcode."""

def _is_bad_token_error(error: BaseException) -> bool:
    """call()'s rule for a raised exception: an errcode attribute that is a bad-token errcode."""

def _default_wecom_name(corpid: str, secret: str) -> str:
    """The default name of a WeCom application: the corp id and a short hash of the secret."""

#: A ticket kind: Official Accounts have "jsapi" and "wx_card"; WeCom has
#: "jsapi" and "agent_config".
TicketKind = Literal["jsapi", "wx_card", "agent_config"]

class JssdkConfig(TypedDict):
    """What a page passes to wx.config."""

    appId: str
    timestamp: int
    nonceStr: str
    signature: str

def get_ticket(app: str, kind: TicketKind) -> str:
    """The app's ticket of kind, with the token's contract (one fetch for every
    thread and process sharing the store). Raises InvalidArgument for an unknown
    kind or one the app's platform lacks."""

def invalidate_ticket(app: str, kind: TicketKind, bad_ticket: str) -> str:
    """Reports bad_ticket as refused; returns a good ticket (one refetch if
    bad_ticket is still current, else the current one with no upstream call)."""

def jssdk_signature(ticket: str, noncestr: str, timestamp: int, url: str) -> str:
    """SHA-1 hex of "jsapi_ticket=T&noncestr=N&timestamp=TS&url=URL", the URL's
    #fragment dropped. Pure: no app, no network."""

def jssdk_config(app: str, url: str) -> JssdkConfig:
    """The wx.config object for the page at url: {"appId", "timestamp",
    "nonceStr", "signature"}, signed with the app's jsapi_ticket."""

@final
class Client:
    """One configured app: takes the arguments of configure(), holds its name."""

    def __init__(self, appid: str | None = None, secret: str | None = None, **options: Unpack[Options]) -> None:
        """Configures the app as configure() does."""
    @property
    def name(self) -> str:
        """The app's name, as the module-level functions take it."""
    def get_token(self) -> str:
        """A token the platform accepts now (see get_token)."""
    def invalidate(self, bad_token: str) -> str:
        """Reports bad_token as refused; returns a good token (see invalidate)."""
    def status(self) -> dict[str, Any]:
        """The app's state, never the token or the secret (see status)."""
    def call(self, fn: Callable[[str], _T]) -> _T:
        """Runs fn(token), once more on a bad-token errcode (see call)."""
    def get_ticket(self, kind: TicketKind) -> str:
        """The app's ticket of kind (see get_ticket)."""
    def invalidate_ticket(self, kind: TicketKind, bad_ticket: str) -> str:
        """Reports bad_ticket as refused; returns a good ticket (see invalidate_ticket)."""
    def jssdk_config(self, url: str) -> JssdkConfig:
        """The wx.config object for the page at url (see jssdk_config)."""

def flush_log(timeout: float = 1.0) -> bool:
    """Waits up to timeout seconds until the "wxtoken" logger has every record made so far."""

def _set_log_sink(
    emit: Callable[[int, str, str, str, dict[str, Any], int], None] | None,
    enabled: Callable[[int], bool] | None = None,
) -> None:
    """Internal: wxtoken/_log.py installs its emitter here, asked enabled(levelno) first (None removes it)."""
