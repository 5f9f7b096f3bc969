"""A dense station × hour × pollutant array: the shape every averaging rule works on.

The hourly input frame (:data:`indicators.frames.HOURLY_COLUMNS`) is one row per
station-hour, in any order, with days partly covered. The averaging rules need
"the 24 hours of a natural day" and "the 8 hours of a window" side by side, so
the frame is scattered once, by integer indexing, into a dense array filled with
NaN where there is no row::

    values[station, hour, pollutant]      # float64, POLLUTANTS order

``hour`` counts from ``start`` (00:00 of the first day) and the array always
holds whole days, so ``values.reshape(n_stations, n_days, 24, 6)`` is the
day view.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .frames import HOURLY_COLUMNS, POLLUTANTS, check_columns

HOURS_PER_DAY = 24


@dataclass(frozen=True, eq=False)
class HourlyPanel:
    """Dense hourly values of a set of stations over whole natural days.

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
    values: np.ndarray
    stations: np.ndarray
    start: np.datetime64

    def __post_init__(self):
        if self.values.ndim != 3 or self.values.shape[2] != len(POLLUTANTS):
            raise ValueError(f"panel values must be (stations, hours, {len(POLLUTANTS)}), "
                             f"got {self.values.shape}")
        if self.values.shape[1] % HOURS_PER_DAY:
            raise ValueError(f"panel must hold whole days, got {self.values.shape[1]} hours")
        if len(self.stations) != self.values.shape[0]:
            raise ValueError("one station code per panel row is needed")

    @property
    def n_stations(self) -> int:
        return self.values.shape[0]

    @property
    def n_hours(self) -> int:
        return self.values.shape[1]

    @property
    def n_days(self) -> int:
        return self.values.shape[1] // HOURS_PER_DAY

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
        """The (n_stations, n_hours) slice of one pollutant (a view)."""
        return self.values[:, :, POLLUTANTS.index(name)]


def _sorted_codes(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of the station column and the station codes, sorted as strings
    (so that the panel does not depend on the row order or a categorical's order)."""
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
    """
    check_columns(frame, HOURLY_COLUMNS, "hourly")
    times = frame["time"].to_numpy()
    if not np.issubdtype(times.dtype, np.datetime64):
        times = pd.to_datetime(frame["time"]).to_numpy()
    if np.isnat(times).any():
        raise ValueError("hourly frame has rows without a time")
    hours = times.astype("datetime64[h]")
    if (hours != times).any():
        bad = times[hours != times][0]
        raise ValueError(f"hourly times must be the start of an hour, got {bad}")
    hour_int = hours.astype(np.int64)            # hours since 1970-01-01 00:00

    if len(frame):
        first = np.datetime64(int(hour_int.min()) // HOURS_PER_DAY, "D")
        last = np.datetime64(int(hour_int.max()) // HOURS_PER_DAY, "D")
    else:
        first = last = None
    first = np.datetime64(start, "D") if start is not None else first
    last = np.datetime64(end, "D") if end is not None else last
    if first is None or last is None:       # nothing at all: an empty panel
        return HourlyPanel(np.empty((0, 0, len(POLLUTANTS))), np.array([], dtype=str),
                           np.datetime64(first if first is not None else "1970-01-01", "D"))
    n_days = max(int((last - first).astype(int)) + 1, 0)
    n_hours = n_days * HOURS_PER_DAY

    offset = hour_int - first.astype("datetime64[h]").astype(np.int64)
    station_idx, stations = _sorted_codes(frame["station"])
    inside = (offset >= 0) & (offset < n_hours)
    if not inside.all():
        offset, station_idx = offset[inside], station_idx[inside]
    n_stations = len(stations)

    flat = station_idx.astype(np.int64) * n_hours + offset
    counts = np.bincount(flat, minlength=n_stations * n_hours)
    if len(counts) and counts.max(initial=0) > 1:
        k = int(np.argmax(counts))
        raise ValueError(f"hourly frame has station {stations[k // n_hours]} at "
                         f"{first.astype('datetime64[h]') + (k % n_hours)} more than once")
    del counts

    data = frame[list(POLLUTANTS)].to_numpy(dtype=np.float64, na_value=np.nan)
    if not inside.all():
        data = data[inside]
    values = np.full((n_stations, n_hours, len(POLLUTANTS)), np.nan)
    values.reshape(-1, len(POLLUTANTS))[flat] = data
    return HourlyPanel(values, stations, first)
