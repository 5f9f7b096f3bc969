"""Temporal variation of hourly values and their data capture (openair ``timeVariation``-like).

* :func:`time_variation` — the mean of the valid hourly values by hour of
  day, by day of the week and by month, with the number of values behind
  each mean (openair returns its data beside its plot; so does this);
* :func:`capture_by_month` — the share of the hours of each month (within a
  period) that hold a valid hourly value, per pollutant.

Input: hourly values in the :data:`indicators.frames.HOURLY_COLUMNS` layout
(``station``, ``time`` = start of the hour in China Standard Time, one column
per pollutant). As everywhere in ``indicators``, NaN means "no valid value":
missing, or excluded by QC before the frame was built
(``store.frames.hourly_frame`` applies ``config/qc.yaml``
``exclude_from_statistics``), so the profiles count exactly the hours the
statistics count. Hourly values are valid as delivered unless flagged
(standards.md §3: "sources that deliver hourly values are taken as valid
unless flagged").

These are diagnostics, not published statistics: means are returned
unrounded. Capture is a rate and is rounded once, half to even, to 0.1 %
(standards.md §4: "rates: percentages to 0.1").

Pure and vectorised (``numpy.bincount`` over integer keys); no database,
no plotting.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .frames import POLLUTANTS
from .rounding import round_ratio

BY = ("hour", "weekday", "month")
VARIATION_COLUMNS = ("station", "pollutant", "by", "key", "mean", "n")
CAPTURE_COLUMNS = ("station", "pollutant", "month", "n_valid", "n_hours", "capture")
#: Number of keys of each grouping: hours 0–23, weekdays 0 (Monday) – 6, months 1–12.
_SIZE = {"hour": 24, "weekday": 7, "month": 12}


def _calendar(times) -> dict[str, np.ndarray]:
    """Hour of day 0–23, weekday 0 = Monday … 6 = Sunday, month 1–12 of naive CST times."""
    t = np.asarray(pd.to_datetime(pd.Series(times)).to_numpy(), dtype="datetime64[h]")
    hours = t.astype(np.int64)
    days = np.floor_divide(hours, 24)
    months = t.astype("datetime64[M]").astype(np.int64)
    return {"hour": hours - days * 24,
            "weekday": (days + 3) % 7,            # 1970-01-01 was a Thursday (weekday 3)
            "month": months % 12 + 1}


def _stations(hourly: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    if "station" in hourly.columns:
        codes, uniques = pd.factorize(hourly["station"].astype(str), sort=True)
        return codes.astype(np.int64), np.asarray(uniques, dtype=object)
    return np.zeros(len(hourly), dtype=np.int64), np.array([""], dtype=object)


def time_variation(hourly: pd.DataFrame, pollutants=None) -> pd.DataFrame:
    """Mean of the valid hourly values by hour of day, weekday and month.

    Parameters
    ----------
    hourly : DataFrame
        ``station``, ``time`` (start of the hour, naive CST) and pollutant
        columns [µg/m³; CO mg/m³]; NaN = no valid value.
    pollutants : iterable of str, optional
        Pollutant columns to profile (default those of ``POLLUTANTS`` present).

    Returns
    -------
    DataFrame with :data:`VARIATION_COLUMNS`, one row per station, pollutant,
    grouping and key — every key, also those without values:

    ``by``    ``hour`` (key 0–23: the hour starting at key:00), ``weekday``
              (key 0 = Monday … 6 = Sunday), ``month`` (key 1–12)
    ``mean``  mean of the valid values [unit of the pollutant], NaN when ``n`` is 0
    ``n``     number of valid hourly values behind the mean
    """
    pollutants = [p for p in (pollutants or POLLUTANTS) if p in hourly.columns]
    st_code, st_names = _stations(hourly)
    n_st = len(st_names)
    if len(hourly) == 0 or not pollutants:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in VARIATION_COLUMNS})
    cal = _calendar(hourly["time"])
    parts = []
    for by in BY:
        size = _SIZE[by]
        key0 = cal[by] - (1 if by == "month" else 0)
        cell = st_code * size + key0                     # station × key
        for p in pollutants:
            x = pd.to_numeric(hourly[p], errors="coerce").to_numpy(dtype="float64")
            ok = ~np.isnan(x)
            n = np.bincount(cell[ok], minlength=n_st * size)
            s = np.bincount(cell[ok], weights=x[ok], minlength=n_st * size)
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.where(n > 0, s / np.where(n > 0, n, 1), np.nan)
            keys = np.tile(np.arange(size) + (1 if by == "month" else 0), n_st)
            parts.append(pd.DataFrame({
                "station": np.repeat(st_names, size), "pollutant": p, "by": by,
                "key": keys, "mean": mean, "n": n.astype(np.int64)}))
    return pd.concat(parts, ignore_index=True)


def capture_by_month(hourly: pd.DataFrame, start, end, pollutants=None) -> pd.DataFrame:
    """Share of the hours of each month in ``start`` … ``end`` that hold a valid value.

    Parameters
    ----------
    hourly : DataFrame
        As for :func:`time_variation`; hours outside the period are ignored
        and a stored hour is counted once (the frame has one row per
        station-hour).
    start, end : date-like
        First and last **day** of the period (inclusive, natural days in CST).
    pollutants : iterable of str, optional
        Default: those of ``POLLUTANTS`` present.

    Returns
    -------
    DataFrame with :data:`CAPTURE_COLUMNS`, one row per station, pollutant
    and month of the period (stations: those in ``hourly``):

    ``month``    ``YYYY-MM``
    ``n_valid``  hours with a valid value [h]
    ``n_hours``  hours of the month inside the period (24 × days; CST has no
                 daylight saving) [h]
    ``capture``  ``100 · n_valid / n_hours`` rounded half to even to 0.1 [%]
    """
    pollutants = [p for p in (pollutants or POLLUTANTS) if p in hourly.columns]
    first = np.datetime64(pd.Timestamp(start).date(), "D")
    last = np.datetime64(pd.Timestamp(end).date(), "D")
    if last < first or not pollutants:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in CAPTURE_COLUMNS})
    st_code, st_names = _stations(hourly)
    n_st = len(st_names) if len(hourly) else 0
    m0 = first.astype("datetime64[M]").astype(np.int64)
    m1 = last.astype("datetime64[M]").astype(np.int64)
    months = np.arange(m0, m1 + 1)
    n_m = len(months)
    # hours of each month inside the period
    month_first = np.maximum(months.astype("datetime64[M]").astype("datetime64[D]"), first)
    month_last = np.minimum((months + 1).astype("datetime64[M]").astype("datetime64[D]")
                            - np.timedelta64(1, "D"), last)
    n_hours = ((month_last - month_first).astype(np.int64) + 1) * 24
    labels = np.datetime_as_string(months.astype("datetime64[M]"), unit="M")
    if n_st == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in CAPTURE_COLUMNS})
    t = np.asarray(pd.to_datetime(hourly["time"]).to_numpy(), dtype="datetime64[h]")
    day = t.astype("datetime64[D]")
    inside = (day >= first) & (day <= last)
    mi = t.astype("datetime64[M]").astype(np.int64) - m0
    cell = st_code * n_m + np.where(inside, mi, 0)
    parts = []
    for p in pollutants:
        x = pd.to_numeric(hourly[p], errors="coerce").to_numpy(dtype="float64")
        ok = inside & ~np.isnan(x)
        n_valid = np.bincount(cell[ok], minlength=n_st * n_m).astype(np.int64)
        hours = np.tile(n_hours, n_st)
        parts.append(pd.DataFrame({
            "station": np.repeat(st_names, n_m), "pollutant": p, "month": np.tile(labels, n_st),
            "n_valid": n_valid, "n_hours": hours,
            "capture": round_ratio(100 * n_valid, hours, 1)}))
    return pd.concat(parts, ignore_index=True)
