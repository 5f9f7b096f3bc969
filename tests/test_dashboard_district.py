"""District (区县) page: daily trend, monthly statistic, year-to-date path, stations, ledger."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashboard import ids
from dashboard.figures.district import daily_trend, monthly_bars, station_bars, ytd_path
from dashboard.pages import district
from tests.dash_helpers import staff_client, by_id, figure_of, of_type, render, routed, text


def _trace(fig, name_part):
    found = [tr for tr in fig.data if tr.name and name_part in tr.name]
    assert found, f"no trace named like {name_part!r}: {[tr.name for tr in fig.data]}"
    return found[0]


def _ledger_rows(page) -> pd.DataFrame:
    grid = by_id(page, ids.DISTRICT_LEDGER)
    assert grid is not None
    return pd.DataFrame(grid.rowData)


def _independent_district_stats(db_url: str, district_id: str, year: int, period: str):
    """Period statistics of one Beijing district straight from the database through
    indicators (no dashboard query, no cache)."""
    from indicators import averaging, statistics
    from store.db import make_engine
    from store.frames import hourly_frame, membership

    engine = make_engine(db_url)
    with engine.connect() as conn:
        members = membership(conn, "beijing")
        members = members[(members["level"] == "district") & (members["area"] == district_id)]
        hourly = hourly_frame(conn, stations=members["station"],
                              start=np.datetime64(f"{year}-01-01T00:00:00"),
                              end=np.datetime64(f"{year}-12-31T23:00:00"))
    engine.dispose()
    daily = averaging.daily_values(hourly, members)
    stats = statistics.period_statistics(daily, period=period)
    return stats[(stats["level"] == "district") & (stats["area"] == district_id)], members


# -- on the real Beijing data -------------------------------------------------------------

@pytest.mark.realdata
def test_beijing_2015_dongcheng_monthly_means_equal_indicators(beijing_app, beijing_db_url):
    page = render(beijing_app, district, city="beijing", period="year", year="2015",
                  district="dongcheng", pollutant="PM2.5")
    assert by_id(page, ids.PAGE_ERROR) is None
    fig = figure_of(page, ids.DISTRICT_MONTHLY)
    bars = fig.data[0]
    periods = [row[3] for row in bars.customdata]
    assert periods == [f"2015-{m:02d}" for m in range(1, 13)]
    stats, members = _independent_district_stats(beijing_db_url, "dongcheng", 2015, "month")
    assert sorted(members["station"]) == ["1003A", "1004A"]          # 东四, 天坛
    expected = stats[(stats["pollutant"] == "PM2.5") & (stats["statistic"] == "annual_mean")]
    expected = expected.set_index(expected["period"].astype(str))["reported"]
    assert list(bars.y) == [expected[p] for p in periods]
    # hand-checked against the page's own statistics: January 101, December 160 µg/m³
    assert (bars.y[0], bars.y[-1]) == (101.0, 160.0)
    # every month of dongcheng 2015 is valid: no grey bar
    assert all(status in ("有效",) for status in (row[1] for row in bars.customdata))


@pytest.mark.realdata
def test_running_mean_ends_on_the_annual_mean_statistic(beijing_app, beijing_db_url):
    page = render(beijing_app, district, city="beijing", period="year", year="2015",
                  district="dongcheng", pollutant="PM2.5")
    path = _trace(figure_of(page, ids.DISTRICT_PATH), "年初至今")
    stats, _ = _independent_district_stats(beijing_db_url, "dongcheng", 2015, "year")
    annual = stats[(stats["pollutant"] == "PM2.5") & (stats["statistic"] == "annual_mean")].iloc[0]
    assert annual["reported"] == 85.0 and annual["n_valid"] == 363
    assert path.y[-1] == annual["reported"]
    assert int(path.customdata[-1]) == annual["n_valid"]
    assert len(path.y) == 365                      # one point per day of the year
    # the page states it, and the national annual limit (GB 3095-2012 Grade II: 35) is drawn
    assert "累计平均 85 µg/m³（有效 363 天）" in text(by_id(page, ids.DISTRICT_NEEDED))
    assert list(_trace(figure_of(page, ids.DISTRICT_PATH), "国家年均限值").y) == [35.0, 35.0]
    # Beijing has no local targets: no target line, and the tile says so
    assert not [tr for tr in figure_of(page, ids.DISTRICT_TREND).data if "目标" in (tr.name or "")]
    assert "无地方目标" in text(by_id(page, ids.DISTRICT_SUMMARY))


@pytest.mark.realdata
def test_daily_trend_marks_invalid_days_and_the_24h_limit(beijing_app):
    page = render(beijing_app, district, city="beijing", period="year", year="2015",
                  district="haidian", pollutant="NO2")
    fig = figure_of(page, ids.DISTRICT_TREND)
    invalid = _trace(fig, "无效日")
    # haidian (one station, 海淀万柳 1007A) lost most of April 2015 for NO2: 8 valid days
    april = [d for d in pd.to_datetime(list(invalid.x)) if (d.year, d.month) == (2015, 4)]
    assert len(april) == 30 - 8
    limit = _trace(fig, "24小时")
    assert set(limit.y) == {80.0}                  # NO2 24-h limit, GB 3095-2012


@pytest.mark.realdata
def test_ledger_explains_an_invalid_statistic(beijing_app):
    page = render(beijing_app, district, city="beijing", period="year", year="2015",
                  district="haidian", pollutant="NO2")
    rows = _ledger_rows(page)
    bad = rows[(rows["name"] == "海淀万柳 1007A") & (rows["pollutant"] == "NO2")
               & (rows["statistic"] == "平均浓度")].iloc[0]
    assert bad["valid"] == "否" and bad["invalid"]
    assert bad["capture"] == "335 / 324"
    assert bad["detail"] == "2015-04：有效 8 天，应有 27 天"
    # invalid rows come first, and the rule is listed once above the grid
    assert rows["invalid"].iloc[0] and not rows["invalid"].iloc[-1]
    assert "全年：≥324 个有效日，且每月 ≥27（2 月 ≥25）" in text(by_id(page, ids.DISTRICT_LEDGER_CARD))
    # the same in English, with the indicators' own words
    en = render(beijing_app, district, city="beijing", period="year", year="2015",
                district="haidian", pollutant="NO2", lang="en")
    rows = _ledger_rows(en)
    bad = rows[(rows["name"] == "Wanliu 1007A") & (rows["pollutant"] == "NO2")
               & (rows["statistic"] == "mean")].iloc[0]
    assert bad["detail"] == "2015-04: 8 valid days, needs 27" and bad["valid"] == "no"
    # a month with the gap: the month statistic itself is not valid
    month = render(beijing_app, district, city="beijing", period="month", year="2015",
                   month="4", district="haidian", pollutant="NO2", lang="en")
    rows = _ledger_rows(month)
    bad = rows[(rows["name"] == "Wanliu 1007A") & (rows["statistic"] == "mean")
               & (rows["pollutant"] == "NO2")].iloc[0]
    assert bad["detail"] == "2015-04: 8 valid days, needs 27" and bad["capture"] == "8 / 27"


@pytest.mark.realdata
def test_ledger_export(beijing_app):
    client = staff_client(beijing_app)
    r = client.get("/export/district-ledger.csv?city=beijing&year=2015&district=haidian&lang=en&codes=1")
    assert r.status_code == 200
    body = r.get_data(as_text=True)
    assert body.splitlines()[0].lstrip("\ufeff") == \
        "name,pollutant,statistic,reported,valid,capture,rule,detail"
    assert 'Wanliu 1007A,NO2,mean,58.0,no,335 / 324,' in body
    assert "2015-04: 8 valid days, needs 27" in body


@pytest.mark.realdata
def test_station_breakdown_and_background_station(beijing_app):
    page = render(beijing_app, district, city="beijing", period="year", year="2015",
                  district="changping", pollutant="PM2.5")
    section = by_id(page, ids.DISTRICT_STATIONS)
    words = text(section)
    # 昌平镇 1010A is the evaluation station; 定陵 1002A is the background site
    assert "昌平镇 1010A" in words and "定陵 1002A（对照点）" in words
    chart = figure_of(page, ids.DISTRICT_STATIONS_CHART)
    assert list(chart.data[0].x) == ["昌平镇 1010A", "昌平区（区域）"]
    # one station: the district value is that station's value
    assert chart.data[0].y[0] == chart.data[0].y[1]


@pytest.mark.realdata
def test_whole_city_and_bad_url_values(beijing_app):
    page = render(beijing_app, district, city="beijing", period="year", year="2016",
                  district="beijing", pollutant="O3")
    assert by_id(page, ids.PAGE_ERROR) is None
    trend = figure_of(page, ids.DISTRICT_TREND)
    assert "MDA8" in trend.layout.title.text and "北京市" in trend.layout.title.text
    assert set(_trace(trend, "日最大8小时平均限值").y) == {160.0}    # O3 MDA8, Grade II
    # O3 has no annual mean: the path says why instead of drawing an empty chart
    assert "没有年均值评价" in text(by_id(page, ids.DISTRICT_PATH))
    assert len(figure_of(page, ids.DISTRICT_STATIONS_CHART).data[0].x) == 12    # 11 + the city
    odd = render(beijing_app, district, city="beijing", year="2015", district="x'; DROP",
                 pollutant="PM1")
    words = text(odd)
    assert "未知区县" in words and "未知污染物" in words
    assert "东城区 · PM2.5" in words


@pytest.mark.realdata
def test_district_through_the_router_in_english(beijing_app):
    body = routed(beijing_app, "/district", "?city=beijing&year=2015&district=dongcheng&lang=en")
    assert "Validity ledger" in body and "Dongcheng" in body


# -- on the synthetic demo ------------------------------------------------------------------

def test_demo_target_line_for_no2_in_chengqu(demo_app):
    page = render(demo_app, district, city="yangquan-demo", period="year", year="2025",
                  district="chengqu", pollutant="NO2")
    assert by_id(page, ids.PAGE_SYNTHETIC_BANNER) is not None
    trend = figure_of(page, ids.DISTRICT_TREND)
    assert trend.layout.title.text.startswith("合成演示数据")
    target = _trace(trend, "年均目标")
    assert set(target.y) == {37.0} and "年均值目标" in target.name
    path = figure_of(page, ids.DISTRICT_PATH)
    assert set(_trace(path, "地方年均目标").y) == {37.0}
    assert set(_trace(path, "国家年均限值").y) == {40.0}
    summary = text(by_id(page, ids.DISTRICT_SUMMARY))
    assert "37" in summary and "地方年均目标" in summary
    # the monthly chart holds the target as its reference, the station chart too
    assert "37" in _trace(figure_of(page, ids.DISTRICT_MONTHLY), "年均目标").name
    assert "37" in _trace(figure_of(page, ids.DISTRICT_STATIONS_CHART), "地方年均目标").name
    # PM2.5 has no local target in chengqu: no target line
    pm = render(demo_app, district, city="yangquan-demo", period="year", year="2025",
                district="chengqu", pollutant="PM2.5")
    assert not [tr for tr in figure_of(pm, ids.DISTRICT_TREND).data if "目标" in (tr.name or "")]


def test_demo_year_to_date_says_what_the_rest_of_the_year_must_average(demo_app):
    # 2025-06-30 is the demo's last day: 2025 is a year in progress
    page = render(demo_app, district, city="yangquan-demo", period="ytd", year="2025",
                  district="chengqu", pollutant="NO2", lang="en")
    needed = text(by_id(page, ids.DISTRICT_NEEDED))
    assert "Against the local target of 37 µg/m³" in needed
    assert "remaining 184 days" in needed or "out of reach" in needed or "secured" in needed
    path = _trace(figure_of(page, ids.DISTRICT_PATH), "running annual mean")
    assert pd.Timestamp(path.x[-1]) == pd.Timestamp("2025-06-30")
    assert "provisional" in text(by_id(page, ids.DISTRICT_LEDGER_CARD))


# -- figures without a browser ------------------------------------------------------------------

def _days(values, valid, limit=75.0):
    n = len(values)
    return pd.DataFrame({"date": pd.date_range("2026-02-26", periods=n, freq="D"),
                         "reported": values, "valid": valid, "n_valid": [24] * n,
                         "n_required": [20] * n, "limit": limit})


def test_daily_trend_figure():
    rows = _days([50.0, 80.0, np.nan, 30.0], [True, True, False, False],
                 limit=[75.0, 75.0, 60.0, 60.0])
    fig = daily_trend(rows, pollutant="PM2.5", unit="µg/m³", decimals=0, lang="en",
                      title="t", limit_name="24-h limit", target=35.0, target_name="target")
    line, invalid, limit, target = fig.data
    assert np.isnan(line.y[2]) and np.isnan(line.y[3]) and list(line.y[:2]) == [50.0, 80.0]
    assert list(line.marker.color[:2]) == [line.line.color, "#c62828"]    # 80 > 75: red
    assert list(invalid.y) == [0.0, 30.0]                             # NaN at 0, 30 as is
    assert invalid.customdata[0][0] == "no data"
    assert list(limit.y) == [75.0, 75.0, 60.0, 60.0] and limit.line.shape == "hv"
    assert list(target.y) == [35.0, 35.0]


def test_monthly_bars_and_station_bars_grey_out_invalid_values():
    rows = pd.DataFrame({"period": ["2015-01", "2015-02"], "reported": [40.0, 50.0],
                         "valid": [True, False], "n_valid": [31, 20], "n_required": [27, 25],
                         "detail": ["", "20 valid days, needs 25"]})
    fig = monthly_bars(rows, pollutant="NO2", unit="µg/m³", decimals=0, lang="zh",
                       reference=40.0, reference_name="年均限值")
    bars = fig.data[0]
    assert list(bars.x) == ["1月", "2月"] and list(bars.y) == [40.0, 50.0]
    assert list(bars.marker.pattern.shape) == ["", "/"]
    assert bars.customdata[1][2] == "20 valid days, needs 25"
    assert fig.data[1].name == "年均限值 40 µg/m³"
    st = pd.DataFrame({"name": ["A", "area"], "reported": [30.0, np.nan], "valid": [True, False],
                       "n_valid": [300, None], "n_required": [324, None],
                       "is_area": [False, True]})
    fig = station_bars(st, pollutant="NO2", unit="µg/m³", decimals=0)
    assert list(fig.data[0].text) == ["30", "—"]


def test_empty_inputs_give_messages_not_blank_charts():
    for fig in (daily_trend(_days([], []), pollutant="NO2", unit="µg/m³", decimals=0),
                ytd_path(pd.DataFrame(columns=["date", "reported", "n_valid"]), pollutant="NO2",
                         unit="µg/m³", decimals=0, lang="en")):
        assert fig.layout.annotations and fig.layout.annotations[0].text


def test_page_renders_without_data_for_the_area(demo_app):
    # the demo has no 2023: the URL year falls back, the page still renders
    page = render(demo_app, district, city="yangquan-demo", year="2023", district="yuxian")
    assert by_id(page, ids.PAGE_ERROR) is None
    assert of_type(page, "Graph")
