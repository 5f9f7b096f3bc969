"""Standards figures: one area's statistics against the limits of several profiles.

Figures are built from plain trace dicts with :func:`dashboard.figures.fast_figure`
(plotly's validation of some thirty traces costs more than a page's whole time
budget); the tests pass the same specification through a validating ``go.Figure``.
Each profile's colour and short name come from its YAML (``display``).
"""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from config.errors import ConfigError
from config.standards import load_profile
from config.vocabulary import POLLUTANTS, unit_of

from . import empty_figure, fast_figure

POLLUTANT_ORDER = POLLUTANTS
VALUE_COLOR = "#9aa9bc"
_UNKNOWN_COLOUR = "#52606d"
_STAT_SHORT = {"annual_mean": ("均值", "mean"), "p98_daily": ("P98", "P98"),
               "p95_daily": ("P95", "P95"), "p90_mda8": ("P90 (8h)", "P90 (8h)")}
CONCENTRATION_STATS = tuple(_STAT_SHORT)


def _colour(pid: str) -> str:
    try:
        return load_profile(pid).colour
    except ConfigError:
        return _UNKNOWN_COLOUR


def _short(pid: str, lang: str) -> str:
    """The profile's short name (axis labels)."""
    try:
        return load_profile(pid).short_label(lang)
    except ConfigError:
        return pid


def _axis(i: int) -> str:
    return "" if i == 1 else str(i)


def _lookup(frame: pd.DataFrame, column: str) -> dict:
    """(pollutant, statistic, profile) → ``column`` (one dict instead of many pivots)."""
    keys = zip(frame["pollutant"].astype(str), frame["statistic"].astype(str),
               frame["profile"].astype(str))
    return dict(zip(keys, frame[column].tolist()))


def _num(value):
    return None if value is None or pd.isna(value) else float(value)


def limits_figure(table: pd.DataFrame, profiles: list[str], labels: dict, *, lang: str = "zh",
                  title: str = "") -> go.Figure:
    """Small multiples, one per pollutant: bar = the area's statistic, marks = each limit.

    Parameters
    ----------
    table : DataFrame
        One row per profile, pollutant and statistic: ``profile`` (id),
        pollutant, statistic, reported, valid, limit (from
        :func:`indicators.comparison.against_limits`).
    profiles : list of str
        Profile ids in display order.
    labels : dict
        Profile id → display name (legend).

    The statistic does not depend on the profile for concentrations (daily
    values always follow the Chinese rules): one bar per statistic. Should the
    profiles disagree, each profile gets its own narrow bar under its limit
    mark. Each profile's limit is a short coloured mark, side by side so that
    equal limits do not hide each other; a value not valid is marked ``*``.

    The values are written under the axis, in the tick labels ("均值" over "41"), not
    on the bars: a limit mark at the top of a bar struck through a label there, and a
    low bar squeezed its label to an unreadable sliver (SO2's mean shrank to "#"). The
    bars keep their ``text`` (the same values) for the tests, but draw none.
    """
    rows = table[table["statistic"].isin(CONCENTRATION_STATS)
                 & table["pollutant"].isin(POLLUTANT_ORDER)]
    if rows.empty or rows["reported"].notna().sum() == 0:
        return empty_figure("暂无数据" if lang == "zh" else "no data")
    value_of, valid_of, limit_of = (_lookup(rows, "reported"), _lookup(rows, "valid"),
                                    _lookup(rows, "limit"))
    present = set(zip(rows["pollutant"].astype(str), rows["statistic"].astype(str)))
    pollutants = [p for p in POLLUTANT_ORDER if any((p, s) in present for s in _STAT_SHORT)]
    cols, gap_x, gap_y = 3, 0.07, 0.16
    n_rows = -(-len(pollutants) // cols)
    width = (1 - gap_x * (cols - 1)) / cols
    height_share = (1 - gap_y * (n_rows - 1)) / n_rows
    step = 0.56 / max(len(profiles), 1)
    value_name = "数值" if lang == "zh" else "value"
    traces, layout, annotations, shown = [], {}, [], set()
    for i, p in enumerate(pollutants, start=1):
        r, c = (i - 1) // cols, (i - 1) % cols
        x0, y1 = c * (width + gap_x), 1 - r * (height_share + gap_y)
        ax = _axis(i)
        stats = [s for s in CONCENTRATION_STATS if (p, s) in present]
        ticks = [_STAT_SHORT[s][lang == "en"] for s in stats]
        values = {pid: [_num(value_of.get((p, s, pid))) for s in stats] for pid in profiles}
        distinct = {tuple(v) for v in values.values() if any(x is not None for x in v)}
        if len(distinct) <= 1:        # the usual case: one value per statistic
            series = [(None, list(distinct)[0] if distinct else [None] * len(stats))]
        else:
            series = [(pid, values[pid]) for pid in profiles]
        shown_values = [[] for _ in stats]     # the tick labels' values, per statistic
        for pid, ys in series:
            ok = [any(bool(valid_of.get((p, s, q), False)) for q in profiles) if pid is None
                  else bool(valid_of.get((p, s, pid), False)) for s in stats]
            labels_ = [("" if y is None else f"{y:g}") + ("" if o else "*")
                       for y, o in zip(ys, ok)]
            for j, lab in enumerate(labels_):
                if lab and lab != "*":
                    shown_values[j].append(lab if pid is None else
                                           f'<span style="color:{_colour(pid)}">{lab}</span>')
            shift = 0.0 if pid is None else (profiles.index(pid) - (len(profiles) - 1) / 2) * step
            key = "value" if pid is None else f"value-{pid}"
            name = value_name if pid is None else labels.get(pid, pid)
            traces.append({
                "type": "bar", "x": [k + shift for k in range(len(stats))], "y": ys,
                "xaxis": f"x{ax}", "yaxis": f"y{ax}", "name": name, "legendgroup": key,
                "showlegend": key not in shown, "width": 0.62 if pid is None else step * 0.9,
                "marker": {"color": VALUE_COLOR if pid is None else _colour(pid),
                           "opacity": 1 if pid is None else 0.55},
                "text": labels_, "textposition": "none", "customdata": ticks,
                "hovertemplate": f"{p} %{{customdata}}: %{{y:g}}<extra>{name}</extra>"})
            shown.add(key)
        for k, pid in enumerate(profiles):
            limits = [_num(limit_of.get((p, s, pid))) for s in stats]
            if all(v is None for v in limits):
                continue
            offset = (k - (len(profiles) - 1) / 2) * step
            colour = _colour(pid)
            traces.append({
                "type": "scatter", "mode": "markers", "x": [j + offset for j in range(len(stats))],
                "y": limits, "xaxis": f"x{ax}", "yaxis": f"y{ax}", "name": labels.get(pid, pid),
                "legendgroup": pid, "showlegend": pid not in shown, "customdata": ticks,
                "marker": {"symbol": "line-ew-open", "size": 16, "color": colour,
                           "line": {"width": 4, "color": colour}},
                "hovertemplate": (f"{p} %{{customdata}} · {labels.get(pid, pid)}: "
                                  f"%{{y:g}}<extra></extra>")})
            shown.add(pid)
        ticktext = [f"{tick}<br><b>{' / '.join(v)}</b>" if v else tick
                    for tick, v in zip(ticks, shown_values)]
        layout[f"xaxis{ax}"] = {"domain": [x0, x0 + width], "anchor": f"y{ax}",
                                "tickvals": list(range(len(stats))), "ticktext": ticktext,
                                "range": [-0.6, len(stats) - 0.4], "showline": True,
                                "linecolor": "#9aa5b1"}
        layout[f"yaxis{ax}"] = {"domain": [y1 - height_share, y1], "anchor": f"x{ax}",
                                "rangemode": "tozero", "gridcolor": "#e4e7eb",
                                "zerolinecolor": "#9aa5b1"}
        annotations.append({"text": f"{p} ({unit_of(p)})",
                            "xref": "paper", "yref": "paper", "x": x0 + width / 2, "y": y1,
                            "xanchor": "center", "yanchor": "bottom", "showarrow": False,
                            "font": {"size": 13}})
    height = 260 * n_rows + 150
    layout.update(barmode="overlay", height=height, annotations=annotations,
                  margin={"l": 50, "r": 20, "t": 130, "b": 50},     # b: two-line tick labels
                  title={"yref": "container", "y": 0.985, "yanchor": "top"},
                  legend={"orientation": "h", "y": 1 + 40 / (height - 180),
                          "yanchor": "bottom", "x": 0, "xanchor": "left"})
    return fast_figure(traces, layout, title)


def days_figure(table: pd.DataFrame, profiles: list[str], labels: dict, *, lang: str = "zh",
                title: str = "") -> go.Figure:
    """Left: days above each profile's daily limit (24-h; O3 MDA8), one bar per profile.
    Right: the good-day ratio under each profile that has an AQI of its own."""
    days = table[(table["statistic"] == "exceedance_days")
                 & table["pollutant"].isin(POLLUTANT_ORDER)]
    ratio = table[(table["statistic"] == "good_day_ratio") & table["defined"].astype(bool)]
    if days["reported"].notna().sum() == 0 and ratio["reported"].notna().sum() == 0:
        return empty_figure("暂无数据" if lang == "zh" else "no data")
    zh = lang == "zh"
    count_of = _lookup(days, "reported")
    pollutants = [p for p in POLLUTANT_ORDER if p in set(days["pollutant"].astype(str))]
    traces = []
    for pid in profiles:
        ys = [_num(count_of.get((p, "exceedance_days", pid))) for p in pollutants]
        if all(y is None for y in ys):
            continue
        traces.append({
            "type": "bar", "x": pollutants, "y": ys, "name": labels.get(pid, pid),
            "legendgroup": pid, "marker": {"color": _colour(pid)}, "xaxis": "x", "yaxis": "y",
            # values on the bars while they fit (up to four profiles); always on hover
            "text": ["" if y is None or len(profiles) > 4 else f"{y:g}" for y in ys],
            "textposition": "outside", "cliponaxis": False,
            "hovertemplate": (f"%{{x}} · {labels.get(pid, pid)}: %{{y:g}} "
                              f"{'天' if zh else 'days'}<extra></extra>")})
    ratio_of = dict(zip(ratio["profile"].astype(str), ratio["reported"].tolist()))
    shown = [p for p in profiles if p in ratio_of]
    if shown:
        traces.append({
            "type": "bar", "orientation": "h", "xaxis": "x2", "yaxis": "y2", "showlegend": False,
            "y": [_short(p, lang) for p in shown],
            "x": [_num(ratio_of[p]) for p in shown],
            "marker": {"color": [_colour(p) for p in shown]},
            "customdata": [labels.get(p, p) for p in shown],
            "text": ["" if _num(ratio_of[p]) is None else f"{ratio_of[p]:g}%" for p in shown],
            "textposition": "outside", "cliponaxis": False,
            "hovertemplate": "%{customdata}: %{x:g}%<extra></extra>"})
    split, gap = 0.64, 0.14
    layout = {
        "xaxis": {"domain": [0, split], "anchor": "y", "showline": True, "linecolor": "#9aa5b1"},
        "yaxis": {"domain": [0, 1], "anchor": "x", "rangemode": "tozero",
                  "gridcolor": "#e4e7eb"},
        "xaxis2": {"domain": [split + gap, 1], "anchor": "y2", "range": [0, 118],
                   "gridcolor": "#e4e7eb", "showline": True, "linecolor": "#9aa5b1"},
        "yaxis2": {"domain": [0, 1], "anchor": "x2", "autorange": "reversed"},
        "annotations": [
            {"text": "超标天数（超过各标准日限值）" if zh else "Days above each profile's daily limit",
             "xref": "paper", "yref": "paper", "x": split / 2, "y": 1, "xanchor": "center",
             "yanchor": "bottom", "showarrow": False, "font": {"size": 13}},
            {"text": "优良天数比例 (%)" if zh else "Good-day ratio (%)", "xref": "paper",
             "yref": "paper", "x": (split + gap + 1) / 2, "y": 1, "xanchor": "center",
             "yanchor": "bottom", "showarrow": False, "font": {"size": 13}}],
    }
    layout.update(barmode="group", bargap=0.2, height=420,
                  margin={"l": 50, "r": 30, "t": 120, "b": 60},
                  title={"yref": "container", "y": 0.985, "yanchor": "top"},
                  legend={"orientation": "h", "y": 1 + 40 / 240, "yanchor": "bottom",
                          "x": 0, "xanchor": "left"})
    return fast_figure(traces, layout, title)
