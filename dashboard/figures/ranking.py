"""Ranking figure: one dot per area in rank order, provisional ranks and gaps kept visible.

A dot plot, not bars: the composite indices of a city's districts lie close together
(7.03, 7.14, 7.19 …), and bars drawn from zero make them look alike. The value axis
starts near the smallest value (or at zero when the values reach down to it), which
only a dot can honestly do. Every area's name is a link to its district (or station)
page when the table carries an ``href``.
"""
from __future__ import annotations

from html import escape

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from . import LIMIT_COLOR, STATUS_COLORS, empty_figure, fast_figure
from ..i18n import t

#: Dot colour of a ranked statistic that has no limit to meet (composite index, ratios).
RANKED_COLOR = "#4a6fa5"
PROVISIONAL_COLOR = "#c77700"
INSUFFICIENT_COLOR = "#9aa5b1"
LINK_COLOR = "#1f5fa8"


#: Marker of each status class: (colour, symbol).
_STYLE = {
    "meets": (STATUS_COLORS["meets"], "circle"),
    "exceeds": (STATUS_COLORS["exceeds"], "circle"),
    "ranked": (RANKED_COLOR, "circle"),
    "provisional": (PROVISIONAL_COLOR, "circle-open"),
    "insufficient data": (INSUFFICIENT_COLOR, "diamond-open"),
    "background": (INSUFFICIENT_COLOR, "square"),
}


def _w(key: str, lang: str) -> str:
    return t(f"rkfig.{key}", lang)


def _fmt(values: pd.Series, decimals: int) -> pd.Series:
    x = values.astype("float64")
    return x.map(lambda v: "" if pd.isna(v) else f"{v:.{decimals}f}")


def status_keys(table: pd.DataFrame) -> np.ndarray:
    """Colour class of each row: meets | exceeds | ranked (a valid rank, by its limit),
    provisional, insufficient data or background."""
    status = table["status"].astype(str).to_numpy()
    meets = table["meets"].astype("boolean") if "meets" in table else \
        pd.Series(pd.NA, index=table.index, dtype="boolean")
    judged = np.where(meets.fillna(False).to_numpy(bool), "meets",
                      np.where((~meets.fillna(True)).to_numpy(bool), "exceeds", "ranked"))
    return np.where(status == "ranked", judged,
                    np.where(status == "provisional", "provisional",
                             np.where(status == "background", "background",
                                      "insufficient data")))


def value_range(values, limits=None) -> tuple[float, float, bool]:
    """(start, end, from_zero) of the value axis: from zero when the smallest value is
    within a third of the largest (counts of days, most ranges), otherwise from a
    little below the smallest value, so that close values stay apart."""
    x = pd.Series(values, dtype="float64").dropna()
    if limits is not None:
        x = pd.concat([x, pd.Series(limits, dtype="float64").dropna()])
    if x.empty:
        return 0.0, 1.0, True
    lo, hi = float(x.min()), float(x.max())
    if hi <= 0:
        return min(lo * 1.1, 0.0), 1.0, True
    if lo <= hi / 3:
        return (min(lo * 1.1, 0.0), hi * 1.12, True)
    span = hi - lo if hi > lo else abs(hi) * 0.1 or 1.0
    return lo - 0.25 * span, hi + 0.2 * span, False


def ranking_chart(table: pd.DataFrame, names: dict, *, lang: str = "zh", title: str = "",
                  unit: str = "", decimals: int = 0, limit_label: str | None = None,
                  empty_message: str | None = None) -> go.Figure:
    """Dots of the reported statistic, rank 1 at the top.

    Parameters
    ----------
    table : DataFrame
        :func:`indicators.ranking.rank` output (rank, area, reported, valid,
        status, reason, n_valid, n_required) with, optionally, ``limit`` and
        ``meets`` (:func:`indicators.comparison.against_limits`) and ``href``
        (the area's page: its name becomes a link).
    names : dict
        Area id → display name.
    unit, decimals : str, int
        Unit shown on the axis and hover; decimals of the published value.
    limit_label : str, optional
        Legend text of the limit marks (e.g. "国标限值"); None draws no limit.

    Valid ranks are filled dots, green (meets the limit), red (exceeds) or blue
    (no limit); provisional ranks (the statistic fails a capture rule) amber
    rings with "暂定" beside the rank; areas not ranked keep their value as a
    grey diamond, or a "no value" mark at the start of the axis, with the
    reason on hover.
    """
    if table.empty:
        return empty_figure(empty_message or ("暂无数据" if lang == "zh" else "no data"))
    t = table.reset_index(drop=True)
    key = status_keys(t)
    rank_text = t["rank"].astype("Int64").astype(object).where(t["rank"].notna(), "—") \
        .astype(str)
    shown_names = t["area"].map(lambda a: names.get(a, a)).astype(str)
    prov = key == "provisional"
    labels = (rank_text + "  " + shown_names).tolist()
    labels = [lab + (f"（{_w('prov', lang)}）" if lang == "zh" else f" ({_w('prov', lang)})")
              if p else lab for lab, p in zip(labels, prov)]
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

    with_limit = bool(limit_label) and "limit" in t and t["limit"].notna().any()
    start, end, from_zero = value_range(value, t["limit"] if with_limit else None)
    y_all = np.asarray(labels, dtype=object)
    traces, shapes = [], []
    for k, (colour, symbol) in _STYLE.items():
        sel = (key == k) & value.notna().to_numpy()
        if not sel.any():
            continue
        text = shown[sel] + (" (" + _w("not valid", lang) + ")"
                             if k == "insufficient data" else "")
        traces.append({"type": "scatter", "mode": "markers+text", "name": _w(k, lang),
                       "y": y_all[sel].tolist(), "x": value[sel].tolist(),
                       "text": text.tolist(), "textposition": "middle right",
                       "cliponaxis": False,
                       "marker": {"color": colour, "symbol": symbol, "size": 13,
                                  "line": {"color": colour, "width": 2.5}},
                       "customdata": hover[sel].tolist(),
                       "hovertemplate": "%{customdata}<extra></extra>"})
    missing = value.isna().to_numpy()
    if missing.any():
        n_missing = int(missing.sum())
        traces.append({"type": "scatter", "y": y_all[missing].tolist(), "x": [start] * n_missing,
                       "mode": "markers+text", "text": [_w("no value", lang)] * n_missing,
                       "textposition": "middle right", "cliponaxis": False,
                       "marker": {"symbol": "x-thin-open", "size": 10, "color": "#7b8794"},
                       "name": _w("no value", lang), "customdata": hover[missing].tolist(),
                       "hovertemplate": "%{customdata}<extra></extra>"})
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
        else:     # areas of different grades: a mark per row
            traces.append({"type": "scatter", "y": labels, "x": limits.tolist(),
                           "mode": "markers", "name": limit_label, "hoverinfo": "skip",
                           "marker": {"symbol": "line-ns-open", "size": 22,
                                      "color": LIMIT_COLOR, "line": {"width": 3}}})
    # the tick labels link to the area's page (same tab: the app's own page)
    hrefs = t["href"].tolist() if "href" in t else [None] * len(t)
    ticktext = [f'<a href="{escape(h, quote=True)}" target="_self" '
                f'style="color:{LINK_COLOR}">{escape(lab)}</a>'
                if isinstance(h, str) and h else escape(lab) for lab, h in zip(labels, hrefs)]
    axis_title = unit or ""
    if not from_zero:
        note = _w("not_zero", lang)
        axis_title = (note if not axis_title else f"{axis_title}（{note}）" if lang == "zh"
                      else f"{axis_title} ({note})")
    return fast_figure(traces, {
        "shapes": shapes, "showlegend": True,
        "height": max(240, 110 + 30 * len(t)), "margin": {"l": 170, "r": 60, "t": 70, "b": 50},
        "yaxis": {"autorange": "reversed", "categoryorder": "array", "categoryarray": labels,
                  "tickmode": "array", "tickvals": labels, "ticktext": ticktext,
                  "gridcolor": "#eef1f4", "showgrid": True, "showline": False,
                  "ticksuffix": "  "},
        "xaxis": {"title": {"text": axis_title or None}, "gridcolor": "#e4e7eb",
                  "range": [start, end], "zeroline": from_zero}}, title)


#: Dot colour of a member in the bottom N of its peer group.
BOTTOM_COLOR = STATUS_COLORS["exceeds"]
OWN_COLOR = "#1f5fa8"


def peer_chart(table: pd.DataFrame, *, lang: str = "zh", title: str = "",
               line_value: float = np.nan, line_label: str | None = None,
               own_label: str = "", bottom_label: str = "",
               empty_message: str | None = None) -> go.Figure:
    """A peer group's members by composite index (:func:`evaluation.peers.peer_ranking`),
    rank 1 at the top, in the style of :func:`ranking_chart`.

    ``table``: rows of :func:`dashboard.pages.ranking.peer_table` to draw (rank, area,
    short_name — the label, synthetic data marked —, reported, status, reason, in_bottom,
    own, optionally href), members with a value only. Valid ranks are blue dots, those in
    the bottom N red (``bottom_label``), provisional ranks amber rings with "暂定" beside
    the rank; the city's own rows (its districts) get a blue halo (``own_label``) and a
    bold name. ``line_label``: the bottom-N line, drawn as a dashed vertical line at
    ``line_value`` (the index of the last place outside the bottom N): a member to its
    right is in the bottom N.
    """
    if table.empty:
        return empty_figure(empty_message or ("暂无数据" if lang == "zh" else "no data"))
    tb = table.reset_index(drop=True)
    status = tb["status"].astype(str).to_numpy()
    bottom = tb["in_bottom"].astype(bool).to_numpy()
    own = tb["own"].astype(bool).to_numpy()
    key = np.where(status == "provisional", "provisional",
                   np.where(bottom, "bottom", "ranked"))
    rank_text = tb["rank"].astype("Int64").astype(object).where(tb["rank"].notna(), "—") \
        .astype(str)
    labels = (rank_text + "  " + tb["short_name"].astype(str)).tolist()
    prov = _w("prov", lang)
    labels = [lab + (f"（{prov}）" if lang == "zh" else f" ({prov})") if k == "provisional"
              else lab for lab, k in zip(labels, key)]
    labels = [lab if labels.index(lab) == i else f"{lab} ({tb['area'][i]})"
              for i, lab in enumerate(labels)]
    value = tb["reported"].astype("float64")
    shown = _fmt(value, 2)
    reason = tb["reason"].fillna("").astype(str)
    hover = pd.Series(labels) + "<br>" + shown
    hover = hover.where(reason == "", hover + "<br>" + _w("reason", lang) + ": " + reason)
    y_all = np.asarray(labels, dtype=object)
    traces, shapes = [], []
    if own.any():
        # a halo under the own dots (drawn first: the dot stays on top)
        traces.append({"type": "scatter", "mode": "markers", "name": own_label,
                       "y": y_all[own].tolist(), "x": value[own].tolist(),
                       "hoverinfo": "skip",
                       "marker": {"size": 26, "color": "rgba(31,95,168,0.18)",
                                  "line": {"color": OWN_COLOR, "width": 2}}})
    styles = {"ranked": (RANKED_COLOR, "circle", _w("ranked", lang)),
              "bottom": (BOTTOM_COLOR, "circle", bottom_label or "bottom"),
              "provisional": (PROVISIONAL_COLOR, "circle-open", _w("provisional", lang))}
    for k, (colour, symbol, name) in styles.items():
        sel = key == k
        if not sel.any():
            continue
        traces.append({"type": "scatter", "mode": "markers+text", "name": name,
                       "y": y_all[sel].tolist(), "x": value[sel].tolist(),
                       # (an en space: the value clear of the own rows' halo)
                       "text": ("\u2002" + shown[sel]).tolist(), "textposition": "middle right",
                       "cliponaxis": False,
                       "marker": {"color": colour, "symbol": symbol, "size": 13,
                                  "line": {"color": colour, "width": 2.5}},
                       "customdata": hover[sel].tolist(),
                       "hovertemplate": "%{customdata}<extra></extra>"})
    with_line = bool(line_label) and line_value == line_value
    if with_line:
        line = {"color": LIMIT_COLOR, "dash": "dash", "width": 2}
        shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": line_value,
                       "x1": line_value, "y0": 0, "y1": 1, "line": line})
        traces.append({"type": "scatter", "x": [None], "y": [None], "mode": "lines",
                       "name": line_label, "line": line})
    start, end, from_zero = value_range(value, [line_value] if with_line else None)
    hrefs = tb["href"].tolist() if "href" in tb else [None] * len(tb)
    ticktext = []
    for lab, h, mine in zip(labels, hrefs, own):
        text = f"<b>{escape(lab)}</b>" if mine else escape(lab)
        if isinstance(h, str) and h:
            text = (f'<a href="{escape(h, quote=True)}" target="_self" '
                    f'style="color:{LINK_COLOR}">{text}</a>')
        ticktext.append(text)
    axis_title = _w("not_zero", lang) if not from_zero else None
    return fast_figure(traces, {
        "shapes": shapes, "showlegend": True,
        "height": max(260, 120 + 30 * len(tb)), "margin": {"l": 20, "r": 60, "t": 80, "b": 50},
        "yaxis": {"autorange": "reversed", "categoryorder": "array", "categoryarray": labels,
                  "automargin": True,
                  "tickmode": "array", "tickvals": labels, "ticktext": ticktext,
                  "gridcolor": "#eef1f4", "showgrid": True, "showline": False,
                  "ticksuffix": "  "},
        "xaxis": {"title": {"text": axis_title}, "gridcolor": "#e4e7eb",
                  "range": [start, end], "zeroline": from_zero}}, title)
