"""Ranking (排名) page: districts and stations ranked, cross-checked against indicators.

The expected values are computed here independently of the dashboard (its
queries and cache): hourly values straight from the database, then
``indicators.pipeline.daily_and_aqi`` and ``period_table``.
"""
from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard import ids
from dashboard.figures.ranking import ranking_chart, status_keys
from dashboard.pages import ranking
from tests.dash_helpers import staff_client, by_id, independent_daily, render, routed, text

DISTRICTS = ["dongcheng", "xicheng", "chaoyang", "haidian", "shijingshan", "changping",
             "shunyi", "huairou"]


def independent_stats(url: str, year: int, period: str = "year") -> pd.DataFrame:
    """Period statistics of Beijing computed without the dashboard."""
    from indicators import pipeline
    daily, aqi, grades = independent_daily(url, year)
    return pipeline.period_table(daily, aqi, period=period, grades=grades)


@pytest.fixture(scope="module")
def bj2015(beijing_db_url):
    return independent_stats(beijing_db_url, 2015)


@pytest.fixture(scope="module")
def bj2014(beijing_db_url):
    return independent_stats(beijing_db_url, 2014)


def rows_of(page) -> pd.DataFrame:
    return pd.DataFrame(by_id(page, ids.RANKING_TABLE).rowData)


def pick(stats, level, pollutant, statistic, period):
    s = stats[(stats["level"] == level) & (stats["pollutant"] == pollutant)
              & (stats["statistic"] == statistic) & (stats["period"].astype(str) == period)]
    return s.set_index("area")


def competition_ranks(values: pd.Series, ascending=True) -> pd.Series:
    """1, 1, 3 ranking of the valid values (written out here, not indicators')."""
    ordered = sorted(values.items(), key=lambda kv: kv[1], reverse=not ascending)
    out = {}
    for area, v in ordered:
        out[area] = 1 + sum(1 for _, w in ordered if (w < v if ascending else w > v))
    return pd.Series(out)


def change(current: float, previous: float) -> float:
    cur, prev = Decimal(repr(float(current))), Decimal(repr(float(previous)))
    exact = (cur - prev) / prev * 100
    return float(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN))


# -- Beijing 2015 ---------------------------------------------------------------------

@pytest.mark.realdata
def test_composite_ranking_of_beijing_2015_matches_indicators(beijing_app, bj2015, bj2014):
    page = render(beijing_app, ranking, city="beijing", year="2015", period="year")
    assert by_id(page, ids.PAGE_ERROR) is None
    grid = rows_of(page).set_index("area")
    assert sorted(grid.index) == sorted(DISTRICTS)          # every district listed
    expected = pick(bj2015, "district", "ALL", "composite_index", "2015")
    valid = expected["valid"].astype(bool)
    # the reported composite index of every district, valid or not
    for area in DISTRICTS:
        assert grid.loc[area, "value"] == pytest.approx(expected.loc[area, "reported"])
        assert grid.loc[area, "provisional"] == (not valid[area])
        assert not grid.loc[area, "insufficient"]
    # ranks: ascending on the reported value of every district with a value (§7); those
    # whose index fails a capture rule are ranked too, marked provisional
    ranks = competition_ranks(expected["reported"])
    for area in DISTRICTS:
        assert grid.loc[area, "rank"] == ranks[area]
    # hand-checked: 2015 has three valid districts, xicheng 7.63 < dongcheng 7.64 < chaoyang
    # 7.97; the cleanest three (huairou 6.06, changping 6.65, shunyi 6.97) are provisional
    top = rows_of(page).head(5)
    assert list(top["area"]) == ["huairou", "changping", "shunyi", "xicheng", "dongcheng"]
    assert list(top["value"]) == [6.06, 6.65, 6.97, 7.63, 7.64]
    assert list(top["rank"]) == [1, 2, 3, 4, 5]
    assert list(top["status"]) == ["暂定", "暂定", "暂定", "有效", "有效"]
    assert grid.loc["chaoyang", "rank"] == 8
    # provisional districts keep their reason (the validity ledger, in Chinese)
    assert "2015-04：有效 8 天，应有 27 天" in grid.loc["haidian", "reason"]
    assert "NO2" in grid.loc["haidian", "reason"]
    assert text(by_id(page, ids.RANKING_COUNTS)) == \
        "8 个参与排名，其中 5 个暂定（数据有效性不足）"
    # change against 2014, from the independent statistics
    before = pick(bj2014, "district", "ALL", "composite_index", "2014")
    for area in DISTRICTS:
        assert grid.loc[area, "previous"] == pytest.approx(before.loc[area, "reported"])
        assert grid.loc[area, "change"] == pytest.approx(
            change(expected.loc[area, "reported"], before.loc[area, "reported"]))
    assert grid.loc["dongcheng", "change"] == -2.9            # 7.64 vs 7.87
    assert grid.loc["dongcheng", "trend"] == "改善"


@pytest.mark.realdata
def test_pm25_ranking_by_district_and_by_station_with_shared_ranks(beijing_app, bj2015):
    page = render(beijing_app, ranking, city="beijing", year="2015", by="PM2.5")
    grid = rows_of(page).set_index("area")
    expected = pick(bj2015, "district", "PM2.5", "annual_mean", "2015")
    ranks = competition_ranks(expected["reported"])
    for area in DISTRICTS:
        assert grid.loc[area, "value"] == expected.loc[area, "reported"]
        assert grid.loc[area, "limit"] == 35                  # GB 3095-2012 Grade II annual
        assert grid.loc[area, "rank"] == ranks[area]
    # the chart: every valid district exceeds 35 µg/m³, so its dot is red
    fig = by_id(page, ids.RANKING_CHART).figure
    names = {tr.name for tr in fig.data}
    assert "超标" in names and "国标限值 35" in names

    page = render(beijing_app, ranking, city="beijing", year="2015", by="PM2.5",
                  level="station")
    rows = rows_of(page)
    assert len(rows) == 12                                    # every station of the city
    stations = pick(bj2015, "station", "PM2.5", "annual_mean", "2015")
    # the background station Dingling (1002A, 65, the cleanest) is listed apart, unranked
    ok = pd.Series(stations.index != "1002A", index=stations.index)
    ranks = competition_ranks(stations.loc[ok, "reported"])
    grid = rows.set_index("area")
    for code in stations.index:
        assert grid.loc[code, "value"] == stations.loc[code, "reported"]
        if ok[code]:
            assert grid.loc[code, "rank"] == ranks[code]
            assert grid.loc[code, "provisional"] == (not stations.loc[code, "valid"])
    # Tiantan (1004A) and Guanyuan (1006A) both publish 83: they share rank 6, next is 8
    assert grid.loc["1004A", "rank"] == grid.loc["1006A", "rank"] == 6
    assert grid.loc["1004A", "value"] == grid.loc["1006A", "value"] == 83
    assert 7 not in set(rows["rank"].dropna()) and 8 in set(rows["rank"].dropna())
    # Changping (1010A, 70; 23 valid days in October) is provisional, first all the same
    assert grid.loc["1010A", "rank"] == 1 and grid.loc["1010A", "provisional"]
    # the background station: labelled, listed last, never ranked
    assert grid.loc["1002A", "name"] == "定陵 (对照点)"
    assert pd.isna(grid.loc["1002A", "rank"]) and rows["area"].iloc[-1] == "1002A"
    assert grid.loc["1002A", "reason"] == "对照点，单独列出，不参与排名"


@pytest.mark.realdata
def test_station_ranking_in_a_month_with_a_gap_shows_insufficient_data(beijing_app,
                                                                       beijing_db_url):
    monthly = independent_stats(beijing_db_url, 2015, period="month")
    expected = pick(monthly, "station", "NO2", "annual_mean", "2015-04")
    # Wanliu (1007A) has 8 valid NO2 days in April 2015 (a gap in the PRSA data)
    assert not expected.loc["1007A", "valid"] and expected.loc["1007A", "n_valid"] == 8
    page = render(beijing_app, ranking, city="beijing", period="month", year="2015",
                  month="4", level="station", by="NO2", lang="en")
    grid = rows_of(page).set_index("area")
    row = grid.loc["1007A"]
    # ranked on its value (the highest: last of the evaluation stations), provisional
    assert row["rank"] == 11 and row["provisional"] and not row["insufficient"]
    assert row["status"] == "provisional"
    assert row["value"] == expected.loc["1007A", "reported"] == 61
    assert row["capture"] == "8/27" and row["valid"] == "no"
    assert row["reason"] == "2015-04: 8 valid days, needs 27"
    # listed after every ranked station (the background station comes last, apart)
    assert list(rows_of(page)["area"].iloc[-2:]) == ["1007A", "1002A"]
    # ties in April: Tiantan/Shunyi 44, Guanyuan/Gucheng 47 (Dingling, background, unranked)
    assert grid.loc["1004A", "rank"] == grid.loc["1008A", "rank"] == 3
    # a month is not judged against the annual limit: no limit column, neutral bars
    assert "limit" not in [c["field"] for c in by_id(page, ids.RANKING_TABLE).columnDefs]
    fig = by_id(page, ids.RANKING_CHART).figure
    prov = [tr for tr in fig.data if tr.name == "provisional (capture rule not met)"]
    assert len(prov) == 1 and prov[0].marker.symbol == "circle-open"
    assert "2015-04: 8 valid days, needs 27" in prov[0].customdata[0]
    assert {tr.name for tr in fig.data} >= {"ranked"}
    assert "Monthly values are not judged" in text(page)


@pytest.mark.realdata
def test_ranking_through_the_router_in_english(beijing_app):
    body = routed(beijing_app, "/ranking", "?city=beijing&year=2015&by=good_day_ratio&lang=en")
    assert "Ranking on Good-day ratio" in body
    assert "Ranked ascending on the published value" in body


@pytest.mark.realdata
def test_good_day_ratio_ranks_descending(beijing_app, bj2015):
    page = render(beijing_app, ranking, city="beijing", year="2015", by="good_day_ratio")
    rows = rows_of(page)
    ranked = rows[rows["rank"].notna()]
    assert list(ranked["value"]) == sorted(ranked["value"], reverse=True)
    expected = pick(bj2015, "district", "AQI", "good_day_ratio", "2015")
    for r in rows.itertuples():
        assert r.value == expected.loc[r.area, "reported"]


@pytest.mark.realdata
def test_ranking_export_csv(beijing_app):
    client = staff_client(beijing_app)
    response = client.get("/export/ranking.csv?city=beijing&year=2015&by=PM2.5&level=station")
    assert response.status_code == 200
    body = response.get_data().decode("utf-8-sig")
    lines = body.strip().splitlines()
    assert lines[0].startswith("指标,时段,单位,排名,名称,代码,数值")
    assert len(lines) == 13
    assert "PM2.5 平均浓度,2015,µg/m³,6,天坛,1004A,83,是,有效,358/324,86,-3.5,改善,35," in lines
    # a provisional rank is a number, with its status
    assert any(line.startswith("PM2.5 平均浓度,2015,µg/m³,1,昌平镇,1010A,70,否,暂定,")
               for line in lines)


@pytest.mark.realdata
def test_empty_period_and_bad_choices(beijing_app):
    # January 2013 lies before the data (it starts on 2013-03-01)
    page = render(beijing_app, ranking, city="beijing", period="month", year="2013", month="1")
    assert "所选时段没有数据" in text(by_id(page, ids.RANKING_EMPTY))
    # unknown values fall back to the defaults, never an error
    page = render(beijing_app, ranking, city="beijing", year="2015", by="'; DROP", level="x")
    assert by_id(page, ids.PAGE_ERROR) is None
    assert text(page).count("综合指数 排名") == 1


def test_ranking_on_the_demo_is_labelled_synthetic(demo_app):
    page = render(demo_app, ranking, city="yangquan-demo", period="ytd", year="2025",
                  by="NO2")
    assert by_id(page, ids.PAGE_SYNTHETIC_BANNER) is not None
    fig = by_id(page, ids.RANKING_CHART).figure
    assert fig.layout.title.text.startswith("合成演示数据")
    rows = rows_of(page)
    assert len(rows) == 6 and rows["value"].notna().all()
    assert "年初至今为临时结果" in text(page)
    # no provisional prefix repeated on every row
    assert not rows["reason"].str.contains("临时结果|provisional").any()


# -- pure parts -----------------------------------------------------------------------

def test_ranking_chart_figure():
    table = pd.DataFrame({
        "rank": pd.array([1, 1, 3, pd.NA], dtype="Int64"), "area": ["a", "b", "c", "d"],
        "reported": [30.0, 30.0, 50.0, np.nan], "valid": [True, True, False, False],
        "status": ["ranked", "ranked", "provisional", "insufficient data"],
        "reason": ["", "", "2015-03: 25 valid days, needs 27", "no statistic"],
        "n_valid": pd.array([31, 31, 25, pd.NA], dtype="Int64"),
        "n_required": pd.array([27, 27, 27, pd.NA], dtype="Int64"),
        "limit": [35.0, 35.0, 35.0, 35.0],
        "meets": pd.array([True, False, pd.NA, pd.NA], dtype="boolean"),
        "href": ["/district?city=x&district=a", None, None, None]})
    assert list(status_keys(table)) == ["meets", "exceeds", "provisional",
                                        "insufficient data"]
    fig = ranking_chart(table, {"a": "甲", "b": "乙"}, lang="en", unit="µg/m³",
                        limit_label="limit")
    go.Figure(fig.to_dict())                      # a valid plotly specification
    by_name = {tr.name: tr for tr in fig.data}
    assert by_name["meets the limit"].y == ("1  甲",)
    assert by_name["exceeds the limit"].y == ("1  乙",)
    prov = by_name["provisional (capture rule not met)"]
    assert prov.x == (50.0,) and prov.y == ("3  c (prov.)",)
    assert prov.marker.symbol == "circle-open"
    assert "2015-03: 25 valid days, needs 27" in prov.customdata[0]
    assert by_name["no value"].y == ("—  d",)
    assert "limit 35" in by_name
    assert fig.layout.shapes[0].x0 == 35
    # the name links to the area's page (in the same tab)
    assert fig.layout.yaxis.ticktext[0] == ('<a href="/district?city=x&amp;district=a" '
                                            'target="_self" style="color:#1f5fa8">1  甲</a>')
    assert fig.layout.yaxis.ticktext[1] == "1  乙"
    # 30 and 50: the axis starts near the smallest value, not at zero, and says so
    start, end = fig.layout.xaxis.range
    assert 20 < start < 30 and end > 50
    assert "does not start at 0" in fig.layout.xaxis.title.text
    # counts from zero: the axis starts at zero
    days = table.assign(reported=[0.0, 2.0, 5.0, np.nan], limit=np.nan)
    assert ranking_chart(days, {}, lang="en").layout.xaxis.range[0] == 0
    empty = ranking_chart(table.iloc[:0], {}, lang="zh")
    assert empty.layout.annotations[0].text == "暂无数据"


@pytest.mark.realdata
def test_the_background_station_is_a_bar_of_its_own_in_the_chart(beijing_app):
    page = render(beijing_app, ranking, city="beijing", year="2015", by="PM2.5",
                  level="station", lang="en")
    fig = by_id(page, ids.RANKING_CHART).figure
    apart = [tr for tr in fig.data if tr.name == "background station (apart, not ranked)"]
    assert len(apart) == 1 and len(apart[0].y) == 1 and "Dingling" in apart[0].y[0]
    assert all("Dingling" not in y for tr in fig.data if tr.name == "ranked" for y in tr.y)
