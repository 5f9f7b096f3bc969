"""Page ``/upload`` — 上传 / Upload: load a file of hourly readings from the browser.

Two steps, both through the readers the command line uses (:mod:`ingest.readers`):

1. **Check** (检查) reads the file with the chosen reader and shows what would be
   loaded — data rows, readings, stations known and unknown (unknown ones would
   be created without a district, or refused in strict mode), the time range
   (China Standard Time, hour beginning), the pollutants and the values the QC
   rules would flag — without writing any readings.
2. **Load** (载入) checks the file again and loads it through
   :func:`ingest.loader.load_file`, exactly as ``lantian ingest`` does: an
   ingest run is recorded, QC applied, a file loaded before stores nothing new
   ("unchanged"), and the data version is bumped so every dashboard shows the
   new data.

The checks, the preview and the load are :func:`ingest.inspection.process` (limits and
safety: see that module); the page sets the size limit, ``upload_max_mb`` (settings; the
browser refuses a larger file too, and says so). A refused file leaves the database as
it was (no readings, no ingest run); the refusal is written to the audit log
(``upload_refused``), as are checks (``upload_check``) and loads (``upload``), with the
user's name and address.

``dashboard/auth.py`` lets ``analyst`` and ``admin`` accounts open the page and
call its callbacks (their outputs start with ``upload-``); the callbacks check
the role again.
"""
from __future__ import annotations

import json
import logging

import pandas as pd
from dash import (ClientsideFunction, Input, Output, State, callback_context, dcc,
                  get_relative_path, html, no_update)
from flask import current_app, has_app_context, request
from sqlalchemy.exc import SQLAlchemyError

from ingest import inspection
from ingest.errors import cap, clip, clip_list
from ingest.inspection import Choice, Inspection, Refused, fmt_size, safe_name
from ingest.readers import READERS, TABULAR, command_line
from store.users import audit

from .. import ids
from ..auth import EXTENSION, signed_in_user
from ..context import current_engine
from ..i18n import normalize_lang, t
from ..layout import banner, card, notes, staff_page

log = logging.getLogger(__name__)

ACCESS = "analyst"
CALLBACK_PREFIX = "upload-"
PATH = "/upload"
NAME = "上传"
NAME_EN = "Upload"
TITLE = "上传 · 蓝天 Lantian"

#: Rows of the station table shown in a check (the rest are counted).
STATION_ROWS = 50
DEFAULT_MAX_MB = 50.0



def refusal_text(exc: Refused, lang: str) -> str:
    """Why the upload was refused, on one line of at most
    :data:`ingest.errors.MESSAGE_MAX` characters."""
    return cap(t(f"up.r.{exc.key}", lang, **exc.values))


def max_bytes() -> int:
    """The configured upload limit in bytes (settings ``upload_max_mb``)."""
    mb = DEFAULT_MAX_MB
    if has_app_context():
        mb = float(current_app.extensions.get(EXTENSION, {}).get("upload_max_mb", mb))
    return int(mb * 1024 * 1024)


# -- check or load ------------------------------------------------------------------------------

def _user():
    user = signed_in_user()
    if user is None or not user.may(ACCESS):     # auth already refused; never act with less
        raise PermissionError("analysts and administrators only")
    return user


def _audit(engine, action: str, user, detail: str) -> None:
    try:
        with engine.begin() as conn:
            audit(conn, action, user.username, request.remote_addr or "", detail)
    except SQLAlchemyError:
        log.exception("upload: writing the audit log failed (%s %s)", action, detail)


def process(action: str, contents, filename, choice: Choice, *, engine=None, limit=None):
    """Check (``action="check"``) or load (``"load"``) one upload for the signed-in user
    (:func:`ingest.inspection.process`), and write it to the audit log.

    Returns ``(Inspection, LoadResult | None)``; raises :class:`Refused` (audited as
    ``upload_refused``) when the file or the options are not acceptable — the database
    then holds exactly what it held before.
    """
    user = _user()
    engine = engine or current_engine()
    limit = max_bytes() if limit is None else limit
    try:
        ins, result = inspection.process(action, contents, filename, choice, engine=engine,
                                         limit=limit)
    except Refused as exc:
        _audit(engine, "upload_refused", user, f"{exc.about}: {refusal_text(exc, 'en')}")
        raise
    if result is None:
        _audit(engine, "upload_check", user, ins.detail())
    else:
        _audit(engine, "upload", user, ins.load_detail(result))
    return ins, result


# -- the page -----------------------------------------------------------------------------------

def layout(**query) -> html.Div:
    page = staff_page(page="upload", title=(t("up.title"), t("up.title", "en")),
                      subtitle=(t("up.subtitle"), t("up.subtitle", "en")), query=query,
                      body=body, path=PATH, profile_control=False, period_control=False,
                      cache=False)
    found = {getattr(c, "id", None) for c in page.children}
    if ids.PAGE_BODY not in found and ids.PAGE_DB_ERROR not in found:
        # No city, or no readings yet: loading a file is how the data gets in, so the
        # form is shown under the frame's notice.
        lang = normalize_lang(query.get("lang"))
        page.children.append(html.Div(id=ids.PAGE_BODY, children=form(lang)))
    return page


def body(view, cat, engine) -> list:
    return form(view.lang)


def _radio(id_, options, value) -> dcc.RadioItems:
    return dcc.RadioItems(id=id_, options=options, value=value, inline=True,
                          className="lt-segmented", inputClassName="lt-seg-input",
                          labelClassName="lt-seg-label")


def _field(label: str, component, className: str = "") -> html.Div:
    return html.Div(className=f"lt-up-field {className}".strip(), children=[
        html.Span(label, className="lt-control-label"), component])


def form(lang: str) -> list:
    limit = max_bytes()
    too_big = t("up.too_big_client", lang, name="{name}", size="{size}", limit=fmt_size(limit))
    choose = card(t("up.step.file", lang), dcc.Upload(
        id=ids.UPLOAD_FILE, multiple=False, max_size=limit, className="lt-up-drop",
        className_active="lt-up-drop-active", className_reject="lt-up-drop-reject",
        children=html.Div([html.Div("⇪", className="lt-up-icon", **{"aria-hidden": "true"}),
                           html.Div(t("up.drop", lang), className="lt-up-drop-text"),
                           html.Div(t("up.drop_hint", lang, limit=fmt_size(limit)),
                                    id=ids.UPLOAD_LIMIT, className="lt-muted",
                                    **{"data-bytes": str(limit), "data-message": too_big})])),
        html.P(t("up.no_file", lang), id=ids.UPLOAD_FILE_INFO, className="lt-up-file"),
        html.Div(id=ids.UPLOAD_TOO_BIG, className="lt-up-too-big", role="alert"))
    reader = "csv"
    options = card(t("up.step.read", lang),
                   _field(t("up.reader", lang), _radio(
                       ids.UPLOAD_READER, [{"label": t(f"up.reader.{r}", lang), "value": r}
                                           for r in READERS], reader)),
                   html.P(t(f"up.hint.{reader}", lang), id=ids.UPLOAD_READER_HINT,
                          className="lt-note"),
                   html.Div(id=ids.UPLOAD_TABULAR, className="lt-up-grid", children=[
                       _field(t("up.layout", lang), _radio(
                           ids.UPLOAD_LAYOUT, [{"label": t(f"up.layout.{v}", lang), "value": v}
                                               for v in ("long", "wide")], "long")),
                       _field(t("up.station", lang), dcc.Input(
                           id=ids.UPLOAD_STATION, type="text", maxLength=32, debounce=True,
                           placeholder="1410A", autoComplete="off", className="lt-up-input")),
                       _field(t("up.units", lang), dcc.Input(
                           id=ids.UPLOAD_UNITS, type="text", maxLength=200, debounce=True,
                           placeholder="CO=mg/m3", autoComplete="off", className="lt-up-input")),
                       _field(t("up.gas", lang), dcc.Input(
                           id=ids.UPLOAD_GAS, type="number", min=-50, max=60, debounce=True,
                           className="lt-up-input")),
                   ]),
                   html.Div(className="lt-up-grid", children=[
                       _field(t("up.hour_label", lang), _radio(
                           ids.UPLOAD_HOUR_LABEL, [{"label": t(f"up.hour.{v}", lang), "value": v}
                                                   for v in ("beginning", "ending")],
                           "beginning")),
                       _field("", dcc.Checklist(
                           id=ids.UPLOAD_STRICT, className="lt-up-check",
                           options=[{"label": t("up.strict", lang), "value": "strict"}],
                           value=[])),
                   ]))
    run = card(t("up.step.run", lang), *notes(t("up.run_hint", lang)),
               html.Div(className="lt-admin-buttons", children=[
                   html.Button(t("up.check", lang), id=ids.UPLOAD_CHECK, n_clicks=0,
                               className="lt-button lt-button-primary"),
                   html.Button(t("up.load", lang), id=ids.UPLOAD_LOAD, n_clicks=0,
                               disabled=True, className="lt-button lt-button-load")]),
               dcc.Loading(id=ids.UPLOAD_LOADING, type="circle", delay_show=200,
                           children=html.Div(id=ids.UPLOAD_RESULT, className="lt-up-result")))
    return [html.Div(id=ids.UPLOAD, children=[choose, options, run]),
            dcc.Store(id=ids.UPLOAD_CHECKED, data=None),
            dcc.Store(id=ids.UPLOAD_LANG, data=lang),
            dcc.Store(id=ids.UPLOAD_WATCH, data=None)]


# -- results ------------------------------------------------------------------------------------

def _n(value) -> str:
    return f"{int(value):,}"


def _num(value) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:,.4g}"


def _hour(ts) -> str:
    return "—" if ts is None else f"{ts:%Y-%m-%d %H:%M}"


def _tiles(items) -> html.Div:
    return html.Div(id=ids.UPLOAD_SUMMARY, className="lt-summary", children=[
        html.Div(className="lt-stat" + (" lt-stat-wide" if wide else ""), children=[
            html.Div(value, className="lt-stat-value"), html.Div(label, className="lt-stat-label")])
        for label, value, wide in items])


def _table(columns: list[tuple[str, str]], rows: list[dict], id_=None) -> html.Div:
    numeric = {"readings", "missing", "flagged", "excluded", "min", "max"}
    head = html.Thead(html.Tr([html.Th(label, className="lt-num" if key in numeric else None)
                               for key, label in columns]))
    body_rows = [html.Tr([html.Td(row.get(key, ""), className="lt-num" if key in numeric
                                  else None) for key, _ in columns]) for row in rows]
    return html.Div(className="lt-table-wrap", id=id_, children=html.Table(
        [head, html.Tbody(body_rows)], className="lt-table"))


def refused_view(exc: Refused, lang: str) -> html.Div:
    return banner("error", t("up.refused", lang), refusal_text(exc, lang),
                  t("up.nothing_stored", lang), id=ids.UPLOAD_MESSAGE)


def check_view(ins: Inspection, lang: str) -> list:
    choice = ins.choice
    unknown = ins.unknown
    codes = clip_list(unknown)
    if choice.strict and unknown:
        head = banner("error", t("up.strict_refuse", lang, name=ins.name),
                      refusal_text(Refused("strict", codes=codes), lang),
                      id=ids.UPLOAD_MESSAGE)
    else:
        lines = [t("up.ok_check_hint", lang)]
        if unknown:
            lines.append(t("up.unknown_note", lang, n=len(unknown), codes=codes))
        if ins.loaded_before:
            lines.append(t("up.loaded_before", lang, run=ins.loaded_before))
        head = banner("ok", t("up.ok_check", lang, name=ins.name), *lines, id=ids.UPLOAD_MESSAGE)
    known = int(ins.stations["known"].sum()) if not ins.stations.empty else 0
    period = f"{_hour(ins.start)} – {_hour(ins.end)}"
    pollutants = ", ".join(ins.pollutants["pollutant"]) if not ins.pollutants.empty else "—"
    tiles = _tiles([
        (t("up.s.rows", lang), _n(ins.rows_read), False),
        (t("up.s.readings", lang), _n(ins.readings), False),
        (t("up.s.stations", lang), f"{known:,} / {len(ins.stations) - known:,}", False),
        (t("up.s.flagged", lang), f"{ins.flagged:,} / {ins.excluded:,}", False),
        (t("up.s.pollutants", lang), pollutants, True),
        (t("up.s.period", lang), period, True),
    ])
    out: list = [head, tiles]
    if not ins.pollutants.empty:
        rows = [{**r, "readings": _n(r["readings"]), "missing": _n(r["missing"]),
                 "flagged": _n(r["flagged"]), "excluded": _n(r["excluded"]),
                 "flags": r["flags"] or "—", "min": _num(r["min"]), "max": _num(r["max"])}
                for r in ins.pollutants.to_dict("records")]
        out.append(html.H3(t("up.h.pollutants", lang), className="lt-up-h3"))
        out.append(_table([(k, t(f"up.col.{k}", lang)) for k in
                           ("pollutant", "unit", "readings", "missing", "flagged", "flags",
                            "excluded", "min", "max")], rows, ids.UPLOAD_POLLUTANTS))
    if not ins.stations.empty:
        stations = ins.stations.sort_values(["known", "code"])
        rows = []
        for r in stations.head(STATION_ROWS).itertuples():
            name = (r.name_en or r.name_zh) if lang == "en" else (r.name_zh or r.name_en)
            state = t("up.known", lang) if r.known else t(
                "up.new_strict" if choice.strict else "up.new", lang)
            rows.append({"code": clip(r.code, 60), "name": name or "—", "city": r.city or "—",
                         "readings": _n(r.readings), "state": state})
        out.append(html.H3(t("up.h.stations", lang), className="lt-up-h3"))
        out.append(_table([(k, t(f"up.col.{k}", lang)) for k in
                           ("code", "name", "city", "readings", "state")], rows,
                          ids.UPLOAD_STATIONS))
        if len(stations) > STATION_ROWS:
            out += notes(t("up.more_stations", lang, n=len(stations) - STATION_ROWS))
    out += notes(
        t("up.ignored", lang, cols=clip_list(ins.ignored_columns))
        if ins.ignored_columns else None,
        t("up.skipped", lang, n=ins.skipped_rows, names=clip_list(ins.skipped_names))
        if ins.skipped_rows else None,
        t("up.duplicates", lang, n=ins.duplicates) if ins.duplicates else None,
        t("up.note", lang))
    out.append(html.Div(className="lt-up-command", children=[
        html.Span(t("up.command", lang), className="lt-muted"),
        html.Pre(command_line(choice.reader, ins.name, ins.options, strict=choice.strict),
                 id=ids.UPLOAD_COMMAND)]))
    return out


def loaded_view(ins: Inspection, result, lang: str) -> list:
    fresh = bool(result.readings_new or result.readings_changed)
    if fresh:
        head = banner("ok", t("up.loaded", lang, name=ins.name, run=result.run_id),
                      id=ids.UPLOAD_MESSAGE)
    else:
        why = (t("up.unchanged_same", lang, run=result.same_as_run) if result.same_as_run
               else t("up.unchanged_hint", lang))
        head = banner("info", t("up.unchanged", lang, name=ins.name, run=result.run_id), why,
                      id=ids.UPLOAD_MESSAGE)
    tiles = _tiles([
        (t("up.l.read", lang), _n(result.readings_read), False),
        (t("up.l.new", lang), _n(result.readings_new), False),
        (t("up.l.changed", lang), _n(result.readings_changed), False),
        (t("up.l.flagged", lang), _n(result.readings_flagged), False),
        (t("up.l.excluded", lang), _n(result.readings_rejected), False),
    ])
    data_href = get_relative_path("/data" + ("?lang=en" if lang == "en" else ""))
    out = [head, tiles]
    out += notes(
        t("up.l.created", lang, codes=clip_list(result.created_stations))
        if result.created_stations else None,
        t("up.l.duplicates", lang, n=result.duplicates_ignored)
        if result.duplicates_ignored else None)
    out.append(html.P(className="lt-note", children=[
        t("up.l.see" if fresh else "up.l.runs", lang), " ",
        dcc.Link(t("data.title", lang), href=data_href), "."]))
    return out


# -- callbacks ----------------------------------------------------------------------------------

def selection(filename, last_modified, choice: Choice) -> str:
    """What a check was made for: the file and every option (Load needs a check of
    exactly this)."""
    return json.dumps([filename, last_modified, choice.reader, choice.layout, choice.station,
                       choice.units, choice.hour_label, choice.gas_temperature, choice.strict],
                      ensure_ascii=False, default=str)


def run_step(action: str, contents, filename, last_modified, choice: Choice, lang: str):
    """(result children, checked selection or None) of a press of Check or Load."""
    try:
        ins, result = process(action, contents, filename, choice)
    except Refused as exc:
        return refused_view(exc, lang), None
    if result is None:
        ok = not (choice.strict and ins.unknown)
        return check_view(ins, lang), (selection(filename, last_modified, choice) if ok else None)
    return loaded_view(ins, result, lang), None


OPTION_STATES = (ids.UPLOAD_READER, ids.UPLOAD_LAYOUT, ids.UPLOAD_STATION, ids.UPLOAD_UNITS,
                 ids.UPLOAD_HOUR_LABEL, ids.UPLOAD_GAS, ids.UPLOAD_STRICT)


def _props(kind, names=OPTION_STATES):
    return [kind(name, "value") for name in names]


def register_callbacks(app) -> None:
    @app.callback(
        Output(ids.UPLOAD_RESULT, "children"),
        Output(ids.UPLOAD_CHECKED, "data"),
        Input(ids.UPLOAD_CHECK, "n_clicks"),
        Input(ids.UPLOAD_LOAD, "n_clicks"),
        State(ids.UPLOAD_FILE, "contents"),
        State(ids.UPLOAD_FILE, "filename"),
        State(ids.UPLOAD_FILE, "last_modified"),
        *_props(State),
        State(ids.UPLOAD_LANG, "data"),
        prevent_initial_call=True,
    )
    def run(_check, _load, contents, filename, last_modified, reader, layout, station, units,
            hour_label, gas, strict, lang):
        action = {ids.UPLOAD_CHECK: "check", ids.UPLOAD_LOAD: "load"}.get(
            callback_context.triggered_id)
        if action is None:
            return no_update, no_update
        choice = Choice.of(reader, layout, station, units, hour_label, gas, bool(strict))
        return run_step(action, contents, filename, last_modified, choice,
                        "en" if lang == "en" else "zh")

    @app.callback(
        Output(ids.UPLOAD_LOAD, "disabled"),
        Output(ids.UPLOAD_RESULT, "children", allow_duplicate=True),
        Output(ids.UPLOAD_FILE_INFO, "children"),
        Output(ids.UPLOAD_TOO_BIG, "children"),
        Input(ids.UPLOAD_CHECKED, "data"),
        Input(ids.UPLOAD_FILE, "filename"),
        Input(ids.UPLOAD_FILE, "last_modified"),
        *_props(Input),
        State(ids.UPLOAD_LANG, "data"),
        prevent_initial_call=True,
    )
    def gate(checked, filename, last_modified, reader, layout, station, units, hour_label, gas,
             strict, lang):
        """Load only after a check of exactly this file and these options; a new file or
        option clears the previous answer."""
        lang = "en" if lang == "en" else "zh"
        choice = Choice.of(reader, layout, station, units, hour_label, gas, bool(strict))
        disabled = not checked or checked != selection(filename, last_modified, choice)
        trigger = callback_context.triggered_id
        cleared = no_update if trigger == ids.UPLOAD_CHECKED else []
        info = (t("up.chosen", lang, name=safe_name(filename) or "?") if filename
                else t("up.no_file", lang))
        too_big = "" if trigger == ids.UPLOAD_FILE else no_update
        return disabled, cleared, info, too_big

    @app.callback(
        Output(ids.UPLOAD_TABULAR, "hidden"),
        Output(ids.UPLOAD_READER_HINT, "children"),
        Input(ids.UPLOAD_READER, "value"),
        State(ids.UPLOAD_LANG, "data"),
        prevent_initial_call=True,
    )
    def reader_options(reader, lang):
        reader = reader if reader in READERS else "csv"
        return reader not in TABULAR, t(f"up.hint.{reader}", "en" if lang == "en" else "zh")

    # a file larger than the limit is refused by dcc.Upload without a word: the browser
    # says so (assets/upload.js; the limit and the message are on the page)
    app.clientside_callback(ClientsideFunction("lantian_upload", "watch_oversize"),
                            Output(ids.UPLOAD_WATCH, "data"), Input(ids.UPLOAD_FILE, "id"))
