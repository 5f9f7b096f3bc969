"""Issue 16 §1, §5, §9, §13, §14 and §10 (ranking side), on the real Beijing data.

§1  Every area with a value is ranked (standards.md §7); one whose statistic fails a
    capture rule is *provisional* (暂定) with the reason; ``--valid-only`` / the page's
    switch gives the strict order. Beijing 2016 used to rank 4 of 8 districts (Huairou
    5.54, Changping 6.21 and Shunyi 6.53, the three cleanest, left out over one month
    of 26 valid days), the year to date on 2015-12-06 2 of 8, and the weekly email said
    "rank 2 of 2".
§5  A change is given in its unit: the good-day ratio in percentage points (53.6 % vs
    50.4 % is +3.2, not +6.3 %), counts in days, concentrations and the index in %.
§9  Area names in the ranking table and chart link to the district (station) page with
    the page's state.
§13 The value axis starts near the smallest value. §14 ``lantian rank`` shows names.
§10 A district-scoped account sees every rank, its own row with values, others' not.
"""
from __future__ import annotations

import io
from datetime import date

import pandas as pd
import pytest

from dashboard import ids
from dashboard.pages import overview, public, ranking
from tests.dash_helpers import by_id, render, routed, text

pytestmark = pytest.mark.realdata

DISTRICTS = ("dongcheng", "xicheng", "chaoyang", "haidian", "shijingshan", "changping",
             "shunyi", "huairou")


@pytest.fixture
def rank_cli(beijing_db_url, lantian_on):
    """``lantian rank …`` on the session's real Beijing database (read only)."""
    def run(*args):
        result = lantian_on(beijing_db_url, "rank", *args)
        assert result.exit_code == 0, result.output
        return result.stdout
    return run


def csv_of(out: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(out), dtype={"area": str}).set_index("area")


def snapshot_of(url: str):
    from sqlalchemy import create_engine

    from evaluation.snapshot import snapshot
    return snapshot(create_engine(url))


# -- §1 every area with a value is ranked -----------------------------------------------

def test_beijing_2016_ranks_all_eight_districts_three_cleanest_provisional(rank_cli):
    table = csv_of(rank_cli("--year", "2016", "--format", "csv"))
    assert sorted(table.index) == sorted(DISTRICTS)
    # a number in the rank column for every district, ascending on the reported value
    ranks = table["rank"].to_dict()
    assert ranks == {"huairou": 1, "changping": 2, "shunyi": 3, "dongcheng": 4,
                     "chaoyang": 5, "haidian": 5, "xicheng": 7, "shijingshan": 8}
    assert table.loc[["huairou", "changping", "shunyi"], "reported"].tolist() == \
        [5.54, 6.21, 6.53]
    # the three cleanest (and Shijingshan) are provisional, with the capture rule they fail
    provisional = table[table["status"] == "provisional"]
    assert set(provisional.index) == {"huairou", "changping", "shunyi", "shijingshan"}
    assert not provisional["valid"].any()
    assert table.loc["changping", "reason"] == \
        "invalid NO2 annual_mean (2016-09: 26 valid days, needs 27)"
    assert "2016-09: 26 valid days, needs 27" in table.loc["huairou", "reason"]
    assert (table.loc[["dongcheng", "chaoyang", "haidian", "xicheng"], "status"]
            == "ranked").all()
    # ids stay in `area`, with a name column (§14)
    assert table.loc["huairou", "name"] == "怀柔区"
    # the change against 2015 in its unit: the composite index in %
    assert (table["change_kind"] == "percent").all()
    assert table.loc["dongcheng", "change"] == -8.0                      # 7.03 vs 7.64


def test_valid_only_is_the_strict_order_of_four(rank_cli):
    table = csv_of(rank_cli("--year", "2016", "--valid-only", "--format", "csv"))
    ranked = table[table["rank"].notna()]
    assert ranked["rank"].to_dict() == {"dongcheng": 1, "chaoyang": 2, "haidian": 2,
                                        "xicheng": 4}
    assert set(table.index[table["rank"].isna()]) == {"huairou", "changping", "shunyi",
                                                      "shijingshan"}
    assert (table.loc[table["rank"].isna(), "status"] == "insufficient data").all()


def test_rank_table_shows_names_and_changes_in_their_units(rank_cli):
    out = rank_cli("--year", "2016", "--lang", "en")
    assert "Huairou" in out and "huairou" not in out                      # names, not ids
    assert "vs 2015" in out and "-8.6%" in out and "provisional" in out
    out = rank_cli("--year", "2016", "--by", "good_day_ratio", "--lang", "en")
    # Haidian 53.1 % vs 45.2 %: +7.9 percentage points (not +17.5 %)
    assert "+7.9 points" in out and "17.5" not in out
    zh = rank_cli("--year", "2016")
    assert "怀柔区" in zh and "顺义区" in zh


def test_year_to_date_2015_12_06_ranks_eight_with_provisional_marks(beijing_db_url):
    from evaluation import Period
    from evaluation.standings import ranking_rows
    snap = snapshot_of(beijing_db_url)
    args = (snap, "beijing", Period.to_date(date(2015, 12, 6)), None, "composite_index",
            "ALL", "district", DISTRICTS)
    table = ranking_rows(*args).set_index("area")
    assert table["rank"].notna().all() and len(table) == 8
    assert table["rank"].to_dict() == {"huairou": 1, "changping": 2, "shunyi": 3,
                                       "xicheng": 4, "dongcheng": 5, "shijingshan": 6,
                                       "haidian": 7, "chaoyang": 8}
    assert set(table.index[table["status"] == "ranked"]) == {"xicheng", "dongcheng"}
    assert set(table.index[table["status"] == "provisional"]) == \
        set(DISTRICTS) - {"xicheng", "dongcheng"}
    assert "2015-10: 23 valid days, needs 27" in table.loc["changping", "reason"]
    # the strict order: the 2 valid districts (what the page and the email showed before)
    strict = ranking_rows(*args, valid_only=True).set_index("area")
    assert strict["rank"].dropna().to_dict() == {"xicheng": 1, "dongcheng": 2}


def test_weekly_email_ranks_among_eight_with_the_provisional_reason(beijing_db_url):
    from sqlalchemy import create_engine

    from reports.data import compute, load_inputs
    from reports.render import render as render_email
    from reports.weeks import parse_week
    week = parse_week("2015-W49")                          # year to date 2015-12-06
    reports = compute(load_inputs(create_engine(beijing_db_url), "beijing", week), week)
    shunyi_en = render_email(reports["shunyi"], "en", []).text
    assert ("Year-to-date composite index 6.50: rank 3 of 8 districts (provisional: SO₂ "
            "mean (2015-11: 26 valid days, needs 27; 2015-12 (days 1–6): 3 valid days, "
            "needs 6) and 5 more); lower is better.") in shunyi_en
    shunyi_zh = render_email(reports["shunyi"], "zh", []).text
    assert "年初至今综合指数 6.50，在 8 个区县中排第 3 名（暂定：SO₂ 年均值" in shunyi_zh
    dongcheng = render_email(reports["dongcheng"], "en", []).html
    assert "rank 5 of 8 districts (lower is better)" in dongcheng and "provisional" not in \
        dongcheng.split("Rank among districts")[1].split("</p>")[0]
    city = render_email(reports["city"], "en", []).text
    assert "1. Huairou (provisional): Composite index 5.81" in city
    assert "5. Dongcheng: Composite index 7.19" in city
    assert 'A district marked "provisional"' in city
    assert "insufficient data" not in city.split("Rank among districts")[1].split("==")[0]


# -- the ranking page --------------------------------------------------------------------

def rows_of(page) -> pd.DataFrame:
    return pd.DataFrame(by_id(page, ids.RANKING_TABLE).rowData).set_index("area")


def test_ranking_page_2016_ranks_all_and_the_switch_gives_the_strict_order(beijing_app):
    page = render(beijing_app, ranking, city="beijing", year="2016", period="year")
    assert by_id(page, ids.PAGE_ERROR) is None
    grid = rows_of(page)
    assert grid["rank"].to_dict() == {"huairou": 1, "changping": 2, "shunyi": 3,
                                      "dongcheng": 4, "chaoyang": 5, "haidian": 5,
                                      "xicheng": 7, "shijingshan": 8}
    assert grid.loc["huairou", "status"] == "暂定" and grid.loc["huairou", "provisional"]
    assert grid.loc["changping", "reason"] == "NO2 平均浓度无效（2016-09：有效 26 天，应有 27 天）"
    assert text(by_id(page, ids.RANKING_COUNTS)) == \
        "8 个参与排名，其中 4 个暂定（数据有效性不足）"
    rank_col = next(c for c in by_id(page, ids.RANKING_TABLE).columnDefs
                    if c["field"] == "rank")
    assert "暂定" in rank_col["valueFormatter"]["function"]
    # the switch
    switch = by_id(page, {"type": ids.CONTROL, "name": "valid_only"})
    assert switch.value == []
    page = render(beijing_app, ranking, city="beijing", year="2016", period="year",
                  valid_only="1", lang="en")
    grid = rows_of(page)
    assert grid["rank"].dropna().to_dict() == {"dongcheng": 1, "chaoyang": 2, "haidian": 2,
                                               "xicheng": 4}
    assert text(by_id(page, ids.RANKING_COUNTS)) == "4 ranked (valid data only), 4 not ranked"
    assert by_id(page, {"type": ids.CONTROL, "name": "valid_only"}).value == ["1"]


def test_ranking_chart_axis_starts_near_the_smallest_value(beijing_app):
    page = render(beijing_app, ranking, city="beijing", year="2016", period="year")
    fig = by_id(page, ids.RANKING_CHART).figure
    start, end = fig.layout.xaxis.range
    assert 5.0 < start < 5.54 and 7.31 < end < 8           # not 0 … 8.4 as bars had it
    names = {tr.name for tr in fig.data}
    assert {"已排名", "暂定（有效数据不足）"} <= names


def test_ranking_changes_in_points_and_days(beijing_app):
    page = render(beijing_app, ranking, city="beijing", year="2016", by="good_day_ratio")
    columns = {c["field"]: c for c in by_id(page, ids.RANKING_TABLE).columnDefs}
    assert columns["change"]["headerName"] == "变化 (个百分点)"
    grid = rows_of(page)
    # Haidian 53.1 % (45.2 % in 2015): +7.9 points, not the rate +17.5 %
    assert grid.loc["haidian", ["value", "previous", "change"]].tolist() == [53.1, 45.2, 7.9]
    page = render(beijing_app, ranking, city="beijing", year="2016", by="heavy_days",
                  lang="en")
    columns = {c["field"]: c for c in by_id(page, ids.RANKING_TABLE).columnDefs}
    assert columns["change"]["headerName"] == "Change (days)"
    grid = rows_of(page)
    for area in DISTRICTS:
        assert grid.loc[area, "change"] == grid.loc[area, "value"] - grid.loc[area, "previous"]
    assert "A count of days changes in days" in text(page)


def test_city_good_day_ratio_in_points_and_heavy_days_in_days(beijing_app, beijing_db_url):
    from evaluation import Period
    from evaluation.city_year import stats_with_change
    stats = stats_with_change(snapshot_of(beijing_db_url), "beijing",
                              Period.calendar_year(2016), None, True)
    city = stats[stats["level"] == "city"].set_index(["pollutant", "statistic"])
    ratio = city.loc[("AQI", "good_day_ratio")]
    assert (ratio["reported"], ratio["previous_reported"]) == (53.6, 50.4)
    assert ratio["change_kind"] == "points" and ratio["change"] == 3.2
    heavy = city.loc[("AQI", "heavy_days")]
    assert (heavy["reported"], heavy["previous_reported"]) == (40, 49)
    assert heavy["change_kind"] == "days" and heavy["change"] == -9
    composite = city.loc[("ALL", "composite_index")]
    assert composite["change_kind"] == "percent" and composite["change"] == -7.4
    # the overview's arrows
    strip = text(by_id(render(beijing_app, overview, city="beijing", year="2016",
                              period="year"), ids.OVERVIEW_CITY))
    assert "同比 ▲3.2 个百分点" in strip and "同比 ▼9 天" in strip and "同比 ▼7.4%" in strip
    assert "6.3%" not in strip and "18.4%" not in strip
    strip = text(by_id(render(beijing_app, overview, city="beijing", year="2016",
                              period="year", lang="en"), ids.OVERVIEW_CITY))
    assert "vs last year ▲3.2 points" in strip and "vs last year ▼9 days" in strip


def test_public_page_ranks_every_district_and_marks_provisional(beijing_app):
    tree = render(beijing_app, public, city="beijing", lang="en")
    ytd = text(by_id(tree, ids.PUBLIC_RANK_YTD))
    assert "6 provisional Shijingshan 8.21" in ytd and "insufficient" not in ytd
    tiles = text(by_id(tree, ids.PUBLIC_YTD))
    # 2017 to 02-28: the good-day ratio 54.4 % vs 76.3 %, 14 heavy days vs 5
    assert "change ▼21.9 points" in tiles and "change ▲9 days" in tiles


# -- §9 links ---------------------------------------------------------------------------

def test_ranking_links_carry_the_state(beijing_app):
    page = render(beijing_app, ranking, city="beijing", year="2016", period="year",
                  profile="who-2021", lang="en", by="PM2.5")
    grid = rows_of(page)
    assert grid.loc["huairou", "href"] == \
        "/district?city=beijing&period=year&year=2016&profile=who-2021&lang=en" \
        "&district=huairou"
    name_col = next(c for c in by_id(page, ids.RANKING_TABLE).columnDefs
                    if c["field"] == "name")
    assert name_col["cellRenderer"] == "LtAreaLink"
    fig = by_id(page, ids.RANKING_CHART).figure
    assert any("district=huairou" in tick and "profile=who-2021" in tick
               for tick in fig.layout.yaxis.ticktext)
    # the link opens the district page in that state
    body = routed(beijing_app, "/district", "?city=beijing&period=year&year=2016"
                  "&profile=who-2021&lang=en&district=huairou")
    assert "Huairou" in body
    # stations link to the station page, months keep their month
    page = render(beijing_app, ranking, city="beijing", period="month", year="2015",
                  month="4", level="station", by="NO2")
    assert rows_of(page).loc["1007A", "href"] == \
        "/station?city=beijing&period=month&year=2015&month=4&station=1007A"


# -- §10 a district-scoped account ---------------------------------------------------------

def test_scoped_account_sees_every_rank_but_only_its_own_values(beijing_app):
    from dashboard.context import current_engine
    from dashboard.queries import catalog
    from dashboard.state import resolve
    with beijing_app.server.test_request_context():
        engine = current_engine()
        cat = catalog(engine).scoped(("beijing", "shunyi"))
        view = resolve({"city": "beijing", "year": "2016", "period": "year"}, cat.city_ids(),
                       cat.spans, "beijing", ranking.PAGE_KEYS)
        out = ranking.body(view, cat, engine)
        export = ranking.export_frame(view, cat, engine)
    grid = rows_of(out)
    assert len(grid) == 8 and grid["rank"].notna().all()
    assert grid.loc["shunyi", "own"] and grid.loc["shunyi", "value"] == 6.53
    assert grid.loc["shunyi", "rank"] == 3 and grid.loc["shunyi", "href"]
    others = grid.drop(index="shunyi")
    assert not others["own"].any() and others["hidden"].all()
    for col in ("value", "previous", "change", "href", "valid"):
        assert others[col].isna().all(), col
    assert (others["reason"] == "").all() and (others["capture"] == "").all()
    assert (others["status"] == "").all() and grid.loc["shunyi", "status"] == "暂定"
    assert others.loc["huairou", "provisional"]        # the rank's mark stays
    assert others.loc["huairou", "rank"] == 1 and others.loc["huairou", "name"] == "怀柔区"
    assert by_id(out, ids.RANKING_CHART) is None            # its dots would show the values
    assert "顺义区" in text(out) and "其他区县只显示排名和名称" in text(out)
    assert ranking.SCOPED is True
    exported = export.set_index("代码")
    assert exported.loc["shunyi", "数值"] == "6.53" and exported.loc["huairou", "数值"] == ""
