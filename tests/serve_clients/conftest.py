"""Fixtures: the simulator (`wxtoken mock`) and `wxtoken serve` as processes."""

import hashlib
import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("WXTOKEN_BIN", str(ROOT / "target" / "debug" / "wxtoken"))
APPID = "wx00000000serve1"
SECRET = "py-serve-secret-Only-The-Test-Knows"
KEY = "py-client-key-3b7e1f09a2c4"


def _wait_file(path: Path, proc: subprocess.Popen, what: str) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if path.exists():
            return path.read_text().strip()
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        time.sleep(0.02)
    raise RuntimeError(f"{what} did not start within 10 s")


class Stack:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        apps = tmp / "apps.json"
        apps.write_text(json.dumps([{"appid": APPID, "secret": SECRET}]))
        env = {k: v for k, v in os.environ.items() if not k.startswith("WXTOKEN_")}
        self.mock = subprocess.Popen(
            [BIN, "mock", "--apps-file", str(apps), "--port-file", str(tmp / "mock.url")],
            stdout=subprocess.DEVNULL,
            env=env,
        )
        self.mock_url = _wait_file(tmp / "mock.url", self.mock, "wxtoken mock")
        (tmp / "shop.secret").write_text(SECRET)
        (tmp / "serve.toml").write_text(
            f"""listen = "127.0.0.1:0"
store = "memory"
[[apps]]
name = "shop"
appid = "{APPID}"
secret_file = "{tmp / 'shop.secret'}"
api_base = "{self.mock_url}"
[[clients]]
name = "py"
key_sha256 = "{hashlib.sha256(KEY.encode()).hexdigest()}"
apps = ["shop"]
"""
        )
        self.log = open(tmp / "serve.log", "w")
        self.serve = subprocess.Popen(
            [BIN, "serve", "--config", str(tmp / "serve.toml"), "--addr-file", str(tmp / "serve.url")],
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            env=env,
        )
        self.url = _wait_file(tmp / "serve.url", self.serve, "wxtoken serve")

    def token_calls(self) -> int:
        with urllib.request.urlopen(f"{self.mock_url}/mock/stats", timeout=10) as r:
            stats = json.load(r)
        return sum(stats["token_calls"].get(APPID, {}).values())

    def supersede(self) -> None:
        req = urllib.request.Request(
            f"{self.mock_url}/mock/supersede", data=json.dumps({"appid": APPID}).encode(), method="POST"
        )
        urllib.request.urlopen(req, timeout=10).close()

    def check(self, token: str) -> int:
        """The platform's verdict on a token: 0 when accepted, else its errcode."""
        with urllib.request.urlopen(f"{self.mock_url}/cgi-bin/getcallbackip?access_token={token}", timeout=10) as r:
            body = json.load(r)
        return 0 if "ip_list" in body else body["errcode"]

    def close(self) -> None:
        for p in (self.serve, self.mock):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.log.close()


@pytest.fixture
def stack(tmp_path):
    s = Stack(tmp_path)
    yield s
    s.close()
