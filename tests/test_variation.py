"""Diurnal, weekday and monthly profiles and monthly data capture (indicators.variation)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from indicators.variation import CAPTURE_COLUMNS, VARIATION_COLUMNS, capture_by_month, time_variation


def _hourly(times, **values):
    return pd.DataFrame({"station": "S1", "time": pd.to_datetime(times), **values})


def _row(frame, by, key, pollutant="NO2", station="S1"):
    sel = frame[(frame["by"] == by) & (frame["key"] == key) & (frame["pollutant"] == pollutant)
                & (frame["station"] == station)]
    assert len(sel) == 1
    return sel.iloc[0]


def test_hand_checked_profiles():
    # Monday 2024-01-01 00:00 and 01:00, Tuesday 2024-01-02 00:00, Sunday 2024-02-04 00:00
    hourly = _hourly(["2024-01-01 00:00", "2024-01-01 01:00", "2024-01-02 00:00",
                      "2024-02-04 00:00"], NO2=[10.0, 20.0, 40.0, np.nan], CO=[1.0, 2.0, 3.0, 4.0])
    out = time_variation(hourly)
    assert list(out.columns) == list(VARIATION_COLUMNS)
    assert set(out["pollutant"]) == {"NO2", "CO"}
    # hour 0: 10 and 40 (the NaN at Sunday 00:00 does not count)
    r = _row(out, "hour", 0)
    assert (r["mean"], r["n"]) == (25.0, 2)
    assert (_row(out, "hour", 1)["mean"], _row(out, "hour", 1)["n"]) == (20.0, 1)
    assert _row(out, "hour", 5)["n"] == 0 and np.isnan(_row(out, "hour", 5)["mean"])
    # weekday 0 = Monday: 10, 20; 1 = Tuesday: 40; 6 = Sunday: no valid NO2, but a CO value
    assert (_row(out, "weekday", 0)["mean"], _row(out, "weekday", 0)["n"]) == (15.0, 2)
    assert _row(out, "weekday", 1)["mean"] == 40.0
    assert _row(out, "weekday", 6)["n"] == 0
    assert _row(out, "weekday", 6, "CO")["mean"] == 4.0
    # months 1–12: January 70/3, February none
    jan = _row(out, "month", 1)
    assert jan["n"] == 3 and jan["mean"] == 70 / 3
    assert _row(out, "month", 2)["n"] == 0
    assert len(out[(out["by"] == "month") & (out["pollutant"] == "NO2")]) == 12
    assert len(out[(out["by"] == "hour") & (out["pollutant"] == "NO2")]) == 24


def test_profiles_per_station_match_a_pandas_groupby():
    rng = np.random.default_rng(3)
    times = pd.date_range("2023-12-25", periods=24 * 60, freq="h")
    frames = []
    for code in ("A", "B"):
        x = rng.uniform(0, 100, len(times))
        x[rng.uniform(size=len(times)) < 0.1] = np.nan
        frames.append(pd.DataFrame({"station": code, "time": times, "PM2.5": x}))
    hourly = pd.concat(frames, ignore_index=True)
    out = time_variation(hourly, pollutants=["PM2.5"])
    for code, part in hourly.groupby("station"):
        expected = part.groupby(part["time"].dt.hour)["PM2.5"].agg(["mean", "count"])
        got = out[(out["station"] == code) & (out["by"] == "hour")].set_index("key")
        np.testing.assert_allclose(got["mean"].to_numpy(), expected["mean"].to_numpy())
        assert got["n"].tolist() == expected["count"].tolist()
        wd = part.groupby(part["time"].dt.day_of_week)["PM2.5"].mean()
        np.testing.assert_allclose(
            out[(out["station"] == code) & (out["by"] == "weekday")]["mean"].to_numpy(), wd.to_numpy())


def test_capture_by_month_counts_hours_inside_the_period():
    # period 2024-01-30 … 2024-02-02: 48 hours of January and 48 of February
    times = pd.date_range("2024-01-29 00:00", "2024-02-02 23:00", freq="h")
    no2 = np.ones(len(times))
    no2[(times >= "2024-02-01 00:00") & (times < "2024-02-01 12:00")] = np.nan   # 12 h missing
    hourly = _hourly(times, NO2=no2)
    out = capture_by_month(hourly, "2024-01-30", "2024-02-02")
    assert list(out.columns) == list(CAPTURE_COLUMNS)
    jan, feb = out.iloc[0], out.iloc[1]
    assert (jan["month"], jan["n_valid"], jan["n_hours"], jan["capture"]) == ("2024-01", 48, 48, 100.0)
    # 36 of 48 hours = 75.0 %
    assert (feb["month"], feb["n_valid"], feb["n_hours"], feb["capture"]) == ("2024-02", 36, 48, 75.0)


def test_capture_rounds_half_even_and_covers_months_without_rows():
    # 1 of 8 hours is 12.5 % → reported 12.5; 2/3 of 24 → 66.666… → 66.7
    hourly = _hourly(["2024-03-01 00:00"], SO2=[5.0])
    out = capture_by_month(hourly, "2024-03-01", "2024-04-30")
    assert out["month"].tolist() == ["2024-03", "2024-04"]
    assert out["n_hours"].tolist() == [31 * 24, 30 * 24]
    assert out["n_valid"].tolist() == [1, 0]
    assert out["capture"].tolist() == [0.1, 0.0]          # 1/744 = 0.134 % → 0.1
    h = _hourly(pd.date_range("2024-05-01", periods=16, freq="h"), SO2=np.ones(16))
    assert capture_by_month(h, "2024-05-01", "2024-05-01")["capture"].tolist() == [66.7]


def test_empty_inputs():
    empty = pd.DataFrame({"station": [], "time": pd.to_datetime([]), "NO2": []})
    assert time_variation(empty).empty
    assert capture_by_month(empty, "2024-01-01", "2024-01-31").empty
