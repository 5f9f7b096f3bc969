"""Local targets beside national limits; the mean the rest of the year must hold."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from config.sites import Target, load_site_config
from indicators.frames import STAT_COLUMNS
from indicators.rounding import round_ratio
from indicators.targets import judge, remaining_average_needed, standing, target_table
from tests.conftest import YANGQUAN_SITES


# --- remaining_average_needed ----------------------------------------------------------------

def test_hand_worked_remaining_mean():
    # target 37; 300 valid days averaging 38 (sum 11400); 65 days left.
    # The published annual mean meets 37 while the exact mean < 37.5 (37.5 itself → 38):
    # sum < 37.5 · 365 = 13687.5 → remaining sum ≤ 2287 → mean ≤ 35.18… → report 35.
    res = remaining_average_needed(11400, 300, 65, 37, 0).iloc[0]
    assert res["status"] == "needs"
    assert res["needed"] == 35.0
    assert res["needed_exact"] == pytest.approx(2287 / 65)
    assert res["text_en"] == "needs ≤ 35 µg/m³ for the remaining 65 days"
    assert res["text_zh"] == "剩余65天均值需≤35微克/立方米"
    # holding 35 is sufficient, 36 every day is not
    assert round_ratio(11400 + 35 * 65, 365, 0) <= 37
    assert round_ratio(11400 + 36 * 65, 365, 0) > 37
    # … and the exact bound is tight: 2287 meets, 2288 does not
    assert round_ratio(11400 + 2287, 365, 0) == 37 and round_ratio(11400 + 2288, 365, 0) == 38


def test_out_of_reach():
    # 340 days at 45: even 25 days of 0 give 15300/365 = 41.9 > 37.5
    res = remaining_average_needed(340 * 45, 340, 25, 37, 0).iloc[0]
    assert res["status"] == "out of reach"
    assert np.isnan(res["needed"])
    assert res["text_en"] == "can no longer be met" and res["text_zh"] == "已无法达标"


@pytest.mark.parametrize("target, total, meets", [
    (37, 75, False),     # mean 37.5 → half-even 38 > 37: exceeds
    (36, 73, True),      # mean 36.5 → half-even 36: meets
])
def test_tie_at_target_plus_a_half(target, total, meets):
    # two days complete, nothing left: the tie decides
    res = remaining_average_needed(total, 2, 0, target, 0).iloc[0]
    assert res["status"] == ("secured" if meets else "out of reach")
    # one day left: the largest remaining value keeps (or avoids) the tie
    res = remaining_average_needed(total - 40, 1, 1, target, 0).iloc[0]
    expected = 40 if meets else 39              # 36.5 allowed for 36; 37.5 not for 37
    assert res["needed"] == expected


def test_co_one_decimal_and_vectorised():
    # CO target 1.2 mg/m³, 2 days summing 2.4, 38 days left: N = 40,
    # mean ≤ 1.25 allowed (1.25 → 1.2, even) → remaining sum ≤ 47.6 → mean ≤ 1.2526 → 1.2
    res = remaining_average_needed([2.4, 11400.0], [2, 300], [38, 65], [1.2, 37], [1, 0],
                                   unit=["mg/m3", "µg/m³"])
    assert list(res["needed"]) == [1.2, 35.0]
    assert res["needed_exact"].iloc[0] == pytest.approx(float(Fraction(476, 38) / 10))
    assert res["text_en"].iloc[0] == "needs ≤ 1.2 mg/m³ for the remaining 38 days"
    assert res["text_zh"].iloc[0] == "剩余38天均值需≤1.2毫克/立方米"


def test_start_of_year_and_bad_input():
    res = remaining_average_needed([0, np.nan], [0, 10], [365, 5], [37, 37], 0)
    assert res["needed"].iloc[0] == 37.0                    # 37.49… rounded down
    assert res["status"].iloc[1] == "insufficient data"
    assert res["text_en"].iloc[1] == "insufficient data"


def test_sum_off_the_grid_is_taken_conservatively():
    # period means from unrounded daily values: the sum 11399.6 is treated as 11400
    a = remaining_average_needed(11399.6, 300, 65, 37, 0).iloc[0]
    assert a["needed"] == 35.0
    # the singular
    b = remaining_average_needed(36, 1, 1, 37, 0).iloc[0]
    assert b["text_en"].endswith("for the remaining 1 day")


# --- target_table ----------------------------------------------------------------------------

def stat(area, pollutant, statistic, reported, *, valid=True, period="2021", end="2021-12-31",
         n_valid=340, detail="", profile="cn-2012"):
    return dict(level="district", area=area, period=period, start=pd.Timestamp("2021-01-01"),
                end=pd.Timestamp(end), pollutant=pollutant, statistic=statistic,
                value=float(reported), reported=float(reported), valid=valid, n_valid=n_valid,
                n_required=324, rule="year", detail=detail, profile=profile)


def frame(*rows):
    return pd.DataFrame(list(rows), columns=list(STAT_COLUMNS))


TARGETS = [Target("chengqu", "NO2", "annual_mean", 37.0, "µg/m3", 2021, None),
           Target("chengqu", "SO2", "annual_mean", 18.0, "µg/m3", 2021, None),
           Target("jiaoqu", "NO2", "annual_mean", 35.0, "µg/m3", 2021, 2022),
           Target("jiaoqu", "NO2", "annual_mean", 30.0, "µg/m3", 2023, None),
           Target("yuxian", "PM2.5", "annual_mean", 30.0, "µg/m3", 2021, None),
           Target("yuxian", "AQI", "good_day_ratio", 80.0, "", 2021, None)]


def test_target_table_side_by_side():
    stats = frame(stat("chengqu", "NO2", "annual_mean", 38),
                  stat("chengqu", "SO2", "annual_mean", 18),
                  stat("jiaoqu", "NO2", "annual_mean", 35, valid=False, n_valid=300,
                       detail="2021-03: 20 valid days, needs 27"),
                  stat("yuxian", "PM2.5", "annual_mean", 32),
                  stat("yuxian", "AQI", "good_day_ratio", 80.3))
    out = target_table(stats, TARGETS, {"yuxian": "I"}, year=2021)
    t = out.set_index(["area", "pollutant", "statistic"])
    assert len(out) == 5                                     # jiaoqu's 2023 target does not apply
    no2 = t.loc[("chengqu", "NO2", "annual_mean")]
    assert (no2["reported"], no2["target"], no2["national_limit"]) == (38.0, 37.0, 40.0)
    assert (no2["status_target"], no2["status_national"]) == ("exceeds", "meets")
    assert not no2["provisional"] and no2["needed_status"] == ""
    so2 = t.loc[("chengqu", "SO2", "annual_mean")]
    assert so2["status_target"] == "meets" and so2["national_limit"] == 60.0
    jq = t.loc[("jiaoqu", "NO2", "annual_mean")]
    assert jq["status_target"] == "insufficient data" and jq["status_national"] == "insufficient data"
    assert "20 valid days" in jq["detail"]
    yx = t.loc[("yuxian", "PM2.5", "annual_mean")]
    assert yx["grade"] == "I" and yx["national_limit"] == 15.0   # Grade I limit
    assert (yx["status_target"], yx["status_national"]) == ("exceeds", "exceeds")
    gdr = t.loc[("yuxian", "AQI", "good_day_ratio")]
    assert gdr["status_target"] == "meets"                   # higher is better
    assert gdr["status_national"] == "no national limit"


def test_missing_statistic_is_insufficient_data():
    out = target_table(frame(), TARGETS[:1], year=2021)
    row = out.iloc[0]
    assert row["status_target"] == "insufficient data" and row["detail"] == "no statistic"
    assert row["national_limit"] == 40.0                    # from the schedule at year end


def test_year_to_date_is_provisional_with_remaining_mean():
    # up to 26 Oct (66 days left … counted from the period end): 300 valid days, mean 38
    ytd = stat("chengqu", "NO2", "annual_mean", 38, valid=False, period="2021-YTD-10-26",
               end="2021-10-26", n_valid=300)
    out = target_table(frame(ytd), TARGETS[:1], year=2021).iloc[0]
    assert out["provisional"] and not out["valid"]
    assert out["status_target"] == "exceeds"                 # compared on the current value
    days = (pd.Timestamp("2021-12-31") - pd.Timestamp("2021-10-26")).days
    assert days == 66
    expected = remaining_average_needed(11400, 300, 66, 37, 0).iloc[0]
    assert out["needed_status"] == "needs" and out["needed"] == expected["needed"] == 35.0
    assert out["needed_en"] == "needs ≤ 35 µg/m³ for the remaining 66 days"
    assert out["needed_zh"] == "剩余66天均值需≤35微克/立方米"


def test_full_year_preferred_over_ytd_and_forced_profile():
    stats = frame(stat("chengqu", "PM10", "annual_mean", 65),
                  stat("chengqu", "PM10", "annual_mean", 70, period="2021-YTD-11-30",
                       end="2021-11-30", valid=False))
    target = [Target("chengqu", "PM10", "annual_mean", 68.0, "µg/m3", None, None)]
    out = target_table(stats, target, year=2021).iloc[0]
    assert out["period"] == "2021" and out["reported"] == 65.0 and out["national_limit"] == 70.0
    forced = target_table(stats, target, year=2021, profile="cn-2026-transition").iloc[0]
    assert forced["national_limit"] == 60.0 and forced["status_national"] == "exceeds"


def test_targets_from_the_site_file():
    site = load_site_config(YANGQUAN_SITES)
    stats = frame(stat("chengqu", "NO2", "annual_mean", 37))
    out = target_table(stats, site.targets, year=2021)
    assert len(out) == 12                                    # six districts × NO2, SO2
    row = out[(out["area"] == "chengqu") & (out["pollutant"] == "NO2")].iloc[0]
    assert row["status_target"] == "meets"
    assert (out["status_target"] == "insufficient data").sum() == 11
    assert target_table(stats, site.targets, year=2020).empty


# --- standing and outlook ----------------------------------------------------------------

def test_standing_puts_national_limits_where_there_is_no_local_target():
    stats = frame(stat("chengqu", "NO2", "annual_mean", 38),
                  stat("chengqu", "PM2.5", "annual_mean", 36),
                  stat("chengqu", "CO", "p95_daily", 1.6),
                  stat("chengqu", "O3", "p90_mda8", 150))
    out = standing(stats, TARGETS[:2], year=2021, areas=["chengqu"])
    t = out.set_index(["pollutant", "statistic"])
    # local targets keep their values; the others take the Grade II 2012 limits
    assert t.loc[("NO2", "annual_mean"), ["basis", "target"]].tolist() == ["target", 37.0]
    assert t.loc[("SO2", "annual_mean"), ["basis", "target"]].tolist() == ["target", 18.0]
    assert t.loc[("PM2.5", "annual_mean"), ["basis", "target"]].tolist() == ["national", 35.0]
    assert t.loc[("CO", "p95_daily"), ["basis", "target"]].tolist() == ["national", 4.0]
    assert t.loc[("O3", "p90_mda8"), ["basis", "target"]].tolist() == ["national", 160.0]
    assert t.loc[("PM10", "annual_mean"), "basis"] == "national"
    # order: SO2, NO2, PM10, PM2.5, CO, O3
    assert out["pollutant"].tolist() == ["SO2", "NO2", "PM10", "PM2.5", "CO", "O3"]
    # a complete year is judged: met / not met, never "on track" or "exceeded"
    assert t.loc[("NO2", "annual_mean"), "verdict"] == "not met"      # complete year, 38 > 37
    assert t.loc[("PM2.5", "annual_mean"), "verdict"] == "not met"    # 36 > 35
    assert t.loc[("CO", "p95_daily"), "verdict"] == "met"
    assert t.loc[("SO2", "annual_mean"), "verdict"] == "insufficient data"  # no statistic
    assert t.loc[("PM10", "annual_mean"), "verdict"] == "insufficient data"


def test_outlook_of_a_year_in_progress():
    # 300 valid days to 26 Oct, 66 left; target 37
    rows = [stat("chengqu", "NO2", "annual_mean", r, valid=False, period="2021-YTD-10-26",
                 end="2021-10-26", n_valid=300) for r in (30, 38, 60)]
    outs = [standing(frame(r), TARGETS[:1], year=2021, areas=["chengqu"]) for r in rows]
    no2 = [o[o["pollutant"] == "NO2"].iloc[0] for o in outs]
    # 30 now: the rest may average up to (37.5·366 − 9000)/66 → needs ≤ 71, above the target
    assert (no2[0]["needed"], no2[0]["verdict"]) == (71.0, "on track")
    # 38 now: needs ≤ 35 for the rest, still possible → at risk
    assert (no2[1]["needed"], no2[1]["verdict"]) == (35.0, "at risk")
    # 60 now: even 66 days at zero give (18000)/366 = 49.2 > 37 → exceeded already
    assert (no2[2]["needed_status"], no2[2]["verdict"]) == ("out of reach", "already exceeded")


def test_outlook_needs_below_target_is_at_risk_even_when_below_now():
    # at or below the target now, but the rest of the year must average below the
    # target to stay there: at risk; a rest allowed above the target: on track
    got = judge(["running", "running", "ended", "ended"],
                ["meets", "meets", "exceeds", "insufficient data"],
                ["needs", "needs", "", ""], [36.0, 40.0, np.nan, np.nan], [37.0] * 4)
    assert got.tolist() == ["at risk", "on track", "not met", "insufficient data"]


def test_standing_under_a_comparison_profile_uses_its_limits_and_chinese_decimals():
    stats = frame(stat("chengqu", "PM2.5", "annual_mean", 36, profile="who-2021"))
    out = standing(stats, [], profile="who-2021", year=2021, areas=["chengqu"])
    pm = out[out["pollutant"] == "PM2.5"].iloc[0]
    assert (pm["national_limit"], pm["target"], pm["verdict"]) == (5.0, 5.0, "not met")
