"""The year-to-date path towards an annual target, and the limit each day is held against.

* :func:`running_mean` — the annual mean as it stands after each day of a year:
  the mean of the valid daily values from 1 January up to that day
  (HJ 663-2013 §4 / standards.md §6, "the same statistics apply to … year to
  date"), rounded once, half to even (GB/T 8170, standards.md §4). Its last
  point is the period's ``annual_mean`` statistic of
  :func:`indicators.statistics.period_statistics`.
* :func:`limits_by_day` — the national limit of each day's profile (or of a
  forced profile), for reference lines under a daily series (standards.md §1:
  daily values are judged by the profile in force that day).

Pure: numpy/pandas in, frames out; no database, no plotting.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from config.standards import Profile, load_profile, load_schedule

from .frames import check_columns
from .rounding import round_half_even, round_ratio, scaled_integers

RUNNING_COLUMNS = ("level", "area", "pollutant", "date", "n_valid", "value", "reported",
                   "profile")


def _as_profile(profile) -> Profile | None:
    if profile is None or isinstance(profile, Profile):
        return profile
    return load_profile(str(profile))


def _rule_profiles(days: np.ndarray, forced: Profile | None) -> np.ndarray:
    """Profile id whose rounding rules apply to a period ending on each day.

    standards.md §1: period rules come from the profile in force at the end of
    the period, or from a forced profile; a forced profile without rounding
    rules (WHO, EU: limits only) leaves the rules to the Chinese profile in force.
    """
    if forced is not None and "rounding" in forced.raw:
        return np.full(len(days), forced.id, dtype=object)
    return load_schedule().in_force(days)


def running_mean(daily: pd.DataFrame, *, profile=None) -> pd.DataFrame:
    """The running (year-to-date) mean after each day, per level, area and pollutant.

    Parameters
    ----------
    daily : DataFrame
        Daily values (:data:`indicators.frames.DAILY_COLUMNS`; ``level``,
        ``area``, ``date``, ``pollutant``, ``value``, ``reported``, ``valid``
        are read) of **one calendar year** or less: the running mean starts at
        each group's first row. Normally the quantities with an annual mean
        (SO2, NO2, PM10, PM2.5), but any daily quantity is accepted.
    profile : str or Profile, optional
        Forced profile for the rounding rules; default the Chinese profile in
        force on each day (a year-to-date period ending that day takes the
        rules of its end, standards.md §1).

    Returns
    -------
    DataFrame with :data:`RUNNING_COLUMNS`, one row per input row, sorted by
    level, area, pollutant and date:

    ``n_valid``   valid daily values from the group's first day to this day [days]
    ``value``     their mean, unrounded [µg/m³; CO mg/m³] (NaN before the first valid day)
    ``reported``  the mean as published: rounded once, half to even, to the
                  pollutant's decimals
    ``profile``   the profile whose rounding rules were applied

    Order of rounding (standards.md §4, setting
    ``rounding.period_from_rounded_daily``, default true): the mean is taken
    over the *published* (rounded) daily values, exactly — as integers on their
    decimal grid, ``Σx / n`` rounded once by
    :func:`indicators.rounding.round_ratio` — so the last point equals the
    ``annual_mean`` statistic of the same days. With the setting off, the
    unrounded daily values are averaged in floats and rounded once.

    Days whose daily value is not valid (standards.md §3) do not count: the
    running mean carries over them unchanged. Dust days are not removed here.

    Examples
    --------
    Reported daily values 10, 11 (valid), 99 (not valid), 12 give running
    means 10, 10.5 → 10 (a tie goes to the even neighbour), 10, 11.
    """
    check_columns(daily, ("level", "area", "date", "pollutant", "value", "reported", "valid"),
                  "daily")
    forced = _as_profile(profile)
    n = len(daily)
    if n == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in RUNNING_COLUMNS})
    days = pd.to_datetime(daily["date"]).to_numpy().astype("datetime64[D]")
    group_keys, group, order, pol_code, uniques = _sorted_groups(daily, days)
    days = days[order]
    reported = pd.to_numeric(daily["reported"]).to_numpy(dtype="float64")[order]
    unrounded = pd.to_numeric(daily["value"]).to_numpy(dtype="float64")[order]
    valid = np.asarray(daily["valid"], dtype=bool)[order] & ~np.isnan(reported)

    pids = _rule_profiles(days, forced)
    decimals, from_rounded, top = _rounding_rules(pids, uniques[2], pol_code)
    within = _cumulative_within(group)
    count = within(valid.astype(np.int64))
    exact_value, exact_reported = _exact_means(within, count, np.where(valid, reported, 0.0),
                                               decimals, top)
    # float path (period_from_rounded_daily: false): unrounded daily values
    float_value = np.where(count > 0,
                           within(np.where(valid, unrounded, 0.0)) / np.where(count > 0, count, 1),
                           np.nan)
    float_reported = round_half_even(float_value, decimals)

    level, area, pol = _group_names(group_keys[group], uniques)
    out = pd.DataFrame({
        "level": level, "area": area, "pollutant": pol,
        "date": days.astype("datetime64[s]"),
        "n_valid": count,
        "value": np.where(from_rounded, exact_value, float_value),
        "reported": np.where(from_rounded, exact_reported, float_reported),
        "profile": pids,
    })
    return out


def _sorted_groups(daily: pd.DataFrame, days: np.ndarray):
    """(group keys, group of each sorted row, the row order (group, date), pollutant code of
    each sorted row, the sorted uniques of level, area, pollutant): the groups (level, area,
    pollutant) from per-column codes (no MultiIndex of strings)."""
    n = len(daily)
    cols = [np.asarray(daily[c], dtype=object) for c in ("level", "area", "pollutant")]
    codes, uniques = zip(*(pd.factorize(c, sort=True) for c in cols))
    key = np.zeros(n, dtype=np.int64)
    for code, uniq in zip(codes, uniques):
        key = key * len(uniq) + code
    group_keys, group = np.unique(key, return_inverse=True)
    order = np.lexsort((days, group))
    return group_keys, group[order], order, codes[2][order], uniques


def _rounding_rules(pids: np.ndarray, pollutants, pol_code: np.ndarray):
    """(decimals of each row, whether its mean is taken from the rounded daily values, the
    finest decimals of all): looked up in a small (profile, pollutant) table."""
    pid_code, pid_u = pd.factorize(pids)
    dec_t = np.array([[load_profile(p).decimals(q) for q in pollutants] for p in pid_u],
                     dtype="int64").reshape(len(pid_u), len(pollutants))
    rounded_t = np.array([bool(load_profile(p).rounding.get("period_from_rounded_daily", True))
                          for p in pid_u], dtype=bool)
    return dec_t[pid_code, pol_code], rounded_t[pid_code], int(dec_t.ravel().max(initial=0))


def _exact_means(within, count: np.ndarray, published: np.ndarray, decimals: np.ndarray,
                 top: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean, as published) of the published values so far, exactly: as integers on one
    common grid (the finest decimals ``top``), ``Σx / n`` rounded once, half to even."""
    total = within(scaled_integers(published, top))
    exact_reported = round_ratio(total, count * 10 ** top, decimals)
    exact_value = np.where(count > 0, total / np.where(count > 0, count, 1) / 10 ** top, np.nan)
    return exact_value, np.where(count > 0, exact_reported, np.nan)


def _cumulative_within(group: np.ndarray):
    """Cumulative sums within the runs of ``group``: global cumulative sums minus the sum
    before each group."""
    n = len(group)
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    first = np.repeat(starts, np.diff(np.r_[starts, n]))

    def within(x: np.ndarray) -> np.ndarray:
        c = np.cumsum(x)
        before = np.where(first > 0, c[first - 1], 0)
        return c - before

    return within


def _group_names(keys: np.ndarray, uniques) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Back from each row's group key to its (level, area, pollutant)."""
    parts, rest = [], keys
    for uniq in reversed(uniques):
        parts.append(np.asarray(uniq, dtype=object)[rest % len(uniq)])
        rest = rest // len(uniq)
    level, area, pol = reversed(parts)
    return level, area, pol


def limits_by_day(dates, pollutant: str, averaging: str, grade: str = "II",
                  profile=None) -> np.ndarray:
    """The national limit each day is held against [µg/m³; CO mg/m³], NaN where none.

    Parameters
    ----------
    dates : array-like of dates
        The days.
    pollutant : str
        SO2, NO2, PM10, PM2.5, CO or O3.
    averaging : str
        ``24h``, ``mda8``, ``annual`` or ``1h`` (the keys of the profile's ``limits``).
    grade : {"I", "II"}
        The area's grade (standards.md §2).
    profile : str or Profile, optional
        A forced profile (its limits apply to every day); default the Chinese
        profile in force on each day (standards.md §1), so a series crossing
        2026-03-01 gets a step in its limit line.
    """
    days = np.asarray(pd.to_datetime(pd.Series(dates)).to_numpy(), dtype="datetime64[D]")
    forced = _as_profile(profile)
    if forced is not None:
        lim = forced.limit(pollutant, averaging, grade)
        return np.full(len(days), np.nan if lim is None else lim, dtype="float64")
    pids = load_schedule().in_force(days)
    out = np.full(len(days), np.nan, dtype="float64")
    for pid in pd.unique(pids):                 # one lookup per profile, not per day
        lim = load_profile(str(pid)).limit(pollutant, averaging, grade)
        if lim is not None:
            out[pids == pid] = lim
    return out
