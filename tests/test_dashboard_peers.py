"""The ranking page's peer-group view (issue 18): ``/ranking?city=…&year=…&group=…``.

Two databases, both SYNTHETIC (合成数据, never measurements):

* the session's demo database: the demo city claims 阳泉, the only one of the 168 key
  cities with data (so its place is "第 1 名 / 共 168" among the loaded members only);
* one built here: the demo city and seven SYNTHETIC stand-ins for other key cities (a
  site file each whose ``national_name`` names the key city, readings from ``lantian
  demo``; two of them in 山西省, so their districts join Shanxi's county group) and a
  city that claims none, with a small complete test group (``LANTIAN_GROUPS_DIR``:
  eight of the key cities, bottom 3), so that the bottom-N line and the distances exist.

What the page shows is compared with :func:`evaluation.peers.peer_ranking` and with
``lantian rank --group … --format csv``.
"""
from __future__ import annotations

import csv
import io
import json

import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard import ids
from tests.conftest import YANGQUAN_SITES
from tests.dash_helpers import dump, props_in, route, staff_client

CITY = "yangquan-demo"
UNTIL = "2025-12-31"
#: SYNTHETIC stand-ins for key cities: (id, national name, English, province, PM2.5 and
#: NO2 levels of the generator, µg/m³ — spread so that the cities rank apart).
PEERS = [
    ("peer-taiyuan", "太原", "Taiyuan", "山西省", 58, 44),
    ("peer-jincheng", "晋城", "Jincheng", "山西省", 48, 30),
    ("peer-shijiazhuang", "石家庄", "Shijiazhuang", "河北省", 66, 46),
    ("peer-baoding", "保定", "Baoding", "河北省", 62, 40),
    ("peer-zhengzhou", "郑州", "Zhengzhou", "河南省", 52, 42),
    ("peer-jinan", "济南", "Jinan", "山东省", 47, 38),
    ("peer-chengdu", "成都", "Chengdu", "四川省", 36, 33),
]
TEST_GROUP = "test-key-8"
TEST_GROUP_YAML = """# A test group (not a published list): eight of the 168 key cities, bottom 3.
id: test-key-8
name_zh: 测试组八城
name_en: Eight test cities
level: city
year: 2025
source: "测试用（tests/test_dashboard_peers.py），不是公布的名单"
source_en: "for the tests (tests/test_dashboard_peers.py), not a published list"
size: 8
bottom: 3
members:
  - {name: 阳泉, name_en: Yangquan, province: 山西省}
  - {name: 太原, name_en: Taiyuan, province: 山西省}
  - {name: 晋城, name_en: Jincheng, province: 山西省}
  - {name: 石家庄, name_en: Shijiazhuang, province: 河北省}
  - {name: 保定, name_en: Baoding, province: 河北省}
  - {name: 郑州, name_en: Zhengzhou, province: 河南省}
  - {name: 济南, name_en: Jinan, province: 山东省}
  - {name: 成都, name_en: Chengdu, province: 四川省}
"""
#: A SYNTHETIC city that claims no key city and no province: no peer group applies.
PLAIN_SITE = """# SYNTHETIC test city (合成数据) of no peer group.
city: {id: plain-test, name_zh: 无组测试市（合成）, name_en: No-group test city (synthetic),
       synthetic: true}
districts:
  - {id: only, name_zh: 唯一区, name_en: Only district, grade: II}
stations:
  - {code: PLAIN1, name_zh: 唯一合成站, name_en: Only synthetic, district: only, lon: 110.1, lat: 30.1}
"""


def peer_site(city: str, name: str, name_en: str, province: str, pm25: int, no2: int) -> str:
    """A SYNTHETIC site file standing in for key city ``name`` (one district, one station;
    the generator's levels from the district's annual-mean targets)."""
    code = "P" + city.split("-")[1][:5].upper()
    district = city.split("-")[1][:6]
    return f"""# SYNTHETIC test city (合成数据) standing in for {name} in the peer-group tests.
city:
  id: {city}
  name_zh: {name}（合成）
  name_en: {name_en} (synthetic)
  synthetic: true
  national_name: {name}
  province: {province}
districts:
  - {{id: {district}, name_zh: {name}测试区, name_en: {name_en} test district, grade: II}}
stations:
  - {{code: {code}, name_zh: {name}合成站, name_en: {name_en} synthetic, district: {district},
     lon: 112.5, lat: 36.5}}
targets:
  - {{district: {district}, pollutant: PM2.5, statistic: annual_mean, value: {pm25}, years: 2021-}}
  - {{district: {district}, pollutant: NO2, statistic: annual_mean, value: {no2}, years: 2021-}}
"""


def build_peer_db(url: str, folder, peers=PEERS, until: str = UNTIL, run=None) -> None:
    """The demo city, a SYNTHETIC city per entry of ``peers`` and the no-group city, with
    ``lantian demo`` readings up to ``until`` (``run(*args)`` runs ``lantian``)."""
    run("demo", "--sites", YANGQUAN_SITES, "--until", until, "--quiet")
    sites = [(city, peer_site(city, *rest)) for city, *rest in peers] + \
        [("plain-test", PLAIN_SITE)]
    for city, text in sites:
        path = folder / f"{city}.yaml"
        path.write_text(text, encoding="utf-8")
        run("demo", "--sites", path, "--until", until, "--quiet")


@pytest.fixture(scope="module")
def peers_env(tmp_path_factory):
    """(database URL, environment) of the SYNTHETIC peer database; the environment (the
    test group's folder) stays set for the module."""
    from typer.testing import CliRunner

    from lantian.cli import app
    root = tmp_path_factory.mktemp("peers")
    groups = root / "groups"
    groups.mkdir()
    (groups / f"{TEST_GROUP}.yaml").write_text(TEST_GROUP_YAML, encoding="utf-8")
    url = f"sqlite:///{root / 'peers.sqlite'}"
    env = {"LANTIAN_DATABASE_URL": url, "LANTIAN_SETTINGS": "",
           "LANTIAN_DATA_DIR": str(root / "data"), "LANTIAN_GROUPS_DIR": str(groups),
           "COLUMNS": "240"}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)

        def run(*args):
            result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
            assert result.exit_code == 0, result.output[-2000:]
            return result
        build_peer_db(url, root, run=run)
        yield url, run


@pytest.fixture(scope="module")
def peers_app(peers_env):
    from dashboard.app import create_app
    return create_app(peers_env[0], cache_url="")


@pytest.fixture(scope="module")
def client(peers_app):
    return staff_client(peers_app, "admin")


def ranking_of(url: str, group: str, period):
    """:func:`evaluation.peers.peer_ranking` on the database ``url`` (no dashboard)."""
    from evaluation import snapshot
    from evaluation.peers import peer_ranking
    from store.db import make_engine
    engine = make_engine(url)
    try:
        return peer_ranking(snapshot(engine), group, period)
    finally:
        engine.dispose()


def cli_csv(run, group: str, level: str = "city", *extra) -> pd.DataFrame:
    """``lantian rank --group … --format csv`` as a frame (area as text)."""
    result = run("rank", "--level", level, "--group", group, *extra, "--format", "csv")
    return pd.read_csv(io.StringIO(result.stdout), dtype={"area": str})


def component(answer, component_id):
    """The props of the component ``component_id`` in a router answer (None if absent)."""
    return props_in(answer, component_id)


def words(node) -> str:
    """The visible text of a component's JSON, runs of white space made one space."""
    out = []

    def walk(n):
        if isinstance(n, dict):
            for key, value in n.items():
                if key in ("children", "props"):
                    walk(value)
                elif isinstance(value, (dict, list)) and key not in ("style",):
                    walk(value)
        elif isinstance(n, list):
            for value in n:
                walk(value)
        elif isinstance(n, str):
            out.append(n)
    walk(node)
    return " ".join(" ".join(out).split())


def rows(answer, component_id) -> pd.DataFrame:
    grid = component(answer, component_id)
    assert grid is not None, component_id
    return pd.DataFrame(grid["rowData"])


def group_options(answer) -> list | None:
    """The values the group chooser offers (None: no chooser)."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            props = node.get("props")
            if isinstance(props, dict) and props.get("id") == {"type": ids.CONTROL,
                                                                 "name": "group"}:
                found.append([o["value"] for o in props["options"]])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(answer)
    return found[0] if found else None


# -- the demo city: one of 168 ----------------------------------------------------------

def test_the_demo_city_among_the_168_key_cities(demo_app, demo_db_url, lantian_on):
    from evaluation.city_year import Period
    from datetime import date
    client = staff_client(demo_app, "admin")
    answer = route(client, "/ranking", f"?city={CITY}&year=2025&group=key-168")
    body = dump(answer)
    assert "page-error" not in body
    # the verdict first: the group, how many members have data, what the rank is worth
    verdict = words(component(answer, ids.PEER_VERDICT))
    assert verdict.startswith("168个重点城市：168 个成员中 1 个有数据")
    assert "名次仅在已导入的成员之间，不是组内排名" in verdict
    assert "缺167个城市" in verdict and "《全国城市空气质量报告》" in verdict
    assert "1 个成员的数据是合成数据（SYNTHETIC）" in verdict
    # the demo data end on 2025-06-30: 2025 is a year to date
    expected = ranking_of(demo_db_url, "key-168", Period.to_date(date(2025, 6, 30)))
    own = expected.row("阳泉")
    assert own["rank"] == 1 and own["city"] == CITY and bool(own["synthetic"])
    places = words(component(answer, ids.PEER_PLACES))
    assert places.startswith("阳泉 · 合成数据 第 1 名 / 共 168")
    assert f"综合指数 {own['reported']:.2f}" in places
    assert "名次仅在已有数据的 1 个成员之间" in places
    assert "后 20 名线要等全部 168 个成员都有数据才能给出" in places
    assert f"上年同期第 {int(own['previous_rank'])} 名（{own['previous_reported']:.2f}）" in places
    # the window: its own row only (no other member has a value), highlighted
    window = rows(answer, ids.PEER_WINDOW)
    assert list(window["name"]) == ["阳泉 · 合成数据"]
    assert window["own"].tolist() == [True] and window["rank"].tolist() == [1]
    assert window["value"].iloc[0] == own["reported"]
    assert window["change"].iloc[0] == own["change"]
    # every member below, those without data last, unranked, with what to load
    table = rows(answer, ids.PEER_TABLE)
    assert len(table) == 168 and table["own"].sum() == 1
    assert table["rank"].iloc[0] == 1 and table["rank"].iloc[1:].isna().all()
    assert set(table["reason"].iloc[1:]) == {"未导入该成员的站点和监测数据"}
    assert not table["line"].any()                  # no line until all 168 have data
    # the chart: the city ringed, labelled synthetic, no line
    fig = go.Figure(component(answer, ids.PEER_CHART)["figure"])
    assert fig.layout.title.text.startswith("合成演示数据")
    halo = [tr for tr in fig.data if tr.name == "本市"]
    assert halo and list(halo[0].y) == ["1  阳泉＊"]
    assert "＊ 合成数据（SYNTHETIC）" in words(answer)
    assert not fig.layout.shapes
    # the same numbers as the command line prints
    cli = lantian_on(demo_db_url, "rank", "--level", "city", "--group", "key-168", "--year",
                     "2025", "--until", "2025-06-30", "--format", "csv")
    first = next(csv.DictReader(io.StringIO(cli.stdout)))
    assert first["area"] == "阳泉" and first["rank"] == "1"
    assert float(first["reported"]) == window["value"].iloc[0]


def test_the_peer_view_in_english(demo_app):
    client = staff_client(demo_app, "admin")
    answer = route(client, "/ranking", f"?city={CITY}&year=2024&period=year&group=key-168"
                                       "&lang=en")
    verdict = words(component(answer, ids.PEER_VERDICT))
    assert verdict.startswith("168 key cities: 1 of 168 members have data")
    assert "Beijing" in verdict and "北京" not in verdict     # the group file's order
    assert words(component(answer, ids.PEER_PLACES)).startswith(
        "Yangquan · synthetic No. 1 / of 168")
    table = rows(answer, ids.PEER_TABLE)
    assert table.loc[table["own"], "name"].tolist() == ["Yangquan · synthetic"]
    assert table.loc[table["area"] == "北京", "where"].tolist() == ["Beijing"]
    from tests.test_languages import CJK, visible
    chinese = {w for w in visible(answer) if CJK.search(w)} - {"中文 / English", "中文"}
    assert [w for w in chinese if "SYNTHETIC" not in w] == []


# -- several SYNTHETIC cities ------------------------------------------------------------

def test_key_168_ranks_the_loaded_cities_as_evaluation_and_the_cli(peers_env, client):
    from evaluation.city_year import Period
    url, run = peers_env
    answer = route(client, "/ranking", f"?city={CITY}&year=2025&group=key-168")
    expected = ranking_of(url, "key-168", Period.calendar_year(2025))
    assert expected.members_with_value == 8 and not expected.complete
    assert words(component(answer, ids.PEER_VERDICT)).startswith(
        "168个重点城市：168 个成员中 8 个有数据")
    table = rows(answer, ids.PEER_TABLE)
    ranked = expected.table[expected.table["rank"].notna()]
    got = table[table["rank"].notna()]
    assert list(got["area"]) == list(ranked["area"])
    assert list(got["rank"]) == list(ranked["rank"].astype(int))
    assert list(got["value"]) == list(ranked["reported"])
    cli = cli_csv(run, "key-168", "city", "--year", "2025")
    cli = cli[cli["rank"].notna()]
    assert list(cli["area"]) == list(got["area"])
    assert list(cli["rank"].astype(int)) == list(got["rank"])
    assert list(cli["reported"]) == list(got["value"])
    # the cities ranked apart, every stand-in labelled synthetic
    assert got["value"].nunique() == 8
    assert got["name"].str.endswith(" · 合成数据").all()
    # the window: 5 places either side of 阳泉 (8 ranked: all of them)
    window = rows(answer, ids.PEER_WINDOW)
    assert list(window["area"]) == list(got["area"])
    assert window.loc[window["own"], "area"].tolist() == ["阳泉"]


def test_a_complete_group_draws_the_line_and_the_distance(peers_env, client):
    from evaluation.city_year import Period
    url, run = peers_env
    expected = ranking_of(url, TEST_GROUP, Period.calendar_year(2025))
    assert expected.complete and expected.line_rank == 5
    own = expected.row("阳泉")
    answer = route(client, "/ranking", f"?city={CITY}&year=2025&group={TEST_GROUP}")
    table = rows(answer, ids.PEER_TABLE)
    assert len(table) == 8 and component(answer, ids.PEER_WINDOW) is None   # all in one
    assert list(table["area"]) == list(expected.table["area"])
    assert list(table["distance"]) == list(expected.table["distance"])
    assert list(table["bottom"]) == list(expected.table["in_bottom"])
    # the line: under the last place outside the bottom 3 (place 5 of 8)
    line = table[table["line"]]
    assert len(line) == 1 and line["rank"].iloc[0] == 5
    assert line["value"].iloc[0] == expected.line_value
    assert table["bottom"].sum() == 3
    # the city's distance to it, in words
    places = words(component(answer, ids.PEER_PLACES))
    d = float(own["distance"])
    assert f"第 {int(own['rank'])} 名 / 共 8" in places
    if d > 0:
        assert f"综合指数须下降 {d:.2f}，降到后 3 名线 {expected.line_value:.2f}（第 5 名）" \
            in places
    else:
        assert f"比后 3 名线 {expected.line_value:.2f}（第 5 名）低 {abs(d):.2f}" in places
    # the chart: every member, the line at its index, the bottom 3 red
    fig = go.Figure(component(answer, ids.PEER_CHART)["figure"])
    assert fig.layout.shapes[0].x0 == expected.line_value
    assert f"后 3 名线 {expected.line_value:.2f}" in {tr.name for tr in fig.data}
    dots = [tr for tr in fig.data if tr.mode == "markers+text"]
    assert sum(len(tr.y) for tr in dots) == 8
    # red: the valid ranks in the bottom 3 (a provisional one stays an amber ring)
    assert sum(len(tr.y) for tr in dots if tr.name == "后 3 名") == \
        int((expected.table["in_bottom"] & (expected.table["status"] == "ranked")).sum())
    assert sum(len(tr.y) for tr in dots if tr.name.startswith("暂定")) == \
        int((expected.table["status"] == "provisional").sum())
    # the command line agrees
    cli = cli_csv(run, TEST_GROUP, "city", "--year", "2025")
    assert list(cli["area"]) == list(table["area"])
    assert list(cli["distance"].round(2)) == list(table["distance"])
    assert cli["line_value"].iloc[0] == expected.line_value


def test_the_chooser_lists_only_the_groups_that_apply(client):
    # the demo city claims 阳泉 (a key city, in the test group) and lies in 山西省
    answer = route(client, "/ranking", f"?city={CITY}&year=2025")
    assert group_options(answer) == ["", "key-168", "shanxi-counties", TEST_GROUP]
    # 石家庄 (河北省): the city groups only — no county group of Hebei
    answer = route(client, "/ranking", "?city=peer-shijiazhuang&year=2025")
    assert group_options(answer) == ["", "key-168", TEST_GROUP]
    # a city claiming no key city and no province: no chooser
    answer = route(client, "/ranking", "?city=plain-test&year=2025")
    assert group_options(answer) is None
    assert component(answer, ids.RANKING_TABLE) is not None
    # a group that does not rank the city: said so, the city's districts shown
    answer = route(client, "/ranking", "?city=peer-shijiazhuang&year=2025"
                                       "&group=shanxi-counties")
    assert "同级组“shanxi-counties”不对石家庄（合成）排名" in words(
        component(answer, ids.PEER_NOTICE))
    assert component(answer, ids.PEER_VERDICT) is None
    assert component(answer, ids.RANKING_TABLE) is not None
    # the chosen group is the chooser's value, and the view keeps the page's state
    answer = route(client, "/ranking", f"?city={CITY}&year=2025&group={TEST_GROUP}&lang=en")
    assert '"value": "test-key-8"' in dump(answer)


def test_the_county_group_highlights_the_citys_districts(peers_env, client):
    from evaluation.city_year import Period
    url, run = peers_env
    expected = ranking_of(url, "shanxi-counties", Period.calendar_year(2025))
    # the demo city's six districts and one district of each Shanxi stand-in
    assert expected.members_with_value == 8
    answer = route(client, "/ranking", f"?city={CITY}&year=2025&group=shanxi-counties")
    assert words(component(answer, ids.PEER_VERDICT)).startswith(
        "山西省120个县（市、区）：120 个成员中 8 个有数据")
    table = rows(answer, ids.PEER_TABLE)
    assert list(table["area"]) == list(expected.table["area"])
    assert list(table["value"]) == list(expected.table["reported"])
    assert sorted(table.loc[table["own"], "area"]) == sorted(
        f"{CITY}/{d}" for d in ("chengqu", "kuangqu", "kaifaqu", "jiaoqu", "pingding", "yuxian"))
    assert set(table.loc[~table["own"], "where"]) == {"太原（合成）", "晋城（合成）"}
    # a card per own district, each linking to its district page
    places = component(answer, ids.PEER_PLACES)
    assert dump(places).count("lt-pg-place-name") == 6
    assert table.loc[table["own"], "href"].str.contains("/district?").all()
    cli = cli_csv(run, "shanxi-counties", "district", "--year", "2025")
    assert list(cli["area"]) == list(table["area"])
    assert list(cli["rank"].astype(int)) == list(table["rank"])


def test_the_peer_table_downloads(client, peers_env):
    from evaluation.city_year import Period
    expected = ranking_of(peers_env[0], TEST_GROUP, Period.calendar_year(2025))
    response = client.get(f"/export/ranking.csv?city={CITY}&year=2025&group={TEST_GROUP}")
    assert response.status_code == 200
    lines = list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert len(lines) == 8
    own = next(r for r in lines if r["代码"] == "阳泉")
    row = expected.row("阳泉")
    assert own["排名"] == str(int(row["rank"])) and own["综合指数"] == f"{row['reported']:.2f}"
    assert own["距后3名线"] == f"{row['distance']:+.2f}"
    assert own["同级组"] == "测试组八城" and own["合成数据"] == "是"
    english = client.get(f"/export/ranking.xlsx?city={CITY}&year=2025&group={TEST_GROUP}"
                         "&lang=en")
    assert english.status_code == 200
    frame = pd.read_excel(io.BytesIO(english.data))
    assert "To the bottom-3 line" in frame.columns and len(frame) == 8


def test_peer_figure_is_a_valid_plotly_specification():
    from dashboard.figures.ranking import peer_chart
    table = pd.DataFrame({
        "rank": pd.array([1, 2, 3], dtype="Int64"), "area": ["a", "b", "c"],
        "short_name": ["甲", "乙", "丙"], "reported": [4.1, 4.5, 5.2],
        "status": ["ranked", "provisional", "ranked"], "reason": ["", "why", ""],
        "in_bottom": [False, False, True], "own": [False, True, False],
        "href": [None, "/x?a=1", None]})
    fig = peer_chart(table, lang="zh", line_value=4.5, line_label="后 1 名线 4.50",
                     own_label="本市", bottom_label="后 1 名")
    go.Figure(json.loads(fig.to_json()))
    names = {tr.name: tr for tr in fig.data}
    assert list(names["本市"].y) == ["2  乙（暂定）"]
    assert list(names["后 1 名"].x) == [5.2]
    assert fig.layout.shapes[0].x0 == 4.5
    assert fig.layout.yaxis.ticktext[1].startswith('<a href="/x?a=1"')
    assert "<b>2  乙（暂定）</b>" in fig.layout.yaxis.ticktext[1]
