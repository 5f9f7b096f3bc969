"""Store a validated site file: city, districts, stations, targets (idempotent).

Re-running updates names, grades, roles, coordinates and targets in place;
station ids (and so their readings) are kept.
"""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete, select

from config.sites import SiteConfig

from . import schema
from .db import bump_data_version


def sync_site_config(conn, site: SiteConfig) -> dict[str, int]:
    """Upsert ``site`` into the database inside ``conn``'s transaction; return counts."""
    c = site.city
    # The absolute path: the weekly reports read their recipients from this file.
    city_values = dict(name_zh=c.name_zh, name_en=c.name_en, synthetic=c.synthetic,
                       site_file=str(Path(site.path).resolve()))
    if conn.execute(select(schema.cities.c.id).where(schema.cities.c.id == c.id)).first():
        conn.execute(schema.cities.update().where(schema.cities.c.id == c.id).values(**city_values))
    else:
        conn.execute(schema.cities.insert().values(id=c.id, **city_values))

    existing = dict(conn.execute(select(schema.districts.c.code, schema.districts.c.id)
                                 .where(schema.districts.c.city_id == c.id)).all())
    district_ids: dict[str, int] = {}
    for d in site.districts:
        values = dict(name_zh=d.name_zh, name_en=d.name_en, grade=d.grade)
        if d.id in existing:
            conn.execute(schema.districts.update().where(schema.districts.c.id == existing[d.id])
                         .values(**values))
            district_ids[d.id] = existing[d.id]
        else:
            district_ids[d.id] = conn.execute(schema.districts.insert().values(
                city_id=c.id, code=d.id, **values)).inserted_primary_key[0]

    codes = [s.code for s in site.stations]
    known = dict(conn.execute(select(schema.stations.c.code, schema.stations.c.id)
                              .where(schema.stations.c.code.in_(codes))).all()) if codes else {}
    for s in site.stations:
        values = dict(name_zh=s.name_zh, name_en=s.name_en, city_id=c.id,
                      district_id=district_ids.get(s.district) if s.district else None,
                      role=s.role, network=s.network, lon=s.lon, lat=s.lat,
                      synthetic=c.synthetic, origin="site_file")
        if s.code in known:
            conn.execute(schema.stations.update().where(schema.stations.c.id == known[s.code])
                         .values(**values))
        else:
            conn.execute(schema.stations.insert().values(code=s.code, **values))

    # Targets are owned by the site file: replace this city's targets wholesale.
    if district_ids:
        conn.execute(delete(schema.targets).where(
            schema.targets.c.district_id.in_(list(district_ids.values()))))
    for t in site.targets:
        conn.execute(schema.targets.insert().values(
            district_id=district_ids[t.district], pollutant=t.pollutant, statistic=t.statistic,
            value=t.value, unit=t.unit, first_year=t.first_year, last_year=t.last_year,
            note=t.note))
    bump_data_version(conn)
    return {"districts": len(site.districts), "stations": len(site.stations),
            "targets": len(site.targets)}


def station_aliases(engine) -> dict[str, str]:
    """Every stored station's English and Chinese name → code (for readers keyed by name)."""
    with engine.connect() as conn:
        rows = conn.execute(select(schema.stations.c.code, schema.stations.c.name_en,
                                   schema.stations.c.name_zh)).all()
    out: dict[str, str] = {}
    for code, name_en, name_zh in rows:
        for name in (name_en, name_zh):
            if name and name != code:
                out[name] = code
    return out
