"""Areas against their targets and limits, rankings, and one area under another profile."""
from __future__ import annotations

import pandas as pd

from config.sites import Target

from .city_year import Period, city_year, period_stats, previous_stats
from .snapshot import Snapshot, evaluated


def stored_targets(snap: Snapshot, city: str | None) -> list[Target]:
    """The local targets stored for ``city`` (all cities when None), as :class:`Target`."""
    from store.frames import targets
    with snap.connect() as conn:
        return as_targets(targets(conn, city))


def as_targets(rows: pd.DataFrame) -> list[Target]:
    """``store.frames.targets`` rows as :class:`Target` objects."""
    return [Target(r.area, r.pollutant, r.statistic, float(r.value), r.unit,
                   None if pd.isna(r.first_year) else int(r.first_year),
                   None if pd.isna(r.last_year) else int(r.last_year), r.note or "")
            for r in rows.itertuples(index=False)]


@evaluated
def standing_rows(snap: Snapshot, city: str, period: Period, profile: str | None = None
                  ) -> pd.DataFrame:
    """Each district's targets (or, without one, its national limits) with the status of
    each against the binding figure for the period (``indicators.targets.standing``: met /
    not met for an ended year, on track / at risk / already exceeded for a year to date,
    for reference for a month or a custom range). The district's daily values of the year
    give the plausibility bound of "what the rest of the year must average"."""
    from indicators.targets import standing
    cy = city_year(snap, city, period.year, profile)
    daily = cy.daily[cy.daily["level"] == "district"] if not cy.empty else None
    return standing(period_stats(snap, city, period, profile, True),
                    stored_targets(snap, city), cy.grades, profile, year=period.year,
                    period=period.label, areas=cy.districts(), daily=daily)


@evaluated
def ranking_rows(snap: Snapshot, city: str, period: Period, profile: str | None,
                 statistic: str, pollutant: str, level: str, areas: tuple,
                 valid_only: bool = False) -> pd.DataFrame:
    """:func:`indicators.ranking.rank` of ``areas`` on one statistic of the period, with
    the change against the same period last year (``change`` in its ``change_kind``:
    %, percentage points or days). Every area with a value is ranked, those whose
    statistic is not valid as provisional; ``valid_only``: the strict order (valid
    statistics only). Empty when the period has no statistics."""
    from indicators.ranking import change_kind, rank

    def pick(stats):          # only the areas asked for (evaluation or background)
        return stats[(stats["statistic"] == statistic) & (stats["level"] == level)
                     & (stats["pollutant"] == pollutant) & stats["area"].isin(areas)]
    stats = period_stats(snap, city, period, profile)
    if stats.empty:
        return pd.DataFrame()
    previous = previous_stats(snap, city, period, profile)
    table = rank(pick(stats), by=statistic, pollutant=pollutant, level=level,
                 period=period.label, areas=list(areas),
                 previous=None if previous is None else pick(previous),
                 valid_only=bool(valid_only))
    if previous is None:
        table = table.assign(previous_reported=float("nan"), change_rate=float("nan"),
                             change_rate_reported=float("nan"),
                             change_kind=change_kind(statistic), change=float("nan"),
                             improved=pd.array([pd.NA] * len(table), dtype="boolean"))
    return table


@evaluated
def profile_rows(snap: Snapshot, city: str, period: Period, profile: str, level: str,
                 area: str) -> pd.DataFrame:
    """One area's period statistics under ``profile`` with that profile's limits and
    verdicts (:func:`indicators.comparison.against_limits`); empty without statistics."""
    from indicators.comparison import against_limits
    stats = period_stats(snap, city, period, profile)
    if stats.empty:
        return pd.DataFrame()
    rows = stats[(stats["level"] == level) & (stats["area"] == area)]
    grades = city_year(snap, city, period.year, profile).grades
    return against_limits(rows, profile, grades).assign(profile=profile).reset_index(drop=True)
