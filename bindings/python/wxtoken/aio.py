"""wxtoken for asyncio: the functions of :mod:`wxtoken`, awaitable.

    from wxtoken import aio

    token = await aio.get_token(app)
    result = await aio.call(app, my_async_api)   # retried once on a bad token

A fresh token is answered on the event loop itself (a map lookup, no lock, no
thread hop). What may wait (a refresh, the store, a ticket fetch; invalidate,
status and the ticket functions always) runs in the loop's default executor, so
the loop never stalls on the network. The
token logic stays in the core: these are the blocking functions of
:mod:`wxtoken`, moved off the loop.

Cancelling an await cancels the wait, not the refresh: the refresh in flight
finishes in its thread and its token serves the next call. Concurrent awaits of
the same slow call share one executor job, so a hanging upstream holds one
thread per app, not one per waiting coroutine.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from wxtoken import _wxtoken

if TYPE_CHECKING:
    # asyncio itself is imported where it is used: `import wxtoken` imports
    # this module (a module __getattr__ to defer it made every `wxtoken.x`
    # lookup 13 ns slower) but must not load asyncio into a WSGI app.
    import asyncio

    from wxtoken._wxtoken import JssdkConfig, TicketKind

__all__ = ["call", "get_ticket", "get_token", "invalidate", "invalidate_ticket", "jssdk_config", "status"]

_T = TypeVar("_T")

# The executor jobs in flight, per loop, by (function, arguments).
_jobs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], asyncio.Future[Any]]] = (
    weakref.WeakKeyDictionary()
)


async def _off_loop(fn: Callable[..., _T], *args: str) -> _T:
    """fn(*args) in the loop's default executor; awaits of the same call share one job."""
    import asyncio

    loop = asyncio.get_running_loop()
    jobs = _jobs.setdefault(loop, {})
    key = (fn, *args)
    job = jobs.get(key)
    if job is None:
        job = loop.run_in_executor(None, fn, *args)
        jobs[key] = job
        job.add_done_callback(lambda done: _finished(jobs, key, done))
    # shield: one cancelled caller must not cancel the job the others await.
    result: _T = await asyncio.shield(job)
    return result


def _finished(jobs: dict[tuple[Any, ...], asyncio.Future[Any]], key: tuple[Any, ...], job: asyncio.Future[Any]) -> None:
    if jobs.get(key) is job:
        del jobs[key]
    if not job.cancelled():
        job.exception()  # retrieved: no "exception never retrieved" when every caller left


async def get_token(app: str) -> str:
    """A token the platform accepts now (see :func:`wxtoken.get_token`). A fresh
    one is answered without leaving the loop; otherwise the wait for the refresh
    (at most ``wait_ms``) happens in a thread."""
    token = _wxtoken._fresh_token(app)
    if token is not None:
        return token
    return await _off_loop(_wxtoken.get_token, app)


async def invalidate(app: str, bad_token: str) -> str:
    """Reports bad_token as refused (40001/40014/42001); returns a good token
    (see :func:`wxtoken.invalidate`)."""
    return await _off_loop(_wxtoken.invalidate, app, bad_token)


async def status(app: str) -> dict[str, Any]:
    """The app's state, never the token or the secret (see :func:`wxtoken.status`)."""
    return await _off_loop(_wxtoken.status, app)


async def call(app: str, fn: Callable[[str], Awaitable[_T]]) -> _T:
    """Awaits fn(token); on a bad-token errcode (the rule of :func:`wxtoken.call`:
    an int or decimal str, returned in a mapping's "errcode" or raised as an
    ``errcode`` attribute), invalidates that token and awaits fn once more with
    the new one; that result (or exception) goes back as it is.

    fn must be an async function: a plain one is refused with TypeError only
    once it has returned, so it has run once by then (with whatever it did,
    a business call included). Use :func:`wxtoken.call` for a plain one."""
    token = await get_token(app)
    try:
        result = await _awaited(fn, token)
    except BaseException as e:  # as wxtoken.call: any exception may carry the errcode
        if not _wxtoken._is_bad_token_error(e):
            raise
    else:
        if not _wxtoken._is_bad_token_result(result):
            return result
    return await _awaited(fn, await invalidate(app, token))


async def _awaited(fn: Callable[[str], Awaitable[_T]], token: str) -> _T:
    # Only the returned value shows fn is not async: a plain fn has already run.
    pending = fn(token)
    if not isinstance(pending, Awaitable):
        raise TypeError(
            f"fn returned {type(pending).__name__}, not an awaitable: "
            "wxtoken.aio.call awaits an async function; for a plain one use wxtoken.call"
        )
    return await pending


async def get_ticket(app: str, kind: TicketKind) -> str:
    """The app's ticket of kind (see :func:`wxtoken.get_ticket`), from a thread."""
    return await _off_loop(_wxtoken.get_ticket, app, kind)


async def invalidate_ticket(app: str, kind: TicketKind, bad_ticket: str) -> str:
    """Reports bad_ticket as refused; returns a good ticket (see
    :func:`wxtoken.invalidate_ticket`)."""
    return await _off_loop(_wxtoken.invalidate_ticket, app, kind, bad_ticket)


async def jssdk_config(app: str, url: str) -> JssdkConfig:
    """The wx.config object for the page at url (see :func:`wxtoken.jssdk_config`).

    The jsapi_ticket comes first, from the job :func:`get_ticket` shares: pages
    waiting on a slow or hanging ticket fetch hold one thread, not one each.
    The core then signs with that ticket at hand and a fresh nonce per call (so
    the signing is not shared), in a thread of its own as the core's calls may
    wait."""
    import asyncio

    await _off_loop(_wxtoken.get_ticket, app, "jsapi")
    return await asyncio.get_running_loop().run_in_executor(None, _wxtoken.jssdk_config, app, url)
