"""Period statistics (HJ 663-2013; standards.md §3, §4, §6) and their validity ledger.

Input: the daily values (:data:`indicators.frames.DAILY_COLUMNS`) and, optionally,
the daily AQI (one row per level, area, date with ``aqi`` Int64, <NA> when not
valid, and ``profile``). Output: the long period-statistics frame
(:data:`indicators.frames.STAT_COLUMNS`), one row per level, area, period,
pollutant and statistic — every area-period found in either input gets every
statistic, with ``valid`` False and the reason in ``detail`` where the data
capture falls short.

* :func:`period_statistics` — the statistics of years, quarters, months or the
  year to date;
* :func:`exceedances` — one row per day above its daily limit (value, limit,
  multiple), the detail behind ``exceedance_days``;
* :func:`change_rate` — the change of every statistic vs the same period one
  year earlier (exact arithmetic of :func:`indicators.ranking.change_rate`).

Statistics
    ``annual_mean`` (SO2, NO2, PM10, PM2.5; the mean of whatever period),
    ``p98_daily`` (SO2, NO2), ``p95_daily`` (PM10, PM2.5, CO), ``p90_mda8`` (O3),
    ``exceedance_days`` and ``max_multiple`` (all six; O3 on the MDA8),
    ``compliance`` (all six and ``ALL``; periods ``year`` and ``ytd`` only),
    ``valid_aqi_days``, ``good_days``, ``heavy_days``, ``good_day_ratio``
    (pollutant ``AQI``).

Profiles (standards.md §1)
    Period rules (validity counts, decimals, annual/percentile limits for
    compliance) come from the profile in force at the *end* of each period, or
    from ``profile=`` when forced; that id is written to ``profile``. Daily
    exceedances compare each day with the limit of *that day's* profile (the
    daily frame's ``profile`` column), unless a profile is forced, in which
    case the forced limits apply to every day. A forced profile without
    validity/rounding rules (``who-2021``, ``eu-2030``) supplies only the
    limits; the rules then come from the Chinese profile in force at the period
    end, and statistics whose limit it lacks are NaN and not valid.

Rows and grades
    One *valid* row per level, area, date and quantity: a second valid row is a
    ``ValueError``; extra invalid rows are harmless. ``O3_1H_MAX`` has no period
    statistic. A statistic that is not valid keeps its computed
    ``value``/``reported``. ``grades`` is a mapping area → "I"/"II" (keys may also
    be ``(level, area)`` tuples) or a membership frame (``level, area, station,
    grade``) through which stations take their district's grade (Grade I if any of
    their districts is Grade I). Default Grade II.

Modules
    :mod:`.period` (the entry point and the row path), :mod:`.dense` (the fast path
    of a dense daily frame), :mod:`.grouping` (keys, profiles, grades, dust days),
    :mod:`.validity` (data capture), :mod:`.concentration` (means, percentiles),
    :mod:`.exceedances`, :mod:`.compliance`, :mod:`.aqi_days` (good days and the
    good-day ratio), :mod:`.change` (change rate), :mod:`.table` (the output
    table), :mod:`.text` (its text columns).
"""
from __future__ import annotations

from .change import change_rate
from .exceedances import exceedances
from .period import period_statistics
from .table import (COMPLIANCE_PERIODS, DAILY_LIMIT, HAS_MEAN, PERCENTILE, PERIODS, POLLUTANTS,
                    QUANTITIES, STATISTICS)

__all__ = ["period_statistics", "exceedances", "change_rate", "PERIODS", "COMPLIANCE_PERIODS",
           "QUANTITIES", "POLLUTANTS", "DAILY_LIMIT", "HAS_MEAN", "PERCENTILE", "STATISTICS"]
