"""Figures of the public page: the 30-day AQI strip and PM2.5 by district.

Pure functions (DataFrame in, Figure out) built with :func:`fast_figure`.
"""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from . import LABEL_HALO, LIMIT_COLOR, WHO_COLOR, aqi_colorscale, empty_figure, fast_figure


def aqi_strip(aqi: pd.DataFrame, names: dict, lang: str, title: str,
              empty_message: str) -> go.Figure:
    """Districts (rows) × days (columns), each cell coloured by its daily AQI level
    (HJ 633 colours, fixed 0–500 scale). ``aqi``: level, area, date, aqi."""
    rows = aqi[aqi["level"] == "district"]
    if rows.empty:
        return empty_figure(empty_message)
    grid = rows.pivot_table(index="area", columns="date", values="aqi", aggfunc="first",
                            observed=True, dropna=False)
    grid = grid.astype("float64")
    areas = [a for a in names if a in grid.index] + [a for a in grid.index if a not in names]
    grid = grid.reindex(areas)
    days = [pd.Timestamp(d).strftime("%Y-%m-%d") for d in grid.columns]
    ylabels = [names.get(a, a) for a in grid.index]
    z = grid.to_numpy()
    label = "AQI"
    trace = {"type": "heatmap", "z": z.tolist(), "x": days, "y": ylabels,
             "colorscale": aqi_colorscale(), "zmin": 0, "zmax": 500, "showscale": False,
             "xgap": 1, "ygap": 1,
             "hovertemplate": f"%{{y}} %{{x}}<br>{label} %{{z}}<extra></extra>"}
    return fast_figure([trace], {
        "margin": {"l": 80, "r": 10, "t": 50, "b": 40},
        "xaxis": {"type": "date", "tickformat": "%m-%d", "tickangle": 0, "nticks": 6,
                  "showline": False},
        "yaxis": {"autorange": "reversed", "gridcolor": "rgba(0,0,0,0)"},
    }, title=title)


def pm25_bars(values: pd.DataFrame, names: dict, *, limit: float | None, who: float | None,
              lang: str, title: str, empty_message: str, limit_label: str,
              who_label: str) -> go.Figure:
    """PM2.5 mean per district (horizontal bars, ``values``: area, reported) with the
    national annual limit and the WHO guideline as vertical reference lines."""
    values = values.dropna(subset=["reported"])
    if values.empty:
        return empty_figure(empty_message)
    values = values.sort_values("reported")
    labels = [names.get(a, a) for a in values["area"]]
    # light, slightly see-through fills: the limit and guideline lines (drawn under the
    # bars, so that they never strike a value label through) stay visible across them;
    # the labels carry a white halo where a line passes behind them
    colours = ["#ef9a9a" if limit is not None and v > limit else "#a5d6a7"
               for v in values["reported"]]
    traces = [{"type": "bar", "orientation": "h", "x": values["reported"].tolist(),
               "y": labels, "marker": {"color": colours, "opacity": 0.8}, "showlegend": False,
               "text": [f"{v:g}" for v in values["reported"]], "textposition": "outside",
               "cliponaxis": False, "textfont": {"shadow": LABEL_HALO},
               "hovertemplate": "%{y}: %{x} µg/m³<extra></extra>"}]
    shapes, annotations = [], []
    for value, colour, text, y in ((limit, LIMIT_COLOR, limit_label, 1.0),
                                   (who, WHO_COLOR, who_label, 1.07)):
        if value is None:
            continue
        shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": value, "x1": value,
                       "y0": 0, "y1": 1, "line": {"color": colour, "width": 2, "dash": "dash"},
                       "layer": "between"})
        annotations.append({"x": value, "xref": "x", "y": y, "yref": "paper",
                            "text": f"{text} {value:g}", "showarrow": False,
                            "xanchor": "left", "yanchor": "bottom",
                            "font": {"color": colour, "size": 12}})
    top = max(values["reported"].max(), limit or 0) * 1.15
    return fast_figure(traces, {
        "shapes": shapes, "annotations": annotations,
        "margin": {"l": 80, "r": 20, "t": 80, "b": 40},
        "xaxis": {"title": {"text": "µg/m³"}, "range": [0, top]},
        "yaxis": {"gridcolor": "rgba(0,0,0,0)"},
    }, title=title)
