"""Ranking figure: areas as horizontal bars in rank order, insufficient data kept visible."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from . import LIMIT_COLOR, STATUS_COLORS, empty_figure, fast_figure

#: Bar colour of a ranked statistic that has no limit to meet (composite index, ratios).
RANKED_COLOR = "#4a6fa5"
INSUFFICIENT_COLOR = "#b8c2cc"

_WORDS = {
    "meets": ("达标", "meets the limit"),
    "exceeds": ("超标", "exceeds the limit"),
    "ranked": ("已排名", "ranked"),
    "insufficient data": ("数据不足（不参与排名）", "insufficient data (not ranked)"),
    "background": ("对照点（单独列出，不参与排名）", "background station (apart, not ranked)"),
    "no value": ("无数据", "no value"),
    "rank": ("排名", "rank"),
    "capture": ("有效天数", "valid days"),
    "reason": ("原因", "reason"),
    "limit": ("限值", "limit"),
    "not valid": ("无效", "not valid"),
}


def _w(key: str, lang: str) -> str:
    zh, en = _WORDS[key]
    return en if lang == "en" else zh


def _fmt(values: pd.Series, decimals: int) -> pd.Series:
    x = values.astype("float64")
    return x.map(lambda v: "" if pd.isna(v) else f"{v:.{decimals}f}")


def status_keys(table: pd.DataFrame) -> np.ndarray:
    """Colour class of each row: meets | exceeds | ranked | insufficient data | background."""
    ranked = (table["status"] == "ranked").to_numpy()
    meets = table["meets"].astype("boolean") if "meets" in table else \
        pd.Series(pd.NA, index=table.index, dtype="boolean")
    out = np.where(meets.fillna(False).to_numpy(bool), "meets",
                   np.where((~meets.fillna(True)).to_numpy(bool), "exceeds", "ranked"))
    background = (table["status"] == "background").to_numpy()
    return np.where(ranked, out, np.where(background, "background", "insufficient data"))


def ranking_bars(table: pd.DataFrame, names: dict, *, lang: str = "zh", title: str = "",
                 unit: str = "", decimals: int = 0, limit_label: str | None = None,
                 empty_message: str | None = None) -> go.Figure:
    """Horizontal bars of the reported statistic, rank 1 at the top.

    Parameters
    ----------
    table : DataFrame
        :func:`indicators.ranking.rank` output (rank, area, reported, valid,
        status, reason, n_valid, n_required) with, optionally, ``limit`` and
        ``meets`` from :func:`indicators.comparison.against_limits`.
    names : dict
        Area id → display name.
    unit, decimals : str, int
        Unit shown on the axis and hover; decimals of the published value.
    limit_label : str, optional
        Legend text of the limit marks (e.g. "国标限值"); None draws no limit.

    Ranked bars are green (meets the limit), red (exceeds) or blue (no limit);
    areas with insufficient data keep their (not valid) value as a grey hatched
    bar, or a "no value" mark at zero, with the reason on hover.
    """
    if table.empty:
        return empty_figure(empty_message or ("暂无数据" if lang == "zh" else "no data"))
    t = table.reset_index(drop=True)
    key = status_keys(t)
    rank_text = t["rank"].astype("Int64").astype(object).where(t["rank"].notna(), "—") \
        .astype(str)
    labels = (rank_text + "  " + t["area"].map(lambda a: names.get(a, a)).astype(str)).tolist()
    # labels must be unique category values
    labels = [lab if labels.index(lab) == i else f"{lab} ({t['area'][i]})"
              for i, lab in enumerate(labels)]
    value = t["reported"].astype("float64")
    shown = _fmt(value, decimals)
    capture = (t["n_valid"].astype("Int64").astype(object).where(t["n_valid"].notna(), "—")
               .astype(str) + "/" + t["n_required"].astype("Int64").astype(object)
               .where(t["n_required"].notna(), "—").astype(str))
    reason = t["reason"].fillna("").astype(str)
    suffix = f" {unit}" if unit else ""
    hover = (pd.Series(labels) + "<br>" + shown.where(shown != "", "—") + suffix
             + "<br>" + _w("capture", lang) + " " + capture)
    hover = hover.where(reason == "", hover + "<br>" + _w("reason", lang) + ": " + reason)
    if "limit" in t:
        lim = _fmt(t["limit"], 0 if decimals == 0 else decimals)
        hover = hover.where(lim == "", hover + "<br>" + _w("limit", lang) + " " + lim + suffix)

    colours = {"meets": STATUS_COLORS["meets"], "exceeds": STATUS_COLORS["exceeds"],
               "ranked": RANKED_COLOR, "insufficient data": INSUFFICIENT_COLOR,
               "background": INSUFFICIENT_COLOR}
    y_all = np.asarray(labels, dtype=object)
    traces, shapes = [], []
    for k in ("meets", "exceeds", "ranked", "insufficient data", "background"):
        sel = (key == k) & value.notna().to_numpy()
        if not sel.any():
            continue
        invalid = k == "insufficient data"
        text = shown[sel] + (" (" + _w("not valid", lang) + ")" if invalid else "")
        marker = {"color": colours[k],
                  "line": {"color": "#7b8794" if invalid else colours[k], "width": 1}}
        if invalid:
            marker["pattern"] = {"shape": "/", "fgcolor": "#7b8794", "size": 6}
        traces.append({"type": "bar", "orientation": "h", "name": _w(k, lang),
                       "y": y_all[sel].tolist(), "x": value[sel].tolist(),
                       "text": text.tolist(), "textposition": "outside", "cliponaxis": False,
                       "marker": marker, "customdata": hover[sel].tolist(),
                       "hovertemplate": "%{customdata}<extra></extra>"})
    missing = value.isna().to_numpy()
    if missing.any():
        n_missing = int(missing.sum())
        traces.append({"type": "scatter", "y": y_all[missing].tolist(), "x": [0] * n_missing,
                       "mode": "markers+text", "text": [_w("no value", lang)] * n_missing,
                       "textposition": "middle right", "cliponaxis": False,
                       "marker": {"symbol": "x-thin-open", "size": 10, "color": "#7b8794"},
                       "name": _w("no value", lang), "customdata": hover[missing].tolist(),
                       "hovertemplate": "%{customdata}<extra></extra>"})
    with_limit = bool(limit_label) and "limit" in t and t["limit"].notna().any()
    if with_limit:
        limits = t["limit"].astype("float64")
        if limits.dropna().nunique() == 1:
            lim = float(limits.dropna().iloc[0])
            line = {"color": LIMIT_COLOR, "dash": "dash", "width": 2}
            shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": lim, "x1": lim,
                           "y0": 0, "y1": 1, "line": line})
            # the line's label goes in the legend (an annotation would collide with it)
            traces.append({"type": "scatter", "x": [None], "y": [None], "mode": "lines",
                           "name": f"{limit_label} {lim:g}", "line": line})
        else:     # areas of different grades: a mark per bar
            traces.append({"type": "scatter", "y": labels, "x": limits.tolist(),
                           "mode": "markers", "name": limit_label, "hoverinfo": "skip",
                           "marker": {"symbol": "line-ns-open", "size": 22,
                                      "color": LIMIT_COLOR, "line": {"width": 3}}})
    top = value.max(skipna=True)
    if with_limit:
        top = np.nanmax([top if pd.notna(top) else 0, t["limit"].max()])
    top = float(top) if pd.notna(top) and top > 0 else 1.0
    return fast_figure(traces, {
        "shapes": shapes, "barmode": "overlay", "bargap": 0.3, "showlegend": True,
        "height": max(240, 110 + 30 * len(t)), "margin": {"l": 150, "r": 40, "t": 70, "b": 40},
        "yaxis": {"autorange": "reversed", "categoryorder": "array", "categoryarray": labels,
                  "gridcolor": "rgba(0,0,0,0)", "showline": False, "ticksuffix": "  "},
        "xaxis": {"title": {"text": unit or None}, "rangemode": "tozero",
                  "gridcolor": "#e4e7eb", "range": [0, top * 1.15]}}, title)
