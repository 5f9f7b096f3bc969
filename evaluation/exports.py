"""The tables of the ``lantian`` command: annual and daily statistics, rankings, targets.

Computed from the hourly values of the period (``store.frames.hourly_frame``), for one
city or every loaded city, so that a table can cover any day range and any level.
"""
from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from indicators import pipeline

from .errors import NoDataError
from .snapshot import Snapshot
from .standings import stored_targets

#: ``lantian rank --by`` → (pollutant, statistic).
RANK_BY = {"composite": ("ALL", "composite_index"), "good_day_ratio": ("AQI", "good_day_ratio"),
           "SO2": ("SO2", "annual_mean"), "NO2": ("NO2", "annual_mean"),
           "PM10": ("PM10", "annual_mean"), "PM2.5": ("PM2.5", "annual_mean"),
           "CO": ("CO", "p95_daily"), "O3": ("O3", "p90_mda8")}


def indicator_inputs(snap: Snapshot, start, end, city: str | None):
    """Hourly values of [start, end], area membership and station grades."""
    from store.frames import hourly_frame, membership, station_table

    with snap.connect() as conn:
        members = membership(conn, city)
        stations = station_table(conn)
        if city is not None and members.empty:
            raise NoDataError(f"unknown city {city!r} (or it has no evaluation stations); "
                              "load its site file with 'lantian init --sites FILE'")
        # Only the chosen city's stations are read from the database.
        keep = None if city is None else stations.loc[stations["city"] == city, "code"]
        hourly = hourly_frame(conn, stations=keep, start=np.datetime64(start, "s"),
                              end=np.datetime64(end, "s"))
    if hourly.empty:
        raise NoDataError(f"no hourly data between {start} and {end}"
                          + (f" for city {city!r}" if city else "")
                          + "; see 'lantian status' for what is loaded")
    station_grades = dict(zip(stations["code"], stations["grade"].fillna("II")))
    return hourly, members, station_grades


def select_level(frame: pd.DataFrame, level: str, areas) -> pd.DataFrame:
    """The rows of ``level``, of ``areas`` only when given (unknown areas are an error)."""
    out = frame[frame["level"] == level]
    if areas:
        unknown = sorted(set(areas) - set(out["area"].astype(str)))
        if unknown:
            raise NoDataError(f"unknown {level} {', '.join(unknown)}; known: "
                              + ", ".join(sorted(out["area"].astype(str).unique())[:30]))
        out = out[out["area"].isin(areas)]
    return out


def dust_days(path: Path | None, members: pd.DataFrame):
    """The official dust list with each district's days passed on to its stations."""
    if path is None:
        return None
    from indicators.dust import read_dust_days, with_station_days
    return with_station_days(read_dust_days(path), members[members["level"] == "district"])


def annual_table(snap: Snapshot, year: int, level: str, profile: str | None = None,
                 areas=None, city: str | None = None, dust: Path | None = None
                 ) -> pd.DataFrame:
    """``lantian stats annual``: one row per area and statistic of ``year``."""
    hourly, members, station_grades = indicator_inputs(snap, *pipeline.year_bounds(year), city)
    daily, daily_aqi = pipeline.daily_and_aqi(hourly, members, profile=profile)
    daily, daily_aqi = select_level(daily, level, areas), select_level(daily_aqi, level, areas)
    stats = pipeline.period_table(daily, daily_aqi, period="year",
                                  grades=pipeline.grades_of(members, station_grades),
                                  profile=profile, dust_days=dust_days(dust, members))
    return pipeline.annual_export(stats, year)


def daily_table(snap: Snapshot, first: date, last: date, level: str,
                profile: str | None = None, areas=None, city: str | None = None
                ) -> pd.DataFrame:
    """``lantian stats daily``: daily values and AQI of the days from ``first`` to ``last``."""
    hourly, members, _ = indicator_inputs(snap, f"{first}T00:00:00", f"{last}T23:00:00", city)
    daily, daily_aqi = pipeline.daily_and_aqi(hourly, members, profile=profile)
    return pipeline.daily_export(select_level(daily, level, areas),
                                 select_level(daily_aqi, level, areas))


def rank_table(snap: Snapshot, year: int, level: str, by: str, profile: str | None = None,
               city: str | None = None, dust: Path | None = None, valid_only: bool = False,
               lang: str = "zh") -> pd.DataFrame:
    """``lantian rank``: areas of ``level`` ranked on ``by`` (:data:`RANK_BY`) for ``year``,
    with the change against the year before when it has data.

    Every area with a value is ranked (standards.md §7), one whose statistic is not
    valid with status ``provisional`` and the reason; ``valid_only`` ranks valid
    statistics only. Columns: :func:`indicators.ranking.rank`'s with ``name`` (in
    ``lang``) after ``area`` (the id), and the change as ``change`` in its
    ``change_kind`` (percent | points | days)."""
    from indicators import ranking
    from store.frames import cities, districts, station_table

    pollutant, statistic = RANK_BY[by]
    tables = []
    for y in (year - 1, year):
        try:
            hourly, members, station_grades = indicator_inputs(snap, *pipeline.year_bounds(y),
                                                               city)
        except NoDataError:
            if y == year:
                raise
            tables.append(None)
            continue
        daily, daily_aqi = pipeline.daily_and_aqi(hourly, members, profile=profile)
        daily, daily_aqi = select_level(daily, level, None), select_level(daily_aqi, level, None)
        tables.append(pipeline.period_table(daily, daily_aqi, period="year",
                                            grades=pipeline.grades_of(members, station_grades),
                                            profile=profile,
                                            dust_days=dust_days(dust, members)))
    previous, current = tables
    table = ranking.rank(current, by=statistic, pollutant=pollutant, level=level,
                         previous=previous, valid_only=valid_only)
    if previous is None:
        table = table.assign(previous_reported=float("nan"), change_rate=float("nan"),
                             change_rate_reported=float("nan"),
                             change_kind=ranking.change_kind(statistic), change=float("nan"),
                             improved=pd.array([pd.NA] * len(table), dtype="boolean"))
    with snap.connect() as conn:
        frame, key = {"district": (districts(conn, city), "code"), "city": (cities(conn), "id"),
                      "station": (station_table(conn), "code")}[level]
    first, second = ("name_en", "name_zh") if lang == "en" else ("name_zh", "name_en")
    names = {k: (a if isinstance(a, str) and a else b if isinstance(b, str) and b else k)
             for k, a, b in zip(frame[key].astype(str), frame[first], frame[second])}
    table.insert(table.columns.get_loc("area") + 1, "name",
                 table["area"].astype(str).map(names).fillna(table["area"].astype(str)))
    return table


def targets_evaluation(snap: Snapshot, year: int, city: str | None = None,
                       until: date | None = None):
    """``lantian targets``: (table, last day evaluated, in progress) of each district
    against its local targets and, where it has none, the national limits of its grade:
    the overview's table (``indicators.targets.standing``, whose ``verdict`` is the status
    every view shows), with the district's names (``name_zh``, ``name_en``) after its id.
    A year whose data end before 31 December (or ``until``) is a year to date."""
    from indicators.targets import standing

    objectives = stored_targets(snap, city)
    start, end = pipeline.year_bounds(year)
    hourly, members, _ = indicator_inputs(snap, start, end, city)
    last_day = np.datetime64(hourly["time"].max(), "D")
    ytd_end = np.datetime64(until, "D") if until else last_day
    in_progress = ytd_end < np.datetime64(f"{year}-12-31")
    if in_progress:
        hourly = hourly[hourly["time"] < ytd_end + np.timedelta64(1, "D")]
    daily, daily_aqi = pipeline.daily_and_aqi(hourly, members)
    daily = select_level(daily, "district", None)
    daily_aqi = select_level(daily_aqi, "district", None)
    stats = pipeline.period_table(daily, daily_aqi, period="ytd" if in_progress else "year",
                                  grades=pipeline.grades_of(members), ytd_end=ytd_end)
    areas = sorted(set(members.loc[members["level"] == "district", "area"].astype(str)))
    table = standing(stats, objectives, pipeline.grades_of(members), year=year, areas=areas,
                     daily=daily)
    table = _with_district_names(snap, table, city)
    return table, ytd_end, bool(in_progress)


def _with_district_names(snap: Snapshot, table: pd.DataFrame, city: str | None
                         ) -> pd.DataFrame:
    """``table`` with ``name_zh`` and ``name_en`` of each district after ``area`` (the id
    where the store has no name)."""
    from store.frames import districts
    with snap.connect() as conn:
        rows = districts(conn, city)
    zh = dict(zip(rows["code"].astype(str), rows["name_zh"]))
    en = dict(zip(rows["code"].astype(str), rows["name_en"]))
    area = table["area"].astype(str)
    at = list(table.columns).index("area") + 1
    table = table.copy()
    table.insert(at, "name_en", [en.get(a) or zh.get(a) or a for a in area])
    table.insert(at, "name_zh", [zh.get(a) or en.get(a) or a for a in area])
    return table
