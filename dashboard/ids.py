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


def slug(value: str | None) -> str:
    return re.sub(r"[^0-9A-Za-z_-]+", "-", value) if value else "_none"


def data_city(city_id: str | None) -> str:
    """Id of the section of one city on /data (``None``: stations without a city)."""
    return f"data-city-{slug(city_id)}"


def overview_card(district: str) -> str:
    """Id of one district's card on the overview."""
    return f"overview-card-{slug(district)}"

# Page "/exceedances" — 超标 / Exceedances.
EXCEEDANCES_NOTICES = "exceedances-notices"
EXCEEDANCES_NOTE = "exceedances-note"
EXCEEDANCES_SUMMARY = "exceedances-summary"
EXCEEDANCES_GRID = "exceedances-grid"
EXCEEDANCES_CALENDAR = "exceedances-calendar"
EXCEEDANCES_TABLE = "exceedances-table"
EXCEEDANCES_EXPORT_CSV = "exceedances-export-csv"
EXCEEDANCES_EXPORT_XLSX = "exceedances-export-xlsx"
EXCEEDANCES_HOURLY = "exceedances-hourly"            # today's hourly exceedances (real time)
EXCEEDANCES_HOURLY_TABLE = "exceedances-hourly-table"

# Page "/ranking" — 排名 / Ranking.
RANKING_CHART = "ranking-chart"
RANKING_TABLE = "ranking-table"
RANKING_COUNTS = "ranking-counts"
RANKING_EMPTY = "ranking-empty"
RANKING_EXPORT_CSV = "ranking-export-csv"
RANKING_EXPORT_XLSX = "ranking-export-xlsx"
# the peer-group view (``/ranking?group=key-168``): the city among the 168 key cities …
PEER_VERDICT = "peer-verdict"              # banner: the group, its source, the verdict
PEER_PLACES = "peer-places"                # the city's (its districts') places
PEER_CHART = "peer-chart"
PEER_WINDOW = "peer-window"                # the members just above and below it
PEER_TABLE = "peer-table"                  # every member (expandable)
PEER_NOTICE = "peer-notice"                # a group that does not apply to the city

# Page "/standards" — 标准对比 / Standards.
STANDARDS_CHART = "standards-chart"
STANDARDS_DAYS_CHART = "standards-days-chart"
STANDARDS_TABLE = "standards-table"
STANDARDS_NOTE = "standards-note"
STANDARDS_EMPTY = "standards-empty"
STANDARDS_EXPORT_CSV = "standards-export-csv"
STANDARDS_EXPORT_XLSX = "standards-export-xlsx"

# Page "/district" — 区县 / District.
DISTRICT_SUMMARY = "district-summary"
DISTRICT_TREND = "district-trend"
DISTRICT_MONTHLY = "district-monthly"
DISTRICT_PATH = "district-path"
DISTRICT_NEEDED = "district-needed"
DISTRICT_STATIONS = "district-stations"
DISTRICT_STATIONS_TABLE = "district-stations-table"
DISTRICT_STATIONS_CHART = "district-stations-chart"
DISTRICT_LEDGER = "district-ledger"
DISTRICT_LEDGER_CARD = "district-ledger-card"

# Page "/station" — 站点 / Station.
STATION_SUMMARY = "station-summary"
STATION_SERIES = "station-series"
STATION_PROFILES = "station-profiles"
STATION_CAPTURE = "station-capture"
STATION_READINGS = "station-readings"
STATION_READINGS_CARD = "station-readings-card"
STATION_AQI = "station-aqi"                # the hourly AQI chart (real time)
STATION_AQI_CARD = "station-aqi-card"
STATION_AQI_NOTE = "station-aqi-note"      # agreement with the published AQI

# Page "/map" — 地图 / Map.
MAP_GRAPH = "map-graph"
MAP_NOTE = "map-note"
MAP_NOTICES = "map-notices"
MAP_MISSING = "map-missing"
MAP_EMPTY = "map-empty"
MAP_TABLE = "map-table"
MAP_TABLE_CARD = "map-table-card"

# -- public page (/public) ------------------------------------------------------------
PUBLIC_STATUS = "public-status"
PUBLIC_TODAY = "public-today"
PUBLIC_ADVICE = "public-advice"
PUBLIC_YTD = "public-ytd"
PUBLIC_RANK_MONTH = "public-rank-month"
PUBLIC_RANK_YTD = "public-rank-ytd"
PUBLIC_PM25 = "public-pm25"
PUBLIC_STRIP = "public-strip"
# the "now" section of /public: the latest hour (real-time, hourly AQI)
PUBLIC_NOW = "public-now"
PUBLIC_NOW_STATUS = "public-now-status"
PUBLIC_NOW_TILES = "public-now-tiles"
PUBLIC_NOW_ADVICE = "public-now-advice"
PUBLIC_NOW_STRIP = "public-now-strip"
PUBLIC_NOW_MAP = "public-now-map"

# staff login (dashboard/auth.py, app.py)
LOGIN_LINK = "app-login-link"
USER_NAME = "app-user-name"
LOGOUT = "app-logout"
LOGOUT_TOKEN = "app-logout-token"

# administration page (dashboard/pages/admin.py); every id starts with "admin-"
ADMIN_CITY = "admin-city"
ADMIN_USERS = "admin-users"
ADMIN_USERS_GRID = "admin-users-grid"
ADMIN_USER_NAME = "admin-user-name"
ADMIN_USER_PASSWORD = "admin-user-password"
ADMIN_USER_ROLE = "admin-user-role"
ADMIN_USER_SCOPE = "admin-user-scope"
ADMIN_USER_ADD = "admin-user-add"
ADMIN_USER_ROLE_BTN = "admin-user-role-btn"
ADMIN_USER_PASSWD = "admin-user-passwd"
ADMIN_USER_DISABLE = "admin-user-disable"
ADMIN_USER_ENABLE = "admin-user-enable"
ADMIN_USER_UNLOCK = "admin-user-unlock"
ADMIN_USER_RESULT = "admin-user-result"
ADMIN_TARGETS = "admin-targets"
ADMIN_TARGETS_GRID = "admin-targets-grid"
ADMIN_TARGETS_ADD = "admin-targets-add"
ADMIN_TARGETS_DELETE = "admin-targets-delete"
ADMIN_TARGETS_SAVE = "admin-targets-save"
ADMIN_TARGETS_RESULT = "admin-targets-result"
ADMIN_TARGETS_VERSION = "admin-targets-version"
ADMIN_RECIPIENTS = "admin-recipients"
ADMIN_RECIPIENTS_GRID = "admin-recipients-grid"
ADMIN_RECIPIENTS_ADD = "admin-recipients-add"
ADMIN_RECIPIENTS_DELETE = "admin-recipients-delete"
ADMIN_RECIPIENTS_SAVE = "admin-recipients-save"
ADMIN_RECIPIENTS_RESULT = "admin-recipients-result"
ADMIN_RECIPIENTS_VERSION = "admin-recipients-version"
ADMIN_AUDIT = "admin-audit"
ADMIN_AUDIT_GRID = "admin-audit-grid"

# upload page (dashboard/pages/upload.py); every id starts with "upload-" (its callbacks'
# outputs must: dashboard/auth.py applies the page's role to them)
UPLOAD = "upload"
UPLOAD_FILE = "upload-file"
UPLOAD_FILE_INFO = "upload-file-info"
UPLOAD_LIMIT = "upload-limit"
UPLOAD_TOO_BIG = "upload-too-big"
UPLOAD_WATCH = "upload-watch"
UPLOAD_READER = "upload-reader"
UPLOAD_READER_HINT = "upload-reader-hint"
UPLOAD_TABULAR = "upload-tabular"
UPLOAD_LAYOUT = "upload-layout"
UPLOAD_STATION = "upload-station"
UPLOAD_UNITS = "upload-units"
UPLOAD_HOUR_LABEL = "upload-hour-label"
UPLOAD_GAS = "upload-gas-temperature"
UPLOAD_STRICT = "upload-strict"
UPLOAD_CHECK = "upload-check"
UPLOAD_LOAD = "upload-load"
UPLOAD_LOADING = "upload-loading"
UPLOAD_RESULT = "upload-result"
UPLOAD_CHECKED = "upload-checked"
UPLOAD_LANG = "upload-lang"
UPLOAD_MESSAGE = "upload-message"
UPLOAD_SUMMARY = "upload-summary"
UPLOAD_STATIONS = "upload-stations"
UPLOAD_POLLUTANTS = "upload-pollutants"
UPLOAD_COMMAND = "upload-command"
