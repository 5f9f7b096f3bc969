"""Accounts, lockout, sign-out and proxies (security issue 13), on SQLite and PostgreSQL.

- the failure count is atomic: parallel wrong passwords check at most the limit;
- failures lock a (username, address) pair, unknown names are answered like known
  ones, ``lantian users unlock`` and the admin page lift locks;
- behind ``trusted_proxies`` the client's address comes from X-Forwarded-For, and
  without them the header is ignored;
- signing out ends that session on the server (a copied cookie stops working; the
  account's other sessions go on), and a session has an absolute lifetime;
- audit rows are single bounded lines; odd login input never gives a 500.
"""
from __future__ import annotations

import re
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select, text, update

from dashboard import auth
from dashboard.context import engine_of
from store import schema, users
from store.users import (DETAIL_MAX, add_user, audit, audit_entries, authenticate,
                         login_failures, now)
from tests.dash_helpers import (STAFF_PASSWORD, sqlite_copy, dump, ensure_user, login,
                                router_payload, started_app)

MAX = 5
LOCKOUT = timedelta(minutes=15)
WRONG = "wrong password!"


# -- fixtures and helpers ----------------------------------------------------------------

@pytest.fixture
def backend_app(engine, db_url):
    """The dashboard on an empty migrated database of each backend."""
    from dashboard.app import create_app
    app = create_app(db_url, cache_url="")
    yield app
    engine_of(app.server).dispose()


@pytest.fixture(scope="module")
def demo_copy(demo_db_url, tmp_path_factory):
    return sqlite_copy(demo_db_url, tmp_path_factory.mktemp("accounts"))


@pytest.fixture(scope="module")
def app(demo_copy):
    """The dashboard on a copy of the demo database, no trusted proxy (the default)."""
    return started_app(demo_copy)


class HashCounter:
    """Counts the password hash checks (known and dummy) and makes each one slow, so
    that parallel attempts overlap."""

    def __init__(self, delay: float = 0.1):
        self.calls = 0
        self.delay = delay
        self.lock = threading.Lock()
        self.real = users.check_password_hash

    def __call__(self, password_hash, password):
        with self.lock:
            self.calls += 1
        time.sleep(self.delay)
        return self.real(password_hash, password)


def message_of(response) -> str:
    found = re.search(r'id="login-message" role="alert">(.*?)</p>',
                      response.get_data(as_text=True), re.S)
    return found.group(1) if found else ""


def client_at(app, address: str, forwarded: str | None = None):
    client = app.server.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    if forwarded is not None:
        client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded
    return client


def signed_in(app, username: str, address: str = "127.0.0.1"):
    client = client_at(app, address)
    assert login(client, username).status_code == 302
    with client.session_transaction() as session:
        client.environ_base["HTTP_X_CSRFTOKEN"] = session["csrf"]
    return client


def actions(engine, username: str) -> list[str]:
    with engine.connect() as conn:
        log = audit_entries(conn, 1000)
    return list(log.loc[log["username"] == username, "action"])


def forget_address(engine, address: str) -> None:
    """Age an address's audit rows past the per-address slow-down window."""
    with engine.begin() as conn:
        conn.execute(update(schema.audit_log).where(schema.audit_log.c.remote_addr == address)
                     .values(at=now() - 2 * auth.ADDRESS_WINDOW))


# -- 1. the failure count is atomic ---------------------------------------------------------

@pytest.mark.parametrize("name", ["victim", "no-such-user"])
def test_parallel_wrong_passwords_check_at_most_the_limit(engine, monkeypatch, name):
    with engine.begin() as conn:
        add_user(conn, "victim", STAFF_PASSWORD, "admin", actor="tests")
    counter = HashCounter()
    monkeypatch.setattr(users, "check_password_hash", counter)

    def burst(n: int, address: str) -> list[str]:
        barrier = threading.Barrier(n)

        def attempt(_):
            barrier.wait()
            return authenticate(engine, name, WRONG, remote_addr=address,
                                max_failures=MAX, lockout=LOCKOUT).reason
        with ThreadPoolExecutor(n) as pool:
            return list(pool.map(attempt, range(n)))

    # one short of the limit, in parallel: all checked, not locked
    assert sorted(burst(MAX - 1, "203.0.113.1")) == ["bad"] * (MAX - 1)
    assert counter.calls == MAX - 1
    with engine.connect() as conn:
        assert login_failures(conn, name)["locked_until"].isna().all()
    # 8 at a time from a fresh address: exactly MAX checked and counted, then locked
    counter.calls = 0
    reasons = burst(8, "203.0.113.2")
    assert counter.calls == MAX
    assert reasons.count("bad") == MAX - 1 and reasons.count("locked") == 8 - MAX + 1
    with engine.connect() as conn:
        pairs = login_failures(conn, name).set_index("remote_addr")
    assert pairs.loc["203.0.113.2", "locked_until"] > now()
    assert pd_isna(pairs.loc["203.0.113.1", "locked_until"])
    log = actions(engine, name)
    assert log.count("lockout") == 1 and log.count("login_failed") == (MAX - 1) + MAX
    assert log.count("login_locked") == 8 - MAX
    # the locked address is refused unchecked even with the right password …
    counter.calls = 0
    assert authenticate(engine, name, STAFF_PASSWORD, remote_addr="203.0.113.2",
                        max_failures=MAX, lockout=LOCKOUT).reason == "locked"
    assert counter.calls == 0
    # … and the other address still signs in (its failures are forgotten)
    outcome = authenticate(engine, name, STAFF_PASSWORD, remote_addr="203.0.113.1",
                           max_failures=MAX, lockout=LOCKOUT)
    assert outcome.ok == (name == "victim")


def pd_isna(value) -> bool:
    import pandas as pd
    return bool(pd.isna(value))


def test_parallel_sign_ins_through_the_login_form(backend_app, monkeypatch):
    app = backend_app
    ensure_user(app, "form-victim", "viewer")
    counter = HashCounter()
    monkeypatch.setattr(users, "check_password_hash", counter)
    clients = [client_at(app, "198.51.100.20") for _ in range(8)]
    tokens = []
    for client in clients:                       # the forms first, the posts together
        client.get("/login")
        with client.session_transaction() as session:
            tokens.append(session["csrf"])
    barrier = threading.Barrier(len(clients))

    def post(i):
        barrier.wait()
        return clients[i].post("/login", data={"username": "form-victim", "password": WRONG,
                                               "csrf_token": tokens[i]}).status_code
    with ThreadPoolExecutor(len(clients)) as pool:
        statuses = list(pool.map(post, range(len(clients))))
    assert set(statuses) <= {401, 429} and 500 not in statuses
    assert counter.calls <= MAX
    engine = engine_of(app.server)
    with engine.connect() as conn:
        pair = login_failures(conn, "form-victim")
    if 429 not in statuses:             # none slowed by the address's own limit
        assert counter.calls == MAX and pair["locked_until"].notna().all()
    assert actions(engine, "form-victim").count("login_failed") == counter.calls


# -- 2. per (account, address) lockout; unknown names; unlock ----------------------------

def test_an_attacker_locks_only_their_own_address(app):
    ensure_user(app, "boss", "admin")
    engine = engine_of(app.server)
    attacker = client_at(app, "192.0.2.10")
    for _ in range(MAX):
        assert login(attacker, "boss", WRONG).status_code == 401
    forget_address(engine, "192.0.2.10")        # past the address's own slow-down
    refused = login(attacker, "boss")
    assert refused.status_code == 401 and "锁定" in message_of(refused)
    # the real administrator, elsewhere, signs in
    assert login(client_at(app, "192.0.2.11"), "boss").status_code == 302
    # an administrator lifts the lock on the admin page (or: lantian users unlock)
    from tests.test_admin import account
    admin = signed_in(app, "boss", "192.0.2.11")
    page = dump(admin.post("/_dash-update-component", json=router_payload("/admin")).get_json())
    assert "解除锁定" in page and "1 个地址锁定至" in page
    unlocked = dump(account(admin, "unlock", "boss").get_json())
    assert "已解除" in unlocked and "个地址锁定至" not in unlocked
    assert login(attacker, "boss").status_code == 302
    assert "user_unlock" in actions(engine, "boss")


def test_unknown_names_are_answered_like_known_ones(app):
    ensure_user(app, "real-name", "viewer")
    engine = engine_of(app.server)
    answers = {}
    for name, address in (("real-name", "192.0.2.20"), ("ghost-name", "192.0.2.21")):
        client = client_at(app, address)
        seen = []
        for attempt in range(MAX + 1):
            if attempt == MAX:
                forget_address(engine, address)
            response = login(client, name, WRONG)
            seen.append((response.status_code, message_of(response)))
        answers[name] = seen
    assert answers["real-name"] == answers["ghost-name"]
    assert [s for s, _ in answers["ghost-name"]] == [401] * (MAX + 1)
    assert "锁定" not in answers["ghost-name"][MAX - 2][1]
    assert "锁定" in answers["ghost-name"][MAX - 1][1] and "锁定" in answers["ghost-name"][MAX][1]


def test_known_and_unknown_names_cost_the_same_hash_check(engine, monkeypatch):
    """An unknown name is checked against a hash of the same method and cost as a real
    account's, exactly once, so the answer takes as long (timing itself is left to
    benchmarks: a timed test fails on a busy machine)."""
    import store.users as users
    with engine.begin() as conn:
        add_user(conn, "timed", STAFF_PASSWORD, "viewer", actor="tests")
        stored = conn.execute(schema.users.select().where(
            schema.users.c.username == "timed")).first().password_hash
    checked = []
    real = users.check_password_hash
    monkeypatch.setattr(users, "check_password_hash",
                        lambda h, p: checked.append(h.split("$", 1)[0]) or real(h, p))
    for i, name in enumerate(("timed", "untimed")):
        authenticate(engine, name, WRONG, remote_addr=f"10.9.9.{i}", max_failures=MAX,
                     lockout=LOCKOUT)
    method = stored.split("$", 1)[0]                 # e.g. scrypt:32768:8:1
    assert checked == [method, method]


def test_cli_unlock_lifts_one_address_or_all_and_is_audited(engine, cli):
    with engine.begin() as conn:
        add_user(conn, "locked-out", STAFF_PASSWORD, "analyst", actor="tests")
    for address in ("203.0.113.50", "203.0.113.51"):
        for _ in range(MAX):
            authenticate(engine, "locked-out", WRONG, remote_addr=address, max_failures=MAX,
                         lockout=LOCKOUT)
    listed = re.sub(r"[\s│┃]+", " ", cli("users", "list").output)    # the table wraps
    assert "locked from 2" in listed and "addresses" in listed
    result = cli("users", "unlock", "locked-out", "--address", "203.0.113.50")
    assert result.exit_code == 0 and "1 lock lifted from 203.0.113.50" in result.output

    def sign_in(address):
        return authenticate(engine, "locked-out", STAFF_PASSWORD, remote_addr=address,
                            max_failures=MAX, lockout=LOCKOUT).reason
    assert sign_in("203.0.113.50") == "" and sign_in("203.0.113.51") == "locked"
    result = cli("users", "unlock", "locked-out")
    assert result.exit_code == 0 and "1 lock lifted from every address" in result.output
    assert sign_in("203.0.113.51") == ""
    with engine.connect() as conn:
        log = audit_entries(conn, 50, actions=("user_unlock",))
    assert list(log["detail"]) == ["locked-out all addresses: 1 locked",
                                   "locked-out from 203.0.113.50: 1 locked"]
    assert (log["username"] == "cli").all()
    assert cli("users", "unlock", "nobody-here").exit_code == 1


def test_a_lock_runs_out_and_counting_starts_again(engine, monkeypatch):
    import store.users as users
    clock = [users.now()]
    monkeypatch.setattr(users, "now", lambda: clock[0])     # the lock's clock, not the wall's
    lockout = timedelta(minutes=15)

    def attempt(password=WRONG):
        return authenticate(engine, "ghost", password, remote_addr="10.1.1.1",
                            max_failures=2, lockout=lockout).reason
    assert [attempt(), attempt(), attempt()] == ["bad", "locked", "locked"]
    clock[0] += lockout - timedelta(seconds=1)
    assert attempt() == "locked"
    clock[0] += timedelta(seconds=2)
    assert [attempt(), attempt()] == ["bad", "locked"]


# -- 3. reverse proxies ------------------------------------------------------------------------

def test_behind_a_trusted_proxy_the_forwarded_address_is_used(demo_copy, tmp_path):
    from config.settings import load_settings
    from dashboard.app import create_app
    path = tmp_path / "proxied.sqlite"
    shutil.copy(demo_copy.split("///", 1)[1], path)
    settings = replace(load_settings(), trusted_proxies=1)
    proxied = create_app(f"sqlite:///{path}", cache_url="", settings=settings)
    engine = engine_of(proxied.server)
    # the proxy appends the address it saw; what the client sent before it is ignored
    for n in range(auth.ADDRESS_FREE_FAILURES):
        client = client_at(proxied, "10.0.0.2", "6.6.6.6, 198.51.100.77")
        assert login(client, f"proxied-{n}", WRONG).status_code == 401
    with engine.connect() as conn:
        log = audit_entries(conn, 10, actions=("login_failed",))
    assert set(log["remote_addr"]) == {"198.51.100.77"}
    # throttled per client address, not for everyone behind the proxy
    assert login(client_at(proxied, "10.0.0.2", "198.51.100.77"), "x-y", WRONG).status_code == 429
    assert login(client_at(proxied, "10.0.0.2", "198.51.100.78"), "x-y", WRONG).status_code == 401
    engine.dispose()


def test_without_trusted_proxies_x_forwarded_for_is_ignored(app):
    engine = engine_of(app.server)
    for n in range(auth.ADDRESS_FREE_FAILURES):
        client = client_at(app, "192.0.2.99", f"198.51.100.{n}")
        assert login(client, f"spoof-{n}", WRONG).status_code == 401
    with engine.connect() as conn:
        log = audit_entries(conn, 10, actions=("login_failed",))
    assert set(log["remote_addr"].head(auth.ADDRESS_FREE_FAILURES)) == {"192.0.2.99"}
    # a new forged header does not escape the slow-down
    assert login(client_at(app, "192.0.2.99", "198.51.100.200"), "x-y", WRONG).status_code == 429


def test_trusted_proxies_setting(tmp_path):
    from config import ConfigError
    from config.settings import load_settings
    base = {"LANTIAN_SETTINGS": "", "LANTIAN_DATA_DIR": str(tmp_path)}
    assert load_settings(base).trusted_proxies == 0
    assert load_settings({**base, "LANTIAN_TRUSTED_PROXIES": "2"}).trusted_proxies == 2
    settings_file = tmp_path / "settings.yaml"
    settings_file.write_text("trusted_proxies: 1\n")
    assert load_settings({**base, "LANTIAN_SETTINGS": str(settings_file)}).trusted_proxies == 1
    for bad in ("-1", "one", "1.5"):
        with pytest.raises(ConfigError, match="trusted_proxies"):
            load_settings({**base, "LANTIAN_TRUSTED_PROXIES": bad})


# -- 4. sign-out ends the session on the server ------------------------------------------------

def copy_of(client, app):
    """Another browser holding a copy of ``client``'s cookies and CSRF header."""
    thief = app.server.test_client()
    for name in (auth.SESSION_COOKIE, auth.CSRF_COOKIE):
        cookie = client.get_cookie(name)
        thief.set_cookie(name, cookie.value)
    thief.environ_base["HTTP_X_CSRFTOKEN"] = client.environ_base["HTTP_X_CSRFTOKEN"]
    return thief


def staff_request(client):
    return client.post("/_dash-update-component", json=router_payload("/public"))


def test_sign_out_ends_a_copied_cookie_but_not_other_devices(backend_app):
    app = backend_app
    ensure_user(app, "two-devices", "viewer")
    laptop = signed_in(app, "two-devices")
    phone = signed_in(app, "two-devices")
    copied = copy_of(laptop, app)
    assert copied.get("/_dash-layout").get_data(as_text=True).count("two-devices") >= 1
    token = laptop.environ_base["HTTP_X_CSRFTOKEN"]
    assert laptop.post("/logout", data={"csrf_token": token}).status_code == 302
    # the copy is refused: a callback (401) and a page (to the login form)
    refused = copied.post("/_dash-update-component", json=router_payload("/ranking"))
    assert refused.status_code == 401
    page = copied.get("/ranking")
    assert page.status_code == 302 and page.headers["Location"].startswith("/login?")
    assert "ended=1" in page.headers["Location"]
    assert "two-devices" not in copied.get("/_dash-layout").get_data(as_text=True)
    # the other device goes on
    assert phone.post("/_dash-update-component",
                      json=router_payload("/ranking")).status_code != 401
    assert "two-devices" in phone.get("/_dash-layout").get_data(as_text=True)
    engine = engine_of(app.server)
    with engine.connect() as conn:
        rows = conn.execute(select(schema.sessions.c.ended_at)).scalars().all()
    assert sorted(r is None for r in rows) == [False, True]
    assert "logout" in actions(engine, "two-devices")


def test_a_session_ends_session_hours_after_sign_in_however_active(backend_app):
    app = backend_app
    ensure_user(app, "busy", "viewer")
    client = signed_in(app, "busy")
    assert "busy" in client.get("/_dash-layout").get_data(as_text=True)
    lifetime = app.server.extensions[auth.EXTENSION]["lifetime"]
    with engine_of(app.server).begin() as conn:
        conn.execute(update(schema.sessions).values(
            created_at=now() - lifetime - timedelta(minutes=1)))
    # the cookie itself is fresh (it slides with every request): the row decides
    assert client.post("/_dash-update-component",
                       json=router_payload("/ranking")).status_code == 401
    assert "ended=1" in client.get("/ranking").headers["Location"]


def test_one_query_per_request_checks_the_session(app):
    ensure_user(app, "counted", "viewer")
    client = signed_in(app, "counted")
    engine = engine_of(app.server)
    statements = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert "counted" in client.get("/_dash-layout").get_data(as_text=True)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    about_accounts = [s for s in statements if re.search(r"\b(users|sessions)\b", s)]
    assert len(about_accounts) == 1 and "JOIN" in about_accounts[0].upper()


def test_a_cookie_of_the_old_format_is_refused(app):
    ensure_user(app, "old-cookie", "viewer")
    client = signed_in(app, "old-cookie")
    with engine_of(app.server).connect() as conn:
        account_id = conn.execute(select(schema.users.c.id).where(
            schema.users.c.username == "old-cookie")).scalar()
    with client.session_transaction() as session:
        session["_user_id"] = f"{account_id}:0"          # an old-format cookie: no session id
    assert staff_request(client).status_code in (200, 204)     # public: still served
    assert client.post("/_dash-update-component",
                       json=router_payload("/ranking")).status_code == 401


# -- 5. audit rows are single bounded lines -----------------------------------------------------

def test_audit_rows_are_one_line_of_bounded_length(engine):
    with engine.begin() as conn:
        audit(conn, "upload_refused", "name\x00with\nnul" + "n" * 100, "10.0.0.1\r\n" + "9" * 99,
              "file x.csv: bad value " + "A" * 5_000_000)
        audit(conn, "upload_refused", "ok", "10.0.0.1", "line one\r\nline two\tend\u2028x")
    with engine.connect() as conn:
        rows = audit_entries(conn, 2)
    long, short = rows.iloc[1], rows.iloc[0]
    assert len(long["detail"]) == DETAIL_MAX and long["detail"].endswith("…")
    assert len(long["username"]) <= 64 and len(long["remote_addr"]) <= 64
    for value in (*long[["username", "remote_addr", "detail"]], *short[["detail"]]):
        assert not re.search(r"[\x00-\x1f\x7f\u2028]", value), value
    assert short["detail"] == "line one line two end x"


# -- 6. odd login input never gives a 500 -------------------------------------------------------

def post_login(client, **fields):
    client.get("/login")
    with client.session_transaction() as session:
        token = session["csrf"]
    return client.post("/login?" + fields.pop("query", ""),
                       data={"csrf_token": token, **fields})


def test_odd_login_input_is_answered_cleanly(backend_app):
    app = backend_app
    ensure_user(app, "odd-input", "viewer")
    for n, fields in enumerate([
            {"username": "odd\x00input", "password": STAFF_PASSWORD},
            {"username": "odd-input\r\nX-Evil: 1", "password": STAFF_PASSWORD},
            {"username": "x" * 10_000, "password": "y"},
            {"username": "odd-input", "password": "p" * (10 * 1024 * 1024)},
            {"username": "odd-input", "password": "\x00" * 20},
            {"password": STAFF_PASSWORD},
            {}]):
        response = post_login(client_at(app, f"10.2.0.{n}"), **fields)
        assert response.status_code in (400, 401, 413), (n, response.status_code)
        assert "Traceback" not in response.get_data(as_text=True)
    # a correct sign-in with an odd next: no 500, never a header split
    for target in ("/a\r\nb", "/a%0d%0ab", "/\x00", "//evil.example", "/" + "x" * 5000):
        client = client_at(app, "10.3.0.1")
        response = post_login(client, username="odd-input", password=STAFF_PASSWORD,
                              next=target, query="next=" + target)
        assert response.status_code == 302, target
        assert "\n" not in response.headers["Location"]
        assert response.headers["Location"].startswith("/")
        assert not response.headers["Location"].startswith("//")


# -- migration 0006 -------------------------------------------------------------------------------

def test_migration_0006_up_and_down_keeps_the_accounts(db_url):
    from alembic import command

    from store.db import alembic_config, make_engine, migrate
    eng = make_engine(db_url)
    command.upgrade(alembic_config(eng), "0005")
    stamp = now()
    with eng.begin() as conn:
        conn.execute(text(
            "INSERT INTO users (username, password_hash, role, active, failed_logins, "
            "locked_until, session_epoch, created_at, updated_at) VALUES ('kept', 'h', "
            "'admin', :t, 3, :s, 2, :s, :s)"), {"t": True, "s": stamp})
    migrate(eng)
    with eng.connect() as conn:
        columns = {c["name"] for c in conn.dialect.get_columns(conn, "users")}
        assert "failed_logins" not in columns and "locked_until" not in columns
        assert conn.execute(select(schema.users.c.username, schema.users.c.session_epoch)
                            ).all() == [("kept", 2)]
        assert conn.execute(select(func.count()).select_from(schema.sessions)).scalar() == 0
    command.downgrade(alembic_config(eng), "0005")
    with eng.connect() as conn:
        tables = set(conn.dialect.get_table_names(conn))
        assert "sessions" not in tables and "login_failures" not in tables
        assert conn.execute(text("SELECT username, failed_logins FROM users")).all() == \
            [("kept", 0)]
    migrate(eng)
    eng.dispose()
