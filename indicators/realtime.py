"""Hourly exceedances of the real-time values: 1-h limits and the hourly AQI (pure).

What a duty officer watches before a day's mean exists (standards.md §2, §5):

- a **1-h value above its 1-h limit** (GB 3095: SO2, NO2, CO and O3 have 1-h limits; the
  profile in force on the hour's day gives them, for the area's grade), compared as
  published: the 1-h value rounded half to even to the profile's decimals (§4), exceeding
  when strictly above the limit;
- an **hourly AQI above 100** (轻度污染 or worse) and, flagged apart, above the profile's
  ``heavy_above`` (200: 重度污染 or worse).

Input: the frames of :func:`indicators.pipeline.hourly_table` (values and their hourly AQI,
row for row). Output: one row per exceedance.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from config.standards import load_profile

from .rounding import round_ratio, scaled_integers

__all__ = ["HOURLY_EXCEEDANCE_COLUMNS", "LIMIT_POLLUTANTS", "hourly_limits",
           "hourly_exceedances"]

#: Columns of :func:`hourly_exceedances`.
HOURLY_EXCEEDANCE_COLUMNS = ["level", "area", "time", "kind", "pollutant", "value",
                             "threshold", "multiple", "heavy", "aqi", "level_no",
                             "category_zh", "category_en", "colour", "primary", "profile"]
#: Pollutants whose 1-h values may carry a 1-h limit (GB 3095: SO2, NO2, CO, O3).
LIMIT_POLLUTANTS = ("SO2", "NO2", "CO", "O3")
_LEVEL_ORDER = {"city": 0, "district": 1, "station": 2}
_KIND_ORDER = {"aqi": 0, "limit": 1}


def hourly_limits(profile, grade: str = "II") -> dict[str, float]:
    """Pollutant → 1-h limit of ``profile`` for ``grade`` [µg/m³; CO mg/m³] (only those set)."""
    prof = load_profile(profile) if isinstance(profile, str) else profile
    out = {}
    for p in LIMIT_POLLUTANTS:
        value = prof.limit(p, "1h", grade)
        if value is not None:
            out[p] = value
    return out


def hourly_exceedances(values: pd.DataFrame, hourly_aqi: pd.DataFrame,
                       grades: dict | None = None) -> pd.DataFrame:
    """Every 1-h value above its 1-h limit and every hourly AQI above 100.

    Parameters
    ----------
    values : DataFrame
        :func:`indicators.pipeline.hourly_values`: ``level``, ``area``, ``time`` (start
        of the hour, CST) and the 1-h values ``SO2`` … ``PM2.5`` [µg/m³; CO mg/m³]
        (unrounded; an area's value is the mean of its stations').
    hourly_aqi : DataFrame
        :func:`indicators.aqi.hourly_aqi` of ``values`` (same rows): its ``profile``
        column names the profile in force on each hour, whose 1-h limits, decimals and
        ``heavy_above`` apply.
    grades : mapping, optional
        Area (station code, district or city id) → grade ``I``/``II``; default II.

    Returns
    -------
    pandas.DataFrame
        :data:`HOURLY_EXCEEDANCE_COLUMNS`, one row per exceedance: ``kind`` ``limit``
        (``pollutant`` SO2/NO2/CO/O3, ``value`` the published 1-h value, ``threshold``
        its 1-h limit, ``multiple`` (C − S)/S half to even to the profile's
        ``multiple_decimals``) or ``aqi`` (``pollutant`` "AQI", ``value`` the hourly AQI,
        ``threshold`` 100, ``heavy`` when above the profile's ``heavy_above``), with the
        hour's AQI, level number, category, colour and primary pollutant(s) on every row.
        Sorted by time (newest first), then city, districts, stations, area, kind
        (AQI first) and pollutant.
    """
    grades = grades or {}
    if len(values) != len(hourly_aqi):
        raise ValueError("values and hourly_aqi must have the same rows")
    if values.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in HOURLY_EXCEEDANCE_COLUMNS})
    v = values.reset_index(drop=True)
    a = hourly_aqi.reset_index(drop=True)
    areas = v["area"].astype(str).to_numpy(dtype=object)
    grade = np.array([str(grades.get(x, "II")) for x in areas], dtype=object)
    profiles = a["profile"].astype(str).to_numpy(dtype=object)
    aqi = a["aqi"].astype("Float64").to_numpy(np.float64, na_value=np.nan)
    parts = [_aqi_exceedances(aqi, profiles)]
    parts += [_limit_exceedances(v, p, profiles, grade) for p in LIMIT_POLLUTANTS
              if p in v.columns]
    parts = [part for part in parts if part is not None]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in HOURLY_EXCEEDANCE_COLUMNS})
    return _exceedance_frame(pd.concat(parts, ignore_index=True), v, a, areas, profiles)


def _found(mask: np.ndarray, kind: str, pollutant: str, value: np.ndarray,
           threshold: np.ndarray, multiple: np.ndarray, heavy: np.ndarray) -> pd.DataFrame | None:
    """The exceedances of the rows ``mask`` (their row numbers in ``_row``), None if none."""
    i = np.flatnonzero(mask)
    if not len(i):
        return None
    return pd.DataFrame({
        "_row": i, "kind": kind, "pollutant": pollutant, "value": value[i],
        "threshold": threshold[i], "multiple": multiple[i], "heavy": heavy[i]})


def _aqi_exceedances(aqi: np.ndarray, profiles: np.ndarray) -> pd.DataFrame | None:
    """Hourly AQI above the good bar (100); heavy above ``heavy_above`` (200)."""
    n = len(aqi)
    good_max = np.full(n, np.nan)
    heavy_above = np.full(n, np.nan)
    for pid in pd.unique(profiles):
        prof = load_profile(pid)
        sel = profiles == pid
        good_max[sel] = prof.aqi["good_max"]
        heavy_above[sel] = prof.aqi["heavy_above"]
    over = ~np.isnan(aqi) & (aqi > good_max)
    return _found(over, "aqi", "AQI", aqi, good_max, np.full(n, np.nan), over & (aqi > heavy_above))


def _limit_exceedances(v: pd.DataFrame, p: str, profiles: np.ndarray,
                       grade: np.ndarray) -> pd.DataFrame | None:
    """1-h values of ``p`` above their 1-h limit, compared as published (half to even, §4)."""
    n = len(v)
    x = pd.to_numeric(v[p]).to_numpy(np.float64, na_value=np.nan)
    limit = np.full(n, np.nan)
    decimals = np.zeros(n, dtype=np.int64)
    mdec = np.zeros(n, dtype=np.int64)
    for pid in pd.unique(profiles):
        prof = load_profile(pid)
        for g in ("I", "II"):
            sel = (profiles == pid) & (grade == g)
            lim = prof.limit(p, "1h", g)
            limit[sel] = np.nan if lim is None else lim
        sel = profiles == pid
        decimals[sel] = prof.decimals(p)
        mdec[sel] = int(prof.rounding["multiple_decimals"])
    ok = ~np.isnan(x) & ~np.isnan(limit) & (x >= 0)
    xs = scaled_integers(np.where(ok, x, 0.0), decimals, nan_as=0)
    ls = scaled_integers(np.where(ok, limit, 0.0), decimals, nan_as=0)
    exceeds = ok & (ls > 0) & (xs > ls)
    published = xs / np.power(10.0, decimals)
    multiple = np.full(n, np.nan)
    i = np.flatnonzero(exceeds)
    if len(i):
        multiple[i] = np.asarray(round_ratio(xs[i] - ls[i], ls[i], mdec[i]), dtype=float)
    return _found(exceeds, "limit", p, published, limit, multiple, np.zeros(n, dtype=bool))


def _exceedance_frame(found: pd.DataFrame, v: pd.DataFrame, a: pd.DataFrame, areas: np.ndarray,
                      profiles: np.ndarray) -> pd.DataFrame:
    """The exceedances with their hour's AQI columns, newest first (see
    :func:`hourly_exceedances`)."""
    r = found["_row"].to_numpy()
    out = pd.DataFrame({
        "level": v["level"].astype(str).to_numpy(dtype=object)[r],
        "area": areas[r],
        "time": v["time"].to_numpy("datetime64[s]")[r],
        "kind": found["kind"].to_numpy(dtype=object),
        "pollutant": found["pollutant"].to_numpy(dtype=object),
        "value": found["value"].to_numpy(np.float64),
        "threshold": found["threshold"].to_numpy(np.float64),
        "multiple": found["multiple"].to_numpy(np.float64),
        "heavy": found["heavy"].to_numpy(bool),
        "aqi": pd.array(a["aqi"].astype("Int64").to_numpy()[r], dtype="Int64"),
        "level_no": pd.array(a["level_no"].to_numpy()[r], dtype="Int64"),
        "category_zh": a["category_zh"].to_numpy(dtype=object)[r],
        "category_en": a["category_en"].to_numpy(dtype=object)[r],
        "colour": a["colour"].to_numpy(dtype=object)[r],
        "primary": a["primary"].fillna("").astype(str).to_numpy(dtype=object)[r],
        "profile": profiles[r],
    })
    pollutant_order = {p: i for i, p in enumerate(("AQI",) + LIMIT_POLLUTANTS)}
    out = out.assign(_t=out["time"], _l=out["level"].map(_LEVEL_ORDER).fillna(3),
                     _k=out["kind"].map(_KIND_ORDER), _p=out["pollutant"].map(pollutant_order))
    out = out.sort_values(["_t", "_l", "area", "_k", "_p"],
                          ascending=[False, True, True, True, True], kind="stable")
    return out.drop(columns=["_t", "_l", "_k", "_p"]).reset_index(drop=True)[
        HOURLY_EXCEEDANCE_COLUMNS]
