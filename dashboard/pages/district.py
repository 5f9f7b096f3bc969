"""Page ``/district`` — 区县 / District: one district (or the whole city) in detail.

For the chosen period and pollutant (``?district=…&pollutant=…``):

* the daily values with the national 24-h limit (O3: the MDA8 limit) of each
  day's profile, the district's local annual target where it has one, and
  the days that are not valid marked;
* the monthly statistic (mean; CO P95, O3 P90 of MDA8) of the year, from
  the monthly period statistics (``queries.month_stats``);
* the year-to-date path: the annual mean as it stands after each day
  (``indicators.progress.running_mean``) against the target and the annual
  limit, with what the rest of the year must average (``queries.standing_rows``);
* the evaluation stations of the district side by side;
* the validity ledger: every statistic of the period, valid or not, by
  which rule, with its capture and why it is not valid.

Everything shown comes from ``indicators`` through ``dashboard.queries``;
this module only selects, translates and lays out.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from dash import html

from config.standards import load_profile
from indicators.targets import (AT_RISK, EXCEEDED, INSUFFICIENT, MET, NO_LIMIT, NOT_MET, ON_TRACK,
                                REFERENCE, REFERENCE_PERIOD, RUNNING, STATUS_TEXT)

from .. import ids
from ..exports import register_export
from ..figures.district import daily_trend, monthly_bars, station_bars, ytd_path
from ..i18n import has, t
from ..layout import (card, chart_card, dropdown, empty_state, export_links, graph, grid, notes,
                      notices, period_caption, staff_page, stat_tile)
from ..ledger import ledger_text
from ..queries import city_year, daily_between, month_stats, period_stats, standing_rows
from .common import (POLLUTANTS, STATISTIC, PollutantContext, decimals_of, fmt, pollutant_choice,
                     pollutant_dropdown, unit_of)

PATH = "/district"
NAME = "区县"
NAME_EN = "District"
TITLE = "区县 · 蓝天 Lantian"
PAGE_KEYS = ("district", "pollutant")
SCOPED = True              # honours a district-scoped account (only its district)

#: The daily quantity of a pollutant (the statistic each is evaluated by: common.STATISTIC).
QUANTITY = {"O3": "O3_MDA8"}
DAILY_AVERAGING = {"O3": "mda8"}
STAT_ORDER = ("annual_mean", "p98_daily", "p95_daily", "p90_mda8", "exceedance_days",
              "max_multiple", "single_index", "compliance", "valid_aqi_days", "good_days",
              "heavy_days", "good_day_ratio", "composite_index")
POLLUTANT_ORDER = (*POLLUTANTS, "AQI", "ALL")



# -- choices ----------------------------------------------------------------------------

def area_options(view, cat) -> list[tuple[str, str]]:
    """(value, label) of the areas one can choose: the city's districts, then the city."""
    lang = view.lang
    districts = cat.city_districts(view.city)
    names = cat.names("district", lang)
    out = [(d, names.get(d, d)) for d in districts["id"]]
    if cat.scope is None:     # a district-scoped account sees its district, not the city
        out.append((view.city, t("dist.city_option", lang,
                                 name=cat.name("city", view.city, lang))))
    return out


def choices(view, cat) -> tuple[str, str, str, list[str]]:
    """(area, level, pollutant, notices) from the URL, validated against the catalogue."""
    lang = view.lang
    options = area_options(view, cat)
    allowed = [v for v, _ in options]
    notices = []
    area = view.params.get("district")
    if area not in allowed:
        if area:
            notices.append(t("dist.unknown_district", lang, value=area, name=options[0][1]))
        area = allowed[0]
    pollutant = pollutant_choice(view, notices)
    level = "city" if area == view.city else "district"
    return area, level, pollutant, notices


def controls(view, cat) -> list:
    lang = view.lang
    area, _level, pollutant, _ = choices(view, cat)
    return [
        dropdown("district", [{"label": label, "value": v} for v, label in area_options(view, cat)],
                 area, t("dist.ctl.district", lang), width=200),
        pollutant_dropdown(view, pollutant),
    ]


def layout(**query) -> html.Div:
    return staff_page(page="district", title=(t("dist.title"), t("dist.title", "en")),
                      subtitle=(t("dist.subtitle"), t("dist.subtitle", "en")), query=query,
                      body=body, path=PATH, page_keys=PAGE_KEYS, extra_controls=controls)


# -- helpers --------------------------------------------------------------------------

def stats_year(view) -> int:
    return view.end.year if view.stats_period == "ytd" else view.year


def stat_name(statistic: str, lang: str) -> str:
    key = f"dist.stat.{statistic}"
    return t(key, lang) if has(key) else statistic


@dataclass
class Ctx(PollutantContext):
    """What every section of one rendering needs (resolved once)."""
    area: str
    level: str                 # district | city
    members: list              # evaluation stations of the area
    grade: str
    target: float | None       # local annual-mean target of the year
    stats: pd.DataFrame        # period statistics of the view: the area and its stations
    area_name: str
    station_names: dict        # code → name in the reader's language

    def stat(self, level, area, pollutant, statistic):
        """The statistics row (a Series) of one area, pollutant and statistic, or None."""
        s = self.stats
        if s.empty:
            return None
        hit = np.flatnonzero((self._col("level") == level) & (self._col("area") == area)
                             & (self._col("pollutant") == pollutant)
                             & (self._col("statistic") == statistic))
        return s.iloc[hit[0]] if len(hit) else None

    def _col(self, name: str) -> np.ndarray:
        cache = self.__dict__.setdefault("_cols", {})
        if name not in cache:
            cache[name] = np.asarray(self.stats[name], dtype=object)
        return cache[name]


def context(view, cat, engine, chosen=None) -> Ctx:
    """The rendering context; ``chosen`` = :func:`choices` when already resolved."""
    area, level, pollutant, _notices = chosen or choices(view, cat)
    cy = city_year(engine, view.city, stats_year(view), view.profile_arg)
    m = cy.membership
    members = sorted(m.loc[(m["level"] == level) & (m["area"] == area), "station"].astype(str)) \
        if len(m) else []
    stats = period_stats(engine, view)
    if not stats.empty:     # the area and its stations only: every later lookup is small
        lv = np.asarray(stats["level"], dtype=object)
        ar = np.asarray(stats["area"], dtype=object)
        keep = ((lv == level) & (ar == area)) | ((lv == "station") & np.isin(ar, members))
        stats = stats[keep].reset_index(drop=True)
    return Ctx(view=view, cat=cat, engine=engine, area=area, level=level, pollutant=pollutant,
               members=members, grade=str(cy.grades.get(area, "II") or "II"),
               target=area_target(engine, view, area, pollutant) if level == "district" else None,
               synthetic=cat.is_synthetic(view.city), stats=stats,
               area_name=cat.name(level, area, view.lang),
               station_names=cat.names("station", view.lang))


def area_target(engine, view, area: str, pollutant: str) -> float | None:
    """The area's local annual-mean target for the year (None without one)."""
    table = standing_rows(engine, view)
    if table.empty:
        return None
    rows = table[(table["area"] == area) & (table["pollutant"] == pollutant)
                 & (table["statistic"] == "annual_mean") & (table["basis"] == "target")]
    return None if rows.empty else float(rows.iloc[0]["target"])


def limit_at(view, pollutant: str, averaging: str, grade: str,
             profile: str | None = None) -> float | None:
    """The national limit applied at the end of the statistics period: of the statistic's
    profile when given (and it has limits), else of the forced or scheduled one."""
    from indicators.progress import limits_by_day
    pid = profile or view.profile or None
    if pid is not None and not load_profile(pid).has_limits:
        pid = None
    end = date(view.year, 12, 31) if view.stats_period == "year" else view.stats_end
    value = limits_by_day([end], pollutant, averaging, grade, profile=pid)[0]
    return None if np.isnan(value) else float(value)


def ledger_frame(c: Ctx) -> pd.DataFrame:
    """Every statistic of the period for the area and its evaluation stations (for the
    grid and the export): name, pollutant, statistic, reported, valid, capture, rule,
    detail (in the reader's language), invalid (bool)."""
    stats = c.stats
    if stats.empty:
        return pd.DataFrame()
    rows = stats                     # (the context keeps the area and its stations only)
    lang = c.lang
    names = c.station_names
    rows = rows.assign(
        _v=rows["valid"].astype(bool).to_numpy(),          # the ones to explain first
        _a=np.where(rows["level"] == "station", 1, 0),
        _p=rows["pollutant"].map({p: i for i, p in enumerate(POLLUTANT_ORDER)}).fillna(99),
        _s=rows["statistic"].map({s: i for i, s in enumerate(STAT_ORDER)}).fillna(99),
    ).sort_values(["_v", "_a", "area", "_p", "_s"], kind="stable")
    is_area = rows["level"].to_numpy() != "station"
    name = np.where(is_area, t("dist.area_row", lang, name=c.area_name),
                    rows["area"].map(names).fillna(rows["area"]).astype(str) + " "
                    + rows["area"].astype(str))
    stat_names = {s: stat_name(s, lang) for s in rows["statistic"].unique()}
    pollutant = rows["pollutant"].astype(str).replace({"ALL": t("dist.pollutant.ALL", lang)})
    capture = (rows["n_valid"].astype("Int64").astype(str).replace("<NA>", "—") + " / "
               + rows["n_required"].astype("Int64").astype(str).replace("<NA>", "—"))
    valid = rows["valid"].astype(bool).to_numpy()
    rule = ledger_text(rows["rule"], lang)
    # rules repeat on every row: number them (①, ②…) and list them once above the grid
    numbers = {r: RULE_MARKS[i] if i < len(RULE_MARKS) else str(i + 1)
               for i, r in enumerate(pd.unique(rule))}
    return pd.DataFrame({
        "name": name, "pollutant": pollutant.to_numpy(),
        "statistic": rows["statistic"].map(stat_names).to_numpy(),
        "reported": rows["reported"].astype("float64").to_numpy(),
        "valid": np.where(valid, t("dist.yes", lang), t("dist.no", lang)),
        "capture": capture.to_numpy(),
        "rule_no": rule.map(numbers).to_numpy(),
        "rule": rule.to_numpy(),
        # (without "provisional: year to date …", said once above the grid)
        "detail": ledger_text(rows["detail"], lang).to_numpy(),
        "invalid": ~valid,
    })


RULE_MARKS = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"


def _export_ledger(view, cat, engine) -> pd.DataFrame:
    frame = ledger_frame(context(view, cat, engine))
    return frame.drop(columns=["invalid", "rule_no"]) if not frame.empty else frame


register_export("district-ledger", _export_ledger, PAGE_KEYS, scoped=True)


def ledger_columns(lang: str) -> list[dict]:
    def col(field, **kw):
        return {"field": field, "headerName": t(f"dist.col.{field}", lang), **kw}
    wrap = {"wrapText": True, "autoHeight": True,
            "cellStyle": {"lineHeight": "1.45", "paddingTop": "5px", "paddingBottom": "5px",
                          "wordBreak": "break-word"}}
    return [
        col("name", minWidth=150, maxWidth=220, **wrap),
        col("pollutant", minWidth=100, maxWidth=110),
        col("statistic", minWidth=170, maxWidth=200, **wrap),
        col("reported", type="numericColumn", minWidth=80, maxWidth=100,
            valueFormatter={"function": "params.value == null ? '—' : params.value"}),
        col("valid", minWidth=80, maxWidth=90,
            cellClassRules={"lt-dist-bad": "params.data.invalid"}),
        col("capture", type="numericColumn", minWidth=120, maxWidth=130, filter=False),
        col("rule_no", minWidth=70, maxWidth=80, tooltipField="rule", filter=False),
        col("detail", minWidth=300, flex=3, **wrap),
    ]


# -- the sections ---------------------------------------------------------------------

#: The verdict section at the top of the page.
VERDICT_ID = "district-verdict"
STATUS_CLASS = {MET: "ok", ON_TRACK: "ok", AT_RISK: "risk", NOT_MET: "bad", EXCEEDED: "bad"}


def verdict_rows(c: Ctx) -> pd.DataFrame:
    """The district's rows of ``queries.standing_rows`` (its targets, and the national
    limit of each judged pollutant without one), the chosen pollutant first; empty for
    the whole city."""
    if c.level != "district":
        return pd.DataFrame()
    table = standing_rows(c.engine, c.view)
    if table.empty:
        return table
    rows = table[table["area"] == c.area]
    return rows.assign(_sel=(rows["pollutant"] != c.pollutant).astype(int)).sort_values(
        "_sel", kind="stable").drop(columns="_sel").reset_index(drop=True)


def verdict_section(c: Ctx) -> list:
    """The page opens with the verdict: per targeted pollutant (or judged pollutant against
    the national limit) the value, target, limit, the binding figure, the margin (value −
    binding figure, signed), the status (``indicators.targets.judge``) and, for a year to
    date, what the rest of the year must average."""
    lang, view = c.lang, c.view
    rows = verdict_rows(c)
    if rows.empty:
        if c.level != "district":
            return [card(None, *notes(t("dist.verdict_city", lang)), id=VERDICT_ID)]
        return []
    kind = str(rows["period_kind"].iloc[0])
    caption = period_caption(view)
    title = t({RUNNING: "dist.verdict_ytd", REFERENCE_PERIOD: "dist.verdict_ref"}.get(
        kind, "dist.verdict"), lang, caption=caption)
    head = html.Tr([html.Th(t(f"dist.vcol.{k}", lang),
                            className="lt-num" if k in ("value", "target", "limit", "binding",
                                                        "margin") else None)
                    for k in ("pollutant", "value", "target", "limit", "binding", "margin",
                              "status", "needed" if kind == RUNNING else "note")])
    body_rows = []
    for r in rows.itertuples(index=False):
        unit = unit_of(r.pollutant) if r.pollutant in POLLUTANTS else ""
        dec = decimals_of(view, r.pollutant) if r.pollutant in POLLUTANTS else 1
        local = r.basis == "target"
        judged = r.verdict not in (REFERENCE, INSUFFICIENT, NO_LIMIT)
        figure_word = t("dist.basis.national" if r.binding_basis == "national"
                        else "dist.basis.target", lang)
        binding = "—" if pd.isna(r.binding) else f"{r.binding:g}（{figure_word}）" \
            if lang == "zh" else f"{r.binding:g} ({figure_word})"
        margin = "—" if not judged or pd.isna(r.margin) else (
            "0" if r.margin == 0 else f"{r.margin:+g}")
        note = r.needed_zh if lang == "zh" else r.needed_en
        note = note if isinstance(note, str) else ""
        if r.verdict == INSUFFICIENT:
            note = ledger_text(r.detail, lang) or note
        if local and judged and pd.notna(r.national_limit) \
                and r.verdict_target != r.verdict_national:
            each = t("dist.each", lang, st_target=t(f"dist.status.{r.verdict_target}", lang),
                     st_limit=t(f"dist.status.{r.verdict_national}", lang))
            note = f"{note}{'；' if lang == 'zh' else '; '}{each}" if note else each
        chip = html.Span(t(f"dist.status.{r.verdict}", lang),
                         className=f"lt-chip lt-chip-{STATUS_CLASS.get(r.verdict, 'na')}")
        body_rows.append(html.Tr(className="lt-dist-sel" if r.pollutant == c.pollutant else None,
                                 children=[
            html.Td([html.B(r.pollutant), html.Span(" " + stat_name(r.statistic, lang),
                                                    className="lt-muted")]),
            html.Td(f"{fmt(r.reported, dec)} {unit}".strip(), className="lt-num"),
            html.Td(f"{r.target:g}" if local else "—", className="lt-num"),
            html.Td("—" if pd.isna(r.national_limit) else f"{r.national_limit:g}",
                    className="lt-num"),
            html.Td(binding, className="lt-num"),
            html.Td(html.B(margin) if judged else margin, className="lt-num"),
            html.Td(chip),
            html.Td(note, className="lt-message")]))
    table = html.Div(className="lt-table-wrap", children=html.Table(
        className="lt-table", children=[html.Thead(head), html.Tbody(body_rows)]))
    extra = notes(t("dist.verdict_reference", lang, caption=caption)
                  if kind == REFERENCE_PERIOD else None, t("dist.verdict_note", lang))
    return [card(title, table, *extra, id=VERDICT_ID)]


def summary(c: Ctx) -> html.Section:
    lang, p = c.lang, c.pollutant
    statistic = STATISTIC[p]
    row = c.stat(c.level, c.area, p, statistic)
    why = None
    if row is not None and not bool(row["valid"]):
        why = t("dist.tile.not_valid", lang) + ": " + ledger_text(row["detail"], lang)
    tiles = [stat_tile(fmt(None if row is None else row["reported"], c.decimals),
                       t("dist.tile.stat", lang, pollutant=p, statistic=stat_name(statistic, lang)),
                       " " + c.unit, why, invalid=bool(why))]
    ex = c.stat(c.level, c.area, p, "exceedance_days")
    tiles.append(stat_tile(fmt(None if ex is None else ex["reported"], 0),
                           t("dist.tile.exceed", lang, pollutant=p), t("dist.days", lang)))
    if statistic == "annual_mean":
        has_target = c.target is not None
        tiles.append(stat_tile(
            fmt(c.target, c.decimals) if has_target else "—",
            t("dist.tile.target" if has_target else "dist.tile.no_target", lang),
            (" " + c.unit) if has_target else ""))
    avg = "annual" if statistic == "annual_mean" else DAILY_AVERAGING.get(p, "24h")
    limit = limit_at(c.view, p, avg, c.grade,
                     row["profile"] if row is not None and row["profile"] else None)
    tiles.append(stat_tile(
        fmt(limit, c.decimals) if limit is not None else "—",
        t("dist.tile.limit" if avg == "annual" else "dist.tile.limit_pct", lang), " " + c.unit))
    tiles.append(stat_tile(str(len(c.members)), t("dist.tile.stations", lang)))
    return html.Section(id=ids.DISTRICT_SUMMARY, className="lt-summary", children=tiles)


def trend_rows(c: Ctx) -> pd.DataFrame:
    """The area's daily values of the pollutant in the view, with each day's limit."""
    from indicators.progress import limits_by_day
    view = c.view
    quantity = QUANTITY.get(c.pollutant, c.pollutant)
    daily, _aqi = daily_between(c.engine, view.city, view.start, view.end, view.profile_arg)
    rows = daily[(daily["level"] == c.level) & (daily["area"] == c.area)
                 & (daily["pollutant"] == quantity)]
    forced = view.profile or None
    if forced is not None and not load_profile(forced).has_limits:
        forced = None
    return rows[["date", "reported", "valid", "n_valid", "n_required"]].assign(
        limit=limits_by_day(rows["date"], c.pollutant, DAILY_AVERAGING.get(c.pollutant, "24h"),
                            c.grade, profile=forced))


def trend_section(c: Ctx) -> list:
    lang, p = c.lang, c.pollutant
    rows = trend_rows(c)
    if rows.empty:
        return [card(None, empty_state(t("dist.no_data", lang, pollutant=p),
                                       t("dist.no_data_hint", lang)), id=ids.DISTRICT_TREND)]
    averaging = DAILY_AVERAGING.get(p, "24h")
    head = t("dist.trend_o3", lang) if p == "O3" else t("dist.trend", lang, pollutant=p)
    fig = daily_trend(rows, pollutant=p, unit=c.unit, decimals=c.decimals, lang=lang,
                      title=c.title(f"{c.area_name} · {head} · {period_caption(c.view)}"),
                      limit_name=t(f"dist.limit_{averaging}", lang),
                      target=c.target, target_name=t("dist.target_line", lang))
    note = t("dist.trend_note", lang)
    if c.target is not None:
        note += (" " if lang == "en" else "") + t("dist.trend_note_target", lang)
    return [chart_card(fig, note, id=ids.DISTRICT_TREND, height=400)]


def monthly_rows(c: Ctx) -> pd.DataFrame:
    """Monthly statistics (``queries.month_stats``) of the area and pollutant up to the
    statistics period's end, with ``detail`` in the reader's language."""
    ms = month_stats(c.engine, c.view.city, stats_year(c.view), c.view.profile_arg)
    if ms.empty:
        return ms
    rows = ms[(ms["level"] == c.level) & (ms["area"] == c.area)
              & (ms["pollutant"] == c.pollutant) & (ms["statistic"] == STATISTIC[c.pollutant])]
    rows = rows[pd.to_datetime(rows["start"]) <= pd.Timestamp(c.view.stats_end)]
    return rows.assign(detail=ledger_text(rows["detail"], c.lang).to_numpy())


def monthly_section(c: Ctx) -> list:
    lang, p, view = c.lang, c.pollutant, c.view
    statistic = STATISTIC[p]
    rows = monthly_rows(c)
    annual_limit = limit_at(view, p, "annual", c.grade) if statistic == "annual_mean" else None
    # the binding figure: the local target unless the national limit is stricter
    if statistic == "annual_mean" and c.target is not None \
            and (annual_limit is None or c.target <= annual_limit):
        ref, ref_name = c.target, t("dist.ref_target", lang)
    elif statistic == "annual_mean":
        ref, ref_name = annual_limit, t("dist.ref_limit", lang)
    else:
        ref = limit_at(view, p, DAILY_AVERAGING.get(p, "24h"), c.grade)
        ref_name = t("dist.ref_limit_pct", lang)
    stat = stat_name(statistic, lang)
    highlight = f"{view.year}-{view.month:02d}" if view.period == "month" else None
    fig = monthly_bars(rows, pollutant=p, unit=c.unit, decimals=c.decimals, lang=lang,
                       title=c.title(f"{c.area_name} · " + t(
                           "dist.monthly", lang, year=stats_year(view), pollutant=p,
                           statistic=stat)),
                       statistic_name=stat, reference=ref, reference_name=ref_name,
                       highlight=highlight)
    return [chart_card(fig, t("dist.monthly_note", lang), id=ids.DISTRICT_MONTHLY)]


def running_rows(c: Ctx) -> pd.DataFrame:
    """:func:`indicators.progress.running_mean` of the area's daily values from 1 January
    to the statistics period's end."""
    from indicators.progress import running_mean
    cy = city_year(c.engine, c.view.city, stats_year(c.view), c.view.profile_arg)
    d = cy.daily
    if cy.empty:
        return running_mean(d)
    rows = d[(d["level"] == c.level) & (d["area"] == c.area) & (d["pollutant"] == c.pollutant)
             & (d["date"] <= pd.Timestamp(c.view.stats_end))]
    return running_mean(rows, profile=c.view.profile_arg)


def path_section(c: Ctx) -> list:
    lang, p, view = c.lang, c.pollutant, c.view
    if STATISTIC[p] != "annual_mean":
        return [card(None, empty_state(t("dist.path_none", lang, pollutant=p)),
                     id=ids.DISTRICT_PATH)]
    year = stats_year(view)
    running = running_rows(c)
    row = c.stat(c.level, c.area, p, "annual_mean")
    limit = limit_at(view, p, "annual", c.grade,
                     row["profile"] if row is not None and row["profile"] else None)
    fig = ytd_path(running, pollutant=p, unit=c.unit, decimals=c.decimals, lang=lang,
                   title=c.title(f"{c.area_name} · " + t("dist.path", lang, year=year,
                                                         pollutant=p)),
                   target=c.target, target_name=t("dist.path_target", lang),
                   limit=limit, limit_name=t("dist.path_limit", lang), x_end=date(year, 12, 31))
    lines = []
    end = view.stats_end.isoformat()
    if not running.empty and running["n_valid"].iloc[-1] > 0:
        last = running.iloc[-1]
        lines.append(t("dist.path_now", lang, end=end, value=fmt(last["reported"], c.decimals),
                       unit=c.unit, days=int(last["n_valid"])))
    elif not running.empty:
        lines.append(t("dist.path_none_yet", lang, end=end))
    table = standing_rows(c.engine, view) if c.level == "district" else pd.DataFrame()
    if not table.empty:
        st = table[(table["area"] == c.area) & (table["pollutant"] == p)
                   & (table["statistic"] == "annual_mean")]
        for r in st.itertuples(index=False):      # one row: against the binding figure
            needed = r.needed_zh if lang == "zh" else r.needed_en
            if isinstance(needed, str) and needed:
                lines.append(t("dist.path_needed", lang,
                               basis=t(f"dist.basis.{r.binding_basis}", lang),
                               target=f"{r.binding:g}", unit=c.unit, needed=needed))
    return [chart_card(fig, html.Div(id=ids.DISTRICT_NEEDED, className="lt-dist-needed",
                                     children=[html.P(x) for x in lines]),
                       t("dist.path_note", lang), id=ids.DISTRICT_PATH)]


def station_rows(c: Ctx) -> list[tuple[str, str, str, dict]]:
    """(level, area, label, {pollutant: statistic row}) for each member station, then the area."""
    names = c.station_names
    keys = [("station", s, f"{names.get(s, s)} {s}") for s in c.members] + \
           [(c.level, c.area, t("dist.area_row", c.lang, name=c.area_name))]
    s = c.stats
    if s.empty:
        return [(lv, a, label, {}) for lv, a, label in keys]
    # (the context's statistics hold the area and its stations only)
    pol, stat = c._col("pollutant"), c._col("statistic")
    wanted = s[np.array([STATISTIC.get(p) == st for p, st in zip(pol, stat)], dtype=bool)]
    index: dict = {}
    for r in wanted.itertuples(index=False):       # ≤ 6 × (stations + 1) rows
        index.setdefault((r.level, r.area), {})[r.pollutant] = r
    return [(lv, a, label, index.get((lv, a), {})) for lv, a, label in keys]


def stations_section(c: Ctx) -> list:
    lang, p, view, cat = c.lang, c.pollutant, c.view, c.cat
    title = t("dist.stations", lang, caption=period_caption(view))
    st_all = cat.city_stations(view.city)
    others = st_all[(st_all["district"] == c.area) & ~st_all["code"].isin(c.members)] \
        if c.level == "district" else st_all[~st_all["code"].isin(c.members)]
    names = c.station_names
    words = [f"{names.get(s, s)} {s}（{t('dist.role.' + r, lang)}）" if lang == "zh"
             else f"{names.get(s, s)} {s} ({t('dist.role.' + r, lang)})"
             for s, r in zip(others["code"], others["role"]) if r in ("background", "excluded")]
    others_note = notes(t("dist.other_stations", lang,
                          names=("、" if lang == "zh" else ", ").join(words)) if words else None)
    if not c.members or c.stats.empty:
        return [card(title, empty_state(t("dist.no_stations", lang)), *others_note,
                     id=ids.DISTRICT_STATIONS)]
    rows = station_rows(c)
    head = [html.Th(t("dist.station_col", lang))] + [
        html.Th([q, html.Br(), html.Span(f"{stat_name(STATISTIC[q], lang)} ({unit_of(q)})",
                                         className="lt-muted lt-dist-th")], className="lt-num")
        for q in POLLUTANTS]
    body_rows, any_invalid = [], False
    for lv, _a, label, by_p in rows:
        cells = [html.Td(label)]
        for q in POLLUTANTS:
            r = by_p.get(q)
            if r is None:
                cells.append(html.Td("—", className="lt-num"))
                continue
            text = fmt(r.reported, decimals_of(view, q))
            sel = " lt-dist-sel" if q == p else ""
            if not r.valid:
                any_invalid = True
                cells.append(html.Td(text + "*", className="lt-num lt-dist-invalid" + sel,
                                     title=ledger_text(r.detail, lang)))
            else:
                cells.append(html.Td(text, className="lt-num" + sel))
        body_rows.append(html.Tr(cells, className="lt-dist-arearow" if lv != "station" else None))
    table = html.Div(className="lt-table-wrap", children=html.Table(
        id=ids.DISTRICT_STATIONS_TABLE, className="lt-table lt-dist-stable",
        children=[html.Thead(html.Tr(head)), html.Tbody(body_rows)]))
    statistic = STATISTIC[p]
    chart = pd.DataFrame({
        "name": [label for _lv, _a, label, _b in rows],
        "reported": [getattr(b.get(p), "reported", np.nan) for *_x, b in rows],
        "valid": [bool(getattr(b.get(p), "valid", False)) for *_x, b in rows],
        "n_valid": [getattr(b.get(p), "n_valid", None) for *_x, b in rows],
        "n_required": [getattr(b.get(p), "n_required", None) for *_x, b in rows],
        "is_area": [lv != "station" for lv, *_x in rows]})
    avg = "annual" if statistic == "annual_mean" else DAILY_AVERAGING.get(p, "24h")
    fig = station_bars(chart, pollutant=p, unit=c.unit, decimals=c.decimals, lang=lang,
                       title=c.title(t("dist.stations_chart", lang, pollutant=p,
                                       statistic=stat_name(statistic, lang))),
                       statistic_name=stat_name(statistic, lang),
                       limit=limit_at(view, p, avg, c.grade),
                       limit_name=t("dist.tile.limit" if avg == "annual"
                                    else "dist.tile.limit_pct", lang),
                       target=c.target if statistic == "annual_mean" else None,
                       target_name=t("dist.tile.target", lang))
    extra = notes(t("dist.invalid_mark", lang) if any_invalid else None)
    return [card(title, table, *extra, graph(fig, id=ids.DISTRICT_STATIONS_CHART, height=320),
                 *others_note, id=ids.DISTRICT_STATIONS)]


def ledger_section(c: Ctx) -> list:
    lang, view = c.lang, c.view
    title = t("dist.ledger", lang, caption=period_caption(view))
    frame = ledger_frame(c)
    if frame.empty:
        return [card(title, empty_state(t("table.empty", lang)), id=ids.DISTRICT_LEDGER_CARD)]
    counts = html.P(t("dist.ledger_counts", lang, total=len(frame),
                      invalid=int(frame["invalid"].sum())), className="lt-muted")
    rules = frame.drop_duplicates("rule_no")
    legend = html.Div(className="lt-dist-rules", children=[
        html.Span(t("dist.rules", lang), className="lt-muted"),
        html.Ul([html.Li([html.B(n), " ", r]) for n, r in zip(rules["rule_no"], rules["rule"])])])
    ytd = t("dist.ledger_ytd", lang, start=date(view.stats_end.year, 1, 1).isoformat(),
            end=view.stats_end.isoformat()) if view.stats_period == "ytd" else None
    exports = export_links(t("dist.export", lang), "district-ledger", view,
                           className="lt-dist-export")
    # (rows of wrapped text: the grid grows with them, a page of 15 at a time)
    table = grid(frame, ledger_columns(lang), id=ids.DISTRICT_LEDGER, lang=lang, page_size=15,
                 auto_height=True, rowClassRules={"lt-dist-row-bad": "params.data.invalid"})
    return [card(title, counts, legend, *notes(ytd), table, exports,
                 id=ids.DISTRICT_LEDGER_CARD)]


def body(view, cat, engine) -> list:
    lang = view.lang
    chosen = choices(view, cat)
    messages = chosen[3]
    c = context(view, cat, engine, chosen)
    out = []
    if messages:
        out.append(notices(messages))
    out.append(html.H2(f"{c.area_name} · {c.pollutant} · {period_caption(view)}",
                       className="lt-section-title"))
    if view.period == "range":
        out += notes(t("dist.range_note", lang, start=view.start.isoformat(),
                       end=view.end.isoformat(), year=view.end.year))
    out += verdict_section(c)
    out.append(summary(c))
    out += trend_section(c)
    out.append(html.Div(className="lt-dist-two", children=[
        html.Div(monthly_section(c)), html.Div(path_section(c))]))
    out += stations_section(c)
    out += ledger_section(c)
    return out
