"""Daily values of stations, districts and cities (indicators.averaging; standards.md §3, §4, §7).

Hand-built days at every validity boundary, an exact reference implementation
(Fractions, one station-day at a time) compared with the vectorised code on
random data (Hypothesis), and the real Beijing Multi-Site files.
"""
from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.standards import load_profile
from indicators.averaging import area_hourly, daily_values, o3_8h
from indicators.frames import DAILY_COLUMNS, DAILY_QUANTITIES, HOURLY_COLUMNS, POLLUTANTS
from indicators.panel import panel_from_hourly

DAY = "2015-06-01"
NAN = float("nan")
MEANS = ("SO2", "NO2", "PM10", "PM2.5", "CO")


# --------------------------------------------------------------------------- helpers
def hourly(series: dict, start: str = DAY) -> pd.DataFrame:
    """``{station: {pollutant: [hourly values from start]}}`` → the hourly input frame."""
    parts = []
    for station, columns in series.items():
        n = max(len(v) for v in columns.values())
        part = pd.DataFrame({"station": station,
                             "time": pd.date_range(start, periods=n, freq="h")})
        for p in POLLUTANTS:
            values = list(columns.get(p, []))
            part[p] = np.asarray(values + [NAN] * (n - len(values)), dtype=float)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)[list(HOURLY_COLUMNS)]


def first(n: int, value, total: int = 24) -> list:
    """``value`` for the first ``n`` hours, NaN for the rest of the day."""
    return [value] * n + [NAN] * (total - n)


def membership(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["level", "area", "station", "grade"])


def row(daily: pd.DataFrame, area: str, quantity: str, date: str = DAY,
        level: str | None = None) -> pd.Series:
    sel = daily[(daily["area"] == area) & (daily["pollutant"] == quantity)
                & (daily["date"] == pd.Timestamp(date))]
    if level is not None:
        sel = sel[sel["level"] == level]
    assert len(sel) == 1, f"{len(sel)} rows for {area} {quantity} {date}"
    return sel.iloc[0]


def custom_profile(base: str = "cn-2012", **validity):
    """A copy of a profile with some validity settings changed (rules live in profiles)."""
    p = load_profile(base)
    raw = dict(p.raw)
    raw["validity"] = {**p.validity, **validity}
    return dataclasses.replace(p, id=f"{base}-test", raw=raw)


# --------------------------------------------------------------------------- frame contract
def test_frame_layout_and_order():
    frame = hourly({"S2": {"PM2.5": [10] * 48}, "S1": {"PM2.5": [20] * 30}})
    mem = membership([("district", "d", "S1", "II"), ("district", "d", "S2", "II"),
                      ("city", "c", "S1", "II"), ("city", "c", "S2", "II")])
    daily = daily_values(frame, mem)
    assert list(daily.columns) == list(DAILY_COLUMNS)
    assert len(daily) == 4 * 2 * len(DAILY_QUANTITIES)      # S1, S2, d, c × 2 days × 7
    levels = daily["level"].astype(str).tolist()[:: 2 * 7]
    assert levels == ["station", "station", "district", "city"]
    assert daily["area"].astype(str).tolist()[:: 2 * 7] == ["S1", "S2", "d", "c"]
    assert daily["pollutant"].astype(str).tolist()[:7] == list(DAILY_QUANTITIES)
    assert daily["date"].iloc[7] == pd.Timestamp("2015-06-02")
    assert daily["valid"].dtype == bool and daily["n_valid"].dtype == np.int64
    # S1 has 6 hours on day 2: the day exists, it is not valid, its value is shown.
    r = row(daily, "S1", "PM2.5", "2015-06-02")
    assert (r["value"], r["valid"], r["n_valid"], r["n_required"]) == (20, False, 6, 20)
    # no valid hour → value NaN, reported NaN
    r = row(daily, "S1", "SO2")
    assert np.isnan(r["value"]) and np.isnan(r["reported"]) and r["n_valid"] == 0


def test_empty_and_bad_inputs():
    empty = daily_values(pd.DataFrame({c: [] for c in HOURLY_COLUMNS}))
    assert list(empty.columns) == list(DAILY_COLUMNS) and len(empty) == 0
    frame = hourly({"S1": {"PM2.5": [1, 2, 3]}})
    with pytest.raises(ValueError, match="more than once"):
        daily_values(pd.concat([frame, frame.iloc[[1]]]))
    shifted = frame.assign(time=frame["time"] + pd.Timedelta("30min"))
    with pytest.raises(ValueError, match="start of an hour"):
        daily_values(shifted)
    with pytest.raises(ValueError, match="lacks columns"):
        daily_values(frame.drop(columns="CO"))
    with pytest.raises(ValueError, match="district or city"):
        daily_values(frame, membership([("province", "p", "S1", "II")]))
    with pytest.raises(ValueError, match="no validity"):
        daily_values(frame, profile="who-2021")


def test_panel_is_dense_and_sorted():
    frame = hourly({"S2": {"O3": [1, 2, 3]}, "S1": {"O3": [NAN, 5]}}, start="2015-06-01 22:00")
    panel = panel_from_hourly(frame.sample(frac=1, random_state=3))
    assert panel.stations.tolist() == ["S1", "S2"]
    assert panel.start == np.datetime64("2015-06-01") and panel.values.shape == (2, 48, 6)
    o3 = panel.pollutant("O3")
    assert o3[1, 22] == 1 and o3[1, 23] == 2 and o3[1, 24] == 3 and o3[0, 23] == 5
    assert np.isnan(o3[0, 22]) and np.isnan(o3[:, :22]).all() and np.isnan(o3[:, 25:]).all()
    assert np.isnan(o3[0, 24])


# --------------------------------------------------------------------------- §3 validity
@pytest.mark.parametrize("pollutant", MEANS)
@pytest.mark.parametrize("n, valid", [(19, False), (20, True), (24, True)])
def test_daily_mean_needs_20_valid_hours(pollutant, n, valid):
    daily = daily_values(hourly({"S1": {pollutant: first(n, 2.0)}}))
    r = row(daily, "S1", pollutant)
    assert (r["value"], r["valid"], r["n_valid"], r["n_required"]) == (2.0, valid, n, 20)
    assert r["profile"] == "cn-2012"


def test_daily_min_hours_comes_from_the_profile():
    frame = hourly({"S1": {"PM2.5": first(19, 40)}})
    assert not row(daily_values(frame), "S1", "PM2.5")["valid"]
    r = row(daily_values(frame, profile=custom_profile(daily_min_hours=18)), "S1", "PM2.5")
    assert r["valid"] and r["n_required"] == 18 and r["profile"] == "cn-2012-test"


@pytest.mark.parametrize("missing, windows, mda8", [
    # hours 16, 17 missing: the last window 16–24 has 6 of 8 valid hours → valid
    ((16, 17), 17, 200.0),
    # hours 16–18 missing: windows 11 … 16 have 5 of 8 → not valid; max of the rest is 10
    ((16, 17, 18), 11, 10.0),
])
def test_o3_8h_window_needs_6_of_8(missing, windows, mda8):
    o3 = [10.0] * 16 + [200.0] * 8
    for h in missing:
        o3[h] = NAN
    r = row(daily_values(hourly({"S1": {"O3": o3}})), "S1", "O3_MDA8")
    assert (r["value"], r["n_valid"], r["n_required"]) == (mda8, windows, 14)
    assert r["valid"] == (windows >= 14)


@pytest.mark.parametrize("n_missing, valid", [(2, True), (3, False)])
def test_o3_moving_8h_needs_6_of_8(n_missing, valid):
    o3 = [50.0] * 16 + [NAN] * n_missing + [80.0] * (8 - n_missing)
    out = o3_8h(hourly({"S1": {"O3": o3}}))
    last = out[out["time"] == pd.Timestamp("2015-06-01 23:00")].iloc[0]
    assert (last["valid"], last["n_valid"], last["n_required"]) == (valid, 8 - n_missing, 6)
    assert last["value"] == 80.0
    # the trailing window at 05:00 has hours 0–5: 6 valid hours
    early = out[out["time"] == pd.Timestamp("2015-06-01 05:00")].iloc[0]
    assert early["valid"] and early["n_valid"] == 6 and early["value"] == 50.0


@pytest.mark.parametrize("hours, windows, valid", [(19, 14, True), (18, 13, False)])
def test_mda8_needs_14_of_17_windows(hours, windows, valid):
    # valid hours 0 … hours-1: windows 0 … hours-6 have ≥ 6 valid hours
    r = row(daily_values(hourly({"S1": {"O3": first(hours, 100.0)}})), "S1", "O3_MDA8")
    assert (r["value"], r["valid"], r["n_valid"], r["n_required"]) == (100.0, valid, windows, 14)


@pytest.mark.parametrize("values, grade, value, reported, valid", [
    # 13 windows; window 00–08 averages 160.5 > 160 (Grade II): valid by the exception,
    # and reported 160 (half-even) although the unrounded value exceeds the limit
    ([164.0] + [160.0] * 17, "II", 160.5, 160.0, True),
    ([159.0] * 18, "II", 159.0, 159.0, False),
    ([160.0] * 18, "II", 160.0, 160.0, False),   # strictly greater is needed
    ([101.0] * 18, "I", 101.0, 101.0, True),     # Grade I limit 100
    ([101.0] * 18, "II", 101.0, 101.0, False),
])
def test_mda8_exceedance_exception(values, grade, value, reported, valid):
    frame = hourly({"S1": {"O3": values + [NAN] * 6}})
    mem = membership([("district", "d", "S1", grade), ("city", "c", "S1", grade)])
    daily = daily_values(frame, mem)
    for area in ("S1", "d", "c"):
        r = row(daily, area, "O3_MDA8")
        assert (r["value"], r["valid"], r["n_valid"]) == (value, valid, 13), area
    assert row(daily, "S1", "O3_MDA8")["reported"] == reported
    # the grade can also be given per station (e.g. a station outside any district)
    alone = daily_values(frame, station_grades={"S1": grade})
    assert row(alone, "S1", "O3_MDA8")["valid"] == valid
    # the exception is a profile setting
    off = daily_values(frame, mem, profile=custom_profile(mda8_exceedance_exception=False))
    assert not row(off, "S1", "O3_MDA8")["valid"]


@pytest.mark.parametrize("n, valid", [(19, False), (20, True)])
def test_o3_1h_max_needs_20_hours(n, valid):
    o3 = first(n, 30.0)
    o3[5] = 181.0
    r = row(daily_values(hourly({"S1": {"O3": o3}})), "S1", "O3_1H_MAX")
    assert (r["value"], r["valid"], r["n_valid"], r["n_required"]) == (181.0, valid, n, 20)


# --------------------------------------------------------------------------- §4 rounding
@pytest.mark.parametrize("pollutant, hours, value, reported", [
    ("PM2.5", [34] * 12 + [35] * 12, 34.5, 34.0),
    ("PM2.5", [35] * 12 + [36] * 12, 35.5, 36.0),
    ("NO2", [34] * 11 + [35] * 11 + [34.62] * 2, 34.51, 35.0),
    ("CO", [1.2] * 12 + [1.3] * 12, 1.25, 1.2),
    ("CO", [1.3] * 12 + [1.4] * 12, 1.35, 1.4),
    # float summation gives 2.0500000000000003 (→ 2.1); the exact mean 2.05 → 2.0
    ("CO", [x / 10 for x in (28, 26, 28, 10, 18, 15, 25, 29, 23, 22, 25, 24, 17, 7, 14, 28,
                             11, 18, 23, 8, 27, 19, 20, 27)], 2.05, 2.0),
])
def test_daily_mean_rounds_half_even_on_the_exact_mean(pollutant, hours, value, reported):
    r = row(daily_values(hourly({"S1": {pollutant: hours}})), "S1", pollutant)
    assert r["value"] == value and r["reported"] == reported


def test_mda8_and_1h_max_round_half_even():
    o3 = [100.0, 101.0] * 12                    # every window 100.5 → 100
    daily = daily_values(hourly({"S1": {"O3": o3}}))
    r = row(daily, "S1", "O3_MDA8")
    assert (r["value"], r["reported"]) == (100.5, 100.0)
    o3 = [80.5] + [10.0] * 23
    assert row(daily_values(hourly({"S1": {"O3": o3}})), "S1", "O3_1H_MAX")["reported"] == 80.0


# --------------------------------------------------------------------------- §7 areas
def test_area_daily_mean_is_the_mean_of_valid_station_means():
    frame = hourly({"A": {"PM2.5": [40] * 24},
                    "B": {"PM2.5": first(19, 100)},       # 19 hours: does not contribute
                    "C": {"PM2.5": first(20, 61)},
                    "D": {"PM2.5": [1000] * 24}})         # not a member
    mem = membership([("district", "d", s, "II") for s in "ABC"]
                     + [("city", "c", s, "II") for s in "ABC"])
    daily = daily_values(frame, mem)
    for area in ("d", "c"):
        r = row(daily, area, "PM2.5")
        assert (r["value"], r["reported"], r["valid"], r["n_valid"], r["n_required"]) == \
            (50.5, 50.0, True, 2, 1)
    # no valid member: nothing to average
    only_b = daily_values(frame, membership([("district", "d", "B", "II")]))
    r = row(only_b, "d", "PM2.5")
    assert np.isnan(r["value"]) and not r["valid"] and r["n_valid"] == 0


def test_area_values_come_from_unrounded_station_values():
    # station means 34.5 and 35.5 (reported 34 and 36): area 35.0 from the unrounded values
    frame = hourly({"A": {"PM2.5": [34, 35] * 12}, "B": {"PM2.5": [35, 36] * 12},
                    "E": {"PM2.5": [34.4] * 24}, "F": {"PM2.5": [34.4] * 23 + [35.6]}})
    mem = membership([("district", "d", "A", "II"), ("district", "d", "B", "II"),
                      ("district", "e", "E", "II"), ("district", "e", "F", "II")])
    daily = daily_values(frame, mem)
    assert row(daily, "d", "PM2.5")["value"] == 35.0
    # 34.4 and 34.45 → 34.425 (float summing of the station means would not be exact)
    assert row(daily, "e", "PM2.5")["value"] == 34.425


def test_area_mda8_uses_area_windows_not_station_mda8s():
    morning = [200.0] * 8 + [20.0] * 16        # station MDA8 200 (window 00–08)
    evening = [20.0] * 16 + [200.0] * 8        # station MDA8 200 (window 16–24)
    frame = hourly({"A": {"O3": morning}, "B": {"O3": evening}})
    daily = daily_values(frame, membership([("district", "d", "A", "II"),
                                            ("district", "d", "B", "II")]))
    assert row(daily, "A", "O3_MDA8")["value"] == 200 and row(daily, "B", "O3_MDA8")["value"] == 200
    r = row(daily, "d", "O3_MDA8")
    assert (r["value"], r["valid"], r["n_valid"]) == (110.0, True, 17)
    assert row(daily, "d", "O3_1H_MAX")["value"] == 110.0      # max of the area hourly series


def test_area_window_valid_when_one_station_window_is():
    # A has windows 0 … 8 (hours 0–13), B windows 8 … 16 (hours 8–23): the area has all 17
    frame = hourly({"A": {"O3": first(14, 50.0)}, "B": {"O3": [NAN] * 8 + [70.0] * 16}})
    daily = daily_values(frame, membership([("district", "d", "A", "II"),
                                            ("district", "d", "B", "II")]))
    assert not row(daily, "A", "O3_MDA8")["valid"] and not row(daily, "B", "O3_MDA8")["valid"]
    r = row(daily, "d", "O3_MDA8")
    assert (r["valid"], r["n_valid"], r["value"]) == (True, 17, 70.0)


def test_area_o3_1h_max_needs_20_area_hours():
    # neither station has 20 hours, the area series has 20 (hours 0–19)
    frame = hourly({"A": {"O3": first(10, 50.0)}, "B": {"O3": [NAN] * 10 + [70.0] * 10}})
    daily = daily_values(frame, membership([("district", "d", "A", "II"),
                                            ("district", "d", "B", "II")]))
    assert not row(daily, "A", "O3_1H_MAX")["valid"]
    r = row(daily, "d", "O3_1H_MAX")
    assert (r["value"], r["valid"], r["n_valid"], r["n_required"]) == (70.0, True, 20, 20)


def test_area_min_station_share_is_a_profile_setting():
    frame = hourly({"A": {"SO2": [5] * 24}, "B": {"SO2": first(10, 5)}})
    # C is a member without any data: it still counts as a member
    mem = membership([("district", "d", s, "II") for s in "ABC"])
    r = row(daily_values(frame, mem), "d", "SO2")
    assert (r["valid"], r["n_valid"], r["n_required"]) == (True, 1, 1)
    half = custom_profile(area_min_station_share=0.5)
    r = row(daily_values(frame, mem, profile=half), "d", "SO2")
    assert (r["valid"], r["n_valid"], r["n_required"]) == (False, 1, 2)
    frame2 = hourly({"A": {"SO2": [5] * 24}, "B": {"SO2": [7] * 24}})
    r = row(daily_values(frame2, mem, profile=half), "d", "SO2")
    assert (r["valid"], r["n_valid"], r["n_required"], r["value"]) == (True, 2, 2, 6.0)


def test_area_hourly_means():
    frame = hourly({"A": {"NO2": [10, NAN, 30]}, "B": {"NO2": [20, 40, NAN]}})
    out = area_hourly(frame, membership([("city", "c", "A", "II"), ("city", "c", "B", "II")]))
    assert len(out) == 24 and set(out["level"]) == {"city"}
    assert out["NO2"].tolist()[:3] == [15.0, 40.0, 30.0] and np.isnan(out["NO2"].iloc[3])
    assert out["n_NO2"].tolist()[:4] == [2, 1, 1, 0]


# --------------------------------------------------------------------------- §1 profiles
def test_profile_switch_on_2026_03_01():
    frame = hourly({"S1": {"PM2.5": [61] * 48}}, start="2026-02-28")
    daily = daily_values(frame)
    ids = daily.drop_duplicates("date").set_index("date")["profile"].astype(str)
    assert ids[pd.Timestamp("2026-02-28")] == "cn-2012"
    assert ids[pd.Timestamp("2026-03-01")] == "cn-2026-transition"
    forced = daily_values(frame, profile="cn-2026-final")
    assert set(forced["profile"].astype(str)) == {"cn-2026-final"}


# --------------------------------------------------------------------------- exact reference
def _frac(x) -> Fraction | None:
    return None if x is None or x != x else Fraction(repr(float(x)))


def _mean(xs):
    return sum(xs, Fraction(0)) / len(xs) if xs else None


def _half_even(q: Fraction, decimals: int) -> Fraction:
    scaled = q * 10 ** decimals
    low = math.floor(scaled)
    rest = scaled - low
    up = rest > Fraction(1, 2) or (rest == Fraction(1, 2) and low % 2 == 1)
    return Fraction(low + up, 10 ** decimals)


def reference_daily(frame: pd.DataFrame, mem: pd.DataFrame, profile_id: str = "cn-2012"):
    """standards.md §3/§7 one station-day at a time, in exact fractions.

    Returns {(level, area, date, quantity): (value Fraction | None, valid, n_valid)}.
    """
    profile = load_profile(profile_id)
    v = profile.validity
    dates = pd.date_range(frame["time"].min().normalize(), frame["time"].max().normalize())
    data = {}
    for rec in frame.to_dict("records"):
        for p in POLLUTANTS:
            data[(rec["station"], rec["time"], p)] = _frac(rec[p])

    def hours(station, date, p):
        return [data.get((station, date + pd.Timedelta(hours=h), p)) for h in range(24)]

    def mda8(windows, limit):
        ok = [w for w in windows if w is not None]
        best = max(ok) if ok else None
        valid = len(ok) >= v["mda8_min_windows"] or (bool(ok) and best > limit)
        return best, valid, len(ok)

    out = {}
    station_windows, station_hours = {}, {}
    grade = {}
    for r in mem.itertuples(index=False):
        if r.level == "city":
            grade.setdefault(r.station, r.grade)
    for r in mem.itertuples(index=False):
        if r.level == "district":
            grade[r.station] = r.grade
    for station in sorted(set(frame["station"])):
        limit = profile.limit("O3", "mda8", grade.get(station, "II"))
        for date in dates:
            for p in MEANS:
                xs = [x for x in hours(station, date, p) if x is not None]
                out[("station", station, date, p)] = (_mean(xs), len(xs) >= v["daily_min_hours"],
                                                       len(xs))
            o3 = hours(station, date, "O3")
            station_hours[(station, date)] = o3
            windows = []
            for w in range(17):
                xs = [x for x in o3[w:w + 8] if x is not None]
                windows.append(_mean(xs) if len(xs) >= v["o3_8h_min_hours"] else None)
            station_windows[(station, date)] = windows
            out[("station", station, date, "O3_MDA8")] = mda8(windows, limit)
            xs = [x for x in o3 if x is not None]
            out[("station", station, date, "O3_1H_MAX")] = (
                max(xs) if xs else None, len(xs) >= v["o3_1h_max_min_hours"], len(xs))
    empty = [None] * 24
    for (level, area), group in mem.groupby(["level", "area"]):
        members = sorted(set(group["station"]))
        limit = profile.limit("O3", "mda8", group["grade"].iloc[0])
        for date in dates:
            for p in MEANS:
                means = [out[("station", s, date, p)][0] for s in members
                         if ("station", s, date, p) in out and out[("station", s, date, p)][1]]
                out[(level, area, date, p)] = (_mean(means), bool(means), len(means))
            windows = []
            for w in range(17):
                ws = [station_windows.get((s, date), empty)[w] for s in members]
                windows.append(_mean([x for x in ws if x is not None]))
            out[(level, area, date, "O3_MDA8")] = mda8(windows, limit)
            area_hours = [_mean([x for x in (station_hours.get((s, date), empty)[h]
                                             for s in members) if x is not None])
                          for h in range(24)]
            xs = [x for x in area_hours if x is not None]
            out[(level, area, date, "O3_1H_MAX")] = (
                max(xs) if xs else None, len(xs) >= v["o3_1h_max_min_hours"], len(xs))
    return out


def assert_matches_reference(daily: pd.DataFrame, expected: dict, profile_id="cn-2012"):
    profile = load_profile(profile_id)
    assert len(daily) == len(expected)
    for rec in daily.to_dict("records"):
        key = (rec["level"], rec["area"], rec["date"], rec["pollutant"])
        value, valid, n_valid = expected[key]
        if value is None:
            assert np.isnan(rec["value"]) and np.isnan(rec["reported"]), key
        else:
            # the float nearest to the exact value, and the exact half-even rounding
            assert rec["value"] == float(value), (key, rec["value"], value)
            decimals = profile.decimals(rec["pollutant"])
            assert rec["reported"] == float(_half_even(value, decimals)), key
        assert (rec["valid"], rec["n_valid"]) == (valid, n_valid), (key, rec)


def random_hourly(seed: int, n_stations: int, n_days: int, start: str = DAY) -> pd.DataFrame:
    """Decimal hourly data with gaps near the validity boundaries; some station-hours
    absent, some present with NaN."""
    rng = np.random.default_rng(seed)
    n = 24 * n_days
    parts = []
    for i in range(n_stations):
        part = {"station": f"S{i + 1}", "time": pd.date_range(start, periods=n, freq="h")}
        for p in POLLUTANTS:
            if p == "CO":
                x = rng.integers(1, 60, n) / 10
            elif p == "O3":
                x = rng.integers(100, 200, n).astype(float) + rng.integers(0, 10, n) / 10
            else:
                x = rng.integers(0, 300, n).astype(float)
            rate = rng.choice([0.0, 0.1, 0.2, 0.3, 0.6])
            x[rng.random(n) < rate] = NAN
            part[p] = x
        part = pd.DataFrame(part)
        parts.append(part[rng.random(n) > rng.choice([0.0, 0.1])])
    return pd.concat(parts, ignore_index=True)[list(HOURLY_COLUMNS)]


def random_membership(n_stations: int) -> pd.DataFrame:
    stations = [f"S{i + 1}" for i in range(n_stations)]
    rows = [("district", "d1", s, "II") for s in stations[:2]]
    rows += [("district", "d2", s, "I") for s in stations[2:]]
    rows += [("city", "c", s, "II") for s in stations]
    return membership(rows)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2 ** 32 - 1), n_stations=st.integers(1, 3), n_days=st.integers(1, 2))
def test_matches_exact_reference(seed, n_stations, n_days):
    frame = random_hourly(seed, n_stations, n_days)
    if frame.empty:
        return
    mem = random_membership(n_stations)
    daily = daily_values(frame, mem)
    assert_matches_reference(daily, reference_daily(frame, mem))


def test_matches_exact_reference_without_decimal_grid():
    # values with more than 6 decimals: plain float arithmetic, still the reference ± 1 ulp
    frame = random_hourly(7, 3, 2)
    frame["PM10"] = frame["PM10"] + 1e-7 * np.pi
    mem = random_membership(3)
    daily = daily_values(frame, mem)
    expected = reference_daily(frame, mem)
    pm10 = daily[daily["pollutant"] == "PM10"]
    for rec in pm10.to_dict("records"):
        value, valid, n_valid = expected[(rec["level"], rec["area"], rec["date"], "PM10")]
        assert (rec["valid"], rec["n_valid"]) == (valid, n_valid)
        if value is not None:
            assert rec["value"] == pytest.approx(float(value), rel=1e-14)


# --------------------------------------------------------------------------- properties
@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), n_stations=st.integers(1, 3), n_days=st.integers(1, 3))
def test_invariant_to_row_order(seed, n_stations, n_days):
    frame = random_hourly(seed, n_stations, n_days)
    if frame.empty:
        return
    mem = random_membership(n_stations)
    a = daily_values(frame, mem)
    b = daily_values(frame.sample(frac=1, random_state=seed % 1000), mem.iloc[::-1])
    pd.testing.assert_frame_equal(a, b)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), n_stations=st.integers(1, 3),
       pollutant=st.sampled_from(MEANS), data=st.data())
def test_an_invalid_value_never_changes_a_valid_statistic(seed, n_stations, pollutant, data):
    frame = random_hourly(seed, n_stations, 2)
    if frame.empty:
        return
    mem = random_membership(n_stations)
    before = daily_values(frame, mem)
    station = data.draw(st.sampled_from(sorted(set(frame["station"]))))
    day = data.draw(st.sampled_from(["2015-06-01", "2015-06-02"]))
    times = pd.date_range(day, periods=24, freq="h")
    mine = frame[(frame["station"] == station) & frame["time"].isin(times)]
    present = mine.dropna(subset=[pollutant])
    absent = sorted(set(times) - set(present["time"]))
    # (a) a NaN hour added where there was no row: nothing changes at all
    no_row = sorted(set(times) - set(mine["time"]))
    if no_row:
        t = data.draw(st.sampled_from(no_row))
        nan_row = pd.DataFrame([{"station": station, "time": t, **{p: NAN for p in POLLUTANTS}}])
        pd.testing.assert_frame_equal(before, daily_values(pd.concat([frame, nan_row]), mem))
    # (b) a value added to a day that stays below 20 valid hours
    if len(present) <= 18 and absent:
        t = data.draw(st.sampled_from(absent))
        x = data.draw(st.integers(0, 999)) / (10 if pollutant == "CO" else 1)
        if t in set(mine["time"]):
            grown = frame.copy()
            grown.loc[(grown["station"] == station) & (grown["time"] == t), pollutant] = x
        else:
            grown = pd.concat([frame, pd.DataFrame([{"station": station, "time": t,
                                                     **{p: (x if p == pollutant else NAN)
                                                        for p in POLLUTANTS}}])])
        after = daily_values(grown, mem)
        mask = ~((after["area"] == station) & (after["pollutant"] == pollutant)
                 & (after["date"] == pd.Timestamp(day)))
        still = before["valid"] & mask & before["pollutant"].isin(MEANS)
        pd.testing.assert_frame_equal(before[still], after[still])
        assert not after[~mask]["valid"].any()


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), n_days=st.integers(1, 3),
       grade=st.sampled_from(["I", "II"]))
def test_area_of_one_station_equals_the_station(seed, n_days, grade):
    frame = random_hourly(seed, 1, n_days)
    if frame.empty:
        return
    mem = membership([("district", "d", "S1", grade), ("city", "c", "S1", grade)])
    daily = daily_values(frame, mem)
    station = daily[daily["level"] == "station"].reset_index(drop=True)
    for area in ("d", "c"):
        got = daily[daily["area"] == area].reset_index(drop=True)
        for col in ("date", "pollutant", "valid", "profile"):
            pd.testing.assert_series_equal(got[col].astype(object), station[col].astype(object))
        ozone = got["pollutant"].isin(["O3_MDA8", "O3_1H_MAX"]).to_numpy()
        # O3: the area windows and hours are the station's, valid or not
        same = ozone | station["valid"].to_numpy()
        for col in ("value", "reported"):
            pd.testing.assert_series_equal(got[col][same], station[col][same])
        assert (got["n_valid"][ozone] == station["n_valid"][ozone]).all()
        # daily means: n_valid counts valid stations (0 or 1); a station mean that is not
        # valid is not averaged, so the area has nothing to average
        assert (got["n_valid"][~ozone] == station["valid"][~ozone].astype(int)).all()
        assert got["value"][~same].isna().all()


# --------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def beijing():
    from tests.conftest import BEIJING_SITES, SHARED_DATA
    folder = SHARED_DATA / "beijing-multisite"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent: the real-data averaging tests need ../shared/data "
                    "(the Beijing Multi-Site files beside the project checkout)")
    from config.sites import load_site_config
    from ingest.prsa import read_prsa

    files = sorted(folder.glob("PRSA_Data_*.csv.gz"))
    long = pd.concat([read_prsa(f) for f in files], ignore_index=True)
    excluded = long["flag"].astype(str).isin(["missing", "negative", "non_numeric"])
    long["value"] = long["value"].where(~excluded)
    frame = long.pivot_table(index=["station", "time"], columns="pollutant", values="value",
                             aggfunc="first", dropna=False, observed=True).reset_index()
    frame["station"] = frame["station"].astype(str)
    frame = frame[list(HOURLY_COLUMNS)]

    site = load_site_config(BEIJING_SITES)
    grade = {d.id: d.grade for d in site.districts}
    rows = []
    for s in site.stations:
        if s.is_evaluation:
            rows.append(("district", s.district, s.code, grade[s.district]))
            rows.append(("city", site.city.id, s.code, "II"))
    mem = membership(rows)
    return {"folder": folder, "frame": frame, "membership": mem,
            "daily": daily_values(frame, mem)}


def _raw_day(folder, name: str, date: str, column: str) -> list[Fraction]:
    raw = pd.read_csv(folder / f"PRSA_Data_{name}_20130301-20170228.csv.gz", dtype=str)
    d = pd.Timestamp(date)
    day = raw[(raw["year"] == str(d.year)) & (raw["month"] == str(d.month))
              & (raw["day"] == str(d.day))]
    assert len(day) == 24
    return [Fraction(x) for x in day[column].dropna() if float(x) >= 0]


def test_beijing_shape_and_background_station(beijing):
    daily = beijing["daily"]
    assert len(daily) == (12 + 8 + 1) * 1461 * 7
    areas = daily.drop_duplicates(["level", "area"])
    assert (areas["level"].astype(str).value_counts().to_dict()
            == {"station": 12, "district": 8, "city": 1})
    assert "1002A" in set(daily["area"].astype(str))               # Dingling shown …
    assert "1002A" not in set(beijing["membership"]["station"])    # … not in any area


def test_beijing_dongsi_2014_valid_pm25_days(beijing):
    raw = pd.read_csv(beijing["folder"] / "PRSA_Data_Dongsi_20130301-20170228.csv.gz")
    raw = raw[raw["year"] == 2014]
    counts = raw.assign(ok=raw["PM2.5"].notna() & (raw["PM2.5"] >= 0)).groupby(
        ["month", "day"])["ok"].sum()
    expected_valid = int((counts >= 20).sum())
    daily = beijing["daily"]
    sel = daily[(daily["area"] == "1003A") & (daily["pollutant"] == "PM2.5")
                & (daily["date"].dt.year == 2014)]
    assert len(sel) == 365
    assert int(sel["valid"].sum()) == expected_valid
    assert 300 < expected_valid < 365
    assert sorted(sel["n_valid"].tolist()) == sorted(counts.astype(int).tolist())


def test_beijing_hand_computed_days(beijing):
    daily, folder = beijing["daily"], beijing["folder"]
    # a Dongsi day with gaps but ≥ 20 hours, computed by hand from the file
    sel = daily[(daily["area"] == "1003A") & (daily["pollutant"] == "PM2.5")
                & (daily["date"].dt.year == 2014) & daily["n_valid"].between(20, 23)]
    date = str(sel["date"].iloc[0].date())
    hours = _raw_day(folder, "Dongsi", date, "PM2.5")
    mean = sum(hours, Fraction(0)) / len(hours)
    r = row(daily, "1003A", "PM2.5", date)
    assert (r["value"], r["valid"], r["n_valid"]) == (float(mean), True, len(hours))
    assert r["reported"] == float(_half_even(mean, 0))
    # SO2 of the same day has four decimals (ppb conversions): still the exact mean
    so2 = _raw_day(folder, "Dongsi", date, "SO2")
    r = row(daily, "1003A", "SO2", date)
    assert r["value"] == float(sum(so2, Fraction(0)) / len(so2)) and r["n_valid"] == len(so2)
    # CO: µg/m³ in the file, mg/m³ here
    co = [x / 1000 for x in _raw_day(folder, "Dongsi", date, "CO")]
    r = row(daily, "1003A", "CO", date)
    assert r["value"] == float(sum(co, Fraction(0)) / len(co))
    assert r["reported"] == float(_half_even(sum(co, Fraction(0)) / len(co), 1))

    # the city mean of that day: mean of the valid daily means of the 11 evaluation stations
    from ingest.prsa import PRSA_STATIONS
    means = []
    for name, code in PRSA_STATIONS.items():
        if code == "1002A":
            continue
        xs = _raw_day(folder, name, date, "PM2.5")
        if len(xs) >= 20:
            means.append(sum(xs, Fraction(0)) / len(xs))
    city = sum(means, Fraction(0)) / len(means)
    r = row(daily, "beijing", "PM2.5", date, level="city")
    assert (r["value"], r["n_valid"], r["valid"]) == (float(city), len(means), True)
    assert r["reported"] == float(_half_even(city, 0))
    # Dongcheng = Dongsi + Tiantan
    pair = [row(daily, c, "PM2.5", date) for c in ("1003A", "1004A")]
    expected = [Fraction(p["value"]) for p in pair if p["valid"]]
    r = row(daily, "dongcheng", "PM2.5", date)
    assert r["value"] == pytest.approx(float(sum(expected) / len(expected)), rel=1e-15)


def test_beijing_area_mda8_from_area_windows(beijing):
    daily = beijing["daily"]
    mda8 = daily[daily["pollutant"] == "O3_MDA8"]
    station = mda8[mda8["level"] == "station"].pivot(index="date", columns="area",
                                                     values="value")
    city = mda8[mda8["level"] == "city"].set_index("date")["value"]
    members = sorted(set(beijing["membership"]["station"]))
    top = station[members].max(axis=1)
    both = city.notna() & top.notna()
    # the mean of the area windows never exceeds the highest station window
    assert (city[both] <= top[both] + 1e-9).all()
    assert (city[both] < top[both] - 1e-9).mean() > 0.9
