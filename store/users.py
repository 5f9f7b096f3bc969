"""Staff accounts and the audit log (tables ``users`` and ``audit_log``).

Passwords are kept only as werkzeug scrypt hashes (``scrypt:32768:8:1$salt$hash``).
Every change of an account and every login outcome is written to the audit log
in the same transaction as the change, so the log cannot miss one.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import and_, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from . import schema

ROLES = ("viewer", "analyst", "admin")
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")
MIN_PASSWORD = 10
HASH_METHOD = "scrypt"
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
    failed_logins: int
    locked_until: datetime | None
    session_epoch: int
    last_login_at: datetime | None

    @property
    def scoped(self) -> bool:
        return bool(self.district_code)

    def at_least(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


_COLUMNS = ("id", "username", "role", "city_id", "district_code", "active", "failed_logins",
            "locked_until", "session_epoch", "last_login_at")


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
    if password.strip() != password:
        raise AccountError("the password starts or ends with a space; remove it")
    return password


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"{role!r} is not a role: use one of {', '.join(ROLES)}")
    return role


def hash_password(password: str) -> str:
    return generate_password_hash(check_password(password), method=HASH_METHOD)


def audit(conn, action: str, username: str = "", remote_addr: str = "", detail: str = "",
          at: datetime | None = None) -> None:
    conn.execute(schema.audit_log.insert().values(
        at=at or now(), username=username[:64], action=action[:32],
        remote_addr=(remote_addr or "")[:64], detail=detail or ""))


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
        district_code=district or None, active=True, failed_logins=0, session_epoch=0,
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
    """New password; unlocks the account and ends its open sessions."""
    account = _require(conn, username)
    conn.execute(schema.users.update().where(schema.users.c.id == account.id).values(
        password_hash=hash_password(password), failed_logins=0, locked_until=None,
        session_epoch=account.session_epoch + 1, updated_at=now()))
    audit(conn, "user_passwd", actor, remote_addr, username)


def set_active(conn, username: str, active: bool, *, actor: str = "cli",
               remote_addr: str = "") -> None:
    """Disable (ending its sessions at their next request) or enable an account."""
    account = _require(conn, username)
    conn.execute(schema.users.update().where(schema.users.c.id == account.id).values(
        active=active, session_epoch=account.session_epoch + (0 if active else 1),
        failed_logins=0, locked_until=None, updated_at=now()))
    audit(conn, "user_enable" if active else "user_disable", actor, remote_addr, username)


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
    u = schema.users
    rows = conn.execute(select(u.c.username, u.c.role, u.c.city_id, u.c.district_code,
                               u.c.active, u.c.locked_until, u.c.last_login_at,
                               u.c.created_at).order_by(u.c.username)).all()
    return pd.DataFrame(rows, columns=["username", "role", "city", "district", "active",
                                       "locked_until", "last_login_at", "created_at"])


@dataclass(frozen=True)
class LoginOutcome:
    account: Account | None
    reason: str = ""          # "" (ok) | bad | locked | disabled

    @property
    def ok(self) -> bool:
        return self.account is not None and not self.reason


def authenticate(conn, username: str, password: str, *, remote_addr: str,
                 max_failures: int, lockout: timedelta) -> LoginOutcome:
    """Check a login and record its outcome (audit log, failure count, lockout).

    After ``max_failures`` failures in a row the account is locked for ``lockout``;
    while locked even the right password is refused (and not counted).
    """
    stamp = now()
    u = schema.users
    row = conn.execute(select(*[u.c[c] for c in _COLUMNS], u.c.password_hash)
                       .where(u.c.username == username)).first()
    if row is None:
        check_password_hash(_DUMMY_HASH, password or "")
        audit(conn, "login_failed", username, remote_addr, "unknown user", at=stamp)
        return LoginOutcome(None, "bad")
    account, password_hash = _account(row[:-1]), row[-1]
    if account.locked_until is not None and account.locked_until > stamp:
        audit(conn, "login_locked", username, remote_addr,
              f"refused: locked until {account.locked_until:%Y-%m-%d %H:%M:%S}", at=stamp)
        return LoginOutcome(account, "locked")
    good = check_password_hash(password_hash, password or "")
    if good and account.active:
        conn.execute(u.update().where(u.c.id == account.id).values(
            failed_logins=0, locked_until=None, last_login_at=stamp))
        audit(conn, "login", username, remote_addr, f"role {account.role}", at=stamp)
        return LoginOutcome(account)
    if good:
        audit(conn, "login_failed", username, remote_addr, "account disabled", at=stamp)
        return LoginOutcome(account, "disabled")
    failures = account.failed_logins + 1
    locked_until = stamp + lockout if failures >= max_failures else None
    conn.execute(u.update().where(u.c.id == account.id).values(
        failed_logins=0 if locked_until else failures, locked_until=locked_until))
    audit(conn, "login_failed", username, remote_addr, f"wrong password ({failures} in a row)",
          at=stamp)
    if locked_until:
        audit(conn, "lockout", username, remote_addr,
              f"locked until {locked_until:%Y-%m-%d %H:%M:%S} after {failures} failures",
              at=stamp)
        return LoginOutcome(account, "locked")
    return LoginOutcome(account, "bad")


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
