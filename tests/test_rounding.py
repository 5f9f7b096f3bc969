"""GB/T 8170 rounding (standards.md §4): the spec's examples and exactness properties."""
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indicators.rounding import round_half_even, round_ratio, scaled_integers, truncate_scaled


def reference(x: float, d: int) -> float:
    """The decimal shown by repr, rounded half to even (§4's definition)."""
    return float(Decimal(repr(float(x))).quantize(Decimal(1).scaleb(-d), rounding=ROUND_HALF_EVEN))


# ---------------------------------------------------------------- §4 examples
@pytest.mark.parametrize("value, decimals, expected", [
    (34.5, 0, 34.0),        # §4: half to even
    (35.5, 0, 36.0),        # §4
    (34.51, 0, 35.0),       # §4: above the half
    (1.25, 1, 1.2),         # §4: CO
    (1.35, 1, 1.4),         # §4: CO (binary 1.350000000000000088… – the decimal tie decides)
    (2.675, 2, 2.68),       # binary 2.67499999999999982…, decimal tie → even 8
    (0.125, 2, 0.12),
    (0.135, 2, 0.14),
    (1.005, 2, 1.0),        # binary 1.00499999999999989…, decimal tie → even 0
    (60.5, 0, 60.0),        # §5 regression: PM2.5 daily mean 60.5 is published as 60
    (0.5, 0, 0.0),
    (1.5, 0, 2.0),
    (-2.5, 0, -2.0),
    (2.4999999999999996, 0, 2.0),   # repr shows a value below the half
    (1234.5, -1, 1230.0),
    (1235.0, -1, 1240.0),
])
def test_examples(value, decimals, expected):
    assert round_half_even(value, decimals) == expected
    assert round_half_even(np.array([value]), decimals)[0] == expected


def test_builtin_round_is_the_trap_we_avoid():
    # Python's round() works on the binary value: 2.675 → 2.67, but GB/T 8170 on '2.675' → 2.68.
    assert round(2.675, 2) == 2.67
    assert round_half_even(2.675, 2) == 2.68


def test_vectorised_with_aligned_decimals_and_nan():
    values = np.array([34.5, 1.25, np.nan, 1.35, 35.5])
    out = round_half_even(values, np.array([0, 1, 0, 1, 0]))
    np.testing.assert_array_equal(out, [34.0, 1.2, np.nan, 1.4, 36.0])


def test_series_keeps_index_and_name():
    s = pd.Series([34.5, 35.5, np.nan], index=["a", "b", "c"], name="PM2.5")
    out = round_half_even(s, 0)
    assert isinstance(out, pd.Series)
    assert list(out.index) == ["a", "b", "c"] and out.name == "PM2.5"
    assert out.iloc[0] == 34.0 and out.iloc[1] == 36.0 and np.isnan(out.iloc[2])


def test_many_ties_from_hourly_means():
    # Daily means of integer hours land on exact halves often: every one must go to even.
    hours = np.arange(0, 2400).reshape(100, 24) % 97
    means = hours.sum(axis=1) / 24
    expected = [reference(m, 0) for m in means]
    np.testing.assert_array_equal(round_half_even(means, 0), expected)


def test_scaled_integers():
    np.testing.assert_array_equal(scaled_integers([1.3, 2.2, 0.1 + 0.2, 1.25], 1), [13, 22, 3, 12])
    np.testing.assert_array_equal(scaled_integers([150.0, 60.5], 0), [150, 60])
    with pytest.raises(ValueError):
        scaled_integers([1.0, np.nan], 0)
    np.testing.assert_array_equal(scaled_integers([1.0, np.nan], 0, nan_as=-1), [1, -1])


def test_round_ratio_examples():
    assert round_ratio(69, 2, 0) == 34.0            # 34.5 → 34
    assert round_ratio(71, 2, 0) == 36.0            # 35.5 → 36
    assert round_ratio(1409, 36, 0) == 39.0
    assert round_ratio(25, 20, 1) == 1.2            # 1.25 → 1.2
    assert round_ratio(27, 20, 1) == 1.4            # 1.35 → 1.4
    out = round_ratio(np.array([69, 5, -69]), np.array([2, 0, 2]), 0)
    assert out[0] == 34.0 and np.isnan(out[1]) and out[2] == -34.0


def test_truncate_scaled_examples():
    t, nan = truncate_scaled([35.9, 9.05, 0.3, np.nan], 1)
    np.testing.assert_array_equal(t[:3], [359, 90, 3])
    np.testing.assert_array_equal(nan, [False, False, False, True])
    t, _ = truncate_scaled([1.0], 3, Fraction(1, 3))       # 0.333…
    assert t[0] == 333


# ---------------------------------------------------------------- properties
finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)
places = st.integers(min_value=0, max_value=2)


@st.composite
def decimal_ties(draw):
    """Floats whose repr is an exact half at the rounding position (the hard cases)."""
    d = draw(places)
    n = draw(st.integers(min_value=-10**7, max_value=10**7))
    return float(Decimal(n * 10 + 5).scaleb(-(d + 1))), d


@given(finite, places)
@settings(max_examples=2000, deadline=None)
def test_agrees_with_decimal_of_repr(x, d):
    assert round_half_even(x, d) == reference(x, d)


@given(decimal_ties())
@settings(max_examples=2000, deadline=None)
def test_agrees_with_decimal_on_ties(case):
    x, d = case
    assert round_half_even(x, d) == reference(x, d)


@given(st.lists(finite, min_size=1, max_size=50), st.lists(places, min_size=50, max_size=50))
@settings(max_examples=300, deadline=None)
def test_vectorised_agrees_elementwise(xs, ds):
    d = np.array(ds[: len(xs)])
    out = round_half_even(np.array(xs), d)
    assert list(out) == [reference(x, int(k)) for x, k in zip(xs, d)]


@given(st.one_of(finite.map(lambda x: (x, None)), decimal_ties()), places)
@settings(max_examples=1000, deadline=None)
def test_idempotent(case, d):
    x = case[0]
    once = round_half_even(x, d)
    assert round_half_even(once, d) == once


@given(st.integers(min_value=-10**12, max_value=10**12), st.integers(min_value=1, max_value=10**6),
       st.integers(min_value=0, max_value=3))
@settings(max_examples=2000, deadline=None)
def test_round_ratio_equals_fraction_rounding(n, m, d):
    # Fraction.__round__ rounds half to even exactly.
    assert round_ratio(n, m, d) == float(round(Fraction(n, m), d))


@given(st.floats(min_value=0, max_value=1e6, allow_nan=False),
       st.integers(min_value=0, max_value=3))
@settings(max_examples=1000, deadline=None)
def test_truncate_equals_exact_truncation(x, d):
    t, _ = truncate_scaled([x], d)
    exact = Fraction(Decimal(repr(x))) * 10**d
    assert t[0] == exact.numerator // exact.denominator
