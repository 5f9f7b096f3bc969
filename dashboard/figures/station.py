"""Station page figures: hourly series with QC flags, time-variation profiles, capture.

Pure functions: tidy frames in (``queries.station_readings`` and
``indicators.variation``), a plotly Figure out.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from config.vocabulary import POLLUTANTS

from . import LIMIT_COLOR, POLLUTANT_COLORS, empty_figure, fast_figure
from .district import DATE_AXIS, reference_line
from ..i18n import has, t

#: Marker of each QC flag drawn over the series (ok and missing are not markers).
FLAG_STYLE = {
    "negative": ("triangle-down", "#6b4fbb"),
    "non_numeric": ("x", "#52606d"),
    "ceiling": ("square", "#c62828"),
    "spike": ("diamond", "#e67e00"),
    "stuck": ("circle-open", "#0072B2"),
    "implausible": ("x-open", "#8b0000"),
    "unknown": ("star", "#1f2933"),
}
WEEKDAYS = {"zh": ["一", "二", "三", "四", "五", "六", "日"],
            "en": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]}


def _w(key: str, lang: str) -> str:
    return t(f"stnfig.{key}", lang)


def flag_label(flag: str, lang: str) -> str:
    """"突变" / "spike": the flag in the reader's language only (the stored name is in
    the downloads)."""
    key = f"qc.flag.{flag}"
    return t(key, lang) if has(key) else flag


def hourly_series(readings: pd.DataFrame, *, pollutant: str, start, end, unit: str,
                  decimals: int = 1, lang: str = "zh", title: str = "",
                  excluded=("negative", "non_numeric"), limit: float | None = None,
                  limit_name: str = "") -> go.Figure:
    """The hourly values of one pollutant over ``start`` … ``end`` with QC flags marked.

    Parameters
    ----------
    readings : DataFrame
        ``queries.station_readings``: ``time`` and per pollutant its value and
        ``<pollutant>_flag`` (flag names).
    start, end : date-like
        First and last day shown: the line runs on the full hourly grid, so an
        hour without a stored value (or with a missing / excluded one) is a gap.
    excluded : tuple of str
        Flags whose values do not count (config/qc.yaml
        ``exclude_from_statistics``): drawn only as markers, never in the line.

    Every flagged value (flag other than ok and missing) is a marker of its
    own trace, one trace per flag named with the flag, at its value (at 0 when
    it has none, e.g. non_numeric), with the flag name on hover. The line is
    a ``Scattergl`` on a regular grid (``x0``/``dx``): a year is 8,760 numbers,
    sent as float32 (35 KB base64) — display precision, not a computation.
    """
    t0 = pd.Timestamp(pd.Timestamp(start).date())
    n_hours = ((pd.Timestamp(pd.Timestamp(end).date()) - t0).days + 1) * 24
    if readings.empty or pollutant not in readings.columns or n_hours <= 0:
        return empty_figure(_w("empty", lang))
    times = pd.to_datetime(readings["time"]).to_numpy().astype("datetime64[h]")
    pos = (times - np.datetime64(t0, "h")).astype(np.int64)
    inside = (pos >= 0) & (pos < n_hours)
    value = readings[pollutant].to_numpy(dtype="float64")
    flag = readings[f"{pollutant}_flag"].astype(str).to_numpy()
    counted = inside & ~np.isin(flag, list(excluded)) & ~np.isnan(value)
    grid = np.full(n_hours, np.nan)
    grid[pos[counted]] = value[counted]
    color = POLLUTANT_COLORS.get(pollutant, "#1f2933")
    traces = [go.Scattergl(
        # float32: half the payload of float64; the hover shows the published decimals
        x0=t0.isoformat(), dx=3_600_000, y=np.round(grid, decimals + 1).astype(np.float32),
        mode="lines",
        name=_w("hourly", lang), connectgaps=False, line={"color": color, "width": 1},
        hovertemplate=f"%{{x|%Y-%m-%d %H:00}}<br>{pollutant} %{{y:.{decimals}f}} {unit}"
                      "<extra></extra>")]
    marked = inside & ~np.isin(flag, ["ok", "missing"])
    for name in pd.unique(flag[marked]):              # a few flags at most
        sel = marked & (flag == name)
        symbol, fcolor = FLAG_STYLE.get(name, FLAG_STYLE["unknown"])
        v = value[sel]
        # at 0 without a value, and above the physical ceiling (1e308 would flatten the axis)
        shown = np.where(np.isnan(v) | (name == "implausible"), 0.0, v)
        with np.errstate(over="ignore", invalid="ignore"):   # rounding 1e308 overflows
            rounded = np.where(np.abs(v) < 1e15, np.round(v, decimals + 1), v)
        words = np.where(np.isnan(v), _w("no_value", lang),
                         np.char.add(rounded.astype(str), f" {unit}"))
        status = _w("excluded" if name in excluded else "counted", lang)
        label = flag_label(str(name), lang)
        traces.append(go.Scattergl(
            x=times[sel].astype("datetime64[s]"), y=shown, mode="markers",
            name=f"{label} · {int(sel.sum())}",
            marker={"symbol": symbol, "size": 9, "color": fcolor,
                    "line": {"width": 1.5, "color": fcolor}},
            customdata=words.astype(object),
            hovertemplate=(f"%{{x|%Y-%m-%d %H:00}}<br>{pollutant} %{{customdata}}<br>"
                           f"QC: {label} · {status}<extra></extra>")))
    shapes = []
    if limit is not None and np.isfinite(limit):
        shape, entry = reference_line(limit, limit_name, LIMIT_COLOR, "dot", unit)
        shapes.append(shape)
        traces.append(entry)
    return fast_figure(traces, dict(
        hovermode="closest", shapes=shapes,
        legend={"orientation": "h", "yanchor": "top", "y": -0.12, "x": 0, "xanchor": "left"},
        margin={"l": 60, "r": 20, "t": 50, "b": 60},
        xaxis={**DATE_AXIS, "range": [t0, t0 + pd.Timedelta(hours=n_hours)]},
        yaxis={"title": {"text": f"{pollutant} ({unit})"}, "rangemode": "tozero"}), title)


def variation_profiles(profiles: pd.DataFrame, *, pollutant: str, unit: str,
                       decimals: int = 1, lang: str = "zh", title: str = "") -> go.Figure:
    """Three panels: mean by hour of day, by weekday and by month (openair timeVariation).

    Parameters
    ----------
    profiles : DataFrame
        :func:`indicators.variation.time_variation` rows of one station and pollutant
        (``by``, ``key``, ``mean``, ``n``).

    The panels are laid out by hand (three x/y axis pairs side by side) rather
    than with ``make_subplots``, which re-validates the shared template.
    """
    rows = profiles[profiles["pollutant"] == pollutant] if len(profiles) else profiles
    if rows.empty or rows["n"].sum() == 0:
        return empty_figure(_w("empty", lang))
    color = POLLUTANT_COLORS.get(pollutant, "#1f2933")
    # months as 1–12 under the panel title 月份 / month: names would not fit upright
    labels = {"hour": [str(h) for h in range(24)], "weekday": WEEKDAYS[lang],
              "month": [str(m) for m in range(1, 13)]}
    domains = ([0.0, 0.42], [0.48, 0.68], [0.74, 1.0])
    traces, layout, notes = [], {}, []
    for i, by in enumerate(("hour", "weekday", "month")):
        part = rows[rows["by"] == by].sort_values("key")
        keys = part["key"].to_numpy() - (1 if by == "month" else 0)
        suffix = "" if i == 0 else str(i + 1)
        traces.append(go.Scatter(
            x=[labels[by][k] for k in keys], y=part["mean"].round(decimals + 1),
            xaxis=f"x{suffix}", yaxis=f"y{suffix}", mode="lines+markers", showlegend=False,
            line={"color": color, "width": 2}, marker={"size": 5}, name=_w(by, lang),
            customdata=part["n"].astype("int64"),
            hovertemplate=(f"%{{x}}<br>{_w('mean', lang)} %{{y:.{decimals}f}} {unit}<br>"
                           f"{_w('n', lang)} %{{customdata}}<extra></extra>")))
        xaxis = {"domain": domains[i], "anchor": f"y{suffix}", "type": "category",
                 "showline": True, "linecolor": "#9aa5b1", "tickangle": 0}
        if by == "hour":
            xaxis.update(tickmode="array", tickvals=[str(h) for h in range(0, 24, 3)])
        yaxis = {"anchor": f"x{suffix}", "gridcolor": "#e4e7eb", "rangemode": "tozero",
                 "zerolinecolor": "#9aa5b1"}
        if i == 0:
            yaxis["title"] = {"text": f"{pollutant} ({unit})"}
        layout[f"xaxis{suffix}"] = xaxis
        layout[f"yaxis{suffix}"] = yaxis
        notes.append({"text": _w(by, lang), "xref": "paper", "yref": "paper",
                      "x": (domains[i][0] + domains[i][1]) / 2, "y": 1.0, "xanchor": "center",
                      "yanchor": "bottom", "showarrow": False, "font": {"size": 13}})
    return fast_figure(traces, dict(annotations=notes,
                                    margin={"l": 60, "r": 20, "t": 80, "b": 40}, **layout), title)


def capture_heatmap(capture: pd.DataFrame, *, lang: str = "zh", title: str = "",
                    pollutants=POLLUTANTS) -> go.Figure:
    """Pollutants × months coloured by the share of hours with a valid value.

    Parameters
    ----------
    capture : DataFrame
        :func:`indicators.variation.capture_by_month` rows of one station
        (``pollutant``, ``month``, ``n_valid``, ``n_hours``, ``capture``).
    """
    if capture.empty:
        return empty_figure(_w("empty", lang))
    months = sorted(capture["month"].unique())
    present = [p for p in pollutants if p in set(capture["pollutant"])]
    wide = capture.pivot(index="pollutant", columns="month", values="capture") \
        .reindex(index=present, columns=months)
    n_valid = capture.pivot(index="pollutant", columns="month", values="n_valid") \
        .reindex(index=present, columns=months)
    n_hours = capture.pivot(index="pollutant", columns="month", values="n_hours") \
        .reindex(index=present, columns=months)
    custom = np.dstack([n_valid.to_numpy(), n_hours.to_numpy()])
    scale = [[0, "#c62828"], [0.75, "#f0c419"], [0.9, "#7fbf7f"], [1, "#1b7f3b"]]
    text_size = 12 if len(months) <= 12 else 10
    trace = go.Heatmap(
        z=wide.to_numpy(), x=months, y=present, zmin=0, zmax=100, colorscale=scale,
        text=wide.to_numpy(), texttemplate="%{z:.1f}", textfont={"size": text_size},
        customdata=custom, xgap=2, ygap=2,
        colorbar={"title": {"text": "%"}, "thickness": 12, "tickvals": [0, 50, 75, 90, 100]},
        hovertemplate=(f"%{{y}} · %{{x}}<br>{_w('capture', lang)} %{{z:.1f}}"
                       f"<br>%{{customdata[0]}} / %{{customdata[1]}} h<extra></extra>"))
    return fast_figure([trace], dict(
        plot_bgcolor="#eef1f4", margin={"l": 70, "r": 20, "t": 50, "b": 40},
        xaxis={"type": "category", "showline": False},
        yaxis={"autorange": "reversed", "gridcolor": "rgba(0,0,0,0)"},
        height=max(220, 70 + 34 * len(present))), title)
