"""Local targets beside the national limits, and what the rest of the year must hold.

standards.md §2: a district can carry its own target per pollutant and
statistic for given years (``config.sites.Target``), separate from the
national limit of its grade; the dashboard shows both. :func:`target_table`
puts them side by side; :func:`remaining_average_needed` answers "what must
the remaining days of the year average for the annual mean to meet the
target", exactly, taking into account that the annual mean is published
rounded half to even (GB/T 8170).

:func:`judge` is the one place that decides a row's status (standards.md §7
"Status words"): a period that has ended is met / not met / insufficient data;
only a running year to date is on track / at risk / already exceeded; a month,
quarter or custom range is shown for reference only. The figure that decides is
the *binding* one, the stricter of the local target and the national limit.
The command line, the dashboard and the weekly email all show these codes in
the words of :data:`STATUS_TEXT`.
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
    OUT_OF_REACH: ("can no longer be met", "已无法达标"),
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
                             unit="µg/m³", plausible_max=None) -> pd.DataFrame:
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
    plausible_max : array-like, optional
        The plausibility bound of a mean of the remaining days [same unit]
        (:func:`plausibility_bound`): where the needed mean is above it, the
        target is already secured (the remaining days would have to be worse
        than anything plausible for it to fail), so the status is ``secured``
        and no figure is given. NaN or None: no bound.

    Returns
    -------
    DataFrame with columns
        ``status``  ``needs`` | ``out of reach`` (the needed mean is below zero:
        even all-zero remaining days would not do) | ``secured`` (no days left
        and the target is met, or the needed mean is above ``plausible_max``) |
        ``insufficient data`` (NaN input or no days at all);
        ``needed``  the reported mean to hold (rounded down; NaN unless needs);
        ``needed_exact``  R_max / r, unrounded (NaN unless needs);
        ``days_remaining``; ``text_en`` / ``text_zh`` e.g. "needs ≤ 31 µg/m³
        for the remaining 38 days" / "剩余38天均值需≤31微克/立方米",
        "can no longer be met" / "已无法达标", "already secured" / "已确保达标".
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
    r_safe = np.where(status == NEEDS, r_int, 1)
    need_k = np.where(status == NEEDS, r_max // r_safe, 0)     # rounded down: sufficient
    if plausible_max is not None:
        bound = np.broadcast_to(np.atleast_1d(np.asarray(plausible_max, dtype="float64")),
                                s.shape)
        beyond = (status == NEEDS) & np.isfinite(bound) & (need_k / scale > bound)
        status[beyond] = SECURED
    needs = status == NEEDS
    need_k = np.where(needs, need_k, 0)
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
                 period: str | None = None, level: str = "district",
                 daily: pd.DataFrame | None = None) -> pd.DataFrame:
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
    daily : DataFrame, optional
        Daily values (``indicators.frames.DAILY_COLUMNS``) of the year up to the
        period's end, for the plausibility bound of "what the rest of the year
        must average" (:func:`plausibility_bound`); without them no needed
        figure is declared secured for being implausible.

    Returns
    -------
    DataFrame, one row per (district, applicable target) (:data:`TARGET_COLUMNS`):

    ``period_kind``  ``ended`` | ``running`` | ``reference`` (:func:`period_kind`);
    ``value`` (unrounded), ``reported`` (current, published), ``valid``,
    ``provisional``, ``n_valid``, ``n_required``, ``detail``;
    ``target``, ``national_limit`` (of the grade; NaN where none);
    ``binding``  the stricter of the two (lower; for the good-day ratio higher),
    ``binding_basis`` ``target`` | ``national``; ``margin`` = reported − binding
    (positive: above the figure);
    ``status_target``, ``status_national``  the plain comparison of the current
    value (``meets`` | ``exceeds`` | ``insufficient data``; ``no national
    limit`` where the statistic has none), stable codes for machines;
    ``verdict``  the status of the row (:func:`judge`) against the binding
    figure, ``verdict_target`` / ``verdict_national`` against each figure alone;
    ``needed_status``, ``needed``, ``needed_en``, ``needed_zh``  for the
    annual mean of a running year, what the rest of the year must average to
    meet the **binding** figure (:func:`remaining_average_needed`; empty
    otherwise), and ``plausible_max`` the plausibility bound used (NaN: none).

    A running (year-to-date) statistic is compared on its current value even
    though it is not (yet) valid for the year; an ended period with an
    invalid statistic is ``insufficient data``. Concentrations meet when the
    reported value ≤ the figure; the good-day ratio (and good days) when ≥.
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

    # the period of a row without a statistic: the one asked for, else the table's
    label = m["period"].astype(object)
    fallback = period if period is not None else (
        str(rows["period"].astype(str).mode().iloc[0]) if len(rows) else str(year))
    label = label.where(label.notna(), fallback).astype(str)
    m["period"] = label.to_numpy(dtype=object)
    kind = period_kind(label, year)
    m["period_kind"] = kind

    reported = m["reported"].astype("float64")
    valid = m["valid"].astype(object).where(m["valid"].notna(), False).astype(bool)
    end = pd.to_datetime(m["end"])
    provisional = (label.str.contains("YTD") | (end < year_end)).fillna(False)
    provisional &= reported.notna()
    # an ended period is judged on a valid statistic only; a running one (and a period
    # shown for reference) on its current value
    usable = (reported.notna() & np.where(kind == ENDED, valid, True)).to_numpy(dtype=bool)
    better_high = higher_is_better(m["statistic"].to_numpy())

    def compare(limit: pd.Series) -> np.ndarray:
        ok = np.where(better_high, reported >= limit, reported <= limit)
        out = np.where(ok, MEETS, EXCEEDS).astype(object)
        out[~usable] = INSUFFICIENT
        return out

    target, national = m["target"].astype("float64"), m["national_limit"].astype("float64")
    m["status_target"] = compare(target)
    st_nat = compare(national)
    st_nat[national.isna().to_numpy()] = NO_LIMIT
    m["status_national"] = st_nat
    # the binding figure: the stricter of the local target and the national limit
    stricter = national.notna() & pd.Series(
        np.where(better_high, national > target, national < target), index=m.index)
    m["binding"] = np.where(stricter, national, target)
    m["binding_basis"] = np.where(stricter, "national", "target").astype(object)
    m["margin"] = np.round(reported - m["binding"], 6)
    st_bind = np.where(stricter, st_nat, m["status_target"]).astype(object)
    m["valid"] = valid.to_numpy()
    m["provisional"] = provisional.to_numpy().astype(bool)

    running = (kind == RUNNING) & (m["statistic"] == "annual_mean").to_numpy() \
        & m["pollutant"].isin(list(UNITS)).to_numpy() & m["n_valid"].notna().to_numpy() \
        & m["value"].notna().to_numpy()
    bound = _plausible_max(m, daily, level, running)
    needs = {col: _remaining(m, col, year_end, running, bound)
             for col in ("binding", "target", "national_limit")}
    bind = needs["binding"]
    m["needed_status"] = bind["status"].to_numpy()
    m["needed"] = bind["needed"].to_numpy()
    m["needed_en"] = bind["text_en"].to_numpy()
    m["needed_zh"] = bind["text_zh"].to_numpy()
    m["plausible_max"] = bound

    def verdict(compared, col) -> np.ndarray:
        return judge(kind, compared, needs[col]["status"].to_numpy(),
                     needs[col]["needed"].to_numpy(), m[col].to_numpy(dtype="float64"))

    m["verdict"] = verdict(st_bind, "binding")
    m["verdict_target"] = verdict(m["status_target"].to_numpy(), "target")
    m["verdict_national"] = verdict(st_nat, "national_limit")
    m["n_valid"] = pd.array(pd.to_numeric(m["n_valid"]), dtype="Int64")
    m["n_required"] = pd.array(pd.to_numeric(m["n_required"]), dtype="Int64")
    m["detail"] = m["detail"].astype(object).where(
        m["detail"].notna(), np.where(reported.isna(), "no statistic", ""))
    return m[TARGET_COLUMNS].reset_index(drop=True)


#: The columns of :func:`target_table`.
TARGET_COLUMNS = ["area", "pollutant", "statistic", "period", "period_kind", "value",
                  "reported", "valid", "provisional", "n_valid", "n_required", "detail",
                  "target", "national_limit", "binding", "binding_basis", "margin", "grade",
                  "status_target", "status_national", "verdict", "verdict_target",
                  "verdict_national", "profile", "note", "unit", "needed_status", "needed",
                  "needed_en", "needed_zh", "plausible_max"]


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
    limits, decimals, daily_limits = [], [], []
    for pid, pol, stat, grade in combos.itertuples(index=False):   # per distinct rule, not per area
        prof = forced if forced is not None else load_profile(pid)
        if "limits" not in prof.raw:       # a comparison profile on the row: use the schedule's
            prof = load_profile(fallback)
        avg = LIMIT_AVERAGING.get(stat)
        lim = prof.limit(pol, avg, grade) if avg else None
        limits.append(np.nan if lim is None else lim)
        lim24 = prof.limit(pol, "24h", grade) if pol in UNITS else None
        daily_limits.append(np.nan if lim24 is None else lim24)
        # comparison profiles (WHO, EU) bring limits only: publish with the Chinese decimals
        rounding = prof if "rounding" in prof.raw else load_profile(fallback)
        decimals.append(rounding.decimals(pol) if pol in UNITS else 0)
    combos["national_limit"] = np.array(limits, dtype="float64")
    combos["_limit_24h"] = np.array(daily_limits, dtype="float64")
    combos["_decimals"] = np.array(decimals, dtype="int64")
    return m.merge(combos, on=combo_cols, how="left")


def _remaining(m: pd.DataFrame, figure: str, year_end: pd.Timestamp, need: np.ndarray,
               bound: np.ndarray) -> pd.DataFrame:
    """:func:`remaining_average_needed` against the column ``figure`` for the rows ``need``
    (the annual means of a running year); status "" and NaN elsewhere."""
    out = pd.DataFrame({"status": np.full(len(m), "", dtype=object),
                        "needed": np.full(len(m), np.nan),
                        "text_en": np.full(len(m), "", dtype=object),
                        "text_zh": np.full(len(m), "", dtype=object)}, index=m.index)
    if need.any():
        sub = m[need]
        n_valid = pd.to_numeric(sub["n_valid"]).to_numpy(dtype="float64")
        days = (year_end - pd.to_datetime(sub["end"])).dt.days.to_numpy()
        res = remaining_average_needed(
            sub["value"].to_numpy(dtype="float64") * n_valid, n_valid, days,
            sub[figure].to_numpy(dtype="float64"), sub["_decimals"].to_numpy(dtype="int64"),
            unit=sub["pollutant"].map(UNITS).to_numpy(dtype=object), plausible_max=bound[need])
        out.loc[need, "status"] = res["status"].to_numpy()
        out.loc[need, "needed"] = res["needed"].to_numpy()
        out.loc[need, "text_en"] = res["text_en"].to_numpy()
        out.loc[need, "text_zh"] = res["text_zh"].to_numpy()
    return out


def peak_daily(daily: pd.DataFrame, level: str, keys: pd.DataFrame) -> np.ndarray:
    """The highest valid published daily value of each row of ``keys`` (``area``,
    ``pollutant``, ``end``) from 1 January of its end's year to its end [µg/m³; CO mg/m³];
    NaN where there is none."""
    out = np.full(len(keys), np.nan)
    if daily is None or daily.empty or keys.empty:
        return out
    d = daily[(daily["level"] == level) & daily["valid"].astype(bool)
              & daily["area"].isin(set(keys["area"])) & daily["pollutant"].isin(set(keys["pollutant"]))]
    if d.empty:
        return out
    d = d[["area", "pollutant", "date", "reported"]].assign(date=pd.to_datetime(d["date"]))
    k = keys[["area", "pollutant"]].assign(_end=pd.to_datetime(keys["end"]),
                                           _row=np.arange(len(keys)))
    j = k.merge(d, on=["area", "pollutant"], how="inner")
    j = j[(j["date"] <= j["_end"]) & (j["date"].dt.year == j["_end"].dt.year)]
    peak = j.groupby("_row")["reported"].max()
    out[peak.index.to_numpy()] = peak.to_numpy(dtype="float64")
    return out


def plausibility_bound(peak, limit_24h) -> np.ndarray:
    """Above this, a needed mean for the rest of the year is beyond any plausible value.

    The bound is the larger of

    * ``peak``: the area's highest valid daily value of the year so far, and
    * ``limit_24h``: the national 24-hour limit of the pollutant (the area's grade).

    If the rest of the year may average up to X and X is above both, the target can
    only fail if every remaining day together averages worse than the single worst
    day so far *and* worse than the level at which a single day already counts as an
    exceedance: we call the target secured (已确保达标) instead of advising
    "剩余25天均值需≤699微克/立方米". Both parts are needed: early in a year the worst
    day so far can be lower than what a winter month brings (the 24-h limit guards
    that), and in a polluted season the remaining days can average above the 24-h
    limit (the worst day so far guards that). Without a peak (no daily values given,
    or no valid day) there is no bound (NaN).
    """
    peak = np.asarray(peak, dtype="float64")
    lim = np.asarray(limit_24h, dtype="float64")
    return np.where(np.isnan(peak), np.nan, np.fmax(peak, lim))


def _plausible_max(m: pd.DataFrame, daily, level: str, need: np.ndarray) -> np.ndarray:
    """:func:`plausibility_bound` of the rows ``need`` (NaN elsewhere)."""
    out = np.full(len(m), np.nan)
    if daily is None or not need.any():
        return out
    sub = m[need]
    out[need] = plausibility_bound(peak_daily(daily, level, sub[["area", "pollutant", "end"]]),
                                   sub["_limit_24h"].to_numpy(dtype="float64"))
    return out


#: The statistic of each pollutant that a national limit judges for a period
#: (standards.md §6): annual means; CO by its P95 and O3 by the P90 of MDA8.
NATIONAL_STATISTICS = tuple(JUDGED_STATISTIC.items())

#: Kinds of period (:func:`period_kind`).
ENDED, RUNNING, REFERENCE_PERIOD = "ended", "running", "reference"
#: The status words (standards.md §7 "Status words"), stable English codes.
MET, NOT_MET = "met", "not met"
ON_TRACK, AT_RISK, EXCEEDED = "on track", "at risk", "already exceeded"
REFERENCE = "for reference"
#: code → (Chinese, English): the words every view shows for a status.
STATUS_TEXT = {
    MET: ("达标", "met"), NOT_MET: ("未达标", "not met"),
    INSUFFICIENT: ("数据不足", "insufficient data"),
    ON_TRACK: ("达标进度正常", "on track"), AT_RISK: ("有超标风险", "at risk"),
    EXCEEDED: ("已超标", "already exceeded"),
    REFERENCE: ("仅供参考", "for reference"), NO_LIMIT: ("无国家限值", "no national limit"),
}
#: The statuses, worst first (the headline status of a district is its worst row's).
WORST_FIRST = (NOT_MET, EXCEEDED, AT_RISK, INSUFFICIENT, ON_TRACK, MET, REFERENCE, NO_LIMIT)


def status_text(code: str, lang: str = "zh") -> str:
    """The word of a status code in ``lang`` (zh or en); an unknown code as it is."""
    zh, en = STATUS_TEXT.get(code, (code, code))
    return en if lang == "en" else zh


def worst(codes) -> str | None:
    """The worst status of ``codes`` (:data:`WORST_FIRST`), None when there is none."""
    present = set(pd.Series(list(codes), dtype=object).dropna())
    return next((c for c in WORST_FIRST if c in present), None)


def period_kind(labels, year: int) -> np.ndarray:
    """Whether each period label is judged (standards.md §7 "Status words").

    ``ended``      the calendar year ``"<year>"``, or a year to date that reaches
                   31 December (``"<year>-YTD-12-31"``, the whole year): judged
                   met / not met / insufficient data;
    ``running``    a year to date ending before 31 December: on track / at risk /
                   already exceeded;
    ``reference``  anything else — a month (``2016-03``), a quarter (``2016-Q1``), a
                   custom range (``a..b``): HJ 663 sets no annual limit for it, so its
                   value is shown beside the annual figure for reference only.
    """
    lab = pd.Series(np.asarray(labels, dtype=object)).astype(str)
    out = np.full(len(lab), REFERENCE_PERIOD, dtype=object)
    out[lab.str.startswith(f"{year}-YTD").to_numpy()] = RUNNING
    out[((lab == str(year)) | (lab == f"{year}-YTD-12-31")).to_numpy()] = ENDED
    return out


def judge(kind, compared, needed_status=None, needed=None, figure=None) -> np.ndarray:
    """The status of a statistic against a figure: the one place that decides it.

    Every view calls this through :func:`target_table` / :func:`standing`: the
    ``lantian targets`` command, the dashboard's overview and district pages and the
    weekly email show its codes in their words (:data:`STATUS_TEXT`).

    Parameters
    ----------
    kind : array-like of str
        :func:`period_kind` of each row.
    compared : array-like of str
        The plain comparison of the current value with the figure: ``meets`` |
        ``exceeds`` | ``insufficient data`` | ``no national limit``.
    needed_status, needed : array-like, optional
        :func:`remaining_average_needed` against the same figure (running annual
        means; "" / NaN elsewhere).
    figure : array-like of float, optional
        The figure (target, limit or the binding one).

    Returns
    -------
    ndarray of status codes:

    * ended period: ``met`` | ``not met`` | ``insufficient data``;
    * running period: ``already exceeded`` (the needed mean is below zero: it can
      no longer be met) | ``at risk`` (above the figure now, or the rest of the
      year must average below the figure) | ``on track`` (at or below it and the
      rest may average at least the figure, or secured) | ``insufficient data``
      (no value yet);
    * a month, quarter or custom range: ``for reference`` (``insufficient data``
      without a value): never judged against an annual figure;
    * ``no national limit`` where the figure does not exist.
    """
    kind = np.asarray(kind, dtype=object)
    compared = np.asarray(compared, dtype=object)
    n = len(compared)
    nstat = (np.full(n, "", dtype=object) if needed_status is None
             else pd.Series(np.asarray(needed_status, dtype=object)).fillna("").to_numpy())
    need = np.full(n, np.nan) if needed is None else pd.to_numeric(
        pd.Series(np.asarray(needed, dtype=object)), errors="coerce").to_numpy(dtype="float64")
    fig = np.full(n, np.nan) if figure is None else np.asarray(figure, dtype="float64")

    out = np.where(compared == MEETS, MET, NOT_MET).astype(object)          # ended
    run = kind == RUNNING
    out[run] = np.where(compared[run] == MEETS, ON_TRACK, AT_RISK)
    out[run & (nstat == NEEDS) & (need < fig)] = AT_RISK
    out[run & (nstat == SECURED)] = ON_TRACK
    out[run & (nstat == OUT_OF_REACH)] = EXCEEDED
    out[kind == REFERENCE_PERIOD] = REFERENCE
    out[compared == INSUFFICIENT] = INSUFFICIENT
    out[compared == NO_LIMIT] = NO_LIMIT
    return out


def standing(stats: pd.DataFrame, targets, grades=None, profile=None, *, year: int,
             period: str | None = None, level: str = "district", areas=None,
             daily: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every area's local targets, and the national limit where it has no local target.

    One row per area and (pollutant, statistic) of :data:`NATIONAL_STATISTICS`
    plus any other local target: the :func:`target_table` columns (with its
    ``verdict``, :func:`judge`, against the binding figure: the stricter of the
    local target and the national limit) and ``basis`` (``target`` = a local
    target; ``national`` = no local target, so the national limit of the area's
    grade stands in as the target). A statistic without a national limit and no
    local target is left out. ``daily``: as in :func:`target_table`.
    """
    from config.sites import Target

    targets = [tg for tg in targets if tg.applies_to(year)]
    local = target_table(stats, targets, grades, profile, year=year, period=period, level=level,
                         daily=daily)
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
                                      period=period, level=level, daily=daily
                                      ).assign(basis="national", binding_basis="national"))
    out = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(
        len(p) for p in parts) else parts[0]
    order = {p: i for i, (p, _s) in enumerate(NATIONAL_STATISTICS)}
    out = out.assign(_o=out["pollutant"].map(order).fillna(len(order)))
    out = out.sort_values(["area", "_o", "statistic"], kind="stable").drop(columns="_o")
    return out.reset_index(drop=True)
