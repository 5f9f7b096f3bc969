"""Database → the input frames of ``indicators`` (see indicators/frames.py).

Values whose QC flag excludes them from statistics (config/qc.yaml) arrive as
NaN: indicators never see a reading that must not count.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import case, select, text

from config.qc import load_rules

from . import schema
from .writer import FLAG_COLUMNS, VALUE_COLUMNS, read_hourly

POLLUTANT_OF = dict(schema.POLLUTANT_COLUMNS)


def station_table(conn) -> pd.DataFrame:
    """Stations with their district and city: code, name_zh, name_en, role, district, city, grade …"""
    s, d = schema.stations, schema.districts
    rows = conn.execute(
        select(s.c.id, s.c.code, s.c.name_zh, s.c.name_en, s.c.role, s.c.network, s.c.lon,
               s.c.lat, s.c.synthetic, s.c.city_id, d.c.code.label("district"),
               d.c.grade).select_from(s.outerjoin(d, d.c.id == s.c.district_id))).all()
    return pd.DataFrame(rows, columns=["id", "code", "name_zh", "name_en", "role", "network",
                                       "lon", "lat", "synthetic", "city", "district", "grade"])


def membership(conn, city: str | None = None) -> pd.DataFrame:
    """Evaluation stations of each district and city (level, area, station, grade).

    A city's grade is II unless all its districts are grade I.
    """
    st = station_table(conn)
    st = st[(st["role"] == "evaluation") & st["city"].notna()]
    if city is not None:
        st = st[st["city"] == city]
    districts = st[st["district"].notna()]
    rows = [pd.DataFrame({"level": "district", "area": districts["district"],
                          "station": districts["code"], "grade": districts["grade"]})]
    city_grade = st.groupby("city")["grade"].agg(lambda g: "I" if (g == "I").all() else "II")
    rows.append(pd.DataFrame({"level": "city", "area": st["city"], "station": st["code"],
                              "grade": st["city"].map(city_grade)}))
    return pd.concat(rows, ignore_index=True).reset_index(drop=True)


def hourly_frame(conn, stations=None, start=None, end=None) -> pd.DataFrame:
    """Hourly values (station code, time, six pollutants) with QC-excluded values as NaN."""
    st = station_table(conn)
    if stations is not None:
        st = st[st["code"].isin(list(stations))]
    start = np.datetime64(start or "1900-01-01", "s")
    end = np.datetime64(end or "2200-01-01", "s")
    raw = read_hourly(conn, st["id"].to_numpy(), start, end)
    columns = ["station", "time", *[POLLUTANT_OF[c] for c in VALUE_COLUMNS]]
    if raw.empty:
        return pd.DataFrame(columns=columns)
    excluded = np.asarray(load_rules().excluded_codes)
    out = {"station": raw["station_id"].map(dict(zip(st["id"], st["code"]))).to_numpy(),
           "time": raw["ts"].to_numpy("datetime64[s]")}
    for col, flag in zip(VALUE_COLUMNS, FLAG_COLUMNS):
        values = raw[col].to_numpy(np.float64).copy()
        values[np.isin(raw[flag].to_numpy(), excluded)] = np.nan
        out[POLLUTANT_OF[col]] = values
    return pd.DataFrame(out)[columns]


def targets(conn, city: str | None = None) -> pd.DataFrame:
    """Local targets per district: area, pollutant, statistic, value, unit, first_year, last_year."""
    t, d = schema.targets, schema.districts
    query = select(d.c.code.label("area"), d.c.city_id.label("city"), t.c.pollutant,
                   t.c.statistic, t.c.value, t.c.unit, t.c.first_year, t.c.last_year,
                   t.c.note).select_from(t.join(d, d.c.id == t.c.district_id))
    if city is not None:
        query = query.where(d.c.city_id == city)
    rows = conn.execute(query).all()
    return pd.DataFrame(rows, columns=["area", "city", "pollutant", "statistic", "value", "unit",
                                       "first_year", "last_year", "note"])


def data_span(conn) -> tuple:
    """First and last stored hour (or (None, None))."""
    return tuple(conn.execute(text("SELECT MIN(ts), MAX(ts) FROM hourly")).one())


def cities(conn) -> pd.DataFrame:
    """Cities: id, name_zh, name_en, synthetic, site_file (the site file last loaded)."""
    c = schema.cities
    rows = conn.execute(select(c.c.id, c.c.name_zh, c.c.name_en, c.c.synthetic,
                               c.c.site_file).order_by(c.c.id)).all()
    return pd.DataFrame(rows, columns=["id", "name_zh", "name_en", "synthetic", "site_file"])


def districts(conn, city: str | None = None) -> pd.DataFrame:
    """Districts in site-file order: city, code, name_zh, name_en, grade."""
    d = schema.districts
    query = select(d.c.city_id, d.c.code, d.c.name_zh, d.c.name_en, d.c.grade).order_by(d.c.id)
    if city is not None:
        query = query.where(d.c.city_id == city)
    return pd.DataFrame(conn.execute(query).all(),
                        columns=["city", "code", "name_zh", "name_en", "grade"])


STATION_DIRECTORY_COLUMNS = ["code", "name_zh", "name_en", "role", "network", "synthetic",
                             "city_id", "city_zh", "city_en", "city_synthetic", "district_zh",
                             "district_en"]


def station_directory(conn) -> pd.DataFrame:
    """Every station with its city and district names (one row per station, by city then
    code; stations of no city last)."""
    s, c, d = schema.stations, schema.cities, schema.districts
    rows = conn.execute(
        select(s.c.code, s.c.name_zh, s.c.name_en, s.c.role, s.c.network, s.c.synthetic,
               s.c.city_id, c.c.name_zh, c.c.name_en, c.c.synthetic, d.c.name_zh, d.c.name_en)
        .select_from(s.outerjoin(c, c.c.id == s.c.city_id).outerjoin(d, d.c.id == s.c.district_id))
        .order_by(case((s.c.city_id.is_(None), 1), else_=0), s.c.city_id, s.c.code)).all()
    frame = pd.DataFrame(rows, columns=STATION_DIRECTORY_COLUMNS)
    for col in ("synthetic", "city_synthetic"):
        frame[col] = frame[col].astype("boolean").fillna(False).astype(bool)
    for col in ("name_zh", "name_en", "city_zh", "city_en", "district_zh", "district_en",
                "network"):
        frame[col] = frame[col].fillna("").astype(str)
    return frame


def station_readings(conn, code: str, start, end) -> pd.DataFrame:
    """Stored hours of one station from day ``start`` to day ``end`` with values and QC
    flag names (flagged values kept).

    Columns: time, then per pollutant its value and ``<pollutant>_flag`` (ok, missing,
    negative, …): the station page marks flagged values instead of hiding them.
    """
    from config.qc import FLAGS
    row = conn.execute(select(schema.stations.c.id).where(schema.stations.c.code == code)).first()
    if row is None:
        return pd.DataFrame(columns=["time"])
    raw = read_hourly(conn, [row[0]], np.datetime64(pd.Timestamp(start), "s"),
                      np.datetime64(pd.Timestamp(end) + pd.Timedelta(hours=23), "s"))
    names = dict(enumerate(FLAGS))
    out = {"time": pd.to_datetime(raw["ts"])}
    for col, flag in zip(VALUE_COLUMNS, FLAG_COLUMNS):
        p = POLLUTANT_OF[col]
        out[p] = pd.to_numeric(raw[col], errors="coerce").astype("float64")
        codes = raw[flag].astype("int64")
        out[f"{p}_flag"] = codes.map(names).fillna("unknown").astype(str)
    return pd.DataFrame(out)
