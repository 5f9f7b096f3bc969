"""The year-to-date running mean and the limit of each day (indicators.progress)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from indicators.progress import RUNNING_COLUMNS, limits_by_day, running_mean
from indicators.statistics import period_statistics


def _daily(values, valid=None, pollutant="NO2", area="a", start="2025-01-01", unrounded=None):
    n = len(values)
    days = pd.date_range(start, periods=n, freq="D")
    reported = np.asarray(values, dtype="float64")
    return pd.DataFrame({
        "level": "district", "area": area, "date": days, "pollutant": pollutant,
        "value": reported if unrounded is None else np.asarray(unrounded, dtype="float64"),
        "reported": reported, "valid": np.ones(n, bool) if valid is None else np.asarray(valid),
        "n_valid": 24, "n_required": 20, "profile": "cn-2012"})


def test_hand_worked_running_mean_skips_invalid_days_and_rounds_half_even():
    # 10, 11 → 10.5 → 10 (tie to even); 99 not valid (carried over); 12 → 33/3 = 11
    out = running_mean(_daily([10, 11, 99, 12], valid=[True, True, False, True]))
    assert list(out.columns) == list(RUNNING_COLUMNS)
    assert out["n_valid"].tolist() == [1, 2, 2, 3]
    assert out["value"].tolist() == [10.0, 10.5, 10.5, 11.0]
    assert out["reported"].tolist() == [10.0, 10.0, 10.0, 11.0]
    # 11, 12 → 11.5 → 12 (tie to the even 12)
    assert running_mean(_daily([11, 12]))["reported"].tolist() == [11.0, 12.0]


def test_no_valid_day_yet_gives_nan_not_zero():
    out = running_mean(_daily([np.nan, 40, 41], valid=[False, True, True]))
    assert np.isnan(out["reported"].iloc[0]) and np.isnan(out["value"].iloc[0])
    assert out["n_valid"].tolist() == [0, 1, 2]
    assert out["reported"].iloc[2] == 40.0            # 40.5 → 40


def test_co_keeps_one_decimal_exactly():
    # CO 1.2, 1.3 → 1.25 → 1.2 (half even on the decimal, never the binary float)
    out = running_mean(_daily([1.2, 1.3, 1.4], pollutant="CO"))
    assert out["reported"].tolist() == [1.2, 1.2, 1.3]


def test_groups_are_independent_and_sorted_by_date():
    a = _daily([30, 50], area="a")
    b = _daily([70, 80, 90], area="b")
    shuffled = pd.concat([b, a], ignore_index=True).iloc[[4, 0, 3, 2, 1]]
    out = running_mean(shuffled)
    assert out["area"].tolist() == ["a", "a", "b", "b", "b"]
    assert out["reported"].tolist() == [30.0, 40.0, 70.0, 75.0, 80.0]


def test_last_point_is_the_period_mean_of_the_statistics():
    rng = np.random.default_rng(7)
    values = np.round(rng.uniform(5, 120, 365))
    valid = rng.uniform(size=365) > 0.05
    daily = _daily(values, valid=valid)
    stats = period_statistics(daily, period="year")
    mean = stats[(stats["statistic"] == "annual_mean") & (stats["pollutant"] == "NO2")].iloc[0]
    last = running_mean(daily).iloc[-1]
    assert last["reported"] == mean["reported"]
    assert last["value"] == pytest.approx(mean["value"])
    assert last["n_valid"] == mean["n_valid"] == valid.sum()


def test_profile_switch_and_forced_profile():
    # 2026-02-28 is under cn-2012, 2026-03-01 under the 2026 transition profile
    out = running_mean(_daily([10, 20], start="2026-02-28"))
    assert out["profile"].tolist() == ["cn-2012", "cn-2026-transition"]
    forced = running_mean(_daily([10, 20], start="2026-02-28"), profile="cn-2012")
    assert forced["profile"].tolist() == ["cn-2012", "cn-2012"]
    # a comparison profile brings no rounding rules: the Chinese one in force applies
    who = running_mean(_daily([10, 20], start="2026-02-28"), profile="who-2021")
    assert who["profile"].tolist() == ["cn-2012", "cn-2026-transition"]


def test_empty_input():
    out = running_mean(_daily([]))
    assert out.empty and list(out.columns) == list(RUNNING_COLUMNS)


def test_limits_by_day_step_at_the_2026_switch():
    days = pd.to_datetime(["2026-02-28", "2026-03-01"])
    # PM2.5 24-h Grade II: 75 (GB 3095-2012) then 60 (2026 transitional), standards.md §2
    assert limits_by_day(days, "PM2.5", "24h").tolist() == [75.0, 60.0]
    assert limits_by_day(days, "PM2.5", "24h", grade="I").tolist() == [35.0, 35.0]
    assert limits_by_day(days, "PM2.5", "24h", profile="cn-2012").tolist() == [75.0, 75.0]
    assert limits_by_day(days, "O3", "mda8").tolist() == [160.0, 160.0]
    # CO has no annual limit: NaN, not 0
    assert np.isnan(limits_by_day(days, "CO", "annual")).all()
    assert limits_by_day(days, "PM2.5", "24h", profile="who-2021").tolist() == [15.0, 15.0]
