"""District page figures: daily trend, monthly statistic, year-to-date path, stations.

Pure functions: tidy frames in (from ``dashboard.queries`` / ``indicators``),
a plotly Figure out. Nothing is computed here but the layout of the picture.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from . import (LABEL_HALO, LIMIT_COLOR, NO_DATA_COLOR, POLLUTANT_COLORS, TARGET_COLOR,
               empty_figure, fast_figure)
from ..i18n import t

INVALID_COLOR = "#9aa5b1"
BOTTOM_LEGEND = {"orientation": "h", "yanchor": "top", "y": -0.12, "x": 0, "xanchor": "left"}
#: Date ticks: months as 2015-03 (plotly's zh-CN locale writes "三 2015"), days as 03-14.
DATE_AXIS = {"type": "date", "tickformatstops": [
    {"dtickrange": [None, 86_400_000 * 20], "value": "%m-%d"},
    {"dtickrange": [86_400_000 * 20, None], "value": "%Y-%m"}]}
MONTH_NAMES = {"zh": [f"{m}月" for m in range(1, 13)],
               "en": ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                      "Nov", "Dec"]}
AREA_COLOR = "#0d3c78"



def reference_line(y: float, name: str, color: str, dash: str,
                   unit: str = "") -> tuple[dict, go.Scatter]:
    """A full-width horizontal line (a layout shape) and its legend entry (an empty trace).

    The line lies between the grid and the traces: bars and their value labels (with
    :data:`LABEL_HALO`) are drawn over it, so it never strikes a label through."""
    shape = {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y", "y0": float(y),
             "y1": float(y), "line": {"color": color, "dash": dash, "width": 1.5},
             "layer": "between"}
    entry = go.Scatter(x=[None], y=[None], mode="lines", name=f"{name} {y:g} {unit}".strip(),
                       line={"color": color, "dash": dash, "width": 1.5}, hoverinfo="skip")
    return shape, entry


def _w(key: str, lang: str) -> str:
    return t(f"distfig.{key}", lang)


def _fmt(x, decimals: int) -> str:
    return "—" if x is None or pd.isna(x) else f"{x:.{decimals}f}"


def _hline(x0, x1, y: float, name: str, color: str, dash: str, hover: str) -> go.Scatter:
    """A horizontal reference line as a trace (so it has a legend entry and a hover)."""
    return go.Scatter(x=[x0, x1], y=[y, y], mode="lines", name=name,
                      line={"color": color, "dash": dash, "width": 2},
                      hovertemplate=hover + "<extra></extra>")


def daily_trend(rows: pd.DataFrame, *, pollutant: str, unit: str, decimals: int, lang: str = "zh",
                title: str = "", limit_name: str = "", target: float | None = None,
                target_name: str = "") -> go.Figure:
    """Daily values of one pollutant with the 24-h limit and the annual target.

    Parameters
    ----------
    rows : DataFrame
        One row per day: ``date``, ``reported`` (published daily value),
        ``valid``, ``n_valid``, ``n_required``, ``limit`` (the 24-h / MDA8
        limit of that day's profile, NaN where none).
    pollutant : str
        SO2, NO2, PM10, PM2.5, CO or O3 (O3: the MDA8 series).
    target : float, optional
        The district's local (annual) target, drawn as a dashed line named
        ``target_name`` (it is an annual-mean target, not a daily limit).

    Valid days are a line (markers red where the day exceeds its limit);
    days that are not valid are grey crosses at their value (at 0 when they
    have none) with their capture on hover.
    """
    if rows.empty:
        return empty_figure(_w("empty", lang))
    rows = rows.sort_values("date")
    dates = pd.to_datetime(rows["date"])
    value = rows["reported"].astype("float64").to_numpy()
    valid = rows["valid"].astype(bool).to_numpy() & ~np.isnan(value)
    limit = rows["limit"].astype("float64").to_numpy()
    over = valid & (value > limit)
    color = POLLUTANT_COLORS.get(pollutant, "#1f2933")
    count_word = _w("windows" if pollutant == "O3" else "hours", lang)
    capture = (rows["n_valid"].astype("Int64").astype(str) + "/"
               + rows["n_required"].astype("Int64").astype(str)).to_numpy(dtype=object)
    traces = [go.Scatter(
        x=dates, y=np.where(valid, value, np.nan), mode="lines+markers",
        name=_w("daily_o3" if pollutant == "O3" else "daily", lang),
        line={"color": color, "width": 1.5}, connectgaps=False,
        marker={"size": np.where(over, 6, 3),
                "color": np.where(over, LIMIT_COLOR, color).astype(object)},
        customdata=np.stack([capture, np.where(over, _w("exceeds", lang), "")], axis=1),
        hovertemplate=(f"%{{x|%Y-%m-%d}}<br>{pollutant} %{{y:.{decimals}f}} {unit} "
                       f"%{{customdata[1]}}<br>{count_word} %{{customdata[0]}}<extra></extra>"))]
    bad = ~valid
    if bad.any():
        shown = np.where(np.isnan(value[bad]), 0.0, value[bad])
        text = np.where(np.isnan(value[bad]), _w("no_value", lang),
                        [_fmt(v, decimals) + " " + unit for v in value[bad]])
        traces.append(go.Scatter(
            x=dates[bad], y=shown, mode="markers", name=_w("invalid", lang),
            marker={"symbol": "x", "size": 7, "color": INVALID_COLOR},
            customdata=np.stack([text.astype(object), capture[bad]], axis=1),
            hovertemplate=(f"%{{x|%Y-%m-%d}}<br>{_w('invalid', lang)}<br>%{{customdata[0]}}"
                           f"<br>{count_word} %{{customdata[1]}}<extra></extra>")))
    if np.isfinite(limit).any():
        traces.append(go.Scatter(
            x=dates, y=limit, mode="lines", name=limit_name, line_shape="hv",
            line={"color": LIMIT_COLOR, "width": 1.5, "dash": "dot"},
            hovertemplate=f"{limit_name}: %{{y:g}} {unit}<extra></extra>"))
    if target is not None and np.isfinite(target):
        traces.append(_hline(dates.iloc[0], dates.iloc[-1], float(target), target_name,
                             TARGET_COLOR, "dash", f"{target_name}: {target:g} {unit}"))
    return fast_figure(traces, dict(
        hovermode="closest", legend=BOTTOM_LEGEND, margin={"l": 60, "r": 20, "t": 50, "b": 70},
        xaxis=DATE_AXIS, yaxis={"title": {"text": f"{pollutant} ({unit})"}, "rangemode": "tozero"}),
        title)


def monthly_bars(rows: pd.DataFrame, *, pollutant: str, unit: str, decimals: int,
                 lang: str = "zh", title: str = "", statistic_name: str = "",
                 reference: float | None = None, reference_name: str = "",
                 highlight: str | None = None, detail_col: str = "detail") -> go.Figure:
    """One bar per month: the month's statistic; grey hatched where it is not valid.

    Parameters
    ----------
    rows : DataFrame
        Monthly statistics of one area and pollutant: ``period`` (YYYY-MM),
        ``reported``, ``valid``, ``n_valid``, ``n_required`` and ``detail``
        (already in the reader's language).
    reference : float, optional
        A line for comparison (the annual target or limit), named ``reference_name``.
    highlight : str, optional
        The period label of the month the view shows (outlined).
    """
    if rows.empty:
        return empty_figure(_w("empty", lang))
    rows = rows.sort_values("period")
    period = rows["period"].astype(str).to_numpy()
    label = np.array([MONTH_NAMES[lang][int(x[5:7]) - 1] for x in period], dtype=object)
    value = rows["reported"].astype("float64").to_numpy()
    valid = rows["valid"].astype(bool).to_numpy()
    color = POLLUTANT_COLORS.get(pollutant, "#1f2933")
    capture = (rows["n_valid"].astype("Int64").astype(str) + "/"
               + rows["n_required"].astype("Int64").astype(str)).to_numpy(dtype=object)
    status = np.where(valid, _w("valid", lang), _w("not_valid", lang)).astype(object)
    detail = rows[detail_col].fillna("").astype(str).to_numpy(dtype=object)
    text = [_fmt(v, decimals) for v in value]
    bars = go.Bar(
        x=label, y=np.nan_to_num(value, nan=0.0), text=text, textposition="outside",
        name=statistic_name, cliponaxis=False, textfont={"shadow": LABEL_HALO},
        marker={"color": np.where(valid, color, NO_DATA_COLOR).astype(object),
                "pattern": {"shape": np.where(valid, "", "/").astype(object),
                            "fgcolor": INVALID_COLOR},
                "line": {"color": np.where(label == highlight, "#1f2933", "rgba(0,0,0,0)")
                         .astype(object), "width": 2}},
        customdata=np.stack([capture, status, detail, period.astype(object)], axis=1),
        hovertemplate=(f"%{{customdata[3]}}<br>{statistic_name} %{{text}} {unit}<br>"
                       f"{_w('capture', lang)} %{{customdata[0]}} · %{{customdata[1]}}"
                       f"<br>%{{customdata[2]}}<extra></extra>"))
    bars.showlegend = False
    traces, shapes = [bars], []
    if reference is not None and np.isfinite(reference):
        shape, entry = reference_line(reference, reference_name, TARGET_COLOR, "dash", unit)
        traces.append(entry)
        shapes.append(shape)
    return fast_figure(traces, dict(
        bargap=0.3, legend=BOTTOM_LEGEND, shapes=shapes,
        margin={"l": 60, "r": 20, "t": 50, "b": 60},
        xaxis={"type": "category"}, yaxis={"title": {"text": f"{pollutant} ({unit})"}}), title)


def ytd_path(running: pd.DataFrame, *, pollutant: str, unit: str, decimals: int,
             lang: str = "zh", title: str = "", target: float | None = None,
             target_name: str = "", limit: float | None = None, limit_name: str = "",
             x_end=None) -> go.Figure:
    """The annual mean as it stands after each day, against the target and the annual limit.

    Parameters
    ----------
    running : DataFrame
        :func:`indicators.progress.running_mean` rows of one area and pollutant
        (``date``, ``reported``, ``n_valid``).
    x_end : date-like, optional
        Right end of the time axis (31 December: the path's room to go).
    """
    if running.empty or running["reported"].isna().all():
        return empty_figure(_w("empty", lang))
    running = running.sort_values("date")
    dates = pd.to_datetime(running["date"])
    traces = [go.Scatter(
        x=dates, y=running["reported"].astype("float64"), mode="lines", line_shape="hv",
        name=_w("running", lang), line={"color": POLLUTANT_COLORS.get(pollutant, "#1f2933"),
                                         "width": 2.5},
        customdata=running["n_valid"].astype("int64"),
        hovertemplate=(f"%{{x|%Y-%m-%d}}<br>{_w('running', lang)} %{{y:.{decimals}f}} {unit}"
                       f"<br>{_w('days', lang)} %{{customdata}}<extra></extra>"))]
    x0 = dates.iloc[0]
    x1 = pd.Timestamp(x_end) if x_end is not None else dates.iloc[-1]
    if limit is not None and np.isfinite(limit):
        traces.append(_hline(x0, x1, float(limit), limit_name, LIMIT_COLOR, "dot",
                             f"{limit_name}: {limit:g} {unit}"))
    if target is not None and np.isfinite(target):
        traces.append(_hline(x0, x1, float(target), target_name, TARGET_COLOR, "dash",
                             f"{target_name}: {target:g} {unit}"))
    return fast_figure(traces, dict(
        legend=BOTTOM_LEGEND, margin={"l": 60, "r": 20, "t": 50, "b": 70},
        xaxis={**DATE_AXIS, "range": [x0, x1 + pd.Timedelta(days=1)]},
        yaxis={"title": {"text": f"{pollutant} ({unit})"}, "rangemode": "tozero"}), title)


def station_bars(rows: pd.DataFrame, *, pollutant: str, unit: str, decimals: int,
                 lang: str = "zh", title: str = "", statistic_name: str = "",
                 limit: float | None = None, limit_name: str = "",
                 target: float | None = None, target_name: str = "") -> go.Figure:
    """The period statistic of each station of an area, and the area's own value
    (with the national limit and, where the area has one, its local target).

    Parameters
    ----------
    rows : DataFrame
        ``name``, ``reported``, ``valid``, ``n_valid``, ``n_required``,
        ``is_area`` (the area's row, drawn last in a darker colour).
    """
    if rows.empty:
        return empty_figure(_w("empty", lang))
    value = rows["reported"].astype("float64").to_numpy()
    valid = rows["valid"].astype(bool).to_numpy()
    is_area = rows["is_area"].astype(bool).to_numpy()
    color = np.where(is_area, AREA_COLOR, POLLUTANT_COLORS.get(pollutant, "#1f2933"))
    capture = (rows["n_valid"].astype("Int64").astype(str) + "/"
               + rows["n_required"].astype("Int64").astype(str)).to_numpy(dtype=object)
    status = np.where(valid, _w("valid", lang), _w("not_valid", lang)).astype(object)
    bars = go.Bar(
        x=rows["name"].astype(str), y=np.nan_to_num(value, nan=0.0),
        text=[_fmt(v, decimals) for v in value], textposition="outside", cliponaxis=False,
        name=statistic_name, textfont={"shadow": LABEL_HALO},
        marker={"color": np.where(valid, color, NO_DATA_COLOR).astype(object),
                "pattern": {"shape": np.where(valid, "", "/").astype(object),
                            "fgcolor": INVALID_COLOR}},
        customdata=np.stack([capture, status], axis=1),
        hovertemplate=(f"%{{x}}<br>{statistic_name} %{{text}} {unit}<br>"
                       f"{_w('capture', lang)} %{{customdata[0]}} · %{{customdata[1]}}"
                       "<extra></extra>"))
    bars.showlegend = False
    if len(rows) <= 4:
        bars.width = 0.45
    traces, shapes = [bars], []
    for y, name, color, dash in ((limit, limit_name, LIMIT_COLOR, "dot"),
                                 (target, target_name, TARGET_COLOR, "dash")):
        if y is not None and np.isfinite(y):
            shape, entry = reference_line(y, name, color, dash, unit)
            traces.append(entry)
            shapes.append(shape)
    return fast_figure(traces, dict(
        bargap=0.35, legend=BOTTOM_LEGEND, shapes=shapes,
        margin={"l": 60, "r": 20, "t": 50, "b": 60},
        yaxis={"title": {"text": f"{pollutant} ({unit})"}}), title)
