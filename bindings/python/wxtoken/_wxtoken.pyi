# Type stubs for the extension module built from src/python.rs.
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
    """Registers an app (or replaces its configuration); returns its name."""

def get_token(app: str) -> str:
    """A token the platform accepts now."""

def invalidate(app: str, bad_token: str) -> str:
    """Reports bad_token as refused (40001/40014/42001); returns the good token."""

def status(app: str) -> dict[str, Any]:
    """The app's state (never the token or the secret)."""

def call(app: str, fn: Callable[[str], _T]) -> _T:
    """Runs fn(token); on a bad-token errcode, invalidates and runs it once more."""

@final
class Client:
    """One configured app."""

    def __init__(self, appid: str | None = None, secret: str | None = None, **options: Unpack[Options]) -> None: ...
    @property
    def name(self) -> str: ...
    def get_token(self) -> str: ...
    def invalidate(self, bad_token: str) -> str: ...
    def status(self) -> dict[str, Any]: ...
    def call(self, fn: Callable[[str], _T]) -> _T: ...
