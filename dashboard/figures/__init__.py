"""DataFrame → plotly Figure. Pure functions: no database, no Dash, no network.

Every function takes the tidy frame a query returned (see ``dashboard.queries``
and ``store.queries``) and returns a :class:`plotly.graph_objects.Figure`, so
tests assert on the figure's data and the same figures can later be exported
as static images for the weekly report.
"""
from __future__ import annotations

import re
from functools import lru_cache

import pandas as pd
import plotly.graph_objects as go

from config.vocabulary import POLLUTANTS

from ..i18n import t

FONT_FAMILY = ('"PingFang SC", "Microsoft YaHei", "WenQuanYi Micro Hei", '
               '"Noto Sans CJK SC", sans-serif')

# One colour per pollutant, used by every figure (Okabe–Ito, colour-blind safe).
POLLUTANT_COLORS = {"SO2": "#E69F00", "NO2": "#56B4E9", "PM10": "#009E73",
                    "PM2.5": "#D55E00", "CO": "#0072B2", "O3": "#CC79A7"}


def level_rows(levels) -> list[tuple]:
    """(upper bound, colour, text colour on it, zh, en) per level of a profile's AQI level
    table (:attr:`config.standards.Profile.aqi_levels`); text is white on the dark levels
    (4 and above)."""
    return [(lv.upper, lv.colour, "#ffffff" if lv.level >= 4 else "#1f2933", lv.zh, lv.en)
            for lv in levels]


def _aqi_levels() -> list[tuple]:
    """HJ 633's levels and colours (standards.md §5), from the profile in force today:
    every Chinese profile shares them."""
    from datetime import date

    from config.standards import profile_for_period_end
    return level_rows(profile_for_period_end(date.today()).aqi_levels)


#: AQI levels (HJ 633, standards.md §5): upper bound, colour, text colour on it, zh, en.
AQI_LEVELS = _aqi_levels()
NO_DATA_COLOR = "#d5dae0"
#: Status of a statistic against a target or limit: colour per status.
STATUS_COLORS = {"meets": "#1b7f3b", "at_risk": "#b7791f", "exceeds": "#c62828",
                 "insufficient data": "#7b8794"}
LIMIT_COLOR = "#c62828"       # national limit lines
#: A white halo around value labels: a reference line drawn under the traces
#: (``layer="between"``) then never strikes a label through.
LABEL_HALO = "-1px -1px 0 #fff, 1px -1px 0 #fff, -1px 1px 0 #fff, 1px 1px 0 #fff, 0 0 3px #fff"
TARGET_COLOR = "#1565c0"      # local target lines
WHO_COLOR = "#6b4fbb"         # WHO guideline lines


def aqi_level(aqi) -> int | None:
    """Index into :data:`AQI_LEVELS` of an AQI value (None for NA)."""
    if aqi is None or pd.isna(aqi):
        return None
    for i, (upper, *_rest) in enumerate(AQI_LEVELS):
        if aqi <= upper:
            return i
    return len(AQI_LEVELS) - 1


def aqi_color(aqi) -> str:
    level = aqi_level(aqi)
    return NO_DATA_COLOR if level is None else AQI_LEVELS[level][1]


def aqi_category(aqi, lang: str = "zh") -> str:
    level = aqi_level(aqi)
    if level is None:
        return "无效" if lang == "zh" else "not valid"
    return AQI_LEVELS[level][3 if lang == "zh" else 4]


def aqi_colorscale() -> list:
    """A discrete Plotly colour scale over AQI 0–500 with the level colours."""
    # the last level is open: the scale ends at 500, the top of HJ 633's IAQI table
    bounds = [0, *(upper for upper, *_rest in AQI_LEVELS[:-1]), 500]
    scale = []
    for i, (_, colour, *_rest) in enumerate(AQI_LEVELS):
        lo, hi = bounds[i] / 500, bounds[i + 1] / 500
        scale += [[lo, colour], [hi, colour]]
    return scale


def empty_figure(message: str, height: int = 320) -> go.Figure:
    """A blank figure that says why it is blank (no data for this choice)."""
    return fast_figure([], {
        "annotations": [{"text": message, "showarrow": False, "xref": "paper", "yref": "paper",
                         "x": 0.5, "y": 0.5, "font": {"size": 15, "color": "#616e7c"}}],
        "xaxis": {"visible": False}, "yaxis": {"visible": False}, "height": height})


def base_layout(fig: go.Figure, title: str) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0, "xanchor": "left", "font": {"size": 16}},
        font={"family": FONT_FAMILY, "size": 13, "color": "#1f2933"},
        paper_bgcolor="#ffffff", plot_bgcolor="#ffffff",
        margin={"l": 60, "r": 20, "t": 60, "b": 50},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1},
        hoverlabel={"font": {"family": FONT_FAMILY}},
    )
    fig.update_xaxes(showline=True, linecolor="#9aa5b1")
    fig.update_yaxes(gridcolor="#e4e7eb", zerolinecolor="#9aa5b1")
    return fig


@lru_cache(maxsize=1)
def _house_layout() -> dict:
    """:func:`base_layout` of an empty figure as a plain layout dict (built once, never
    modified: :func:`_merged` copies only the dicts it changes)."""
    return base_layout(go.Figure(), "").layout.to_plotly_json()


def _merged(base: dict, extra: dict) -> dict:
    """``base`` updated with ``extra`` recursively, copying only the dicts on the way."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            out[key] = _merged(base[key], value)
        else:
            out[key] = value
    return out


_AXIS = re.compile(r"[xy]axis\d*")


def fast_figure(traces: list, layout: dict | None = None, title: str = "") -> go.Figure:
    """A figure in the house style (:func:`base_layout`) from traces and a layout dict.

    Why: plotly validates every property it is given and every ``update_*``
    call re-validates the template; ``base_layout`` costs ~10 ms a figure and a
    validated figure of some thirty traces more than a page's whole 200 ms
    budget. Here the house layout is built once, ``layout`` is merged into it
    (nested dicts merged, the shared copy never modified; ``go.Figure`` copies
    what it is given) and the figure is made in one step, unvalidated.

    ``traces`` are plain trace dicts or plotly trace objects; ``layout`` is
    trusted (it is ours: the tests pass the same specification through a
    validating ``go.Figure``). Every axis of ``layout`` (``xaxis``, ``yaxis2``
    …) gets the house axis style under its own settings; ``title`` is the
    title's text (``layout["title"]`` may still place it).
    """
    house = _house_layout()
    extra = {"title": {"text": title}}
    for key, value in (layout or {}).items():
        if key == "title" and isinstance(value, dict):
            value = {"text": title, **value}
        elif isinstance(value, dict) and _AXIS.fullmatch(key):
            value = _merged(house[key[0] + "axis"], value)
        extra[key] = value
    return go.Figure(data=traces, layout=_merged(house, extra), _validate=False)


def readings_by_station(status: pd.DataFrame, *, synthetic: bool | None = None,
                        lang: str = "zh", names: dict[str, str] | None = None) -> go.Figure:
    """Grouped bars: valid readings per station, one trace per pollutant present.

    Parameters
    ----------
    status : DataFrame
        ``store.queries.status_frame`` output: ``station, pollutant, readings, …``.
    synthetic : bool, optional
        Mark the chart as synthetic demo data. Default: true when
        ``status.attrs["synthetic_stations"]`` lists any station.
    lang : {"zh", "en"}
    names : dict, optional
        Station code → display name, shown on hover.
    """
    if synthetic is None:
        synthetic = bool(status.attrs.get("synthetic_stations"))
    title = t("chart.title", lang)
    if synthetic:
        title = f"{t('chart.synthetic', lang)} — {title}"
    fig = go.Figure()
    stations = list(dict.fromkeys(status["station"])) if not status.empty else []
    present = [p for p in POLLUTANTS if p in set(status["pollutant"])] if stations else []
    names = names or {}
    for pollutant in present:
        part = status[status["pollutant"] == pollutant].set_index("station")["readings"]
        counts = part.reindex(stations).fillna(0).astype("int64")
        fig.add_trace(go.Bar(
            name=pollutant, x=stations, y=counts.tolist(),
            marker_color=POLLUTANT_COLORS.get(pollutant),
            customdata=[names.get(s, s) for s in stations],
            hovertemplate=(f"%{{x}} %{{customdata}}<br>{pollutant}: %{{y:,}} "
                           f"{t('chart.readings', lang)}<extra></extra>"),
        ))
    base_layout(fig, title)
    fig.update_layout(barmode="group", bargap=0.25, bargroupgap=0.05,
                      xaxis_title=t("chart.station", lang),
                      yaxis_title=t("chart.readings", lang))
    if not present:
        fig.add_annotation(text=t("chart.empty", lang), showarrow=False,
                           xref="paper", yref="paper", x=0.5, y=0.5, font={"size": 16})
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
    return fig
