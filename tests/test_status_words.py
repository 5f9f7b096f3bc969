"""Issue 16 §2, 3, 6, 7, 8 (and §14 in part): every view says what its numbers mean.

One function decides a status (``indicators.targets.judge``, reached through
``target_table`` / ``standing``); the command line, the dashboard and the weekly email
all show its codes. Each test here runs on real values (Beijing) or the SYNTHETIC demo
city and would fail on the behaviour before the issue.
"""
from __future__ import annotations

import io
import re
from datetime import date
from email import message_from_bytes, policy

import numpy as np
import pandas as pd
import pytest

from dashboard import ids
from dashboard.pages import district, overview
from indicators.targets import (ENDED, RUNNING, judge, period_kind, plausibility_bound,
                                remaining_average_needed)
from tests.dash_helpers import by_id, of_type, render, text, walk

JUDGED_ENDED = {"met", "not met", "insufficient data"}
RUNNING_WORDS = {"on track", "at risk", "already exceeded"}


@pytest.fixture
def run_on(lantian_on):
    """``run_on(url, *args)``: the output of ``lantian *args`` against ``url`` (exit 0)."""
    def run(url, *args):
        result = lantian_on(url, *args)
        assert result.exit_code == 0, result.output
        return result.output
    return run


def _csv(output: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(output))


def _standing(app, query: dict) -> pd.DataFrame:
    from dashboard.context import engine_of
    from dashboard.queries import catalog, standing_rows
    from dashboard.state import resolve
    engine = engine_of(app.server)
    with app.server.app_context():
        cat = catalog(engine)
        view = resolve(query, cat.city_ids(), cat.spans, cat.default_city())
        return standing_rows(engine, view)


def _row(table: pd.DataFrame, area: str, pollutant: str) -> pd.Series:
    hit = table[(table["area"] == area) & (table["pollutant"] == pollutant)]
    assert len(hit) == 1, (area, pollutant)
    return hit.iloc[0]


# -- the one decision (pure) ---------------------------------------------------------------

def test_the_period_decides_which_words_apply():
    assert period_kind(["2016", "2016-YTD-12-31", "2016-YTD-06-30", "2016-03", "2016-Q1",
                        "2016-02-01..2016-03-15"], 2016).tolist() == [
        "ended", "ended", "running", "reference", "reference", "reference"]
    compared = ["meets", "exceeds", "insufficient data"]
    assert judge([ENDED] * 3, compared).tolist() == ["met", "not met", "insufficient data"]
    assert judge([RUNNING] * 3, compared).tolist() == ["on track", "at risk",
                                                       "insufficient data"]
    assert judge(["reference"] * 3, compared).tolist() == ["for reference", "for reference",
                                                           "insufficient data"]


# -- §2 a finished period is judged -------------------------------------------------------

@pytest.mark.realdata
def test_beijing_2016_overview_says_met_or_not_met_never_on_track(beijing_app):
    table = _standing(beijing_app, {"city": "beijing", "period": "year", "year": "2016"})
    assert set(table["verdict"]) <= JUDGED_ENDED and "met" in set(table["verdict"])
    assert not set(table["verdict"]) & RUNNING_WORDS
    page = render(beijing_app, overview, city="beijing", period="year", year="2016")
    cards = text(by_id(page, ids.OVERVIEW_CARDS))
    assert "达标进度正常" not in cards and "有超标风险" not in cards
    dongcheng = text(by_id(page, ids.overview_card("dongcheng")))
    assert "未达标" in dongcheng and " 达标 " in f" {dongcheng} "      # SO2 met, NO2 not met
    en = text(by_id(render(beijing_app, overview, city="beijing", period="year", year="2016",
                           lang="en"), ids.OVERVIEW_CARDS))
    assert "not met" in en and "on track" not in en


@pytest.mark.realdata
def test_beijing_2016_cli_gives_the_same_verdicts_with_names_in_the_chosen_language(
        beijing_app, beijing_db_url, run_on):
    table = _csv(run_on(beijing_db_url, "targets", "--year", "2016", "--format", "csv"))
    # the same rows and words as the overview (one function decides both)
    dash = _standing(beijing_app, {"city": "beijing", "period": "year", "year": "2016"})
    mine = table.set_index(["area", "pollutant"])["verdict"]
    theirs = dash.set_index(["area", "pollutant"])["verdict"]
    assert mine.sort_index().equals(theirs.sort_index())
    no2 = table[(table["area"] == "dongcheng") & (table["pollutant"] == "NO2")].iloc[0]
    assert (no2["name_zh"], no2["name_en"]) == ("东城区", "Dongcheng")
    assert (no2["reported"], no2["binding"], no2["margin"], no2["verdict"]) == (50, 40, 10,
                                                                               "not met")
    zh = run_on(beijing_db_url, "targets", "--year", "2016", "--lang", "zh")
    for word in ("区县", "污染物", "统计量", "数值", "国家限值", "约束值", "差值", "状态",
                 "东城区", "未达标", "年均值"):
        assert word in zh, word
    for english in ("dongcheng", "not met", "status", "annual_mean", "national_limit"):
        assert english not in zh, english
    en = run_on(beijing_db_url, "targets", "--year", "2016", "--lang", "en")
    assert "Dongcheng" in en and "not met" in en and "dongcheng" not in en


def test_a_week_closing_the_year_is_judged_in_the_email(demo_db_url, run_on, tmp_path):
    """2023-12-31 is a Sunday: the weekly report of 2023-W52 covers the whole year."""
    out = tmp_path / "out"
    run_on(demo_db_url, "report", "weekly", "--week", "2023-W52", "--district", "kuangqu",
           "--out", out, "--quiet")
    eml = out / "2023-W52_yangquan-demo_kuangqu_zh.eml"
    msg = message_from_bytes(eml.read_bytes(), policy=policy.default)
    body = msg.get_body(("plain",)).get_content()
    section = body[body.index("2023 年全年"):]
    section = section[:section.index("\n==")]
    assert "未达标" in section and "达标进度正常" not in section and "有超标风险" not in section
    assert not re.search(r"剩余\d+天", section)       # no advice for a year that has ended


# -- §3 a month is not judged against annual figures ------------------------------------------

@pytest.mark.realdata
def test_a_month_shows_values_for_reference_only(beijing_app):
    query = {"city": "beijing", "period": "month", "year": "2016", "month": "3"}
    table = _standing(beijing_app, query)
    assert set(table["verdict"]) <= {"for reference", "insufficient data"}
    assert (table["verdict"] == "for reference").any()
    assert (table["needed_status"] == "").all()               # no "rest of the year" advice
    page = render(beijing_app, overview, **query)
    cards = text(by_id(page, ids.OVERVIEW_CARDS))
    assert "仅供参考" in cards
    for verdict in ("未达标", "超标", "达标进度正常", "有超标风险", "剩余"):
        assert verdict not in cards, verdict
    assert by_id(page, overview.REFERENCE_NOTE_ID) is not None
    heat = of_type(page, "Graph")[0].figure
    colours = {c[1] for c in heat["data"][0]["colorscale"]}
    assert "#c62828" not in colours                           # no red/amber/green verdict
    # the district page: value beside the annual figure, no verdict, no margin
    dpage = render(beijing_app, district, district="dongcheng", pollutant="NO2", **query)
    verdict = text(by_id(dpage, district.VERDICT_ID))
    assert "仅供参考" in verdict and "未达标" not in verdict and "+" not in verdict


# -- §6 the stricter figure binds -------------------------------------------------------------

def test_demo_kuangqu_no2_is_bound_by_the_national_limit_not_its_looser_target(demo_app):
    query = {"city": "yangquan-demo", "period": "ytd", "year": "2025"}
    table = _standing(demo_app, query)
    r = _row(table, "kuangqu", "NO2")
    assert (r["target"], r["national_limit"]) == (45.0, 40.0)
    assert (r["binding"], r["binding_basis"]) == (40.0, "national")
    assert r["reported"] > 40 and r["reported"] <= 45          # the breach the target hid
    assert (r["verdict_target"], r["verdict_national"]) == ("on track", "at risk")
    assert r["verdict"] == "at risk" and r["margin"] == r["reported"] - 40
    # "needs ≤ …" is computed against 40, not 45
    assert r["period"] == "2025-YTD-06-30"
    days = (pd.Timestamp("2025-12-31") - pd.Timestamp("2025-06-30")).days
    expected = remaining_average_needed(r["value"] * r["n_valid"], r["n_valid"], days, 40, 0)
    assert r["needed"] == expected["needed"].iloc[0]
    assert r["needed"] < remaining_average_needed(r["value"] * r["n_valid"], r["n_valid"],
                                                  days, 45, 0)["needed"].iloc[0]
    # the heat map colours by value ÷ 40, and the card says both
    from dashboard.figures.overview import standing_heatmap
    fig = standing_heatmap(table, {}, "zh")
    heat = fig.data[0]
    i, j = list(heat.y).index("kuangqu"), list(heat.x).index("NO2")
    assert heat.z[i][j] == pytest.approx(r["reported"] / 40) and heat.z[i][j] > 1
    card = text(by_id(render(demo_app, overview, **query), ids.overview_card("kuangqu")))
    assert "对照目标 45：达标进度正常；对照国标 40：有超标风险" in card
    assert f"均值需≤{int(r['needed'])}微克" in card


# -- §7 advice beyond any plausible value -----------------------------------------------------

@pytest.mark.realdata
def test_the_699_case_says_secured_and_a_negative_need_says_no_longer_met(beijing_db_url):
    from sqlalchemy import create_engine

    from evaluation import Period, snapshot
    from evaluation.standings import standing_rows
    engine = create_engine(beijing_db_url)
    try:
        table = standing_rows(snapshot(engine), "beijing", Period.to_date(date(2015, 12, 6)))
    finally:
        engine.dispose()
    so2 = _row(table, "dongcheng", "SO2")
    # without a bound the rest of the year would "need ≤ 699 µg/m³ for the remaining 25 days"
    raw = remaining_average_needed(so2["value"] * so2["n_valid"], so2["n_valid"], 25, 60, 0)
    assert raw["needed"].iloc[0] == 699
    assert 699 > so2["plausible_max"] >= 150                   # the SO2 24-h limit
    assert (so2["needed_status"], so2["needed_zh"], so2["needed_en"]) == (
        "secured", "已确保达标", "already secured")
    assert so2["verdict"] == "on track"
    no2 = _row(table, "dongcheng", "NO2")
    assert (no2["needed_status"], no2["needed_zh"], no2["verdict"]) == (
        "out of reach", "已无法达标", "already exceeded")
    assert no2["needed_en"] == "can no longer be met"
    # nothing still needing a figure is above its bound
    needs = table[table["needed_status"] == "needs"]
    assert (needs["needed"] <= needs["plausible_max"]).all()


def test_plausibility_bound_is_the_worst_day_so_far_or_the_24h_limit():
    assert plausibility_bound([120.0, 30.0, np.nan], [150.0, 80.0, 80.0]).tolist()[:2] == [
        150.0, 80.0]
    assert np.isnan(plausibility_bound([np.nan], [80.0])[0])   # no daily values: no bound
    res = remaining_average_needed([11400, 11400], [300, 300], [65, 65], [37, 37], 0,
                                   plausible_max=[30.0, np.nan])
    assert res["status"].tolist() == ["secured", "needs"]     # 35 > 30: secured


# -- §8 the district page opens with the verdict ----------------------------------------------

@pytest.mark.realdata
def test_dongcheng_no2_2016_district_page_gives_status_value_and_margin(beijing_app):
    query = {"city": "beijing", "period": "year", "year": "2016"}
    r = _row(_standing(beijing_app, query), "dongcheng", "NO2")
    assert (r["reported"], r["binding"], r["margin"], r["verdict"]) == (50, 40, 10, "not met")
    page = render(beijing_app, district, district="dongcheng", pollutant="NO2", **query)
    section = by_id(page, district.VERDICT_ID)
    assert section is not None
    rows = [c for c in walk(section) if type(c).__name__ == "Tr"]
    no2 = next(text(tr) for tr in rows if text(tr).startswith("NO2"))
    assert "50" in no2 and "+10" in no2 and "40（国家限值）" in no2 and "未达标" in no2
    assert len(rows) == 1 + 6               # header + every judged pollutant (no local target)
    en = text(by_id(render(beijing_app, district, district="dongcheng", pollutant="NO2",
                           lang="en", **query), district.VERDICT_ID))
    assert re.search(r"NO2.*50.*40 \(national limit\).*\+10.*not met", en)


def test_demo_district_page_verdict_for_a_running_year_says_what_is_needed(demo_app):
    query = {"city": "yangquan-demo", "period": "ytd", "year": "2025"}
    r = _row(_standing(demo_app, query), "kuangqu", "NO2")
    page = render(demo_app, district, district="kuangqu", pollutant="NO2", **query)
    verdict = text(by_id(page, district.VERDICT_ID))
    assert "有超标风险" in verdict and f"{r['margin']:+g}" in verdict
    assert r["needed_zh"] in verdict and "40（国家限值）" in verdict
