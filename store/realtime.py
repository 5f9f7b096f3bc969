"""The real-time feed in the database: its stations, its published hourly AQI, and reads.

Written by ``lantian ingest cnemc-live`` (:func:`ingest.cnemc_live.load_live_file`), inside
the transaction that stores the file's 1-h values:

- :func:`prepare_stations` creates the stations a file names that the database does not
  know (code, name, coordinates and city from the file; origin ``ingest``, so that the
  national station list adopts them when it is loaded) and fills the name and
  coordinates of known stations where they are empty;
- :func:`write_published` keeps the feed's own ``aqi`` and primary pollutant(s) in
  ``published_hourly`` (new rows inserted, different ones replaced, equal ones left).

Read side, for the CLI, the dashboard and alerts: :func:`published_frame`,
:func:`realtime_membership` (site-file districts and cities, plus a city per national-list
city for the stations no site file places), :func:`hourly_inputs` and
:func:`latest_hour`. Times are naive CST, the start of the hour (standards §3).
"""
from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pandas as pd
from sqlalchemy import and_, bindparam, func, select

from . import schema
from .db import bump_data_version

_CHUNK = 500          # codes per IN (…) list


def _chunks(values, size: int = _CHUNK):
    values = list(values)
    for i in range(0, len(values), size):
        yield values[i:i + size]


def _none(v):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v


# --------------------------------------------------------------------------- writing
def prepare_stations(conn, stations: pd.DataFrame, *, create: bool = True,
                     synthetic: bool = False) -> tuple[list[str], int]:
    """Create the unknown stations of a feed file and complete the known ones.

    Parameters
    ----------
    stations : DataFrame ``code``, ``name_zh``, ``background``, ``lon``, ``lat``, ``area``
        (:attr:`ingest.cnemc_live.LiveFile.stations`).
    create : bool
        False (``--strict``): create nothing (the load then refuses unknown codes).

    A new station gets the file's name (``(对照点)`` → role ``background``), coordinates
    and city: ``list_city`` is the national station list's name of that city when other
    stations of the same ``area`` in the file are on the list, or else list stations lie
    in a prefecture of that name (``保定市`` → ``保定``); otherwise the file's ``area``. Its origin is ``ingest``: loading the national list later
    adopts it (role and names from the list). A known station keeps what it has; only an
    empty (or placeholder: the code) name, empty coordinates and an empty ``list_city``
    are filled. Returns (codes created, number of known stations completed).
    """
    s = schema.stations
    codes = stations["code"].astype(str).tolist()
    existing = {}
    for part in _chunks(codes):
        for row in conn.execute(select(s.c.id, s.c.code, s.c.name_zh, s.c.lon, s.c.lat,
                                       s.c.list_city).where(s.c.code.in_(part))):
            existing[row.code] = row
    # the national list's name of each area's city, from the area's stations on the list
    votes: dict[str, Counter] = {}
    for code, area in zip(codes, stations["area"].astype(str)):
        row = existing.get(code)
        if row is not None and row.list_city and area:
            votes.setdefault(area, Counter())[row.list_city] += 1
    # else: the list's stations whose prefecture (地级行政区) is named like the feed's area
    unknown_areas = sorted(set(stations["area"].astype(str)) - set(votes) - {""})
    for part in _chunks(unknown_areas):
        for prefecture, list_city, n in conn.execute(
                select(s.c.prefecture, s.c.list_city, func.count())
                .where(s.c.prefecture.in_(part), s.c.list_city.is_not(None),
                       s.c.origin == "station_list")
                .group_by(s.c.prefecture, s.c.list_city)):
            votes.setdefault(prefecture, Counter())[list_city] += int(n)
    city_of = {area: c.most_common(1)[0][0] for area, c in votes.items()}

    inserts, updates = [], []
    for r in stations.itertuples(index=False):
        code, area = str(r.code), str(r.area or "")
        lon, lat = _none(float(r.lon)), _none(float(r.lat))
        list_city = city_of.get(area, area) or None
        old = existing.get(code)
        if old is None:
            if create:
                inserts.append(dict(code=code, name_zh=r.name_zh or code, name_en="",
                                    city_id=None, district_id=None,
                                    role="background" if r.background else "evaluation",
                                    network="", lon=lon, lat=lat, list_city=list_city,
                                    synthetic=bool(synthetic), origin="ingest"))
            continue
        new = {}
        if r.name_zh and old.name_zh in (None, "", old.code):
            new["name_zh"] = r.name_zh
        if old.lon is None and lon is not None:
            new["lon"] = lon
        if old.lat is None and lat is not None:
            new["lat"] = lat
        if not old.list_city and list_city:
            new["list_city"] = list_city
        if new:
            updates.append((old.id, new))
    if inserts:
        conn.execute(s.insert(), inserts)
    for station_id, values in updates:
        conn.execute(s.update().where(s.c.id == station_id).values(**values))
    if inserts or updates:
        bump_data_version(conn)
    return [i["code"] for i in inserts], len(updates)


def station_ids(conn, codes) -> dict[str, int]:
    """Station code → id for the codes that exist."""
    s = schema.stations
    out: dict[str, int] = {}
    for part in _chunks(sorted(set(map(str, codes)))):
        out.update(dict(conn.execute(select(s.c.code, s.c.id).where(s.c.code.in_(part))).all()))
    return out


def write_published(conn, published: pd.DataFrame, run_id: int, source: str) -> tuple[int, int]:
    """Store published hourly AQIs (``station_id``, ``time``, ``aqi``, ``primary``).

    Inside ``conn``'s transaction. A station-hour not stored yet is inserted; one stored
    with another AQI or primary pollutant is replaced (and its ``run_id`` and ``source``
    set), the replaced row kept in ``published_revisions`` for ``lantian runs undo``; an
    equal one is left as it is. Returns (new, changed).
    """
    if published.empty:
        return 0, 0
    p = schema.published_hourly
    new = pd.DataFrame({
        "station_id": published["station_id"].to_numpy(np.int64),
        "ts": published["time"].to_numpy("datetime64[s]").astype("datetime64[us]"),
        "aqi": published["aqi"].to_numpy(np.int64),
        "primary_pollutants": published["primary"].fillna("").astype(str).to_numpy(object)})
    first = pd.Timestamp(new["ts"].min()).to_pydatetime()
    last = pd.Timestamp(new["ts"].max()).to_pydatetime()
    stored = pd.DataFrame(conn.execute(
        select(p.c.station_id, p.c.ts, p.c.aqi, p.c.primary_pollutants, p.c.source, p.c.run_id)
        .where(and_(p.c.ts >= first, p.c.ts <= last))).all(),
        columns=["station_id", "ts", "old_aqi", "old_primary", "old_source", "old_run"])
    stored["station_id"] = stored["station_id"].astype(np.int64)
    stored["ts"] = pd.to_datetime(stored["ts"]).astype("datetime64[us]")
    both = new.merge(stored, on=["station_id", "ts"], how="left")
    was = both["old_aqi"].notna().to_numpy()
    old_aqi = both["old_aqi"].fillna(-1).astype(np.int64).to_numpy()
    same = was & (old_aqi == both["aqi"].to_numpy()) \
        & (both["old_primary"].fillna("").astype(str).to_numpy(object)
           == both["primary_pollutants"].to_numpy(object))
    inserts = [{**r, "ts": pd.Timestamp(r["ts"]).to_pydatetime(), "source": source,
                "run_id": int(run_id)} for r in new.loc[~was].to_dict("records")]
    changed = both.loc[was & ~same]
    if inserts:
        conn.execute(p.insert(), inserts)
    if len(changed):
        conn.execute(schema.published_revisions.insert(), [
            {"station_id": int(r.station_id), "ts": pd.Timestamp(r.ts).to_pydatetime(),
             "run_id": int(run_id), "previous_run_id": int(r.old_run), "aqi": int(r.old_aqi),
             "primary_pollutants": r.old_primary or "", "source": r.old_source}
            for r in changed.itertuples()])
        conn.execute(p.update().where(and_(p.c.station_id == bindparam("b_station"),
                                           p.c.ts == bindparam("b_ts")))
                     .values(aqi=bindparam("b_aqi"),
                             primary_pollutants=bindparam("b_primary"),
                             source=bindparam("b_source"), run_id=bindparam("b_run")),
                     [{"b_station": int(r.station_id),
                       "b_ts": pd.Timestamp(r.ts).to_pydatetime(), "b_aqi": int(r.aqi),
                       "b_primary": r.primary_pollutants,
                       "b_source": source, "b_run": int(run_id)} for r in changed.itertuples()])
    if inserts or len(changed):
        bump_data_version(conn)
    return len(inserts), len(changed)


def undo_published(conn, run_id: int, undo_run_id: int) -> tuple[int, int]:
    """Inside an undo's transaction: the published values run ``run_id`` still holds go back
    to what it replaced (``published_revisions``), or go when it added them; the undo run
    records what it replaced in turn. Values a later run republished are left to that run.
    Returns (restored, removed)."""
    p, rv = schema.published_hourly, schema.published_revisions
    mine = pd.DataFrame(conn.execute(
        select(p.c.station_id, p.c.ts, p.c.aqi, p.c.primary_pollutants, p.c.source)
        .where(p.c.run_id == int(run_id))).all(),
        columns=["station_id", "ts", "aqi", "primary_pollutants", "source"])
    if mine.empty:
        return 0, 0
    before = pd.DataFrame(conn.execute(
        select(rv.c.station_id, rv.c.ts, rv.c.previous_run_id, rv.c.aqi,
               rv.c.primary_pollutants, rv.c.source).where(rv.c.run_id == int(run_id))).all(),
        columns=["station_id", "ts", "previous_run_id", "aqi", "primary_pollutants", "source"])
    both = mine.merge(before, on=["station_id", "ts"], how="left", suffixes=("", "_before"))
    back = both["previous_run_id"].notna()
    conn.execute(rv.insert(), [
        {"station_id": int(r.station_id), "ts": pd.Timestamp(r.ts).to_pydatetime(),
         "run_id": int(undo_run_id),
         "previous_run_id": int(run_id), "aqi": int(r.aqi),
         "primary_pollutants": r.primary_pollutants, "source": r.source}
        for r in both.itertuples()])
    gone = both.loc[~back]
    if len(gone):
        conn.execute(p.delete().where(and_(p.c.station_id == bindparam("b_station"),
                                           p.c.ts == bindparam("b_ts"))),
                     [{"b_station": int(r.station_id),
                       "b_ts": pd.Timestamp(r.ts).to_pydatetime()} for r in gone.itertuples()])
    restore = both.loc[back]
    if len(restore):
        conn.execute(p.update().where(and_(p.c.station_id == bindparam("b_station"),
                                           p.c.ts == bindparam("b_ts")))
                     .values(aqi=bindparam("b_aqi"), primary_pollutants=bindparam("b_primary"),
                             source=bindparam("b_source"), run_id=bindparam("b_run")),
                     [{"b_station": int(r.station_id),
                       "b_ts": pd.Timestamp(r.ts).to_pydatetime(), "b_aqi": int(r.aqi_before),
                       "b_primary": r.primary_pollutants_before, "b_source": r.source_before,
                       "b_run": int(r.previous_run_id)} for r in restore.itertuples()])
    return int(back.sum()), int((~back).sum())


# --------------------------------------------------------------------------- reading
def published_frame(conn, stations=None, start=None, end=None) -> pd.DataFrame:
    """Published hourly AQIs: ``station`` (code), ``time`` (start of the hour, CST),
    ``aqi``, ``primary`` (pollutant names comma-joined, "" for none), ``source``,
    ``run_id``; sorted by station and time. ``stations``: codes (default all);
    ``start``/``end``: first and last hour (inclusive)."""
    p, s = schema.published_hourly, schema.stations
    query = select(s.c.code, p.c.ts, p.c.aqi, p.c.primary_pollutants, p.c.source,
                   p.c.run_id).select_from(p.join(s, s.c.id == p.c.station_id))
    if start is not None:
        query = query.where(p.c.ts >= pd.Timestamp(start).to_pydatetime())
    if end is not None:
        query = query.where(p.c.ts <= pd.Timestamp(end).to_pydatetime())
    columns = ["station", "time", "aqi", "primary", "source", "run_id"]
    if stations is None:
        rows = conn.execute(query).all()
    else:
        rows = []
        for part in _chunks(sorted(set(map(str, stations)))):
            rows += conn.execute(query.where(s.c.code.in_(part))).all()
    frame = pd.DataFrame(rows, columns=columns)
    frame["time"] = pd.to_datetime(frame["time"]).to_numpy("datetime64[s]") if len(frame) \
        else np.array([], dtype="datetime64[s]")
    frame["aqi"] = frame["aqi"].astype("int64")
    return frame.sort_values(["station", "time"], kind="stable").reset_index(drop=True)


def realtime_membership(conn, city: str | None = None) -> pd.DataFrame:
    """Districts and cities for area values (level, area, station, grade).

    The site files' districts and cities (:func:`store.frames.membership`), plus one city
    per national-list city (``stations.list_city``, e.g. ``保定`` or the feed's
    ``保定市``) made of the evaluation stations no site file places in a city, such as the
    stations the real-time feed created; grade II. ``city``: a site-file city id, or a
    list city name (its stations only); default every city.
    """
    from .frames import membership, station_table

    site = membership(conn, None)
    s = schema.stations
    rows = conn.execute(select(s.c.code, s.c.list_city).where(
        s.c.city_id.is_(None), s.c.role == "evaluation", s.c.list_city.is_not(None),
        s.c.list_city != "")).all()
    listed = pd.DataFrame({"level": "city", "area": [r.list_city for r in rows],
                           "station": [r.code for r in rows], "grade": "II"})
    if city is not None:
        site_cities = set(station_table(conn)["city"].dropna())
        if city in site_cities:
            return membership(conn, city)
        listed = listed[listed["area"] == city]
        return listed.reset_index(drop=True)
    return pd.concat([site, listed], ignore_index=True)


def city_station_codes(conn, city: str) -> list[str]:
    """Codes of a city's stations (every role): a site-file city id, else a list city."""
    s = schema.stations
    codes = [r[0] for r in conn.execute(select(s.c.code).where(s.c.city_id == city))]
    if not codes:
        codes = [r[0] for r in conn.execute(select(s.c.code).where(s.c.list_city == city))]
    return sorted(codes)


def hourly_inputs(conn, start, end, city: str | None = None
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(hourly frame, membership) for the hourly AQI of the hours ``start`` … ``end``.

    The hourly frame (:func:`store.frames.hourly_frame`: QC-excluded values NaN) of those
    hours; where an SO2 1-h value is above 800 µg/m³ it reaches 23 hours before ``start``
    (the SO2 24-h moving average of cn-2012's fallback). Pass both to
    :func:`indicators.pipeline.hourly_table` with ``start``/``end``.
    """
    from .frames import hourly_frame

    members = realtime_membership(conn, city)
    codes = None if city is None else city_station_codes(conn, city)
    first = np.datetime64(pd.Timestamp(start), "s")
    last = np.datetime64(pd.Timestamp(end), "s")
    hourly = hourly_frame(conn, stations=codes, start=first, end=last)
    if len(hourly) and (pd.to_numeric(hourly["SO2"]) > 800).any():
        hourly = hourly_frame(conn, stations=codes, start=first - np.timedelta64(23, "h"),
                              end=last)
    return hourly, members


def latest_time(conn, codes=None):
    """The newest hour (start, CST) with a stored row among ``codes`` (default all), or None."""
    h = schema.hourly
    if codes is None:
        value = conn.execute(select(func.max(h.c.ts))).scalar()
        return None if value is None else pd.Timestamp(value)
    ids = list(station_ids(conn, codes).values())
    newest = None
    for part in _chunks(ids):
        value = conn.execute(select(func.max(h.c.ts)).where(h.c.station_id.in_(part))).scalar()
        if value is not None and (newest is None or value > newest):
            newest = value
    return None if newest is None else pd.Timestamp(newest)


def latest_hour(conn, city: str | None = None, hour=None) -> pd.DataFrame:
    """The newest hour of a city's stations (or every station): values and published AQI.

    One row per station of the city (every role; a site-file city id or a list city
    name; default all stations) with a row that hour: ``station``, ``name_zh``,
    ``role``, ``lon``, ``lat``, ``city``, ``district``, ``list_city``, ``time`` (start of
    the hour, CST), the 1-h values ``SO2``, ``NO2``, ``CO``, ``O3``, ``PM10``, ``PM2.5``
    (QC-excluded values NaN), ``published_aqi`` (Int64, <NA> when none was published)
    and ``published_primary``. ``hour``: that hour instead of the newest. Empty when
    nothing is stored. Lantian's own AQI of these rows:
    ``indicators.aqi.hourly_aqi(frame.assign(level="station", area=frame["station"]))``.
    """
    from .frames import hourly_frame, station_table

    codes = None if city is None else city_station_codes(conn, city)
    when = pd.Timestamp(hour) if hour is not None else latest_time(conn, codes)
    columns = ["station", "name_zh", "role", "lon", "lat", "city", "district", "list_city",
               "time", "SO2", "NO2", "CO", "O3", "PM10", "PM2.5", "published_aqi",
               "published_primary"]
    if when is None or (codes is not None and not codes):
        return pd.DataFrame(columns=columns)
    t = np.datetime64(when, "s")
    values = hourly_frame(conn, stations=codes, start=t, end=t)
    published = published_frame(conn, stations=values["station"].tolist(), start=when,
                                end=when)
    stations = station_table(conn)
    s = schema.stations
    list_city = dict(conn.execute(select(s.c.code, s.c.list_city)).all())
    out = values.merge(stations[["code", "name_zh", "role", "lon", "lat", "city", "district"]]
                       .rename(columns={"code": "station"}), on="station", how="left")
    out["list_city"] = out["station"].map(list_city)
    pub = published.set_index("station")
    out["published_aqi"] = out["station"].map(pub["aqi"]).astype("Int64")
    out["published_primary"] = out["station"].map(pub["primary"])
    return out[columns].sort_values("station", kind="stable").reset_index(drop=True)


def city_stations(conn, city: str) -> pd.DataFrame:
    """The city's stations (site file, or the list city's) in site-file order."""
    from .frames import station_table

    table = station_table(conn).sort_values("id", kind="stable")
    codes = set(city_station_codes(conn, city))
    return table[table["code"].isin(codes)].reset_index(drop=True)


def latest_stored_hour(conn, station_ids, until=None):
    """The newest stored hour (start) of these stations up to ``until`` (inclusive), or None."""
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
