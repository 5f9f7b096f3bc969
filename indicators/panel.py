"""A dense station × hour × pollutant array: the shape every averaging rule works on.

The hourly input frame (:data:`indicators.frames.HOURLY_COLUMNS`) is one row per
station-hour, in any order, with days partly covered. The averaging rules need
"the 24 hours of a natural day" and "the 8 hours of a window" side by side, so
the frame is scattered once, by integer indexing, into dense arrays filled with
NaN where there is no row::

    panel.pollutant("O3")[station, hour]  # float64, one contiguous array per pollutant
    panel.values[station, hour, pollutant]  # the same, stacked (built when asked for)

``hour`` counts from ``start`` (00:00 of the first day) and the arrays always
hold whole days, so ``panel.pollutant(p).reshape(n_stations, n_days, 24)`` is
the day view. A frame that already holds every station-hour once, sorted by
station code and time, is used as it is (its columns are the arrays: no copy).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .frames import HOURLY_COLUMNS, POLLUTANTS, check_columns

HOURS_PER_DAY = 24


class HourlyPanel:
    """Dense hourly values of a set of stations over whole natural days.

    Built from the (S, H, 6) array, or from the six (S, H) pollutant arrays (then
    each pollutant is contiguous and may be a zero-copy view of the input frame's
    columns; ``values`` is stacked only when asked for).

    Attributes
    ----------
    values : ndarray, shape (n_stations, n_hours, 6)
        float64 [µg/m³; CO mg/m³], pollutants in :data:`POLLUTANTS` order; NaN = no
        valid value. ``n_hours`` is a multiple of 24.
    stations : ndarray of str, shape (n_stations,)
        Station codes, sorted.
    start : numpy.datetime64[D]
        The first day; hour ``h`` of the panel starts at ``start + h hours`` (CST).
    """
    __slots__ = ("_values", "_columns", "stations", "start")

    def __init__(self, values, stations, start):
        if isinstance(values, (tuple, list)):
            columns = tuple(np.asarray(c, dtype=np.float64) for c in values)
            if len(columns) != len(POLLUTANTS) or any(c.ndim != 2 for c in columns) \
                    or len({c.shape for c in columns}) != 1:
                raise ValueError(f"panel needs {len(POLLUTANTS)} (stations, hours) arrays of "
                                 "one shape")
            shape = (*columns[0].shape, len(POLLUTANTS))
            object.__setattr__(self, "_values", None)
        else:
            values = np.asarray(values)
            if values.ndim != 3 or values.shape[2] != len(POLLUTANTS):
                raise ValueError(f"panel values must be (stations, hours, {len(POLLUTANTS)}), "
                                 f"got {values.shape}")
            shape = values.shape
            columns = tuple(values[:, :, j] for j in range(len(POLLUTANTS)))
            object.__setattr__(self, "_values", values)
        if shape[1] % HOURS_PER_DAY:
            raise ValueError(f"panel must hold whole days, got {shape[1]} hours")
        if len(stations) != shape[0]:
            raise ValueError("one station code per panel row is needed")
        object.__setattr__(self, "_columns", columns)
        object.__setattr__(self, "stations", stations)
        object.__setattr__(self, "start", start)

    def __setattr__(self, name, value):
        raise AttributeError("HourlyPanel is immutable")

    @property
    def values(self) -> np.ndarray:
        if self._values is None:
            object.__setattr__(self, "_values", np.stack(self._columns, axis=2))
        return self._values

    @property
    def n_stations(self) -> int:
        return self._columns[0].shape[0]

    @property
    def n_hours(self) -> int:
        return self._columns[0].shape[1]

    @property
    def n_days(self) -> int:
        return self.n_hours // HOURS_PER_DAY

    @property
    def dates(self) -> np.ndarray:
        """datetime64[D] of each day."""
        return np.datetime64(self.start, "D") + np.arange(self.n_days).astype("timedelta64[D]")

    @property
    def times(self) -> np.ndarray:
        """datetime64[h] start of each hour."""
        return (np.datetime64(self.start, "D").astype("datetime64[h]")
                + np.arange(self.n_hours).astype("timedelta64[h]"))

    def pollutant(self, name: str) -> np.ndarray:
        """The (n_stations, n_hours) array of one pollutant (a view; read-only use)."""
        return self._columns[POLLUTANTS.index(name)]


def _sorted_codes(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of the station column and the station codes, sorted as strings
    (so that the panel does not depend on the row order or a categorical's order)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return _sorted_category_codes(series)
    codes, uniques = pd.factorize(series, sort=False)
    if (codes < 0).any():
        raise ValueError("hourly frame has rows without a station code")
    names = np.asarray([str(u) for u in uniques], dtype=object)
    order = np.argsort(names, kind="stable")
    rank = np.empty(len(order), dtype=np.intp)
    rank[order] = np.arange(len(order))
    if len(set(names)) != len(names):
        raise ValueError("station codes collide when read as text")
    return rank[codes], names[order].astype(str)


_TICKS_PER_HOUR = {"h": 1, "m": 60, "s": 3600, "ms": 3_600_000, "us": 3_600_000_000,
                   "ns": 3_600_000_000_000}


def _hour_numbers(times: np.ndarray) -> np.ndarray:
    """Hours since 1970-01-01 00:00 of datetime64 values (int64); ValueError when one is
    not the start of an hour. One integer division, no datetime casts of the column."""
    unit, count = np.datetime_data(times.dtype)
    ticks_per_hour = _TICKS_PER_HOUR.get(unit)
    if ticks_per_hour is None or ticks_per_hour % count:
        hours = times.astype("datetime64[h]")
        if ticks_per_hour is not None:
            bad = hours != times
            if bad.any():
                raise ValueError(f"hourly times must be the start of an hour, got {times[bad][0]}")
        return hours.astype(np.int64)
    per = ticks_per_hour // count
    ticks = times.view(np.int64)
    if per == 1:
        return ticks.copy()
    hours, remainder = np.divmod(ticks, per)
    bad = remainder != 0
    if bad.any():
        raise ValueError(f"hourly times must be the start of an hour, got {times[bad][0]}")
    return hours


def _sorted_category_codes(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_sorted_codes` of a categorical column from its codes (no hashing): the
    categories that occur, sorted as strings."""
    codes = series.cat.codes.to_numpy()
    if len(codes) and codes.min() < 0:
        raise ValueError("hourly frame has rows without a station code")
    categories = series.cat.categories
    if len(codes) > 1 and bool((codes[1:] >= codes[:-1]).all()):    # grouped by station
        used = codes[np.concatenate([[0], np.flatnonzero(codes[1:] != codes[:-1]) + 1])]
        used = used.astype(np.intp)
    else:
        used = np.flatnonzero(np.bincount(codes, minlength=len(categories)))
    names = np.asarray([str(c) for c in categories[used]], dtype=object)
    if len(set(names)) != len(names):
        raise ValueError("station codes collide when read as text")
    order = np.argsort(names, kind="stable")
    rank = np.full(len(categories), -1, dtype=np.intp)
    rank[used[order]] = np.arange(len(used))
    if len(used) == len(categories) and (rank == np.arange(len(categories))).all():
        return codes, names[order].astype(str)          # already the sorted numbering
    return rank[codes], names[order].astype(str)


def _complete_panel(frame: pd.DataFrame, times: np.ndarray, station_idx: np.ndarray,
                    stations: np.ndarray) -> HourlyPanel | None:
    """The panel without any scatter when the rows are every station-hour of whole days
    exactly once, sorted by station code then time (checked row by row against that
    layout: two comparisons instead of hour numbers, offsets and a duplicate count);
    else None."""
    n, n_st = len(frame), len(stations)
    if n == 0 or n_st == 0 or n % n_st or (n // n_st) % HOURS_PER_DAY:
        return None
    unit, count = np.datetime_data(times.dtype)
    per = _TICKS_PER_HOUR.get(unit)
    if per is None or per % count:
        return None
    per //= count
    n_hours = n // n_st
    ticks = times.view(np.int64)
    t0 = int(ticks[0])
    if t0 % (per * HOURS_PER_DAY):                   # the first hour must be 00:00
        return None
    if t0 == np.iinfo(np.int64).min or t0 + n_hours * per >= np.iinfo(np.int64).max:
        return None                                  # NaT, or hours beyond datetime64
    expected = t0 + np.arange(n_hours, dtype=np.int64) * per
    if not (ticks.reshape(n_st, n_hours) == expected).all():
        return None
    if not (station_idx.reshape(n_st, n_hours) == np.arange(n_st)[:, None]).all():
        return None
    first = np.datetime64(t0 // (per * HOURS_PER_DAY), "D")
    columns = [frame[p].to_numpy(dtype=np.float64, na_value=np.nan).reshape(n_st, n_hours)
               for p in POLLUTANTS]
    return HourlyPanel(columns, stations, first)


def panel_from_hourly(frame: pd.DataFrame, start=None, end=None) -> HourlyPanel:
    """Scatter the hourly input frame into a dense :class:`HourlyPanel`.

    Parameters
    ----------
    frame : DataFrame with :data:`HOURLY_COLUMNS`
        One row per station-hour, ``time`` the start of the hour (naive CST), rows
        in any order. Missing station-hours are NaN in the panel.
    start, end : date-like, optional
        First and last day (inclusive) of the panel; default the days of the data.
        Rows outside are dropped.

    Raises
    ------
    ValueError
        when a time is missing or not on the hour, or a station-hour appears twice.

    Notes
    -----
    Each pollutant becomes one contiguous (stations, hours) array. When the rows
    already are every station-hour once, sorted by station code then time (as a
    national export or the synthetic network is), the pollutant columns are used
    as they are, without a copy; otherwise they are scattered by integer index.
    """
    check_columns(frame, HOURLY_COLUMNS, "hourly")
    times = frame["time"].to_numpy()
    if not np.issubdtype(times.dtype, np.datetime64):
        times = pd.to_datetime(frame["time"]).to_numpy()
    try:
        station_idx, stations = _sorted_codes(frame["station"])
        station_error = None
    except ValueError as exc:             # raised below, after the checks of the times
        station_error = exc
    if station_error is None and start is None and end is None:
        panel = _complete_panel(frame, times, station_idx, stations)
        if panel is not None:             # (every time checked: none is NaT)
            return panel
    if np.isnat(times).any():
        raise ValueError("hourly frame has rows without a time")
    hour_int = _hour_numbers(times)              # hours since 1970-01-01 00:00
    first, last = _day_range(hour_int, start, end)
    if first is None or last is None:       # nothing at all: an empty panel
        return HourlyPanel(np.empty((0, 0, len(POLLUTANTS))), np.array([], dtype=str),
                           np.datetime64(first if first is not None else "1970-01-01", "D"))
    n_days = max(int((last - first).astype(int)) + 1, 0)
    n_hours = n_days * HOURS_PER_DAY

    offset = hour_int
    offset -= first.astype("datetime64[h]").astype(np.int64)
    if station_error is not None:
        raise station_error
    n_stations = len(stations)
    inside = None
    if start is not None or end is not None:
        inside = (offset >= 0) & (offset < n_hours)
        if inside.all():
            inside = None
        else:
            offset, station_idx = offset[inside], station_idx[inside]
    flat = station_idx.astype(np.int64) * n_hours
    flat += offset
    del offset, hour_int, station_idx
    complete = _each_cell_once(flat, (n_stations, n_hours), stations, first)
    columns = [_scatter(frame[pollutant], inside, flat, complete, (n_stations, n_hours))
               for pollutant in POLLUTANTS]
    return HourlyPanel(columns, stations, first)


def _day_range(hour_int: np.ndarray, start, end):
    """(first day, last day) of the panel: ``start``/``end`` if given, else of the data
    (None when there are no rows)."""
    if len(hour_int):
        first = np.datetime64(int(hour_int.min()) // HOURS_PER_DAY, "D")
        last = np.datetime64(int(hour_int.max()) // HOURS_PER_DAY, "D")
    else:
        first = last = None
    first = np.datetime64(start, "D") if start is not None else first
    last = np.datetime64(end, "D") if end is not None else last
    return first, last


def _each_cell_once(flat: np.ndarray, shape: tuple[int, int], stations: np.ndarray,
                    first) -> bool:
    """Whether the rows are every (station, hour) cell once, in order; a cell that appears
    twice is an error."""
    n_hours = shape[1]
    n_cells = shape[0] * n_hours
    ordered = len(flat) < 2 or bool(np.greater(flat[1:], flat[:-1]).all())
    if not ordered:
        counts = np.bincount(flat, minlength=n_cells)
        if len(counts) and counts.max(initial=0) > 1:
            k = int(np.argmax(counts))
            raise ValueError(f"hourly frame has station {stations[k // n_hours]} at "
                             f"{first.astype('datetime64[h]') + (k % n_hours)} more than once")
        del counts
    return ordered and len(flat) == n_cells


def _scatter(column: pd.Series, inside, flat: np.ndarray, complete: bool,
             shape: tuple[int, int]) -> np.ndarray:
    """One pollutant's (stations, hours) array: the column itself when the rows are every
    cell once in order, else scattered into NaN by the cell index ``flat``."""
    data = column.to_numpy(dtype=np.float64, na_value=np.nan)
    if inside is not None:
        data = data[inside]
    if complete:
        return data.reshape(shape)
    out = np.full(shape[0] * shape[1], np.nan)
    out[flat] = data
    return out.reshape(shape)
