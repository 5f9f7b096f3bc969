"""Real-time (hourly AQI) evaluations: a city's latest hour, a station's hourly AQI beside
the published one, the day's hourly exceedances.

Computed through :func:`indicators.pipeline.hourly_table`, :func:`indicators.aqi.hourly_aqi`
and :func:`indicators.realtime.hourly_exceedances` from what ``store`` reads. Times are
naive CST and label the **start** of an hour (as stored); the pages label an hour by its
end, as the national platform publishes it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from config.vocabulary import AQI_ORDER
from indicators.episodes import HOUR, Episode, find_episodes, hourly_grid  # noqa: F401

from .snapshot import Snapshot, evaluated

#: Hours of the strip of the public page (the latest hour and the 23 before it).
STRIP_HOURS = 24
#: How far back a station's last hourly AQI is looked for (a greyed station's "last value").
LOOKBACK_HOURS = 7 * 24

_AQI_COLUMNS = ["aqi", "level_no", "category_zh", "category_en", "colour", "primary",
                "missing"]
POLLUTANTS = AQI_ORDER
#: The columns of an area's hours in an alert scan.
HOUR_COLUMNS = ["time", "aqi", "level_no", "category_zh", "category_en", "colour", "primary"]
CITY_SCOPE = "city"


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


@evaluated
def city_now(snap: Snapshot, city: str, until=None) -> CityNow:
    """:class:`CityNow` of ``city`` (a site-file city id) at its newest hour up to ``until``
    (a ``pd.Timestamp``, inclusive; default the newest stored)."""
    from indicators.pipeline import hourly_table
    from store.realtime import city_stations, hourly_inputs, latest_stored_hour, published_frame

    with snap.connect() as conn:
        stations = city_stations(conn, city)
        stored = latest_stored_hour(conn, stations["id"], until) if len(stations) else None
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


@evaluated
def station_hourly_aqi(snap: Snapshot, code: str, start, end) -> pd.DataFrame:
    """One station's hourly AQI from day ``start`` to day ``end`` (inclusive), beside the
    published one.

    One row per hour with a 1-h value or a published AQI, by time: ``time`` (start, CST),
    the six 1-h values, Lantian's ``aqi`` (Int64) … ``missing`` and ``profile``
    (:func:`indicators.aqi.hourly_aqi`), ``published_aqi`` (Int64, <NA> when the platform
    published none) and ``published_primary``, ``compared`` (a published AQI exists) and
    ``agrees`` (compared, and the same AQI and primary pollutant(s)).
    """
    from indicators.pipeline import hourly_table
    from store.frames import hourly_frame
    from store.realtime import published_frame

    first = pd.Timestamp(pd.Timestamp(start).date())
    last = pd.Timestamp(pd.Timestamp(end).date()) + pd.Timedelta(hours=23)
    with snap.connect() as conn:
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


@dataclass
class HourlyExceedances:
    """The hourly exceedances of one day of a city (:func:`hourly_exceedance_list`)."""

    city: str
    day: object                   # datetime.date of the hours, or None without data
    hour: pd.Timestamp | None     # the day's newest hour (start) with a 1-h value
    rows: pd.DataFrame            # indicators.realtime.HOURLY_EXCEEDANCE_COLUMNS
    limits: dict                  # profile id → {pollutant: 1-h limit (grade II)}
    hours: int = 0                # hours of the day with a 1-h value


@evaluated
def hourly_exceedance_list(snap: Snapshot, city: str, until=None) -> HourlyExceedances:
    """The 1-h limit exceedances and hourly AQI > 100 of every station, district and the
    city on the day of the city's newest hour up to ``until`` (inclusive; default the
    newest stored), from 00:00 to that hour."""
    from indicators.pipeline import grades_of, hourly_table
    from indicators.realtime import hourly_exceedances, hourly_limits
    from store.realtime import city_stations, hourly_inputs, latest_stored_hour

    with snap.connect() as conn:
        stations = city_stations(conn, city)
        stored = latest_stored_hour(conn, stations["id"], until) if len(stations) else None
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


def hourly_table_export(snap: Snapshot, first, last, city: str | None, level: str,
                        areas=None, profile: str | None = None, iaqi: bool = False,
                        published: bool = False) -> pd.DataFrame:
    """``lantian stats hourly``: the 1-h values and hourly AQI of ``level`` from hour
    ``first`` to hour ``last`` (``indicators.pipeline.hourly_export``)."""
    from indicators import pipeline
    from store.realtime import hourly_inputs, published_frame

    from .errors import NoDataError
    from .exports import select_level

    with snap.connect() as conn:
        hourly, members = hourly_inputs(conn, first, last, city)
        if city is not None and members.empty and hourly.empty:
            raise NoDataError(f"unknown city {city!r}: neither a site-file city id nor a city "
                              "of the stations' national list")
        pub = published_frame(conn, start=first, end=last) if published else None
    if hourly.empty or not (hourly["time"] >= first).any():
        raise NoDataError(f"no hourly data between {first:%Y-%m-%d %H:%M} and "
                          f"{last:%Y-%m-%d %H:%M}" + (f" for city {city!r}" if city else "")
                          + "; see 'lantian status' for what is loaded")
    members = None if level == "station" else members[members["level"] == level]
    values, aqi = pipeline.hourly_table(hourly, members, profile=profile, start=first, end=last)
    keep = select_level(values, level, areas).index
    return pipeline.hourly_export(values.loc[keep], aqi.loc[keep], iaqi=iaqi, published=pub)


def area_hourly_aqi(snap: Snapshot, city: str, first, last) -> pd.DataFrame | None:
    """The hourly AQI of the city's districts and the city from hour ``first`` to ``last``
    (``indicators.pipeline.hourly_table``'s AQI frame; empty without values)."""
    from indicators import pipeline
    from store.realtime import hourly_inputs

    with snap.connect() as conn:
        hourly, members = hourly_inputs(conn, first, last, city)
    members = members[members["level"].isin(["district", "city"])]
    if len(hourly) and (pd.to_datetime(hourly["time"]) >= pd.Timestamp(first)).any():
        return pipeline.hourly_table(hourly, members, start=first, end=last)[1]
    return None


def _area_hours(aqi: pd.DataFrame, level: str, area: str) -> pd.DataFrame:
    rows = aqi[(aqi["level"].astype(str) == level) & (aqi["area"].astype(str) == area)]
    return pd.DataFrame({
        "time": rows["time"].to_numpy("datetime64[s]"),
        "aqi": rows["aqi"].astype("Float64").to_numpy(np.float64, na_value=np.nan),
        "level_no": rows["level_no"].astype("Float64").to_numpy(np.float64, na_value=np.nan),
        "category_zh": rows["category_zh"].astype(object).to_numpy(),
        "category_en": rows["category_en"].astype(object).to_numpy(),
        "colour": rows["colour"].astype(object).to_numpy(),
        "primary": rows["primary"].astype(object).to_numpy()})


def alert_scan(snap: Snapshot, city: str, scopes: list, first, last) -> dict:
    """Hourly AQI of the alert scopes' areas from ``first`` to ``last`` → {scope: (grid frame,
    episodes)}; ``scopes``: (scope, level, rule) with ``config.sites.AlertRule`` rules."""
    aqi = area_hourly_aqi(snap, city, first, last)
    if aqi is None:
        aqi = pd.DataFrame(columns=["level", "area"] + HOUR_COLUMNS)
    out = {}
    for scope, level, rule in scopes:
        area = city if scope == CITY_SCOPE else scope
        hours = _area_hours(aqi, level, area)
        grid, values = hourly_grid(hours["time"].to_numpy(), hours["aqi"].to_numpy(), first,
                                   last)
        frame = pd.DataFrame({"time": grid.astype("datetime64[s]")}).merge(
            hours, on="time", how="left")
        frame["aqi"] = values
        frame["above"] = values > rule.threshold
        out[scope] = (frame, find_episodes(grid, values, rule.threshold, rule.hours,
                                           rule.clear_hours))
    return out
