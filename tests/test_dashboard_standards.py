"""Standards (标准对比) page: one district under several profiles, cross-checked.

Expected values are computed here without the dashboard: hourly values from
the database, ``indicators.pipeline.daily_and_aqi`` / ``period_table`` and
``indicators.statistics.exceedances``; limits from ``config.standards``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from config.standards import load_profile
from dashboard import ids
from dashboard.figures.standards import days_figure, limits_figure
from dashboard.pages import standards
from indicators.comparison import against_limits
from indicators.frames import STAT_COLUMNS
from tests.dash_helpers import staff_client, by_id, independent_daily, render, routed, text


@pytest.fixture(scope="module")
def bj2015(beijing_db_url):
    return independent_daily(beijing_db_url, 2015)


def table_rows(page) -> pd.DataFrame:
    return pd.DataFrame(by_id(page, ids.STANDARDS_TABLE).rowData)


def row(frame, pollutant, statistic_label):
    hit = frame[(frame["pollutant"] == pollutant) & (frame["statistic"] == statistic_label)]
    assert len(hit) == 1, (pollutant, statistic_label, list(frame["statistic"]))
    return hit.iloc[0]


def stat(stats, area, pollutant, statistic):
    s = stats[(stats["area"] == area) & (stats["pollutant"] == pollutant)
              & (stats["statistic"] == statistic) & (stats["level"] == "district")]
    assert len(s) == 1
    return s.iloc[0]


# -- Beijing 2015, Dongcheng --------------------------------------------------------

@pytest.mark.realdata
def test_dongcheng_pm25_annual_mean_against_each_profile(beijing_app, bj2015):
    from indicators import pipeline

    daily, aqi, grades = bj2015
    stats = pipeline.period_table(daily, aqi, period="year", grades=grades, profile="cn-2012")
    expected = stat(stats, "dongcheng", "PM2.5", "annual_mean")
    assert expected["valid"] and expected["reported"] == 85

    page = render(beijing_app, standards, city="beijing", year="2015")  # default: 1st district
    assert by_id(page, ids.PAGE_ERROR) is None
    assert "东城区 · 2015 年" in text(page)
    # the global profile control is not offered on this page
    assert "评价标准" not in text(by_id(page, ids.PAGE_CONTROLS))
    pm = row(table_rows(page), "PM2.5", "年平均浓度")
    for pid in ("cn-2012", "cn-2026-transition", "who-2021", "eu-2030"):
        assert pm[f"{pid}|value"] == "85"
    assert pm["cn-2012|limit"] == "35 · 超标"
    assert pm["cn-2026-transition|limit"] == "30 · 超标"
    assert pm["who-2021|limit"] == "5 · 超标"
    eu = load_profile("eu-2030").limit("PM2.5", "annual")
    assert eu == 10 and pm["eu-2030|limit"] == f"{eu:g} · 超标"
    # SO2: WHO sets no annual guideline; every other profile is met
    so2 = row(table_rows(page), "SO2", "年平均浓度")
    assert so2["who-2021|limit"] == "—" and so2["cn-2012|limit"] == "60 · 达标"
    # the chart: PM2.5 annual mean bar 85 with one limit mark per profile
    fig = by_id(page, ids.STANDARDS_CHART).figure
    go.Figure(fig.to_dict())
    pm_axis = [tr for tr in fig.data if tr.type == "bar" and tr.hovertemplate.startswith("PM2.5")]
    assert pm_axis[0].y[0] == 85
    marks = {tr.name: tr.y[0] for tr in fig.data
             if tr.type == "scatter" and tr.hovertemplate.startswith("PM2.5")}
    assert marks == {"GB 3095-2012": 35, "GB 3095-2026 过渡期": 30, "WHO 2021 准则": 5,
                     "欧盟 2030": 10}


@pytest.mark.realdata
def test_pm25_exceedance_days_under_cn2012_and_who(beijing_app, bj2015):
    from indicators.statistics import exceedances

    daily, _aqi, grades = bj2015

    def days(profile):
        ex = exceedances(daily, grades=grades, profile=profile)
        ex = ex[(ex["level"] == "district") & (ex["area"] == "dongcheng")
                & (ex["pollutant"] == "PM2.5")]
        assert set(ex["limit"]) == {load_profile(profile).limit("PM2.5", "24h")}
        return len(ex)

    cn, who = days("cn-2012"), days("who-2021")
    assert (cn, who) == (145, 329)          # WHO's 15 µg/m³ is exceeded far more often than 75
    page = render(beijing_app, standards, city="beijing", year="2015", district="dongcheng")
    pm = row(table_rows(page), "PM2.5", "超标天数（日均值）")
    assert pm["cn-2012|value"] == f"{cn} 天" and pm["who-2021|value"] == f"{who} 天"
    assert pm["cn-2012|limit"] == "> 75" and pm["who-2021|limit"] == "> 15"
    # the EU allows 18 days a year above 25 µg/m³
    eu = days("eu-2030")
    assert pm["eu-2030|value"] == f"{eu} 天"
    assert pm["eu-2030|limit"] == "> 25，允许 18 天 · 超标"
    fig = by_id(page, ids.STANDARDS_DAYS_CHART).figure
    go.Figure(fig.to_dict())
    bars = {tr.name: dict(zip(tr.x, tr.y)) for tr in fig.data if tr.xaxis == "x"}
    assert bars["GB 3095-2012"]["PM2.5"] == cn and bars["WHO 2021 准则"]["PM2.5"] == who


@pytest.mark.realdata
def test_good_days_change_with_the_2026_aqi_and_are_undefined_for_who(beijing_app, bj2015,
                                                                    beijing_db_url):
    from indicators import pipeline

    daily, aqi, grades = bj2015
    old = pipeline.period_table(daily, aqi, period="year", grades=grades, profile="cn-2012")
    d26, a26, _ = independent_daily(beijing_db_url, 2015, profile="cn-2026-transition")
    new = pipeline.period_table(d26, a26, period="year", grades=grades,
                                profile="cn-2026-transition")
    r12 = stat(old, "dongcheng", "AQI", "good_day_ratio")["reported"]
    r26 = stat(new, "dongcheng", "AQI", "good_day_ratio")["reported"]
    assert (r12, r26) == (49.9, 43.3)       # PM2.5 IAQI 100 at 60 µg/m³ instead of 75
    page = render(beijing_app, standards, city="beijing", year="2015", lang="en")
    ratio = row(table_rows(page), "AQI", "good-day ratio")
    assert ratio["cn-2012|value"] == "49.9%" and ratio["cn-2026-transition|value"] == "43.3%"
    assert ratio["who-2021|value"] == "—" and ratio["who-2021|limit"] == "not defined"
    assert "What differs" in text(by_id(page, ids.STANDARDS_NOTE))


@pytest.mark.realdata
def test_city_choice_and_the_optional_profiles(beijing_app):
    page = render(beijing_app, standards, city="beijing", year="2015", district="beijing",
                  extra="cn-2026-final,us-epa-2024")
    assert "北京市（全市） · 2015 年" in text(page)
    frame = table_rows(page)
    pm = row(frame, "PM2.5", "年平均浓度")
    assert pm["cn-2012|value"] == "81"          # the city's PM2.5 (see the overview test)
    assert pm["cn-2026-final|limit"] == "25 · 超标"
    assert pm["us-epa-2024|limit"] == "—"        # the US profile is an AQI, no limits here
    ratio = row(frame, "AQI", "优良天数比例")
    assert ratio["us-epa-2024|value"].endswith("%") and ratio["us-epa-2024|value"] != "—"
    groups = [c["headerName"] for c in by_id(page, ids.STANDARDS_TABLE).columnDefs
              if "children" in c]
    assert groups == ["GB 3095-2012", "GB 3095-2026 过渡期", "GB 3095-2026 最终限值",
                      "WHO 2021 准则", "欧盟 2030", "美国 EPA 2024"]


@pytest.mark.realdata
def test_a_month_is_not_judged_and_gaps_are_flagged(beijing_app):
    page = render(beijing_app, standards, city="beijing", period="month", year="2015",
                  month="4", district="haidian")
    frame = table_rows(page)
    no2 = row(frame, "NO2", "平均浓度")
    assert no2["capture"] == "8/27" and no2["cn-2012|value"].endswith("*")
    assert no2["cn-2012|limit"] == "40"          # the limit for reference, no verdict
    assert "月度数值不与年均或百分位限值比较" in text(page)
    assert "2015-04：有效 8 天，应有 27 天" in text(page)


@pytest.mark.realdata
def test_standards_router_and_export(beijing_app):
    body = routed(beijing_app, "/standards", "?city=beijing&year=2015&lang=en")
    assert "Statistic by statistic" in body
    client = staff_client(beijing_app)
    response = client.get("/export/standards.csv?city=beijing&year=2015&district=dongcheng&codes=1")
    assert response.status_code == 200
    lines = response.get_data().decode("utf-8-sig").strip().splitlines()
    assert lines[0].startswith("area,period,profile,pollutant,statistic,reported")
    assert any(line.startswith("dongcheng,2015,WHO 2021 准则,PM2.5,年平均浓度,85.0")
               for line in lines)


def test_standards_on_the_demo_is_labelled_synthetic(demo_app):
    page = render(demo_app, standards, city="yangquan-demo", period="ytd", year="2025")
    assert by_id(page, ids.PAGE_SYNTHETIC_BANNER) is not None
    assert by_id(page, ids.PAGE_ERROR) is None
    for chart in (ids.STANDARDS_CHART, ids.STANDARDS_DAYS_CHART):
        assert by_id(page, chart).figure.layout.title.text.startswith("合成演示数据")
    assert "年初至今为临时结果" in text(page)
    assert len(table_rows(page)) == len(standards.ROWS)


# -- pure parts -----------------------------------------------------------------------

def stats_rows(*rows):
    base = dict(level="district", period="2024", start=pd.Timestamp("2024-01-01"),
                end=pd.Timestamp("2024-12-31"), value=np.nan, valid=True, n_valid=360,
                n_required=324, rule="", detail="", profile="cn-2012")
    return pd.DataFrame([{**base, **r} for r in rows], columns=list(STAT_COLUMNS))


def test_against_limits_grades_counts_and_verdicts():
    s = stats_rows(
        dict(area="a", pollutant="PM2.5", statistic="annual_mean", reported=30.0),
        dict(area="b", pollutant="PM2.5", statistic="annual_mean", reported=30.0),
        dict(area="a", pollutant="PM2.5", statistic="p95_daily", reported=75.0),
        dict(area="a", pollutant="O3", statistic="p90_mda8", reported=161.0),
        dict(area="a", pollutant="PM2.5", statistic="exceedance_days", reported=19.0),
        dict(area="a", pollutant="AQI", statistic="good_day_ratio", reported=80.0),
        dict(area="a", pollutant="ALL", statistic="compliance", reported=0.0),
        dict(area="a", pollutant="CO", statistic="p95_daily", reported=np.nan, valid=False))
    out = against_limits(s, "cn-2012", {"b": "I"})
    assert list(out["limit"].iloc[:4]) == [35.0, 15.0, 75.0, 160.0]   # b is Grade I
    assert list(out["meets"].iloc[:4]) == [True, False, True, False]  # 75 ≤ 75 meets
    assert out["averaging"].iloc[3] == "mda8"
    assert pd.isna(out["meets"].iloc[4]) and pd.isna(out["allowed"].iloc[4])  # no count rule
    assert out["defined"].iloc[5] and pd.isna(out["meets"].iloc[5])
    assert not out["meets"].iloc[6]
    assert pd.isna(out["meets"].iloc[7])                                 # no value
    eu = against_limits(s, "eu-2030")
    assert eu["allowed"].iloc[4] == 18 and not eu["meets"].iloc[4]     # 19 > 18 allowed
    assert eu["limit"].iloc[4] == 25
    who = against_limits(s, "who-2021")
    assert not who["defined"].iloc[5]                                   # no WHO AQI
    assert list(who["limit"].iloc[:2]) == [5.0, 5.0]                    # one value, any grade
    # default: each row's own profile
    assert list(against_limits(s, grades={"b": "I"})["limit"].iloc[:2]) == [35.0, 15.0]
    assert list(against_limits(s)["limit"].iloc[:2]) == [35.0, 35.0]           # default II


def comparison_frame(pm_values: dict) -> pd.DataFrame:
    rows = []
    for pid, value in pm_values.items():
        s = stats_rows(
            dict(area="a", pollutant="PM2.5", statistic="annual_mean", reported=value),
            dict(area="a", pollutant="PM2.5", statistic="p95_daily", reported=120.0,
                 valid=False),
            dict(area="a", pollutant="PM2.5", statistic="exceedance_days", reported=40.0),
            dict(area="a", pollutant="AQI", statistic="good_day_ratio", reported=70.0))
        rows.append(against_limits(s, pid).assign(profile=pid))
    return pd.concat(rows, ignore_index=True)


def test_limits_figure_one_bar_when_profiles_agree_else_one_per_profile():
    labels = {"cn-2012": "2012", "who-2021": "WHO"}
    fig = limits_figure(comparison_frame({"cn-2012": 40.0, "who-2021": 40.0}),
                        ["cn-2012", "who-2021"], labels, lang="en")
    go.Figure(fig.to_dict())
    bars = [tr for tr in fig.data if tr.type == "bar"]
    assert len(bars) == 1 and bars[0].y == (40.0, 120.0)
    assert bars[0].text == ("40", "120*")                        # * = not valid
    marks = {tr.name: tr.y for tr in fig.data if tr.type == "scatter"}
    assert marks == {"2012": (35.0, 75.0), "WHO": (5.0, 15.0)}
    fig = limits_figure(comparison_frame({"cn-2012": 40.0, "who-2021": 41.0}),
                        ["cn-2012", "who-2021"], labels)
    assert [tr.name for tr in fig.data if tr.type == "bar"] == ["2012", "WHO"]
    days = days_figure(comparison_frame({"cn-2012": 40.0, "who-2021": 40.0}),
                       ["cn-2012", "who-2021"], labels)
    go.Figure(days.to_dict())
    ratio = [tr for tr in days.data if tr.xaxis == "x2"][0]
    assert ratio.y == ("国标 2012",) and ratio.x == (70.0,)     # WHO has no AQI of its own
    empty = limits_figure(comparison_frame({"cn-2012": np.nan}).iloc[:0], ["cn-2012"], labels)
    assert empty.layout.annotations[0].text == "暂无数据"
