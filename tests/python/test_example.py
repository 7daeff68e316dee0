"""bindings/python/examples/example.py runs as the README says, and is the README's code."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from conftest import find_cli

ROOT = Path(__file__).resolve().parents[2]
# Not beside the package: python puts the script's directory first on
# sys.path, where the source package (without its extension) would shadow
# the installed one.
EXAMPLE = ROOT / "bindings" / "python" / "examples" / "example.py"


def test_the_example_runs_against_the_simulator(tmp_path: Path) -> None:
    url_file = tmp_path / "wx.url"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WXTOKEN_")}
    # No apps file: the simulator serves the demo app the example uses.
    mock = subprocess.Popen(
        [find_cli(), "mock", "--port-file", str(url_file)], stdout=subprocess.DEVNULL, env=env
    )
    try:
        deadline = time.monotonic() + 15
        while not url_file.exists():
            assert mock.poll() is None and time.monotonic() < deadline, "wxtoken mock did not start"
            time.sleep(0.02)
        out = subprocess.run(
            [sys.executable, str(EXAMPLE), str(url_file)], capture_output=True, text=True, timeout=60, env=env
        )
    finally:
        mock.terminate()
        mock.wait(5)
    assert out.returncode == 0, out.stderr
    assert "refreshed: True" in out.stdout, out.stdout
    assert "'ip_list'" in out.stdout, out.stdout
    assert "credentials_rejected 40013" in out.stdout, out.stdout


def test_the_readme_shows_the_example() -> None:
    readme = (ROOT / "bindings" / "python" / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    code = EXAMPLE.read_text()
    body = code[code.index('"""\n', 3) + 4 :].lstrip("\n")
    assert body in blocks, "README.md's example differs from example.py"
