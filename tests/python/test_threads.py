"""Threads: single-flight fetches, the GIL released while waiting, and a business
loop across compressed refresh cycles."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest
import wxtoken
from conftest import Mock, kept_token

THREADS = 64


def run_together(n: int, fn: Callable[[int], Any]) -> list[Any]:
    """Runs fn(i) in n threads released at once; returns results, re-raises the first error."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait(10)
            results[i] = fn(i)
        except BaseException as e:  # noqa: BLE001 - handed to the test thread
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    if errors:
        raise errors[0]
    return results


def test_cold_start_64_threads_fetch_once(mock: Mock) -> None:
    app = mock.configure()
    mock.fault("slow", count=1, delay_ms=300)  # every thread arrives during the fetch
    tokens = run_together(THREADS, lambda _: wxtoken.get_token(app))
    assert len(set(tokens)) == 1
    assert mock.fetches(app) == 1
    assert "ip_list" in mock.check(tokens[0])


def test_invalidate_storm_64_threads_fetch_once(mock: Mock) -> None:
    app = mock.configure()
    bad = wxtoken.get_token(app)
    mock.fault("slow", count=1, delay_ms=300)
    tokens = run_together(THREADS, lambda _: wxtoken.invalidate(app, bad))
    assert len(set(tokens)) == 1
    assert tokens[0] != bad
    assert mock.fetches(app) == 2
    assert "ip_list" in mock.check(tokens[0])


def test_call_storm_after_supersede_fetches_once(mock: Mock) -> None:
    """64 business calls told 40001 at once: one fetch; each refused call retried once, with the new token."""
    client = wxtoken.Client(*mock.new_app(), api_base=mock.url, store="memory")
    old = client.get_token()
    mock.supersede(client.name)
    attempts: list[str] = []

    def business(token: str) -> Any:
        attempts.append(token)
        return mock.check(token)

    results = run_together(THREADS, lambda _: client.call(business))
    assert all("ip_list" in r for r in results)
    assert mock.fetches(client.name) == 2
    # A thread that started after the refresh got the new token straight away.
    refused = attempts.count(old)
    assert refused >= 1
    assert len(attempts) == THREADS + refused
    assert len(set(attempts) - {old}) == 1


@pytest.mark.parametrize("op", ["get_token", "invalidate", "call", "Client.get_token"])
def test_the_gil_is_released_while_a_fetch_is_slow(mock: Mock, op: str) -> None:
    # A fresh app each time: nothing cached, so the call must wait for the fetch.
    appid, secret = mock.new_app()
    if op == "Client.get_token":
        fetch: Callable[[], object] = wxtoken.Client(appid, secret, api_base=mock.url, store="memory").get_token
    else:
        app = wxtoken.configure(appid, secret, api_base=mock.url, store="memory")
        if op == "invalidate":
            current = wxtoken.get_token(app)
            fetch = lambda: wxtoken.invalidate(app, current)  # noqa: E731
        elif op == "call":
            fetch = lambda: wxtoken.call(app, len)  # noqa: E731
        else:
            fetch = lambda: wxtoken.get_token(app)  # noqa: E731
    mock.fault("slow", count=1, delay_ms=1500)
    started, done = threading.Event(), threading.Event()
    failure: list[BaseException] = []
    took = [0.0]

    def worker() -> None:
        started.set()
        t0 = time.monotonic()
        try:
            fetch()
        except BaseException as e:  # noqa: BLE001
            failure.append(e)
        finally:
            took[0] = time.monotonic() - t0
            done.set()

    thread = threading.Thread(target=worker)
    thread.start()
    started.wait()
    increments = 0
    while not done.is_set():  # this thread counts while the other one waits
        increments += 1
    thread.join()
    assert not failure, failure
    assert took[0] >= 1.0, "the fetch was not slow: the test proves nothing"
    # Held, the GIL would stop this thread for the whole fetch (some thousands
    # of increments at most, before the call started); released, it counts millions.
    assert increments > 1_000_000, f"only {increments} increments while a {took[0]:.2f}s fetch ran"


def test_business_loop_across_refresh_cycles(tmp_path: Path) -> None:
    """Tokens live 3 s and are refreshed 1 s before expiry; the old one works 1 s
    after a refresh. Callers looping through 4+ refreshes are never refused."""
    mock = Mock(tmp_path, "--lifetime", "3", "--overlap", "1")
    try:
        appid, secret = mock.new_app()
        app = wxtoken.configure(appid, secret, api_base=mock.url, store="memory", refresh_margin_s=1)
        seen: set[str] = set()
        refused: list[Any] = []
        retried: list[int] = []
        checks = [0]
        lock = threading.Lock()
        deadline = time.monotonic() + 8.5

        class Business:
            """The business call for call(), keeping the tokens it was given."""

            def __init__(self) -> None:
                self.tokens: list[str] = []

            def __call__(self, token: str) -> Any:
                self.tokens.append(token)
                return mock.check(token)

        def loop(i: int) -> None:
            while time.monotonic() < deadline:
                if i == 0:  # one caller through call(): it must never need its retry
                    business = Business()
                    answer = wxtoken.call(app, business)
                    token = business.tokens[-1]
                    if len(business.tokens) > 1:
                        with lock:
                            retried.append(len(business.tokens))
                else:
                    token = wxtoken.get_token(app)
                    answer = mock.check(token)
                with lock:
                    checks[0] += 1
                    seen.add(token)
                    if "ip_list" not in answer:
                        refused.append(answer)
                time.sleep(0.02)

        run_together(4, loop)
        stats = mock.stats()
        fetches = mock.fetches(appid)
    finally:
        mock.stop()
    assert refused == []
    assert retried == []
    assert stats["checks"]["40001"] == stats["checks"]["42001"] == stats["checks"]["40014"] == 0
    assert checks[0] > 100
    assert stats["checks"]["ok"] == checks[0]
    # 8.5 s at one refresh every ~2 s: 4 or 5 fetches, one per token, no storm.
    assert 4 <= fetches <= 6, fetches
    assert len(seen) == fetches


def test_a_forked_child_keeps_the_token_and_can_refresh(mock: Mock) -> None:
    """multiprocessing's fork start method: the child neither hangs nor refetches,
    and never hands out the str kept in the parent (the parent's marker, which
    kept it fresh, is not in the child)."""
    app = mock.configure()
    token = wxtoken.get_token(app)
    kept = kept_token(app)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running the parent's cleanup
        code = 1
        try:
            os.close(read_end)
            same = wxtoken.get_token(app)
            if same is kept:
                same = "the str kept in the parent"
            fresh = wxtoken.invalidate(app, same)
            os.write(write_end, json.dumps([same, fresh]).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    deadline = time.monotonic() + 20
    while (waited := os.waitpid(pid, os.WNOHANG))[0] == 0:
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung")
        time.sleep(0.02)
    with os.fdopen(read_end, "rb") as pipe:
        report = pipe.read()
    assert os.waitstatus_to_exitcode(waited[1]) == 0
    same, fresh = json.loads(report)
    assert same == token
    assert fresh != token
    assert mock.fetches(app) == 2
