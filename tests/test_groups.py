"""Issue 18: peer groups as data (config/groups) and rank objectives judged on a complete
group. The three-city group here is a test group of SYNTHETIC demo cities."""
from __future__ import annotations

import io

import pandas as pd
import pytest

from config import ConfigError
from config.groups import group_ids, load_group

GROUP = """\
id: trio
name_zh: 三城测试组
name_en: test trio
level: city
year: 2026
source: "test group of three SYNTHETIC cities"
size: 3
bottom: 1
members:
  - {name: 阳泉, name_en: Yangquan, province: 山西省}
  - {name: 晋中, name_en: Jinzhong, province: 山西省}
  - {name: 长治, name_en: Changzhi, province: 山西省}
"""


def _site(national: str, city: str, no2: float, so2: float, plan: str = "") -> str:
    """A one-station SYNTHETIC city whose district levels follow its targets."""
    return f"""\
city: {{id: {city}, name_zh: {national}（合成）, name_en: {city} (synthetic), synthetic: true,
        national_name: {national}, province: 山西省}}
districts:
  - {{id: d1, name_zh: 一区, name_en: District 1}}
stations:
  - {{code: T{city[:3].upper()}, name_zh: {national}合成站, district: d1}}
targets:
  - {{district: d1, pollutant: NO2, statistic: annual_mean, value: {no2}}}
  - {{district: d1, pollutant: SO2, statistic: annual_mean, value: {so2}}}
{plan}"""


PLAN = """\
plan:
  year: 2021
  objectives:
    - {id: up, scope: city, kind: rank, group: trio, better_than_last_year: true}
    - {id: out, scope: city, kind: rank, group: trio, outside_bottom: 1}
"""


def test_the_168_key_cities_file():
    group = load_group("key-168")
    assert (group.level, group.size, group.bottom, group.year) == ("city", 168, 20, 2020)
    assert "生态环境部" in group.source and "168" in group.source
    names = [m.name for m in group.members]
    assert len(set(names)) == 168
    provinces = {m.name: m.province for m in group.members}
    assert provinces["阳泉"] == "山西省" and provinces["朝阳"] == "辽宁省"
    assert provinces["重庆"] == "重庆市"
    assert {"key-168", "shanxi-counties"} <= set(group_ids())
    counties = load_group("shanxi-counties")
    assert (counties.level, counties.size, counties.bottom, counties.province) == \
        ("county", 120, 25, "山西省")


def test_every_key_city_is_a_city_of_the_national_station_list(shared_data):
    listed = pd.read_csv(shared_data / "cnemc-sites" / "NewSiteList.csv", encoding="gbk")
    province = listed.groupby("城市")["省级行政区"].agg(lambda s: s.mode().iloc[0])
    for m in load_group("key-168").members:
        assert m.name in province.index, m.name
        assert province[m.name] == m.province, m.name
    stations = listed[listed["城市"].isin([m.name for m in load_group("key-168").members])]
    assert len(stations) == 1306             # incl. retired and background stations


@pytest.mark.parametrize("change, key, words", [
    ({"size": 4}, "members", ["3 members, but size is 4"]),
    ({"bottom": 3}, "bottom", ["3 is not below the size 3"]),
    ({"id": "other"}, "id", ["'other' differs from the file name 'trio'"]),
    ({"level": "town"}, "level", ["'town' is not a level", "city or county"]),
    ({"colour": "red"}, "colour", ["unknown key"]),
    ({"source": ""}, "source", ["missing", "where the list comes from"]),
])
def test_group_file_mistakes_name_file_key_and_fix(tmp_path, monkeypatch, change, key, words):
    import yaml
    data = yaml.safe_load(GROUP)
    data.update(change)
    (tmp_path / "trio.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    monkeypatch.setenv("LANTIAN_GROUPS_DIR", str(tmp_path))
    with pytest.raises(ConfigError) as err:
        load_group("trio")
    text = str(err.value)
    assert str(tmp_path / "trio.yaml") in text and f": {key}: " in text
    assert all(w in text for w in words), text


def test_an_unknown_group_names_the_known_ones():
    with pytest.raises(ConfigError) as err:
        load_group("key-999")
    assert "no peer group 'key-999'" in str(err.value) and "key-168" in str(err.value)


@pytest.fixture
def trio(tmp_path, monkeypatch, lantian_on):
    """Three SYNTHETIC cities forming the complete group ``trio``: 晋中 cleaner (its
    NO2/SO2 levels near 20/8), 长治 dirtier (60/45), 阳泉 in between with the plan."""
    groups = tmp_path / "groups"
    groups.mkdir()
    (groups / "trio.yaml").write_text(GROUP, "utf-8")
    monkeypatch.setenv("LANTIAN_GROUPS_DIR", str(groups))
    url = f"sqlite:///{tmp_path / 'trio.sqlite'}"
    for national, city, no2, so2, plan in (("阳泉", "yq", 36, 22, PLAN),
                                           ("晋中", "jz", 20, 8, ""),
                                           ("长治", "cz", 60, 45, "")):
        path = tmp_path / f"{city}.yaml"
        path.write_text(_site(national, city, no2, so2, plan), "utf-8")
        assert lantian_on(url, "init", "--sites", path).exit_code == 0
        result = lantian_on(url, "demo", "--sites", path, "--until", "2025-12-31", "--quiet")
        assert result.exit_code == 0, result.output
    return url


def _csv(result) -> pd.DataFrame:
    assert result.exit_code == 0, result.output
    return pd.read_csv(io.StringIO(result.stdout))


def test_rank_objectives_on_a_complete_group(trio, lantian_on):
    ranking = _csv(lantian_on(trio, "rank", "--level", "city", "--group", "trio",
                              "--year", 2025, "--format", "csv"))
    assert list(ranking["area"]) == ["晋中", "阳泉", "长治"]
    assert list(ranking["rank"]) == [1, 2, 3]
    assert ranking["reported"].is_monotonic_increasing
    # bottom 1 of 3: the line is the worst index still outside it, 阳泉's (place 2)
    line = ranking.loc[ranking["area"] == "阳泉", "reported"].iloc[0]
    assert (ranking["line_value"] == line).all()
    assert list(ranking["in_bottom"]) == [False, False, True]
    assert list(ranking["distance"].round(2)) == list((ranking["reported"] - line).round(2))
    # one station per city, each with its month-long outage: every index is provisional
    assert set(ranking["status"]) == {"provisional"}

    got = _csv(lantian_on(trio, "objectives", "--city", "yq", "--year", 2025,
                          "--format", "csv")).set_index("id")
    out = got.loc["out"]
    assert (out["value"], out["target"], out["margin"]) == (2, 2, 0)
    # an ended year with provisional ranks is not judged
    assert out["status"] == "insufficient data"
    assert "place 2 of 3" in out["reason"] and "insufficient for a final rank" in out["reason"]
    assert out["text_zh"] == "全市综合指数在三城测试组中退出后1名"
    up = got.loc["up"]
    before = ranking.loc[ranking["area"] == "阳泉", "previous_rank"].iloc[0]
    assert up["value"] == 2 and up["target"] == before - 1
    assert f"vs {before} the year before" in up["reason"]

    # a year to date is judged on the ranks so far: on track / at risk
    ytd = _csv(lantian_on(trio, "objectives", "--city", "yq", "--year", 2025,
                          "--until", "2025-06-30", "--format", "csv")).set_index("id")
    so_far = _csv(lantian_on(trio, "rank", "--level", "city", "--group", "trio",
                             "--year", 2025, "--until", "2025-06-30", "--format", "csv"))
    place = int(so_far.loc[so_far["area"] == "阳泉", "rank"].iloc[0])
    assert ytd.loc["out", "value"] == place
    assert ytd.loc["out", "status"] == ("on track" if place <= 2 else "at risk")
    assert ytd.loc["out", "period_kind"] == "running"


def test_rank_group_and_level_must_agree(trio, lantian_on):
    result = lantian_on(trio, "rank", "--level", "district", "--group", "trio", "--year", 2025)
    assert result.exit_code != 0 and "group trio ranks cities: use --level city" in result.output
    result = lantian_on(trio, "rank", "--level", "city", "--group", "trio", "--year", 2025,
                        "--by", "NO2")
    assert result.exit_code != 0 and "--by does not apply with --group" in result.output


def test_a_copy_stored_before_national_name_stays_readable(tmp_path, lantian_on):
    """A city's copy saved before peer groups were checked (a rank objective, no
    ``national_name``): the plan is still judged; its city rank objectives say what the
    site file lacks instead of stopping every view of the plan."""
    import sqlite3

    from tests.conftest import YANGQUAN_SITES
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    assert lantian_on(url, "init", "--sites", YANGQUAN_SITES).exit_code == 0
    assert lantian_on(url, "demo", "--until", "2024-12-31", "--quiet").exit_code == 0
    with sqlite3.connect(tmp_path / "old.sqlite") as db:
        changed = db.execute("UPDATE site_versions SET content = replace(content, "
                             "'national_name: 阳泉', '')").rowcount
    assert changed == 1
    got = _csv(lantian_on(url, "objectives", "--city", "yangquan-demo", "--year", 2024,
                          "--format", "csv")).set_index("id")
    cities = got[(got["kind"] == "rank") & (got["scope"] == "city")]
    assert len(cities) == 2 and (cities["status"] == "no data").all()
    assert cities["reason"].str.startswith("the site file gives the city no national_name").all()
    assert got.loc["city-no2-grade2", "status"] == "met"          # the rest is judged
