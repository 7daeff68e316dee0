"""wxtoken's records on the `logging` logger "wxtoken": refreshes, reports and rejected
credentials with their fields in `extra`, delivered off the caller's thread, filtered by
the logger's level, and never holding a token or a secret."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import pytest
import wxtoken
from conftest import Mock

WRONG = "wrong-py-secret-c0ffee"


def of(caplog: pytest.LogCaptureFixture, app: str, event: str | None = None) -> list[logging.LogRecord]:
    assert wxtoken.flush_log(5.0), "every record delivered"
    return [
        r
        for r in caplog.records
        if r.name == "wxtoken"
        and getattr(r, "wxtoken_app", None) == app
        and (event is None or getattr(r, "wxtoken_event", None) == event)
    ]


def text_of(records: list[logging.LogRecord]) -> str:
    return "\n".join(f"{r.getMessage()} {r.__dict__!r}" for r in records)


def test_refreshes_reports_and_rejections_are_records_with_fields(
    mock: Mock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="wxtoken")
    appid, secret = mock.new_app()
    app = wxtoken.configure(appid, secret, api_base=mock.url, store="memory")
    first = wxtoken.get_token(app)
    second = wxtoken.invalidate(app, first)

    refreshed = of(caplog, app, "token_refreshed")
    assert len(refreshed) == 2, text_of(of(caplog, app))
    one: Any = refreshed[0]
    assert one.levelno == logging.INFO
    assert one.wxtoken_generation == 1
    assert one.wxtoken_expires_in_s == 7200
    assert isinstance(one.wxtoken_duration_ms, int)
    assert one.wxtoken_fields["generation"] == 1
    assert isinstance(one.wxtoken_ts_ms, int)
    assert one.getMessage().startswith(f"{app}: fetched generation 1")
    assert one.thread != threading.get_ident(), "delivered on wxtoken's log thread"
    assert getattr(refreshed[1], "wxtoken_generation") == 2
    assert len(of(caplog, app, "token_invalidated")) == 1

    other, _ = mock.new_app()
    bad = wxtoken.configure(other, WRONG, api_base=mock.url, store="memory")
    with pytest.raises(wxtoken.CredentialsRejected):
        wxtoken.get_token(bad)
    rejected: list[Any] = of(caplog, bad, "credentials_rejected")
    assert len(rejected) == 1, text_of(of(caplog, bad))
    assert rejected[0].levelno == logging.ERROR
    assert rejected[0].wxtoken_errcode == 40125
    assert rejected[0].wxtoken_kind == "credentials_rejected"
    failed: list[Any] = of(caplog, bad, "refresh_failed")
    assert len(failed) == 1 and failed[0].levelno == logging.WARNING
    assert failed[0].wxtoken_failures_in_row == 1
    assert wxtoken.status(bad)["stats"]["credentials_rejections"] == 1

    everything = text_of(of(caplog, app) + of(caplog, bad))
    for needle in (secret, WRONG, first, second):
        assert needle not in everything


def test_the_loggers_level_filters(mock: Mock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="wxtoken")
    app = mock.configure()
    wxtoken.get_token(app)
    assert of(caplog, app) == [], "no info record passes an ERROR logger"
    other, _ = mock.new_app()
    bad = wxtoken.configure(other, WRONG, api_base=mock.url, store="memory")
    with pytest.raises(wxtoken.CredentialsRejected):
        wxtoken.get_token(bad)
    assert [getattr(r, "wxtoken_event") for r in of(caplog, bad)] == ["credentials_rejected"]


def test_a_handler_may_call_wxtoken(mock: Mock) -> None:
    """A handler runs on wxtoken's log thread, outside its locks: calling back is safe."""
    app = mock.configure()
    seen: list[int] = []

    class StatusHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if getattr(record, "wxtoken_app", None) == app:
                seen.append(int(wxtoken.status(app)["stats"]["refreshes"]))
                wxtoken.get_token(app)

    handler = StatusHandler()
    logger = logging.getLogger("wxtoken")
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.INFO)
    try:
        token = wxtoken.get_token(app)
        wxtoken.invalidate(app, token)
        assert wxtoken.flush_log(5.0)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)
    assert seen and all(n >= 1 for n in seen), seen


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.events.append(str(getattr(record, "wxtoken_event", "")))


def child_reports(app: str, token: str, out: Any) -> None:
    """In a forked child: a report's records reach logging from the child's own log thread."""
    handler = Collect()
    logger = logging.getLogger("wxtoken")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    wxtoken.invalidate(app, token)
    out.put((wxtoken.flush_log(10.0), handler.events))


def test_a_forked_child_logs_on_its_own(mock: Mock) -> None:
    import multiprocessing

    app = mock.configure()
    logger = logging.getLogger("wxtoken")
    old = logger.level
    logger.setLevel(logging.INFO)
    try:
        token = wxtoken.get_token(app)  # the parent's log thread runs
        assert wxtoken.flush_log(5.0)
        ctx = multiprocessing.get_context("fork")
        out: Any = ctx.Queue()
        child = ctx.Process(target=child_reports, args=(app, token, out))
        child.start()
        flushed, events = out.get(timeout=30)
        child.join(30)
    finally:
        logger.setLevel(old)
    assert child.exitcode == 0
    assert flushed, "the child's records were delivered"
    assert "token_invalidated" in events and "token_refreshed" in events, events


FORK_AT_EXIT = """
import logging, os, sys, threading, time
import wxtoken

started = threading.Event()


class Slow(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        started.set()
        time.sleep(1.0)  # the log thread is inside a call when the parent forks


logger = logging.getLogger("wxtoken")
logger.addHandler(Slow())
logger.setLevel(logging.INFO)
wxtoken.get_token(wxtoken.configure(sys.argv[1], sys.argv[2], api_base=sys.argv[3], store="memory"))
assert started.wait(10), "the handler ran"
t0 = time.monotonic()
pid = os.fork()
if pid == 0:
    sys.exit(0)  # a normal exit: atexit closes the child's log sink
_, status = os.waitpid(pid, 0)
print(f"{os.waitstatus_to_exitcode(status)} {time.monotonic() - t0:.3f}")
"""


def test_a_child_forked_during_a_handler_call_exits_at_once(mock: Mock, tmp_path: Path) -> None:
    """gunicorn --preload: the master's log thread is in a handler at the fork. The
    child's exit must not wait for that call, which no thread of the child makes (it
    waited 2 s before). The bound is loose: a child's exit takes milliseconds."""
    import subprocess
    import sys

    appid, secret = mock.new_app()
    script = tmp_path / "fork_at_exit.py"
    script.write_text(FORK_AT_EXIT)
    out = subprocess.run(
        [sys.executable, str(script), appid, secret, mock.url], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    code, seconds = out.stdout.split()
    assert code == "0", out.stdout
    assert float(seconds) < 1.5, f"the child took {seconds} s to exit"


RECONFIGURED_FIRST = """
import logging, sys, threading
import wxtoken

got = threading.Event()


class Wait(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "wxtoken_event", None) == "app_reconfigured":
            got.set()


logger = logging.getLogger("wxtoken")
logger.addHandler(Wait())
logger.setLevel(logging.INFO)
# No upstream call: api_base is never asked (no token is requested).
wxtoken.configure("wxcfgfirst000001", "secret-never-used", api_base="http://127.0.0.1:9", store="memory")
wxtoken.configure(
    "wxcfgfirst000001", "secret-never-used", api_base="http://127.0.0.1:9", store="memory", refresh_margin_s=120
)
# No flush_log (it would start the log thread): the record must arrive by itself.
print("delivered" if got.wait(5) else "lost")
"""


def test_a_reconfiguration_is_delivered_when_it_is_the_first_record() -> None:
    """app_reconfigured is made under the registry's lock, where no thread may start:
    it must still reach logging in a process that made no record before."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", RECONFIGURED_FIRST], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "delivered", out.stderr
