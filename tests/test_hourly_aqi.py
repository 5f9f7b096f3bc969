"""Real-time (hourly) AQI assembled from hourly data (standards.md §5).

Both editions: the six 1-h values, PM 1-h on the 24-h table, no 24-h moving averages and
no O3 8-h value.
"""
from fractions import Fraction
from math import ceil

import numpy as np
import pandas as pd
import pytest

from config.standards import load_profile
from indicators.aqi import hourly_aqi
from indicators.pipeline import daily_and_aqi, hourly_aqi_table, hourly_export, hourly_table


def hourly(station="S1", start="2024-01-01", hours=48, **values):
    times = pd.date_range(start, periods=hours, freq="h")
    frame = pd.DataFrame({"station": station, "time": times})
    for p in ("SO2", "NO2", "PM10", "PM2.5", "CO", "O3"):
        frame[p] = values.get(p.replace(".", ""), np.nan)
    return frame


def test_2012_uses_the_1h_values_from_the_first_hour():
    frame = hourly(SO2=10, NO2=40, PM10=50, PM25=100, CO=1.0, O3=50)
    out = hourly_aqi_table(frame).set_index("time")
    # PM2.5 1-h 100 on the 24-h table → 100 + 50·(100−75)/40 = 131.25 → 132 (ceil), at once
    assert out.loc["2024-01-01 00:00", "iaqi_PM2.5"] == 132
    assert out.loc["2024-01-01 00:00", "aqi"] == 132
    assert out.loc["2024-01-01 00:00", "primary"] == "PM2.5"
    assert out.loc["2024-01-01 00:00", "profile"] == "cn-2012"
    assert "iaqi_O3_8h" not in out.columns and "iaqi_PM2.5_24h" not in out.columns


def test_2026_uses_pm_1h_on_the_24h_table():
    frame = hourly(start="2026-06-01", SO2=10, NO2=40, PM10=50, PM25=60.5, CO=1.0, O3=50)
    out = hourly_aqi_table(frame).set_index("time")
    row = out.loc["2026-06-01 00:00"]
    assert row["profile"] == "cn-2026-transition"
    assert row["iaqi_PM2.5"] == 100             # 60.5 → 60 (half-even) → IAQI 100 under 2026
    assert row["aqi"] == 100 and row["category_zh"] == "良"


def test_beijing_city_hourly_aqi_from_the_city_1h_means(shared_data):
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
    values, out = hourly_table(hourly_frame, members)
    city = out[(out["level"] == "city")].set_index("time")
    means = values[values["level"] == "city"].set_index("time")
    # 23:00: the mean of the 11 evaluation stations' PM2.5, 451.73 → 452 → 400 + 100·102/150
    assert means.loc["2015-12-25 23:00", "n_PM2.5"] == 11
    assert city.loc["2015-12-25 23:00", "iaqi_PM2.5"] == 468
    assert city.loc["2015-12-25 23:00", "aqi"] == 468
    assert city.loc["2015-12-25 23:00", "primary"] == "PM2.5"
    assert city.loc["2015-12-25 07:00", "category_zh"] == "严重污染"
    # every city hour: the IAQIs of the rounded 1-h means, in exact arithmetic
    for t in city.index[::5]:
        expected = reference_aqi({p: means.loc[t, p] for p in POLLUTANTS}, "cn-2012")
        assert (None if pd.isna(city.loc[t, "aqi"]) else int(city.loc[t, "aqi"])) == expected
    daily, daily_aqi = daily_and_aqi(hourly_frame, members)        # the daily AQI is apart
    day = daily_aqi[(daily_aqi["level"] == "city")].set_index("date")
    assert day.loc["2015-12-25", "aqi"] == 486


# ---------------------------------------------------------------- reference and cases
POLLUTANTS = ("SO2", "NO2", "CO", "O3", "PM10", "PM2.5")
ONE_HOUR_TABLE = {"SO2": "SO2_1h", "NO2": "NO2_1h", "CO": "CO_1h", "O3": "O3_1h",
                  "PM10": "PM10_24h", "PM2.5": "PM2.5_24h"}


def reference_iaqi(value, key, profile):
    """§5 in Fractions: round half to even as published, the segment, ceil."""
    from decimal import ROUND_HALF_EVEN, Decimal
    prof = load_profile(profile)
    places = Decimal(1).scaleb(-prof.decimals(key.split("_")[0]))
    c = Fraction(Decimal(repr(float(value))).quantize(places, rounding=ROUND_HALF_EVEN))
    bp = [Fraction(str(b)) for b in prof.aqi["breakpoints"][key]]
    steps = prof.aqi["iaqi"]
    if c > bp[-1]:                      # beyond a full table: 500; SO2 1-h above 800: the
        return steps[-1] if len(bp) == len(steps) else None   # profile's rule (tested apart)
    for i in range(1, len(bp)):
        if c <= bp[i]:
            return ceil(steps[i - 1] + Fraction(steps[i] - steps[i - 1]) * (c - bp[i - 1])
                        / (bp[i] - bp[i - 1]))
    return 0


def reference_aqi(values: dict, profile):
    """The hourly AQI of §5: max of the six 1-h IAQIs; with one missing, only above 100."""
    iaqis = [None if pd.isna(values.get(p)) else reference_iaqi(values[p], ONE_HOUR_TABLE[p],
                                                                  profile)
             for p in POLLUTANTS]
    present = [i for i in iaqis if i is not None]
    if not present:
        return None
    aqi = max(present)
    return aqi if len(present) == len(POLLUTANTS) or aqi > 100 else None


def one_hour(time="2025-05-01 10:00", **values):
    row = {"level": "station", "area": "S1", "time": pd.Timestamp(time)}
    row.update({p: values.get(p.replace(".", ""), 0.0) for p in POLLUTANTS})
    return pd.DataFrame([row])


@pytest.mark.parametrize("profile", ["cn-2012", "cn-2026-transition", "cn-2026-final"])
def test_every_profile_takes_the_six_1h_values(profile):
    prof = load_profile(profile)
    assert prof.aqi["hourly_inputs"] == ["SO2_1h", "NO2_1h", "CO_1h", "O3_1h", "PM10_1h",
                                         "PM2.5_1h"]
    assert prof.aqi["hourly_pm"] == "hourly_on_24h_table"
    hours = pd.concat([one_hour(SO2=12, NO2=45, CO=1.3, O3=180, PM10=98, PM25=61)] * 2,
                      ignore_index=True)
    out = hourly_aqi(hours, profile)
    assert list(out.columns[-6:]) == [f"iaqi_{p}" for p in POLLUTANTS]
    # SO2 1-h 12 → 4; NO2 1-h 45 → 23; CO 1-h 1.3 → 13; O3 1-h 180 → 75
    assert [out[f"iaqi_{p}"].iloc[0] for p in ("SO2", "NO2", "CO", "O3")] == [4, 23, 13, 75]
    # PM on the 24-h table of the edition (§5 worked example): PM10 98 → 74 / 85,
    # PM2.5 61 → 83 / 101
    pm = (74, 83) if profile == "cn-2012" else (85, 101)
    assert (out["iaqi_PM10"].iloc[0], out["iaqi_PM2.5"].iloc[0]) == pm
    assert out["aqi"].iloc[0] == max(75, *pm)
    assert out["primary"].iloc[0] == "PM2.5"


def test_exact_ceiling_co_1h_2_2_is_22():
    # in floats 50 × 2.2 / 5 = 22.000000000000004 → 23; exactly it is 22
    out = hourly_aqi(one_hour(CO=2.2))
    assert out["iaqi_CO"].iloc[0] == 22
    assert hourly_aqi(one_hour(CO=4.4))["iaqi_CO"].iloc[0] == 44
    assert hourly_aqi(one_hour(CO=1.1))["iaqi_CO"].iloc[0] == 11


def test_pm_1h_rounded_then_on_the_24h_table():
    # PM2.5 60.5 → 60 (half to even) → 100 under 2026 (良, not 轻度); 82 under 2012
    h2026 = hourly_aqi(one_hour("2026-05-01 10:00", PM25=60.5))
    assert h2026["iaqi_PM2.5"].iloc[0] == 100 and h2026["category_zh"].iloc[0] == "良"
    assert hourly_aqi(one_hour(PM25=60.5))["iaqi_PM2.5"].iloc[0] == 82
    assert hourly_aqi(one_hour(PM25=61.5))["iaqi_PM2.5"].iloc[0] == 84     # 61.5 → 62


def test_so2_1h_above_800():
    # 2026: IAQI 200 whatever the 24-h value
    out = hourly_aqi(one_hour("2026-05-01 10:00", SO2=801))
    assert out["iaqi_SO2"].iloc[0] == 200 and out["aqi"].iloc[0] == 200
    # 2012: the IAQI of the SO2 24-h moving average (hours t−23 … t, ≥ 20 valid hours)
    frame = hourly(start="2025-05-01", hours=48, SO2=300, NO2=20, PM10=20, PM25=10, CO=0.5,
                   O3=20)
    frame.loc[frame["time"] == pd.Timestamp("2025-05-02 12:00"), "SO2"] = 801
    out = hourly_aqi_table(frame).set_index("time")
    # (23 × 300 + 801) / 24 = 321.875 → 322 → 100 + 50·(322 − 150)/325 = 126.5 → 127
    assert out.loc["2025-05-02 12:00", "iaqi_SO2"] == 127
    assert out.loc["2025-05-02 12:00", "primary"] == "SO2"
    # fewer than 20 valid hours in the window: the SO2 input is missing (AQI ≤ 100: none)
    short = frame[frame["time"] >= pd.Timestamp("2025-05-01 18:00")]
    out = hourly_aqi_table(short).set_index("time")
    assert pd.isna(out.loc["2025-05-02 12:00", "iaqi_SO2"])
    assert pd.isna(out.loc["2025-05-02 12:00", "aqi"])
    assert out.loc["2025-05-02 12:00", "missing"] == "SO2"


def test_o3_8h_is_not_an_input():
    # a whole day of O3 300: the 1-h table gives 150 (the old 2012 reading added the 8-h
    # average's 207)
    frame = hourly(start="2025-07-01", hours=24, SO2=5, NO2=20, PM10=20, PM25=10, CO=0.5,
                   O3=300)
    out = hourly_aqi_table(frame)
    assert set(out["aqi"]) == {150} and set(out["primary"]) == {"O3"}


def test_missing_pollutant_rule():
    out = hourly_aqi(one_hour(SO2=5, NO2=20, CO=0.5, O3=20, PM10=np.nan, PM25=70))
    assert pd.isna(out["aqi"].iloc[0]) and out["missing"].iloc[0] == "PM10"   # 94 ≤ 100
    assert pd.isna(out["category_zh"].iloc[0]) and pd.isna(out["good"].iloc[0])
    assert out["iaqi_PM2.5"].iloc[0] == 94                   # the IAQIs are still given
    out = hourly_aqi(one_hour(SO2=5, NO2=20, CO=0.5, O3=20, PM10=np.nan, PM25=80))
    assert out["aqi"].iloc[0] == 107 and out["primary"].iloc[0] == "PM2.5"   # > 100
    assert out["missing"].iloc[0] == "PM10" and out["category_en"].iloc[0] == "Lightly polluted"


@pytest.mark.parametrize("no2, aqi, zh, colour", [
    (100, 50, "优", "#00E400"), (102, 51, "良", "#FFFF00"), (200, 100, "良", "#FFFF00"),
    (210, 101, "轻度污染", "#FF7E00"), (700, 150, "轻度污染", "#FF7E00"),
    (710, 151, "中度污染", "#FF0000"), (1200, 200, "中度污染", "#FF0000"),
    (1210, 201, "重度污染", "#99004C"), (2340, 300, "重度污染", "#99004C"),
    (2347, 301, "严重污染", "#7E0023")])
def test_levels_colours_and_primary(no2, aqi, zh, colour):
    for time in ("2025-05-01 10:00", "2026-05-01 10:00"):
        out = hourly_aqi(one_hour(time, NO2=no2))
        assert out["aqi"].iloc[0] == aqi
        assert (out["category_zh"].iloc[0], out["colour"].iloc[0]) == (zh, colour)
        assert out["primary"].iloc[0] == ("" if aqi <= 50 else "NO2")
        assert bool(out["heavy"].iloc[0]) == (aqi > 200)


def test_primary_pollutants_tie():
    out = hourly_aqi(one_hour(PM10=70, PM25=43))          # both IAQI 60
    assert out["primary"].iloc[0] == "PM10,PM2.5"
    assert out["exceeding"].iloc[0] == ""                 # none above 100
    out = hourly_aqi(one_hour(PM10=70, PM25=43, NO2=220))  # NO2 1-h 220 → 102
    assert out["primary"].iloc[0] == "NO2" and out["exceeding"].iloc[0] == "NO2"


def test_area_aqi_from_the_rounded_1h_means():
    rows = [("A", 34), ("B", 35), ("C", 35), ("D", 36), ("E", np.nan), ("F", 70)]
    frame = pd.DataFrame({"station": [r[0] for r in rows],
                          "time": pd.Timestamp("2025-05-01 10:00"),
                          "SO2": 5.0, "NO2": 20.0, "CO": 0.5, "O3": 20.0, "PM10": 20.0,
                          "PM2.5": [r[1] for r in rows]})
    members = pd.DataFrame({"level": ["district"] * 6 + ["city"] * 6,
                            "area": ["d1", "d1", "d2", "d2", "d3", "d3"] + ["c"] * 6,
                            "station": list("ABCDEF") * 2, "grade": "II"})
    values, out = hourly_table(frame, members, start="2025-05-01 10:00",
                               end="2025-05-01 10:00")
    out = out.set_index("area")
    values = values.set_index("area")
    # d1: (34 + 35)/2 = 34.5 → 34 → IAQI 49 (优, no primary), though B alone is 50
    assert values.loc["d1", "PM2.5"] == 34.5 and out.loc["d1", "iaqi_PM2.5"] == 49
    assert out.loc["d1", "aqi"] == 49 and out.loc["d1", "primary"] == ""
    # d2: 35.5 → 36 → 52 (良, primary PM2.5)
    assert out.loc["d2", "aqi"] == 52 and out.loc["d2", "primary"] == "PM2.5"
    # d3: the valid station only (E has no PM2.5): 70 → 94
    assert values.loc["d3", "n_PM2.5"] == 1 and out.loc["d3", "aqi"] == 94
    # the city: (34 + 35 + 35 + 36 + 70)/5 = 42 → 50 + 50·7/40 = 58.75 → 59
    assert values.loc["c", "n_PM2.5"] == 5 and out.loc["c", "aqi"] == 59
    assert list(out.loc[list("ABCDEF"), "aqi"].astype(float).fillna(-1)) == [49, 50, 50, 52,
                                                                             -1, 94]


def test_hourly_export_layout():
    frame = hourly(start="2026-06-01", hours=24, SO2=10, NO2=40, PM10=50, PM25=60.5, CO=1.25,
                   O3=50)
    frame.loc[3, "NO2"] = np.nan
    members = pd.DataFrame({"level": ["city"], "area": ["c"], "station": ["S1"],
                            "grade": ["II"]})
    values, aqi = hourly_table(frame, members, start="2026-06-01 02:00", end="2026-06-01 03:00")
    published = pd.DataFrame({"station": ["S1"], "time": [pd.Timestamp("2026-06-01 02:00")],
                              "aqi": [99]})
    table = hourly_export(values, aqi, iaqi=True, published=published)
    assert list(table.columns) == ["level", "area", "time", "pollutant", "value", "reported",
                                   "valid"]
    first = table[(table["area"] == "S1") & (table["time"] == "2026-06-01 02:00")]
    assert list(first["pollutant"]) == [*POLLUTANTS, "AQI", *(f"IAQI_{p}" for p in POLLUTANTS),
                                        "AQI_published"]
    row = first.set_index("pollutant")
    from decimal import Decimal
    # half-even, and written as published: CO "1.2", PM2.5 "60" (not 60.0)
    assert row.loc["CO", "value"] == 1.25 and row.loc["CO", "reported"] == Decimal("1.2")
    assert str(row.loc["PM2.5", "reported"]) == "60" and str(row.loc["CO", "reported"]) == "1.2"
    assert row.loc["PM2.5", "reported"] == 60 and row.loc["AQI", "reported"] == 100
    assert row.loc["AQI_published", "reported"] == 99
    later = table[(table["area"] == "S1") & (table["time"] == "2026-06-01 03:00")]
    later = later.set_index("pollutant")
    assert not later.loc["NO2", "valid"] and pd.isna(later.loc["NO2", "value"])
    assert not later.loc["AQI", "valid"]                   # NO2 missing, AQI 100 ≤ 100
    assert not later.loc["AQI_published", "valid"]
    assert list(table["level"].unique()) == ["station", "city"]
    assert set(table["time"]) == {"2026-06-01 02:00", "2026-06-01 03:00"}


def test_area_means_are_those_of_area_hourly(shared_data):
    """The hourly AQI's area 1-h means (vectorised over many areas) are, to the last bit,
    ``averaging.area_hourly``'s (exact decimal means) — here on the real Beijing hours."""
    from config.sites import load_site_config
    from indicators.averaging import area_hourly
    from ingest.prsa import files_in, read_prsa
    from tests.conftest import BEIJING_SITES
    frames = []
    for path in files_in(shared_data / "beijing-multisite"):
        long = read_prsa(path)
        long = long[long["time"].between("2016-03-01", "2016-03-03 23:00")]
        frames.append(long.pivot_table(index=["station", "time"], columns="pollutant",
                                       values="value", observed=True).reset_index())
    frame = pd.concat(frames, ignore_index=True)
    site = load_site_config(BEIJING_SITES)
    members = pd.DataFrame([(lv, a, s.code, "II") for s in site.stations if s.is_evaluation
                            for lv, a in (("district", s.district), ("city", "beijing"))],
                           columns=["level", "area", "station", "grade"])
    values, _ = hourly_table(frame, members)
    ours = values[values["level"] != "station"].reset_index(drop=True)
    theirs = area_hourly(frame, members)
    theirs = theirs[np.any([theirs[f"n_{p}"] > 0 for p in POLLUTANTS], axis=0)]
    theirs = theirs.reset_index(drop=True)
    assert list(ours["area"]) == list(theirs["area"].astype(str))
    for p in POLLUTANTS:
        np.testing.assert_array_equal(ours[p].to_numpy(), theirs[p].to_numpy())
        np.testing.assert_array_equal(ours[f"n_{p}"].to_numpy(), theirs[f"n_{p}"].to_numpy())
