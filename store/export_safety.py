"""Spreadsheet-safe tables: neutralise cells a spreadsheet would run as a formula.

A station name or code such as ``=HYPERLINK(…)`` or ``@SUM(…)`` becomes a live
formula when a CSV or xlsx export is opened in Excel or LibreOffice (CSV or
formula injection). :func:`neutralise_formulas` applies OWASP's rule to a
frame just before it is written for a user: every *text* cell (and column
header) that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return gets a leading single quote, so it is shown as text. Numbers stay
numbers (``-3.5`` in a float column is a value, not text), and so does a text
cell that is one plain decimal number (``-6.1``, ``+2.50``, ``-1e-3``: the
ranking export writes numbers as published text; a spreadsheet reads them as
numbers and no formula can be built from digits, a sign, a point and an
exponent). Every other cell is left exactly as it was.

Why here: both surfaces that write tables for users, the dashboard's
``/export/…`` route (:func:`dashboard.exports.frame_bytes`) and the command
line's CSV/xlsx output (``lantian.cli``), already import ``store`` for the
frames they export, and ``store`` imports neither of them, so the data still
flows one way. The module depends on pandas only.
"""
from __future__ import annotations

import pandas as pd

#: First characters that make a spreadsheet read a cell as a formula (OWASP CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: What a neutralised cell is prefixed with.
PREFIX = "'"
#: Text that is one plain decimal number: a value, not a formula, even with a sign.
PLAIN_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"


def _is_texty(dtype) -> bool:
    return isinstance(dtype, (pd.StringDtype, pd.CategoricalDtype)) or dtype == object


def _neutralised(values: pd.Series) -> pd.Series | None:
    """``values`` with dangerous text cells prefixed, or None when nothing changes."""
    if not _is_texty(values.dtype):
        return None
    if isinstance(values.dtype, pd.CategoricalDtype):
        categories = _neutralised(pd.Series(values.cat.categories))
        if categories is None:
            return None
        if categories.is_unique:
            return values.cat.rename_categories(list(categories))
        values = values.astype(object)       # "=x" and "'=x" both present: plain values
    try:
        starts = values.str.startswith(FORMULA_STARTS)
    except AttributeError:                   # an object column holding no text at all
        return None
    # object columns: NaN for cells that are not text (numbers, dates, None)
    mask = starts.to_numpy(dtype=bool, na_value=False).copy()
    if mask.any():
        mask[mask] = ~values[mask].str.fullmatch(PLAIN_NUMBER).to_numpy(dtype=bool)
    if not mask.any():
        return None
    out = values.copy()
    out[mask] = PREFIX + values[mask].astype(str)
    return out


def _safe_index(index: pd.Index) -> pd.Index:
    if isinstance(index, pd.MultiIndex):
        return index.set_levels([_safe_index(level) for level in index.levels])
    new = _neutralised(pd.Series(index, dtype=index.dtype))
    return index if new is None else pd.Index(new, name=index.name)


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` safe to open in a spreadsheet (OWASP CSV-injection rule).

    Every text cell and text column header beginning with ``=``, ``+``, ``-``,
    ``@``, tab or carriage return is prefixed with ``'``, unless the text is one
    plain decimal number (:data:`PLAIN_NUMBER`). Numeric, boolean and date
    columns, non-text cells of mixed columns and all other text are returned
    unchanged; so are the dtypes. Vectorised per column.
    """
    out = frame.copy()
    for j in range(out.shape[1]):
        new = _neutralised(out.iloc[:, j])
        if new is not None:
            out.isetitem(j, new)
    out.columns = _safe_index(out.columns)
    return out
