"""The dashboard: app factory, page ``/data`` (数据概况 / What is loaded), figures.

Routes are exercised with Flask's test client and the page layout is called
directly (it is a plain function), so no browser is needed. ``create_app`` is
called many times in this process on purpose: the Dash page registry is
global and the factory must cope with that.
"""
from __future__ import annotations

import re

import pandas as pd
import pytest

from config.sites import load_site_config
from dashboard import ids
from dashboard.app import create_app, engine_of
from dashboard.figures import readings_by_station
from dashboard.i18n import SYNTHETIC_BANNER
from dashboard.pages import data as data_page
from ingest.loader import (LoadResult, UnknownStationsWarning, finish_run, load_frame,
                           start_run)
from store.db import make_engine, migrate
from store.sites import sync_site_config
from tests.conftest import BEIJING_SITES, YANGQUAN_SITES
from tests.dash_helpers import login, staff_client, by_id, dump, route, text, walk

LOCAL_HOSTS = {"localhost", "127.0.0.1", "[::1]"}


# -- helpers ------------------------------------------------------------------

def _frame(series: dict[tuple[str, str], list[float]], start="2026-11-01 00:00") -> pd.DataFrame:
    """A canonical long frame from {(station, pollutant): hourly values from ``start``}."""
    unit = {"CO": "mg/m3"}
    rows = []
    for (station, pollutant), values in series.items():
        for ts, value in zip(pd.date_range(start, periods=len(values), freq="h"), values):
            rows.append((station, ts, pollutant, float(value), unit.get(pollutant, "µg/m3"), "ok"))
    return pd.DataFrame(rows, columns=["station", "time", "pollutant", "value", "unit", "flag"])


def _load(engine, frame: pd.DataFrame, name: str = "tiny.csv") -> LoadResult:
    result = LoadResult(file=f"/somewhere/{name}", reader="test")
    result.run_id, result.same_as_run = start_run(engine, "test", result.file, name, {})
    with engine.begin() as conn:
        load_frame(conn, frame, result)
    finish_run(engine, result)
    return result


def _sync(engine, site_file):
    with engine.begin() as conn:
        sync_site_config(conn, load_site_config(site_file))


# SYN01: 24 h of PM2.5 and NO2, one NO2 value negative (flagged, not counted);
# SYN02: 12 h of PM2.5; SYN03 (in the site file) has no readings.
DEMO_SERIES = {
    ("SYN01", "PM2.5"): [30 + i for i in range(24)],
    ("SYN01", "NO2"): [20 + i % 5 if i != 5 else -3 for i in range(24)],
    ("SYN02", "PM2.5"): [40 + i % 7 for i in range(12)],
}


@pytest.fixture
def app_factory():
    """``create_app`` that disposes the engines of the apps it built afterwards."""
    apps = []

    def build(url):
        app = create_app(url)
        apps.append(app)
        return app
    yield build
    for app in apps:
        engine_of(app.server).dispose()


@pytest.fixture
def demo_db(engine):
    """The migrated test database with the synthetic Yangquan site and a few hours."""
    _sync(engine, YANGQUAN_SITES)
    _load(engine, _frame(DEMO_SERIES))
    return engine


def _rows(table_section) -> list[list[str]]:
    """Cell texts of every body row of the tables in a section."""
    rows = []
    for comp in walk(table_section):
        if type(comp).__name__ == "Tbody":
            for tr in comp.children:
                rows.append([text(td) for td in tr.children])
    return rows


def _page(app, **query):
    with app.server.app_context():
        return data_page.layout(**query)


def _route(client, search="") -> str:
    """The router's answer for ``/data`` + ``search`` as JSON text."""
    return dump(route(client, "/data", search))


def _foreign_hosts(text: str) -> set[str]:
    hosts = {m.group(1).lower() for m in re.finditer(r"https?://([^/\"'\s<>)]+)", text)}
    return {h for h in hosts if h.split(":")[0] not in LOCAL_HOSTS and h not in LOCAL_HOSTS}


# -- routes and the root layout ----------------------------------------------------

def test_index_and_root_layout_are_served_without_data(demo_db, db_url, app_factory):
    app = app_factory(db_url)
    client = staff_client(app)

    index = client.get("/")
    assert index.status_code == 200
    html = index.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    assert "/assets/style.css" in html

    root = client.get("/_dash-layout")
    assert root.status_code == 200
    served = dump(root.get_json())
    assert "_pages_content" in served and "数据概况" in served  # frame and navigation only
    for leaked in ("SYN01", "SYN02", "合成", "SYNTHETIC", "阳泉"):
        assert leaked not in served

    css = client.get("/assets/style.css")
    assert css.status_code == 200
    assert "WenQuanYi Micro Hei" in css.get_data(as_text=True)


def test_nothing_is_loaded_from_other_hosts(demo_db, db_url, app_factory):
    app = app_factory(db_url)
    client = staff_client(app)
    index = client.get("/").get_data(as_text=True)
    assert _foreign_hosts(index) == set()
    for src in re.findall(r'(?:src|href)="([^"]+)"', index):
        assert not src.startswith("//"), src
    assert _foreign_hosts(client.get("/assets/style.css").get_data(as_text=True)) == set()
    assert _foreign_hosts(_route(client)) == set()


# -- the page ---------------------------------------------------------------------

def test_overview_lists_stations_counts_runs_and_synthetic_banner(demo_db, db_url, app_factory):
    page = _page(app_factory(db_url))

    banner = by_id(page, ids.DATA_SYNTHETIC_BANNER)
    assert banner is not None and SYNTHETIC_BANNER in text(banner)
    assert "阳泉" in text(banner)

    city = by_id(page, ids.data_city("yangquan-demo"))
    assert city is not None
    rows = _rows(city)
    # code, name, district, role, pollutant, readings, first, last, flagged
    assert ["SYN01", "城区合成站一", "城区", "评价点", "NO2", "23", "2026-11-01 00:00",
            "2026-11-01 23:00", "1"] in rows
    assert ["PM2.5", "24", "2026-11-01 00:00", "2026-11-01 23:00", "0"] in rows
    assert ["SYN02", "城区合成站二", "城区", "评价点", "PM2.5", "12", "2026-11-01 00:00",
            "2026-11-01 11:00", "0"] in rows
    assert ["SYN03", "矿区合成站一", "矿区", "评价点", "暂无数据"] in rows
    assert {r[0] for r in rows if r[0].startswith("SYN")} == {f"SYN0{i}" for i in range(1, 10)}

    summary = text(by_id(page, ids.DATA_SUMMARY))
    assert "59" in summary  # 24 + 23 + 12 valid readings

    graph = by_id(page, ids.DATA_CHART)
    assert graph is not None
    assert "合成" in graph.figure.layout.title.text
    assert {tr.name for tr in graph.figure.data} == {"PM2.5", "NO2"}

    runs = _rows(by_id(page, ids.DATA_RUNS))
    assert len(runs) == 1
    assert runs[0][1:4] == ["test", "tiny.csv", "成功"]  # file name only, not the server path
    assert "/somewhere" not in dump(by_id(page, ids.DATA_RUNS))
    assert by_id(page, ids.DATA_EMPTY) is None


def test_router_renders_the_page_per_request_with_query_parameters(demo_db, db_url, app_factory):
    client = staff_client(app_factory(db_url))
    zh = _route(client)
    assert "SYN01" in zh and SYNTHETIC_BANNER in zh and "数据概况" in zh
    # Query parameters reach the layout as keyword arguments; unknown ones are ignored.
    en = _route(client, "?lang=en&foo=bar")
    assert "What is loaded" in en and "SYN01" in en and SYNTHETIC_BANNER in en
    assert "Chengqu synthetic 1" in en


def test_layout_reads_the_database_at_request_time(engine, db_url, app_factory):
    app = app_factory(db_url)
    before = _page(app)
    empty = by_id(before, ids.DATA_EMPTY)
    assert empty is not None
    assert "lantian ingest" in text(empty) and "lantian init" in text(empty)
    assert by_id(before, ids.DATA_SYNTHETIC_BANNER) is None
    assert by_id(before, ids.DATA_CHART) is None
    assert text(by_id(before, ids.DATA_RUNS))  # "no runs yet", not an error

    _sync(engine, YANGQUAN_SITES)
    stations_only = _page(app)
    assert "lantian ingest" in text(by_id(stations_only, ids.DATA_EMPTY))
    assert "lantian init" not in text(by_id(stations_only, ids.DATA_EMPTY))
    assert by_id(stations_only, ids.DATA_SYNTHETIC_BANNER) is not None  # synthetic city
    assert "SYN05" in text(by_id(stations_only, ids.DATA_CITIES))

    _load(engine, _frame(DEMO_SERIES))
    after = _page(app)
    assert by_id(after, ids.DATA_EMPTY) is None
    assert by_id(after, ids.DATA_CHART) is not None


def test_real_city_has_no_synthetic_banner(engine, db_url, app_factory):
    _sync(engine, BEIJING_SITES)
    _load(engine, _frame({("1001A", "PM10"): [80, 82, 85], ("1001A", "CO"): [0.8, 0.9, 1.0]}))
    page = _page(app_factory(db_url))
    assert by_id(page, ids.DATA_SYNTHETIC_BANNER) is None
    assert SYNTHETIC_BANNER not in dump(page)
    title = by_id(page, ids.DATA_CHART).figure.layout.title.text
    assert "合成" not in title and "synthetic" not in title.lower()
    rows = _rows(by_id(page, ids.data_city("beijing")))
    assert any(r[:1] == ["1001A"] and r[4:6] == ["CO", "3"] for r in rows)


def test_stations_created_by_ingest_are_listed_without_a_city(engine, db_url, app_factory):
    with pytest.warns(UnknownStationsWarning, match="X999"):
        _load(engine, _frame({("X999", "O3"): [50, 60]}))
    page = _page(app_factory(db_url))
    rows = _rows(by_id(page, ids.data_city(None)))
    assert rows[0][0] == "X999" and rows[0][4:6] == ["O3", "2"]
    assert by_id(page, ids.DATA_SYNTHETIC_BANNER) is None


def test_uninitialised_database_gets_a_message_not_an_error(tmp_path, app_factory):
    app = app_factory(f"sqlite:///{tmp_path / 'never-initialised.sqlite'}")
    client = app.server.test_client()
    assert client.get("/").headers["Location"].startswith("/login")
    assert client.get("/login").status_code == 200
    refused = login(client, "admin")        # no accounts table yet: a message, not a 500
    assert refused.status_code == 503
    assert "lantian init" in refused.get_data(as_text=True)
    page = _page(app)
    error = by_id(page, ids.DATA_DB_ERROR)
    assert error is not None and "lantian init" in text(error)


def test_create_app_several_times_each_app_reads_its_own_database(tmp_path, app_factory):
    import dash

    urls = []
    for name, site, series in (("a", YANGQUAN_SITES, {("SYN01", "SO2"): [5, 6]}),
                               ("b", BEIJING_SITES, {("1001A", "SO2"): [7, 8, 9]})):
        url = f"sqlite:///{tmp_path / name}.sqlite"
        eng = make_engine(url)
        migrate(eng)
        _sync(eng, site)
        _load(eng, _frame(series))
        eng.dispose()
        urls.append(url)
    app_a, app_b = app_factory(urls[0]), app_factory(urls[1])
    app_a2 = app_factory(urls[0])

    from dashboard.pages import PAGES
    assert [p["path"] for p in dash.page_registry.values()] == [m.PATH for m in PAGES]
    for app, mine, other in ((app_a, "SYN01", "1001A"), (app_b, "1001A", "SYN01"),
                             (app_a2, "SYN01", "1001A")):
        served = _route(staff_client(app))
        assert mine in served and other not in served


def test_rendered_component_ids_come_from_ids_module(demo_db, db_url, app_factory):
    app = app_factory(db_url)
    known = {v for k, v in vars(ids).items() if k.isupper() and isinstance(v, str)}
    assert len(known) == len([k for k in vars(ids) if k.isupper()])  # no duplicate values
    page = _page(app)
    rendered = {c.id for c in walk(page) if getattr(c, "id", None)}
    city_ids = {i for i in rendered if i.startswith("data-city-")}
    assert rendered - city_ids <= known
    assert ids.data_city("yangquan-demo") in city_ids
    with app.server.test_request_context():
        root = {c.id for c in walk(app.layout()) if isinstance(getattr(c, "id", None), str)}
    assert {ids.HEADER, ids.NAV, ids.MAIN, ids.LOGIN_LINK} <= root


# -- figures ----------------------------------------------------------------------

def _status(rows, synthetic=()):
    frame = pd.DataFrame(rows, columns=["station", "pollutant", "readings", "first", "last",
                                        "flagged"])
    frame.attrs["synthetic_stations"] = list(synthetic)
    return frame


STATUS_ROWS = [("A1", "NO2", 10, "", "", 0), ("A1", "PM2.5", 12, "", "", 1),
               ("B2", "PM2.5", 7, "", "", 0), ("B2", "O3", 3, "", "", 0)]


def test_readings_figure_has_one_trace_per_pollutant():
    fig = readings_by_station(_status(STATUS_ROWS))
    # pollutants in the standard order: NO2, PM2.5, O3 (see config.sites.POLLUTANTS)
    assert [tr.name for tr in fig.data] == ["NO2", "PM2.5", "O3"]
    assert all(tr.type == "bar" for tr in fig.data)
    by_name = {tr.name: dict(zip(tr.x, tr.y)) for tr in fig.data}
    assert by_name["PM2.5"] == {"A1": 12, "B2": 7}
    assert by_name["NO2"] == {"A1": 10, "B2": 0}
    assert fig.layout.barmode == "group"
    title = fig.layout.title.text
    assert "合成" not in title and "synthetic" not in title.lower()


def test_readings_figure_title_says_synthetic():
    flagged = readings_by_station(_status(STATUS_ROWS, synthetic=["A1"]))
    assert "合成" in flagged.layout.title.text and "SYNTHETIC" in flagged.layout.title.text
    english = readings_by_station(_status(STATUS_ROWS), synthetic=True, lang="en")
    assert "synthetic" in english.layout.title.text.lower()
    assert readings_by_station(_status(STATUS_ROWS, synthetic=["A1"]), synthetic=False
                               ).layout.title.text == readings_by_station(
                                   _status(STATUS_ROWS)).layout.title.text


def test_readings_figure_of_nothing_says_so():
    fig = readings_by_station(_status([]))
    assert len(fig.data) == 0
    assert fig.layout.annotations[0].text == "暂无数据"


def test_installed_dashboard_is_a_regular_package(tmp_path):
    """``lantian serve`` imports the installed package, not the checkout on sys.path.

    An editable install made before ``dashboard/__init__.py`` existed maps
    ``dashboard`` as a namespace package, and Flask then fails with "No root
    path can be found for the provided module 'dashboard'"; reinstall with
    ``pip install -e .`` to fix it.
    """
    import os
    import subprocess
    import sys

    code = "import dashboard.app, dashboard; print(dashboard.__file__)"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, env=env)
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.strip().endswith("__init__.py"), done.stdout


def test_grid_shows_short_tables_without_an_inner_scroll_bar():
    from dashboard.layout import grid, grid_height
    frame = pd.DataFrame({"a": [f"row {i}" for i in range(8)], "b": range(8)})
    cols = [{"field": "a"}, {"field": "b"}]
    # AG Grid Alpine: 49 px header, 42 px rows, 2 px border (measured in Chromium)
    assert grid(frame, cols).children.style["height"] == "387px"
    assert grid_height(200) == 560                              # long: scrolls inside
    assert grid_height(40, page_size=5) == 49 + 5 * 42 + 2 + 48  # one page and the pager
    grown = grid(frame, cols, auto_height=True).children
    assert grown.dashGridOptions["domLayout"] == "autoHeight" and "height" not in grown.style
