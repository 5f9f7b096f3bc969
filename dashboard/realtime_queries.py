"""Database → DataFrames for the real-time (hourly AQI) views of the dashboard.

Like :mod:`dashboard.queries` (and beside it, so that the two can change apart): every
function takes an engine, reads through ``store`` and computes through ``indicators``
(:func:`indicators.pipeline.hourly_table`, :func:`indicators.aqi.hourly_aqi`,
:func:`indicators.realtime.hourly_exceedances`), and its result is cached under the data
version (:func:`dashboard.cache.cached`, :func:`dashboard.queries.current_version`), so a
load makes every entry unreachable at once.

Times are naive CST and label the **start** of an hour (as stored); the pages label an
hour by its end, as the national platform publishes it (``figures.realtime``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import func, select

#: Hours of the strip of the public page (the latest hour and the 23 before it).
STRIP_HOURS = 24
#: How far back a station's last hourly AQI is looked for (a greyed station's "last value").
LOOKBACK_HOURS = 7 * 24

_AQI_COLUMNS = ["aqi", "level_no", "category_zh", "category_en", "colour", "primary",
                "missing"]
POLLUTANTS = ("SO2", "NO2", "CO", "O3", "PM10", "PM2.5")


@dataclass
class CityNow:
    """The latest hour of a city: its areas' hourly AQI over the last hours, its stations.

    ``hour``: the newest hour (start, CST) with a 1-h value at any of the city's stations
    (up to ``until``), None when there is none. ``areas``: the districts' and the city's
    rows (``level``, ``area``, ``time``, the six 1-h values as area means, and the hourly
    AQI columns ``aqi`` (Int64) … ``missing``) for the :data:`STRIP_HOURS` hours ending
    at ``hour`` (hours without any value left out). ``stations``: one row per station of
    the city (site-file order): ``code``, ``name_zh``, ``name_en``, ``role``,
    ``district``, ``lon``, ``lat``, ``current`` (True when it has an hourly AQI at
    ``hour``), ``time`` (``hour`` when current, else its last hour with an hourly AQI in
    the last :data:`LOOKBACK_HOURS` hours, NaT when none), the six 1-h values and the AQI
    columns of that hour, ``values_now`` (any 1-h value at ``hour``), ``missing_now``
    (pollutants without a value at ``hour``), ``published_aqi`` (Int64: the platform's
    AQI of that hour, <NA> when none) and ``published_primary``.
    """

    city: str
    hour: pd.Timestamp | None
    areas: pd.DataFrame
    stations: pd.DataFrame
    profiles: tuple = field(default_factory=tuple)

    @property
    def empty(self) -> bool:
        return self.hour is None

    def area_rows(self, level: str, hour=None) -> pd.DataFrame:
        """The ``level`` (district | city) rows of ``hour`` (default the latest)."""
        when = self.hour if hour is None else pd.Timestamp(hour)
        a = self.areas
        return a[(a["level"] == level) & (a["time"] == when)].reset_index(drop=True)


def _station_rows(conn, city: str) -> pd.DataFrame:
    """The city's stations (site file, or the list city's) in site-file order."""
    from store.frames import station_table
    from store.realtime import city_station_codes

    table = station_table(conn).sort_values("id", kind="stable")
    codes = set(city_station_codes(conn, city))
    return table[table["code"].isin(codes)].reset_index(drop=True)


def _latest_hour(conn, station_ids, until=None):
    """The newest stored hour (start) of these stations up to ``until`` (inclusive), or None."""
    from store import schema

    h = schema.hourly
    newest = None
    ids = [int(i) for i in station_ids]
    for i in range(0, len(ids), 500):
        query = select(func.max(h.c.ts)).where(h.c.station_id.in_(ids[i:i + 500]))
        if until is not None:
            query = query.where(h.c.ts <= pd.Timestamp(until).to_pydatetime())
        value = conn.execute(query).scalar()
        if value is not None and (newest is None or value > newest):
            newest = value
    return None if newest is None else pd.Timestamp(newest)


def _compute_city_now(engine, city: str, until) -> CityNow:
    from indicators.pipeline import hourly_table
    from store.realtime import hourly_inputs, published_frame

    with engine.connect() as conn:
        stations = _station_rows(conn, city)
        stored = _latest_hour(conn, stations["id"], until) if len(stations) else None
        if stored is not None:
            start = stored - pd.Timedelta(hours=LOOKBACK_HOURS - 1)
            hourly, members = hourly_inputs(conn, start, stored, city)
            values, aqi = hourly_table(hourly, members, start=start, end=stored)
        if stored is None or values.empty:
            empty = pd.DataFrame(columns=["level", "area", "time", *POLLUTANTS, *_AQI_COLUMNS])
            return CityNow(city, None, empty, _station_frame(stations, None, None, None,
                                                              None))
        hour = pd.Timestamp(values["time"].max())
        published = published_frame(conn, stations=stations["code"].tolist(),
                                    start=start, end=hour)
    table = pd.concat([values[["level", "area", "time", *POLLUTANTS]].reset_index(drop=True),
                       aqi[_AQI_COLUMNS + ["profile"]].reset_index(drop=True)], axis=1)
    table["time"] = pd.to_datetime(table["time"])
    first = hour - pd.Timedelta(hours=STRIP_HOURS - 1)
    areas = table[table["level"].isin(["district", "city"]) & (table["time"] >= first)
                  & (table["time"] <= hour)].drop(columns="profile").reset_index(drop=True)
    profiles = tuple(sorted(set(table.loc[table["time"] == hour, "profile"].astype(str))))
    return CityNow(city, hour, areas,
                   _station_frame(stations, table[table["level"] == "station"], hour,
                                  published, until), profiles)


def _station_frame(stations: pd.DataFrame, rows, hour, published, until) -> pd.DataFrame:
    """One row per station: its hourly AQI at ``hour`` or its last one (see CityNow)."""
    out = pd.DataFrame({
        "code": stations["code"].astype(str).to_numpy(dtype=object),
        "name_zh": stations["name_zh"].fillna("").astype(str).to_numpy(dtype=object),
        "name_en": stations["name_en"].fillna("").astype(str).to_numpy(dtype=object),
        "role": stations["role"].fillna("evaluation").astype(str).to_numpy(dtype=object),
        "district": stations["district"].to_numpy(dtype=object),
        "lon": pd.to_numeric(stations["lon"]).astype("float64").to_numpy(),
        "lat": pd.to_numeric(stations["lat"]).astype("float64").to_numpy()})
    n = len(out)
    out["current"] = np.zeros(n, dtype=bool)
    out["time"] = pd.Series([pd.NaT] * n, dtype="datetime64[ns]")
    for p in POLLUTANTS:
        out[p] = np.full(n, np.nan)
    out["aqi"] = pd.array([pd.NA] * n, dtype="Int64")
    out["level_no"] = pd.array([pd.NA] * n, dtype="Int64")
    for c in ("category_zh", "category_en", "colour", "primary", "missing"):
        out[c] = np.full(n, "", dtype=object)
    out["values_now"] = np.zeros(n, dtype=bool)
    out["missing_now"] = np.full(n, ", ".join(POLLUTANTS), dtype=object)
    out["published_aqi"] = pd.array([pd.NA] * n, dtype="Int64")
    out["published_primary"] = np.full(n, "", dtype=object)
    if rows is None or hour is None or rows.empty:
        return out
    rows = rows.assign(area=rows["area"].astype(str))
    at_hour = rows[rows["time"] == hour].set_index("area")
    have = rows[rows["aqi"].notna()].sort_values("time", kind="stable") \
        .drop_duplicates("area", keep="last").set_index("area")
    pub = {} if published is None or published.empty else {
        (str(s), pd.Timestamp(t)): (int(a), str(p or ""))
        for s, t, a, p in zip(published["station"], published["time"], published["aqi"],
                              published["primary"])}
    for i, code in enumerate(out["code"]):
        if code in at_hour.index:
            r = at_hour.loc[code]
            present = [p for p in POLLUTANTS if pd.notna(r[p])]
            out.loc[i, "values_now"] = bool(present)
            out.loc[i, "missing_now"] = ", ".join(p for p in POLLUTANTS if p not in present)
        if code not in have.index:
            continue
        r = have.loc[code]
        when = pd.Timestamp(r["time"])
        out.loc[i, "current"] = when == hour
        out.loc[i, "time"] = when
        for p in POLLUTANTS:
            out.loc[i, p] = float(r[p]) if pd.notna(r[p]) else np.nan
        out.loc[i, "aqi"] = int(r["aqi"])
        out.loc[i, "level_no"] = int(r["level_no"])
        for c in ("category_zh", "category_en", "colour", "primary", "missing"):
            out.loc[i, c] = "" if pd.isna(r[c]) else str(r[c])
        if (code, when) in pub:
            out.loc[i, "published_aqi"], out.loc[i, "published_primary"] = pub[(code, when)]
    return out


def city_now(engine, city: str, until=None) -> CityNow:
    """:class:`CityNow` of ``city`` (a site-file city id) at its newest hour up to ``until``
    (a time, inclusive; default the newest stored), cached under the data version."""
    from .cache import cached
    from .queries import current_version

    until = None if until is None else pd.Timestamp(until)
    return cached("rt_city_now", current_version(engine),
                  (str(engine.url), city, None if until is None else until.isoformat()),
                  lambda: _compute_city_now(engine, city, until))


def _compute_station_aqi(engine, code: str, start, end) -> pd.DataFrame:
    from indicators.pipeline import hourly_table
    from store.frames import hourly_frame
    from store.realtime import published_frame

    first = pd.Timestamp(pd.Timestamp(start).date())
    last = pd.Timestamp(pd.Timestamp(end).date()) + pd.Timedelta(hours=23)
    with engine.connect() as conn:
        # 23 hours before the first: the SO2 24-h moving average of cn-2012's fallback
        hourly = hourly_frame(conn, stations=[code],
                              start=np.datetime64(first - pd.Timedelta(hours=23), "s"),
                              end=np.datetime64(last, "s"))
        published = published_frame(conn, stations=[code], start=first, end=last)
    columns = ["time", *POLLUTANTS, *_AQI_COLUMNS, "profile", "published_aqi",
               "published_primary", "compared", "agrees"]
    if hourly.empty and published.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    if hourly.empty:
        ours = pd.DataFrame({c: pd.Series(dtype=object)
                             for c in ["time", *POLLUTANTS, *_AQI_COLUMNS, "profile"]})
    else:
        values, aqi = hourly_table(hourly, None, start=first, end=last)
        ours = pd.concat([values[["time", *POLLUTANTS]].reset_index(drop=True),
                          aqi[_AQI_COLUMNS + ["profile"]].reset_index(drop=True)], axis=1)
    ours["time"] = pd.to_datetime(ours["time"])
    pub = pd.DataFrame({"time": pd.to_datetime(published["time"]),
                        "published_aqi": published["aqi"].astype("Int64"),
                        "published_primary": published["primary"].fillna("").astype(str)})
    out = ours.merge(pub, on="time", how="outer").sort_values("time", kind="stable")
    out = out.reset_index(drop=True)
    out["aqi"] = out["aqi"].astype("Int64")
    out["level_no"] = out["level_no"].astype("Int64")
    out["published_aqi"] = out["published_aqi"].astype("Int64")
    for c in ("category_zh", "category_en", "colour", "primary", "missing",
              "published_primary", "profile"):
        out[c] = out[c].astype(object).where(out[c].notna(), "")
    mine = out["aqi"].to_numpy(np.float64, na_value=np.nan)
    theirs = out["published_aqi"].to_numpy(np.float64, na_value=np.nan)
    compared = ~np.isnan(theirs)
    out["compared"] = compared
    out["agrees"] = compared & (mine == theirs) & (
        out["primary"].to_numpy(dtype=object) == out["published_primary"].to_numpy(dtype=object))
    return out[columns]


def station_hourly_aqi(engine, code: str, start, end) -> pd.DataFrame:
    """One station's hourly AQI from day ``start`` to day ``end`` (inclusive), beside the
    published one (cached).

    One row per hour with a 1-h value or a published AQI, by time: ``time`` (start, CST),
    the six 1-h values, Lantian's ``aqi`` (Int64) … ``missing`` and ``profile``
    (:func:`indicators.aqi.hourly_aqi`), ``published_aqi`` (Int64, <NA> when the platform
    published none) and ``published_primary``, ``compared`` (a published AQI exists) and
    ``agrees`` (compared, and the same AQI and primary pollutant(s)).
    """
    from .cache import cached
    from .queries import current_version

    return cached("rt_station_aqi", current_version(engine),
                  (str(engine.url), code, str(pd.Timestamp(start).date()),
                   str(pd.Timestamp(end).date())),
                  lambda: _compute_station_aqi(engine, code, start, end))


@dataclass
class HourlyExceedances:
    """The hourly exceedances of one day of a city (:func:`hourly_exceedance_list`)."""

    city: str
    day: object                   # datetime.date of the hours, or None without data
    hour: pd.Timestamp | None     # the day's newest hour (start) with a 1-h value
    rows: pd.DataFrame            # indicators.realtime.HOURLY_EXCEEDANCE_COLUMNS
    limits: dict                  # profile id → {pollutant: 1-h limit (grade II)}
    hours: int = 0                # hours of the day with a 1-h value


def _compute_exceedances(engine, city: str, until) -> HourlyExceedances:
    from indicators.pipeline import grades_of, hourly_table
    from indicators.realtime import hourly_exceedances, hourly_limits
    from store.realtime import hourly_inputs

    with engine.connect() as conn:
        stations = _station_rows(conn, city)
        stored = _latest_hour(conn, stations["id"], until) if len(stations) else None
        if stored is None:
            return HourlyExceedances(city, None, None, hourly_exceedances(
                pd.DataFrame(), pd.DataFrame()), {})
        first = pd.Timestamp(stored.date())
        hourly, members = hourly_inputs(conn, first, stored, city)
    values, aqi = hourly_table(hourly, members, start=first, end=stored)
    grades = grades_of(members, dict(zip(stations["code"].astype(str),
                                         stations["grade"].fillna("II").astype(str))))
    rows = hourly_exceedances(values, aqi, grades)
    hour = pd.Timestamp(values["time"].max()) if len(values) else None
    limits = {pid: hourly_limits(pid) for pid in sorted(set(aqi["profile"].astype(str)))}
    return HourlyExceedances(city, first.date(), hour, rows, limits,
                             int(values["time"].nunique()) if len(values) else 0)


def hourly_exceedance_list(engine, city: str, until=None) -> HourlyExceedances:
    """The 1-h limit exceedances and hourly AQI > 100 of every station, district and the
    city on the day of the city's newest hour up to ``until`` (inclusive; default the
    newest stored), from 00:00 to that hour (cached)."""
    from .cache import cached
    from .queries import current_version

    until = None if until is None else pd.Timestamp(until)
    return cached("rt_exceedances", current_version(engine),
                  (str(engine.url), city, None if until is None else until.isoformat()),
                  lambda: _compute_exceedances(engine, city, until))


__all__ = ["CityNow", "HourlyExceedances", "LOOKBACK_HOURS", "STRIP_HOURS", "city_now",
           "hourly_exceedance_list", "station_hourly_aqi"]
