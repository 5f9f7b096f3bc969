"""Composite index (综合指数) and single indices, standards.md §7.

``I_i = C_i / S_i`` for the six pollutants and ``I_sum = Σ w_i · I_i``, where
``C_i`` is the *reported* (published, rounded) period statistic — the period
mean of SO2, NO2, PM10 and PM2.5 (statistic ``annual_mean``), the CO
``p95_daily`` and the O3 ``p90_mda8`` — and ``S_i`` the profile's
``composite.reference_limits`` (default the 2012 Grade II limits 60, 40, 70,
35, 4, 160), ``w_i`` the profile's ``composite.weights`` (default all 1).

Everything is computed in exact integer arithmetic: ``C_i`` is a decimal with
the pollutant's published decimals and ``S_i``, ``w_i`` are decimals from the
profile, so every ``I_i`` and ``I_sum`` is a ratio of integers, rounded once
(GB/T 8170 half-even) to ``rounding.index_decimals`` with
:func:`indicators.rounding.round_ratio`. ``value`` holds the exact ratio
converted once to float (no float summing).

Dust: the composite consumes whatever statistics it is given. By default
(profile ``dust.exclude_from`` lists ``composite_index``) it must be fed the
PM10/PM2.5 statistics computed with dust days removed (see
:mod:`indicators.dust`).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import lcm

import numpy as np
import pandas as pd

from config.standards import Profile, default_cn_profile, load_profile, profile_for_period_end
from config.vocabulary import JUDGED_STATISTIC

from .frames import POLLUTANTS, STAT_COLUMNS, check_columns
from .rounding import round_ratio, scaled_integers

#: The statistic that is ``C_i`` of each pollutant (standards.md §7): the one its year is
#: judged by (HJ 663-2013 Table 2).
INPUTS = JUDGED_STATISTIC
KEYS = ["level", "area", "period"]
RULE = ("composite: all six inputs valid (SO2, NO2, PM10, PM2.5 annual_mean; "
        "CO p95_daily; O3 p90_mda8)")
PRIMARY_PREFIX = "primary: "
_OWN = ("composite_index", "single_index")


def _as_profile(profile) -> Profile | None:
    if profile is None or isinstance(profile, Profile):
        return profile
    return load_profile(str(profile))


def _fraction(x) -> Fraction:
    return Fraction(str(x))


def _profile_ids(groups: pd.DataFrame, stats_profile: pd.Series, profile: Profile | None) -> pd.Series:
    """Profile id per group: forced, else the inputs' profile, else the one in force at the end."""
    if profile is not None:
        return pd.Series(profile.id, index=groups.index, dtype=object)
    ids = stats_profile.astype(object)
    missing = ids.isna() | (ids.astype(str) == "")
    if missing.any():
        ends = pd.to_datetime(groups.loc[missing, "end"])
        fallback = default_cn_profile()
        fill = [profile_for_period_end(d.date()).id if pd.notna(d) else fallback
                for d in ends.unique()]
        by_end = dict(zip(ends.unique(), fill))
        ids = ids.copy()
        ids[missing] = ends.map(by_end).fillna(fallback).to_numpy()
    return ids


def _join(acc: np.ndarray, add: np.ndarray, text, sep: str) -> np.ndarray:
    """Vectorised ``acc += sep + text`` where ``add`` (object arrays of str)."""
    text = np.asarray(text, dtype=object) if not isinstance(text, str) else text
    joined = np.where(acc == "", "", acc + sep) + text
    return np.where(add, joined, acc)


def _input_rows(groups: pd.DataFrame, inputs: pd.DataFrame) -> dict:
    """Pollutant → for each group (in order) the position of its input row in ``inputs``,
    for the pollutants where every group has exactly one (no key missing)."""
    if groups[KEYS].isna().any(axis=None) or inputs[KEYS].isna().any(axis=None):
        return {}
    at = pd.MultiIndex.from_frame(groups[KEYS]).get_indexer(
        pd.MultiIndex.from_frame(inputs[KEYS]))
    pollutant = inputs["pollutant"].to_numpy()
    out = {}
    for p in POLLUTANTS:
        sel = np.flatnonzero(pollutant == p)
        group = at[sel]
        if len(sel) != len(groups) or (group < 0).any():
            continue
        rows = np.full(len(groups), -1, dtype=np.intp)
        rows[group] = sel
        if (rows >= 0).all():
            out[p] = rows
    return out


def composite_index(stats: pd.DataFrame, profile=None, weights: dict | None = None) -> pd.DataFrame:
    """Composite index and the six single indices of every (level, area, period).

    Parameters
    ----------
    stats : DataFrame
        Period statistics (``frames.STAT_COLUMNS``). Rows with statistic
        ``composite_index``/``single_index`` are ignored.
    profile : str, Profile or None
        Profile whose ``composite`` section (reference limits, weights) and
        ``rounding`` (decimals of the inputs, ``index_decimals``) apply. None:
        the profile recorded on the input rows (the one in force at the end of
        the period, or a forced one), else the schedule's profile at the end.
    weights : dict, optional
        Override of the weights, e.g. ``{"PM2.5": 3, "NO2": 2, "O3": 2}`` for
        the weighted variant (unconfirmed, standards.md §7); pollutants not
        named keep the profile's weight.

    Returns
    -------
    DataFrame in ``STAT_COLUMNS`` layout: per (level, area, period) one row
    pollutant ``ALL`` statistic ``composite_index`` followed by six rows
    statistic ``single_index``. ``value`` is the exact ratio as float,
    ``reported`` the half-even rounding to the profile's index decimals.
    The composite is valid only when all six inputs are present and valid;
    its ``detail`` is ``"primary: PM2.5"`` (largest exact single index; ties
    list all, in the order SO2, NO2, PM10, PM2.5, CO, O3) when valid, and
    lists the missing/invalid inputs otherwise. Its ``n_valid`` counts the
    valid inputs (``n_required`` 6). Single-index rows carry their input's
    validity, counts, rule and detail.
    """
    check_columns(stats, STAT_COLUMNS, "statistics")
    forced = _as_profile(profile)
    base = stats[~stats["statistic"].isin(_OWN)]
    groups = base.drop_duplicates(KEYS)[KEYS + ["start", "end"]].reset_index(drop=True)
    if groups.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in STAT_COLUMNS})
    cols = _input_columns(groups, _inputs(base))
    pids = _group_profiles(groups, base, cols, forced).to_numpy()

    n = len(groups)
    all_present = np.ones(n, dtype=bool)
    all_valid = np.ones(n, dtype=bool)
    for p in POLLUTANTS:
        all_present &= cols[p]["present"]
        all_valid &= cols[p]["present"] & cols[p]["valid"]
    idx = _Indices(n)
    for pid in pd.unique(pids):          # one pass per profile, vectorised over areas
        sel = pids == pid
        prof = forced if forced is not None else load_profile(str(pid))
        _profile_indices(_terms(prof, weights), cols, sel, all_present, idx)
    return _composite_frame(groups, cols, idx, all_valid, pids)


def _inputs(base: pd.DataFrame) -> pd.DataFrame:
    """The input rows (the :data:`INPUTS` statistic of each pollutant), one per group."""
    want = pd.DataFrame(list(INPUTS.items()), columns=["pollutant", "statistic"])
    inputs = base.merge(want, on=["pollutant", "statistic"])
    dup = inputs.duplicated(KEYS + ["pollutant"], keep=False)
    if dup.any():
        first = inputs[dup].iloc[0]
        raise ValueError(f"statistics frame has more than one {first['pollutant']} "
                         f"{first['statistic']} row for {first['level']} {first['area']} "
                         f"{first['period']}")
    return inputs


def _input_columns(groups: pd.DataFrame, inputs: pd.DataFrame) -> dict:
    """Pollutant → the columns of its input row for each group (in order): present,
    valid, reported, n_valid, n_required, rule, detail, profile."""
    cols = {}
    at = _input_rows(groups, inputs)
    if at:
        # the columns the merge below takes, converted once for every input row
        whole = {
            "present": inputs["reported"].notna().to_numpy(),
            "valid": inputs["valid"].fillna(False).astype(bool).to_numpy(),
            "reported": inputs["reported"].astype("float64").to_numpy(),
            "n_valid": inputs["n_valid"].to_numpy(),
            "n_required": inputs["n_required"].to_numpy(),
            "rule": inputs["rule"].astype(object).to_numpy(),
            "detail": inputs["detail"].astype(object).fillna("").to_numpy(),
            "profile": inputs["profile"].astype(object).to_numpy(),
        }
    for p in POLLUTANTS:
        rows = at.get(p)
        if rows is not None:
            # every group has its one input row: the merge below would give these rows
            cols[p] = {k: v[rows] for k, v in whole.items()}
            continue
        sub = inputs[inputs["pollutant"] == p]
        m = groups[KEYS].merge(sub, on=KEYS, how="left", indicator=True)
        cols[p] = {
            "present": (m["_merge"] == "both").to_numpy() & m["reported"].notna().to_numpy(),
            "valid": m["valid"].fillna(False).astype(bool).to_numpy(),
            "reported": m["reported"].astype("float64").to_numpy(),
            "n_valid": m["n_valid"].to_numpy(),
            "n_required": m["n_required"].to_numpy(),
            "rule": m["rule"].astype(object).to_numpy(),
            "detail": m["detail"].astype(object).fillna("").to_numpy(),
            "profile": m["profile"].astype(object).to_numpy(),
        }
    return cols


def _group_profiles(groups: pd.DataFrame, base: pd.DataFrame, cols: dict,
                    forced: Profile | None) -> pd.Series:
    """Profile id of each group: forced, else the first input that names one, else any row
    of the group, else the one in force at the period end."""
    n = len(groups)
    stats_profile = pd.Series([None] * n, dtype=object)
    for p in POLLUTANTS:
        stats_profile = stats_profile.where(stats_profile.notna(), pd.Series(cols[p]["profile"]))
    if stats_profile.isna().any():
        other = groups[KEYS].merge(base.drop_duplicates(KEYS)[KEYS + ["profile"]], on=KEYS,
                                   how="left")
        stats_profile = stats_profile.where(stats_profile.notna(), other["profile"])
    return _profile_ids(groups, stats_profile, forced)


@dataclass(frozen=True)
class _Terms:
    """One profile's exact terms: ``I_i = C_int·num[i] / den[i]`` and
    ``w_i·I_i = C_int·term_num[i] / term_den[i]`` (C_int the published value on its
    integer grid), and the index decimals."""
    num: dict
    den: dict
    term_num: dict
    term_den: dict
    decimals: dict
    index_decimals: int


def _terms(prof: Profile, weights: dict | None) -> _Terms:
    """The terms of ``prof``'s reference limits and weights (overridden by ``weights``)."""
    try:
        comp = prof.composite
        limits = comp["reference_limits"]
        w_cfg = dict(comp.get("weights") or {})
        idx_dec = int(prof.rounding["index_decimals"])
    except KeyError as exc:
        raise ValueError(f"profile {prof.id!r} has no composite index settings ({exc}); "
                         "use a Chinese profile (cn-2012, cn-2026-…)") from None
    w_cfg.update(weights or {})
    unknown = set(weights or {}) - set(POLLUTANTS)
    if unknown:
        raise ValueError(f"weights for unknown pollutants {sorted(unknown)}; "
                         f"use {', '.join(POLLUTANTS)}")
    num_f, den_i, term_den, term_num, decimals = {}, {}, {}, {}, {}
    for p in POLLUTANTS:
        s = _fraction(limits[p])
        if s <= 0:
            raise ValueError(f"profile {prof.id}: composite.reference_limits.{p} must be > 0")
        w = _fraction(w_cfg.get(p, 1))
        decimals[p] = prof.decimals(p)
        scale = 10 ** decimals[p]
        # I = C_int / scale / (sn/sd) = C_int·sd / (scale·sn)
        num_f[p], den_i[p] = s.denominator, scale * s.numerator
        # w·I = C_int · (wn·sd) / (wd·scale·sn)
        term_num[p], term_den[p] = w.numerator * s.denominator, w.denominator * scale * s.numerator
    return _Terms(num_f, den_i, term_num, term_den, decimals, idx_dec)


class _Indices:
    """The composite and single indices of every group (unrounded, published) and which
    pollutants are primary, filled profile by profile."""

    def __init__(self, n: int):
        self.comp_value = np.full(n, np.nan)
        self.comp_reported = np.full(n, np.nan)
        self.single_value = {p: np.full(n, np.nan) for p in POLLUTANTS}
        self.single_reported = {p: np.full(n, np.nan) for p in POLLUTANTS}
        self.is_primary = {p: np.zeros(n, dtype=bool) for p in POLLUTANTS}


def _profile_indices(terms: _Terms, cols: dict, sel: np.ndarray, all_present: np.ndarray,
                     idx: _Indices) -> None:
    """The indices of the groups ``sel`` (one profile), in exact integer arithmetic."""
    n = len(sel)
    num_f, den_i, idx_dec = terms.num, terms.den, terms.index_decimals
    big_d = lcm(*terms.term_den.values())
    single_l = lcm(*den_i.values())
    # C on the published grid as exact integers (an off-grid value is published first)
    c_int = {p: scaled_integers(np.where(sel, cols[p]["reported"], np.nan),
                                terms.decimals[p], nan_as=0) for p in POLLUTANTS}
    c_max = max(int(np.abs(c_int[p]).max(initial=0)) for p in POLLUTANTS)
    factors = [terms.term_num[p] * (big_d // terms.term_den[p]) for p in POLLUTANTS]
    if c_max * sum(abs(f) for f in factors) >= 2 ** 62 or c_max * single_l >= 2 ** 62:
        raise ValueError("composite index inputs too large for exact int64 arithmetic")

    rows = sel & all_present
    big_n = np.zeros(n, dtype="int64")
    keys = {}
    for p, f in zip(POLLUTANTS, factors):
        big_n += c_int[p] * np.int64(f)
        ok = sel & cols[p]["present"]
        num = c_int[p] * np.int64(num_f[p])
        den = np.full(n, den_i[p], dtype="int64")
        idx.single_value[p][ok] = num[ok] / den[ok]
        if ok.any():
            idx.single_reported[p][ok] = np.asarray(round_ratio(num[ok], den[ok], idx_dec),
                                                    dtype="float64")
        keys[p] = c_int[p] * np.int64(num_f[p] * (single_l // den_i[p]))
    if rows.any():
        if big_d < 2 ** 53 and np.abs(big_n[rows]).max() < 2 ** 53:
            # one correctly rounded division
            idx.comp_value[rows] = big_n[rows] / np.float64(big_d)
        else:                                        # (never with the 2012 limits)
            idx.comp_value[rows] = [float(Fraction(int(v), big_d)) for v in big_n[rows]]
        idx.comp_reported[rows] = np.asarray(
            round_ratio(big_n[rows], np.full(int(rows.sum()), big_d, dtype="int64"), idx_dec),
            dtype="float64")
        top = np.max(np.stack([keys[p] for p in POLLUTANTS]), axis=0)
        for p in POLLUTANTS:
            idx.is_primary[p] |= rows & (keys[p] == top)


def _composite_detail(cols: dict, is_primary: dict, all_valid: np.ndarray) -> np.ndarray:
    """"primary: PM2.5" when all inputs are valid, else the missing and invalid inputs."""
    empty = np.full(len(all_valid), "", dtype=object)
    primary = empty.copy()
    for p in POLLUTANTS:
        primary = _join(primary, is_primary[p], p, ", ")
    problems = empty.copy()
    for p in POLLUTANTS:
        problems = _join(problems, ~cols[p]["present"], f"missing {p} {INPUTS[p]}", "; ")
    for p in POLLUTANTS:
        bad = cols[p]["present"] & ~cols[p]["valid"]
        why = np.where(cols[p]["detail"] != "", " (" + cols[p]["detail"].astype(object) + ")", "")
        problems = _join(problems, bad, f"invalid {p} {INPUTS[p]}" + why, "; ")
    return np.where(all_valid, PRIMARY_PREFIX + primary, problems)


def _composite_frame(groups: pd.DataFrame, cols: dict, idx: _Indices, all_valid: np.ndarray,
                     pids: np.ndarray) -> pd.DataFrame:
    """Per group the composite row, then its six single-index rows."""
    comp_detail = _composite_detail(cols, idx.is_primary, all_valid)
    n_valid_inputs = sum((cols[p]["present"] & cols[p]["valid"]).astype(int) for p in POLLUTANTS)
    frames = [pd.DataFrame({
        "level": groups["level"], "area": groups["area"], "period": groups["period"],
        "start": groups["start"], "end": groups["end"], "pollutant": "ALL",
        "statistic": "composite_index", "value": idx.comp_value, "reported": idx.comp_reported,
        "valid": all_valid, "n_valid": n_valid_inputs, "n_required": len(POLLUTANTS),
        "rule": RULE, "detail": comp_detail, "profile": pids, "_order": 0})]
    for i, p in enumerate(POLLUTANTS, start=1):
        c = cols[p]
        missing_detail = f"missing {p} {INPUTS[p]}"
        frames.append(pd.DataFrame({
            "level": groups["level"], "area": groups["area"], "period": groups["period"],
            "start": groups["start"], "end": groups["end"], "pollutant": p,
            "statistic": "single_index", "value": idx.single_value[p],
            "reported": idx.single_reported[p],
            "valid": c["present"] & c["valid"], "n_valid": c["n_valid"],
            "n_required": c["n_required"],
            "rule": np.where(c["present"], c["rule"], f"single index of {p} {INPUTS[p]}"),
            "detail": np.where(c["present"], c["detail"], missing_detail),
            "profile": pids, "_order": i}))
    out = pd.concat(frames, ignore_index=False)
    out = out.rename_axis("_group").sort_values(["_group", "_order"], kind="stable")
    out = out.drop(columns="_order").reset_index(drop=True)
    out["valid"] = out["valid"].astype(bool)
    out["n_valid"] = pd.array(pd.to_numeric(out["n_valid"]), dtype="Int64")
    out["n_required"] = pd.array(pd.to_numeric(out["n_required"]), dtype="Int64")
    return out[list(STAT_COLUMNS)]


def primary_pollutants(frame: pd.DataFrame) -> pd.Series:
    """The primary pollutant(s) of composite rows as a string (``"NO2, PM2.5"``; "" if none)."""
    detail = frame["detail"].astype(object).fillna("").astype(str)
    is_comp = (frame["statistic"] == "composite_index") & detail.str.startswith(PRIMARY_PREFIX)
    return detail.str.slice(len(PRIMARY_PREFIX)).where(is_comp, "")
