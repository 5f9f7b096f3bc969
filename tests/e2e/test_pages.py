"""Every staff page in a real browser: Debian's headless Chromium driven by Playwright.

Nothing is downloaded: Playwright (the PyPI package, never ``playwright
install``) drives ``/usr/bin/chromium``. One ``lantian serve`` process serves a
database holding the real Beijing set (when ``../shared/data`` is present) and
the SYNTHETIC demo city. For each page registered in the app, in Chinese and in
English, on each city: the page renders with no console error, no failed
request and no request to another host, shows no error box, and a screenshot
is written to ``tests/e2e/screenshots/`` (git-ignored) for a person to look at.
The main controls are then used as a user would: they change the URL and what
is shown.
"""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from tests.conftest import BEIJING_SITES, SHARED_DATA, YANGQUAN_SITES
from tests.e2e.conftest import lantian_env, lantian_server, run_lantian, run_lantian_input

SHOTS = Path(__file__).resolve().parent / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
DEMO_UNTIL = "2025-06-30"
STAFF_USER, STAFF_PASSWORD = "e2e-admin", "e2e admin password"

playwright_api = pytest.importorskip("playwright.sync_api",
                                     reason="playwright (PyPI) is not installed")


@pytest.fixture(scope="module")
def server(chromium, tmp_path_factory):
    data = tmp_path_factory.mktemp("pages")
    env = lantian_env(data, LANTIAN_DATABASE_URL=f"sqlite:///{data / 'pages.sqlite'}",
                      LANTIAN_CACHE_URL="")
    cities = []
    if (SHARED_DATA / "beijing-multisite").is_dir():
        run_lantian(env, "init", "--sites", BEIJING_SITES)
        run_lantian(env, "ingest", "prsa", SHARED_DATA / "beijing-multisite", "--quiet")
        cities.append("beijing")
    run_lantian(env, "init", "--sites", YANGQUAN_SITES)
    run_lantian(env, "demo", "--until", DEMO_UNTIL, "--quiet")
    cities.append("yangquan-demo")
    run_lantian_input(env, STAFF_PASSWORD + "\n", "users", "add", STAFF_USER, "--role", "admin",
                      "--password-stdin")
    with lantian_server(env) as url:
        yield url, cities


class SignedIn:
    """Chromium with a staff session: each page opens in a context holding the
    session cookie of one real sign-in through the login form."""

    def __init__(self, browser, base: str):
        self.browser = browser
        context = browser.new_context()
        page = context.new_page()
        page.goto(base + "/login")
        page.fill("#login-username", STAFF_USER)
        page.fill("#login-password", STAFF_PASSWORD)
        page.click("#login-submit")
        page.wait_for_url(base + "/")
        self.state = context.storage_state()
        context.close()

    def new_page(self, **options):
        context = self.browser.new_context(storage_state=self.state, **options)
        page = context.new_page()
        page.on("close", lambda _page: context.close())
        return page


@pytest.fixture(scope="module")
def browser(chromium, server):
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=ARGS)
        yield SignedIn(b, server[0])
        b.close()


class Watched:
    """A browser page that records console errors, failed and foreign requests."""

    def __init__(self, browser, base: str, width: int = 1400, height: int = 1000):
        self.page = browser.new_page(viewport={"width": width, "height": height},
                                     locale="zh-CN")
        self.errors: list[str] = []
        self.foreign: list[str] = []
        host = urlparse(base).netloc
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error"
                     else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("requestfailed", lambda r: self.errors.append(f"failed: {r.url}"))
        self.page.on("request", lambda r: self.foreign.append(r.url)
                     if urlparse(r.url).netloc not in (host, "") and not r.url.startswith(
                         ("data:", "blob:")) else None)

    def open(self, url: str):
        self.page.goto(url, wait_until="networkidle")
        self.settle()

    def settle(self):
        self.page.wait_for_selector("#_pages_content .lt-page", timeout=30000)
        self.page.wait_for_load_state("networkidle")
        # Dash marks the app busy while callbacks run
        self.page.wait_for_function("!document.querySelector('[data-dash-is-loading=\"true\"]')",
                                    timeout=30000)

    def wait_for_query(self, part: str):
        """The address shows ``part`` (history.pushState: no page load to wait for)."""
        self.page.wait_for_function(f"location.search.includes({part!r})", timeout=15000)
        self.settle()

    def close(self):
        self.page.close()

    def __enter__(self) -> "Watched":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()


def _pages():
    from dashboard.pages import PAGES
    return [(m.__name__.rsplit(".", 1)[-1], m.PATH) for m in PAGES]


PAGES = _pages()


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("name,path", PAGES)
def test_every_page_renders_cleanly(server, browser, name, path, lang):
    base, cities = server
    SHOTS.mkdir(exist_ok=True)
    for city in cities:
        query = f"?city={city}" + ("&lang=en" if lang == "en" else "")
        with Watched(browser, base) as view:
            view.open(base + path + query)
            body = view.page.inner_text("#_pages_content")
            view.page.screenshot(path=str(SHOTS / f"{name}-{city}-{lang}.png"), full_page=True)
            assert view.page.query_selector("#page-error") is None, body[:500]
            assert view.page.query_selector("#page-db-error") is None, body[:500]
            assert view.errors == [], view.errors
            assert view.foreign == [], view.foreign
            if city == "yangquan-demo":
                assert "SYNTHETIC DEMO DATA" in body
            if lang == "en" and path != "/data":
                # the interface speaks English: no Chinese in the control labels
                labels = view.page.inner_text("#page-controls")
                assert not re.search(r"[\u4e00-\u9fff]", labels.replace("北京市", "")
                                     .replace("阳泉", "")), labels


# pages without a period: what is loaded, the public summary, upload, administration; the
# objectives page judges a plan by year (a year control, no month or custom range)
NO_PERIOD = ("/data", "/public", "/upload", "/admin", "/objectives")


@pytest.mark.parametrize("name,path", [p for p in PAGES if p[1] not in NO_PERIOD])
def test_period_control_changes_url_and_content(server, browser, name, path):
    """Choosing "月度" (month) writes period=month into the address and re-renders."""
    base, cities = server
    city = cities[0]
    with Watched(browser, base) as view:
        view.open(f"{base}{path}?city={city}")
        before = view.page.inner_text("#page-body") if view.page.query_selector(
            "#page-body") else ""
        view.page.click("#page-controls label:has-text('月度')")
        view.wait_for_query("period=month")
        view.settle()
        query = parse_qs(urlparse(view.page.url).query)
        assert query["period"] == ["month"] and query["city"] == [city]
        # the month control appears and the content is that month's
        assert view.page.query_selector("#page-controls >> text=月份") is not None
        after = view.page.inner_text("#page-body")
        assert after != before
        assert view.errors == [], view.errors


def test_city_and_language_switch_and_shared_links(server, browser):
    base, cities = server
    with Watched(browser, base) as view:
        view.open(f"{base}/?city={cities[0]}")
        view.page.click("#page-lang")
        view.wait_for_query("lang=en")
        view.settle()
        assert "Overview" in view.page.inner_text("#_pages_content")
        # navigation links carry the shared state (city, language) to the other pages
        nav = view.page.eval_on_selector_all("#app-nav a", "els => els.map(e => e.href)")
        assert nav and all("lang=en" in h and f"city={cities[0]}" in h for h in nav), nav
        if len(cities) > 1:
            view.page.click(f"#page-controls .dash-dropdown >> nth=0")
            view.page.keyboard.type("")
            option = view.page.get_by_role("option").filter(has_text=re.compile("Yangquan|阳泉"))
            option.first.click()
            view.wait_for_query("city=yangquan-demo")
            view.settle()
            assert "SYNTHETIC DEMO DATA" in view.page.inner_text("#_pages_content")
        assert view.errors == [], view.errors


def test_anonymous_visitor_sees_the_public_page_and_must_sign_in_for_the_rest(server, browser):
    """Without a session: the public page works and lists only itself and the sign-in link;
    a staff address leads to the login form, a wrong password is refused with a message,
    the right one returns to the address asked for, and signing out ends the session."""
    base, cities = server
    context = browser.browser.new_context(locale="zh-CN")
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(f"{base}/public?city={cities[0]}", wait_until="networkidle")
        page.wait_for_selector("#_pages_content .lt-page-public", timeout=30000)
        nav = page.eval_on_selector_all("#app-nav a", "els => els.map(e => e.pathname)")
        assert nav == ["/public"], nav
        assert page.query_selector("#app-login-link") is not None
        page.goto(f"{base}/ranking?city={cities[0]}&period=year", wait_until="networkidle")
        assert urlparse(page.url).path == "/login"
        page.fill("#login-username", STAFF_USER)
        page.fill("#login-password", "not the password")
        page.click("#login-submit")
        assert "用户名或密码错误" in page.inner_text("#login-message")
        # the refused form comes back with status 401, which Chromium logs as a failed load
        assert errors == ["Failed to load resource: the server responded with a status of "
                          "401 (UNAUTHORIZED)"], errors
        errors.clear()
        page.fill("#login-username", STAFF_USER)
        page.fill("#login-password", STAFF_PASSWORD)
        page.click("#login-submit")
        page.wait_for_selector("#_pages_content .lt-page-ranking", timeout=30000)
        assert urlparse(page.url).path == "/ranking" and "period=year" in page.url
        assert STAFF_USER in page.inner_text("#app-user-name")
        # let the page's own callbacks finish first: one still in flight when the session
        # ends is refused (401), as it should be, and the browser would log that
        page.wait_for_load_state("networkidle")
        page.wait_for_function("!document.querySelector('[data-dash-is-loading=\"true\"]')",
                               timeout=30000)
        page.click("#app-logout")
        page.wait_for_url(re.compile(r".*/login$"))
        page.goto(f"{base}/ranking", wait_until="networkidle")
        assert urlparse(page.url).path == "/login"
        assert errors == [], errors
    finally:
        context.close()


# -- what the numbers mean (issue 16), as a user sees it in the browser ------------------

def _city_and_year(cities):
    return ("beijing", 2016) if "beijing" in cities else ("yangquan-demo", 2024)


def test_the_ranking_ranks_every_district_and_its_names_lead_to_the_district(server, browser):
    base, cities = server
    city, year = _city_and_year(cities)
    with Watched(browser, base) as view:
        view.open(f"{base}/ranking?city={city}&period=year&year={year}")
        ranks = view.page.eval_on_selector_all(
            "#ranking-table .ag-row [col-id='rank']", "els => els.map(e => e.innerText)")
        assert ranks and all(re.match(r"^\d+", r.strip()) for r in ranks), ranks
        if city == "beijing":        # Huairou, Changping, Shunyi, Shijingshan: one month short
            assert len(ranks) == 8 and sum("暂定" in r for r in ranks) == 4, ranks
        link = view.page.locator("#ranking-table a").first
        link.click()
        view.page.wait_for_url(re.compile(r"/district\?"), timeout=15000)
        view.settle()
        query = parse_qs(urlparse(view.page.url).query)
        assert query["city"] == [city] and query["year"] == [str(year)]
        assert query["period"] == ["year"] and "district" in query
        assert view.errors == [], view.errors


def test_the_peer_view_highlights_the_city_among_the_168_key_cities(server, browser):
    """Issue 18: the address the objectives page links to opens the peer-group view; the
    demo city (阳泉, SYNTHETIC) is the highlighted row, "第 1 名 / 共 168" among the one
    member with data; the chooser goes back to the city's districts and to the group."""
    base, _cities = server
    with Watched(browser, base) as view:
        view.open(f"{base}/ranking?city=yangquan-demo&year=2025&group=key-168")
        verdict = " ".join(view.page.inner_text("#peer-verdict").split())
        assert verdict.startswith("168个重点城市：168 个成员中 1 个有数据"), verdict
        own = view.page.locator("#peer-window .ag-row.lt-rk-row-own")
        assert own.count() == 1 and "阳泉 · 合成数据" in own.inner_text()
        assert "第 1 名 / 共 168" in " ".join(view.page.inner_text("#peer-places").split())
        assert view.page.locator("#peer-chart .main-svg").count() >= 1
        # every member, below: the 167 without data too
        view.page.click(".lt-pg-all > summary")
        view.page.wait_for_selector("#peer-table .ag-row", timeout=15000)
        # the chooser: back to the city's districts, then to the group again
        chooser = "#page-controls [role=group][aria-label='同级排名'] .dash-dropdown"
        view.page.click(chooser)
        view.page.get_by_role("option").filter(has_text=re.compile(r"^\s*本市各区县\s*$")) \
            .first.click()
        view.page.wait_for_function("!location.search.includes('group=')", timeout=15000)
        view.settle()
        assert view.page.query_selector("#ranking-table") is not None
        assert view.page.query_selector("#peer-verdict") is None
        view.page.click(chooser)
        view.page.get_by_role("option").filter(has_text="168个重点城市").first.click()
        view.wait_for_query("group=key-168")
        assert view.page.locator("#peer-window .ag-row.lt-rk-row-own").count() == 1
        assert view.errors == [], view.errors


def test_an_ended_year_is_judged_and_the_header_follows_the_language(server, browser):
    base, cities = server
    city, year = _city_and_year(cities)
    with Watched(browser, base) as view:
        view.open(f"{base}/?city={city}&period=year&year={year}")
        body = view.page.inner_text("#_pages_content")
        assert "未达标" in body or "达标" in body
        assert "达标进度正常" not in body and "有超标风险" not in body
        assert "(管理)" in view.page.inner_text("#app-user-name")
        view.page.click("#page-lang")
        view.wait_for_query("lang=en")
        view.page.wait_for_function(
            "document.querySelector('#app-user-name').innerText.includes('(admin)')",
            timeout=15000)
        assert view.page.inner_text("#app-logout").strip() == "Sign out"
        assert view.page.title().endswith("· Lantian")
        body = view.page.inner_text("#_pages_content")
        assert "not met" in body or "met" in body
        assert "on track" not in body
        assert view.errors == [], view.errors


def test_the_objectives_are_listed_filtered_and_lead_to_their_views(server, browser):
    """Issue 18: the plan's objectives for 2024, one line each coloured by status; choosing
    "未达标" (not met) in the status filter keeps those lines; a line's link opens the
    district page of its district and pollutant for that year."""
    base, _cities = server
    statuses = "els => els.map(e => e.dataset.status)"
    with Watched(browser, base) as view:
        view.open(f"{base}/objectives?city=yangquan-demo&year=2024")
        before = view.page.eval_on_selector_all("#objectives-lines article", statuses)
        assert len(before) >= 19 and {"met", "not met", "no data"} <= set(before), before
        counts = view.page.inner_text("#objectives-counts")
        assert f"未达标 {before.count('not met')}" in " ".join(counts.split()), counts
        # the status chips carry the overview's colours
        chip = view.page.locator("#objectives-lines article[data-status='not met'] .lt-chip")
        assert "lt-chip-bad" in chip.first.get_attribute("class")
        view.page.click("#page-controls [role=group][aria-label='状态'] .dash-dropdown")
        view.page.get_by_role("option").filter(has_text=re.compile(r"^\s*未达标\s*$")).first \
            .click()
        view.wait_for_query("status=not")
        after = view.page.eval_on_selector_all("#objectives-lines article", statuses)
        assert after and set(after) == {"not met"} and len(after) == before.count("not met")
        view.page.locator("#objectives-lines article a", has_text="区县详情").first.click()
        view.page.wait_for_url(re.compile(r"/district\?"), timeout=15000)
        view.settle()
        query = parse_qs(urlparse(view.page.url).query)
        assert query["year"] == ["2024"] and query["period"] == ["year"]
        assert query["pollutant"][0] in ("NO2", "SO2") and query["district"]
        assert view.page.query_selector(".lt-page-district") is not None
        assert view.errors == [], view.errors


def test_a_custom_range_shows_its_own_statistics(server, browser):
    base, cities = server
    if "beijing" not in cities:
        pytest.skip("the reported range is on the real Beijing data (../shared/data absent)")
    with Watched(browser, base) as view:
        view.open(f"{base}/station?city=beijing&station=1001A&pollutant=PM2.5&period=range"
                  "&from=2016-03-01&to=2017-02-28")
        body = view.page.inner_text("#_pages_content")
        assert re.search(r"\b86\s*µg/m³\s*PM2\.5 平均浓度", body), body[:600]
        view.open(f"{base}/district?city=beijing&district=dongcheng&period=range"
                  "&from=2016-03-01&to=2017-02-28")
        assert "非 HJ 663 标准评价时段" in view.page.inner_text("#_pages_content")
        assert view.errors == [], view.errors
