"""Page ``/ranking`` — 排名 / Ranking: districts (or stations) ranked on one statistic.

The composite index (综合指数) by default, or the good-day ratio, heavy days,
or any pollutant's statistic (period mean, percentile, exceedance days) of the
chosen year, month or year to date (a custom range ranks the year to date of
its end: HJ 663 evaluates calendar periods). Ranking follows standards.md §7
through :func:`indicators.ranking.rank`: ascending on the reported value (the
good-day ratio descending), ties share a rank, areas whose statistic is not
valid stay listed as "insufficient data" with the validity ledger's reason,
and the change against the same period last year is given on the reported
values. Limits (for the colour of the bars) come from
:func:`indicators.comparison.against_limits`. Nothing is computed here.
"""
from __future__ import annotations

import pandas as pd
from dash import html

from config.vocabulary import JUDGED_STATISTIC
from indicators.comparison import against_limits
from indicators.statistics import COMPLIANCE_PERIODS

from .. import ids
from ..exports import register_export
from ..figures.ranking import ranking_bars
from ..i18n import register, t
from ..layout import (card, dropdown, empty_state, export_links, graph, grid, notes,
                      profile_label, staff_page, stats_caption, synthetic_title)
from ..ledger import ledger_text
from ..queries import period_stats, ranking_rows
from . import common

PATH = "/ranking"
NAME = "排名"
NAME_EN = "Ranking"
TITLE = "排名 · 蓝天 Lantian"
PAGE_KEYS = ("level", "by")
LEVELS = ("district", "station")

#: ``by`` value → (pollutant, statistic) of the statistics frame.
BY = {
    "composite_index": ("ALL", "composite_index"),
    "good_day_ratio": ("AQI", "good_day_ratio"),
    "heavy_days": ("AQI", "heavy_days"),
    **{p: (p, JUDGED_STATISTIC[p]) for p in ("PM2.5", "PM10", "NO2", "SO2", "CO", "O3")},
    "PM2.5-p95": ("PM2.5", "p95_daily"),
    "PM10-p95": ("PM10", "p95_daily"),
    "NO2-p98": ("NO2", "p98_daily"),
    "SO2-p98": ("SO2", "p98_daily"),
    "PM2.5-days": ("PM2.5", "exceedance_days"),
    "PM10-days": ("PM10", "exceedance_days"),
    "O3-days": ("O3", "exceedance_days"),
}
DEFAULT_BY = "composite_index"

register({
    "rk.title": ("排名", "Ranking"),
    "rk.subtitle": ("各区县（或站点）按综合指数或单项指标排名，与去年同期比较。",
                    "Districts (or stations) ranked on the composite index or one statistic, "
                    "with the change against the same period last year."),
    "rk.ctl.level": ("排名对象", "Rank"),
    "rk.ctl.by": ("排名指标", "Ranked on"),
    "rk.level.district": ("区县", "Districts"),
    "rk.level.station": ("站点", "Stations"),
    "rk.by.composite_index": ("综合指数", "Composite index"),
    "rk.by.good_day_ratio": ("优良天数比例", "Good-day ratio"),
    "rk.by.heavy_days": ("重污染天数", "Heavy-pollution days"),
    "rk.by.PM2.5": ("PM2.5 平均浓度", "PM2.5 mean"),
    "rk.by.PM10": ("PM10 平均浓度", "PM10 mean"),
    "rk.by.NO2": ("NO2 平均浓度", "NO2 mean"),
    "rk.by.SO2": ("SO2 平均浓度", "SO2 mean"),
    "rk.by.CO": ("CO 日均值第95百分位", "CO 95th pct of daily means"),
    "rk.by.O3": ("O3 日最大8小时第90百分位", "O3 90th pct of daily max 8-h"),
    "rk.by.PM2.5-p95": ("PM2.5 日均值第95百分位", "PM2.5 95th pct of daily means"),
    "rk.by.PM10-p95": ("PM10 日均值第95百分位", "PM10 95th pct of daily means"),
    "rk.by.NO2-p98": ("NO2 日均值第98百分位", "NO2 98th pct of daily means"),
    "rk.by.SO2-p98": ("SO2 日均值第98百分位", "SO2 98th pct of daily means"),
    "rk.by.PM2.5-days": ("PM2.5 超标天数", "PM2.5 exceedance days"),
    "rk.by.PM10-days": ("PM10 超标天数", "PM10 exceedance days"),
    "rk.by.O3-days": ("O3 超标天数", "O3 exceedance days"),
    "rk.heading": ("{stat} 排名", "Ranking on {stat}"),
    "rk.table": ("排名表", "Ranking table"),
    "rk.limit": ("国标限值", "limit"),
    "rk.limit_of": ("{profile} 限值", "{profile} limit"),
    "rk.allowed_of": ("{profile} 允许超标天数", "{profile}: days allowed"),
    "rk.counts": ("{ranked} 个参与排名，{missing} 个数据不足", "{ranked} ranked, {missing} with "
                  "insufficient data"),
    "rk.all_insufficient": ("所选时段各{level}的数据均不足，无法排名；下表列出原因。",
                            "No {level} has enough valid data in the chosen period to be "
                            "ranked; the table gives the reasons."),
    "rk.no_stats": ("所选时段没有数据。", "No data in the chosen period."),
    "rk.no_areas": ("所选城市没有{level}（站点文件中未定义）。",
                    "The chosen city has no {level} (none in its site file)."),
    "rk.col.rank": ("排名", "Rank"),
    "rk.col.name": ("名称", "Name"),
    "rk.col.area": ("代码", "Id"),
    "rk.col.value": ("数值", "Value"),
    "rk.col.valid": ("有效", "Valid"),
    "rk.col.capture": ("有效天数/应有", "Valid days / needed"),
    "rk.col.inputs": ("有效分项/应有", "Valid inputs / needed"),
    "rk.col.previous": ("去年同期", "Last year"),
    "rk.col.change": ("变化率 (%)", "Change (%)"),
    "rk.col.improved": ("同比", "vs last year"),
    "rk.col.limit": ("限值", "Limit"),
    "rk.col.allowed": ("允许天数", "Days allowed"),
    "rk.col.reason": ("数据不足原因", "Why not ranked"),
    "rk.col.statistic": ("指标", "Statistic"),
    "rk.col.period": ("时段", "Period"),
    "rk.col.unit": ("单位", "Unit"),
    "rk.yes": ("是", "yes"),
    "rk.no": ("否", "no"),
    "rk.improved": ("改善", "better"),
    "rk.worse": ("变差", "worse"),
    "rk.same": ("持平", "same"),
    "rk.background": ("对照点", "background"),
    "rk.background_reason": ("对照点，单独列出，不参与排名",
                             "background station: listed apart, not ranked"),
    "rk.export": ("下载排名表：", "Download the table:"),
    "rk.note": ("按公布值（综合指数保留两位小数）升序排名，优良天数比例降序；数值相同并列（如 1、1、3）。"
                "数据不足的区县照常列出并注明原因，不参与排名。变化率 = (本期 − 去年同期) ÷ 去年同期 × 100%，"
                "负值表示改善（优良天数比例相反）。依据 standards.md §7。",
                "Ranked ascending on the published value (composite index to 0.01), the good-day "
                "ratio descending; equal values share a rank (1, 1, 3). Areas with insufficient "
                "data are listed with the reason and not ranked. Change = (this period − last "
                "year) ÷ last year × 100 %; negative is an improvement (for the good-day ratio "
                "the reverse). See standards.md §7."),
    "rk.note_month": ("月度数值不与年均限值比较（HJ 663 只评价年度达标），柱形不区分达标与超标。",
                      "Monthly values are not judged against annual limits (HJ 663 evaluates "
                      "years), so the bars are not coloured by the limit."),
    "rk.provisional": ("年初至今为临时结果：实时数据未经审核。",
                       "Year-to-date figures are provisional: real-time data, not audited."),
})


def layout(**query) -> html.Div:
    return staff_page(page="ranking", title=(t("rk.title"), t("rk.title", "en")),
                      subtitle=(t("rk.subtitle"), t("rk.subtitle", "en")), query=query,
                      body=body, path=PATH, page_keys=PAGE_KEYS, extra_controls=controls)


# -- choices ------------------------------------------------------------------------

def choices(view) -> tuple[str, str]:
    """(level, by) from the URL, validated (unknown values fall back to the defaults)."""
    level = view.params.get("level")
    by = view.params.get("by")
    return (level if level in LEVELS else "district"), (by if by in BY else DEFAULT_BY)


def controls(view, cat) -> list:
    lang = view.lang
    level, by = choices(view)
    return [
        dropdown("level", [{"label": t(f"rk.level.{lv}", lang), "value": lv} for lv in LEVELS],
                 level, t("rk.ctl.level", lang), width=110),
        dropdown("by", [{"label": t(f"rk.by.{b}", lang), "value": b} for b in BY], by,
                 t("rk.ctl.by", lang), width=270),
    ]


def unit_of(pollutant: str, statistic: str, lang: str) -> str:
    if statistic == "good_day_ratio":
        return "%"
    if statistic in ("heavy_days", "exceedance_days"):
        return "天" if lang == "zh" else "days"
    if pollutant in ("ALL", "AQI"):
        return ""
    return common.unit_of(pollutant)


def decimals_of(view, pollutant: str, statistic: str) -> int:
    """Published decimals (standards.md §4) of the statistic, from the Chinese profile."""
    prof = common.rules_profile(view)
    if statistic == "composite_index":
        return prof.index_decimals
    if statistic == "good_day_ratio":
        return prof.rate_decimals
    if statistic in ("heavy_days", "exceedance_days", "good_days"):
        return 0
    return prof.decimals(pollutant)


# -- the table ----------------------------------------------------------------------

def ranking_table(view, cat, engine) -> pd.DataFrame:
    """:func:`indicators.ranking.rank` of the view's choice, with limits and display names.

    Empty when the period has no statistics. Columns: the rank output
    (rank, area, value, reported, valid, status, reason, n_valid, n_required,
    …, previous_reported, change_rate_reported, improved) plus limit, meets,
    name.
    """
    level, by = choices(view)
    pollutant, statistic = BY[by]
    background: list[str] = []
    if level == "district":
        areas = cat.city_districts(view.city)["id"].tolist()
    else:
        # background (对照点) stations are listed apart, never ranked with the evaluation
        # stations (HJ 664: they are not evaluation points)
        st = cat.city_stations(view.city)
        roles = dict(zip(cat.stations["code"], cat.stations["role"]))
        areas = [c for c in st["code"] if roles.get(c) == "evaluation"]
        background = [c for c in st["code"] if roles.get(c) != "evaluation"]
    if not areas and not background:
        return pd.DataFrame()
    table = ranking_rows(engine, view, statistic, pollutant, level, tuple(areas)) \
        if areas else pd.DataFrame()
    if background:
        apart = ranking_rows(engine, view, statistic, pollutant, level, tuple(background))
        if not apart.empty:
            apart = apart.assign(rank=pd.array([pd.NA] * len(apart), dtype="Int64"),
                                 status="background",
                                 reason=t("rk.background_reason", view.lang))
            table = apart if table.empty else pd.concat([table, apart], ignore_index=True)
    if table.empty:
        return table
    stats = period_stats(engine, view)
    # the limit each area's statistic is held to (its grade, the profile of the rows)
    rows = stats[(stats["level"] == level) & (stats["statistic"] == statistic)
                 & (stats["pollutant"] == pollutant)]
    grades = dict(zip(cat.districts["id"], cat.districts["grade"].fillna("II")))
    if level == "station":
        st = cat.city_stations(view.city)
        grades = dict(zip(st["code"], st["district"].map(grades).fillna("II")))
    limits = against_limits(rows, view.profile or None, grades)
    if statistic == "exceedance_days":
        # a count of days is held to the days a profile allows (EU 2030: 18), not to the
        # concentration that is counted
        limits = limits.assign(limit=limits["allowed"])
    table = table.merge(limits[["area", "limit", "meets"]], on="area", how="left")
    if view.stats_period not in COMPLIANCE_PERIODS:
        # HJ 663 judges years (and the year to date), not months, against the limits
        table["meets"] = pd.array([pd.NA] * len(table), dtype="boolean")
    table["reason_full"] = ledger_text(table["reason"], view.lang)
    table["reason"] = ledger_text(table["reason"], view.lang, short=True)
    names = cat.names(level, view.lang)
    table["name"] = table["area"].map(names).fillna(table["area"]).astype(str)
    if level == "station":
        roles = dict(zip(cat.stations["code"], cat.stations["role"]))
        background = table["area"].map(roles).fillna("") != "evaluation"
        table.loc[background, "name"] = table.loc[background, "name"] + \
            f" ({t('rk.background', view.lang)})"
    return table


def display_frame(table: pd.DataFrame, view, decimals: int) -> pd.DataFrame:
    """Rows for the grid: numbers stay numbers (sortable), words are translated."""
    lang = view.lang
    change = table["change_rate_reported"].astype("float64")
    improved = table["improved"].astype("boolean")
    trend = pd.Series("", index=table.index, dtype=object)
    trend[improved.fillna(False).to_numpy(bool)] = t("rk.improved", lang)
    trend[(~improved.fillna(True)).to_numpy(bool)] = t("rk.worse", lang)
    trend[(change == 0).to_numpy()] = t("rk.same", lang)
    capture = (table["n_valid"].astype("Int64").astype(str).replace("<NA>", "—") + "/"
               + table["n_required"].astype("Int64").astype(str).replace("<NA>", "—"))
    return pd.DataFrame({
        "rank": table["rank"].astype("Int64"),
        "name": table["name"],
        "area": table["area"].astype(str),
        "value": table["reported"].astype("float64"),
        "valid": table["valid"].map({True: t("rk.yes", lang), False: t("rk.no", lang)}),
        "capture": capture,
        "previous": table["previous_reported"].astype("float64"),
        "change": change,
        "trend": trend,
        "limit": table["limit"].astype("float64"),
        "reason": table["reason"].fillna("").astype(str),
        "reason_full": table["reason_full"].fillna("").astype(str),
        "insufficient": table["status"] != "ranked",
        "better": improved,
    })


def _number(decimals: int) -> dict:
    return {"function": f"params.value == null ? '—' : d3.format('.{decimals}f')(params.value)"}


def grid_columns(view, decimals: int, unit: str, with_limit: bool,
                 composite: bool = False, days: bool = False) -> list[dict]:
    lang = view.lang
    suffix = f" ({unit})" if unit else ""
    cols = [
        {"field": "rank", "headerName": t("rk.col.rank", lang), "type": "numericColumn",
         "minWidth": 76, "maxWidth": 90, "filter": False,
         "valueFormatter": {"function": "params.value == null ? '—' : params.value"}},
        {"field": "name", "headerName": t("rk.col.name", lang), "minWidth": 160},
        {"field": "value", "headerName": t("rk.col.value", lang) + suffix,
         "type": "numericColumn", "valueFormatter": _number(decimals),
         "cellClassRules": {"lt-rk-invalid": "params.data.insufficient"}},
        {"field": "valid", "headerName": t("rk.col.valid", lang), "maxWidth": 90},
        {"field": "capture", "type": "numericColumn", "maxWidth": 150,
         "headerName": t("rk.col.inputs" if composite else "rk.col.capture", lang)},
        {"field": "previous", "headerName": t("rk.col.previous", lang), "type": "numericColumn",
         "valueFormatter": _number(decimals)},
        {"field": "change", "headerName": t("rk.col.change", lang), "type": "numericColumn",
         "valueFormatter": {"function": "params.value == null ? '—' : params.value == 0 ? "
                                        "'0.0' : d3.format('+.1f')(params.value)"},
         # the change of a value that is not valid is shown, but not judged in colour
         "cellClassRules": {"lt-rk-better": "params.data.better === true && "
                                            "!params.data.insufficient",
                            "lt-rk-worse": "params.data.better === false && params.value != 0 "
                                           "&& !params.data.insufficient"}},
        {"field": "trend", "headerName": t("rk.col.improved", lang), "maxWidth": 110},
    ]
    for col in cols:
        col.update(wrapHeaderText=True, autoHeaderHeight=True)
        if col.get("type") == "numericColumn" and col["field"] != "rank":
            col.setdefault("minWidth", 100)
    if with_limit:
        cols.append({"field": "limit",
                     "headerName": t("rk.col.allowed" if days else "rk.col.limit", lang),
                     "type": "numericColumn", "valueFormatter": _number(decimals),
                     "minWidth": 90, "maxWidth": 110, "wrapHeaderText": True,
                     "autoHeaderHeight": True})
    cols.append({"field": "reason", "headerName": t("rk.col.reason", lang), "minWidth": 240,
                 "tooltipField": "reason_full",
                 "flex": 3, "wrapText": True, "autoHeight": True,
                 "cellStyle": {"lineHeight": "1.5", "paddingTop": "6px", "paddingBottom": "6px",
                               "wordBreak": "break-word"}})
    return cols


# -- the page body ------------------------------------------------------------------

def body(view, cat, engine) -> list:
    lang = view.lang
    level, by = choices(view)
    pollutant, statistic = BY[by]
    level_word = t(f"level.{level}", lang)
    table = ranking_table(view, cat, engine)
    if table.empty:
        areas = cat.city_districts(view.city) if level == "district" \
            else cat.city_stations(view.city)
        msg = t("rk.no_areas", lang, level=level_word) if areas.empty else t("rk.no_stats", lang)
        return [html.Div(id=ids.RANKING_EMPTY, children=empty_state(msg))]
    stat = t(f"rk.by.{by}", lang)
    unit = unit_of(pollutant, statistic, lang)
    decimals = decimals_of(view, pollutant, statistic)
    has_limit = bool(table["limit"].notna().any())
    # HJ 663 judges years (and the year to date) against the limits, never a month
    with_limit = has_limit and view.stats_period in COMPLIANCE_PERIODS
    ranked = int((table["status"] == "ranked").sum())
    missing = len(table) - ranked
    caption = stats_caption(view)
    title = synthetic_title(f"{stat} · {caption}", cat.is_synthetic(view.city), lang)
    limit_label = None
    if with_limit:
        prof = view.profile
        limit_label = t("rk.limit_of", lang, profile=profile_label(prof, lang)) \
            if prof else t("rk.limit", lang)
        if statistic == "exceedance_days":
            limit_label = t("rk.allowed_of", lang, profile=profile_label(prof, lang))
    fig = ranking_bars(table, cat.names(level, lang) | dict(zip(table["area"], table["name"])),
                       lang=lang, title=title, unit=unit, decimals=decimals,
                       limit_label=limit_label)

    out = [html.H2(t("rk.heading", lang, stat=stat) + f" · {caption}",
                   className="lt-section-title")]
    if view.period == "range":
        out += notes(t("page.range_stats", lang, end=view.end.isoformat()))
    counts = html.P(id=ids.RANKING_COUNTS, className="lt-rk-counts", children=[
        html.Span(t("rk.counts", lang, ranked=ranked, missing=missing))])
    out.append(counts)
    if ranked == 0:
        out.append(html.Div(className="lt-banner lt-banner-warn", role="status",
                            children=html.P(t("rk.all_insufficient", lang, level=level_word))))
    out.append(card(None, graph(fig, id=ids.RANKING_CHART,
                                height=int(fig.layout.height or 360))))
    frame = display_frame(table, view, decimals)
    exports = export_links(t("rk.export", lang), "ranking", view, className="lt-rk-export",
                           ids=(ids.RANKING_EXPORT_CSV, ids.RANKING_EXPORT_XLSX))
    columns = grid_columns(view, decimals, unit, with_limit, composite=by == "composite_index",
                           days=statistic == "exceedance_days")
    # (the reasons wrap: the grid grows with its rows)
    out.append(card(f"{t('rk.table', lang)} · {stat} · {caption}",
                    grid(frame, columns, id=ids.RANKING_TABLE, lang=lang, auto_height=True,
                         rowClassRules={"lt-rk-row-na": "params.data.insufficient"},
                         dashGridOptions={"suppressColumnVirtualisation": True,
                                          "tooltipShowDelay": 300}),
                    exports))
    out += notes(t("rk.note", lang),
                 t("rk.note_month", lang) if has_limit and not with_limit else None,
                 t("rk.provisional", lang) if view.stats_period == "ytd" else None)
    return out


# -- export -------------------------------------------------------------------------

def export_frame(view, cat, engine) -> pd.DataFrame:
    """The ranking table for download (headers in the view's language)."""
    lang = view.lang
    level, by = choices(view)
    pollutant, statistic = BY[by]
    table = ranking_table(view, cat, engine)
    if table.empty:
        return pd.DataFrame(columns=[t(f"rk.col.{c}", lang) for c in
                                     ("rank", "area", "name", "value", "valid")])
    decimals = decimals_of(view, pollutant, statistic)
    frame = display_frame(table, view, decimals)
    # numbers as published (7.60, not 7.6; 83, not 83.0)
    for col, d in (("value", decimals), ("previous", decimals), ("limit", decimals),
                   ("change", 1)):
        frame[col] = frame[col].map(lambda v, d=d: "" if pd.isna(v) else f"{v:.{d}f}")
    if view.stats_period not in COMPLIANCE_PERIODS:
        frame = frame.drop(columns="limit")
    frame.insert(0, "statistic", t(f"rk.by.{by}", lang))
    frame.insert(1, "period", view.stats_label)
    frame.insert(2, "unit", unit_of(pollutant, statistic, lang))
    frame["rank"] = frame["rank"].astype(object).where(frame["rank"].notna(), "")
    frame["reason"] = frame["reason_full"]
    frame = frame.drop(columns=["insufficient", "better", "reason_full"])
    headers = {c: t(f"rk.col.{c}", lang) for c in
               ("statistic", "period", "unit", "rank", "name", "area", "value", "valid",
                "capture", "previous", "limit", "reason")}
    headers.update(change=t("rk.col.change", lang), trend=t("rk.col.improved", lang))
    if by == "composite_index":
        headers["capture"] = t("rk.col.inputs", lang)
    return frame.rename(columns=headers)


register_export("ranking", export_frame, PAGE_KEYS)
