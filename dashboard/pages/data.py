"""Page ``/data`` — 数据概况 / What is loaded.

Per city its stations (code, name, district, role) with, per station and
pollutant, the valid readings, first and last hour and QC-flagged values;
a bar chart of readings per station; the recent ingest runs. A prominent
banner marks synthetic demo data.

The layout is a function: it reads the database when the page is requested,
never at import. ``layout`` gets the URL's query parameters as keyword
arguments (Dash pages), so it accepts and ignores unknown ones.
"""
from __future__ import annotations

import logging
from pathlib import PurePath

import pandas as pd
from dash import dcc, get_relative_path, html
from sqlalchemy.exc import SQLAlchemyError

from .. import ids
from ..context import current_engine
from ..figures import readings_by_station
from ..i18n import HTML_LANG, SYNTHETIC_BANNER, normalize_lang, t
from ..queries import Overview, load_overview_cached

log = logging.getLogger(__name__)

PATH = "/data"
NAME = "数据概况"
NAME_EN = "Data loaded"
TITLE = "数据概况 · 蓝天 Lantian"
RECENT_RUNS = 10


def layout(lang: str = "zh", **_query) -> html.Div:
    """The page for the current request (reads the database of the serving app)."""
    lang = normalize_lang(lang)
    try:
        data = load_overview_cached(current_engine(), runs=RECENT_RUNS)
    except SQLAlchemyError:
        log.exception("overview: reading the database failed")
        return _page(lang, [_db_error(lang)])
    return render(data, lang)


def render(data: Overview, lang: str = "zh") -> html.Div:
    """The page for already loaded ``data`` (no database access)."""
    children: list = []
    if data.is_synthetic:
        children.append(_synthetic_banner(data, lang))
    listed = data.listed_stations()
    if not data.has_readings:
        children.append(_empty(lang, has_stations=not listed.empty))
    else:
        children.append(_summary(data, listed, lang))
        names = dict(zip(listed["code"], _station_names(listed, lang)))
        figure = readings_by_station(data.status, synthetic=data.is_synthetic, lang=lang,
                                     names=names)
        children.append(html.Section(className="lt-card", children=dcc.Graph(
            id=ids.DATA_CHART, figure=figure, style={"height": "380px"},
            config={"displaylogo": False, "responsive": True})))
    if not listed.empty:
        children.append(html.Div(id=ids.DATA_CITIES, children=_cities(data, listed, lang)))
    if data.unlisted_count():
        children.append(html.P(t("summary.unlisted", lang, n=data.unlisted_count()),
                               className="lt-note"))
    children.append(_runs(data.runs, lang))
    if data.has_readings:
        children.append(html.P(t("note.times", lang), className="lt-note"))
    return _page(lang, children)


# -- pieces -----------------------------------------------------------------

def _page(lang: str, children: list) -> html.Div:
    other = "en" if lang == "zh" else "zh"
    href = get_relative_path(PATH + "?lang=en" if other == "en" else PATH)
    head = html.Div(className="lt-page-head", children=[
        html.Div([html.H1(t("data.title", lang)),
                  html.P(t("data.subtitle", lang), className="lt-subtitle")]),
        dcc.Link(t("data.switch", lang), href=href, id=ids.DATA_LANG,
                 className="lt-lang"),
    ])
    return html.Div(id=ids.DATA, lang=HTML_LANG[lang], className="lt-page",
                    children=[head, *children])


def _synthetic_banner(data: Overview, lang: str) -> html.Div:
    cities = data.cities[data.cities["id"].isin(data.synthetic_cities)]
    what = [(r.name_en if lang == "en" else r.name_zh) or r.id for r in cities.itertuples()]
    in_synthetic_city = set(data.stations.loc[data.stations["city_id"].isin(
        data.synthetic_cities), "code"])
    loose = [c for c in data.synthetic_stations if c not in in_synthetic_city]
    what += loose[:20] + (["…"] if len(loose) > 20 else [])
    return html.Div(id=ids.DATA_SYNTHETIC_BANNER, role="alert",
                    className="lt-banner lt-banner-synthetic", children=[
                        html.Strong(SYNTHETIC_BANNER),
                        html.P(f"{t('synthetic.detail', lang)} {'、'.join(what)}"),
                    ])


def _empty(lang: str, has_stations: bool) -> html.Div:
    steps: list = []
    if not has_stations:
        steps += [html.P(t("empty.no_sites", lang)),
                  html.Pre("lantian init --sites config/sites/beijing.yaml\n"
                           "lantian ingest prsa /path/to/PRSA_Data_folder/")]
    else:
        steps += [html.P(t("empty.sites", lang)),
                  html.Pre("lantian ingest prsa /path/to/PRSA_Data_folder/\n"
                           "lantian ingest csv readings.csv")]
    steps += [html.P(t("empty.demo", lang)), html.Pre("lantian demo")]
    return html.Div(id=ids.DATA_EMPTY, className="lt-banner lt-banner-info",
                    children=[html.Strong(t("empty.title", lang)), *steps])


def _db_error(lang: str) -> html.Div:
    return html.Div(id=ids.DATA_DB_ERROR, role="alert", className="lt-banner lt-banner-error",
                    children=[html.Strong(t("dberror.title", lang)),
                              html.P(t("dberror.hint", lang)),
                              html.Pre("lantian init --sites config/sites/<city>.yaml")])


def _fmt_int(value) -> str:
    return f"{int(value):,}"


def _summary(data: Overview, listed: pd.DataFrame, lang: str) -> html.Div:
    status = data.status
    firsts = [v for v in status["first"] if v]
    lasts = [v for v in status["last"] if v]
    # days only here ("YYYY-MM-DD HH:MM" strings sort in time order); hours are in the tables
    period = f"{min(firsts)[:10]} – {max(lasts)[:10]}" if firsts and lasts else "—"
    n_cities = listed["city_id"].dropna().nunique()
    items = [
        (t("summary.cities", lang), _fmt_int(n_cities)),
        (t("summary.stations", lang), _fmt_int(len(listed))),
        (t("summary.with_data", lang), _fmt_int(status["station"].nunique())),
        (t("summary.readings", lang), _fmt_int(status["readings"].sum())),
        (t("summary.flagged", lang), _fmt_int(status["flagged"].sum())),
        (t("summary.period", lang), period),
    ]
    return html.Div(id=ids.DATA_SUMMARY, className="lt-summary", children=[
        html.Div(className="lt-stat" + (" lt-stat-wide" if i == len(items) - 1 else ""),
                 children=[html.Div(value, className="lt-stat-value"),
                           html.Div(label, className="lt-stat-label")])
        for i, (label, value) in enumerate(items)])


def _station_names(stations: pd.DataFrame, lang: str) -> list[str]:
    first, second = ("name_en", "name_zh") if lang == "en" else ("name_zh", "name_en")
    return [a or b or code for a, b, code in
            zip(stations[first], stations[second], stations["code"])]


def _cities(data: Overview, listed: pd.DataFrame, lang: str) -> list:
    by_station = {code: rows for code, rows in data.status.groupby("station", sort=False)}
    sections = []
    for city_id, stations in listed.groupby("city_id", dropna=False, sort=False):
        city_id = None if pd.isna(city_id) else city_id
        if city_id is None:
            title, synthetic = t("city.none", lang), bool(stations["synthetic"].any())
        else:
            row = stations.iloc[0]
            title = (row["city_en"] if lang == "en" else row["city_zh"]) or city_id
            synthetic = bool(row["city_synthetic"])
        heading = [title]
        if synthetic:
            heading.append(html.Span(t("city.synthetic_badge", lang), className="lt-badge"))
        sections.append(html.Section(id=ids.data_city(city_id), className="lt-card", children=[
            html.H2(heading), _station_table(stations, by_station, lang)]))
    return sections


def _station_table(stations: pd.DataFrame, by_station: dict, lang: str) -> html.Table:
    header = html.Thead(html.Tr([html.Th(t(f"col.{c}", lang), className=_num(c)) for c in
                                 ("code", "name", "district", "role", "pollutant", "readings",
                                  "first", "last", "flagged")]))
    names = _station_names(stations, lang)
    district_col = "district_en" if lang == "en" else "district_zh"
    body = []
    for (_, st), name in zip(stations.iterrows(), names):
        rows = by_station.get(st["code"])
        span = len(rows) if rows is not None else 1
        role = st["role"]
        role_text = t(f"role.{role}", lang) if role in ("evaluation", "background",
                                                        "excluded") else role
        lead = [html.Td(st["code"], rowSpan=span, className="lt-code"),
                html.Td(name, rowSpan=span),
                html.Td(st[district_col] or "—", rowSpan=span),
                html.Td(role_text, rowSpan=span, className=f"lt-role lt-role-{role}")]
        if rows is None:
            body.append(html.Tr(lead + [html.Td(t("station.no_data", lang), colSpan=5,
                                                className="lt-muted")],
                                className="lt-station-start"))
            continue
        for i, r in enumerate(rows.itertuples(index=False)):
            cells = [html.Td(r.pollutant),
                     html.Td(_fmt_int(r.readings), className="lt-num"),
                     html.Td(r.first or "—"), html.Td(r.last or "—"),
                     html.Td(_fmt_int(r.flagged) if r.flagged else "0",
                             className="lt-num" + (" lt-flagged" if r.flagged else ""))]
            body.append(html.Tr((lead if i == 0 else []) + cells,
                                className="lt-station-start" if i == 0 else None))
    return html.Div(className="lt-table-wrap",
                    children=html.Table([header, html.Tbody(body)], className="lt-table"))


def _num(col: str) -> str | None:
    return "lt-num" if col in ("readings", "flagged", "run", "read", "new", "changed",
                               "rejected") else None


def _when(value) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "—"
    try:
        return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M")
    except (ValueError, TypeError):
        return str(value)


def _runs(runs: pd.DataFrame, lang: str) -> html.Section:
    children: list = [html.H2(t("runs.title", lang))]
    if runs.empty:
        children.append(html.P(t("runs.none", lang), className="lt-muted"))
        return html.Section(id=ids.DATA_RUNS, className="lt-card", children=children)
    cols = ("run", "reader", "file", "status", "started", "read", "new", "changed", "flagged",
            "rejected", "message")
    header = html.Thead(html.Tr([html.Th(t(f"col.{c}", lang), className=_num(c)) for c in cols]))
    body = []
    for r in runs.itertuples(index=False):
        status = str(r.status)
        status_text = (t(f"status.{status}", lang)
                       if status in ("ok", "unchanged", "failed", "running") else status)
        body.append(html.Tr([
            html.Td(str(r.run), className="lt-num"),
            html.Td(r.reader),
            html.Td(PurePath(str(r.file)).name, className="lt-file"),
            html.Td(status_text, className=f"lt-status lt-status-{status}"),
            html.Td(_when(r.started)),
            *[html.Td(_fmt_int(v or 0), className="lt-num")
              for v in (r.read, r.new, r.changed, r.flagged, r.rejected)],
            html.Td(r.message or "", className="lt-message"),
        ]))
    children.append(html.Div(className="lt-table-wrap", children=html.Table(
        [header, html.Tbody(body)], className="lt-table")))
    return html.Section(id=ids.DATA_RUNS, className="lt-card", children=children)
