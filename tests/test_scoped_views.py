"""District-scoped accounts on the overview, exceedances, ranking and objectives pages (issue
16 §10, issue 18).

A viewer scoped to one district opens ``/``, ``/exceedances``, ``/ranking`` and
``/objectives`` and sees its district; no answer of any callback it may call carries
another district's numbers (the JSON is searched for the other districts' and their
stations' ids and names, and every place they occur must hold no value); a URL naming
another district says "not in your scope"; the pages it still may not open are refused
with an HTML page. On the SYNTHETIC demo city (a copy of the session's demo database:
accounts are written) and, when the real data folder is there, on Beijing.
"""
from __future__ import annotations

import json
import re

import dash
import pytest

from dashboard import auth, ids
from tests.dash_helpers import (ROUTER_OUTPUT, sqlite_copy, dump, honest_payload, props_in,
                                router_payload, staff_client, started_app)

CITY, DISTRICT = "yangquan-demo", "kuangqu"
OWN = {"kuangqu", "矿区", "Mining district", "SYN03", "SYN04", "矿区合成站一", "矿区合成站二",
       "Kuangqu synthetic 1", "Kuangqu synthetic 2"}
#: Views of every page (period, language, the page's own choices).
SEARCHES = ("", "?period=year&year=2024", "?period=month&year=2025&month=3",
            "?period=range&from=2025-01-10&to=2025-02-20", "?period=ytd&year=2025&lang=en")
PAGE_SEARCHES = {
    "/": ("?profile=who-2021", "?lang=en&period=year&year=2024"),
    "/exceedances": ("?pollutant=PM2.5", "?pollutant=NO2&basis=target&period=year&year=2024",
                     "?pollutant=O3&lang=en", f"?district={DISTRICT}&pollutant=PM10"),
    "/ranking": ("?level=station", "?by=PM2.5&period=year&year=2024", "?by=good_day_ratio",
                 "?valid_only=1&by=NO2-p98", "?level=station&lang=en&by=heavy_days",
                 # the peer-group view (issue 18): Shanxi's counties, the 168 key cities
                 "?group=shanxi-counties&period=year&year=2024", "?group=key-168&lang=en",
                 "?group=shanxi-counties&valid_only=1&lang=en"),
    "/district": ("?pollutant=O3", "?lang=en&pollutant=PM2.5"),
    "/station": ("?station=SYN04", "?lang=en"),
    "/objectives": ("?status=met&year=2024", "?kind=value&period=year&year=2024",
                    f"?district={DISTRICT}&lang=en", "?status=on+track&kind=rank"),
}


@pytest.fixture(scope="module")
def app(demo_db_url, tmp_path_factory):
    return started_app(sqlite_copy(demo_db_url, tmp_path_factory.mktemp("scoped")))


@pytest.fixture(scope="module")
def scoped(app):
    return staff_client(app, "viewer", CITY, DISTRICT)


def others_of(app, city: str, district: str) -> set[str]:
    """Ids and names (zh, en) of the city's other districts and of their stations."""
    from dashboard.context import engine_of
    from dashboard.queries import catalog
    with app.server.test_request_context():
        cat = catalog(engine_of(app.server))
    d = cat.districts[(cat.districts["city"] == city) & (cat.districts["id"] != district)]
    s = cat.stations[(cat.stations["city"] == city) & (cat.stations["district"] != district)]
    out = set()
    for frame, key in ((d, "id"), (s, "code")):
        for col in (key, "name_zh", "name_en"):
            out |= {str(v) for v in frame[col] if isinstance(v, str) and len(v) >= 2}
    return out


# -- the leak check ------------------------------------------------------------------

NUMBER = re.compile(r"\d")
#: Keys of a record whose text names an area (not a value of it).
NAME_KEYS = {"name", "area", "code", "id", "href", "label", "value_label", "district",
             "station", "page", "title"}
ROW_TYPES = {"Tr", "Li", "Article"}


def _mentions(text, others) -> list[str]:
    return [o for o in others if o in text] if isinstance(text, str) else []


def _strip(text: str, names) -> str:
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, "")
    return text


def _text(node) -> str:
    if isinstance(node, dict):
        return " ".join(_text(v) for k, v in node.items() if k not in ("type", "namespace"))
    if isinstance(node, list):
        return " ".join(_text(v) for v in node)
    return node if isinstance(node, str) else ""


def leaks(answer, others: set[str], strict: bool, own: set[str] = OWN) -> list[str]:
    """Where ``answer`` (a callback's JSON) shows a value of another area: with ``strict``
    any mention of another area; otherwise a record (a dict: a grid row, an option) or a
    table row naming one must hold no number, and no chart may name one."""
    found: list[str] = []
    everything = others | own

    def walk(node, where):
        if isinstance(node, dict):
            if isinstance(node.get("data"), list) and isinstance(node.get("layout"), dict):
                named = _mentions(json.dumps(node, ensure_ascii=False), others)
                if named:
                    found.append(f"{where}: a chart names {sorted(named)[:3]}")
                return
            if node.get("type") in ROW_TYPES and "props" in node:
                text = _text(node["props"])
                if _mentions(text, others) and NUMBER.search(_strip(text, everything)):
                    found.append(f"{where}: a {node['type']} row {text[:120]!r}")
            named = [k for k, v in node.items() if _mentions(v, others)]
            if named:
                for key, value in node.items():
                    if key in ("rank",) or isinstance(value, bool) or value is None:
                        continue
                    if isinstance(value, (int, float)) or (
                            isinstance(value, str) and key not in NAME_KEYS and
                            NUMBER.search(_strip(value, everything))):
                        found.append(f"{where}: {named[0]}={node[named[0]]!r} with "
                                     f"{key}={value!r}")
            for key, value in node.items():
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for n, value in enumerate(node):
                walk(value, f"{where}[{n}]")
        elif strict and _mentions(node, others):
            found.append(f"{where}: {node[:120]!r}")

    walk(answer, "$")
    return found


def route(client, path: str, search: str = "") -> dict:
    response = client.post("/_dash-update-component", json=router_payload(path, search))
    assert response.status_code == 200, (path, search, response.data[:300])
    answer = response.get_json()
    text = dump(answer)
    assert "page-error" not in text and "page-db-error" not in text, (path, search)
    return answer


# -- the pages --------------------------------------------------------------------------

def test_a_scoped_viewer_opens_overview_exceedances_and_ranking_on_its_district(app, scoped):
    for path in ("/", "/exceedances", "/ranking", "/?lang=en", "/exceedances?lang=en"):
        page = scoped.get(path)
        assert page.status_code == 200 and page.mimetype == "text/html", path
    # the navigation offers them
    layout = dump(scoped.get("/_dash-layout").get_json())
    for path in ("/", "/exceedances", "/ranking", "/district", "/station", "/objectives"):
        assert f'"page": "{path}"' in layout, path
    for page in ("/map", "/data", "/standards", "/admin", "/upload"):
        assert f'"page": "{page}"' not in layout, page

    overview = dump(route(scoped, "/", "?period=year&year=2024"))
    assert ids.overview_card(DISTRICT) in overview
    assert overview.count('"lt-dcard"') == 1                     # its card only
    assert "矿区 · 2024 年" in overview                          # its tiles, not the city's
    english = dump(route(scoped, "/", "?period=year&year=2024&lang=en"))
    assert "Mining district · 2024" in english

    exceedances = route(scoped, "/exceedances", "?period=year&year=2024")
    text = dump(exceedances)
    assert "矿区 日历" in text
    grid = _figure(exceedances, ids.EXCEEDANCES_GRID)
    assert grid["data"][0]["y"] == ["矿区"]                      # no whole-city row
    assert ids.EXCEEDANCES_TABLE in text and "kuangqu" in text

    ranking = dump(route(scoped, "/ranking", "?period=year&year=2024"))
    assert "矿区" in ranking and "城区" in ranking            # every rank, its row highlighted

    objectives = dump(route(scoped, "/objectives", "?year=2024"))
    assert "矿区NO2年均浓度≤45微克/立方米" in objectives          # its district's objectives
    assert "objectives-group-kuangqu" in objectives
    assert "objectives-group-yangquan-demo" not in objectives     # not the city's


def _figure(answer, component_id):
    return _props(answer, component_id)["figure"]


def test_no_answer_for_a_scoped_viewer_carries_another_districts_numbers(app, scoped):
    others = others_of(app, CITY, DISTRICT)
    assert {"chengqu", "城区", "Urban district", "SYN01", "盂县合成站"} <= others
    # an account that sees everything first: answers cached for it must not reach the other
    everyone = staff_client(app, "viewer")
    for path, extra in PAGE_SEARCHES.items():
        for search in SEARCHES[:2] + extra[:1]:
            route(everyone, path, search)
    for path, extra in PAGE_SEARCHES.items():
        for search in SEARCHES + extra:
            answer = route(scoped, path, search)
            # the ranking names every district (with its rank); the other pages none
            found = leaks(answer, others, strict=path != "/ranking")
            assert not found, (path, search, found[:5])


def test_every_callback_a_scoped_viewer_may_call_answers_without_other_districts(app, scoped):
    others = others_of(app, CITY, DISTRICT)
    deps = [d for d in app.server.test_client().get("/_dash-dependencies").get_json()
            if d.get("clientside_function") is None]
    asked = 0
    for dep in deps:
        output = dep["output"]
        if output == ROUTER_OUTPUT:
            continue                                   # the pages: above
        page = auth.page_of_callback(output)
        public = output in auth.PUBLIC_OUTPUTS or auth._is_nav_output(output) or \
            (page is not None and page.get("access") == auth.PUBLIC)
        response = scoped.post("/_dash-update-component", json=honest_payload(dep))
        if page is not None and not public and not auth.honours_scope(page):
            assert response.status_code == 403, output         # admin, upload
            continue
        assert response.status_code in (200, 204), (output, response.data[:200])
        if public and page is not None:
            continue     # the public page: what anonymous visitors see, the same for all
        if response.status_code == 200:
            assert not leaks(response.get_json(), others, strict=True), output
        asked += 1
    assert asked >= 2                                 # the URL and navigation callbacks
    # the routers of every page it may open (in the navigation) were checked above; the
    # pages it may not open answer 403 without content
    for page in dash.page_registry.values():
        response = scoped.post("/_dash-update-component", json=router_payload(page["path"]))
        if auth.honours_scope(page) or page.get("access") == auth.PUBLIC:
            assert response.status_code == 200, page["path"]
        else:
            assert response.status_code == 403, page["path"]
            assert "城区" not in response.get_data(as_text=True)


def test_a_url_for_another_district_says_not_in_your_scope(app, scoped):
    others = others_of(app, CITY, DISTRICT)
    for path, search in (("/district", "?district=chengqu"),
                         ("/exceedances", "?district=chengqu&period=year&year=2024"),
                         ("/exceedances", f"?district={CITY}"),     # the whole city
                         ("/station", "?station=SYN01"), ("/", "?district=yuxian"),
                         ("/ranking", "?district=jiaoqu"),
                         ("/objectives", "?district=pingding&year=2024")):
        text = dump(route(scoped, path, search))
        asked = search.split("=", 1)[1].split("&")[0]
        assert f"“{asked}” 不在您的权限范围内，已显示 矿区。" in text, (path, search)
        assert "未知" not in text, (path, search)
        english = dump(route(scoped, path, search + "&lang=en"))
        assert f"“{asked}” is not in your scope; showing Mining district." in english
        # the answer is its own district's page; the other district's values stay out
        assert "矿区" in text
        assert not leaks(json.loads(text), others - {asked}, strict=path != "/ranking")
    # a district that exists nowhere is still unknown (not a question of scope)
    text = dump(route(scoped, "/district", "?district=atlantis"))
    assert "未知区县" in text and "不在您的权限范围内" not in text
    # another city the database holds nothing of: unknown too
    assert "不在您的权限范围内" not in dump(route(scoped, "/", "?city=beijing"))


def test_what_a_scoped_viewer_still_may_not_open_is_refused_with_a_page(app, scoped):
    for path in ("/map", "/data?lang=en", "/standards", "/admin", "/upload"):
        page = scoped.get(path)
        assert page.status_code == 403 and page.mimetype == "text/html", path
        text = page.get_data(as_text=True)
        assert "不在您账号的区县范围内" in text or "outside your account" in text or \
            "无权访问" in text or "may not open" in text, path
        assert 'id="refused-home"' in text and '"error"' not in text
    # an export link opened in the browser: a page too; a script (JSON) keeps JSON
    analyst = staff_client(app, "analyst", CITY, DISTRICT)
    browser = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    link = analyst.get("/export/map.csv?city=yangquan-demo", headers=browser)
    assert link.status_code == 403 and link.mimetype == "text/html"
    assert "不在您账号的区县范围内" in link.get_data(as_text=True)
    script = analyst.get("/export/map.csv?city=yangquan-demo")
    assert script.status_code == 403 and script.get_json()["reason"] == "scope"
    # a refused callback stays JSON
    refused = scoped.post("/_dash-update-component", json=router_payload("/map"))
    assert refused.status_code == 403 and refused.get_json()["reason"] == "scope"


def test_the_peer_view_shows_a_scoped_viewer_every_rank_and_its_own_values(app, scoped):
    """Issue 18: among Shanxi's counties a scoped viewer sees every member's rank, its own
    district's values (highlighted, its card, its dot) and, of the city's other districts,
    the rank and name only (no value, change, reason or dot); among the 168 key cities it
    sees the city's row (the national report publishes it)."""
    others = others_of(app, CITY, DISTRICT)
    answer = route(scoped, "/ranking", "?period=year&year=2024&group=shanxi-counties")
    assert not leaks(answer, others, strict=False)
    rows = {r["area"]: r for r in _props(answer, ids.PEER_TABLE)["rowData"]}
    assert len(rows) == 6 and {r["rank"] for r in rows.values()} == set(range(1, 7))
    mine = rows[f"{CITY}/{DISTRICT}"]
    assert mine["own"] and mine["value"] > 0 and mine["previous_rank"] >= 1
    for area, row in rows.items():
        if area != f"{CITY}/{DISTRICT}":
            assert row["hidden"] and not row["own"] and row["rank"] >= 1, area
            assert row["value"] is None and row["change"] is None and row["reason"] == ""
    places = dump(_props(answer, ids.PEER_PLACES))
    assert places.count("lt-pg-place-name") == 1 and "矿区" in places
    figure = _figure(answer, ids.PEER_CHART)
    dots = [str(y) for tr in figure["data"] for y in (tr.get("y") or []) if y is not None]
    assert dots and all("矿区" in y for y in dots)           # its own dot (and halo) only
    assert "本账号属于矿区" in dump(answer)
    # the city among the 168 key cities: its row in full
    answer = route(scoped, "/ranking", "?period=year&year=2024&group=key-168")
    own = [r for r in _props(answer, ids.PEER_TABLE)["rowData"] if r["own"]]
    assert len(own) == 1 and own[0]["area"] == "阳泉" and own[0]["value"] > 0
    assert not leaks(answer, others, strict=False)
    # the download holds what the page shows
    analyst = staff_client(app, "analyst", CITY, DISTRICT)
    table = analyst.get(f"/export/ranking.csv?city={CITY}&period=year&year=2024"
                        "&group=shanxi-counties&codes=1")
    assert table.status_code == 200
    lines = table.data.decode("utf-8-sig").splitlines()
    assert len(lines) == 7
    for line in lines[1:]:
        if f"{CITY}/{DISTRICT}" not in line:
            assert ",,,,," in line          # rank and name only: no value, no distance …


def _props(answer, component_id):
    found = props_in(answer, component_id)
    assert found is not None, component_id
    return found


def test_scoped_downloads_hold_only_its_district(app):
    analyst = staff_client(app, "analyst", CITY, DISTRICT)
    others = others_of(app, CITY, DISTRICT)
    table = analyst.get("/export/exceedances.csv?city=yangquan-demo&period=year&year=2024&codes=1")
    assert table.status_code == 200
    text = table.data.decode("utf-8-sig")
    assert "kuangqu" in text and not [o for o in others if o in text]
    plan = analyst.get("/export/objectives.csv?city=yangquan-demo&period=year&year=2024")
    assert plan.status_code == 200
    text = plan.data.decode("utf-8-sig")
    assert "矿区NO2年均浓度" in text and not [o for o in others if o in text]


# -- Beijing (real data) ---------------------------------------------------------------

def test_a_beijing_district_account_sees_its_district_only(beijing_db_url, tmp_path):
    app = started_app(sqlite_copy(beijing_db_url, tmp_path, "beijing.sqlite"))
    client = staff_client(app, "viewer", "beijing", "dongcheng")
    others = others_of(app, "beijing", "dongcheng")
    assert {"haidian", "海淀区", "Haidian"} & others
    own = {"dongcheng", "东城区", "Dongcheng", "东四", "天坛", "Dongsi", "Tiantan"}
    for path, search in (("/", "?period=year&year=2016"), ("/exceedances", "?year=2016"),
                         ("/ranking", "?period=year&year=2016"),
                         ("/ranking", "?level=station&period=year&year=2016&lang=en")):
        answer = route(client, path, search)
        assert "东城" in dump(answer) or "Dongcheng" in dump(answer)
        found = leaks(answer, others, strict=path != "/ranking", own=own)
        assert not found, (path, search, found[:5])
