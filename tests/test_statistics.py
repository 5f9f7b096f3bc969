"""Period statistics (indicators.statistics): exact percentiles and means, the validity
ledger, exceedances across the 2026 switch, compliance, AQI days, change rates."""
from __future__ import annotations

import dataclasses
from datetime import date
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.standards import load_profile, load_schedule
from indicators.frames import DAILY_COLUMNS, STAT_COLUMNS
from indicators.rounding import round_half_even
from indicators.statistics import change_rate, exceedances, period_statistics

QUANTS = ("SO2", "NO2", "PM10", "PM2.5", "CO", "O3_MDA8")
EXAMPLE = [18, 23, 27, 29, 31, 33, 36, 39, 41, 44, 45, 48, 52, 55, 58, 62, 64, 71, 80, 95]


# --------------------------------------------------------------------------- builders

def series(values, pollutant="PM2.5", start="2015-01-01", area="A", level="station",
           valid=True, dates=None, profile=None) -> pd.DataFrame:
    """Daily rows of one quantity; reported = published (half-even) value."""
    values = np.asarray(values, dtype="float64")
    if dates is None:
        dates = pd.date_range(start, periods=len(values))
    dates = pd.DatetimeIndex(dates)
    dec = 1 if pollutant == "CO" else 0
    if profile is None:
        prof = load_schedule().in_force(dates.to_numpy().astype("datetime64[D]"))
    else:
        prof = np.full(len(values), profile, dtype=object)
    return pd.DataFrame({
        "level": level, "area": area, "date": dates.as_unit("s"), "pollutant": pollutant,
        "value": values, "reported": round_half_even(values, dec),
        "valid": np.broadcast_to(np.asarray(valid, dtype=bool), values.shape).copy(),
        "n_valid": 24, "n_required": 20, "profile": pd.array(prof, dtype="str"),
    })[list(DAILY_COLUMNS)]


def concat(*frames) -> pd.DataFrame:
    return pd.concat(frames, ignore_index=True)


def valid_pattern(year: int, per_month: list[int]) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Every day of ``year``; the first per_month[m] days of each month valid."""
    dates = pd.date_range(f"{year}-01-01", f"{year}-12-31")
    valid = (dates.day <= np.asarray(per_month)[dates.month - 1])
    return dates, np.asarray(valid)


def one(stats, pollutant, statistic, **match) -> pd.Series:
    sel = (stats["pollutant"] == pollutant) & (stats["statistic"] == statistic)
    for k, v in match.items():
        sel &= stats[k] == v
    rows = stats[sel]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def all_quantities(values_of, year=2015, area="A", valid=None, **kw) -> pd.DataFrame:
    dates = pd.date_range(f"{year}-01-01", f"{year}-12-31")
    return concat(*[series(values_of(q, len(dates)), q, dates=dates, area=area,
                           valid=True if valid is None else valid, **kw) for q in QUANTS])


# --------------------------------------------------------------------------- percentiles

def test_percentile_example_is_exact():
    frames = [series(EXAMPLE, q, start="2015-03-01") for q in ("SO2", "PM10", "O3_MDA8")]
    frames.append(series(np.array(EXAMPLE) / 10, "CO", start="2015-03-01"))
    stats = period_statistics(concat(*frames), period="month")
    p98 = one(stats, "SO2", "p98_daily")
    p95 = one(stats, "PM10", "p95_daily")
    p90 = one(stats, "O3", "p90_mda8")
    co = one(stats, "CO", "p95_daily")
    assert (p98["value"], p98["reported"]) == (89.3, 89.0)
    assert (p95["value"], p95["reported"]) == (80.75, 81.0)
    assert (p90["value"], p90["reported"]) == (71.9, 72.0)
    assert (co["value"], co["reported"]) == (8.075, 8.1)
    assert p90["period"] == "2015-03" and p90["n_valid"] == 20 and not p90["valid"]


def test_percentile_without_float_noise():
    # X(18) = 252, X(19) = 277 of 20 values: P90 = 252 + 25 × 0.1 = 254.5 exactly → 254
    # (half-even); numpy's float percentile gives 254.50000000000003 and would publish 255.
    values = np.array(list(range(100, 117)) + [252, 277, 300], dtype=float)
    assert np.percentile(values, 90) == 254.50000000000003          # the trap is real
    assert round_half_even(np.percentile(values, 90), 0) == 255
    rng = np.random.default_rng(3)
    shuffled = rng.permutation(values)
    stats = period_statistics(series(shuffled, "O3_MDA8", start="2015-06-01"), period="month")
    p90 = one(stats, "O3", "p90_mda8")
    assert p90["value"] == 254.5 and p90["reported"] == 254.0


def test_percentile_single_value_and_top():
    # n = 1: the value itself; k = n exactly gives X(n)
    stats = period_statistics(series([57], "PM10", start="2015-06-01"), period="month")
    assert one(stats, "PM10", "p95_daily")["reported"] == 57
    stats = period_statistics(series([10, 20], "SO2", start="2015-06-01"), period="month")
    assert one(stats, "SO2", "p98_daily")["value"] == 19.8


# --------------------------------------------------------------------------- means

@pytest.mark.parametrize("values,expected", [([34, 35], 34), ([35, 36], 36), ([34, 35, 35], 35),
                                             ([1, 2, 2, 2], 2)])
def test_mean_half_even_exact(values, expected):
    stats = period_statistics(series(values, "NO2", start="2015-05-01"), period="month")
    row = one(stats, "NO2", "annual_mean")
    assert row["reported"] == expected
    assert row["value"] == float(Fraction(sum(values), len(values)))


def test_co_mean_half_even():
    # CO to 0.1 mg/m³: mean 1.25 → 1.2, 1.35 → 1.4 (standards.md §4)
    a = series([1.2, 1.3], "CO", start="2015-05-01", area="a")
    b = series([1.3, 1.4], "CO", start="2015-05-01", area="b")
    stats = period_statistics(concat(a, b), period="month")
    co = stats[(stats["pollutant"] == "CO") & (stats["statistic"] == "p95_daily")]
    # the CO period statistic is the P95: 1.2 + 0.1 × 0.95 = 1.295 → 1.3; 1.395 → 1.4
    assert co["reported"].tolist() == [1.3, 1.4]


def test_mean_from_rounded_daily_by_default_and_unrounded_when_set():
    daily = series([34.4, 35.4], "PM10", start="2015-05-01")   # reported 34, 35
    assert one(period_statistics(daily, period="month"), "PM10", "annual_mean")["reported"] == 34
    base = load_profile("cn-2012")
    raw = dict(base.raw, rounding=dict(base.raw["rounding"], period_from_rounded_daily=False))
    unrounded = dataclasses.replace(base, raw=raw)
    row = one(period_statistics(daily, period="month", profile=unrounded), "PM10", "annual_mean")
    assert row["reported"] == 35 and abs(row["value"] - 34.9) < 1e-12


# --------------------------------------------------------------------------- validity ledger

@pytest.mark.parametrize("n,valid", [(26, False), (27, True)])
def test_month_26_vs_27_days(n, valid):
    values = np.full(31, 40.0)
    flags = np.arange(31) < n
    stats = period_statistics(series(values, "PM2.5", start="2015-03-01", valid=flags),
                              period="month")
    row = one(stats, "PM2.5", "annual_mean")
    assert row["valid"] == valid and row["n_valid"] == n and row["n_required"] == 27
    assert row["rule"] == "month: ≥27 valid days"
    assert row["detail"] == ("" if valid else "2015-03: 26 valid days, needs 27")
    assert row["reported"] == 40             # an invalid statistic keeps its number


@pytest.mark.parametrize("year,n,valid", [(2015, 24, False), (2015, 25, True), (2016, 25, True)])
def test_february_24_vs_25_days(year, n, valid):
    days = 29 if year == 2016 else 28
    stats = period_statistics(series(np.full(n, 20.0), "SO2", start=f"{year}-02-01"),
                              period="month")
    row = one(stats, "SO2", "p98_daily")
    assert row["valid"] == valid and row["n_required"] == 25
    assert row["rule"] == "month (February): ≥25 valid days"
    assert row["end"] == pd.Timestamp(f"{year}-02-{days}")
    if not valid:
        assert row["detail"] == f"{year}-02: 24 valid days, needs 25"


MINIMUM = [27, 25, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27]          # 322 days


@pytest.mark.parametrize("extra,valid", [([1, 0], False), ([1, 1], True)])   # 323 / 324
def test_year_323_vs_324_days(extra, valid):
    per_month = list(MINIMUM)
    per_month[0] += extra[0]
    per_month[1] += extra[1]
    dates, flags = valid_pattern(2015, per_month)
    stats = period_statistics(series(np.full(len(dates), 50.0), "PM10", dates=dates, valid=flags))
    row = one(stats, "PM10", "p95_daily")
    assert row["n_valid"] == sum(per_month) and row["n_required"] == 324
    assert row["valid"] == valid
    assert row["rule"] == "year: ≥324 valid days and every month ≥27 (February ≥25)"
    assert row["detail"] == ("" if valid else "323 valid days, needs 324")
    assert row["period"] == "2015" and row["start"] == pd.Timestamp("2015-01-01")


def test_year_with_330_days_but_one_month_short():
    per_month = [28, 28, 26, 28, 28, 28, 28, 27, 27, 27, 27, 28]
    assert sum(per_month) == 330
    dates, flags = valid_pattern(2015, per_month)
    stats = period_statistics(series(np.full(len(dates), 50.0), "NO2", dates=dates, valid=flags))
    row = one(stats, "NO2", "annual_mean")
    assert row["n_valid"] == 330 and not row["valid"]
    assert row["detail"] == "2015-03: 26 valid days, needs 27"


def test_year_detail_names_every_failure_and_missing_rows():
    per_month = [31, 28, 25, 30, 31, 30, 31, 31, 30, 31, 20, 31]
    dates, flags = valid_pattern(2015, per_month)
    keep = ~((dates.month == 12))                    # December: no rows at all
    stats = period_statistics(series(np.full(keep.sum(), 50.0), "NO2", dates=dates[keep],
                                     valid=flags[keep]))
    row = one(stats, "NO2", "annual_mean")
    assert row["detail"] == ("318 valid days, needs 324; 2015-03: 25 valid days, needs 27; "
                             "2015-11: 20 valid days, needs 27; 2015-12: 0 valid days, needs 27")


def test_year_detail_names_runs_of_empty_months_once():
    dates = pd.date_range("2015-08-01", "2015-12-31")         # a station opened late
    stats = period_statistics(series(np.full(len(dates), 50.0), "NO2", dates=dates))
    row = one(stats, "NO2", "annual_mean")
    assert row["detail"] == "153 valid days, needs 324; 2015-01 to 2015-07: no valid days"


def test_no_valid_days_at_all():
    stats = period_statistics(series([10.0, 11.0], "NO2", start="2015-05-01", valid=False),
                              period="month")
    row = one(stats, "NO2", "annual_mean")
    assert row["detail"] == "no valid days, needs 27" and np.isnan(row["value"])
    # every quantity gets its rows, even those without data
    assert not one(stats, "CO", "p95_daily")["valid"]


def test_quarter_needs_every_month():
    dates = pd.date_range("2015-01-01", "2015-03-31")
    flags = ~((dates.month == 2) & (dates.day > 24))         # February: 24 valid days
    stats = period_statistics(series(np.full(len(dates), 30.0), "PM10", dates=dates,
                                     valid=np.asarray(flags)), period="quarter")
    row = one(stats, "PM10", "annual_mean")
    assert row["period"] == "2015-Q1" and row["n_required"] == 27 + 25 + 27
    assert not row["valid"] and row["detail"] == "2015-02: 24 valid days, needs 25"
    assert row["rule"] == "quarter: every month ≥27 valid days (February ≥25)"


def test_ytd_is_provisional_with_pro_rata_requirement():
    dates = pd.date_range("2015-01-01", "2015-12-31")
    daily = series(np.full(len(dates), 30.0), "PM10", dates=dates)
    stats = period_statistics(daily, period="ytd", ytd_end="2015-03-20")
    row = one(stats, "PM10", "annual_mean")
    assert row["period"] == "2015-YTD-03-20" and row["end"] == pd.Timestamp("2015-03-20")
    assert row["n_valid"] == 79 and row["n_required"] == -(-324 * 79 // 365)   # 71
    assert row["valid"]
    assert row["detail"].startswith("provisional")
    # a short current month: 27 × 20/31 → 18 days needed
    flags = np.asarray(~((dates.month == 3) & (dates.day > 17)))
    stats = period_statistics(series(np.full(len(dates), 30.0), "PM10", dates=dates,
                                     valid=flags), period="ytd", ytd_end="2015-03-20")
    row = one(stats, "PM10", "annual_mean")
    assert not row["valid"]
    assert "2015-03 (days 1–20): 17 valid days, needs 18" in row["detail"]
    # on 31 December the year-to-date rule is the year rule
    row = one(period_statistics(daily, period="ytd", ytd_end="2015-12-31"), "PM10", "annual_mean")
    assert row["n_required"] == 324 and row["valid"] and row["detail"].startswith("provisional")


def test_duplicate_valid_days_are_refused():
    a = series([30.0, 31.0], "PM10", start="2015-05-01")
    with pytest.raises(ValueError, match="more than one valid row for .*PM10 on 2015-05-01"):
        period_statistics(concat(a, a), period="month")
    b = a.assign(valid=False)                          # an invalid duplicate is fine
    period_statistics(concat(a, b), period="month")


# --------------------------------------------------------------------------- exceedances

def test_exceedance_days_across_the_2026_switch():
    # PM2.5 daily 70: under cn-2012 (limit 75) no exceedance, under cn-2026 (60) one
    daily = series([70.0, 70.0, 50.0], "PM2.5", dates=["2026-02-27", "2026-02-28", "2026-03-01"])
    daily.loc[2, "value"] = daily.loc[2, "reported"] = 70.0
    stats = period_statistics(daily, period="year")
    row = one(stats, "PM2.5", "exceedance_days")
    assert row["value"] == 1 and row["profile"] == "cn-2026-transition"
    assert "cn-2012" in row["detail"] and "cn-2026-transition" in row["detail"]
    mm = one(stats, "PM2.5", "max_multiple")
    assert mm["reported"] == 0.17 and abs(mm["value"] - 10 / 60) < 1e-12
    ex = exceedances(daily, None)
    assert ex["date"].tolist() == [pd.Timestamp("2026-03-01")]
    assert ex.iloc[0][["pollutant", "value", "limit", "multiple", "profile"]].tolist() == \
        ["PM2.5", 70.0, 60.0, 0.17, "cn-2026-transition"]
    # forcing the 2012 profile: no exceedance at all
    forced = period_statistics(daily, profile="cn-2012")
    assert one(forced, "PM2.5", "exceedance_days")["value"] == 0
    assert exceedances(daily, None, profile="cn-2012").empty
    # monthly: February under 2012, March under 2026
    monthly = period_statistics(daily, period="month")
    feb = one(monthly, "PM2.5", "exceedance_days", period="2026-02")
    mar = one(monthly, "PM2.5", "exceedance_days", period="2026-03")
    assert (feb["value"], feb["profile"], mar["value"], mar["profile"]) == \
        (0, "cn-2012", 1, "cn-2026-transition")


def test_exceedances_o3_on_mda8_grade_and_multiples():
    o3 = series([160, 161, 200], "O3_MDA8", start="2015-07-01", area="park")
    co = series([4.0, 4.1, 6.3], "CO", start="2015-07-01", area="park")
    ex = exceedances(concat(o3, co), {"park": "I"})
    got = list(zip(ex["pollutant"], ex["averaging"], ex["value"], ex["limit"], ex["multiple"]))
    # CO (4.1 − 4)/4 = 0.025 → 0.02 and 2.3/4 = 0.575 → 0.58, half-even on the exact ratio
    assert got == [("O3", "mda8", 160.0, 100.0, 0.6),
                   ("CO", "24h", 4.1, 4.0, 0.02), ("O3", "mda8", 161.0, 100.0, 0.61),
                   ("CO", "24h", 6.3, 4.0, 0.58), ("O3", "mda8", 200.0, 100.0, 1.0)]
    assert (4.1 - 4) / 4 != 0.025                    # what float arithmetic would round
    stats = period_statistics(concat(o3, co), grades={"park": "I"}, period="month")
    assert one(stats, "O3", "exceedance_days")["value"] == 3
    assert one(stats, "CO", "exceedance_days")["value"] == 2


# --------------------------------------------------------------------------- compliance

def _clean(q, n):
    return np.full(n, {"SO2": 10, "NO2": 30, "PM10": 60, "PM2.5": 30, "CO": 1.0,
                       "O3_MDA8": 120}[q], dtype=float)


def test_compliance_clean_and_dirty_area():
    clean = all_quantities(_clean, area="clean")

    def dirty_values(q, n):
        v = _clean(q, n)
        if q == "PM2.5":
            v[:] = 36                                  # mean 36 > 35
        if q == "PM10":
            v[:20] = 160                               # P95 160 > 150, mean ≈ 65.4 ≤ 70
        return v
    dirty = all_quantities(dirty_values, area="dirty")
    stats = period_statistics(concat(clean, dirty))
    c = stats[stats["area"] == "clean"]
    d = stats[stats["area"] == "dirty"]
    comp_c = c[c["statistic"] == "compliance"].set_index("pollutant")
    comp_d = d[d["statistic"] == "compliance"].set_index("pollutant")
    assert comp_c["value"].to_dict() == {p: 1.0 for p in ("SO2", "NO2", "PM10", "PM2.5",
                                                          "CO", "O3", "ALL")}
    assert comp_c["valid"].all()
    assert comp_d["value"].to_dict() == {"SO2": 1.0, "NO2": 1.0, "PM10": 0.0, "PM2.5": 0.0,
                                         "CO": 1.0, "O3": 1.0, "ALL": 0.0}
    assert one(d, "PM10", "annual_mean")["reported"] == 65
    assert one(d, "PM10", "p95_daily")["reported"] == 160
    # Grade I: PM2.5 mean 30 > 15, O3 P90 120 > 100
    g1 = period_statistics(clean, grades={"clean": "I"})
    comp = g1[g1["statistic"] == "compliance"].set_index("pollutant")["value"]
    assert comp["PM2.5"] == 0 and comp["O3"] == 0 and comp["ALL"] == 0 and comp["SO2"] == 1


def test_compliance_only_for_year_and_ytd_and_all_needs_all_valid():
    daily = all_quantities(_clean)
    assert "compliance" not in set(period_statistics(daily, period="month")["statistic"])
    assert "compliance" in set(period_statistics(daily, period="ytd")["statistic"])
    # CO short of data: CO invalid, ALL invalid with the reason
    short = daily[~((daily["pollutant"] == "CO") & (daily["date"] >= "2015-12-10"))]
    stats = period_statistics(short)
    row = one(stats, "ALL", "compliance")
    assert row["value"] == 1 and not row["valid"]
    assert row["detail"] == "CO: 2015-12: 9 valid days, needs 27"
    assert row["n_valid"] == 343


def test_compliance_compares_the_reported_statistic():
    # PM2.5 mean 35.5 → reported 36 > 35: not compliant though... mean 35.4 → 35: compliant
    def vals(mean_x10):
        def f(q, n):
            v = _clean(q, n)
            if q == "PM2.5":                    # n = 365 days: choose integers with that mean
                total = mean_x10 * n // 10
                v[:] = total // n
                v[: total - int(v.sum())] += 1
            return v
        return f
    s1 = period_statistics(all_quantities(vals(355)))
    assert one(s1, "PM2.5", "annual_mean")["reported"] == 35
    s2 = period_statistics(all_quantities(lambda q, n: np.where(
        np.arange(n) < 183, 36.0, 35.0) if q == "PM2.5" else _clean(q, n)))
    row = one(s2, "PM2.5", "annual_mean")
    assert row["reported"] == 36 and one(s2, "PM2.5", "compliance")["value"] == 0


# --------------------------------------------------------------------------- AQI days

def aqi_frame(values, start="2015-04-01", area="A", level="station"):
    dates = pd.date_range(start, periods=len(values))
    return pd.DataFrame({"level": level, "area": area, "date": dates.as_unit("s"),
                         "profile": "cn-2012", "aqi": pd.array(values, dtype="Int64")})


def test_good_day_ratio_excludes_na_days():
    values = [50] * 10 + [100] * 5 + [None] * 10 + [150, 201, 250, 300, 101]
    stats = period_statistics(series([30.0], "PM10", start="2015-04-01"), aqi_frame(values),
                              period="month")
    get = {s: one(stats, "AQI", s) for s in ("valid_aqi_days", "good_days", "heavy_days",
                                             "good_day_ratio")}
    assert get["valid_aqi_days"]["value"] == 20 and get["good_days"]["value"] == 15
    assert get["heavy_days"]["value"] == 3
    assert get["good_day_ratio"]["reported"] == 75.0
    assert not get["good_day_ratio"]["valid"]
    assert get["good_day_ratio"]["detail"] == "2015-04: 20 valid days, needs 27"
    assert get["good_day_ratio"]["rule"].endswith("counted on days with a valid AQI")


def test_good_day_ratio_rounds_exactly():
    # 2/3 → 66.7; 27 good of 28 → 96.428… → 96.4; 0.05-ties half-even: 1/8 = 12.5 → 12.5
    stats = period_statistics(series([30.0], "PM10", start="2015-04-01"),
                              aqi_frame([50, 50, 150]), period="month")
    assert one(stats, "AQI", "good_day_ratio")["reported"] == 66.7
    # 7 good of 16 = 43.75 → 43.8 (half-even at 0.1: 43.75 → 43.8)
    stats = period_statistics(series([30.0], "PM10", start="2015-04-01"),
                              aqi_frame([50] * 7 + [150] * 9), period="month")
    assert one(stats, "AQI", "good_day_ratio")["reported"] == 43.8
    # 13 good of 80 = 16.25 → 16.2
    stats = period_statistics(series([30.0], "PM10", start="2015-04-01"),
                              aqi_frame([50] * 13 + [150] * 67), period="year")
    assert one(stats, "AQI", "good_day_ratio")["reported"] == 16.2


# --------------------------------------------------------------------------- grades, dust

def test_stations_take_their_districts_grade():
    membership = pd.DataFrame({"level": ["district", "district", "city", "city"],
                               "area": ["park", "town", "C", "C"],
                               "station": ["s1", "s2", "s1", "s2"],
                               "grade": ["I", "II", "II", "II"]})
    daily = concat(series([40.0], "PM2.5", start="2015-05-01", area="s1"),
                   series([40.0], "PM2.5", start="2015-05-01", area="s2"),
                   series([40.0], "PM2.5", start="2015-05-01", area="park", level="district"))
    ex = exceedances(daily, membership)
    assert sorted(zip(ex["level"], ex["area"])) == [("district", "park"), ("station", "s1")]


def test_dust_days_are_removed_from_pm_only():
    pm = series([40.0, 400.0, 40.0], "PM10", start="2015-05-01")
    no2 = series([40.0, 400.0, 40.0], "NO2", start="2015-05-01")
    dust = pd.DataFrame({"area": ["A"], "date": [pd.Timestamp("2015-05-02")]})
    stats = period_statistics(concat(pm, no2), period="month", dust_days=dust)
    row = one(stats, "PM10", "annual_mean")
    assert row["reported"] == 40 and row["n_valid"] == 3
    assert row["detail"] == "2015-05: 3 valid days, needs 27; 1 dust day removed"
    assert one(stats, "PM10", "exceedance_days")["value"] == 0
    assert one(stats, "NO2", "annual_mean")["reported"] == 160
    same = period_statistics(concat(pm, no2), period="month",
                             dust_days={"A": ["2015-05-02"]})
    pd.testing.assert_frame_equal(stats, same)


# --------------------------------------------------------------------------- profiles

def test_comparison_profiles_supply_limits_only():
    daily = all_quantities(_clean)
    who = period_statistics(daily, profile="who-2021")
    assert set(who["profile"]) == {"who-2021"}
    assert one(who, "PM2.5", "exceedance_days")["value"] == 365          # 30 > 15
    assert one(who, "SO2", "compliance")["value"] == 1                   # no annual SO2 guideline
    assert one(who, "PM2.5", "annual_mean")["rule"].startswith("year: ≥324")  # cn-2012 rules
    eu = period_statistics(daily, profile="eu-2030")
    co = one(eu, "CO", "compliance")
    assert np.isnan(co["value"]) and not co["valid"] and "no limit for CO" in co["detail"]
    assert one(eu, "ALL", "compliance")["value"] == 0                    # CO left out, PM fails
    us = period_statistics(daily, profile="us-epa-2024")
    row = one(us, "ALL", "compliance")
    assert np.isnan(row["value"]) and not row["valid"]


def test_aqi_only_area_period_gets_every_row():
    stats = period_statistics(series([], "PM10"), aqi_frame([50, 150, None]), period="month")
    assert one(stats, "AQI", "valid_aqi_days")["value"] == 2
    assert one(stats, "PM10", "annual_mean")["detail"] == "no valid days, needs 27"


def test_profile_is_the_one_in_force_at_the_period_end():
    daily = series(np.full(59 + 31, 40.0), "PM2.5", start="2026-01-01")   # Jan–Mar 2026
    q1 = period_statistics(daily, period="quarter")
    assert set(q1["profile"]) == {"cn-2026-transition"}
    ytd = period_statistics(daily, period="ytd", ytd_end="2026-02-20")
    assert set(ytd["profile"]) == {"cn-2012"}
    assert set(period_statistics(daily, period="year", profile="cn-2012")["profile"]) == {"cn-2012"}


# --------------------------------------------------------------------------- frame, change

def test_frame_contract_and_empty_input():
    stats = period_statistics(series(EXAMPLE, "PM10", start="2015-03-01"), period="month")
    assert list(stats.columns) == list(STAT_COLUMNS)
    assert stats["valid"].dtype == bool
    assert stats.groupby(["level", "area", "period", "pollutant", "statistic"]).size().max() == 1
    empty = period_statistics(series([], "PM10"), period="year")
    assert list(empty.columns) == list(STAT_COLUMNS) and empty.empty
    with pytest.raises(ValueError, match="period"):
        period_statistics(series([1.0], "PM10"), period="week")


def test_change_rate_same_period_last_year():
    cur = period_statistics(concat(series(np.full(28, 36.0), "PM2.5", start="2016-02-01"),
                                   series(np.full(31, 30.0), "PM2.5", start="2016-03-01")),
                            period="month")
    prev = period_statistics(concat(series(np.full(28, 40.0), "PM2.5", start="2015-02-01"),
                                    series(np.full(31, 30.0), "PM2.5", start="2015-03-01")),
                             period="month")
    ch = change_rate(cur, prev)
    feb = one(ch, "PM2.5", "annual_mean", period="2016-02")
    mar = one(ch, "PM2.5", "annual_mean", period="2016-03")
    assert feb["previous_period"] == "2015-02" and feb["change_rate_reported"] == -10.0
    assert mar["change_rate_reported"] == 0.0
    assert bool(feb["improved"]) and feb["change_valid"]
    assert len(ch) == len(cur) and list(ch.columns[:len(STAT_COLUMNS)]) == list(STAT_COLUMNS)


# --------------------------------------------------------------------------- properties

@st.composite
def daily_inputs(draw):
    seed = draw(st.integers(0, 2 ** 32 - 1))
    n_areas = draw(st.integers(1, 3))
    missing = draw(st.sampled_from([0.0, 0.02, 0.1, 0.3]))
    spread = draw(st.sampled_from([3, 40, 400]))      # small spreads make many ties
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2015-01-01", "2016-03-10")
    frames = []
    for a in range(n_areas):
        for q in ("PM2.5", "CO", "O3_MDA8", "NO2"):
            keep = rng.random(len(dates)) > missing / 2
            v = rng.integers(0, spread, len(dates)) + rng.random(len(dates))
            if q == "CO":
                v = v / 10
            frames.append(series(v[keep], q, dates=dates[keep], area=f"s{a}",
                                 valid=rng.random(keep.sum()) > missing))
    aqi = []
    for a in range(n_areas):
        vals = rng.integers(0, 320, len(dates)).astype(object)
        vals[rng.random(len(dates)) < missing] = None
        aqi.append(aqi_frame(list(vals), start=str(dates[0].date()), area=f"s{a}"))
    return concat(*frames), concat(*aqi), rng


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(daily_inputs(), st.sampled_from(["month", "quarter", "year", "ytd"]))
def test_statistics_do_not_depend_on_row_order(inputs, period):
    daily, aqi, rng = inputs
    kw = dict(period=period, ytd_end="2016-02-15" if period == "ytd" else None)
    before = period_statistics(daily, aqi, **kw)
    assert len(before)
    after = period_statistics(daily.iloc[rng.permutation(len(daily))],
                              aqi.iloc[rng.permutation(len(aqi))], **kw)
    pd.testing.assert_frame_equal(before, after)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(daily_inputs(), st.sampled_from(["month", "quarter", "year"]), st.data())
def test_adding_an_invalid_row_never_changes_a_valid_statistic(inputs, period, data):
    daily, aqi, rng = inputs
    before = period_statistics(daily, aqi, period=period)
    n_extra = data.draw(st.integers(1, 5))
    extra = []
    for _ in range(n_extra):
        q = data.draw(st.sampled_from(QUANTS))
        day = data.draw(st.dates(date(2014, 12, 1), date(2016, 4, 30)))
        area = data.draw(st.sampled_from(["s0", "s1", "s2", "new"]))
        value = data.draw(st.floats(0, 2000))
        row = series([value], q, dates=[pd.Timestamp(day)], area=area, valid=False)
        if data.draw(st.booleans()):                      # or "valid" but without a value
            row = row.assign(valid=True, value=np.nan, reported=np.nan)
        extra.append(row)
    extra_aqi = aqi_frame([None], start=str(data.draw(st.dates(date(2014, 12, 1),
                                                               date(2016, 4, 30)))), area="s0")
    after = period_statistics(concat(daily, *extra), concat(aqi, extra_aqi), period=period)
    keys = ["level", "area", "period", "pollutant", "statistic"]
    if daily["valid"].all():                                         # not vacuous
        assert before["valid"].any()
    merged = before[before["valid"]].merge(after, on=keys, how="left", suffixes=("", "_after"))
    assert len(merged) == int(before["valid"].sum())
    for col in ("value", "reported", "valid", "n_valid", "n_required", "detail", "profile"):
        a, b = merged[col], merged[f"{col}_after"]
        assert ((a == b) | (a.isna() & b.isna())).all(), col


# --------------------------------------------------------------------------- speed

def test_one_year_of_1700_stations_in_one_call():
    """1,700 stations × 365 days × 7 quantities in one call (its speed: benchmarks/)."""
    rng = np.random.default_rng(1)
    ns, nd = 1700, 365
    quant = ("SO2", "NO2", "PM10", "PM2.5", "CO", "O3_MDA8", "O3_1H_MAX")
    dates = pd.date_range("2015-01-01", periods=nd).to_numpy().astype("datetime64[s]")
    st_codes = np.array([f"S{i:04d}" for i in range(ns)], dtype=object)
    n = ns * nd * len(quant)
    pol = np.tile(np.array(quant, dtype=object), ns * nd)
    val = rng.gamma(3, 20, n)
    dec = np.where(pol == "CO", 1, 0)
    daily = pd.DataFrame({
        "level": "station", "area": pd.array(np.repeat(st_codes, nd * len(quant)), dtype="str"),
        "date": np.tile(np.repeat(dates, len(quant)), ns), "pollutant": pd.array(pol, dtype="str"),
        "value": val, "reported": round_half_even(val, dec), "valid": rng.random(n) > 0.05,
        "n_valid": 24, "n_required": 20, "profile": "cn-2012"})
    aqi_vals = rng.integers(10, 300, ns * nd)
    aqi = pd.DataFrame({"level": "station", "area": pd.array(np.repeat(st_codes, nd), dtype="str"),
                        "date": np.tile(dates, ns), "profile": "cn-2012",
                        "aqi": pd.array(np.where(rng.random(ns * nd) > 0.05, aqi_vals, 0),
                                        dtype="Int64")})
    stats = period_statistics(daily, aqi, period="year")      # its speed: benchmarks/
    assert len(stats) == ns * 33
