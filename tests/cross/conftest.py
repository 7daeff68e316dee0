"""Fixtures for the cross-language process tests: a simulator per test and
a way to start C, PHP and Python demo workers together on one file store."""
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
RELEASE = ROOT / "target" / "release"
SECRET = "cross-secret-not-real"


class Mock:
    def __init__(self, appid: str, *args: str):
        self.appid = appid
        self.dir = tempfile.mkdtemp(prefix="wxtoken-cross-")
        apps = pathlib.Path(self.dir, "apps.json")
        apps.write_text(json.dumps([{"appid": appid, "secret": SECRET, "platform": "mp"}]))
        url = pathlib.Path(self.dir, "url")
        self.proc = subprocess.Popen(
            [str(RELEASE / "wxtoken"), "mock", "--apps-file", str(apps), "--port-file", str(url), *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not (url.exists() and url.read_text()):
            assert time.monotonic() < deadline, "the simulator did not start"
            time.sleep(0.02)
        self.base = url.read_text().strip()

    def admin(self, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        with urllib.request.urlopen(urllib.request.Request(f"{self.base}/mock/{path}", data=data)) as r:
            return json.load(r)

    def fetches(self) -> int:
        return self.admin("stats")["token_calls"].get(self.appid, {}).get("token", 0)

    def refused_checks(self) -> int:
        checks = self.admin("stats")["checks"]
        return sum(v for k, v in checks.items() if k != "ok")

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


@dataclass
class Worker:
    lang: str
    proc: subprocess.Popen
    out: str = ""
    tokens: list[str] = field(default_factory=list)
    calls: int = 0
    refused: int = 0

    def finish(self, timeout: float) -> None:
        try:
            self.out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"{self.lang} worker {self.proc.pid} hung")
        assert self.proc.returncode == 0, f"{self.lang} worker failed: {err}{self.out}"
        self.tokens = re.findall(r"token \.\.\.(\S+)", self.out)
        done = re.search(r"done: (\d+) business calls, (\d+) refused", self.out)
        if done:
            self.calls, self.refused = int(done[1]), int(done[2])


def start_workers(mock: Mock, store: str, seconds: float, each: int = 4, margin_s: int = 300) -> list[Worker]:
    env = dict(
        os.environ,
        WXTOKEN_APPID=mock.appid,
        WXTOKEN_SECRET=SECRET,
        WXTOKEN_API_BASE=mock.base,
        WXTOKEN_STORE=store,
        WXTOKEN_REFRESH_MARGIN_S=str(margin_s),
        WXTOKEN_LIB=str(RELEASE / "libwxtoken.so"),
    )
    commands = {
        "c": [os.environ["CROSS_C_WORKER"], str(seconds)],
        "php": ["php", "-d", "ffi.enable=1", str(ROOT / "demo" / "worker.php"), str(seconds)],
        "python": [sys.executable, str(ROOT / "demo" / "worker.py"), str(seconds)],
    }
    workers = []
    for _ in range(each):
        for lang, cmd in commands.items():
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            workers.append(Worker(lang, proc))
    return workers


@pytest.fixture
def mock_factory():
    mocks = []

    def make(appid: str, *args: str) -> Mock:
        m = Mock(appid, *args)
        mocks.append(m)
        return m

    yield make
    for m in mocks:
        m.stop()


@pytest.fixture
def store(tmp_path) -> str:
    return f"file:{tmp_path / 'store'}"
