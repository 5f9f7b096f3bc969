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

The peer-group view (issue 18; URL ``group=<id>``, the chooser "同级排名" listing the
groups of config/groups/ that rank the city or its districts): the city among a peer
group (the 168 key cities), or its districts among the province's counties, by
composite index as :func:`evaluation.peers.peer_ranking` ranks them — the verdict
first, the city's place and its distance to the bottom-N line, the members just above
and below it (chart and table, the line drawn in both), then every member. See
:func:`peer_body`.
"""
from __future__ import annotations

from urllib.parse import quote

import numpy as np
import pandas as pd
from dash import dcc, get_relative_path, html

from config.groups import province_name
from config.vocabulary import JUDGED_STATISTIC
from indicators.comparison import against_limits
from indicators.ranking import PROVISIONAL, RANKED, change_kind
from indicators.statistics import COMPLIANCE_PERIODS

from .. import ids
from ..context import current_engine
from ..exports import register_export
from ..figures.ranking import peer_chart, ranking_chart
from ..i18n import t
from ..layout import (banner, card, control, dropdown, empty_state, export_links, graph, grid,
                      labelled, notes, profile_label, staff_page, stats_caption,
                      synthetic_title)
from ..ledger import ledger_text
from ..queries import catalog, peer_groups, peer_ranking, period_stats, ranking_rows
from . import common

PATH = "/ranking"
NAME = "排名"
NAME_EN = "Ranking"
TITLE = "排名 · 蓝天 Lantian"
PAGE_KEYS = ("level", "by", "valid_only", "group")
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
    group, groups, _asked = peer_group(view, current_engine())
    # the peer groups that rank the city (or its districts): none, no chooser
    chooser = [dropdown("group", [{"label": t("pg.own_city", lang), "value": ""}]
                        + [{"label": g.name(lang), "value": g.id} for g in groups],
                        group.id if group else "", t("pg.ctl.group", lang), width=230)] \
        if groups else []
    strict = labelled(t("rk.ctl.valid_only", lang), dcc.Checklist(
        id=control("valid_only"), value=["1"] if valid_only(view) else [],
        className="lt-rk-switch", inputClassName="lt-rk-check",
        options=[{"label": t("rk.valid_only", lang), "value": "1"}]))
    if group is not None:          # a peer group ranks by composite index, areas of its level
        return chooser + [strict]
    return chooser + [
        dropdown("level", [{"label": t(f"rk.level.{lv}", lang), "value": lv} for lv in LEVELS],
                 level, t("rk.ctl.level", lang), width=110),
        dropdown("by", [{"label": t(f"rk.by.{b}", lang), "value": b} for b in BY], by,
                 t("rk.ctl.by", lang), width=270),
        strict,
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


def _rank_and_name(lang: str, prov: str, rank_width: int, name_width: int) -> list[dict]:
    """The rank column (the provisional mark beside the rank) and the linked name column
    of the ranking grids (areas and peer groups)."""
    return [
        {"field": "rank", "headerName": t("rk.col.rank", lang), "type": "numericColumn",
         "minWidth": rank_width, "maxWidth": 120, "filter": False,
         "valueFormatter": {"function": "params.value == null ? '—' : params.value + "
                                        f"(params.data.provisional ? ' {prov}' : '')"},
         "cellClassRules": {"lt-rk-prov-mark": "params.data.provisional"}},
        {"field": "name", "headerName": t("rk.col.name", lang), "minWidth": name_width,
         "cellRenderer": "LtAreaLink"}]


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
        *_rank_and_name(lang, prov, 100, 160),
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
    """The peer-group view when the URL names a group that ranks the city (``group=``),
    otherwise the ranking of the city's districts (or stations)."""
    group, _groups, asked = peer_group(view, engine)
    if group is not None:
        return peer_body(view, cat, engine, group)
    out = area_body(view, cat, engine)
    if asked:
        city = cat.name("city", view.city, view.lang)
        out.insert(0, html.Div(id=ids.PEER_NOTICE, className="lt-notices", children=html.P(
            t("pg.not_applicable", view.lang, group=asked[:40], city=city))))
    return out


def area_body(view, cat, engine) -> list:
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


# -- the peer-group view (issue 18) ---------------------------------------------------
#
# ``/ranking?city=<city>&year=<year>&group=<group id>``: the city among a peer group of
# config/groups/ (the 168 key cities), or its districts among the province's counties,
# by composite index as :func:`evaluation.peers.peer_ranking` (``lantian rank --group``)
# ranks them. The verdict first (the group, its source, how many members have data and
# what the rank is worth), then the city's own place, the members just above and below
# it (chart and table, the bottom-N line drawn in both), every member below. A
# district-scoped account sees every member's rank and the other cities' values (the
# national report publishes them), but among its own city's districts only its own
# district's values (a county group).

#: Members shown on each side of the city (its districts) in the window and the chart.
WINDOW = 5
#: A group with at most this many members with a value is charted whole.
CHART_ALL = 30

def peer_group(view, engine) -> tuple:
    """(the chosen group or None, the groups that rank the view's city or its districts,
    the URL's ``group`` when it names none of them, else "")."""
    groups = peer_groups(engine, view.city)
    asked = str(view.params.get("group") or "")
    chosen = next((g for g in groups if g.id == asked), None)
    return chosen, groups, (asked if asked and chosen is None else "")


def peer_table(view, cat, engine, ranking) -> pd.DataFrame:
    """The peer ranking's table (:data:`evaluation.peers.COLUMNS`, in its order: ranked
    members, then those without a value) for display, with name (the view's language,
    synthetic data tagged), where (province; a county group: the member's city), reason
    and reason_full (the validity ledger in the view's language), own (the city's row;
    a county group: its districts, a district-scoped account's own district), hidden
    (the city's other districts for such an account: rank and name only), line (the
    last member outside the bottom N, when the group is complete) and href."""
    lang, group = view.lang, ranking.group
    table = ranking.table.copy().reset_index(drop=True)
    scope = getattr(cat, "scope", None)
    full = catalog(engine) if scope else cat
    own = (table["city"].astype(object) == view.city).fillna(False).to_numpy(bool)
    hidden = np.zeros(len(table), dtype=bool)
    if scope and group.level == "county":
        mine = (table["area"] == f"{scope[0]}/{scope[1]}").to_numpy(bool)
        hidden, own = own & ~mine, mine
    names = table["name_en" if lang == "en" else "name_zh"].fillna(table["area"]).astype(str)
    synthetic = table["synthetic"].astype("boolean").fillna(False).to_numpy(bool)
    table["name"] = names.where(~synthetic, names + " · " + t("pg.synthetic_tag", lang))
    table["short_name"] = names.where(~synthetic, names + "＊")        # the chart's labels
    if group.level == "county":
        table["where"] = [full.name("city", c, lang) if isinstance(c, str) else ""
                          for c in table["city"]]
    else:
        table["where"] = [province_name(p, lang) for p in table["province"]]
    reason = table["reason"].fillna("").astype(str)
    unloaded = (table["reported"].isna() & (table["stations"].fillna(0) == 0)).to_numpy(bool)
    table["reason_full"] = ledger_text(reason, lang).where(~unloaded,
                                                           t("pg.no_data_loaded", lang))
    table["reason"] = ledger_text(reason, lang, short=True).where(
        ~unloaded, t("pg.no_data_loaded", lang))
    line = np.zeros(len(table), dtype=bool)
    if ranking.complete:
        ranks = table["rank"].astype("Float64")
        outside = (ranks <= ranking.line_rank).fillna(False).to_numpy(bool)
        if outside.any() and table["in_bottom"].astype(bool).any():
            line[np.flatnonzero(outside)[-1]] = True
    table["line"] = line
    shared = view.shared_search()
    hrefs: list = [None] * len(table)
    for i, (area, city) in enumerate(zip(table["area"], table["city"])):
        if own[i] and group.level == "county":
            district = str(area).split("/", 1)[1]
            hrefs[i] = f"{get_relative_path('/district')}{shared}&district=" \
                       f"{quote(district, safe='')}"
        elif own[i]:
            hrefs[i] = get_relative_path("/") + shared
    table["href"] = hrefs
    table["own"], table["hidden"] = own, hidden
    if hidden.any():
        keep = ~hidden
        for col in ("value", "reported", "previous_reported", "change", "distance"):
            table[col] = table[col].astype("float64").where(keep, np.nan)
        for col in ("previous_rank", "stations"):
            table[col] = table[col].astype("Int64").where(keep, pd.NA)
        table["valid"] = table["valid"].astype(object).where(keep, None)
        for col in ("reason", "reason_full"):
            table[col] = table[col].astype(object).where(keep, "")
    return table


def peer_rows(table: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Rows for the grid: numbers stay numbers (sortable), words are translated."""
    status = table["status"].astype(str)
    hidden = table["hidden"].to_numpy(bool)
    return pd.DataFrame({
        "rank": table["rank"].astype("Int64"),
        "name": table["name"],
        "href": table["href"],
        "area": table["area"].astype(str),
        "where": table["where"],
        "stations": table["stations"].astype("Int64"),
        "value": table["reported"].astype("float64"),
        "status": status.map(lambda s: t(f"rk.status.{s}", lang)).where(~hidden, ""),
        "previous_rank": table["previous_rank"].astype("Int64"),
        "previous": table["previous_reported"].astype("float64"),
        "change": table["change"].astype("float64"),
        "distance": table["distance"].astype("float64"),
        "reason": table["reason"].fillna("").astype(str),
        "reason_full": table["reason_full"].fillna("").astype(str),
        "provisional": (status == PROVISIONAL).to_numpy(),
        "insufficient": (~status.isin([RANKED, PROVISIONAL])).to_numpy(),
        "bottom": table["in_bottom"].astype(bool).to_numpy(),
        "line": table["line"].to_numpy(bool),
        "own": table["own"].to_numpy(bool),
        "hidden": hidden,
    })


def peer_columns(view, group) -> list[dict]:
    """The peer grid's columns: the numbers a bureau reads first (index, distance to the
    line, last year's place) beside the name, so that a phone shows them unscrolled; the
    provisional mark in the rank cell (the status word, the stations: in the download)."""
    lang = view.lang
    prov = t("rk.prov", lang)
    signed = {"function": "params.value == null ? '—' : params.value == 0 ? '0.00' : "
                          "d3.format('+.2f')(params.value)"}
    cols = [
        *_rank_and_name(lang, prov, 96, 180),
        {"field": "value", "headerName": t("pg.col.value", lang), "type": "numericColumn",
         "valueFormatter": _number(2), "minWidth": 120,
         "cellClassRules": {"lt-rk-invalid": "params.data.provisional",
                            "lt-rk-hidden": "params.data.hidden"}},
        {"field": "distance", "headerName": t("pg.col.distance", lang, bottom=group.bottom),
         "type": "numericColumn", "valueFormatter": signed, "minWidth": 120,
         "headerTooltip": t("pg.col.distance_tip", lang, bottom=group.bottom)},
        {"field": "previous_rank", "headerName": t("pg.col.previous_rank", lang),
         "type": "numericColumn", "minWidth": 110,
         "valueFormatter": {"function": "params.value == null ? '—' : String(params.value)"}},
        {"field": "change", "headerName": t("rk.col.change.percent", lang),
         "type": "numericColumn", "minWidth": 110,
         "valueFormatter": {"function": "params.value == null ? '—' : params.value == 0 ? "
                                        "'0.0' : d3.format('+.1f')(params.value)"},
         "cellClassRules": {"lt-rk-better": "params.value < 0 && !params.data.provisional",
                            "lt-rk-worse": "params.value > 0 && !params.data.provisional"}},
        {"field": "previous", "headerName": t("pg.col.previous", lang), "type": "numericColumn",
         "valueFormatter": _number(2), "minWidth": 110},
        {"field": "where", "minWidth": 130, "maxWidth": 180,
         "headerName": t("pg.col.city" if group.level == "county" else "pg.col.province",
                         lang)},
    ]
    for col in cols:
        col.update(wrapHeaderText=True, autoHeaderHeight=True)
    # one line a member (168 of them): the whole reason in the tooltip and the download
    cols.append({"field": "reason", "headerName": t("rk.col.reason", lang), "minWidth": 220,
                 "tooltipField": "reason_full", "flex": 3})
    return cols


PEER_ROW_CLASSES = {"lt-rk-row-na": "params.data.insufficient",
                    "lt-rk-row-prov": "params.data.provisional",
                    "lt-pg-row-bottom": "params.data.bottom",
                    "lt-pg-row-line": "params.data.line",
                    "lt-rk-row-own": "params.data.own"}


def peer_window(table: pd.DataFrame, size: int = WINDOW) -> np.ndarray:
    """Rows within ``size`` places (in the table's order) of an own row with a value, and
    the own rows without one."""
    ranked = table["rank"].notna().to_numpy(bool)
    own = table["own"].to_numpy(bool)
    keep = np.zeros(len(table), dtype=bool)
    for at in np.flatnonzero(own & ranked):
        keep[max(at - size, 0):at + size + 1] = True
    return (keep & ranked) | own


def _short(text: str, most: int = 70) -> str:
    return text if len(text) <= most else text[:most - 1].rstrip("，,；; ") + "…"


def _place_card(view, ranking, row, alone: bool = True) -> html.Section:
    """One own row: its place "第 N 名 / 共 168", index, distance to the line, last year;
    ``alone``: the only card, which also says what the group's state makes of the place
    (several cards get it once, above them)."""
    lang, group = view.lang, ranking.group
    facts = []
    provisional = row["status"] == PROVISIONAL
    if pd.isna(row["rank"]):
        place = t("pg.unranked", lang)
        facts.append(row["reason"] or t("pg.no_data_loaded", lang))
    else:
        place = t("pg.place", lang, rank=int(row["rank"])) + \
            (f" ({t('rk.prov', lang)})" if provisional else "")
        facts.append(f"{t('pg.col.value', lang)} {row['reported']:.2f}")
        if not ranking.complete and alone:
            facts.append(t("pg.place_loaded", lang, n=ranking.members_with_value))
        if pd.notna(row["distance"]):
            d = float(row["distance"])
            key = "pg.to_leave" if d > 0 else "pg.headroom"
            facts.append(t(key, lang, d=f"{abs(d):.2f}", bottom=group.bottom,
                           line=f"{ranking.line_value:.2f}", place=ranking.line_rank))
        elif alone:
            facts.append(t("pg.no_line", lang, bottom=group.bottom, size=group.size))
        if provisional and row["reason"]:
            # the reason's start (the whole of it: the table's tooltip, the download)
            facts.append(t("pg.prov_reason", lang, reason=_short(str(row["reason"]))))
    if pd.notna(row["previous_rank"]):
        before = t("pg.last_year", lang, rank=int(row["previous_rank"]),
                   value=f"{row['previous_reported']:.2f}")
        if pd.notna(row["rank"]):
            moved = int(row["previous_rank"]) - int(row["rank"])
            before += " · " + (t("pg.up", lang, n=moved) if moved > 0 else
                               t("pg.down", lang, n=-moved) if moved < 0 else
                               t("pg.same", lang))
        if pd.notna(row["change"]):
            before += " · " + t("pg.change", lang, change=f"{row['change']:+.1f}")
        facts.append(before)
    else:
        facts.append(t("pg.last_year_none", lang))
    classes = "lt-pg-place" + (" lt-pg-place-bottom" if row["in_bottom"] else "") + \
        (" lt-pg-place-prov" if provisional else "")
    return html.Section(className=classes, children=[
        html.Div(row["name"], className="lt-pg-place-name"),
        html.Div(className="lt-pg-place-rank", children=[
            html.Strong(place), html.Span(" / " + t("pg.of", lang, size=group.size))]),
        html.Ul([html.Li(f) for f in facts], className="lt-pg-place-facts")])


def peer_body(view, cat, engine, group) -> list:
    lang = view.lang
    ranking = peer_ranking(engine, view, group.id, valid_only(view))
    table = peer_table(view, cat, engine, ranking)
    caption = stats_caption(view)
    n_synthetic = int(table["synthetic"].astype("boolean").fillna(False).sum())
    out = [html.H2(t("pg.heading", lang, group=group.name(lang), period=caption),
                   className="lt-section-title")]
    if view.period == "range":
        out += notes(t("page.range_stats", lang, start=view.start.isoformat(),
                       end=view.end.isoformat()))
    # the verdict first: what the rank is worth
    lines = [ranking.verdict(lang),
             t("pg.source", lang, source=group.source if lang == "zh" else group.source_en,
               year=group.year)]
    if n_synthetic:
        lines.append(t("pg.synthetic", lang, n=n_synthetic))
    out.append(banner("info" if ranking.annual else "warn",
                      t("pg.members", lang, group=group.name(lang), n=ranking.members_with_value,
                        size=group.size), *lines, id=ids.PEER_VERDICT))
    own = table[table["own"]]
    if len(own) > 1 and not ranking.complete:
        out += notes(t("pg.places_loaded", lang, n=ranking.members_with_value,
                       bottom=group.bottom, size=group.size))
    out.append(html.Div(id=ids.PEER_PLACES, className="lt-pg-places", children=[
        _place_card(view, ranking, r, alone=len(own) == 1) for _, r in own.iterrows()] or [
        html.P(t("pg.no_own", lang, city=cat.name("city", view.city, lang)),
               className="lt-note")]))
    if getattr(cat, "scope", None) and group.level == "county":
        out += notes(t("pg.note_scope", lang,
                       district=catalog(engine).name("district", cat.scope[1], lang)))

    window = peer_window(table)
    whole = ranking.members_with_value <= CHART_ALL or not window.any()
    shown = table[(table["rank"].notna().to_numpy(bool) if whole else window)
                  & ~table["hidden"].to_numpy(bool)]
    shown = shown[shown["reported"].notna()]
    title = synthetic_title(t("pg.chart_title", lang, group=group.name(lang), period=caption),
                            bool(shown["synthetic"].astype("boolean").fillna(False).any()), lang)
    line_label = t("pg.line", lang, bottom=group.bottom, line=f"{ranking.line_value:.2f}") \
        if ranking.complete and ranking.line_value == ranking.line_value else None
    own_label = t("pg.own_districts" if group.level == "county" else "pg.own", lang)
    fig = peer_chart(shown, lang=lang, title=title, line_value=ranking.line_value,
                     line_label=line_label, own_label=own_label,
                     bottom_label=t("pg.bottom", lang, bottom=group.bottom),
                     empty_message=t("rk.no_stats", lang))
    missing = int(table["reported"].isna().sum())
    below = [t("pg.chart_window", lang, n=WINDOW) if not whole else None,
             t("pg.chart_missing", lang, n=missing) if missing else None,
             t("pg.chart_synthetic", lang) if shown["synthetic"].astype("boolean")
             .fillna(False).any() else None]
    out.append(card(None, graph(fig, id=ids.PEER_CHART, height=int(fig.layout.height or 360)),
                    *notes(*below)))

    rows = peer_rows(table, lang)
    columns = peer_columns(view, group)
    grid_options = {"suppressColumnVirtualisation": True, "tooltipShowDelay": 300}
    exports = export_links(t("rk.export", lang), "ranking", view, className="lt-rk-export",
                           ids=(ids.RANKING_EXPORT_CSV, ids.RANKING_EXPORT_XLSX))
    if window.all() or not window.any():
        out.append(card(t("pg.table_title", lang, n=len(table)),
                        grid(rows, columns, id=ids.PEER_TABLE, lang=lang,
                             auto_height=len(rows) <= 40, rowClassRules=PEER_ROW_CLASSES,
                             dashGridOptions=grid_options),
                        exports))
    else:
        out.append(card(t("pg.window_title", lang, n=WINDOW),
                        grid(rows[window].reset_index(drop=True), columns, id=ids.PEER_WINDOW,
                             lang=lang, auto_height=True, rowClassRules=PEER_ROW_CLASSES,
                             dashGridOptions=grid_options),
                        html.Details(className="lt-pg-all", children=[
                            html.Summary(t("pg.all_members", lang, n=len(table),
                                           missing=missing) if missing else
                                         t("pg.all_members_all", lang, n=len(table))),
                            grid(rows, columns, id=ids.PEER_TABLE, lang=lang,
                                 rowClassRules=PEER_ROW_CLASSES,
                                 dashGridOptions=grid_options)]),
                        exports))
    out += notes(t("pg.note", lang),
                 # (no line yet: the cards, or the note above them, say so)
                 t("pg.line_note", lang, bottom=group.bottom, place=ranking.line_rank)
                 if line_label else None,
                 t("rk.provisional", lang) if view.stats_period == "ytd" else None)
    return out


def peer_export_frame(view, cat, engine, group) -> pd.DataFrame:
    """The peer table for download (every member; headers in the view's language)."""
    lang = view.lang
    ranking = peer_ranking(engine, view, group.id, valid_only(view))
    table = peer_table(view, cat, engine, ranking)
    rows = peer_rows(table, lang)

    def fixed(col: str, d: int, sign: bool = False) -> pd.Series:
        return rows[col].map(lambda v: "" if pd.isna(v) else f"{v:{'+' if sign else ''}.{d}f}")
    yes, no = t("rk.yes", lang), t("rk.no", lang)
    frame = pd.DataFrame({
        "group": group.name(lang), "period": view.stats_label,
        "rank": rows["rank"].astype(object).where(rows["rank"].notna(), ""),
        "name": rows["name"], "area": rows["area"], "where": rows["where"],
        "stations": rows["stations"].astype(object).where(rows["stations"].notna(), ""),
        "value": fixed("value", 2), "status": rows["status"],
        "distance": fixed("distance", 2, sign=True),
        "in_bottom": [yes if b else "" for b in rows["bottom"]],
        "previous_rank": rows["previous_rank"].astype(object)
        .where(rows["previous_rank"].notna(), ""),
        "previous": fixed("previous", 2), "change": fixed("change", 1, sign=True),
        "synthetic": [yes if s else no for s in
                      table["synthetic"].astype("boolean").fillna(False)],
        "reason": rows["reason_full"]})
    headers = {"group": t("pg.col.group", lang), "period": t("rk.col.period", lang),
               "rank": t("rk.col.rank", lang), "name": t("rk.col.name", lang),
               "area": t("rk.col.area", lang),
               "where": t("pg.col.city" if group.level == "county" else "pg.col.province",
                          lang),
               "stations": t("pg.col.stations", lang), "value": t("pg.col.value", lang),
               "status": t("rk.col.status", lang),
               "distance": t("pg.col.distance", lang, bottom=group.bottom),
               "in_bottom": t("pg.col.in_bottom", lang, bottom=group.bottom),
               "previous_rank": t("pg.col.previous_rank", lang),
               "previous": t("pg.col.previous", lang),
               "change": t("rk.col.change.percent", lang),
               "synthetic": t("pg.col.synthetic", lang), "reason": t("rk.col.reason", lang)}
    return frame.rename(columns=headers)


# -- export -------------------------------------------------------------------------

def export_frame(view, cat, engine) -> pd.DataFrame:
    """The ranking table for download (headers in the view's language); a district-scoped
    account's export holds what its page shows (other areas: rank and name only)."""
    group, _groups, _asked = peer_group(view, engine)
    if group is not None:
        return peer_export_frame(view, cat, engine, group)
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
