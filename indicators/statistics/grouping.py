"""How input rows are keyed: profiles, (level, area) pairs, months, grades, the row
arrays of the daily values and the daily AQI, official dust days, and the rule of one
valid row per group and day.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pa_compute

from config.standards import GRADE_INDEX, Profile, load_profile, load_schedule

from ..frames import check_columns
from .table import QUANTITIES

if TYPE_CHECKING:
    from .validity import Periods


def as_profile(profile) -> Profile | None:
    """The forced profile (an id or a Profile), or None."""
    if profile is None or isinstance(profile, Profile):
        return profile
    return load_profile(str(profile))


def has_rules(prof: Profile) -> bool:
    """Whether ``prof`` carries validity and rounding rules (a Chinese profile) rather than
    limits only (``who-2021``, ``eu-2030``)."""
    return all(k in prof.raw for k in ("validity", "rounding"))


def _days(column) -> np.ndarray:
    return pd.to_datetime(column).to_numpy().astype("datetime64[D]")


def limit_decimals(x: float) -> int:
    """Decimal places of a limit as written (35 → 0, 2.5 → 1)."""
    return max(0, -Decimal(repr(float(x))).normalize().as_tuple().exponent)


def unique_inverse(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def months_of(days: np.ndarray) -> np.ndarray:
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
class Rows:
    """Column arrays of one input, all the same length."""
    cols: dict

    def __getattr__(self, name):
        try:
            return self.__dict__["cols"][name]
        except KeyError:
            raise AttributeError(name) from None

    def take(self, idx) -> "Rows":
        return Rows({k: v[idx] for k, v in self.cols.items()})

    def __len__(self):
        return len(next(iter(self.cols.values())))


def factorize_sorted(series: pd.Series):
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


def area_pairs(frame: pd.DataFrame) -> tuple[np.ndarray, pd.MultiIndex]:
    """(code of each row's (level, area), the sorted unique pairs)."""
    level, area = frame["level"], frame["area"]
    if isinstance(level.dtype, pd.CategoricalDtype) and isinstance(area.dtype, pd.CategoricalDtype):
        # pairs of categorical codes: ordered as the pairs of their sorted factorisations
        lcode, acode = level.cat.codes.to_numpy(), area.cat.codes.to_numpy()
        if not len(lcode) or min(int(lcode.min()), int(acode.min())) >= 0:
            na = max(len(area.cat.categories), 1)
            ku, kc = unique_inverse(lcode.astype(np.int64) * na + acode)
            levels = np.asarray(level.cat.categories, dtype=object)
            areas = np.asarray(area.cat.categories, dtype=object)
            pairs = pd.MultiIndex.from_arrays([levels[ku // na], areas[ku % na]],
                                              names=["level", "area"])
            return kc, pairs
    lc, lu = factorize_sorted(frame["level"])
    ac, au = factorize_sorted(frame["area"])
    na = max(len(au), 1)
    ku, kc = unique_inverse(lc.astype(np.int64) * na + ac)
    pairs = pd.MultiIndex.from_arrays([np.asarray(lu, dtype=object)[ku // na],
                                       np.asarray(au, dtype=object)[ku % na]],
                                      names=["level", "area"])
    return kc, pairs


def grade_codes(grades, pairs: pd.MultiIndex) -> np.ndarray:
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


def daily_rows(daily: pd.DataFrame, need_value: bool) -> tuple[Rows, pd.MultiIndex, list]:
    """The rows of the six limited daily quantities as arrays (``la`` pair code, ``day``,
    ``q`` quantity, ``prof`` profile code, ``valid``, ``reported`` [, ``value``]), the
    (level, area) pairs and the profile ids."""
    cols = ["level", "area", "date", "pollutant", "reported", "valid"]
    if need_value:
        cols.append("value")
    check_columns(daily, cols, "daily values")
    pollutant = daily["pollutant"]
    if isinstance(pollutant.dtype, pd.CategoricalDtype) and not pollutant.isna().any():
        pc, pu = factorize_sorted(pollutant)       # q does not depend on the order
    else:
        pc, pu = pd.factorize(pollutant)
    qmap = pd.Index(QUANTITIES).get_indexer(pd.Index(pu, dtype=object))
    q = qmap.astype(np.int8)[pc] if len(pc) else np.array([], dtype=np.int8)
    sel = q >= 0
    la, pairs = area_pairs(daily)
    days = _days(daily["date"])
    prof, prof_ids = profile_codes(daily, days)
    cols = {
        "la": la, "day": days, "q": q, "prof": prof,
        "valid": daily["valid"].to_numpy(dtype=bool, na_value=False),
        "reported": pd.to_numeric(daily["reported"]).to_numpy(dtype="float64", na_value=np.nan),
    }
    if need_value:
        cols["value"] = pd.to_numeric(daily["value"]).to_numpy(dtype="float64", na_value=np.nan)
    rows = Rows(cols)
    return (rows if sel.all() else rows.take(sel)), pairs, prof_ids


def aqi_rows(aqi: pd.DataFrame) -> tuple[Rows, pd.MultiIndex, list]:
    """The daily AQI rows as arrays (``la``, ``day``, ``prof``, ``aqi``; NaN = not valid),
    the (level, area) pairs and the profile ids."""
    check_columns(aqi, ("level", "area", "date", "aqi"), "daily AQI")
    la, pairs = area_pairs(aqi)
    days = _days(aqi["date"])
    prof, prof_ids = profile_codes(aqi, days)
    value = pd.to_numeric(aqi["aqi"]).to_numpy(dtype="float64", na_value=np.nan)
    return Rows({"la": la, "day": days, "prof": prof, "aqi": value}), pairs, prof_ids


def one_value_profile(column: pd.Series):
    """``column``, or — an Arrow string column of one value throughout (the daily AQI of one
    profile) — a categorical of it, whose :func:`factorize_sorted` is the same as the
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


def profile_codes(frame: pd.DataFrame, days: np.ndarray) -> tuple[np.ndarray, list]:
    """(code per row, profile ids): the row's ``profile``, else the one in force that day."""
    if "profile" in frame.columns:
        codes, uniq = factorize_sorted(one_value_profile(frame["profile"]))
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


def dust_flags(dust_days, rows: Rows, pairs: pd.MultiIndex) -> np.ndarray:
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


def check_unique(group: np.ndarray, day: np.ndarray, what: str, name_of) -> None:
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


def check_unique_slots(group: np.ndarray, slot: np.ndarray, n_groups: int, day_of, days,
                       what: str, name_of) -> None:
    """:func:`check_unique` for rows whose day is also given as its slot in the group's
    period (``day_of(group, slot)`` is the date): one count per (group, slot), no sort.
    The first duplicate reported is the same: smallest group, then earliest day. When
    that table would be large, :func:`check_unique` on ``days()``."""
    if len(group) < 2:
        return
    lo, width = int(slot.min()), int(slot.max()) + 1
    if lo < 0 or n_groups * width > 4 * len(group) + (1 << 20):
        check_unique(group, days(), what, name_of)
        return
    cell = group.astype(np.int64) * width
    cell += slot
    dup = np.flatnonzero(np.bincount(cell, minlength=n_groups * width) > 1)
    if len(dup):
        g, k = divmod(int(dup[0]), width)
        raise ValueError(f"{what}: more than one valid row for {name_of(g)} on {day_of(g, k)}")


@dataclass(frozen=True)
class AreaPeriods:
    """The groups of the statistics: every (level, area) pair × period found in the inputs.

    ``la`` and ``period`` give each group's pair (into ``pairs``) and period (into
    ``per``), sorted by pair then period; ``grade`` its grade index (GRADE_INDEX)."""
    pairs: pd.MultiIndex
    la: np.ndarray
    period: np.ndarray
    grade: np.ndarray
    per: Periods

    @property
    def n(self) -> int:
        return len(self.la)


def area_period_groups(ap_keys: np.ndarray, n_per: int, pairs: pd.MultiIndex, per: Periods,
                       grades) -> AreaPeriods:
    """The groups of the sorted keys ``pair × n_per + period``, with their grades."""
    ap_la = ap_keys // n_per
    ap_p = ap_keys % n_per
    grade = grade_codes(grades, pairs)              # per (level, area)
    return AreaPeriods(pairs, ap_la, ap_p, grade[ap_la], per)


@dataclass(frozen=True)
class KeyedRows:
    """Input rows with their group (``ap``, into :class:`AreaPeriods`) and period (into
    ``Periods``), and the profile ids their ``prof`` codes point into."""
    rows: Rows
    profile_ids: list
    ap: np.ndarray
    period: np.ndarray
