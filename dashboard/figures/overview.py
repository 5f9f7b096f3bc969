"""Overview figures: every district against its targets, in one picture."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from config.vocabulary import POLLUTANTS

from . import STATUS_COLORS, empty_figure, fast_figure

POLLUTANT_ORDER = POLLUTANTS


def standing_heatmap(table: pd.DataFrame, names: dict, lang: str = "zh",
                     title: str = "") -> go.Figure:
    """Districts × pollutants coloured by reported value ÷ the binding figure.

    Parameters
    ----------
    table : DataFrame
        ``indicators.targets.standing`` rows: area, pollutant, statistic,
        reported, target, national_limit, binding, binding_basis, basis,
        period_kind, verdict, verdict_target, verdict_national.
    names : dict
        District id → display name.

    The binding figure is the stricter of the local target and the national
    limit (a local target looser than the limit does not hide a breach of the
    limit). Green below 90 % of it, amber 90–100 %, red above; grey where the
    statistic is missing or not valid for a complete period. A month, quarter or
    custom range is not judged against annual figures: its cells are shaded on one
    neutral scale (value ÷ the annual figure, for reference). The cell text is the
    reported value (also on grey cells, where it gives no verdict); the hover gives
    the target, the limit and the status.
    """
    from indicators.targets import INSUFFICIENT, NO_LIMIT, REFERENCE_PERIOD, status_text

    rows = table[table["pollutant"].isin(POLLUTANT_ORDER)]
    if rows.empty:
        return empty_figure("暂无数据" if lang == "zh" else "no data")
    # one statistic per (district, pollutant): the local target's if there is one
    rows = rows.sort_values("basis", key=lambda s: s.map({"target": 0, "national": 1}),
                            kind="stable").drop_duplicates(["area", "pollutant"])
    reference = bool((rows["period_kind"] == REFERENCE_PERIOD).all())
    # the site file's order (``names`` is the catalogue's, in that order), as every page
    present = set(rows["area"])
    districts = [d for d in names if d in present] + sorted(present.difference(names))
    pollutants = [p for p in POLLUTANT_ORDER if p in set(rows["pollutant"])]
    ratio = np.full((len(districts), len(pollutants)), np.nan)
    text = np.full(ratio.shape, "", dtype=object)
    hover = np.full(ratio.shape, "", dtype=object)
    di = {d: i for i, d in enumerate(districts)}
    pi = {p: j for j, p in enumerate(pollutants)}
    zh = lang == "zh"
    for r in rows.itertuples(index=False):
        i, j = di[r.area], pi[r.pollutant]
        if (pd.notna(r.reported) and r.verdict not in (INSUFFICIENT, NO_LIMIT)
                and pd.notna(r.binding) and r.binding > 0):
            ratio[i, j] = r.reported / r.binding
        # a value whose statistic is not valid stays readable on the grey "no verdict" cell
        # CO is published to 0.1 mg/m³ (3.0, not 3); the others in whole µg/m³
        shown = "" if pd.isna(r.reported) else (
            f"{r.reported:.1f}" if r.pollutant == "CO" else f"{r.reported:g}")
        text[i, j] = shown or "—"
        figures = []
        if r.basis == "target":
            figures.append(("目标 " if zh else "target ") + f"{r.target:g}")
        if pd.notna(r.national_limit):
            figures.append(("国标 " if zh else "limit ") + f"{r.national_limit:g}")
        bind = ("约束值：" + ("国标" if r.binding_basis == "national" else "目标")) if zh else \
            ("binding: " + ("limit" if r.binding_basis == "national" else "target"))
        hover[i, j] = (f"{names.get(r.area, r.area)} · {r.pollutant}<br>"
                       f"{shown} / "
                       + (" · ".join(figures)) + f" ({bind})<br>"
                       + status_text(r.verdict, lang))
    z = np.clip(ratio, 0, 1.5)
    if reference:
        # no verdict for a month or a custom range: one neutral hue, no green/amber/red
        scale = [[0, "#eef3f8"], [1, "#52606d"]]
        bar_title = "÷ 年度数值（仅供参考）" if zh else "÷ annual figure (reference)"
    else:
        # three bands: ≤ 0.9, 0.9–1.0, > 1.0 (cap at 1.5 so one outlier does not wash out)
        scale = [[0, STATUS_COLORS["meets"]], [0.599, "#7fbf7f"], [0.6, "#f0c419"],
                 [0.6667, STATUS_COLORS["at_risk"]], [0.6668, "#e57373"],
                 [1, STATUS_COLORS["exceeds"]]]
        bar_title = "÷ 约束值" if zh else "÷ binding figure"
    # one unvalidated step (fast_figure): validating this figure cost ~60 ms a first visit
    # of a national overview (tests check the same specification through go.Figure)
    heatmap = {"type": "heatmap", "z": z, "x": pollutants,
               "y": [names.get(d, d) for d in districts], "text": text,
               "texttemplate": "%{text}", "textfont": {"size": 14}, "customdata": hover,
               "hovertemplate": "%{customdata}<extra></extra>", "colorscale": scale,
               "zmin": 0, "zmax": 1.5, "xgap": 3, "ygap": 3, "showscale": True,
               "colorbar": {"title": {"text": bar_title},
                            # (no 90 % band mark where nothing is judged)
                            "tickvals": [0, 0.5, 1.0, 1.5] if reference
                            else [0, 0.5, 0.9, 1.0, 1.5],
                            "ticktext": ["0", "50%", "100%", "≥150%"] if reference
                            else ["0", "50%", "90%", "100%", "≥150%"],
                            "thickness": 12}}
    return fast_figure([heatmap], {
        "yaxis": {"autorange": "reversed", "gridcolor": "rgba(0,0,0,0)", "showline": False},
        "xaxis": {"side": "top", "showline": False},
        "plot_bgcolor": "#eef1f4", "margin": {"l": 90, "r": 20, "t": 70, "b": 20},
        "height": max(240, 60 + 44 * len(districts))}, title=title)
