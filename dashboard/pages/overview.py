"""Page ``/`` — 总览 / Overview: where every district stands, at a glance.

The city's good-day ratio, heavy-pollution days, composite index and PM2.5
with the change against the same period last year; one card per district with
each targeted pollutant (or, without a local target, the national limit of its
grade): the period's value, the target, the national limit (the binding one, the
stricter, in bold), the margin against the binding figure, data capture, the status
(``indicators.targets.judge``: met / not met for an ended year, on track / at risk /
already exceeded for a year to date, for reference for a month or a custom range,
insufficient data) and what the rest of the year must average. Everything shown comes
from ``indicators`` through ``dashboard.queries``; nothing is computed here.
"""
from __future__ import annotations

import pandas as pd
from dash import dcc, get_relative_path, html

from config.standards import load_profile
from indicators.targets import (AT_RISK, EXCEEDED, INSUFFICIENT, MET, NO_LIMIT, NOT_MET, ON_TRACK,
                                REFERENCE, REFERENCE_PERIOD, STATUS_TEXT, worst)
from indicators.ranking import change_kind, change_text

from .. import ids
from ..figures.overview import standing_heatmap
from ..i18n import has, t
from ..layout import card, empty_state, graph, period_caption, staff_page
from ..ledger import ledger_text
from ..queries import stats_with_change, standing_rows

PATH = "/"
NAME = "总览"
NAME_EN = "Overview"
TITLE = "总览 · 蓝天 Lantian"


#: the note that a month, quarter or custom range is shown for reference only
REFERENCE_NOTE_ID = "overview-reference-note"
# the status words (indicators.targets.STATUS_TEXT, decided by indicators.targets.judge)
#: chip colour of each status
STATUS_CLASS = {MET: "ok", ON_TRACK: "ok", AT_RISK: "risk", NOT_MET: "bad", EXCEEDED: "bad",
                INSUFFICIENT: "na", REFERENCE: "na", NO_LIMIT: "na"}


def status_chip(code: str, lang: str) -> html.Span:
    """A status (:func:`indicators.targets.judge`) as a coloured chip in ``lang``."""
    return html.Span(t(f"ov.status.{code}", lang),
                     className=f"lt-chip lt-chip-{STATUS_CLASS.get(code, 'na')}")


def layout(**query) -> html.Div:
    return staff_page(page="overview", title=(t("ov.title"), t("ov.title", "en")),
                      subtitle=(t("ov.subtitle"), t("ov.subtitle", "en")), query=query,
                      body=body, path=PATH)


def body(view, cat, engine) -> list:
    lang = view.lang
    stats = stats_with_change(engine, view, areas_only=True)
    if stats.empty:
        return [empty_state(t("ov.no_stats", lang))]
    table = standing_rows(engine, view)
    if cat.scope is not None:     # a district-scoped account: its district only, no city row
        table = table[table["area"].isin(cat.districts["id"])]
    names = cat.names("district", lang)
    out = [city_strip(stats, view, cat),
           html.H2(f"{t('ov.districts', lang)} · {period_caption(view)}",
                   className="lt-section-title")]
    if table.empty:
        out.append(empty_state(t("ov.no_districts", lang)))
    else:
        reference = bool((table["period_kind"] == REFERENCE_PERIOD).all())
        heading = t("ov.heatmap_reference" if reference else "ov.heatmap", lang)
        out.append(card(None, graph(standing_heatmap(table, names, lang, heading),
                                    height=max(260, 80 + 44 * table["area"].nunique()))))
        out.append(district_cards(table, names, view))
        if (table["period_kind"] == REFERENCE_PERIOD).any():
            out.append(html.P(t("ov.reference_note", lang), id=REFERENCE_NOTE_ID,
                              className="lt-note"))
        out.append(html.P(t("ov.binding_note", lang), className="lt-note"))
    if view.stats_period == "ytd" or view.end < _period_end(view):
        out.append(html.P(t("ov.provisional", lang), className="lt-note"))
    return out


def _period_end(view):
    from ..state import month_bounds
    if view.stats_period == "month":
        return month_bounds(view.year, view.month)[1]
    return view.end.replace(month=12, day=31)


# -- the city strip ------------------------------------------------------------------

def _city_row(stats: pd.DataFrame, city: str, pollutant: str, statistic: str):
    rows = stats[(stats["level"] == "city") & (stats["area"] == city)
                 & (stats["pollutant"] == pollutant) & (stats["statistic"] == statistic)]
    return None if rows.empty else rows.iloc[0]


def city_strip(stats: pd.DataFrame, view, cat=None) -> html.Section:
    """Tiles: good-day ratio, heavy days, composite index, PM2.5, valid days (with change);
    of the account's district instead of the city for a district-scoped catalogue."""
    lang = view.lang
    tiles = []
    title = t("ov.city", lang)
    if cat is not None and cat.scope is not None:
        title = cat.name("district", cat.scope[1], lang)
        stats = stats[(stats["level"] == "district") & (stats["area"] == cat.scope[1])] \
            .assign(level="city", area=view.city)
    # the city's rows once (a national table has ~100,000 rows: five masks of it cost 50 ms)
    stats = stats[(stats["level"] == "city") & (stats["area"] == view.city)]
    for key, pollutant, statistic, unit in (
            ("ov.good_ratio", "AQI", "good_day_ratio", "%"),
            ("ov.heavy", "AQI", "heavy_days", "天" if lang == "zh" else " d"),
            ("ov.composite", "ALL", "composite_index", ""),
            ("ov.pm25", "PM2.5", "annual_mean", " µg/m³"),
            ("ov.valid_days", "AQI", "valid_aqi_days", "天" if lang == "zh" else " d")):
        row = _city_row(stats, view.city, pollutant, statistic)
        # more valid days is neither better nor worse air: no good/bad colour for it
        tiles.append(_tile(t(key, lang), row, unit, lang, judged=statistic != "valid_aqi_days"))
    return html.Section(id=ids.OVERVIEW_CITY, className="lt-card", children=[
        html.H2(f"{title} · {period_caption(view)}"),
        html.Div(className="lt-summary", children=tiles)])


def _fmt(value) -> str:
    if value is None or pd.isna(value):
        return "—"
    return f"{value:g}" if abs(value) < 1e6 else f"{value:,.0f}"


def _tile(label: str, row, unit: str, lang: str, judged: bool = True) -> html.Div:
    if row is None or pd.isna(row["reported"]):
        return html.Div(className="lt-stat", children=[
            html.Div("—", className="lt-stat-value"), html.Div(label, className="lt-stat-label")])
    valid = bool(row["valid"])
    value = html.Div([_fmt(row["reported"]), html.Span(unit, className="lt-unit")],
                     className="lt-stat-value" + ("" if valid else " lt-stat-invalid"))
    # the change in its unit (standards.md §7): % for a concentration or the index,
    # percentage points for the good-day ratio, days for a count of days
    change = row.get("change")
    kind = row.get("change_kind")
    kind = kind if isinstance(kind, str) else change_kind(str(row.get("statistic")))
    prev = row.get("previous_reported")
    if change is not None and pd.notna(change):
        improved = bool(row.get("improved")) if judged and pd.notna(row.get("improved")) \
            and change != 0 else None
        cls = "lt-change-good" if improved else ("lt-change-bad" if improved is False else "")
        delta = html.Div(className=f"lt-change {cls}", children=[
            f"{t('ov.vs_last', lang)} {change_text(change, kind, lang, arrow=True)}",
            html.Span(f" ({t('ov.last_year', lang)} {_fmt(prev)})", className="lt-muted")])
    elif prev is not None and pd.notna(prev):
        delta = html.Div(f"{t('ov.last_year', lang)} {_fmt(prev)}", className="lt-change")
    else:
        delta = html.Div(t("ov.no_prev", lang), className="lt-change lt-muted")
    children = [value, html.Div(label, className="lt-stat-label"), delta]
    why = ledger_text(row.get("detail"), lang) if not valid else ""
    if why:
        children.append(html.Div(f"{t('ov.not_valid', lang)}: {why}", className="lt-stat-why"))
    return html.Div(className="lt-stat", children=children)


# -- district cards -------------------------------------------------------------------

def district_cards(table: pd.DataFrame, names: dict, view) -> html.Div:
    lang = view.lang
    cards = []
    # one pass of itertuples over the whole table: per group it builds a namedtuple
    # class each time (80 ms for the 34 provinces of the national network)
    records: dict[str, list] = {}
    for record in table.itertuples(index=False):
        records.setdefault(record.area, []).append(record)
    # the site file's order (the catalogue's names are in it), as on every other page
    rank_of = {a: i for i, a in enumerate(names)}
    for area, rows in sorted(table.groupby("area", sort=False),
                             key=lambda item: (rank_of.get(item[0], len(rank_of)), item[0])):
        head = html.Div(className="lt-dcard-head", children=[
            html.H3(names.get(area, area)), status_chip(worst(rows["verdict"]), lang)])
        href = get_relative_path("/district") + view.shared_search() + f"&district={area}"
        # under a comparison profile (WHO, EU, US) the limit column is that profile's
        national = not view.profile or load_profile(view.profile).kind == "cn"
        limit_key = "ov.col.limit" if national else "ov.col.limit_profile"
        body_rows = [html.Tr([html.Th(t(limit_key if c == "limit" else f"ov.col.{c}", lang),
                                      className="lt-num" if c in NUMERIC_COLUMNS else None)
                              for c in CARD_COLUMNS])]
        for r in records[area]:
            body_rows.extend(_pollutant_row(r, lang))
        foot = [dcc.Link(t("ov.details", lang) + " →", href=href, className="lt-more")]
        if (rows["basis"] == "national").any():
            foot.insert(0, html.Span("* " + t("ov.national_only", lang), className="lt-muted"))
        cards.append(html.Article(id=ids.overview_card(area), className="lt-dcard", children=[
            head, html.Table(className="lt-table lt-dtable", children=html.Tbody(body_rows)),
            html.Div(className="lt-dcard-foot", children=foot)]))
    return html.Div(id=ids.OVERVIEW_CARDS, className="lt-dcards", children=cards)


CARD_COLUMNS = ("pollutant", "value", "target", "limit", "margin", "capture", "outlook")
NUMERIC_COLUMNS = ("value", "target", "limit", "margin", "capture")


def signed(value) -> str:
    """A margin with its sign: ``+10``, ``-1.2``, ``0``; ``—`` for none."""
    if value is None or pd.isna(value):
        return "—"
    return "0" if value == 0 else f"{value:+g}"


def _pollutant_row(r, lang: str) -> list:
    """One statistic of a district card: value, target, limit (the binding one in bold),
    margin against the binding figure, capture and status; below it what the rest of the
    year must average, why the statistic is not valid, or the status against each figure
    where they differ."""
    # a month or a custom range has a mean, not an annual mean
    stat = "mean" if r.statistic == "annual_mean" and r.period_kind == REFERENCE_PERIOD \
        else r.statistic
    key = f"ov.statistic.{stat}"
    statistic = t(key, lang) if has(key) else r.statistic
    unit = "" if r.pollutant in ("AQI", "ALL") else (" mg/m³" if r.pollutant == "CO" else "")
    value = f"{r.reported:.1f}" if r.pollutant == "CO" and pd.notna(r.reported) \
        else _fmt(r.reported)             # CO is published to 0.1 mg/m³ (2.0, not 2)
    capture = "" if pd.isna(r.n_valid) else f"{int(r.n_valid)}/{int(r.n_required)}"
    local = r.basis == "target"
    target = f"{r.target:g}" + ("" if local else "*")
    limit = "—" if pd.isna(r.national_limit) else f"{r.national_limit:g}"
    binding_is_limit = r.binding_basis == "national"
    judged = r.verdict not in (REFERENCE, INSUFFICIENT, NO_LIMIT)
    notes = []
    needed = r.needed_zh if lang == "zh" else r.needed_en
    if isinstance(needed, str) and needed:
        notes.append(needed)
    if r.verdict == INSUFFICIENT or (not r.valid and not r.provisional):
        why = ledger_text(r.detail, lang)
        if why:
            notes = [why]
    if local and judged and pd.notna(r.national_limit) and r.verdict_target != r.verdict_national:
        notes.append(t("ov.each", lang, target=f"{r.target:g}", limit=limit,
                       st_target=t(f"ov.status.{r.verdict_target}", lang),
                       st_limit=t(f"ov.status.{r.verdict_national}", lang)))
    cells = [html.Td([html.B(r.pollutant), html.Span(f" {statistic}", className="lt-muted")]),
             html.Td(value + unit, className="lt-num"),
             html.Td(html.B(target) if local and not binding_is_limit else target,
                     className="lt-num",
                     title=None if local else t("ov.national_only", lang)),
             html.Td(html.B(limit) if binding_is_limit else limit, className="lt-num"),
             html.Td(signed(r.margin) if judged else "—", className="lt-num"),
             html.Td(capture, className="lt-num"),
             html.Td(status_chip(r.verdict, lang))]
    rows = [html.Tr(cells)]
    if notes:
        rows.append(html.Tr(html.Td(("；" if lang == "zh" else "; ").join(notes),
                                    colSpan=len(CARD_COLUMNS), className="lt-needed")))
    return rows

