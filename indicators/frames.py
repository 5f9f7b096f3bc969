"""The frames that flow between the indicator modules (the contract between them).

Hourly input (``HOURLY_COLUMNS``)
    One row per station-hour: ``station`` (code), ``time`` (start of the hour,
    naive China Standard Time) and one float column per pollutant in
    ``POLLUTANTS`` (µg/m³; CO mg/m³). NaN = no valid value (missing, or excluded
    by QC before it reaches indicators).

Membership (``MEMBERSHIP_COLUMNS``)
    Which stations make an area: ``level`` (district | city), ``area`` (id from
    the site file), ``station`` (code), ``grade`` (I | II) of the area. Only
    evaluation stations are listed (background/excluded stations never are).

Daily values (``DAILY_COLUMNS``), long: one row per level, area, date, quantity
    ``level``      station | district | city
    ``area``       station code, district id or city id
    ``date``       datetime64[D] natural day (00:00–24:00 CST)
    ``pollutant``  one of ``DAILY_QUANTITIES``
    ``value``      unrounded value (NaN when nothing to average)
    ``reported``   the published value: GB/T 8170 half-even to the profile's
                   decimals (integers; CO 0.1 mg/m³); NaN when ``value`` is NaN
    ``valid``      the validity rule holds (standards.md §3)
    ``n_valid``    valid hours (24-h means, 1-h max) or valid 8-h windows (MDA8)
    ``n_required`` what the rule needs (20 hours, 14 windows …)
    ``profile``    id of the profile in force that day (or forced)

Daily AQI (``AQI_COLUMNS``): one row per level, area, date — see indicators.aqi.

Period statistics (``STAT_COLUMNS``), long: one row per level, area, period, pollutant, statistic
    ``period``     label: ``2015``, ``2015-03``, ``2015-Q1``, ``2015-YTD-11-22``
    ``start``/``end``  first and last day of the period (datetime64[D])
    ``pollutant``  SO2, NO2, PM10, PM2.5, CO, O3, AQI or ALL
    ``statistic``  annual_mean (for any period: the period mean), p98_daily,
                   p95_daily, p90_mda8, exceedance_days, max_multiple,
                   good_days, heavy_days, valid_aqi_days, good_day_ratio,
                   composite_index, single_index, compliance …
    ``value`` unrounded, ``reported`` as published, ``valid`` bool,
    ``n_valid`` valid days used, ``n_required`` the rule's count,
    ``rule``  which rule decided validity (e.g. ``year: >=324 days and every month``),
    ``detail`` why not valid, human-readable (e.g. ``2015-03: 25 valid days, needs 27``),
    ``profile`` id of the profile whose limits/rules were applied.
"""
from __future__ import annotations

from config.vocabulary import DAILY_QUANTITIES, POLLUTANTS

__all__ = ["POLLUTANTS", "DAILY_QUANTITIES", "LEVELS", "HOURLY_COLUMNS", "MEMBERSHIP_COLUMNS",
           "DAILY_COLUMNS", "STAT_COLUMNS", "check_columns"]

LEVELS = ("station", "district", "city")

HOURLY_COLUMNS = ("station", "time", *POLLUTANTS)
MEMBERSHIP_COLUMNS = ("level", "area", "station", "grade")
DAILY_COLUMNS = ("level", "area", "date", "pollutant", "value", "reported", "valid",
                 "n_valid", "n_required", "profile")
STAT_COLUMNS = ("level", "area", "period", "start", "end", "pollutant", "statistic", "value",
                "reported", "valid", "n_valid", "n_required", "rule", "detail", "profile")


def check_columns(frame, columns, what: str) -> None:
    """Raise ValueError naming the missing columns (a programming error, not a user's)."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} frame lacks columns {missing}; has {list(frame.columns)}")
