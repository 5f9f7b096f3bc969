"""Staff accounts and the audit log (tables ``users`` and ``audit_log``).

Passwords are kept only as werkzeug scrypt hashes (``scrypt:32768:8:1$salt$hash``).
Every change of an account and every login outcome is written to the audit log
in the same transaction as the change, so the log cannot miss one; audit rows
are single lines of bounded length (:func:`clean_text`).

Failed sign-ins are counted per (username as typed, address) in
``login_failures`` (:func:`authenticate`), the same way for names that exist and
names that do not; staff sessions are rows of ``sessions`` (:func:`start_session`,
:func:`session_account`, :func:`end_session`).
"""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import and_, case, func, or_, select
from werkzeug.security import check_password_hash, generate_password_hash

from . import schema

ROLES = ("viewer", "analyst", "admin")
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")
MIN_PASSWORD = 10
#: Longest password accepted (the login form's maxlength): hashing megabytes costs.
MAX_PASSWORD = 1024
HASH_METHOD = "scrypt"
#: Longest detail of an audit row (longer ones end in "…"): room for an upload's
#: name, checksum, options and counts, not for a 5 MB field of a refused file.
DETAIL_MAX = 1000
#: A (username, address) pair with no attempt for this long is forgotten.
FAILURE_MEMORY = timedelta(days=1)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# A real hash of a random password: unknown usernames are checked against it so a
# failed login takes as long whether or not the account exists.
_DUMMY_HASH = generate_password_hash("lantian-no-such-user-0c9d", method=HASH_METHOD)


class AccountError(ValueError):
    """A request about an account that cannot be done (message names the fix)."""


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    role: str
    city_id: str | None
    district_code: str | None
    active: bool
    session_epoch: int
    last_login_at: datetime | None

    @property
    def scoped(self) -> bool:
        return bool(self.district_code)

    def at_least(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


_COLUMNS = ("id", "username", "role", "city_id", "district_code", "active", "session_epoch",
            "last_login_at")


def now() -> datetime:
    """Naive China Standard Time, like every time in the database."""
    from zoneinfo import ZoneInfo
    return datetime.now(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None, microsecond=0)


def check_username(username: str) -> str:
    if not USERNAME.match(username or ""):
        raise AccountError(f"{username!r} is not a valid username: use 2–64 letters, digits "
                           "or . _ @ -, starting with a letter or digit")
    return username


def check_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise AccountError(f"the password is too short: use at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password is too long: use at most {MAX_PASSWORD} characters")
    if password.strip() != password:
        raise AccountError("the password starts or ends with a space; remove it")
    return password


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"{role!r} is not a role: use one of {', '.join(ROLES)}")
    return role


def hash_password(password: str) -> str:
    return generate_password_hash(check_password(password), method=HASH_METHOD)


def clean_text(value, limit: int) -> str:
    """``value`` as one line of at most ``limit`` characters: runs of control characters
    (CR, LF, NUL …) become one space, and a longer text is cut and ends in "…"."""
    raw = "" if value is None else str(value)
    head = raw[:limit * 4]                  # never scan megabytes for one short line
    text = _CONTROL.sub(" ", head)
    if len(text) > limit or len(raw) > len(head):
        text = text[:limit - 1] + "…"
    return text


def audit(conn, action: str, username: str = "", remote_addr: str = "", detail: str = "",
          at: datetime | None = None) -> None:
    """One audit row; every field is one line, the detail at most ``DETAIL_MAX`` characters."""
    conn.execute(schema.audit_log.insert().values(
        at=at or now(), username=clean_text(username, 64), action=clean_text(action, 32),
        remote_addr=clean_text(remote_addr, 64), detail=clean_text(detail, DETAIL_MAX)))


def _account(row) -> Account | None:
    return None if row is None else Account(**dict(zip(_COLUMNS, row)))


def get_account(conn, *, username: str | None = None, user_id: int | None = None
                ) -> Account | None:
    u = schema.users
    query = select(*[u.c[c] for c in _COLUMNS])
    query = query.where(u.c.username == username) if username is not None else \
        query.where(u.c.id == user_id)
    return _account(conn.execute(query).first())


def _check_scope(conn, city: str | None, district: str | None) -> None:
    if district and not city:
        raise AccountError("a district scope needs its city: give --city as well")
    if city and conn.execute(select(schema.cities.c.id).where(
            schema.cities.c.id == city)).first() is None:
        raise AccountError(f"no city {city!r} in the database; run 'lantian init' with its "
                           "site file first")
    if district and conn.execute(select(schema.districts.c.id).where(and_(
            schema.districts.c.city_id == city, schema.districts.c.code == district))
            ).first() is None:
        raise AccountError(f"city {city!r} has no district {district!r}")


def add_user(conn, username: str, password: str, role: str, *, city: str | None = None,
             district: str | None = None, actor: str = "cli", remote_addr: str = "") -> Account:
    check_username(username)
    check_role(role)
    password_hash = hash_password(password)
    if get_account(conn, username=username) is not None:
        raise AccountError(f"user {username!r} already exists; use 'lantian users passwd' to "
                           "change the password")
    _check_scope(conn, city, district)
    stamp = now()
    conn.execute(schema.users.insert().values(
        username=username, password_hash=password_hash, role=role, city_id=city or None,
        district_code=district or None, active=True, session_epoch=0,
        created_at=stamp, updated_at=stamp))
    scope = f" scope {city}/{district}" if district else (f" city {city}" if city else "")
    audit(conn, "user_add", actor, remote_addr, f"{username} role {role}{scope}")
    return get_account(conn, username=username)


def _require(conn, username: str) -> Account:
    account = get_account(conn, username=username)
    if account is None:
        raise AccountError(f"no user {username!r}; 'lantian users list' shows the accounts")
    return account


def set_password(conn, username: str, password: str, *, actor: str = "cli",
                 remote_addr: str = "") -> None:
    """New password; unlocks the account (every address) and ends its open sessions."""
    account = _require(conn, username)
    conn.execute(schema.users.update().where(schema.users.c.id == account.id).values(
        password_hash=hash_password(password), session_epoch=account.session_epoch + 1,
        updated_at=now()))
    _clear_failures(conn, username)
    audit(conn, "user_passwd", actor, remote_addr, username)


def set_active(conn, username: str, active: bool, *, actor: str = "cli",
               remote_addr: str = "") -> None:
    """Disable (ending its sessions at their next request) or enable an account."""
    account = _require(conn, username)
    conn.execute(schema.users.update().where(schema.users.c.id == account.id).values(
        active=active, session_epoch=account.session_epoch + (0 if active else 1),
        updated_at=now()))
    _clear_failures(conn, username)
    audit(conn, "user_enable" if active else "user_disable", actor, remote_addr, username)


def _clear_failures(conn, username: str, remote_addr: str | None = None) -> int:
    """Forget the failures and locks of ``username`` (from one address, or all)."""
    f = schema.login_failures
    query = f.delete().where(f.c.username == username)
    if remote_addr is not None:
        query = query.where(f.c.remote_addr == remote_addr)
    return conn.execute(query).rowcount


def unlock(conn, username: str, remote_addr: str | None = None, *, actor: str = "cli",
           actor_addr: str = "") -> int:
    """Lift the locks (and forget the failures) of an account, from one address or all;
    returns how many addresses were cleared. Audited as ``user_unlock``."""
    _require(conn, username)
    f = schema.login_failures
    where = [f.c.username == username, f.c.locked_until > now()]
    if remote_addr is not None:
        where.append(f.c.remote_addr == remote_addr)
    locked = conn.execute(select(func.count()).where(*where)).scalar()
    _clear_failures(conn, username, remote_addr)
    scope = f"from {remote_addr}" if remote_addr is not None else "all addresses"
    audit(conn, "user_unlock", actor, actor_addr, f"{username} {scope}: {locked} locked")
    return int(locked)


def set_role(conn, username: str, role: str, *, city: str | None = None,
             district: str | None = None, actor: str = "cli", remote_addr: str = "") -> None:
    account = _require(conn, username)
    check_role(role)
    _check_scope(conn, city, district)
    conn.execute(schema.users.update().where(schema.users.c.id == account.id).values(
        role=role, city_id=city or None, district_code=district or None,
        session_epoch=account.session_epoch + 1, updated_at=now()))
    scope = f" scope {city}/{district}" if district else (f" city {city}" if city else "")
    audit(conn, "user_role", actor, remote_addr, f"{username} role {role}{scope}")


def list_users(conn) -> pd.DataFrame:
    """The accounts; ``locked_until`` is the end of the latest running lock of the
    account (from any address, else NaT) and ``locked_addresses`` how many addresses
    are locked out of it."""
    u, f = schema.users, schema.login_failures
    locks = (select(f.c.username, func.max(f.c.locked_until).label("locked_until"),
                    func.count().label("locked_addresses"))
             .where(f.c.locked_until > now()).group_by(f.c.username).subquery())
    rows = conn.execute(
        select(u.c.username, u.c.role, u.c.city_id, u.c.district_code, u.c.active,
               locks.c.locked_until, func.coalesce(locks.c.locked_addresses, 0),
               u.c.last_login_at, u.c.created_at)
        .select_from(u.outerjoin(locks, locks.c.username == u.c.username))
        .order_by(u.c.username)).all()
    return pd.DataFrame(rows, columns=["username", "role", "city", "district", "active",
                                       "locked_until", "locked_addresses", "last_login_at",
                                       "created_at"])


@dataclass(frozen=True)
class LoginOutcome:
    account: Account | None
    reason: str = ""          # "" (ok) | bad | locked | disabled

    @property
    def ok(self) -> bool:
        return self.account is not None and not self.reason


def dummy_password_check(password: str) -> bool:
    """The work of a password check, for a name that cannot be an account (False)."""
    check_password_hash(_DUMMY_HASH, password or "")
    return False


def _upsert(conn, table):
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def _reserve_attempt(conn, username: str, remote_addr: str, stamp: datetime,
                     max_failures: int, lockout: timedelta) -> tuple[int, datetime | None]:
    """Count this attempt as a failure of the (username, address) pair *before* the
    password is checked, in one atomic statement; returns (its number in the row,
    the pair's lock end). The attempt that reaches ``max_failures`` sets the lock
    at once (lifted again if its password turns out right), so attempts racing it
    find the pair locked: never more than ``max_failures`` passwords are checked.
    A lock that has run out starts the count again at 1."""
    f = schema.login_failures
    expired = f.c.locked_until <= stamp
    attempt = case((expired, 1), else_=f.c.failures + 1)
    until = stamp + lockout
    statement = _upsert(conn, f).values(
        username=username, remote_addr=remote_addr, failures=1,
        locked_until=until if max_failures <= 1 else None, updated_at=stamp)
    statement = statement.on_conflict_do_update(
        index_elements=[f.c.username, f.c.remote_addr],
        set_={"failures": attempt,
              "locked_until": case((f.c.locked_until > stamp, f.c.locked_until),
                                   (attempt >= max_failures, until), else_=None),
              "updated_at": stamp},
    ).returning(f.c.failures, f.c.locked_until)
    number, locked_until = conn.execute(statement).one()
    return int(number), locked_until


def authenticate(engine, username: str, password: str, *, remote_addr: str,
                 max_failures: int, lockout: timedelta) -> LoginOutcome:
    """Check a login and record its outcome (audit log, failure count, lockout).

    Failures are counted per (``username`` as typed, ``remote_addr``), whether or
    not the account exists, so an unknown name gets exactly the answers of a known
    one (a wrong password: ``bad``; ``locked`` after ``max_failures`` of them in a
    row from that address, for ``lockout``), after the same work (one password
    hash checked, against a dummy hash for an unknown name). While a pair is
    locked even the right password is refused, unchecked. A lock holds only that
    address: the account signs in from any other. Takes the engine, not a
    connection: the attempt is counted in its own committed transaction before
    the (slow) password check, so parallel attempts see each other.
    """
    u = schema.users
    remote_addr = clean_text(remote_addr, 64)
    with engine.begin() as conn:
        stamp = now()
        attempt, locked_until = _reserve_attempt(conn, username, remote_addr, stamp,
                                                 max_failures, lockout)
        if locked_until is not None and locked_until > stamp and attempt != max_failures:
            audit(conn, "login_locked", username, remote_addr,
                  f"refused: locked until {locked_until:%Y-%m-%d %H:%M:%S}", at=stamp)
            return LoginOutcome(None, "locked")
        row = conn.execute(select(*[u.c[c] for c in _COLUMNS], u.c.password_hash)
                           .where(u.c.username == username)).first()
    account = None if row is None else _account(row[:-1])
    good = check_password_hash(_DUMMY_HASH if row is None else row[-1], password or "")
    good = good and account is not None
    with engine.begin() as conn:
        stamp = now()
        if good:
            _clear_failures(conn, username, remote_addr)
            if not account.active:
                audit(conn, "login_failed", username, remote_addr, "account disabled", at=stamp)
                return LoginOutcome(account, "disabled")
            conn.execute(u.update().where(u.c.id == account.id).values(last_login_at=stamp))
            _prune_failures(conn, stamp)
            audit(conn, "login", username, remote_addr, f"role {account.role}", at=stamp)
            return LoginOutcome(account)
        why = "unknown user" if account is None else "wrong password"
        audit(conn, "login_failed", username, remote_addr, f"{why} ({attempt} in a row)",
              at=stamp)
        if attempt >= max_failures:
            audit(conn, "lockout", username, remote_addr,
                  f"locked from {remote_addr} until {locked_until:%Y-%m-%d %H:%M:%S} after "
                  f"{attempt} failures", at=stamp)
            return LoginOutcome(account, "locked")
    return LoginOutcome(account, "bad")


def _prune_failures(conn, stamp: datetime) -> None:
    """Forget pairs without an attempt for ``FAILURE_MEMORY`` whose lock has run out."""
    f = schema.login_failures
    conn.execute(f.delete().where(f.c.updated_at < stamp - FAILURE_MEMORY, or_(
        f.c.locked_until.is_(None), f.c.locked_until < stamp)))


def login_failures(conn, username: str | None = None) -> pd.DataFrame:
    """The failure counts and locks per (username, address), newest first."""
    f = schema.login_failures
    query = select(f.c.username, f.c.remote_addr, f.c.failures, f.c.locked_until,
                   f.c.updated_at)
    if username is not None:
        query = query.where(f.c.username == username)
    rows = conn.execute(query.order_by(f.c.updated_at.desc())).all()
    return pd.DataFrame(rows, columns=["username", "remote_addr", "failures", "locked_until",
                                       "updated_at"])


# -- sessions ---------------------------------------------------------------------------------

def _session_key(token: str) -> str:
    """The stored id of a session: the SHA-256 of the cookie's token (a copy of the
    table cannot be turned into cookies)."""
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(conn, account_id: int, remote_addr: str = "", *,
                  lifetime: timedelta | None = None) -> str:
    """A new session of the account; returns the token the cookie carries. Sessions
    of the account that have ended or outlived ``lifetime`` are deleted."""
    s = schema.sessions
    stamp = now()
    if lifetime is not None:
        conn.execute(s.delete().where(s.c.user_id == account_id, or_(
            s.c.ended_at.is_not(None), s.c.created_at <= stamp - lifetime)))
    token = secrets.token_urlsafe(32)
    conn.execute(s.insert().values(id=_session_key(token), user_id=account_id,
                                   created_at=stamp, ended_at=None,
                                   remote_addr=clean_text(remote_addr, 64)))
    return token


def session_account(conn, token: str, account_id: int
                    ) -> tuple[Account, datetime, datetime | None] | None:
    """(account, session start, session end or None) of a session token of
    ``account_id``, in one query; None if there is no such session."""
    u, s = schema.users, schema.sessions
    row = conn.execute(select(*[u.c[c] for c in _COLUMNS], s.c.created_at, s.c.ended_at)
                       .select_from(s.join(u, u.c.id == s.c.user_id))
                       .where(s.c.id == _session_key(token), s.c.user_id == account_id)
                       ).first()
    if row is None:
        return None
    return _account(row[:-2]), row[-2], row[-1]


def end_session(conn, token: str) -> bool:
    """End one session (sign-out); True if it was open."""
    s = schema.sessions
    done = conn.execute(s.update().where(s.c.id == _session_key(token),
                                         s.c.ended_at.is_(None)).values(ended_at=now()))
    return done.rowcount == 1


def recent_failures(conn, remote_addr: str, since: datetime) -> tuple[int, datetime | None]:
    """Failed logins from one address since ``since``: (count, time of the last one)."""
    a = schema.audit_log
    count, last = conn.execute(select(func.count(), func.max(a.c.at)).where(and_(
        a.c.action == "login_failed", a.c.remote_addr == remote_addr, a.c.at >= since))).one()
    return int(count), last


def audit_entries(conn, limit: int = 200, actions: tuple[str, ...] | None = None
                  ) -> pd.DataFrame:
    a = schema.audit_log
    query = select(a.c.at, a.c.username, a.c.action, a.c.remote_addr, a.c.detail)
    if actions:
        query = query.where(a.c.action.in_(actions))
    rows = conn.execute(query.order_by(a.c.id.desc()).limit(limit)).all()
    return pd.DataFrame(rows, columns=["at", "username", "action", "remote_addr", "detail"])
