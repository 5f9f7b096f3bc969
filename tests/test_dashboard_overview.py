"""Overview (总览) page, URL state and the standing of districts, on real and demo data."""
from __future__ import annotations

from datetime import date

import pytest

from dashboard import ids
from dashboard.layout import _query_with
from dashboard.pages import overview
from dashboard.state import default_period_of, resolve
from tests.dash_helpers import staff_client, by_id, render, routed, text, dump, route

SPANS = {"beijing": (date(2013, 3, 1), date(2017, 2, 28)),
         "yangquan-demo": (date(2024, 1, 1), date(2026, 11, 28))}
CITIES = ["beijing", "yangquan-demo", "empty-city"]


# -- URL state ------------------------------------------------------------------------

def test_default_view_of_an_archive_is_its_last_complete_year():
    view = resolve({}, CITIES, SPANS, "beijing")
    assert (view.city, view.period, view.year) == ("beijing", "year", 2016)
    assert (view.start, view.end) == (date(2016, 1, 1), date(2016, 12, 31))
    assert view.stats_label == "2016" and view.notices == ()


def test_default_view_of_live_data_is_year_to_date():
    assert default_period_of(date(2024, 1, 1), date(2026, 11, 28), date(2026, 11, 29)) \
        == ("ytd", 2026)
    view = resolve({"city": "yangquan-demo"}, CITIES, SPANS)
    # (today is after the demo's span here, so this is not live: the last complete year)
    assert view.city == "yangquan-demo" and view.period in ("year", "ytd")


def test_bad_url_values_fall_back_with_notices_never_errors():
    view = resolve({"city": "x'; DROP TABLE hourly;--", "year": "abc", "period": "decade",
                    "profile": "../../etc/passwd", "month": "13"}, CITIES, SPANS, "beijing")
    assert view.city == "beijing" and view.profile == "" and view.period == "year"
    assert len(view.notices) == 4  # city, year, period, profile


def test_month_and_range_views():
    month = resolve({"city": "beijing", "period": "month", "year": "2015", "month": "2"},
                    CITIES, SPANS)
    assert (month.start, month.end, month.stats_label) == (date(2015, 2, 1), date(2015, 2, 28),
                                                           "2015-02")
    rng = resolve({"city": "beijing", "period": "range", "from": "2016-12-20",
                   "to": "2017-01-10"}, CITIES, SPANS)
    assert (rng.start, rng.end, rng.year) == (date(2016, 12, 20), date(2017, 1, 10), 2017)
    # a custom range is its own (non-standard) period: exactly its days
    assert rng.stats_period == "range" and rng.stats_label == "2016-12-20..2017-01-10"
    # the end never runs past the data
    late = resolve({"city": "beijing", "period": "year", "year": "2017"}, CITIES, SPANS)
    assert late.end == date(2017, 2, 28)


def test_view_round_trips_through_the_url():
    view = resolve({"city": "beijing", "period": "month", "year": "2015", "month": "3",
                    "lang": "en", "district": "dongcheng"}, CITIES, SPANS,
                   page_keys=("district",))
    again = resolve(dict(p.split("=") for p in view.search()[1:].split("&")), CITIES, SPANS,
                    page_keys=("district",))
    assert again == view
    assert "district" not in view.shared_search()


def test_controls_write_the_url_and_a_new_city_drops_city_specific_keys():
    q = _query_with("?city=beijing&year=2015&district=dongcheng", [("city", "yangquan-demo")],
                    "city")
    assert q == {"city": "yangquan-demo"}
    q = _query_with("?city=beijing&period=range&from=2015-01-01&to=2015-02-01",
                    [("period", "month"), ("month", "3")], "period")
    assert q == {"city": "beijing", "period": "month", "month": "3"}


# -- the page on real data ------------------------------------------------------------

@pytest.mark.realdata
def test_overview_on_beijing_2015(beijing_app):
    page = render(beijing_app, overview, city="beijing", period="year", year="2015")
    city = text(by_id(page, ids.OVERVIEW_CITY))
    # Beijing's city PM2.5 for 2015 from indicators (published 80.6 µg/m³; see README)
    assert "81" in city and "PM2.5" in city
    cards = by_id(page, ids.OVERVIEW_CARDS)
    assert len(cards.children) == 8  # the site file's eight districts
    dongcheng = text(by_id(page, ids.overview_card("dongcheng")))
    assert "未达标" in dongcheng and "PM2.5" in dongcheng   # a complete year is judged
    assert by_id(page, ids.PAGE_SYNTHETIC_BANNER) is None
    assert by_id(page, ids.PAGE_ERROR) is None


@pytest.mark.realdata
def test_overview_through_the_router_in_english(beijing_app):
    body = routed(beijing_app, "/", "?city=beijing&year=2016&lang=en")
    assert "Good-day ratio" in body and "Districts against their targets" in body


def test_overview_on_the_demo_shows_targets_and_the_synthetic_banner(demo_app):
    page = render(demo_app, overview, city="yangquan-demo", period="ytd", year="2025")
    assert by_id(page, ids.PAGE_SYNTHETIC_BANNER) is not None
    chengqu = text(by_id(page, ids.overview_card("chengqu")))
    assert "37" in chengqu  # the local NO2 target of the urban district
    assert "剩余" in chengqu  # what the rest of the year must hold


@pytest.mark.realdata
@pytest.mark.parametrize("profile", ["cn-2012", "cn-2026-transition", "cn-2026-final",
                                     "who-2021", "eu-2030", "us-epa-2024"])
def test_every_page_renders_under_every_profile(beijing_app, profile):
    """No page may fail (error banner) whichever standard profile is chosen."""
    from dashboard.pages import PAGES
    client = staff_client(beijing_app)
    for page in PAGES:
        body = dump(route(client, page.PATH, f"?city=beijing&year=2015&profile={profile}"))
        assert ids.PAGE_ERROR not in body and ids.PAGE_DB_ERROR not in body, page.PATH


@pytest.mark.parametrize("query", [
    {"city": "beijing", "period": "year", "year": "2015"},
    {"city": "beijing", "period": "month", "year": "2016", "month": "2"},
    {"city": "beijing", "period": "ytd", "year": "2016", "profile": "who-2021"}])
def test_area_statistics_equal_the_full_tables_areas(beijing_app, query):
    """The overview's statistics computed without the stations' rows are exactly the
    district and city rows of the full table (and so are the change rates)."""
    import pandas as pd

    from dashboard.context import engine_of
    from dashboard.queries import catalog, period_stats, stats_with_change
    engine = engine_of(beijing_app.server)
    with beijing_app.server.app_context():
        cat = catalog(engine)
        view = resolve(query, cat.city_ids(), cat.spans, cat.default_city())
        for compute in (period_stats, stats_with_change):
            full = compute(engine, view)
            areas = compute(engine, view, areas_only=True)
            expected = full[full["level"] != "station"].reset_index(drop=True)
            assert len(areas) > 100 and set(areas["level"]) == {"district", "city"}
            pd.testing.assert_frame_equal(areas.reset_index(drop=True), expected,
                                          check_exact=True)


def test_the_heatmap_is_a_valid_plotly_figure_of_every_district(beijing_app):
    """The heatmap is built unvalidated (fast_figure): plotly must accept it as it is,
    with one row per district and value ÷ target in the cells."""
    import plotly.graph_objects as go

    from dashboard.context import engine_of
    from dashboard.figures.overview import standing_heatmap
    from dashboard.queries import catalog, standing_rows
    engine = engine_of(beijing_app.server)
    with beijing_app.server.app_context():
        cat = catalog(engine)
        view = resolve({"city": "beijing", "year": "2015"}, cat.city_ids(), cat.spans,
                       cat.default_city())
        table = standing_rows(engine, view)
    figure = standing_heatmap(table, cat.names("district", "zh"), "zh", "title")
    go.Figure(figure.to_dict())                       # validates every property
    heatmap = figure.data[0]
    assert len(heatmap.y) == table["area"].nunique() == 8          # Beijing's districts
    row = table[(table["area"] == "dongcheng") & (table["pollutant"] == "PM2.5")
                & (table["statistic"] == "annual_mean")].iloc[0]
    i, j = list(heatmap.y).index(cat.name("district", "dongcheng")), list(heatmap.x).index("PM2.5")
    assert heatmap.z[i][j] == min(row["reported"] / row["target"], 1.5)
    assert heatmap.text[i][j] == f"{row['reported']:g}" and row["reported"] == 85
    assert figure.layout.yaxis.autorange == "reversed"
