"""The dense fast path of the period statistics.

A daily frame laid out as :func:`indicators.averaging.daily_values` writes it — entity
after entity, each the same run of consecutive days, each day the seven quantities in
order, one profile — is an (entities × days × quantities) array already. Its
statistics are then computed on that array: no row keys, no sort of the rows, and no
duplicate check (a (level, area, day, quantity) can only occur once). Same arithmetic,
same results as the row path (:mod:`.concentration`), which handles everything else
(any order, gaps, dust days, several day profiles, statistics from unrounded daily
values).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from config.vocabulary import DAILY_QUANTITIES

from ..rounding import scaled_integers
from .aqi_days import aqi_statistics
from .concentration import DailySetup, daily_blocks, daily_setup, dust_notes, means_percentiles
from .exceedances import DayExceedances, single_limit_multiples
from .grouping import (AreaPeriods, KeyedRows, aqi_rows, area_pairs, area_period_groups,
                       months_of, unique_inverse)
from .table import N_QUANTITIES, QUANTITIES, StatisticsRequest, assemble, empty_statistics
from .text import TEXT
from .validity import (build_periods, ledger_counts, period_span, row_period_codes,
                       rows_in_periods)

#: The quantities of a day in the dense layout (the limited ones, then O3_1H_MAX).
N_DAILY = len(DAILY_QUANTITIES)


@dataclass
class DenseDaily:
    """A daily frame in the dense layout, as arrays (see the module docstring)."""
    entities: pd.DataFrame    # (E,) level, area of each entity
    days: np.ndarray          # (D,) datetime64[D], consecutive
    valid: np.ndarray         # (E, D, 7) bool
    reported: np.ndarray      # (E, D, 7) float64
    profile: str | None       # the one profile id of every row (None: per day, below)
    day_values: np.ndarray    # (D,) the ``date`` values of the days, as in the frame
    day_profile: np.ndarray   # (D,) profile category code of each day (the same for all
    #                           entities); the categories are those of the frame's column
    entity_codes: tuple       # ((E,) level codes, (E,) area codes) of the categoricals


def _is_tiled(a: np.ndarray, pattern: np.ndarray) -> bool:
    """Whether ``a`` is ``pattern`` repeated: ``(a.reshape(-1, len(pattern)) == pattern).all()``,
    for a contiguous integer array compared in 8-byte words (its bytes are the pattern's,
    repeated, exactly then)."""
    k = len(pattern)
    if len(a) % k:
        return False
    period = np.lcm(k * a.itemsize, 8)
    if a.dtype.kind in "iu" and a.flags.c_contiguous and a.nbytes % period == 0 and len(a):
        words = np.tile(pattern.astype(a.dtype), period // (k * a.itemsize)).view(np.int64)
        if (pattern.astype(a.dtype) == pattern).all():
            return bool((a.view(np.int64).reshape(-1, len(words)) == words).all())
    return bool((a.reshape(-1, k) == pattern).all())


def dense_daily(daily: pd.DataFrame, one_profile: bool = True) -> DenseDaily | None:
    """The daily frame as (entities, days, quantities) arrays when it has that layout
    (checked on every row), else None. With ``one_profile=False`` the profile may change
    from day to day (the same days for every entity, one profile per entity-day); the
    ``date`` values must then be the same for every entity."""
    if QUANTITIES != DAILY_QUANTITIES[:len(QUANTITIES)]:
        return None
    columns = ("level", "area", "date", "pollutant", "reported", "valid", "profile")
    if any(c not in daily.columns for c in columns):
        return None
    n = len(daily)
    pol, prof = daily["pollutant"], daily["profile"]
    level, area = daily["level"], daily["area"]
    if n == 0 or n % N_DAILY or not all(isinstance(c.dtype, pd.CategoricalDtype)
                                        for c in (pol, prof, level, area)):
        return None
    if list(pol.cat.categories) != list(DAILY_QUANTITIES) or daily["valid"].dtype != bool:
        return None
    if not _is_tiled(pol.cat.codes.to_numpy(), np.arange(N_DAILY)):
        return None
    pcodes = prof.cat.codes.to_numpy()
    p0 = int(pcodes[0])
    if one_profile:
        if p0 < 0 or str(prof.cat.categories[p0]) == "" or not (pcodes == p0).all():
            return None
    elif int(pcodes.min()) < 0 or "" in set(map(str, prof.cat.categories)):
        return None
    dates = daily["date"].to_numpy()
    if dates.dtype.kind != "M":
        return None
    per_row = dates.reshape(-1, N_DAILY)
    if not (per_row == per_row[:, :1]).all():            # one date per entity-day
        return None
    days = per_row[:, 0].astype("datetime64[D]")
    di = days.view(np.int64)
    if np.isnat(days).any():
        return None
    breaks = np.flatnonzero(np.diff(di) != 1)
    n_days = int(breaks[0]) + 1 if len(breaks) else len(di)
    if len(di) % n_days:
        return None
    n_ent = len(di) // n_days
    if not (di.reshape(n_ent, n_days) == di[:n_days]).all():
        return None
    block = n_days * N_DAILY
    lc, ac = level.cat.codes.to_numpy(), area.cat.codes.to_numpy()
    if min(int(lc.min()), int(ac.min())) < 0:
        return None
    if not ((lc.reshape(n_ent, block) == lc[::block][:, None]).all()
            and (ac.reshape(n_ent, block) == ac[::block][:, None]).all()):
        return None
    key = lc[::block].astype(np.int64) * max(len(area.cat.categories), 1) + ac[::block]
    if len(np.unique(key)) != n_ent:                     # an entity listed twice
        return None
    day_values = per_row[:n_days, 0]
    if one_profile:
        day_profile = np.full(n_days, p0, dtype=pcodes.dtype)
    else:
        per_day = pcodes.reshape(n_ent * n_days, N_DAILY)
        day_profile = per_day[:n_days, 0]
        if not ((per_day == per_day[:, :1]).all()
                and (per_day[:, 0].reshape(n_ent, n_days) == day_profile).all()
                and (per_row[:, 0].reshape(n_ent, n_days) == day_values).all()):
            return None
    valid = daily["valid"].to_numpy()                   # bool (checked above): no copy
    rep = daily["reported"]
    reported = (rep.to_numpy() if rep.dtype == np.float64 else
                pd.to_numeric(rep).to_numpy(dtype="float64", na_value=np.nan))
    return DenseDaily(daily[["level", "area"]].iloc[::block].reset_index(drop=True),
                      days[:n_days], valid.reshape(n_ent, n_days, N_DAILY),
                      reported.reshape(n_ent, n_days, N_DAILY),
                      str(prof.cat.categories[p0]) if one_profile else None,
                      day_values, day_profile, (lc[::block], ac[::block]))


def period_statistics_dense(dense: DenseDaily, aqi,
                            req: StatisticsRequest) -> pd.DataFrame | None:
    """:func:`~.period.period_statistics` of a dense daily frame (no dust days); None when
    a rule needs the row path (statistics from unrounded daily values)."""
    period, forced = req.period, req.forced
    a, pairs_a, a_ids = aqi_rows(aqi) if aqi is not None else (None, None, [])
    la_e, pairs_d = area_pairs(dense.entities)
    days = dense.days
    span = period_span(period, req.ytd_end, req.range_start,
                       [days.max()] + ([a.day.max()] if a is not None and len(a) else []))

    pairs = pairs_d.union(pairs_a) if a is not None and len(pairs_a) else pairs_d
    la_e = pairs.get_indexer(pairs_d)[la_e]
    months = months_of(days)
    dcode, keep = row_period_codes(period, days, span, months)
    kept = np.flatnonzero(keep)
    if len(kept) and kept[-1] - kept[0] + 1 != len(kept):
        return None
    first = int(kept[0]) if len(kept) else 0
    days_k = slice(first, first + len(kept))
    dcode, months = dcode[days_k], months[days_k]
    a, acode = rows_in_periods(a, pairs, pairs_a, period, span)
    n_ent = len(la_e)
    if (len(kept) == 0 or n_ent == 0) and (a is None or len(a) == 0):
        return empty_statistics()
    codes_u, p_inv = unique_inverse(np.concatenate([dcode, acode]))
    n_per = len(codes_u)
    d_pi, a_pi = p_inv[:len(dcode)], p_inv[len(dcode):]
    d_periods = np.unique(d_pi)                          # periods of the days (ascending)
    d_keys = (la_e.astype(np.int64)[:, None] * n_per + d_periods[None, :]).reshape(-1)
    ap_keys, ap_inv = unique_inverse(np.concatenate(
        [d_keys, (a.la.astype(np.int64) * n_per + a_pi) if a is not None
         else np.array([], dtype=np.int64)]))
    ap_of = ap_inv[:len(d_keys)].reshape(n_ent, len(d_periods))   # (entity, period) → ap

    per = build_periods(period, codes_u, span, forced)
    if not all(bool(r.rounding.get("period_from_rounded_daily", True)) for r in per.rules):
        return None
    groups = area_period_groups(ap_keys, n_per, pairs, per, req.grades)

    blocks: list[dict] = []
    if len(kept) and n_ent:
        span = _DenseSpan(days_k, months, d_pi, d_periods, ap_of)
        if not _daily_statistics_dense(dense, span, groups, forced, blocks):
            return None
    if a is not None:
        aqi_statistics(KeyedRows(a, a_ids, ap_inv[len(d_keys):], a_pi), groups, blocks)
    return assemble(blocks, groups)


@dataclass(frozen=True)
class _DenseSpan:
    """The days of a dense frame inside the periods: their slice, months, period index,
    the periods present (ascending) and the group of each (entity, period)."""
    days: slice
    months: np.ndarray
    period: np.ndarray
    periods: np.ndarray
    ap_of: np.ndarray


def _daily_statistics_dense(dense: DenseDaily, span: _DenseSpan, groups: AreaPeriods, forced,
                            blocks: list) -> bool:
    """:func:`~.concentration.daily_statistics` of a dense frame (one profile, no dust,
    all statistics from reported values). False when the largest-multiple shortcut does
    not apply."""
    S = daily_setup([dense.profile], groups, forced)
    valid = dense.valid[:, span.days, :N_QUANTITIES]
    reported = dense.reported[:, span.days, :N_QUANTITIES]
    capture = valid & ~np.isnan(reported)                 # (E, D, Q)
    led = ledger_counts(_counted_days(S, span, groups, capture), S.gp, groups.per)
    dust_note = dust_notes(np.zeros(S.n_groups, dtype=np.int64))
    cnt = led.n_valid
    sorted_values = _sorted_values(S, span, capture, reported, cnt)
    if sorted_values is None:
        return False
    table, filled, xs = sorted_values
    means = means_percentiles(S, cnt, xs)
    exc = _exceedances_dense(S, groups, cnt, xs, table, filled)
    if exc is None:
        return False
    daily_blocks(S, groups, led, dust_note, means, exc, blocks)
    return True


def _counted_days(S: DailySetup, span: _DenseSpan, groups: AreaPeriods,
                  capture: np.ndarray) -> np.ndarray:
    """Days counted per group and month (n_groups, months), summed over the runs of days
    in one period and month."""
    d_pi = span.period
    j_day = span.months - groups.per.start_month[d_pi]
    run = np.concatenate([[0], np.flatnonzero((d_pi[1:] != d_pi[:-1])
                                               | (j_day[1:] != j_day[:-1])) + 1])
    run_counts = np.add.reduceat(capture, run, axis=1, dtype=np.int64)   # (E, runs, Q)
    run_col = np.searchsorted(span.periods, d_pi[run])
    g_run = (span.ap_of[:, run_col][:, :, None] * N_QUANTITIES
             + np.arange(N_QUANTITIES)[None, None, :])
    counts = np.zeros((S.n_groups, groups.per.n_months), dtype=np.int64)
    counts[g_run, np.broadcast_to(j_day[run][None, :, None], g_run.shape)] = run_counts
    return counts


def _sorted_values(S: DailySetup, span: _DenseSpan, capture: np.ndarray, reported: np.ndarray,
                   cnt: np.ndarray):
    """(table, filled, xs): the reported values on the grid of each group, ascending, in a
    (group, slot) table padded with a sentinel, which slots hold a value, and the values
    group after group; None when a value reaches the sentinel."""
    n_days = capture.shape[1]
    # each quantity on its grid as a whole (entities, days) array, 0 where not captured
    # (0 is on every grid and changes neither the integers of the captured values nor the
    # choice of the integer type below)
    caps, values = [], []
    for q in range(N_QUANTITIES):
        cap_q = np.ascontiguousarray(capture[:, :, q])
        caps.append(cap_q)
        values.append(scaled_integers(np.where(cap_q, reported[:, :, q], 0.0),
                                      int(S.grid[q]), nan_as=0))
    lo = min((int(v.min()) for v in values if v.size), default=0)
    hi = max((int(v.max()) for v in values if v.size), default=0)
    dtype = np.int32 if -2 ** 31 < lo and hi < 2 ** 31 - 1 else np.int64
    sentinel = np.iinfo(dtype).max
    if hi >= sentinel:
        return None
    bounds = np.concatenate([[0], np.flatnonzero(np.diff(span.period)) + 1, [n_days]])
    width = int(np.diff(bounds).max()) if len(bounds) > 1 else 0
    table = np.full((S.n_groups, max(width, 1)), sentinel, dtype=dtype)
    for q in range(N_QUANTITIES):         # each (entity, quantity) sorted within each period
        x = values[q].astype(dtype)
        np.copyto(x, sentinel, where=~caps[q])
        for k in range(len(bounds) - 1):
            seg = x[:, bounds[k]:bounds[k + 1]]
            seg.sort(axis=1)
            table[span.ap_of[:, k] * N_QUANTITIES + q, :seg.shape[1]] = seg
    filled = np.arange(table.shape[1])[None, :] < cnt[:, None]
    return table, filled, table[filled].astype(np.int64)


def _exceedances_dense(S: DailySetup, groups: AreaPeriods, cnt: np.ndarray, xs: np.ndarray,
                       table: np.ndarray, filled: np.ndarray) -> DayExceedances | None:
    """Exceedance days and largest multiples against the one daily limit of each group;
    None when the values are too large for the shortcut."""
    n_groups = S.n_groups
    has = cnt > 0
    if has.any():
        single = single_limit_multiples(S, groups.grade, cnt, xs)
        if single is None:
            return None
        lim_g_nan, lim_g_int, mmax_value, mmax_rep = single
        over = ((table > lim_g_int[:, None]) & filled).sum(axis=1)
        exc = np.where(lim_g_nan, 0, over).astype("float64")
        lim_missing = has & lim_g_nan
    else:                                  # nothing counted: as the row path leaves it
        exc = np.zeros(n_groups)
        lim_missing = np.zeros(n_groups, dtype=bool)
        mmax_value = np.full(n_groups, np.nan)
        mmax_rep = np.full(n_groups, np.nan)
    exc[lim_missing] = np.nan
    mmax_value[lim_missing] = np.nan
    mmax_rep[lim_missing] = np.nan
    return DayExceedances(exc, lim_missing, mmax_value, mmax_rep,
                          np.full(n_groups, "", dtype=TEXT))
