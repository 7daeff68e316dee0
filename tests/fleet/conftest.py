"""Fixtures for the fleet tests: a real redis-server and the simulator on the
root namespace's loopback, and simulated hosts that share nothing but them.

A host is a process group in its own UTS and mount namespace, with its own
hostname and a private tmpfs on /dev/shm (where the default file store
lives), but the root's network: its processes reach 127.0.0.1 as everyone
else does. An anchor process (`sleep`) holds the namespaces; each worker
joins them with nsenter, in the anchor's process group, so that teardown
kills a whole host at once."""
import importlib.util
import json
import os
import pathlib
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
RELEASE = ROOT / "target" / "release"

# The simulator handle of the cross-language tests (tests/cross): one app,
# its counters, its admin endpoints.
_spec = importlib.util.spec_from_file_location("cross_support", ROOT / "tests" / "cross" / "conftest.py")
_cross = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_cross)
SECRET = _cross.SECRET


class Mock(_cross.Mock):
    def admin(self, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.base}/mock/{path}", data=data)
        with urllib.request.urlopen(req, timeout=10) as r:  # bounded, unlike tests/cross
            return json.load(r)


def wait_until(what: str, cond, timeout: float, workers=(), every: float = 0.02):
    """Polls `cond` until it returns something true; fails after `timeout` s
    (saying what `workers` printed)."""
    deadline = time.monotonic() + timeout
    while True:
        got = cond()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{report(list(workers))}")
        time.sleep(every)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    """redis-server on a free loopback port, no persistence: a restart comes back empty."""

    def __init__(self):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="wxtoken-fleet-redis-")
        self.proc = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", self.dir],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_until("redis-server to answer PING", lambda: self.ping(), timeout=10)

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None

    def cli(self, *args: str) -> str:
        out = subprocess.run(["redis-cli", "-p", str(self.port), "--raw", *args],
                             capture_output=True, text=True, timeout=10, check=True)
        return out.stdout.strip()

    def record(self) -> dict[str, str]:
        """The one record in Redis (fields of the `:rec` hash), {} if none."""
        keys = self.cli("--scan", "--pattern", "*:rec").split()
        assert len(keys) <= 1, keys
        if not keys:
            return {}
        flat = self.cli("HGETALL", keys[0]).split("\n")
        return dict(zip(flat[::2], flat[1::2]))


@dataclass
class Worker:
    lang: str
    host: str
    proc: subprocess.Popen
    lines: list[str] = field(default_factory=list)
    err: str = ""

    def __post_init__(self):
        self._out = threading.Thread(target=self._read, daemon=True)
        self._out.start()
        self._err = threading.Thread(target=self._read_err, daemon=True)
        self._err.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def _read_err(self) -> None:
        for line in self.proc.stderr:
            self.err += line

    @property
    def tokens(self) -> list[str]:
        """The tokens this process used, in order (it prints each change)."""
        return [m[1] for line in list(self.lines) if (m := re.search(r"token \.\.\.(\S+)", line))]

    @property
    def refused(self) -> int:
        """Business calls refused (and retried), from the closing line."""
        done = [m for line in list(self.lines) if (m := re.search(r"done: \d+ business calls, (\d+) refused", line))]
        return int(done[0][1]) if done else 0

    def alive(self) -> bool:
        return self.proc.poll() is None

    def finish(self, timeout: float) -> None:
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self} hung")
        self._out.join(5)
        self._err.join(5)
        assert self.proc.returncode == 0, f"{self} failed ({self.proc.returncode}): {self.err}"

    def __str__(self) -> str:
        return f"{self.lang} pid {self.proc.pid} on {self.host}"

    def report(self) -> str:
        state = "running" if self.alive() else f"exited {self.proc.returncode}"
        return f"{self} ({state}): {self.lines} {self.err.strip()[-300:]}"


def report(workers: list[Worker]) -> str:
    """What every worker printed, for failure messages."""
    return "\n".join(w.report() for w in workers)


# As root, the namespaces are plain; otherwise in a user namespace of ours,
# where we are root (and stay our own user outside).
UNSHARE_USER = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
NSENTER_USER = [] if os.geteuid() == 0 else ["--user", "--preserve-credentials"]


class Host:
    """A simulated host: its own hostname and /dev/shm, the root's loopback."""

    def __init__(self, name: str):
        self.name = name
        script = ("mount -t tmpfs -o mode=1777 tmpfs /dev/shm && hostname \"$0\" && echo ready && exec sleep 600")
        # Its own process group (same session), which the workers join.
        self.anchor = subprocess.Popen(
            ["unshare", *UNSHARE_USER, "--uts", "--mount", "--propagation", "private", "sh", "-c", script, name],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            process_group=0,
        )
        self.workers: list[Worker] = []
        ready, _, _ = select.select([self.anchor.stdout], [], [], 10)
        if not (ready and self.anchor.stdout.readline().strip() == "ready"):
            self.kill()
            raise AssertionError(f"host {name} did not start: {self.anchor.stderr.read()}")

    def command(self, cmd: list[str]) -> list[str]:
        return ["nsenter", "-t", str(self.anchor.pid), *NSENTER_USER, "--uts", "--mount", "--", *cmd]

    def run(self, *cmd: str) -> str:
        """Runs a short command on this host, returns its stdout."""
        out = subprocess.run(self.command(list(cmd)), capture_output=True, text=True, timeout=10,
                             process_group=self.anchor.pid)
        assert out.returncode == 0, f"{cmd} on {self.name}: {out.stderr}"
        return out.stdout

    def start(self, lang: str, env: dict[str, str], seconds: float) -> Worker:
        cmd = {
            "c": [os.environ["FLEET_C_WORKER"], str(seconds)],
            "php": ["php", "-d", "ffi.enable=1", str(ROOT / "demo" / "worker.php"), str(seconds)],
            "python": [sys.executable, str(ROOT / "demo" / "worker.py"), str(seconds)],
        }[lang]
        proc = subprocess.Popen(self.command(cmd), env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                process_group=self.anchor.pid)
        w = Worker(lang, self.name, proc)
        self.workers.append(w)
        return w

    def kill(self) -> None:
        try:
            os.killpg(self.anchor.pid, signal.SIGKILL)  # a stopped process dies too
        except ProcessLookupError:
            pass
        for p in [self.anchor, *(w.proc for w in self.workers)]:
            p.wait(timeout=10)


def worker_env(mock: Mock, store: str, margin_s: int = 300, **extra: str) -> dict[str, str]:
    """The workers' configuration, all from WXTOKEN_* (none inherited but WXTOKEN_LOG)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("WXTOKEN_") or k == "WXTOKEN_LOG"}
    return dict(
        base,
        WXTOKEN_APPID=mock.appid,
        WXTOKEN_SECRET=SECRET,
        WXTOKEN_API_BASE=mock.base,
        WXTOKEN_STORE=store,
        WXTOKEN_REFRESH_MARGIN_S=str(margin_s),
        WXTOKEN_LIB=str(RELEASE / "libwxtoken.so"),
        **extra,
    )


def accepted(mock: Mock, token: str) -> bool:
    """The simulator's business check: does the platform take `token` now?"""
    with urllib.request.urlopen(f"{mock.base}/cgi-bin/get_api_domain_ip?access_token={token}", timeout=10) as r:
        return "errcode" not in json.load(r)


def ok_checks(mock: Mock) -> int:
    return mock.admin("stats")["checks"].get("ok", 0)


@pytest.fixture
def redis():
    r = Redis()
    yield r
    r.stop()
    shutil.rmtree(r.dir, ignore_errors=True)


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
        shutil.rmtree(m.dir, ignore_errors=True)


@pytest.fixture
def hosts():
    """hosts(n): n simulated hosts, all killed (process groups) at teardown."""
    made: list[Host] = []

    def make(n: int) -> list[Host]:
        for i in range(n):
            made.append(Host(f"fleet-host{len(made) + 1}"))
        return made[-n:]

    yield make
    for h in made:
        h.kill()
