"""Period statistics (HJ 663; standards.md §3, §4, §6) and their validity ledger.

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

Exactness (standards.md §4, §6)
    With ``rounding.period_from_rounded_daily`` (the default) means and
    percentiles are computed from the *reported* daily values, as integers on
    their decimal grid: the mean is ``Σx / n`` and the percentile
    ``100·X(s) + (X(s+1) − X(s))·((n−1)·p mod 100)`` over ``100``, both rounded
    once, half to even, by :func:`indicators.rounding.round_ratio`. No float
    ever enters the published value. With the setting off, the unrounded daily
    values are used in float arithmetic (summed in sorted order, so the result
    does not depend on row order) and rounded once by
    :func:`indicators.rounding.round_half_even`.

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

Validity ledger (standards.md §3; choices where the standard is silent)
    ``month``    ≥ ``month_min_days`` valid days (February ≥ ``february_min_days``).
    ``quarter``  every month of the quarter valid by the monthly rule
                 (``n_required`` is the sum of the three monthly counts). *Our choice.*
    ``year``     ≥ ``year_min_days`` valid days and, when
                 ``year_requires_every_month``, every month valid.
    ``ytd``      (1 January … ``ytd_end`` inclusive; default ``ytd_end``: the
                 last date in the inputs) ≥ ⌈year_min_days × elapsed / days in
                 year⌉ valid days; when ``year_requires_every_month``, every
                 complete month valid and the current, incomplete month
                 ≥ ⌈monthly count × days elapsed / days in month⌉. *Our choice*:
                 on 31 December this is exactly the year rule. Every ytd row's
                 ``detail`` starts with ``provisional``.
    A day counts when its daily value is valid. AQI statistics count days
    with a valid AQI. Failures are spelled out in ``detail``
    (``"301 valid days, needs 324; 2015-03: 25 valid days, needs 27"``; runs of
    months without any valid day once: ``"2015-01 to 2015-07: no valid days"``).
    A statistic that is not valid keeps its computed ``value``/``reported``.

Other choices
    * ``max_multiple`` is the largest ``(C − S)/S`` over the period's valid
      days, *signed* (negative when no day exceeds), to ``multiple_decimals``.
    * ``compliance`` is 1/0, comparing the reported statistics with the limits
      of the period-end profile and the area's grade; only for ``year`` and
      ``ytd`` (:data:`COMPLIANCE_PERIODS`): a month or quarter compared with an
      annual limit is no evaluation in HJ 663. ``ALL`` is 0 when any pollutant
      is 0, 1 when all six are 1, NaN otherwise; valid when all six are
      (a comparison profile's pollutants without any limit are left out).
    * ``exceedance_days``/``max_multiple`` of a period that straddles a profile
      switch say so in ``detail`` ("each day against its own profile's limit
      (cn-2012, cn-2026-transition)").
    * One *valid* row per level, area, date and quantity: a second valid row is
      a ``ValueError``; extra invalid rows are harmless. ``O3_1H_MAX`` has no
      period statistic.
    * Dust (standards.md §7): ``dust_days`` (a frame with ``area``, ``date``
      and optionally ``level``, or a mapping area → dates) removes those days
      from the statistics of the pollutants in the profile's
      ``dust.exclude_from`` (PM10, PM2.5). The removed days still count as
      captured for validity (capture is a property of the monitoring, not of
      the weather); ``detail`` says how many were removed. AQI statistics keep
      them. Areas match by id at any level unless ``level`` is given; for
      stations inheriting their district's days use
      :func:`indicators.dust.with_station_days`.
    * Grades: ``grades`` is a mapping area → "I"/"II" (keys may also be
      ``(level, area)`` tuples) or a membership frame (``level, area, station,
      grade``) through which stations take their district's grade (Grade I if
      any of their districts is Grade I). Default Grade II.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pa_compute
from numpy.dtypes import StringDType

from config.standards import GRADE_INDEX, Profile, load_profile, load_schedule

from . import ranking
from .frames import DAILY_QUANTITIES, STAT_COLUMNS, check_columns
from .rounding import round_half_even, round_ratio, scaled_integers

PERIODS = ("year", "quarter", "month", "ytd")
#: Periods for which compliance with the (annual) limits is evaluated.
COMPLIANCE_PERIODS = ("year", "ytd")

#: Daily quantities the period statistics read, and the pollutant each stands for.
QUANTITIES = ("SO2", "NO2", "PM10", "PM2.5", "CO", "O3_MDA8")
POLLUTANTS = ("SO2", "NO2", "PM10", "PM2.5", "CO", "O3")
#: The limit a daily value is compared with (standards.md §6).
DAILY_LIMIT = ("24h", "24h", "24h", "24h", "24h", "mda8")
#: Which quantities have a period mean compared with the annual limit.
HAS_MEAN = (True, True, True, True, False, False)
#: The percentile statistic of each quantity (HJ 663: the names carry the percentile).
PERCENTILE = (("p98_daily", 98), ("p98_daily", 98), ("p95_daily", 95), ("p95_daily", 95),
              ("p95_daily", 95), ("p90_mda8", 90))

STATISTICS = ("annual_mean", "p98_daily", "p95_daily", "p90_mda8", "exceedance_days",
              "max_multiple", "compliance", "valid_aqi_days", "good_days", "heavy_days",
              "good_day_ratio")
_OUT_POLLUTANTS = (*POLLUTANTS, "AQI", "ALL")
_ST = {s: i for i, s in enumerate(STATISTICS)}
_AQI, _ALL = 6, 7
_S = StringDType()
_NQ = len(QUANTITIES)


# ----------------------------------------------------------------------------- helpers

def _as_profile(profile) -> Profile | None:
    if profile is None or isinstance(profile, Profile):
        return profile
    return load_profile(str(profile))


def _has_rules(prof: Profile) -> bool:
    return all(k in prof.raw for k in ("validity", "rounding"))


def _s(values) -> np.ndarray:
    """Array of strings (numpy StringDType) for vectorised concatenation."""
    arr = np.asarray(values)
    if arr.dtype == _S:
        return arr
    if arr.dtype.kind in "OU":
        return arr.astype(_S)
    return arr.astype(str).astype(_S)


def _join(*parts, sep: str = "; ") -> np.ndarray:
    """Join string arrays element-wise, skipping empty parts."""
    out = _s(parts[0])
    for p in parts[1:]:
        p = _s(p)
        out = np.where((out != "") & (p != ""), out + sep + p, out + p)
    return out


def _str_series(values: np.ndarray) -> pd.Series:
    """``pd.Series(values.astype(object), dtype=str)`` of numpy strings, built by Arrow
    straight from the numpy buffer (no Python string per row)."""
    try:
        arrow = pa.array(values).cast(pa.large_string())
    except (pa.ArrowException, TypeError, ValueError):
        return pd.Series(values.astype(object), dtype=str)
    return pd.Series(pd.array(arrow, dtype=pd.StringDtype("pyarrow", na_value=np.nan)))


def _str_take(parts, order: np.ndarray) -> pd.Series:
    """``_str_series(np.concatenate(parts)[order])``, the parts made Arrow arrays first
    and then taken (a take of numpy strings makes each string anew)."""
    try:
        arrow = pa.concat_arrays([pa.array(p, type=pa.large_string()) for p in parts])
        arrow = arrow.take(pa.array(np.asarray(order, dtype=np.int64)))
    except (pa.ArrowException, TypeError, ValueError):
        return _str_series(np.concatenate(parts)[order])
    return pd.Series(pd.array(arrow, dtype=pd.StringDtype("pyarrow", na_value=np.nan)))


def _take_str(table, codes: np.ndarray) -> pd.Series:
    """``pd.Series(np.asarray(table, dtype=object)[codes], dtype=str)``: the table made a
    ``str`` array once, then taken (by Arrow) row by row."""
    return pd.Series(pd.array(np.asarray(table, dtype=object), dtype=str).take(
        np.asarray(codes, dtype=np.intp)))


def _days(column) -> np.ndarray:
    return pd.to_datetime(column).to_numpy().astype("datetime64[D]")


def _limit_decimals(x: float) -> int:
    """Decimal places of a limit as written (35 → 0, 2.5 → 1)."""
    return max(0, -Decimal(repr(float(x))).normalize().as_tuple().exponent)


def _unique_inverse(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)`` of integers, by a table of the range
    when that is small (no sort). The uniques are int64, the inverse int32 (compact: it
    is as long as the rows)."""
    values = np.asarray(values, dtype=np.int64)
    if len(values):
        lo, hi = int(values.min()), int(values.max())
        if lo == hi:
            return values[:1].copy(), np.zeros(len(values), dtype=np.int32)
        if hi - lo < 2 * len(values) + 4096:
            shifted = values - lo
            present = np.zeros(hi - lo + 1, dtype=bool)
            present[shifted] = True
            rank = np.cumsum(present, dtype=np.int32) - 1
            return np.flatnonzero(present) + lo, rank[shifted]
    inverse, uniq = pd.factorize(values, sort=True)      # hashing: no sort of the rows
    return np.asarray(uniq, dtype=np.int64), inverse.astype(np.int32)


def _months(days: np.ndarray) -> np.ndarray:
    """Months since 1970-01 of datetime64[D] values: the calendar arithmetic is done once
    per distinct day of the range and looked up (days of a few years, millions of rows)."""
    di = days.view(np.int64) if days.dtype == np.dtype("datetime64[D]") else \
        days.astype("datetime64[D]").view(np.int64)
    if len(di):
        lo, hi = int(di.min()), int(di.max())
        if hi - lo < 2 * len(di) + 4096:              # (a NaT makes the range huge)
            table = np.arange(lo, hi + 1).astype("datetime64[D]").astype("datetime64[M]")
            return table.astype(np.int64).astype(np.int32)[di - lo]
    return days.astype("datetime64[M]").astype(np.int64)


@dataclass
class _Rows:
    """Column arrays of one input, all the same length."""
    cols: dict

    def __getattr__(self, name):
        try:
            return self.__dict__["cols"][name]
        except KeyError:
            raise AttributeError(name) from None

    def take(self, idx) -> "_Rows":
        return _Rows({k: v[idx] for k, v in self.cols.items()})

    def __len__(self):
        return len(next(iter(self.cols.values())))


def _factorize_sorted(series: pd.Series):
    """``pd.factorize(series, sort=True)``; for a categorical from its codes (no hashing):
    the categories that occur, in the categorical's order, NaN coded -1."""
    if not isinstance(series.dtype, pd.CategoricalDtype):
        return pd.factorize(series, sort=True)
    codes = series.cat.codes.to_numpy()
    n_cat = len(series.cat.categories)
    has_na = bool(len(codes)) and int(codes.min()) < 0
    if n_cat <= 16:               # a few categories: one cheap comparison each
        present = np.array([bool((codes == c).any()) for c in range(n_cat)], dtype=bool)
    else:
        present = np.bincount(codes[codes >= 0] if has_na else codes, minlength=n_cat) > 0
    rank = np.cumsum(present, dtype=np.int64) - 1
    if has_na:
        out = np.where(codes >= 0, rank[codes], -1)
    elif present.all():
        out = codes                           # every category occurs: the codes are the ranks
    else:
        out = rank[codes]
    uniques = pd.CategoricalIndex(pd.Categorical.from_codes(np.flatnonzero(present),
                                                            dtype=series.dtype))
    return out, uniques


def _area_pairs(frame: pd.DataFrame) -> tuple[np.ndarray, pd.MultiIndex]:
    """(code of each row's (level, area), the sorted unique pairs)."""
    level, area = frame["level"], frame["area"]
    if isinstance(level.dtype, pd.CategoricalDtype) and isinstance(area.dtype, pd.CategoricalDtype):
        # pairs of categorical codes: ordered as the pairs of their sorted factorisations
        lcode, acode = level.cat.codes.to_numpy(), area.cat.codes.to_numpy()
        if not len(lcode) or min(int(lcode.min()), int(acode.min())) >= 0:
            na = max(len(area.cat.categories), 1)
            ku, kc = _unique_inverse(lcode.astype(np.int64) * na + acode)
            levels = np.asarray(level.cat.categories, dtype=object)
            areas = np.asarray(area.cat.categories, dtype=object)
            pairs = pd.MultiIndex.from_arrays([levels[ku // na], areas[ku % na]],
                                              names=["level", "area"])
            return kc, pairs
    lc, lu = _factorize_sorted(frame["level"])
    ac, au = _factorize_sorted(frame["area"])
    na = max(len(au), 1)
    ku, kc = _unique_inverse(lc.astype(np.int64) * na + ac)
    pairs = pd.MultiIndex.from_arrays([np.asarray(lu, dtype=object)[ku // na],
                                       np.asarray(au, dtype=object)[ku % na]],
                                      names=["level", "area"])
    return kc, pairs


# ----------------------------------------------------------------------------- periods

@dataclass
class _Periods:
    kind: str
    code: np.ndarray          # [P] period codes (see _row_period_codes)
    start_month: np.ndarray   # [P] months since 1970-01 of the first month
    start: np.ndarray         # [P] datetime64[D]
    end: np.ndarray           # [P] datetime64[D]
    label: np.ndarray         # [P] str
    month_label: np.ndarray   # [P, M] str
    month_req: np.ndarray     # [P, M] valid days each month needs
    total_req: np.ndarray     # [P] valid days the period needs
    every_month: np.ndarray   # [P] bool: the monthly rule applies
    show_total: bool          # the total is a rule of its own (year, ytd)
    rule: np.ndarray          # [P] str
    prefix: np.ndarray        # [P] str, "provisional …" for ytd
    rules: list               # Profiles giving validity/rounding/aqi settings
    rules_code: np.ndarray    # [P] index into rules
    limits: list              # Profiles giving the limits (forced or rules)
    limits_code: np.ndarray   # [P]

    @property
    def n_months(self) -> int:
        return self.month_req.shape[1]


def _row_period_codes(kind: str, days: np.ndarray, ytd_end,
                      months: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(period code, kept) per row: years/quarters/months since 1970, ytd: its year."""
    if months is None:
        months = _months(days)
    if kind == "year":
        return months // 12, np.ones(len(days), dtype=bool)
    if kind == "quarter":
        return months // 3, np.ones(len(days), dtype=bool)
    if kind == "month":
        return months, np.ones(len(days), dtype=bool)
    year0 = ytd_end.astype("datetime64[Y]")
    keep = (days >= year0.astype("datetime64[D]")) & (days <= ytd_end)
    return np.full(len(days), year0.astype(np.int64), dtype=np.int64), keep


def _build_periods(kind: str, codes: np.ndarray, ytd_end, forced: Profile | None) -> _Periods:
    codes = np.asarray(codes, dtype=np.int64)
    n_p = len(codes)
    if kind == "year":
        start_month, width = codes * 12, 12
    elif kind == "quarter":
        start_month, width = codes * 3, 3
    elif kind == "month":
        start_month, width = codes, 1
    else:
        start_month = codes * 12
        width = int(ytd_end.astype("datetime64[M]").astype(np.int64) % 12) + 1
    start = start_month.astype("datetime64[M]").astype("datetime64[D]")
    if kind == "ytd":
        end = np.full(n_p, ytd_end, dtype="datetime64[D]")
    else:
        end = (start_month + width).astype("datetime64[M]").astype("datetime64[D]") - 1
    years = _s(start_month // 12 + 1970)
    if kind == "year":
        label = years
    elif kind == "quarter":
        label = years + "-Q" + _s(codes % 4 + 1)
    elif kind == "month":
        label = _s(start_month.astype("datetime64[M]").astype(str))
    else:
        label = years + "-YTD-" + _s(np.strings.slice(np.datetime_as_string(end), 5, None))

    # profiles: rules (validity, rounding) and limits
    sched = load_schedule()
    sched_ids = np.asarray(sched.in_force(end), dtype=object) if n_p else np.array([], dtype=object)
    if forced is not None:
        limit_ids = np.full(n_p, forced.id, dtype=object)
        rule_ids = limit_ids if _has_rules(forced) else sched_ids
    else:
        limit_ids = rule_ids = sched_ids
    rules_code, rules_u = pd.factorize(pd.Series(rule_ids, dtype=object))
    limits_code, limits_u = pd.factorize(pd.Series(limit_ids, dtype=object))
    rules = [forced if forced is not None and str(p) == forced.id else load_profile(str(p))
             for p in rules_u]
    limits = [forced if forced is not None else load_profile(str(p)) for p in limits_u]

    def setting(key):
        return np.array([r.validity[key] for r in rules])[rules_code]

    month_min = setting("month_min_days").astype(np.int64)
    feb_min = setting("february_min_days").astype(np.int64)
    year_min = setting("year_min_days").astype(np.int64)
    every_year = setting("year_requires_every_month").astype(bool)

    mm = start_month[:, None] + np.arange(width)[None, :]
    cal = mm % 12 + 1
    month_req = np.where(cal == 2, feb_min[:, None], month_min[:, None]).astype(np.int64)
    month_label = _s(mm.astype("datetime64[M]").astype(str))
    prefix = np.full(n_p, "", dtype=_S)
    mm_s, feb_s = _s(month_min), _s(feb_min)
    month_rule = "month ≥" + mm_s + " (February ≥" + feb_s + ")"
    if kind == "month":
        total = month_req[:, 0]
        every = np.ones(n_p, dtype=bool)
        rule = np.where(cal[:, 0] == 2, "month (February): ≥" + feb_s + " valid days",
                        "month: ≥" + mm_s + " valid days")
    elif kind == "quarter":
        total = month_req.sum(axis=1)
        every = np.ones(n_p, dtype=bool)
        rule = "quarter: every month ≥" + mm_s + " valid days (February ≥" + feb_s + ")"
    elif kind == "year":
        total = year_min
        every = every_year
        rule = np.where(every, "year: ≥" + _s(year_min) + " valid days and every " + month_rule,
                        "year: ≥" + _s(year_min) + " valid days")
    else:
        year_start = start
        elapsed = (end - year_start).astype(np.int64) + 1
        n_days = ((start_month + 12).astype("datetime64[M]").astype("datetime64[D]")
                  - year_start).astype(np.int64)
        total = -(-year_min * elapsed // n_days)                   # ceil, exact
        month_end = (ytd_end.astype("datetime64[M]") + 1).astype("datetime64[D]") - 1
        partial = ytd_end != month_end
        if partial:
            day = int((ytd_end - ytd_end.astype("datetime64[M]").astype("datetime64[D]"))
                      .astype(np.int64)) + 1
            dim = int((month_end - ytd_end.astype("datetime64[M]").astype("datetime64[D]"))
                      .astype(np.int64)) + 1
            month_req[:, -1] = -(-month_req[:, -1] * day // dim)
            month_label[:, -1] = month_label[:, -1] + " (days 1–" + str(day) + ")"
        every = every_year
        rule = ("year to date (provisional): ≥" + _s(total) + " valid days (" + _s(year_min)
                + " × " + _s(elapsed) + "/" + _s(n_days) + " days, rounded up)")
        month_part = " and every complete " + month_rule
        if partial:
            month_part = month_part + ", the current month ≥" + _s(month_req[:, -1]) + " (pro rata)"
        rule = np.where(every, rule + month_part, rule)
        prefix = ("provisional: year to date " + _s(np.datetime_as_string(start)) + " to "
                  + _s(np.datetime_as_string(end)))
    return _Periods(kind=kind, code=codes, start_month=start_month, start=start, end=end,
                    label=_s(label), month_label=month_label, month_req=month_req,
                    total_req=np.asarray(total, dtype=np.int64),
                    every_month=np.asarray(every, dtype=bool),
                    show_total=kind in ("year", "ytd"), rule=_s(rule), prefix=_s(prefix),
                    rules=rules, rules_code=rules_code, limits=limits, limits_code=limits_code)


def _ledger(g: np.ndarray, j: np.ndarray, n_groups: int, gp: np.ndarray, per: _Periods):
    """Validity of each group from its counted days (group g, month offset j per day).

    Returns (n_valid, n_required, valid, failure text) per group.
    """
    m = per.n_months
    cell = g.astype(np.int64) * m
    cell += j
    counts = np.bincount(cell, minlength=n_groups * m).reshape(n_groups, m)
    del cell
    return _ledger_counts(counts, gp, per)


def _ledger_counts(counts: np.ndarray, gp: np.ndarray, per: _Periods):
    """:func:`_ledger` from the counted days of each group and month (n_groups, months)."""
    n_groups, m = counts.shape
    n = counts.sum(axis=1)
    req = per.month_req[gp]
    total = per.total_req[gp]
    month_fail = per.every_month[gp][:, None] & (counts < req)
    ok = (n >= total) & ~month_fail.any(axis=1)
    text = np.full(n_groups, "", dtype=_S)
    bad = np.flatnonzero(~ok)
    if len(bad):
        nb, tb = n[bad], total[bad]
        t = np.full(len(bad), "", dtype=_S)
        if per.show_total:
            t = np.where(nb < tb, _s(nb) + " valid days, needs " + _s(tb), t)
        labels = per.month_label[gp[bad]]
        fails = month_fail[bad]
        # runs of ≥ 2 months without any valid day are named once: "2026-06 to 2026-12: …"
        empty = fails & (counts[bad] == 0)
        run_end = np.tile(np.arange(m), (len(bad), 1))
        for col in range(m - 2, -1, -1):
            run_end[:, col] = np.where(empty[:, col] & empty[:, col + 1], run_end[:, col + 1], col)
        in_run = np.zeros(len(bad), dtype=bool)     # inside a run already named
        for col in range(m):          # loop over the months of a period, vectorised over groups
            f = fails[:, col]
            if not f.any():
                in_run[:] = False
                continue
            end = run_end[:, col]
            starts_run = empty[:, col] & (end > col) & ~in_run
            msg = (labels[:, col] + ": " + _s(counts[bad, col]) + " valid days, needs "
                   + _s(req[bad, col]))
            run_msg = labels[:, col] + " to " + labels[np.arange(len(bad)), end] + ": no valid days"
            msg = np.where(starts_run, run_msg, msg)
            t = _join(t, np.where(f & ~(in_run & empty[:, col]), msg, ""))
            in_run = empty[:, col] & (in_run | starts_run) & (end > col)
        t = np.where(nb == 0, "no valid days, needs " + _s(tb), t)
        text[bad] = t
    return n, total, ok, text


# ----------------------------------------------------------------------------- inputs

def _grade_codes(grades, pairs: pd.MultiIndex) -> np.ndarray:
    """Grade index (GRADE_INDEX: I → 0, II → 1) of each (level, area) pair."""
    n = len(pairs)
    out = np.full(n, GRADE_INDEX["II"], dtype=np.int64)
    if grades is None or n == 0:
        return out
    levels = pairs.get_level_values(0)
    areas = pairs.get_level_values(1)

    def code(values) -> np.ndarray:
        s = pd.Series(values, dtype=object)
        unknown = ~s.isin(list(GRADE_INDEX))
        if unknown.any():
            raise ValueError(f"unknown grade {s[unknown].iloc[0]!r}; "
                             f"use one of {list(GRADE_INDEX)}")
        return s.map(GRADE_INDEX).to_numpy(dtype=np.int64)

    if isinstance(grades, pd.DataFrame):
        check_columns(grades, ("level", "area", "station", "grade"), "membership")
        m = grades.assign(_g=code(grades["grade"].to_numpy()))
        area_g = m.groupby(["level", "area"])["_g"].min()
        idx = area_g.index.get_indexer(pairs)
        out = np.where(idx >= 0, area_g.to_numpy()[np.maximum(idx, 0)], out)
        dist = m[m["level"] == "district"].groupby("station")["_g"].min()
        sidx = dist.index.get_indexer(areas)
        is_station = (np.asarray(levels) == "station") & (sidx >= 0)
        return np.where(is_station, dist.to_numpy()[np.maximum(sidx, 0)], out)
    if not isinstance(grades, Mapping):
        raise TypeError("grades must be a mapping area → grade or a membership frame")
    tuple_keys = {k: v for k, v in grades.items() if isinstance(k, tuple)}
    plain = {k: v for k, v in grades.items() if not isinstance(k, tuple)}
    if plain:
        keys = pd.Index(list(plain), dtype=object)
        vals = code(list(plain.values()))
        idx = keys.get_indexer(areas)
        out = np.where(idx >= 0, vals[np.maximum(idx, 0)], out)
    if tuple_keys:
        keys = pd.MultiIndex.from_tuples(list(tuple_keys))
        vals = code(list(tuple_keys.values()))
        idx = keys.get_indexer(pairs)
        out = np.where(idx >= 0, vals[np.maximum(idx, 0)], out)
    return out


def _daily_rows(daily: pd.DataFrame, need_value: bool) -> tuple[_Rows, pd.MultiIndex]:
    cols = ["level", "area", "date", "pollutant", "reported", "valid"]
    if need_value:
        cols.append("value")
    check_columns(daily, cols, "daily values")
    pollutant = daily["pollutant"]
    if isinstance(pollutant.dtype, pd.CategoricalDtype) and not pollutant.isna().any():
        pc, pu = _factorize_sorted(pollutant)       # q does not depend on the order
    else:
        pc, pu = pd.factorize(pollutant)
    qmap = pd.Index(QUANTITIES).get_indexer(pd.Index(pu, dtype=object))
    q = qmap.astype(np.int8)[pc] if len(pc) else np.array([], dtype=np.int8)
    sel = q >= 0
    la, pairs = _area_pairs(daily)
    days = _days(daily["date"])
    prof, prof_ids = _profile_codes(daily, days)
    cols = {
        "la": la, "day": days, "q": q, "prof": prof,
        "valid": daily["valid"].to_numpy(dtype=bool, na_value=False),
        "reported": pd.to_numeric(daily["reported"]).to_numpy(dtype="float64", na_value=np.nan),
    }
    if need_value:
        cols["value"] = pd.to_numeric(daily["value"]).to_numpy(dtype="float64", na_value=np.nan)
    rows = _Rows(cols)
    return (rows if sel.all() else rows.take(sel)), pairs, prof_ids


def _aqi_rows(aqi: pd.DataFrame) -> tuple[_Rows, pd.MultiIndex]:
    check_columns(aqi, ("level", "area", "date", "aqi"), "daily AQI")
    la, pairs = _area_pairs(aqi)
    days = _days(aqi["date"])
    prof, prof_ids = _profile_codes(aqi, days)
    value = pd.to_numeric(aqi["aqi"]).to_numpy(dtype="float64", na_value=np.nan)
    return _Rows({"la": la, "day": days, "prof": prof, "aqi": value}), pairs, prof_ids


def _one_value_profile(column: pd.Series):
    """``column``, or — an Arrow string column of one value throughout (the daily AQI of one
    profile) — a categorical of it, whose :func:`_factorize_sorted` is the same as the
    column's but needs no hashing of every row."""
    array = column.array
    if (len(array) and isinstance(column.dtype, pd.StringDtype)
            and getattr(column.dtype, "storage", None) == "pyarrow"):
        data = pa.chunked_array(array._pa_array)
        first = data[0]
        if (data.null_count == 0 and first.is_valid
                and pa_compute.all(pa_compute.equal(data, first)).as_py()):
            return pd.Series(pd.Categorical.from_codes(np.zeros(len(array), dtype=np.int8),
                                                       categories=[first.as_py()]))
    return column


def _profile_codes(frame: pd.DataFrame, days: np.ndarray) -> tuple[np.ndarray, list]:
    """(code per row, profile ids): the row's ``profile``, else the one in force that day."""
    if "profile" in frame.columns:
        codes, uniq = _factorize_sorted(_one_value_profile(frame["profile"]))
        ids = [str(u) for u in uniq]
        codes = codes.astype(np.int32)
        if "" in ids:
            codes[codes == ids.index("")] = -1
    else:
        codes, ids = np.full(len(frame), -1, dtype=np.int64), []
    missing = codes < 0
    if missing.any():
        sc, su = pd.factorize(pd.Series(load_schedule().in_force(days[missing]), dtype=object),
                              sort=True)
        codes[missing] = sc + len(ids)
        ids += [str(u) for u in su]
    if not ids:
        return codes, []
    uniq, inv = np.unique(np.asarray(ids, dtype=object), return_inverse=True)
    if (inv == np.arange(len(inv))).all():          # already sorted: nothing to renumber
        return codes, [str(u) for u in uniq]
    return inv[codes], [str(u) for u in uniq]


def _dust_flags(dust_days, rows: _Rows, pairs: pd.MultiIndex) -> np.ndarray:
    """Per daily row: the (area, date) is an official dust day."""
    if dust_days is None or len(rows) == 0:
        return np.zeros(len(rows), dtype=bool)
    if isinstance(dust_days, Mapping):
        areas, dates = [], []
        for area, ds in dust_days.items():
            ds = list(ds)
            areas += [area] * len(ds)
            dates += ds
        dust_days = pd.DataFrame({"area": pd.Series(areas, dtype=object), "date": dates})
    check_columns(dust_days, ("area", "date"), "dust days")
    if dust_days.empty:
        return np.zeros(len(rows), dtype=bool)
    ddays = _days(dust_days["date"]).astype(np.int64)
    if "level" in dust_days.columns:
        idx = pairs.get_indexer(pd.MultiIndex.from_arrays(
            [dust_days["level"].astype(object), dust_days["area"].astype(object)]))
        row_key = rows.la
    else:
        area_u = pd.Index(pairs.get_level_values(1)).unique()
        idx = area_u.get_indexer(pd.Index(dust_days["area"].astype(object)))
        row_key = area_u.get_indexer(pairs.get_level_values(1))[rows.la]
    ok = idx >= 0
    span = np.int64(1 << 32)
    dkey = idx[ok].astype(np.int64) * span + (ddays[ok] + (1 << 31))
    rkey = row_key.astype(np.int64) * span + (rows.day.astype(np.int64) + (1 << 31))
    return np.isin(rkey, dkey)


def _check_unique(group: np.ndarray, day: np.ndarray, what: str, name_of) -> None:
    """Refuse two valid rows for one group and day; ``name_of(group)`` names the culprit."""
    if len(group) < 2:
        return
    day0 = day.min()
    ticks = day.view(np.int64) if day.dtype == np.dtype("datetime64[D]") else \
        day.astype("datetime64[D]").view(np.int64)
    base = int(day0.astype("datetime64[D]").astype(np.int64))
    span = int(ticks.max()) - base + 1
    keys = group.astype(np.int64) * span        # group · span + day offset, in place
    keys += ticks
    keys -= base
    n_keys = int(keys.max()) + 1 if int(keys.min()) >= 0 else None
    if n_keys is not None and n_keys <= 4 * len(keys) + (1 << 20):
        dup = np.flatnonzero(np.bincount(keys, minlength=n_keys) > 1)   # smallest first
        k = int(dup[0]) if len(dup) else None
    else:
        s = np.sort(keys)
        dup = np.flatnonzero(s[1:] == s[:-1])
        k = int(s[dup[0]]) if len(dup) else None
    if k is not None:
        raise ValueError(f"{what}: more than one valid row for {name_of(k // span)} on "
                         f"{day0 + np.timedelta64(k % span, 'D')}")


def _check_unique_slots(group: np.ndarray, slot: np.ndarray, n_groups: int, day_of, days,
                        what: str, name_of) -> None:
    """:func:`_check_unique` for rows whose day is also given as its slot in the group's
    period (``day_of(group, slot)`` is the date): one count per (group, slot), no sort.
    The first duplicate reported is the same: smallest group, then earliest day. When
    that table would be large, :func:`_check_unique` on ``days()``."""
    if len(group) < 2:
        return
    lo, width = int(slot.min()), int(slot.max()) + 1
    if lo < 0 or n_groups * width > 4 * len(group) + (1 << 20):
        _check_unique(group, days(), what, name_of)
        return
    cell = group.astype(np.int64) * width
    cell += slot
    dup = np.flatnonzero(np.bincount(cell, minlength=n_groups * width) > 1)
    if len(dup):
        g, k = divmod(int(dup[0]), width)
        raise ValueError(f"{what}: more than one valid row for {name_of(g)} on {day_of(g, k)}")


# ----------------------------------------------------------------------------- statistics

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


def period_statistics(daily: pd.DataFrame, aqi: pd.DataFrame | None = None, *,
                      period: str = "year", grades=None, profile=None, ytd_end=None,
                      dust_days=None) -> pd.DataFrame:
    """Period statistics of every level, area and period (standards.md §3, §6).

    Parameters
    ----------
    daily : DataFrame
        Daily values (``frames.DAILY_COLUMNS``); rows of ``O3_1H_MAX`` are ignored.
        A (level, area, date, pollutant) may appear more than once only if at
        most one of its rows is valid.
    aqi : DataFrame, optional
        Daily AQI: level, area, date, aqi (Int64, <NA> = not valid), profile.
        Without it no AQI statistics are produced.
    period : {"year", "quarter", "month", "ytd"}
        Calendar periods; ``ytd`` is 1 January to ``ytd_end`` inclusive.
    grades : mapping or DataFrame, optional
        Area → "I"/"II" (keys area ids or (level, area)), or the membership
        frame (stations take their district's grade). Default Grade II.
    profile : str or Profile, optional
        Force a profile for limits (and rules, when it has them); default the
        profile in force at the end of each period (daily limits: each day's).
    ytd_end : date-like, optional
        Last day of the year-to-date (``period="ytd"`` only); default the last
        date in the inputs. Ignored for other periods.
    dust_days : DataFrame or mapping, optional
        Official dust days: columns area, date (and optionally level), or a
        mapping area → dates; removed from the statistics of the profile's
        ``dust.exclude_from`` pollutants.

    Returns
    -------
    DataFrame with ``frames.STAT_COLUMNS``, sorted by level, area, period,
    pollutant (SO2, NO2, PM10, PM2.5, CO, O3, AQI, ALL) and statistic.
    ``value`` [µg/m³; CO mg/m³; days; % for good_day_ratio; 1/0 for
    compliance] unrounded, ``reported`` published, ``n_valid``/``n_required``
    valid days counted/needed.
    """
    if period not in PERIODS:
        raise ValueError(f"period must be one of {PERIODS}, got {period!r}")
    forced = _as_profile(profile)

    if dust_days is None:
        dense = _dense_daily(daily)
        if dense is not None:
            out = _period_statistics_dense(dense, aqi, period, grades, forced, ytd_end)
            if out is not None:
                return out

    need_value = "value" in daily.columns
    d, pairs_d, d_ids = _daily_rows(daily, need_value)
    a, pairs_a, a_ids = _aqi_rows(aqi) if aqi is not None else (None, pairs_d[:0], [])

    if period == "ytd":
        if ytd_end is None:
            last = [r.day.max() for r in (d, a) if r is not None and len(r)]
            if not last:
                return _empty()
            ytd_end = max(last)
        ytd_end = np.datetime64(pd.Timestamp(ytd_end).date(), "D")

    # area-periods: union of both inputs
    pairs = pairs_d.union(pairs_a) if len(pairs_a) else pairs_d
    d, dcode = _period_codes(d, pairs, pairs_d, period, ytd_end)
    a, acode = _period_codes(a, pairs, pairs_a, period, ytd_end)
    if len(d) == 0 and (a is None or len(a) == 0):
        return _empty()
    codes_u, p_inv = _unique_inverse(np.concatenate([dcode, acode]))
    n_per = len(codes_u)
    d_pi, a_pi = p_inv[:len(dcode)], p_inv[len(dcode):]
    a_keys = (a.la.astype(np.int64) * n_per + a_pi) if a is not None else \
        np.array([], dtype=np.int64)
    ap_keys, ap_inv = _unique_inverse(np.concatenate([d.la.astype(np.int64) * n_per + d_pi,
                                                      a_keys]))
    n_ap = len(ap_keys)
    ap_la = ap_keys // n_per
    ap_p = ap_keys % n_per
    d_ap = ap_inv[:len(d)]

    per = _build_periods(period, codes_u, ytd_end, forced)
    grade = _grade_codes(grades, pairs)              # per (level, area)
    ap_grade = grade[ap_la]

    blocks: list[dict] = []
    _daily_statistics(d, d_ids, d_ap, d_pi, n_ap, ap_p, ap_la, ap_grade, per, forced,
                      dust_days, pairs, blocks)
    if a is not None:
        a_ap = ap_inv[len(d):]
        _aqi_statistics(a, a_ids, a_ap, a_pi, n_ap, ap_p, ap_la, pairs, per, blocks)
    return _assemble(blocks, pairs, ap_la, ap_p, per)


def _period_codes(rows, pairs, rows_pairs, period, ytd_end):
    """Daily or AQI rows keyed to the union of area pairs, with their period codes
    (rows outside the periods dropped); ``(None, empty)`` when there are no rows."""
    if rows is None:
        return None, np.array([], dtype=np.int64)
    rows.cols["la"] = pairs.get_indexer(rows_pairs)[rows.la]
    rows.cols["month"] = _months(rows.day)
    code, keep = _row_period_codes(period, rows.day, ytd_end, rows.month)
    if not keep.all():
        rows = rows.take(keep)
        code = code[keep]
    return rows, code


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in STAT_COLUMNS})


def _block(blocks, ap, pol, stat, value, reported, valid, n_valid, n_required, rule, detail,
           profile):
    blocks.append({"ap": ap, "pol": np.broadcast_to(np.asarray(pol), ap.shape),
                   "stat": np.broadcast_to(np.asarray(stat), ap.shape),
                   "value": np.asarray(value, dtype="float64"),
                   "reported": np.asarray(reported, dtype="float64"),
                   "valid": np.asarray(valid, dtype=bool),
                   "n_valid": np.asarray(n_valid, dtype=np.int64),
                   "n_required": np.asarray(n_required, dtype=np.int64),
                   "rule": _s(rule), "detail": _s(detail), "profile": _s(profile)})


@dataclass
class _DailySetup:
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


def _daily_setup(d_ids: list, per: _Periods, forced, n_ap: int, ap_p) -> _DailySetup:
    n_groups = n_ap * _NQ
    gp = np.repeat(ap_p, _NQ)                       # period index of each group
    g_q = np.tile(np.arange(_NQ), n_ap)
    # profile of each day (limits of the day), or the forced one
    day_profs = [forced] if forced is not None else [load_profile(p) for p in d_ids]

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
                        grid[qi] = max(grid[qi], _limit_decimals(lim))
    grid = grid.astype(np.int64)
    scale = 10 ** grid                               # per quantity

    # daily limits per (day profile, grade, quantity), on the grid
    lut = np.full((len(day_profs), 2, _NQ), np.nan)
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
    excl = np.zeros((len(per.rules), _NQ), dtype=bool)
    for ri, r in enumerate(per.rules):
        names = set((r.raw.get("dust") or {}).get("exclude_from") or ())
        excl[ri] = [p in names for p in POLLUTANTS]
    mult_dec = np.array([int(r.rounding["multiple_decimals"]) for r in per.rules],
                        dtype=np.int64)[per.rules_code[gp]]
    pid = _s(np.array([p.id for p in per.limits], dtype=object)[per.limits_code[gp]]) \
        if n_groups else np.zeros(0, _S)
    return _DailySetup(n_groups, gp, g_q, day_profs, g_dec, grid, scale, lut_missing, lut_int,
                       from_rounded_p, from_rounded_p[gp], excl, mult_dec, per.rule[gp],
                       per.prefix[gp], pid)


def _means_percentiles(S: _DailySetup, cnt: np.ndarray, xs: np.ndarray):
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
    return mean_value, mean_rep, pct_value, pct_rep


def _single_limit_multiples(S: _DailySetup, ap_grade, cnt, xs):
    """With one daily limit per group (one profile for every day, or a forced one): the
    limit of each group on the grid, whether it is missing, and the largest multiple —
    the one of the group's largest value, as (x − S)/S rises with x — read off the
    sorted values. None when the values are too large for that argument."""
    n_groups = S.n_groups
    starts = np.cumsum(cnt) - cnt
    has = cnt > 0
    last = starts + cnt - 1
    g_cell = np.repeat(ap_grade, _NQ) * _NQ + S.g_q        # profile 0, grade, quantity
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


def _daily_statistics(d: _Rows, d_ids: list, d_ap, d_pi, n_ap, ap_p, ap_la, ap_grade, per: _Periods,
                      forced, dust_days, pairs, blocks):
    S = _daily_setup(d_ids, per, forced, n_ap, ap_p)
    n_groups, gp, day_profs, grid = S.n_groups, S.gp, S.day_profs, S.grid
    g_rounded, lut_missing, lut_int = S.g_rounded, S.lut_missing, S.lut_int
    g_all = d_ap.astype(np.int64) * _NQ + d.q
    j_all = d.month - per.start_month[d_pi]

    # profile of each day (limits of the day), or the forced one
    dp_code = np.zeros(len(d), dtype=np.int64) if forced is not None else d.prof
    row_grade = ap_grade[d_ap]

    # the day counts (validity) / is used (statistic)
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
        dust = _dust_flags(dust_days, d, pairs) & S.excl[per.rules_code[d_pi], d.q]
    any_dust = bool(dust.any())
    used = capture & ~dust if any_dust else capture

    # one valid row per (level, area, date, quantity); a day's slot is its place in the period
    g_cap = g_all[capture]
    slot_cap = d.day[capture].view(np.int64) - per.start.view(np.int64)[d_pi[capture]]
    _check_unique_slots(g_cap, slot_cap, n_groups,
                        lambda g, k: per.start[gp[g]] + np.timedelta64(k, "D"),
                        lambda: d.day[capture], "daily values",
                        lambda g: f"{pairs[ap_la[g // _NQ]]} {QUANTITIES[g % _NQ]}")

    n, total, ok, fail = _ledger(g_cap, j_all[capture], n_groups, gp, per)
    n_dust = np.bincount(g_all[capture & dust], minlength=n_groups)
    dust_note = np.where(n_dust > 0, _s(n_dust) + np.where(n_dust == 1, " dust day", " dust days")
                         + " removed", "")

    # ---- integers on the grid, sorted by (group, value)
    ui = np.flatnonzero(used)
    if any_dust:
        gu = g_all[used]                   # (boolean selections: the rows ui, in order)
        slot = d.day[used].view(np.int64) - per.start.view(np.int64)[d_pi[used]]
    else:
        gu, slot = g_cap, slot_cap
    del g_cap, slot_cap
    q_used = d.q[used]
    x_rep = scaled_integers(d.reported[used], grid.astype(np.int8)[q_used], nan_as=0)
    cnt = np.bincount(gu, minlength=n_groups)
    xs = _sorted_within_groups(gu, x_rep, slot, cnt, n_groups)
    del slot
    has = cnt > 0
    mean_value, mean_rep, pct_value, pct_rep = _means_percentiles(S, cnt, xs)
    p_of_q = np.array([p for _, p in PERCENTILE], dtype=np.int64)
    g_dec, g_q = S.g_dec, S.g_q
    fl = has & ~g_rounded
    if fl.any():                                   # unrounded daily values, float arithmetic
        fi = ui[~g_rounded[gu]]
        gf = g_all[fi]
        xf = d.value[fi]
        o = np.lexsort((xf, gf))
        xfs = xf[o]
        cf = np.bincount(gf, minlength=n_groups)
        sf = np.cumsum(cf) - cf
        nz = np.flatnonzero(cf)
        tot = np.add.reduceat(xfs, sf[nz]) if len(nz) else np.zeros(0)
        mv = np.full(n_groups, np.nan)
        mv[nz] = tot / cf[nz]
        mean_value[fl] = mv[fl]
        mean_rep[fl] = round_half_even(mv[fl], g_dec[fl])
        pq = p_of_q[g_q[fl]]
        k = (cf[fl] - 1) * pq
        s0, r = k // 100, k % 100
        lo = xfs[sf[fl] + s0]
        hi = xfs[sf[fl] + np.minimum(s0 + 1, cf[fl] - 1)]
        pv = (100 * lo + (hi - lo) * r) / 100
        pct_value[fl] = pv
        pct_rep[fl] = round_half_even(pv, g_dec[fl])

    # ---- exceedances against each day's limit
    mult_dec = S.mult_dec
    mmax_value = np.full(n_groups, np.nan)
    mmax_rep = np.full(n_groups, np.nan)
    single = None
    if (forced is not None or len(day_profs) == 1) and len(ui):
        single = _single_limit_multiples(S, ap_grade, cnt, xs)
    if single is not None:
        lim_g_nan, lim_g_int, mmax_value, mmax_rep = single
        lim_nan = lim_g_nan[gu]
        lim_int = lim_g_int[gu]
        lim_missing = has & lim_g_nan
        over = ~lim_nan & (x_rep > lim_int)
        exc = np.bincount(gu[over], minlength=n_groups).astype("float64")
        exc[lim_missing] = np.nan
    else:
        dp_used = dp_code[used]
        lut_cell = (dp_used * 2 + row_grade[used]) * _NQ + q_used
        lim_nan = lut_missing.reshape(-1)[lut_cell]
        lim_int = lut_int.reshape(-1)[lut_cell]
        del lut_cell
        lim_missing = np.bincount(gu[lim_nan], minlength=n_groups) > 0
        over = ~lim_nan & (x_rep > lim_int)
        exc = np.bincount(gu[over], minlength=n_groups).astype("float64")
        exc[lim_missing] = np.nan
        ratio = np.where(lim_int > 0, (x_rep - lim_int) / np.where(lim_int > 0, lim_int, 1),
                         -np.inf)
        if len(ui):
            gmax = np.full(n_groups, -np.inf)
            np.maximum.at(gmax, gu, ratio)
            at = np.flatnonzero((ratio == gmax[gu]) & np.isfinite(ratio))
            first_g, first_i = np.unique(gu[at], return_index=True)
            rows_at = at[first_i]
            mmax_value[first_g] = gmax[first_g]
            mmax_rep[first_g] = round_ratio(x_rep[rows_at] - lim_int[rows_at],
                                            lim_int[rows_at], mult_dec[first_g])
    mmax_value[lim_missing] = np.nan
    mmax_rep[lim_missing] = np.nan

    # days of one period under more than one profile: say so on the daily-limit statistics
    mixed_note = np.full(n_groups, "", dtype=_S)
    if forced is None and len(day_profs) > 1:
        present = [np.bincount(gu[dp_used == c], minlength=n_groups) > 0
                   for c in range(len(day_profs))]
        k_present = np.sum(present, axis=0)
        names = np.full(n_groups, "", dtype=_S)
        for c, prof in enumerate(day_profs):
            names = _join(names, np.where(present[c], prof.id, ""), sep=", ")
        mixed_note = np.where(k_present > 1, "each day against its own profile's limit ("
                              + names + ")", "")
    _daily_blocks(S, n_ap, ap_p, ap_grade, per, n, total, ok, fail, dust_note, mean_value,
                  mean_rep, pct_value, pct_rep, exc, lim_missing, mmax_value, mmax_rep, mixed_note,
                  blocks)


def _daily_blocks(S: _DailySetup, n_ap, ap_p, ap_grade, per: _Periods, n, total, ok, fail,
                  dust_note, mean_value, mean_rep, pct_value, pct_rep, exc, lim_missing,
                  mmax_value, mmax_rep, mixed_note, blocks) -> None:
    """The rows of the daily-value statistics (and compliance) of every group."""
    rule, prefix, pid = S.rule, S.prefix, S.pid
    no_limit = np.where(lim_missing, "no daily limit in profile " + pid, "")

    # ---- rows
    detail = _join(prefix, fail, dust_note)
    for qi in range(_NQ):
        sel = slice(qi, qi + n_ap * _NQ, _NQ)       # the groups of quantity qi (views)
        ap = np.arange(n_ap)
        common = dict(valid=ok[sel], n_valid=n[sel], n_required=total[sel], rule=rule[sel],
                      profile=pid[sel])
        if HAS_MEAN[qi]:
            _block(blocks, ap, qi, _ST["annual_mean"], mean_value[sel], mean_rep[sel],
                   detail=detail[sel], **common)
        name, _ = PERCENTILE[qi]
        _block(blocks, ap, qi, _ST[name], pct_value[sel], pct_rep[sel], detail=detail[sel],
               **common)
        dl_detail = _join(detail[sel], mixed_note[sel], no_limit[sel])
        dl_common = dict(common, valid=ok[sel] & ~lim_missing[sel])
        _block(blocks, ap, qi, _ST["exceedance_days"], exc[sel], exc[sel], detail=dl_detail,
               **dl_common)
        _block(blocks, ap, qi, _ST["max_multiple"], mmax_value[sel], mmax_rep[sel],
               detail=dl_detail, **dl_common)

    if per.kind not in COMPLIANCE_PERIODS:
        return None
    # ---- compliance: reported statistics vs the period-end profile's limits
    ap = np.arange(n_ap)
    ap_lim = per.limits_code[ap_p]
    all_zero = np.zeros(n_ap, dtype=bool)
    all_one = np.ones(n_ap, dtype=bool)
    all_valid = np.ones(n_ap, dtype=bool)
    all_n = np.full(n_ap, np.iinfo(np.int64).max)
    all_fail = np.full(n_ap, "", dtype=_S)
    for qi, (p, avg) in enumerate(zip(POLLUTANTS, DAILY_LIMIT)):
        sel = slice(qi, qi + n_ap * _NQ, _NQ)
        conds = []
        kinds = (("annual", mean_rep),) if HAS_MEAN[qi] else ()
        kinds += ((avg, pct_rep),)
        for kind, stat in kinds:
            lim = np.full((len(per.limits), 2), np.nan)
            for li, prof in enumerate(per.limits):
                for gr, gi in GRADE_INDEX.items():
                    v = prof.limit(p, kind, gr)
                    lim[li, gi] = np.nan if v is None else v
            lim_ap = lim[ap_lim, ap_grade] if n_ap else np.zeros(0)
            conds.append((stat[sel], lim_ap))
        value = np.full(n_ap, np.nan)
        any_lim = np.zeros(n_ap, dtype=bool)
        missing_stat = np.zeros(n_ap, dtype=bool)
        complies = np.ones(n_ap, dtype=bool)
        for stat, lim_ap in conds:
            has_lim = ~np.isnan(lim_ap)
            any_lim |= has_lim
            missing_stat |= has_lim & np.isnan(stat)
            complies &= ~has_lim | (stat <= lim_ap)
        decided = any_lim & ~missing_stat
        value[decided] = complies[decided].astype(float)
        valid = ok[sel] & any_lim
        no_lim = np.where(any_lim, "", "no limit for " + p + " in profile " + pid[sel])
        _block(blocks, ap, qi, _ST["compliance"], value, value, valid, n[sel], total[sel],
               rule[sel], _join(detail[sel], no_lim), pid[sel])
        counted = any_lim              # pollutants without any limit are left out of ALL
        all_zero |= counted & (value == 0)
        all_one &= ~counted | (value == 1)
        all_valid &= ~counted | valid
        all_n = np.where(counted, np.minimum(all_n, n[sel]), all_n)
        why = _join(fail[sel], no_lim)
        all_fail = _join(all_fail, np.where(counted & ~valid & (why != ""), p + ": " + why, ""))
    none_counted = all_n == np.iinfo(np.int64).max          # the profile has no limit at all
    all_value = np.where(all_zero, 0.0, np.where(all_one & ~none_counted, 1.0, np.nan))
    all_valid &= ~none_counted
    all_fail = np.where(none_counted, "no limits in profile " + pid[ap * _NQ], all_fail)
    all_n = np.where(none_counted, 0, all_n)
    g0 = ap * _NQ
    _block(blocks, ap, _ALL, _ST["compliance"], all_value, all_value, all_valid, all_n,
           total[g0], rule[g0], _join(prefix[g0], all_fail), pid[g0])
    return None


def _aqi_statistics(a: _Rows, a_ids: list, a_ap, a_pi, n_ap, ap_p, ap_la, pairs,
                    per: _Periods, blocks):
    capture = ~np.isnan(a.aqi)
    _check_unique(a_ap[capture], a.day[capture], "daily AQI",
                  lambda ap: f"{pairs[ap_la[ap]]}")
    j = a.month - per.start_month[a_pi]
    n, total, ok, fail = _ledger(a_ap[capture], j[capture], n_ap, ap_p, per)

    # thresholds of each day's profile (its AQI), else of the period's rules
    pc = a.prof
    good_lut = np.full(len(a_ids), np.nan)
    heavy_lut = np.full(len(a_ids), np.nan)
    for i, pid in enumerate(a_ids):
        prof = load_profile(pid)
        if "aqi" in prof.raw and "good_max" in prof.aqi:
            good_lut[i] = prof.aqi["good_max"]
            heavy_lut[i] = prof.aqi["heavy_above"]
    rules_good = np.array([r.aqi["good_max"] for r in per.rules], dtype=float)[per.rules_code]
    rules_heavy = np.array([r.aqi["heavy_above"] for r in per.rules], dtype=float)[per.rules_code]
    good_max = good_lut[pc] if len(pc) else np.zeros(0)
    good_max = np.where(np.isnan(good_max), rules_good[a_pi], good_max)
    heavy_above = heavy_lut[pc] if len(pc) else np.zeros(0)
    heavy_above = np.where(np.isnan(heavy_above), rules_heavy[a_pi], heavy_above)

    good = np.bincount(a_ap[capture & (a.aqi <= good_max)], minlength=n_ap)
    heavy = np.bincount(a_ap[capture & (a.aqi > heavy_above)], minlength=n_ap)
    rate_dec = np.array([int(r.rounding["rate_decimals"]) for r in per.rules])[per.rules_code[ap_p]]
    ratio_value = np.full(n_ap, np.nan)
    ratio_rep = np.full(n_ap, np.nan)
    has = n > 0
    if has.any():
        ratio_value[has] = good[has] * 100 / n[has]
        ratio_rep[has] = round_ratio(good[has] * 100, n[has], rate_dec[has])
    ap = np.arange(n_ap)
    pid = _s(np.array([p.id for p in per.limits], dtype=object)[per.limits_code[ap_p]])
    detail = _join(per.prefix[ap_p], fail)
    common = dict(valid=ok, n_valid=n, n_required=total,
                  rule=per.rule[ap_p] + ", counted on days with a valid AQI",
                  detail=detail, profile=pid)
    for name, v in (("valid_aqi_days", n), ("good_days", good), ("heavy_days", heavy)):
        _block(blocks, ap, _AQI, _ST[name], v, v, **common)
    _block(blocks, ap, _AQI, _ST["good_day_ratio"], ratio_value, ratio_rep, **common)


def _assemble(blocks, pairs: pd.MultiIndex, ap_la, ap_p, per: _Periods) -> pd.DataFrame:
    if not blocks:
        return _empty()
    texts = ("rule", "detail", "profile")
    cat = {k: np.concatenate([b[k] for b in blocks]) for k in blocks[0] if k not in texts}
    order = np.lexsort((cat["stat"], cat["pol"], cat["ap"]))
    ap = cat["ap"][order]
    la = ap_la[ap]
    pi = ap_p[ap]
    levels = np.asarray(pairs.get_level_values(0), dtype=object)
    areas = np.asarray(pairs.get_level_values(1), dtype=object)
    if len(la) and np.bincount(la, minlength=len(areas)).all():
        # every pair has rows: its area id inferred once per pair, then taken per row
        area = pd.Series(pd.Series(areas).infer_objects().array.take(la))
    else:
        area = pd.Series(areas[la]).infer_objects()
    out = pd.DataFrame({
        "level": _take_str(levels, la),
        "area": area,
        "period": _take_str(per.label.astype(object), pi),
        "start": per.start[pi].astype("datetime64[s]"),
        "end": per.end[pi].astype("datetime64[s]"),
        "pollutant": _take_str(_OUT_POLLUTANTS, cat["pol"][order]),
        "statistic": _take_str(STATISTICS, cat["stat"][order]),
        "value": cat["value"][order],
        "reported": cat["reported"][order],
        "valid": cat["valid"][order],
        "n_valid": cat["n_valid"][order],
        "n_required": cat["n_required"][order],
        "rule": _str_take([b["rule"] for b in blocks], order),
        "detail": _str_take([b["detail"] for b in blocks], order),
        "profile": _str_take([b["profile"] for b in blocks], order),
    }, copy=False)                        # new arrays, used only here
    return out[list(STAT_COLUMNS)]


# ----------------------------------------------------------------------------- dense layout
#
# A daily frame laid out as averaging.daily_values writes it — entity after entity, each the
# same run of consecutive days, each day the seven quantities in order, one profile — is a
# (entities × days × quantities) array already. Its statistics are then computed on that
# array: no row keys, no sort of the rows, and no duplicate check (a (level, area, day,
# quantity) can only occur once). Same arithmetic, same results as the row path, which
# handles everything else (any order, gaps, dust days, several day profiles, statistics
# from unrounded daily values).

_DQ = len(DAILY_QUANTITIES)


@dataclass
class _Dense:
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


def _dense_daily(daily: pd.DataFrame, one_profile: bool = True) -> _Dense | None:
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
    if n == 0 or n % _DQ or not all(isinstance(c.dtype, pd.CategoricalDtype)
                                    for c in (pol, prof, level, area)):
        return None
    if list(pol.cat.categories) != list(DAILY_QUANTITIES) or daily["valid"].dtype != bool:
        return None
    if not _is_tiled(pol.cat.codes.to_numpy(), np.arange(_DQ)):
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
    per_row = dates.reshape(-1, _DQ)
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
    block = n_days * _DQ
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
        per_day = pcodes.reshape(n_ent * n_days, _DQ)
        day_profile = per_day[:n_days, 0]
        if not ((per_day == per_day[:, :1]).all()
                and (per_day[:, 0].reshape(n_ent, n_days) == day_profile).all()
                and (per_row[:, 0].reshape(n_ent, n_days) == day_values).all()):
            return None
    valid = daily["valid"].to_numpy()                   # bool (checked above): no copy
    rep = daily["reported"]
    reported = (rep.to_numpy() if rep.dtype == np.float64 else
                pd.to_numeric(rep).to_numpy(dtype="float64", na_value=np.nan))
    return _Dense(daily[["level", "area"]].iloc[::block].reset_index(drop=True),
                  days[:n_days], valid.reshape(n_ent, n_days, _DQ),
                  reported.reshape(n_ent, n_days, _DQ),
                  str(prof.cat.categories[p0]) if one_profile else None,
                  day_values, day_profile, (lc[::block], ac[::block]))


def _period_statistics_dense(dense: _Dense, aqi, period, grades, forced,
                             ytd_end) -> pd.DataFrame | None:
    """:func:`period_statistics` of a dense daily frame (no dust days); None when a rule
    needs the row path (statistics from unrounded daily values)."""
    a, pairs_a, a_ids = _aqi_rows(aqi) if aqi is not None else (None, None, [])
    la_e, pairs_d = _area_pairs(dense.entities)
    days = dense.days
    if period == "ytd":
        if ytd_end is None:
            last = [days.max()] + ([a.day.max()] if a is not None and len(a) else [])
            ytd_end = max(last)
        ytd_end = np.datetime64(pd.Timestamp(ytd_end).date(), "D")

    pairs = pairs_d.union(pairs_a) if a is not None and len(pairs_a) else pairs_d
    la_e = pairs.get_indexer(pairs_d)[la_e]
    months = _months(days)
    dcode, keep = _row_period_codes(period, days, ytd_end, months)
    kept = np.flatnonzero(keep)
    if len(kept) and kept[-1] - kept[0] + 1 != len(kept):
        return None
    first = int(kept[0]) if len(kept) else 0
    days_k = slice(first, first + len(kept))
    dcode, months = dcode[days_k], months[days_k]
    a, acode = _period_codes(a, pairs, pairs_a, period, ytd_end)
    n_ent = len(la_e)
    if (len(kept) == 0 or n_ent == 0) and (a is None or len(a) == 0):
        return _empty()
    codes_u, p_inv = _unique_inverse(np.concatenate([dcode, acode]))
    n_per = len(codes_u)
    d_pi, a_pi = p_inv[:len(dcode)], p_inv[len(dcode):]
    d_periods = np.unique(d_pi)                          # periods of the days (ascending)
    d_keys = (la_e.astype(np.int64)[:, None] * n_per + d_periods[None, :]).reshape(-1)
    ap_keys, ap_inv = _unique_inverse(np.concatenate(
        [d_keys, (a.la.astype(np.int64) * n_per + a_pi) if a is not None
         else np.array([], dtype=np.int64)]))
    n_ap = len(ap_keys)
    ap_la = ap_keys // n_per
    ap_p = ap_keys % n_per
    ap_of = ap_inv[:len(d_keys)].reshape(n_ent, len(d_periods))   # (entity, period) → ap

    per = _build_periods(period, codes_u, ytd_end, forced)
    if not all(bool(r.rounding.get("period_from_rounded_daily", True)) for r in per.rules):
        return None
    grade = _grade_codes(grades, pairs)              # per (level, area)
    ap_grade = grade[ap_la]

    blocks: list[dict] = []
    if len(kept) and n_ent:
        done = _daily_statistics_dense(dense, days_k, months, d_pi, d_periods, ap_of, n_ap,
                                       ap_p, ap_grade, per, forced, blocks)
        if not done:
            return None
    if a is not None:
        a_ap = ap_inv[len(d_keys):]
        _aqi_statistics(a, a_ids, a_ap, a_pi, n_ap, ap_p, ap_la, pairs, per, blocks)
    return _assemble(blocks, pairs, ap_la, ap_p, per)


def _daily_statistics_dense(dense: _Dense, days_k: slice, months, d_pi, d_periods, ap_of,
                            n_ap, ap_p, ap_grade, per: _Periods, forced, blocks) -> bool:
    """:func:`_daily_statistics` of a dense frame (one profile, no dust, all statistics
    from reported values). False when the largest-multiple shortcut does not apply."""
    S = _daily_setup([dense.profile], per, forced, n_ap, ap_p)
    n_groups = S.n_groups
    valid = dense.valid[:, days_k, :_NQ]
    reported = dense.reported[:, days_k, :_NQ]
    capture = valid & ~np.isnan(reported)                 # (E, D, Q)
    n_ent, n_days = capture.shape[:2]

    # days counted per group and month: runs of days in one period and month
    j_day = months - per.start_month[d_pi]
    run = np.concatenate([[0], np.flatnonzero((d_pi[1:] != d_pi[:-1])
                                               | (j_day[1:] != j_day[:-1])) + 1])
    run_counts = np.add.reduceat(capture, run, axis=1, dtype=np.int64)   # (E, runs, Q)
    run_col = np.searchsorted(d_periods, d_pi[run])
    g_run = ap_of[:, run_col][:, :, None] * _NQ + np.arange(_NQ)[None, None, :]
    counts = np.zeros((n_groups, per.n_months), dtype=np.int64)
    counts[g_run, np.broadcast_to(j_day[run][None, :, None], g_run.shape)] = run_counts
    n, total, ok, fail = _ledger_counts(counts, S.gp, per)
    n_dust = np.zeros(n_groups, dtype=np.int64)
    dust_note = np.where(n_dust > 0, _s(n_dust) + np.where(n_dust == 1, " dust day", " dust days")
                         + " removed", "")

    # values on the grid; each (entity, quantity) sorted within each period
    # each quantity on its grid as a whole (entities, days) array, 0 where not captured
    # (0 is on every grid and changes neither the integers of the captured values nor the
    # choice of the integer type below)
    caps, values = [], []
    for q in range(_NQ):
        cap_q = np.ascontiguousarray(capture[:, :, q])
        caps.append(cap_q)
        values.append(scaled_integers(np.where(cap_q, reported[:, :, q], 0.0),
                                      int(S.grid[q]), nan_as=0))
    lo = min((int(v.min()) for v in values if v.size), default=0)
    hi = max((int(v.max()) for v in values if v.size), default=0)
    dtype = np.int32 if -2 ** 31 < lo and hi < 2 ** 31 - 1 else np.int64
    sentinel = np.iinfo(dtype).max
    if hi >= sentinel:
        return False
    cnt = n
    bounds = np.concatenate([[0], np.flatnonzero(np.diff(d_pi)) + 1, [n_days]])
    width = int(np.diff(bounds).max()) if len(bounds) > 1 else 0
    table = np.full((n_groups, max(width, 1)), sentinel, dtype=dtype)
    for q in range(_NQ):
        x = values[q].astype(dtype)
        np.copyto(x, sentinel, where=~caps[q])
        for k in range(len(bounds) - 1):
            seg = x[:, bounds[k]:bounds[k + 1]]
            seg.sort(axis=1)
            table[ap_of[:, k] * _NQ + q, :seg.shape[1]] = seg
    filled = np.arange(table.shape[1])[None, :] < cnt[:, None]
    xs = table[filled].astype(np.int64)
    mean_value, mean_rep, pct_value, pct_rep = _means_percentiles(S, cnt, xs)

    # exceedances: one daily limit per group
    has = cnt > 0
    if has.any():
        single = _single_limit_multiples(S, ap_grade, cnt, xs)
        if single is None:
            return False
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
    mixed_note = np.full(n_groups, "", dtype=_S)
    _daily_blocks(S, n_ap, ap_p, ap_grade, per, n, total, ok, fail, dust_note, mean_value,
                  mean_rep, pct_value, pct_rep, exc, lim_missing, mmax_value, mmax_rep, mixed_note,
                  blocks)
    return True


# ----------------------------------------------------------------------------- exceedances

def exceedances(daily: pd.DataFrame, grades=None, profile=None) -> pd.DataFrame:
    """Every valid day whose reported daily value exceeds its daily limit (standards.md §6).

    Parameters
    ----------
    daily : DataFrame
        Daily values (``frames.DAILY_COLUMNS``). SO2, NO2, PM10, PM2.5, CO are
        compared with the 24-h limit, ``O3_MDA8`` with the MDA8 limit.
    grades : mapping or DataFrame, optional
        As in :func:`period_statistics`; default Grade II.
    profile : str or Profile, optional
        Force the limits of one profile; default each day's profile.

    Returns
    -------
    DataFrame: level, area, date, pollutant (O3 for the MDA8), averaging
    (``24h``/``mda8``), value (reported daily value), limit, multiple
    (``(C − S)/S`` half-even to the profile's ``multiple_decimals``), profile;
    sorted by level, area, date, pollutant.
    """
    forced = _as_profile(profile)
    d, pairs, d_ids = _daily_rows(daily, need_value=False)
    cols = ["level", "area", "date", "pollutant", "averaging", "value", "limit", "multiple",
            "profile"]
    keep = np.flatnonzero(d.valid & ~np.isnan(d.reported))
    d = d.take(keep)
    if len(d) == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    grade = _grade_codes(grades, pairs)[d.la]
    if forced is not None:
        pc, pu = np.zeros(len(d), dtype=np.int64), [forced.id]
        profs = [forced]
    else:
        pc, pu = d.prof, d_ids
        profs = [load_profile(p) for p in pu]
    lut = np.full((len(profs), 2, _NQ), np.nan)
    dec = np.zeros((len(profs), _NQ), dtype=np.int64)
    mdec = np.full(len(profs), -1, dtype=np.int64)
    for i, prof in enumerate(profs):
        for gr, gi in GRADE_INDEX.items():
            for qi, (p, avg) in enumerate(zip(POLLUTANTS, DAILY_LIMIT)):
                lim = prof.limit(p, avg, gr)
                lut[i, gi, qi] = np.nan if lim is None else lim
                if lim is not None:
                    dec[i, qi] = max(dec[i, qi], _limit_decimals(lim))
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


# ----------------------------------------------------------------------------- change rate

def _same_period_key(period: pd.Series, shift: int) -> pd.Series:
    """Period label shifted by ``shift`` years; year-to-date labels lose their end day.

    ``'2015'`` → ``'2014'``, ``'2015-03'`` → ``'2014-03'``, ``'2015-Q1'`` → ``'2014-Q1'``,
    ``'2015-YTD-11-22'`` → ``'2014-YTD'`` (with ``shift=-1``).
    """
    p = period.astype(str)
    year = pd.to_numeric(p.str.slice(0, 4), errors="coerce")
    rest = p.str.slice(4)
    rest = rest.where(~rest.str.startswith("-YTD"), "-YTD")
    return (year + shift).astype("Int64").astype(str) + rest


def change_rate(stats: pd.DataFrame, previous_stats: pd.DataFrame, profile=None) -> pd.DataFrame:
    """``stats`` with the change vs the same period one year earlier (standards.md §7).

    Rows match on level, area, pollutant, statistic and the period one year
    before (``2015-03`` ↔ ``2014-03``; year-to-date rows match the previous
    year's year-to-date whatever its end day). Any number of periods at once;
    the arithmetic is :func:`indicators.ranking.change_rate`'s (exact, on the
    reported values, half-even to ``rounding.rate_decimals``).

    Returns
    -------
    DataFrame: the columns of ``stats`` plus previous_period,
    previous_reported, change_valid (both valid), change_rate [%] (unrounded),
    change_rate_reported [%], improved.
    """
    check_columns(stats, STAT_COLUMNS, "statistics")
    check_columns(previous_stats, STAT_COLUMNS, "previous statistics")
    cur = stats.reset_index(drop=True)
    key_cur = _same_period_key(cur["period"], -1)
    key_prev = _same_period_key(previous_stats["period"], 0)
    # fold the period into the area so that ranking.change_rate matches one row per key
    c = cur.assign(area=cur["area"].astype(str) + "\x1f" + key_cur.to_numpy())
    p = previous_stats.assign(
        area=previous_stats["area"].astype(str) + "\x1f" + key_prev.to_numpy())
    ch = ranking.change_rate(c, p, profile=profile)
    out = cur.copy()
    out["previous_period"] = ch["previous_period"].to_numpy()
    out["previous_reported"] = ch["previous_reported"].to_numpy()
    out["change_valid"] = ch["valid"].to_numpy()
    out["change_rate"] = ch["change_rate"].to_numpy()
    out["change_rate_reported"] = ch["change_rate_reported"].to_numpy()
    out["improved"] = ch["improved"].array
    return out
