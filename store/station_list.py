"""Store the national station list (``NewSiteList.csv``): create and complete stations.

New codes become stations of origin ``station_list`` (no city, no district;
role ``background`` for 对照点, else ``evaluation``). Stations already known
keep what their site file says: the list always sets ``list_city``,
``province``, ``prefecture`` and ``retired_on``, fills ``lon``/``lat``/``name_zh``
only where they are empty, and never touches district, role or city of a
site-file station. Stations created on first sight of an unknown code in a
readings file (origin ``ingest``) are adopted: they take the list's role and
origin ``station_list``.
"""
from __future__ import annotations

import math
from datetime import date

import pandas as pd
from sqlalchemy import bindparam, select

from . import schema
from .db import bump_data_version

_ALWAYS = ("list_city", "province", "prefecture", "retired_on")
_IF_EMPTY = ("name_zh", "lon", "lat")


def _float(v) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def _text(v) -> str | None:
    return None if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else str(v)


def _date(v) -> date | None:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return None
    return pd.Timestamp(v).date() if not isinstance(v, date) else v


def _records(frame: pd.DataFrame) -> list[dict]:
    cols = ["code", "name_zh", "list_city", "lon", "lat", "background", "province",
            "prefecture", "retired_on"]
    out = []
    for code, name, city, lon, lat, bg, prov, pref, retired in frame[cols].itertuples(
            index=False, name=None):
        out.append(dict(code=str(code), name_zh=_text(name) or str(code), list_city=_text(city),
                        lon=_float(lon), lat=_float(lat), background=bool(bg),
                        province=_text(prov), prefecture=_text(pref), retired_on=_date(retired)))
    return out


def sync_station_list(conn, frame: pd.DataFrame) -> dict[str, int]:
    """Upsert the stations of ``frame`` (from :func:`ingest.cnemc.read_station_list`).

    Runs inside ``conn``'s transaction; returns ``{"created": n, "updated": n}``
    where ``updated`` counts existing stations whose stored values changed.
    """
    s = schema.stations
    records = _records(frame)
    existing = {row.code: row for row in conn.execute(select(
        s.c.id, s.c.code, s.c.name_zh, s.c.lon, s.c.lat, s.c.role, s.c.origin,
        *(s.c[c] for c in _ALWAYS))).all()}

    inserts, updates = [], []
    for r in records:
        role = "background" if r["background"] else "evaluation"
        old = existing.get(r["code"])
        if old is None:
            inserts.append(dict(code=r["code"], name_zh=r["name_zh"], name_en="", city_id=None,
                                district_id=None, role=role, network="", lon=r["lon"],
                                lat=r["lat"], synthetic=False, origin="station_list",
                                **{c: r[c] for c in _ALWAYS}))
            continue
        new = {c: r[c] for c in _ALWAYS}
        # A placeholder name (the code, given on first sight in a readings file) counts as empty.
        new["name_zh"] = r["name_zh"] if old.name_zh in (None, "", old.code) else old.name_zh
        new["lon"] = r["lon"] if old.lon is None else old.lon
        new["lat"] = r["lat"] if old.lat is None else old.lat
        if old.origin in ("ingest", "station_list"):
            new["role"], new["origin"] = role, "station_list"
        else:
            new["role"], new["origin"] = old.role, old.origin
        current = {c: getattr(old, c) for c in new}
        if new != current:
            updates.append({"b_id": old.id, **{f"v_{c}": v for c, v in new.items()}})

    if inserts:
        conn.execute(s.insert(), inserts)
    if updates:
        conn.execute(s.update().where(s.c.id == bindparam("b_id")).values(
            **{c[2:]: bindparam(c) for c in updates[0] if c != "b_id"}), updates)
    if inserts or updates:
        bump_data_version(conn)
    return {"created": len(inserts), "updated": len(updates)}
