"""Daily values and daily AQI from the daily rows ``store`` keeps (``station_daily``):
``indicators.pipeline.daily_and_aqi`` of the hourly values those rows summarise, the
same numbers (``tests/test_daily_store.py``), with the 24-h means' day sums read from the
rows and only O3 computed from its hours.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from config.standards import load_profile
from config.vocabulary import POLLUTANTS
from indicators import aqi as aqi_module
from indicators import averaging
from indicators.panel import HourlyPanel
from indicators.pipeline import split_profile, us_daily_aqi
from store.daily import HOURS, MEANS, StationDays


def daily_and_aqi(days: StationDays, membership: pd.DataFrame | None = None,
                  profile: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``indicators.pipeline.daily_and_aqi`` of the hourly values these rows summarise:
    the same daily values (stations, districts, city) and daily AQI."""
    chinese, comparison = split_profile(profile)
    arrays = _daily_arrays(days, membership, chinese)
    if comparison is not None and load_profile(comparison).kind == "us-aqi":
        daily = averaging.empty_daily() if arrays is None else arrays.frame()
        return daily, us_daily_aqi(daily, comparison)
    if arrays is None:
        daily = averaging.empty_daily()
        return daily, aqi_module.daily_aqi(daily, profile=chinese)
    return arrays.frame(), arrays.aqi(profile=chinese)


def _daily_arrays(days: StationDays, membership, profile):
    """``indicators.averaging.daily_arrays`` with the 24-h means' day sums read from the
    daily rows (only O3 is computed from its hours)."""
    n_st = len(days.stations)
    shape = (n_st, days.n_days * HOURS)
    # only O3 is read hour by hour; the other pollutants' hours are never looked at
    columns = [days.o3 if p == "O3" else np.broadcast_to(np.float64(np.nan), shape)
               for p in POLLUTANTS]
    panel = HourlyPanel(columns, days.stations, days.start)
    column_of = {p: c for c, p in MEANS}

    def day_totals(pollutant: str) -> averaging.DayTotals:
        col = column_of[pollutant]
        total, scale, exact = days.totals(col)
        return averaging.DayTotals(total, days.fields[f"{col}_n"], scale, exact)

    return averaging.daily_arrays(panel, membership, profile, day_totals=day_totals)
