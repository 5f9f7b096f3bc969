"""The limit each daily value is compared with (GB 3095 table 1; standards.md §2 and §6).

:func:`indicators.statistics.exceedances` lists the days *above* their limit;
a day-by-day view (a calendar, a district × day grid) also needs the limit of
the days that are *not* above it, to say "PM2.5 62 / limit 75". This module
gives that limit for every row of the daily frame, chosen by the same rules as
``exceedances``:

- SO2, NO2, PM10, PM2.5 and CO daily means → the 24-h limit; the O3 MDA8 →
  the MDA8 limit (standards.md §6, "24-h exceedance days"); the O3 daily 1-h
  maximum has no daily limit here (NaN);
- the limit of the area's grade (GB 3095 §4.1: Grade I for class-1 areas,
  Grade II otherwise; default II);
- the profile in force on each day (the daily frame's ``profile`` column, or
  the schedule when it is empty — standards.md §1), or one forced profile
  (a comparison profile such as ``who-2021`` brings its own limits, §8).

Pure: pandas/numpy in, numpy out.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from config.standards import GRADE_INDEX, Profile, load_profile, load_schedule
from config.vocabulary import DAILY_LIMIT_OF, LIMITED_QUANTITIES

from .frames import check_columns

__all__ = ["DAILY_LIMIT_OF", "daily_limits"]

_QUANTITIES = LIMITED_QUANTITIES
_GRADES = tuple(GRADE_INDEX)        # ("I", "II") in GRADE_INDEX order


def _profile(profile) -> Profile | None:
    if profile is None or isinstance(profile, Profile):
        return profile
    return load_profile(str(profile))


def _grade_index(daily: pd.DataFrame, grades) -> np.ndarray:
    """GRADE_INDEX of each row: ``grades[area]`` (a mapping area → "I"/"II"), default II."""
    n = len(daily)
    if grades is None or n == 0:
        return np.full(n, GRADE_INDEX["II"], dtype=np.int64)
    if not isinstance(grades, Mapping):
        raise TypeError("grades must be a mapping area → grade")
    codes, uniq = pd.factorize(daily["area"].astype(object), use_na_sentinel=True)
    per_area = np.array([GRADE_INDEX[str(grades.get(a, "II"))] for a in uniq], dtype=np.int64)
    return np.where(codes >= 0, per_area[np.maximum(codes, 0)], GRADE_INDEX["II"])


def daily_limits(daily: pd.DataFrame, grades=None, profile=None) -> np.ndarray:
    """The daily limit of each row of ``daily`` [µg/m³; CO mg/m³].

    Parameters
    ----------
    daily : DataFrame
        Daily values (``frames.DAILY_COLUMNS``; only ``area``, ``date``,
        ``pollutant`` and, when present, ``profile`` are read).
    grades : mapping, optional
        Area id → grade (``"I"`` | ``"II"``); areas not listed are Grade II.
    profile : str or Profile, optional
        Force one profile's limits; default each row's ``profile`` (or the
        profile in force that day when the column is absent or empty).

    Returns
    -------
    numpy.ndarray of float64, one per row: the 24-h limit (O3_MDA8: the MDA8
    limit); NaN for O3_1H_MAX and where the profile sets no such limit (e.g.
    ``us-epa-2024`` has no concentration limits, ``eu-2030`` none for CO).
    """
    check_columns(daily, ("area", "date", "pollutant"), "daily values")
    n = len(daily)
    if n == 0:
        return np.zeros(0, dtype="float64")
    q = pd.Index(_QUANTITIES).get_indexer(pd.Index(daily["pollutant"].astype(object)))
    grade = _grade_index(daily, grades)
    forced = _profile(profile)
    if forced is not None:
        pc, profiles = np.zeros(n, dtype=np.int64), [forced]
    else:
        ids = (daily["profile"].astype(object) if "profile" in daily.columns
               else pd.Series([None] * n, dtype=object, index=daily.index))
        missing = ids.isna() | (ids.astype(str) == "")
        if missing.any():
            days = pd.to_datetime(daily["date"]).to_numpy("datetime64[D]")
            ids = ids.where(~missing, pd.Series(load_schedule().in_force(days), index=ids.index))
        codes, uniq = pd.factorize(ids.astype(str))
        pc, profiles = codes.astype(np.int64), [load_profile(str(p)) for p in uniq]
    # lookup table: profile × grade × quantity (a few dozen limits, read from the profiles)
    lut = np.full((len(profiles), len(_GRADES), len(_QUANTITIES)), np.nan)
    for i, prof in enumerate(profiles):
        for grade_name, gi in GRADE_INDEX.items():
            for qi, quantity in enumerate(_QUANTITIES):
                value = prof.limit(*DAILY_LIMIT_OF[quantity], grade_name)
                if value is not None:
                    lut[i, gi, qi] = value
    out = np.full(n, np.nan)
    known = q >= 0
    out[known] = lut[pc[known], grade[known], q[known]]
    return out
