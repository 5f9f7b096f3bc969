"""Component ids of the dashboard, in one place.

Layouts and callbacks import their ids from here, so that a renamed id cannot
silently break a callback and tests can look components up by id. Ids are
``<page>-<thing>``; ids made from data (a city) go through a helper.
"""
from __future__ import annotations

import re

# Root layout (served by /_dash-layout: it must never hold data).
HEADER = "app-header"
NAV = "app-nav"
MAIN = "app-main"

# Page "/" — 数据概况 / What is loaded.
OVERVIEW = "overview"
OVERVIEW_LANG = "overview-lang"
OVERVIEW_SYNTHETIC_BANNER = "overview-synthetic-banner"
OVERVIEW_EMPTY = "overview-empty"
OVERVIEW_DB_ERROR = "overview-db-error"
OVERVIEW_SUMMARY = "overview-summary"
OVERVIEW_CHART = "overview-readings-chart"
OVERVIEW_CITIES = "overview-cities"
OVERVIEW_RUNS = "overview-runs"


def overview_city(city_id: str | None) -> str:
    """Id of the section of one city (``None``: stations without a city)."""
    slug = re.sub(r"[^0-9A-Za-z_-]+", "-", city_id) if city_id else "_none"
    return f"overview-city-{slug}"
