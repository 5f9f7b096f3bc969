"""Figures and labels of the real-time (hourly AQI) views.

Pure functions: tidy frames of :mod:`dashboard.realtime_queries` in, a plotly Figure (or
text, or the point frame of :func:`dashboard.figures.map.station_map`) out.

Hours are stored by their start (CST); people read an hour by its **end**, as the
national platform publishes it: the hour stored as ``2022-01-05 23:00`` is "published
2022-01-06 00:00" and covers 23:00–24:00 of the 5th. Every real-time view labels an
hour that way (:func:`hour_span`, :func:`published_at`); on a time axis each hour is a
cell or bar from its start to its end, so both conventions read off the axis.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from config.standards import GOOD_AQI_MAX, HEAVY_AQI_ABOVE

from . import AQI_LEVELS, NO_DATA_COLOR, aqi_colorscale, aqi_level, empty_figure, fast_figure
from ..i18n import t

HOUR_MS = 3_600_000


def _w(key: str, lang: str) -> str:
    return t(f"rtfig.{key}", lang)


# -- labels ---------------------------------------------------------------------------

def hour_end(start) -> pd.Timestamp:
    """The end of the hour that starts at ``start``."""
    return pd.Timestamp(start) + pd.Timedelta(hours=1)


def hour_span(start, with_date: bool = True) -> str:
    """"2022-01-05 23:00–24:00": the hour starting at ``start`` (the date of its start)."""
    start = pd.Timestamp(start)
    end = hour_end(start)
    tail = "24:00" if end.hour == 0 else f"{end:%H:%M}"
    head = f"{start:%Y-%m-%d %H:%M}" if with_date else f"{start:%H:%M}"
    return f"{head}–{tail}"


def published_at(start, lang: str) -> str:
    """"2022-01-06 00:00 发布（2022-01-05 23:00–24:00）" / "published 2022-01-06 00:00
    (2022-01-05 23:00–24:00)": an hour as the public reads it (by its end)."""
    return _w("published", lang).format(end=f"{hour_end(start):%Y-%m-%d %H:%M}",
                                        span=hour_span(start))


def primary_text(primary: str) -> str:
    """"PM10, PM2.5" from the stored "PM10,PM2.5" (empty: "")."""
    return ", ".join(p for p in str(primary or "").split(",") if p)


# -- the public page's strip: areas × the last 24 hours ----------------------------------

def aqi_hour_strip(rows: pd.DataFrame, order: list, names: dict, *, lang: str, title: str,
                   first, last, empty_message: str) -> go.Figure:
    """Areas (rows, in ``order``) × hours ``first`` … ``last`` (starts), each cell coloured
    by the hour's AQI level (HJ 633 colours on the fixed 0–500 scale), blank without one.

    ``rows``: ``area``, ``time`` (start), ``aqi``, ``category_zh``/``category_en``,
    ``primary``. A cell spans its hour on the time axis (start to end); its hover names
    the hour by its end.
    """
    if rows.empty:
        return empty_figure(empty_message)
    first, last = pd.Timestamp(first), pd.Timestamp(last)
    hours = pd.date_range(first, last, freq="h")
    areas = [a for a in order if a in set(rows["area"])]
    grid = np.full((len(areas), len(hours)), np.nan)
    text = np.full((len(areas), len(hours)), "", dtype=object)
    pos = {a: i for i, a in enumerate(areas)}
    col = {h: j for j, h in enumerate(hours)}
    cat = "category_zh" if lang == "zh" else "category_en"
    for r in rows.itertuples(index=False):
        i, j = pos.get(r.area), col.get(pd.Timestamp(r.time))
        if i is None or j is None:
            continue
        span = hour_span(r.time)
        if pd.isna(r.aqi):
            text[i, j] = f"{span}<br>{_w('no_aqi', lang)}"
            continue
        grid[i, j] = float(r.aqi)
        primary = primary_text(r.primary)
        text[i, j] = (f"{span}<br>AQI <b>{int(r.aqi)}</b> · {getattr(r, cat)}"
                      + (f"<br>{_w('primary', lang)}: {primary}" if primary else ""))
    for i in range(len(areas)):
        for j in range(len(hours)):
            if not text[i, j]:
                text[i, j] = f"{hour_span(hours[j])}<br>{_w('no_aqi', lang)}"
    mids = [(h + pd.Timedelta(minutes=30)).isoformat() for h in hours]
    trace = {"type": "heatmap", "z": grid.tolist(), "x": mids,
             "y": [names.get(a, a) for a in areas], "customdata": text.tolist(),
             "colorscale": aqi_colorscale(), "zmin": 0, "zmax": 500, "showscale": False,
             "xgap": 1, "ygap": 1, "hovertemplate": "%{y}<br>%{customdata}<extra></extra>"}
    ticks = [h for h in pd.date_range(first, last + pd.Timedelta(hours=1), freq="h")
             if h.hour % 6 == 0]             # every 6 h: readable on a phone too
    return fast_figure([trace], {
        "margin": {"l": 90, "r": 12, "t": 50, "b": 40},
        "xaxis": {"type": "date", "range": [first.isoformat(),
                                            (last + pd.Timedelta(hours=1)).isoformat()],
                  "tickvals": [h.isoformat() for h in ticks],
                  "ticktext": [f"{h:%H:%M}" if h.hour else f"{h:%m-%d}<br>00:00" for h in ticks],
                  "tickangle": 0, "showline": False, "showgrid": False},
        "yaxis": {"autorange": "reversed", "gridcolor": "rgba(0,0,0,0)", "type": "category"},
    }, title=title)


# -- the station page: hourly AQI beside the published one ------------------------------

def station_aqi_chart(frame: pd.DataFrame, *, start, end, lang: str, title: str,
                      empty_message: str) -> go.Figure:
    """Lantian's hourly AQI as bars coloured by level, the published AQI as markers beside
    it, and a red ✕ over every hour where they differ (AQI or primary pollutant), over the
    days ``start`` … ``end``.

    ``frame``: :func:`dashboard.realtime_queries.station_hourly_aqi` (``time``, ``aqi``,
    ``category_zh``/``category_en``, ``primary``, ``missing``, ``published_aqi``,
    ``published_primary``, ``compared``, ``agrees``).
    """
    t0 = pd.Timestamp(pd.Timestamp(start).date())
    t1 = pd.Timestamp(pd.Timestamp(end).date()) + pd.Timedelta(days=1)
    if frame.empty:
        return empty_figure(empty_message)
    f = frame[(frame["time"] >= t0) & (frame["time"] < t1)]
    if f.empty:
        return empty_figure(empty_message)
    # the axis starts near the first hour with a value (not days before the data began)
    t0 = max(t0, pd.Timestamp(f["time"].min()).floor("6h"))
    cat = "category_zh" if lang == "zh" else "category_en"
    mid = (pd.to_datetime(f["time"]) + pd.Timedelta(minutes=30)).dt.strftime(
        "%Y-%m-%dT%H:%M:%S").tolist()
    ours = f["aqi"].to_numpy(np.float64, na_value=np.nan)
    theirs = f["published_aqi"].to_numpy(np.float64, na_value=np.nan)
    spans = [hour_span(x) for x in f["time"]]
    hover, colours = [], []
    for k, r in enumerate(f.itertuples(index=False)):
        parts = [spans[k]]
        if np.isnan(ours[k]):
            parts.append(f"{_w('ours', lang)}: {_w('no_aqi', lang)}"
                         + (f" ({_w('missing', lang)} {r.missing.replace(',', ', ')})"
                            if r.missing else ""))
            colours.append(NO_DATA_COLOR)
        else:
            primary = primary_text(r.primary)
            parts.append(f"{_w('ours', lang)}: <b>{int(ours[k])}</b> · {getattr(r, cat)}"
                         + (f" · {primary}" if primary else ""))
            level = aqi_level(ours[k])
            colours.append(AQI_LEVELS[level][1])
        if np.isnan(theirs[k]):
            parts.append(f"{_w('published_aqi', lang)}: {_w('not_published', lang)}")
        else:
            pp = primary_text(r.published_primary)
            parts.append(f"{_w('published_aqi', lang)}: <b>{int(theirs[k])}</b>"
                         + (f" · {pp}" if pp else ""))
            if not r.agrees:
                parts.append(f"<b style='color:#c62828'>✕ {_w('disagree', lang)}</b>")
        hover.append("<br>".join(parts))
    has = ~np.isnan(ours)
    traces = [{
        "type": "bar", "x": mid, "y": np.where(has, ours, 0).tolist(), "width": HOUR_MS * 0.86,
        "marker": {"color": colours, "line": {"color": "rgba(31,41,51,.35)", "width": 0.5}},
        "name": _w("ours", lang), "customdata": hover,
        "hovertemplate": "%{customdata}<extra></extra>", "showlegend": True}]
    if (~has).any():
        # hours without an AQI: a grey mark on the axis (no bar: there is no value)
        traces.append({
            "type": "scatter", "mode": "markers", "x": [m for m, h in zip(mid, has) if not h],
            "y": [0] * int((~has).sum()), "name": _w("no_aqi", lang), "cliponaxis": False,
            "marker": {"symbol": "square", "size": 8, "color": NO_DATA_COLOR,
                       "line": {"color": "#7b8794", "width": 1}},
            "customdata": [h for h, k in zip(hover, has) if not k],
            "hovertemplate": "%{customdata}<extra></extra>"})
    pub = ~np.isnan(theirs)
    if pub.any():
        traces.append({
            "type": "scatter", "mode": "markers", "x": [m for m, p in zip(mid, pub) if p],
            "y": theirs[pub].tolist(), "name": _w("published_aqi", lang),
            "marker": {"symbol": "line-ew-open", "size": 14, "color": "#1f2933",
                       "line": {"width": 2.5, "color": "#1f2933"}},
            "customdata": [h for h, p in zip(hover, pub) if p],
            "hovertemplate": "%{customdata}<extra></extra>"})
    differ = pub & ~f["agrees"].to_numpy(bool)
    if differ.any():
        top = np.fmax(np.where(has, ours, 0), np.where(pub, theirs, 0))
        traces.append({
            "type": "scatter", "mode": "markers", "x": [m for m, d in zip(mid, differ) if d],
            "y": (top[differ] + 12).tolist(), "name": _w("disagree", lang),
            "marker": {"symbol": "x", "size": 11, "color": "#c62828"},
            "customdata": [h for h, d in zip(hover, differ) if d],
            "hovertemplate": "%{customdata}<extra></extra>"})
    ymax = float(np.nanmax(np.r_[ours[has], theirs[pub], [GOOD_AQI_MAX]])) \
        if (has.any() or pub.any()) else float(GOOD_AQI_MAX)
    shapes = []
    for value, dash in ((GOOD_AQI_MAX, "dot"), (HEAVY_AQI_ABOVE, "dash")):
        if ymax >= value * 0.8:
            shapes.append({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y",
                           "y0": value, "y1": value, "layer": "below",
                           "line": {"color": "#9aa5b1", "width": 1, "dash": dash}})
    return fast_figure(traces, {
        "shapes": shapes, "bargap": 0, "hovermode": "closest",
        "legend": {"orientation": "h", "yanchor": "top", "y": -0.2, "x": 0,
                   "xanchor": "left"},
        "margin": {"l": 55, "r": 15, "t": 50, "b": 70},
        "xaxis": {"type": "date", "range": [t0.isoformat(), t1.isoformat()],
                  "tickformat": "%H:%M\n%m-%d" if (t1 - t0).days <= 3 else "%m-%d",
                  "showgrid": False},
        "yaxis": {"title": {"text": "AQI"}, "rangemode": "tozero",
                  "range": [0, max(ymax * 1.15 + 15, 60)]},
    }, title=title)


# -- station maps coloured by the latest hourly AQI ---------------------------------------

def hourly_points(stations: pd.DataFrame, *, lang: str, names: dict,
                  district_names: dict, role_names: dict, texts: dict,
                  public: bool = False) -> pd.DataFrame:
    """The point frame of :func:`dashboard.figures.map.station_map` (mode ``aqi``) for the
    stations of :class:`dashboard.realtime_queries.CityNow`: coloured by their hourly AQI
    of its hour (``current``); a station without one there is grey (``usable`` False),
    with the time of its last hourly AQI in its hover and ``note``.

    ``texts``: ``district``, ``primary``, ``last`` (format with ``{when}``), ``none``
    (no hourly AQI in the lookback), ``no_aqi_now`` (values but no AQI this hour, format
    with ``{missing}``), ``published`` (staff only). ``public``: leave the station codes
    and the published AQI out (``code`` then holds the name).
    Extra columns: ``hour`` (the end of the hour shown, ``YYYY-MM-DD HH:MM``), ``category``,
    ``primary``,
    ``note``, ``role_name``, ``current``, ``published``.
    """
    cat = "category_zh" if lang == "zh" else "category_en"
    st = stations[stations["lon"].notna() & stations["lat"].notna()].reset_index(drop=True)
    rows = []
    for r in st.itertuples(index=False):
        name = names.get(r.code) or r.code
        district = "" if r.district is None or pd.isna(r.district) else str(r.district)
        dname = district_names.get(district, district)
        role = r.role if r.role in ("evaluation", "background", "excluded") else "evaluation"
        head = f"<b>{name}</b>" + ("" if public else f" ({r.code})")
        head += f"<br>{texts['district']}: {dname or '—'} · {role_names.get(role, role)}"
        primary = primary_text(r.primary)
        published = "" if pd.isna(r.published_aqi) else str(int(r.published_aqi))
        if r.current:
            label = published_at(r.time, lang)
            hover = (f"{head}<br>AQI <b>{int(r.aqi)}</b> · {getattr(r, cat)}"
                     + (f"<br>{texts['primary']}: {primary}" if primary else "")
                     + f"<br>{label}"
                     + ("" if public or not published else
                        f"<br>{texts['published']}: {published}"))
            rows.append({"value": float(r.aqi), "text": str(int(r.aqi)), "usable": True,
                         "hour": f"{hour_end(r.time):%Y-%m-%d %H:%M}",
                         "category": getattr(r, cat), "primary": primary,
                         "note": "", "hover": hover, "published": published})
            continue
        if pd.isna(r.time):
            note = texts["none"]
        else:
            note = texts["last"].format(when=published_at(r.time, lang))
            note += f" · AQI {int(r.aqi)} {getattr(r, cat)}"
        if r.values_now and r.missing_now:
            note = texts["no_aqi_now"].format(missing=r.missing_now) + "; " + note
        rows.append({"value": np.nan, "text": "", "usable": False,
                     "hour": "" if pd.isna(r.time) else f"{hour_end(r.time):%Y-%m-%d %H:%M}",
                     "category": "—", "primary": "", "note": note,
                     "hover": f"{head}<br><i>{note}</i>", "published": ""})
    base = pd.DataFrame({
        "code": [(names.get(c) or c) if public else c for c in st["code"]],
        "name": [names.get(c) or c for c in st["code"]],
        "district": ["" if d is None or pd.isna(d) else str(d) for d in st["district"]],
        "district_name": [district_names.get("" if d is None or pd.isna(d) else str(d), "")
                          for d in st["district"]],
        "role": [r if r in ("evaluation", "background", "excluded") else "evaluation"
                 for r in st["role"]],
        "lon": st["lon"].astype("float64"), "lat": st["lat"].astype("float64")})
    base["role_name"] = [role_names.get(r, r) for r in base["role"]]
    extra = pd.DataFrame(rows, columns=["value", "text", "usable", "hour", "category",
                                        "primary", "note", "hover", "published"])
    out = pd.concat([base, extra], axis=1)
    out["ratio"] = np.nan
    out["current"] = out["usable"].astype(bool)
    out["value"] = out["value"].astype("float64")
    return out


__all__ = ["aqi_hour_strip", "hour_end", "hour_span", "hourly_points", "primary_text",
           "published_at", "station_aqi_chart"]
