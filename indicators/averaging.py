"""Daily values of stations, districts and cities (standards.md §3, §4, §7).

From the hourly input (:data:`indicators.frames.HOURLY_COLUMNS`) to the long
*Daily values* frame (:data:`indicators.frames.DAILY_COLUMNS`): per level
(station, district, city), area, natural day and quantity
(:data:`~indicators.frames.DAILY_QUANTITIES`).

Station rules (§3)
    * SO2, NO2, PM10, PM2.5, CO: mean of the valid hours of the natural day
      (00:00–24:00 CST); valid with ≥ ``validity.daily_min_hours`` valid hours.
      ``n_valid`` = valid hours.
    * O3 8-h windows: the ``validity.mda8_windows`` (17) windows wholly inside the
      day, starting at 00 … 16; a window is valid with ≥ ``o3_8h_min_hours`` (6) of
      its 8 hours. ``O3_MDA8`` = max of the valid windows; valid with ≥
      ``mda8_min_windows`` (14) valid windows, or — with
      ``mda8_exceedance_exception`` — when fewer are valid but their unrounded
      maximum is strictly greater than the MDA8 limit of the station's grade.
      ``n_valid`` = valid windows.
    * ``O3_1H_MAX``: max of the valid hours; valid with ≥ ``o3_1h_max_min_hours``.
      ``n_valid`` = valid hours.

Area rules (§7), from the *unrounded* station values, rounded once
    * Daily means: mean of the **valid** station daily means; valid when at least
      one member's mean is valid and at least ``area_min_station_share`` of the
      members are (a station with 19 hours does not contribute). ``n_valid`` =
      number of member stations with a valid daily mean, ``n_required`` =
      ``max(1, ceil(share × members))`` where *members* counts every station the
      membership lists for the area (also those with no data at all), so the
      validity ledger reads "3 of 5 stations reporting, needs 1".
    * O3 8-h windows: per window, mean of the valid station windows; valid when at
      least one station's window is. ``O3_MDA8`` = max over the valid *area*
      windows with the 14-of-17 rule or the exceedance exception at the **area's**
      grade (not the max or mean of station MDA8s). ``n_valid`` = valid area
      windows.
    * Area hourly value: mean of the valid station hourly values (valid when one
      station has one). ``O3_1H_MAX`` = max of the area hourly O3 series, valid
      with ≥ 20 valid area hours; ``n_valid`` = valid area hours.

Rules are read per day from the profile in force that day
(``config.standards.load_schedule().in_force``) unless a profile is forced; the
``profile`` column says which. Rounding: ``reported`` = GB/T 8170 half-even of
``value`` to ``rounding.decimals`` (:func:`indicators.rounding.round_half_even`).

Exact decimal arithmetic
    Hourly data are decimals with few places (µg/m³ integers, CO 0.001 mg/m³,
    ppb conversions with 4 places). When every value of a pollutant is a decimal
    with at most 6 places, the values are scaled to integers and all sums are
    exact; each mean is then one division of two exact integers, i.e. the float
    *nearest to the exact decimal mean*, so that 34.5 is 34.5 (rounded to 34) and
    never 34.50000000000001 (rounded to 35). Area means of station means are
    brought to a common denominator (lcm of the possible hour / window counts)
    for the same reason. Beyond 6 places, or if an exact sum could exceed 2**53,
    plain float64 arithmetic is used.

Station grade (for the MDA8 exception): the grade of the station's district in
the membership frame; failing that its city's; failing that Grade II.

Everything is vectorised over dense ``station × hour`` arrays
(:class:`indicators.panel.HourlyPanel`); areas are a 0/1 membership matrix
multiplied with masked station arrays (on the exact path: each area's sum of its
member rows, no matrix product). On the exact path the hourly arrays are
processed a block of stations at a time (each pass stays in the CPU cache, and
no stations × hours copies are made; the O3 blocks turned to hour-of-day × day
rows, so that windows and daily maxima are element-wise operations on rows);
integer sums do not depend on their order, so these blocked sums, the area sums
over member rows and the work shared by two threads (O3 on the second, the 24-h
means on whichever is free) give the very same numbers. Pure: no database or web
imports.
"""
from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pandas as pd

from config.standards import (GRADE_INDEX, Profile, default_cn_profile, load_profile,
                              load_schedule)
from config.vocabulary import MEAN_POLLUTANTS

from .frames import (DAILY_COLUMNS, DAILY_QUANTITIES, LEVELS, MEMBERSHIP_COLUMNS, POLLUTANTS,
                     check_columns)
from .panel import HOURS_PER_DAY, HourlyPanel, panel_from_hourly
from .rounding import round_half_even

__all__ = ["HourlyPanel", "panel_from_hourly", "daily_values", "area_hourly", "o3_8h",
           "AREA_LEVELS", "MEAN_POLLUTANTS", "DayTotals", "DailyArrays", "daily_arrays",
           "empty_daily", "Areas", "areas_of", "member_means"]

AREA_LEVELS = ("district", "city")
WINDOW_HOURS = 8
_MAX_DECIMALS = 6              # exact arithmetic for decimals with up to 6 places
_EXACT_LIMIT = 2.0 ** 53       # integers up to this are exact in float64


# ---------------------------------------------------------------------------
# Profiles per day
# ---------------------------------------------------------------------------

def _as_profile(profile) -> Profile:
    p = profile if isinstance(profile, Profile) else load_profile(str(profile))
    if "validity" not in p.raw or "rounding" not in p.raw:
        raise ValueError(f"profile {p.id!r} has no validity/rounding rules; daily values need "
                         "a Chinese profile (cn-2012, cn-2026-transition, cn-2026-final)")
    return p


class _DayRules:
    """The rules of the profile in force on each day, as per-day arrays."""

    def __init__(self, dates: np.ndarray, profile=None):
        if profile is None:
            ids = load_schedule().in_force(dates) if len(dates) else np.array([], dtype=object)
            self.profiles = [_as_profile(i) for i in dict.fromkeys(ids.tolist())]
        else:
            forced = _as_profile(profile)
            self.profiles = [forced]
            ids = np.full(len(dates), forced.id, dtype=object)
        if not self.profiles:                 # no days at all
            self.profiles = [_as_profile(default_cn_profile())]
        self.ids = [p.id for p in self.profiles]
        lookup = {pid: i for i, pid in enumerate(self.ids)}
        self.index = np.array([lookup[i] for i in ids], dtype=np.intp) if len(ids) else \
            np.zeros(0, dtype=np.intp)
        self.n_days = len(dates)

    def validity(self, key: str, default=None) -> np.ndarray:
        """Per-day value of ``validity.<key>``."""
        table = []
        for p in self.profiles:
            if key not in p.validity and default is None:
                raise ValueError(f"profile {p.id!r} lacks validity.{key}")
            table.append(p.validity.get(key, default))
        return np.asarray(table)[self.index]

    def mda8_limit(self, grades: np.ndarray) -> np.ndarray:
        """(n_entities, n_days) MDA8 limit of each entity's grade (inf: no limit)."""
        table = np.full((len(self.profiles), len(GRADE_INDEX)), np.inf)
        for i, p in enumerate(self.profiles):
            for grade, g in GRADE_INDEX.items():
                lim = p.limit("O3", "mda8", grade)
                table[i, g] = np.inf if lim is None else lim
        g = np.array([GRADE_INDEX[x] for x in grades], dtype=np.intp)
        return table[self.index[None, :], g[:, None]]

    def decimals(self, quantity: str) -> np.ndarray:
        return np.array([p.decimals(quantity) for p in self.profiles])[self.index]


# ---------------------------------------------------------------------------
# Exact decimal scaling
# ---------------------------------------------------------------------------

@dataclass
class _Series:
    """One pollutant of a panel, ready to sum.

    ``y`` holds the values (×10**k as exact integers when ``exact``) with 0 where
    the hour is not valid; a station-hour value is ``y / scale``.
    """
    x: np.ndarray          # (S, H) the original values (NaN = not valid)
    y: np.ndarray          # (S, H) summable values, 0 where not valid
    valid: np.ndarray      # (S, H) bool
    scale: float
    exact: bool


def _on_grid(x: np.ndarray, scale: float, n_valid: int) -> np.ndarray | None:
    """``x × scale`` as exact integers if every valid value is the float nearest to a
    decimal with ``log10(scale)`` places (``x == rint(x·s)/s`` exactly), else None."""
    y = np.multiply(x, scale)
    np.rint(y, out=y)
    if n_valid and max(np.fmax.reduce(y, axis=None), -np.fmin.reduce(y, axis=None)) >= 2.0 ** 43:
        return None                   # sums of such values might not stay exact
    back = y / scale if scale != 1.0 else y
    if np.count_nonzero(back == x) != n_valid:
        return None
    return y


def _prepare(x: np.ndarray) -> _Series:
    """Scale a pollutant to exact integers when its values are short decimals.

    The fewest decimal places (≤ 6) that hold every value is first guessed on a
    sample of stations, then checked on all values.
    """
    x = np.ascontiguousarray(x)
    valid = np.isfinite(x)
    n_valid = int(np.count_nonzero(valid))
    sample = x[:: max(1, x.shape[0] // 8)]
    sample_valid = int(np.count_nonzero(np.isfinite(sample)))
    for k in range(_MAX_DECIMALS + 1):
        scale = 10.0 ** k
        if _on_grid(sample, scale, sample_valid) is None:
            continue
        y = _on_grid(x, scale, n_valid)
        if y is not None:
            y[~valid] = 0.0
            return _Series(x, y, valid, scale, True)
    return _Series(x, np.where(valid, x, 0.0), valid, 1.0, False)


def _divide(num: np.ndarray, den: np.ndarray, scale: float) -> np.ndarray:
    """num / (den × scale), NaN where den is 0 (one rounding: den×scale is exact)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.divide(num, np.multiply(den, scale, dtype=np.float64))
    # (a plain division, then NaN where den ≤ 0: a masked division is several times slower)
    np.copyto(out, np.nan, where=den <= 0)
    return out


def _member_sums(matrix: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``matrix @ rows`` (A, X) as float64, for exact integers only (counts, or the sums of
    the exact path, below 2**53): each area's sum of its member rows, which in any order
    is the same number — in a fraction of the product's operations (a station is in two
    or three areas) and without a BLAS call."""
    out = np.zeros((matrix.shape[0], rows.shape[1]))
    for a, members in _members_in_block(matrix, 0, matrix.shape[1]):
        out[a] = _row_sum(rows, members)
    return out


def _area_mean(matrix: np.ndarray, num: np.ndarray, den: np.ndarray | None, valid: np.ndarray,
               scale: float, exact: bool, dens) -> tuple[np.ndarray, np.ndarray]:
    """Per area, the mean of the valid station values ``num / (den × scale)``.

    ``matrix`` (A, S) 0/1 membership; ``num``, ``den``, ``valid`` (S, X); ``den``
    None means 1. ``dens`` = the values ``den`` can take where valid. Returns
    (means (A, X) NaN where no station is valid, number of valid stations (A, X)).
    """
    n_st = matrix.shape[1]
    num = num.reshape(n_st, -1)
    valid = valid.reshape(n_st, -1)
    count = _member_sums(matrix, valid)
    if matrix.shape[0] == 0:
        return np.empty_like(count), count
    members = float(matrix.sum(axis=1).max(initial=0))
    if exact:
        common = math.lcm(*(int(d) for d in dens))
        biggest = float(np.abs(num).max(initial=0)) * (common / min(dens)) * members
        exact = biggest < _EXACT_LIMIT and members * common * scale < _EXACT_LIMIT
    if exact:
        if den is None:
            weighted = num * float(common)
        else:
            den = den.reshape(n_st, -1)
            top = int(den.max(initial=0)) if den.dtype.kind in "iu" else -1
            if 0 <= top <= 1 << 16 and den.min(initial=0) >= 0:
                # common / den of every count once, looked up (the same divisions)
                counts = np.arange(top + 1)
                factors = np.zeros(top + 1)
                np.divide(float(common), counts, out=factors, where=counts > 0)
                weighted = num * factors[den]
            else:
                factor = np.zeros(num.shape)
                np.divide(float(common), den, out=factor, where=valid)
                weighted = num * factor
        np.copyto(weighted, 0.0, where=~valid)
        total = _member_sums(matrix, weighted)
        return _divide(total, count, common * scale), count
    if den is None:
        station = np.where(valid, num / scale, 0.0)
    else:
        station = np.where(valid, _divide(num, den.reshape(n_st, -1), scale), 0.0)
    return _divide(matrix @ station, count, 1.0), count


# ---------------------------------------------------------------------------
# Membership
# ---------------------------------------------------------------------------

@dataclass
class Areas:
    """The districts and cities of a membership frame over a panel's stations."""
    level: np.ndarray        # (A,) district | city
    area: np.ndarray         # (A,) area id
    grade: np.ndarray        # (A,) I | II
    matrix: np.ndarray       # (A, S) float64 0/1 over the panel's stations
    members: np.ndarray      # (A,) listed member stations (with or without data)
    station_grade: np.ndarray  # (S,) grade of each panel station

    @property
    def n(self) -> int:
        return len(self.area)


def areas_of(membership: pd.DataFrame | None, stations: np.ndarray) -> Areas:
    """The areas of ``membership`` (:data:`MEMBERSHIP_COLUMNS`) over the sorted station
    codes ``stations``: district then city, by area id, with their 0/1 membership matrix,
    listed members and grades, and each station's grade (its district's, else its
    city's, else II)."""
    n_st = len(stations)
    if membership is None or len(membership) == 0:
        e = np.array([], dtype=object)
        return Areas(e, e, e, np.zeros((0, n_st)), np.zeros(0, dtype=np.int64),
                     np.full(n_st, "II", dtype=object))
    check_columns(membership, MEMBERSHIP_COLUMNS, "membership")
    m = pd.DataFrame({c: membership[c].astype(str).to_numpy(dtype=object)
                      for c in MEMBERSHIP_COLUMNS})
    bad = sorted(set(m["level"]) - set(AREA_LEVELS))
    if bad:
        raise ValueError(f"membership levels must be district or city, got {bad}")
    bad = sorted(set(m["grade"]) - set(GRADE_INDEX))
    if bad:
        raise ValueError(f"membership grades must be I or II, got {bad}")
    m = m.drop_duplicates(["level", "area", "station"])
    keys = m[["level", "area"]].drop_duplicates()
    keys = keys.assign(_l=keys["level"].map({lv: i for i, lv in enumerate(AREA_LEVELS)}))
    keys = keys.sort_values(["_l", "area"], kind="stable").reset_index(drop=True)
    grades = m.drop_duplicates(["level", "area", "grade"])
    clash = grades[grades.duplicated(["level", "area"], keep=False)]
    if len(clash):
        raise ValueError(f"area {clash['area'].iloc[0]!r} has more than one grade "
                         "in the membership")
    key_index = pd.MultiIndex.from_frame(keys[["level", "area"]])
    a_idx = key_index.get_indexer(pd.MultiIndex.from_frame(m[["level", "area"]]))
    grade = np.empty(len(keys), dtype=object)
    grade[a_idx] = m["grade"].to_numpy()

    pos = np.searchsorted(stations, m["station"].to_numpy().astype(str))
    pos = np.minimum(pos, max(n_st - 1, 0))
    found = (stations[pos] == m["station"].to_numpy().astype(str)) if n_st else \
        np.zeros(len(m), dtype=bool)
    matrix = np.zeros((len(keys), n_st))
    matrix[a_idx[found], pos[found]] = 1.0
    members = np.bincount(a_idx, minlength=len(keys))

    station_grade = np.full(n_st, "II", dtype=object)
    for level in reversed(AREA_LEVELS):       # city first, district overrides
        rows = np.flatnonzero(found & (m["level"].to_numpy() == level))
        # a station in several areas of one level: the first area in sort order
        rows = rows[np.argsort(a_idx[rows], kind="stable")]
        _, first = np.unique(pos[rows], return_index=True)
        rows = rows[first]
        station_grade[pos[rows]] = m["grade"].to_numpy()[rows]
    return Areas(keys["level"].to_numpy(dtype=object), keys["area"].to_numpy(dtype=object),
                 grade, matrix, members, station_grade)


def _required_stations(areas: Areas, rules: _DayRules) -> np.ndarray:
    """(A, D) stations needed: max(1, ceil(share × members)), in exact fractions."""
    share = rules.validity("area_min_station_share", default=0.0)
    fractions = [Fraction(str(s)) for s in share.tolist()]
    num = np.array([f.numerator for f in fractions], dtype=np.int64)
    den = np.array([f.denominator for f in fractions], dtype=np.int64)
    need = -(-(num[None, :] * areas.members[:, None]) // den[None, :])
    return np.maximum(need, 1)


# ---------------------------------------------------------------------------
# The computations
# ---------------------------------------------------------------------------

@dataclass
class _Quantity:
    value: np.ndarray      # (E, D)
    valid: np.ndarray      # (E, D) bool
    n_valid: np.ndarray    # (E, D) int
    n_required: np.ndarray  # (E, D) int
    reported: np.ndarray | None = None  # (E, D) the published value, once rounded


def _windows(y: np.ndarray, valid: np.ndarray, n_days: int, n_windows: int):
    """Sums and valid counts of the in-day 8-h windows, by cumulative sums per day.

    Returns (sums, counts), shape (S, D, n_windows); window w covers hours w … w+7.
    """
    n_st = y.shape[0]
    yd = y.reshape(n_st, n_days, HOURS_PER_DAY)
    vd = valid.reshape(n_st, n_days, HOURS_PER_DAY)
    csum = np.zeros((n_st, n_days, HOURS_PER_DAY + 1))
    np.cumsum(yd, axis=2, out=csum[:, :, 1:])
    ccount = np.zeros((n_st, n_days, HOURS_PER_DAY + 1), dtype=np.int16)
    np.cumsum(vd, axis=2, out=ccount[:, :, 1:], dtype=np.int16)
    sums = csum[:, :, WINDOW_HOURS:WINDOW_HOURS + n_windows] - csum[:, :, :n_windows]
    counts = ccount[:, :, WINDOW_HOURS:WINDOW_HOURS + n_windows] - ccount[:, :, :n_windows]
    return sums, counts


def _mda8(wmean: np.ndarray, wvalid: np.ndarray, rules: _DayRules,
          limit: np.ndarray) -> _Quantity:
    """MDA8 from window means/validity (E, D, W) and the MDA8 limit (E, D)."""
    n_win = wvalid.sum(axis=2)
    best = np.where(wvalid, wmean, -np.inf).max(axis=2, initial=-np.inf)
    return _mda8_of_best(best, n_win, rules, limit)


def _mda8_of_best(best: np.ndarray, n_win: np.ndarray, rules: _DayRules,
                  limit: np.ndarray) -> _Quantity:
    """MDA8 from the largest valid window mean (−inf when none; overwritten in place) and
    the number of valid windows (E, D)."""
    best[n_win == 0] = np.nan
    need = np.broadcast_to(rules.validity("mda8_min_windows")[None, :], n_win.shape)
    exception = rules.validity("mda8_exceedance_exception", default=True).astype(bool)
    with np.errstate(invalid="ignore"):
        valid = (n_win >= need) | (exception[None, :] & (n_win > 0) & (best > limit))
    return _Quantity(best, valid, n_win, need)


@dataclass(frozen=True)
class _O3Setup:
    """The hourly O3 values (S, H) and the rules of their daily quantities: the 8-h
    windows of a day (``counted``: in force that day), the hours a window needs, the
    stations' MDA8 limits (S, D) and the counts a window mean can be divided by."""
    x: np.ndarray
    n_days: int
    n_windows: int
    areas: Areas
    rules: _DayRules
    o3_min: np.ndarray
    counted: np.ndarray
    limits: np.ndarray
    window_dens: range


def _o3_setup(o3_hours, n_days: int, n_st: int, areas: Areas,
              rules: _DayRules) -> tuple[_O3Setup, np.ndarray]:
    """(the O3 setup of ``o3_hours``, the areas' MDA8 limits (A, D)): the 8-h windows in
    force per day, their validity and each grade's limit."""
    n_windows, windows_in_force = _window_count(rules)
    o3_min = rules.validity("o3_8h_min_hours").astype(np.int64)
    counted = np.arange(n_windows)[None, None, :] < windows_in_force[None, :, None]
    limits = rules.mda8_limit(np.concatenate([areas.station_grade, areas.grade]))
    window_dens = range(max(1, int(o3_min.min(initial=WINDOW_HOURS))), WINDOW_HOURS + 1)
    return (_O3Setup(o3_hours, n_days, n_windows, areas, rules, o3_min, counted, limits[:n_st],
                     window_dens), limits[n_st:])


def _window_count(rules: _DayRules) -> tuple[int, np.ndarray]:
    per_day = rules.validity("mda8_windows", default=HOURS_PER_DAY - WINDOW_HOURS + 1)
    per_day = per_day.astype(np.int64)
    if len(per_day) and (per_day.max() > HOURS_PER_DAY - WINDOW_HOURS + 1 or per_day.min() < 1):
        raise ValueError("validity.mda8_windows must be 1 … 17: the 8-h windows lying "
                         "wholly inside the natural day")
    return HOURS_PER_DAY - WINDOW_HOURS + 1, per_day


def _hour_stats(x: np.ndarray, valid: np.ndarray, n_days: int):
    """Per day: number of valid hours and the max valid hour (NaN when none)."""
    n = x.shape[0]
    vd = valid.reshape(n, n_days, HOURS_PER_DAY)
    count = vd.sum(axis=2)
    top = np.where(vd, x.reshape(n, n_days, HOURS_PER_DAY), -np.inf).max(axis=2, initial=-np.inf)
    top[count == 0] = np.nan
    return count, top


# ---------------------------------------------------------------------------
# Blocked kernels for the exact path (same integers, cache-sized passes)
# ---------------------------------------------------------------------------
#
# The exact path works on integers (values × 10**k), whose sums are exact in any
# order; these kernels compute the very same sums as the whole-array code above,
# one block of stations at a time so that every pass over the hourly values stays
# in the CPU cache, and without materialising the (stations × hours) ``y``/``valid``
# arrays. They return None whenever the whole-array code would not take the exact
# path with the scale guessed from the sample; the caller then runs that code.

_BLOCK_CELLS = 1 << 17          # station-hours per block (1 MB of float64)
_THREAD_CELLS = 1 << 22         # from this many station-hours on, O3 runs on a second thread
_BYTE_SUM = np.uint64(0x0101010101010101)
_O3_DIVIDE = True               # area window weights common / count by division, not lookup


def _station_blocks(n_st: int, n_hours: int):
    step = max(1, _BLOCK_CELLS // max(n_hours, 1))
    return [(i, min(i + step, n_st)) for i in range(0, n_st, step)]


def _guess_decimals(x: np.ndarray) -> int | None:
    """The decimals :func:`_prepare` tries first: the fewest that hold the sample."""
    sample = x[:: max(1, x.shape[0] // 8)]
    sample_valid = int(np.count_nonzero(np.isfinite(sample)))
    for k in range(_MAX_DECIMALS + 1):
        if _on_grid(sample, 10.0 ** k, sample_valid) is not None:
            return k
    return None


def _day_counts(valid: np.ndarray) -> np.ndarray:
    """Valid hours per day of a (s, 24·d) bool block, as int64 (s, d)."""
    n = valid.shape[0]
    words = np.ascontiguousarray(valid).view(np.uint8).reshape(-1, HOURS_PER_DAY).view(np.uint64)
    # the three words of a day added byte by byte (each byte ≤ 3: no carry), then the
    # eight bytes of the sum added by one multiplication (total ≤ 24 < 256)
    total = words[:, 0] + words[:, 1]
    total += words[:, 2]
    total *= _BYTE_SUM
    total >>= np.uint64(56)
    return total.astype(np.int64).reshape(n, -1)


def _exact_block(xc: np.ndarray, scale: float):
    """(y with 0 where not valid, valid, max |y|) of a block, or None when a valid value
    is off the 10**-k grid or too large (as :func:`_on_grid` decides)."""
    valid = np.isfinite(xc)
    n_valid = int(np.count_nonzero(valid))
    if scale != 1.0:
        y = np.multiply(xc, scale)
        np.rint(y, out=y)
    else:
        y = np.rint(xc)
    biggest = 0.0
    if n_valid:
        biggest = max(np.fmax.reduce(y, axis=None), -np.fmin.reduce(y, axis=None))
        if biggest >= 2.0 ** 43:
            return None
    back = y / scale if scale != 1.0 else y
    if np.count_nonzero(back == xc) != n_valid:
        return None
    if n_valid != valid.size:
        np.copyto(y, 0.0, where=~valid)
    return y, valid, float(biggest)


def _daily_exact(x: np.ndarray, n_days: int):
    """Exact path of a 24-h mean pollutant: (total, n_valid, scale) or None."""
    k = _guess_decimals(x)
    if k is None:
        return None
    scale = 10.0 ** k
    n_st = x.shape[0]
    total = np.empty((n_st, n_days))
    n_valid = np.empty((n_st, n_days), dtype=np.int64)
    ones = np.ones(HOURS_PER_DAY)
    for lo, hi in _station_blocks(n_st, x.shape[1]):
        block = _exact_block(x[lo:hi], scale)
        if block is None:
            return None
        y, valid, _ = block
        total[lo:hi] = (y.reshape(-1, HOURS_PER_DAY) @ ones).reshape(hi - lo, n_days)
        n_valid[lo:hi] = _day_counts(valid)
    return total, n_valid, scale


def _windows_running(y: np.ndarray, valid: np.ndarray, n_days: int, n_windows: int,
                     sums: np.ndarray, counts: np.ndarray) -> None:
    """:func:`_windows` of an exact block, written into ``sums``/``counts``, by one
    running sum along the block in int64: window w of day d is P[24d + w + 8] −
    P[24d + w], P the running sum. ``y`` holds integers below 2**43 in magnitude
    (:func:`_exact_block`) and the caller checks that the running sums stay inside
    int64, so the window sums are the same exact integers the per-day sums give."""
    n_st, n_hours = y.shape
    n = n_st * n_hours
    shape = (n_st, n_days, HOURS_PER_DAY)
    run = np.zeros(n + WINDOW_HOURS, dtype=np.int64)   # P[0] = 0, P[i]: the first i hours
    np.cumsum(y.reshape(-1).astype(np.int64), out=run[1:n + 1])
    diff = np.subtract(run[WINDOW_HOURS:], run[:n])
    np.copyto(sums, diff.reshape(shape)[:, :, :n_windows], casting="unsafe")
    run = np.zeros(n + WINDOW_HOURS, dtype=np.int32)
    np.cumsum(valid.reshape(-1), out=run[1:n + 1], dtype=np.int32)
    diff = np.subtract(run[WINDOW_HOURS:], run[:n])
    np.copyto(counts, diff.reshape(shape)[:, :, :n_windows], casting="unsafe")


@dataclass
class _O3:
    """Everything the daily O3 quantities need from the hourly O3 values."""
    scale: float
    station_mda8: _Quantity
    a_wmean: np.ndarray      # (A, D·W) area window means
    a_wcount: np.ndarray     # (A, D·W) stations with a valid window
    count: np.ndarray        # (S, D) valid hours
    top: np.ndarray          # (S, D) max valid hour (NaN when none)
    a_hourly: np.ndarray     # (A, H) area hourly means
    a_hcount: np.ndarray     # (A, H) stations with a valid hour


def _o3_whole(o3: _O3Setup) -> _O3:
    """The O3 quantities on whole (stations × hours) arrays (any values)."""
    n_days, matrix = o3.n_days, o3.areas.matrix
    s = _prepare(o3.x)
    sums, counts = _windows(s.y, s.valid, n_days, o3.n_windows)
    w_valid = (counts >= o3.o3_min[None, :, None]) & o3.counted
    w_mean = _divide(sums, counts, s.scale)
    station_mda8 = _mda8(w_mean, w_valid, o3.rules, o3.limits)
    a_wmean, a_wcount = _area_mean(matrix, sums, counts, w_valid, s.scale, s.exact,
                                   o3.window_dens)
    del sums, counts, w_mean, w_valid
    count, top = _hour_stats(s.x, s.valid, n_days)
    a_hourly, a_hcount = _area_mean(matrix, s.y, None, s.valid, s.scale, s.exact, (1,))
    return _O3(s.scale, station_mda8, a_wmean, a_wcount, count, top, a_hourly, a_hcount)


def _members_in_block(matrix: np.ndarray, lo: int, hi: int):
    """(area, member rows of the block lo:hi) for every area with a member in it; the
    rows as a slice when they are a run."""
    part = matrix[:, lo:hi]
    for a in np.flatnonzero(part.any(axis=1)):
        rows = np.flatnonzero(part[a])
        if rows[-1] - rows[0] + 1 == len(rows):
            rows = slice(int(rows[0]), int(rows[-1]) + 1)
        yield a, rows


def _row_sum(block: np.ndarray, rows) -> np.ndarray:
    """Sum of some rows of a block, as float64. The exact path only: integers whose sums
    stay below 2**53, so this is exactly the product of the 0/1 membership row with
    the block — in a fraction of its operations (a station is in two or three areas)."""
    return np.add.reduce(block[rows], axis=0, dtype=np.float64)


def _o3_exact(o3: _O3Setup) -> _O3 | None:
    """:func:`_o3_whole` on the exact path, one block of stations at a time: station
    MDA8, the area window and hourly sums (``matrix`` @ block, exact integers whatever
    the order) and the 1-h maxima, without (stations × days × windows) arrays. None
    when :func:`_o3_whole` would not take the exact path all the way.

    Each block is turned to (station, hour of the day, day): the eight hours of a window,
    the windows of a day and the hours of a day are then rows of ``n_days`` values, so
    the window sums are differences of running sums over the hours of the day (below
    24·2**43: exact in float64) and the maxima and counts over windows or hours are
    element-wise over whole rows. The area sums are kept in that layout and turned
    back at the end: the same exact integers, in the (day, window) / hour order of
    :func:`_o3_whole`."""
    x = o3.x
    k = _guess_decimals(x) if x.shape[0] else None
    if k is None:
        return None
    kernel = _o3_kernel(o3, 10.0 ** k)
    n_st, n_hours = x.shape
    n_ar = o3.areas.matrix.shape[0]
    acc = _O3Sums(n_st, o3.n_days, n_ar, o3.n_windows)
    for lo, hi in _station_blocks(n_st, n_hours):
        if not _o3_exact_block(o3, kernel, lo, hi, acc):
            return None
    if n_ar and not _o3_area_sums_exact(o3, kernel, acc):
        return None
    return _o3_exact_result(o3, kernel, acc)


@dataclass(frozen=True)
class _O3Kernel:
    """The constants of the blocked exact O3 kernel: the scale of the values, the common
    denominator of the window means, the (window, day) layout of the windows counted and
    of the hours they need, the weights common / count and whether they are divided."""
    scale: float
    common: int
    counted_t: np.ndarray
    need_t: np.ndarray
    factors: np.ndarray
    by_division: bool


def _o3_kernel(o3: _O3Setup, scale: float) -> _O3Kernel:
    common = math.lcm(*(int(d) for d in o3.window_dens))
    # (window, day): the window is counted that day, and the windows' need of valid hours
    counted_t = np.ascontiguousarray(o3.counted.reshape(o3.n_days, o3.n_windows).T)
    need_t = np.broadcast_to(o3.o3_min[None, :], (o3.n_windows, o3.n_days))
    factors = np.zeros(WINDOW_HOURS + 1)       # common / count, as _area_mean divides
    np.divide(float(common), np.arange(WINDOW_HOURS + 1), out=factors,
              where=np.arange(WINDOW_HOURS + 1) > 0)
    # a window without a valid hour is never valid (it needs ≥ 1): divide, no lookup
    by_division = _O3_DIVIDE and bool(len(o3.o3_min)) and int(o3.o3_min.min()) >= 1
    return _O3Kernel(scale, common, counted_t, need_t, factors, by_division)


class _O3Sums:
    """What the blocks of the exact O3 kernel add up: the stations' valid hours, 1-h maxima
    and MDA8 (one per block), the area window and hourly sums and counts in (area, window
    or hour of the day, day) layout, and the largest magnitudes met (for the bounds of
    exact arithmetic)."""

    def __init__(self, n_st: int, n_days: int, n_ar: int, n_windows: int):
        self.count = np.empty((n_st, n_days), dtype=np.int64)
        self.top = np.empty((n_st, n_days))
        self.a_total = np.zeros((n_ar, HOURS_PER_DAY, n_days))
        self.a_hcount = np.zeros((n_ar, HOURS_PER_DAY, n_days), dtype=np.int64)
        self.a_wtotal = np.zeros((n_ar, n_windows, n_days))
        self.a_wcount = np.zeros((n_ar, n_windows, n_days), dtype=np.int64)
        self.mda8: list[_Quantity] = []
        self.biggest = 0.0
        self.biggest_sum = 0.0


def _o3_exact_block(o3: _O3Setup, kernel: _O3Kernel, lo: int, hi: int, acc: _O3Sums) -> bool:
    """Add the stations lo:hi to ``acc``; False when a value is off the grid (or too large)."""
    n_days, n_windows, scale = o3.n_days, o3.n_windows, kernel.scale
    matrix = o3.areas.matrix
    n = hi - lo
    xt = o3.x[lo:hi].reshape(n, n_days, HOURS_PER_DAY).transpose(0, 2, 1).copy()  # own
    block = _exact_block(xt, scale)
    if block is None:
        return False
    y, valid, big = block                   # (n, 24, days)
    acc.biggest = max(acc.biggest, big)
    # running sums over the hours of the day (a row at a time: numpy's cumsum along
    # a middle axis is far slower than 24 row additions)
    run = np.empty((n, HOURS_PER_DAY + 1, n_days))
    hours = np.empty((n, HOURS_PER_DAY + 1, n_days), dtype=np.int8)
    run[:, 0] = 0.0
    hours[:, 0] = 0
    for h in range(HOURS_PER_DAY):
        np.add(run[:, h], y[:, h], out=run[:, h + 1])
        np.add(hours[:, h], valid[:, h], out=hours[:, h + 1])
    sums = run[:, WINDOW_HOURS:WINDOW_HOURS + n_windows] - run[:, :n_windows]
    del run
    counts = hours[:, WINDOW_HOURS:WINDOW_HOURS + n_windows] - hours[:, :n_windows]
    acc.count[lo:hi] = hours[:, HOURS_PER_DAY]
    del hours
    w_valid = counts >= kernel.need_t
    w_valid &= kernel.counted_t
    w_mean = _divide(sums, counts, scale)
    np.copyto(w_mean, -np.inf, where=~w_valid)
    acc.mda8.append(_mda8_of_best(w_mean.max(axis=1, initial=-np.inf),
                                  w_valid.sum(axis=1), o3.rules, o3.limits[lo:hi]))
    del w_mean
    if matrix.shape[0]:
        # the exact branch of _area_mean, for this block's rows
        acc.biggest_sum = max(acc.biggest_sum, float(np.abs(sums).max(initial=0)))
        if kernel.by_division:    # common / count, the very divisions of ``factors``
            with np.errstate(divide="ignore", invalid="ignore"):
                weighted = np.divide(float(kernel.common), counts, dtype=np.float64)
                weighted *= sums      # (0 × inf where no hour: not valid, zeroed below)
        else:
            weighted = sums * kernel.factors[counts]
        np.copyto(weighted, 0.0, where=~w_valid)
        done = {}                 # areas with the same member rows here share the sums
        for a, rows in _members_in_block(matrix, lo, hi):
            key = (rows.start, rows.stop) if isinstance(rows, slice) else rows.tobytes()
            if key not in done:
                done[key] = (_row_sum(weighted, rows),
                             np.add.reduce(w_valid[rows], axis=0, dtype=np.int32),
                             _row_sum(y, rows),
                             np.add.reduce(valid[rows], axis=0, dtype=np.int32))
            wsum, wcount, hsum, hcount = done[key]
            acc.a_wtotal[a] += wsum
            acc.a_wcount[a] += wcount
            acc.a_total[a] += hsum
            acc.a_hcount[a] += hcount
    np.copyto(xt, -np.inf, where=~valid)
    acc.top[lo:hi] = xt.max(axis=1, initial=-np.inf)
    acc.top[lo:hi][acc.count[lo:hi] == 0] = np.nan
    return True


def _o3_area_sums_exact(o3: _O3Setup, kernel: _O3Kernel, acc: _O3Sums) -> bool:
    """The whole-array code's tests for exact area sums (:func:`_area_mean`)."""
    matrix = o3.areas.matrix
    members = float(matrix.sum(axis=1).max(initial=0))
    window_ok = (acc.biggest_sum * (kernel.common / min(o3.window_dens)) * members < _EXACT_LIMIT
                 and members * kernel.common * kernel.scale < _EXACT_LIMIT)
    hour_ok = acc.biggest * members < _EXACT_LIMIT and members * kernel.scale < _EXACT_LIMIT
    return window_ok and hour_ok


def _o3_exact_result(o3: _O3Setup, kernel: _O3Kernel, acc: _O3Sums) -> _O3:
    """The sums of the blocks as :func:`_o3_whole` gives them: area means in the (day,
    window) and hour order, the station MDA8 of all blocks."""
    n_ar, scale = o3.areas.matrix.shape[0], kernel.scale
    a_wtotal, a_wcount, a_total, a_hcount = (
        np.ascontiguousarray(a.transpose(0, 2, 1), dtype=np.float64).reshape(
            n_ar, a.shape[1] * a.shape[2])
        for a in (acc.a_wtotal, acc.a_wcount, acc.a_total, acc.a_hcount))
    if n_ar:
        a_wmean = _divide(a_wtotal, a_wcount, kernel.common * scale)
        a_hourly = _divide(a_total, a_hcount, scale)
    else:
        a_wmean, a_hourly = np.empty_like(a_wcount), np.empty_like(a_hcount)
    station_mda8 = _Quantity(*(np.concatenate([getattr(q, f) for q in acc.mda8])
                               for f in ("value", "valid", "n_valid", "n_required")))
    return _O3(scale, station_mda8, a_wmean, a_wcount, acc.count, acc.top, a_hourly, a_hcount)


@dataclass(frozen=True)
class DayTotals:
    """The day sums of one 24-h-mean pollutant, per station and day, as the averaging forms
    them from the hours (the kernel a caller that keeps day sums hands to
    :func:`daily_arrays`).

    ``total`` (S, D): the sum of the valid hourly values × ``scale``: exact integers
    (values × 10**k, k ≤ 6) when ``exact``, else float sums with ``scale`` 1;
    ``n_valid`` (S, D): the valid hours (int64)."""
    total: np.ndarray
    n_valid: np.ndarray
    scale: float
    exact: bool


def _hour_totals(x: np.ndarray, n_days: int) -> DayTotals:
    """The :class:`DayTotals` of the hourly values ``x`` (S, H)."""
    fast = _daily_exact(x, n_days)
    if fast is not None:
        total, n_valid, scale = fast
        return DayTotals(total, n_valid, scale, True)
    n_st = x.shape[0]
    s = _prepare(x)
    n_valid = s.valid.reshape(n_st, n_days, HOURS_PER_DAY).sum(axis=2)
    total = s.y.reshape(n_st, n_days, HOURS_PER_DAY).sum(axis=2)
    return DayTotals(total, n_valid, s.scale, s.exact)


@dataclass(frozen=True)
class _MeanRules:
    """What every 24-h mean needs beside its day sums: the days, the areas, the rules, the
    hours a station-day needs (D,), the stations an area-day needs (A, D) and the hour
    counts a station mean can be divided by."""
    n_days: int
    areas: Areas
    rules: _DayRules
    min_hours: np.ndarray
    need_area: np.ndarray
    hour_dens: range


def _mean_rules(n_days: int, areas: Areas, rules: _DayRules) -> _MeanRules:
    min_hours = rules.validity("daily_min_hours").astype(np.int64)
    need_area = _required_stations(areas, rules)
    hour_dens = range(max(1, int(min_hours.min(initial=HOURS_PER_DAY))), HOURS_PER_DAY + 1)
    return _MeanRules(n_days, areas, rules, min_hours, need_area, hour_dens)


def _mean_quantity(pollutant: str, totals: DayTotals, m: _MeanRules) -> _Quantity:
    """A 24-h mean pollutant: station rows then area rows."""
    n_ar, n_days = m.areas.n, m.n_days
    total, n_valid, scale = totals.total, totals.n_valid, totals.scale
    value = _divide(total, n_valid, scale)
    need = np.broadcast_to(m.min_hours[None, :], value.shape)
    valid = n_valid >= need
    a_value, a_count = _area_mean(m.areas.matrix, total, n_valid, valid, scale, totals.exact,
                                  m.hour_dens)
    a_count = a_count.reshape(n_ar, n_days).astype(np.int64)
    a_valid = (a_count >= 1) & (a_count >= m.need_area)
    value = np.concatenate([value, a_value.reshape(n_ar, n_days)])
    return _Quantity(value, np.concatenate([valid, a_valid]),
                     np.concatenate([n_valid, a_count]), np.concatenate([need, m.need_area]),
                     _reported(value, m.rules, pollutant))


def _compute(panel: HourlyPanel, areas: Areas, rules: _DayRules, put=None, meanwhile=None,
             day_totals=None) -> dict[str, _Quantity]:
    """Station rows then area rows (E = S + A) of every daily quantity.

    ``put(quantity, _Quantity)``, if given, is called on this thread with each quantity
    as soon as it is ready, and ``meanwhile()`` while the O3 quantities are still being
    computed on the second thread. ``day_totals(pollutant)`` gives the
    :class:`DayTotals` of the 24-h means instead of the panel's hours."""
    n_st, n_days = panel.n_stations, panel.n_days
    out: dict[str, _Quantity] = {}
    m = _mean_rules(n_days, areas, rules)

    def totals(pollutant: str) -> DayTotals:
        if day_totals is not None:
            return day_totals(pollutant)
        return _hour_totals(panel.pollutant(pollutant), n_days)

    # O3 on a second thread while the 24-h means are computed here (the kernels are numpy
    # loops that release the GIL); the second thread then takes the means not yet begun.
    # Every quantity is computed by the same code on either thread: the same numbers.
    o3, area_limits = _o3_setup(panel.pollutant("O3"), n_days, n_st, areas, rules)
    pending = list(MEAN_POLLUTANTS)          # the 24-h means, taken by whichever thread is free
    lock = threading.Lock()

    def next_mean():
        with lock:
            return pending.pop(0) if pending else None

    def means(results: dict) -> dict:
        while (pollutant := next_mean()) is not None:
            results[pollutant] = _mean_quantity(pollutant, totals(pollutant), m)
            if put is not None:
                put(pollutant, results[pollutant])
        return results

    def second() -> dict:
        results = _o3_quantities(o3, area_limits)
        if put is not None:
            for quantity in ("O3_MDA8", "O3_1H_MAX"):
                put(quantity, results[quantity])
        return means(results)            # then the means nobody has started yet

    pool = None
    if n_st * panel.n_hours >= _THREAD_CELLS and (os.cpu_count() or 1) > 1:
        pool = ThreadPoolExecutor(max_workers=1)
    try:
        future = pool.submit(second) if pool is not None else None
        means(out)
        if meanwhile is not None:
            meanwhile()
        out.update(future.result() if future is not None else second())
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    return out


def _o3_quantities(setup: _O3Setup, area_limits: np.ndarray) -> dict[str, _Quantity]:
    """``O3_MDA8`` and ``O3_1H_MAX`` of stations then areas (with their reported values)."""
    n_days, n_windows, rules = setup.n_days, setup.n_windows, setup.rules
    n_ar = setup.areas.n
    o3 = _o3_exact(setup)
    if o3 is None:
        o3 = _o3_whole(setup)
    a_wmean = o3.a_wmean.reshape(n_ar, n_days, n_windows)
    a_wvalid = o3.a_wcount.reshape(n_ar, n_days, n_windows) >= 1
    area_mda8 = _mda8(a_wmean, a_wvalid, rules, area_limits)
    out = {}
    out["O3_MDA8"] = _Quantity(*(np.concatenate([getattr(o3.station_mda8, f),
                                                 getattr(area_mda8, f)])
                                 for f in ("value", "valid", "n_valid", "n_required")))

    need_1h = rules.validity("o3_1h_max_min_hours").astype(np.int64)
    a_count, a_top = _hour_stats(o3.a_hourly, o3.a_hcount >= 1, n_days)
    n_valid = np.concatenate([o3.count, a_count])
    need = np.broadcast_to(need_1h[None, :], n_valid.shape)
    out["O3_1H_MAX"] = _Quantity(np.concatenate([o3.top, a_top]), n_valid >= need, n_valid,
                                 need)
    for quantity, q in out.items():
        q.reported = _reported(q.value, rules, quantity)
    return out


def _reported(value: np.ndarray, rules: _DayRules, quantity: str) -> np.ndarray:
    decimals = rules.decimals(quantity)
    if len(decimals) == 0 or (decimals == decimals[0]).all():
        d = int(decimals[0]) if len(decimals) else 0
        return np.asarray(round_half_even(value.ravel(), d)).reshape(value.shape)
    d = np.broadcast_to(decimals[None, :], value.shape)
    return np.asarray(round_half_even(value.ravel(), d.ravel())).reshape(value.shape)


def _as_panel(hourly) -> HourlyPanel:
    return hourly if isinstance(hourly, HourlyPanel) else panel_from_hourly(hourly)


def empty_daily() -> pd.DataFrame:
    """The daily frame without rows (:data:`DAILY_COLUMNS`, with their dtypes)."""
    return pd.DataFrame({
        "level": pd.Categorical([], categories=LEVELS),
        "area": pd.Categorical([]),
        "date": np.array([], dtype="datetime64[s]"),
        "pollutant": pd.Categorical([], categories=DAILY_QUANTITIES),
        "value": np.array([], dtype=np.float64),
        "reported": np.array([], dtype=np.float64),
        "valid": np.array([], dtype=bool),
        "n_valid": np.array([], dtype=np.int64),
        "n_required": np.array([], dtype=np.int64),
        "profile": pd.Categorical([]),
    })[list(DAILY_COLUMNS)]


def daily_values(hourly, membership: pd.DataFrame | None = None,
                 profile: str | Profile | None = None,
                 station_grades: dict | None = None) -> pd.DataFrame:
    """The long *Daily values* frame of stations, districts and cities.

    Parameters
    ----------
    hourly : DataFrame with :data:`HOURLY_COLUMNS`, or :class:`HourlyPanel`
        Hourly values [µg/m³; CO mg/m³], ``time`` the start of the hour (CST).
        Every station in it gets station rows, over every day from its first to
        its last date.
    membership : DataFrame with :data:`MEMBERSHIP_COLUMNS`, optional
        Evaluation stations of each district and city and the area's grade; each
        area gets rows. Stations listed but absent from ``hourly`` count as
        members without data.
    profile : profile id or Profile, optional
        Force one profile for every day; default the profile in force each day.
    station_grades : dict, optional
        Station code → grade (I | II) for the station MDA8 exception; overrides
        the grade taken from the membership (the station's district, else its
        city, else II).

    Returns
    -------
    DataFrame with :data:`DAILY_COLUMNS`
        One row per level, area, date and quantity of
        :data:`DAILY_QUANTITIES`, ordered station → district → city, then area
        id, date, quantity. ``level``, ``area``, ``pollutant`` and ``profile`` are
        categoricals, ``date`` datetime64 (midnight), ``n_valid``/``n_required``
        int64. The meaning of ``n_valid`` for each rule is in the module
        docstring (area daily means: valid member stations).
    """
    arrays = daily_arrays(hourly, membership, profile, station_grades)
    return empty_daily() if arrays is None else arrays.frame()


def daily_arrays(hourly, membership: pd.DataFrame | None = None,
                 profile: str | Profile | None = None, station_grades: dict | None = None, *,
                 day_totals=None) -> DailyArrays | None:
    """:func:`daily_values` as :class:`DailyArrays` (None when there are no rows): its
    :meth:`~DailyArrays.frame` is ``daily_values``' frame and its
    :meth:`~DailyArrays.aqi` the daily AQI of that frame.

    ``day_totals(pollutant)``, if given, returns the :class:`DayTotals` of a 24-h-mean
    pollutant (SO2, NO2, PM10, PM2.5, CO) over the panel's stations and days, which are
    then not read from the hours (``store.daily`` keeps them per station-day); O3 is
    always computed from the hours. Every rule, area mean and rounding is the same."""
    panel = _as_panel(hourly)
    areas = areas_of(membership, panel.stations)
    if station_grades:
        given = pd.Series(panel.stations).map(
            {str(k): str(v) for k, v in station_grades.items() if v is not None and v == v})
        bad = sorted(set(given.dropna()) - set(GRADE_INDEX))
        if bad:
            raise ValueError(f"station grades must be I or II, got {bad}")
        areas.station_grade = np.where(given.isna(), areas.station_grade,
                                       given.to_numpy(dtype=object))
    if panel.n_days == 0 or (panel.n_stations == 0 and areas.n == 0):
        return None
    dates = panel.dates
    rules = _DayRules(dates, profile)
    out = DailyArrays(panel, areas, rules)
    _compute(panel, areas, rules, out.put, out.keys, day_totals)
    out.interleave()
    return out


class DailyArrays:
    """The daily frame as (entities, days, quantities) arrays (:func:`daily_arrays`),
    filled quantity by quantity (:func:`_compute` hands each one over as soon as it is
    ready; the key columns are made while the O3 quantities are still being computed),
    then the frame itself, whose columns are these arrays (no copy)."""

    def __init__(self, panel: HourlyPanel, areas: Areas, rules: _DayRules):
        self.panel, self.areas, self.rules = panel, areas, rules
        self.n_ent, self.n_days = panel.n_stations + areas.n, panel.n_days
        shape = (self.n_ent, self.n_days, len(DAILY_QUANTITIES))
        self.value = np.empty(shape)
        self.reported = np.empty(shape)
        self.valid = np.empty(shape, dtype=bool)
        self.n_valid = np.empty(shape, dtype=np.int64)
        self.n_required = np.empty(shape, dtype=np.int64)
        self.published = {}
        self.quantities = {}
        self.columns = None

    def put(self, quantity: str, q: _Quantity) -> None:
        j = DAILY_QUANTITIES.index(quantity)
        self.quantities[j] = q
        self.published[j] = (q.valid, q.reported)      # contiguous, for the daily AQI

    def interleave(self) -> None:
        """Each field of the quantities into its (entities, days, quantities) array, a
        block of entities at a time (the block stays in the cache while the seven
        quantities are written into it); the fields on two threads when large."""
        quantities = [self.quantities[j] for j in range(len(DAILY_QUANTITIES))]
        step = max(1, (1 << 21) // max(1, self.n_days * len(DAILY_QUANTITIES) * 8))

        def fill(name):
            target = getattr(self, name)
            parts = [getattr(q, name) for q in quantities]
            for lo in range(0, self.n_ent, step):
                block = target[lo:lo + step]
                for j, part in enumerate(parts):
                    block[:, :, j] = part[lo:lo + step]

        names = ("value", "reported", "valid", "n_valid", "n_required")
        if self.n_ent * self.n_days < _THREAD_CELLS // HOURS_PER_DAY or (os.cpu_count() or 1) < 2:
            for name in names:
                fill(name)
        else:
            with ThreadPoolExecutor(max_workers=1) as pool:
                later = pool.submit(lambda: [fill(n) for n in names[::2]])
                for name in names[1::2]:
                    fill(name)
                later.result()
        self.quantities = {}

    def aqi(self, profile=None) -> pd.DataFrame:
        """The daily AQI of these values: ``aqi.daily_aqi`` of :meth:`frame`."""
        from .aqi import DailyLayout, daily_aqi_arrays
        layout = DailyLayout(self.n_days, self.day_values, self.day_profile, self.rules.ids,
                             self.level_codes, self.name_codes, self.level_dtype,
                             self.area_dtype)
        return daily_aqi_arrays(self.published.__getitem__, layout, profile)

    def keys(self) -> None:
        """The level, area, date, pollutant and profile columns."""
        panel, areas, rules = self.panel, self.areas, self.rules
        n_ent, n_days, n_q = self.n_ent, self.n_days, len(DAILY_QUANTITIES)
        self.level_codes = np.concatenate([
            np.zeros(panel.n_stations, dtype=np.int8),
            np.array([LEVELS.index(lv) for lv in areas.level], dtype=np.int8)])
        names = [*panel.stations.tolist(), *areas.area.tolist()]
        name_codes, name_categories = pd.factorize(pd.Index(names, dtype=object))
        self.name_codes = name_codes.astype(np.int16 if len(name_categories) < 2 ** 15
                                            else np.int32)
        self.level_dtype = pd.CategoricalDtype(LEVELS)
        self.area_dtype = pd.CategoricalDtype([str(c) for c in name_categories])
        self.day_values = panel.dates.astype("datetime64[s]")
        self.day_profile = rules.index.astype(np.int8 if len(rules.ids) < 2 ** 7 else np.int32)
        per_entity = n_days * n_q
        # every array below is new and used only here: the frame takes them without a copy
        self.columns = {
            "level": pd.Categorical.from_codes(np.repeat(self.level_codes, per_entity),
                                               dtype=self.level_dtype, validate=False),
            "area": pd.Categorical.from_codes(np.repeat(self.name_codes, per_entity),
                                              dtype=self.area_dtype, validate=False),
            "date": np.tile(np.repeat(self.day_values, n_q), n_ent),
            "pollutant": pd.Categorical.from_codes(
                np.tile(np.arange(n_q, dtype=np.int8), n_ent * n_days),
                dtype=pd.CategoricalDtype(DAILY_QUANTITIES), validate=False),
            "profile": pd.Categorical.from_codes(
                np.tile(np.repeat(self.day_profile, n_q), n_ent),
                dtype=pd.CategoricalDtype(rules.ids), validate=False),
        }

    def frame(self) -> pd.DataFrame:
        if self.columns is None:
            self.keys()
        columns = dict(self.columns, value=self.value.ravel(), reported=self.reported.ravel(),
                       valid=self.valid.ravel(), n_valid=self.n_valid.ravel(),
                       n_required=self.n_required.ravel())
        return pd.DataFrame({c: columns[c] for c in DAILY_COLUMNS}, copy=False)


def area_hourly(hourly, membership: pd.DataFrame) -> pd.DataFrame:
    """Area hourly values: per district/city and hour, the mean of the valid station values.

    Parameters
    ----------
    hourly : DataFrame with :data:`HOURLY_COLUMNS`, or :class:`HourlyPanel`
    membership : DataFrame with :data:`MEMBERSHIP_COLUMNS`

    Returns
    -------
    DataFrame
        ``level``, ``area``, ``time`` (start of the hour), one float column per
        pollutant [µg/m³; CO mg/m³] (NaN when no member station has a valid
        value), then ``n_<pollutant>`` int columns: the number of stations
        averaged. Ordered district → city, area id, time.
    """
    panel = _as_panel(hourly)
    areas = areas_of(membership, panel.stations)
    n_ar, n_h = areas.n, panel.n_hours
    data = {}
    counts = {}
    for pollutant in POLLUTANTS:
        s = _prepare(panel.pollutant(pollutant))
        mean, count = _area_mean(areas.matrix, s.y, None, s.valid, s.scale, s.exact, (1,))
        data[pollutant] = mean.reshape(-1)
        counts[f"n_{pollutant}"] = count.reshape(-1).astype(np.int64)
    level_codes = np.array([LEVELS.index(lv) for lv in areas.level], dtype=np.int8)
    frame = pd.DataFrame({
        "level": pd.Categorical.from_codes(np.repeat(level_codes, n_h), categories=LEVELS),
        "area": pd.Categorical.from_codes(np.repeat(np.arange(n_ar), n_h),
                                          categories=[str(a) for a in areas.area]),
        "time": np.tile(panel.times.astype("datetime64[s]"), n_ar),
        **data, **counts,
    })
    return frame


def member_means(x: np.ndarray, a_idx: np.ndarray, s_idx: np.ndarray, n_areas: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Per area and hour, the mean of the valid member values (:func:`area_hourly` for a
    few hours of many areas, without a loop over the areas), and the members averaged.

    ``x`` (stations, hours) NaN = not valid; ``a_idx``/``s_idx`` the (area, station)
    member pairs sorted by area (``np.nonzero(areas_of(...).matrix)``). Values on a
    short decimal grid (every real source) are summed as exact integers, so each mean is
    the float nearest to the exact decimal mean (34.5 is 34.5, and rounds to 34), exactly
    as ``area_hourly`` gives it.
    """
    n_h = x.shape[1]
    sums = np.zeros((n_areas, n_h))
    counts = np.zeros((n_areas, n_h), dtype=np.int64)
    if len(a_idx) and n_h:
        s = _prepare(x)
        starts = np.flatnonzero(np.r_[True, a_idx[1:] != a_idx[:-1]])
        present = a_idx[starts]
        sums[present] = np.add.reduceat(s.y[s_idx], starts, axis=0)
        counts[present] = np.add.reduceat(s.valid[s_idx].astype(np.int64), starts, axis=0)
        scale = s.scale
    else:
        scale = 1.0
    return _divide(sums, counts, scale), counts


def o3_8h(hourly, membership: pd.DataFrame | None = None,
          profile: str | Profile | None = None) -> pd.DataFrame:
    """O3 8-h moving averages at every hour, for the hourly AQI (standards.md §5).

    The value at ``time`` t is the mean of the valid hours t−7 … t (the eight
    hours ending with the hour that starts at t; it can reach into the previous
    day), valid with ≥ ``validity.o3_8h_min_hours`` valid hours of the profile in
    force on t's day. Hours before the first hour of the data count as missing.
    Area values: the mean of the valid station 8-h values, valid when at least
    one station's is.

    Returns
    -------
    DataFrame
        ``level``, ``area``, ``time``, ``value`` (unrounded, NaN when no valid
        hour), ``valid``, ``n_valid`` (valid hours; for areas valid stations),
        ``n_required``, ``profile``. Ordered station → district → city, then
        area id, time.
    """
    panel = _as_panel(hourly)
    areas = areas_of(membership, panel.stations)
    rules = _DayRules(panel.dates, profile)
    s = _prepare(panel.pollutant("O3"))
    sums = s.y.copy()
    counts = s.valid.astype(np.int8)
    for lag in range(1, WINDOW_HOURS):
        sums[:, lag:] += s.y[:, :-lag]
        counts[:, lag:] += s.valid[:, :-lag]
    need = np.repeat(rules.validity("o3_8h_min_hours").astype(np.int64), HOURS_PER_DAY)
    st_valid = counts >= need[None, :]
    st_value = _divide(sums, counts, s.scale)
    dens = range(max(1, int(need.min(initial=WINDOW_HOURS))), WINDOW_HOURS + 1)
    a_value, a_count = _area_mean(areas.matrix, sums, counts, st_valid, s.scale, s.exact, dens)
    n_ent, n_h = panel.n_stations + areas.n, panel.n_hours
    level_codes = np.concatenate([np.zeros(panel.n_stations, dtype=np.int8),
                                  np.array([LEVELS.index(lv) for lv in areas.level],
                                           dtype=np.int8)])
    names = [*panel.stations.tolist(), *areas.area.tolist()]
    name_codes, name_categories = pd.factorize(pd.Index(names, dtype=object))
    n_valid = np.concatenate([counts.astype(np.int64), a_count.astype(np.int64)])
    n_required = np.concatenate([np.broadcast_to(need[None, :], counts.shape),
                                 np.ones(a_count.shape, dtype=np.int64)])
    return pd.DataFrame({
        "level": pd.Categorical.from_codes(np.repeat(level_codes, n_h), categories=LEVELS),
        "area": pd.Categorical.from_codes(np.repeat(name_codes, n_h),
                                          categories=[str(c) for c in name_categories]),
        "time": np.tile(panel.times.astype("datetime64[s]"), n_ent),
        "value": np.concatenate([st_value, a_value]).ravel(),
        "valid": np.concatenate([st_valid, a_count >= 1]).ravel(),
        "n_valid": n_valid.ravel(),
        "n_required": n_required.ravel(),
        "profile": pd.Categorical.from_codes(np.tile(np.repeat(rules.index, HOURS_PER_DAY), n_ent),
                                             categories=rules.ids),
    })
