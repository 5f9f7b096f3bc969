"""The fast paths of the indicator engine give exactly what the general code gives.

The synthetic network of ``benchmarks/_network.py`` (SYNTHETIC, not data), small: a
year that crosses the 2026-03-01 profile switch, ragged memberships, one pollutant
off the integer grid. Every comparison is exact (values, dtypes, order).
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from indicators import aqi, averaging, composite, pipeline, statistics

NETWORK = Path(__file__).resolve().parent.parent / "benchmarks" / "_network.py"


def _network():
    spec = importlib.util.spec_from_file_location("_network_for_tests", NETWORK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def network():
    hourly, membership = _network().synthetic_network(23, year=2026, seed=3)
    hourly["NO2"] = hourly["NO2"] * 1.0000001        # off the decimal grid: float path
    membership = membership[membership.index % 5 != 2].reset_index(drop=True)
    return hourly, membership


def test_daily_and_aqi_is_daily_values_then_daily_aqi(network):
    hourly, membership = network
    daily, daily_aqi = pipeline.daily_and_aqi(hourly, membership)
    expected = averaging.daily_values(hourly, membership)
    pd.testing.assert_frame_equal(daily, expected, check_exact=True)
    # the dense path of daily_aqi (the frame as daily_values lays it out) …
    pd.testing.assert_frame_equal(daily_aqi, aqi.daily_aqi(expected), check_exact=True)
    # … and the row path (any row order)
    shuffled = expected.sample(frac=1, random_state=1)
    pd.testing.assert_frame_equal(daily_aqi, aqi.daily_aqi(shuffled), check_exact=True)
    forced = aqi.daily_aqi(shuffled, profile="cn-2026-transition")
    pd.testing.assert_frame_equal(aqi.daily_aqi(expected, profile="cn-2026-transition"),
                                  forced, check_exact=True)


def test_o3_blocked_kernel_matches_whole_arrays(network, monkeypatch):
    hourly, membership = network
    fast = averaging.daily_values(hourly, membership)
    monkeypatch.setattr(averaging, "_o3_exact", lambda *args: None)
    whole = averaging.daily_values(hourly, membership)
    pd.testing.assert_frame_equal(fast, whole, check_exact=True)


def test_threads_do_not_change_the_numbers(network, monkeypatch):
    hourly, membership = network
    monkeypatch.setattr(averaging, "_THREAD_CELLS", 1)
    threaded = averaging.daily_values(hourly, membership)
    monkeypatch.setattr(averaging, "_THREAD_CELLS", 1 << 62)
    single = averaging.daily_values(hourly, membership)
    pd.testing.assert_frame_equal(threaded, single, check_exact=True)


def test_composite_lookup_matches_merges(network, monkeypatch):
    hourly, membership = network
    daily, daily_aqi = pipeline.daily_and_aqi(hourly, membership)
    stats = statistics.period_statistics(daily, daily_aqi, period="month",
                                         grades=pipeline.grades_of(membership))
    fast = composite.composite_index(stats)
    monkeypatch.setattr(composite, "_input_rows", lambda groups, inputs: {})
    merged = composite.composite_index(stats)
    pd.testing.assert_frame_equal(fast, merged, check_exact=True)


def test_area_means_without_blas_match_the_product():
    rng = np.random.default_rng(5)
    matrix = np.zeros((4, 30))
    matrix[np.arange(30) % 3, np.arange(30)] = 1.0
    matrix[3] = 1.0
    rows = rng.integers(0, 1000, (30, 17)).astype(np.float64)
    assert np.array_equal(averaging._member_sums(matrix, rows), matrix @ rows)
    valid = rng.random((30, 17)) < 0.8
    assert np.array_equal(averaging._member_sums(matrix, valid),
                          matrix @ valid.astype(np.float64))


def test_iaqi_table_lookup_matches_the_formula():
    from config.standards import load_profile
    for pid in ("cn-2012", "cn-2026-transition"):
        prof = load_profile(pid)
        for key, bps in prof.aqi["breakpoints"].items():
            top = float(bps[-1])
            step = 0.1 if key.startswith("CO") else 1.0
            c = np.arange(0.0, top * 1.2 + 2 * step, step)
            c = np.round(c, 1)
            value, beyond = aqi.iaqi(c, key, prof)
            d = prof.decimals(key.split("_")[0])
            bp = np.round(np.asarray(bps, dtype=float) * 10 ** d).astype(np.int64)
            steps = np.asarray(prof.aqi["iaqi"], dtype=np.int64)[:len(bp)]
            ci = np.round(c * 10 ** d).astype(np.int64)
            inside = ci <= bp[-1]
            assert np.array_equal(value[inside],
                                  aqi._segment_iaqi(ci[inside], bp, steps))


def test_scaled_integers_on_grid_shortcut_matches_the_general_code():
    """Values already on the grid skip the search for near-halves: the same integers,
    and off-grid values, NaN, inf and too large values still take the general code."""
    from indicators import rounding

    rng = np.random.default_rng(5)
    on_grid = np.round(rng.uniform(-500, 500, 10_000), 1)
    for decimals in (0, 1, 2, -1):
        x = np.round(on_grid, max(decimals, 0))
        d = np.broadcast_to(np.int64(decimals), x.shape)
        general, _, _ = rounding._half_even_core(x, d)
        assert np.array_equal(rounding.scaled_integers(x, decimals), general.astype(np.int64))
    per_element = rng.integers(0, 3, len(on_grid))
    general, _, _ = rounding._half_even_core(on_grid, per_element)
    assert np.array_equal(rounding.scaled_integers(on_grid, per_element),
                          general.astype(np.int64))
    assert rounding.scaled_integers([34.5, 35.5, 1.25], [0, 0, 1]).tolist() == [34, 36, 12]
    assert rounding.scaled_integers([1.0, np.nan], 0, nan_as=-7).tolist() == [1, -7]
    with pytest.raises(ValueError):
        rounding.scaled_integers([1.0, np.nan], 0)
    with pytest.raises(ValueError):
        rounding.scaled_integers([1.0, np.inf], 0, nan_as=0)
    with pytest.raises(ValueError):
        rounding.scaled_integers([2.0 ** 54], 0)


def test_o3_area_weights_by_division_match_the_lookup(network, monkeypatch):
    """The area window weights common / count by division give the lookup's numbers."""
    hourly, membership = network
    fast = averaging.daily_values(hourly, membership)
    monkeypatch.setattr(averaging, "_O3_DIVIDE", False)
    lookup = averaging.daily_values(hourly, membership)
    pd.testing.assert_frame_equal(fast, lookup, check_exact=True)


def test_text_columns_by_arrow_take_match_numpy_strings():
    from indicators.statistics import text
    parts = [np.array(["a", "", "GB 3095-2012 annual statistics, " * 3], dtype=text.TEXT),
             np.array([], dtype=text.TEXT),
             np.array(["x", "é中文", ""], dtype=text.TEXT)[::2]]
    order = np.array([3, 0, 2, 1, 4], dtype=np.intp)
    got = text.str_take(parts, order)
    expected = text.str_series(np.concatenate(parts)[order])
    pd.testing.assert_series_equal(got, expected, check_exact=True)


@pytest.mark.parametrize("values", [["cn-2012"] * 5, ["cn-2012", "cn-2026", "cn-2012"],
                                    ["", ""], ["cn-2026", None, "cn-2026"]])
def test_profile_codes_of_one_value_match_the_factorisation(values):
    dtype = pd.StringDtype("pyarrow", na_value=np.nan)
    frame = pd.DataFrame({"profile": pd.array(values, dtype=dtype)})
    days = np.full(len(values), np.datetime64("2026-06-01"))
    from indicators.statistics import grouping
    codes, ids = grouping.profile_codes(frame, days)
    monkey = grouping.one_value_profile
    try:
        grouping.one_value_profile = lambda column: column
        codes_ref, ids_ref = grouping.profile_codes(frame, days)
    finally:
        grouping.one_value_profile = monkey
    assert ids == ids_ref
    np.testing.assert_array_equal(codes, codes_ref)
    assert codes.dtype == codes_ref.dtype
