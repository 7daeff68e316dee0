"""Issue 12: 4 C + 4 PHP + 4 Python processes start together on one file
store, each asks for the jsapi ticket at the same instant: the simulator sees
one token fetch and one ticket call, and every process prints that ticket."""
import os
import re
import subprocess
import sys
import time

from conftest import RELEASE, ROOT, SECRET

WORKERS = ROOT / "tests" / "cross" / "workers"


def test_twelve_processes_in_three_languages_share_one_ticket_fetch(mock_factory, store):
    mock = mock_factory("wxcross00000004")
    env = dict(
        os.environ,
        WXTOKEN_APPID=mock.appid,
        WXTOKEN_SECRET=SECRET,
        WXTOKEN_API_BASE=mock.base,
        WXTOKEN_STORE=store,
        WXTOKEN_LIB=str(RELEASE / "libwxtoken.so"),
    )
    # Every process waits for the same instant: long enough for PHP and
    # Python to have started and configured, so all 12 ask at once.
    start = f"{time.time() + 2.0:.3f}"
    commands = {
        "c": [os.environ["CROSS_C_TICKET_WORKER"], start],
        "php": ["php", "-d", "ffi.enable=1", str(WORKERS / "ticket_worker.php"), start],
        "python": [sys.executable, str(WORKERS / "ticket_worker.py"), start],
    }
    procs = [
        (lang, subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        for _ in range(4)
        for lang, cmd in commands.items()
    ]
    tickets = {}
    for lang, proc in procs:
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, f"{lang} worker failed: {err}{out}"
        found = re.findall(r"^ticket (\S+)$", out, re.M)
        assert len(found) == 1, f"{lang} worker printed {out!r}"
        tickets.setdefault(found[0], []).append(lang)
    assert len(tickets) == 1, f"every process printed the same ticket: {tickets}"
    assert sorted(next(iter(tickets.values()))) == ["c"] * 4 + ["php"] * 4 + ["python"] * 4
    stats = mock.admin("stats")
    assert mock.fetches() == 1, "exactly one token fetch"
    assert stats["ticket_calls"][mock.appid]["jsapi"] == 1, f"exactly one jsapi ticket call: {stats['ticket_calls']}"
    assert stats["tickets_issued"] == 1
