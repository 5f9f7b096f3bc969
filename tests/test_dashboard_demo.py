"""Every dashboard page on the SYNTHETIC demo database (no ../shared/data needed).

The demo city (``lantian demo``, config/sites/yangquan.yaml: 6 districts, 9 stations,
2023-01-01 … 2025-06-30) is built by the ``demo_db_url`` fixture on any machine. Each
page is rendered (``layout(**query)`` in the app's request context, or through Dash's
router) and what it shows is compared with values computed here without the dashboard
(its queries and cache): hourly values straight from the database (``store.frames``),
then ``indicators.pipeline``.
"""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from dashboard import ids
from dashboard.pages import (data, district, exceedances, map as map_page, overview, public,
                             ranking, standards, station)
from tests.dash_helpers import (by_id, figure_of, independent_daily, render, routed, text,
                                walk)

CITY = "yangquan-demo"
Y2024 = {"city": CITY, "period": "year", "year": "2024"}
DISTRICTS = {"chengqu": "城区", "kuangqu": "矿区", "kaifaqu": "开发区", "jiaoqu": "郊区",
             "pingding": "平定县", "yuxian": "盂县"}
STATIONS = [f"SYN{n:02d}" for n in range(1, 10)]


def flat(node) -> str:
    """The text of a component tree, runs of white space made one space."""
    return " ".join(text(node).split())


def no_error(page) -> None:
    assert by_id(page, ids.PAGE_ERROR) is None
    assert by_id(page, ids.PAGE_SYNTHETIC_BANNER) is not None


def hourly(url: str, stations=None, start=None, end=None) -> pd.DataFrame:
    """Stored hourly values that count for statistics (QC-excluded values NaN)."""
    from store.db import make_engine
    from store.frames import hourly_frame
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return hourly_frame(conn, stations=stations, start=start, end=end)
    finally:
        engine.dispose()


def stat(stats: pd.DataFrame, area: str, pollutant: str, statistic: str) -> pd.Series:
    hit = stats[(stats["area"] == area) & (stats["pollutant"] == pollutant)
                & (stats["statistic"] == statistic)]
    assert len(hit) == 1, (area, pollutant, statistic, len(hit))
    return hit.iloc[0]


def reported(stats, area, pollutant, statistic) -> float:
    return float(stat(stats, area, pollutant, statistic)["reported"])


@pytest.fixture(scope="module")
def demo2024(demo_db_url):
    """(daily values, daily AQI, grades) of the demo city for 2024, without the dashboard."""
    return independent_daily(demo_db_url, 2024, city=CITY)


@pytest.fixture(scope="module")
def stats2024(demo2024):
    from indicators import pipeline
    daily, aqi, grades = demo2024
    return pipeline.period_table(daily, aqi, period="year", grades=grades)


@pytest.fixture(scope="module")
def stats2023(demo_db_url):
    from indicators import pipeline
    daily, aqi, grades = independent_daily(demo_db_url, 2023, city=CITY)
    return pipeline.period_table(daily, aqi, period="year", grades=grades)


# -- overview (/) ----------------------------------------------------------------------------

def test_overview_city_figures_and_district_cards(demo_app, stats2024, stats2023):
    page = render(demo_app, overview, **Y2024)
    no_error(page)
    city = flat(by_id(page, ids.OVERVIEW_CITY))
    assert "全市 · 2024 年" in city
    ratio = reported(stats2024, CITY, "AQI", "good_day_ratio")
    heavy = reported(stats2024, CITY, "AQI", "heavy_days")
    composite = reported(stats2024, CITY, "ALL", "composite_index")
    pm25 = reported(stats2024, CITY, "PM2.5", "annual_mean")
    assert 0 < ratio < 100 and heavy > 0 and composite > 0 and pm25 > 0
    assert f"{ratio:g} % 优良天数比例" in city
    assert f"{heavy:g} 天 重污染天数" in city
    assert f"{composite:g} 综合指数" in city
    assert f"{pm25:g} µg/m³ PM2.5 平均浓度" in city
    assert f"去年同期 {reported(stats2023, CITY, 'AQI', 'good_day_ratio'):g}" in city
    assert f"去年同期 {reported(stats2023, CITY, 'ALL', 'composite_index'):g}" in city
    cards = by_id(page, ids.OVERVIEW_CARDS)
    assert len(cards.children) == len(DISTRICTS)
    for area, name in DISTRICTS.items():
        assert flat(by_id(page, ids.overview_card(area))).startswith(name)
    # 城区: NO2 annual mean against its local target 37 and the national limit 40
    chengqu = flat(by_id(page, ids.overview_card("chengqu")))
    no2 = stat(stats2024, "chengqu", "NO2", "annual_mean")
    margin = no2["reported"] - 37                 # against the binding figure, the target 37
    assert (f"NO2 年均 {no2['reported']:g} 37 40 {margin:+g} "
            f"{no2['n_valid']}/{no2['n_required']}") in chengqu


# -- ranking ---------------------------------------------------------------------------------

def test_ranking_of_the_districts_by_composite_index(demo_app, stats2024, stats2023):
    page = render(demo_app, ranking, **Y2024)
    no_error(page)
    rows = pd.DataFrame(by_id(page, ids.RANKING_TABLE).rowData).set_index("area")
    assert sorted(rows.index) == sorted(DISTRICTS)
    assert rows["name"].to_dict() == DISTRICTS
    ci = stats2024[(stats2024["level"] == "district")
                   & (stats2024["statistic"] == "composite_index")].set_index("area")
    previous = stats2023[(stats2023["level"] == "district")
                         & (stats2023["statistic"] == "composite_index")].set_index("area")
    valid = ci[ci["valid"].astype(bool)]["reported"].sort_values()
    assert 0 < len(valid) < len(DISTRICTS)          # the demo leaves some districts short
    # every district with a value is ranked (standards.md §7), the short ones provisional
    ranked = rows[rows["rank"].notna()]
    assert len(ranked) == len(DISTRICTS)
    assert list(ranked.sort_values(["rank"], kind="stable").index) == \
        list(ci["reported"].sort_values(kind="stable").index)
    assert ranked["rank"].tolist() == sorted(ranked["rank"])
    assert set(rows.index[rows["provisional"]]) == set(DISTRICTS) - set(valid.index)
    for area, row in rows.iterrows():
        assert row["value"] == ci.at[area, "reported"], area
        assert row["previous"] == previous.at[area, "reported"], area
    assert (f"{len(DISTRICTS)} 个参与排名，其中 {len(DISTRICTS) - len(valid)} 个暂定"
            in flat(page))


# -- exceedances -----------------------------------------------------------------------------

def test_exceedance_days_and_records(demo_app, demo2024, stats2024):
    from indicators.statistics import exceedances as exceedance_rows
    page = render(demo_app, exceedances, **Y2024)
    no_error(page)
    daily, aqi, grades = demo2024
    expected = exceedance_rows(daily, grades=grades)
    expected = expected[expected["level"] != "station"]
    table = pd.DataFrame(by_id(page, ids.EXCEEDANCES_TABLE).rowData)
    assert len(table) == len(expected) > 0
    assert f"共 {len(expected)} 条" in flat(page)
    summary = flat(by_id(page, ids.EXCEEDANCES_SUMMARY))
    names = {**DISTRICTS, CITY: "阳泉（演示，合成数据）"}
    for area, name in names.items():
        days = [int(reported(stats2024, area, p, "exceedance_days"))
                for p in ("SO2", "NO2", "PM10", "PM2.5", "CO", "O3")]
        any_day = expected.loc[expected["area"] == area, "date"].nunique()
        valid = int(reported(stats2024, area, "AQI", "valid_aqi_days"))
        above_100 = valid - int(reported(stats2024, area, "AQI", "good_days"))
        row = " ".join(map(str, [name, any_day, *days, above_100, valid]))
        assert row in summary, (row, summary)
        assert (table["area_name"] == name).sum() == (expected["area"] == area).sum(), area


# -- district --------------------------------------------------------------------------------

def test_district_chengqu_no2_summary_and_monthly_means(demo_app, demo2024, stats2024):
    from indicators import pipeline
    page = render(demo_app, district, district="chengqu", pollutant="NO2", **Y2024)
    no_error(page)
    summary = flat(by_id(page, ids.DISTRICT_SUMMARY))
    mean = reported(stats2024, "chengqu", "NO2", "annual_mean")
    days = reported(stats2024, "chengqu", "NO2", "exceedance_days")
    assert (f"{mean:g} µg/m³ NO2 平均浓度 {days:g} 天 NO2 超标天数 37 µg/m³ 地方年均目标 "
            f"40 µg/m³ 国家年均限值 2 评价站点") in summary
    daily, aqi, grades = demo2024
    months = pipeline.period_table(daily, aqi, period="month", grades=grades)
    months = months[(months["area"] == "chengqu") & (months["pollutant"] == "NO2")
                    & (months["statistic"] == "annual_mean")]
    bars = figure_of(page, ids.DISTRICT_MONTHLY).data[0]
    assert [row[3] for row in bars.customdata] == [f"2024-{m:02d}" for m in range(1, 13)]
    np.testing.assert_array_equal(np.asarray(bars.y, dtype=float),
                                  months["reported"].to_numpy(dtype=float))
    stations = flat(by_id(page, ids.DISTRICT_STATIONS_TABLE))
    assert "城区合成站一 SYN01" in stations and "城区合成站二 SYN02" in stations


# -- station ---------------------------------------------------------------------------------

def test_station_syn01_valid_hours_and_capture(demo_app, demo_db_url, stats2024):
    page = render(demo_app, station, station="SYN01", pollutant="PM2.5", **Y2024)
    no_error(page)
    raw = hourly(demo_db_url, ["SYN01"], "2024-01-01T00:00:00", "2024-12-31T23:00:00")
    counted = raw["PM2.5"].notna()
    summary = flat(by_id(page, ids.STATION_SUMMARY))
    assert summary.startswith("城区合成站一 SYN01 城区")
    assert f"{int(counted.sum()):,} / 8,784 h PM2.5 有效小时" in summary      # 366 days
    mean = reported(stats2024, "SYN01", "PM2.5", "annual_mean")
    assert f"{mean:g} µg/m³ PM2.5 平均浓度" in summary
    heat = figure_of(page, ids.STATION_CAPTURE).data[0]
    assert list(heat.x) == [f"2024-{m:02d}" for m in range(1, 13)]
    row = list(heat.y).index("PM2.5")
    per_month = counted.groupby(pd.to_datetime(raw["time"]).dt.month).sum()
    assert [int(cell[0]) for cell in heat.customdata[row]] == per_month.tolist()


# -- map -------------------------------------------------------------------------------------

def test_map_lists_each_station_with_its_latest_daily_aqi(demo_app, demo2024):
    page = render(demo_app, map_page, **Y2024)
    no_error(page)
    assert by_id(page, ids.MAP_GRAPH) is not None
    rows = [[flat(cell) for cell in tr.children] for tr in walk(by_id(page, ids.MAP_TABLE))
            if type(tr).__name__ == "Tr"][1:]
    shown = {r[1]: (r[4], r[5], r[6]) for r in rows}            # code: (date, AQI, level)
    assert sorted(shown) == STATIONS
    _daily, aqi, _grades = demo2024
    last = aqi[(aqi["level"] == "station") & (aqi["date"] == pd.Timestamp("2024-12-31"))]
    expected = {r.area: ("2024-12-31", str(int(r.aqi)), r.category_zh)
                for r in last.itertuples(index=False)}
    assert shown == expected


# -- standards -------------------------------------------------------------------------------

def test_standards_chengqu_against_gb3095_2012(demo_app, stats2024):
    page = render(demo_app, standards, district="chengqu", **Y2024)
    no_error(page)
    table = pd.DataFrame(by_id(page, ids.STANDARDS_TABLE).rowData)

    def row(pollutant, label):
        hit = table[(table["pollutant"] == pollutant) & (table["statistic"] == label)]
        assert len(hit) == 1, (pollutant, label)
        return hit.iloc[0]

    for pollutant, limit in (("PM2.5", 35), ("NO2", 40), ("SO2", 60)):
        value = reported(stats2024, "chengqu", pollutant, "annual_mean")
        got = row(pollutant, "年平均浓度")
        assert got["cn-2012|value"] == f"{value:g}"
        assert got["cn-2012|limit"] == f"{limit} · {'超标' if value > limit else '达标'}"
    days = reported(stats2024, "chengqu", "NO2", "exceedance_days")
    assert row("NO2", "超标天数（日均值）")["cn-2012|value"] == f"{days:g} 天"


# -- public ----------------------------------------------------------------------------------

def test_public_latest_day_aqi_of_every_district(demo_app, demo_db_url):
    tree = render(demo_app, public, city=CITY)
    no_error(tree)
    assert "最新数据：2025-06-30" in flat(by_id(tree, ids.PUBLIC_STATUS))
    _daily, aqi, _grades = independent_daily(demo_db_url, 2025, city=CITY)
    day = aqi[(aqi["date"] == pd.Timestamp(date(2025, 6, 30)))
              & aqi["level"].isin(["district", "city"])]
    tiles = {}
    for c in walk(by_id(tree, ids.PUBLIC_TODAY)):
        if "lt-pub-aqi " in (getattr(c, "className", "") or "") + " ":
            name, value, category = (flat(x) for x in c.children[:3])
            tiles[name] = (value, category)
    names = {**DISTRICTS, CITY: "全市"}
    assert set(tiles) == set(names.values())
    for r in day.itertuples(index=False):
        assert tiles[names[r.area]] == (str(int(r.aqi)), r.category_zh), r.area


# -- data ------------------------------------------------------------------------------------

def test_data_page_counts_every_reading(demo_app, demo_db_url):
    page = render(demo_app, data)
    assert by_id(page, ids.DATA_SYNTHETIC_BANNER) is not None
    assert by_id(page, ids.DATA_DB_ERROR) is None
    raw = hourly(demo_db_url)
    pollutants = ["SO2", "NO2", "PM10", "PM2.5", "CO", "O3"]
    total = int(raw[pollutants].notna().sum().sum())
    first, last = pd.to_datetime(raw["time"]).min(), pd.to_datetime(raw["time"]).max()
    assert (first.date(), last.date()) == (date(2023, 1, 1), date(2025, 6, 30))
    summary = flat(by_id(page, ids.DATA_SUMMARY))
    assert summary.startswith(f"1 城市 9 站点 9 有数据的站点 {total:,} 有效读数")
    assert summary.endswith("2023-01-01 – 2025-06-30 时间范围")
    city = flat(by_id(page, ids.data_city(CITY)))
    syn01 = raw[raw["station"] == "SYN01"]
    for pollutant in pollutants:
        n = int(syn01[pollutant].notna().sum())
        assert f"{pollutant} {n:,} 2023-01-01 00:00 2025-06-30 23:00" in city, pollutant


# -- every page through Dash's router (the Flask test client, as the browser asks) ------------

@pytest.mark.parametrize("path,search,expected", [
    ("/", "?city=yangquan-demo&year=2024", "各区县目标完成情况"),
    ("/ranking", "?city=yangquan-demo&year=2024", "排名表"),
    ("/exceedances", "?city=yangquan-demo&year=2024", "超标记录"),
    ("/district", "?city=yangquan-demo&year=2024&district=kuangqu", "矿区合成站一"),
    ("/station", "?city=yangquan-demo&year=2024&station=SYN09", "盂县合成站"),
    ("/map", "?city=yangquan-demo&year=2024", "平定县合成站二"),
    ("/standards", "?city=yangquan-demo&year=2024&district=yuxian", "盂县 · 2024 年"),
    ("/public", "?city=yangquan-demo", "各区县综合指数排名"),
    ("/data", "", "阳泉（演示，合成数据）"),
])
def test_every_page_through_the_router(demo_app, path, search, expected):
    body = routed(demo_app, path, search)
    assert expected in body
    assert "合成演示数据" in body or "SYNTHETIC" in body
