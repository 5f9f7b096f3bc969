"""SYNTHETIC national network for the indicators benchmark (labelled as such; not data).

1,700 stations × one year of hourly values for six pollutants (~89 million
readings) with seasonal and diurnal cycles, ~3 % missing hours, 34 "districts"
of 50 stations and one "city". Deterministic (seeded).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

POLLUTANTS = ("SO2", "NO2", "PM10", "PM2.5", "CO", "O3")
LEVELS = {"SO2": 15, "NO2": 30, "PM10": 70, "PM2.5": 40, "CO": 0.9, "O3": 60}


def synthetic_network(n_stations: int = 1700, year: int = 2025, seed: int = 7):
    rng = np.random.default_rng(seed)
    times = pd.date_range(f"{year}-01-01", f"{year}-12-31 23:00", freq="h").to_numpy("datetime64[s]")
    n = len(times)
    hour = np.arange(n) % 24
    day = np.arange(n) // 24
    season = np.cos(2 * np.pi * (day - 15) / 365.0)  # +1 mid-January
    codes = np.array([f"SYN{i:04d}" for i in range(n_stations)], dtype=object)
    columns = {}
    for p in POLLUTANTS:
        base = LEVELS[p] * rng.lognormal(0, 0.25, size=(n_stations, 1))
        if p == "O3":
            cycle = (1 - 0.5 * season) * (1 + 0.6 * np.sin(2 * np.pi * (hour - 9) / 24))
        else:
            cycle = (1 + 0.4 * season) * (1 + 0.15 * np.cos(2 * np.pi * (hour - 20) / 24))
        noise = rng.lognormal(0, 0.35, size=(n_stations, n)).astype(np.float32)
        values = (base * cycle * noise).astype(np.float64)
        values = np.round(values, 1 if p == "CO" else 0)
        values[rng.random((n_stations, n)) < 0.03] = np.nan
        columns[p] = values.reshape(-1)
    station = pd.Categorical.from_codes(np.repeat(np.arange(n_stations, dtype=np.int32), n),
                                        categories=list(codes))
    frame = pd.DataFrame({"station": station, "time": np.tile(times, n_stations), **columns})
    district = np.array([f"d{i // 50:02d}" for i in range(n_stations)], dtype=object)
    membership = pd.concat([
        pd.DataFrame({"level": "district", "area": district, "station": codes, "grade": "II"}),
        pd.DataFrame({"level": "city", "area": "nation", "station": codes, "grade": "II"}),
    ], ignore_index=True)
    return frame, membership


def pandas_baseline(hourly: pd.DataFrame, year: int) -> pd.DataFrame:
    """A straightforward pandas implementation: per station groupby + resample + rolling.

    Station daily means (≥ 20 h), O3 MDA8 over in-day windows (≥ 6 of 8, ≥ 14 of
    17) and annual means / percentiles of the daily values. No rounding rules,
    no areas, no AQI: it does less than Lantian's engine, so it flatters itself.
    """
    out = []
    indexed = hourly.set_index("time")
    for code, station in indexed.groupby("station", sort=False, observed=True):
        station = station.drop(columns="station")
        counts = station.resample("D").count()
        daily = station.resample("D").mean().where(counts >= 20)
        o3_8h = station["O3"].rolling(8, min_periods=6).mean()   # window ending at t
        in_day = o3_8h[o3_8h.index.hour >= 7]                      # 00–08 … 16–24
        mda8 = in_day.resample("D").agg(["max", "count"])
        daily["O3_MDA8"] = mda8["max"].where(mda8["count"] >= 14)
        row = {"station": code}
        for p in ("SO2", "NO2", "PM10", "PM2.5"):
            row[f"{p}_mean"] = daily[p].mean()
        row["CO_p95"] = daily["CO"].quantile(0.95)
        row["O3_p90"] = daily["O3_MDA8"].quantile(0.90)
        out.append(row)
    return pd.DataFrame(out)
