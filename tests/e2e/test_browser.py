"""The dashboard in headless Chromium (Debian's /usr/bin/chromium; nothing is downloaded).

Serves a synthetic demo database with ``lantian serve`` and checks that the
public page (no login) renders in a real browser with the machine offline: Dash's JavaScript
loads from the app itself, the synthetic banner and the chart are drawn, and
the browser logs no failed resource or script error.
"""
import subprocess

import pytest

from tests.e2e.conftest import lantian_env, lantian_server, run_lantian

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def served(chromium, tmp_path_factory):
    data = tmp_path_factory.mktemp("browser")
    env = lantian_env(data, LANTIAN_DATABASE_URL="")
    run_lantian(env, "demo", "--until", "2024-02-29", "--quiet")
    with lantian_server(env) as url:
        yield url, data


def test_page_renders_offline_in_chromium(chromium, served):
    url, data = served
    profile = data / "profile"
    result = subprocess.run(
        [chromium, *FLAGS, f"--user-data-dir={profile}", "--window-size=1400,1000",
         "--virtual-time-budget=10000", "--enable-logging=stderr", "--v=0", "--dump-dom",
         url + "/public"],
        capture_output=True, text=True, timeout=120)
    dom = result.stdout
    assert "SYNTHETIC DEMO DATA" in dom and "合成演示数据" in dom
    assert "城区" in dom and "公众" in dom   # the public page needs no login
    assert "main-svg" in dom  # the Plotly chart was drawn by the browser
    console = [line for line in result.stderr.splitlines() if "CONSOLE" in line
               or "Failed to load resource" in line]
    assert not [l for l in console if "rror" in l or "Failed" in l], console
