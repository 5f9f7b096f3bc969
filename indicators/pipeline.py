"""The whole computation in order, and the export tables other tools rely on.

hourly → daily values (stations, districts, city) → daily AQI → period
statistics → composite index. Pure: frames in, frames out.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import aqi as aqi_module
from . import averaging, composite, statistics

# The CLI contract: which (pollutant, statistic) rows `stats annual` writes.
ANNUAL_ROWS = (
    [(p, "annual_mean") for p in ("SO2", "NO2", "PM10", "PM2.5")]
    + [(p, "p98_daily") for p in ("SO2", "NO2")]
    + [(p, "p95_daily") for p in ("PM10", "PM2.5", "CO")]
    + [("O3", "p90_mda8")]
    + [(p, "exceedance_days") for p in ("SO2", "NO2", "PM10", "PM2.5", "CO", "O3")]
    + [("AQI", s) for s in ("good_days", "heavy_days", "valid_aqi_days", "good_day_ratio")]
    + [("ALL", "composite_index")]
)
ANNUAL_COLUMNS = ["level", "area", "year", "pollutant", "statistic", "value", "reported",
                  "valid", "n_valid", "n_required"]
DAILY_EXPORT_COLUMNS = ["level", "area", "date", "pollutant", "value", "reported", "valid"]


def daily_and_aqi(hourly: pd.DataFrame, membership: pd.DataFrame | None = None,
                  profile: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Daily values of every station, district and city, and their daily AQI."""
    daily = averaging.daily_values(hourly, membership, profile=profile)
    return daily, aqi_module.daily_aqi(daily, profile=profile)


def grades_of(membership: pd.DataFrame | None, station_grades: dict | None = None) -> dict:
    """Area → grade, for districts, cities and (through their district) stations."""
    grades = dict(station_grades or {})
    if membership is not None and len(membership):
        grades.update(dict(zip(membership["area"], membership["grade"])))
    return grades


def period_table(daily: pd.DataFrame, daily_aqi: pd.DataFrame, *, period: str = "year",
                 grades: dict | None = None, profile: str | None = None,
                 ytd_end=None, dust_days=None) -> pd.DataFrame:
    """Period statistics plus the composite index, in the statistics frame layout."""
    stats = statistics.period_statistics(daily, daily_aqi, period=period, grades=grades,
                                         profile=profile, ytd_end=ytd_end, dust_days=dust_days)
    comp = composite.composite_index(stats, profile=profile)
    return pd.concat([stats, comp], ignore_index=True)


def annual_export(stats: pd.DataFrame, year: int) -> pd.DataFrame:
    """The ``lantian stats annual`` table: one row per contract statistic and area."""
    wanted = pd.DataFrame(ANNUAL_ROWS, columns=["pollutant", "statistic"])
    rows = stats[stats["period"].astype(str) == str(year)].merge(wanted, on=["pollutant", "statistic"])
    order = {key: i for i, key in enumerate(ANNUAL_ROWS)}
    rows = rows.assign(_order=[order[(p, s)] for p, s in zip(rows["pollutant"], rows["statistic"])])
    rows = rows.sort_values(["level", "area", "_order"], kind="stable")
    out = rows.assign(year=int(year))[ANNUAL_COLUMNS].reset_index(drop=True)
    out["valid"] = out["valid"].astype(bool)
    out["n_valid"] = out["n_valid"].astype("Int64")
    out["n_required"] = out["n_required"].astype("Int64")
    return out


def daily_export(daily: pd.DataFrame, daily_aqi: pd.DataFrame) -> pd.DataFrame:
    """The ``lantian stats daily`` table: daily values and the AQI, long."""
    values = daily[DAILY_EXPORT_COLUMNS]
    a = daily_aqi
    aqi_rows = pd.DataFrame({"level": a["level"], "area": a["area"], "date": a["date"],
                             "pollutant": "AQI", "value": a["aqi"], "reported": a["aqi"],
                             "valid": a["aqi"].notna().to_numpy()})
    out = pd.concat([values, aqi_rows], ignore_index=True)
    level_order = {"station": 0, "district": 1, "city": 2}
    out = out.assign(_l=out["level"].map(level_order)).sort_values(
        ["_l", "area", "date", "pollutant"], kind="stable").drop(columns="_l")
    out["date"] = pd.to_datetime(out["date"]).dt.strftime("%Y-%m-%d")
    return out.reset_index(drop=True)


def year_bounds(year: int) -> tuple[np.datetime64, np.datetime64]:
    return np.datetime64(f"{year}-01-01T00:00:00"), np.datetime64(f"{year}-12-31T23:00:00")
