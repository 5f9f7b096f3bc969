"""Composite index (综合指数), standards.md §7: worked by hand, exact at a half."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from indicators.composite import INPUTS, composite_index, primary_pollutants
from indicators.frames import STAT_COLUMNS
from indicators.rounding import round_half_even

PERIOD = dict(period="2024", start=pd.Timestamp("2024-01-01"), end=pd.Timestamp("2024-12-31"))


def stat_rows(area, reported, invalid=(), level="district", profile="cn-2012", **period):
    """Hand-built period statistics: the six composite inputs of one area."""
    rows = []
    for pollutant, value in reported.items():
        bad = pollutant in invalid
        rows.append(dict(level=level, area=area, **(period or PERIOD), pollutant=pollutant,
                         statistic=INPUTS[pollutant], value=float(value), reported=float(value),
                         valid=not bad, n_valid=300 if bad else 340, n_required=324,
                         rule="year: >=324 days and every month",
                         detail="2024-03: 25 valid days, needs 27" if bad else "",
                         profile=profile))
    return rows


def frame(*row_lists):
    return pd.DataFrame([r for rows in row_lists for r in rows], columns=list(STAT_COLUMNS))


WORKED = {"SO2": 10, "NO2": 40, "PM10": 70, "PM2.5": 35, "CO": 1.2, "O3": 160}


def test_worked_example_by_hand():
    out = composite_index(frame(stat_rows("a", WORKED)))
    assert list(out.columns) == list(STAT_COLUMNS)
    comp = out[out["statistic"] == "composite_index"].iloc[0]
    # 10/60 + 40/40 + 70/70 + 35/35 + 1.2/4 + 160/160 = 4.4666…
    assert comp["pollutant"] == "ALL"
    assert comp["value"] == pytest.approx(4 + 1 / 6 + 0.3)
    assert comp["reported"] == 4.47
    assert bool(comp["valid"]) and comp["n_valid"] == 6 and comp["n_required"] == 6
    assert comp["detail"] == "primary: NO2, PM10, PM2.5, O3"   # four single indices tie at 1.00
    single = out[out["statistic"] == "single_index"].set_index("pollutant")
    assert list(single.index) == ["SO2", "NO2", "PM10", "PM2.5", "CO", "O3"]
    assert single["reported"].to_dict() == {"SO2": 0.17, "NO2": 1.0, "PM10": 1.0, "PM2.5": 1.0,
                                            "CO": 0.3, "O3": 1.0}
    assert single.loc["SO2", "value"] == pytest.approx(1 / 6)
    assert primary_pollutants(out).iloc[0] == "NO2, PM10, PM2.5, O3"


def test_single_primary_pollutant():
    out = composite_index(frame(stat_rows("a", {**WORKED, "PM2.5": 36})))
    assert out.iloc[0]["detail"] == "primary: PM2.5"


@pytest.mark.parametrize("inputs, exact, naive", [
    # exact sum 169/40 = 4.225 (a true tie → even 4.22); the float sum is 4.2250000000000005
    ({"SO2": 9, "NO2": 59, "PM10": 50, "PM2.5": 24, "CO": 1.1, "O3": 148}, 4.22, 4.23),
    # exact sum 211/40 = 5.275 (tie → even 5.28); the float sum is 5.2749999999999995
    ({"SO2": 30, "NO2": 45, "PM10": 57, "PM2.5": 66, "CO": 0.5, "O3": 132}, 5.28, 5.27),
])
def test_exact_at_a_half(inputs, exact, naive):
    limits = {"SO2": 60, "NO2": 40, "PM10": 70, "PM2.5": 35, "CO": 4, "O3": 160}
    float_sum = sum(inputs[p] / limits[p] for p in limits)
    assert round_half_even(float_sum, 2) == naive            # the trap the float sum falls into
    comp = composite_index(frame(stat_rows("a", inputs))).iloc[0]
    assert comp["reported"] == exact


def test_single_index_half_even_exact():
    # CO 1.1 / 4 = 0.275 exactly → 0.28 (even); SO2 3/40? use NO2 41/40 = 1.025 → 1.02 (even)
    out = composite_index(frame(stat_rows("a", {**WORKED, "CO": 1.1, "NO2": 41})))
    single = out[out["statistic"] == "single_index"].set_index("pollutant")["reported"]
    assert single["CO"] == 0.28 and single["NO2"] == 1.02


def test_weighted_variant_override():
    out = composite_index(frame(stat_rows("a", WORKED)),
                          weights={"PM2.5": 3, "NO2": 2, "O3": 2})
    comp = out.iloc[0]
    # 1/6 + 2·1 + 1 + 3·1 + 0.3 + 2·1 = 8.4666…
    assert comp["reported"] == 8.47
    # the single indices stay unweighted
    assert out[out["pollutant"] == "PM2.5"]["reported"].iloc[0] == 1.0


def test_reference_limits_from_the_forced_profile():
    out = composite_index(frame(stat_rows("a", WORKED, profile="cn-2026-final")), profile="cn-2012")
    assert set(out["profile"]) == {"cn-2012"}
    assert out.iloc[0]["reported"] == 4.47


def test_invalid_and_missing_inputs():
    rows = stat_rows("a", {k: v for k, v in WORKED.items() if k != "O3"}, invalid=("PM10",))
    out = composite_index(frame(rows))
    comp = out.iloc[0]
    assert not comp["valid"]
    assert np.isnan(comp["value"]) and np.isnan(comp["reported"])
    assert comp["n_valid"] == 4
    assert "missing O3 p90_mda8" in comp["detail"]
    assert "invalid PM10 annual_mean (2024-03: 25 valid days, needs 27)" in comp["detail"]
    assert primary_pollutants(out).iloc[0] == ""
    single = out[out["statistic"] == "single_index"].set_index("pollutant")
    assert not single.loc["PM10", "valid"] and single.loc["PM10", "reported"] == 1.0
    assert not single.loc["O3", "valid"] and single.loc["O3", "detail"] == "missing O3 p90_mda8"


def test_all_present_but_one_invalid_keeps_the_value_marked_invalid():
    out = composite_index(frame(stat_rows("a", WORKED, invalid=("CO",))))
    comp = out.iloc[0]
    assert not comp["valid"] and comp["reported"] == 4.47
    assert comp["detail"].startswith("invalid CO p95_daily")


def test_several_areas_levels_and_unrelated_rows():
    extra = [dict(stat_rows("b", {"SO2": 1})[0], pollutant="AQI", statistic="good_day_ratio",
                  value=80.0, reported=80.0)]
    out = composite_index(frame(stat_rows("a", WORKED), stat_rows("c", WORKED, level="city"),
                                stat_rows("a", {**WORKED, "SO2": 20}, level="station"), extra))
    comp = out[out["statistic"] == "composite_index"].set_index(["level", "area"])
    assert comp.loc[("district", "a"), "reported"] == 4.47
    assert comp.loc[("city", "c"), "reported"] == 4.47
    assert comp.loc[("station", "a"), "reported"] == 4.63     # 20/60 = 0.333…
    assert not comp.loc[("district", "b"), "valid"]            # area without inputs is not dropped
    assert len(out) == 4 * 7


def test_duplicated_input_rows_raise():
    rows = stat_rows("a", WORKED)
    with pytest.raises(ValueError, match="more than one"):
        composite_index(frame(rows, rows[:1]))


def test_existing_composite_rows_are_ignored():
    first = composite_index(frame(stat_rows("a", WORKED)))
    again = composite_index(pd.concat([frame(stat_rows("a", WORKED)), first], ignore_index=True))
    pd.testing.assert_frame_equal(first, again)
