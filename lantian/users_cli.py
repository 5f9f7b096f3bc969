"""``lantian users``: staff accounts of the dashboard (add, passwd, disable, list …).

Passwords are asked for twice at a hidden prompt, or read from standard input
with ``--password-stdin`` (scripts, provisioning); never from the command line,
where they would end up in the shell history and the process list.
"""
from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from lantian.cli import UserError, _engine, app, out, user_errors

users_app = typer.Typer(help="Staff accounts of the dashboard: add, passwd, disable, unlock, "
                        "list.",
                        no_args_is_help=True)
app.add_typer(users_app, name="users")

Username = Annotated[str, typer.Argument(help="The account's username.")]
PasswordStdin = Annotated[bool, typer.Option(
    "--password-stdin", help="Read the password from the first line of standard input.")]
CityScope = Annotated[Optional[str], typer.Option(
    "--city", help="With --district: the city of the district.")]
DistrictScope = Annotated[Optional[str], typer.Option(
    "--district", help="Scope the account to this district (code, e.g. dongcheng): it sees "
    "only that district's pages and data.")]


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise UserError("--password-stdin: standard input is empty; pipe the password in")
        return line.rstrip("\r\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


def _run(action):
    from store.users import AccountError
    engine = _engine()
    try:
        with engine.begin() as conn:
            return action(conn)
    except AccountError as exc:
        raise UserError(str(exc)) from None


@users_app.command("add")
@user_errors
def users_add(username: Username,
              role: Annotated[str, typer.Option("--role", help="viewer (read staff pages), "
                                                "analyst (also export and upload) or admin "
                                                "(also targets, recipients, users).")],
              city: CityScope = None, district: DistrictScope = None,
              password_stdin: PasswordStdin = False,
              exist_ok: Annotated[bool, typer.Option(
                  "--exist-ok", help="If the account exists, leave it as it is (scripts).")]
              = False):
    """Add a staff account."""
    from store.users import AccountError, add_user, check_role, check_username, get_account
    try:                                  # say what is wrong before asking for a password
        check_username(username)
        check_role(role)
    except AccountError as exc:
        raise UserError(str(exc)) from None
    if exist_ok and _run(lambda conn: get_account(conn, username=username)) is not None:
        out.print(f"{username} exists; left unchanged", markup=False)
        return
    password = _password(password_stdin)
    account = _run(lambda conn: add_user(conn, username, password, role, city=city,
                                         district=district, actor="cli"))
    scope = f", district {account.city_id}/{account.district_code}" if account.scoped else ""
    out.print(f"added {account.username} ({account.role}{scope})", markup=False)


@users_app.command("passwd")
@user_errors
def users_passwd(username: Username, password_stdin: PasswordStdin = False):
    """Set a new password (also unlocks the account and ends its open sessions)."""
    from store.users import get_account, set_password
    if _run(lambda conn: get_account(conn, username=username)) is None:
        raise UserError(f"no user {username!r}; 'lantian users list' shows the accounts")
    password = _password(password_stdin)
    _run(lambda conn: set_password(conn, username, password, actor="cli"))
    out.print(f"password of {username} changed; its open sessions are ended", markup=False)


@users_app.command("disable")
@user_errors
def users_disable(username: Username):
    """Disable an account: it cannot sign in, and its open sessions end at once."""
    from store.users import set_active
    _run(lambda conn: set_active(conn, username, False, actor="cli"))
    out.print(f"{username} disabled", markup=False)


@users_app.command("enable")
@user_errors
def users_enable(username: Username):
    """Enable a disabled account again (also clears a lockout)."""
    from store.users import set_active
    _run(lambda conn: set_active(conn, username, True, actor="cli"))
    out.print(f"{username} enabled", markup=False)


@users_app.command("role")
@user_errors
def users_role(username: Username,
               role: Annotated[str, typer.Option("--role", help="viewer, analyst or admin.")],
               city: CityScope = None, district: DistrictScope = None):
    """Change an account's role and district scope (ends its open sessions)."""
    from store.users import set_role
    _run(lambda conn: set_role(conn, username, role, city=city, district=district,
                               actor="cli"))
    out.print(f"{username}: role {role}" + (f", district {city}/{district}" if district else ""),
              markup=False)


@users_app.command("unlock")
@user_errors
def users_unlock(username: Username,
                 address: Annotated[Optional[str], typer.Option(
                     "--address", help="Only the lock from this address (default: every "
                     "address).")] = None):
    """Lift the sign-in locks of an account (after too many failed passwords from an
    address) and forget its failures; written to the audit log."""
    import pandas as pd

    from store.users import login_failures, now, unlock
    frame = _run(lambda conn: login_failures(conn, username))
    count = _run(lambda conn: unlock(conn, username, address, actor="cli"))
    stamp = now()
    for row in frame.itertuples():
        if pd.notna(row.locked_until) and row.locked_until > stamp and \
                address in (None, row.remote_addr):
            out.print(f"  {row.remote_addr}: was locked until "
                      f"{row.locked_until:%Y-%m-%d %H:%M}", markup=False)
    where = f"from {address}" if address is not None else "from every address"
    out.print(f"{username}: {count} lock{'' if count == 1 else 's'} lifted {where}",
              markup=False)


@users_app.command("list")
@user_errors
def users_list():
    """The accounts: role, scope, state, last sign-in."""
    import pandas as pd
    from rich.table import Table

    from store.users import list_users, now
    frame = _run(list_users)
    if frame.empty:
        out.print("no accounts; add one with 'lantian users add NAME --role admin'",
                  markup=False)
        return
    table = Table("username", "role", "scope", "state", "last sign-in")
    stamp = now()
    for row in frame.itertuples():
        state = "active" if row.active else "disabled"
        if pd.notna(row.locked_until) and row.locked_until > stamp:
            state += (f", locked from {row.locked_addresses} address"
                      f"{'es' if row.locked_addresses > 1 else ''} until "
                      f"{row.locked_until:%Y-%m-%d %H:%M}")
        # an unscoped account's city and district are NULL (NaN in the frame): no scope
        city = row.city if pd.notna(row.city) and row.city else ""
        district = row.district if pd.notna(row.district) and row.district else ""
        scope = f"{city}/{district}" if district else city
        last = "never" if pd.isna(row.last_login_at) else f"{row.last_login_at:%Y-%m-%d %H:%M}"
        table.add_row(row.username, row.role, scope, state, last)
    out.print(table)


@users_app.command("audit")
@user_errors
def users_audit(limit: Annotated[int, typer.Option("--limit", min=1, max=100000)] = 50):
    """The newest entries of the audit log (sign-ins, uploads, target and user changes)."""
    from store.users import audit_entries
    frame = _run(lambda conn: audit_entries(conn, limit))
    for row in frame.itertuples():
        out.print(f"{row.at:%Y-%m-%d %H:%M:%S}  {row.action:<16} {row.username:<16} "
                  f"{row.remote_addr:<15} {row.detail}", markup=False)
