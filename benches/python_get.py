#!/usr/bin/env python3
"""Micro-benchmark: the cost of reading a fresh token from Python.

Compares, in one run against the offline simulator (`wxtoken mock`):
  - wxtoken.get_token(app)          the module function (with the attribute lookup)
  - get_token(app)                  the same, imported (`from wxtoken import get_token`)
  - wxtoken.Client.get_token()      the same through a Client object
  - wechatpy WeChatClient(appid, secret, session=MemoryStorage()).access_token
  - baseline: tokens.get(app), a C-implemented dict.get returning a cached str
  - baseline: a Python function returning a cached str

Each figure is the median (and the minimum) over REPEAT rounds, each timing
NUMBER calls of every statement in turn, in ns per call. Needs the wxtoken
wheel and wechatpy (`pip install 'wechatpy[cryptography]'`) in the running
Python, and the `wxtoken` binary (WXTOKEN_BIN, or a cargo build under target/).

    python benches/python_get.py [--number N] [--repeat R]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

import wxtoken

ROOT = Path(__file__).resolve().parent.parent
APPS = [
    {"appid": "wxbench00000000001", "secret": "bench-secret-1-not-real"},
    {"appid": "wxbench00000000002", "secret": "bench-secret-2-not-real"},
]


def find_cli() -> str:
    if os.environ.get("WXTOKEN_BIN"):
        return os.environ["WXTOKEN_BIN"]
    for sub in ("py/release", "release", "debug"):
        path = ROOT / "target" / sub / "wxtoken"
        if path.is_file():
            return str(path)
    sys.exit("wxtoken binary not found: set WXTOKEN_BIN or run cargo build --release")


def start_mock(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    apps_file = tmp / "apps.json"
    apps_file.write_text(json.dumps(APPS))
    port_file = tmp / "url"
    proc = subprocess.Popen(
        [find_cli(), "mock", "--apps-file", str(apps_file), "--port-file", str(port_file)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not port_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            sys.exit("wxtoken mock did not start")
        time.sleep(0.02)
    return proc, port_file.read_text().strip()


def wechatpy_client(url: str) -> object:
    from wechatpy import WeChatClient  # type: ignore[import-untyped]
    from wechatpy.session.memorystorage import MemoryStorage  # type: ignore[import-untyped]

    class MockWeChatClient(WeChatClient):  # type: ignore[misc]
        # wechatpy builds the token URL from a literal host in
        # fetch_access_token (API_BASE_URL only serves the business APIs),
        # so both are pointed at the simulator; the read path is untouched.
        API_BASE_URL = url + "/cgi-bin/"

        def fetch_access_token(self) -> dict[str, object]:
            return self._fetch_access_token(  # type: ignore[no-any-return]
                url=url + "/cgi-bin/token",
                params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
            )

    return MockWeChatClient(APPS[1]["appid"], APPS[1]["secret"], session=MemoryStorage())


def measure(stmts: dict[str, str], env: dict[str, object], number: int, repeat: int) -> dict[str, list[float]]:
    """ns per call of each statement, over `repeat` rounds that run every
    statement once in turn, so load from elsewhere hits them alike."""
    runs: dict[str, list[float]] = {name: [] for name in stmts}
    for _ in range(repeat):
        for name, stmt in stmts.items():
            runs[name].append(timeit.timeit(stmt, globals=env, number=number) / number * 1e9)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--number", type=int, default=200_000, help="calls per statement per round")
    parser.add_argument("--repeat", type=int, default=15, help="rounds; the median is reported")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_mock(Path(tmp))
        try:
            app = wxtoken.configure(APPS[0]["appid"], APPS[0]["secret"], api_base=url, store="memory")
            client = wxtoken.Client(APPS[0]["appid"], APPS[0]["secret"], api_base=url, store="memory")
            wx = wechatpy_client(url)
            # Warm up: both fetch once, then every timed call reads a fresh token.
            assert wxtoken.get_token(app) == client.get_token()
            assert wx.access_token  # type: ignore[attr-defined]
            tokens = {app: wxtoken.get_token(app)}
            # The core's marker arms the token within its first pass; until
            # then each call copies (not the path a running program takes).
            deadline = time.monotonic() + 5
            while wxtoken.get_token(app) is not wxtoken.get_token(app) and time.monotonic() < deadline:
                time.sleep(0.01)

            def plain_get(name: str) -> str:
                return tokens[name]

            env = {
                "wxtoken": wxtoken,
                "get_token": wxtoken.get_token,
                "app": app,
                "client": client,
                "wx": wx,
                "tokens": tokens,
                "plain_get": plain_get,
            }
            runs = measure(
                {
                    "wxtoken.get_token(app)": "wxtoken.get_token(app)",
                    "get_token(app), imported": "get_token(app)",
                    "wxtoken.Client.get_token()": "client.get_token()",
                    "wechatpy .access_token": "wx.access_token",
                    "baseline: dict.get(app)": "tokens.get(app)",
                    "baseline: Python function": "plain_get(app)",
                },
                env,
                args.number,
                args.repeat,
            )
            assert wxtoken.status(app)["stats"]["upstream_calls"] == 1, "a timed call refetched"
            # The same str object per call while the token is fresh.
            same = wxtoken.get_token(app) is wxtoken.get_token(app)
        finally:
            proc.terminate()
            proc.wait()

    version = sys.version.split()[0]
    print(f"python {version}, wxtoken {wxtoken.__version__}: ns per call, {args.repeat} rounds of {args.number} calls")
    print(f"  {'':<28} {'median':>8} {'min':>8}")
    medians: dict[str, float] = {}
    for name, ns in runs.items():
        medians[name] = statistics.median(ns)
        print(f"  {name:<28} {medians[name]:8.1f} {min(ns):8.1f}")
    ratio = medians["wechatpy .access_token"] / medians["wxtoken.get_token(app)"]
    print(f"  median wechatpy / median wxtoken.get_token: {ratio:.1f}x")
    base = medians["baseline: dict.get(app)"]
    for name in ("wxtoken.get_token(app)", "get_token(app), imported", "wxtoken.Client.get_token()"):
        print(f"  {name} / dict.get: {medians[name] / base:.2f}x")
    print(f"  get_token returns one cached str object per token: {same}")


if __name__ == "__main__":
    main()
