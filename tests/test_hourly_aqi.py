"""Real-time (hourly) AQI assembled from hourly data (standards.md §5)."""
import numpy as np
import pandas as pd

from indicators.pipeline import daily_and_aqi, hourly_aqi_table


def hourly(station="S1", start="2024-01-01", hours=48, **values):
    times = pd.date_range(start, periods=hours, freq="h")
    frame = pd.DataFrame({"station": station, "time": times})
    for p in ("SO2", "NO2", "PM10", "PM2.5", "CO", "O3"):
        frame[p] = values.get(p.replace(".", ""), np.nan)
    return frame


def test_2012_uses_pm_24h_moving_averages_and_needs_20_hours():
    frame = hourly(SO2=10, NO2=40, PM10=50, PM25=100, CO=1.0, O3=50)
    out = hourly_aqi_table(frame).set_index("time")
    # PM2.5 24-h mean 100 → IAQI 100 + 50·(100−75)/40 = 131.25 → 132 (ceil), from the 20th hour on
    assert pd.isna(out.loc["2024-01-01 18:00", "iaqi_PM2.5_24h"])      # 19 hours so far
    assert out.loc["2024-01-01 19:00", "iaqi_PM2.5_24h"] == 132          # 20 hours
    assert out.loc["2024-01-02 12:00", "aqi"] == 132
    assert out.loc["2024-01-02 12:00", "primary"] == "PM2.5_24h"


def test_2026_uses_pm_1h_on_the_24h_table():
    frame = hourly(start="2026-06-01", SO2=10, NO2=40, PM10=50, PM25=60.5, CO=1.0, O3=50)
    out = hourly_aqi_table(frame).set_index("time")
    row = out.loc["2026-06-01 00:00"]
    assert row["profile"] == "cn-2026-transition"
    assert row["iaqi_PM2.5_1h"] == 100          # 60.5 → 60 (half-even) → IAQI 100 under 2026
    assert row["aqi"] == 100 and row["category_zh"] == "良"


def test_beijing_city_hourly_aqi_ends_the_day_at_the_daily_aqi(shared_data):
    from ingest.prsa import files_in, read_prsa
    from config.sites import load_site_config
    from tests.conftest import BEIJING_SITES
    frames = []
    for path in files_in(shared_data / "beijing-multisite"):
        long = read_prsa(path)
        long = long[long["time"].between("2015-12-24", "2015-12-25 23:00")]
        wide = long.pivot_table(index=["station", "time"], columns="pollutant", values="value",
                                observed=True).reset_index()
        frames.append(wide)
    hourly_frame = pd.concat(frames, ignore_index=True)
    site = load_site_config(BEIJING_SITES)
    members = pd.DataFrame([("city", "beijing", s.code, "II") for s in site.stations
                            if s.is_evaluation], columns=["level", "area", "station", "grade"])
    out = hourly_aqi_table(hourly_frame, members)
    city = out[(out["level"] == "city")].set_index("time")
    daily, daily_aqi = daily_and_aqi(hourly_frame, members)
    day = daily_aqi[(daily_aqi["level"] == "city")].set_index("date")
    assert city.loc["2015-12-25 23:00", "aqi"] == day.loc["2015-12-25", "aqi"] == 486
    assert city.loc["2015-12-25 23:00", "primary"] == "PM2.5_24h"
    assert city.loc["2015-12-25 07:00", "category_zh"] == "严重污染"
