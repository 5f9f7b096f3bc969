"""Look-ups of stored cities and stations by id or code."""
from __future__ import annotations

from sqlalchemy import select

from . import schema

#: Codes per ``IN (...)`` list (well within every database's parameter limit).
CODES_PER_QUERY = 500


def city_site_file(conn, city: str | None) -> str | None:
    """The site file a city was loaded from (None: no such city, or none recorded)."""
    return conn.execute(select(schema.cities.c.site_file).where(
        schema.cities.c.id == city)).scalar()


def stations_by_code(conn, codes) -> dict:
    """The stored stations among ``codes``: code → row with ``code, name_zh, name_en,
    city_id``."""
    codes = list(codes)
    st = schema.stations.c
    known = {}
    for i in range(0, len(codes), CODES_PER_QUERY):
        for row in conn.execute(select(st.code, st.name_zh, st.name_en, st.city_id)
                                .where(st.code.in_(codes[i:i + CODES_PER_QUERY]))):
            known[row.code] = row
    return known


def listed_stations(conn):
    """Every station with what peer groups need: id, code, list_city (the national station
    list's city), province, role, retired_on, city (site-file city id or None), synthetic."""
    import pandas as pd

    st = schema.stations.c
    rows = conn.execute(select(st.id, st.code, st.list_city, st.province, st.role,
                               st.retired_on, st.city_id, st.synthetic)).all()
    return pd.DataFrame(rows, columns=["id", "code", "list_city", "province", "role",
                                       "retired_on", "city", "synthetic"])
