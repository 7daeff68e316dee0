"""Fixtures: the offline WeChat simulator (`wxtoken mock`) as a subprocess.

The binary is WXTOKEN_BIN, else the first of target/{release,debug}/wxtoken.
Every test takes its own app (`mock.new_app()`): the registry of configured
apps is process-wide, and the simulator counts fetches per appid.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import wxtoken

ROOT = Path(__file__).resolve().parents[2]
APPS_PER_MOCK = 200


def kept_token(app: str) -> str:
    """The str get_token keeps for the app's fresh token, once the core's
    marker thread has armed the token (within its first pass; until then
    each call copies)."""
    deadline = time.monotonic() + 5
    while wxtoken.get_token(app) is not wxtoken.get_token(app):
        assert time.monotonic() < deadline, "never the same str object"
        time.sleep(0.01)
    return wxtoken.get_token(app)


def find_cli() -> str:
    explicit = os.environ.get("WXTOKEN_BIN")
    if explicit:
        if not Path(explicit).is_file():
            pytest.fail(f"WXTOKEN_BIN={explicit} does not exist")
        return explicit
    for sub in ("release", "debug"):
        path = ROOT / "target" / sub / "wxtoken"
        if path.is_file():
            return str(path)
    pytest.fail("the wxtoken binary is missing: set WXTOKEN_BIN or run `cargo build --release`")


class Mock:
    """A running simulator plus its apps, with the admin endpoints as methods."""

    def __init__(self, tmp: Path, *args: str) -> None:
        run = secrets.token_hex(4)
        self.apps = [
            {"appid": f"wxpy{run}{i:06d}", "secret": f"py-secret-{run}-{i}-not-real"} for i in range(APPS_PER_MOCK)
        ]
        self.corps = [
            {"appid": f"wwpy{run}{i:06d}", "secret": f"corp-secret-{run}-{i}-not-real", "platform": "wecom"}
            for i in range(10)
        ]
        apps_file = tmp / "apps.json"
        apps_file.write_text(json.dumps(self.apps + self.corps))
        port_file = tmp / "mock.url"
        self.log = tmp / "mock.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("WXTOKEN_")}
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [find_cli(), "mock", "--apps-file", str(apps_file), "--port-file", str(port_file), *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + 15
        while not port_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"wxtoken mock did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.02)
        self.url = port_file.read_text().strip()
        self._next = 0
        self._next_corp = 0

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def new_app(self) -> tuple[str, str]:
        """An (appid, secret) the simulator knows and no other test used."""
        app = self.apps[self._next]
        self._next += 1
        return app["appid"], app["secret"]

    def new_corp(self) -> tuple[str, str]:
        corp = self.corps[self._next_corp]
        self._next_corp += 1
        return corp["appid"], corp["secret"]

    def configure(self, **options: Any) -> str:
        """configure() for a fresh app against this simulator, memory store."""
        appid, secret = self.new_app()
        options.setdefault("store", "memory")
        return wxtoken.configure(appid, secret, api_base=self.url, **options)

    def request(self, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method="GET" if data is None else "POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.load(resp)

    def stats(self) -> Any:
        return self.request("/mock/stats")

    def fetches(self, appid: str) -> int:
        """Token fetches the simulator served for appid (all endpoints)."""
        calls = self.stats()["token_calls"].get(appid, {})
        return int(sum(calls.values()))

    def fault(self, mode: str, count: int | None = None, delay_ms: int | None = None) -> None:
        body: dict[str, Any] = {"mode": mode}
        if count is not None:
            body["count"] = count
        if delay_ms is not None:
            body["delay_ms"] = delay_ms
        self.request("/mock/fault", body)

    def supersede(self, appid: str) -> None:
        self.request("/mock/supersede", {"appid": appid})

    def check(self, token: str) -> Any:
        """The business call: a dict with ip_list, or with a bad-token errcode."""
        return self.request("/cgi-bin/get_api_domain_ip?access_token=" + urllib.parse.quote(token))


@pytest.fixture(scope="session")
def mock_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mock]:
    mock = Mock(tmp_path_factory.mktemp("mock"))
    yield mock
    mock.stop()


@pytest.fixture
def mock(mock_server: Mock) -> Iterator[Mock]:
    """The shared simulator, with no fault left over from another test."""
    mock_server.fault("none")
    yield mock_server
    mock_server.fault("none")


@pytest.fixture
def no_wxtoken_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("WXTOKEN_"):
            monkeypatch.delenv(key)
