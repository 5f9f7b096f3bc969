"""The whole computation in order, and the export tables other tools rely on.

hourly → daily values (stations, districts, city) → daily AQI → period
statistics → composite index. Pure: frames in, frames out.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from config.standards import load_profile, load_schedule

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


def split_profile(profile: str | None) -> tuple[str | None, str | None]:
    """(Chinese profile to force, profile whose limits to apply) for a requested profile.

    Daily values, their validity and the composite index always follow a
    Chinese profile (the one in force by date unless a Chinese one is forced);
    a comparison profile (WHO, EU, US) only brings its limits — and, for the
    US, its own AQI (standards.md §8).
    """
    if profile is None:
        return None, None
    return (profile, profile) if load_profile(profile).kind == "cn" else (None, profile)


def daily_and_aqi(hourly: pd.DataFrame, membership: pd.DataFrame | None = None,
                  profile: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Daily values of every station, district and city, and their daily AQI."""
    chinese, comparison = split_profile(profile)
    if comparison is not None and load_profile(comparison).kind == "us-aqi":
        daily = averaging.daily_values(hourly, membership, profile=chinese)
        return daily, us_daily_aqi(daily, comparison)
    # daily_values and daily_aqi of it, the AQI read off the daily arrays (the same frame)
    arrays = averaging._daily_arrays(hourly, membership, chinese, None)
    if arrays is None:
        daily = averaging._empty_daily()
        return daily, aqi_module.daily_aqi(daily, profile=chinese)
    return arrays.frame(), arrays.aqi(profile=chinese)


# Daily quantities → US AQI inputs. The CO daily mean stands in for the 8-h CO
# value; SO2/NO2 daily 1-h maxima are not daily quantities here, so the US AQI
# is computed from PM2.5, PM10, O3 and CO only (said in the profile's page).
US_INPUTS = {"PM2.5": "PM2.5_24h", "PM10": "PM10_24h", "O3_MDA8": "O3_8h", "CO": "CO_8h"}


def us_daily_aqi(daily: pd.DataFrame, profile: str = "us-epa-2024") -> pd.DataFrame:
    """Daily US EPA AQI in the daily-AQI layout, from the valid unrounded daily values."""
    rows = daily[daily["valid"].astype(bool) & daily["pollutant"].isin(list(US_INPUTS))]
    wide = rows.pivot_table(index=["level", "area", "date"], columns="pollutant",
                            values="value", observed=True, aggfunc="first")
    wide = wide.rename(columns=US_INPUTS)
    result = aqi_module.us_epa_aqi(wide.reset_index(drop=True), profile)
    keys = wide.index.to_frame(index=False)
    out = pd.concat([keys, result.reset_index(drop=True)], axis=1)
    out.insert(3, "profile", profile)
    return out


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
    chinese, comparison = split_profile(profile)
    stats = statistics.period_statistics(daily, daily_aqi, period=period, grades=grades,
                                         profile=profile, ytd_end=ytd_end, dust_days=dust_days)
    inputs = stats
    if comparison is not None and chinese is None:
        # The composite index is a Chinese statistic: the profile in force at the period end.
        inputs = stats.assign(profile=load_schedule().in_force(stats["end"].to_numpy()))
    comp = composite.composite_index(inputs, profile=chinese)
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


def _moving_mean(values: np.ndarray, hours: int, min_valid: int) -> np.ndarray:
    """Trailing moving mean over ``hours`` along axis 1 (hours t−hours+1 … t), NaN below
    ``min_valid`` valid hours. Vectorised with cumulative sums."""
    valid = ~np.isnan(values)
    sums = np.cumsum(np.where(valid, values, 0.0), axis=1)
    counts = np.cumsum(valid, axis=1)
    sums[:, hours:] = sums[:, hours:] - sums[:, :-hours]
    counts[:, hours:] = counts[:, hours:] - counts[:, :-hours]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums / counts
    mean[counts < min_valid] = np.nan
    return mean


def hourly_aqi_table(hourly: pd.DataFrame, membership: pd.DataFrame | None = None,
                     profile: str | None = None) -> pd.DataFrame:
    """Real-time (hourly) AQI of every station, district and city (HJ 633, standards.md §5).

    Inputs are published (rounded) values: the 1-h values; the O3 8-h moving
    average; the PM 24-h moving averages (hours t−23 … t, needing the daily
    rule's ≥ 20 valid hours — the spec does not say, this is our default); and
    the SO2 24-h moving average for the 2012 fallback above 800 µg/m³. Area
    series are the area hourly means of section 7.
    """
    from .panel import panel_from_hourly
    from .rounding import round_half_even

    chinese, _ = split_profile(profile)
    panel = panel_from_hourly(hourly)
    station_values = {p: panel.pollutant(p) for p in ("SO2", "NO2", "PM10", "PM2.5", "CO", "O3")}
    times = panel.start.astype("datetime64[h]") + np.arange(panel.n_hours).astype("timedelta64[h]")
    keys = [pd.DataFrame({"level": "station", "area": np.repeat(np.asarray(panel.stations, dtype=object),
                                                                panel.n_hours),
                          "time": np.tile(times, len(panel.stations))})]
    series = {p: [v] for p, v in station_values.items()}
    if membership is not None and len(membership):
        areas = averaging.area_hourly(hourly, membership)
        n_areas = len(areas) // panel.n_hours
        keys.append(areas[["level", "area", "time"]].astype({"level": object, "area": object}))
        for p in series:
            series[p].append(areas[p].to_numpy(np.float64).reshape(n_areas, panel.n_hours))
    dense = {p: np.vstack(v) for p, v in series.items()}
    frame = pd.concat(keys, ignore_index=True)
    min_hours = load_profile(chinese or "cn-2012").validity["daily_min_hours"]

    def published(pollutant, values):
        decimals = load_profile(chinese or "cn-2012").decimals(pollutant)
        return round_half_even(values.reshape(-1), decimals)

    for p in ("SO2", "NO2", "CO", "O3", "PM10", "PM2.5"):
        frame[f"{p}_1h"] = published(p, dense[p])
    for p in ("PM10", "PM2.5", "SO2"):
        frame[f"{p}_24h"] = published(p, _moving_mean(dense[p], 24, min_hours))
    o3 = averaging.o3_8h(hourly, membership, profile=chinese)
    o3 = o3[o3["valid"].astype(bool)]
    o3_key = pd.MultiIndex.from_arrays([o3["level"].astype(object), o3["area"].astype(object),
                                        o3["time"].to_numpy("datetime64[s]")])
    frame_key = pd.MultiIndex.from_arrays([frame["level"], frame["area"],
                                           frame["time"].to_numpy("datetime64[s]")])
    position = o3_key.get_indexer(frame_key)
    o3_values = np.where(position >= 0, o3["value"].to_numpy(np.float64)[position], np.nan)
    frame["O3_8h"] = published("O3", o3_values)
    # The AQI module resolves each hour's profile (by date) unless one is forced.
    return aqi_module.hourly_aqi(frame, profile=chinese)
