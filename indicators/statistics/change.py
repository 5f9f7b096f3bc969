"""Change of every statistic vs the same period one year earlier (standards.md §7).

The arithmetic is :func:`indicators.ranking.change_rate`'s: exact, on the reported
values, in the statistic's unit (``change_kind``: a concentration or an index in %,
half to even to ``rounding.rate_decimals``; a ratio in percentage points; a count in
days); here any number of periods at once, each matched with the period one year
before.
"""
from __future__ import annotations

import pandas as pd

from .. import ranking
from ..frames import STAT_COLUMNS, check_columns


def _same_period_key(period: pd.Series, shift: int) -> pd.Series:
    """Period label shifted by ``shift`` years; year-to-date labels lose their end day.

    ``'2015'`` → ``'2014'``, ``'2015-03'`` → ``'2014-03'``, ``'2015-Q1'`` → ``'2014-Q1'``,
    ``'2015-YTD-11-22'`` → ``'2014-YTD'`` (with ``shift=-1``).
    """
    p = period.astype(str)
    year = pd.to_numeric(p.str.slice(0, 4), errors="coerce")
    rest = p.str.slice(4)
    rest = rest.where(~rest.str.startswith("-YTD"), "-YTD")
    return (year + shift).astype("Int64").astype(str) + rest


def change_rate(stats: pd.DataFrame, previous_stats: pd.DataFrame, profile=None) -> pd.DataFrame:
    """``stats`` with the change vs the same period one year earlier (standards.md §7).

    Rows match on level, area, pollutant, statistic and the period one year
    before (``2015-03`` ↔ ``2014-03``; year-to-date rows match the previous
    year's year-to-date whatever its end day). Any number of periods at once;
    the arithmetic is :func:`indicators.ranking.change_rate`'s (exact, on the
    reported values, half-even to ``rounding.rate_decimals``).

    Returns
    -------
    DataFrame: the columns of ``stats`` plus previous_period,
    previous_reported, change_valid (both valid), change_rate [%] (unrounded),
    change_rate_reported [%], change_kind (``percent`` | ``points`` | ``days``),
    change (the change to show, in that unit), improved. Displays show
    ``change`` with its kind: a ratio's or a count's relative rate is no
    published figure (53.6 % vs 50.4 % is +3.2 points, not +6.3 %).
    """
    check_columns(stats, STAT_COLUMNS, "statistics")
    check_columns(previous_stats, STAT_COLUMNS, "previous statistics")
    cur = stats.reset_index(drop=True)
    key_cur = _same_period_key(cur["period"], -1)
    key_prev = _same_period_key(previous_stats["period"], 0)
    # fold the period into the area so that ranking.change_rate matches one row per key
    c = cur.assign(area=cur["area"].astype(str) + "\x1f" + key_cur.to_numpy())
    p = previous_stats.assign(
        area=previous_stats["area"].astype(str) + "\x1f" + key_prev.to_numpy())
    ch = ranking.change_rate(c, p, profile=profile)
    out = cur.copy()
    out["previous_period"] = ch["previous_period"].to_numpy()
    out["previous_reported"] = ch["previous_reported"].to_numpy()
    out["change_valid"] = ch["valid"].to_numpy()
    out["change_rate"] = ch["change_rate"].to_numpy()
    out["change_rate_reported"] = ch["change_rate_reported"].to_numpy()
    out["change_kind"] = ch["change_kind"].to_numpy()
    out["change"] = ch["change"].to_numpy()
    out["improved"] = ch["improved"].array
    return out
