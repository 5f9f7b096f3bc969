"""Page ``/admin`` — 管理 / Administration (administrators only).

- Accounts: list, add, change role and district scope, reset a password,
  disable and enable, lift sign-in locks (store/users.py; each change ends the account's open
  sessions and is written to the audit log with the administrator's name).
- Targets and report recipients of the city: edited in a table, validated like
  ``lantian init`` validates a site file (config/site_edit.py) and saved as the next
  version of the city's site configuration (store/site_copies.py: kept in the
  database with who and when, every version listed by ``lantian sites history``),
  then applied to the database. The site files shipped in config/sites/ are never
  written.
- The newest entries of the audit log.

``dashboard/auth.py`` lets only ``admin`` accounts open the page and call its
callbacks (their output ids start with ``admin-``); the callbacks check the
role again, so a callback can never act with less.
"""
from __future__ import annotations

import logging

import dash_ag_grid as dag
import pandas as pd
from dash import Input, Output, State, callback_context, dcc, html, no_update
from flask import current_app, request
from sqlalchemy.exc import SQLAlchemyError

from config import ConfigError
from config.site_edit import edit_site_text, recipient_rows, target_rows
from config.sites import POLLUTANTS, TARGET_STATISTICS
from store import site_copies
from store.users import (ROLES, AccountError, add_user, audit, audit_entries, list_users, now,
                         set_active, set_password, set_role, unlock)

from .. import ids
from ..auth import EXTENSION, signed_in_user
from ..context import current_engine
from ..i18n import has, referrer_lang, t
from ..ledger import STAT_WORDS
from ..queries import catalog
from ..layout import GRID_LOCALE_ZH, banner, card, empty_state, grid, notes, staff_page

log = logging.getLogger(__name__)

ACCESS = "admin"
CALLBACK_PREFIX = "admin-"
PATH = "/admin"
NAME = "管理"
NAME_EN = "Admin"
TITLE = "管理 · 蓝天 Lantian"
AUDIT_ROWS = 200



def layout(**query) -> html.Div:
    return staff_page(page="admin", title=(t("adm.title"), t("adm.title", "en")),
                      subtitle=(t("adm.subtitle"), t("adm.subtitle", "en")), query=query,
                      body=body, path=PATH, profile_control=False, period_control=False,
                      cache=False, needs_data=False)


def body(view, cat, engine) -> list:
    lang = view.lang
    with engine.connect() as conn:
        users = list_users(conn)
        log_rows = audit_entries(conn, AUDIT_ROWS)
        current = site_copies.newest(conn, view.city)
    if current is None:                 # a city loaded before copies existed: adopt its file
        with engine.begin() as conn:
            current = site_copies.adopt(conn, view.city, data_dir(), "admin page")
    city_name = cat.name("city", view.city, lang)
    return [
        users_section(users, cat, lang),
        site_section("targets", view, cat, current, lang,
                     t("adm.targets", lang, city=city_name)),
        site_section("recipients", view, cat, current, lang,
                     t("adm.recipients", lang, city=city_name)),
        audit_section(log_rows, lang),
        dcc.Store(id=ids.ADMIN_CITY, data=view.city),
    ]


# -- accounts -------------------------------------------------------------------------------

def user_records(users: pd.DataFrame, lang: str, cat) -> list[dict]:
    stamp = now()
    out = []
    for row in users.itertuples():
        state = t("adm.active", lang) if row.active else t("adm.disabled", lang)
        if pd.notna(row.locked_until) and row.locked_until > stamp:
            state += " · " + t("adm.locked", lang, n=row.locked_addresses,
                               until=f"{row.locked_until:%m-%d %H:%M}")
        out.append({
            "username": row.username, "role": t(f"role.{row.role}", lang),
            "scope": (f"{cat.name('city', row.city, lang)} · {cat.name('district', row.district, lang)}"
                      if row.district else t("adm.scope_all", lang)),
            "state": state,
            "last": (f"{row.last_login_at:%Y-%m-%d %H:%M}" if pd.notna(row.last_login_at)
                     else t("adm.never", lang)),
            "created": f"{row.created_at:%Y-%m-%d}"})
    return out


def scope_options(cat, lang: str) -> list[dict]:
    options = [{"label": t("adm.scope_all", lang), "value": ""}]
    for row in cat.districts.itertuples():
        name = row.name_zh if lang == "zh" else (row.name_en or row.name_zh)
        options.append({"label": f"{cat.name('city', row.city, lang)} · {name}",
                        "value": f"{row.city}/{row.id}"})
    return options


def users_section(users: pd.DataFrame, cat, lang: str) -> html.Section:
    columns = [{"field": "username", "headerName": t("adm.username", lang)},
               {"field": "role", "headerName": t("adm.role", lang), "maxWidth": 120},
               {"field": "scope", "headerName": t("adm.scope", lang)},
               {"field": "state", "headerName": t("adm.col.state", lang)},
               {"field": "last", "headerName": t("adm.col.last", lang)},
               {"field": "created", "headerName": t("adm.col.created", lang), "maxWidth": 130}]
    table = dag.AgGrid(
        id=ids.ADMIN_USERS_GRID, rowData=user_records(users, lang, cat), columnDefs=columns,
        defaultColDef={"sortable": True, "resizable": True, "flex": 1, "minWidth": 90},
        dashGridOptions={"rowSelection": "single", "animateRows": False,
                         "domLayout": "autoHeight",
                         "localeText": GRID_LOCALE_ZH if lang == "zh" else {}},
        className="ag-theme-alpine", style={"width": "100%"})
    form = html.Div(className="lt-admin-form", children=[
        html.Label([t("adm.username", lang), dcc.Input(id=ids.ADMIN_USER_NAME, type="text",
                                                       maxLength=64, autoComplete="off")]),
        html.Label([t("adm.password", lang), dcc.Input(id=ids.ADMIN_USER_PASSWORD,
                                                       type="password", maxLength=1024,
                                                       autoComplete="new-password")]),
        html.Label([t("adm.role", lang), dcc.Dropdown(
            id=ids.ADMIN_USER_ROLE, value="viewer", clearable=False,
            options=[{"label": t(f"role.{r}", lang), "value": r} for r in ROLES])]),
        html.Label([t("adm.scope", lang), dcc.Dropdown(
            id=ids.ADMIN_USER_SCOPE, value="", clearable=False,
            options=scope_options(cat, lang))]),
    ])
    buttons = html.Div(className="lt-admin-buttons", children=[
        html.Button(t("adm.add", lang), id=ids.ADMIN_USER_ADD, className="lt-button"),
        html.Button(t("adm.change_role", lang), id=ids.ADMIN_USER_ROLE_BTN, className="lt-button"),
        html.Button(t("adm.passwd", lang), id=ids.ADMIN_USER_PASSWD, className="lt-button"),
        html.Button(t("adm.disable", lang), id=ids.ADMIN_USER_DISABLE,
                    className="lt-button lt-button-danger"),
        html.Button(t("adm.enable", lang), id=ids.ADMIN_USER_ENABLE, className="lt-button"),
        html.Button(t("adm.unlock", lang), id=ids.ADMIN_USER_UNLOCK, className="lt-button"),
    ])
    return card(t("adm.users", lang), *notes(t("adm.users_hint", lang)), table, form, buttons,
                html.Div(id=ids.ADMIN_USER_RESULT, className="lt-admin-result"),
                id=ids.ADMIN_USERS)


# -- targets and recipients (the site file) --------------------------------------------------

def site_columns(kind: str, cat, city: str, lang: str) -> list[dict]:
    def col(field, key, **kw):
        return {"field": field, "headerName": t(key, lang), "editable": True, **kw}

    districts = cat.city_districts(city)["id"].tolist()
    # the cells keep the site file's codes; refData shows them in the reader's language
    names = {d: cat.name("district", d, lang) for d in districts}
    if kind == "targets":
        words = {s: STAT_WORDS.get(s, (s, s))[0 if lang == "zh" else 1]
                 for s in TARGET_STATISTICS}
        return [
            {**col("district", "adm.col.district"), "checkboxSelection": True,
             "cellEditor": "agSelectCellEditor", "cellEditorParams": {"values": districts},
             "refData": names},
            col("pollutant", "adm.col.pollutant", cellEditor="agSelectCellEditor",
                cellEditorParams={"values": list(POLLUTANTS) + ["AQI", "ALL"]}, maxWidth=120),
            col("statistic", "adm.col.statistic", cellEditor="agSelectCellEditor",
                cellEditorParams={"values": list(TARGET_STATISTICS)}, refData=words),
            col("value", "adm.col.value", type="numericColumn", maxWidth=110),
            col("unit", "adm.col.unit", maxWidth=100,
                refData={"µg/m3": "µg/m³", "ug/m3": "µg/m³", "mg/m3": "mg/m³"}),
            col("years", "adm.col.years"),
            col("note", "adm.col.note"),
        ]
    return [
        {**col("scope", "adm.col.scope"), "checkboxSelection": True,
         "cellEditor": "agSelectCellEditor", "cellEditorParams": {"values": ["city", *districts]},
         "refData": {"city": t("adm.scope_city", lang), **names}},
        col("email", "adm.col.email", minWidth=220),
        col("lang", "adm.col.lang", cellEditor="agSelectCellEditor",
            cellEditorParams={"values": ["zh", "en"]}, maxWidth=110,
            refData={code: t(f"adm.lang.{code}", lang) for code in ("zh", "en")}),
        col("name", "adm.col.name"),
    ]


SITE_IDS = {
    "targets": (ids.ADMIN_TARGETS_GRID, ids.ADMIN_TARGETS_ADD, ids.ADMIN_TARGETS_DELETE,
                ids.ADMIN_TARGETS_SAVE, ids.ADMIN_TARGETS_RESULT, ids.ADMIN_TARGETS),
    "recipients": (ids.ADMIN_RECIPIENTS_GRID, ids.ADMIN_RECIPIENTS_ADD,
                   ids.ADMIN_RECIPIENTS_DELETE, ids.ADMIN_RECIPIENTS_SAVE,
                   ids.ADMIN_RECIPIENTS_RESULT, ids.ADMIN_RECIPIENTS),
}
#: The version of the city's copy each grid was filled from (a save made on an older one
#: is refused: store.site_copies.StaleEdit).
SITE_VERSION_IDS = {"targets": ids.ADMIN_TARGETS_VERSION,
                    "recipients": ids.ADMIN_RECIPIENTS_VERSION}


def data_dir():
    """The data directory of the app serving the request (its settings)."""
    return current_app.extensions[EXTENSION]["data_dir"]


def site_section(kind: str, view, cat, current, lang: str, title: str):
    """The table of ``kind`` (targets | recipients) of the city's current site version."""
    grid_id, add_id, delete_id, save_id, result_id, section_id = SITE_IDS[kind]
    if current is None:
        return card(title, banner("info", t("adm.no_site_file", lang)), id=section_id)
    try:
        site = site_copies.stored(current, f"{view.city} version {current.version}")
    except ConfigError as exc:
        return card(title, banner("error", str(exc)), id=section_id)
    rows = target_rows(site) if kind == "targets" else recipient_rows(site)
    table = dag.AgGrid(
        id=grid_id, rowData=rows, columnDefs=site_columns(kind, cat, view.city, lang),
        defaultColDef={"resizable": True, "flex": 1, "minWidth": 90},
        dashGridOptions={"rowSelection": "multiple", "animateRows": False,
                         "suppressRowClickSelection": True, "stopEditingWhenCellsLoseFocus": True,
                         "singleClickEdit": True, "domLayout": "autoHeight",
                         "localeText": GRID_LOCALE_ZH if lang == "zh" else {}},
        className="ag-theme-alpine", style={"width": "100%"})
    note = t("adm.site_file", lang, version=current.version, who=current.saved_by,
             when=f"{current.saved_at:%Y-%m-%d %H:%M}", city=view.city)
    return card(title, *notes(note), table,
                dcc.Store(id=SITE_VERSION_IDS[kind], data=current.version),
                html.Div(className="lt-admin-buttons", children=[
                    html.Button(t("adm.add_row", lang), id=add_id, className="lt-button"),
                    html.Button(t("adm.delete_rows", lang), id=delete_id,
                                className="lt-button lt-button-danger"),
                    html.Button(t("adm.save", lang), id=save_id,
                                className="lt-button lt-button-primary")]),
                html.Div(id=result_id, className="lt-admin-result"), id=section_id)


# -- audit log -------------------------------------------------------------------------------

def audit_section(rows: pd.DataFrame, lang: str) -> html.Section:
    def action(code) -> str:
        key = f"adm.action.{code}"
        return t(key, lang) if has(key) else str(code)
    frame = rows.assign(at=rows["at"].map(lambda v: f"{v:%Y-%m-%d %H:%M:%S}"),
                        action=rows["action"].map(action)) if not rows.empty else rows
    columns = [{"field": "at", "headerName": t("adm.col.at", lang), "maxWidth": 190},
               {"field": "username", "headerName": t("adm.username", lang), "maxWidth": 170},
               {"field": "action", "headerName": t("adm.col.action", lang), "maxWidth": 170},
               {"field": "remote_addr", "headerName": t("adm.col.address", lang),
                "maxWidth": 150},
               {"field": "detail", "headerName": t("adm.col.detail", lang), "flex": 2}]
    return card(t("adm.audit", lang, n=AUDIT_ROWS),
                grid(frame, columns, id=ids.ADMIN_AUDIT_GRID, lang=lang, page_size=20)
                if not frame.empty else empty_state(t("table.empty", lang)),
                id=ids.ADMIN_AUDIT)


# -- callbacks ---------------------------------------------------------------------------------

def _actor():
    user = signed_in_user()
    if user is None or not user.may("admin"):        # auth already refused; never act with less
        raise PermissionError("administrators only")
    return user


def _message(kind: str, text: str) -> html.Div:
    return html.Div(text, className=f"lt-admin-msg lt-admin-msg-{kind}", role="status")


def account_action(action: str, username: str, password: str, role: str, scope: str,
                   lang: str) -> tuple[html.Div, list | object]:
    """Do one account action for the signed-in administrator; (message, new grid rows)."""
    actor = _actor()
    username = (username or "").strip()
    if not username:
        return _message("error", t("adm.need_name", lang)), no_update
    if username == actor.username and (action == "disable" or
                                       (action == "role" and role != "admin")):
        return _message("error", t("adm.self", lang)), no_update
    city, district = (scope.split("/", 1) if scope else (None, None))
    address = request.remote_addr or ""
    engine = current_engine()
    try:
        with engine.begin() as conn:
            if action == "add":
                add_user(conn, username, password or "", role, city=city, district=district,
                         actor=actor.username, remote_addr=address)
            elif action == "role":
                set_role(conn, username, role, city=city, district=district,
                         actor=actor.username, remote_addr=address)
            elif action == "passwd":
                set_password(conn, username, password or "", actor=actor.username,
                             remote_addr=address)
            elif action == "unlock":
                unlock(conn, username, actor=actor.username, actor_addr=address)
            else:
                set_active(conn, username, action == "enable", actor=actor.username,
                           remote_addr=address)
        with engine.connect() as conn:
            rows = user_records(list_users(conn), lang, catalog(engine))
    except AccountError as exc:
        return _message("error", str(exc)), no_update
    except SQLAlchemyError:
        log.exception("admin: account %s of %s failed", action, username)
        return _message("error", t("adm.dberror", lang)), no_update
    return _message("ok", t(f"adm.done.{action}", lang, name=username)), rows


def save_site_rows(kind: str, city: str, rows: list[dict], lang: str,
                   edited_version=None) -> tuple:
    """Validate the edited rows and save them as the next version of the city's site
    configuration (store/site_copies.py; the database follows it); audit the change.
    Nothing is written outside the database and the data directory. (message, the
    version the grid now shows); a grid filled from an older version saves nothing."""
    from sqlalchemy.exc import IntegrityError
    actor = _actor()
    engine = current_engine()
    rows_of = target_rows if kind == "targets" else recipient_rows

    def edit(text, label):
        return edit_site_text(text, label, **{kind: list(rows or [])})
    try:
        with engine.begin() as conn:
            before, site, version = site_copies.save_edit(
                conn, city, data_dir=data_dir(), saved_by=actor.username, edit=edit,
                note=kind, edited_version=_version_number(edited_version))
            if version is None:
                return _message("ok", t("adm.unchanged", lang)), no_update
            new_rows = rows_of(site)
            audit(conn, f"{kind}_change", actor.username, request.remote_addr or "",
                  f"{city}: {change_summary(rows_of(before), new_rows)}; "
                  f"site version {version.version}")
    except site_copies.StaleEdit as exc:
        return _message("error", t("adm.stale", lang, edited=exc.edited,
                                   version=exc.newest.version, who=exc.newest.saved_by,
                                   when=f"{exc.newest.saved_at:%Y-%m-%d %H:%M}")), no_update
    except ConfigError as exc:
        return _message("error", t("adm.invalid", lang, error=str(exc))), no_update
    except IntegrityError:               # another save of this city took the same number
        return _message("error", t("adm.busy", lang)), no_update
    except SQLAlchemyError:
        log.exception("admin: saving %s of %s failed", kind, city)
        return _message("error", t("adm.dberror", lang)), no_update
    return (_message("ok", t("adm.saved", lang, count=len(new_rows), version=version.version)),
            version.version)


def _version_number(value) -> int | None:
    """The grid's version from the browser: a whole number, or None (not sent)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def change_summary(old: list[dict], new: list[dict]) -> str:
    """"+1 −0 rows" and the rows added and removed, for the audit log."""
    def key(row):
        return tuple(sorted((k, str(v)) for k, v in row.items()))
    old_keys, new_keys = {key(r): r for r in old}, {key(r): r for r in new}
    added = [new_keys[k] for k in new_keys.keys() - old_keys.keys()]
    removed = [old_keys[k] for k in old_keys.keys() - new_keys.keys()]

    def brief(row):
        return " ".join(str(v) for v in row.values() if v not in ("", None))
    parts = [f"+{len(added)} -{len(removed)} rows"]
    parts += [f"+ {brief(r)}" for r in added[:10]] + [f"- {brief(r)}" for r in removed[:10]]
    return "; ".join(parts)


def register_callbacks(app) -> None:
    @app.callback(
        Output(ids.ADMIN_USER_RESULT, "children"),
        Output(ids.ADMIN_USERS_GRID, "rowData"),
        Input(ids.ADMIN_USER_ADD, "n_clicks"),
        Input(ids.ADMIN_USER_ROLE_BTN, "n_clicks"),
        Input(ids.ADMIN_USER_PASSWD, "n_clicks"),
        Input(ids.ADMIN_USER_DISABLE, "n_clicks"),
        Input(ids.ADMIN_USER_ENABLE, "n_clicks"),
        Input(ids.ADMIN_USER_UNLOCK, "n_clicks"),
        State(ids.ADMIN_USER_NAME, "value"),
        State(ids.ADMIN_USER_PASSWORD, "value"),
        State(ids.ADMIN_USER_ROLE, "value"),
        State(ids.ADMIN_USER_SCOPE, "value"),
        prevent_initial_call=True,
    )
    def accounts(_add, _role, _passwd, _disable, _enable, _unlock, username, password, role,
                 scope):
        action = {ids.ADMIN_USER_ADD: "add", ids.ADMIN_USER_ROLE_BTN: "role",
                  ids.ADMIN_USER_PASSWD: "passwd", ids.ADMIN_USER_DISABLE: "disable",
                  ids.ADMIN_USER_ENABLE: "enable",
                  ids.ADMIN_USER_UNLOCK: "unlock"}.get(callback_context.triggered_id)
        if action is None:
            return no_update, no_update
        return account_action(action, username, password, role or "viewer", scope or "",
                              referrer_lang())

    @app.callback(
        Output(ids.ADMIN_USER_NAME, "value"),
        Input(ids.ADMIN_USERS_GRID, "selectedRows"),
        prevent_initial_call=True,
    )
    def pick_user(selected):
        # the grid sends a list of row dicts; anything else is not a selection
        first = selected[0] if isinstance(selected, list) and selected else None
        name = first.get("username") if isinstance(first, dict) else None
        return name if isinstance(name, str) else no_update

    for kind, (grid_id, add_id, delete_id, save_id, result_id, _section) in SITE_IDS.items():
        _register_site_callbacks(app, kind, grid_id, add_id, delete_id, save_id, result_id)


def _register_site_callbacks(app, kind, grid_id, add_id, delete_id, save_id, result_id):
    blank = ({"district": "", "pollutant": "", "statistic": "annual_mean", "value": "",
              "unit": "", "years": "", "note": ""} if kind == "targets"
             else {"scope": "city", "email": "", "lang": "zh", "name": ""})

    @app.callback(
        Output(grid_id, "rowTransaction"),
        Output(grid_id, "deleteSelectedRows"),
        Input(add_id, "n_clicks"),
        Input(delete_id, "n_clicks"),
        prevent_initial_call=True,
    )
    def edit_rows(_add, _delete):
        _actor()
        if callback_context.triggered_id == add_id:
            return {"add": [dict(blank)]}, no_update
        return no_update, True

    @app.callback(
        Output(result_id, "children"),
        Output(SITE_VERSION_IDS[kind], "data"),
        Input(save_id, "n_clicks"),
        State(grid_id, "rowData"),
        State(ids.ADMIN_CITY, "data"),
        State(SITE_VERSION_IDS[kind], "data"),
        prevent_initial_call=True,
    )
    def save(_n, rows, city, edited_version):
        return save_site_rows(kind, city, rows, referrer_lang(), edited_version)
