"""Ranking and change rates, standards.md §7."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from indicators.frames import STAT_COLUMNS
from indicators.ranking import change_rate, grid_decimals, rank


def row(area, value, reported=None, statistic="composite_index", pollutant="ALL", valid=True,
        detail="", period="2024", level="district", profile="cn-2012"):
    year = int(period[:4])
    return dict(level=level, area=area, period=period, start=pd.Timestamp(f"{year}-01-01"),
                end=pd.Timestamp(f"{year}-12-31"), pollutant=pollutant, statistic=statistic,
                value=float(value), reported=float(value if reported is None else reported),
                valid=valid, n_valid=6 if valid else 5, n_required=6, rule="r", detail=detail,
                profile=profile)


def stats(*rows):
    return pd.DataFrame(list(rows), columns=list(STAT_COLUMNS))


def test_ties_on_reported_values_share_a_rank():
    s = stats(row("a", 4.474, 4.47), row("b", 4.466, 4.47), row("c", 4.52, 4.52),
              row("d", 3.9, 3.9))
    out = rank(s)
    assert list(out["area"]) == ["d", "a", "b", "c"]
    assert list(out["rank"]) == [1, 2, 2, 4]
    assert str(out["rank"].dtype) == "Int64"
    assert set(out["status"]) == {"ranked"}


def test_competition_ranking_1_1_3():
    s = stats(row("a", 4.474, 4.47), row("b", 4.466, 4.47), row("c", 5.1, 5.1))
    out = rank(s)
    assert list(out["rank"]) == [1, 1, 3]
    assert list(out["area"]) == ["a", "b", "c"]          # ties listed by area


def test_every_value_ranked_invalid_ones_provisional_no_value_last():
    """standards.md §7: an area whose statistic fails a capture rule keeps its place,
    marked provisional with the reason; an area without a value is listed last."""
    s = stats(row("a", 4.2), row("z", 3.0, valid=False, detail="invalid CO p95_daily (…)"),
              row("b", 5.0), row("y", np.nan, valid=False, detail="missing O3 p90_mda8"))
    out = rank(s, areas=["a", "b", "x", "y", "z"])
    assert list(out["area"]) == ["z", "a", "b", "x", "y"]
    ranks = out["rank"].astype(object).where(out["rank"].notna(), None)
    assert list(ranks) == [1, 2, 3, None, None]
    assert list(out["status"]) == ["provisional", "ranked", "ranked"] + \
        ["insufficient data"] * 2
    assert list(out["reason"]) == ["invalid CO p95_daily (…)", "", "", "no statistic",
                                   "missing O3 p90_mda8"]
    assert out.set_index("area").loc["z", "reported"] == 3.0
    assert not out.set_index("area").loc["z", "valid"]


def test_valid_only_is_the_strict_order():
    s = stats(row("a", 4.2), row("z", 3.0, valid=False, detail="invalid CO p95_daily (…)"),
              row("b", 5.0), row("y", np.nan, valid=False, detail="missing O3 p90_mda8"))
    out = rank(s, areas=["a", "b", "x", "y", "z"], valid_only=True)
    assert list(out["area"]) == ["a", "b", "x", "y", "z"]
    ranks = out["rank"].astype(object).where(out["rank"].notna(), None)
    assert list(ranks) == [1, 2, None, None, None]
    assert list(out["status"]) == ["ranked", "ranked"] + ["insufficient data"] * 3
    assert list(out["reason"]) == ["", "", "no statistic", "missing O3 p90_mda8",
                                   "invalid CO p95_daily (…)"]


def test_good_day_ratio_ranks_descending():
    s = stats(row("a", 80.1, statistic="good_day_ratio", pollutant="AQI"),
              row("b", 91.5, statistic="good_day_ratio", pollutant="AQI"),
              row("c", 80.1, statistic="good_day_ratio", pollutant="AQI"))
    out = rank(s, by="good_day_ratio")
    assert list(out["area"]) == ["b", "a", "c"] and list(out["rank"]) == [1, 2, 2]
    assert list(rank(s, by="good_day_ratio", ascending=True)["area"]) == ["a", "c", "b"]


def test_rank_on_a_pollutant_and_choice_errors():
    s = stats(row("a", 40, statistic="annual_mean", pollutant="NO2"),
              row("b", 35, statistic="annual_mean", pollutant="NO2"),
              row("a", 50, statistic="annual_mean", pollutant="PM10"),
              row("b", 60, statistic="annual_mean", pollutant="PM10"))
    with pytest.raises(ValueError, match="pollutant="):
        rank(s, by="annual_mean")
    assert list(rank(s, by="annual_mean", pollutant="NO2")["area"]) == ["b", "a"]
    two_years = pd.concat([stats(row("a", 4.0)), stats(row("a", 4.1, period="2023"))])
    with pytest.raises(ValueError, match="period="):
        rank(two_years)
    assert rank(two_years, period="2023")["reported"].iloc[0] == 4.1


def test_change_rate_minus_ten_percent():
    cur = stats(row("a", 4.5), row("b", 5.5), row("c", 4.97))
    prev = stats(row("a", 5.0, period="2023"), row("b", 5.0, period="2023"),
                 row("c", 5.0, period="2023"))
    ch = change_rate(cur, prev).set_index("area")
    assert ch.loc["a", "change_rate_reported"] == -10.0
    assert ch.loc["a", "improved"] == True  # noqa: E712 (pandas boolean)
    assert ch.loc["b", "change_rate_reported"] == 10.0
    assert ch.loc["b", "improved"] == False  # noqa: E712
    assert ch.loc["c", "change_rate_reported"] == -0.6
    assert ch.loc["a", "previous_period"] == "2023"


def test_change_rate_is_exact_at_a_half():
    # (4.47 − 4.00)/4.00 = 11.75 % exactly → 11.8 (even); (5.05 − 4.00)/4.00 = 26.25 → 26.2
    cur = stats(row("a", 4.47), row("b", 5.05))
    prev = stats(row("a", 4.0, period="2023"), row("b", 4.0, period="2023"))
    ch = change_rate(cur, prev).set_index("area")
    assert ch.loc["a", "change_rate_reported"] == 11.8
    assert ch.loc["b", "change_rate_reported"] == 26.2
    assert (5.05 - 4.0) / 4.0 * 100 != 26.25                # the float route misses the tie


def test_change_rate_uses_reported_values_and_handles_missing():
    cur = stats(row("a", 4.474, 4.47), row("b", 3.0), row("c", 3.0))
    prev = stats(row("a", 4.966, 4.97, period="2023"),
                 row("c", 0.0, period="2023"))
    ch = change_rate(cur, prev).set_index("area")
    # (4.47 − 4.97)/4.97 = −10.06… % → −10.1
    assert ch.loc["a", "change_rate_reported"] == -10.1
    assert np.isnan(ch.loc["b", "change_rate_reported"]) and pd.isna(ch.loc["b", "improved"])
    assert np.isnan(ch.loc["c", "change_rate_reported"])       # previous 0: no rate


def test_good_day_ratio_improvement_is_an_increase():
    cur = stats(row("a", 88.0, statistic="good_day_ratio", pollutant="AQI"))
    prev = stats(row("a", 80.0, statistic="good_day_ratio", pollutant="AQI", period="2023"))
    ch = change_rate(cur, prev).iloc[0]
    assert ch["change_rate_reported"] == 10.0 and ch["improved"] == True  # noqa: E712
    # a ratio changes in percentage points, not in %
    assert ch["change_kind"] == "points" and ch["change"] == 8.0


def test_rank_with_previous_period():
    cur = stats(row("a", 4.5), row("b", 4.0), row("c", 4.0, valid=False, detail="missing x"))
    prev = stats(row("a", 5.0, period="2023"), row("b", 4.0, period="2023"),
                 row("c", 5.0, period="2023"), row("a", 99, statistic="annual_mean",
                                                    pollutant="NO2", period="2023"))
    out = rank(cur, previous=prev).set_index("area")
    assert out.loc["a", "change_rate_reported"] == -10.0
    assert out.loc["b", "change_rate_reported"] == 0.0
    assert out.loc["a", "previous_reported"] == 5.0
    assert out.loc["c", "status"] == "provisional" and out.loc["c", "rank"] == 1
    assert out.loc["c", "change_kind"] == "percent" and out.loc["c", "change"] == -20.0


def test_grid_decimals():
    assert list(grid_decimals([4.47, 35.0, 1.2, np.nan, 0.1 + 0.2])) == [2, 0, 1, 0, 1]


def test_change_rate_under_a_comparison_profile_uses_the_chinese_rounding():
    """WHO/EU profiles have no rounding section: the change rate keeps the row's decimals."""
    def row(period, reported, end):
        return dict(level="district", area="a", period=period, start=pd.Timestamp(end[:4] + "-01-01"),
                    end=pd.Timestamp(end), pollutant="PM2.5", statistic="annual_mean",
                    value=reported, reported=reported, valid=True, n_valid=340, n_required=324,
                    rule="", detail="", profile="who-2021")
    cur = pd.DataFrame([row("2015", 81.0, "2015-12-31")], columns=list(STAT_COLUMNS))
    prev = pd.DataFrame([row("2014", 86.0, "2014-12-31")], columns=list(STAT_COLUMNS))
    out = change_rate(cur, prev, profile="who-2021").iloc[0]
    # (81 − 86) / 86 = −5.8139…% → −5.8 (cn-2012 rate decimals: 1)
    assert out["change_rate_reported"] == -5.8
