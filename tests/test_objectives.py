"""Issue 18 (foundation): the action plan as data — ``plan:`` in a site file and
``lantian objectives``, on the SYNTHETIC demo city."""
from __future__ import annotations

import io

import pandas as pd
import pytest

from config import ConfigError
from config.sites import load_site_config
from tests.conftest import YANGQUAN_SITES

CITY = "yangquan-demo"
ENDED_WORDS = {"met", "not met", "insufficient data"}
RUNNING_WORDS = {"on track", "at risk", "already exceeded"}
SITE = """
city: {id: plancity, name_zh: 计划市, name_en: Plan city}
districts:
  - {id: east, name_zh: 东区, name_en: East}
stations:
  - {code: P01, name_zh: 东一, district: east}
plan:
  year: 2021
  objectives:
"""


@pytest.fixture
def run_on(lantian_on):
    """``run_on(url, *args)``: ``lantian *args`` in-process against the database ``url``."""
    return lantian_on


def _site(tmp_path, *objectives: str):
    path = tmp_path / "plan.yaml"
    path.write_text(SITE + "".join(f"    - {o}\n" for o in objectives), encoding="utf-8")
    return path


@pytest.mark.parametrize("objectives, key, words", [
    (["{id: a, scope: city, kind: target, pollutant: NO2, statistic: annual_mean, max: 3}"],
     "plan.objectives[0] (id a).kind", ["unknown kind 'target'", "use one of: value, grade"]),
    (["{id: b, scope: westside, kind: value, pollutant: NO2, statistic: annual_mean, max: 3}"],
     "plan.objectives[0] (id b).scope", ["unknown district 'westside'", "use city or one of"]),
    (["{id: c, scope: east, kind: grade, pollutant: SO2, statistic: annual_mean}"],
     "plan.objectives[0] (id c).grade", ["missing", "grade: I"]),
    (["{id: d, scope: city, kind: composite_max, max: 5}",
      "{id: d, scope: east, kind: composite_max, max: 4}"],
     "plan.objectives[1] (id d).id", ["duplicate objective id 'd'"]),
    (["{id: e, scope: city, kind: rank, group: key-200, outside_bottom: 20}"],
     "plan.objectives[0] (id e).group", ["no peer group 'key-200'", "key-168",
                                         "shanxi-counties"]),
    (["{id: f, scope: east, kind: rank, group: key-168, outside_bottom: 20}"],
     "plan.objectives[0] (id f).scope", ["group key-168 ranks cities, not a district"]),
    (["{id: g, scope: city, kind: rank, group: key-168, better_than_last_year: true}"],
     "city.national_name", ["missing: not a member of key-168 (objective g)",
                            "national_name: 阳泉"]),
    (["{id: h, scope: east, kind: rank, group: shanxi-counties, outside_bottom: 25}"],
     "city.province", ["missing: objective h ranks a district among 山西省's counties",
                       "province: 山西省"]),
])
def test_plan_mistakes_name_file_objective_and_fix(tmp_path, objectives, key, words):
    path = _site(tmp_path, *objectives)
    with pytest.raises(ConfigError) as err:
        load_site_config(path)
    text = str(err.value)
    assert str(path) in text and f": {key}: " in text
    assert all(w in text for w in words), text


def test_the_demo_plan_loads():
    plan = load_site_config(YANGQUAN_SITES).plan
    # 19 objectives of the plan's list plus "moves up" among the 168 cities (the city) and
    # among the province's counties (each of the 6 districts)
    assert plan.year == 2021 and len(plan.objectives) == 26
    kinds = {o.id: o.kind for o in plan.objectives}
    assert kinds["city-no2-grade2"] == "grade" and kinds["city-key168-out-of-bottom-20"] == "rank"
    site = load_site_config(YANGQUAN_SITES)
    targets = {(t.district, t.pollutant): t.value for t in site.targets}
    values = {(o.scope, o.pollutant): o.max for o in plan.objectives if o.kind == "value"}
    assert values == targets            # the same numbers as targets:


def _csv(result) -> pd.DataFrame:
    assert result.exit_code == 0, result.output
    return pd.read_csv(io.StringIO(result.output))


def test_the_demo_plan_for_an_ended_year(run_on, demo_db_url):
    got = _csv(run_on(demo_db_url, "objectives", "--city", CITY, "--year", 2024,
                      "--format", "csv")).set_index("id")
    rank = got[got["kind"] == "rank"]
    assert len(rank) == 10 and (rank["status"] == "no data").all()
    # the demo loads one of the 168 cities and 6 of Shanxi's 120 counties: say what to load
    cities = rank[rank["scope"] == "city"]
    assert cities["reason"].str.startswith("1 of 168 members have data; 167 cities missing").all()
    assert cities["reason"].str.contains("lantian ingest stations NewSiteList.csv").all()
    counties = rank[rank["scope"] != "city"]
    assert counties["reason"].str.startswith("6 of 120 members have data; 114 counties "
                                             "missing: add a site file").all()
    assert got.loc["city-key168-up", "text_zh"] == "全市综合指数在168个重点城市中排名好于上年"
    judged = got[got["kind"] != "rank"]
    assert set(judged["status"]) <= ENDED_WORDS and (judged["period_kind"] == "ended").all()
    # grade II NO2 limit 40, grade I SO2 limit 20 (cn-2012)
    assert got.loc["city-no2-grade2", "target"] == 40 and got.loc["city-so2-grade1", "target"] == 20
    assert got.loc["city-no2-grade2", "status"] == "met"          # 37 ≤ 40
    assert got.loc["city-so2-grade1", "status"] == "not met"      # 26 > 20
    assert got.loc["city-good-days-up", "unit"] == "points"
    assert got.loc["city-heavy-days-down", "unit"] == "days"
    assert got.loc["city-heavy-days-down", "status"] == "not met"   # 7 days vs 6 in 2023

    # the district value objectives agree with `lantian targets` (the target column)
    tg = _csv(run_on(demo_db_url, "targets", "--city", CITY, "--year", 2024, "--format", "csv"))
    tg = tg[tg["basis"] == "target"].set_index(["area", "pollutant"])
    values = got[got["kind"] == "value"]
    assert len(values) == 12
    for r in values.itertuples():
        row = tg.loc[(r.area, r.pollutant)]
        assert (r.status, r.value, r.target) == (row["verdict_target"], row["reported"],
                                                 row["target"]), r.Index


def test_the_demo_plan_for_a_running_year(run_on, demo_db_url):
    result = run_on(demo_db_url, "objectives", "--city", CITY, "--year", 2025,
                    "--until", "2025-06-30", "--format", "csv")
    assert result.output.splitlines()[0] == (
        "id,scope,area,name_zh,name_en,kind,pollutant,statistic,text_zh,text_en,period,"
        "period_kind,value,target,margin,unit,status,reason,reason_zh")
    got = _csv(result).set_index("id")
    judged = got[got["kind"] != "rank"]
    assert set(judged["status"]) <= RUNNING_WORDS | {"insufficient data"}
    assert set(judged["status"]) & RUNNING_WORDS
    assert (judged["period"] == "2025-YTD-06-30").all()
    assert got.loc["chengqu-no2", "reason_zh"].startswith("剩余184天均值需≤")
    assert "same day last year" in got.loc["city-good-days-up", "reason"]
    table = run_on(demo_db_url, "objectives", "--city", CITY, "--year", 2025,
                   "--until", "2025-06-30", "--lang", "en")
    assert table.exit_code == 0
    assert "year to date (to 2025-06-30), provisional" in table.output
    assert "on track" in table.output and "no data" in table.output


def test_objectives_user_errors(run_on, demo_db_url):
    unknown = run_on(demo_db_url, "objectives", "--city", "nowhere", "--year", 2024)
    assert unknown.exit_code != 0 and "lantian init --sites" in unknown.output
    early = run_on(demo_db_url, "objectives", "--city", CITY, "--year", 2020)
    assert early.exit_code != 0 and "starts in 2021" in early.output
