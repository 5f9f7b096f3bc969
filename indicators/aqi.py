"""Air quality index by HJ 633 (standards.md §5), and the US EPA AQI for comparison (§8).

Everything is computed in exact integer arithmetic on the *published* (rounded)
concentrations: SO2, NO2, O3, PM10, PM2.5 in whole µg/m³ and CO in 0.1 mg/m³
become integers (CO × 10), so that

    IAQI = ceil((IAQI_hi − IAQI_lo)·(C − BP_lo) / (BP_hi − BP_lo) + IAQI_lo)

is an integer ceiling division. In floats CO 2.2 mg/m³ gives
55.000000000000001 → 56; here it gives 55 (§5).

Every rule — breakpoints, IAQI steps, the rules above the SO2 1-h and O3 8-h
tables, the inputs of the daily and hourly AQI, the missing-pollutant rule,
the level names and colours — is read from the standard profile
(``config/standards/*.yaml``).

Input names
-----------
The IAQI inputs are the breakpoint keys of the profile (``SO2_24h``,
``O3_8h`` …). In the daily AQI the 24-h means are named by the pollutant
alone (``SO2``, ``PM2.5``), and the two ozone inputs ``O3_8h`` (MDA8) and
``O3_1h`` (daily 1-h maximum), as in ``primary`` = ``"PM2.5"`` or ``"O3_8h"``.
The hourly AQI takes the six 1-h values and names them by the pollutant alone
(``SO2`` … ``PM2.5``: ``primary`` = ``"PM10,PM2.5"``, ``iaqi_PM2.5``).
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

import numpy as np
import pandas as pd
import pyarrow as pa

from config.errors import ConfigError
from config.standards import Profile, load_profile, load_schedule
from config.vocabulary import AQI_ORDER

from .frames import DAILY_COLUMNS, DAILY_QUANTITIES, check_columns
from .rounding import scaled_integers, truncate_scaled
from .statistics.dense import dense_daily
from .statistics.grouping import factorize_sorted, unique_inverse

__all__ = ["MISSING", "DAILY_INPUTS", "AQI_COLUMNS", "HOURLY_POLLUTANTS", "iaqi",
           "fallback_quantity", "daily_aqi", "daily_aqi_arrays", "DailyLayout", "hourly_aqi",
           "us_epa_aqi", "molar_volume"]

#: IAQI sentinel for "no value" (NaN or negative concentration, or no fallback).
MISSING = -1
#: From this many rows on, half of the text columns are made on a second thread.
_THREAD_ROWS = 1 << 17

#: Daily frame quantity → IAQI input (breakpoint key) of the daily AQI (§5).
DAILY_INPUTS = {"SO2": "SO2_24h", "NO2": "NO2_24h", "CO": "CO_24h", "PM10": "PM10_24h",
                "PM2.5": "PM2.5_24h", "O3_MDA8": "O3_8h", "O3_1H_MAX": "O3_1h"}
_DAILY_QUANTITY_OF_INPUT = {v: k for k, v in DAILY_INPUTS.items()}


def _daily_name(key: str) -> str:
    """Name of a daily input: the 24-h means by pollutant, ozone with its averaging."""
    return key[: -len("_24h")] if key.endswith("_24h") else key


_DAILY_NAMES = tuple(_daily_name(k) for k in DAILY_INPUTS.values())

#: Columns of :func:`daily_aqi` (then one ``iaqi_<input>`` column per daily input).
AQI_COLUMNS = ("level", "area", "date", "profile", "aqi", "level_no", "category_zh",
               "category_en", "colour", "primary", "exceeding", "missing", "beyond_table",
               "good", "heavy", *(f"iaqi_{n}" for n in _DAILY_NAMES))


# --------------------------------------------------------------------------- profiles
def _profile(profile) -> Profile:
    if isinstance(profile, Profile):
        return profile
    return load_profile(str(profile))


def _table_key(profile: Profile, quantity: str) -> str:
    """Breakpoint key for ``quantity``; 2026 hourly PM (``PM2.5_1h``) uses the 24-h table."""
    breakpoints = profile.aqi["breakpoints"]
    if quantity in breakpoints:
        return quantity
    pollutant, _, averaging = quantity.rpartition("_")
    # HJ 633-2026: real-time AQI takes PM 1-h values on the 24-h table (§5).
    if (averaging == "1h" and profile.aqi.get("hourly_pm") == "hourly_on_24h_table"
            and f"{pollutant}_24h" in breakpoints):
        return f"{pollutant}_24h"
    raise ConfigError(profile.path, "aqi.breakpoints",
                      f"no breakpoints for {quantity!r}",
                      f"use one of {', '.join(breakpoints)}")


def _above_rule(profile: Profile, key: str) -> str | None:
    """Rule above the top breakpoint (``aqi.<key>_above_table``), e.g. ``use_24h``, ``iaqi_200``."""
    return profile.aqi.get(f"{key.lower()}_above_table")


def fallback_quantity(quantity: str, profile) -> str | None:
    """The quantity whose IAQI replaces ``quantity`` above its table, if the profile says so.

    cn-2012: ``SO2_1h`` → ``SO2_24h`` (SO2 1-h > 800 µg/m³), ``O3_8h`` → ``O3_1h``
    (O3 8-h > 800 µg/m³); cn-2026 profiles: ``None`` (fixed IAQI instead).
    """
    prof = _profile(profile)
    key = _table_key(prof, quantity)
    rule = _above_rule(prof, key)
    if rule and rule.startswith("use_"):
        return f"{key.rpartition('_')[0]}_{rule[len('use_'):]}"
    return None


# --------------------------------------------------------------------------- IAQI
def _segment_iaqi(c: np.ndarray, bp: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """IAQI of scaled concentrations ``c`` ≥ 0 by linear interpolation in their segment."""
    # Segment (BP_lo, BP_hi]: a concentration at a breakpoint takes the lower segment.
    seg = np.clip(np.searchsorted(bp, c, side="left"), 1, len(bp) - 1)
    lo, hi = bp[seg - 1], bp[seg]
    ilo, ihi = steps[seg - 1], steps[seg]
    num = (ihi - ilo) * (c - lo)
    return ilo + -(-num // (hi - lo))          # exact integer ceiling (§5)


def iaqi(concentration, quantity: str, profile, *, fallback=None):
    """Individual air quality index (IAQI) of published concentrations, HJ 633 (§5).

    Parameters
    ----------
    concentration : float or array-like
        Published concentrations [µg/m³; CO mg/m³]: integers, CO to 0.1.
        A value off that grid is rounded half to even first (GB/T 8170), i.e.
        published. NaN (or a negative value) gives :data:`MISSING`.
    quantity : str
        A breakpoint key of the profile, e.g. ``"PM2.5_24h"``, ``"SO2_1h"``,
        ``"O3_8h"``; ``"PM10_1h"``/``"PM2.5_1h"`` under a profile whose hourly
        PM uses the 24-h table (2026).
    profile : config.standards.Profile or str
        Chinese standard profile (or its id).
    fallback : tuple of (ndarray, ndarray) or ndarray, optional
        IAQI (and beyond-table flags) of :func:`fallback_quantity`, aligned,
        used where the concentration is above a table whose profile rule is
        ``use_24h``/``use_1h`` (cn-2012: SO2 1-h > 800 → 24-h IAQI; O3 8-h > 800 →
        1-h IAQI). Without it such values give :data:`MISSING`.

    Returns
    -------
    iaqi : numpy.ndarray of int64
        Ceiled IAQI [-], :data:`MISSING` (−1) where there is no value.
    beyond_table : numpy.ndarray of bool
        Above the top breakpoint of a full table: IAQI set to the top step
        (500) and flagged "beyond table" (§5).

    Notes
    -----
    A concentration exactly at a breakpoint belongs to the lower segment, so
    it takes that breakpoint's IAQI (SO2 24-h 150 → 100; PM2.5 60 → 100 under
    2026).
    """
    prof = _profile(profile)
    key = _table_key(prof, quantity)
    pollutant = key.split("_")[0]
    decimals = prof.decimals(pollutant)
    x = np.asarray(concentration, dtype="float64")
    shape = x.shape
    x = x.reshape(-1)
    missing = ~(x >= 0)                         # NaN or negative
    c = scaled_integers(np.where(missing, 0.0, x), decimals)
    bp = scaled_integers(np.asarray(prof.aqi["breakpoints"][key], dtype="float64"), decimals)
    steps = np.asarray(prof.aqi["iaqi"], dtype=np.int64)[: len(bp)]

    value = _lookup_iaqi(c, bp, steps)
    beyond = np.zeros(x.shape, dtype=bool)
    above = ~missing & (c > bp[-1])
    if above.any():
        value[above], beyond[above] = _above_table(prof, key, bp, steps, above, fallback)
    value[missing] = MISSING
    beyond[missing] = False
    return value.reshape(shape), beyond.reshape(shape)


def _lookup_iaqi(c: np.ndarray, bp: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """:func:`_segment_iaqi` of the scaled concentrations ``c``: every concentration
    0 … top once (a small table), then looked up; those above the table are set by
    :func:`_above_table`."""
    top = int(bp[-1])
    if 0 <= top <= 4 * len(c) + 65_536:
        return _segment_iaqi(np.arange(top + 1, dtype=np.int64), bp, steps)[np.minimum(c, top)]
    return _segment_iaqi(c, bp, steps)


def _above_table(prof: Profile, key: str, bp: np.ndarray, steps: np.ndarray, above: np.ndarray,
                 fallback):
    """(IAQI, beyond-table flag) of the concentrations ``above`` the top breakpoint, by the
    profile's rule ``aqi.<key>_above_table`` (HJ 633 §5; standards.md §5)."""
    rule = _above_rule(prof, key)
    if rule is None:
        if len(bp) != len(prof.aqi["iaqi"]):
            raise ConfigError(prof.path, f"aqi.{key.lower()}_above_table",
                              f"{key} table stops below the top IAQI and no rule says "
                              "what applies above it", "set use_24h, use_1h or iaqi_<n>")
        return steps[-1], True              # above the table: 500, "beyond table"
    if rule.startswith("iaqi_"):
        return int(rule[len("iaqi_"):]), False    # 2026: SO2 1-h → 200, O3 8-h → 300
    if rule.startswith("use_"):
        if fallback is None:
            return MISSING, False
        fb_value, fb_beyond = (fallback if isinstance(fallback, tuple)
                               else (fallback, np.zeros(above.shape, dtype=bool)))
        fb_value = np.asarray(fb_value, dtype=np.int64).reshape(-1)
        fb_beyond = np.asarray(fb_beyond, dtype=bool).reshape(-1)
        return fb_value[above], fb_beyond[above]  # 2012: the other averaging's IAQI
    raise ConfigError(prof.path, f"aqi.{key.lower()}_above_table",
                      f"unknown rule {rule!r}", "use use_24h, use_1h or iaqi_<n>")


# --------------------------------------------------------------------------- combining
def _strings(table, codes: np.ndarray, na: np.ndarray | None = None) -> pd.arrays.ArrowStringArray:
    """``table[codes]`` as a pandas ``str`` array (<NA> where ``na``), by an Arrow take."""
    table = list(table)
    if len(table) == 1 and na is None:          # one string throughout (e.g. the profile)
        taken = pa.repeat(pa.scalar(table[0], type=pa.large_string()), len(codes))
    else:
        indices = pa.array(np.asarray(codes, dtype=np.int32), mask=na)
        taken = pa.array(table, type=pa.large_string()).take(indices)
    return pd.array(taken, dtype=pd.StringDtype("pyarrow", na_value=np.nan))


class _Result:
    """Full-length output arrays, filled profile by profile.

    The comma-joined name lists (primary, exceeding, missing) are kept as
    codes into one table of strings, built from the ≤ 2**8 subsets of inputs.
    """

    def __init__(self, n: int, names: tuple[str, ...]):
        self.aqi = np.full(n, MISSING, dtype=np.int64)
        self.profile = np.zeros(n, dtype=np.int32)
        self.primary = np.zeros(n, dtype=np.int32)
        self.exceeding = np.zeros(n, dtype=np.int32)
        self.missing = np.zeros(n, dtype=np.int32)
        self.beyond = np.zeros(n, dtype=bool)
        self.level_idx = np.zeros(n, dtype=np.int64)
        self.good = np.zeros(n, dtype=bool)
        self.heavy = np.zeros(n, dtype=bool)
        self.iaqi = {name: np.full(n, MISSING, dtype=np.int64) for name in names}
        self.strings: dict[str, int] = {"": 0}
        self.profiles: list[str] = []
        self.levels: list[dict] | None = None

    def _subset_codes(self, names) -> np.ndarray:
        """String code of each bit mask over ``names`` (its comma-joined subset)."""
        codes = []
        for bits in range(1 << len(names)):
            text = ",".join(n for j, n in enumerate(names) if bits >> j & 1)
            codes.append(self.strings.setdefault(text, len(self.strings)))
        return np.array(codes, dtype=np.int32)

    def fill(self, rows, prof: Profile, names, values, beyonds) -> None:
        """Combine the IAQIs of one profile's rows (§5: max, missing rule, primary, levels)."""
        rules = prof.aqi
        n = len(values[0]) if values else len(self.aqi[rows])
        aqi = np.full(n, MISSING, dtype=np.int64)
        for v in values:
            np.maximum(aqi, v, out=aqi)                     # AQI = max of the IAQIs
        absent_bits = np.zeros(n, dtype=np.int32)
        beyond = np.zeros(n, dtype=bool)
        for j, (v, b) in enumerate(zip(values, beyonds)):
            absent = v == MISSING
            absent_bits |= absent.astype(np.int32) << j
            beyond |= b & ~absent
        # Missing pollutant (§5): computed from the others, published only above the bar.
        published = (aqi != MISSING) & ((absent_bits == 0) | (aqi > rules["missing_publish_above"]))
        levels = rules["levels"]
        if self.levels is None:
            self.levels = levels
        elif [lv["level"] for lv in levels] != [lv["level"] for lv in self.levels]:
            raise ConfigError(prof.path, "aqi.levels", "profiles in one frame must share levels",
                              "keep the six HJ 633 levels in every profile")
        maxes = np.array([np.inf if lv["max"] is None else lv["max"] for lv in levels])
        # Primary pollutant(s): IAQI == AQI, only above the first level (AQI > 50).
        with_primary = published & (aqi > maxes[0])
        # 超标污染物 (HJ 633-2012 only): IAQI > 100, the good_max bar.
        exceeding_on = bool(rules.get("exceeding_pollutant"))
        primary_bits = np.zeros(n, dtype=np.int32)
        exceeding_bits = np.zeros(n, dtype=np.int32)
        for j, v in enumerate(values):
            primary_bits |= ((v == aqi) & with_primary).astype(np.int32) << j
            if exceeding_on:
                exceeding_bits |= ((v > rules["good_max"]) & published).astype(np.int32) << j
        subsets = self._subset_codes(names)
        self.primary[rows] = subsets[primary_bits]
        self.exceeding[rows] = subsets[exceeding_bits]
        self.missing[rows] = subsets[absent_bits]
        self.aqi[rows] = np.where(published, aqi, MISSING)
        self.beyond[rows] = beyond
        self.level_idx[rows] = np.where(published, np.searchsorted(maxes, aqi, side="left"), 0)
        self.good[rows] = published & (aqi <= rules["good_max"])
        self.heavy[rows] = published & (aqi > rules["heavy_above"])
        self.profile[rows] = len(self.profiles)
        self.profiles.append(prof.id)
        for name, v in zip(names, values):
            self.iaqi[name][rows] = v

    def frame(self, head: dict[str, object]) -> pd.DataFrame:
        na = self.aqi == MISSING
        levels = self.levels or [{"level": 0, "zh": "", "en": "", "colour": ""}]
        table = list(self.strings)
        # the text columns: Arrow takes, which release the GIL — on two threads when long
        texts = {"profile": (self.profiles or [""], self.profile, None)}
        for column, key in (("category_zh", "zh"), ("category_en", "en"), ("colour", "colour")):
            texts[column] = ([lv[key] for lv in levels], self.level_idx, na)
        for column in ("primary", "exceeding", "missing"):
            texts[column] = (table, getattr(self, column), None)
        pool = (ThreadPoolExecutor(max_workers=1)
                if len(self.aqi) >= _THREAD_ROWS and (os.cpu_count() or 1) > 1 else None)
        try:
            later = ({c: pool.submit(_strings, *texts[c]) for c in list(texts)[::2]}
                     if pool is not None else {})
            made = {c: _strings(*args) for c, args in texts.items() if c not in later}
            made.update({c: f.result() for c, f in later.items()})
        finally:
            if pool is not None:
                pool.shutdown(wait=True)
        out = dict(head)
        out["profile"] = made["profile"]
        out["aqi"] = pd.arrays.IntegerArray(self.aqi, na)
        out["level_no"] = pd.arrays.IntegerArray(
            np.array([lv["level"] for lv in levels], dtype=np.int64)[self.level_idx], na)
        for column in ("category_zh", "category_en", "colour", "primary", "exceeding",
                       "missing"):
            out[column] = made[column]
        out["beyond_table"] = self.beyond
        out["good"] = pd.arrays.BooleanArray(self.good, na)
        out["heavy"] = pd.arrays.BooleanArray(self.heavy, na)
        for name, v in self.iaqi.items():
            out[f"iaqi_{name}"] = pd.arrays.IntegerArray(v, v == MISSING)
        return pd.DataFrame(out, copy=False)      # new arrays, used only here


def _resolve_profiles(forced, dates: np.ndarray) -> tuple[np.ndarray, list[Profile]]:
    """Profile code per row and the profiles: forced, else the one in force each day (§1)."""
    if forced is not None:
        return np.zeros(len(dates), dtype=np.int64), [_profile(forced)]
    codes, uniques = pd.factorize(load_schedule().in_force(dates))
    return codes.astype(np.int64), [_profile(u) for u in uniques]


def _input_iaqis(prof: Profile, inputs, concentration_of, available):
    """IAQIs of ``inputs`` for one profile's rows, with the above-table fallbacks.

    ``concentration_of(name)`` gives the published concentrations of an input;
    ``available(name)`` says whether a fallback quantity has data at all
    (cn-2012: SO2 1-h > 800 uses the SO2 24-h IAQI, O3 8-h > 800 the O3 1-h IAQI).
    """
    cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def one(name: str, seen: tuple[str, ...] = ()) -> tuple[np.ndarray, np.ndarray]:
        if name not in cache:
            if name in seen:
                raise ConfigError(prof.path, "aqi", f"above-table rules loop through {name}",
                                  "a fallback must not lead back to its own input")
            fb = fallback_quantity(name, prof)
            fallback = one(fb, (*seen, name)) if fb is not None and available(fb) else None
            cache[name] = iaqi(concentration_of(name), name, prof, fallback=fallback)
        return cache[name]

    pairs = [one(i) for i in inputs]
    return [p[0] for p in pairs], [p[1] for p in pairs]


# --------------------------------------------------------------------------- daily AQI
def _factorize_dates(column: pd.Series):
    """``pd.factorize(column, sort=True)`` of datetime64 values, by a table of the days
    spanned (no hashing); other columns, or NaT, by pandas."""
    values = column.to_numpy()
    if values.dtype.kind == "M" and len(values):
        unit, count = np.datetime_data(values.dtype)
        per_day = {"D": 1, "h": 24, "m": 1440, "s": 86_400, "ms": 86_400_000,
                   "us": 86_400_000_000, "ns": 86_400_000_000_000}.get(unit)
        ticks = values.view(np.int64)
        if per_day and per_day % count == 0 and int(ticks.min()) != np.iinfo(np.int64).min:
            per_day //= count                                  # (no NaT above)
            days = ticks // per_day
            if per_day == 1 or not (ticks - days * per_day).any():   # midnights only
                uniq, codes = unique_inverse(days)
                return codes, (uniq * per_day).view(values.dtype)
    return pd.factorize(column, sort=True)


def daily_aqi(daily: pd.DataFrame, profile=None) -> pd.DataFrame:
    """Daily AQI per level, area and day from the long daily frame (HJ 633, §5).

    Parameters
    ----------
    daily : pandas.DataFrame
        The daily frame of :mod:`indicators.frames` (``DAILY_COLUMNS``), one
        row per level, area, date and quantity. The AQI uses ``reported``
        (published values [µg/m³; CO mg/m³]) where ``valid``; a quantity that is
        not valid, or has no row, is a missing input.
    profile : config.standards.Profile or str, optional
        Force one profile for every day. By default each day uses its
        ``profile`` column, or where that is empty the profile in force that
        day (``config/standards/schedule.yaml``).

    Returns
    -------
    pandas.DataFrame
        ``AQI_COLUMNS``, one row per level, area, date, sorted by them:
        ``aqi`` (Int64 [-], <NA> when not published), ``level_no`` (1–6),
        ``category_zh``/``category_en``/``colour``, ``primary`` (inputs whose
        IAQI equals the AQI when AQI > 50, comma-joined, e.g. ``"PM2.5"`` or
        ``"O3_8h"``), ``exceeding`` (IAQI > 100; profiles with
        ``exceeding_pollutant`` only), ``missing`` (missing inputs),
        ``beyond_table``, ``good`` (AQI ≤ good_max) and ``heavy`` (AQI >
        heavy_above) (<NA> when no AQI), and ``iaqi_<input>`` per daily input
        (Int64; <NA> when missing or not an input of the day's profile).

    Notes
    -----
    Inputs per profile: ``aqi.daily_inputs`` — cn-2012 the 24-h means of SO2,
    NO2, CO, PM10, PM2.5, the O3 daily 1-h maximum (1-h table) and the O3
    MDA8; cn-2026 the same without the 1-h maximum. With an input missing the
    AQI is computed from the others and published only when >
    ``aqi.missing_publish_above`` (100).
    """
    check_columns(daily, DAILY_COLUMNS, "daily")
    dense = dense_daily(daily, one_profile=False)
    if dense is not None and (dense.day_values == dense.days).all():      # midnights
        return _daily_aqi_dense(daily, dense, profile)
    keys = _daily_keys(daily)
    wide = _wide_inputs(daily, keys)
    key_date = np.asarray(keys.date_uni)[keys.key_uni % keys.n_date]
    if profile is None:
        codes, profiles = _row_profiles(daily, keys)
    else:
        codes, profiles = _resolve_profiles(profile, key_date)

    quantity_index = {name: list(DAILY_INPUTS).index(q)
                      for name, q in _DAILY_QUANTITY_OF_INPUT.items()}
    head = {"level": pd.Index(keys.lvl_uni).take(keys.key_uni // (keys.n_area * keys.n_date)).array,
            "area": pd.Index(keys.area_uni).take(keys.key_uni // keys.n_date % keys.n_area).array,
            "date": key_date}
    return _daily_result(len(keys.key_uni), codes, profiles,
                         lambda rows, name: wide[rows, quantity_index[name]], head)


@dataclass(frozen=True)
class _DailyKeys:
    """The (level, area, date) keys of a daily frame's rows: ``key`` of each row into the
    sorted ``key_uni`` (codes into the sorted levels, areas and dates)."""
    key: np.ndarray
    key_uni: np.ndarray
    lvl_uni: object
    area_uni: object
    date_uni: object
    n_area: int
    n_date: int


def _daily_keys(daily: pd.DataFrame) -> _DailyKeys:
    n_rows = len(daily)
    lvl_code, lvl_uni = factorize_sorted(daily["level"])
    area_code, area_uni = factorize_sorted(daily["area"])
    date_code, date_uni = _factorize_dates(daily["date"])
    if n_rows and (min(lvl_code.min(), area_code.min(), date_code.min()) < 0):
        raise ValueError("daily frame: level, area and date must not be missing")
    n_area, n_date = max(len(area_uni), 1), max(len(date_uni), 1)
    combined = (lvl_code.astype(np.int64) * n_area + area_code) * n_date + date_code
    key_uni, key = unique_inverse(combined)
    return _DailyKeys(key, key_uni, lvl_uni, area_uni, date_uni, n_area, n_date)


def _quantity_codes(pollutant: pd.Series) -> np.ndarray:
    """Each row's index into :data:`DAILY_INPUTS`; unknown quantities are an error."""
    q_code, q_uni = (factorize_sorted(pollutant)        # q does not depend on the order
                     if isinstance(pollutant.dtype, pd.CategoricalDtype) else ([], []))
    q_map = np.array([list(DAILY_INPUTS).index(q) if q in DAILY_INPUTS else -1 for q in q_uni],
                     dtype=np.int64)
    if not len(q_code) or (q_map < 0).any() or (q_code < 0).any():
        q_code, q_uni = pd.factorize(pollutant)
        q_map = np.array([list(DAILY_INPUTS).index(q) if q in DAILY_INPUTS else -1
                          for q in q_uni], dtype=np.int64)
    if (q_map < 0).any() or (q_code < 0).any():
        bad = [q for q, i in zip(q_uni, q_map) if i < 0]
        raise ValueError(f"daily frame: unknown pollutant(s) {bad}; expected {list(DAILY_INPUTS)}")
    return q_map[q_code]


def _wide_inputs(daily: pd.DataFrame, keys: _DailyKeys) -> np.ndarray:
    """(keys, daily inputs): the reported value of each quantity where valid, else NaN."""
    n_rows, n_keys = len(daily), len(keys.key_uni)
    q = _quantity_codes(daily["pollutant"])
    n_q = len(DAILY_INPUTS)
    cell = keys.key.astype(np.int64) * n_q + q
    if n_rows and np.bincount(cell, minlength=n_keys * n_q).max() > 1:
        raise ValueError("daily frame: more than one row for a level, area, date and pollutant")

    reported = pd.to_numeric(daily["reported"]).to_numpy(dtype="float64", na_value=np.nan)
    valid = daily["valid"]
    valid = (valid.to_numpy() if valid.dtype == bool
             else valid.astype("boolean").fillna(False).to_numpy(dtype=bool))
    # A quantity that is not valid counts as a missing input (§5).
    wide = np.full(n_keys * n_q, np.nan)
    wide[cell] = np.where(valid, reported, np.nan)
    return wide.reshape(n_keys, n_q)


def _row_profiles(daily: pd.DataFrame, keys: _DailyKeys) -> tuple[np.ndarray, list[Profile]]:
    """Profile code of each key and the profiles: each day's own (the ``profile`` column),
    else the one in force that day (§1)."""
    n_rows, n_keys, key = len(daily), len(keys.key_uni), keys.key
    pid_code, pid_uni = (factorize_sorted(daily["profile"])     # any order will do
                         if isinstance(daily["profile"].dtype, pd.CategoricalDtype)
                         else pd.factorize(daily["profile"]))
    pid_uni = [str(p) for p in pid_uni]
    unnamed = pid_code < 0
    if unnamed.any():
        ids = load_schedule().in_force(
            np.asarray(daily["date"], dtype="datetime64[D]")[unnamed])
        extra_code, extra_uni = pd.factorize(ids)
        for p in extra_uni:
            if p not in pid_uni:
                pid_uni.append(str(p))
        remap = np.array([pid_uni.index(p) for p in extra_uni], dtype=np.int64)
        pid_code = pid_code.copy()
        pid_code[unnamed] = remap[extra_code]
    per_key = np.empty(n_keys, dtype=np.int64)
    per_key[key] = pid_code
    if n_rows and not np.array_equal(per_key[key], pid_code):
        raise ValueError("daily frame: rows of one level, area and date name "
                         "different profiles")
    return per_key, [_profile(p) for p in pid_uni]


def _daily_result(n_keys: int, codes: np.ndarray, profiles, column, head) -> pd.DataFrame:
    """The daily AQI frame of ``n_keys`` keys: ``codes`` the profile of each key (into
    ``profiles``), ``column(rows, input)`` the published concentrations of an input on
    those keys (NaN = missing), ``head`` the level, area and date columns."""
    result = _Result(n_keys, _DAILY_NAMES)
    for code, prof in enumerate(profiles):
        rows = np.flatnonzero(codes == code)
        if not len(rows):
            continue
        if len(rows) == n_keys:
            rows = slice(None)              # every key: views instead of copies
        inputs = list(prof.aqi["daily_inputs"])
        unknown = [i for i in inputs if i not in _DAILY_QUANTITY_OF_INPUT]
        if unknown:
            raise ConfigError(prof.path, "aqi.daily_inputs", f"no daily quantity for {unknown}",
                              f"use inputs among {list(_DAILY_QUANTITY_OF_INPUT)}")
        values, beyonds = _input_iaqis(
            prof, inputs, lambda name, rows=rows: column(rows, name),
            lambda name: name in _DAILY_QUANTITY_OF_INPUT)
        result.fill(rows, prof, tuple(_daily_name(i) for i in inputs), values, beyonds)
    return result.frame(head)


def _daily_aqi_dense(daily: pd.DataFrame, dense, profile) -> pd.DataFrame:
    """:func:`daily_aqi` of a daily frame laid out as ``averaging.daily_values`` writes it
    (``statistics.dense.dense_daily``): the same keys, in the same order, and the same
    values, read off the (entities, days, quantities) arrays instead of keyed rows."""
    lc, ac = dense.entity_codes
    layout = DailyLayout(dense.valid.shape[1], dense.day_values, dense.day_profile,
                         daily["profile"].cat.categories, lc, ac, daily["level"].dtype,
                         daily["area"].dtype)
    return daily_aqi_arrays(lambda j: (dense.valid[:, :, j], dense.reported[:, :, j]), layout,
                            profile)


@dataclass(frozen=True)
class DailyLayout:
    """The keys of daily values laid out by ``averaging.daily_values`` (entity after
    entity, day after day, the quantities of :data:`indicators.frames.DAILY_QUANTITIES`
    in order): ``n_days`` days whose ``date`` values are ``day_values`` (midnights,
    ascending, consecutive), each day's code ``day_profile`` into ``profile_ids``, and
    each entity's categorical codes (unique pairs) ``level_codes``/``area_codes`` of the
    ``level_dtype``/``area_dtype`` categoricals."""
    n_days: int
    day_values: np.ndarray
    day_profile: np.ndarray
    profile_ids: object
    level_codes: np.ndarray
    area_codes: np.ndarray
    level_dtype: object
    area_dtype: object


def daily_aqi_arrays(quantity, layout: DailyLayout, profile=None) -> pd.DataFrame:
    """:func:`daily_aqi` of daily values given as (entities, days) arrays: the frame that
    ``daily_aqi`` returns for the daily frame with these arrays and keys (``layout``).

    ``quantity(j)`` gives the ``(valid, reported)`` (entities, days) arrays of the j-th
    daily quantity.
    """
    n_days, day_values, day_profile = layout.n_days, layout.day_values, layout.day_profile
    profile_ids = layout.profile_ids
    n_ent = len(layout.level_codes)
    n_keys = n_ent * n_days
    lc, ac = layout.level_codes, layout.area_codes
    # keys sorted by level, area (their categorical order: codes), date (ascending days)
    order = np.lexsort((ac, lc))
    identity = bool((order == np.arange(n_ent)).all())
    key_date = np.tile(day_values, n_ent)
    if profile is None:
        # each day's own profile (the categories that occur, in the categorical's order)
        present = np.zeros(len(profile_ids), dtype=bool)
        present[day_profile] = True
        rank = np.cumsum(present) - 1
        profiles = [_profile(str(p)) for p in np.asarray(profile_ids, dtype=object)[present]]
        codes = np.tile(rank[day_profile].astype(np.int64), n_ent)
    else:
        codes, profiles = _resolve_profiles(profile, key_date)
    positions = {q: i for i, q in enumerate(DAILY_QUANTITIES)}

    def column(rows, name):
        valid, reported = quantity(positions[_DAILY_QUANTITY_OF_INPUT[name]])
        if not identity:
            valid, reported = valid[order], reported[order]
        out = np.where(valid, reported, np.nan).reshape(-1)
        return out if isinstance(rows, slice) else out[rows]

    head = {"level": pd.Categorical.from_codes(np.repeat(lc[order], n_days),
                                               dtype=layout.level_dtype),
            "area": pd.Categorical.from_codes(np.repeat(ac[order], n_days),
                                              dtype=layout.area_dtype),
            "date": key_date}
    return _daily_result(n_keys, codes, profiles, column, head)


# --------------------------------------------------------------------------- hourly AQI
#: The pollutants of the hourly (real-time) AQI, in HJ 633 Table 1 order: their 1-h values
#: are its inputs (§5).
HOURLY_POLLUTANTS = AQI_ORDER


def _hourly_name(key: str) -> str:
    """Name of an hourly input: a 1-h value by its pollutant (``PM2.5_1h`` → ``PM2.5``)."""
    return key[: -len("_1h")] if key.endswith("_1h") else key


def hourly_aqi(hourly_values: pd.DataFrame, profile=None) -> pd.DataFrame:
    """Real-time (hourly) AQI, HJ 633 (standards.md §5), of stations or areas.

    Both editions: the maximum of the IAQIs of the six **1-h values** — SO2, NO2,
    CO and O3 on their 1-h tables, PM10 and PM2.5 1-h values on the 24-h table
    (the profile's ``aqi.hourly_inputs`` and ``aqi.hourly_pm``); no 24-h moving
    average and no O3 8-h value. It is what the national platform publishes.

    Parameters
    ----------
    hourly_values : pandas.DataFrame
        One row per level, area and hour: ``level``, ``area``, ``time`` (start of
        the hour, CST) and the 1-h values named by pollutant — ``SO2``, ``NO2``,
        ``CO``, ``O3``, ``PM10``, ``PM2.5`` [µg/m³; CO mg/m³], NaN when missing.
        Station values, or an area's 1-h means (the mean of its valid station
        values, §7) as they come: each value is rounded half to even to its
        published decimals (§4) before its IAQI, in exact arithmetic. A column
        named by the profile's input key (``SO2_1h`` …) is taken when the
        pollutant's own is absent. Optional ``SO2_24h`` (the 24-h moving average
        at that hour): under cn-2012 an SO2 1-h value above 800 µg/m³ takes the
        IAQI of this value instead (cn-2026: IAQI 200); without it such an
        hour's SO2 input is missing.
    profile : config.standards.Profile or str, optional
        Profile for every hour; by default the profile in force on each hour's
        day (schedule).

    Returns
    -------
    pandas.DataFrame
        As :func:`daily_aqi` with ``time`` instead of ``date``, in the input's
        row order and index: ``aqi`` (Int64, <NA> when not published),
        ``level_no``, ``category_zh``/``category_en``/``colour``, ``primary``
        (the pollutant(s) whose IAQI equals the AQI when AQI > 50, comma-joined
        in the order SO2, NO2, CO, O3, PM10, PM2.5, e.g. ``"PM10,PM2.5"``),
        ``exceeding`` (IAQI > 100; cn-2012 only), ``missing`` (pollutants without a
        value), ``beyond_table``, ``good``, ``heavy``, and ``iaqi_<pollutant>``
        (Int64). With a 1-h value missing the AQI is computed from the others and
        published only when above ``aqi.missing_publish_above`` (100).
    """
    check_columns(hourly_values, ("level", "area", "time"), "hourly AQI input")
    times = np.asarray(hourly_values["time"], dtype="datetime64[ns]")
    codes, profiles = _resolve_profiles(profile, times.astype("datetime64[D]"))
    names: list[str] = []
    for prof in profiles:
        names += [_hourly_name(i) for i in prof.aqi["hourly_inputs"]
                  if _hourly_name(i) not in names]
    columns = hourly_values.columns

    def column_of(key: str) -> str | None:
        name = _hourly_name(key)
        return name if name in columns else key if key in columns else None

    lacking = sorted({_hourly_name(i) for p in profiles for i in p.aqi["hourly_inputs"]
                      if column_of(i) is None})
    if lacking:
        raise ValueError(f"hourly AQI input frame lacks columns {lacking}; has "
                         f"{list(columns)}")

    result = _Result(len(hourly_values), tuple(names))
    for code, prof in enumerate(profiles):
        rows = np.flatnonzero(codes == code)
        if not len(rows):
            continue
        if len(rows) == len(hourly_values):
            rows = slice(None)
        inputs = list(prof.aqi["hourly_inputs"])
        values, beyonds = _input_iaqis(
            prof, inputs,
            lambda key, rows=rows: pd.to_numeric(hourly_values[column_of(key)]).to_numpy(
                dtype="float64", na_value=np.nan)[rows],
            lambda key: column_of(key) is not None)
        result.fill(rows, prof, tuple(_hourly_name(i) for i in inputs), values, beyonds)

    head = {"level": hourly_values["level"].to_numpy(copy=True),
            "area": hourly_values["area"].to_numpy(copy=True),
            "time": hourly_values["time"].to_numpy(copy=True)}
    out = result.frame(head)
    out.index = hourly_values.index
    return out


# --------------------------------------------------------------------------- US EPA AQI
#: Molar masses [g/mol] of the gases converted to ppb/ppm (physical constants).
MOLAR_MASS = {"SO2": Fraction("64.066"), "NO2": Fraction("46.0055"),
              "CO": Fraction("28.010"), "O3": Fraction("47.997")}
#: Molar gas constant [J/(mol·K)] (SI 2019: k·N_A, exact to these digits) and 1 atm [kPa].
_R = Fraction("8.314462618")
_P_KPA = Fraction("101.325")
#: Unit of the concentrations Lantian carries (frames.py): µg/m³, CO mg/m³.
_INPUT_UG_PER_UNIT = {"CO": 1000}


def molar_volume(temperature_c) -> Fraction:
    """Molar volume of an ideal gas at 1 atm [L/mol], to 0.001 L/mol.

    ``R·T/p``, rounded half to even to three decimals as it is usually quoted:
    24.465 L/mol at 25 °C.
    """
    exact = _R * (Fraction(str(temperature_c)) + Fraction("273.15")) / _P_KPA
    d = (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(
        Decimal("0.001"), rounding=ROUND_HALF_EVEN)
    return Fraction(d)


def _conversion(pollutant: str, unit: str, temperature_c) -> Fraction:
    """Exact factor from Lantian's unit (µg/m³; CO mg/m³) to the table unit."""
    ug = Fraction(_INPUT_UG_PER_UNIT.get(pollutant, 1))      # input unit → µg/m³
    unit = unit.replace("³", "3").replace("μ", "µ")
    if unit == "µg/m3":
        return ug
    if unit == "mg/m3":
        return ug / 1000
    if unit in ("ppb", "ppm"):
        if pollutant not in MOLAR_MASS:
            raise ValueError(f"no molar mass for {pollutant}")
        ppb = ug * molar_volume(temperature_c) / MOLAR_MASS[pollutant]   # µg/m³·Vm/M = ppb
        return ppb if unit == "ppb" else ppb / 1000
    raise ValueError(f"unknown unit {unit!r}")


def _us_index(x: np.ndarray, name: str, spec: dict, index_bands: np.ndarray, temperature):
    """(index, above the top band) of the concentrations ``x`` of input ``name``, whose
    table is ``spec``: converted, truncated, interpolated in the band, nearest integer."""
    d = int(spec["decimals"])
    pollutant = name.split("_")[0]
    absent = ~(x >= 0)
    t, _ = truncate_scaled(np.where(absent, np.nan, x), d,
                           _conversion(pollutant, spec["unit"], temperature))
    bands = np.asarray(spec["bands"], dtype="float64")
    lows = scaled_integers(bands[:, 0], d)
    highs = scaled_integers(bands[:, 1], d)
    idx_lo, idx_hi = index_bands[: len(bands), 0], index_bands[: len(bands), 1]
    b = np.clip(np.searchsorted(lows, t, side="right") - 1, 0, len(bands) - 1)
    span = highs[b] - lows[b]
    num = (idx_hi[b] - idx_lo[b]) * (t - lows[b])
    value = idx_lo[b] + (2 * num + span) // (2 * span)       # nearest, half up
    above = ~absent & (t > highs[-1])
    top = int(idx_hi[-1])
    value = np.where(above, top if top == int(index_bands[-1, 1]) else MISSING, value)
    return np.where(absent, MISSING, value), above


def us_epa_aqi(values, profile_us="us-epa-2024") -> pd.DataFrame:
    """US EPA AQI, for comparison pages only (standards.md §8).

    Concentrations are converted to the table's unit (gases to ppb/ppm at the
    profile's reference temperature, 25 °C: molar volume 24.465 L/mol),
    truncated to the band precision, interpolated linearly in their band and
    rounded to the nearest integer (half up).

    Parameters
    ----------
    values : pandas.DataFrame or mapping of str to array-like
        Columns named by the profile's breakpoint keys, any subset of
        ``PM2.5_24h``, ``PM10_24h`` [µg/m³], ``O3_8h`` (e.g. the MDA8),
        ``SO2_1h``, ``NO2_1h`` (daily 1-h maxima) [µg/m³], ``CO_8h`` [mg/m³]
        (the CO daily mean may stand in). NaN = missing.
    profile_us : config.standards.Profile or str
        A ``us-aqi`` profile, default ``us-epa-2024``.

    Returns
    -------
    pandas.DataFrame
        Same index as ``values``: ``aqi`` (Int64 [-], <NA> when no input has
        a value), ``category_en``, ``category_zh``, ``colour``, ``primary`` (the
        input(s) with the highest index, comma-joined), ``beyond_table`` and
        ``aqi_<input>`` per input given (Int64).

    Notes
    -----
    Above the top band: an index of 500 flagged ``beyond_table`` where the top
    band reaches 500; where it does not (SO2 1-h above 304 ppb, O3 8-h above
    0.200 ppm, for which EPA uses the 24-h SO2 / the 1-h O3 instead) the input
    is <NA> and flagged.
    """
    prof = _profile(profile_us)
    if prof.kind != "us-aqi":
        raise ValueError(f"{prof.id} is not a US AQI profile")
    frame = values if isinstance(values, pd.DataFrame) else pd.DataFrame(values)
    tables = prof.aqi["breakpoints"]
    index_bands = np.asarray(prof.aqi["index"], dtype=np.int64)
    temperature = prof.raw.get("gas_reference_temperature_c", 25)
    names = [k for k in tables if k in frame.columns]
    if not names:
        raise ValueError(f"no US AQI input among {list(frame.columns)}; expected {list(tables)}")

    n = len(frame)
    per_input, beyond_any = [], np.zeros(n, dtype=bool)
    for name in names:
        x = pd.to_numeric(frame[name]).to_numpy(dtype="float64", na_value=np.nan)
        value, above = _us_index(x, name, tables[name], index_bands, temperature)
        beyond_any |= above
        per_input.append(value)

    aqi = np.maximum.reduce(per_input)
    na = aqi == MISSING
    levels = prof.aqi["levels"]
    maxes = np.array([np.inf if lv["max"] is None else lv["max"] for lv in levels])
    idx = np.searchsorted(maxes, np.where(na, 0, aqi), side="left")
    # The responsible pollutant(s): the highest index (ties all named).
    subsets = [",".join(n for j, n in enumerate(names) if bits >> j & 1)
               for bits in range(1 << len(names))]
    primary_bits = np.zeros(n, dtype=np.int32)
    for j, v in enumerate(per_input):
        primary_bits |= ((v == aqi) & ~na).astype(np.int32) << j
    out = {"aqi": pd.arrays.IntegerArray(aqi, na),
           "category_en": _strings([lv["en"] for lv in levels], idx, na),
           "category_zh": _strings([lv["zh"] for lv in levels], idx, na),
           "colour": _strings([lv["colour"] for lv in levels], idx, na),
           "primary": _strings(subsets, primary_bits), "beyond_table": beyond_any}
    for name, v in zip(names, per_input):
        out[f"aqi_{name}"] = pd.arrays.IntegerArray(v, v == MISSING)
    return pd.DataFrame(out, index=frame.index)
