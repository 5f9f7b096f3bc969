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
    """Districts × pollutants coloured by reported value ÷ target (or national limit).

    Parameters
    ----------
    table : DataFrame
        ``indicators.targets.standing`` rows: area, pollutant, statistic,
        reported, target, basis, outlook.
    names : dict
        District id → display name.

    Green below 90 % of the target, amber 90–100 %, red above; grey where the
    statistic is missing or not valid for a complete period. The cell text is
    the reported value (also on grey cells, where it gives no verdict).
    """
    rows = table[table["pollutant"].isin(POLLUTANT_ORDER)]
    if rows.empty:
        return empty_figure("暂无数据" if lang == "zh" else "no data")
    # one statistic per (district, pollutant): the local target's if there is one
    rows = rows.sort_values("basis", key=lambda s: s.map({"target": 0, "national": 1}),
                            kind="stable").drop_duplicates(["area", "pollutant"])
    districts = list(dict.fromkeys(rows.sort_values("area")["area"]))
    pollutants = [p for p in POLLUTANT_ORDER if p in set(rows["pollutant"])]
    ratio = np.full((len(districts), len(pollutants)), np.nan)
    text = np.full(ratio.shape, "", dtype=object)
    hover = np.full(ratio.shape, "", dtype=object)
    di = {d: i for i, d in enumerate(districts)}
    pi = {p: j for j, p in enumerate(pollutants)}
    for r in rows.itertuples(index=False):
        i, j = di[r.area], pi[r.pollutant]
        target_word = ("目标" if r.basis == "target" else "国标") if lang == "zh" else \
            ("target" if r.basis == "target" else "limit")
        if pd.notna(r.reported) and r.outlook != "insufficient data" and r.target > 0:
            ratio[i, j] = r.reported / r.target
        # a value whose statistic is not valid stays readable on the grey "no verdict" cell
        text[i, j] = "—" if pd.isna(r.reported) else f"{r.reported:g}"
        hover[i, j] = (f"{names.get(r.area, r.area)} · {r.pollutant}<br>"
                       f"{'' if pd.isna(r.reported) else f'{r.reported:g}'} / "
                       f"{target_word} {r.target:g}")
    # three bands: ≤ 0.9, 0.9–1.0, > 1.0 (cap the scale at 1.5 so one outlier does not wash out)
    z = np.clip(ratio, 0, 1.5)
    scale = [[0, STATUS_COLORS["meets"]], [0.599, "#7fbf7f"], [0.6, "#f0c419"],
             [0.6667, STATUS_COLORS["at_risk"]], [0.6668, "#e57373"], [1, STATUS_COLORS["exceeds"]]]
    # one unvalidated step (fast_figure): validating this figure cost ~60 ms a first visit
    # of a national overview (tests check the same specification through go.Figure)
    heatmap = {"type": "heatmap", "z": z, "x": pollutants,
               "y": [names.get(d, d) for d in districts], "text": text,
               "texttemplate": "%{text}", "textfont": {"size": 14}, "customdata": hover,
               "hovertemplate": "%{customdata}<extra></extra>", "colorscale": scale,
               "zmin": 0, "zmax": 1.5, "xgap": 3, "ygap": 3, "showscale": True,
               "colorbar": {"title": {"text": "÷ 目标" if lang == "zh" else "÷ target"},
                            "tickvals": [0, 0.5, 0.9, 1.0, 1.5],
                            "ticktext": ["0", "50%", "90%", "100%", "≥150%"],
                            "thickness": 12}}
    return fast_figure([heatmap], {
        "yaxis": {"autorange": "reversed", "gridcolor": "rgba(0,0,0,0)", "showline": False},
        "xaxis": {"side": "top", "showline": False},
        "plot_bgcolor": "#eef1f4", "margin": {"l": 90, "r": 20, "t": 70, "b": 20},
        "height": max(240, 60 + 44 * len(districts))}, title=title)
