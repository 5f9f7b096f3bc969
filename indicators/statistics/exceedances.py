"""Exceedances of the daily limits (GB 3095-2012 Table 1; HJ 663-2013 §5.2; standards.md §6).

SO2, NO2, PM10, PM2.5 and CO daily means are compared with the 24-h limit, the O3
MDA8 with the MDA8 limit, each day against the limit of *its own* profile (the daily
frame's ``profile`` column) unless a profile is forced, and of the area's grade. A day
exceeds when its reported value is strictly above the limit; its multiple is
``(C − S)/S`` half to even to the profile's ``multiple_decimals``.

* :func:`exceedances` — one row per day above its limit;
* :func:`day_exceedances` — the ``exceedance_days`` and ``max_multiple`` of the period
  statistics: the count of such days per group and the largest multiple, *signed*
  (negative when no day exceeds). A period that straddles a profile switch says so in
  ``detail`` ("each day against its own profile's limit (cn-2012, cn-2026-transition)").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from config.standards import GRADE_INDEX, load_profile, load_schedule

from ..rounding import round_ratio, scaled_integers
from .grouping import AreaPeriods, Rows, as_profile, daily_rows, grade_codes, limit_decimals
from .table import DAILY_LIMIT, N_QUANTITIES, POLLUTANTS
from .text import TEXT, join_text

if TYPE_CHECKING:
    from .concentration import DailySetup


@dataclass(frozen=True)
class DayExceedances:
    """Per group: the exceedance days (NaN where the profile sets no daily limit), whether
    that limit is missing, the largest multiple (unrounded, published) and the note on
    days under more than one profile."""
    days: np.ndarray
    limit_missing: np.ndarray
    multiple_value: np.ndarray
    multiple_reported: np.ndarray
    mixed_note: np.ndarray


@dataclass(frozen=True)
class UsedRows:
    """The daily rows a statistic uses (row path), with their group, value on the grid and
    quantity; their day profile and grade are read from ``rows`` only when needed."""
    rows: Rows
    mask: np.ndarray
    ap: np.ndarray
    group: np.ndarray
    x: np.ndarray
    q: np.ndarray
    forced: bool

    def day_profile(self) -> np.ndarray:
        """Code of each row's day profile (0: the forced profile)."""
        codes = np.zeros(len(self.rows), dtype=np.int64) if self.forced else self.rows.prof
        return codes[self.mask]

    def grade(self, ap_grade: np.ndarray) -> np.ndarray:
        return ap_grade[self.ap][self.mask]


def day_exceedances(S: DailySetup, groups: AreaPeriods, cnt: np.ndarray, xs: np.ndarray,
                    used: UsedRows) -> DayExceedances:
    """Exceedance days and the largest multiple of every group (row path): ``cnt``/``xs``
    the counts and the values on the grid sorted within each group."""
    n_groups = S.n_groups
    has = cnt > 0
    gu, x_rep = used.group, used.x
    mixed_note = np.full(n_groups, "", dtype=TEXT)
    single = None
    if (used.forced or len(S.day_profs) == 1) and len(gu):
        single = single_limit_multiples(S, groups.grade, cnt, xs)
    if single is not None:
        lim_g_nan, lim_g_int, mmax_value, mmax_rep = single
        lim_nan = lim_g_nan[gu]
        lim_int = lim_g_int[gu]
        lim_missing = has & lim_g_nan
        over = ~lim_nan & (x_rep > lim_int)
        exc = np.bincount(gu[over], minlength=n_groups).astype("float64")
        exc[lim_missing] = np.nan
    else:
        dp_used = used.day_profile()
        exc, lim_missing, mmax_value, mmax_rep = _against_each_day_limit(
            S, used, dp_used, groups.grade)
        if not used.forced and len(S.day_profs) > 1:
            mixed_note = _mixed_profiles_note(S, gu, dp_used)
    mmax_value[lim_missing] = np.nan
    mmax_rep[lim_missing] = np.nan
    return DayExceedances(exc, lim_missing, mmax_value, mmax_rep, mixed_note)


def _against_each_day_limit(S: DailySetup, used: UsedRows, dp_used: np.ndarray,
                            ap_grade: np.ndarray):
    """(exceedance days, limit missing, largest multiple, as published) of every group,
    each used row against the daily limit of its day's profile and its grade."""
    n_groups = S.n_groups
    gu, x_rep = used.group, used.x
    mmax_value = np.full(n_groups, np.nan)
    mmax_rep = np.full(n_groups, np.nan)
    lut_cell = (dp_used * 2 + used.grade(ap_grade)) * N_QUANTITIES + used.q
    lim_nan = S.lut_missing.reshape(-1)[lut_cell]
    lim_int = S.lut_int.reshape(-1)[lut_cell]
    del lut_cell
    lim_missing = np.bincount(gu[lim_nan], minlength=n_groups) > 0
    over = ~lim_nan & (x_rep > lim_int)
    exc = np.bincount(gu[over], minlength=n_groups).astype("float64")
    exc[lim_missing] = np.nan
    ratio = np.where(lim_int > 0, (x_rep - lim_int) / np.where(lim_int > 0, lim_int, 1),
                     -np.inf)
    if len(gu):
        gmax = np.full(n_groups, -np.inf)
        np.maximum.at(gmax, gu, ratio)
        at = np.flatnonzero((ratio == gmax[gu]) & np.isfinite(ratio))
        first_g, first_i = np.unique(gu[at], return_index=True)
        rows_at = at[first_i]
        mmax_value[first_g] = gmax[first_g]
        mmax_rep[first_g] = round_ratio(x_rep[rows_at] - lim_int[rows_at],
                                        lim_int[rows_at], S.mult_dec[first_g])
    return exc, lim_missing, mmax_value, mmax_rep


def _mixed_profiles_note(S: DailySetup, gu: np.ndarray, dp_used: np.ndarray) -> np.ndarray:
    """For the groups whose days fall under more than one profile: which ones."""
    n_groups = S.n_groups
    present = [np.bincount(gu[dp_used == c], minlength=n_groups) > 0
               for c in range(len(S.day_profs))]
    k_present = np.sum(present, axis=0)
    names = np.full(n_groups, "", dtype=TEXT)
    for c, prof in enumerate(S.day_profs):
        names = join_text(names, np.where(present[c], prof.id, ""), sep=", ")
    return np.where(k_present > 1, "each day against its own profile's limit ("
                    + names + ")", "")


def single_limit_multiples(S: DailySetup, ap_grade, cnt, xs):
    """With one daily limit per group (one profile for every day, or a forced one): the
    limit of each group on the grid, whether it is missing, and the largest multiple —
    the one of the group's largest value, as (x − S)/S rises with x — read off the
    sorted values. None when the values are too large for that argument."""
    n_groups = S.n_groups
    starts = np.cumsum(cnt) - cnt
    has = cnt > 0
    last = starts + cnt - 1
    g_cell = np.repeat(ap_grade, N_QUANTITIES) * N_QUANTITIES + S.g_q   # profile 0, grade, quantity
    lim_g_nan = S.lut_missing.reshape(-1)[g_cell]
    lim_g_int = S.lut_int.reshape(-1)[g_cell]
    x_top = np.where(has, xs[np.maximum(last, 0)] if len(xs) else 0, 0)
    if not (np.abs(x_top).max(initial=0) < 2 ** 50 and np.abs(lim_g_int).max(initial=0) < 2 ** 50):
        return None
    mmax_value = np.full(n_groups, np.nan)
    mmax_rep = np.full(n_groups, np.nan)
    top = np.flatnonzero(has & (lim_g_int > 0))
    if len(top):
        xt, lt = x_top[top], lim_g_int[top]
        mmax_value[top] = (xt - lt) / lt
        mmax_rep[top] = round_ratio(xt - lt, lt, S.mult_dec[top])
    return lim_g_nan, lim_g_int, mmax_value, mmax_rep


def exceedances(daily: pd.DataFrame, grades=None, profile=None) -> pd.DataFrame:
    """Every valid day whose reported daily value exceeds its daily limit (standards.md §6).

    Parameters
    ----------
    daily : DataFrame
        Daily values (``frames.DAILY_COLUMNS``). SO2, NO2, PM10, PM2.5, CO are
        compared with the 24-h limit, ``O3_MDA8`` with the MDA8 limit.
    grades : mapping or DataFrame, optional
        As in :func:`~.period.period_statistics`; default Grade II.
    profile : str or Profile, optional
        Force the limits of one profile; default each day's profile.

    Returns
    -------
    DataFrame: level, area, date, pollutant (O3 for the MDA8), averaging
    (``24h``/``mda8``), value (reported daily value), limit, multiple
    (``(C − S)/S`` half-even to the profile's ``multiple_decimals``), profile;
    sorted by level, area, date, pollutant.
    """
    forced = as_profile(profile)
    d, pairs, d_ids = daily_rows(daily, need_value=False)
    cols = ["level", "area", "date", "pollutant", "averaging", "value", "limit", "multiple",
            "profile"]
    keep = np.flatnonzero(d.valid & ~np.isnan(d.reported))
    d = d.take(keep)
    if len(d) == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    grade = grade_codes(grades, pairs)[d.la]
    if forced is not None:
        pc, pu = np.zeros(len(d), dtype=np.int64), [forced.id]
        profs = [forced]
    else:
        pc, pu = d.prof, d_ids
        profs = [load_profile(p) for p in pu]
    lut = np.full((len(profs), 2, N_QUANTITIES), np.nan)
    dec = np.zeros((len(profs), N_QUANTITIES), dtype=np.int64)
    mdec = np.full(len(profs), -1, dtype=np.int64)
    for i, prof in enumerate(profs):
        for gr, gi in GRADE_INDEX.items():
            for qi, (p, avg) in enumerate(zip(POLLUTANTS, DAILY_LIMIT)):
                lim = prof.limit(p, avg, gr)
                lut[i, gi, qi] = np.nan if lim is None else lim
                if lim is not None:
                    dec[i, qi] = max(dec[i, qi], limit_decimals(lim))
        if "rounding" in prof.raw:
            dec[i] = np.maximum(dec[i], [prof.decimals(p) for p in POLLUTANTS])
            mdec[i] = int(prof.rounding["multiple_decimals"])
    # profiles without rounding rules: the multiple's decimals of the Chinese profile that day
    row_mdec = mdec[pc]
    if (row_mdec < 0).any():
        sched = np.asarray(load_schedule().in_force(d.day), dtype=object)
        su, sc = np.unique(sched, return_inverse=True)
        alt = np.array([int(load_profile(str(s)).rounding["multiple_decimals"]) for s in su])
        row_mdec = np.where(row_mdec < 0, alt[sc], row_mdec)
        dec = np.maximum(dec, np.array([[load_profile(str(s)).decimals(p) for p in POLLUTANTS]
                                        for s in su]).max(axis=0))
    limit = lut[pc, grade, d.q]
    row_dec = dec[pc, d.q]
    x = scaled_integers(d.reported, row_dec, nan_as=0)
    s = scaled_integers(np.where(np.isnan(limit), 0.0, limit), row_dec, nan_as=0)
    over = ~np.isnan(limit) & (s > 0) & (x > s)
    i = np.flatnonzero(over)
    multiple = round_ratio(x[i] - s[i], s[i], row_mdec[i]) if len(i) else np.zeros(0)
    levels = np.asarray(pairs.get_level_values(0), dtype=object)
    areas = np.asarray(pairs.get_level_values(1), dtype=object)
    out = pd.DataFrame({
        "level": pd.Series(levels[d.la[i]], dtype=str),
        "area": pd.Series(areas[d.la[i]]).infer_objects(),
        "date": d.day[i].astype("datetime64[s]"),
        "pollutant": pd.Series(np.asarray(POLLUTANTS, dtype=object)[d.q[i]], dtype=str),
        "averaging": pd.Series(np.asarray(DAILY_LIMIT, dtype=object)[d.q[i]], dtype=str),
        "value": d.reported[i],
        "limit": limit[i],
        "multiple": np.asarray(multiple, dtype="float64"),
        "profile": pd.Series(np.asarray(pu, dtype=object)[pc[i]], dtype=str),
        "_q": d.q[i], "_la": d.la[i],
    })
    out = out.sort_values(["_la", "date", "_q"], kind="stable").drop(columns=["_q", "_la"])
    return out.reset_index(drop=True)[cols]
