"""Exceedances (超标) page: grid, calendar, exceedance table and its downloads.

Real-data tests check the page against an independent run of the indicators
pipeline on the Beijing set and against hand-computed values (HJ 633 IAQI,
(C − S)/S multiples); demo tests check targets and the synthetic labels.
"""
from __future__ import annotations

import csv
import io
from datetime import date

import numpy as np
import pandas as pd
import pytest

from dashboard import ids
from dashboard.exports import export_url
from dashboard.figures import AQI_LEVELS, NO_DATA_COLOR
from dashboard.figures import exceedances as fx
from dashboard.pages import exceedances as page
from indicators.daily_limits import daily_limits
from tests.dash_helpers import staff_client, by_id, dump, render, routed, text


def _view(app, **query):
    """(view, catalog, engine) as the page resolves them, inside the app's context."""
    from dashboard.context import current_engine
    from dashboard.queries import catalog
    from dashboard.state import resolve
    engine = current_engine()
    cat = catalog(engine)
    view = resolve(query, cat.city_ids(), cat.spans, cat.default_city(), page.PAGE_KEYS)
    return view, cat, engine


def _grid_colour(figure, row: int, day: int) -> str:
    """Colour of one cell of the district × day grid (its state through the colour scale)."""
    heat = figure.data[0]
    state = int(np.asarray(heat.z)[row][day])
    n = len(heat.colorscale) // 2
    return heat.colorscale[2 * state][1] if state < n else None


# -- pure functions -------------------------------------------------------------------

def test_aqi_states_follow_the_hj633_level_bounds():
    states = fx.aqi_states(pd.Series([0, 50, 51, 100, 101, 150, 151, 200, 201, 300, 301, 500,
                                      None], dtype="Int64"))
    assert states.tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 0]
    legend = fx.aqi_state_legend(lang="en")
    assert legend[0] == (NO_DATA_COLOR, "no valid AQI")
    assert [c for c, _ in legend[1:]] == [lv[1] for lv in AQI_LEVELS]
    assert legend[5] == ("#99004C", "Heavily polluted")


def test_pollutant_states_use_the_exceedance_verdict_and_mark_target_levels():
    reported = [np.nan, 30.0, 50.0, 90.0, 40.0]
    limit = [80.0, 80.0, 80.0, 80.0, np.nan]
    exceeds = [False, False, False, True, False]
    assert fx.pollutant_states(reported, limit, exceeds).tolist() == [0, 1, 1, 3, 0]
    target = [37.0, 37.0, 37.0, 37.0, 37.0]
    # 50 > the annual target 37 but within the 24-h limit: "above the target level" (2)
    assert fx.pollutant_states(reported, limit, exceeds, target).tolist() == [0, 1, 2, 3, 0]


def test_daily_limits_follow_profile_grade_and_quantity():
    daily = pd.DataFrame({
        "level": ["district"] * 6, "area": ["a", "a", "b", "a", "a", "a"],
        "date": pd.to_datetime(["2026-02-28", "2026-03-01", "2026-02-28", "2026-02-28",
                                "2026-02-28", "2026-02-28"]),
        "pollutant": ["PM2.5", "PM2.5", "PM2.5", "O3_MDA8", "O3_1H_MAX", "CO"],
        "profile": ["cn-2012", "cn-2026-transition", "cn-2012", "cn-2012", "cn-2012",
                    "cn-2012"]})
    # GB 3095-2012 PM2.5 24-h: 75 (II) / 35 (I); 2026 transition: 60; O3 MDA8 160; CO 4
    got = daily_limits(daily, grades={"b": "I"})
    assert got[[0, 1, 2, 3, 5]].tolist() == [75, 60, 35, 160, 4] and np.isnan(got[4])
    who = daily_limits(daily, profile="who-2021")
    assert who[[0, 1, 3]].tolist() == [15, 15, 100]
    assert np.isnan(daily_limits(daily, profile="us-epa-2024")).all()


def test_calendar_places_days_on_weekday_columns_and_greys_missing_days():
    # January 2015 starts on a Thursday: day 1 sits in week row 0, column 3 (Mon = 0)
    cells = pd.DataFrame({"date": pd.to_datetime(["2015-01-01", "2015-01-15"]),
                          "state": [6, 2], "info": ["a", "b"]})
    fig = fx.calendar(cells, date(2015, 1, 1), date(2015, 1, 31), mode="aqi")
    heat = fig.data[0]
    z, labels = np.asarray(heat.z, dtype=float), np.asarray(heat.text, dtype=object)
    assert z[2, 3] == 6 and labels[2, 3] == "1"
    assert z[4, 3] == 2 and labels[4, 3] == "15"          # Thursday, third week
    assert z[2, 4] == 0 and labels[2, 4] == "2"           # no cell: the grey "no data" state
    assert np.isnan(z[2, 0])                              # before the 1st: blank
    ratio = fx.calendar(cells.assign(ratio=[2.5, np.nan]), date(2015, 1, 1),
                        date(2015, 1, 31), mode="ratio")
    rz = np.asarray(ratio.data[0].z, dtype=float)
    assert rz[2, 3] == 2.5 and rz[4, 3] == fx.RATIO_NODATA


# -- Beijing: the table equals an independent run of the indicators --------------------

def _independent_january(beijing_db_url) -> tuple[pd.DataFrame, pd.DataFrame]:
    """statistics.exceedances and the daily AQI of Beijing's districts and city, January 2015,
    computed here from the stored hours (not through the dashboard)."""
    from indicators import pipeline, statistics
    from store.db import make_engine
    from store.frames import hourly_frame, membership, station_table

    engine = make_engine(beijing_db_url)
    with engine.connect() as conn:
        members = membership(conn, "beijing")
        stations = station_table(conn)
        codes = stations.loc[stations["city"] == "beijing", "code"]
        hourly = hourly_frame(conn, stations=codes, start=np.datetime64("2015-01-01T00:00:00"),
                              end=np.datetime64("2015-01-31T23:00:00"))
    engine.dispose()
    grades = pipeline.grades_of(members, dict(zip(stations["code"],
                                                  stations["grade"].fillna("II"))))
    daily, aqi = pipeline.daily_and_aqi(hourly, members)
    rows = statistics.exceedances(daily, grades=grades)
    rows = rows[rows["level"].isin(["district", "city"])
                & (pd.to_datetime(rows["date"]).dt.month == 1)]
    return rows.reset_index(drop=True), aqi[aqi["level"].isin(["district", "city"])]


@pytest.mark.realdata
def test_table_equals_an_independent_computation_beijing_january_2015(beijing_app,
                                                                       beijing_db_url):
    rows, aqi = _independent_january(beijing_db_url)
    expected = rows.merge(aqi[["level", "area", "date", "aqi"]], on=["level", "area", "date"],
                          how="left")
    expected = pd.DataFrame({
        "date": pd.to_datetime(expected["date"]).dt.strftime("%Y-%m-%d"),
        "area": expected["area"].astype(str), "pollutant": expected["pollutant"].astype(str),
        "value": expected["value"].astype(float), "limit": expected["limit"].astype(float),
        "multiple": expected["multiple"].astype(float),
        "aqi": expected["aqi"].astype("float64")})
    with beijing_app.server.test_request_context():
        view, cat, engine = _view(beijing_app, city="beijing", period="month", year="2015",
                                  month="1")
        table = page.table_frame(view, cat, engine)
    assert len(table) == len(expected) > 100
    got = pd.DataFrame({"date": table["date"], "area": table["area"],
                        "pollutant": table["pollutant"],
                        "value": table["value"].astype(float), "limit": table["limit"].astype(float),
                        "multiple": table["multiple"].astype(float),
                        "aqi": table["aqi"].astype("float64")})
    key = ["date", "area", "pollutant"]
    pd.testing.assert_frame_equal(got.sort_values(key).reset_index(drop=True),
                                  expected.sort_values(key).reset_index(drop=True))
    # one pollutant: exactly that pollutant's rows
    with beijing_app.server.test_request_context():
        view, cat, engine = _view(beijing_app, city="beijing", period="month", year="2015",
                                  month="1", pollutant="PM2.5")
        pm = page.table_frame(view, cat, engine)
    assert set(pm["pollutant"]) == {"PM2.5"}
    assert len(pm) == int((expected["pollutant"] == "PM2.5").sum())


@pytest.mark.realdata
def test_a_hand_checked_severe_day_in_beijing(beijing_app):
    """2015-01-15, the city: PM2.5 328 µg/m³ → IAQI 300 + (400 − 300)/(350 − 250)·(328 − 250)
    = 378 (HJ 633, > 300: 严重污染 #7E0023); multiple (328 − 75)/75 = 3.37."""
    query = dict(city="beijing", period="year", year="2015")
    with beijing_app.server.test_request_context():
        view, cat, engine = _view(beijing_app, **query)
        table = page.table_frame(view, cat, engine)
    day = table[(table["date"] == "2015-01-15") & (table["area"] == "beijing")]
    pm = day[day["pollutant"] == "PM2.5"].iloc[0]
    assert (pm["value"], pm["limit"], pm["multiple"], pm["aqi"]) == (328, 75, 3.37, 378)
    assert pm["aqi_level"] == "严重污染" and pm["primary_pollutant"] == "PM2.5"
    co = day[day["pollutant"] == "CO"].iloc[0]
    assert (co["value"], co["limit"], co["multiple"]) == (4.8, 4, 0.2)   # (4.8 − 4)/4
    assert set(day["pollutant"]) == {"NO2", "PM10", "PM2.5", "CO"}

    tree = render(beijing_app, page, **query)
    figure = by_id(tree, ids.EXCEEDANCES_GRID).figure
    assert list(figure.data[0].y)[:2] == ["全市", "东城区"]        # the city first
    jan15 = (date(2015, 1, 15) - date(2015, 1, 1)).days
    assert _grid_colour(figure, 0, jan15) == "#7E0023" == AQI_LEVELS[5][1]
    hover = np.asarray(figure.data[0].customdata, dtype=object)[0][jan15]
    assert "AQI 378 严重污染" in hover and "PM2.5 328 > 75 (3.37)" in hover
    # a day without a valid city AQI (2015-03-31) is the no-data grey
    mar31 = (date(2015, 3, 31) - date(2015, 1, 1)).days
    assert _grid_colour(figure, 0, mar31) == NO_DATA_COLOR
    assert "无有效 AQI" in hover_of(figure, 0, mar31)


def hover_of(figure, row: int, day: int) -> str:
    return str(np.asarray(figure.data[0].customdata, dtype=object)[row][day])


@pytest.mark.realdata
def test_pollutant_grid_and_calendar_on_beijing(beijing_app):
    tree = render(beijing_app, page, city="beijing", period="month", year="2015", month="1",
                  pollutant="PM2.5", district="haidian")
    grid = by_id(tree, ids.EXCEEDANCES_GRID).figure
    legend = [c for c, _ in fx.pollutant_state_legend("zh")]
    assert legend[3] == fx.OVER_COLOR
    z = np.asarray(grid.data[0].z)
    assert z.shape == (9, 31)
    # the grid says "above the limit" exactly on the table's rows
    with beijing_app.server.test_request_context():
        view, cat, engine = _view(beijing_app, city="beijing", period="month", year="2015",
                                  month="1", pollutant="PM2.5")
        table = page.table_frame(view, cat, engine)
    order = page._area_order(view, cat)
    over = {(order[r], d + 1) for r, d in zip(*np.nonzero(z == 3))}
    listed = {(a, int(d[-2:])) for a, d in zip(table["area"], table["date"])}
    assert over == listed
    assert "PM2.5 328 µg/m³ · 24小时限值 75 · 超标倍数 3.37" in hover_of(grid, 0, 14)
    calendar = by_id(tree, ids.EXCEEDANCES_CALENDAR).figure
    assert "海淀区" in calendar.layout.title.text
    cz = np.asarray(calendar.data[0].z, dtype=float)
    haidian = table[table["area"] == "haidian"]
    # Jan 15 2015 (Thursday, third week): value ÷ limit as coloured
    row = haidian[haidian["date"] == "2015-01-15"].iloc[0]
    assert cz[4, 3] == pytest.approx(min(row["value"] / 75, fx.RATIO_MAX))


@pytest.mark.realdata
def test_summary_counts_equal_the_period_statistics(beijing_app):
    from dashboard.queries import exceedance_data, period_stats
    with beijing_app.server.test_request_context():
        view, cat, engine = _view(beijing_app, city="beijing", period="year", year="2015")
        counts = page.summary_frame(exceedance_data(engine, view), page._area_order(view, cat))
        stats = period_stats(engine, view)
    days = stats[(stats["statistic"] == "exceedance_days") & (stats["level"] != "station")]
    for r in days.itertuples(index=False):
        assert counts.at[r.area, r.pollutant] == int(r.value), (r.area, r.pollutant)
    city = stats[(stats["level"] == "city")].set_index("statistic")["value"]
    assert counts.at["beijing", "valid"] == city["valid_aqi_days"] == 363
    assert counts.at["beijing", "aqi100"] == city["valid_aqi_days"] - city["good_days"] == 180
    tree = render(beijing_app, page, city="beijing", year="2015")
    summary = text(by_id(tree, ids.EXCEEDANCES_SUMMARY))
    assert "北京市" in summary and "143" in summary     # the city's PM2.5 exceedance days


@pytest.mark.realdata
def test_exports_hold_exactly_the_table(beijing_app):
    import openpyxl
    client = staff_client(beijing_app)
    query = dict(city="beijing", period="month", year="2015", month="2", pollutant="PM10")
    with beijing_app.server.test_request_context():
        view, cat, engine = _view(beijing_app, **query)
        table = page.table_frame(view, cat, engine)
        csv_url, xlsx_url = export_url("exceedances", "csv", view), \
            export_url("exceedances", "xlsx", view)
    assert len(table) > 10
    response = client.get(csv_url)
    assert response.status_code == 200
    assert "lantian-exceedances-beijing-2015-02-01-2015-02-28.csv" in \
        response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    # headers in the page's language (Chinese by default), codes on request (&codes=1)
    from dashboard.exports import headers
    assert rows[0] == list(headers(pd.DataFrame(columns=page.TABLE_COLUMNS), "zh").columns)
    assert rows[0][:3] == ["日期", "区域代码", "区域"]
    coded = client.get(csv_url + "&codes=1").get_data().decode("utf-8-sig")
    assert coded.splitlines()[0].split(",") == page.TABLE_COLUMNS
    expected = [["" if pd.isna(v) else str(v) for v in r] for r in
                table.astype(object).itertuples(index=False)]
    assert rows[1:] == expected
    response = client.get(xlsx_url + "&codes=1")
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.get_data())).active
    cells = list(sheet.iter_rows(values_only=True))
    assert list(cells[0]) == page.TABLE_COLUMNS and len(cells) == len(table) + 1
    first = dict(zip(cells[0], cells[1]))
    assert (first["date"], first["pollutant"], first["value"], first["limit"]) == \
        (table.iloc[0]["date"], "PM10", table.iloc[0]["value"], 150)
    # the page links to these very addresses
    tree = render(beijing_app, page, **query)
    assert by_id(tree, ids.EXCEEDANCES_EXPORT_CSV).href == csv_url
    assert by_id(tree, ids.EXCEEDANCES_EXPORT_XLSX).href == xlsx_url


@pytest.mark.realdata
def test_unknown_keys_fall_back_without_error(beijing_app):
    tree = render(beijing_app, page, city="beijing", year="2015", pollutant="PM25X<script>",
                  district="nowhere", basis="annual")
    assert by_id(tree, ids.PAGE_ERROR) is None
    notices = text(by_id(tree, ids.EXCEEDANCES_NOTICES))
    assert "未知污染物" in notices and "未知区域" in notices and "未知对照方式" in notices
    assert "逐日 AQI 级别" in by_id(tree, ids.EXCEEDANCES_GRID).figure.layout.title.text
    assert "北京市" in by_id(tree, ids.EXCEEDANCES_CALENDAR).figure.layout.title.text
    # a lower-case pollutant is understood; a profile without daily limits says so
    tree = render(beijing_app, page, city="beijing", year="2015", pollutant="pm2.5",
                  profile="us-epa-2024")
    assert by_id(tree, ids.PAGE_ERROR) is None and by_id(tree, ids.EXCEEDANCES_NOTICES) is None
    assert "没有 PM2.5 的日均浓度限值" in text(by_id(tree, ids.EXCEEDANCES_GRID))


@pytest.mark.realdata
def test_range_view_in_english_through_the_router(beijing_app):
    body = routed(beijing_app, "/exceedances",
                  "?city=beijing&period=range&from=2016-12-20&to=2017-01-10&lang=en")
    assert "Exceedance days per area" in body and "Daily AQI level by area" in body
    assert "Download CSV" in body and "Dec 2016" in body and "Jan 2017" in body


# -- the synthetic demo city ----------------------------------------------------------------

def test_demo_titles_and_exports_are_labelled_synthetic(demo_app):
    tree = render(demo_app, page, city="yangquan-demo", period="month", year="2025", month="1")
    assert by_id(tree, ids.PAGE_SYNTHETIC_BANNER) is not None
    for key in (ids.EXCEEDANCES_GRID, ids.EXCEEDANCES_CALENDAR):
        assert "SYNTHETIC" in by_id(tree, key).figure.layout.title.text
    assert "SYNTHETIC" in text(by_id(tree, ids.EXCEEDANCES_SUMMARY))
    response = staff_client(demo_app).get(by_id(tree, ids.EXCEEDANCES_EXPORT_CSV).href)
    assert response.status_code == 200
    assert "-SYNTHETIC.csv" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert rows and all(r["备注"] == "SYNTHETIC demo data, not measurements" for r in rows)


def test_demo_target_basis_marks_days_above_the_annual_target(demo_app):
    query = dict(city="yangquan-demo", year="2025", pollutant="NO2", basis="target")
    tree = render(demo_app, page, **query)
    assert by_id(tree, ids.PAGE_ERROR) is None
    note = text(by_id(tree, ids.EXCEEDANCES_NOTE))
    assert "年均浓度目标" in note and "不算超标" in note
    figure = by_id(tree, ids.EXCEEDANCES_GRID).figure
    names = [trace.name for trace in figure.data[1:]]
    assert "高于年均目标值（参考）" in names
    rows = list(figure.data[0].y)
    z = np.asarray(figure.data[0].z)
    assert rows[0] == "全市" and not (z[0] == 2).any()      # the city has no target
    with demo_app.server.test_request_context():
        view, cat, engine = _view(demo_app, **query)
        from dashboard.queries import exceedance_data
        data = exceedance_data(engine, view)
    # 城区 (chengqu): NO2 target 37 µg/m³ (annual mean); state 2 ⇔ 37 < value ≤ limit
    no2 = data.days[(data.days["area"] == "chengqu") & (data.days["pollutant"] == "NO2")]
    no2 = no2.sort_values("date").reset_index(drop=True)
    row = z[rows.index("城区")]
    expect = np.where(no2["exceeds"], 3, np.where(no2["reported"].isna(), 0,
                                                 np.where(no2["reported"] > 37, 2, 1)))
    assert len(no2) == z.shape[1] == 181       # the test demo ends on 2025-06-30
    assert (row == expect).all() and (row == 2).sum() > 30
    # the basis control is offered for NO2 (targets exist) but not for PM2.5 (none)
    assert '"name": "basis"' in dump(tree)
    pm = render(demo_app, page, city="yangquan-demo", year="2025", pollutant="PM2.5",
                basis="target")
    assert '"name": "basis"' not in dump(pm)
    assert "PM2.5 没有地方年均目标" in text(by_id(pm, ids.EXCEEDANCES_NOTICES))
