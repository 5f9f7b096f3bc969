"""Concentration statistics of the daily values (HJ 663-2013 §5.2; standards.md §4, §6).

Per group (level, area, period, quantity): the period mean (``annual_mean``: SO2, NO2,
PM10, PM2.5; the mean of whatever period), the percentile of the daily values
(``p98_daily`` SO2, NO2; ``p95_daily`` PM10, PM2.5, CO; ``p90_mda8`` O3), and — from
:mod:`.exceedances` and :mod:`.compliance` — the exceedance days, the largest multiple
and the compliance.

Exactness (standards.md §4, §6)
    With ``rounding.period_from_rounded_daily`` (the default) means and percentiles are
    computed from the *reported* daily values, as integers on their decimal grid: the
    mean is ``Σx / n`` and the percentile ``100·X(s) + (X(s+1) − X(s))·((n−1)·p mod 100)``
    over ``100``, both rounded once, half to even, by
    :func:`indicators.rounding.round_ratio`. No float ever enters the published value.
    With the setting off, the unrounded daily values are used in float arithmetic
    (summed in sorted order, so the result does not depend on row order) and rounded
    once by :func:`indicators.rounding.round_half_even`.

Dust (standards.md §7): official dust days are removed from the statistics of the
pollutants in the profile's ``dust.exclude_from`` but still count as captured days
for validity; ``detail`` says how many were removed.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from config.standards import GRADE_INDEX, load_profile

from ..rounding import round_half_even, round_ratio, scaled_integers
from .compliance import compliance_blocks
from .exceedances import DayExceedances, UsedRows, day_exceedances
from .grouping import AreaPeriods, KeyedRows, Rows, check_unique_slots, dust_flags, limit_decimals
from .table import (COMPLIANCE_PERIODS, DAILY_LIMIT, HAS_MEAN, N_QUANTITIES, PERCENTILE,
                    POLLUTANTS, QUANTITIES, STAT_CODE, RowFacts, add_block)
from .text import TEXT, as_text, join_text
from .validity import Ledger, Periods, ledger


@dataclass(frozen=True)
class MeansPercentiles:
    """Per group: the period mean and the percentile, unrounded and as published."""
    mean_value: np.ndarray
    mean_reported: np.ndarray
    pct_value: np.ndarray
    pct_reported: np.ndarray


def dust_notes(n_dust: np.ndarray) -> np.ndarray:
    """"3 dust days removed" for the groups that lost dust days ("" for the others)."""
    return np.where(n_dust > 0, as_text(n_dust) + np.where(n_dust == 1, " dust day", " dust days")
                    + " removed", "")


def _group_sorted(g: np.ndarray, x_int: np.ndarray | None, x_float: np.ndarray | None):
    """Order of rows sorted by (group, value)."""
    if x_int is not None:
        lo = int(x_int.min(initial=0))
        span = int(x_int.max(initial=0)) - lo + 1
        if len(g) and (int(g.max()) + 1) * span < 2 ** 62:
            return np.argsort(g.astype(np.int64) * span + (x_int - lo), kind="stable")
        return np.lexsort((x_int, g))
    return np.lexsort((x_float, g))


def _sorted_within_groups(g: np.ndarray, x_int: np.ndarray, pos: np.ndarray, cnt: np.ndarray,
                          n_groups: int) -> np.ndarray:
    """The values ``x_int`` laid out group after group, ascending within each group —
    what ``x_int[_group_sorted(g, x_int, None)]`` gives.

    ``pos`` (≥ 0) is a slot of the row inside its group that no other row of the group
    shares (its day within the period). When groups × slots is not much more than
    the rows, the values are placed in a dense (group, slot) table, padded with a
    sentinel above every value, and each short row of the table is sorted: far
    cheaper than one sort of all the rows.
    """
    if len(x_int) == 0:
        return x_int.astype(np.int64)
    width = int(pos.max()) + 1
    lo, hi = int(x_int.min()), int(x_int.max())
    if int(pos.min()) < 0 or n_groups * width > 4 * len(x_int) + (1 << 20) \
            or hi >= np.iinfo(np.int64).max:
        return x_int[_group_sorted(g, x_int, None)]
    small = -2 ** 31 < lo and hi < 2 ** 31 - 1
    dtype = np.int32 if small else np.int64
    sentinel = np.iinfo(dtype).max
    table = np.full((n_groups, width), sentinel, dtype=dtype)
    table[g, pos] = x_int
    table.sort(axis=1)
    filled = np.arange(width)[None, :] < cnt[:, None]
    return table[filled].astype(np.int64)


def _percentile_scaled(xs: np.ndarray, starts: np.ndarray, n: np.ndarray, p: int):
    """Exact percentile of sorted integer runs: (100·X(s) + (X(s+1)−X(s))·r) per group (÷100)."""
    m = (n - 1) * p
    s0 = m // 100
    r = m % 100
    a = xs[starts + s0]
    b = xs[starts + np.minimum(s0 + 1, n - 1)]
    return 100 * a + (b - a) * r


@dataclass(frozen=True)
class DailySetup:
    """Group-level settings of the daily statistics (no row data)."""
    n_groups: int
    gp: np.ndarray            # period index of each group
    g_q: np.ndarray           # quantity of each group
    day_profs: list           # profiles of the days (or the forced one)
    g_dec: np.ndarray         # published decimals of each group
    grid: np.ndarray          # decimals of the common integer grid, per quantity
    scale: np.ndarray         # 10**grid
    lut_missing: np.ndarray   # (day profile, grade, quantity): no daily limit
    lut_int: np.ndarray       # the daily limit on the grid
    from_rounded_p: np.ndarray  # per period: statistics from the reported daily values
    g_rounded: np.ndarray
    excl: np.ndarray          # (rules, quantity): dust days excluded
    mult_dec: np.ndarray      # per group: decimals of the multiple
    rule: np.ndarray
    prefix: np.ndarray
    pid: np.ndarray


def daily_setup(day_profile_ids: list, groups: AreaPeriods, forced) -> DailySetup:
    """The settings of the groups (area-period × quantity) from the profiles of the days
    (or the forced one) and of the periods."""
    per = groups.per
    n_groups = groups.n * N_QUANTITIES
    gp = np.repeat(groups.period, N_QUANTITIES)        # period index of each group
    g_q = np.tile(np.arange(N_QUANTITIES), groups.n)
    # profile of each day (limits of the day), or the forced one
    day_profs = [forced] if forced is not None else [load_profile(p) for p in day_profile_ids]

    # decimals: per group (period rules); a common integer grid per quantity
    rules_dec = np.array([[r.decimals(p) for p in POLLUTANTS] for r in per.rules], dtype=np.int64)
    g_dec = rules_dec[per.rules_code[gp], g_q] if n_groups else np.zeros(0, np.int64)
    grid = rules_dec.max(axis=0)
    for prof in day_profs + per.limits:
        if "rounding" in prof.raw:
            grid = np.maximum(grid, [prof.decimals(p) for p in POLLUTANTS])
        for qi, (p, avg) in enumerate(zip(POLLUTANTS, DAILY_LIMIT)):
            for kind in (avg, "annual"):
                for gr in GRADE_INDEX:
                    lim = prof.limit(p, kind, gr)
                    if lim is not None:
                        grid[qi] = max(grid[qi], limit_decimals(lim))
    grid = grid.astype(np.int64)
    scale = 10 ** grid                               # per quantity

    # daily limits per (day profile, grade, quantity), on the grid
    lut = np.full((len(day_profs), 2, N_QUANTITIES), np.nan)
    for pi_, prof in enumerate(day_profs):
        for gr, gi in GRADE_INDEX.items():
            for qi, (p, avg) in enumerate(zip(POLLUTANTS, DAILY_LIMIT)):
                lim = prof.limit(p, avg, gr)
                lut[pi_, gi, qi] = np.nan if lim is None else lim
    lut_missing = np.isnan(lut)
    lut_int = scaled_integers(np.where(lut_missing, 0.0, lut),
                              np.broadcast_to(grid, lut.shape), nan_as=0)
    from_rounded_p = np.array([bool(r.rounding.get("period_from_rounded_daily", True))
                               for r in per.rules])[per.rules_code]
    excl = np.zeros((len(per.rules), N_QUANTITIES), dtype=bool)
    for ri, r in enumerate(per.rules):
        names = set((r.raw.get("dust") or {}).get("exclude_from") or ())
        excl[ri] = [p in names for p in POLLUTANTS]
    mult_dec = np.array([int(r.rounding["multiple_decimals"]) for r in per.rules],
                        dtype=np.int64)[per.rules_code[gp]]
    pid = as_text(np.array([p.id for p in per.limits], dtype=object)[per.limits_code[gp]]) \
        if n_groups else np.zeros(0, TEXT)
    return DailySetup(n_groups, gp, g_q, day_profs, g_dec, grid, scale, lut_missing, lut_int,
                      from_rounded_p, from_rounded_p[gp], excl, mult_dec, per.rule[gp],
                      per.prefix[gp], pid)


def means_percentiles(S: DailySetup, cnt: np.ndarray, xs: np.ndarray) -> MeansPercentiles:
    """Period means and percentiles of the groups computed from reported daily values
    (exact: integers on the grid, ``xs`` group after group, ascending)."""
    n_groups = S.n_groups
    starts = np.cumsum(cnt) - cnt
    has = cnt > 0
    # the groups' sums (exact integers), by one reduction over the runs of the groups
    # that have values (they are contiguous in xs, in order)
    sums = np.zeros(n_groups, dtype=np.int64)
    if has.any():
        sums[has] = np.add.reduceat(xs, starts[has])
    g_scale = S.scale[S.g_q]
    mean_value = np.full(n_groups, np.nan)
    mean_rep = np.full(n_groups, np.nan)
    pct_value = np.full(n_groups, np.nan)
    pct_rep = np.full(n_groups, np.nan)
    p_of_q = np.array([p for _, p in PERCENTILE], dtype=np.int64)
    ex = has & S.g_rounded
    if ex.any():
        g_dec = S.g_dec
        mean_value[ex] = sums[ex] / (cnt[ex] * g_scale[ex])
        mean_rep[ex] = round_ratio(sums[ex], cnt[ex] * g_scale[ex], g_dec[ex])
        num = _percentile_scaled(xs, starts[ex], cnt[ex], p_of_q[S.g_q[ex]])
        pct_value[ex] = num / (100 * g_scale[ex])
        pct_rep[ex] = round_ratio(num, 100 * g_scale[ex], g_dec[ex])
    return MeansPercentiles(mean_value, mean_rep, pct_value, pct_rep)


def daily_statistics(keyed: KeyedRows, groups: AreaPeriods, forced, dust_days,
                     blocks: list) -> None:
    """The statistics of the daily values, row by row (any order, gaps, dust days, several
    day profiles, statistics from unrounded daily values): adds their blocks."""
    d, d_ap, d_pi, per = keyed.rows, keyed.ap, keyed.period, groups.per
    S = daily_setup(keyed.profile_ids, groups, forced)
    n_groups, gp = S.n_groups, S.gp
    g_all = d_ap.astype(np.int64) * N_QUANTITIES + d.q
    j_all = d.month - per.start_month[d_pi]
    capture, dust = _counted_days(d, d_pi, S, per, dust_days, groups.pairs)
    any_dust = bool(dust.any())
    used = capture & ~dust if any_dust else capture

    # one valid row per (level, area, date, quantity); a day's slot is its place in the period
    g_cap = g_all[capture]
    slot_cap = d.day[capture].view(np.int64) - per.start.view(np.int64)[d_pi[capture]]
    check_unique_slots(g_cap, slot_cap, n_groups,
                       lambda g, k: per.start[gp[g]] + np.timedelta64(k, "D"),
                       lambda: d.day[capture], "daily values",
                       lambda g: f"{groups.pairs[groups.la[g // N_QUANTITIES]]} "
                                 f"{QUANTITIES[g % N_QUANTITIES]}")

    led = ledger(g_cap, j_all[capture], n_groups, gp, per)
    dust_note = dust_notes(np.bincount(g_all[capture & dust], minlength=n_groups))

    # ---- integers on the grid, sorted by (group, value)
    ui = np.flatnonzero(used)
    if any_dust:
        gu = g_all[used]                   # (boolean selections: the rows ui, in order)
        slot = d.day[used].view(np.int64) - per.start.view(np.int64)[d_pi[used]]
    else:
        gu, slot = g_cap, slot_cap
    del g_cap, slot_cap
    q_used = d.q[used]
    x_rep = scaled_integers(d.reported[used], S.grid.astype(np.int8)[q_used], nan_as=0)
    cnt = np.bincount(gu, minlength=n_groups)
    xs = _sorted_within_groups(gu, x_rep, slot, cnt, n_groups)
    del slot
    means = means_percentiles(S, cnt, xs)
    fl = (cnt > 0) & ~S.g_rounded
    if fl.any():                                   # unrounded daily values, float arithmetic
        fi = ui[~S.g_rounded[gu]]
        _float_means_percentiles(S, fl, g_all[fi], d.value[fi], means)

    used_rows = UsedRows(d, used, d_ap, gu, x_rep, q_used, forced is not None)
    exc = day_exceedances(S, groups, cnt, xs, used_rows)
    daily_blocks(S, groups, led, dust_note, means, exc, blocks)


def _counted_days(d: Rows, d_pi, S: DailySetup, per: Periods, dust_days, pairs):
    """(the day counts for validity, the day is an official dust day removed from the
    statistic) per row."""
    row_rounded = S.from_rounded_p[d_pi]
    capture = d.valid & ~np.isnan(d.reported)
    if not row_rounded.all() and "value" not in d.cols:
        raise ValueError("daily values lack the column 'value', needed because the profile "
                         "computes period statistics from unrounded daily values")
    if "value" in d.cols:
        capture &= row_rounded | ~np.isnan(d.value)
    if dust_days is None:
        dust = np.zeros(len(d), dtype=bool)
    else:
        dust = dust_flags(dust_days, d, pairs) & S.excl[per.rules_code[d_pi], d.q]
    return capture, dust


def _float_means_percentiles(S: DailySetup, fl: np.ndarray, gf: np.ndarray, xf: np.ndarray,
                             means: MeansPercentiles) -> None:
    """The mean and percentile of the groups ``fl`` from their unrounded daily values ``xf``
    (groups ``gf``), in floats summed in sorted order; written into ``means``."""
    g_dec, g_q = S.g_dec, S.g_q
    p_of_q = np.array([p for _, p in PERCENTILE], dtype=np.int64)
    o = np.lexsort((xf, gf))
    xfs = xf[o]
    cf = np.bincount(gf, minlength=S.n_groups)
    sf = np.cumsum(cf) - cf
    nz = np.flatnonzero(cf)
    tot = np.add.reduceat(xfs, sf[nz]) if len(nz) else np.zeros(0)
    mv = np.full(S.n_groups, np.nan)
    mv[nz] = tot / cf[nz]
    means.mean_value[fl] = mv[fl]
    means.mean_reported[fl] = round_half_even(mv[fl], g_dec[fl])
    pq = p_of_q[g_q[fl]]
    k = (cf[fl] - 1) * pq
    s0, r = k // 100, k % 100
    lo = xfs[sf[fl] + s0]
    hi = xfs[sf[fl] + np.minimum(s0 + 1, cf[fl] - 1)]
    pv = (100 * lo + (hi - lo) * r) / 100
    means.pct_value[fl] = pv
    means.pct_reported[fl] = round_half_even(pv, g_dec[fl])


def daily_blocks(S: DailySetup, groups: AreaPeriods, led: Ledger, dust_note: np.ndarray,
                 means: MeansPercentiles, exc: DayExceedances, blocks: list) -> None:
    """The rows of the daily-value statistics (and compliance) of every group."""
    rule, prefix, pid = S.rule, S.prefix, S.pid
    n_ap = groups.n
    no_limit = np.where(exc.limit_missing, "no daily limit in profile " + pid, "")
    detail = join_text(prefix, led.failure, dust_note)
    ap = np.arange(n_ap)
    for qi in range(N_QUANTITIES):
        sel = slice(qi, qi + n_ap * N_QUANTITIES, N_QUANTITIES)   # the groups of quantity qi
        facts = RowFacts(valid=led.valid[sel], n_valid=led.n_valid[sel],
                         n_required=led.n_required[sel], rule=rule[sel], detail=detail[sel],
                         profile=pid[sel])
        if HAS_MEAN[qi]:
            add_block(blocks, ap, qi, STAT_CODE["annual_mean"], means.mean_value[sel],
                      means.mean_reported[sel], facts)
        name, _ = PERCENTILE[qi]
        add_block(blocks, ap, qi, STAT_CODE[name], means.pct_value[sel],
                  means.pct_reported[sel], facts)
        limit_facts = replace(facts, valid=led.valid[sel] & ~exc.limit_missing[sel],
                              detail=join_text(detail[sel], exc.mixed_note[sel], no_limit[sel]))
        add_block(blocks, ap, qi, STAT_CODE["exceedance_days"], exc.days[sel], exc.days[sel],
                  limit_facts)
        add_block(blocks, ap, qi, STAT_CODE["max_multiple"], exc.multiple_value[sel],
                  exc.multiple_reported[sel], limit_facts)
    if groups.per.kind in COMPLIANCE_PERIODS:
        compliance_blocks(S, groups, led, detail, means, blocks)
