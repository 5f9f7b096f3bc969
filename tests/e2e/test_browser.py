"""The dashboard in headless Chromium (Debian's /usr/bin/chromium; nothing is downloaded).

Serves a synthetic demo database with ``lantian serve`` and checks that the
page renders in a real browser with the machine offline: Dash's JavaScript
loads from the app itself, the synthetic banner and the chart are drawn, and
the browser logs no failed resource or script error.
"""
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LANTIAN = str(Path(sys.executable).with_name("lantian"))
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (apt-get install chromium; .ci/run does)")
    data = tmp_path_factory.mktemp("browser")
    env = {**os.environ, "LANTIAN_DATA_DIR": str(data), "LANTIAN_DATABASE_URL": "",
           "LANTIAN_SETTINGS": ""}
    subprocess.run([LANTIAN, "demo", "--until", "2024-02-29", "--quiet"], env=env, check=True,
                   capture_output=True)
    port = _free_port()
    server = subprocess.Popen([LANTIAN, "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.2)
    yield f"http://127.0.0.1:{port}", data
    server.terminate()
    server.wait(10)


def test_page_renders_offline_in_chromium(served):
    url, data = served
    profile = data / "profile"
    result = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--window-size=1400,1000",
         "--virtual-time-budget=10000", "--enable-logging=stderr", "--v=0", "--dump-dom",
         url + "/data"],
        capture_output=True, text=True, timeout=120)
    dom = result.stdout
    assert "SYNTHETIC DEMO DATA" in dom and "合成演示数据" in dom
    assert "SYN01" in dom and "城区合成站一" in dom
    assert "main-svg" in dom  # the Plotly chart was drawn by the browser
    console = [line for line in result.stderr.splitlines() if "CONSOLE" in line
               or "Failed to load resource" in line]
    assert not [l for l in console if "rror" in l or "Failed" in l], console
