"""Exceedances figures: a district × day grid and an openair-style calendar.

Pure functions: frames of :class:`dashboard.queries.ExceedanceData` in, plotly
figures out. The builders here only *present* what indicators computed: the
AQI and its level come from ``indicators.aqi``, "exceeds" and the exceedance
multiple from ``indicators.statistics.exceedances``, the limit of each day from
``indicators.daily_limits``. Everything is vectorised (a year grid is 9 rows ×
365 days); the only per-value Python is number formatting.

Cell states
-----------
AQI mode: 0 = no valid AQI (grey), 1…6 = the HJ 633 levels (优 … 严重污染).
Pollutant mode: 0 = no valid daily value, 1 = within the daily limit,
2 = above the local (annual) target level but within the daily limit (only
when comparing with targets; indicative), 3 = above the daily limit.
"""
from __future__ import annotations

import calendar as _calendar

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from config.vocabulary import POLLUTANTS, unit_of

from ..i18n import t
from . import AQI_LEVELS, LIMIT_COLOR, NO_DATA_COLOR, empty_figure, fast_figure


WITHIN_COLOR = "#a8d5b5"
ABOVE_TARGET_COLOR = "#f0a030"
OVER_COLOR = LIMIT_COLOR
WEEKDAYS = {"zh": ["一", "二", "三", "四", "五", "六", "日"],
            "en": ["M", "T", "W", "T", "F", "S", "S"]}


# -- labels and numbers ---------------------------------------------------------------

def pollutant_label(pollutant: str, lang: str = "zh") -> str:
    """``O3`` is the daily maximum 8-h mean (MDA8); the others their 24-h means."""
    if pollutant == "O3":
        return "O3 (日最大8小时)" if lang == "zh" else "O3 (MDA8)"
    return pollutant


def primary_labels(primary: pd.Series) -> pd.Series:
    """AQI ``primary`` inputs as people read them.

    ``O3_8h`` → ``O3 (8h)``, ``O3_1h`` → ``O3 (1h)``, ``PM2.5_24h`` → ``PM2.5``.
    """
    s = pd.Series(primary).fillna("").astype(str)
    return (s.str.replace("O3_8h", "O3 (8h)", regex=False)
             .str.replace("O3_1h", "O3 (1h)", regex=False)
             .str.replace("_24h", "", regex=False).str.replace("_8h", "", regex=False)
             .str.replace(",", ", ", regex=False))


def fmt(values) -> pd.Series:
    """Published numbers as text: ``154``, ``1.3``; empty for NaN (values are already rounded)."""
    s = pd.Series(values)
    num = pd.to_numeric(s, errors="coerce").astype("float64").to_numpy()
    return pd.Series(["" if v != v else f"{v:g}" for v in num], index=s.index, dtype=object)


# -- states ------------------------------------------------------------------------------

def aqi_states(aqi, levels=AQI_LEVELS) -> np.ndarray:
    """0 for no valid AQI, else 1 + the index of the AQI's level in ``levels``."""
    values = pd.to_numeric(pd.Series(aqi), errors="coerce").astype("float64").to_numpy()
    uppers = np.array([lv[0] for lv in levels[:-1]], dtype="float64")
    state = np.searchsorted(uppers, values, side="left") + 1
    return np.where(np.isnan(values), 0, state).astype(np.int64)


def aqi_state_legend(levels=AQI_LEVELS, lang: str = "zh") -> list[tuple[str, str]]:
    """(colour, label) of each AQI state, state 0 (no valid AQI) first."""
    return [(NO_DATA_COLOR, t("excfig.no_aqi", lang))] + [
        (lv[1], lv[3] if lang == "zh" else lv[4]) for lv in levels]


def pollutant_states(reported, limit, exceeds, target=None) -> np.ndarray:
    """0 no valid value (or no limit), 1 within, 2 above the target level, 3 above the limit.

    ``exceeds`` is ``indicators.statistics.exceedances``' verdict (the limit
    comparison is never redone here). ``target`` (optional, per row, NaN where
    the area has none) marks valid days above an annual target value that are
    not above the daily limit: an indication, not a verdict.
    """
    value = pd.to_numeric(pd.Series(reported)).astype("float64").to_numpy()
    lim = pd.to_numeric(pd.Series(limit)).astype("float64").to_numpy()
    over = np.asarray(exceeds, dtype=bool)
    state = np.where(np.isnan(value) | np.isnan(lim), 0, 1)
    if target is not None:
        tgt = pd.to_numeric(pd.Series(target)).astype("float64").to_numpy()
        with np.errstate(invalid="ignore"):
            state = np.where((state == 1) & ~np.isnan(tgt) & (value > tgt), 2, state)
    return np.where(over, 3, state).astype(np.int64)


def pollutant_state_legend(lang: str = "zh", target: bool = False) -> list[tuple[str, str]]:
    """(colour, label) per pollutant state; without targets state 2 has no label (unused)."""
    return [(NO_DATA_COLOR, t("excfig.no_value", lang)),
            (WITHIN_COLOR, t("excfig.within", lang)),
            (ABOVE_TARGET_COLOR, t("excfig.above_target", lang) if target else ""),
            (OVER_COLOR, t("excfig.over", lang))]


# -- hover text ----------------------------------------------------------------------------

def _aqi_lines(aqi: pd.DataFrame, lang: str) -> pd.Series:
    """"AQI 378 严重污染 · 首要污染物 PM2.5" per AQI row ("no valid AQI" where NA)."""
    n = len(aqi)
    value = fmt(pd.to_numeric(aqi["aqi"]).astype("float64")).reset_index(drop=True)
    col = "category_zh" if lang == "zh" else "category_en"
    cat = (pd.Series(aqi[col].fillna("").astype(str).to_numpy(), dtype=object) if col in aqi
           else pd.Series([""] * n, dtype=object))
    prim = (pd.Series(primary_labels(aqi["primary"]).to_numpy(), dtype=object)
            if "primary" in aqi else pd.Series([""] * n, dtype=object))
    line = "AQI " + value + " " + cat
    line = line.where(prim == "", line + f" · {t('excfig.primary', lang)} " + prim)
    return line.where(value != "", t("excfig.no_aqi", lang))


def _over_text(days: pd.DataFrame) -> pd.Series:
    """"PM2.5 254 > 75 (2.39)" per exceeding row of ``days`` (value > limit (multiple))."""
    d = days.reset_index(drop=True)
    return (d["pollutant"].astype(str).astype(object) + " " + fmt(d["reported"]) + " > "
            + fmt(d["limit"]) + " (" + fmt(d["multiple"]) + ")")


def aqi_cells(aqi: pd.DataFrame, days: pd.DataFrame, lang: str = "zh",
              levels=AQI_LEVELS) -> pd.DataFrame:
    """One cell per area and day coloured by the AQI level.

    Returns area, date, state (:func:`aqi_states`), aqi, info (the hover text
    below the area and date: AQI, category, primary pollutant and the
    pollutants above their limit as "pollutant value > limit (multiple)").
    """
    a = aqi.reset_index(drop=True)
    hover = _aqi_lines(a, lang)
    over = days[days["exceeds"]].reset_index(drop=True)
    if len(over) and len(a):
        joined = (over.assign(_t=_over_text(over)).groupby(["area", "date"], sort=False)["_t"]
                  .agg("; ".join))
        key = pd.MultiIndex.from_arrays([a["area"], a["date"]])
        extra = pd.Series(joined.reindex(key).to_numpy(), dtype=object)
        hover = hover.where(extra.isna(),
                            hover + f"<br>{t('excfig.exceeded', lang)}: " + extra.fillna(""))
    return pd.DataFrame({"area": a["area"], "date": a["date"],
                         "state": aqi_states(a["aqi"], levels), "aqi": a["aqi"],
                         "info": hover.to_numpy()})


def pollutant_cells(days: pd.DataFrame, aqi: pd.DataFrame, pollutant: str, lang: str = "zh",
                    targets: dict | None = None) -> pd.DataFrame:
    """One cell per area and day for one pollutant against its daily limit.

    ``targets``: area → annual target value (only when comparing with targets).
    Returns area, date, state (:func:`pollutant_states`), reported, limit,
    ratio (reported ÷ limit, NaN without a valid value or a limit), info (hover
    text below the area and date).
    """
    d = days[days["pollutant"] == pollutant].reset_index(drop=True)
    target = d["area"].map(targets).astype("float64") if targets else None
    state = pollutant_states(d["reported"], d["limit"], d["exceeds"], target)
    limit_word = t("excfig.limit_mda8" if pollutant == "O3" else "excfig.limit_24h", lang)
    value, lim, multiple = fmt(d["reported"]), fmt(d["limit"]), fmt(d["multiple"])
    over = d["exceeds"].to_numpy(dtype=bool)
    head = pollutant_label(pollutant, lang) + " "
    measured = head + value + " " + unit_of(pollutant)
    line = measured + " · " + limit_word + " " + lim
    line = line.where(~over, line + f" · {t('excfig.multiple', lang)} " + multiple)
    line = line.where(over, line + f" ({t('excfig.not_over', lang)})")
    line = line.where(lim != "", measured + f" ({t('excfig.no_limit', lang)})")
    capture = pd.Series([t("excfig.hours", lang, n=n, m=m)
                         for n, m in zip(d["n_valid"], d["n_required"])], dtype=object)
    line = line.where(value != "", head + t("excfig.no_value", lang) + " (" + capture + ")")
    if target is not None:
        tg = fmt(target)
        line = line.where(tg == "", line + f"<br>{t('excfig.target', lang)} " + tg)
    if len(aqi) and len(d):
        a = aqi.reset_index(drop=True)
        lines = pd.Series(_aqi_lines(a, lang).to_numpy(),
                          index=pd.MultiIndex.from_arrays([a["area"], a["date"]]))
        key = pd.MultiIndex.from_arrays([d["area"], d["date"]])
        aline = pd.Series(lines.reindex(key).to_numpy(), dtype=object).fillna(
            t("excfig.no_aqi", lang))
    else:
        aline = pd.Series([t("excfig.no_aqi", lang)] * len(d), dtype=object)
    hover = line + "<br>" + aline
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = d["reported"].to_numpy("float64") / d["limit"].to_numpy("float64")
    return pd.DataFrame({"area": d["area"], "date": d["date"], "state": state,
                         "reported": d["reported"], "limit": d["limit"], "ratio": ratio,
                         "info": hover.to_numpy()})


# -- the district × day grid ----------------------------------------------------------

def _discrete_scale(colours: list[str]) -> list:
    n = len(colours)
    scale = []
    for i, colour in enumerate(colours):
        scale += [[i / n, colour], [(i + 1) / n, colour]]
    return scale


def _legend_traces(legend: list[tuple[str, str]]) -> list[dict]:
    """Square markers naming the colours (the heat maps themselves show no scale)."""
    return [{"type": "scatter", "x": [None], "y": [None], "mode": "markers", "name": label,
             "marker": {"symbol": "square", "size": 13, "color": colour,
                        "line": {"width": 1, "color": "#9aa5b1"}},
             "hoverinfo": "skip", "showlegend": True}
            for colour, label in legend if label]


def _legend_layout() -> dict:
    return {"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "left", "x": 0,
            "font": {"size": 12}, "itemclick": False, "itemdoubleclick": False}


def _month_tick(year: int, month: int, lang: str, with_year: bool) -> str:
    if lang == "zh":
        return f"{year}年{month}月" if with_year else f"{month}月"
    name = _calendar.month_abbr[month]
    return f"{name} {year}" if with_year else name


def day_grid(cells: pd.DataFrame, order: list, names: dict, start, end, *,
             legend: list[tuple[str, str]], title: str = "", lang: str = "zh") -> go.Figure:
    """Areas (rows, in ``order``) × days (columns) coloured by state.

    Parameters
    ----------
    cells : DataFrame
        area, date, state (int index into ``legend``), info (hover text) — from
        :func:`aqi_cells` or :func:`pollutant_cells`.
    order : list
        Area ids top to bottom (the city first).
    names : dict
        Area id → row label.
    legend : list of (colour, label)
        One per state; state 0 is "no data" (grey). A day without a cell is
        shown as state 0.

    The heat map's ``z`` holds the states (rows × days), so a test can read a
    day's colour as ``legend[z[row][day]][0]``.
    """
    dates = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="D")
    if not len(order) or not len(dates):
        return empty_figure(t("excfig.no_data", lang))
    n_rows, n_days = len(order), len(dates)
    z = np.zeros((n_rows, n_days), dtype=np.int64)
    rows = [names.get(a, a) for a in order]
    hover = np.full((n_rows, n_days), t("excfig.no_data", lang), dtype=object)
    if len(cells):
        ri = pd.Index(order).get_indexer(pd.Index(cells["area"]))
        di = ((pd.to_datetime(cells["date"]).to_numpy("datetime64[D]")
               - np.datetime64(dates[0].date(), "D")).astype(np.int64))
        ok = (ri >= 0) & (di >= 0) & (di < n_days)
        z[ri[ok], di[ok]] = cells["state"].to_numpy()[ok]
        hover[ri[ok], di[ok]] = cells["info"].to_numpy(dtype=object)[ok]
    colours = [c for c, _ in legend]
    heat = {"type": "heatmap", "z": z, "x": dates, "y": rows, "customdata": hover,
            "hovertemplate": "<b>%{y}</b> %{x|%Y-%m-%d}<br>%{customdata}<extra></extra>",
            "colorscale": _discrete_scale(colours), "zmin": -0.5, "zmax": len(colours) - 0.5,
            "showscale": False, "xgap": 1 if n_days <= 92 else 0, "ygap": 2}
    if n_days > 92:
        # month names from Python, not from the browser locale (the graphs run in zh-CN)
        firsts = dates[dates.day == 1]
        text = [_month_tick(d.year, d.month, lang, with_year=i == 0 or d.month == 1)
                for i, d in enumerate(firsts)]
        ticks = {"tickmode": "array", "tickvals": list(firsts), "ticktext": text}
    else:
        ticks = {"tickformat": "%m-%d", "dtick": 86400000 * (1 if n_days <= 16 else
                                                              2 if n_days <= 31 else 7)}
    return fast_figure([heat, *_legend_traces(legend)], {
        "xaxis": {"showgrid": False, "showline": False, "zeroline": False, "ticks": "outside",
                  "range": [dates[0] - pd.Timedelta(hours=12), dates[-1] + pd.Timedelta(hours=12)],
                  **ticks},
        "yaxis": {"autorange": "reversed", "showgrid": False, "zeroline": False,
                  "showline": False, "type": "category"},
        "height": 130 + 30 * n_rows, "plot_bgcolor": "#ffffff", "hovermode": "closest",
        "margin": {"l": 90, "r": 20, "t": 90, "b": 40}, "legend": _legend_layout()}, title)


# -- the calendar -------------------------------------------------------------------------

RATIO_MIN, RATIO_MAX = -0.25, 3.0        # below 0: the "no data" band
RATIO_NODATA = -0.125


def _ratio_pos(v: float) -> float:
    return (v - RATIO_MIN) / (RATIO_MAX - RATIO_MIN)


def ratio_colorscale() -> list:
    """Limit-aware scale of value ÷ limit: greens up to the limit, a step to orange-red
    at the limit, darkening to ≥ 3 × the limit; grey below 0 for days without a value."""
    eps = 1e-6
    return [[0, NO_DATA_COLOR], [_ratio_pos(0) - eps, NO_DATA_COLOR],
            [_ratio_pos(0), "#edf8e9"], [_ratio_pos(0.5), "#a1d99b"],
            [_ratio_pos(1) - eps, "#fee391"], [_ratio_pos(1), "#fc8d59"],
            [_ratio_pos(2), "#d7301f"], [1, "#67000d"]]


def calendar_months(start, end) -> list[tuple[int, int]]:
    """(year, month) of every month touched by start … end."""
    months = pd.period_range(pd.Timestamp(start).to_period("M"),
                             pd.Timestamp(end).to_period("M"), freq="M")
    return [(p.year, p.month) for p in months]


def calendar(cells: pd.DataFrame, start, end, *, mode: str = "aqi",
             legend: list[tuple[str, str]] | None = None, title: str = "", lang: str = "zh",
             ratio_title: str = "") -> go.Figure:
    """openair-style calendar: one small month (weeks × weekdays, Monday first) per month.

    Parameters
    ----------
    cells : DataFrame
        date, info (hover text) and ``state`` (mode ``"aqi"``: index into ``legend``) or
        ``ratio`` (mode ``"ratio"``: value ÷ limit, NaN = no valid value).
    start, end : date
        Days of the period; days of the shown months outside it stay blank.
    mode : {"aqi", "ratio"}
        AQI levels (discrete colours) or value ÷ limit on :func:`ratio_colorscale`.

    ``z`` of the heat map holds, per day cell, the state (aqi) or the clipped
    ratio (``RATIO_NODATA`` for a day of the period without a value); the
    cell ``text`` is the day of the month.
    """
    months = calendar_months(start, end)
    if not months:
        return empty_figure(t("excfig.no_data", lang))
    n = len(months)
    ncols = n if n <= 6 else 6
    nblock_rows = -(-n // ncols)
    bw, bh = 8, 9                     # block: 7 weekdays + gap; title, header, 6 weeks + gap
    width_cells, height_cells = ncols * bw - 1, nblock_rows * bh - 1
    z = np.full((height_cells, width_cells), np.nan)
    text = np.full(z.shape, "", dtype=object)
    hover = np.full(z.shape, "", dtype=object)
    first, last = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    all_days = pd.date_range(pd.Timestamp(months[0][0], months[0][1], 1),
                             pd.Timestamp(months[-1][0], months[-1][1], 1)
                             + pd.offsets.MonthEnd(0), freq="D")
    # position of every day: month block (months are consecutive), week row, weekday column
    block = np.asarray((all_days.year - months[0][0]) * 12 + (all_days.month - months[0][1]))
    weekday = np.asarray(all_days.day_of_week)
    day = np.asarray(all_days.day)
    first_wd = (weekday - (day - 1)) % 7             # weekday of the 1st of the month
    week = (day - 1 + first_wd) // 7
    rows = (block // ncols) * bh + 2 + week
    cols = (block % ncols) * bw + weekday
    in_period = np.asarray((all_days >= first) & (all_days <= last))
    nodata = RATIO_NODATA if mode == "ratio" else 0
    r_in, c_in = rows[in_period], cols[in_period]
    z[r_in, c_in] = nodata
    text[r_in, c_in] = day[in_period].astype(str)
    day_str = np.asarray(all_days.strftime("%Y-%m-%d"), dtype=object)
    hover[r_in, c_in] = day_str[in_period] + f"<br>{t('excfig.no_data', lang)}"
    if len(cells):
        pos = ((pd.to_datetime(cells["date"]).to_numpy("datetime64[D]")
                - np.datetime64(all_days[0].date(), "D")).astype(np.int64))
        ok = (pos >= 0) & (pos < len(all_days))
        ok &= in_period[np.clip(pos, 0, len(all_days) - 1)]
        p = pos[ok]
        if mode == "ratio":
            vals = cells["ratio"].to_numpy("float64")[ok]
            vals = np.where(np.isnan(vals), nodata, np.clip(vals, 0, RATIO_MAX))
        else:
            vals = cells["state"].to_numpy()[ok].astype("float64")
        z[rows[p], cols[p]] = vals
        hover[rows[p], cols[p]] = day_str[p] + "<br>" + cells["info"].to_numpy(dtype=object)[ok]
    cell_px = 24 if n > 6 else (30 if n > 3 else 40)
    common = {"type": "heatmap", "z": z, "text": text, "customdata": hover,
              "texttemplate": "%{text}", "hovertemplate": "%{customdata}<extra></extra>",
              "xgap": 2, "ygap": 2, "hoverongaps": False,
              "textfont": {"size": 10 if cell_px <= 24 else 12}}
    if mode == "ratio":
        heat = {**common, "colorscale": ratio_colorscale(), "zmin": RATIO_MIN,
                "zmax": RATIO_MAX, "colorbar": {
                    "title": {"text": ratio_title, "side": "right"}, "thickness": 12,
                    "len": 1.0, "tickvals": [RATIO_NODATA, 0, 0.5, 1, 2, 3],
                    "ticktext": [t("excfig.no_data", lang), "0", "0.5×",
                                 "1× " + t("excfig.limit", lang), "2×", "≥3×"]}}
        extra = []
    else:
        legend = legend or aqi_state_legend(lang=lang)
        colours = [c for c, _ in legend]
        heat = {**common, "colorscale": _discrete_scale(colours), "zmin": -0.5,
                "zmax": len(colours) - 0.5, "showscale": False}
        extra = _legend_traces(legend)
    # month titles and weekday headers: one text trace
    tx, ty, tt = [], [], []
    weekdays = WEEKDAYS["zh" if lang == "zh" else "en"]
    for i, (y, m) in enumerate(months):
        bx, by = (i % ncols) * bw, (i // ncols) * bh
        tx.append(bx + 3)
        ty.append(by)
        tt.append(f"<b>{y} 年 {m} 月</b>" if lang == "zh"
                  else f"<b>{_calendar.month_abbr[m]} {y}</b>")
        tx.extend(bx + k for k in range(7))
        ty.extend([by + 1] * 7)
        tt.extend(weekdays)
    labels = {"type": "scatter", "x": tx, "y": ty, "text": tt, "mode": "text",
              "hoverinfo": "skip", "showlegend": False,
              "textfont": {"size": 11, "color": "#52606d"}}
    return fast_figure([heat, labels, *extra], {
        "xaxis": {"visible": False, "range": [-0.6, width_cells - 0.4], "showgrid": False,
                  "zeroline": False},
        "yaxis": {"visible": False, "range": [height_cells - 0.4, -0.6], "showgrid": False,
                  "zeroline": False, "scaleanchor": "x", "scaleratio": 1},
        "height": int(120 + cell_px * height_cells), "plot_bgcolor": "#ffffff",
        "margin": {"l": 20, "r": 20, "t": 90, "b": 10}, "hovermode": "closest",
        "legend": _legend_layout()}, title)
