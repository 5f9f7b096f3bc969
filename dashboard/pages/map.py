"""Page ``/map`` — 地图 / Map: the city's stations where they stand.

Each station of the site file at its coordinates (``lon``/``lat`` of the
catalogue), coloured (``stat=hourly``) by its hourly AQI in the city's newest hour up
to the end of the period (grey without one, with the time of its last:
``dashboard.realtime_queries.city_now``), or by its latest daily AQI in the chosen
period (the AQI of the period's last day, or, where that day has no valid AQI, of the station's
last day with one; HJ 633 level colours) or, with ``stat``, by one period
statistic of the station set against its limit: the period mean of PM2.5,
PM10, NO2, SO2, the CO 95th percentile of daily means, the O3 90th percentile
of the daily maximum 8-h means (HJ 663 §5, the inputs of the composite index)
or the composite index itself (÷ 6, its value when every pollutant sits at
its limit). Background stations (对照点) are drawn as diamonds. Stations
without coordinates are listed under the map, never silently dropped.

No base map: the dashboard must work offline, and Plotly's geographic traces
fetch their base map from the internet (see :mod:`dashboard.figures.map`).
Statistics and their limits come from :func:`dashboard.queries.station_statistic`
(``period_stats`` and :func:`indicators.comparison.against_limits`), the AQI
from :func:`dashboard.queries.station_latest_aqi` (the indicators' daily AQI).
Nothing is computed here but the value ÷ limit ratio that picks a colour.
A crowded city centre is drawn again, enlarged, beside the whole map.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from dash import dcc, get_relative_path, html

from config.standards import load_profile, profile_for_period_end
from indicators.composite import INPUTS

from .. import ids
from ..exports import export_url, register_export
from ..figures import AQI_LEVELS, aqi_color, aqi_level
from ..figures.map import POINT_COLUMNS, station_map
from ..figures.realtime import hourly_points, published_at
from ..i18n import has, t
from ..layout import card, dropdown, empty_state, graph, period_caption, staff_page
from ..queries import station_latest_aqi, station_statistic
from ..realtime_queries import city_now

try:  # the ranking page's translation of the validity ledger, when that page is installed
    from .ranking import ledger_text as _ledger_text
except ImportError:  # pragma: no cover - the ranking page ships with the dashboard
    def _ledger_text(detail: pd.Series, lang: str) -> pd.Series:
        return detail.fillna("").astype(str)

PATH = "/map"
NAME = "地图"
NAME_EN = "Map"
TITLE = "地图 · 蓝天 Lantian"
PAGE_KEYS = ("stat",)
STATS = ("aqi", "hourly", "PM2.5", "PM10", "NO2", "SO2", "O3", "CO", "composite")
DEFAULT_STAT = "aqi"
#: ``stat`` → (pollutant, statistic) of the statistics frame (HJ 663: the composite's inputs).
STAT_ROWS = {**{p: (p, s) for p, s in INPUTS.items()}, "composite": ("ALL", "composite_index")}
#: The composite index of a station whose six single indices are all 1 (each at its limit).
COMPOSITE_AT_LIMITS = 6.0
MAP_HEIGHT = 640



def layout(**query) -> html.Div:
    return staff_page(page="map", title=(t("map.title"), t("map.title", "en")),
                      subtitle=(t("map.subtitle"), t("map.subtitle", "en")), query=query,
                      body=body, path=PATH, page_keys=PAGE_KEYS, extra_controls=controls)


# -- choices --------------------------------------------------------------------------

def choice(view) -> tuple[str, str | None]:
    """(stat, notice): the ``stat`` of the URL if known, else the daily AQI with a notice."""
    stat = view.params.get("stat")
    if stat is None or stat in STATS:
        return stat or DEFAULT_STAT, None
    return DEFAULT_STAT, t("map.bad_stat", view.lang, value=str(stat)[:40])


def controls(view, cat) -> list:
    lang = view.lang
    stat, _ = choice(view)
    return [dropdown("stat", [{"label": t(f"map.stat.{s}", lang), "value": s} for s in STATS],
                     stat, t("map.ctl.stat", lang), width=260)]


# -- the values -----------------------------------------------------------------------

def station_values(engine, view, stations: pd.DataFrame, stat: str) -> pd.DataFrame:
    """The values the stations are coloured by (one row per station that has one).

    ``aqi``: :func:`dashboard.queries.station_latest_aqi` (code, date, aqi, category_zh,
    category_en, primary). Otherwise :func:`dashboard.queries.station_statistic` (code,
    reported, valid, provisional, detail, limit) of the statistic :data:`STAT_ROWS`
    names; the composite index's "limit" is :data:`COMPOSITE_AT_LIMITS`.
    """
    if stat == "aqi":
        return station_latest_aqi(engine, view)
    pollutant, statistic = STAT_ROWS[stat]
    grades = dict(zip(stations["code"].astype(str), stations["grade"].fillna("II").astype(str)))
    values = station_statistic(engine, view, pollutant, statistic, grades)
    if stat == "composite":
        values = values.assign(limit=COMPOSITE_AT_LIMITS)
    return values


def _fmt(value, decimals: int | None = None) -> str:
    if value is None or pd.isna(value):
        return "—"
    if decimals is not None:
        return f"{value:.{decimals}f}"
    return f"{value:g}"


def _decimals(view, stat: str) -> int:
    """Published decimals of the statistic (standards.md §4), from the Chinese profile."""
    prof = load_profile(view.profile) if view.profile else None
    if prof is None or prof.kind != "cn":
        prof = profile_for_period_end(view.stats_end)
    if stat == "composite":
        return prof.index_decimals
    return prof.decimals(stat)


def points_frame(view, cat, engine, stat: str) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(points for the figure and the table, stations without coordinates, facts for notes).

    ``points`` has :data:`dashboard.figures.map.POINT_COLUMNS` plus role_name, day,
    category, primary, limit, note and stale. A city has a few dozen stations: the
    rows are built as plain lists (cheaper than pandas on frames this small).
    """
    lang = view.lang
    if stat == "hourly":
        return hourly_points_frame(view, cat, engine)
    stations = cat.city_stations(view.city)
    located = (stations["lon"].notna() & stations["lat"].notna()).to_numpy()
    missing = stations[~located].reset_index(drop=True)
    st = stations[located].reset_index(drop=True)
    station_names = cat.names("station", lang)
    district_names = cat.names("district", lang)
    role_word = {r: t(f"role.{r}", lang) for r in ("evaluation", "background", "excluded")}
    codes = st["code"].astype(str).tolist()
    districts = ["" if pd.isna(d) else str(d) for d in st["district"].tolist()]
    roles = ["evaluation" if pd.isna(r) else str(r) for r in st["role"].tolist()]
    base = {
        "code": codes, "name": [str(station_names.get(c) or c) for c in codes],
        "district": districts, "district_name": [district_names.get(d, d) for d in districts],
        "role": roles, "role_name": [role_word.get(r, r) for r in roles],
        "lon": st["lon"].astype("float64").tolist(), "lat": st["lat"].astype("float64").tolist()}
    heads = [f"<b>{n}</b> ({c})<br>{t('map.hover.district', lang)}: {dn or '—'} · {rn}"
             for n, c, dn, rn in zip(base["name"], codes, base["district_name"],
                                     base["role_name"])]
    values = station_values(engine, view, st, stat)
    rec = {c: r for c, r in zip(values["code"].tolist(), values.to_dict("records"))}
    rows = []
    facts = {"stale": 0, "any": False}
    if stat == "aqi":
        end = view.end.isoformat()
        cat_col = "category_zh" if lang == "zh" else "category_en"
        for head, code in zip(heads, codes):
            r = rec.get(code)
            if r is None or pd.isna(r["aqi"]):
                rows.append({"value": np.nan, "text": "—", "usable": False, "day": "",
                             "stale": False, "category": t("map.hover.no_value", lang),
                             "primary": "", "note": "",
                             "hover": f"{head}<br>{t('map.hover.no_value', lang)}"})
                continue
            day = r["date"].isoformat()
            stale = day != end
            text = f"{r['aqi']:.0f}"
            primary = r["primary"] or ""
            hover = (f"{head}<br>AQI <b>{text}</b> · {r[cat_col]}"
                     + (f"<br>{t('map.hover.primary', lang)}: {primary}" if primary else "")
                     + f"<br>{t('map.hover.day', lang)}: {day}"
                     + (f" ({t('map.hover.latest', lang)})" if stale else ""))
            rows.append({"value": float(r["aqi"]), "text": text, "usable": True, "day": day,
                         "stale": stale, "category": r[cat_col], "primary": primary,
                         "note": t("map.hover.latest", lang) if stale else "", "hover": hover})
            facts["stale"] += stale
            facts["any"] = True
        extra = {"ratio": np.nan, "limit": np.nan}
    else:
        decimals = _decimals(view, stat)
        unit = "" if stat == "composite" else (" mg/m³" if stat == "CO" else " µg/m³")
        ratio_key = "map.hover.composite_ratio" if stat == "composite" else "map.hover.ratio"
        label = t(f"map.stat.{stat}", lang)
        details = dict(zip(values["code"].tolist(),
                           _ledger_text(values["detail"], lang).tolist())) if len(values) else {}
        for head, code in zip(heads, codes):
            r = rec.get(code)
            value = np.nan if r is None else r["reported"]
            limit = np.nan if r is None else r["limit"]
            has_value, has_limit = pd.notna(value), pd.notna(limit) and limit > 0
            valid = bool(r and r["valid"])
            provisional = bool(r and r["provisional"])
            ratio = value / limit if has_value and has_limit else np.nan
            if not has_value:
                why = t("map.hover.no_value", lang)
            elif not has_limit:
                why = t("map.hover.no_limit", lang)
            elif valid:
                why = ""
            elif provisional:
                why = t("map.hover.provisional", lang)
            else:
                why = t("map.hover.not_valid", lang)
            detail = details.get(code, "") or ""
            text = _fmt(value, decimals)
            hover = (f"{head}<br>{label} <b>{text}{unit if has_value else ''}</b>"
                     + ("" if stat == "composite" or not has_limit else
                        f"<br>{t('map.hover.limit', lang)}: {limit:g}{unit}")
                     + ("" if pd.isna(ratio) else " · " + t(ratio_key, lang, ratio=f"{ratio:.2f}"))
                     + (f"<br><i>{why}</i>" if why else "")
                     + (f"<br>{detail[:140]}" if detail else ""))
            rows.append({"value": value, "text": text,
                         "usable": bool(has_value and has_limit and (valid or provisional)),
                         "ratio": ratio, "limit": limit if stat != "composite" else np.nan,
                         "hover": hover, "note": why + (("：" if lang == "zh" else ": ") if why and detail else "")
                         + detail})
            facts["any"] = facts["any"] or bool(has_value)
        extra = {"day": "", "stale": False, "category": "", "primary": ""}
    points = pd.DataFrame({**base, **{k: [r[k] for r in rows] for k in rows[0]}}) if rows \
        else pd.DataFrame({**base})
    for k, v in extra.items():
        points[k] = v
    if points.empty:
        points = pd.DataFrame(columns=list(POINT_COLUMNS) + ["role_name", "day", "category",
                                                             "primary", "limit", "note", "stale"])
    points["value"] = points["value"].astype("float64")
    points["ratio"] = points["ratio"].astype("float64")
    return points, missing, facts


def hourly_points_frame(view, cat, engine) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """:func:`points_frame` of the ``hourly`` mode: each station coloured by its hourly AQI
    in the city's newest hour up to the end of the period's last day
    (:func:`dashboard.realtime_queries.city_now`); a station without one there is grey
    with the time of its last hourly AQI. Facts: ``hour`` (start of the hour shown),
    ``stale`` (grey stations), ``any`` (a station has an AQI that hour)."""
    lang = view.lang
    stations = cat.city_stations(view.city)
    located = (stations["lon"].notna() & stations["lat"].notna()).to_numpy()
    missing = stations[~located].reset_index(drop=True)
    now = city_now(engine, view.city, until=pd.Timestamp(view.end) + pd.Timedelta(hours=23))
    texts = {"district": t("map.hover.district", lang), "primary": t("map.hover.primary", lang),
             "last": t("map.hourly.last", lang), "none": t("map.hourly.none", lang),
             "no_aqi_now": t("map.hourly.no_aqi_now", lang),
             "published": t("map.hover.published", lang)}
    mine = now.stations[now.stations["code"].isin(set(stations["code"].astype(str)))]
    points = hourly_points(mine, lang=lang, names=cat.names("station", lang),
                           district_names=cat.names("district", lang),
                           role_names={r: t(f"role.{r}", lang) for r in
                                       ("evaluation", "background", "excluded")},
                           texts=texts)
    points["day"] = ""
    points["limit"] = np.nan
    points["stale"] = ~points["usable"].astype(bool)
    facts = {"hour": now.hour, "stale": int((~points["usable"].astype(bool)).sum()),
             "any": bool(points["usable"].any())}
    return points, missing, facts


# -- the page -------------------------------------------------------------------------

def body(view, cat, engine) -> list:
    lang = view.lang
    stat, notice = choice(view)
    out: list = []
    if notice:
        out.append(html.Div(id=ids.MAP_NOTICES, className="lt-notices", children=[html.P(notice)]))
    if cat.city_stations(view.city).empty:
        return out + [html.Div(id=ids.MAP_EMPTY, children=empty_state(t("map.no_stations", lang)))]
    points, missing, facts = points_frame(view, cat, engine, stat)
    if points.empty:
        out.append(html.Div(id=ids.MAP_EMPTY, children=empty_state(t("map.no_coords", lang))))
        out.append(missing_note(missing, cat, lang))
        return out
    fig = station_map(points, mode="aqi" if stat in ("aqi", "hourly") else "ratio", lang=lang,
                      title=chart_title(view, cat, stat, facts),
                      colorbar_title=colorbar_title(view, stat),
                      legend_labels={**{k: t(f"map.legend.{k}", lang)
                                        for k in ("evaluation", "background", "excluded",
                                                  "no_data", "inset")},
                                     **({} if stat in ("aqi", "hourly") else
                                        {"no_data": t("map.legend.insufficient", lang)})},
                      height=MAP_HEIGHT)
    out.append(card(None, graph(fig, id=ids.MAP_GRAPH, height=MAP_HEIGHT)))
    notes = [html.P(t("map.outline_note", lang))]
    if stat == "aqi" and not facts.get("any"):
        notes.insert(0, html.P(t("map.no_aqi", lang), className="lt-map-warn"))
    if stat == "aqi" and facts.get("stale"):
        notes.insert(0, html.P(t("map.stale_note", lang, n=facts["stale"],
                                 day=view.end.isoformat())))
    if stat == "hourly":
        notes.insert(0, html.P(t("map.hourly_rule", lang)))
        if facts.get("stale") and facts.get("any"):
            notes.insert(0, html.P(t("map.hourly_grey", lang, n=facts["stale"])))
        if not facts.get("any"):
            notes.insert(0, html.P(t("map.no_hourly", lang), className="lt-map-warn"))
    if stat not in ("aqi", "hourly") and (view.stats_period == "ytd"
                                          or view.end < _period_end(view)):
        notes.append(html.P(t("map.provisional", lang)))
    if stat not in ("aqi", "hourly", "composite") and view.stats_period == "month":
        notes.append(html.P(t("map.month_note", lang)))
    out.append(html.Div(id=ids.MAP_NOTE, className="lt-note lt-map-note", children=notes))
    if not missing.empty:
        out.append(missing_note(missing, cat, lang))
    out.append(card(f"{t('map.table', lang)} · {period_caption(view)}",
                    station_table(points, view, stat),
                    html.P(className="lt-map-export", children=[
                        t("map.export", lang), " ",
                        html.A("CSV", href=export_url("map", "csv", view)), " · ",
                        html.A("Excel", href=export_url("map", "xlsx", view))]),
                    id=ids.MAP_TABLE_CARD))
    return out


def _period_end(view):
    from ..state import month_bounds
    if view.stats_period == "month":
        return month_bounds(view.year, view.month)[1]
    return view.end.replace(month=12, day=31)


def chart_title(view, cat, stat: str, facts: dict | None = None) -> str:
    lang = view.lang
    if stat == "aqi":
        title = t("map.chart.aqi", lang, day=view.end.isoformat())
    elif stat == "hourly":
        hour = (facts or {}).get("hour")
        title = t("map.chart.hourly", lang,
                  label=published_at(hour, lang) if hour is not None else view.end.isoformat())
    else:
        title = t("map.chart.stat", lang, stat=t(f"map.stat.{stat}", lang),
                  period=period_caption(view))
        if lang == "en":
            title = title[0].upper() + title[1:]
    if cat.is_synthetic(view.city):
        title = f"{t('map.synthetic', lang)} — {title}"
    return title


def colorbar_title(view, stat: str) -> str:
    lang = view.lang
    if stat == "composite":
        return t("map.colorbar_composite", lang)
    if view.profile:
        prof = load_profile(view.profile)
        return t("map.colorbar_profile", lang, profile=prof.name_zh if lang == "zh"
                 else prof.name_en)
    return t("map.colorbar", lang)


def missing_note(missing: pd.DataFrame, cat, lang: str) -> html.Div:
    names = cat.names("station", lang)
    items = [html.Li([html.Span(code, className="lt-code"), " ", names.get(code, code)])
             for code in missing["code"].astype(str)]
    return html.Div(id=ids.MAP_MISSING, className="lt-banner lt-banner-warn", children=[
        html.P(t("map.missing_coords", lang, n=len(items))), html.Ul(items)])


def station_table(points: pd.DataFrame, view, stat: str) -> html.Div:
    """Stations sorted worst first, the name linking to the station page (a few dozen rows)."""
    lang = view.lang
    order = points.sort_values(["usable", "value"], ascending=[False, False],
                               na_position="last", kind="stable")
    shared = view.shared_search()
    if stat == "hourly":
        heads = ["station", "code", "district", "role", "hour", "aqi", "category", "primary",
                 "published", "note"]
    elif stat == "aqi":
        heads = ["station", "code", "district", "role", "day", "aqi", "category", "primary",
                 "note"]
    else:
        heads = ["station", "code", "district", "role", "value", "limit", "ratio", "note"]
    numeric = {"aqi", "value", "limit", "ratio", "published"}
    rows = [html.Tr([html.Th(t(f"map.col.{h}", lang) + (
        f" ({t(f'map.stat.{stat}', lang)})" if h == "value" else ""),
        className="lt-num" if h in numeric else None) for h in heads])]
    decimals = None if stat in ("aqi", "hourly") else _decimals(view, stat)
    for r in order.itertuples(index=False):
        href = get_relative_path("/station") + shared + f"&station={r.code}"
        cells = {
            "station": html.Td(dcc.Link(r.name, href=href, className="lt-more")),
            "code": html.Td(r.code, className="lt-code"),
            "district": html.Td(r.district_name or "—"),
            "role": html.Td(r.role_name, className=f"lt-role-{r.role}"),
            "day": html.Td(getattr(r, "day", "") or "—"),
            "hour": html.Td(getattr(r, "hour", "") or "—"),
            "published": html.Td(getattr(r, "published", "") or "—", className="lt-num"),
            "aqi": html.Td(_fmt(r.value, 0), className="lt-num"),
            "category": html.Td(html.Span(r.category, className="lt-map-level", style={
                "background": _swatch(r.value) if r.usable else "transparent",
                "color": _ink(r.value) if r.usable else "inherit"})),
            "primary": html.Td(r.primary or "—"),
            "value": html.Td(_fmt(r.value, decimals), className="lt-num"),
            "limit": html.Td(_fmt(r.limit), className="lt-num"),
            "ratio": html.Td(_fmt(r.ratio, 2), className="lt-num"),
            "note": html.Td(r.note or "", className="lt-message"),
        }
        rows.append(html.Tr([cells[h] for h in heads],
                            className=None if r.usable else "lt-map-row-na"))
    return html.Div(id=ids.MAP_TABLE, className="lt-table-wrap",
                    children=html.Table(className="lt-table", children=html.Tbody(rows)))


def _swatch(aqi) -> str:
    return aqi_color(aqi)


def _ink(aqi) -> str:
    """Text colour readable on the level colour (white on the dark red levels)."""
    level = aqi_level(aqi)
    return "inherit" if level is None else AQI_LEVELS[level][2]


# -- export ---------------------------------------------------------------------------

def _export(view, cat, engine) -> pd.DataFrame:
    stat, _ = choice(view)
    points, missing, _facts = points_frame(view, cat, engine, stat)
    cols = {"code": "code", "name": "name", "district": "district", "role": "role",
            "lon": "lon", "lat": "lat"}
    if stat == "aqi":
        cols.update(day="date", value="aqi", category="category", primary="primary")
    elif stat == "hourly":
        cols.update(hour="hour", value="aqi", category="category", primary="primary",
                    published="published_aqi")
    else:
        cols.update(value=stat, limit="limit", ratio="ratio")
    cols["note"] = "note"
    frame = points[list(cols)].rename(columns=cols)
    if not missing.empty:
        extra = pd.DataFrame({"code": missing["code"].astype(str),
                              "name": missing["code"].map(cat.names("station", view.lang)),
                              "district": missing["district"], "role": missing["role"]})
        frame = pd.concat([frame, extra], ignore_index=True)
    from flask import has_request_context, request
    if not (has_request_context() and request.args.get("codes") == "1"):
        # names in the reader's language; ``&codes=1`` keeps the site file's ids
        districts = cat.names("district", view.lang)
        frame["district"] = frame["district"].map(lambda d: districts.get(d, d))
        frame["role"] = frame["role"].map(
            lambda r: t(f"role.{r}", view.lang) if isinstance(r, str) and has(f"role.{r}") else r)
    return frame


register_export("map", _export, PAGE_KEYS)

__all__ = ["PATH", "NAME", "NAME_EN", "TITLE", "layout", "body", "points_frame",
           "station_values"]
