"""Helpers for dashboard tests: walk component trees, call pages, ask the router.

Pages are plain functions of their query (``layout(**query)``); call them with
:func:`render` inside the app's context, or go through Dash's router with
:func:`route` exactly as the browser does.
"""
from __future__ import annotations

import json

from plotly.utils import PlotlyJSONEncoder

ROUTER_OUTPUT = ".._pages_content.children..._pages_store.data.."


def dump(component) -> str:
    return json.dumps(component, cls=PlotlyJSONEncoder, ensure_ascii=False)


def walk(node):
    """Every Dash component in a tree (depth first)."""
    if isinstance(node, (list, tuple)):
        for child in node:
            yield from walk(child)
        return
    if not hasattr(node, "to_plotly_json"):
        return
    yield node
    yield from walk(getattr(node, "children", None))


def by_id(tree, component_id):
    found = [c for c in walk(tree) if getattr(c, "id", None) == component_id]
    return found[0] if found else None


def of_type(tree, name: str) -> list:
    """Components of one type name (``"Graph"``, ``"AgGrid"``, ``"Table"`` …)."""
    return [c for c in walk(tree) if type(c).__name__ == name]


def text(node) -> str:
    if isinstance(node, (list, tuple)):
        return " ".join(text(c) for c in node)
    if hasattr(node, "to_plotly_json"):
        return text(getattr(node, "children", None))
    return "" if node is None else str(node)


def render(app, module, **query):
    """``module.layout(**query)`` for ``app`` (its database), as the router would call it."""
    with app.server.test_request_context():
        return module.layout(**query)


def router_payload(path: str, search: str = "") -> dict:
    """The request Dash's pages router makes for ``path`` + ``search``."""
    return {
        "output": ROUTER_OUTPUT,
        "outputs": [{"id": "_pages_content", "property": "children"},
                    {"id": "_pages_store", "property": "data"}],
        "inputs": [{"id": "_pages_location", "property": "pathname", "value": path},
                   {"id": "_pages_location", "property": "search", "value": search}],
        "changedPropIds": ["_pages_location.pathname"],
        "state": [],
    }


def dependency_items(deps: list[dict], values: dict | None = None) -> list:
    """Body entries for declared inputs or state (``/_dash-dependencies`` form): a plain
    id gets ``values["id.prop"]`` (default None), an ``ALL`` pattern an empty list."""
    values = values or {}
    out = []
    for dep in deps:
        if dep["id"].startswith("{"):
            out.append(values.get(f"{dep['id']}.{dep['property']}", []))
        else:
            out.append({"id": dep["id"], "property": dep["property"],
                        "value": values.get(f"{dep['id']}.{dep['property']}")})
    return out


def declared_outputs(output: str) -> list[dict]:
    """The outputs of a callback's output key, as the renderer sends them."""
    from dashboard.dispatch import declared_outputs as parse
    return [[] if dep.pattern else {"id": dep.component_id, "property": dep.prop}
            for dep in parse(output)]


def honest_payload(dep: dict, values: dict | None = None, changed: list | None = None) -> dict:
    """The request the Dash renderer makes for the callback ``dep`` (an entry of
    ``/_dash-dependencies``), inputs and state from ``values`` (``"id.prop"`` keys)."""
    outputs = declared_outputs(dep["output"])
    body = {"output": dep["output"],
            "outputs": outputs if dep["output"].startswith("..") else outputs[0],
            "inputs": dependency_items(dep["inputs"], values),
            "changedPropIds": changed or []}
    if dep.get("state"):
        body["state"] = dependency_items(dep["state"], values)
    return body


def site_save(client, kind: str, rows: list[dict], city: str, version=None):
    """The admin page's save button of the ``kind`` grid (targets | recipients), as the
    browser calls it: the rows, the city and the version the grid was filled from."""
    from dashboard import ids
    grid, button, result, shown = {
        "targets": (ids.ADMIN_TARGETS_GRID, ids.ADMIN_TARGETS_SAVE, ids.ADMIN_TARGETS_RESULT,
                    ids.ADMIN_TARGETS_VERSION),
        "recipients": (ids.ADMIN_RECIPIENTS_GRID, ids.ADMIN_RECIPIENTS_SAVE,
                       ids.ADMIN_RECIPIENTS_RESULT, ids.ADMIN_RECIPIENTS_VERSION)}[kind]
    payload = {"output": f"..{result}.children...{shown}.data..",
               "outputs": [{"id": result, "property": "children"},
                           {"id": shown, "property": "data"}],
               "inputs": [{"id": button, "property": "n_clicks", "value": 1}],
               "state": [{"id": grid, "property": "rowData", "value": rows},
                         {"id": ids.ADMIN_CITY, "property": "data", "value": city},
                         {"id": shown, "property": "data", "value": version}],
               "changedPropIds": [f"{button}.n_clicks"]}
    return client.post("/_dash-update-component", json=payload)


def route(client, path: str = "/", search: str = "") -> dict:
    """Ask the pages router for ``path`` + ``search``; returns the response JSON."""
    client.get("/")  # the first request registers the router callback
    response = client.post("/_dash-update-component", json=router_payload(path, search))
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_json()


def routed(app, path: str, search: str = "") -> str:
    """The router's answer for ``path`` + ``search`` as JSON text (for ``in`` checks), after
    checking that the page rendered (no error box)."""
    body = dump(route(staff_client(app), path, search))
    assert "page-error" not in body and "page-db-error" not in body, body[:500]
    return body


def props_in(answer, component_id):
    """The props of component ``component_id`` in a JSON callback answer (a router's
    page), depth first; None when absent."""
    if isinstance(answer, dict):
        props = answer.get("props")
        if isinstance(props, dict) and props.get("id") == component_id:
            return props
        children = answer.values()
    elif isinstance(answer, list):
        children = answer
    else:
        return None
    for value in children:
        hit = props_in(value, component_id)
        if hit is not None:
            return hit
    return None


def sqlite_copy(url: str, folder, name: str = "demo.sqlite") -> str:
    """The URL of a copy in ``folder`` of the SQLite database ``url`` (a session's demo or
    Beijing database, for tests that write to it: accounts, edits, loads)."""
    import shutil
    from pathlib import Path
    path = Path(folder) / name
    shutil.copy(url.split("///", 1)[1], path)
    return f"sqlite:///{path}"


def started_app(url: str, **options):
    """The dashboard on ``url`` (no shared cache), its router callback registered (the
    first request does that)."""
    from dashboard.app import create_app
    app = create_app(url, cache_url="", **options)
    app.server.test_client().get("/public")
    return app


def figure_of(tree, component_id):
    """The figure of the graph ``component_id`` in a rendered page."""
    graph = by_id(tree, component_id)
    assert graph is not None, f"no {component_id}"
    return graph.figure


def independent_daily(url: str, year: int, profile: str | None = None, city: str = "beijing"):
    """(daily values, daily AQI, grades) of ``city`` for ``year`` computed without the
    dashboard (its queries and cache): hourly values straight from the database through
    ``indicators.pipeline.daily_and_aqi``."""
    from sqlalchemy import create_engine

    from indicators import pipeline
    from store.frames import hourly_frame, membership, station_table

    engine = create_engine(url)
    with engine.connect() as conn:
        members = membership(conn, city)
        stations = station_table(conn)
        codes = stations.loc[stations["city"] == city, "code"]
        start, end = pipeline.year_bounds(year)
        hourly = hourly_frame(conn, stations=codes, start=start, end=end)
    engine.dispose()
    grades = pipeline.grades_of(members, dict(zip(stations["code"],
                                                  stations["grade"].fillna("II"))))
    daily, aqi = pipeline.daily_and_aqi(hourly, members, profile=profile)
    return daily, aqi, grades


STAFF_PASSWORD = "correct horse battery"


def ensure_user(app, username: str, role: str = "admin", city: str | None = None,
                district: str | None = None, password: str = STAFF_PASSWORD) -> str:
    """Create the account on the app's database unless it exists; returns the username."""
    from dashboard.context import engine_of
    from store.users import add_user, get_account
    with engine_of(app.server).begin() as conn:
        if get_account(conn, username=username) is None:
            add_user(conn, username, password, role, city=city, district=district,
                     actor="tests")
    return username


def login(client, username: str, password: str = STAFF_PASSWORD, next: str = "/",
          base_url: str = "http://localhost"):
    """Sign in through the real login form (CSRF token included); returns the response."""
    client.get("/login", base_url=base_url)
    with client.session_transaction(base_url=base_url) as session:
        token = session["csrf"]
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token, "next": next}, base_url=base_url)


def staff_client(app, role: str = "admin", city: str | None = None,
                 district: str | None = None):
    """A test client signed in as a staff account of ``role``, sending the CSRF header
    on every request."""
    username = f"test-{role}" + (f"-{city}-{district}" if district else "")
    ensure_user(app, username, role, city, district)
    client = app.server.test_client()
    response = login(client, username)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    with client.session_transaction() as session:
        client.environ_base["HTTP_X_CSRFTOKEN"] = session["csrf"]
    return client


#: A two-station test city (a site file's text) for tests that load a small site.
TEST_CITY_SITE = """
city: {id: testcity, name_zh: 测试市, name_en: Test city}
districts:
  - {id: east, name_zh: 东区, name_en: East, grade: II}
stations:
  - {code: T01, name_zh: 东一, name_en: East 1, district: east, lon: 116.1, lat: 39.1}
  - {code: T02, name_zh: 东二, name_en: East 2, district: east, lon: 116.2, lat: 39.2}
"""
