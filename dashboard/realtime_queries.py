"""The real-time (hourly AQI) evaluations of the dashboard (:mod:`evaluation.realtime`),
cached under the request's data version (:func:`dashboard.queries.snapshot`)."""
from __future__ import annotations

import pandas as pd

from evaluation import realtime
from evaluation.realtime import (LOOKBACK_HOURS, POLLUTANTS, STRIP_HOURS,  # noqa: F401
                                 CityNow, HourlyExceedances)

from .queries import snapshot


def _hour(until):
    return None if until is None else pd.Timestamp(until)


def city_now(engine, city: str, until=None) -> CityNow:
    """:class:`CityNow` of ``city`` at its newest hour up to ``until`` (default the newest)."""
    return realtime.city_now(snapshot(engine), city, _hour(until))


def station_hourly_aqi(engine, code: str, start, end) -> pd.DataFrame:
    """One station's hourly AQI from day ``start`` to day ``end`` beside the published one
    (:func:`evaluation.realtime.station_hourly_aqi`)."""
    return realtime.station_hourly_aqi(snapshot(engine), code, str(pd.Timestamp(start).date()),
                                       str(pd.Timestamp(end).date()))


def hourly_exceedance_list(engine, city: str, until=None) -> HourlyExceedances:
    """The day's 1-h limit exceedances and hourly AQI > 100 of the city's newest hour up to
    ``until`` (:func:`evaluation.realtime.hourly_exceedance_list`)."""
    return realtime.hourly_exceedance_list(snapshot(engine), city, _hour(until))
