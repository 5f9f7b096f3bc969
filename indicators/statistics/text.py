"""Text columns of the statistics table.

Rules and details are built as numpy ``StringDType`` arrays (vectorised concatenation,
one array per block of rows) and turned into pandas ``str`` columns by Arrow, straight
from the numpy buffers (no Python string per row).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from numpy.dtypes import StringDType

#: The numpy string dtype of the text arrays.
TEXT = StringDType()


def as_text(values) -> np.ndarray:
    """Array of strings (numpy StringDType) for vectorised concatenation."""
    arr = np.asarray(values)
    if arr.dtype == TEXT:
        return arr
    if arr.dtype.kind in "OU":
        return arr.astype(TEXT)
    return arr.astype(str).astype(TEXT)


def join_text(*parts, sep: str = "; ") -> np.ndarray:
    """Join string arrays element-wise, skipping empty parts."""
    out = as_text(parts[0])
    for p in parts[1:]:
        p = as_text(p)
        out = np.where((out != "") & (p != ""), out + sep + p, out + p)
    return out


def str_series(values: np.ndarray) -> pd.Series:
    """``pd.Series(values.astype(object), dtype=str)`` of numpy strings, built by Arrow
    straight from the numpy buffer (no Python string per row)."""
    try:
        arrow = pa.array(values).cast(pa.large_string())
    except (pa.ArrowException, TypeError, ValueError):
        return pd.Series(values.astype(object), dtype=str)
    return pd.Series(pd.array(arrow, dtype=pd.StringDtype("pyarrow", na_value=np.nan)))


def str_take(parts, order: np.ndarray) -> pd.Series:
    """``str_series(np.concatenate(parts)[order])``, the parts made Arrow arrays first
    and then taken (a take of numpy strings makes each string anew)."""
    try:
        arrow = pa.concat_arrays([pa.array(p, type=pa.large_string()) for p in parts])
        arrow = arrow.take(pa.array(np.asarray(order, dtype=np.int64)))
    except (pa.ArrowException, TypeError, ValueError):
        return str_series(np.concatenate(parts)[order])
    return pd.Series(pd.array(arrow, dtype=pd.StringDtype("pyarrow", na_value=np.nan)))


def take_str(table, codes: np.ndarray) -> pd.Series:
    """``pd.Series(np.asarray(table, dtype=object)[codes], dtype=str)``: the table made a
    ``str`` array once, then taken (by Arrow) row by row."""
    return pd.Series(pd.array(np.asarray(table, dtype=object), dtype=str).take(
        np.asarray(codes, dtype=np.intp)))
