"""Ranking of areas and change rates, standards.md §7.

Areas are ranked on the *reported* value (the composite index at 0.01, a
concentration at its published decimals), ascending — lower is better — except
for the good-day ratio (and good-day count), which rank descending. Ties share
a rank, competition style (1, 1, 3).

**Every area with a value is ranked.** An area whose statistic fails its
capture rule keeps its place in the order with status ``"provisional"`` (暂定)
and the statistic's ``detail`` as the reason, so a district is never dropped
over one missing day. An area with no value at all is listed last, unranked
(rank <NA>), status ``"insufficient data"`` with the reason. ``valid_only=True``
gives the strict order: only valid statistics are ranked, the others are listed
after them as insufficient data.

Change vs a previous period (:func:`change_rate`), on the reported values and
exact (both values as integers on their decimal grid), in the unit the
statistic calls for (:func:`change_kind`): a concentration or an index as the
rate ``(I − I_prev) / I_prev × 100 %``, half-even to the profile's
``rounding.rate_decimals`` (0.1 %); a ratio (good-day ratio) as the difference
in percentage points (53.6 % vs 50.4 % = +3.2 个百分点); a count (heavy days,
exceedance days) as the difference in days. Negative is an improvement for
everything ranked ascending; for the good-day ratio and good days a positive
change is the improvement (column ``improved``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from config.standards import Profile, default_cn_profile, load_profile, profile_for_period_end

from .frames import STAT_COLUMNS, check_columns
from .rounding import round_ratio, scaled_integers

#: Statistics where a higher value is better (ranked descending).
HIGHER_IS_BETTER = ("good_day_ratio", "good_days")
RANKED = "ranked"
#: Ranked although its statistic fails a capture rule (暂定, standards.md §7).
PROVISIONAL = "provisional"
#: Not ranked: no value at all (or, with ``valid_only``, not valid).
INSUFFICIENT = "insufficient data"
#: Statuses that carry a rank.
RANKED_STATUSES = (RANKED, PROVISIONAL)
#: The unit of a change (:func:`change_kind`): relative [%], percentage points, days.
PERCENT, POINTS, DAYS = "percent", "points", "days"
#: Statistics that are ratios (their change is in percentage points) …
RATIO_STATISTICS = ("good_day_ratio",)
#: … and counts of days (their change is in days); everything else changes in %.
COUNT_STATISTICS = ("good_days", "heavy_days", "exceedance_days", "valid_aqi_days")
MATCH = ["level", "area", "pollutant", "statistic"]
_MAX_DECIMALS = 9


def higher_is_better(statistic) -> np.ndarray | bool:
    """True where a larger value of ``statistic`` is better (good-day ratio, good days)."""
    if isinstance(statistic, str):
        return statistic in HIGHER_IS_BETTER
    return np.isin(np.asarray(statistic, dtype=object), HIGHER_IS_BETTER)


def change_kind(statistic) -> np.ndarray | str:
    """Unit of the change of ``statistic`` vs a previous period (standards.md §7):
    ``"points"`` for a ratio (good-day ratio), ``"days"`` for a count of days (heavy
    days, exceedance days, good days), ``"percent"`` (the change rate) for the rest."""
    if isinstance(statistic, str):
        return POINTS if statistic in RATIO_STATISTICS else (
            DAYS if statistic in COUNT_STATISTICS else PERCENT)
    s = np.asarray(statistic, dtype=object)
    return np.where(np.isin(s, RATIO_STATISTICS), POINTS,
                    np.where(np.isin(s, COUNT_STATISTICS), DAYS, PERCENT)).astype(object)


_UNIT_WORDS = {PERCENT: ("%", "%"), POINTS: (" 个百分点", " points"), DAYS: (" 天", " days")}


def change_text(change, kind: str, lang: str = "en", arrow: bool = False,
                decimals: int | None = None) -> str:
    """One change for display, with its unit: ``-8.0%``, ``+3.2 个百分点`` / ``+3.2 points``,
    ``+11 天`` / ``+11 days`` (``arrow``: ``▼8.0%``, ``▲3.2 个百分点``, ``＝0 天``); ``—``
    without a change. ``decimals``: default 1 (%, points) or 0 (days)."""
    if change is None or pd.isna(change):
        return "—"
    kind = kind if kind in _UNIT_WORDS else PERCENT
    d = decimals if decimals is not None else (0 if kind == DAYS else 1)
    value = float(change)
    unit = _UNIT_WORDS[kind][0 if lang == "zh" else 1]
    if kind == DAYS and lang != "zh" and abs(value) == 1:
        unit = " day"
    if arrow:
        mark = "▲" if value > 0 else ("▼" if value < 0 else "＝")
        return f"{mark}{abs(value):.{d}f}{unit}"
    return f"{value:+.{d}f}{unit}" if value != 0 else f"{0:.{d}f}{unit}"


def grid_decimals(values) -> np.ndarray:
    """Fewest decimals on whose grid each published value lies (4.47 → 2, 35.0 → 0; NaN → 0)."""
    x = np.asarray(values, dtype="float64")
    out = np.full(x.shape, _MAX_DECIMALS, dtype="int64")
    todo = np.isfinite(x)
    out[~todo] = 0
    for d in range(_MAX_DECIMALS):
        y = x * 10.0 ** d
        k = np.rint(np.where(todo, y, 0.0))
        on = todo & (np.abs(np.where(todo, y, 0.0) - k) <= 1e-9 * np.maximum(1.0, np.abs(k)))
        out[on] = d
        todo &= ~on
        if not todo.any():
            break
    return out


def _rate_decimals(frame: pd.DataFrame, profile) -> np.ndarray:
    """``rounding.rate_decimals`` per row: of the forced profile, else of the row's profile
    (falling back to the profile in force at the period end when the row's has no rounding)."""
    if profile is not None:
        prof = profile if isinstance(profile, Profile) else load_profile(str(profile))
        # a comparison profile (WHO, EU) brings limits only: no rounding of its own
        if "rounding" in prof.raw:
            return np.full(len(frame), int(prof.rounding["rate_decimals"]), dtype="int64")
    ids = frame["profile"].astype(object).where(frame["profile"].notna(), None).to_numpy()
    ends = pd.to_datetime(frame["end"]).to_numpy()
    out = np.empty(len(frame), dtype="int64")
    keys = pd.DataFrame({"id": ids, "end": ends}).drop_duplicates()
    for pid, end in zip(keys["id"], keys["end"]):      # once per profile, not per area
        # a row without a profile (an expected area with no statistic): pandas 3 turns
        # its None into NaN in the frame of keys
        pid = None if pd.isna(pid) else pid
        prof = None
        if pid is not None and str(pid) != "":
            prof = load_profile(str(pid))
            if "rounding" not in prof.raw:
                prof = None
        if prof is None:
            prof = profile_for_period_end(pd.Timestamp(end).date()) if pd.notna(end) \
                else load_profile(default_cn_profile())
        same_id = (ids == pid) if pid is not None else pd.isna(ids)
        same_end = (ends == end) if pd.notna(end) else pd.isna(ends)
        out[same_id & same_end] = int(prof.rounding["rate_decimals"])
    return out


def _one_per_key(frame: pd.DataFrame, what: str) -> None:
    dup = frame.duplicated(MATCH, keep=False)
    if dup.any():
        row = frame[dup].iloc[0]
        periods = sorted(frame.loc[dup, "period"].astype(str).unique())
        raise ValueError(f"{what} statistics hold more than one row for {row['level']} "
                         f"{row['area']} {row['pollutant']} {row['statistic']} "
                         f"(periods {periods}); select one period first")


def change_rate(current: pd.DataFrame, previous: pd.DataFrame, profile=None) -> pd.DataFrame:
    """Change of each statistic vs a previous period, exact, on the reported values.

    Parameters
    ----------
    current, previous : DataFrame
        Period statistics (``STAT_COLUMNS``), one period each; rows match on
        level, area, pollutant and statistic.
    profile : str, Profile or None
        Profile giving ``rounding.rate_decimals``; None: each current row's profile.

    Returns
    -------
    DataFrame, one row per current row: level, area, pollutant, statistic,
    period, previous_period, reported, previous_reported, valid (both valid),
    change_rate (unrounded [%]), change_rate_reported (half-even to the rate
    decimals [%]), change_kind (``percent`` | ``points`` | ``days``,
    :func:`change_kind`), change (the change to show, in that unit: the
    reported rate [%], the difference in percentage points on the ratio's
    grid, or in days), improved (bool; <NA> without a change). The rate is NaN
    where either value is missing or the previous value is ≤ 0; a difference
    (points, days) only where either value is missing. Show ``change`` with
    its ``change_kind``, never a ratio's or a count's rate.
    """
    check_columns(current, STAT_COLUMNS, "current statistics")
    check_columns(previous, STAT_COLUMNS, "previous statistics")
    _one_per_key(current, "current")
    _one_per_key(previous, "previous")
    prev = previous[MATCH + ["period", "reported", "valid"]].rename(
        columns={"period": "previous_period", "reported": "previous_reported",
                 "valid": "previous_valid"})
    m = current.reset_index(drop=True).merge(prev, on=MATCH, how="left")
    cur = m["reported"].astype("float64").to_numpy()
    old = m["previous_reported"].astype("float64").to_numpy()
    both = np.isfinite(cur) & np.isfinite(old)
    d = np.maximum(grid_decimals(cur), grid_decimals(old))
    a = scaled_integers(np.where(both, cur, 0.0), d, nan_as=0)
    b = scaled_integers(np.where(both, old, 0.0), d, nan_as=0)
    ok = both & (b > 0)
    b_safe = np.where(ok, b, 1)
    diff100 = (a - b) * 100
    exact = np.where(ok, diff100 / b_safe, np.nan)
    rate_dec = _rate_decimals(m, profile)
    reported = np.full(len(m), np.nan)
    if ok.any():
        reported[ok] = round_ratio(diff100[ok], b_safe[ok], rate_dec[ok])
    kind = change_kind(m["statistic"].to_numpy())
    # a ratio or a count: the exact difference on the values' common grid
    difference = (a - b) / np.power(10.0, d)
    differs = kind != PERCENT
    change = np.where(differs, np.where(both, difference, np.nan), reported)
    shown = np.where(differs, both, ok)
    better = np.where(higher_is_better(m["statistic"].to_numpy()), a > b, a < b)
    improved = pd.array(np.where(shown, better, False), dtype="boolean")
    improved[~shown] = pd.NA
    return pd.DataFrame({
        "level": m["level"], "area": m["area"], "pollutant": m["pollutant"],
        "statistic": m["statistic"], "period": m["period"],
        "previous_period": m["previous_period"], "reported": cur, "previous_reported": old,
        "valid": m["valid"].fillna(False).astype(bool).to_numpy()
        & m["previous_valid"].fillna(False).astype(bool).to_numpy(),
        "change_rate": exact, "change_rate_reported": reported,
        "change_kind": kind, "change": change.astype("float64"), "improved": improved})


def rank(stats: pd.DataFrame, by: str = "composite_index", pollutant: str | None = None,
         level: str = "district", period: str | None = None, ascending: bool | None = None,
         previous: pd.DataFrame | None = None, areas=None, profile=None,
         valid_only: bool = False) -> pd.DataFrame:
    """Rank the areas of one level on one statistic of one period.

    Parameters
    ----------
    stats : DataFrame
        Period statistics (``STAT_COLUMNS``), e.g. with the composite rows of
        :func:`indicators.composite.composite_index`.
    by : str
        Statistic to rank on: ``composite_index`` (default), ``annual_mean``,
        ``p95_daily``, ``good_day_ratio`` …
    pollutant : str, optional
        Needed when the statistic exists for several pollutants (``annual_mean``);
        by default the only one present (``ALL`` for the composite).
    level : str
        ``district`` (default), ``city`` or ``station``.
    period : str, optional
        Period label; by default the only one present.
    ascending : bool, optional
        Default ascending (lower is better), descending for ``good_day_ratio``
        and ``good_days``.
    previous : DataFrame, optional
        Statistics of the comparison period (e.g. the same period last year):
        adds ``previous_reported``, ``change_rate``, ``change_rate_reported``,
        ``change_kind``, ``change`` and ``improved`` (:func:`change_rate`).
    areas : iterable of str, optional
        Every area expected; those without a row are listed as insufficient
        data with reason ``"no statistic"``.
    profile : str or Profile, optional
        Profile for the change-rate decimals (default: the rows' profile).
    valid_only : bool
        The strict order: rank valid statistics only (default False: every
        area with a value is ranked, those not valid as ``"provisional"``).

    Returns
    -------
    DataFrame: rank (Int64; <NA> when not ranked), area, value, reported,
    valid, status (``"ranked"`` | ``"provisional"`` | ``"insufficient
    data"``), reason (why provisional or not ranked; "" when ranked), n_valid,
    n_required, level, period, pollutant, statistic [, change columns]; ranked
    and provisional areas first by rank then area, then the others by area.
    """
    check_columns(stats, STAT_COLUMNS, "statistics")
    rows = _rows_to_rank(stats, by, pollutant, level, period, required=areas is None)
    if areas is not None:
        rows = _with_expected_areas(rows, areas, by, pollutant, level, period)
    if ascending is None:
        ascending = not higher_is_better(by)

    reported = rows["reported"].astype("float64")
    valid = rows["valid"].fillna(False).astype(bool)
    rankable = reported.notna() & (valid if valid_only else True)
    ranks = reported.where(rankable).rank(method="min", ascending=ascending)
    detail = rows["detail"].astype(object).where(rows["detail"].notna(), "").astype(str)
    clean = (valid & rankable).to_numpy()
    reason = np.where(clean, "", np.where(detail != "", detail,
                                          np.where(reported.isna(), "no value", "not valid")))
    status = np.where(clean, RANKED, np.where(rankable, PROVISIONAL, INSUFFICIENT))
    out = pd.DataFrame({
        "rank": pd.array(ranks, dtype="Int64"), "area": rows["area"],
        "value": rows["value"].astype("float64"), "reported": reported,
        "valid": valid, "status": status, "reason": reason,
        "n_valid": pd.array(pd.to_numeric(rows.get("n_valid")), dtype="Int64")
        if "n_valid" in rows else pd.NA,
        "n_required": pd.array(pd.to_numeric(rows.get("n_required")), dtype="Int64")
        if "n_required" in rows else pd.NA,
        "level": rows["level"], "period": rows["period"], "pollutant": rows["pollutant"],
        "statistic": rows["statistic"]})
    if previous is not None:
        out = _with_change(out, rows, previous, by, level, profile)
    out["_ranked"] = ~rankable.to_numpy()
    out = out.sort_values(["_ranked", "rank", "area"], kind="stable", na_position="last")
    return out.drop(columns="_ranked").reset_index(drop=True)


def _rows_to_rank(stats: pd.DataFrame, by: str, pollutant, level: str, period,
                  required: bool) -> pd.DataFrame:
    """The rows of statistic ``by`` of one level, pollutant and period, one per area (none
    at all is an error when ``required``)."""
    rows = stats[(stats["statistic"] == by) & (stats["level"] == level)]
    if rows.empty and required:
        raise ValueError(f"no {level} rows with statistic {by!r} to rank")
    if pollutant is None:
        found = pd.unique(rows["pollutant"])
        if len(found) > 1:
            raise ValueError(f"{by} exists for {sorted(map(str, found))}; "
                             "choose one with pollutant=")
    else:
        rows = rows[rows["pollutant"] == pollutant]
    if period is None:
        found = pd.unique(rows["period"].astype(str))
        if len(found) > 1:
            raise ValueError(f"statistics hold periods {sorted(found)}; choose one with period=")
    else:
        rows = rows[rows["period"].astype(str) == str(period)]
    if rows["area"].duplicated().any():
        raise ValueError(f"more than one {by} row for area "
                         f"{rows.loc[rows['area'].duplicated(), 'area'].iloc[0]!r}")
    return rows.reset_index(drop=True)


def _with_expected_areas(rows: pd.DataFrame, areas, by: str, pollutant, level: str,
                         period) -> pd.DataFrame:
    """``rows`` plus a row "no statistic" for every expected area without one."""
    have = set(rows["area"])                 # a set: one lookup per expected area
    extra = [a for a in dict.fromkeys(areas) if a not in have]
    if not extra:
        return rows
    filler = pd.DataFrame({
        "level": level, "area": extra,
        "period": rows["period"].iloc[0] if len(rows) else (period or ""),
        "pollutant": rows["pollutant"].iloc[0] if len(rows) else (pollutant or ""),
        "statistic": by, "value": np.nan, "reported": np.nan, "valid": False,
        "detail": "no statistic"})
    return pd.concat([rows, filler], ignore_index=True)


def _with_change(out: pd.DataFrame, rows: pd.DataFrame, previous: pd.DataFrame, by: str,
                 level: str, profile) -> pd.DataFrame:
    """The ranking ``out`` with the change of each area's statistic vs ``previous``."""
    current = rows.reindex(columns=list(STAT_COLUMNS))
    prev = previous[(previous["statistic"] == by) & (previous["level"] == level)
                    & previous["pollutant"].isin(pd.unique(rows["pollutant"]))]
    ch = change_rate(current, prev, profile=profile)
    return out.assign(previous_reported=ch["previous_reported"].to_numpy(),
                      change_rate=ch["change_rate"].to_numpy(),
                      change_rate_reported=ch["change_rate_reported"].to_numpy(),
                      change_kind=ch["change_kind"].to_numpy(),
                      change=ch["change"].to_numpy(),
                      improved=ch["improved"].array)
