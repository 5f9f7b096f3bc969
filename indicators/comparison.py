"""Period statistics set against the limits of a standard profile (standards.md §2, §6, §8).

One function, :func:`against_limits`: for every row of a period-statistics
frame (``frames.STAT_COLUMNS``) the limit the profile sets for that statistic
(for the area's grade), the number of exceedances it allows, and whether the
reported statistic meets it. Pages that put profiles side by side (GB 3095-2012,
GB 3095-2026, the WHO guideline, the EU 2030 limits, the US AQI) or draw a
limit line read their limits and verdicts from here instead of from the YAML.

Which limit a statistic is compared with (HJ 663, standards.md §6)
    ``annual_mean``                    the ``annual`` limit
    ``p98_daily``, ``p95_daily``       the ``24h`` limit
    ``p90_mda8``                       the O3 ``mda8`` limit
    ``exceedance_days``, ``max_multiple``  the daily limit (``24h``; O3 ``mda8``)
                                       that is counted; ``exceedance_days`` meets
                                       the profile when it allows that many
                                       exceedances (``allowed``, EU 2030: 18 a
                                       year, standards.md §8); HJ 663 and the WHO
                                       guideline allow none by count, so no verdict.
    ``compliance``                     the statistics module's own verdict (1/0).
    AQI statistics                     no limit; ``defined`` is False under a
                                       profile without an AQI of its own (WHO,
                                       EU: their AQI rows are the Chinese AQI).

The verdict compares the *reported* (published) value with the limit, as HJ
663 does; whether the statistic itself is valid is the row's ``valid`` and is
left to the caller to show (an invalid statistic gets no verdict from a page).
Percentiles follow HJ 663 under every profile: the WHO 24-h guideline (99th
percentile) and the EU daily limits (18 exceedances) define their short-term
rules differently; the EU count is available through ``exceedance_days``.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from config.standards import GRADE_INDEX, default_cn_profile, load_profile
from config.vocabulary import DAILY_LIMIT_OF

from .frames import POLLUTANTS, STAT_COLUMNS, check_columns

#: Averaging of the limit each statistic is compared with ("daily": 24h, O3 mda8).
AVERAGING = {"annual_mean": "annual", "p98_daily": "24h", "p95_daily": "24h",
             "p90_mda8": "mda8", "exceedance_days": "daily", "max_multiple": "daily"}
#: Pollutant → averaging of its daily limit (O3: the MDA8).
DAILY_AVERAGING = dict(DAILY_LIMIT_OF.values())
AQI_STATISTICS = ("valid_aqi_days", "good_days", "heavy_days", "good_day_ratio")
#: Statistics whose verdict is "value ≤ limit".
AT_MOST_LIMIT = ("annual_mean", "p98_daily", "p95_daily", "p90_mda8")
COLUMNS = ("averaging", "limit", "allowed", "defined", "meets")


@lru_cache(maxsize=16)
def _lookup(profile_id: str) -> tuple[pd.Index, np.ndarray, np.ndarray, np.ndarray]:
    """For one profile: the keys "pollutant|statistic|grade", and per key the averaging,
    the limit and the allowed exceedances (cached: callers only read it)."""
    prof = load_profile(profile_id)
    allowed_cfg = prof.raw.get("allowed") or {}
    keys, averaging, limits, allowed = {}, [], [], []
    for p in POLLUTANTS:
        for statistic, kind in AVERAGING.items():
            avg = DAILY_AVERAGING[p] if kind == "daily" else kind
            count = (allowed_cfg.get(p) or {}).get(avg) if statistic == "exceedance_days" \
                else None
            for grade in GRADE_INDEX:
                limit = prof.limit(p, avg, grade)
                keys[f"{p}|{statistic}|{grade}"] = len(averaging)
                averaging.append(avg)
                limits.append(np.nan if limit is None else limit)
                allowed.append(np.nan if count is None else float(count))
    return (pd.Index(list(keys)), np.array(averaging + [""], dtype=object),
            np.array(limits + [np.nan]),
            np.array(allowed + [np.nan]))


def against_limits(stats: pd.DataFrame, profile: str | None = None,
                   grades=None) -> pd.DataFrame:
    """``stats`` with the limit of ``profile`` for each statistic and the verdict.

    Parameters
    ----------
    stats : DataFrame
        Period statistics (``frames.STAT_COLUMNS``), e.g. from
        :func:`indicators.pipeline.period_table`.
    profile : str, optional
        Profile id whose limits apply (``cn-2012``, ``who-2021`` …); default each
        row's ``profile`` (the profile the statistics were computed under).
    grades : mapping, optional
        Area id → ``"I"`` / ``"II"``; default Grade II (standards.md §2).

    Returns
    -------
    DataFrame: the rows of ``stats`` (same order and index) plus ``averaging``
    (``annual``, ``24h``, ``mda8`` or ""), ``limit`` [µg/m³; CO mg/m³] (NaN:
    the profile sets none), ``allowed`` (exceedances per period the profile
    allows; NaN: none by count), ``defined`` (False for AQI statistics under a
    profile without an AQI of its own) and ``meets`` (boolean, <NA> without a
    verdict: no limit, no value, or a statistic that is not compared).
    """
    check_columns(stats, STAT_COLUMNS, "statistics")
    n = len(stats)
    if profile is not None:
        pids = np.full(n, str(profile), dtype=object)
    else:
        pids = np.asarray(stats["profile"].fillna(default_cn_profile()).astype(str), dtype=object)
    grade_of = {k: v for k, v in dict(grades or {}).items() if v in GRADE_INDEX}
    area = np.asarray(stats["area"].astype(str), dtype=object)
    grade = np.asarray(pd.Series(area).map(grade_of).fillna("II"), dtype=object) if grade_of \
        else np.full(n, "II", dtype=object)
    statistic = np.asarray(stats["statistic"].astype(str), dtype=object)
    key = np.asarray(stats["pollutant"].astype(str), dtype=object) + "|" + statistic + "|" + grade
    averaging = np.full(n, "", dtype=object)
    limit = np.full(n, np.nan)
    allowed = np.full(n, np.nan)
    for pid in pd.unique(pids):                      # once per profile, vectorised over rows
        sel = pids == pid
        keys, p_avg, p_limit, p_allowed = _lookup(str(pid))
        pos = keys.get_indexer(key[sel])
        pos = np.where(pos < 0, len(keys), pos)     # not compared: the empty last row
        averaging[sel], limit[sel], allowed[sel] = p_avg[pos], p_limit[pos], p_allowed[pos]
    reported = stats["reported"].astype("float64").to_numpy()

    with_aqi = [p for p in pd.unique(pids) if load_profile(str(p)).kind in ("cn", "us-aqi")]
    has_aqi = np.isin(pids, with_aqi)
    is_aqi = np.isin(statistic, AQI_STATISTICS)
    defined = ~is_aqi | has_aqi

    meets = pd.array([pd.NA] * n, dtype="boolean")
    # annual means and percentiles: the reported value against the limit (HJ 663, §6)
    at_most = np.isin(statistic, AT_MOST_LIMIT) & np.isfinite(limit) & np.isfinite(reported)
    meets[at_most] = reported[at_most] <= limit[at_most]
    # exceedance days: against the number the profile allows (EU 2030: 18 a year, §8)
    counted = (statistic == "exceedance_days") & np.isfinite(allowed) & np.isfinite(reported)
    meets[counted] = reported[counted] <= allowed[counted]
    # compliance rows carry their own verdict (1 meets, 0 does not)
    own = (statistic == "compliance") & np.isfinite(reported)
    meets[own] = reported[own] == 1

    out = stats.copy()
    out["averaging"] = averaging
    out["limit"] = limit
    out["allowed"] = allowed
    out["defined"] = defined
    out["meets"] = meets
    return out
