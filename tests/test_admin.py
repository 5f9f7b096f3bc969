"""The administration page: accounts, targets and recipients (saved as versions of the
city's site configuration, store/site_copies.py), the audit log — through the real
callbacks, as the browser calls them.

Each test gets its own database and data directory, initialised from a temporary copy
of the demo site file; the edits never write that file (nor config/sites/).
"""
from __future__ import annotations

import shutil

import pytest
from sqlalchemy import select

from config.sites import load_site_config
from dashboard import ids
from dashboard.context import engine_of
from store import schema
from store.db import data_version
from store.users import audit_entries, get_account
from store.site_copies import newest, versions
from tests.conftest import YANGQUAN_SITES, _lantian
from tests.dash_helpers import dump, login, router_payload, site_save, staff_client

ACCOUNTS = f"..{ids.ADMIN_USER_RESULT}.children...{ids.ADMIN_USERS_GRID}.rowData.."
BUTTONS = {"add": ids.ADMIN_USER_ADD, "role": ids.ADMIN_USER_ROLE_BTN,
           "passwd": ids.ADMIN_USER_PASSWD, "disable": ids.ADMIN_USER_DISABLE,
           "enable": ids.ADMIN_USER_ENABLE, "unlock": ids.ADMIN_USER_UNLOCK}


@pytest.fixture
def site(tmp_path, monkeypatch):
    """(app, site file copy): a database initialised from a copy of the demo site file."""
    from dashboard.app import create_app
    monkeypatch.setenv("LANTIAN_DATA_DIR", str(tmp_path / "data"))
    site_file = tmp_path / "yangquan.yaml"
    shutil.copy(YANGQUAN_SITES, site_file)
    url = f"sqlite:///{tmp_path / 'admin.sqlite'}"
    _lantian(url, "init", "--sites", site_file)
    app = create_app(url, cache_url="")
    app.server.test_client().get("/public")
    return app, site_file


def current_site(app, city: str = "yangquan-demo"):
    """(site, version): the city's newest saved version, read from the file that
    ``cities.site_file`` names (as the weekly reports and alerts read it)."""
    with engine_of(app.server).connect() as conn:
        version = newest(conn, city)
        path = conn.execute(select(schema.cities.c.site_file).where(
            schema.cities.c.id == city)).scalar()
    with open(path, encoding="utf-8") as handle:
        assert handle.read() == version.content
    return load_site_config(path), version


def account(client, action: str, username: str, password: str = "", role: str = "viewer",
            scope: str = ""):
    payload = {
        "output": ACCOUNTS,
        "outputs": [{"id": ids.ADMIN_USER_RESULT, "property": "children"},
                    {"id": ids.ADMIN_USERS_GRID, "property": "rowData"}],
        "inputs": [{"id": button, "property": "n_clicks", "value": 1 if name == action else None}
                   for name, button in BUTTONS.items()],
        "state": [{"id": ids.ADMIN_USER_NAME, "property": "value", "value": username},
                  {"id": ids.ADMIN_USER_PASSWORD, "property": "value", "value": password},
                  {"id": ids.ADMIN_USER_ROLE, "property": "value", "value": role},
                  {"id": ids.ADMIN_USER_SCOPE, "property": "value", "value": scope}],
        "changedPropIds": [f"{BUTTONS[action]}.n_clicks"],
    }
    return client.post("/_dash-update-component", json=payload)


def save(client, kind: str, rows: list[dict], city: str = "yangquan-demo", version=None):
    return site_save(client, kind, rows, city, version)


def message(response) -> str:
    return dump(response.get_json())


def test_the_page_shows_accounts_targets_recipients_and_the_audit_log(site):
    app, site_file = site
    client = staff_client(app, "admin")
    body = message(client.post("/_dash-update-component", json=router_payload("/admin")))
    assert "page-error" not in body
    for part in (ids.ADMIN_USERS_GRID, ids.ADMIN_TARGETS_GRID, ids.ADMIN_RECIPIENTS_GRID,
                 ids.ADMIN_AUDIT_GRID, "test-admin", "demo-head@example.org",
                 "lantian sites history --city yangquan-demo"):
        assert part in body, part
    # the twelve Yangquan targets of the site file (NO2 37 … SO2 44)
    assert body.count('"statistic": "annual_mean"') == 12


def test_accounts_are_managed_with_the_administrator_in_the_audit_log(site):
    app, _ = site
    client = staff_client(app, "admin")
    added = account(client, "add", "kq-viewer", "kuangqu password", "viewer",
                    "yangquan-demo/kuangqu")
    assert added.status_code == 200 and "kq-viewer" in message(added)
    engine = engine_of(app.server)
    with engine.connect() as conn:
        created = get_account(conn, username="kq-viewer")
    assert (created.role, created.city_id, created.district_code) == \
        ("viewer", "yangquan-demo", "kuangqu")
    # the new account signs in and lands on its district
    fresh = app.server.test_client()
    assert login(fresh, "kq-viewer", "kuangqu password").headers["Location"] == "/district"

    assert "at least 10" in message(account(client, "passwd", "kq-viewer", "short"))
    assert "已重置" in message(account(client, "passwd", "kq-viewer", "a new long password"))
    assert "已更改" in message(account(client, "role", "kq-viewer", role="analyst"))
    assert "已停用" in message(account(client, "disable", "kq-viewer"))
    assert login(app.server.test_client(), "kq-viewer", "a new long password").status_code == 401
    assert "已启用" in message(account(client, "enable", "kq-viewer"))
    assert login(app.server.test_client(), "kq-viewer",
                 "a new long password").status_code == 302
    with engine.connect() as conn:
        now = get_account(conn, username="kq-viewer")
        log = audit_entries(conn, 50)
    assert (now.role, now.district_code, now.active) == ("analyst", None, True)
    mine = log[log["username"] == "test-admin"]
    assert list(mine["action"])[:5][::-1] == ["user_add", "user_passwd", "user_role",
                                             "user_disable", "user_enable"]
    assert (mine["remote_addr"] == "127.0.0.1").all()
    # no administrator can lock themselves out
    assert "不能停用" in message(account(client, "disable", "test-admin"))
    assert "不能停用" in message(account(client, "role", "test-admin", role="viewer"))
    assert "already exists" in message(account(client, "add", "kq-viewer", "another password 1"))


def test_only_administrators_reach_the_page_and_its_callbacks(site):
    app, _ = site
    for role in ("viewer", "analyst"):
        client = staff_client(app, role)
        assert client.post("/_dash-update-component",
                           json=router_payload("/admin")).status_code == 403
        assert account(client, "add", f"sneaky-{role}", "sneaky password").status_code == 403
        assert save(client, "targets", []).status_code == 403
    assert account(app.server.test_client(), "add", "anon", "anonymous pw").status_code == 401
    with engine_of(app.server).connect() as conn:
        assert get_account(conn, username="sneaky-viewer") is None
        assert get_account(conn, username="anon") is None


def test_targets_saved_to_the_site_file_and_the_database(site):
    app, site_file = site
    client = staff_client(app, "admin")
    from config.site_edit import target_rows
    shipped = site_file.read_bytes()
    rows = target_rows(load_site_config(site_file))
    assert rows[0]["district"] == "chengqu" and rows[0]["value"] == 37
    rows[0]["value"] = "36"                                  # the grid hands over text
    rows.append({"district": "kuangqu", "pollutant": "PM2.5", "statistic": "annual_mean",
                 "value": 38, "unit": "", "years": "2026-2027", "note": "2026 plan"})
    rows.append({"district": "", "pollutant": "", "statistic": "", "value": "", "unit": "",
                 "years": "", "note": ""})                    # an empty row added by mistake
    engine = engine_of(app.server)
    with engine.connect() as conn:
        version = data_version(conn)
    response = save(client, "targets", rows)
    assert "已保存：13 行" in message(response) and "第 2 版" in message(response)
    saved, stored_version = current_site(app)
    assert [(t.district, t.pollutant, t.value) for t in saved.targets][0] == \
        ("chengqu", "NO2", 36)
    assert saved.targets[-1].first_year == 2026 and saved.targets[-1].last_year == 2027
    assert "# Weekly report emails" in stored_version.content            # comments kept
    assert stored_version.version == 2 and stored_version.saved_by == "test-admin"
    # the file the city was loaded from is not written, and nothing is left beside it
    assert site_file.read_bytes() == shipped
    assert not list(site_file.parent.glob("*.bak"))
    t, d = schema.targets, schema.districts
    with engine.connect() as conn:
        stored = conn.execute(select(d.c.code, t.c.pollutant, t.c.value, t.c.first_year)
                              .select_from(t.join(d, d.c.id == t.c.district_id))).all()
        assert data_version(conn) == version + 1              # dashboards recompute
        log = audit_entries(conn, 5, ("targets_change",))
    assert ("chengqu", "NO2", 36.0, 2021) in stored and ("kuangqu", "PM2.5", 38.0, 2026) in stored
    assert len(stored) == 13
    assert log.iloc[0]["username"] == "test-admin"
    assert "+2 -1 rows" in log.iloc[0]["detail"] and "2026 plan" in log.iloc[0]["detail"]


def test_an_invalid_edit_names_the_row_and_changes_nothing(site):
    app, site_file = site
    client = staff_client(app, "admin")
    before = site_file.read_bytes()
    from config.site_edit import target_rows
    rows = target_rows(load_site_config(site_file))
    rows[3]["district"] = "atlantis"
    response = message(save(client, "targets", rows))
    assert "未保存" in response and "targets[3].district" in response and "atlantis" in response
    rows[3]["district"] = "jiaoqu"
    rows[5]["value"] = "forty"
    assert "targets[5].value" in message(save(client, "targets", rows))
    assert site_file.read_bytes() == before
    assert not list(site_file.parent.glob("*.bak"))
    with engine_of(app.server).connect() as conn:
        assert len(versions(conn, "yangquan-demo")) == 1     # no version saved
        assert conn.execute(select(schema.targets.c.value).where(
            schema.targets.c.value == 36)).first() is None
        assert audit_entries(conn, 5, ("targets_change",)).empty


def test_recipients_saved_to_the_site_file(site):
    app, site_file = site
    client = staff_client(app, "admin")
    from config.site_edit import recipient_rows
    rows = recipient_rows(load_site_config(site_file))
    rows.append({"scope": "kuangqu", "email": "new.person@example.org", "lang": "en",
                 "name": "New Person"})
    rows = [r for r in rows if r["email"] != "yuxian@example.org"]
    assert "已保存" in message(save(client, "recipients", rows))
    # the weekly reports and alerts read the file cities.site_file names: the new version
    recipients = current_site(app)[0].recipients
    assert [r.email for r in recipients.of("kuangqu")] == ["kuangqu@example.org",
                                                           "new.person@example.org"]
    assert recipients.of("kuangqu")[1].lang == "en"
    assert recipients.of("yuxian") == ()
    bad = rows + [{"scope": "city", "email": "not an address", "lang": "zh", "name": ""}]
    assert "is not an email address" in message(save(client, "recipients", bad))
    with engine_of(app.server).connect() as conn:
        log = audit_entries(conn, 5, ("recipients_change",))
    assert len(log) == 1 and "new.person@example.org" in log.iloc[0]["detail"]


def test_messages_follow_the_language_of_the_page(site):
    app, _ = site
    client = staff_client(app, "admin")
    client.environ_base["HTTP_REFERER"] = "http://localhost/admin?city=yangquan-demo&lang=en"
    assert "Enter a username first." in message(account(client, "disable", ""))
    client.environ_base["HTTP_REFERER"] = "http://localhost/admin?xlang=en"
    assert "请先填写用户名" in message(account(client, "disable", ""))
