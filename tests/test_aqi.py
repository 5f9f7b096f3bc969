"""HJ 633 AQI (standards.md §5) and the US EPA AQI (§8): every worked example and
regression case of the spec, the missing-input rule, level boundaries, and
properties (AQI = max IAQI, IAQI monotone, primary ⇔ IAQI == AQI)."""
import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.standards import load_profile
from indicators.aqi import (AQI_COLUMNS, MISSING, daily_aqi, hourly_aqi, iaqi, molar_volume,
                            us_epa_aqi)
from indicators.frames import DAILY_COLUMNS, DAILY_QUANTITIES
from indicators.rounding import round_half_even

P2012, P2026, PFINAL = "cn-2012", "cn-2026-transition", "cn-2026-final"
CN = (P2012, P2026, PFINAL)

# The worked example of §5 (rounded daily values).
WORKED = {"SO2": 12, "NO2": 45, "CO": 1.3, "O3_MDA8": 150, "PM10": 98, "PM2.5": 61,
          "O3_1H_MAX": 180}
LOW = {"SO2": 0, "NO2": 0, "CO": 0.0, "O3_MDA8": 0, "PM10": 0, "PM2.5": 0, "O3_1H_MAX": 0}


def daily_frame(days, *, level="city", area="A", profile=None):
    """A long daily frame (DAILY_COLUMNS) by hand.

    ``days`` maps a date to {quantity: reported value}; a value of ``None``
    means the quantity is not valid that day; an absent key, no row at all.
    """
    rows = []
    for date, values in days.items():
        for quantity, value in values.items():
            valid = value is not None
            rows.append({"level": level, "area": area, "date": pd.Timestamp(date),
                         "pollutant": quantity, "value": np.nan if value is None else value,
                         "reported": np.nan if value is None else value, "valid": valid,
                         "n_valid": 24 if valid else 5, "n_required": 20, "profile": profile})
    frame = pd.DataFrame(rows, columns=list(DAILY_COLUMNS))
    frame["valid"] = frame["valid"].astype(bool)
    return frame


def one_day(values, profile, date="2025-06-01"):
    out = daily_aqi(daily_frame({date: values}), profile=profile)
    assert len(out) == 1
    return out.iloc[0]


def one(value, quantity, profile, **kw):
    v, beyond = iaqi(value, quantity, profile, **kw)
    return int(v), bool(beyond)


# ---------------------------------------------------------------- regression cases (§5)
def test_co_2_2_is_55_not_56():
    # The float trap the spec warns about …
    assert math.ceil((50 - 0) / (2 - 0) * (2.2 - 0) + 0) == 56
    # … and the exact answer.
    for p in CN:
        assert one(2.2, "CO_24h", p) == (55, False)


def test_so2_24h_at_the_breakpoint_150_is_100():
    for p in CN:
        assert one(150, "SO2_24h", p) == (100, False)
        assert one(151, "SO2_24h", p) == (101, False)


def test_pm25_daily_mean_60_5_rounds_to_60_and_is_moderate_under_2026():
    published = round_half_even(60.5, 0)
    assert published == 60
    assert one(published, "PM2.5_24h", P2026) == (100, False)
    assert one(60.5, "PM2.5_24h", P2026) == (100, False)      # off-grid input is published first
    day = one_day({**LOW, "PM2.5": published}, P2026)
    assert day.aqi == 100 and day.category_zh == "良" and day.level_no == 2
    assert day.primary == "PM2.5"


def test_so2_1h_801():
    assert one(801, "SO2_1h", P2026) == (200, False)
    assert one(801, "SO2_1h", PFINAL) == (200, False)
    # 2012: the 24-h IAQI is reported instead (SO2 24-h 300 → ceil(100 + 50·150/325) = 124).
    fallback = iaqi(300, "SO2_24h", P2012)
    assert int(fallback[0]) == 124
    assert one(801, "SO2_1h", P2012, fallback=fallback) == (124, False)
    assert one(801, "SO2_1h", P2012) == (MISSING, False)        # no 24-h value: no IAQI
    assert one(800, "SO2_1h", P2012) == (200, False)            # at the top: still the table


def test_o3_8h_900():
    assert one(900, "O3_8h", P2026) == (300, False)
    assert one(900, "O3_8h", PFINAL) == (300, False)
    # 2012: the O3 1-h IAQI instead (1-h 950 → 300 + 100·150/200 = 375).
    fb = iaqi(950, "O3_1h", P2012)
    assert one(900, "O3_8h", P2012, fallback=fb) == (375, False)
    day = one_day({**LOW, "O3_MDA8": 900, "O3_1H_MAX": 950}, P2012)
    assert day.aqi == 375 and day.iaqi_O3_8h == 375 and day.iaqi_O3_1h == 375
    day26 = one_day({**LOW, "O3_MDA8": 900, "O3_1H_MAX": 950}, P2026)
    assert day26.aqi == 300 and day26.primary == "O3_8h" and pd.isna(day26.iaqi_O3_1h)


def test_o3_8h_above_800_under_2012_without_the_1h_max_is_missing():
    day = one_day({**LOW, "O3_MDA8": 900, "O3_1H_MAX": None}, P2012)
    assert pd.isna(day.iaqi_O3_8h) and pd.isna(day.iaqi_O3_1h)
    assert day.missing == "O3_1h,O3_8h" and pd.isna(day.aqi)


def test_beyond_table():
    assert one(700, "PM10_24h", P2012) == (500, True)
    assert one(600, "PM10_24h", P2012) == (500, False)
    day = one_day({**LOW, "PM2.5": 520}, P2026)
    assert day.aqi == 500 and day.beyond_table and day.level_no == 6


# ---------------------------------------------------------------- the worked example (§5)
WORKED_IAQI = {
    P2026: {"SO2": 12, "NO2": 57, "CO": 33, "O3_8h": 92, "PM10": 85, "PM2.5": 101},
    P2012: {"SO2": 12, "NO2": 57, "CO": 33, "O3_8h": 92, "PM10": 74, "PM2.5": 83, "O3_1h": 75},
}


@pytest.mark.parametrize("profile", [P2026, P2012])
def test_worked_example_iaqis(profile):
    day = one_day(WORKED, profile)
    for name, expected in WORKED_IAQI[profile].items():
        assert day[f"iaqi_{name}"] == expected, name
    if profile == P2026:
        assert pd.isna(day.iaqi_O3_1h)          # 2026 does not use the O3 1-h maximum


def test_worked_example_2026():
    day = one_day(WORKED, P2026)
    assert (day.aqi, day.category_zh, day.category_en, day.primary) == \
        (101, "轻度污染", "Lightly polluted", "PM2.5")
    assert day.level_no == 3 and day.colour == "#FF7E00"
    assert day.exceeding == "" and day.missing == "" and not day.good and not day.heavy


def test_worked_example_2012():
    day = one_day(WORKED, P2012)
    assert (day.aqi, day.category_zh, day.primary) == (92, "良", "O3_8h")
    assert day.level_no == 2 and day.colour == "#FFFF00" and day.good
    assert day.exceeding == ""


def test_worked_example_iaqi_function():
    assert one(61, "PM2.5_24h", P2026)[0] == 101
    assert one(61, "PM2.5_24h", P2012)[0] == 83
    assert one(98, "PM10_24h", P2026)[0] == 85
    assert one(98, "PM10_24h", P2012)[0] == 74
    assert one(180, "O3_1h", P2012)[0] == 75
    assert one(1.3, "CO_24h", P2012)[0] == 33
    v, beyond = iaqi([12, 45, np.nan], "SO2_24h", P2012)
    assert list(v) == [12, 45, MISSING] and not beyond.any()


def test_profile_per_day_from_the_schedule_and_forced():
    frame = daily_frame({"2026-02-28": WORKED, "2026-03-01": WORKED})   # profile column empty
    out = daily_aqi(frame)
    assert list(out.profile) == [P2012, P2026]
    assert list(out.aqi) == [92, 101]
    named = frame.assign(profile=P2026)
    assert list(daily_aqi(named).aqi) == [101, 101]
    assert list(daily_aqi(frame, profile=P2012).aqi) == [92, 92]
    assert list(daily_aqi(frame, profile=load_profile(PFINAL)).profile) == [PFINAL, PFINAL]


# ---------------------------------------------------------------- missing-input rule (§5)
def test_missing_input_published_when_above_100():
    # PM2.5 82 under 2026: 100 + 50·22/55 = 120 exactly.
    day = one_day({**LOW, "PM2.5": 82, "NO2": None}, P2026)
    assert day.aqi == 120 and day.missing == "NO2" and day.primary == "PM2.5"
    assert day.category_zh == "轻度污染"
    absent = {k: v for k, v in LOW.items() if k != "NO2"}                # no row at all
    day = one_day({**absent, "PM2.5": 82}, P2026)
    assert day.aqi == 120 and day.missing == "NO2"


def test_missing_input_na_when_100_or_below():
    # PM10 92 under 2026: 50 + 50·42/70 = 80 exactly.
    day = one_day({**LOW, "PM10": 92, "SO2": None}, P2026)
    assert pd.isna(day.aqi) and day.missing == "SO2" and day.iaqi_PM10 == 80
    assert pd.isna(day.category_zh) and pd.isna(day.level_no) and pd.isna(day.good)
    assert day.primary == ""
    # The bar is "> 100": exactly 100 is not published, 101 is.
    assert pd.isna(one_day({**LOW, "SO2": 150, "NO2": None}, P2026).aqi)
    assert one_day({**LOW, "SO2": 151, "NO2": None}, P2026).aqi == 101
    # Nothing valid at all: no AQI.
    nothing = one_day({k: None for k in LOW}, P2026)
    assert pd.isna(nothing.aqi) and nothing.missing == "SO2,NO2,CO,PM10,PM2.5,O3_8h"


def test_2012_day_missing_only_the_o3_1h_max_has_a_missing_input():
    values = {**WORKED, "O3_1H_MAX": None}
    day = one_day(values, P2012)
    assert day.missing == "O3_1h" and pd.isna(day.aqi)        # 92 ≤ 100 → not published
    no_row = {k: v for k, v in WORKED.items() if k != "O3_1H_MAX"}
    assert one_day(no_row, P2012).missing == "O3_1h"
    # Under 2026 the 1-h maximum is no input: its absence changes nothing.
    assert one_day(no_row, P2026).aqi == 101 and one_day(no_row, P2026).missing == ""
    # Only the MDA8 missing under 2012: also a missing input.
    assert one_day({**WORKED, "O3_MDA8": None}, P2012).missing == "O3_8h"


def test_invalid_values_are_not_used_even_when_reported():
    frame = daily_frame({"2025-06-01": {**LOW, "PM2.5": 200}})
    frame.loc[frame.pollutant == "PM2.5", "valid"] = False       # reported but not valid
    day = daily_aqi(frame, profile=P2012).iloc[0]
    assert day.missing == "PM2.5" and pd.isna(day.aqi)


# ---------------------------------------------------------------- levels (§5)
SPEC_LEVELS = [  # (AQI, level, zh, en, colour) — the boundaries on both sides
    (0, 1, "优", "Good", "#00E400"), (50, 1, "优", "Good", "#00E400"),
    (51, 2, "良", "Moderate", "#FFFF00"), (100, 2, "良", "Moderate", "#FFFF00"),
    (101, 3, "轻度污染", "Lightly polluted", "#FF7E00"),
    (150, 3, "轻度污染", "Lightly polluted", "#FF7E00"),
    (151, 4, "中度污染", "Moderately polluted", "#FF0000"),
    (200, 4, "中度污染", "Moderately polluted", "#FF0000"),
    (201, 5, "重度污染", "Heavily polluted", "#99004C"),
    (300, 5, "重度污染", "Heavily polluted", "#99004C"),
    (301, 6, "严重污染", "Severely polluted", "#7E0023"),
]
# SO2 24-h concentrations giving exactly those AQIs (all other inputs 0).
SO2_FOR_AQI = {0: 0, 50: 50, 51: 51, 100: 150, 101: 151, 150: 475, 151: 476, 200: 800,
               201: 801, 300: 1600, 301: 1601}


@pytest.mark.parametrize("profile", CN)
def test_level_boundaries(profile):
    days = {pd.Timestamp("2025-01-01") + pd.Timedelta(days=i): {**LOW, "SO2": SO2_FOR_AQI[a]}
            for i, (a, *_) in enumerate(SPEC_LEVELS)}
    out = daily_aqi(daily_frame(days), profile=profile)
    for row, (a, level, zh, en, colour) in zip(out.itertuples(), SPEC_LEVELS):
        assert (row.aqi, row.level_no, row.category_zh, row.category_en, row.colour) == \
            (a, level, zh, en, colour)
        assert row.good == (a <= 100) and row.heavy == (a > 200)
        assert row.primary == ("SO2" if a > 50 else "")   # no primary pollutant at AQI ≤ 50
        exceeding = "SO2" if (a > 100 and profile == P2012) else ""
        assert row.exceeding == exceeding                  # 2012 only


def test_ties_name_every_primary_pollutant():
    # SO2 24-h 150 → 100 and PM10 150 → 100 (2012): both are primary.
    day = one_day({**LOW, "SO2": 150, "PM10": 150}, P2012)
    assert day.aqi == 100 and day.primary == "SO2,PM10"


def test_exceeding_lists_every_input_above_100_under_2012():
    day = one_day({**LOW, "SO2": 151, "PM2.5": 150, "NO2": 80}, P2012)
    assert day.exceeding == "SO2,PM2.5" and day.primary == "PM2.5" and day.aqi == 200
    assert one_day({**LOW, "SO2": 151, "PM2.5": 150}, P2026).exceeding == ""


# ---------------------------------------------------------------- the frame contract
def test_output_columns_rows_and_order():
    frame = pd.concat([daily_frame({"2025-01-02": WORKED, "2025-01-01": WORKED}, area="B"),
                       daily_frame({"2025-01-01": WORKED}, area="A", level="station")])
    out = daily_aqi(frame)
    assert tuple(out.columns) == AQI_COLUMNS
    assert list(zip(out.level, out.area, out.date.dt.strftime("%F"))) == [
        ("city", "B", "2025-01-01"), ("city", "B", "2025-01-02"), ("station", "A", "2025-01-01")]
    assert str(out.aqi.dtype) == "Int64" and str(out.level_no.dtype) == "Int64"


def test_duplicate_rows_and_unknown_quantities_raise():
    frame = daily_frame({"2025-01-01": WORKED})
    with pytest.raises(ValueError, match="more than one row"):
        daily_aqi(pd.concat([frame, frame.iloc[:1]]))
    bad = frame.copy()
    bad.loc[0, "pollutant"] = "O3"
    with pytest.raises(ValueError, match="unknown pollutant"):
        daily_aqi(bad)
    with pytest.raises(ValueError, match="lacks columns"):
        daily_aqi(frame.drop(columns="valid"))


def test_mixed_profiles_for_one_day_raise():
    frame = daily_frame({"2025-01-01": WORKED}, profile=P2012)
    frame.loc[0, "profile"] = P2026
    with pytest.raises(ValueError, match="different profiles"):
        daily_aqi(frame)


def test_empty_frame():
    out = daily_aqi(daily_frame({}))
    assert len(out) == 0 and tuple(out.columns) == AQI_COLUMNS


# ---------------------------------------------------------------- hourly AQI
def test_hourly_aqi_2026_uses_pm_1h_on_the_24h_table():
    hours = pd.DataFrame({"level": "city", "area": "A",
                          "time": pd.to_datetime(["2026-05-01 10:00", "2026-05-01 11:00"]),
                          "SO2_1h": [10, 801], "NO2_1h": [50, 50], "CO_1h": [0.6, 0.6],
                          "O3_1h": [100, 100], "PM10_1h": [98, 98], "PM2.5_1h": [61, np.nan]})
    out = hourly_aqi(hours, P2026)
    assert list(out.aqi.astype("float").fillna(-1)) == [101, 200]
    # inputs named by their profile keys are accepted; outputs name the pollutant (§5)
    assert out.primary.iloc[0] == "PM2.5" and out.missing.iloc[1] == "PM2.5"
    assert out.iaqi_SO2.iloc[1] == 200
    assert list(out.profile) == [P2026, P2026]
    assert hourly_aqi(hours).profile.iloc[0] == P2026                 # from the schedule


def test_hourly_aqi_2012_inputs_and_the_so2_fallback():
    # cn-2012 hourly AQI: the six 1-h values (PM 1-h on the 24-h table), no O3 8-h (§5)
    base = {"level": "city", "area": "A", "time": pd.to_datetime(["2025-05-01 10:00"] * 2),
            "SO2": [801, 801], "NO2": [50, 50], "CO": [0.6, 0.6], "O3": [180, 180],
            "PM10": [98, 98], "PM2.5": [61, 61]}
    out = hourly_aqi(pd.DataFrame(base), P2012)
    assert out.missing.iloc[0] == "SO2" and pd.isna(out.iaqi_SO2.iloc[0])
    assert pd.isna(out.aqi.iloc[0])                   # 83 from the others: not > 100
    out = hourly_aqi(pd.DataFrame({**base, "SO2_24h": [300, np.nan]}), P2012)
    assert out.iaqi_SO2.iloc[0] == 124 and out.aqi.iloc[0] == 124
    assert out.primary.iloc[0] == "SO2" and out.exceeding.iloc[0] == "SO2"
    assert pd.isna(out.iaqi_SO2.iloc[1])
    assert out.iaqi_O3.iloc[0] == 75 and out.iaqi_PM10.iloc[0] == 74
    assert out["iaqi_PM2.5"].iloc[0] == 83
    assert "iaqi_O3_8h" not in out.columns
    with pytest.raises(ValueError, match="lacks columns"):
        hourly_aqi(pd.DataFrame(base).drop(columns="O3"), P2012)


# ---------------------------------------------------------------- properties
def exact_iaqi(c, quantity, profile):
    """Fraction-based reference within the table (§5 formula, lower segment at a breakpoint)."""
    prof = load_profile(profile)
    bp = [Fraction(str(b)) for b in prof.aqi["breakpoints"][quantity]]
    steps = prof.aqi["iaqi"]
    c = Fraction(str(c))
    for i in range(1, len(bp)):
        if c <= bp[i]:
            x = Fraction(steps[i] - steps[i - 1]) * (c - bp[i - 1]) / (bp[i] - bp[i - 1])
            return math.ceil(x + steps[i - 1])
    raise AssertionError("above the table")


QUANTITIES = ["SO2_24h", "SO2_1h", "NO2_24h", "NO2_1h", "CO_24h", "CO_1h", "O3_1h", "O3_8h",
              "PM10_24h", "PM2.5_24h"]


@given(st.sampled_from(QUANTITIES), st.sampled_from(CN), st.data())
@settings(max_examples=500, deadline=None)
def test_iaqi_exact_and_monotone(quantity, profile, data):
    top = load_profile(profile).aqi["breakpoints"][quantity][-1]
    scale = 10 if quantity.startswith("CO") else 1
    ints = data.draw(st.lists(st.integers(0, top * scale), min_size=2, max_size=30))
    conc = np.sort(np.array(ints)) / scale
    values, beyond = iaqi(conc, quantity, profile)
    assert not beyond.any()
    assert np.all(np.diff(values) >= 0)                                 # monotone
    assert [int(v) for v in values] == [exact_iaqi(c, quantity, profile) for c in conc]


def _daily_values():
    def tenth(hi):
        return st.integers(0, hi).map(lambda v: v / 10)
    return st.fixed_dictionaries({
        "SO2": st.integers(0, 2700), "NO2": st.integers(0, 1000), "CO": tenth(650),
        "O3_MDA8": st.integers(0, 800), "PM10": st.integers(0, 650),
        "PM2.5": st.integers(0, 550), "O3_1H_MAX": st.integers(0, 1300)})


@given(st.lists(_daily_values(), min_size=1, max_size=15), st.sampled_from(CN))
@settings(max_examples=150, deadline=None)
def test_aqi_is_the_max_iaqi_and_primaries_equal_it(days, profile):
    frame = daily_frame({pd.Timestamp("2025-01-01") + pd.Timedelta(days=i): d
                         for i, d in enumerate(days)})
    out = daily_aqi(frame, profile=profile)
    names = [c for c in out.columns if c.startswith("iaqi_")]
    used = [n for n in names if out[n].notna().all()]
    assert len(used) == (7 if profile == P2012 else 6)
    for _, row in out.iterrows():
        iaqis = {n[len("iaqi_"):]: int(row[n]) for n in used}
        assert row.aqi == max(iaqis.values())
        primary = row.primary.split(",") if row.primary else []
        if row.aqi > 50:
            assert primary and all(iaqis[p] == row.aqi for p in primary)
            assert {p for p, v in iaqis.items() if v == row.aqi} == set(primary)
        else:
            assert primary == []


def test_every_daily_quantity_has_an_input():
    from indicators.aqi import DAILY_INPUTS
    assert set(DAILY_INPUTS) == set(DAILY_QUANTITIES)


# ---------------------------------------------------------------- US EPA AQI (§8)
def test_us_epa_pm25_examples():
    out = us_epa_aqi({"PM2.5_24h": [35.9, 9.05, 9.0, 9.1, 325.4, 400.0, np.nan]})
    assert list(out.aqi.astype("float").fillna(-1)) == [102, 50, 50, 51, 500, 500, -1]
    assert list(out.beyond_table) == [False] * 5 + [True, False]
    assert out.category_en.iloc[0] == "Unhealthy for sensitive groups"
    assert out.colour.iloc[1] == "#00E400" and out.primary.iloc[0] == "PM2.5_24h"


def test_us_epa_gases_converted_at_25c():
    assert molar_volume(25) == Fraction("24.465")
    # O3 8-h 153.1 µg/m³ = 0.078041 ppm → truncated 0.078 → 101 + 49·7/14 = 125.5 → 126 (half up).
    out = us_epa_aqi(pd.DataFrame({"O3_8h": [153.1], "PM2.5_24h": [9.0], "CO_8h": [1.3],
                                   "SO2_1h": [np.nan], "NO2_1h": [45]}, index=[7]))
    assert out.index.tolist() == [7]
    row = out.iloc[0]
    assert row.aqi == 126 and row.primary == "O3_8h"
    # CO 1.3 mg/m³ = 1.1355 ppm → 1.1 → 50·1.1/4.4 = 12.5 → 13.
    assert row.aqi_CO_8h == 13
    # NO2 45 µg/m³ = 23.93 ppb → 23 → 50·23/53 = 21.7 → 22.
    assert row.aqi_NO2_1h == 22 and pd.isna(row.aqi_SO2_1h)


def test_us_epa_so2_above_its_1h_table_is_not_indexed():
    # 304 ppb is the top of the 1-h SO2 bands: 1000 µg/m³ = 381 ppb is above it.
    out = us_epa_aqi({"SO2_1h": [1000.0], "PM2.5_24h": [20.0]})
    assert pd.isna(out.aqi_SO2_1h.iloc[0]) and out.beyond_table.iloc[0]
    assert out.primary.iloc[0] == "PM2.5_24h"
