"""Rounding by GB/T 8170 (round half to even) without binary-float errors.

standards.md §4: published values are rounded half to even, once, on the
*decimal* value — never with ``round()`` on a binary float. A float such as
``2.675`` is stored as 2.67499999999999982236431605997495353221893310546875;
rounding that binary value gives 2.67, whereas the decimal the user sees
(``repr`` → ``'2.675'``) rounds to 2.68. Here every float stands for the
decimal number its shortest round-trip ``repr`` shows, and that decimal is
rounded exactly.

The work is vectorised: values are scaled by 10**d and rounded by numpy; only
the rare values lying within a few ulp of a half (the only ones where binary
error can change the result) are re-rounded one by one with
``decimal.Decimal(repr(x)).quantize(..., ROUND_HALF_EVEN)``.
"""
from __future__ import annotations

import decimal
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

import numpy as np
import pandas as pd

__all__ = ["round_half_even", "round_ratio", "scaled_integers", "truncate_scaled",
           "exact_decimal"]

# Near-tie / near-integer test: the scaled float y = fl(x * 10**d) lies within
# 1.5 ulp(y) of the exact scaled decimal (½ ulp from storing x, ½ ulp from the
# product, amplified ≤ 2× by the scale), so 16 ulp is a safe margin.
_ULP_MARGIN = 16.0
_EXACT = decimal.Context(prec=80, rounding=ROUND_HALF_EVEN)
_INT64_MAX = np.iinfo(np.int64).max


def exact_decimal(x: float) -> Decimal:
    """The decimal number a float stands for: its shortest round-trip ``repr``.

    ``float(x)`` first, because ``repr(np.float64(x))`` is ``'np.float64(…)'``
    under numpy 2.
    """
    return Decimal(repr(float(x)))


def _as_float_array(values) -> tuple[np.ndarray, object]:
    """(float64 array, a function that wraps a result back like the input)."""
    if isinstance(values, pd.Series):
        index, name = values.index, values.name
        arr = pd.to_numeric(values).to_numpy(dtype="float64", na_value=np.nan)
        return arr, lambda r: pd.Series(r, index=index, name=name)
    arr = np.asarray(values, dtype="float64")
    if arr.ndim == 0:
        return arr.reshape(1), lambda r: r[0]
    return arr, lambda r: r


def _decimals_array(decimals, shape, wide: bool = True) -> np.ndarray:
    """Decimals broadcast to ``shape``: int64, or (``wide=False``) any signed integer
    type as given (no int64 copy of a per-element array; not for powers of ten in
    integers)."""
    d = np.asarray(decimals)
    if d.dtype.kind not in "iu":
        if not np.all(np.equal(np.mod(d, 1), 0)):
            raise ValueError(f"decimals must be integers, got {decimals!r}")
        d = d.astype(np.int64)
    if wide or d.dtype.kind != "i":
        d = d.astype(np.int64)
    return np.broadcast_to(d, shape)


# Exact powers of ten as floats (10**22 is the largest that float64 holds exactly).
_POW10 = np.array([float(10 ** i) for i in range(23)])


def _powers(d: np.ndarray):
    """10.0**|d| — one scalar when ``d`` is uniform (the common case), else per element."""
    if d.size == 0:
        return np.ones(d.shape), True
    if all(st == 0 for st, n in zip(d.strides, d.shape) if n > 1):     # a broadcast scalar
        one = int(d.flat[0])
        return float(10.0 ** abs(one)), bool(one >= 0)
    lo, hi = int(d.min()), int(d.max())
    if lo == hi:
        return float(10.0 ** abs(lo)), bool(lo >= 0)
    if 0 <= lo and hi < len(_POW10):
        return _POW10[d], True                    # the same exact powers, by lookup
    magnitude = np.abs(d.astype(np.int64))
    p = _POW10[magnitude] if hi < len(_POW10) and -lo < len(_POW10) else np.power(10.0, magnitude)
    if lo >= 0:
        return p, True
    return p, d >= 0


def _scale(y_int: np.ndarray, d: np.ndarray, powers=None) -> np.ndarray:
    """y_int / 10**d as the float nearest to that decimal (one correctly rounded op)."""
    p, up = powers if powers is not None else _powers(d)
    if isinstance(up, bool):
        return y_int / p if up else y_int * p
    return np.where(up, y_int / p, y_int * p)


def _scaled_product(x: np.ndarray, d: np.ndarray, powers=None) -> np.ndarray:
    """fl(x * 10**d) with one rounding (division by an exact power of ten when d < 0)."""
    p, up = powers if powers is not None else _powers(d)
    with np.errstate(over="ignore"):
        if isinstance(up, bool):
            if isinstance(p, float) and p == 1.0:
                return x                    # x · 1 is x (callers do not write into it)
            return x * p if up else x / p
        return np.where(up, x * p, x / p)


# Below this |x · 10**d| the decimal shown by repr(x) lies on the grid of 10**-(d+1)
# only where x is the float nearest to that grid point (ulp(x) < 10**-(d+1)).
_TIE_EXACT_LIMIT = 2.0 ** 45


def _ties_exactly(x: np.ndarray, y: np.ndarray, d: np.ndarray) -> np.ndarray:
    """GB/T 8170 half-even of the decimal shown by ``repr(x)``, scaled by 10**d, for
    values whose scaled float ``y`` lies near a half (vectorised, exact).

    With k = floor(y) and t = (k + ½)·10**-d the decimal half, let t̂ be the float
    nearest to t (one correctly rounded division or product of exact operands).
    If x == t̂, repr(x) *is* t (no shorter decimal lies within half an ulp of x
    below the limit): a tie, to the even neighbour. Otherwise t is outside x's
    rounding interval, so repr(x) lies on x's side of t: k + 1 above, k below.
    Beyond the limit the decimal is formed one value at a time.
    """
    d = np.asarray(d, dtype=np.int64)
    k = np.floor(y)
    small = (np.abs(y) < _TIE_EXACT_LIMIT) & (np.abs(d) < len(_POW10))
    dd = np.where(small, np.abs(d), 0)
    p = _POW10[dd]
    twice = 2.0 * k + 1.0                               # exact: |k| < 2**45
    with np.errstate(over="ignore", invalid="ignore"):
        t = np.where(d >= 0, twice / (2.0 * p), twice * (p / 2.0))
    out = np.where(x > t, k + 1.0, np.where(x < t, k, k + np.mod(k, 2.0)))
    for i in np.flatnonzero(~small):
        q = exact_decimal(x[i]).scaleb(int(d[i]), context=_EXACT)
        out[i] = float(q.to_integral_value(rounding=ROUND_HALF_EVEN, context=_EXACT))
    return out


def _half_even_core(x: np.ndarray, d: np.ndarray, powers=None):
    """(round_half_even(x, d) · 10**d as integral floats, the largest |result| ignoring
    NaN, whether there is a NaN or ±inf among the results)."""
    y = _scaled_product(x, d, powers)
    out = np.rint(y)                        # numpy rounds half to even
    with np.errstate(invalid="ignore"):
        hi, lo = np.max(out, initial=-np.inf), np.min(out, initial=np.inf)   # NaN-propagating
        unclean = not (np.isfinite(hi) and np.isfinite(lo))
        if np.isnan(hi) or np.isnan(lo):
            hi = np.fmax.reduce(out, axis=None, initial=-np.inf)
            lo = np.fmin.reduce(out, axis=None, initial=np.inf)
        biggest = max(hi, -lo)
        # Near a half (within 16 ulp(y), or a little more: |y|·2**-48 ≥ 16 ulp(y)) the
        # binary float may sit on the wrong side of the decimal half: resolve those
        # exactly. Below 2**44 the margin is under 1/16, so only gaps of 7/16 or more
        # are looked at closely.
        gap = np.subtract(y, out)
        np.abs(gap, out=gap)
        if biggest < 2.0 ** 44:
            idx = np.nonzero(gap >= 0.4375)
            if len(idx[0]):
                near = gap[idx] + np.abs(y[idx]) * 2.0 ** -48 >= 0.5
                idx = tuple(i[near] for i in idx)
        else:
            margin = np.abs(y)
            margin *= 2.0 ** -48
            gap += margin
            idx = np.nonzero(gap >= 0.5)
            del margin
    del gap
    if len(idx[0]):
        out[idx] = _ties_exactly(x[idx], y[idx], np.asarray(d[idx]))
    return out, biggest, unclean


def _half_even_scaled(x: np.ndarray, d: np.ndarray, powers=None) -> np.ndarray:
    """round_half_even(x, d) * 10**d as integral floats (NaN/inf pass through)."""
    return _half_even_core(x, d, powers)[0]


def round_half_even(values, decimals):
    """Round to ``decimals`` places, half to even, on the decimal value (GB/T 8170).

    Parameters
    ----------
    values : float, array-like or pandas.Series
        Values to round [any unit]. NaN (and ±inf) pass through.
    decimals : int or array-like of int
        Decimal places [-]; an array must align with ``values``. Negative
        values round to tens, hundreds …

    Returns
    -------
    float, numpy.ndarray or pandas.Series
        Same shape and kind as ``values`` (a Series keeps its index), float64:
        the float nearest to the correctly rounded decimal, so that rounding
        it again changes nothing.

    Examples
    --------
    >>> round_half_even([34.5, 35.5, 34.51, 1.25, 1.35, 2.675], [0, 0, 0, 1, 1, 2]).tolist()
    [34.0, 36.0, 35.0, 1.2, 1.4, 2.68]
    """
    x, wrap = _as_float_array(values)
    d = _decimals_array(decimals, x.shape)
    powers = _powers(d)
    return wrap(_scale(_half_even_scaled(x, d, powers), d, powers))


def scaled_integers(values, decimals, *, nan_as: int | None = None) -> np.ndarray:
    """Published values as exact integers in units of 10**-decimals.

    ``scaled_integers([1.3, 2.2], 1)`` → ``[13, 22]`` (CO in 0.1 mg/m³).
    Values not on the decimal grid are first rounded half to even (GB/T 8170),
    i.e. published.

    Parameters
    ----------
    values : array-like or pandas.Series
        Values [any unit], normally already published.
    decimals : int or array-like of int
        Decimal places of the grid [-].
    nan_as : int, optional
        Integer written where a value is NaN. Without it a NaN raises
        ``ValueError`` (an int64 array cannot say "missing" by itself).

    Returns
    -------
    numpy.ndarray of int64
        ``value × 10**decimals`` exactly.
    """
    x, _ = _as_float_array(values)
    d = _decimals_array(decimals, x.shape, wide=False)
    powers = _powers(d)
    # Already on the grid (the usual case: published values): every x · 10**d is an
    # integral finite float, which _half_even_core would return unchanged (no gap to
    # a half anywhere) — the same integers, without the search for near-halves.
    with np.errstate(invalid="ignore"):
        y = _scaled_product(x, d, powers)
        out = np.rint(y)
        if x.size and np.array_equal(out, y):          # (a NaN is never equal)
            hi, lo = np.max(out), np.min(out)
            if np.isfinite(hi) and np.isfinite(lo) and max(hi, -lo) <= 2.0 ** 53:
                return out.astype(np.int64)
    del y, out
    scaled, biggest, unclean = _half_even_core(x, d, powers)
    if unclean:
        bad = ~np.isfinite(scaled)
        if nan_as is None or np.isinf(scaled[bad]).any():
            raise ValueError("scaled_integers: values contain NaN or inf; pass nan_as= for NaN")
        scaled = np.where(bad, nan_as, scaled)
        biggest = np.abs(scaled).max(initial=0)
    if biggest > 2.0 ** 53:
        raise ValueError("scaled_integers: values too large for exact int64 arithmetic")
    return scaled.astype(np.int64)


def _to_int_array(values, what: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            return arr.astype(np.int64)
        raise ValueError(f"round_ratio: {what} must be integers, got dtype {arr.dtype}")
    return arr.astype(np.int64)


def round_ratio(numerator, denominator, decimals):
    """Exactly rounded ratio of integers, half to even (GB/T 8170).

    E.g. the annual mean of integer daily values is ``sum / n`` rounded once:
    ``round_ratio(1409, 36, 0)`` → 39.0 (39.138…), ``round_ratio(69, 2, 0)`` → 34.0
    (34.5, a tie, goes to the even neighbour).

    Parameters
    ----------
    numerator : int or array-like of int
        Dividend [any unit, as integers — e.g. CO in 0.1 mg/m³ via
        :func:`scaled_integers`].
    denominator : int or array-like of int
        Divisor [-]; where it is ≤ 0 the result is NaN.
    decimals : int or array-like of int
        Decimal places of the result [-], ≥ 0.

    Returns
    -------
    numpy.ndarray of float64
        The float nearest to the correctly rounded decimal ``numerator /
        denominator`` (a 0-d input gives a float).
    """
    n = _to_int_array(numerator, "numerator")
    m = _to_int_array(denominator, "denominator")
    n, m = np.broadcast_arrays(n, m)
    scalar = n.ndim == 0
    n, m = np.atleast_1d(n), np.atleast_1d(m)
    d = _decimals_array(decimals, n.shape)
    if (d < 0).any():
        raise ValueError("round_ratio: decimals must be >= 0")
    ok = m > 0
    m_safe = np.where(ok, m, 1)
    p = np.power(10, d).astype(np.int64) if d.max(initial=0) < 19 else None
    if p is None or (np.abs(n) > _INT64_MAX // p // 2).any() or (m_safe > _INT64_MAX // 4).any():
        # Beyond int64: the same arithmetic on Python integers (object arrays).
        a = n.astype(object) * np.power(10, d.astype(object))
        m_obj = m_safe.astype(object)
    else:
        a = n * p
        m_obj = m_safe
    q = a // m_obj                      # floor; remainder r in [0, m)
    r = a - q * m_obj
    twice = 2 * r
    up = (twice > m_obj) | ((twice == m_obj) & (q % 2 == 1))   # half to even
    q = q + up.astype(np.int64)
    out = _scale(np.asarray(q, dtype="float64"), d)
    out = np.where(ok, out, np.nan)
    return float(out[0]) if scalar else out


def truncate_scaled(values, decimals, factor: Fraction | int = 1) -> np.ndarray:
    """Exact truncation toward zero of ``value × factor`` to ``decimals`` places, as integers.

    Used by the US EPA AQI, which truncates concentrations (standards.md §8),
    possibly after a unit conversion ``factor`` (e.g. µg/m³ → ppb). The value
    is the decimal shown by ``repr`` and the factor an exact fraction, so
    ``9.05`` truncated to 1 place is 90 (9.0), never 90.4999… → 90 by luck.

    Parameters
    ----------
    values : array-like or pandas.Series
        Values [source unit]; NaN allowed.
    decimals : int
        Decimal places kept [-].
    factor : fractions.Fraction or int
        Exact conversion factor [target unit / source unit].

    Returns
    -------
    tuple of (numpy.ndarray of int64, numpy.ndarray of bool)
        ``trunc(value × factor × 10**decimals)`` (0 where NaN) and the NaN mask.
    """
    x, _ = _as_float_array(values)
    factor = Fraction(factor)
    nan = ~np.isfinite(x)
    scale = Fraction(10) ** decimals * factor
    y = np.abs(x) * float(scale)
    t = np.floor(y)
    with np.errstate(invalid="ignore"):
        near = np.abs(y - np.round(y)) <= _ULP_MARGIN * np.spacing(np.abs(y))
    near &= ~nan
    for i in np.flatnonzero(near):
        exact = abs(Fraction(exact_decimal(x[i]))) * scale
        t[i] = float(exact.numerator // exact.denominator)
    t = np.where(nan, 0.0, t * np.sign(np.where(nan, 1.0, x)))
    if np.abs(t).max(initial=0) > 2.0 ** 53:
        raise ValueError("truncate_scaled: values too large for exact int64 arithmetic")
    return t.astype(np.int64), nan

