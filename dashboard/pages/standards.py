"""Page ``/standards`` — 标准对比 / Standards: one area under several standard profiles.

The same district (or the whole city) and period evaluated under GB 3095-2012,
GB 3095-2026 (transitional; the final limits on request), the WHO 2021
guideline and the EU 2030 limits (the US EPA AQI on request): every pollutant
statistic with its value, each profile's limit and whether it is met.

Each profile's statistics are :func:`dashboard.queries.period_stats` of the
view with that profile forced (cached per profile); a Chinese profile also
brings its daily rules and AQI, a comparison profile only its limits (and the
US its own AQI) — :func:`indicators.pipeline.split_profile`. Limits and
verdicts come from :func:`indicators.comparison.against_limits`. Nothing is
computed here. Which profiles are compared by default and which on request is
each profile YAML's ``display.standards_page``
(:func:`config.standards.standards_page_profiles`).
"""
from __future__ import annotations

import pandas as pd
from dash import dcc, html

from config.standards import profile_ids, standards_page_profiles
from indicators.comparison import AT_MOST_LIMIT
from indicators.statistics import COMPLIANCE_PERIODS

from .. import ids
from ..exports import register_export
from ..figures.standards import days_figure, limits_figure
from ..i18n import t
from ..layout import (card, dropdown, empty_state, export_links, graph, grid, labelled, notes,
                      profile_label, staff_page, stats_caption, synthetic_title)
from ..ledger import ledger_text
from ..queries import profile_rows

PATH = "/standards"
NAME = "标准对比"
NAME_EN = "Standards"
TITLE = "标准对比 · 蓝天 Lantian"
PAGE_KEYS = ("district", "extra")

#: The rows of the comparison, in order: (pollutant, statistic).
ROWS = [
    ("SO2", "annual_mean"), ("SO2", "p98_daily"), ("SO2", "exceedance_days"),
    ("NO2", "annual_mean"), ("NO2", "p98_daily"), ("NO2", "exceedance_days"),
    ("PM10", "annual_mean"), ("PM10", "p95_daily"), ("PM10", "exceedance_days"),
    ("PM2.5", "annual_mean"), ("PM2.5", "p95_daily"), ("PM2.5", "exceedance_days"),
    ("CO", "p95_daily"), ("CO", "exceedance_days"),
    ("O3", "p90_mda8"), ("O3", "exceedance_days"),
    ("AQI", "good_day_ratio"), ("AQI", "good_days"), ("AQI", "heavy_days"),
    ("AQI", "valid_aqi_days"),
    ("ALL", "compliance"),
]



def layout(**query) -> html.Div:
    return staff_page(page="standards", title=(t("sd.title"), t("sd.title", "en")),
                      subtitle=(t("sd.subtitle"), t("sd.subtitle", "en")), query=query,
                      body=body, path=PATH, page_keys=PAGE_KEYS, extra_controls=controls,
                      profile_control=False)


# -- choices ------------------------------------------------------------------------

def area_choice(view, cat) -> tuple[str, str]:
    """(level, area) from the URL: a district of the city or the city itself (validated)."""
    districts = cat.city_districts(view.city)["id"].tolist()
    chosen = view.params.get("district")
    if chosen in districts:
        return "district", chosen
    if chosen == view.city or not districts:
        return "city", view.city
    return "district", districts[0]


def profiles_of(view) -> list[str]:
    """The profiles compared, in display order: the default ones and those the URL's
    ``extra`` asks for among the ones offered on request."""
    base, on_request = standards_page_profiles()
    extra = set((view.params.get("extra") or "").split(",")) & set(on_request)
    return [p for p in profile_ids() if p in base or p in extra]


def controls(view, cat) -> list:
    lang = view.lang
    level, area = area_choice(view, cat)
    districts = cat.city_districts(view.city)
    names = cat.names("district", lang)
    options = [{"label": t("sd.city", lang, city=cat.name("city", view.city, lang)),
                "value": view.city}]
    options += [{"label": names.get(d, d), "value": d} for d in districts["id"]]
    on_request = standards_page_profiles()[1]
    extra = [p for p in profiles_of(view) if p in on_request]
    return [
        dropdown("district", options, area, t("sd.ctl.area", lang), width=200),
        labelled(t("sd.ctl.extra", lang), dcc.Checklist(
            id={"type": ids.CONTROL, "name": "extra"}, value=extra, inline=True,
            className="lt-sd-extra", inputClassName="lt-sd-check",
            options=[{"label": profile_label(p, lang), "value": p} for p in on_request])),
    ]


# -- the comparison -----------------------------------------------------------------

def comparison(view, cat, engine) -> pd.DataFrame:
    """One row per profile and (pollutant, statistic) of :data:`ROWS` for the chosen area.

    Columns: the statistics frame's (level, area, period, pollutant, statistic,
    value, reported, valid, n_valid, n_required, detail …) with ``profile`` set
    to the compared profile, plus ``limit``, ``allowed``, ``defined``, ``meets``
    (:func:`indicators.comparison.against_limits`). Empty without statistics.
    """
    level, area = area_choice(view, cat)
    wanted = pd.DataFrame(ROWS, columns=["pollutant", "statistic"])
    parts = [profile_rows(engine, view, pid, level, area) for pid in profiles_of(view)]
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame()
    return pd.concat(parts, ignore_index=True).merge(wanted, on=["pollutant", "statistic"])


def _fmt(value, statistic: str, pollutant: str) -> str:
    if value is None or pd.isna(value):
        return "—"
    if statistic == "good_day_ratio":
        return f"{value:.1f}%"
    if statistic == "compliance":
        return ""
    if pollutant == "CO" and statistic != "exceedance_days":
        return f"{value:.1f}"
    return f"{value:.0f}"


def cells(comp: pd.DataFrame, view) -> pd.DataFrame:
    """Display strings per row: value, limit and verdict (vectorised over the few rows)."""
    lang = view.lang
    judged_period = view.stats_period in COMPLIANCE_PERIODS
    c = comp.reset_index(drop=True)
    stat, pol = c["statistic"].astype(str), c["pollutant"].astype(str)
    valid = c["valid"].fillna(False).astype(bool)
    defined = c["defined"].astype(bool)
    value = pd.Series([_fmt(v, s, p) for v, s, p in zip(c["reported"], stat, pol)], dtype=object)
    value = value.where(valid | (value == "—") | (value == ""), value + "*")
    value = value.where(defined, "—")
    days = t("sd.days", lang)
    value = value.where(~stat.isin(["exceedance_days", "good_days", "heavy_days",
                                    "valid_aqi_days"]) | (value == "—"), value + " " + days)
    lim = c["limit"].astype("float64")
    lim_text = lim.map(lambda x: "—" if pd.isna(x) else f"{x:g}").astype(object)
    above = "> " + lim_text
    allowed = c["allowed"].astype("float64")
    allowed_text = allowed.map(lambda n: "" if pd.isna(n) else
                               t("sd.allowed", lang, n=f"{n:g}")).astype(object)
    daily = (stat == "exceedance_days") & lim.notna()
    lim_text = lim_text.where(~daily, above.where(allowed_text == "", above + "，" if lang == "zh"
                                                  else above + ", ") + allowed_text)
    lim_text = lim_text.where(~stat.isin(["compliance", "good_day_ratio", "good_days",
                                          "heavy_days", "valid_aqi_days"]), "—")

    meets = c["meets"].astype("boolean")
    verdict = pd.Series(t("sd.not_judged", lang), index=c.index, dtype=object)
    verdict[meets.fillna(False).to_numpy(bool)] = t("sd.meets", lang)
    verdict[(~meets.fillna(True)).to_numpy(bool)] = t("sd.exceeds", lang)
    verdict[(~valid & meets.notna()).to_numpy()] = t("sd.insufficient", lang)
    if not judged_period:     # HJ 663 (and the EU's yearly count) judge years, not months
        verdict[(stat.isin(AT_MOST_LIMIT) | stat.isin(["compliance", "exceedance_days"]))
                .to_numpy()] = t("sd.not_judged", lang)
    verdict[(~defined).to_numpy()] = t("sd.undefined", lang)
    return pd.DataFrame({"value_text": value, "limit_text": lim_text, "verdict": verdict})


def _stat_label(statistic: str, view, pollutant: str = "") -> str:
    if statistic == "exceedance_days" and pollutant == "O3":
        return t("sd.stat.exceedance_days_o3", view.lang)
    if statistic == "annual_mean" and view.stats_period == "year":
        return t("sd.stat.annual_mean_year", view.lang)
    return t(f"sd.stat.{statistic}", view.lang)


def table_frame(comp: pd.DataFrame, view, profiles: list[str]) -> pd.DataFrame:
    """Wide table: one row per statistic; per profile its value and "limit · verdict"."""
    lang = view.lang
    shown = cells(comp, view)
    pollutant = comp["pollutant"].astype(str).tolist()
    statistic = comp["statistic"].astype(str).tolist()
    profile = comp["profile"].astype(str).tolist()
    keys = list(zip(pollutant, statistic, profile))
    value_of = dict(zip(keys, shown["value_text"]))
    limit_of = dict(zip(keys, shown["limit_text"]))
    verdict_of = dict(zip(keys, shown["verdict"]))
    # capture of the first profile present (daily rules are Chinese under every profile)
    capture_of: dict = {}
    for (p, st, pid), n, req in zip(keys, comp["n_valid"], comp["n_required"]):
        if (p, st) not in capture_of or pid == profiles[0]:
            capture_of[(p, st)] = ("—" if pd.isna(n) else str(int(n))) + "/" + \
                ("—" if pd.isna(req) else str(int(req)))
    rows = [key for key in ROWS if key in capture_of]
    out = pd.DataFrame({
        "pollutant": [t(f"sd.pollutant.{p}", lang) if p in ("AQI", "ALL") else p
                      for p, _ in rows],
        "statistic": [_stat_label(st, view, p) for p, st in rows],
        # compliance has no capture of its own
        "capture": ["" if st == "compliance" else capture_of[(p, st)] for p, st in rows],
    })
    for pid in profiles:
        values, limits, verdicts = [], [], []
        for p, st in rows:
            limit = limit_of.get((p, st, pid), "—")
            verdict = verdict_of.get((p, st, pid), "—")
            values.append(value_of.get((p, st, pid), "—"))
            verdicts.append(verdict)
            limits.append(verdict if limit == "—" else
                          limit if verdict == "—" else f"{limit} · {verdict}")
        out[f"{pid}|value"], out[f"{pid}|limit"], out[f"{pid}|verdict"] = \
            values, limits, verdicts
    return out


def invalid_notes(comp: pd.DataFrame, view) -> list[str]:
    """"PM10 年平均浓度、PM2.5 年平均浓度：2015-10：有效 23 天，应有 27 天" — the statistics
    lacking valid days, grouped by reason (the ledger of the validity rules)."""
    lang = view.lang
    bad = comp[~comp["valid"].fillna(False).astype(bool) & comp["detail"].fillna("").ne("")
               & comp["reported"].notna()].drop_duplicates(["pollutant", "statistic"])
    if bad.empty:
        return []
    order = {key: i for i, key in enumerate(ROWS)}
    bad = bad.assign(_o=[order.get((p, s), 99) for p, s in zip(bad["pollutant"],
                                                                 bad["statistic"])])
    bad = bad.sort_values("_o").assign(why=ledger_text(bad["detail"], lang).to_numpy())
    bad["what"] = [f"{p if p not in ('AQI', 'ALL') else t(f'sd.pollutant.{p}', lang)} "
                   f"{_stat_label(s, view, p)}"
                   for p, s in zip(bad["pollutant"], bad["statistic"])]
    sep, comma = ("：", "、") if lang == "zh" else (": ", ", ")
    grouped = bad.groupby("why", sort=False)["what"].agg(comma.join)
    return [f"{what}{sep}{why}" for why, what in grouped.items()]


def grid_columns(view, profiles: list[str]) -> list[dict]:
    lang = view.lang
    wrap = {"wrapText": True, "autoHeight": True,
            "cellStyle": {"lineHeight": "1.4", "paddingTop": "6px", "paddingBottom": "6px"}}
    cols = [
        {"field": "pollutant", "headerName": t("sd.col.pollutant", lang), "pinned": "left",
         "minWidth": 72, "maxWidth": 90, "sortable": False, "filter": False},
        {"field": "statistic", "headerName": t("sd.col.statistic", lang), "pinned": "left",
         "minWidth": 150, "maxWidth": 190, "sortable": False, "filter": False, **wrap},
        {"field": "capture", "headerName": t("sd.col.capture", lang), "minWidth": 84,
         "maxWidth": 100, "type": "numericColumn", "sortable": False, "filter": False,
         "wrapHeaderText": True, "autoHeaderHeight": True},
    ]
    for pid in profiles:
        verdict = f"params.data['{pid}|verdict']"
        cols.append({"headerName": profile_label(pid, lang), "headerClass": "lt-sd-group",
                     "marryChildren": True, "children": [
            {"field": f"{pid}|value", "headerName": t("sd.col.value", lang),
             "type": "numericColumn", "minWidth": 78, "maxWidth": 92, "sortable": False,
             "filter": False},
            {"field": f"{pid}|limit", "headerName": t("sd.col.limit_verdict", lang),
             "minWidth": 118, "flex": 2, "sortable": False, "filter": False, **wrap,
             "cellClassRules": {
                 "lt-sd-ok": f"{verdict} == '{t('sd.meets', lang)}'",
                 "lt-sd-bad": f"{verdict} == '{t('sd.exceeds', lang)}'",
                 "lt-sd-na": f"{verdict} == '{t('sd.insufficient', lang)}' || "
                             f"{verdict} == '{t('sd.undefined', lang)}'"}},
        ]})
    return cols


# -- the page body ------------------------------------------------------------------

def body(view, cat, engine) -> list:
    lang = view.lang
    level, area = area_choice(view, cat)
    profiles = profiles_of(view)
    area_name = (t("sd.city", lang, city=cat.name("city", view.city, lang)) if level == "city"
                 else cat.name("district", area, lang))
    caption = stats_caption(view)
    out = [html.H2(t("sd.heading", lang, area=area_name, period=caption),
                   className="lt-section-title"),
           html.P(t("sd.explain", lang), id=ids.STANDARDS_NOTE, className="lt-sd-explain")]
    out += notes(t("sd.no_areas", lang) if level == "city" and cat.city_districts(view.city).empty
                 else None,
                 t("page.range_stats", lang, start=view.start.isoformat(), end=view.end.isoformat())
                 if view.period == "range" else None)
    comp = comparison(view, cat, engine)
    if comp.empty or comp["reported"].notna().sum() == 0:
        out.append(html.Div(id=ids.STANDARDS_EMPTY, children=empty_state(t("sd.no_stats", lang))))
        return out
    labels = {p: profile_label(p, lang) for p in profiles}
    synthetic = cat.is_synthetic(view.city)
    head = f"{area_name} · {caption}"
    limits_fig = limits_figure(comp, profiles, labels, lang=lang, title=synthetic_title(
        f"{t('sd.chart.limits', lang)} · {head}", synthetic, lang))
    days_fig = days_figure(comp, profiles, labels, lang=lang, title=synthetic_title(
        f"{t('sd.chart.days', lang)} · {head}", synthetic, lang))
    out.append(card(None, graph(limits_fig, id=ids.STANDARDS_CHART,
                                height=int(limits_fig.layout.height or 620))))
    out.append(card(None, graph(days_fig, id=ids.STANDARDS_DAYS_CHART,
                                height=int(days_fig.layout.height or 400))))
    frame = table_frame(comp, view, profiles)
    exports = export_links(t("sd.export", lang), "standards", view, className="lt-rk-export",
                           ids=(ids.STANDARDS_EXPORT_CSV, ids.STANDARDS_EXPORT_XLSX))
    # (wrapped cells: the grid grows with its ~21 rows)
    out.append(card(f"{t('sd.table', lang)} · {head}",
                    grid(frame, grid_columns(view, profiles), id=ids.STANDARDS_TABLE, lang=lang,
                         auto_height=True,
                         dashGridOptions={"suppressColumnVirtualisation": True}),
                    exports))
    invalid = invalid_notes(comp, view)
    if invalid:
        out.append(html.Div(className="lt-note lt-sd-invalid", children=[
            html.Strong(t("sd.invalid", lang)), html.Ul([html.Li(x) for x in invalid])]))
    out += notes(t("sd.note.method", lang),
                 t("sd.note.month", lang) if view.stats_period not in COMPLIANCE_PERIODS else None,
                 t("sd.note.provisional", lang) if view.stats_period == "ytd" else None)
    return out


# -- export -------------------------------------------------------------------------

def export_frame(view, cat, engine) -> pd.DataFrame:
    """The comparison, long: one row per profile and statistic (headers in the view's language)."""
    lang = view.lang
    level, area = area_choice(view, cat)
    comp = comparison(view, cat, engine)
    cols = ["area", "period", "profile", "pollutant", "statistic", "reported", "valid",
            "n_valid", "n_required", "limit", "allowed", "verdict", "detail"]
    if comp.empty:
        return pd.DataFrame(columns=cols)
    shown = cells(comp, view)
    out = comp.assign(verdict=shown["verdict"].to_numpy(),
                      statistic=[_stat_label(s, view, p) for p, s in
                                 zip(comp["pollutant"], comp["statistic"])],
                      profile=[profile_label(p, lang) for p in comp["profile"]],
                      detail=ledger_text(comp["detail"], lang))[cols]
    return out


register_export("standards", export_frame, PAGE_KEYS)
