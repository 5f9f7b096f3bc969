"""Page ``/objectives`` — 目标考核 / Objectives: the city's action plan, objective by objective.

The plan is the site file's ``plan:`` section as loaded in the city's current site
copy; :func:`dashboard.queries.objectives` judges it for the chosen year through
:func:`evaluation.objectives.objectives_evaluation`, the evaluation ``lantian
objectives`` prints. One line per objective, coloured by its status (the overview's
colours): its text, the value, the target, the margin (value − target), the status word
(``indicators.targets.STATUS_TEXT``; ``no data`` where it cannot be computed) and the
reason (what the rest of the year must average, why the data are insufficient, what
to load). The city's block comes first, then each district's in the site file's order,
with the count of each status on top.

The period is a year (``?year=``, default the latest year with data); a year still
running shows its year-to-date statuses (on track / at risk / already exceeded) and says
up to which day. Page keys: ``district`` (a district id, or the city id for the city's
own objectives), ``status`` and ``kind`` narrow the lines; the download
(``/export/objectives.csv|xlsx``) holds the lines shown.

Each line links to the view that explains it: a value or grade objective to the
district page of its area (the whole city for a city objective) with its pollutant; a
change objective to the overview (the city) or the district page; a composite-index
objective to the ranking by the composite index; a rank objective to the ranking page's
peer-group view (``/ranking?city=…&year=…&group=…``). A district-scoped account
(dashboard/auth.py) sees its own district's objectives only.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

import pandas as pd
from dash import dcc, get_relative_path, html
from sqlalchemy.exc import SQLAlchemyError

from config.errors import ConfigError
from config.plan import Objective
from evaluation.errors import NoDataError
from evaluation.objectives import NO_DATA, NO_DATA_TEXT
from indicators.targets import (AT_RISK, EXCEEDED, INSUFFICIENT, MET, NOT_MET, ON_TRACK,
                                status_text)

from .. import ids
from ..auth import scope_of
from ..context import current_engine
from ..exports import register_export
from ..i18n import t
from ..layout import card, dropdown, empty_state, export_links, notes, notices, staff_page
from ..ledger import ledger_text
from ..queries import action_plan, catalog, objectives
from .common import POLLUTANTS
from .overview import STATUS_CLASS, signed

PATH = "/objectives"
NAME = "目标考核"
NAME_EN = "Objectives"
TITLE = "目标考核 · 蓝天 Lantian"
PAGE_KEYS = ("district", "status", "kind")
ALL = "all"
KINDS = ("value", "grade", "change", "composite_max", "rank")
#: The statuses of an ended year and of a running one, in the order they are counted.
ENDED_STATUSES = (MET, NOT_MET, INSUFFICIENT, NO_DATA)
RUNNING_STATUSES = (ON_TRACK, AT_RISK, EXCEEDED, INSUFFICIENT, NO_DATA)
STATUSES = (MET, ON_TRACK, AT_RISK, EXCEEDED, NOT_MET, INSUFFICIENT, NO_DATA)

# component ids (``objectives-…``)
HEADING = "objectives-heading"
COUNTS = "objectives-counts"
RUNNING_NOTE = "objectives-running"
LINES = "objectives-lines"
EMPTY = "objectives-empty"
EXPORT_CSV = "objectives-export-csv"
EXPORT_XLSX = "objectives-export-xlsx"


def line_id(objective: str) -> str:
    """Id of one objective's line."""
    return "objectives-line-" + ids.slug(str(objective))


def count_id(status: str) -> str:
    """Id of the count of one status (its link)."""
    return "objectives-count-" + ids.slug(str(status))


def group_id(area: str) -> str:
    """Id of the block of one area (the city or a district)."""
    return "objectives-group-" + ids.slug(str(area))


# -- the year -------------------------------------------------------------------------

def year_query(query: dict) -> dict:
    """``query`` with the period this page judges: a calendar year, by default the latest
    year with data; a year still running is its year to date (``period=ytd``). The
    months and custom ranges of the other pages do not apply to a plan (the address keeps
    them for the other pages; the links of this page carry the year)."""
    query = {k: v for k, v in query.items() if k not in ("period", "month", "from", "to")}
    try:
        cat = catalog(current_engine()).scoped(scope_of())
    except SQLAlchemyError:
        return query                       # the page frame says the database is down
    city = query.get("city")
    if city not in cat.city_ids():
        city = cat.default_city()
    span = cat.spans.get(city)
    if span is None:
        return query
    first, last = span
    if query.get("year") in (None, ""):
        query["year"] = str(last.year)
    try:
        year = int(str(query["year"]).strip())
    except ValueError:
        return query                       # resolve() replaces it, with a notice
    if first.year <= year <= last.year:
        query["period"] = "ytd" if year == last.year and last < date(year, 12, 31) else "year"
    return query


def layout(**query) -> html.Div:
    return staff_page(page="objectives", title=(t("obj.title"), t("obj.title", "en")),
                      subtitle=(t("obj.subtitle"), t("obj.subtitle", "en")),
                      query=year_query(query), body=body, path=PATH, page_keys=PAGE_KEYS,
                      extra_controls=controls, period_control=False, profile_control=False)


# -- choices ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Choice:
    district: str | None           # an area id (the city id: its own objectives), None: all
    status: str | None
    kind: str | None
    notices: tuple = ()


def running(view) -> bool:
    return view.period == "ytd"


def area_options(view, cat) -> list[tuple[str, str]]:
    """(value, label): every area, the city's own objectives, then each district; for a
    district-scoped account its district only (which is all it sees)."""
    lang = view.lang
    if cat.scope is not None:
        return [(ALL, cat.name("district", cat.scope[1], lang))]
    names = cat.names("district", lang)
    return [(ALL, t("obj.all_areas", lang)),
            (view.city, t("obj.city_block", lang, name=cat.name("city", view.city, lang))),
            *[(d, names.get(d, d)) for d in cat.city_districts(view.city)["id"]]]


def status_options(view) -> list[str]:
    return list(RUNNING_STATUSES if running(view) else ENDED_STATUSES)


def status_word(code: str, lang: str) -> str:
    """A status in ``lang``: ``indicators.targets.STATUS_TEXT``, or "no data"."""
    if code == NO_DATA:
        return NO_DATA_TEXT[1 if lang == "en" else 0]
    return status_text(code, lang)


def choices(view, cat) -> Choice:
    """The page keys, checked (an unknown value is ignored, with a notice)."""
    lang = view.lang
    messages = []
    district = view.params.get("district", ALL)
    if cat.scope is not None and district == cat.scope[1]:
        district = ALL                     # its district is all a scoped account sees
    if district not in [v for v, _ in area_options(view, cat)]:
        messages.append(t("obj.unknown_district", lang, value=str(district)[:40]))
        district = ALL
    status = view.params.get("status", ALL)
    if status != ALL and status not in status_options(view):
        messages.append(t("obj.unknown_status", lang, value=str(status)[:40]))
        status = ALL
    kind = view.params.get("kind", ALL)
    if kind != ALL and kind not in KINDS:
        messages.append(t("obj.unknown_kind", lang, value=str(kind)[:40]))
        kind = ALL
    return Choice(None if district == ALL else district, None if status == ALL else status,
                  None if kind == ALL else kind, tuple(messages))


def controls(view, cat) -> list:
    lang = view.lang
    choice = choices(view, cat)
    first, last = cat.spans.get(view.city, (view.start, view.end))
    try:
        plan = action_plan(current_engine(), view.city)
    except ConfigError:
        plan = None
    if plan is None:                       # nothing to choose: the body says what to add
        return []
    years = [y for y in range(last.year, first.year - 1, -1)
             if plan.applies_to(y) or y == view.year]
    return [
        dropdown("year", [{"label": str(y), "value": str(y)} for y in years], str(view.year),
                 t("ctl.year", lang), width=100),
        dropdown("district", [{"label": label, "value": v}
                              for v, label in area_options(view, cat)],
                 choice.district or ALL, t("obj.ctl.district", lang), width=220),
        dropdown("status", [{"label": t("obj.all_statuses", lang), "value": ALL}]
                 + [{"label": status_word(s, lang), "value": s} for s in status_options(view)],
                 choice.status or ALL, t("obj.ctl.status", lang), width=160),
        dropdown("kind", [{"label": t("obj.all_kinds", lang), "value": ALL}]
                 + [{"label": t(f"obj.kind.{k}", lang), "value": k} for k in KINDS],
                 choice.kind or ALL, t("obj.ctl.kind", lang), width=170),
    ]


# -- the table ------------------------------------------------------------------------------

class PlanMissing(Exception):
    """What the page says instead of the lines (a message and a hint, in the view's language)."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message, self.hint = message, hint


def plan_table(view, cat, engine) -> tuple[pd.DataFrame, object, bool]:
    """(objectives the account may see, last day evaluated, year still running), the
    objectives in display order: the city's, then each district's in the site file's order
    (each in the plan's order), with the plan's settings of each (``objective``: a
    :class:`config.plan.Objective`). Raises :class:`PlanMissing`."""
    lang = view.lang
    city = cat.name("city", view.city, lang)
    try:
        plan = action_plan(engine, view.city)
        if plan is None:
            raise PlanMissing(t("obj.no_plan", lang, city=city), t("obj.no_plan_hint", lang))
        if not plan.applies_to(view.year):
            raise PlanMissing(t("obj.before_plan", lang, year=view.year, start=plan.year))
        table, ytd_end, in_progress = objectives(engine, view.city, view.year)
    except NoDataError:
        raise PlanMissing(t("obj.no_data", lang, year=view.year)) from None
    except ConfigError as error:
        raise PlanMissing(t("obj.bad_plan", lang, city=city), str(error)[:400]) from None
    if cat.scope is not None:         # a district-scoped account: its district's objectives
        table = table[table["scope"] == cat.scope[1]]
    order = {"city": 0}
    order.update({d: n + 1 for n, d in enumerate(cat.city_districts(view.city)["id"])})
    rank = table["scope"].map(order).fillna(len(order) + 1)
    settings = {o.id: o for o in plan.objectives}
    table = table.assign(_order=rank.to_numpy(), _n=range(len(table)),
                         objective=table["id"].map(settings)) \
        .sort_values(["_order", "_n"], kind="stable").drop(columns=["_order", "_n"])
    return table.reset_index(drop=True), ytd_end, bool(in_progress)


def area_of(row_scope: str, view) -> str:
    """The area id of an objective's scope (``city`` → the city's id)."""
    return view.city if row_scope == "city" else str(row_scope)


def narrowed(table: pd.DataFrame, choice: Choice, view, status: bool = True) -> pd.DataFrame:
    """The objectives the filters keep (``status=False``: all statuses, for the counts)."""
    keep = pd.Series(True, index=table.index)
    if choice.district is not None:
        keep &= table["scope"].map(lambda s: area_of(s, view)) == choice.district
    if choice.kind is not None:
        keep &= table["kind"] == choice.kind
    if status and choice.status is not None:
        keep &= table["status"] == choice.status
    return table[keep.to_numpy(bool)]


def number(value) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:g}"


def unit_word(unit, lang: str) -> str:
    """A unit as shown: µg/m³ and % as they are, points and days in words."""
    unit = "" if unit is None or pd.isna(unit) else str(unit)
    words = {"points": t("obj.unit.points", lang), "days": t("obj.unit.days", lang)}
    return words.get(unit, unit)


def figures(r, lang: str) -> tuple[str, str, str]:
    """(value, target, margin) of one objective as shown: the target with its comparison
    (≤ 37 µg/m³, ≥ +2 个百分点, < 0 天), a change signed, a rank as a place."""
    unit = unit_word(r.unit, lang)
    sep = "" if unit in ("%", "") or lang == "zh" and unit in ("天", "个百分点") else " "
    o = r.objective if isinstance(getattr(r, "objective", None), Objective) else None

    def with_unit(text: str) -> str:
        return text if text == "—" or not unit else f"{text}{sep}{unit}"
    if r.kind == "rank":           # a place: the smaller the better
        place = "—" if pd.isna(r.value) else t("obj.place", lang, n=f"{r.value:g}")
        target = "—" if pd.isna(r.target) else t("obj.place_target", lang, n=f"{r.target:g}")
        return place, target, signed(r.margin)
    if r.kind == "change":
        up = o is None or o.direction != "down"
        if pd.isna(r.target) or r.target == 0:
            target = ("> " if up else "< ") + "0"
        else:
            target = ("≥ " if up else "≤ ") + signed(r.target)
        return with_unit(signed(r.value)), with_unit(target), signed(r.margin)
    target = number(r.target)
    if target != "—":
        target = ("≥ " if o is not None and o.max is None and o.min is not None else "≤ ") \
            + target
    return with_unit(number(r.value)), with_unit(target), signed(r.margin)


def reason_of(r, lang: str) -> str:
    """The reason in ``lang`` (ledger phrases, as every page shows them)."""
    text = r.reason if lang == "en" else r.reason_zh
    text = "" if text is None or pd.isna(text) else str(text)
    return ledger_text(text, lang) if text else ""


# -- links ----------------------------------------------------------------------------------

def view_href(view, path: str, **params) -> str:
    """``path`` with the view's shared state (city, period, year, language; the profile in
    force, as the objectives are judged) and ``params``, as every page's links are
    (dashboard/state.py: the shared keys, then the page's own)."""
    extra = {k: str(v) for k, v in params.items() if v not in (None, "")}
    return get_relative_path(path) + view.shared_search(profile=None) + \
        ("&" + urlencode(extra) if extra else "")


def link_of(r, view) -> tuple[str, str]:
    """(address, label key) of the view that explains an objective."""
    city = r.scope == "city"
    area = view.city if city else str(r.scope)
    pollutant = r.pollutant if isinstance(r.pollutant, str) and r.pollutant in POLLUTANTS \
        else None
    if r.kind == "rank":
        group = r.objective.group if isinstance(r.objective, Objective) else None
        return view_href(view, "/ranking", group=group), "obj.link.rank"
    if r.kind == "composite_max":
        return view_href(view, "/ranking", by="composite_index"), "obj.link.composite"
    if r.kind == "change":
        if city:
            return view_href(view, "/"), "obj.link.overview"
        return view_href(view, "/district", district=area, pollutant=pollutant), \
            "obj.link.district"
    return view_href(view, "/district", district=area, pollutant=pollutant), \
        "obj.link.city" if city else "obj.link.district"


# -- the page body ---------------------------------------------------------------------------

def body(view, cat, engine) -> list:
    lang = view.lang
    choice = choices(view, cat)
    out = []
    if choice.notices:
        out.append(notices(list(choice.notices)))
    try:
        table, ytd_end, in_progress = plan_table(view, cat, engine)
    except PlanMissing as missing:
        return out + [html.Div(id=EMPTY, children=empty_state(missing.message, missing.hint))]
    end = pd.Timestamp(ytd_end).date()
    caption = t("obj.caption_ytd", lang, year=view.year, end=f"{end:%m-%d}") if in_progress \
        else t("obj.caption", lang, year=view.year)
    out.append(html.H2(t("obj.heading", lang, period=caption, n=len(table)), id=HEADING,
                       className="lt-section-title"))
    if in_progress:
        out.append(html.Div(id=RUNNING_NOTE, className="lt-banner lt-banner-info", role="status",
                            children=html.P(t("obj.running", lang, year=view.year,
                                              end=end.isoformat()))))
    base = narrowed(table, choice, view, status=False)
    shown = narrowed(table, choice, view)
    out.append(counts(base, view, choice))
    if shown.empty:
        out.append(html.Div(id=LINES, children=empty_state(
            t("obj.none_match" if len(table) else "obj.none", lang))))
    else:
        out.append(html.Div(id=LINES, children=blocks(shown, view, cat)))
    out.append(export_links(t("obj.export", lang), "objectives", view, className="lt-obj-export",
                            ids=(EXPORT_CSV, EXPORT_XLSX)))
    out += notes(t("obj.note", lang),
                 t("obj.note_running", lang) if in_progress else None)
    return out


def counts(table: pd.DataFrame, view, choice: Choice) -> html.Div:
    """"达标 8 · 未达标 3 · 无数据 2": each a link showing only those lines."""
    lang = view.lang
    found = table["status"].value_counts()
    items = [dcc.Link(t("obj.count_all", lang, n=len(table)), href=view_href_page(view, None),
                      className="lt-obj-count" + (" lt-obj-count-on" if choice.status is None
                                                  else ""))]
    for code in STATUSES:
        n = int(found.get(code, 0))
        if not n:
            continue
        items.append(dcc.Link(
            [html.Span(status_word(code, lang),
                       className=f"lt-chip lt-chip-{STATUS_CLASS.get(code, 'na')}"),
             html.Span(f" {n}", className="lt-obj-count-n")],
            href=view_href_page(view, code), id=count_id(code),
            className="lt-obj-count" + (" lt-obj-count-on" if choice.status == code else "")))
    return html.Div(id=COUNTS, className="lt-obj-counts", children=items)


def view_href_page(view, status: str | None) -> str:
    """This page with another status filter (the other choices kept)."""
    return get_relative_path(PATH) + view.search(status=status)


def blocks(table: pd.DataFrame, view, cat) -> list:
    """One card per area (the city first, then the districts): a line per objective."""
    lang = view.lang
    out = []
    head = html.Div(className="lt-obj-line lt-obj-head", **{"aria-hidden": "true"}, children=[
        html.Div(t("obj.col.status", lang), className="lt-obj-status"),
        html.Div(t("obj.col.objective", lang), className="lt-obj-text"),
        html.Div(t("obj.col.value", lang), className="lt-obj-num lt-obj-value"),
        html.Div(t("obj.col.target", lang), className="lt-obj-num lt-obj-target"),
        html.Div(t("obj.col.margin", lang), className="lt-obj-num lt-obj-margin"),
        html.Div("", className="lt-obj-link")])
    for scope, rows in table.groupby("scope", sort=False):
        area = area_of(scope, view)
        title = t("obj.city_block", lang, name=cat.name("city", view.city, lang)) \
            if scope == "city" else cat.name("district", area, lang)
        lines = [line(r, view) for r in rows.itertuples(index=False)]
        out.append(card(f"{title} · {t('obj.n', lang, n=len(rows))}", head, *lines,
                        id=group_id(area), className="lt-obj-group"))
    return out


def line(r, view) -> html.Article:
    lang = view.lang
    status = str(r.status)
    value, target, margin = figures(r, lang)
    href, label = link_of(r, view)
    reason = reason_of(r, lang)
    text = [html.Span(r.text_en if lang == "en" else r.text_zh, className="lt-obj-what")]
    if reason:
        text.append(html.P(reason, className="lt-obj-reason"))

    def num(word: str, shown: str, cls: str) -> html.Div:
        return html.Div([html.Span(word, className="lt-obj-label"), shown],
                        className=f"lt-obj-num {cls}")
    return html.Article(
        id=line_id(r.id), className=f"lt-obj-line lt-obj-{STATUS_CLASS.get(status, 'na')}",
        **{"data-status": status, "data-kind": str(r.kind)}, children=[
            html.Div(html.Span(status_word(status, lang),
                               className=f"lt-chip lt-chip-{STATUS_CLASS.get(status, 'na')}"),
                     className="lt-obj-status"),
            html.Div(text, className="lt-obj-text"),
            num(t("obj.col.value", lang), value, "lt-obj-value"),
            num(t("obj.col.target", lang), target, "lt-obj-target"),
            num(t("obj.col.margin", lang), margin, "lt-obj-margin"),
            html.Div(dcc.Link(t(label, lang) + " →", href=href, className="lt-more"),
                     className="lt-obj-link"),
        ])


# -- export -----------------------------------------------------------------------------------

EXPORT_COLUMNS = ["id", "area", "area_name", "kind", "objective", "period", "value", "target",
                  "margin", "unit", "status", "reason"]


def export_frame(view, cat, engine) -> pd.DataFrame:
    """The lines of the page (its filters applied) for download, words in the view's
    language (column names: ``exp.col.*``, or the codes with ``&codes=1``)."""
    lang = view.lang
    try:
        table, _end, _running = plan_table(view, cat, engine)
    except PlanMissing:
        return pd.DataFrame(columns=EXPORT_COLUMNS)
    table = narrowed(table, choices(view, cat), view)
    rows = []
    for r in table.itertuples(index=False):
        area = area_of(r.scope, view)
        rows.append({
            "id": r.id, "area": area,
            "area_name": cat.name("city" if r.scope == "city" else "district", area, lang),
            "kind": t(f"obj.kind.{r.kind}", lang),
            "objective": r.text_en if lang == "en" else r.text_zh, "period": r.period,
            # numbers stay numbers (empty where there is none): a spreadsheet sums them
            "value": r.value, "target": r.target, "margin": r.margin,
            "unit": unit_word(r.unit, lang),
            "status": status_word(str(r.status), lang), "reason": reason_of(r, lang)})
    return pd.DataFrame(rows, columns=EXPORT_COLUMNS)


register_export("objectives", export_frame, PAGE_KEYS, scoped=True)
