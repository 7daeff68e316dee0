"""wxtoken.aio under asyncio: a fresh token stays on the loop, a slow or hanging
upstream never stalls it, a cancelled await leaves no stuck refresh, and call()
follows wxtoken.call's bad-token rule.

The loop's largest stall is measured by a ticker coroutine that sleeps 5 ms at a
time: the issue's bound is "tens of milliseconds" while a refresh takes seconds
(a blocking get_token in a coroutine stalled the loop for the whole refresh).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import inspect
import subprocess
import sys
import warnings
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import pytest
import wxtoken
from conftest import Mock
from test_api import BAD_ERRCODES, ApiError, ApiResult
from test_tickets import ticket_calls
from wxtoken import aio

T = TypeVar("T")

STALL_BOUND_S = 0.1
SLOW_MS = 1500


class Measured:
    def __init__(self) -> None:
        self.stall_s = 0.0
        self.elapsed_s = 0.0


async def measured(work: Awaitable[T], into: Measured) -> T:
    """Awaits work while a ticker records the loop's largest stall."""
    loop = asyncio.get_running_loop()
    done = asyncio.Event()

    async def ticker() -> None:
        last = loop.time()
        while not done.is_set():
            await asyncio.sleep(0.005)
            now = loop.time()
            into.stall_s = max(into.stall_s, now - last)
            last = now

    tick = asyncio.ensure_future(ticker())
    await asyncio.sleep(0.02)  # the ticker runs before the work starts
    start = loop.time()
    try:
        return await work
    finally:
        into.elapsed_s = loop.time() - start
        done.set()
        await tick


class CountingExecutor(concurrent.futures.ThreadPoolExecutor):
    """The loop's default executor, counting the jobs it is given."""

    def __init__(self) -> None:
        super().__init__(max_workers=4)
        self.jobs = 0

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[T]:
        self.jobs += 1
        return super().submit(fn, *args, **kwargs)


def run(main: Callable[[CountingExecutor], Coroutine[Any, Any, T]]) -> T:
    """asyncio.run(main(executor)) with a counting default executor."""
    executor = CountingExecutor()

    async def with_executor() -> T:
        asyncio.get_running_loop().set_default_executor(executor)
        return await main(executor)

    return asyncio.run(with_executor())


# --- the fast path -------------------------------------------------------------------------


def test_aio_is_exported() -> None:
    assert "aio" in wxtoken.__all__ and wxtoken.aio is aio
    for name in aio.__all__:
        assert inspect.iscoroutinefunction(getattr(aio, name)), name


def test_import_wxtoken_loads_no_asyncio() -> None:
    """asyncio loads only when wxtoken.aio runs: a WSGI app's `import wxtoken` stays light."""
    code = """
import sys, wxtoken
assert "asyncio" not in sys.modules, "loaded with wxtoken"
first = wxtoken.aio
assert "asyncio" not in sys.modules, "loaded with wxtoken.aio"
import wxtoken.aio
from wxtoken import aio
assert first is aio is wxtoken.aio is sys.modules["wxtoken.aio"]
import asyncio
try:
    asyncio.run(aio.get_token("never-configured"))
except wxtoken.NotConfigured:
    pass
else:
    raise AssertionError("a token for an app never configured")
try:
    wxtoken.no_such_name
except AttributeError as e:
    assert "no_such_name" in str(e), e
else:
    raise AssertionError("wxtoken.no_such_name")
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_a_fresh_token_needs_no_thread(mock: Mock) -> None:
    app = mock.configure()

    async def main(executor: CountingExecutor) -> None:
        first = await aio.get_token(app)
        assert executor.jobs == 1, "the first token is fetched in a thread"
        for _ in range(200):
            assert await aio.get_token(app) == first
        assert executor.jobs == 1, "a fresh token is answered on the loop"
        assert first == wxtoken.get_token(app)

    run(main)
    assert mock.fetches(app) == 1


# --- slow and hanging upstreams ------------------------------------------------------------


def test_a_blocking_get_token_stalls_the_loop(mock: Mock) -> None:
    """The measure itself: what the issue saw, and what aio must not do."""
    app = mock.configure()
    mock.fault("slow", delay_ms=SLOW_MS)
    m = Measured()

    async def blocking() -> str:
        return wxtoken.get_token(app)

    run(lambda _: measured(blocking(), m))
    assert m.stall_s > 1.0, f"the ticker missed a {m.elapsed_s:.2f} s blocking call"


def test_a_slow_upstream_does_not_stall_the_loop(mock: Mock) -> None:
    app = mock.configure()
    mock.fault("slow", delay_ms=SLOW_MS)
    m = Measured()

    async def main(executor: CountingExecutor) -> list[str]:
        # 50 coroutines want the token at once: one job, one fetch.
        return await measured(asyncio.gather(*(aio.get_token(app) for _ in range(50))), m)

    tokens = run(main)
    assert m.elapsed_s > 1.0, "the refresh was slow"
    assert m.stall_s < STALL_BOUND_S, f"the loop stalled {m.stall_s * 1000:.0f} ms"
    assert len(set(tokens)) == 1 and tokens[0] == wxtoken.get_token(app)
    assert mock.fetches(app) == 1


def test_concurrent_awaits_share_one_thread(mock: Mock) -> None:
    app = mock.configure()
    mock.fault("slow", delay_ms=300)

    async def main(executor: CountingExecutor) -> None:
        await asyncio.gather(*(aio.get_token(app) for _ in range(50)))
        assert executor.jobs == 1

    run(main)


def test_a_hanging_upstream_does_not_stall_the_loop(mock: Mock) -> None:
    app = mock.configure(timeout_ms=1000, wait_ms=2000)
    mock.fault("hang")
    m = Measured()
    with pytest.raises(wxtoken.TokenTimeout):
        run(lambda _: measured(aio.get_token(app), m))
    assert m.elapsed_s > 1.9, "get_token waited wait_ms"
    assert m.stall_s < STALL_BOUND_S, f"the loop stalled {m.stall_s * 1000:.0f} ms"
    mock.fault("none")
    assert run(lambda _: aio.get_token(app)) == wxtoken.get_token(app)


# --- cancellation --------------------------------------------------------------------------


def test_a_cancelled_await_leaves_no_stuck_refresh(mock: Mock) -> None:
    app = mock.configure(timeout_ms=1000)
    mock.fault("hang", count=1)  # the first fetch hangs, the next is answered
    m = Measured()

    async def main(executor: CountingExecutor) -> str:
        waiting = asyncio.ensure_future(aio.get_token(app))
        await asyncio.sleep(0.2)
        assert not waiting.done()
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        # The refresh goes on in its thread: its retry serves the next call.
        token = await measured(aio.get_token(app), m)
        status = await aio.status(app)
        assert status["refreshing"] is False and status["last_error"] is None
        return token

    token = run(main)
    assert token == wxtoken.get_token(app)
    assert mock.fetches(app) == 2, "the hung fetch and its retry, nothing more"
    assert m.stall_s < STALL_BOUND_S


def test_cancelling_one_waiter_leaves_the_others_their_token(mock: Mock) -> None:
    app = mock.configure()
    mock.fault("slow", delay_ms=500)

    async def main(executor: CountingExecutor) -> None:
        left = asyncio.ensure_future(aio.get_token(app))
        stays = asyncio.ensure_future(aio.get_token(app))
        await asyncio.sleep(0.1)
        left.cancel()
        assert await stays == wxtoken.get_token(app)
        assert left.cancelled()
        assert executor.jobs == 1

    run(main)
    assert mock.fetches(app) == 1


def test_a_cancelled_call_leaves_no_stuck_refresh(mock: Mock) -> None:
    app = mock.configure(timeout_ms=1000)
    wxtoken.get_token(app)
    mock.supersede(app)
    mock.fault("hang", count=1)  # the refresh after the 40001 hangs once
    seen: list[str] = []

    async def business(token: str) -> Any:
        seen.append(token)
        return await asyncio.to_thread(mock.check, token)

    async def main(executor: CountingExecutor) -> Any:
        calling = asyncio.ensure_future(aio.call(app, business))
        await asyncio.sleep(0.3)  # in the invalidate, waiting on the hung refresh
        calling.cancel()
        with pytest.raises(asyncio.CancelledError):
            await calling
        return await aio.call(app, business)

    result = run(main)
    assert "ip_list" in result
    assert len(seen) == 3 and seen[2] != seen[0]
    assert mock.fetches(app) == 3, "first token, the hung refresh, its retry"


# --- call ----------------------------------------------------------------------------------


class AsyncRecorder:
    """An async business function answering (or raising) from a script."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.tokens: list[str] = []

    async def __call__(self, token: str) -> Any:
        self.tokens.append(token)
        await asyncio.sleep(0)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, BaseException):
            raise answer
        return answer


def test_call_against_a_superseded_token_retries_once(mock: Mock) -> None:
    app = mock.configure()
    t1 = wxtoken.get_token(app)
    mock.supersede(app)
    seen: list[str] = []

    async def business(token: str) -> Any:
        seen.append(token)
        return await asyncio.to_thread(mock.check, token)

    result = run(lambda _: aio.call(app, business))
    assert "ip_list" in result
    assert seen[0] == t1 and len(seen) == 2 and seen[1] != t1
    assert mock.fetches(app) == 2


# Answers of every shape: the async call must retry exactly when wxtoken.call does.
ANSWERS: list[Any] = [
    *({"errcode": e} for e in BAD_ERRCODES),
    *(ApiError(e) for e in BAD_ERRCODES),
    ApiResult(errcode=42001),
    {"errcode": 45009},
    {"errcode": "+40001"},
    {"errcode": "040001"},
    {"errcode": True},
    {"errcode": 40001.0},
    {"errcode": b"40001"},
    ["errcode", 40001],
    None,
    "40001",
    ApiError(45009),
    ApiError("4e4"),
    ValueError("no errcode"),
]


@pytest.mark.parametrize("answer", ANSWERS, ids=repr)
def test_call_follows_the_rule_of_wxtoken_call(mock: Mock, answer: Any) -> None:
    app = mock.configure()
    sync_tokens: list[str] = []

    def sync_fn(token: str) -> Any:
        sync_tokens.append(token)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def outcome(fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except BaseException as e:
            return e

    sync_result = outcome(lambda: wxtoken.call(app, sync_fn))
    fetches = mock.fetches(app)
    async_fn = AsyncRecorder(answer)
    async_result = outcome(lambda: run(lambda _: aio.call(app, async_fn)))
    assert len(async_fn.tokens) == len(sync_tokens) in (1, 2)
    assert async_result is sync_result or async_result == sync_result
    # A retry refreshed once, as the sync retry did.
    assert mock.fetches(app) - fetches == len(sync_tokens) - 1
    if len(async_fn.tokens) == 2:
        assert async_fn.tokens[1] != async_fn.tokens[0]


def test_call_returns_the_second_answer_as_it_is(mock: Mock) -> None:
    app = mock.configure()
    fn = AsyncRecorder({"errcode": 40001}, {"errcode": 42001})
    assert run(lambda _: aio.call(app, fn)) == {"errcode": 42001}
    second = ApiError(40014)
    fn = AsyncRecorder(ApiError(40001), second)
    with pytest.raises(ApiError) as info:
        run(lambda _: aio.call(app, fn))
    assert info.value is second
    assert len(fn.tokens) == 2
    assert mock.fetches(app) == 3


def test_call_passes_cancellation_through(mock: Mock) -> None:
    app = mock.configure()
    fn = AsyncRecorder(asyncio.CancelledError())
    with pytest.raises(asyncio.CancelledError):
        run(lambda _: aio.call(app, fn))
    assert len(fn.tokens) == 1


def test_call_needs_an_async_function(mock: Mock) -> None:
    app = mock.configure()
    with pytest.raises(TypeError, match="wxtoken.call"):
        run(lambda _: aio.call(app, len))  # type: ignore[arg-type]


def test_sync_call_refuses_an_async_function(mock: Mock) -> None:
    app = mock.configure()
    fn = AsyncRecorder({"errcode": 40001})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # (Assigned: mypy rightly sees a coroutine left unawaited.)
        with pytest.raises(TypeError, match=r"wxtoken\.aio\.call"):
            _ = wxtoken.call(app, fn)
        with pytest.raises(TypeError, match=r"wxtoken\.aio\.call"):
            _ = wxtoken.call(app, lambda token: fn(token))
        gc.collect()
    assert not [w for w in caught if "never awaited" in str(w.message)], "the coroutines were closed"
    assert fn.tokens == [], "closed before it ran"
    assert mock.fetches(app) == 1, "no retry"


# --- the other functions -------------------------------------------------------------------


def test_invalidate_status_and_tickets(mock: Mock) -> None:
    app = mock.configure()

    async def main(executor: CountingExecutor) -> None:
        t1 = await aio.get_token(app)
        t2 = await aio.invalidate(app, t1)
        assert t2 != t1 and t2 == await aio.get_token(app)
        assert await aio.invalidate(app, t1) == t2, "a stale report fetches nothing"
        assert (await aio.status(app))["stats"]["upstream_calls"] == 2
        ticket = await aio.get_ticket(app, "jsapi")
        assert ticket == wxtoken.get_ticket(app, "jsapi")
        status = await aio.status(app)
        generation = status["tickets"]["jsapi"]["token"]["generation"]
        again = await aio.invalidate_ticket(app, "jsapi", ticket)
        # The platform may hand the same ticket back: the refetch is what counts.
        assert (await aio.status(app))["tickets"]["jsapi"]["token"]["generation"] > generation
        config = await aio.jssdk_config(app, "https://example.com/p")
        assert config["signature"] == wxtoken.jssdk_signature(
            again, config["nonceStr"], config["timestamp"], "https://example.com/p"
        )

    run(main)
    assert mock.fetches(app) == 2
    assert ticket_calls(mock, app, "jsapi") == 2


def test_pages_waiting_on_a_hanging_ticket_hold_one_thread(mock: Mock) -> None:
    app = mock.configure(timeout_ms=1000)
    wxtoken.get_token(app)  # the token is fresh: only the ticket fetch hangs
    mock.fault("hang", count=1)  # the first ticket fetch hangs; its retry is answered
    url = "https://example.com/page"
    m = Measured()

    async def main(executor: CountingExecutor) -> list[Any]:
        pages = [asyncio.ensure_future(aio.jssdk_config(app, url)) for _ in range(20)]
        await asyncio.sleep(0.5)
        assert not any(p.done() for p in pages), "the ticket fetch hangs"
        assert executor.jobs == 1, f"{executor.jobs} executor jobs for one ticket fetch"
        return await measured(asyncio.gather(*pages), m)

    configs = run(main)
    ticket = wxtoken.get_ticket(app, "jsapi")
    assert ticket_calls(mock, app, "jsapi") == 2, "the hung fetch and its retry, nothing more"
    assert len({c["nonceStr"] for c in configs}) == len(configs), "each page its own nonce"
    for c in configs:
        assert c["signature"] == wxtoken.jssdk_signature(ticket, c["nonceStr"], c["timestamp"], url)
    assert m.stall_s < STALL_BOUND_S, f"the loop stalled {m.stall_s * 1000:.0f} ms"


def test_errors_are_raised_by_the_await(mock: Mock) -> None:
    with pytest.raises(wxtoken.NotConfigured):
        run(lambda _: aio.get_token("wx_never_configured_aio"))
    with pytest.raises(wxtoken.InvalidArgument):
        run(lambda _: aio.get_ticket(mock.configure(), "nope"))  # type: ignore[arg-type]

