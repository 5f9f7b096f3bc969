"""Callback requests are judged by what the callback receives, never by their labels (issue 13).

Dash passes a callback its inputs by position and ignores the ``id``/``property``
labels of a request body. Every callback listed by ``/_dash-dependencies`` is
sent, for every role (anonymous, viewer, district-scoped viewer, analyst,
admin), the renderer's honest request and crafted variants of it (reordered,
relabelled, extra or missing inputs, pattern-matching ids, a wrong output);
honest requests must get exactly what the role may see, crafted ones 400
before anything runs. Runs on SQLite and PostgreSQL (a short SYNTHETIC demo).
"""
from __future__ import annotations

import copy
import json
import shutil

import dash
import pytest
from sqlalchemy import create_engine, text

from dashboard import auth, cache
from store.users import ROLE_RANK
from tests.conftest import YANGQUAN_SITES, _lantian, postgres_schema
from tests.dash_helpers import (ROUTER_OUTPUT, dump, honest_payload, login, router_payload,
                                staff_client)

ROLES = ("anonymous", "viewer", "scoped", "analyst", "admin")
REFUSED = {"anonymous": 401}
SCOPE = ("yangquan-demo", "chengqu")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def app(request, tmp_path_factory):
    from dashboard.app import create_app
    chosen = request.config.getoption("--db")
    if chosen not in ("all", request.param):
        pytest.skip(f"--db={chosen}")
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("callbacks") / "demo.sqlite"
        shutil.copy(request.getfixturevalue("demo_db_url").split("///", 1)[1], path)
        url, drop = f"sqlite:///{path}", None
    else:
        drop = postgres_schema()
        url = drop.__enter__()
        _lantian(url, "init", "--sites", YANGQUAN_SITES)
        _lantian(url, "demo", "--until", "2023-02-28", "--quiet")
    # the admin page saves targets into the city's site file: let it be a copy here
    site_copy = tmp_path_factory.mktemp("sites") / "yangquan.yaml"
    shutil.copy(YANGQUAN_SITES, site_copy)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE cities SET site_file = :f"), {"f": str(site_copy)})
    engine.dispose()
    built = create_app(url, cache_url="")
    built.server.test_client().get("/public")          # registers the router callback
    yield built
    if drop:
        from dashboard.context import engine_of
        engine_of(built.server).dispose()
        drop.__exit__(None, None, None)


@pytest.fixture(scope="module")
def clients(app):
    out = {"anonymous": app.server.test_client()}
    for role in ("viewer", "analyst", "admin"):
        out[role] = staff_client(app, role)
    out["scoped"] = staff_client(app, "viewer", *SCOPE)
    return out


def dependencies(app) -> list[dict]:
    """Every callback the browser is told about that runs on the server."""
    deps = app.server.test_client().get("/_dash-dependencies").get_json()
    assert len(deps) >= 10
    return [d for d in deps if d.get("clientside_function") is None]


def post(client, body):
    return client.post("/_dash-update-component", json=body)


def may_open_page(role: str, page: dict) -> bool:
    if page.get("access") == auth.PUBLIC:
        return True
    if role == "anonymous":
        return False
    rank = ROLE_RANK["viewer" if role == "scoped" else role]
    if rank < ROLE_RANK[page.get("access", "viewer")]:
        return False
    return role != "scoped" or bool(page.get("scoped"))


def may_run(role: str, output: str) -> bool:
    if output in auth.PUBLIC_OUTPUTS or auth._is_nav_output(output):
        return True
    page = auth.page_of_callback(output)
    if page is None:
        return role == "admin"
    return may_open_page(role, page)


def refusal(role: str) -> int:
    return REFUSED.get(role, 403)


# -- honest requests: exactly what the role may see ---------------------------------------

@pytest.mark.parametrize("role", ROLES)
def test_honest_requests_of_every_callback_get_what_the_role_may_see(app, clients, role):
    client = clients[role]
    seen = 0
    for dep in dependencies(app):
        if dep["output"] == ROUTER_OUTPUT:
            continue                                        # per page, below
        response = post(client, honest_payload(dep))
        seen += 1
        if may_run(role, dep["output"]):
            # 200 with an answer, or 204 when the callback does not update (no clicks)
            assert response.status_code in (200, 204), (role, dep["output"], response.data[:300])
        else:
            assert response.status_code == refusal(role), (role, dep["output"])
    assert seen >= 10


@pytest.mark.parametrize("role", ROLES)
def test_the_router_renders_exactly_the_pages_the_role_may_open(app, clients, role):
    client = clients[role]
    for page in dash.page_registry.values():
        response = post(client, router_payload(page["path"], "?city=yangquan-demo"))
        if may_open_page(role, page):
            assert response.status_code == 200, (role, page["path"])
            # the router built exactly the page asked for (its title travels with it)
            answer = response.get_json()["response"]
            assert answer["_pages_store"]["data"]["title"] == page["title"](), page["path"]
            assert "page-error" not in dump(answer), (role, page["path"])
        else:
            assert response.status_code == refusal(role), (role, page["path"])


# -- crafted requests: 400 for everyone, before anything runs ------------------------------

def crafted_variants(dep: dict) -> list[tuple[str, dict]]:
    """Requests that do not match the callback's declaration, derived from the honest one."""
    honest = honest_payload(dep)
    out = []

    def variant(name, change):
        body = copy.deepcopy(honest)
        change(body)
        out.append((name, body))

    inputs = honest["inputs"]
    plain = [i for i, item in enumerate(inputs) if isinstance(item, dict)]
    if len(inputs) >= 2 and inputs[0] != inputs[-1]:
        variant("reordered inputs", lambda b: b["inputs"].reverse())
    if plain:
        first = plain[0]
        variant("relabelled id", lambda b: b["inputs"][first].update(id="x"))
        variant("relabelled property",
                lambda b: b["inputs"][first].update(property=b["inputs"][first]["property"] + "x"))
        variant("pattern id for a plain one",
                lambda b: b["inputs"][first].update(id={"type": inputs[first]["id"],
                                                        "index": 0}))
        variant("a list for a plain input", lambda b: b["inputs"].__setitem__(first, []))
    patterns = [i for i, item in enumerate(inputs) if isinstance(item, list)]
    for index in patterns:
        variant("a non-dict in a pattern list",
                lambda b, i=index: b["inputs"][i].append("not an entry"))
        variant("a plain id in a pattern list", lambda b, i=index: b["inputs"][i].append(
            {"id": "x", "property": dep["inputs"][i]["property"], "value": 1}))
        variant("a dict for a pattern list",
                lambda b, i=index: b["inputs"].__setitem__(i, {"id": "x", "property": "value"}))
    variant("an extra input", lambda b: b["inputs"].append(
        {"id": "_pages_location", "property": "pathname", "value": "/admin"}))
    if inputs:
        variant("a missing input", lambda b: b["inputs"].pop())
    variant("an extra state", lambda b: b.setdefault("state", []).append(
        {"id": "_pages_location", "property": "pathname", "value": "/admin"}))
    if dep.get("state"):
        variant("a missing state", lambda b: b["state"].pop())
        variant("state not a list", lambda b: b.__setitem__("state", {"x": 1}))
    variant("a wrong output", lambda b: b.__setitem__("output", dep["output"] + "x"))
    variant("another callback's output",
            lambda b: b.__setitem__("output", ROUTER_OUTPUT if dep["output"] != ROUTER_OUTPUT
                                    else "_pages_location.search"))
    variant("relabelled outputs", lambda b: b.__setitem__(
        "outputs", [{"id": "_pages_content", "property": "children"}] * 2))
    variant("changed prop of no input",
            lambda b: b.__setitem__("changedPropIds", ["_pages_location.pathname-x"]))
    variant("an unknown key", lambda b: b.__setitem__("callback", "x"))
    variant("inputs not a list", lambda b: b.__setitem__("inputs", {"0": None}))
    return out


@pytest.mark.parametrize("role", ROLES)
def test_crafted_requests_of_every_callback_are_refused_before_anything_runs(app, clients,
                                                                              role):
    client = clients[role]
    checked = 0
    for dep in dependencies(app):
        for name, body in crafted_variants(dep):
            response = post(client, body)
            assert response.status_code == 400, (role, dep["output"], name,
                                                 response.get_data(as_text=True)[:300])
            assert response.get_json()["reason"] in ("shape", "unknown_callback"), name
            checked += 1
    assert checked >= 150


REPORTED_BODIES = [
    # the issue's request: the pathname label on the second input, the page in the first
    [{"id": "_pages_location", "property": "search", "value": "{page}"},
     {"id": "_pages_location", "property": "pathname", "value": "/public"}],
    [{"id": "x", "property": "pathname", "value": "{page}"},
     {"id": "_pages_location", "property": "pathname", "value": "/public"}],
    [{"id": "_pages_location", "property": "pathname", "value": "/public"},
     {"id": "_pages_location", "property": "pathname", "value": "{page}"}],
]


@pytest.mark.parametrize("role", ROLES)
def test_the_reported_router_requests_no_longer_open_staff_pages(app, clients, role):
    client = clients[role]
    for page in dash.page_registry.values():
        if page.get("access") == auth.PUBLIC:
            continue
        for inputs in REPORTED_BODIES:
            body = router_payload("/public")
            body["inputs"] = json.loads(json.dumps(inputs).replace("{page}", page["path"]))
            response = post(client, body)
            assert response.status_code == 400, (role, page["path"], inputs)
            assert "lt-page-" not in response.get_data(as_text=True)


def test_router_values_must_be_text(app, clients):
    for value in ([], {"a": 1}, 5, True):
        body = router_payload("/public")
        body["inputs"][0]["value"] = value
        assert post(clients["anonymous"], body).status_code == 400, value
        body = router_payload("/public")
        body["inputs"][1]["value"] = value
        assert post(clients["anonymous"], body).status_code == 400, value


def test_nav_links_with_a_non_dict_state_are_refused(app, clients):
    nav = next(d for d in dependencies(app) if auth._is_nav_output(d["output"]))
    for state in (["x"], [1], [None], "x", [{"id": "x", "property": "id", "value": "x"}],
                  [{"id": {"type": "app-nav-link"}, "property": "id", "value": {}}]):
        body = honest_payload(nav)
        body["state"] = [state]
        assert post(clients["anonymous"], body).status_code == 400, state
    # an honest request with a page that does not exist is answered, not a 500
    body = honest_payload(nav, {"_pages_location.search": "?lang=en"})
    body["state"] = [[{"id": {"page": page, "type": "app-nav-link"}, "property": "id",
                       "value": {"page": page, "type": "app-nav-link"}}
                      for page in ("/public", "nope", 7)]]
    body["outputs"] = [[{"id": {"page": p, "type": "app-nav-link"}, "property": prop}
                        for p in ("/public", "nope", 7)] for prop in ("href", "children")]
    response = post(clients["anonymous"], body)
    assert response.status_code == 200, response.data[:300]


def test_a_district_scoped_viewer_cannot_reach_other_districts_by_crafting(app, clients):
    client = clients["scoped"]
    for search in ("?district=kuangqu", "?city=yangquan-demo&district=kuangqu"):
        body = router_payload("/district", search)
        body["inputs"] = [{"id": "_pages_location", "property": "search", "value": "/district"},
                          {"id": "_pages_location", "property": "pathname", "value": search}]
        assert post(client, body).status_code == 400
        honest = post(client, router_payload("/district", search))
        assert honest.status_code == 200
        assert "矿区" not in honest.get_data(as_text=True)


# -- the public page's answer cache cannot be poisoned -------------------------------------

def test_the_public_answer_cannot_be_poisoned(app, clients):
    anonymous = clients["anonymous"]
    honest = post(anonymous, router_payload("/public"))
    assert honest.status_code == 200
    expected = honest.get_data()
    assert b"lt-page-public" in expected or b"pub-" in expected
    # push the honest answer out of the per-process answer cache
    for n in range(cache._answers.size + 4):
        assert post(anonymous, router_payload("/public", f"?evict={n}")).status_code == 200
    crafted_bodies = []
    for target in ("/admin", "/station", "/data", "/exceedances", "/district", "/map"):
        for inputs in REPORTED_BODIES:
            body = router_payload("/public")
            body["inputs"] = json.loads(json.dumps(inputs).replace("{page}", target))
            crafted_bodies.append(body)
    for body in crafted_bodies:
        for client in (anonymous, clients["admin"]):
            assert post(client, body).status_code == 400
    for client in (anonymous, clients["viewer"], app.server.test_client()):
        again = post(client, router_payload("/public"))
        assert again.status_code == 200
        assert again.get_data() == expected
        assert "admin-" not in again.get_data(as_text=True)


def test_only_requests_of_the_declared_shape_are_cached(app, clients):
    """The answer cache is keyed by the matched call; a body that matched nothing never
    reaches it (so it can neither be served from nor fill it)."""
    before = len(cache._answers.items)
    body = router_payload("/public")
    body["inputs"].reverse()
    assert post(clients["anonymous"], body).status_code == 400
    assert len(cache._answers.items) == before


# -- bodies: size, nesting, malformed JSON --------------------------------------------------

def test_bodies_are_capped_by_the_session_before_they_are_parsed(app, clients, monkeypatch):
    parsed = []
    real = auth.read_body
    monkeypatch.setattr(auth, "read_body", lambda limit: parsed.append(limit) or real(limit))
    big = b'{"output": "' + b"x" * (auth.ANONYMOUS_BODY_LIMIT + 10) + b'"}'
    response = clients["anonymous"].post("/_dash-update-component", data=big,
                                         content_type="application/json")
    assert response.status_code == 413 and parsed == []
    # the login form of an anonymous visitor is capped too
    response = clients["anonymous"].post("/login", data={"password": "x" * 100_000})
    assert response.status_code == 413
    # a staff callback other than the upload: 1 MB
    for role in ("viewer", "analyst", "admin"):
        body = router_payload("/ranking", "?pad=" + "x" * (auth.CALLBACK_BODY_LIMIT + 10))
        assert post(clients[role], body).status_code == 413, role
    # a viewer may never send an upload-sized body
    upload = next(d for d in dependencies(app) if d["output"].startswith("..upload-result"))
    body = honest_payload(upload, {"upload-file.contents": "data:text/csv;base64," +
                                   "QUJD" * (auth.CALLBACK_BODY_LIMIT // 4 + 10)})
    assert post(clients["viewer"], body).status_code == 413
    # an analyst's upload of a file above 1 MB reaches the upload callback (its own checks)
    assert post(clients["analyst"], body).status_code in (200, 204)


@pytest.mark.parametrize("role", ["anonymous", "viewer"])
def test_malformed_and_deeply_nested_bodies_are_400(app, clients, role):
    client = clients[role]
    for data in (b"not json", b"{", b"[1, 2]", b'"text"', b"\xff\xfe",
                 b"[" * 50_000 + b"]" * 50_000,
                 b'{"output": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"):
        response = client.post("/_dash-update-component", data=data,
                               content_type="application/json")
        assert response.status_code in (400, 413), (data[:20], response.status_code)


# -- other routes: no 500 from what a user sends --------------------------------------------

def test_invalid_component_suite_paths_are_404(app):
    client = app.server.test_client()
    for path in ("dash/dcc/dash_core_components.v3.js", "nope/x.js", "dash/../../etc/passwd",
                 "dash/dcc/x%00.js", "dash/dcc/dash_core_components.v1_0_0m1.map"):
        assert client.get(f"/_dash-component-suites/{path}").status_code == 404, path
    good = client.get("/_dash-component-suites/dash/deps/react@18.3.1.min.js")
    assert good.status_code == 200


def test_a_next_address_with_control_characters_returns_home(app):
    from tests.dash_helpers import ensure_user
    ensure_user(app, "next-check", "viewer")
    for target in ("/a\r\nb", "/a\nSet-Cookie: x=1", "/a\x00b", "/a\tb"):
        client = app.server.test_client()
        response = login(client, "next-check", next=target)
        assert response.status_code == 302, target
        assert response.headers["Location"] == "/", target
    client = app.server.test_client()
    response = client.get("/login?next=/a%0d%0ab")
    assert response.status_code == 200 and "\r" not in response.get_data(as_text=True)


# -- odd values of the declared shape: an answer or a clean refusal, never a 500 ------------

ODD_VALUES = [None, "", "x", 0, -1, 1e308, [], {}, [{}], {"a": 1}, True, "../..", [None],
              [1, 2], "?a=1&a=2", "?city=nope&period=xx&year=abc&lang=fr", "x" * 5000]
ODD_SEARCHES = ["?city=nope&period=xx&year=abc", "?year=99999&period=range&from=abc&to=2016-13-45",
                "?station=%00&district=../x&lang=fr&profile=nope", "?period=month&month=13",
                "?period=quarter&quarter=9", "?from=2016-03-01&to=2015-01-01&period=range",
                "?a=1&a=2&city=yangquan-demo&city=x", "?year=-1", "?year=1e308",
                "?pollutant=XX&by=nope&level=nope&sort=x", "?x=" + "y" * 5000]


def test_odd_values_in_every_input_never_break_a_callback(app, clients):
    """Each declared input and state of every callback in turn gets odd JSON values (an
    administrator, who may run them all): the answer is a page, an update or a 4xx."""
    client = clients["admin"]
    sent = 0
    for dep in dependencies(app):
        keys = [f"{d['id']}.{d['property']}" for d in dep["inputs"] + dep.get("state", [])
                if not d["id"].startswith("{")]
        clicks = {k: 1 for k in keys if k.endswith("n_clicks")}
        for key in keys:
            for value in ODD_VALUES:
                response = post(client, honest_payload(dep, {**clicks, key: value}))
                assert response.status_code < 500, (dep["output"][:60], key, repr(value)[:40])
                sent += 1
    for page in dash.page_registry.values():
        for search in ODD_SEARCHES:
            response = post(client, router_payload(page["path"], search))
            assert response.status_code == 200, (page["path"], search[:40])
            assert "page-error" not in response.get_data(as_text=True), (page["path"], search)
    assert sent >= 300
