"""What the browser tests share: Debian's Chromium and a ``lantian serve`` process.

Nothing is downloaded: the tests drive ``/usr/bin/chromium`` (Playwright, the
PyPI package, never ``playwright install``) against the dashboard served by the
``lantian`` command of this environment, on a free local port.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LANTIAN = str(Path(sys.executable).with_name("lantian"))


def lantian_env(data: Path, **extra: str) -> dict:
    """The environment of a ``lantian`` process whose files live in ``data``."""
    return {**os.environ, "LANTIAN_DATA_DIR": str(data), "LANTIAN_SETTINGS": "", **extra}


def run_lantian(env: dict, *args) -> None:
    done = subprocess.run([LANTIAN, *map(str, args)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def run_lantian_input(env: dict, stdin: str, *args) -> None:
    done = subprocess.run([LANTIAN, *map(str, args)], env=env, capture_output=True, text=True,
                          input=stdin)
    assert done.returncode == 0, done.stderr[-2000:]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def lantian_server(env: dict):
    """``lantian serve`` on a free port; yields its base URL.

    On exit the server is stopped, and its log must hold no traceback: the
    server logs one for any page that failed to render. The log goes to a file,
    not a pipe: the development server logs every request, and a pipe nobody
    reads fills up (64 KiB) and stops the server mid-run.
    """
    port = _free_port()
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen([LANTIAN, "serve", "--port", str(port)], env=env,
                                stdout=subprocess.DEVNULL, stderr=log, text=True)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        log.seek(0)
        err = log.read()
    assert "Traceback" not in err, err[-3000:]


@pytest.fixture(scope="session")
def chromium() -> str:
    """The path of Debian's Chromium (the test is skipped without it)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (apt-get install chromium; .ci/run does)")
    return CHROMIUM
