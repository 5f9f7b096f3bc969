"""Where the database meets the standard's statistics: every number Lantian shows.

``store`` reads rows, ``indicators`` computes (pure pandas); this package is the only
place that does both. The CLI, the dashboard's query layer and the reports call it and
nothing else. Each evaluation takes a :class:`Snapshot` (an engine pinned to one data
version, with a memo) and plain arguments, and returns frames.

Modules: ``city_year`` (daily values and AQI of a city-year, periods and their
statistics), ``standings`` (targets, rankings, other profiles), ``exceedances`` (days
against daily limits), ``stations`` (per-station views), ``realtime`` (hourly AQI),
``exports`` (the CLI's tables), ``weekly`` (the weekly report's inputs).
"""
from .city_year import CityYear, Period
from .snapshot import LocalMemo, Snapshot, evaluated, snapshot

__all__ = ["CityYear", "LocalMemo", "Period", "Snapshot", "evaluated", "snapshot"]
