"""What a weekly report reads: a city's hourly values from 1 January to the week's end,
its districts, stations, membership and local targets."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from config.sites import Target

from .errors import NoDataError
from .snapshot import Snapshot
from .standings import as_targets


@dataclass(frozen=True)
class Area:
    level: str                 # district | city
    id: str
    name_zh: str
    name_en: str
    grade: str = "II"

    def name(self, lang: str) -> str:
        return self.name_zh if lang == "zh" else self.name_en


@dataclass
class CityInputs:
    """What one weekly report reads from the database."""
    city: Area
    synthetic: bool
    site_file: str | None
    districts: list[Area]
    stations: pd.DataFrame         # code, name_zh, name_en, district, role, grade
    membership: pd.DataFrame
    hourly: pd.DataFrame
    station_grades: dict
    targets: list[Target]



def city_row(conn, city: str | None):
    """The loaded city ``city`` (the only one when None), else a :class:`NoDataError`."""
    from store.frames import cities
    known = cities(conn)
    if known.empty:
        raise NoDataError("no city is loaded; run 'lantian init --sites FILE' first")
    if city is None:
        if len(known) > 1:
            raise NoDataError("several cities are loaded (" + ", ".join(known["id"])
                              + "); choose one with --city")
        city = str(known["id"].iloc[0])
    if city not in set(known["id"]):
        raise NoDataError(f"unknown city {city!r}; known: {', '.join(known['id'])}")
    return known[known["id"] == city].iloc[0]


def city_inputs(snap: Snapshot, city: str | None, week_start: date, week_end: date,
                label: str) -> CityInputs:
    """The city's hourly values from 1 January (or ``week_start``, if earlier) to
    ``week_end``, its membership, districts and targets; ``label`` names the week in
    messages."""
    from store.frames import districts, hourly_frame, membership, station_table
    from store.frames import targets as stored_targets

    with snap.connect() as conn:
        row = city_row(conn, city)
        city = str(row["id"])
        members = membership(conn, city)
        stations = station_table(conn)
        stations = stations[stations["city"] == city]
        dist = districts(conn, city)
        target_rows = stored_targets(conn, city)
        first = min(week_start, date(week_end.year, 1, 1))
        hourly = hourly_frame(conn, stations=stations["code"],
                              start=np.datetime64(f"{first}T00:00:00", "s"),
                              end=np.datetime64(f"{week_end}T23:00:00", "s"))
    if members.empty:
        raise NoDataError(f"city {city!r} has no evaluation stations; check its site file")
    in_week = hourly["time"] >= np.datetime64(f"{week_start}T00:00:00", "s") if len(hourly) \
        else pd.Series(dtype=bool)
    if hourly.empty or not bool(in_week.any()):
        raise NoDataError(f"no hourly data for {label} ({week_start} to {week_end}) in city "
                          f"{city!r}; see 'lantian status' for what is loaded")
    grade_of = dict(zip(members["area"], members["grade"]))
    city_area = Area("city", city, str(row["name_zh"]), str(row["name_en"]),
                     str(grade_of.get(city, "II")))
    areas = [Area("district", r.code, r.name_zh, r.name_en, r.grade)
             for r in dist.itertuples(index=False)]
    target_objects = as_targets(target_rows)
    station_grades = dict(zip(stations["code"], stations["grade"].fillna("II")))
    return CityInputs(city=city_area, synthetic=bool(row["synthetic"]),
                      site_file=None if pd.isna(row["site_file"]) else str(row["site_file"]),
                      districts=areas, stations=stations.reset_index(drop=True),
                      membership=members, hourly=hourly, station_grades=station_grades,
                      targets=target_objects)


def _objective_op(o) -> str:
    """The comparison an objective's ``target`` stands for: ≤ / ≥ for a figure; for a
    change ≥ / ≤ with ``by``, > / < without; "" for a rank."""
    if o.kind in ("grade", "composite_max"):
        return "≤"
    if o.kind == "value":
        return "≤" if o.max is not None else "≥"
    if o.kind == "change":
        up = o.direction == "up"
        if o.by:
            return "≥" if up else "≤"
        return ">" if up else "<"
    return ""


def week_objectives(snap: Snapshot, city: str, week_end: date) -> pd.DataFrame | None:
    """The city's action-plan objectives for a weekly report: the year of ``week_end`` (the
    report week's Sunday) to that day, :func:`evaluation.objectives.objectives_evaluation`'s
    table plus ``op`` (what ``target`` means: ≤, ≥, > or <; "" for a rank). None when the
    city's current site copy has no plan, or its plan starts after that year (the report
    then has no objectives section)."""
    from .objectives import objectives_evaluation, plan_of

    try:
        _site, plan = plan_of(snap, city)
    except NoDataError:                  # no site copy, or no plan: section
        return None
    if not plan.applies_to(week_end.year):
        return None
    table, _end, _running = objectives_evaluation(snap, week_end.year, city, until=week_end)
    ops = {o.id: _objective_op(o) for o in plan.objectives}
    return table.assign(op=table["id"].map(ops).fillna("")).reset_index(drop=True)
