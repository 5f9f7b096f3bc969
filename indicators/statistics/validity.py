"""Data capture of the periods (HJ 663-2013 §4; standards.md §3).

A period statistic is valid when the period has enough valid days:

``month``    ≥ ``month_min_days`` valid days (February ≥ ``february_min_days``).
``quarter``  every month of the quarter valid by the monthly rule
             (``n_required`` is the sum of the three monthly counts). *Our choice.*
``year``     ≥ ``year_min_days`` valid days and, when
             ``year_requires_every_month``, every month valid.
``ytd``      (1 January … ``ytd_end``) ≥ ⌈year_min_days × elapsed / days in year⌉
             valid days; when ``year_requires_every_month``, every complete month
             valid and the current, incomplete month ≥ ⌈monthly count × days
             elapsed / days in month⌉. *Our choice*: on 31 December this is exactly
             the year rule. Every ytd row's ``detail`` starts with ``provisional``.
``range``    a custom range (``range_start`` … ``range_end``): not an HJ 663 period, so
             its statistics are the arithmetic of exactly its days and are always
             provisional. *Our choice*: the year-to-date rule generalised — ≥
             ⌈year_min_days × days / days of the 12 months from its first day⌉ valid
             days and, when ``year_requires_every_month``, every month valid with a
             partial first or last month needing its count pro rata.

The counts come from the profile in force at the end of each period, or from a
forced profile that has validity rules (standards.md §1). Failures are spelled out
(``"301 valid days, needs 324; 2015-03: 25 valid days, needs 27"``; a run of months
without any valid day once: ``"2015-01 to 2015-07: no valid days"``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from config.standards import Profile, load_profile, load_schedule

from .grouping import has_rules, months_of
from .text import TEXT, as_text, join_text


@dataclass
class Periods:
    kind: str
    code: np.ndarray          # [P] period codes (see row_period_codes)
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


def period_span(period: str, ytd_end, range_start, last_days) -> tuple | None:
    """(first day, last day) of a year to date or a range (datetime64[D]); None for the
    calendar periods. A year to date without ``ytd_end`` ends on the last day in
    ``last_days``; None too when there is none."""
    if period not in SPAN_PERIODS:
        return None
    if ytd_end is None:
        last = [day for day in last_days if day is not None]
        if not last:
            return None
        ytd_end = max(last)
    end = np.datetime64(pd.Timestamp(ytd_end).date(), "D")
    if period == "range":
        if range_start is None:
            raise ValueError("a range needs its first day (range_start)")
        return np.datetime64(pd.Timestamp(range_start).date(), "D"), end
    return end.astype("datetime64[Y]").astype("datetime64[D]"), end


#: Periods given by their first and last day rather than by the calendar.
SPAN_PERIODS = ("ytd", "range")


def row_period_codes(kind: str, days: np.ndarray, span,
                     months: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(period code, kept) per row: years/quarters/months since 1970; a year to date or a
    range: the month of its first day (one period)."""
    if months is None:
        months = months_of(days)
    if kind == "year":
        return months // 12, np.ones(len(days), dtype=bool)
    if kind == "quarter":
        return months // 3, np.ones(len(days), dtype=bool)
    if kind == "month":
        return months, np.ones(len(days), dtype=bool)
    first, last = span
    keep = (days >= first) & (days <= last)
    code = first.astype("datetime64[M]").astype(np.int64)
    return np.full(len(days), code, dtype=np.int64), keep


def rows_in_periods(rows, pairs, rows_pairs, period, span):
    """Daily or AQI rows keyed to the union of area pairs, with their period codes
    (rows outside the periods dropped); ``(None, empty)`` when there are no rows."""
    if rows is None:
        return None, np.array([], dtype=np.int64)
    rows.cols["la"] = pairs.get_indexer(rows_pairs)[rows.la]
    rows.cols["month"] = months_of(rows.day)
    code, keep = row_period_codes(period, rows.day, span, rows.month)
    if not keep.all():
        rows = rows.take(keep)
        code = code[keep]
    return rows, code


@dataclass(frozen=True)
class _Bounds:
    """The calendar of the periods: kind, codes, first month, months spanned, first and
    last day."""
    kind: str
    codes: np.ndarray
    start_month: np.ndarray
    width: int
    start: np.ndarray
    end: np.ndarray
    span: tuple | None


def build_periods(kind: str, codes: np.ndarray, span, forced: Profile | None) -> Periods:
    """The periods of ``kind`` with these codes: their days, labels, profiles and the valid
    days each one (and each of its months) needs."""
    b = _bounds(kind, np.asarray(codes, dtype=np.int64), span)
    rules, rules_code, limits, limits_code = _period_profiles(b.end, forced)
    month_req, month_label, settings = _month_requirements(b, rules, rules_code)
    total, every, rule, prefix = _period_rule(b, settings, month_req, month_label)
    return Periods(kind=kind, code=b.codes, start_month=b.start_month, start=b.start, end=b.end,
                   label=as_text(_labels(b)), month_label=month_label, month_req=month_req,
                   total_req=np.asarray(total, dtype=np.int64),
                   every_month=np.asarray(every, dtype=bool),
                   show_total=kind in ("year", *SPAN_PERIODS), rule=as_text(rule),
                   prefix=as_text(prefix), rules=rules, rules_code=rules_code, limits=limits,
                   limits_code=limits_code)


def _bounds(kind: str, codes: np.ndarray, span) -> _Bounds:
    n_p = len(codes)
    if kind in SPAN_PERIODS:
        first, last = span
        start_month = np.full(n_p, first.astype("datetime64[M]").astype(np.int64))
        width = int((last.astype("datetime64[M]") - first.astype("datetime64[M]"))
                    .astype(np.int64)) + 1
        return _Bounds(kind, codes, start_month, width, np.full(n_p, first, "datetime64[D]"),
                       np.full(n_p, last, "datetime64[D]"), span)
    if kind == "year":
        start_month, width = codes * 12, 12
    elif kind == "quarter":
        start_month, width = codes * 3, 3
    else:
        start_month, width = codes, 1
    start = start_month.astype("datetime64[M]").astype("datetime64[D]")
    end = (start_month + width).astype("datetime64[M]").astype("datetime64[D]") - 1
    return _Bounds(kind, codes, start_month, width, start, end, span)


def _labels(b: _Bounds) -> np.ndarray:
    """``2015``, ``2015-Q1``, ``2015-03``, ``2015-YTD-11-22``, ``2016-03-01..2017-02-28``."""
    years = as_text(b.start_month // 12 + 1970)
    if b.kind == "year":
        return years
    if b.kind == "quarter":
        return years + "-Q" + as_text(b.codes % 4 + 1)
    if b.kind == "month":
        return as_text(b.start_month.astype("datetime64[M]").astype(str))
    if b.kind == "range":
        return range_label(b.span[0], b.span[1]) if len(b.codes) else as_text(b.codes)
    return years + "-YTD-" + as_text(np.strings.slice(np.datetime_as_string(b.end), 5, None))


def range_label(first, last) -> np.ndarray:
    """The statistics frame's ``period`` label of a range: ``2016-03-01..2017-02-28``."""
    return as_text(np.array([f"{np.datetime64(first, 'D')}..{np.datetime64(last, 'D')}"]))


def _period_profiles(end: np.ndarray, forced: Profile | None):
    """(rules, code per period, limits, code per period): the profiles whose validity and
    rounding rules apply — the one in force at the period end, or a forced one that has
    rules — and those whose limits apply (the forced one, else the same; standards.md §1)."""
    n_p = len(end)
    sched = load_schedule()
    sched_ids = np.asarray(sched.in_force(end), dtype=object) if n_p else np.array([], dtype=object)
    if forced is not None:
        limit_ids = np.full(n_p, forced.id, dtype=object)
        rule_ids = limit_ids if has_rules(forced) else sched_ids
    else:
        limit_ids = rule_ids = sched_ids
    rules_code, rules_u = pd.factorize(pd.Series(rule_ids, dtype=object))
    limits_code, limits_u = pd.factorize(pd.Series(limit_ids, dtype=object))
    rules = [forced if forced is not None and str(p) == forced.id else load_profile(str(p))
             for p in rules_u]
    limits = [forced if forced is not None else load_profile(str(p)) for p in limits_u]
    return rules, rules_code, limits, limits_code


def _month_requirements(b: _Bounds, rules: list, rules_code: np.ndarray):
    """(valid days each month of each period needs, the months' labels, the validity
    settings of each period)."""
    def setting(key):
        return np.array([r.validity[key] for r in rules])[rules_code]

    settings = {"month_min": setting("month_min_days").astype(np.int64),
                "feb_min": setting("february_min_days").astype(np.int64),
                "year_min": setting("year_min_days").astype(np.int64),
                "every_year": setting("year_requires_every_month").astype(bool)}
    mm = b.start_month[:, None] + np.arange(b.width)[None, :]
    cal = mm % 12 + 1
    month_req = np.where(cal == 2, settings["feb_min"][:, None],
                         settings["month_min"][:, None]).astype(np.int64)
    month_label = as_text(mm.astype("datetime64[M]").astype(str))
    return month_req, month_label, settings


def _period_rule(b: _Bounds, settings: dict, month_req: np.ndarray, month_label: np.ndarray):
    """(valid days each period needs, whether every month must be valid, the rule's text,
    the detail's prefix). The year to date adjusts its current month's need and label in
    ``month_req``/``month_label``."""
    n_p = len(b.codes)
    month_min, feb_min, year_min = settings["month_min"], settings["feb_min"], settings["year_min"]
    prefix = np.full(n_p, "", dtype=TEXT)
    mm_s, feb_s = as_text(month_min), as_text(feb_min)
    month_rule = "month ≥" + mm_s + " (February ≥" + feb_s + ")"
    if b.kind == "month":
        cal = b.start_month % 12 + 1
        total = month_req[:, 0]
        every = np.ones(n_p, dtype=bool)
        rule = np.where(cal == 2, "month (February): ≥" + feb_s + " valid days",
                        "month: ≥" + mm_s + " valid days")
    elif b.kind == "quarter":
        total = month_req.sum(axis=1)
        every = np.ones(n_p, dtype=bool)
        rule = "quarter: every month ≥" + mm_s + " valid days (February ≥" + feb_s + ")"
    elif b.kind == "year":
        total = year_min
        every = settings["every_year"]
        year_rule = "year: ≥" + as_text(year_min) + " valid days"
        rule = np.where(every, year_rule + " and every " + month_rule, year_rule)
    elif b.kind == "ytd":
        total, rule, prefix = _ytd_rule(b, year_min, month_req, month_label)
        every = settings["every_year"]
        rule = np.where(every, rule + _ytd_month_part(b, month_rule, month_req), rule)
    else:
        total, rule, prefix = _range_rule(b, year_min, month_req, month_label)
        every = settings["every_year"]
        rule = np.where(every, rule + " and every " + month_rule
                        + " (a partial first or last month pro rata)", rule)
    return total, every, rule, prefix


def _pro_rata(month_req: np.ndarray, month_label: np.ndarray, col: int, first, last) -> None:
    """A partial month's need: its full count × days / days in the month, rounded up; its
    label says which days count."""
    month0 = first.astype("datetime64[M]").astype("datetime64[D]")
    dim = int(((first.astype("datetime64[M]") + 1).astype("datetime64[D]") - month0)
              .astype(np.int64))
    day0 = int((first - month0).astype(np.int64)) + 1
    day1 = int((last - month0).astype(np.int64)) + 1
    if day0 == 1 and day1 == dim:
        return
    month_req[:, col] = -(-month_req[:, col] * (day1 - day0 + 1) // dim)
    month_label[:, col] = month_label[:, col] + f" (days {day0}–{day1})"


def _range_rule(b: _Bounds, year_min: np.ndarray, month_req: np.ndarray,
                month_label: np.ndarray):
    """A range's (needed days, rule text, prefix): the year rule pro rata over its days,
    partial first and last months pro rata."""
    first, last = b.span
    elapsed = int((last - first).astype(np.int64)) + 1
    offset = first - first.astype("datetime64[M]").astype("datetime64[D]")
    n_days = int(((first.astype("datetime64[M]") + 12).astype("datetime64[D]") + offset - first)
                 .astype(np.int64))
    total = -(-year_min * elapsed // n_days)                   # ceil, exact
    first_month_end = (first.astype("datetime64[M]") + 1).astype("datetime64[D]") - 1
    _pro_rata(month_req, month_label, 0, first, min(last, first_month_end))
    if month_req.shape[1] > 1:
        _pro_rata(month_req, month_label, month_req.shape[1] - 1,
                  last.astype("datetime64[M]").astype("datetime64[D]"), last)
    rule = ("range, not a standard evaluation period (provisional): ≥" + as_text(total)
            + " valid days (" + as_text(year_min) + " × " + str(elapsed) + "/" + str(n_days)
            + " days, rounded up)")
    prefix = np.full(len(b.codes), f"provisional: not a standard evaluation period, {first} "
                     f"to {last}", dtype=TEXT)
    return total, rule, prefix


def _ytd_rule(b: _Bounds, year_min: np.ndarray, month_req: np.ndarray, month_label: np.ndarray):
    """The year to date's (needed days, rule text, prefix); its current, incomplete month's
    need is pro rata (rounded up) and its label says which days count."""
    ytd_end = b.span[1]
    year_start = b.start
    elapsed = (b.end - year_start).astype(np.int64) + 1
    n_days = ((b.start_month + 12).astype("datetime64[M]").astype("datetime64[D]")
              - year_start).astype(np.int64)
    total = -(-year_min * elapsed // n_days)                   # ceil, exact
    month_end = (ytd_end.astype("datetime64[M]") + 1).astype("datetime64[D]") - 1
    if ytd_end != month_end:
        day = int((ytd_end - ytd_end.astype("datetime64[M]").astype("datetime64[D]"))
                  .astype(np.int64)) + 1
        dim = int((month_end - ytd_end.astype("datetime64[M]").astype("datetime64[D]"))
                  .astype(np.int64)) + 1
        month_req[:, -1] = -(-month_req[:, -1] * day // dim)
        month_label[:, -1] = month_label[:, -1] + " (days 1–" + str(day) + ")"
    rule = ("year to date (provisional): ≥" + as_text(total) + " valid days (" + as_text(year_min)
            + " × " + as_text(elapsed) + "/" + as_text(n_days) + " days, rounded up)")
    prefix = ("provisional: year to date " + as_text(np.datetime_as_string(b.start)) + " to "
              + as_text(np.datetime_as_string(b.end)))
    return total, rule, prefix


def _ytd_month_part(b: _Bounds, month_rule, month_req: np.ndarray):
    """The monthly part of the year-to-date rule's text."""
    ytd_end = b.span[1]
    month_end = (ytd_end.astype("datetime64[M]") + 1).astype("datetime64[D]") - 1
    month_part = " and every complete " + month_rule
    if ytd_end != month_end:
        month_part = (month_part + ", the current month ≥" + as_text(month_req[:, -1])
                      + " (pro rata)")
    return month_part


@dataclass(frozen=True)
class Ledger:
    """Validity of each group: valid days counted, needed, valid, and why not (text)."""
    n_valid: np.ndarray
    n_required: np.ndarray
    valid: np.ndarray
    failure: np.ndarray


def ledger(g: np.ndarray, j: np.ndarray, n_groups: int, gp: np.ndarray, per: Periods) -> Ledger:
    """Validity of each group from its counted days (group g, month offset j per day)."""
    m = per.n_months
    cell = g.astype(np.int64) * m
    cell += j
    counts = np.bincount(cell, minlength=n_groups * m).reshape(n_groups, m)
    del cell
    return ledger_counts(counts, gp, per)


def ledger_counts(counts: np.ndarray, gp: np.ndarray, per: Periods) -> Ledger:
    """:func:`ledger` from the counted days of each group and month (n_groups, months)."""
    n_groups, m = counts.shape
    n = counts.sum(axis=1)
    req = per.month_req[gp]
    total = per.total_req[gp]
    month_fail = per.every_month[gp][:, None] & (counts < req)
    ok = (n >= total) & ~month_fail.any(axis=1)
    text = np.full(n_groups, "", dtype=TEXT)
    bad = np.flatnonzero(~ok)
    if len(bad):
        text[bad] = _failures(counts[bad], n[bad], total[bad], req[bad],
                              per.month_label[gp[bad]], month_fail[bad], per.show_total)
    return Ledger(n, total, ok, text)


def _failures(counts, nb, tb, req, labels, fails, show_total: bool) -> np.ndarray:
    """Why each failing group is not valid: its total, and each failing month (runs of ≥ 2
    months without any valid day named once: "2026-06 to 2026-12: no valid days")."""
    n_bad, m = counts.shape
    t = np.full(n_bad, "", dtype=TEXT)
    if show_total:
        t = np.where(nb < tb, as_text(nb) + " valid days, needs " + as_text(tb), t)
    empty = fails & (counts == 0)
    run_end = np.tile(np.arange(m), (n_bad, 1))
    for col in range(m - 2, -1, -1):
        run_end[:, col] = np.where(empty[:, col] & empty[:, col + 1], run_end[:, col + 1], col)
    in_run = np.zeros(n_bad, dtype=bool)         # inside a run already named
    for col in range(m):          # loop over the months of a period, vectorised over groups
        f = fails[:, col]
        if not f.any():
            in_run[:] = False
            continue
        end = run_end[:, col]
        starts_run = empty[:, col] & (end > col) & ~in_run
        msg = (labels[:, col] + ": " + as_text(counts[:, col]) + " valid days, needs "
               + as_text(req[:, col]))
        run_msg = labels[:, col] + " to " + labels[np.arange(n_bad), end] + ": no valid days"
        msg = np.where(starts_run, run_msg, msg)
        t = join_text(t, np.where(f & ~(in_run & empty[:, col]), msg, ""))
        in_run = empty[:, col] & (in_run | starts_run) & (end > col)
    return np.where(nb == 0, "no valid days, needs " + as_text(tb), t)
