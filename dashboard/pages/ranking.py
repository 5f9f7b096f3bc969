"""Page ``/ranking`` — 排名 / Ranking: districts (or stations) ranked on one statistic.

The composite index (综合指数) by default, or the good-day ratio, heavy days,
or any pollutant's statistic (period mean, percentile, exceedance days) of the
chosen year, month, year to date or custom range. Ranking follows standards.md
§7 through :func:`indicators.ranking.rank`: ascending on the reported value
(the good-day ratio descending), ties share a rank (1, 1, 3), and **every area
with a value is ranked**: one whose statistic fails a capture rule keeps its
place marked provisional (暂定) with the validity ledger's reason, one without
a value is listed last, unranked. The switch "仅排名数据有效的" (URL
``valid_only=1``) gives the strict order (valid statistics only). The change
against the same period last year is shown in its unit (``change_kind``): % for
a concentration or the composite index, percentage points for the good-day
ratio, days for a count of days. Each area's name (table and chart) links to
its district or station page with the page's shared state. Limits (for the
colour of the dots) come from :func:`indicators.comparison.against_limits`.
Nothing is computed here.

A district-scoped account (``catalog.scope``, dashboard/auth.py) sees the whole
ranking of its city's districts (or evaluation stations), because a rank only
means something among all of them: its own row (or its district's stations)
highlighted with every value, the other areas with their rank (and its
provisional mark) and name only — their values, capture, change, limit and
reasons are blanked here, before the table reaches the grid or the export, and
the chart (whose dots would show the values) is left out. Only its own rows
link to a page.
"""
from __future__ import annotations

from urllib.parse import quote

import numpy as np
import pandas as pd
from dash import dcc, get_relative_path, html

from config.vocabulary import JUDGED_STATISTIC
from indicators.comparison import against_limits
from indicators.ranking import PROVISIONAL, RANKED, change_kind
from indicators.statistics import COMPLIANCE_PERIODS

from .. import ids
from ..exports import register_export
from ..figures.ranking import ranking_chart
from ..i18n import t
from ..layout import (card, control, dropdown, empty_state, export_links, graph, grid,
                      labelled, notes, profile_label, staff_page, stats_caption,
                      synthetic_title)
from ..ledger import ledger_text
from ..queries import catalog, period_stats, ranking_rows
from . import common

PATH = "/ranking"
NAME = "排名"
NAME_EN = "Ranking"
TITLE = "排名 · 蓝天 Lantian"
PAGE_KEYS = ("level", "by", "valid_only")
LEVELS = ("district", "station")
SCOPED = True              # honours a district-scoped account (others' values hidden)

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


def valid_only(view) -> bool:
    """The strict order (URL ``valid_only=1``): valid statistics only."""
    return str(view.params.get("valid_only", "")).lower() in ("1", "true", "yes", "on")


def controls(view, cat) -> list:
    lang = view.lang
    level, by = choices(view)
    return [
        dropdown("level", [{"label": t(f"rk.level.{lv}", lang), "value": lv} for lv in LEVELS],
                 level, t("rk.ctl.level", lang), width=110),
        dropdown("by", [{"label": t(f"rk.by.{b}", lang), "value": b} for b in BY], by,
                 t("rk.ctl.by", lang), width=270),
        labelled(t("rk.ctl.valid_only", lang), dcc.Checklist(
            id=control("valid_only"), value=["1"] if valid_only(view) else [],
            className="lt-rk-switch", inputClassName="lt-rk-check",
            options=[{"label": t("rk.valid_only", lang), "value": "1"}])),
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


def change_decimals(kind: str, decimals: int) -> int:
    """Decimals of a change: the rate to 0.1 %, points on the ratio's grid, whole days."""
    return 0 if kind == "days" else (decimals if kind == "points" else 1)


# -- the table ----------------------------------------------------------------------

#: Columns of another district's row that a district-scoped account does not see.
HIDDEN_NUMBERS = ("value", "reported", "previous_reported", "change_rate",
                  "change_rate_reported", "change", "limit")


def ranking_table(view, cat, engine) -> pd.DataFrame:
    """:func:`indicators.ranking.rank` of the view's choice, with limits, display names
    and links.

    Empty when the period has no statistics. Columns: the rank output
    (rank, area, value, reported, valid, status — ranked | provisional |
    insufficient data | background —, reason, n_valid, n_required, …,
    previous_reported, change_rate_reported, change_kind, change, improved) plus
    limit, meets, name, href (the area's page with the view's shared state),
    own (the row of a district-scoped account's district) and hidden (another
    area's row for such an account: its numbers and reasons blanked).
    """
    level, by = choices(view)
    pollutant, statistic = BY[by]
    strict = valid_only(view)
    scope = getattr(cat, "scope", None)
    # a district-scoped account's catalogue holds its district only; a rank means
    # something among all of the city's areas: they come from the whole catalogue
    full = catalog(engine) if scope else cat
    background: list[str] = []
    if level == "district":
        areas = full.city_districts(view.city)["id"].tolist()
    else:
        # background (对照点) stations are listed apart, never ranked with the evaluation
        # stations (HJ 664: they are not evaluation points)
        st = full.city_stations(view.city)
        roles = dict(zip(full.stations["code"], full.stations["role"]))
        areas = [c for c in st["code"] if roles.get(c) == "evaluation"]
        background = [c for c in st["code"] if roles.get(c) != "evaluation"]
    if not areas and not background:
        return pd.DataFrame()
    table = ranking_rows(engine, view, statistic, pollutant, level, tuple(areas), strict) \
        if areas else pd.DataFrame()
    if background:
        apart = ranking_rows(engine, view, statistic, pollutant, level, tuple(background),
                             strict)
        if not apart.empty:
            apart = apart.assign(rank=pd.array([pd.NA] * len(apart), dtype="Int64"),
                                 status="background",
                                 reason=t("rk.background_reason", view.lang))
            table = apart if table.empty else pd.concat([table, apart], ignore_index=True)
    if table.empty:
        return table
    if "change_kind" not in table:
        table = table.assign(change_kind=change_kind(statistic), change=np.nan)
    stats = period_stats(engine, view)
    # the limit each area's statistic is held to (its grade, the profile of the rows)
    rows = stats[(stats["level"] == level) & (stats["statistic"] == statistic)
                 & (stats["pollutant"] == pollutant)]
    grades = dict(zip(full.districts["id"], full.districts["grade"].fillna("II")))
    if level == "station":
        st = full.city_stations(view.city)
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
    names = full.names(level, view.lang)
    table["name"] = table["area"].map(names).fillna(table["area"]).astype(str)
    if level == "station":
        roles = dict(zip(full.stations["code"], full.stations["role"]))
        apart_rows = table["area"].map(roles).fillna("") != "evaluation"
        table.loc[apart_rows, "name"] = table.loc[apart_rows, "name"] + \
            f" ({t('rk.background', view.lang)})"
    # the area's page, with the state every page shares (city, period, year, profile, lang)
    page = get_relative_path("/district" if level == "district" else "/station")
    shared = view.shared_search()
    table["href"] = [f"{page}{shared}&{level}={quote(str(a), safe='')}"
                     for a in table["area"]]
    if scope:
        if level == "district":
            own = (table["area"] == scope[1]).to_numpy()
        else:
            district_of = dict(zip(full.stations["code"], full.stations["district"]))
            own = (table["area"].map(district_of) == scope[1]).fillna(False).to_numpy(bool)
        table = hide_others(table, own)
    else:
        table["own"] = False
        table["hidden"] = False
    return table


def hide_others(table: pd.DataFrame, own) -> pd.DataFrame:
    """``table`` as a district-scoped account sees it: the rows not ``own`` keep their rank,
    status (the provisional mark belongs to the rank) and name; their numbers, capture,
    validity, reasons and link are blanked."""
    own = np.asarray(own, dtype=bool)
    out = table.copy()
    hide = ~own
    for col in HIDDEN_NUMBERS:
        if col in out:
            out[col] = out[col].astype("float64").where(own, np.nan)
    for col in ("n_valid", "n_required"):
        if col in out:
            out[col] = out[col].astype("Int64").where(own, pd.NA)
    for col in ("meets", "improved"):
        if col in out:
            out[col] = out[col].astype("boolean").where(own, pd.NA)
    out["valid"] = out["valid"].astype(object).where(own, None)
    for col in ("reason", "reason_full"):
        out[col] = out[col].astype(object).where(own, "")
    out["href"] = out["href"].astype(object).where(own, None)
    out["own"] = own
    out["hidden"] = hide
    return out


def display_frame(table: pd.DataFrame, view, decimals: int) -> pd.DataFrame:
    """Rows for the grid: numbers stay numbers (sortable), words are translated."""
    lang = view.lang
    change = table["change"].astype("float64")
    improved = table["improved"].astype("boolean")
    trend = pd.Series("", index=table.index, dtype=object)
    trend[improved.fillna(False).to_numpy(bool)] = t("rk.improved", lang)
    trend[(~improved.fillna(True)).to_numpy(bool)] = t("rk.worse", lang)
    trend[(change == 0).to_numpy()] = t("rk.same", lang)
    capture = (table["n_valid"].astype("Int64").astype(str).replace("<NA>", "—") + "/"
               + table["n_required"].astype("Int64").astype(str).replace("<NA>", "—"))
    hidden = table["hidden"].astype(bool) if "hidden" in table else \
        pd.Series(False, index=table.index)
    capture = capture.where(~hidden, "")
    status = table["status"].astype(str)
    # another district's row (a district-scoped account): its rank (with the provisional
    # mark of the rank cell) and name only
    status_text = status.map(lambda s: t(f"rk.status.{s}", lang)).where(~hidden, "")
    return pd.DataFrame({
        "rank": table["rank"].astype("Int64"),
        "name": table["name"],
        "href": table["href"] if "href" in table else None,
        "area": table["area"].astype(str),
        "value": table["reported"].astype("float64"),
        "valid": table["valid"].map({True: t("rk.yes", lang), False: t("rk.no", lang)}),
        "status": status_text,
        "capture": capture,
        "previous": table["previous_reported"].astype("float64"),
        "change": change,
        "trend": trend,
        "limit": table["limit"].astype("float64"),
        "reason": table["reason"].fillna("").astype(str),
        "reason_full": table["reason_full"].fillna("").astype(str),
        "provisional": (status == PROVISIONAL).to_numpy(),
        "insufficient": (~status.isin([RANKED, PROVISIONAL])).to_numpy(),
        "better": improved,
        "own": table["own"].astype(bool) if "own" in table else False,
        "hidden": hidden.to_numpy(),
    })


def _number(decimals: int) -> dict:
    return {"function": f"params.value == null ? '—' : d3.format('.{decimals}f')(params.value)"}


def grid_columns(view, decimals: int, unit: str, with_limit: bool,
                 composite: bool = False, days: bool = False,
                 kind: str = "percent") -> list[dict]:
    lang = view.lang
    suffix = f" ({unit})" if unit else ""
    prov = t("rk.prov", lang)
    step = change_decimals(kind, decimals)
    cols = [
        {"field": "rank", "headerName": t("rk.col.rank", lang), "type": "numericColumn",
         "minWidth": 100, "maxWidth": 120, "filter": False,
         "valueFormatter": {"function": "params.value == null ? '—' : params.value + "
                                        f"(params.data.provisional ? ' {prov}' : '')"},
         "cellClassRules": {"lt-rk-prov-mark": "params.data.provisional"}},
        {"field": "name", "headerName": t("rk.col.name", lang), "minWidth": 160,
         "cellRenderer": "LtAreaLink"},
        {"field": "value", "headerName": t("rk.col.value", lang) + suffix,
         "type": "numericColumn", "valueFormatter": _number(decimals),
         "cellClassRules": {"lt-rk-invalid": "params.data.insufficient || "
                                             "params.data.provisional",
                            "lt-rk-hidden": "params.data.hidden"}},
        {"field": "status", "headerName": t("rk.col.status", lang), "minWidth": 120,
         "maxWidth": 150,
         "cellClassRules": {"lt-rk-prov-mark": "params.data.provisional"}},
        {"field": "capture", "type": "numericColumn", "maxWidth": 150,
         "headerName": t("rk.col.inputs" if composite else "rk.col.capture", lang)},
        {"field": "previous", "headerName": t("rk.col.previous", lang), "type": "numericColumn",
         "valueFormatter": _number(decimals)},
        {"field": "change", "headerName": t(f"rk.col.change.{kind}", lang),
         "type": "numericColumn",
         "valueFormatter": {"function": f"params.value == null ? '—' : params.value == 0 ? "
                                        f"d3.format('.{step}f')(0) : "
                                        f"d3.format('+.{step}f')(params.value)"},
         # the change of a value that is not valid is shown, but not judged in colour
         "cellClassRules": {"lt-rk-better": "params.data.better === true && "
                                            "!params.data.insufficient && "
                                            "!params.data.provisional",
                            "lt-rk-worse": "params.data.better === false && params.value != 0 "
                                           "&& !params.data.insufficient && "
                                           "!params.data.provisional"}},
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


def counts_text(table: pd.DataFrame, lang: str, strict: bool) -> str:
    """"8 个参与排名，其中 3 个暂定（…）" / "4 ranked (valid data only), 4 not ranked"."""
    status = table["status"].astype(str)
    ranked = int(status.isin([RANKED, PROVISIONAL]).sum())
    provisional = int((status == PROVISIONAL).sum())
    missing = int((status == "insufficient data").sum())
    text = t("rk.counts", lang, ranked=ranked)
    if strict:
        text += t("rk.counts_strict", lang)
    if provisional:
        text += t("rk.counts_prov", lang, n=provisional)
    if missing:
        text += t("rk.counts_missing", lang, n=missing)
    return text


# -- the page body ------------------------------------------------------------------

def body(view, cat, engine) -> list:
    lang = view.lang
    level, by = choices(view)
    pollutant, statistic = BY[by]
    strict = valid_only(view)
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
    kind = str(table["change_kind"].dropna().iloc[0]) if table["change_kind"].notna().any() \
        else change_kind(statistic)
    has_limit = bool(table["limit"].notna().any())
    # HJ 663 judges years (and the year to date) against the limits, never a month
    with_limit = has_limit and view.stats_period in COMPLIANCE_PERIODS
    ranked = int(table["status"].isin([RANKED, PROVISIONAL]).sum())
    scope = getattr(cat, "scope", None)
    caption = stats_caption(view)
    title = synthetic_title(f"{stat} · {caption}", cat.is_synthetic(view.city), lang)
    limit_label = None
    if with_limit:
        prof = view.profile
        limit_label = t("rk.limit_of", lang, profile=profile_label(prof, lang)) \
            if prof else t("rk.limit", lang)
        if statistic == "exceedance_days":
            limit_label = t("rk.allowed_of", lang, profile=profile_label(prof, lang))

    out = [html.H2(t("rk.heading", lang, stat=stat) + f" · {caption}",
                   className="lt-section-title")]
    if view.period == "range":
        out += notes(t("page.range_stats", lang, start=view.start.isoformat(), end=view.end.isoformat()))
    counts = html.P(id=ids.RANKING_COUNTS, className="lt-rk-counts", children=[
        html.Span(counts_text(table, lang, strict))])
    out.append(counts)
    if ranked == 0:
        out.append(html.Div(className="lt-banner lt-banner-warn", role="status",
                            children=html.P(t("rk.all_insufficient", lang, level=level_word))))
    if scope:
        # the dots would show the other areas' values: the table alone
        district = catalog(engine).name("district", scope[1], lang)
        out.append(html.Div(className="lt-banner lt-banner-info lt-rk-scope", role="status",
                            children=html.P(t("rk.scope", lang, district=district,
                                              level=level_word))))
    else:
        fig = ranking_chart(table, dict(zip(table["area"], table["name"])), lang=lang,
                            title=title, unit=unit, decimals=decimals, limit_label=limit_label)
        out.append(card(None, graph(fig, id=ids.RANKING_CHART,
                                    height=int(fig.layout.height or 360))))
    frame = display_frame(table, view, decimals)
    exports = export_links(t("rk.export", lang), "ranking", view, className="lt-rk-export",
                           ids=(ids.RANKING_EXPORT_CSV, ids.RANKING_EXPORT_XLSX))
    columns = grid_columns(view, decimals, unit, with_limit, composite=by == "composite_index",
                           days=statistic == "exceedance_days", kind=kind)
    # (the reasons wrap: the grid grows with its rows)
    out.append(card(f"{t('rk.table', lang)} · {stat} · {caption}",
                    grid(frame, columns, id=ids.RANKING_TABLE, lang=lang, auto_height=True,
                         rowClassRules={"lt-rk-row-na": "params.data.insufficient",
                                        "lt-rk-row-prov": "params.data.provisional",
                                        "lt-rk-row-own": "params.data.own"},
                         dashGridOptions={"suppressColumnVirtualisation": True,
                                          "tooltipShowDelay": 300}),
                    exports))
    out += notes(t("rk.note", lang, level=level_word), t(f"rk.note_change.{kind}", lang),
                 t("rk.note_month", lang) if has_limit and not with_limit else None,
                 t("rk.provisional", lang) if view.stats_period == "ytd" else None)
    return out


# -- export -------------------------------------------------------------------------

def export_frame(view, cat, engine) -> pd.DataFrame:
    """The ranking table for download (headers in the view's language); a district-scoped
    account's export holds what its page shows (other areas: rank and name only)."""
    lang = view.lang
    level, by = choices(view)
    pollutant, statistic = BY[by]
    table = ranking_table(view, cat, engine)
    if table.empty:
        return pd.DataFrame(columns=[t(f"rk.col.{c}", lang) for c in
                                     ("rank", "area", "name", "value", "valid")])
    decimals = decimals_of(view, pollutant, statistic)
    kind = str(table["change_kind"].dropna().iloc[0]) if table["change_kind"].notna().any() \
        else change_kind(statistic)
    frame = display_frame(table, view, decimals)
    # numbers as published (7.60, not 7.6; 83, not 83.0)
    for col, d in (("value", decimals), ("previous", decimals), ("limit", decimals),
                   ("change", change_decimals(kind, decimals))):
        frame[col] = frame[col].map(lambda v, d=d: "" if pd.isna(v) else f"{v:.{d}f}")
    if view.stats_period not in COMPLIANCE_PERIODS:
        frame = frame.drop(columns="limit")
    frame.insert(0, "statistic", t(f"rk.by.{by}", lang))
    frame.insert(1, "period", view.stats_label)
    frame.insert(2, "unit", unit_of(pollutant, statistic, lang))
    frame["rank"] = frame["rank"].astype(object).where(frame["rank"].notna(), "")
    frame["reason"] = frame["reason_full"]
    frame["valid"] = frame["valid"].astype(object).where(frame["valid"].notna(), "")
    frame = frame.drop(columns=["insufficient", "provisional", "better", "reason_full",
                                "href", "own", "hidden"])
    headers = {c: t(f"rk.col.{c}", lang) for c in
               ("statistic", "period", "unit", "rank", "name", "area", "value", "valid",
                "status", "capture", "previous", "limit", "reason")}
    headers.update(change=t(f"rk.col.change.{kind}", lang), trend=t("rk.col.improved", lang))
    if by == "composite_index":
        headers["capture"] = t("rk.col.inputs", lang)
    return frame.rename(columns=headers)


register_export("ranking", export_frame, PAGE_KEYS, scoped=True)
