"""The whole computation in order, and the export tables other tools rely on.

hourly → daily values (stations, districts, city) → daily AQI → period
statistics → composite index. Pure: frames in, frames out.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from config.standards import default_cn_profile, load_profile, load_schedule

from . import aqi as aqi_module
from . import averaging, composite, statistics

# The CLI contract: which (pollutant, statistic) rows `stats annual` writes.
ANNUAL_ROWS = (
    [(p, "annual_mean") for p in ("SO2", "NO2", "PM10", "PM2.5")]
    + [(p, "p98_daily") for p in ("SO2", "NO2")]
    + [(p, "p95_daily") for p in ("PM10", "PM2.5", "CO")]
    + [("O3", "p90_mda8")]
    + [(p, "exceedance_days") for p in ("SO2", "NO2", "PM10", "PM2.5", "CO", "O3")]
    + [("AQI", s) for s in ("good_days", "heavy_days", "valid_aqi_days", "good_day_ratio")]
    + [("ALL", "composite_index")]
)
ANNUAL_COLUMNS = ["level", "area", "year", "pollutant", "statistic", "value", "reported",
                  "valid", "n_valid", "n_required", "reason"]
DAILY_EXPORT_COLUMNS = ["level", "area", "date", "pollutant", "value", "reported", "valid"]


def split_profile(profile: str | None) -> tuple[str | None, str | None]:
    """(Chinese profile to force, profile whose limits to apply) for a requested profile.

    Daily values, their validity and the composite index always follow a
    Chinese profile (the one in force by date unless a Chinese one is forced);
    a comparison profile (WHO, EU, US) only brings its limits — and, for the
    US, its own AQI (standards.md §8).
    """
    if profile is None:
        return None, None
    return (profile, profile) if load_profile(profile).kind == "cn" else (None, profile)


def daily_and_aqi(hourly: pd.DataFrame, membership: pd.DataFrame | None = None,
                  profile: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Daily values of every station, district and city, and their daily AQI."""
    chinese, comparison = split_profile(profile)
    if comparison is not None and load_profile(comparison).kind == "us-aqi":
        daily = averaging.daily_values(hourly, membership, profile=chinese)
        return daily, us_daily_aqi(daily, comparison)
    # daily_values and daily_aqi of it, the AQI read off the daily arrays (the same frame)
    arrays = averaging.daily_arrays(hourly, membership, chinese)
    if arrays is None:
        daily = averaging.empty_daily()
        return daily, aqi_module.daily_aqi(daily, profile=chinese)
    return arrays.frame(), arrays.aqi(profile=chinese)


# Daily quantities → US AQI inputs. The CO daily mean stands in for the 8-h CO
# value; SO2/NO2 daily 1-h maxima are not daily quantities here, so the US AQI
# is computed from PM2.5, PM10, O3 and CO only (said in the profile's page).
US_INPUTS = {"PM2.5": "PM2.5_24h", "PM10": "PM10_24h", "O3_MDA8": "O3_8h", "CO": "CO_8h"}


def us_daily_aqi(daily: pd.DataFrame, profile: str = "us-epa-2024") -> pd.DataFrame:
    """Daily US EPA AQI in the daily-AQI layout, from the valid unrounded daily values."""
    rows = daily[daily["valid"].astype(bool) & daily["pollutant"].isin(list(US_INPUTS))]
    wide = rows.pivot_table(index=["level", "area", "date"], columns="pollutant",
                            values="value", observed=True, aggfunc="first")
    wide = wide.rename(columns=US_INPUTS)
    result = aqi_module.us_epa_aqi(wide.reset_index(drop=True), profile)
    keys = wide.index.to_frame(index=False)
    out = pd.concat([keys, result.reset_index(drop=True)], axis=1)
    out.insert(3, "profile", profile)
    return out


def grades_of(membership: pd.DataFrame | None, station_grades: dict | None = None) -> dict:
    """Area → grade, for districts, cities and (through their district) stations."""
    grades = dict(station_grades or {})
    if membership is not None and len(membership):
        grades.update(dict(zip(membership["area"], membership["grade"])))
    return grades


def period_table(daily: pd.DataFrame, daily_aqi: pd.DataFrame, *, period: str = "year",
                 grades: dict | None = None, profile: str | None = None,
                 ytd_end=None, dust_days=None, range_start=None) -> pd.DataFrame:
    """Period statistics plus the composite index, in the statistics frame layout
    (``range_start``: the first day of a ``period="range"``)."""
    chinese, comparison = split_profile(profile)
    stats = statistics.period_statistics(daily, daily_aqi, period=period, grades=grades,
                                         profile=profile, ytd_end=ytd_end, dust_days=dust_days,
                                         range_start=range_start)
    inputs = stats
    if comparison is not None and chinese is None:
        # The composite index is a Chinese statistic: the profile in force at the period end.
        inputs = stats.assign(profile=load_schedule().in_force(stats["end"].to_numpy()))
    comp = composite.composite_index(inputs, profile=chinese)
    return pd.concat([stats, comp], ignore_index=True)


#: Statistics published as whole numbers (day counts).
_COUNT_STATISTICS = frozenset({"exceedance_days", "good_days", "heavy_days", "valid_aqi_days"})


def _rules_profile(profile: str, end):
    """The Chinese profile whose rounding rules a row follows: its own profile when
    Chinese, else (a comparison profile) the Chinese one in force at ``end``."""
    from config.standards import profile_for_period_end

    prof = load_profile(str(profile)) if isinstance(profile, str) and profile else None
    if prof is not None and prof.kind == "cn":
        return prof
    return profile_for_period_end(pd.Timestamp(end).date())


def statistic_decimals(pollutant: str, statistic: str, prof) -> int:
    """Published decimals of a statistic (standards.md §4): concentrations as the
    pollutant (CO 1, others 0), rates ``rate_decimals``, indices ``index_decimals``,
    multiples ``multiple_decimals``, day counts 0."""
    if statistic in _COUNT_STATISTICS:
        return 0
    if statistic in ("good_day_ratio", "change_rate"):
        return prof.rate_decimals
    if statistic in ("composite_index", "single_index"):
        return prof.index_decimals
    if statistic == "max_multiple":
        return prof.multiple_decimals
    return prof.decimals(pollutant)


def as_published(values, decimals) -> pd.Series:
    """Reported values as exact decimals with the standard's decimals: 13 → ``Decimal('13')``,
    CO ``Decimal('3.5')``, a composite index ``Decimal('7.40')``; None where NaN.

    ``values`` are already rounded (GB/T 8170): each float is the one nearest to its
    published decimal, so formatting it to ``decimals`` places gives that decimal back
    (no second rounding). The column reads as published in CSV (``str``) and as a number
    in JSON and xlsx (``lantian.cli._write_table``)."""
    from decimal import Decimal

    x = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype="float64",
                                                                   na_value=np.nan)
    d = np.broadcast_to(np.asarray(decimals, dtype=np.int64), x.shape)
    out = [None if np.isnan(v) else Decimal(f"{v:.{k}f}") for v, k in zip(x.tolist(), d.tolist())]
    return pd.Series(out, dtype=object)


def annual_export(stats: pd.DataFrame, year: int) -> pd.DataFrame:
    """The ``lantian stats annual`` table: one row per contract statistic and area.

    ``value`` unrounded (full precision), ``reported`` as published (exact decimals with
    the standard's decimals, :func:`as_published`), ``reason`` why a statistic is not valid
    or only provisional (the statistics frame's ``detail``; empty for a valid final one).
    """
    wanted = pd.DataFrame(ANNUAL_ROWS, columns=["pollutant", "statistic"])
    rows = stats[stats["period"].astype(str) == str(year)].merge(wanted, on=["pollutant", "statistic"])
    order = {key: i for i, key in enumerate(ANNUAL_ROWS)}
    rows = rows.assign(_order=[order[(p, s)] for p, s in zip(rows["pollutant"], rows["statistic"])])
    rows = rows.sort_values(["level", "area", "_order"], kind="stable").reset_index(drop=True)
    valid = rows["valid"].astype(bool).to_numpy()
    detail = rows["detail"].fillna("").astype(str)
    provisional = detail.str.startswith("provisional").to_numpy()
    rules = {}
    decimals = []
    for p, s, prof, end in zip(rows["pollutant"], rows["statistic"], rows["profile"], rows["end"]):
        key = (prof, pd.Timestamp(end).date() if pd.notna(end) else None)
        if key not in rules:
            rules[key] = _rules_profile(prof, end if pd.notna(end) else f"{year}-12-31")
        decimals.append(statistic_decimals(str(p), str(s), rules[key]))
    rows = rows.assign(year=int(year), reported=as_published(rows["reported"], decimals),
                       reason=np.where(~valid | provisional, detail.to_numpy(dtype=object), ""))
    out = rows[ANNUAL_COLUMNS].reset_index(drop=True)
    out["valid"] = out["valid"].astype(bool)
    out["n_valid"] = out["n_valid"].astype("Int64")
    out["n_required"] = out["n_required"].astype("Int64")
    out["reason"] = out["reason"].astype(str)
    return out


def daily_export(daily: pd.DataFrame, daily_aqi: pd.DataFrame) -> pd.DataFrame:
    """The ``lantian stats daily`` table: daily values and the AQI, long.

    ``value`` unrounded, ``reported`` as published (:func:`as_published`: the decimals of
    the day's profile, CO 0.1 mg/m³, others and the AQI whole numbers)."""
    values = daily[DAILY_EXPORT_COLUMNS]
    profiles = daily["profile"].astype(object).where(daily["profile"].notna(),
                                                     default_cn_profile())
    dec_of = {}
    decimals = []
    for q, prof in zip(values["pollutant"].astype(str), profiles):
        if (q, prof) not in dec_of:
            rules = load_profile(str(prof))       # daily values follow a Chinese profile
            rules = rules if rules.kind == "cn" else load_profile(default_cn_profile())
            dec_of[(q, prof)] = rules.decimals(q)
        decimals.append(dec_of[(q, prof)])
    values = values.assign(reported=as_published(values["reported"], decimals).to_numpy())
    a = daily_aqi
    aqi = a["aqi"].astype("Float64")
    aqi_rows = pd.DataFrame({"level": a["level"], "area": a["area"], "date": a["date"],
                             "pollutant": "AQI", "value": aqi.to_numpy(dtype="float64",
                                                                        na_value=np.nan),
                             "reported": as_published(aqi, 0).to_numpy(),
                             "valid": a["aqi"].notna().to_numpy()})
    out = pd.concat([values, aqi_rows], ignore_index=True)
    level_order = {"station": 0, "district": 1, "city": 2}
    out = out.assign(_l=out["level"].map(level_order)).sort_values(
        ["_l", "area", "date", "pollutant"], kind="stable").drop(columns="_l")
    out["date"] = pd.to_datetime(out["date"]).dt.strftime("%Y-%m-%d")
    return out.reset_index(drop=True)


def year_bounds(year: int) -> tuple[np.datetime64, np.datetime64]:
    return np.datetime64(f"{year}-01-01T00:00:00"), np.datetime64(f"{year}-12-31T23:00:00")


def _moving_mean(values: np.ndarray, hours: int, min_valid: int) -> np.ndarray:
    """Trailing moving mean over ``hours`` along axis 1 (hours t−hours+1 … t), NaN below
    ``min_valid`` valid hours. Vectorised with cumulative sums."""
    valid = ~np.isnan(values)
    sums = np.cumsum(np.where(valid, values, 0.0), axis=1)
    counts = np.cumsum(valid, axis=1)
    sums[:, hours:] = sums[:, hours:] - sums[:, :-hours]
    counts[:, hours:] = counts[:, hours:] - counts[:, :-hours]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums / counts
    mean[counts < min_valid] = np.nan
    return mean


#: The ``lantian stats hourly`` table.
HOURLY_EXPORT_COLUMNS = ["level", "area", "time", "pollutant", "value", "reported", "valid"]
_LEVEL_ORDER = {"station": 0, "district": 1, "city": 2}


def _hour_window(panel, start, end) -> slice:
    """The panel's hours from ``start`` to ``end`` (inclusive; None = open)."""
    times = panel.times
    lo = 0 if start is None else int(np.searchsorted(times, np.datetime64(start, "h"), "left"))
    hi = len(times) if end is None else int(np.searchsorted(times, np.datetime64(end, "h"),
                                                            "right"))
    return slice(lo, max(lo, hi))


def hourly_values(hourly: pd.DataFrame, membership: pd.DataFrame | None = None,
                  profile: str | None = None, start=None, end=None) -> pd.DataFrame:
    """The 1-h values of every station, district and city: the hourly AQI's inputs (§5, §7).

    Parameters
    ----------
    hourly : DataFrame with :data:`indicators.frames.HOURLY_COLUMNS`
        Station hours (QC-excluded values NaN). For the cn-2012 SO2 fallback the 23
        hours before ``start`` should be included.
    membership : DataFrame with :data:`indicators.frames.MEMBERSHIP_COLUMNS`, optional
        Districts and cities (their evaluation stations).
    profile : str, optional
        A Chinese profile to force (its data-capture rule for the 24-h moving average).
    start, end : datetime-like, optional
        First and last hour (start of the hour, CST) to return; default every hour of
        the days the data cover.

    Returns
    -------
    pandas.DataFrame
        One row per level, area and hour with at least one 1-h value (hours without any
        are left out), ordered station → district → city, then area and time:
        ``level``, ``area``, ``time``, the unrounded 1-h values
        ``SO2`` … ``PM2.5`` [µg/m³; CO mg/m³] (a station's valid value; an area's
        mean of its valid station values, NaN when none has one), ``n_<pollutant>``
        (the stations that value stands on) and ``SO2_24h``, the 24-h moving average
        at that hour (hours t−23 … t, valid with the daily rule's
        ``validity.daily_min_hours``; areas: the mean of the valid station values),
        which cn-2012 uses where SO2 1-h is above 800 µg/m³.
    """
    from .panel import panel_from_hourly

    chinese, _ = split_profile(profile)
    min_hours = load_profile(chinese or default_cn_profile()).validity["daily_min_hours"]
    panel = panel_from_hourly(hourly)
    window = _hour_window(panel, start, end)
    times = panel.times[window].astype("datetime64[s]")
    n_t, n_st = len(times), panel.n_stations
    so2_24h = _moving_mean(panel.pollutant("SO2"), 24, min_hours)
    columns = {}
    for p in aqi_module.HOURLY_POLLUTANTS:
        columns[p] = [panel.pollutant(p)[:, window].reshape(-1)]
        columns[f"n_{p}"] = [(~np.isnan(columns[p][0])).astype(np.int64)]
    columns["SO2_24h"] = [so2_24h[:, window].reshape(-1)]
    level = [np.full(n_st * n_t, "station", dtype=object)]
    area = [np.repeat(np.asarray(panel.stations, dtype=object), n_t)]
    time = [np.tile(times, n_st)]
    if membership is not None and len(membership) and n_st:
        areas = averaging.areas_of(membership, np.asarray(panel.stations))
        a_idx, s_idx = np.nonzero(areas.matrix)           # member pairs, sorted by area
        for p in aqi_module.HOURLY_POLLUTANTS:
            mean, count = averaging.member_means(panel.pollutant(p)[:, window], a_idx, s_idx,
                                                 areas.n)
            columns[p].append(mean.reshape(-1))
            columns[f"n_{p}"].append(count.reshape(-1))
        # the area 24-h value: the mean of the valid station 24-h values (as a daily mean)
        columns["SO2_24h"].append(averaging.member_means(so2_24h[:, window], a_idx, s_idx,
                                                         areas.n)[0].reshape(-1))
        level.append(np.repeat(areas.level, n_t))
        area.append(np.repeat(areas.area, n_t))
        time.append(np.tile(times, areas.n))
    frame = {"level": np.concatenate(level), "area": np.concatenate(area),
             "time": np.concatenate(time)}
    frame.update({c: np.concatenate(v) for c, v in columns.items()})
    frame = pd.DataFrame(frame)
    held = np.zeros(len(frame), dtype=bool)
    for p in aqi_module.HOURLY_POLLUTANTS:
        held |= frame[f"n_{p}"].to_numpy() > 0
    return frame if held.all() else frame[held].reset_index(drop=True)


def hourly_aqi_table(hourly: pd.DataFrame, membership: pd.DataFrame | None = None,
                     profile: str | None = None, start=None, end=None) -> pd.DataFrame:
    """Real-time (hourly) AQI of every station, district and city (HJ 633, standards.md §5).

    The six 1-h values of :func:`hourly_values` (an area's: the mean of its valid
    station values), each rounded as published, through
    :func:`indicators.aqi.hourly_aqi`; SO2 above 800 µg/m³ under cn-2012 takes the
    24-h moving average's IAQI. Same rows and order as :func:`hourly_values`.
    """
    return hourly_table(hourly, membership, profile=profile, start=start, end=end)[1]


def hourly_table(hourly: pd.DataFrame, membership: pd.DataFrame | None = None,
                 profile: str | None = None, start=None, end=None,
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(:func:`hourly_values`, their hourly AQI): the 1-h values of every station, district
    and city and, row for row, :func:`indicators.aqi.hourly_aqi` of them."""
    chinese, _ = split_profile(profile)
    values = hourly_values(hourly, membership, profile=profile, start=start, end=end)
    return values, aqi_module.hourly_aqi(values, profile=chinese)


def hourly_export(values: pd.DataFrame, hourly_aqi: pd.DataFrame, *, iaqi: bool = False,
                  published: pd.DataFrame | None = None) -> pd.DataFrame:
    """The ``lantian stats hourly`` table: level,area,time,pollutant,value,reported,valid.

    ``values`` and ``hourly_aqi`` as :func:`hourly_values` and
    :func:`indicators.aqi.hourly_aqi` give them (same rows). Pollutants: the six 1-h
    values (``value`` unrounded, ``reported`` rounded half to even as published,
    ``valid`` when there is a value), ``AQI`` (``valid`` when published), with
    ``iaqi`` the ``IAQI_<pollutant>`` rows, and with ``published`` (station, time, aqi:
    :func:`store.realtime.published_frame`) ``AQI_published`` rows of the stations.
    ``time`` is the start of the hour, CST, ``YYYY-MM-DD HH:MM``.
    """
    from .rounding import round_half_even

    head = values[["level", "area", "time"]].reset_index(drop=True)
    profiles = hourly_aqi["profile"].astype(str).to_numpy()
    parts, order = [], []

    def add(name, value, reported, valid, decimals=0):
        parts.append(head.assign(pollutant=name, value=value, reported=reported, valid=valid,
                                 _d=decimals))
        order.append(name)

    for p in aqi_module.HOURLY_POLLUTANTS:
        x = values[p].to_numpy(np.float64)
        decimals = np.zeros(len(x), dtype=np.int64)
        for pid in np.unique(profiles):
            decimals[profiles == pid] = load_profile(pid).decimals(p)
        add(p, x, round_half_even(x, decimals), ~np.isnan(x), decimals)
    a = hourly_aqi["aqi"].astype("Float64").to_numpy(np.float64, na_value=np.nan)
    add("AQI", a, a, ~np.isnan(a))
    if iaqi:
        for p in aqi_module.HOURLY_POLLUTANTS:
            column = f"iaqi_{p}"
            if column in hourly_aqi.columns:
                v = hourly_aqi[column].astype("Float64").to_numpy(np.float64, na_value=np.nan)
                add(f"IAQI_{p}", v, v, ~np.isnan(v))
    if published is not None:
        station = head[head["level"] == "station"]
        key = pd.MultiIndex.from_arrays([published["station"].astype(str).to_numpy(dtype=object),
                                         published["time"].to_numpy("datetime64[s]")])
        at = key.get_indexer(pd.MultiIndex.from_arrays(
            [station["area"].astype(str).to_numpy(dtype=object),
             station["time"].to_numpy("datetime64[s]")]))
        v = np.where(at >= 0, published["aqi"].astype("Float64").to_numpy(
            np.float64, na_value=np.nan)[np.maximum(at, 0)], np.nan)
        parts.append(station.assign(pollutant="AQI_published", value=v, reported=v,
                                    valid=~np.isnan(v), _d=0))
        order.append("AQI_published")
    out = pd.concat(parts, ignore_index=True)
    rank = {name: i for i, name in enumerate(order)}
    out = out.assign(_l=out["level"].map(_LEVEL_ORDER), _p=out["pollutant"].map(rank))
    out = out.sort_values(["_l", "area", "time", "_p"], kind="stable").drop(columns=["_l", "_p"])
    out["time"] = pd.to_datetime(out["time"]).dt.strftime("%Y-%m-%d %H:%M")
    out["valid"] = out["valid"].astype(bool)
    # as published: 12 (not 12.0), CO 0.9, the AQI whole (as the annual and daily tables)
    out["reported"] = as_published(out["reported"], out["_d"].to_numpy()).to_numpy()
    return out[HOURLY_EXPORT_COLUMNS].reset_index(drop=True)


def published_comparison(hourly_aqi: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """Lantian's station hourly AQI beside the published one, hour by hour.

    Parameters
    ----------
    hourly_aqi : the frame of :func:`hourly_aqi_table` / :func:`indicators.aqi.hourly_aqi`
        (its ``station`` rows are used).
    published : DataFrame ``station``, ``time``, ``aqi``, ``primary`` (pollutant names,
        comma-joined; "" when none), e.g. :func:`store.realtime.published_frame`.

    Returns
    -------
    pandas.DataFrame
        One row per published station-hour: ``station``, ``time``, ``published_aqi``,
        ``published_primary``, ``aqi``, ``primary``, ``missing`` (Lantian's, from the
        stored 1-h values), ``aqi_agrees`` and ``primary_agrees`` (the same pollutants;
        both lists in the order SO2, NO2, CO, O3, PM10, PM2.5, as the reader stores them;
        both False where Lantian has no AQI).
    """
    ours = hourly_aqi[hourly_aqi["level"].astype(str) == "station"]
    ours = pd.DataFrame({"station": ours["area"].astype(str).to_numpy(dtype=object),
                         "time": ours["time"].to_numpy("datetime64[s]"),
                         "aqi": ours["aqi"].to_numpy(), "primary": ours["primary"].to_numpy(),
                         "missing": ours["missing"].to_numpy()})
    pub = pd.DataFrame({"station": published["station"].astype(str).to_numpy(dtype=object),
                        "time": published["time"].to_numpy("datetime64[s]"),
                        "published_aqi": published["aqi"].astype("Int64").to_numpy(),
                        "published_primary": published["primary"].fillna("").astype(str)
                        .to_numpy(dtype=object)})
    out = pub.merge(ours, on=["station", "time"], how="left")
    out["aqi"] = out["aqi"].astype("Int64")
    ours_aqi = out["aqi"].to_numpy(np.float64, na_value=np.nan)
    theirs = out["published_aqi"].to_numpy(np.float64, na_value=np.nan)
    out["aqi_agrees"] = ours_aqi == theirs
    # both lists are in the order of the hourly inputs (SO2, NO2, CO, O3, PM10, PM2.5)
    same = (out["primary"].fillna("").astype(str).to_numpy(dtype=object)
            == out["published_primary"].to_numpy(dtype=object))
    out["primary_agrees"] = same.astype(bool) & ~np.isnan(ours_aqi)
    return out
