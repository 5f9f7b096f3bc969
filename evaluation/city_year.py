"""A city's daily values and daily AQI for a calendar year, and the periods cut from it.

Read from ``station_daily`` (the daily rows ``store`` keeps: the same numbers as from
the hours, ``tests/test_daily_store.py``) and from ``hourly`` only while that table is
being built.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from config.standards import load_profile
from indicators import pipeline
from indicators.frames import DAILY_COLUMNS, STAT_COLUMNS

from .daily import daily_and_aqi
from .snapshot import Snapshot, evaluated


@dataclass
class CityYear:
    """Daily values and daily AQI of every station, district and the city for one year."""

    city: str
    year: int
    daily: pd.DataFrame           # indicators.frames.DAILY_COLUMNS
    aqi: pd.DataFrame             # indicators.aqi daily AQI layout
    membership: pd.DataFrame
    grades: dict
    last_day: object              # last day with any hourly value (date) or None

    @property
    def empty(self) -> bool:
        return self.daily.empty

    def districts(self) -> list[str]:
        m = self.membership
        return sorted(set(m.loc[m["level"] == "district", "area"]))


@dataclass(frozen=True)
class Period:
    """A statistics period: a calendar year, a month or a year to date (HJ 663), or a
    custom range (not a standard evaluation period: its statistics are those of exactly
    its days, always provisional).

    ``year`` is the calendar year whose days are used (a range: the year of its last
    day, whose grades apply); ``label`` is the statistics frame's ``period`` value;
    ``ytd_end`` the last day of a year to date or a range; ``start`` a range's first day.
    """

    kind: str                     # year | month | ytd | range
    year: int
    label: str
    ytd_end: date | None = None
    start: date | None = None

    @classmethod
    def calendar_year(cls, year: int) -> "Period":
        return cls("year", int(year), str(year))

    @classmethod
    def month(cls, year: int, month: int) -> "Period":
        return cls("month", int(year), f"{year}-{month:02d}")

    @classmethod
    def to_date(cls, end: date) -> "Period":
        return cls("ytd", end.year, f"{end.year}-YTD-{end:%m-%d}", end)

    @classmethod
    def range(cls, start: date, end: date) -> "Period":
        return cls("range", end.year, f"{start}..{end}", end, start)

    def previous(self) -> "Period":
        """The same period one year earlier (29 February → 28 February)."""
        if self.kind == "year":
            return Period.calendar_year(self.year - 1)
        if self.kind == "month":
            return Period.month(self.year - 1, int(self.label[-2:]))
        if self.kind == "range":
            return Period.range(_year_back(self.start), _year_back(self.ytd_end))
        return Period.to_date(_year_back(self.ytd_end))


def _year_back(day: date) -> date:
    return date(day.year - 1, 2, 28) if (day.month, day.day) == (2, 29) \
        else day.replace(year=day.year - 1)


def empty_stats() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in STAT_COLUMNS})


def daily_profile(profile: str | None) -> str | None:
    """The profile that shapes daily values and their AQI: a Chinese profile (its daily
    rules and AQI), the US EPA (its own AQI); a comparison profile that only brings limits
    (WHO, EU) gives the same days as the default (``indicators.pipeline.split_profile``)."""
    if profile is None:
        return None
    return profile if load_profile(profile).kind in ("cn", "us-aqi") else None


def city_year(snap: Snapshot, city: str, year: int, profile: str | None = None) -> CityYear:
    """Daily values and AQI of ``city`` for calendar ``year`` under ``profile``.

    Profiles with the same days share one result (:func:`daily_profile`): WHO and EU
    views reuse the default's daily values and AQI.
    """
    return _city_year(snap, city, int(year), daily_profile(profile))


@evaluated
def _city_year(snap: Snapshot, city: str, year: int, profile: str | None) -> CityYear:
    from store import daily as station_daily
    from store.frames import hourly_frame, membership, station_table

    start, end = pipeline.year_bounds(year)
    with snap.connect() as conn:
        members = membership(conn, city)
        stations = station_table(conn)
        mine = stations[stations["city"] == city]
        days = station_daily.station_days(conn, mine, start, end)
        hourly = hourly_frame(conn, stations=mine["code"], start=start, end=end) \
            if days is None else None
    grades = pipeline.grades_of(members, dict(zip(stations["code"],
                                                  stations["grade"].fillna("II"))))
    if days.empty if days is not None else hourly.empty:
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in DAILY_COLUMNS})
        return CityYear(city, year, empty, pd.DataFrame(columns=["level", "area", "date", "aqi"]),
                        members, grades, None)
    if days is not None:
        daily, aqi = daily_and_aqi(days, members, profile=profile)
        return CityYear(city, year, daily, aqi, members, grades, days.last_day)
    daily, aqi = pipeline.daily_and_aqi(hourly, members, profile=profile)
    last_day = pd.Timestamp(np.datetime64(hourly["time"].max(), "D")).date()
    return CityYear(city, year, daily, aqi, members, grades, last_day)


def daily_between(snap: Snapshot, city: str, start, end, profile: str | None = None
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(daily values, daily AQI) of ``city`` from ``start`` to ``end`` inclusive (any years)."""
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    dailies, aqis = [], []
    for year in range(start.year, end.year + 1):
        cy = city_year(snap, city, year, profile)
        if cy.empty:
            continue
        dailies.append(cy.daily[(cy.daily["date"] >= start) & (cy.daily["date"] <= end)])
        aqis.append(cy.aqi[(cy.aqi["date"] >= start) & (cy.aqi["date"] <= end)])
    if not dailies:
        cy = city_year(snap, city, start.year, profile)
        return cy.daily.iloc[:0], cy.aqi.iloc[:0]
    return pd.concat(dailies, ignore_index=True), pd.concat(aqis, ignore_index=True)


@evaluated
def period_stats(snap: Snapshot, city: str, period: Period, profile: str | None = None,
                 areas_only: bool = False) -> pd.DataFrame:
    """Period statistics (with the composite index) of every station, district and the
    city; ``areas_only``: of the districts and the city only (the same rows, without
    computing the stations')."""
    cy = city_year(snap, city, period.year, profile)
    if period.kind == "range":
        daily, aqi = daily_between(snap, city, period.start, period.ytd_end, profile)
        if daily.empty:
            return empty_stats()
    elif cy.empty:
        return empty_stats()
    else:
        daily, aqi = cy.daily, cy.aqi
    if areas_only:
        # an area's statistics come from its own daily values: the stations' rows (all
        # but ~1 % of a network's) are not needed for district and city figures
        daily = daily[daily["level"] != "station"]
        aqi = aqi[aqi["level"] != "station"]
    return statistics_of(daily, aqi, period, cy.grades, profile)


def statistics_of(daily: pd.DataFrame, aqi: pd.DataFrame, period: Period, grades: dict,
                  profile: str | None = None) -> pd.DataFrame:
    """The period statistics (with the composite index) of a calendar year's daily values
    and AQI (a range: of exactly its days), cut to ``period``."""
    if period.kind == "ytd":
        cut = pd.Timestamp(period.ytd_end)
        daily, aqi = daily[daily["date"] <= cut], aqi[aqi["date"] <= cut]
    elif period.kind == "month":
        # a month's statistics use that month's days only (HJ 663 §5.1)
        first = pd.Timestamp(f"{period.label}-01")
        last = first + pd.offsets.MonthEnd(0)
        daily = daily[(daily["date"] >= first) & (daily["date"] <= last)]
        aqi = aqi[(aqi["date"] >= first) & (aqi["date"] <= last)]
    stats = pipeline.period_table(daily, aqi, period=period.kind, grades=grades,
                                  profile=profile,
                                  ytd_end=period.ytd_end if period.kind in ("ytd", "range")
                                  else None, range_start=period.start)
    return stats[stats["period"].astype(str) == period.label].reset_index(drop=True)


def previous_stats(snap: Snapshot, city: str, period: Period, profile: str | None = None,
                   areas_only: bool = False) -> pd.DataFrame | None:
    """The same period one year earlier, or None when that year has no data."""
    stats = period_stats(snap, city, period.previous(), profile, areas_only)
    return None if stats.empty else stats


@evaluated
def stats_with_change(snap: Snapshot, city: str, period: Period, profile: str | None = None,
                      areas_only: bool = False) -> pd.DataFrame:
    """:func:`period_stats` with the change against the same period last year
    (``indicators.statistics.change_rate`` columns; NaN where last year has no data)."""
    from indicators.statistics import change_rate
    stats = period_stats(snap, city, period, profile, areas_only)
    previous = previous_stats(snap, city, period, profile, areas_only)
    if stats.empty:
        return stats
    if previous is None:
        from indicators.ranking import change_kind
        return stats.assign(previous_period=None, previous_reported=float("nan"),
                            change_valid=False, change_rate=float("nan"),
                            change_rate_reported=float("nan"), improved=pd.NA,
                            change_kind=change_kind(stats["statistic"].to_numpy()),
                            change=float("nan"))
    return change_rate(stats, previous, profile=profile)


@evaluated
def month_stats(snap: Snapshot, city: str, year: int, profile: str | None = None
                ) -> pd.DataFrame:
    """Monthly period statistics of every area of ``city`` in ``year``
    (``pipeline.period_table(..., period="month")``, STAT_COLUMNS)."""
    cy = city_year(snap, city, int(year), profile)
    if cy.empty:
        return empty_stats()
    return pipeline.period_table(cy.daily, cy.aqi, period="month", grades=cy.grades,
                                 profile=profile)
