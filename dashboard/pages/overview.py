"""Page ``/`` — 总览 / Overview: where every district stands, at a glance.

The city's good-day ratio, heavy-pollution days, composite index and PM2.5
with the change against the same period last year; one card per district with
each targeted pollutant (or, without a local target, the national limit of its
grade): the period's value, the target, the national limit, data capture, the
outlook (on track / at risk / exceeded / insufficient data) and what the rest
of the year must average. Everything shown comes from ``indicators`` through
``dashboard.queries``; nothing is computed here.
"""
from __future__ import annotations

import pandas as pd
from dash import dcc, get_relative_path, html

from config.standards import load_profile

from .. import ids
from ..figures.overview import standing_heatmap
from ..i18n import has, register, t
from ..layout import card, empty_state, graph, period_caption, staff_page
from ..ledger import ledger_text
from ..queries import stats_with_change, standing_rows

PATH = "/"
NAME = "总览"
NAME_EN = "Overview"
TITLE = "总览 · 蓝天 Lantian"

register({
    "ov.title": ("总览", "Overview"),
    "ov.subtitle": ("各区县目标完成情况、城市空气质量与同比变化。",
                    "Where each district stands against its targets; the city's air quality "
                    "and its change against last year."),
    "ov.city": ("全市", "City"),
    "ov.good_ratio": ("优良天数比例", "Good-day ratio"),
    "ov.heavy": ("重污染天数", "Heavy-pollution days"),
    "ov.composite": ("综合指数", "Composite index"),
    "ov.pm25": ("PM2.5 平均浓度", "PM2.5 mean"),
    "ov.valid_days": ("有效天数", "Valid AQI days"),
    "ov.vs_last": ("同比", "vs last year"),
    "ov.last_year": ("去年同期", "last year"),
    "ov.no_prev": ("去年同期无数据", "no data last year"),
    "ov.not_valid": ("数据不足", "insufficient data"),
    "ov.districts": ("各区县目标完成情况", "Districts against their targets"),
    "ov.heatmap": ("浓度 ÷ 目标（无地方目标时为国家标准）", "Value ÷ target (national limit "
                   "where there is no local target)"),
    "ov.col.pollutant": ("污染物", "Pollutant"),
    "ov.col.value": ("当前值", "Value"),
    "ov.col.target": ("目标", "Target"),
    "ov.col.limit": ("国标", "Limit"),
    "ov.col.limit_profile": ("所选标准限值", "Profile limit"),
    "ov.col.capture": ("有效天数", "Capture"),
    "ov.col.outlook": ("状态", "Status"),
    "ov.national_only": ("无地方目标，以国家标准为目标", "no local target: national limit shown"),
    "ov.statistic.annual_mean": ("年均", "annual mean"),
    "ov.statistic.p95_daily": ("第95百分位", "95th pct"),
    "ov.statistic.p98_daily": ("第98百分位", "98th pct"),
    "ov.statistic.p90_mda8": ("8小时第90百分位", "P90 MDA8"),
    "ov.statistic.good_day_ratio": ("优良天数比例", "good-day ratio"),
    "ov.outlook.on track": ("达标进度正常", "on track"),
    "ov.outlook.at risk": ("有超标风险", "at risk"),
    "ov.outlook.exceeded": ("超标", "exceeded"),
    "ov.outlook.insufficient data": ("数据不足", "insufficient data"),
    "ov.provisional": ("年初至今为临时结果：实时数据未经审核，年度评价以全年数据为准。",
                       "Year-to-date figures are provisional: real-time data, not audited; the "
                       "year is judged on the whole year."),
    "ov.details": ("详情", "details"),
    "ov.no_districts": ("所选城市没有区县（站点文件中未定义）。",
                        "The chosen city has no districts (none in its site file)."),
    "ov.no_stats": ("所选时段没有数据。", "No data in the chosen period."),
})

OUTLOOK_CLASS = {"on track": "ok", "at risk": "risk", "exceeded": "bad",
                 "insufficient data": "na"}
WORST = ["exceeded", "at risk", "insufficient data", "on track"]


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
    names = cat.names("district", lang)
    out = [city_strip(stats, view), html.H2(f"{t('ov.districts', lang)} · {period_caption(view)}",
                                            className="lt-section-title")]
    if table.empty:
        out.append(empty_state(t("ov.no_districts", lang)))
    else:
        out.append(card(None, graph(standing_heatmap(table, names, lang, t("ov.heatmap", lang)),
                                    height=max(260, 80 + 44 * table["area"].nunique()))))
        out.append(district_cards(table, names, view))
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


def city_strip(stats: pd.DataFrame, view) -> html.Section:
    """Tiles: good-day ratio, heavy days, composite index, PM2.5, valid days (with change)."""
    lang = view.lang
    tiles = []
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
        html.H2(f"{t('ov.city', lang)} · {period_caption(view)}"),
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
    change = row.get("change_rate_reported")
    prev = row.get("previous_reported")
    if change is not None and pd.notna(change):
        improved = bool(row.get("improved")) if judged and pd.notna(row.get("improved")) \
            and change != 0 else None
        arrow = "▲" if change > 0 else ("▼" if change < 0 else "＝")
        cls = "lt-change-good" if improved else ("lt-change-bad" if improved is False else "")
        delta = html.Div(className=f"lt-change {cls}", children=[
            f"{t('ov.vs_last', lang)} {arrow} {abs(change):g}%",
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
    for area, rows in table.groupby("area", sort=True):
        worst = min(rows["outlook"], key=WORST.index)
        href = get_relative_path("/district") + view.shared_search() + f"&district={area}"
        head = html.Div(className="lt-dcard-head", children=[
            html.H3(names.get(area, area)),
            html.Span(t(f"ov.outlook.{worst}", lang),
                      className=f"lt-chip lt-chip-{OUTLOOK_CLASS[worst]}"),
        ])
        # under a comparison profile (WHO, EU, US) the limit column is that profile's
        national = not view.profile or load_profile(view.profile).kind == "cn"
        limit_key = "ov.col.limit" if national else "ov.col.limit_profile"
        body_rows = [html.Tr([html.Th(t(limit_key if c == "limit" else f"ov.col.{c}", lang),
                                      className="lt-num" if c in ("value", "target", "limit",
                                                                  "capture") else None)
                              for c in ("pollutant", "value", "target", "limit", "capture",
                                        "outlook")])]
        for r in records[area]:
            body_rows.extend(_pollutant_row(r, lang))
        foot = [dcc.Link(t("ov.details", lang) + " →", href=href, className="lt-more")]
        if (rows["basis"] == "national").any():
            foot.insert(0, html.Span("* " + t("ov.national_only", lang), className="lt-muted"))
        cards.append(html.Article(id=ids.overview_card(area), className="lt-dcard", children=[
            head, html.Table(className="lt-table lt-dtable", children=html.Tbody(body_rows)),
            html.Div(className="lt-dcard-foot", children=foot)]))
    return html.Div(id=ids.OVERVIEW_CARDS, className="lt-dcards", children=cards)


def _pollutant_row(r, lang: str) -> list:
    key = f"ov.statistic.{r.statistic}"
    statistic = t(key, lang) if has(key) else r.statistic
    unit = "" if r.pollutant in ("AQI", "ALL") else (" mg/m³" if r.pollutant == "CO" else "")
    capture = "" if pd.isna(r.n_valid) else f"{int(r.n_valid)}/{int(r.n_required)}"
    target = f"{r.target:g}" + ("" if r.basis == "target" else "*")
    limit = "—" if pd.isna(r.national_limit) else f"{r.national_limit:g}"
    note = r.needed_zh if lang == "zh" else r.needed_en
    if r.outlook == "insufficient data" or (not r.valid and not r.provisional):
        note = ledger_text(r.detail, lang)
    cells = [html.Td([html.B(r.pollutant), html.Span(f" {statistic}", className="lt-muted")]),
             html.Td(_fmt(r.reported) + unit, className="lt-num"),
             html.Td(target, className="lt-num",
                     title=None if r.basis == "target" else t("ov.national_only", lang)),
             html.Td(limit, className="lt-num"),
             html.Td(capture, className="lt-num"),
             html.Td(html.Span(t(f"ov.outlook.{r.outlook}", lang),
                               className=f"lt-chip lt-chip-{OUTLOOK_CLASS[r.outlook]}"))]
    rows = [html.Tr(cells)]
    if isinstance(note, str) and note:
        rows.append(html.Tr(html.Td(note, colSpan=6, className="lt-needed")))
    return rows

