"""Access control, sessions, CSRF and brute-force protection of the dashboard (issue 5).

Routes, pages and callbacks are enumerated from the app itself, so a page or
route added later is covered without editing this file. Runs on a copy of the
SYNTHETIC demo database (accounts and the audit log are written to the copy).
"""
from __future__ import annotations

import csv
import io
import re
import time
from dataclasses import replace

import dash
import pytest
from sqlalchemy import func, select

from dashboard import auth
from dashboard.context import engine_of
from store import schema
from store.users import (ROLE_RANK, audit_entries, get_account, login_failures, now,
                         set_active, set_password)
from tests.dash_helpers import (ROUTER_OUTPUT, STAFF_PASSWORD, sqlite_copy, dump, ensure_user,
                                honest_payload, login, router_payload, staff_client,
                                started_app)

ROLES = ("viewer", "analyst", "admin")


@pytest.fixture(scope="module")
def app(demo_db_url, tmp_path_factory):
    return started_app(sqlite_copy(demo_db_url, tmp_path_factory.mktemp("security")))


def anonymous(app):
    return app.server.test_client()


def callback_payload(output: str, spec: dict) -> dict:
    """The renderer's request for a registered callback (inputs and state left empty)."""
    return honest_payload({"output": output, "inputs": spec["inputs"],
                           "state": spec.get("state", [])})


def staff_pages() -> list[dict]:
    return [p for p in dash.page_registry.values() if p.get("access") != auth.PUBLIC]


def sample_url(rule) -> str:
    """The rule's URL with a harmless value for each variable."""
    values = {"filename": "style.css", "path": "ranking", "package_name": "dash",
              "fingerprinted_path": "dcc/dash_core_components.v3.js", "name": "ranking",
              "fmt": "csv"}
    url = rule.rule
    for arg in rule.arguments:
        url = re.sub(r"<(?:[^:<>]+:)?" + arg + ">", values.get(arg, "x"), url)
    return url


# -- every route, page and callback refuses anonymous and too-low roles ------------------

def test_every_non_public_route_refuses_anonymous_requests(app):
    client = anonymous(app)
    checked = 0
    for rule in app.server.url_map.iter_rules():
        url = sample_url(rule)
        method = "GET" if "GET" in rule.methods else "POST"
        response = client.open(url, method=method, json={} if method == "POST" else None)
        assert response.status_code < 500, (url, response.status_code)
        public = rule.endpoint in auth.PUBLIC_ENDPOINTS or url.startswith(auth.PUBLIC_PREFIXES)
        if rule.endpoint == "/_dash-update-component":
            assert response.status_code == 400, url     # {} is no callback's request
            checked += 1
            continue
        if public or (rule.endpoint in auth.INDEX_ENDPOINTS and url == "/public"):
            assert response.status_code not in (401, 403), url
            continue
        checked += 1
        if rule.endpoint in auth.INDEX_ENDPOINTS:       # a page address: to the login form
            assert response.status_code == 302, url
            assert response.headers["Location"].startswith("/login?next="), url
        else:
            assert response.status_code == 401, (url, response.status_code)
            assert b"123456" not in response.data
    assert checked >= 4           # /, /<path>, /_dash-update-component, /export/…


def test_every_staff_page_is_refused_anonymously_and_public_page_is_served(app):
    client = anonymous(app)
    for page in staff_pages():
        response = client.post("/_dash-update-component", json=router_payload(page["path"]))
        assert response.status_code == 401, page["path"]
        assert response.get_json()["reason"] == "login"
        index = client.get(page["path"] + "?city=yangquan-demo")
        assert index.status_code == 302 and "next=" in index.headers["Location"]
    public = client.post("/_dash-update-component", json=router_payload("/public"))
    assert public.status_code == 200
    assert "pub-" in dump(public.get_json()) or "lt-page-public" in dump(public.get_json())
    # an unknown address or a crafted path is not public either
    for path in ("/nope", "/public/../ranking", "/PUBLIC", "/public/x"):
        response = client.post("/_dash-update-component", json=router_payload(path))
        assert response.status_code == 401, path


def test_every_callback_needs_a_session_except_the_data_free_ones(app):
    client = anonymous(app)
    public = 0
    for output, spec in app.callback_map.items():
        if "callback" not in spec:
            continue                     # runs in the browser (tests/test_callback_requests.py)
        response = client.post("/_dash-update-component", json=callback_payload(output, spec))
        if output in auth.PUBLIC_OUTPUTS or auth._is_nav_output(output):
            public += 1
            assert response.status_code != 401, output
        elif output == ROUTER_OUTPUT:
            continue                     # decided by the page (test above)
        else:
            assert response.status_code == 401, output
    assert public == 4          # the controls, the navigation, the header's words (2)
    # a made-up output is refused (400: it matches no callback), not treated as public
    fake = {"output": "_pages_location.search.x", "inputs": [], "state": []}
    assert client.post("/_dash-update-component", json=fake).status_code == 400
    assert client.post("/_dash-update-component", data="not json").status_code == 400


@pytest.mark.parametrize("role", ROLES)
def test_roles_open_exactly_their_pages_and_exports(app, role):
    client = staff_client(app, role)
    for page in dash.page_registry.values():
        response = client.post("/_dash-update-component", json=router_payload(page["path"]))
        allowed = page.get("access") == auth.PUBLIC or \
            ROLE_RANK[role] >= ROLE_RANK[page.get("access", "viewer")]
        assert response.status_code == (200 if allowed else 403), (role, page["path"])
    export = client.get("/export/ranking.csv?city=yangquan-demo")
    assert export.status_code == (403 if role == "viewer" else 200)
    if role != "viewer":
        assert export.data.startswith("\ufeff".encode())


def layout_text(client) -> str:
    """``/_dash-layout`` as plain JSON text (Dash escapes "/" as \\u002f)."""
    import json
    return json.dumps(client.get("/_dash-layout").get_json(), ensure_ascii=False)


def test_root_layout_shows_anonymous_visitors_no_staff_page(app):
    anon = layout_text(anonymous(app))
    staff_paths = [p["path"] for p in staff_pages()]
    for path in staff_paths:
        assert f'"page": "{path}"' not in anon and f'"page":"{path}"' not in anon
    assert "/public" in anon and "/login" in anon
    admin = layout_text(staff_client(app, "admin"))
    for path in staff_paths:
        assert f'"{path}"' in admin
    assert "test-admin" in admin and "/logout" in admin
    # the dependency list names callbacks, never data
    deps = anonymous(app).get("/_dash-dependencies")
    assert deps.status_code == 200 and "yangquan" not in deps.get_data(as_text=True)


# -- sessions -------------------------------------------------------------------------

def test_session_cookie_is_httponly_samesite_secure_and_csrf_cookie_readable(app):
    ensure_user(app, "cookie-check", "viewer")
    client = app.server.test_client()
    response = login(client, "cookie-check", base_url="https://localhost")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    cookies = response.headers.getlist("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith(auth.SESSION_COOKIE + "="))
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie
    assert "Secure" in session_cookie and "Expires=" in session_cookie
    csrf = next(c for c in cookies if c.startswith(auth.CSRF_COOKIE + "="))
    assert "HttpOnly" not in csrf and "SameSite=Strict" in csrf and "Secure" in csrf
    # over plain http (a local trial) cookie_secure=auto leaves Secure off so it works
    plain = app.server.test_client()
    cookies = login(plain, "cookie-check").headers.getlist("Set-Cookie")
    assert not any("Secure" in c for c in cookies if c.startswith(auth.SESSION_COOKIE))


def test_login_rotates_the_session_and_logout_ends_it(app):
    ensure_user(app, "rotate", "viewer")
    client = app.server.test_client()
    client.get("/login")
    with client.session_transaction() as session:
        before = dict(session)
    login(client, "rotate")
    with client.session_transaction() as session:
        assert session["csrf"] != before["csrf"] and session.get("_user_id")
    token = session["csrf"]
    client.environ_base["HTTP_X_CSRFTOKEN"] = token
    assert client.post("/_dash-update-component",
                       json=router_payload("/ranking")).status_code == 200
    assert client.post("/logout", data={"csrf_token": "wrong"}).status_code == 400
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.post("/_dash-update-component",
                       json=router_payload("/ranking")).status_code == 401
    # a GET of /logout (a link or an <img> on another site) does not sign anyone out
    again = staff_client_for(app, "rotate")
    again.get("/logout")
    assert again.post("/_dash-update-component",
                      json=router_payload("/ranking")).status_code == 200


def test_password_change_role_change_and_disable_end_open_sessions(app):
    for action in ("passwd", "disable"):
        name = f"ending-{action}"
        ensure_user(app, name, "analyst")
        client = staff_client_for(app, name)
        assert client.post("/_dash-update-component",
                           json=router_payload("/ranking")).status_code == 200
        with engine_of(app.server).begin() as conn:
            if action == "passwd":
                set_password(conn, name, "another long password")
            else:
                set_active(conn, name, False)
        response = client.post("/_dash-update-component", json=router_payload("/ranking"))
        assert response.status_code == 401, action
        page = client.get("/ranking")
        assert page.status_code == 302 and "ended=1" in page.headers["Location"]
    disabled = app.server.test_client()
    response = login(disabled, "ending-disable")
    assert response.status_code == 401 and "停用" in response.get_data(as_text=True)


def staff_client_for(app, username: str, password: str = STAFF_PASSWORD):
    client = app.server.test_client()
    assert login(client, username, password).status_code == 302
    with client.session_transaction() as session:
        client.environ_base["HTTP_X_CSRFTOKEN"] = session["csrf"]
    return client


def test_session_lifetime_is_enforced_by_the_server(demo_db_url, tmp_path):
    from config.settings import load_settings
    from dashboard.app import create_app
    settings = replace(load_settings(), session_hours=1.5 / 3600)      # 1.5 seconds
    short = create_app(sqlite_copy(demo_db_url, tmp_path, "short.sqlite"), cache_url="",
                       settings=settings)
    ensure_user(short, "brief", "viewer")
    client = staff_client_for(short, "brief")
    assert client.post("/_dash-update-component",
                       json=router_payload("/ranking")).status_code == 200
    time.sleep(2.2)
    assert client.post("/_dash-update-component",
                       json=router_payload("/ranking")).status_code == 401


def test_open_redirects_are_refused(app):
    ensure_user(app, "redirect-check", "viewer")
    for target, expected in (("//evil.example/x", "/"), ("https://evil.example/", "/"),
                             ("/\\evil.example", "/"), ("javascript:alert(1)", "/"),
                             ("/ranking?city=yangquan-demo", "/ranking?city=yangquan-demo")):
        client = app.server.test_client()
        response = login(client, "redirect-check", next=target)
        assert response.headers["Location"] == expected, target


# -- CSRF -------------------------------------------------------------------------------

def test_csrf_is_required_for_signed_in_callbacks_and_the_login_form(app):
    client = staff_client(app, "viewer")
    good = client.environ_base.pop("HTTP_X_CSRFTOKEN")
    refused = client.post("/_dash-update-component", json=router_payload("/ranking"))
    assert refused.status_code == 403 and refused.get_json()["reason"] == "csrf"
    client.environ_base["HTTP_X_CSRFTOKEN"] = good[:-2] + "xx"
    assert client.post("/_dash-update-component",
                       json=router_payload("/ranking")).status_code == 403
    client.environ_base["HTTP_X_CSRFTOKEN"] = good
    assert client.post("/_dash-update-component",
                       json=router_payload("/ranking")).status_code == 200
    # the login form without its token (a cross-site form post) is refused, nothing logged in
    ensure_user(app, "csrf-check", "viewer")
    fresh = app.server.test_client()
    response = fresh.post("/login", data={"username": "csrf-check",
                                          "password": STAFF_PASSWORD})
    assert response.status_code == 400
    with fresh.session_transaction() as session:
        assert "_user_id" not in session


# -- brute force -------------------------------------------------------------------------

def test_repeated_failures_lock_the_account_and_are_audited(app):
    """Failures in a row of one name from one address lock that pair (issue 13: an
    attacker elsewhere cannot lock the account's owner out)."""
    ensure_user(app, "target", "viewer")
    engine = engine_of(app.server)
    max_failures = app.server.extensions[auth.EXTENSION]["max_failures"]
    client = app.server.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.0.0.1"
    for attempt in range(max_failures):
        response = login(client, "target", "wrong password!")
        assert response.status_code == 401
    with engine.connect() as conn:
        locks = login_failures(conn, "target")
        log = audit_entries(conn, 50)
    assert list(locks["remote_addr"]) == ["10.0.0.1"] and locks["locked_until"].notna().all()
    assert (log["action"] == "lockout").sum() == 1
    assert ((log["action"] == "login_failed") & (log["username"] == "target")).sum() == \
        max_failures
    # while locked even the right password is refused from there, with the lockout message
    # (once the address's own slow-down, which also starts after five failures, is over)
    with engine.begin() as conn:
        conn.execute(schema.audit_log.update().where(
            schema.audit_log.c.remote_addr == "10.0.0.1").values(
            at=now() - 2 * auth.ADDRESS_WINDOW))
    response = login(client, "target")
    assert response.status_code == 401 and "锁定" in response.get_data(as_text=True)
    with client.session_transaction() as session:
        assert "_user_id" not in session
    # … and the account still signs in from another address
    elsewhere = app.server.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "10.0.1.1"
    assert login(elsewhere, "target").status_code == 302
    # an administrator's password reset unlocks it
    with engine.begin() as conn:
        set_password(conn, "target", STAFF_PASSWORD)
    assert login(client, "target").status_code == 302


def test_an_address_is_slowed_after_repeated_failures(app):
    client = app.server.test_client()
    client.environ_base["REMOTE_ADDR"] = "192.0.2.77"
    statuses = []
    for n in range(auth.ADDRESS_FREE_FAILURES + 2):
        response = login(client, f"nobody-{n}", "guess guess guess")
        statuses.append(response.status_code)
    assert statuses[:auth.ADDRESS_FREE_FAILURES] == [401] * auth.ADDRESS_FREE_FAILURES
    assert statuses[-1] == 429
    assert int(response.headers["Retry-After"]) >= 1
    # a good password from that address is also made to wait (the credentials are not tried)
    ensure_user(app, "patient", "viewer")
    assert login(client, "patient").status_code == 429
    with engine_of(app.server).connect() as conn:
        throttled = conn.execute(select(func.count()).where(
            schema.audit_log.c.action == "login_throttled")).scalar()
    assert throttled >= 2
    # other addresses are not affected
    other = app.server.test_client()
    other.environ_base["REMOTE_ADDR"] = "192.0.2.78"
    assert login(other, "patient").status_code == 302


# -- hostile input ------------------------------------------------------------------------

HOSTILE = ["' OR '1'='1", "1; DROP TABLE hourly; --", "../../../../etc/passwd",
           "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "<script>alert(1)</script>", "\x00", "9" * 400,
           "yangquan-demo' UNION SELECT password_hash FROM users --"]
PARAMS = ["city", "period", "year", "month", "from", "to", "profile", "lang", "district",
          "station", "pollutant", "statistic", "level", "metric", "colour", "page", "sort"]


def test_sql_injection_and_traversal_through_query_parameters_fail_harmlessly(app):
    from urllib.parse import urlencode
    client = staff_client(app, "admin")
    engine = engine_of(app.server)
    with engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(schema.hourly)).scalar()
    for page in dash.page_registry.values():
        for value in HOSTILE:
            search = "?" + urlencode({p: value for p in PARAMS})
            response = client.post("/_dash-update-component",
                                   json=router_payload(page["path"], search))
            assert response.status_code == 200, (page["path"], value)
            body = dump(response.get_json())
            assert "page-error" not in body and "page-db-error" not in body, (page["path"], value)
            assert "scrypt:" not in body
            # echoed values are text children, which React escapes; never raw HTML
            assert "dangerously_allow_html" not in body
    for name in ("../../etc/passwd", "..%2f..%2fetc%2fpasswd", "ranking;ls", "%00ranking"):
        response = client.get(f"/export/{name}.csv")
        # 404, or (a path the client normalised away from /export) the app's HTML shell
        assert response.status_code in (404, 200), name
        assert "Content-Disposition" not in response.headers and b"root:" not in response.data
    assert client.get("/export/ranking.csv?" + urlencode(
        {p: HOSTILE[1] for p in PARAMS})).status_code == 200
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.hourly)).scalar() == before


def test_security_headers(app):
    response = anonymous(app).get("/public")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    login_page = anonymous(app).get("/login")
    assert login_page.headers["Cache-Control"] == "no-store"
    assert 'name="csrf_token"' in login_page.get_data(as_text=True)


# -- a district-scoped account --------------------------------------------------------

def test_a_district_scoped_viewer_sees_only_its_district(app):
    client = staff_client(app, "viewer", city="yangquan-demo", district="kuangqu")
    layout = layout_text(client)
    nav = {p["path"] for p in dash.page_registry.values() if f'"page": "{p["path"]}"' in layout}
    # issue 16 §10: the overview, exceedances and ranking pages too, narrowed to its district
    # (issue 18: and the objectives page, its district's objectives)
    assert nav == {"/", "/district", "/station", "/exceedances", "/ranking", "/objectives",
                   "/public"}
    for page in dash.page_registry.values():
        response = client.post("/_dash-update-component", json=router_payload(page["path"]))
        expected = 200 if page["path"] in nav else 403
        assert response.status_code == expected, page["path"]
    # its own district, whatever the URL asks for; never another district or the city
    for search in ("", "?district=kuangqu", "?district=chengqu", "?district=yangquan-demo",
                   "?city=beijing&district=dongcheng"):
        body = dump(client.post("/_dash-update-component",
                                json=router_payload("/district", search)).get_json())
        assert "矿区" in body, search
        for other in ("城区", "开发区", "平定", "盂县", "城区合成站一", "开发区合成站"):
            assert other not in body, (search, other)
    for search in ("?station=SYN01", "?station=SYN09", ""):
        body = dump(client.post("/_dash-update-component",
                                json=router_payload("/station", search)).get_json())
        # (the requested code may be echoed in the "unknown station" notice and links)
        assert "矿区合成站一" in body, search
        assert "城区合成站一" not in body and "盂县合成站" not in body, search
    # a refused page address opened in the browser is a page that says why and leads on
    for path in ("/map", "/standards?lang=en", "/data"):
        page = client.get(path)
        assert page.status_code == 403 and page.mimetype == "text/html", path
        text = page.get_data(as_text=True)
        assert ("不在您账号的区县范围内" in text) or ("outside your account" in text)
        assert 'href="/district' in text and '"error"' not in text
    # after signing in a scoped account lands on its district, not the city overview
    fresh = app.server.test_client()
    assert login(fresh, "test-viewer-yangquan-demo-kuangqu").headers["Location"] == "/district"


def test_a_district_scoped_analyst_exports_only_its_district(app):
    client = staff_client(app, "analyst", city="yangquan-demo", district="kuangqu")
    ledger = client.get("/export/district-ledger.csv?city=yangquan-demo&district=chengqu")
    assert ledger.status_code == 200
    text_ = ledger.data.decode("utf-8-sig")
    assert "矿区" in text_ and "城区" not in text_
    readings = client.get("/export/station-readings.csv?city=yangquan-demo&station=SYN01"
                          "&period=month&year=2025&month=1")
    assert readings.status_code == 200
    assert "SYN03" in readings.data.decode("utf-8-sig")
    assert "SYN01" not in readings.data.decode("utf-8-sig")
    for name in ("map", "standards"):
        assert client.get(f"/export/{name}.csv?city=yangquan-demo").status_code == 403, name
    # issue 16 §10: the exceedance table of the page it may open, its district's rows only
    exceedances = client.get("/export/exceedances.csv?city=yangquan-demo&period=year&year=2024")
    assert exceedances.status_code == 200
    text_ = exceedances.data.decode("utf-8-sig")
    assert "kuangqu" in text_ and "chengqu" not in text_ and "yangquan-demo," not in text_
    # and the ranking: every district's rank, the numbers of its own district only
    ranking = client.get("/export/ranking.csv?city=yangquan-demo&period=year&year=2024")
    assert ranking.status_code == 200
    rows = list(csv.reader(io.StringIO(ranking.data.decode("utf-8-sig"))))
    value, previous = rows[0].index("数值"), rows[0].index("去年同期")
    for row in rows[1:]:
        mine = row[rows[0].index("代码")] == "kuangqu"
        assert bool(row[value]) == mine and bool(row[previous]) == mine, row


def test_staff_responses_are_not_cached_but_the_javascript_is(app):
    client = staff_client(app, "viewer")
    layout = client.get("/_dash-layout")
    assert layout.headers["Cache-Control"] == "no-store"
    page = client.post("/_dash-update-component", json=router_payload("/ranking"))
    assert page.headers["Cache-Control"] == "no-store"
    index = client.get("/").get_data(as_text=True)
    script = re.search(r'src="(/_dash-component-suites/[^"]+)"', index).group(1)
    bundle = client.get(script)
    assert bundle.status_code == 200 and "no-store" not in bundle.headers.get("Cache-Control", "")
