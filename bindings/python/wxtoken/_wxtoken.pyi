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
