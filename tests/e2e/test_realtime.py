"""The real-time views in a real browser (issue 17): the public page's "now" section and
the station page's hourly AQI, on Beijing with the national real-time sample loaded
(``lantian ingest cnemc-live``), in Chinese and English, at desktop and phone width.

Each view must render with no console error, no failed request and no request to another
host (the station map is drawn without a tile server); screenshots go to
``tests/e2e/screenshots/realtime-*.png`` for a person to look at.
"""
from __future__ import annotations

import pytest

from tests.conftest import BEIJING_SITES, SHARED_DATA
from tests.e2e.conftest import lantian_env, lantian_server, run_lantian, run_lantian_input
from tests.e2e.test_pages import (ARGS, SHOTS, STAFF_PASSWORD, STAFF_USER, SignedIn, Watched,
                                  playwright_api)

SIZES = {"desktop": (1280, 900), "phone": (390, 844)}


@pytest.fixture(scope="module")
def live_server(chromium, tmp_path_factory):
    folder = SHARED_DATA / "cnemc-live"
    if not folder.is_dir():
        pytest.skip(f"real data folder {folder} is absent")
    data = tmp_path_factory.mktemp("live-e2e")
    env = lantian_env(data, LANTIAN_DATABASE_URL=f"sqlite:///{data / 'live.sqlite'}",
                      LANTIAN_CACHE_URL="")
    run_lantian(env, "init", "--sites", BEIJING_SITES)
    run_lantian(env, "ingest", "cnemc-live", folder, "--quiet")
    run_lantian_input(env, STAFF_PASSWORD + "\n", "users", "add", STAFF_USER, "--role", "admin",
                      "--password-stdin")
    with lantian_server(env) as url:
        yield url


@pytest.fixture(scope="module")
def live_browser(chromium, live_server):
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=ARGS)
        yield b
        b.close()


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_public_now_renders_without_console_errors(live_server, live_browser, lang, size):
    """Anonymous, as the public sees it: the "now" tiles, the 24-hour strip and the station
    map are drawn, and the browser logs nothing."""
    width, height = SIZES[size]
    view = Watched(live_browser, live_server, width=width, height=height)
    try:
        view.open(f"{live_server}/public?city=beijing" + ("&lang=en" if lang == "en" else ""))
        view.page.wait_for_selector("#public-now-map .main-svg", timeout=30000)
        view.page.wait_for_selector("#public-now-strip .main-svg", timeout=30000)
        now = view.page.inner_text("#public-now")
        assert ("实时数据，未经审核" if lang == "zh" else "Real-time data, not audited") in now
        assert "2022-01-06 00:00" in now and "23:00–24:00" in now
        assert "104" in now                                 # the city's hourly AQI
        SHOTS.mkdir(exist_ok=True)
        view.page.screenshot(path=str(SHOTS / f"realtime-public-{lang}-{size}.png"),
                             full_page=True)
        # nothing wider than the screen on a phone (the page does not scroll sideways)
        overflow = view.page.evaluate("document.documentElement.scrollWidth - innerWidth")
        assert overflow <= 1, overflow
        assert view.errors == [], view.errors
        assert view.foreign == [], view.foreign
    finally:
        view.close()


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_station_hourly_aqi_in_the_browser(live_server, live_browser, lang, size):
    width, height = SIZES[size]
    browser = SignedIn(live_browser, live_server)
    page = browser.new_page(viewport={"width": width, "height": height}, locale="zh-CN")
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{live_server}/station?city=beijing&station=1003A"
                  + ("&lang=en" if lang == "en" else ""), wait_until="networkidle")
        page.wait_for_selector("#station-aqi .main-svg", timeout=30000)
        page.wait_for_function("!document.querySelector('[data-dash-is-loading=\"true\"]')",
                               timeout=30000)
        note = page.inner_text("#station-aqi-note")
        assert ("24 个与蓝天计算一致" if lang == "zh" else "24 agree") in note
        page.screenshot(path=str(SHOTS / f"realtime-station-{lang}-{size}.png"),
                        full_page=True)
        assert errors == [], errors
    finally:
        page.close()
