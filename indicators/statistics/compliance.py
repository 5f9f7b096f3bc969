"""Compliance of a period with the annual limits (GB 3095-2012 Table 1; HJ 663-2013 §5.2).

``compliance`` is 1/0, comparing the *reported* statistics of each pollutant — the
annual mean (SO2, NO2, PM10, PM2.5) and the percentile of the daily values (all six) —
with the limits of the period-end profile and the area's grade; only for ``year`` and
``ytd`` (:data:`~.table.COMPLIANCE_PERIODS`): a month or quarter compared with an annual
limit is no evaluation in HJ 663. ``ALL`` is 0 when any pollutant is 0, 1 when all six
are 1, NaN otherwise; valid when all six are (a comparison profile's pollutants
without any limit are left out).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from config.standards import GRADE_INDEX

from .grouping import AreaPeriods
from .table import (ALL_CODE, DAILY_LIMIT, HAS_MEAN, N_QUANTITIES, POLLUTANTS, STAT_CODE,
                    RowFacts, add_block)
from .text import TEXT, join_text
from .validity import Ledger

if TYPE_CHECKING:
    from .concentration import DailySetup, MeansPercentiles


def compliance_blocks(S: DailySetup, groups: AreaPeriods, led: Ledger, detail: np.ndarray,
                      means: MeansPercentiles, blocks: list) -> None:
    """The ``compliance`` rows of each pollutant and of ``ALL``: reported statistics vs
    the period-end profile's limits."""
    rule, prefix, pid = S.rule, S.prefix, S.pid
    n, total, ok, fail = led.n_valid, led.n_required, led.valid, led.failure
    n_ap = groups.n
    ap = np.arange(n_ap)
    all_zero = np.zeros(n_ap, dtype=bool)
    all_one = np.ones(n_ap, dtype=bool)
    all_valid = np.ones(n_ap, dtype=bool)
    all_n = np.full(n_ap, np.iinfo(np.int64).max)
    all_fail = np.full(n_ap, "", dtype=TEXT)
    for qi, (p, avg) in enumerate(zip(POLLUTANTS, DAILY_LIMIT)):
        sel = slice(qi, qi + n_ap * N_QUANTITIES, N_QUANTITIES)
        kinds = (("annual", means.mean_reported),) if HAS_MEAN[qi] else ()
        kinds += ((avg, means.pct_reported),)
        value, any_lim = _complies(groups, p, [(kind, stat[sel]) for kind, stat in kinds])
        valid = ok[sel] & any_lim
        no_lim = np.where(any_lim, "", "no limit for " + p + " in profile " + pid[sel])
        add_block(blocks, ap, qi, STAT_CODE["compliance"], value, value,
                  RowFacts(valid, n[sel], total[sel], rule[sel], join_text(detail[sel], no_lim),
                           pid[sel]))
        counted = any_lim              # pollutants without any limit are left out of ALL
        all_zero |= counted & (value == 0)
        all_one &= ~counted | (value == 1)
        all_valid &= ~counted | valid
        all_n = np.where(counted, np.minimum(all_n, n[sel]), all_n)
        why = join_text(fail[sel], no_lim)
        all_fail = join_text(all_fail, np.where(counted & ~valid & (why != ""), p + ": " + why, ""))
    none_counted = all_n == np.iinfo(np.int64).max          # the profile has no limit at all
    all_value = np.where(all_zero, 0.0, np.where(all_one & ~none_counted, 1.0, np.nan))
    all_valid &= ~none_counted
    all_fail = np.where(none_counted, "no limits in profile " + pid[ap * N_QUANTITIES], all_fail)
    all_n = np.where(none_counted, 0, all_n)
    g0 = ap * N_QUANTITIES
    add_block(blocks, ap, ALL_CODE, STAT_CODE["compliance"], all_value, all_value,
              RowFacts(all_valid, all_n, total[g0], rule[g0], join_text(prefix[g0], all_fail),
                       pid[g0]))


def _complies(groups: AreaPeriods, pollutant: str, stats: list) -> tuple[np.ndarray, np.ndarray]:
    """(1/0 per group, NaN when a limited statistic is missing; whether any limit applies)
    of ``pollutant`` whose statistics ``stats`` ((averaging of the limit, reported value per
    group)) are compared with the limits of each group's profile and grade."""
    n_ap, per = groups.n, groups.per
    ap_lim = per.limits_code[groups.period]
    value = np.full(n_ap, np.nan)
    any_lim = np.zeros(n_ap, dtype=bool)
    missing_stat = np.zeros(n_ap, dtype=bool)
    complies = np.ones(n_ap, dtype=bool)
    for kind, stat in stats:
        lim = np.full((len(per.limits), 2), np.nan)
        for li, prof in enumerate(per.limits):
            for gr, gi in GRADE_INDEX.items():
                v = prof.limit(pollutant, kind, gr)
                lim[li, gi] = np.nan if v is None else v
        lim_ap = lim[ap_lim, groups.grade] if n_ap else np.zeros(0)
        has_lim = ~np.isnan(lim_ap)
        any_lim |= has_lim
        missing_stat |= has_lim & np.isnan(stat)
        complies &= ~has_lim | (stat <= lim_ap)
    decided = any_lim & ~missing_stat
    value[decided] = complies[decided].astype(float)
    return value, any_lim
