"""Local targets beside the national limits, and what the rest of the year must hold.

standards.md §2: a district can carry its own target per pollutant and
statistic for given years (``config.sites.Target``), separate from the
national limit of its grade; the dashboard shows both. :func:`target_table`
puts them side by side; :func:`remaining_average_needed` answers "what must
the remaining days of the year average for the annual mean to meet the
target", exactly, taking into account that the annual mean is published
rounded half to even (GB/T 8170).
"""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from config.standards import Profile, load_profile, profile_for_period_end
from config.units import normalise_unit
from config.vocabulary import JUDGED_STATISTIC, UNIT_OF

from .frames import STAT_COLUMNS, check_columns
from .ranking import higher_is_better

#: Averaging time of the national limit a period statistic is compared with (§6).
LIMIT_AVERAGING = {"annual_mean": "annual", "p98_daily": "24h", "p95_daily": "24h",
                   "p90_mda8": "mda8"}
MEETS, EXCEEDS, INSUFFICIENT = "meets", "exceeds", "insufficient data"
NO_LIMIT = "no national limit"
NEEDS, OUT_OF_REACH, SECURED = "needs", "out of reach", "secured"
UNITS = UNIT_OF
UNITS_ZH = {"µg/m³": "微克/立方米", "mg/m³": "毫克/立方米"}
TEXT = {
    OUT_OF_REACH: ("already out of reach", "已无法达标"),
    SECURED: ("already secured", "已确保达标"),
    INSUFFICIENT: ("insufficient data", "数据不足"),
}


def _unit_key(unit: str) -> str:
    """The unit as shown to a user (µg/m³, mg/m³)."""
    return normalise_unit(unit).replace("m3", "m³")


def _format_scaled(k: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Integers ``k`` in units of 10**-d as decimal strings ("31", "1.2"), vectorised."""
    k = np.asarray(k, dtype="int64")
    d = np.broadcast_to(np.asarray(d, dtype="int64"), k.shape)
    out = np.abs(k).astype(str).astype(object)
    for dd in np.unique(d[d > 0]):
        sel = d == dd
        scale = 10 ** int(dd)
        ip = (np.abs(k[sel]) // scale).astype(str)
        fp = np.char.zfill((np.abs(k[sel]) % scale).astype(str), int(dd))
        out[sel] = np.char.add(np.char.add(ip, "."), fp).astype(object)
    return np.where(k < 0, "-" + out, out)


def _snap(x: np.ndarray, tol: float = 1e-9) -> tuple[np.ndarray, np.ndarray]:
    """(nearest integer, whether ``x`` is that integer up to float noise)."""
    k = np.rint(x)
    return k, np.abs(x - k) <= tol * np.maximum(1.0, np.abs(k))


def remaining_average_needed(ytd_mean_sum, n_valid_so_far, days_remaining, target, decimals,
                             unit="µg/m³") -> pd.DataFrame:
    """Largest mean the remaining days may average for the annual mean to meet ``target``.

    The annual mean is ``(S + R) / (n + r)`` published half-even to
    ``decimals``; it meets the target when the *published* value is ≤ the
    target. With everything in integer units of ``10**-decimals`` (T the
    largest publishable value ≤ target) that is

        2·(S + R) < (2T + 1)·(n + r)   or   = and T even (a tie rounds to the even T),

    so the remaining sum may be at most ``R_max = ⌊B/2⌋`` (T even) or
    ``⌊(B − 1)/2⌋`` (T odd) with ``B = (2T + 1)(n + r) − 2S``. The needed mean
    is ``R_max / r`` rounded **down** to ``decimals`` — so that holding it is
    sufficient. Example: target 37, 300 valid days summing to 11400 (mean 38),
    65 days left: the mean must stay < 37.5, R_max = 2287, needs ≤ 35.

    Assumptions (documented for the UI): every remaining day will be a valid
    day with a published (rounded) daily value, the annual mean is taken from
    the rounded daily values (``period_from_rounded_daily``), and "mean of the
    remaining days" is their plain unrounded mean. Whether the year will meet
    the data-capture rule is not judged here.

    Parameters
    ----------
    ytd_mean_sum : array-like
        Sum of the valid (published) daily values so far [µg/m³; CO mg/m³].
        A sum off the decimal grid is taken upwards (conservative).
    n_valid_so_far : array-like of int
        Valid days so far [days].
    days_remaining : array-like of int
        Days left in the year [days]; 0 means the year is complete.
    target : array-like
        Target (or limit) for the published annual mean [same unit].
    decimals : int or array-like of int
        Published decimals of the pollutant (profile ``rounding.decimals``).
    unit : str or array-like of str
        Unit shown in the texts (``µg/m³`` or ``mg/m³``).

    Returns
    -------
    DataFrame with columns
        ``status``  ``needs`` | ``out of reach`` (even all-zero remaining days
        would not do) | ``secured`` (no days left and the target is met) |
        ``insufficient data`` (NaN input or no days at all);
        ``needed``  the reported mean to hold (rounded down; NaN unless needs);
        ``needed_exact``  R_max / r, unrounded (NaN unless needs);
        ``days_remaining``; ``text_en`` / ``text_zh`` e.g. "needs ≤ 31 µg/m³
        for the remaining 38 days" / "剩余38天均值需≤31微克/立方米",
        "already out of reach" / "已无法达标".
    """
    s, n, r, t, d = np.broadcast_arrays(
        np.atleast_1d(np.asarray(ytd_mean_sum, dtype="float64")),
        np.atleast_1d(np.asarray(n_valid_so_far, dtype="float64")),
        np.atleast_1d(np.asarray(days_remaining, dtype="float64")),
        np.atleast_1d(np.asarray(target, dtype="float64")),
        np.atleast_1d(np.asarray(decimals, dtype="int64")))
    units = np.broadcast_to(np.asarray(unit, dtype=object), s.shape)
    ok = np.isfinite(s) & np.isfinite(n) & np.isfinite(r) & np.isfinite(t) & (n >= 0) & (r >= 0)
    ok &= (np.where(ok, n, 0) + np.where(ok, r, 0)) > 0
    s0, n0, r0, t0 = (np.where(ok, v, 0.0) for v in (s, n, r, t))
    scale = np.power(10, d).astype("int64")
    r_int = r0.astype("int64")
    r_max = _largest_remaining_sum(s0, n0.astype("int64"), r_int, t0, scale)

    status = np.where(r_max < 0, OUT_OF_REACH, np.where(r_int == 0, SECURED, NEEDS)).astype(object)
    status[~ok] = INSUFFICIENT
    needs = status == NEEDS
    r_safe = np.where(needs, r_int, 1)
    need_k = np.where(needs, r_max // r_safe, 0)               # rounded down: sufficient
    needed = np.where(needs, need_k / scale, np.nan)
    needed_exact = np.where(needs, r_max / r_safe / scale, np.nan)
    text_en, text_zh = _needed_texts(status, need_k, d, r_int, units)
    return pd.DataFrame({
        "status": status, "needed": needed, "needed_exact": needed_exact,
        "days_remaining": pd.array(np.where(ok, r_int, 0), dtype="Int64"),
        "text_en": text_en.astype(object), "text_zh": text_zh.astype(object)})


def _largest_remaining_sum(s0: np.ndarray, n_int: np.ndarray, r_int: np.ndarray,
                           t0: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``R_max`` in units of 10**-decimals: ``⌊B/2⌋`` (T even) or ``⌊(B − 1)/2⌋`` (T odd),
    ``B = (2T + 1)(n + r) − 2S``, the sum taken upwards and the target downwards onto the
    grid (conservative)."""
    sk, s_on = _snap(s0 * scale, 1e-6)
    s_int = np.where(s_on, sk, np.ceil(s0 * scale)).astype("int64")
    tk, t_on = _snap(t0 * scale)
    t_int = np.where(t_on, tk, np.floor(t0 * scale)).astype("int64")
    if np.abs(s_int).max(initial=0) > 2 ** 50 or np.abs(t_int).max(initial=0) > 2 ** 40:
        raise ValueError("remaining_average_needed: values too large for exact int64 arithmetic")
    b = (2 * t_int + 1) * (n_int + r_int) - 2 * s_int
    return np.where(t_int % 2 == 0, b // 2, (b - 1) // 2)


def _needed_texts(status: np.ndarray, need_k: np.ndarray, d: np.ndarray, r_int: np.ndarray,
                  units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The English and Chinese texts of :func:`remaining_average_needed`: "needs ≤ 31 µg/m³
    for the remaining 38 days" / "剩余38天均值需≤31微克/立方米", or the status's own text."""
    distinct = pd.unique(pd.Series(units.ravel(), dtype=object))
    en_of = {u: _unit_key(u) for u in distinct}
    zh_of = {u: UNITS_ZH.get(en_of[u], en_of[u]) for u in distinct}
    unit_en = pd.Series(units.ravel(), dtype=object).map(en_of).to_numpy(dtype=object).reshape(
        units.shape)
    unit_zh = pd.Series(units.ravel(), dtype=object).map(zh_of).to_numpy(dtype=object).reshape(
        units.shape)
    value_txt = _format_scaled(need_k, d)
    days_txt = r_int.astype(str).astype(object)
    day_word = np.where(r_int == 1, " day", " days")
    text_en = "needs ≤ " + value_txt + " " + unit_en + " for the remaining " + days_txt + day_word
    text_zh = "剩余" + days_txt + "天均值需≤" + value_txt + unit_zh
    for key, (en, zh) in TEXT.items():
        text_en = np.where(status == key, en, text_en)
        text_zh = np.where(status == key, zh, text_zh)
    return text_en, text_zh


def _select_period(rows: pd.DataFrame, year: int, period) -> pd.DataFrame:
    label = rows["period"].astype(str)
    if period is not None:
        return rows[label == str(period)]
    full = label == str(year)
    ytd = label.str.startswith(f"{year}-YTD")
    rows = rows[full | ytd].assign(_pref=np.where(full[full | ytd], 0, 1))
    rows = rows.sort_values(["_pref", "end"], ascending=[True, False], kind="stable")
    return rows.drop_duplicates(["area", "pollutant", "statistic"]).drop(columns="_pref")


def target_table(stats: pd.DataFrame, targets, grades=None, profile=None, *, year: int,
                 period: str | None = None, level: str = "district") -> pd.DataFrame:
    """Each district's applicable local targets beside the national limit of its grade.

    Parameters
    ----------
    stats : DataFrame
        Period statistics (``STAT_COLUMNS``).
    targets : iterable of config.sites.Target
        Local targets; only those that ``applies_to(year)`` are shown.
    grades : mapping district → "I" | "II", optional
        Grade of each district (default II).
    profile : str, Profile or None
        Profile of the national limits; None: the profile recorded on the
        statistic (in force at the period end), else the one in force on
        31 December of ``year``.
    year : int
        The year whose targets apply.
    period : str, optional
        Period label; default the calendar year ``"<year>"`` when present,
        else the latest ``"<year>-YTD-…"`` (marked provisional).
    level : str
        Level whose areas carry the targets (``district``).

    Returns
    -------
    DataFrame, one row per (district, applicable target): area, pollutant,
    statistic, period, value (unrounded), reported (current, published),
    valid, provisional, n_valid, n_required, detail, target, national_limit,
    grade, status_target, status_national (``meets`` | ``exceeds`` |
    ``insufficient data``; ``no national limit`` where the statistic has none),
    profile, note, and for a provisional annual mean the remaining-days
    columns of :func:`remaining_average_needed` (``needed_status``,
    ``needed``, ``needed_en``, ``needed_zh``; empty otherwise).

    A provisional (year-to-date) statistic is compared on its current value
    even though it is not (yet) valid for the year; a complete period with an
    invalid statistic is ``insufficient data``. Concentrations meet when the
    reported value ≤ the target; the good-day ratio (and good days) when ≥.
    """
    check_columns(stats, STAT_COLUMNS, "statistics")
    grades = dict(grades or {})
    forced = (profile if profile is None or isinstance(profile, Profile)
              else load_profile(str(profile)))
    tf = _target_frame(targets, year)
    if tf.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in TARGET_COLUMNS})
    rows = _select_period(stats[stats["level"] == level], year, period)
    m = tf.merge(rows.drop(columns=["level"]), on=["area", "pollutant", "statistic"], how="left")
    year_end = pd.Timestamp(date(year, 12, 31))
    m["grade"] = m["area"].map(lambda a: grades.get(a, "II"))
    m = _with_national_limits(m, forced, profile_for_period_end(year_end.date()).id)

    reported = m["reported"].astype("float64")
    valid = m["valid"].astype(object).where(m["valid"].notna(), False).astype(bool)
    end = pd.to_datetime(m["end"])
    provisional = (m["period"].astype(str).str.contains("YTD") | (end < year_end)).fillna(False)
    provisional &= reported.notna()
    usable = reported.notna() & (valid | provisional)
    better_high = higher_is_better(m["statistic"].to_numpy())

    def status(limit: pd.Series) -> np.ndarray:
        ok = np.where(better_high, reported >= limit, reported <= limit)
        out = np.where(ok, MEETS, EXCEEDS).astype(object)
        out[~usable.to_numpy()] = INSUFFICIENT
        return out

    m["status_target"] = status(m["target"])
    st_nat = status(m["national_limit"])
    st_nat[m["national_limit"].isna().to_numpy()] = NO_LIMIT
    m["status_national"] = st_nat
    m["valid"] = valid.to_numpy()
    m["provisional"] = provisional.to_numpy().astype(bool)
    _add_remaining_needed(m, year_end)
    m["n_valid"] = pd.array(pd.to_numeric(m["n_valid"]), dtype="Int64")
    m["n_required"] = pd.array(pd.to_numeric(m["n_required"]), dtype="Int64")
    m["detail"] = m["detail"].astype(object).where(
        m["detail"].notna(), np.where(reported.isna(), "no statistic", ""))
    return m[TARGET_COLUMNS].reset_index(drop=True)


#: The columns of :func:`target_table`.
TARGET_COLUMNS = ["area", "pollutant", "statistic", "period", "value", "reported", "valid",
                  "provisional", "n_valid", "n_required", "detail", "target", "national_limit",
                  "grade", "status_target", "status_national", "profile", "note", "unit",
                  "needed_status", "needed", "needed_en", "needed_zh"]


def _target_frame(targets, year: int) -> pd.DataFrame:
    """The targets that apply in ``year``: area, pollutant, statistic, target, unit, note."""
    tlist = [t for t in targets if t.applies_to(year)]
    return pd.DataFrame({"area": [t.district for t in tlist],
                         "pollutant": [t.pollutant for t in tlist],
                         "statistic": [t.statistic for t in tlist],
                         "target": [float(t.value) for t in tlist],
                         "unit": [t.unit for t in tlist], "note": [t.note for t in tlist]})


def _with_national_limits(m: pd.DataFrame, forced: Profile | None, fallback: str) -> pd.DataFrame:
    """``m`` with each row's profile, national limit and published decimals, looked up
    once per distinct (profile, pollutant, statistic, grade). A comparison profile on a
    row brings limits only: the Chinese profile ``fallback`` gives what it lacks."""
    if forced is not None:
        pids = pd.Series(forced.id, index=m.index)
    else:
        named = m["profile"].notna() & (m["profile"].astype(str) != "")
        pids = m["profile"].astype(object).where(named, fallback)
    m["profile"] = pids.astype(str)
    combo_cols = ["profile", "pollutant", "statistic", "grade"]
    combos = m[combo_cols].drop_duplicates().reset_index(drop=True)
    limits, decimals = [], []
    for pid, pol, stat, grade in combos.itertuples(index=False):   # per distinct rule, not per area
        prof = forced if forced is not None else load_profile(pid)
        if "limits" not in prof.raw:       # a comparison profile on the row: use the schedule's
            prof = load_profile(fallback)
        avg = LIMIT_AVERAGING.get(stat)
        lim = prof.limit(pol, avg, grade) if avg else None
        limits.append(np.nan if lim is None else lim)
        # comparison profiles (WHO, EU) bring limits only: publish with the Chinese decimals
        rounding = prof if "rounding" in prof.raw else load_profile(fallback)
        decimals.append(rounding.decimals(pol) if pol in UNITS else 0)
    combos["national_limit"] = np.array(limits, dtype="float64")
    combos["_decimals"] = np.array(decimals, dtype="int64")
    return m.merge(combos, on=combo_cols, how="left")


def _add_remaining_needed(m: pd.DataFrame, year_end: pd.Timestamp) -> None:
    """What the rest of the year must hold, for provisional annual means (columns
    needed_status, needed, needed_en, needed_zh; empty elsewhere)."""
    m["needed_status"], m["needed"], m["needed_en"], m["needed_zh"] = "", np.nan, "", ""
    need = (m["provisional"] & (m["statistic"] == "annual_mean") & m["pollutant"].isin(list(UNITS))
            & m["n_valid"].notna() & m["value"].notna()).to_numpy()
    if need.any():
        sub = m[need]
        n_valid = pd.to_numeric(sub["n_valid"]).to_numpy(dtype="float64")
        days = (year_end - pd.to_datetime(sub["end"])).dt.days.to_numpy()
        dec = sub["_decimals"].to_numpy(dtype="int64")
        res = remaining_average_needed(sub["value"].to_numpy(dtype="float64") * n_valid, n_valid,
                                       days, sub["target"].to_numpy(dtype="float64"), dec,
                                       unit=sub["pollutant"].map(UNITS).to_numpy(dtype=object))
        m.loc[need, "needed_status"] = res["status"].to_numpy()
        m.loc[need, "needed"] = res["needed"].to_numpy()
        m.loc[need, "needed_en"] = res["text_en"].to_numpy()
        m.loc[need, "needed_zh"] = res["text_zh"].to_numpy()


#: The statistic of each pollutant that a national limit judges for a period
#: (standards.md §6): annual means; CO by its P95 and O3 by the P90 of MDA8.
NATIONAL_STATISTICS = tuple(JUDGED_STATISTIC.items())
ON_TRACK, AT_RISK, EXCEEDED = "on track", "at risk", "exceeded"
OUTLOOK_TEXT = {ON_TRACK: ("达标进度正常", "on track"), AT_RISK: ("有超标风险", "at risk"),
                EXCEEDED: ("已超标", "exceeded"), INSUFFICIENT: ("数据不足", "insufficient data")}


def outlook(table: pd.DataFrame) -> np.ndarray:
    """Where each row of :func:`target_table` / :func:`standing` stands for the year.

    ``exceeded``: a complete period's statistic above its target, or a year to
    date whose annual mean can no longer meet it (``out of reach``);
    ``at risk``: a year to date above its target (or needing the rest of the
    year to average below the target to meet it) that can still be met;
    ``on track``: at or below the target and not needing a lower average for
    the rest of the year; ``insufficient data``: no usable statistic, or a
    complete period whose statistic is not valid (standards.md §3).
    """
    status = table["status_target"].to_numpy(dtype=object)
    provisional = table["provisional"].to_numpy(dtype=bool)
    needed_status = table["needed_status"].fillna("").to_numpy(dtype=object)
    needed = pd.to_numeric(table["needed"], errors="coerce").to_numpy(dtype="float64")
    target = pd.to_numeric(table["target"], errors="coerce").to_numpy(dtype="float64")
    out = np.where(status == MEETS, ON_TRACK, EXCEEDED).astype(object)
    # a year in progress: above the target now, or the rest must beat the target
    risky = provisional & ((status == EXCEEDS) | (needed_status == NEEDS) & (needed < target))
    out[risky] = AT_RISK
    out[provisional & (needed_status == OUT_OF_REACH)] = EXCEEDED
    out[status == INSUFFICIENT] = INSUFFICIENT
    return out


def standing(stats: pd.DataFrame, targets, grades=None, profile=None, *, year: int,
             period: str | None = None, level: str = "district", areas=None) -> pd.DataFrame:
    """Every area's local targets, and the national limit where it has no local target.

    One row per area and (pollutant, statistic) of :data:`NATIONAL_STATISTICS`
    plus any other local target: the :func:`target_table` columns with
    ``basis`` (``target`` = a local target; ``national`` = no local target, so
    the national limit of the area's grade stands in as the target, its
    remaining-days figure computed against that limit) and ``outlook``
    (:func:`outlook`). A statistic without a national limit and no local target
    is left out.
    """
    from config.sites import Target

    targets = [tg for tg in targets if tg.applies_to(year)]
    local = target_table(stats, targets, grades, profile, year=year, period=period, level=level)
    if areas is None:
        areas = sorted(set(stats.loc[stats["level"] == level, "area"].astype(str)))
    have = set(zip(local["area"], local["pollutant"], local["statistic"]))
    missing = [(a, p, s) for a in areas for p, s in NATIONAL_STATISTICS if (a, p, s) not in have]
    parts = [local.assign(basis="target")]
    if missing:
        probe = target_table(stats, [Target(a, p, s, float("nan"), UNITS[p], None, None)
                                     for a, p, s in missing],
                             grades, profile, year=year, period=period, level=level)
        probe = probe[probe["national_limit"].notna()]
        national = [Target(r.area, r.pollutant, r.statistic, float(r.national_limit),
                           UNITS[r.pollutant], None, None, "")
                    for r in probe.itertuples(index=False)]
        if national:
            parts.append(target_table(stats, national, grades, profile, year=year,
                                      period=period, level=level).assign(basis="national"))
    out = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(
        len(p) for p in parts) else parts[0]
    order = {p: i for i, (p, _s) in enumerate(NATIONAL_STATISTICS)}
    out = out.assign(_o=out["pollutant"].map(order).fillna(len(order)))
    out = out.sort_values(["area", "_o", "statistic"], kind="stable").drop(columns="_o")
    out["outlook"] = outlook(out) if len(out) else pd.Series(dtype=object)
    return out.reset_index(drop=True)
