"""multiprocessing with the fork start method on the file store: pool workers
forked after the parent fetched keep its token at once, never hang on the
parent's threads, and a bad token reported by all of them costs one fetch."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import wxtoken
from conftest import Mock


def _get(app: str) -> tuple[int, str]:
    token = wxtoken.get_token(app)
    # Hold the worker a moment so the pool spreads the tasks: a get is so
    # fast that one worker could otherwise drain all 32 before the others run.
    time.sleep(0.05)
    return os.getpid(), token


def _report(args: tuple[str, str]) -> str:
    app, bad = args
    return wxtoken.invalidate(app, bad)


def test_a_fork_pool_keeps_the_parents_token_and_shares_one_refresh(mock: Mock, tmp_path: Path) -> None:
    app = mock.configure(store=f"file:{tmp_path / 'store'}")
    token = wxtoken.get_token(app)  # fetched; the parent's refresher thread is running
    with multiprocessing.get_context("fork").Pool(4) as pool:
        got = pool.map_async(_get, [app] * 32, chunksize=1).get(timeout=20)
        assert {t for _, t in got} == {token}, "every worker inherited the token"
        assert len({pid for pid, _ in got}) >= 2, "the work really ran in several processes"
        assert mock.fetches(app) == 1, "no worker fetched"

        mock.supersede(app)
        assert mock.check(token).get("errcode") == 40001
        fresh = pool.map_async(_report, [(app, token)] * 32, chunksize=1).get(timeout=20)
        assert len(set(fresh)) == 1 and fresh[0] != token
        assert mock.fetches(app) == 2, "32 reports from 4 processes: one refresh"
        assert "ip_list" in mock.check(fresh[0])

    # The parent picks up the workers' refresh from the store (500 ms poll).
    deadline = time.monotonic() + 2
    while wxtoken.get_token(app) != fresh[0]:
        assert time.monotonic() < deadline, "the parent never adopted the new token"
        time.sleep(0.02)
    assert mock.fetches(app) == 2
