"""Per-station views: hourly values as the statistics see them, the latest daily AQI, one
period statistic of every station against its limit."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .city_year import Period, city_year, period_stats
from .snapshot import Snapshot, evaluated


@evaluated
def station_hourly(snap: Snapshot, code: str, start, end) -> pd.DataFrame:
    """One station's hourly values from day ``start`` to day ``end`` (inclusive) as the
    statistics see them (``store.frames.hourly_frame``: QC-excluded values NaN)."""
    from store.frames import hourly_frame
    first = np.datetime64(pd.Timestamp(start).date(), "s")
    last = np.datetime64(pd.Timestamp(end).date(), "s") + np.timedelta64(23 * 3600, "s")
    with snap.connect() as conn:
        return hourly_frame(conn, stations=[code], start=first, end=last)


@evaluated
def station_readings(snap: Snapshot, code: str, start, end) -> pd.DataFrame:
    """Stored hours of one station with values and QC flag names (flagged values kept):
    ``store.frames.station_readings``."""
    from store.frames import station_readings as read
    with snap.connect() as conn:
        return read(conn, code, start, end)


@evaluated
def station_latest_aqi(snap: Snapshot, city: str, start, end, profile: str | None = None
                       ) -> pd.DataFrame:
    """Each station's daily AQI on ``end``, or, where that day has none, on its last day
    with a valid AQI from ``start`` on.

    Columns: code, date (datetime.date), aqi (float), category_zh, category_en,
    primary — one row per station that has a valid AQI in the period.
    """
    found, missing = [], None
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    for year in range(end.year, start.year - 1, -1):
        aqi = city_year(snap, city, year, profile).aqi
        if aqi.empty:
            continue
        rows = aqi[(aqi["level"] == "station") & (aqi["date"] >= start)
                   & (aqi["date"] <= end) & aqi["aqi"].notna()]
        if missing is not None:
            rows = rows[rows["area"].isin(list(missing))]
        if rows.empty:
            continue
        last = rows.sort_values("date", kind="stable").drop_duplicates("area", keep="last")
        found.append(last)
        have = set(last["area"].astype(str))
        stations = set(aqi.loc[aqi["level"] == "station", "area"].astype(str))
        missing = (stations if missing is None else missing) - have
        if not missing:
            break
    if not found:
        return pd.DataFrame({"code": pd.Series(dtype=str), "date": pd.Series(dtype=object),
                             "aqi": pd.Series(dtype="float64"),
                             "category_zh": pd.Series(dtype=str),
                             "category_en": pd.Series(dtype=str),
                             "primary": pd.Series(dtype=str)})
    rows = pd.concat(found, ignore_index=True)
    return pd.DataFrame({
        "code": rows["area"].astype(str).to_numpy(),
        "date": pd.to_datetime(rows["date"]).dt.date.to_numpy(),
        "aqi": rows["aqi"].astype("Float64").to_numpy("float64", na_value=np.nan),
        "category_zh": rows["category_zh"].astype(str).to_numpy(),
        "category_en": rows["category_en"].astype(str).to_numpy(),
        "primary": rows["primary"].fillna("").astype(str).to_numpy()})


@evaluated
def station_statistic(snap: Snapshot, city: str, period: Period, profile: str | None,
                      pollutant: str, statistic: str, grades: tuple) -> pd.DataFrame:
    """One period statistic of every station of ``city`` with the limit it is held to
    (:func:`indicators.comparison.against_limits` under ``profile`` and the station's
    grade; ``grades`` as sorted (station, grade) pairs).

    Columns: code, reported, valid, provisional (a year-to-date statistic, whose
    ``detail`` starts with "provisional"), detail, limit (NaN: the profile sets none).
    """
    from indicators.comparison import against_limits
    stats = period_stats(snap, city, period, profile)
    if stats.empty:
        return pd.DataFrame({"code": pd.Series(dtype=str),
                             "reported": pd.Series(dtype="float64"),
                             "valid": pd.Series(dtype=bool),
                             "provisional": pd.Series(dtype=bool),
                             "detail": pd.Series(dtype=str),
                             "limit": pd.Series(dtype="float64")})
    rows = stats[(stats["level"] == "station") & (stats["pollutant"] == pollutant)
                 & (stats["statistic"] == statistic)].reset_index(drop=True)
    limits = against_limits(rows, profile, dict(grades))["limit"]
    detail = rows["detail"].fillna("").astype(str)
    valid = rows["valid"].astype(object)
    return pd.DataFrame({
        "code": rows["area"].astype(str).to_numpy(),
        "reported": rows["reported"].astype("float64").to_numpy(),
        "valid": valid.where(valid.notna(), False).astype(bool).to_numpy(),
        "provisional": detail.str.startswith("provisional").to_numpy(),
        "detail": detail.to_numpy(),
        "limit": limits.astype("float64").to_numpy()})
