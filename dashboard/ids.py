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

NAV_LINK = "app-nav-link"          # pattern-matching: {"type": NAV_LINK, "page": path}

# Shared by every staff page (dashboard.layout).
PAGE = "page"
PAGE_LANG = "page-lang"
PAGE_SYNTHETIC_BANNER = "page-synthetic-banner"
PAGE_NOTICES = "page-notices"
PAGE_EMPTY = "page-empty"
PAGE_DB_ERROR = "page-db-error"
PAGE_ERROR = "page-error"
PAGE_CONTROLS = "page-controls"
PAGE_BODY = "page-body"
PAGE_SHARE = "page-share"
#: Pattern-matching control ids: {"type": CONTROL, "name": <query parameter>}; every
#: control's value is written to the URL by one callback (dashboard.layout).
CONTROL = "lt-control"
#: The custom-range date picker: {"type": CONTROL_RANGE, "name": "range"}.
CONTROL_RANGE = "lt-control-range"

# Page "/" — 总览 / Overview.
OVERVIEW_CARDS = "overview-cards"
OVERVIEW_CITY = "overview-city"
OVERVIEW_TARGETS = "overview-targets"

# Page "/data" — 数据概况 / What is loaded.
DATA = "data"
DATA_LANG = "data-lang"
DATA_SYNTHETIC_BANNER = "data-synthetic-banner"
DATA_EMPTY = "data-empty"
DATA_DB_ERROR = "data-db-error"
DATA_SUMMARY = "data-summary"
DATA_CHART = "data-readings-chart"
DATA_CITIES = "data-cities"
DATA_RUNS = "data-runs"


def _slug(value: str | None) -> str:
    return re.sub(r"[^0-9A-Za-z_-]+", "-", value) if value else "_none"


def data_city(city_id: str | None) -> str:
    """Id of the section of one city on /data (``None``: stations without a city)."""
    return f"data-city-{_slug(city_id)}"


def overview_card(district: str) -> str:
    """Id of one district's card on the overview."""
    return f"overview-card-{_slug(district)}"
