"""Map figure: the city's stations where they stand, coloured by AQI or by a statistic.

Works without internet. Plotly's geographic traces (``Scattergeo``) fetch
their base map (``topojsonURL``, default ``https://cdn.plot.ly/un/``) as soon
as any land, coast or border layer is shown, and tile maps need a tile server;
neither is available on a bureau's offline machine. So the map is a plain
cartesian scatter: longitude on x, latitude on y, with the y axis scaled by
``1 / cos(latitude)`` (``scaleanchor``) so that a kilometre is as long north–
south as east–west at the city's latitude (an equirectangular projection,
exact enough for one city), a scale bar, and an outline around each
district's stations (the convex hull of small circles around them) in place
of administrative boundaries, which the project does not ship.

Pure function of a DataFrame (:func:`station_map`); the page builds the frame.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from . import AQI_LEVELS, FONT_FAMILY, NO_DATA_COLOR, aqi_color, base_layout, empty_figure

#: Columns of the frame :func:`station_map` draws.
POINT_COLUMNS = ("code", "name", "district", "district_name", "role", "lon", "lat", "value",
                 "text", "ratio", "usable", "hover")

#: Value ÷ limit → colour: greens below the limit, yellow at it, orange to dark red above.
RATIO_MAX = 3.0
RATIO_STOPS = [(0.0, "#1b7f3b"), (0.9, "#a6d96a"), (1.0, "#fee08b"), (1.5, "#fc8d59"),
               (2.0, "#d73027"), (3.0, "#7E0023")]
RATIO_SCALE = [[r / RATIO_MAX, c] for r, c in RATIO_STOPS]
SYMBOLS = {"evaluation": "circle", "background": "diamond", "excluded": "square"}
MARKER_SIZE = {"evaluation": 30, "background": 28, "excluded": 24}
OUTLINE_FILL = "rgba(21, 101, 192, 0.06)"
OUTLINE_LINE = "rgba(21, 101, 192, 0.45)"
TEXT_DARK, TEXT_LIGHT = "#1f2933", "#ffffff"


def km_per_degree(lat: float) -> tuple[float, float]:
    """(km per degree of longitude, km per degree of latitude) at ``lat`` [degrees]."""
    return 111.32 * math.cos(math.radians(lat)), 110.57


def _text_colour(rgb: str) -> str:
    """Dark or white text, whichever reads better on ``rgb`` ("#rrggbb" or "rgb(r, g, b)")."""
    if rgb.startswith("#"):
        r, g, b = (int(rgb[i:i + 2], 16) for i in (1, 3, 5))
    else:
        r, g, b = (float(x) for x in rgb[rgb.index("(") + 1:rgb.index(")")].split(","))
    lum = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return TEXT_DARK if lum > 140 else TEXT_LIGHT


def ratio_colours(ratio) -> list[str]:
    """Colours of value ÷ limit ratios on :data:`RATIO_SCALE` (grey for NaN)."""
    ratio = np.asarray(ratio, dtype="float64")
    out = [NO_DATA_COLOR] * len(ratio)
    ok = np.isfinite(ratio)
    if ok.any():
        sampled = sample_colorscale(RATIO_SCALE, list(np.clip(ratio[ok], 0, RATIO_MAX)
                                                      / RATIO_MAX))
        for i, colour in zip(np.flatnonzero(ok), sampled):
            out[i] = colour
    return out


def marker_colours(points: pd.DataFrame, mode: str) -> list[str]:
    """The fill colour of each station: AQI level colour (mode ``aqi``) or ratio colour;
    grey where the station has no usable value."""
    usable = points["usable"].to_numpy(dtype=bool)
    if mode == "aqi":
        colours = [aqi_color(v) for v in points["value"]]
    else:
        colours = ratio_colours(points["ratio"])
    return [c if u else NO_DATA_COLOR for c, u in zip(colours, usable)]


def _hull(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Convex hull (Andrew's monotone chain), closed, counter-clockwise."""
    pts = sorted(set(zip(x.round(7).tolist(), y.round(7).tolist())))
    if len(pts) <= 2:
        xs, ys = zip(*(pts + pts[:1]))
        return np.array(xs), np.array(ys)

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
    lower: list = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list = []
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    ring = lower[:-1] + upper[:-1]
    ring.append(ring[0])
    xs, ys = zip(*ring)
    return np.array(xs), np.array(ys)


def district_outlines(points: pd.DataFrame, radius_km: float) -> dict:
    """District id → (lon, lat) of a closed outline around its stations.

    The convex hull of circles of ``radius_km`` around each station: a disc for
    a district with one station, a capsule for two. It shows which stations
    belong together; it is not the district's boundary.
    """
    located = points[points["district"].notna() & (points["district"].astype(str) != "")]
    if located.empty:
        return {}
    lat0 = float(points["lat"].mean())
    kx, ky = km_per_degree(lat0)
    angle = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    dx, dy = radius_km / kx * np.cos(angle), radius_km / ky * np.sin(angle)
    out = {}
    for district, rows in located.groupby("district", sort=True):
        lon = rows["lon"].to_numpy("float64")[:, None] + dx[None, :]
        lat = rows["lat"].to_numpy("float64")[:, None] + dy[None, :]
        out[district] = _hull(lon.ravel(), lat.ravel())
    return out


def _nice_km(span_km: float) -> float:
    """A round length for the scale bar, about a fifth of the map's width."""
    target = max(span_km / 5, 0.5)
    base = 10 ** math.floor(math.log10(target))
    for step in (5, 2, 1):
        if step * base <= target:
            return step * base
    return base


def core_of(lon: np.ndarray, lat: np.ndarray, height: int = 640, width: int = 1120,
            min_px: float = 60, max_share: float = 0.45) -> np.ndarray | None:
    """Stations of the crowded part of a spread-out city (the urban core), or None.

    On the whole map (the left half of a ``width`` × ``height`` px figure) a
    station is crowded when its nearest neighbour is closer than ``min_px``
    pixels (a marker and its label). The core is every station inside the box
    around the crowded ones, returned (a boolean mask) when that box covers at
    most ``max_share`` of the city's extent: enlarged, it separates them.
    """
    if len(lon) < 3:
        return None
    kx, ky = km_per_degree(float(np.mean(lat)))
    x, y = (lon - lon.mean()) * kx, (lat - lat.mean()) * ky
    span = max(np.ptp(x), np.ptp(y))
    if span <= 0:
        return None
    pad = span * 0.035 * 2.2 * 2.6           # what :func:`_extent` adds around the stations
    px_per_km = min((height - 170) / (np.ptp(y) + pad), 0.47 * width / (np.ptp(x) + pad))
    dist = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    np.fill_diagonal(dist, np.inf)
    crowded = dist.min(axis=1) * px_per_km < min_px
    if crowded.sum() < 2:
        return None
    bx, by = x[crowded], y[crowded]
    if max(np.ptp(bx), np.ptp(by)) > max_share * span:
        return None
    core = (x >= bx.min()) & (x <= bx.max()) & (y >= by.min()) & (y <= by.max())
    return None if core.all() else core


def _radius(lon, lat, kx: float, ky: float) -> float:
    """Radius [km] of the circles around stations in district outlines: 3.5 % of the
    panel's extent, between 0.4 and 4 km."""
    span_km = max(np.ptp(lon) * kx, np.ptp(lat) * ky, 4.0)
    return min(max(span_km * 0.035, 0.4), 4.0)


def _extent(lon, lat, radius_km: float, kx: float, ky: float) -> tuple:
    """(x0, x1, y0, y1) around the points with room for outlines and labels."""
    pad_x, pad_y = radius_km * 2.2 / kx, radius_km * 2.2 / ky
    return (float(lon.min() - pad_x), float(lon.max() + pad_x),
            float(lat.min() - pad_y * 1.3), float(lat.max() + pad_y * 1.3))


def station_map(points: pd.DataFrame, *, mode: str = "aqi", lang: str = "zh", title: str = "",
                colorbar_title: str = "", legend_labels: dict | None = None,
                empty_message: str | None = None, height: int = 640,
                inset: bool = True) -> go.Figure:
    """Stations at their coordinates, coloured by AQI level or by value ÷ limit.

    Parameters
    ----------
    points : DataFrame
        One row per station with coordinates (:data:`POINT_COLUMNS`): ``code``,
        ``name`` (display name), ``district`` (id), ``district_name``, ``role``
        (evaluation | background | excluded), ``lon``, ``lat`` [degrees],
        ``value`` (the AQI, or the reported statistic; NaN without one),
        ``text`` (what is printed in the marker), ``ratio`` (value ÷ limit,
        mode ``ratio`` only), ``usable`` (False: drawn grey, no verdict) and
        ``hover`` (HTML shown on hover).
    mode : {"aqi", "ratio"}
        ``aqi``: fill colour of the AQI level (HJ 633, :data:`AQI_LEVELS`),
        with a legend of the levels. ``ratio``: colour of ``ratio`` on
        :data:`RATIO_SCALE` (the limit at 1), with a colour bar.
    legend_labels : dict
        Texts of the legend entries: ``evaluation``, ``background``,
        ``excluded``, ``no_data``, ``inset`` (title of the enlarged core).
    inset : bool
        When the stations of a spread-out city crowd in its centre
        (:func:`core_of`), draw the whole city on the left and the core,
        enlarged, on the right (axes ``x2``/``y2``); the station traces of the
        whole map carry ``meta["panel"] == "main"``, those of the core "inset".
    """
    if points.empty:
        return empty_figure(empty_message or ("暂无数据" if lang == "zh" else "no data"),
                            height=height)
    labels = {"evaluation": "评价点", "background": "对照点", "excluded": "不参与评价",
              "no_data": "无有效数据", "inset": "城区放大"} if lang == "zh" else {
        "evaluation": "evaluation station", "background": "background station",
        "excluded": "excluded station", "no_data": "no valid value",
        "inset": "Urban core, enlarged"}
    labels.update(legend_labels or {})
    points = points.reset_index(drop=True)
    lon, lat = points["lon"].to_numpy("float64"), points["lat"].to_numpy("float64")
    kx, ky = km_per_degree(float(lat.mean()))
    colours = marker_colours(points, mode)
    text_colours = [_text_colour(c) for c in colours]
    roles = np.array([r if r in SYMBOLS else "evaluation" for r in points["role"].tolist()],
                     dtype=object)
    col = {c: points[c].tolist() for c in ("code", "name", "text", "hover")}
    names = dict(zip(points["district"], points["district_name"]))
    district_of = points["district"].to_numpy(dtype=object)

    core = core_of(lon, lat, height) if inset else None
    panels = [("main", "x", "y", np.ones(len(points), dtype=bool))]
    small = np.zeros(len(points), dtype=bool)        # drawn small and unlabelled on the main map
    core_box = None
    if core is not None:
        panels.append(("inset", "x2", "y2", core))
        core_box = _extent(lon[core], lat[core], _radius(lon[core], lat[core], kx, ky), kx, ky)
        small = core
    traces: list[dict] = []
    annotations: list[dict] = []
    shapes: list[dict] = []
    layout_axes: dict = {}
    axis = {"showgrid": True, "gridcolor": "#e4e7eb", "zeroline": False, "showline": True,
            "linecolor": "#9aa5b1", "tickformat": ".2f", "mirror": True}
    for panel, xa, ya, sel_mask in panels:
        plon, plat = lon[sel_mask], lat[sel_mask]
        span_km = max(np.ptp(plon) * kx, np.ptp(plat) * ky, 4.0)
        radius_km = _radius(plon, plat, kx, ky)
        x0, x1, y0, y1 = _extent(plon, plat, radius_km, kx, ky)
        on = {"xaxis": xa, "yaxis": ya}
        ref = {"xref": xa, "yref": ya}
        # district outlines first, so the stations draw over them (all districts: the
        # ones reaching into the core's frame are clipped to it)
        for district, (xs, ys) in district_outlines(points, radius_km).items():
            traces.append({"type": "scatter", "x": xs.tolist(), "y": ys.tolist(),
                           "mode": "lines", "fill": "toself", "fillcolor": OUTLINE_FILL,
                           "hoverinfo": "skip", "showlegend": False,
                           "name": str(names.get(district, district)), **on,
                           "line": {"color": OUTLINE_LINE, "width": 1, "dash": "dot"}})
            top = int(np.argmax(ys))
            inside = x0 <= xs[top] <= x1 and y0 <= ys[top] <= y1
            if panel == "main" and core_box is not None:
                # labelled on the enlarged core instead
                bx0_, bx1_, by0_, by1_ = core_box
                inside &= not (bx0_ <= xs[top] <= bx1_ and by0_ <= ys[top] <= by1_)
                inside &= not small[district_of == district].all()
            if inside:
                annotations.append({"x": float(xs[top]), "y": float(ys[top]), **ref,
                                    "yanchor": "bottom",
                                    "text": f"<i>{names.get(district, district)}</i>",
                                    "showarrow": False,
                                    "font": {"size": 12, "color": "#1565c0"}})
        for role in SYMBOLS:
            sel = np.flatnonzero((roles == role) & sel_mask)
            if not len(sel):
                continue
            edge = {"color": "#1f2933" if role == "evaluation" else "#6b4fbb",
                    "width": 1 if role == "evaluation" else 2.5}
            shrink = small[sel] if panel == "main" else np.zeros(len(sel), dtype=bool)
            traces.append({
                "type": "scatter", "x": lon[sel].tolist(), "y": lat[sel].tolist(), **on,
                "mode": "markers+text", "name": labels[role],
                "text": ["" if k else col["text"][i] for i, k in zip(sel, shrink)],
                "textposition": "middle center",
                "textfont": {"size": 11, "color": [text_colours[i] for i in sel],
                             "family": FONT_FAMILY},
                "marker": {"symbol": SYMBOLS[role],
                           "size": [MARKER_SIZE[role] * (0.5 if k else 1) for k in shrink],
                           "color": [colours[i] for i in sel], "line": edge, "opacity": 1},
                "customdata": [col["hover"][i] for i in sel],
                "hovertemplate": "%{customdata}<extra></extra>", "showlegend": False,
                "meta": {"panel": panel, "role": role, "codes": [col["code"][i] for i in sel]}})
            for i, k in zip(sel, shrink):
                if k:
                    continue
                annotations.append({"x": float(lon[i]), "y": float(lat[i]), **ref,
                                    "yanchor": "top", "yshift": -MARKER_SIZE[role] / 2 - 1,
                                    "text": str(col["name"][i]), "showarrow": False,
                                    "font": {"size": 11, "color": "#323f4b"},
                                    "bgcolor": "rgba(255,255,255,0.75)", "borderpad": 1})
        # scale bar in the lower left corner
        bar_km = _nice_km(span_km)
        bx0 = x0 + (x1 - x0) * 0.04
        by = y0 + (y1 - y0) * 0.04
        bx1 = bx0 + bar_km / kx
        shapes.append({"type": "line", "x0": bx0, "x1": bx1, "y0": by, "y1": by, **ref,
                       "line": {"color": "#323f4b", "width": 3}})
        annotations.append({"x": (bx0 + bx1) / 2, "y": by, **ref, "yanchor": "bottom",
                            "yshift": 2, "text": f"{bar_km:g} km", "showarrow": False,
                            "font": {"size": 11, "color": "#323f4b"}})
        domain = [0, 1] if len(panels) == 1 else ([0, 0.47] if panel == "main" else [0.53, 1])
        name_x, name_y = ("xaxis", "yaxis") if xa == "x" else ("xaxis2", "yaxis2")
        layout_axes[name_x] = {**axis, "domain": domain, "range": [x0, x1], "ticksuffix": "°E",
                               "anchor": ya}
        layout_axes[name_y] = {**axis, "range": [y0, y1], "ticksuffix": "°N", "anchor": xa,
                               "scaleanchor": xa, "scaleratio": ky / kx}
        if panel == "inset":
            # where the core lies on the whole map, and its title
            shapes.append({"type": "rect", "xref": "x", "yref": "y", "x0": x0, "x1": x1,
                           "y0": y0, "y1": y1, "line": {"color": "#52606d", "width": 1,
                                                        "dash": "dash"}})
            annotations.append({"xref": "x2 domain", "yref": "y2 domain", "x": 0, "y": 1,
                                "xanchor": "left", "yanchor": "bottom", "showarrow": False,
                                "text": labels["inset"], "font": {"size": 12,
                                                                  "color": "#52606d"}})

    # legend: the station kinds (neutral), then the AQI levels or the colour bar
    for role in SYMBOLS:
        if (roles == role).any():
            traces.append({"type": "scatter", "x": [None], "y": [None], "mode": "markers",
                           "name": labels[role], "hoverinfo": "skip",
                           "marker": {"symbol": SYMBOLS[role], "size": 12, "color": "#ffffff",
                                      "line": {"color": "#1f2933" if role == "evaluation"
                                               else "#6b4fbb",
                                               "width": 1 if role == "evaluation" else 2.5}}})
    if mode == "aqi":
        bounds = [0] + [int(u) + 1 for u, *_ in AQI_LEVELS[:-1]]
        for i, (upper, colour, _text, zh, en) in enumerate(AQI_LEVELS):
            rng = f"{bounds[i]}–{int(upper)}" if math.isfinite(upper) else f">{bounds[i] - 1}"
            traces.append({"type": "scatter", "x": [None], "y": [None], "mode": "markers",
                           "name": f"{zh if lang == 'zh' else en} {rng}", "hoverinfo": "skip",
                           "marker": {"symbol": "square", "size": 13, "color": colour}})
    else:
        traces.append({"type": "scatter", "x": [None], "y": [None], "mode": "markers",
                       "showlegend": False, "hoverinfo": "skip",
                       "marker": {"color": [0], "colorscale": RATIO_SCALE, "cmin": 0,
                                  "cmax": RATIO_MAX, "showscale": True, "colorbar": {
                                      "title": {"text": colorbar_title, "side": "right"},
                                      "thickness": 12, "len": 0.75,
                                      "tickvals": [0, 0.5, 1, 1.5, 2, 3],
                                      "ticktext": ["0", "0.5", "<b>1</b>", "1.5", "2", "≥3"]}}})
    if (~points["usable"].astype(bool)).any():
        traces.append({"type": "scatter", "x": [None], "y": [None], "mode": "markers",
                       "name": labels["no_data"], "hoverinfo": "skip",
                       "marker": {"symbol": "square", "size": 13, "color": NO_DATA_COLOR}})

    base = _base_layout()
    # shallow copies of what is changed: the shared template is read-only (deep-copying it
    # would cost more than the rest of the figure)
    layout = {**base, "title": {**base.get("title", {}), "text": title}}
    layout.update(
        height=height, annotations=annotations, shapes=shapes, plot_bgcolor="#f7f9fb",
        margin={"l": 60, "r": 20, "t": 60, "b": 40}, hovermode="closest", dragmode="zoom",
        **{k: {**base.get(k[:5], {}), **v} for k, v in layout_axes.items()})
    layout["legend"] = {**base.get("legend", {}), "orientation": "h", "yanchor": "top",
                        "y": -0.07, "xanchor": "left", "x": 0, "itemclick": False,
                        "itemdoubleclick": False}
    # unvalidated (plotly's validation of ~40 annotations costs more than the page's
    # budget); tests check the same specification through a validating go.Figure
    return go.Figure(data=traces, layout=layout, _validate=False)


@lru_cache(maxsize=1)
def _base_layout() -> dict:
    """:func:`dashboard.figures.base_layout` as a plain dict (built once)."""
    fig = go.Figure()
    base_layout(fig, "")
    return fig.layout.to_plotly_json()


__all__ = ["POINT_COLUMNS", "RATIO_SCALE", "district_outlines", "marker_colours",
           "ratio_colours", "station_map", "core_of"]
