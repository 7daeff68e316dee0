"""os.fork in a loop while threads run every entry point: a child forked
while another thread was inside one of wxtoken's locks used to block on it
forever (1 in 30 from Python). Each child calls every entry point and must
exit within a bound; the parent kills and counts the ones that do not."""

from __future__ import annotations

import os
import signal
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import wxtoken
from conftest import Mock

FORKS = 60
CHILD_BOUND_S = 10.0


def _child(mem: str, file_app: str, own: str) -> int:
    """0 when every call returned and the child's own refresh worked (under
    a name of its own: no cool-down or ceiling inherited from the parent's
    storm); the other refreshes may fail, but no call may hang. 1: the
    cached token is gone, 2: the child's own refresh failed."""
    calls: list[Callable[[], object]] = [
        lambda: wxtoken.status(mem),
        lambda: wxtoken.invalidate(mem, "stale-in-the-child"),
        lambda: wxtoken.invalidate(mem, wxtoken.get_token(mem)),  # a refresh of its own
        lambda: wxtoken.get_token(file_app),
        lambda: wxtoken.invalidate(file_app, "stale-in-the-child"),
        lambda: wxtoken.status(file_app),
    ]
    try:
        wxtoken.get_token(mem)
    except wxtoken.WxTokenError:
        return 1
    for call in calls:
        try:
            call()
        except wxtoken.WxTokenError:
            pass
    try:
        before = wxtoken.get_token(own)
        if wxtoken.invalidate(own, before) == before:
            return 2
    except wxtoken.WxTokenError:
        return 2
    return 0


def _wait(pid: int) -> int | None:
    """The child's exit status, or None when it hung and was killed."""
    deadline = time.monotonic() + CHILD_BOUND_S
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.001)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


def test_children_forked_during_a_storm_of_calls_never_hang(mock: Mock, tmp_path: Path) -> None:
    appid, secret = mock.new_app()
    # The storm refreshes one app hundreds of times: a daily fetch budget of
    # the simulator's quota, not the default 500.
    opts: dict[str, Any] = {"api_base": mock.url, "store": "memory", "wait_ms": 3000, "timeout_ms": 2000,
                            "daily_fetch_budget": 2000}
    mem = wxtoken.configure(appid, secret, **opts)
    file_app = mock.configure(store=f"file:{tmp_path / 'store'}", wait_ms=3000, timeout_ms=2000)
    wxtoken.get_token(mem)
    wxtoken.get_token(file_app)
    mock.fault("slow", count=1_000_000, delay_ms=20)  # flights and leases stay open
    stop = threading.Event()

    def hammer(n: int) -> None:
        i = 0
        while not stop.is_set():
            app = mem if (i + n) % 2 == 0 else file_app
            try:
                wxtoken.get_token(app)
                wxtoken.invalidate(app, "no-longer-current")
                wxtoken.status(app)
                if i % 40 == n:
                    wxtoken.invalidate(app, wxtoken.get_token(app))
                if i % 10 == 0:
                    # The registry's writer, and a real refresh under a
                    # ceiling of its own (the two apps soon reach theirs).
                    name = wxtoken.configure(appid, secret, name=f"storm-{n}-{i}", **opts)
                    wxtoken.invalidate(name, wxtoken.get_token(name))
            except wxtoken.WxTokenError:
                pass
            i += 1

    threads = [threading.Thread(target=hammer, args=(n,), daemon=True) for n in range(4)]
    for t in threads:
        t.start()
    hung, failed = 0, []
    try:
        time.sleep(0.1)
        with warnings.catch_warnings():
            # Python 3.12 warns about forking a threaded process: that is the point.
            warnings.simplefilter("ignore", DeprecationWarning)
            for _ in range(FORKS):
                pid = os.fork()
                if pid == 0:
                    try:
                        own = wxtoken.configure(appid, secret, name="storm-child", **opts)
                        code = _child(mem, file_app, own)
                    except BaseException:
                        code = 3
                    os._exit(code)
                status = _wait(pid)
                if status is None:
                    hung += 1
                elif status != 0:
                    failed.append(status)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
        mock.fault("none")
    assert hung == 0, f"{hung} of {FORKS} children hung on a lock"
    assert failed == [], "children whose calls failed"
    assert wxtoken.get_token(mem)
