"""Objectives (目标考核) page, issue 18: the action plan as data, on the SYNTHETIC demo city.

What the page's answer says (the pages router's JSON, as the browser gets it) is checked
against ``lantian objectives --format csv``, run here on the same database: every
objective of the plan, with the same status, in the city's block and then the
districts' in the site file's order; the filters narrow the lines; each line links to
the view that explains it; an anonymous request is refused and a district-scoped
account sees its own district's objectives only.
"""
from __future__ import annotations

import csv
import io
import re
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest

from dashboard.pages import objectives as page
from tests.dash_helpers import sqlite_copy, dump, router_payload, staff_client, started_app
from tests.test_languages import CJK, CODE, visible

CITY = "yangquan-demo"
SITE_ORDER = ["chengqu", "kuangqu", "kaifaqu", "jiaoqu", "pingding", "yuxian"]
ENDED = {"met", "not met", "insufficient data", "no data"}
RUNNING = {"on track", "at risk", "already exceeded", "insufficient data", "no data"}


@pytest.fixture(scope="module")
def demo_url(demo_db_url, tmp_path_factory):
    """A copy of the session's demo database (accounts are written to it)."""
    return sqlite_copy(demo_db_url, tmp_path_factory.mktemp("objectives"))


@pytest.fixture(scope="module")
def app(demo_url):
    return started_app(demo_url)


@pytest.fixture(scope="module")
def admin(app):
    return staff_client(app, "admin")


def cli_table(lantian_on, url: str, year: int) -> pd.DataFrame:
    result = lantian_on(url, "objectives", "--city", CITY, "--year", year, "--format", "csv")
    assert result.exit_code == 0, result.output
    return pd.read_csv(io.StringIO(result.output))


def answer(client, search: str) -> dict:
    response = client.post("/_dash-update-component", json=router_payload(page.PATH, search))
    assert response.status_code == 200, response.data[:300]
    body = response.get_json()
    text = dump(body)
    assert "page-error" not in text and "page-db-error" not in text, text[:500]
    return body


def components(node, found=None) -> list[dict]:
    """Every component (``{"type", "props"}``) of an answer, depth first."""
    found = [] if found is None else found
    if isinstance(node, dict):
        if "props" in node and "type" in node:
            found.append(node)
        for value in node.values():
            components(value, found)
    elif isinstance(node, list):
        for value in node:
            components(value, found)
    return found


def flat(node) -> str:
    """The visible text of a component (its children's strings, joined)."""
    if isinstance(node, dict):
        return flat(node.get("props", {}).get("children")) if "props" in node else ""
    if isinstance(node, list):
        return " ".join(flat(n) for n in node)
    return "" if node is None else str(node)


def lines(body) -> list[dict]:
    """The objective lines: id, status, kind, text, the link's address."""
    out = []
    for c in components(body):
        cid = c["props"].get("id")
        if isinstance(cid, str) and cid.startswith("objectives-line-"):
            links = [x["props"]["href"] for x in components(c) if x["type"] == "Link"]
            out.append({"id": cid[len("objectives-line-"):], "status": c["props"]["data-status"],
                        "kind": c["props"]["data-kind"], "text": flat(c), "href": links[0]})
    return out


def by_id(body, cid: str):
    hit = [c for c in components(body) if c["props"].get("id") == cid]
    return hit[0] if hit else None


# -- the plan at a glance ----------------------------------------------------------------------

def test_2024_lists_every_objective_with_the_cli_statuses(app, admin, demo_url, lantian_on):
    cli = cli_table(lantian_on, demo_url, 2024)
    body = answer(admin, f"?city={CITY}&year=2024")
    got = lines(body)
    assert len(got) == len(cli) >= 19
    assert {g["id"]: g["status"] for g in got} == dict(zip(cli["id"], cli["status"]))
    assert {g["status"] for g in got} <= ENDED and {"met", "not met"} <= {g["status"] for g in got}
    # the city's block first, then the districts in the site file's order (plan order in each)
    scope = dict(zip(cli["id"], cli["scope"]))
    blocks = [scope[g["id"]] for g in got]
    order = ["city", *SITE_ORDER]
    assert blocks == sorted(blocks, key=order.index)
    for block in set(blocks):
        assert [g["id"] for g in got if scope[g["id"]] == block] == \
            [i for i in cli["id"] if scope[i] == block]
    # each line: the objective's text, value, target (with its comparison) and margin
    rows = cli.set_index("id")
    for g in got:
        r = rows.loc[g["id"]]
        assert r["text_zh"] in g["text"], g
        if r["kind"] in ("value", "grade"):
            assert f"{r['value']:g} µg/m³" in g["text"] and f"≤ {r['target']:g} µg/m³" in g["text"]
            assert f"{r['margin']:+g}".replace("+0", "0") in g["text"], g
    # the counts on top are the CLI's
    counts = flat(by_id(body, page.COUNTS))
    assert counts.startswith(f"全部 {len(cli)}")
    for status, n in cli["status"].value_counts().items():
        word = {"met": "达标", "not met": "未达标", "insufficient data": "数据不足",
                "no data": "无数据"}[status]
        assert f"{word}  {n}" in counts or f"{word} {n}" in counts, (status, counts)
    heading = flat(by_id(body, page.HEADING))
    assert heading == f"行动计划目标 · 2024 年 · 共 {len(cli)} 项"
    assert by_id(body, page.RUNNING_NOTE) is None


def test_insufficient_and_running_reasons_say_why_in_the_page_language(app, admin, demo_url,
                                                                        lantian_on):
    cli = cli_table(lantian_on, demo_url, 2024).set_index("id")
    short = cli[cli["status"] == "insufficient data"]
    assert len(short)
    zh = {g["id"]: g["text"] for g in lines(answer(admin, f"?city={CITY}&year=2024"))}
    en = {g["id"]: g["text"] for g in lines(answer(admin, f"?city={CITY}&year=2024&lang=en"))}
    for oid, r in short.iterrows():
        month, valid, needs = re.match(r"(\d{4}-\d\d): (\d+) valid days, needs (\d+)",
                                       r["reason"]).groups()
        assert f"{month}：有效 {valid} 天，应有 {needs} 天" in zh[oid]
        assert f"{month}: {valid} valid days, needs {needs}" in en[oid]
        assert r["text_en"] in en[oid] and "insufficient data" in en[oid]


def test_a_running_year_is_the_default_and_shows_its_year_to_date(app, admin, demo_url,
                                                                  lantian_on):
    cli = cli_table(lantian_on, demo_url, 2025)
    body = answer(admin, f"?city={CITY}")          # no year: the latest year with data
    got = lines(body)
    assert {g["id"]: g["status"] for g in got} == dict(zip(cli["id"], cli["status"]))
    assert {g["status"] for g in got} <= RUNNING and "on track" in {g["status"] for g in got}
    assert (cli["period"] == "2025-YTD-06-30").all()
    assert "截至 2025-06-30 的年初至今状态" in flat(by_id(body, page.RUNNING_NOTE))
    assert flat(by_id(body, page.HEADING)).startswith("行动计划目标 · 2025 年初至 06-30")
    rows = cli.set_index("id")
    chengqu = next(g for g in got if g["id"] == "chengqu-no2")
    assert rows.loc["chengqu-no2", "reason_zh"] in chengqu["text"]    # 剩余184天均值需≤…
    # the year control offers every year with data, the chosen one selected
    year = next(c for c in components(body) if c["props"].get("id") == {
        "type": "lt-control", "name": "year"})
    assert year["props"]["value"] == "2025"
    assert [o["value"] for o in year["props"]["options"]] == ["2025", "2024", "2023"]


# -- filters ------------------------------------------------------------------------------------

def test_filters_narrow_the_lines(app, admin, demo_url, lantian_on):
    cli = cli_table(lantian_on, demo_url, 2024)
    base = f"?city={CITY}&year=2024"
    not_met = lines(answer(admin, base + "&status=not+met"))
    assert sorted(g["id"] for g in not_met) == sorted(cli.loc[cli["status"] == "not met", "id"])
    assert len(not_met) >= 2
    kuangqu = lines(answer(admin, base + "&district=kuangqu"))
    assert [g["id"] for g in kuangqu] == list(cli.loc[cli["scope"] == "kuangqu", "id"])
    city = lines(answer(admin, base + f"&district={CITY}&kind=change"))
    assert [g["id"] for g in city] == \
        list(cli.loc[(cli["scope"] == "city") & (cli["kind"] == "change"), "id"])
    both = answer(admin, base + "&kind=value&status=met")
    assert sorted(g["id"] for g in lines(both)) == \
        sorted(cli.loc[(cli["kind"] == "value") & (cli["status"] == "met"), "id"])
    # the counts keep every status of the other filters (a link per status)
    assert flat(by_id(both, page.COUNTS)).startswith(f"全部 {(cli['kind'] == 'value').sum()}")
    link = by_id(both, page.count_id("not met"))
    assert parse_qs(urlsplit(link["props"]["href"]).query)["status"] == ["not met"]
    # nothing left: said so; an unknown value: a notice, and the filter is not applied
    assert "没有符合所选条件的目标" in dump(answer(admin, base + "&district=kuangqu&kind=grade"))
    odd = answer(admin, base + "&status=on+track&kind=bogus")
    assert len(lines(odd)) == len(cli)
    assert "“on track” 不是本年可用的状态" in dump(odd) and "未知目标类型 “bogus”" in dump(odd)


# -- links -----------------------------------------------------------------------------------------

def _query(href: str) -> tuple[str, dict]:
    parts = urlsplit(href)
    return parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}


def test_each_line_links_to_the_view_that_explains_it(app, admin, demo_url, lantian_on):
    cli = cli_table(lantian_on, demo_url, 2024).set_index("id")
    got = {g["id"]: g for g in lines(answer(admin, f"?city={CITY}&year=2024&lang=en"))}
    shared = {"city": CITY, "period": "year", "year": "2024", "lang": "en"}
    assert _query(got["chengqu-no2"]["href"]) == \
        ("/district", {**shared, "district": "chengqu", "pollutant": "NO2"})
    # a city objective on a pollutant: the district page's whole-city view of it
    assert _query(got["city-so2-grade1"]["href"]) == \
        ("/district", {**shared, "district": CITY, "pollutant": "SO2"})
    assert _query(got["city-good-days-up"]["href"]) == ("/", shared)
    ranks = cli[cli["kind"] == "rank"]
    assert len(ranks) >= 3
    groups = {"city": "key-168"}
    for oid, r in ranks.iterrows():
        path, query = _query(got[oid]["href"])
        assert path == "/ranking" and query == {**shared, "group": groups.get(r["scope"],
                                                                             "shanxi-counties")}
    # the address is the ranking page's peer-group view: city, year and group first
    assert got["city-key168-out-of-bottom-20"]["href"].startswith(
        "/ranking?city=yangquan-demo&period=year&year=2024&lang=en&group=key-168")
    # a composite-index objective (none in the demo plan): the ranking by the composite index
    from dashboard.context import current_engine
    from dashboard.queries import catalog
    from dashboard.state import resolve
    with app.server.test_request_context():
        cat = catalog(current_engine())
        view = resolve(page.year_query({"city": CITY, "year": "2024"}), cat.city_ids(),
                       cat.spans, cat.default_city(), page.PAGE_KEYS)
        href, label = page.link_of(SimpleNamespace(kind="composite_max", scope="chengqu",
                                                   pollutant="ALL", objective=None), view)
    assert _query(href) == ("/ranking", {"city": CITY, "period": "year", "year": "2024",
                                         "by": "composite_index"})
    assert label == "obj.link.composite"
    # following a link: the district page shows that district and pollutant for 2024
    path, _ = _query(got["chengqu-no2"]["href"])
    target = dump(answer_for(admin, path, urlsplit(got["chengqu-no2"]["href"]).query))
    assert "Urban district" in target and "NO2" in target and "2024" in target


def answer_for(client, path: str, query: str) -> dict:
    response = client.post("/_dash-update-component", json=router_payload(path, "?" + query))
    assert response.status_code == 200
    text = dump(response.get_json())
    assert "page-error" not in text
    return response.get_json()


# -- languages and downloads ------------------------------------------------------------------

def test_english_has_no_chinese_and_chinese_no_bare_codes(admin):
    english = answer(admin, f"?city={CITY}&year=2024&lang=en")
    words = [w for w in visible(english) if CJK.search(w)
             and w not in ("中文 / English", "中文")]       # the language switch
    # the bilingual synthetic banner; the peer-group hints (evaluation.peers) name the
    # missing cities as the national station list writes them
    assert [w for w in words if "SYNTHETIC" not in w and "合成" not in w
            and "members have data" not in w] == []
    assert english["response"]["_pages_store"]["data"]["title"] == "Objectives · Lantian"
    assert "Whole city · Yangquan (demo, synthetic data)" in dump(english)
    chinese = answer(admin, f"?city={CITY}&year=2024")
    assert sorted({w for w in visible(chinese) if CODE.match(w)}) == []
    assert chinese["response"]["_pages_store"]["data"]["title"] == "目标考核 · 蓝天 Lantian"


def test_the_download_holds_the_lines_in_the_page_language(app, demo_url, lantian_on):
    cli = cli_table(lantian_on, demo_url, 2024)
    analyst = staff_client(app, "analyst")
    base = f"/export/objectives.csv?city={CITY}&period=year&year=2024"
    response = analyst.get(base)
    assert response.status_code == 200
    assert "-SYNTHETIC.csv" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert list(rows[0])[:6] == ["编号", "区域代码", "区域", "目标类型", "目标", "时段"]
    assert {r["编号"]: r["状态"] for r in rows} == {
        i: {"met": "达标", "not met": "未达标", "insufficient data": "数据不足",
            "no data": "无数据"}[s] for i, s in zip(cli["id"], cli["status"])}
    english = analyst.get(base + "&lang=en&status=not+met").get_data().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(english)))
    assert list(rows[0])[:5] == ["id", "area id", "area", "kind", "objective"]
    assert sorted(r["id"] for r in rows) == sorted(cli.loc[cli["status"] == "not met", "id"])
    assert {r["status"] for r in rows} == {"not met"}
    coded = analyst.get(base + "&codes=1").get_data().decode("utf-8-sig").splitlines()[0]
    assert coded.startswith("id,area,area_name,kind,objective,period,value,target,margin")
    # the page offers exactly these links
    body = answer(staff_client(app, "admin"), f"?city={CITY}&year=2024")
    assert _query(by_id(body, page.EXPORT_CSV)["props"]["href"]) == _query(base)


# -- who may see it ----------------------------------------------------------------------------

def test_an_anonymous_request_is_refused(app):
    anonymous = app.server.test_client()
    refused = anonymous.post("/_dash-update-component", json=router_payload(page.PATH))
    assert refused.status_code == 401 and "objectives-line" not in refused.get_data(as_text=True)
    opened = anonymous.get("/objectives?city=yangquan-demo")
    assert opened.status_code == 302 and opened.headers["Location"].startswith("/login?next=")
    assert anonymous.get(f"/export/objectives.csv?city={CITY}").status_code == 401
    layout = dump(anonymous.get("/_dash-layout").get_json())
    assert '"page": "/objectives"' not in layout


def test_a_scoped_account_sees_only_its_district(app, demo_url, lantian_on):
    cli = cli_table(lantian_on, demo_url, 2024)
    own = cli[cli["scope"] == "kuangqu"]
    viewer = staff_client(app, "viewer", CITY, "kuangqu")
    assert '"page": "/objectives"' in dump(viewer.get("/_dash-layout").get_json())
    others = ["城区", "开发区", "郊区", "平定县", "盂县", "chengqu", "kaifaqu", "jiaoqu",
              "pingding", "yuxian", "Urban district", "全市"]
    for search in (f"?city={CITY}&year=2024", f"?city={CITY}", f"?city={CITY}&lang=en",
                   f"?city={CITY}&year=2024&district=chengqu",
                   f"?city={CITY}&year=2024&district={CITY}"):
        body = answer(viewer, search)
        got = lines(body)
        text = dump(body)
        # (the notice "“chengqu” 不在您的权限范围内" echoes the id the address asked for)
        assert [o for o in others if o in text and f"district={o}" not in search] == [], search
        if "year=2024" in search:
            assert {g["id"]: g["status"] for g in got} == dict(zip(own["id"], own["status"]))
        assert got and all(g["id"].startswith("kuangqu") for g in got), search
    assert "“chengqu” 不在您的权限范围内，已显示 矿区。" in \
        dump(answer(viewer, f"?city={CITY}&year=2024&district=chengqu"))
    analyst = staff_client(app, "analyst", CITY, "kuangqu")
    export = analyst.get(f"/export/objectives.csv?city={CITY}&period=year&year=2024&codes=1")
    assert export.status_code == 200
    rows = list(csv.DictReader(io.StringIO(export.get_data().decode("utf-8-sig"))))
    assert sorted(r["id"] for r in rows) == sorted(own["id"])


def test_a_city_without_a_plan_says_what_to_add(cli, db_url, tmp_path):
    from dashboard.app import create_app
    from tests.dash_helpers import TEST_CITY_SITE
    site = tmp_path / "site.yaml"
    site.write_text(TEST_CITY_SITE, encoding="utf-8")
    assert cli("init", "--sites", site).exit_code == 0
    readings = tmp_path / "readings.csv"
    pd.DataFrame([(code, f"2024-01-01 {h:02d}:00", "NO2", 30.0) for code in ("T01", "T02")
                  for h in range(24)], columns=["station", "time", "pollutant", "value"]) \
        .to_csv(readings, index=False)
    assert cli("ingest", "csv", readings, "--quiet").exit_code == 0
    built = create_app(db_url, cache_url="")
    body = dump(answer(staff_client(built, "admin"), "?city=testcity"))
    assert "测试市 的站点文件没有行动计划（plan:）" in body and "lantian init --sites" in body
    assert "objectives-line-" not in body
