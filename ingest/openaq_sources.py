"""Which OpenAQ locations Lantian follows, and the incremental pull that stores them.

Sources come from the ``sources:`` list of the settings file (or from the
``lantian ingest openaq`` options)::

    sources:
      - name: beijing-openaq
        kind: openaq
        city: beijing                 # the Lantian city of the stations
        district: dongcheng           # district of new stations (default: none)
        locations:                    # OpenAQ location ids …
          - 2178
          - {id: 2179, district: xicheng, station: 1011A, role: evaluation}
        bbox: [116.2, 39.8, 116.6, 40.1]   # … and/or every location in a box
        monitors_only: true           # bbox: reference monitors only (default true)
        locality: Beijing             # bbox: only locations of this OpenAQ locality
        since: 2024-01-01             # first pull of a new sensor starts here (CST)
        lookback_hours: 0             # also re-ask this many hours before the cursor

A location becomes a station on first sight: the code given by ``station``
(e.g. the site file's code of the same monitor) or ``openaq-<id>``; a new
station takes the location's name and coordinates, the district given, and the
role given, else ``evaluation`` for a reference monitor and ``excluded`` for a
low-cost sensor (OpenAQ ``isMonitor``: its values are shown, never counted in
district values, standards §7). Stations of the site file keep their district
and role.

The pull (:func:`run_pull`) asks, per followed sensor, only for the hours after
its cursor (``openaq_sensors.last_hour``), in windows of at most
``window_hours``; each window is one ingest run and one transaction (readings
through the common loader — QC, no double counting, data version — and the
cursor advanced together), so a failure stores nothing of that window and the
next run asks for it again.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Callable

import numpy as np
import pandas as pd
from sqlalchemy import select

from config import ConfigError
from config.sites import ROLES, STATION_CODE_RULE, is_station_code, quoted
from store import schema
from store.db import bump_data_version
from store.schema import COLUMN_OF
from store.writer import read_hourly

from .errors import IngestError
from .frame import YEAR_RANGE
from .loader import LoadResult, finish_run, load_frame, start_run
from .openaq import (HOUR, HourWindow, OpenAQClient, OpenAQError, cst_hour, parse_utc,
                     pollutant_of, read_hours, utc_of_cst)
from .qc import FLAG_CODE, FLAGS, NON_NUMERIC, QCRules, flag_column, load_rules

SOURCE_KINDS = ("openaq",)
SOURCE_KEYS = {"name", "kind", "city", "district", "role", "locations", "bbox", "monitors_only",
               "locality", "since", "lookback_hours"}
LOCATION_KEYS = {"id", "station", "district", "role"}
STATION_PREFIX = "openaq-"
# A new sensor without ``since`` starts this far back.
FIRST_PULL_DAYS = 7
# Hours per request window: 90 days is three full pages of 1,000; a long back-fill
# goes window by window, each stored (and the cursor advanced) on its own.
WINDOW_HOURS = 90 * 24
# Stored hours either side of a window that QC sees with it: the spike rule needs
# both neighbours, the stuck rule 24 consecutive hours (config/qc.yaml).
QC_CONTEXT_HOURS = 48


# ----------------------------------------------------------------------------- config

@dataclass(frozen=True)
class LocationSpec:
    id: int
    station: str | None = None
    district: str | None = None
    role: str | None = None


@dataclass(frozen=True)
class OpenAQSource:
    name: str
    locations: tuple[LocationSpec, ...] = ()
    bbox: tuple[float, float, float, float] | None = None
    monitors_only: bool = True
    locality: str | None = None
    city: str | None = None
    district: str | None = None
    role: str | None = None
    since: date | None = None
    lookback_hours: int = 0


def parse_date(value, file, key: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        day = date.fromisoformat(str(value).strip())
    except ValueError:
        raise ConfigError(file, key, f"{value!r} is not a date",
                          "write YYYY-MM-DD (a day in China Standard Time)") from None
    if not YEAR_RANGE[0] <= day.year <= YEAR_RANGE[1]:
        raise ConfigError(file, key, f"{value!r} is outside the years {YEAR_RANGE[0]}–"
                          f"{YEAR_RANGE[1]}", "write a day of the years measured, YYYY-MM-DD")
    return day


def parse_bbox(value, file, key: str) -> tuple[float, float, float, float]:
    """``[min lon, min lat, max lon, max lat]`` (or the same as a comma-separated text)."""
    items = value.split(",") if isinstance(value, str) else value
    fix = "give [min lon, min lat, max lon, max lat] in degrees, e.g. [116.2, 39.8, 116.6, 40.1]"
    try:
        numbers = tuple(float(v) for v in items)
    except (TypeError, ValueError):
        raise ConfigError(file, key, f"{value!r} is not four numbers", fix) from None
    if len(numbers) != 4:
        raise ConfigError(file, key, f"{value!r} is not four numbers", fix)
    min_lon, min_lat, max_lon, max_lat = numbers
    if not (-180 <= min_lon < max_lon <= 180 and -90 <= min_lat < max_lat <= 90):
        raise ConfigError(file, key, f"{value!r} is not a box (min < max, lon ±180, lat ±90)", fix)
    return numbers


def _location_id(value, file, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().isdigit() \
            or int(value) < 1:
        raise ConfigError(file, key, f"{value!r} is not an OpenAQ location id",
                          "give the number shown on explore.openaq.org, e.g. 2178")
    return int(value)


def _role(value, file, key: str) -> str:
    role = str(value).strip()
    if role not in ROLES:
        raise ConfigError(file, key, f"{role!r} is not a station role",
                          f"use one of: {', '.join(ROLES)}")
    return role


def _text(value, file, key: str, limit: int = 64) -> str:
    text = str(value).strip() if value is not None else ""
    if not text or len(text) > limit or isinstance(value, (dict, list)):
        raise ConfigError(file, key, f"{value!r} is not a name of at most {limit} characters",
                          "give a short name, e.g. dongcheng")
    return text


def station_option(value, file, key: str) -> str:
    """A location's ``station:`` (or ``--station``): a valid station code (config.sites)."""
    code = "" if value is None or isinstance(value, (bool, dict, list)) else str(value).strip()
    if not is_station_code(code):
        raise ConfigError(file, key, f"{quoted(value)} is not a station code",
                          f"write {STATION_CODE_RULE}")
    return code


def parse_location(item, file, where: str) -> LocationSpec:
    if isinstance(item, dict):
        unknown = sorted(set(item) - LOCATION_KEYS)
        if unknown:
            raise ConfigError(file, f"{where}.{unknown[0]}", "unknown key for a location",
                              f"use: {', '.join(sorted(LOCATION_KEYS))}")
        if "id" not in item:
            raise ConfigError(file, f"{where}.id", "missing", "give the OpenAQ location id")
        return LocationSpec(
            id=_location_id(item["id"], file, f"{where}.id"),
            station=station_option(item["station"], file, f"{where}.station")
            if item.get("station") is not None else None,
            district=_text(item["district"], file, f"{where}.district")
            if item.get("district") is not None else None,
            role=_role(item["role"], file, f"{where}.role") if item.get("role") is not None else None)
    return LocationSpec(id=_location_id(item, file, where))


def parse_source(item, file, where: str, default_name: str) -> OpenAQSource:
    if not isinstance(item, dict):
        raise ConfigError(file, where, "expected a mapping",
                          "write e.g. '- {kind: openaq, name: city, locations: [2178]}'")
    kind = str(item.get("kind") or "")
    if kind not in SOURCE_KINDS:
        raise ConfigError(file, f"{where}.kind", f"{kind or '(missing)'!r} is not a source kind",
                          f"use one of: {', '.join(SOURCE_KINDS)}")
    unknown = sorted(set(item) - SOURCE_KEYS)
    if unknown:
        raise ConfigError(file, f"{where}.{unknown[0]}", "unknown key for an openaq source",
                          f"use: {', '.join(sorted(SOURCE_KEYS))}")
    raw_locations = item.get("locations") or []
    if not isinstance(raw_locations, list):
        raise ConfigError(file, f"{where}.locations", "expected a list of location ids",
                          "write e.g. 'locations: [2178, {id: 2179, district: xicheng}]'")
    locations = tuple(parse_location(loc, file, f"{where}.locations[{j}]")
                      for j, loc in enumerate(raw_locations))
    ids = [loc.id for loc in locations]
    if len(set(ids)) != len(ids):
        raise ConfigError(file, f"{where}.locations", "a location is listed twice",
                          "list each location once")
    bbox = parse_bbox(item["bbox"], file, f"{where}.bbox") if item.get("bbox") is not None else None
    if not locations and bbox is None:
        raise ConfigError(file, where, "neither 'locations' nor 'bbox' is given",
                          "list OpenAQ location ids, or give a bbox to follow every monitor in it")
    monitors_only = item.get("monitors_only", True)
    if not isinstance(monitors_only, bool):
        raise ConfigError(file, f"{where}.monitors_only", f"{monitors_only!r} is not true/false",
                          "write true (reference monitors only) or false")
    lookback = item.get("lookback_hours", 0)
    if isinstance(lookback, bool) or not isinstance(lookback, int) or not 0 <= lookback <= 24 * 31:
        raise ConfigError(file, f"{where}.lookback_hours", f"{lookback!r} is not 0…744 hours",
                          "give whole hours, e.g. 6, or 0 to ask only for new hours")
    return OpenAQSource(
        name=_text(item.get("name") or default_name, file, f"{where}.name"),
        locations=locations, bbox=bbox, monitors_only=monitors_only,
        locality=_text(item["locality"], file, f"{where}.locality", 128)
        if item.get("locality") is not None else None,
        city=_text(item["city"], file, f"{where}.city") if item.get("city") is not None else None,
        district=_text(item["district"], file, f"{where}.district")
        if item.get("district") is not None else None,
        role=_role(item["role"], file, f"{where}.role") if item.get("role") is not None else None,
        since=parse_date(item["since"], file, f"{where}.since")
        if item.get("since") is not None else None,
        lookback_hours=lookback)


def parse_sources(items, file) -> list[OpenAQSource]:
    """Validate the ``sources:`` list; every mistake is a ConfigError naming file, key and fix."""
    if items in (None, ""):
        return []
    if not isinstance(items, (list, tuple)):
        raise ConfigError(file, "sources", "expected a list of sources",
                          "write e.g. 'sources: [{kind: openaq, name: city, locations: [2178]}]'")
    sources: list[OpenAQSource] = []
    for i, item in enumerate(items):
        source = parse_source(item, file, f"sources[{i}]", f"openaq-{i + 1}")
        if any(s.name == source.name for s in sources):
            raise ConfigError(file, f"sources[{i}].name", f"duplicate source name {source.name!r}",
                              "give each source its own name")
        sources.append(source)
    return sources


def sources_from_settings(settings) -> list[OpenAQSource]:
    return parse_sources(settings.sources, settings.settings_file or "settings")


def select_sources(sources: list[OpenAQSource], names, where) -> list[OpenAQSource]:
    """The sources called ``names`` (all when ``names`` is empty)."""
    if not names:
        return list(sources)
    known = {s.name: s for s in sources}
    missing = [n for n in names if n not in known]
    if missing:
        raise ConfigError(where, "sources", f"no source named {missing[0]!r}",
                          "use one of: " + (", ".join(known) or "none (add 'sources:' to the "
                                            "settings file)"))
    return [known[n] for n in names]


# ----------------------------------------------------------------------------- stations

def _area_ids(conn, source: OpenAQSource, district: str | None, where: str):
    """(city id, district row id) for a source and a district code; ConfigError when unknown."""
    city = source.city
    cities = [r[0] for r in conn.execute(select(schema.cities.c.id)).all()]
    if city is None:
        if district is None:
            return None, None
        if len(cities) != 1:
            raise ConfigError(where, "city", "needed to find district "
                              f"{district!r} ({len(cities)} cities in the database)",
                              "give the city id of the site file, e.g. city: beijing")
        city = cities[0]
    if city not in cities:
        raise ConfigError(where, "city", f"city {city!r} is not in the database",
                          "load its site file first: lantian init --sites FILE")
    if district is None:
        return city, None
    row = conn.execute(select(schema.districts.c.id).where(
        schema.districts.c.city_id == city, schema.districts.c.code == district)).first()
    if row is None:
        raise ConfigError(where, "district", f"district {district!r} is not in city {city!r}",
                          "use a district id of the site file (lantian init --sites FILE)")
    return city, row[0]


def check_areas(engine, source: OpenAQSource, where) -> None:
    """Fail before any request when a configured city or district is unknown."""
    with engine.connect() as conn:
        for district in {source.district, *(loc.district for loc in source.locations)}:
            _area_ids(conn, source, district, where)


def station_code(spec: LocationSpec) -> str:
    return spec.station or f"{STATION_PREFIX}{spec.id}"


def _station_row(conn, code: str):
    s = schema.stations.c
    return conn.execute(select(s.id, s.district_id, s.lon, s.lat)
                        .where(s.code == code)).first()


def ensure_station(engine, client: OpenAQClient, spec: LocationSpec, source: OpenAQSource,
                   location: dict | None, where) -> tuple[int, str, bool]:
    """The station of a location (created from the location's metadata on first sight).

    Returns (station id, code, created). The location is fetched only when the
    station does not exist yet.
    """
    code = station_code(spec)
    district = spec.district or source.district
    with engine.connect() as conn:
        existing = _station_row(conn, code)
    if existing is None and location is None:
        location = client.location(spec.id)
    with engine.begin() as conn:
        city_id, district_id = _area_ids(conn, source, district, where)
        existing = _station_row(conn, code)
        if existing is not None:
            updates = {}
            # Fill what is missing; a station of the site file keeps its district.
            if district_id is not None and existing.district_id is None:
                updates.update(city_id=city_id, district_id=district_id)
            coords = _coordinates(location) if location else (None, None)
            if existing.lon is None and coords[0] is not None:
                updates.update(lon=coords[0], lat=coords[1])
            if updates:
                conn.execute(schema.stations.update().where(schema.stations.c.id == existing.id)
                             .values(**updates))
                bump_data_version(conn)
            return existing.id, code, False
        lon, lat = _coordinates(location)
        name = str(location.get("name") or code).strip()[:128] or code
        role = spec.role or source.role or ("evaluation" if location.get("isMonitor", True)
                                            else "excluded")
        station_id = conn.execute(schema.stations.insert().values(
            code=code, name_zh=name, name_en=name, city_id=city_id, district_id=district_id,
            role=role, network="", lon=lon, lat=lat, synthetic=False,
            origin="openaq")).inserted_primary_key[0]
        bump_data_version(conn)
        return int(station_id), code, True


def _coordinates(location: dict) -> tuple[float | None, float | None]:
    coords = location.get("coordinates") if isinstance(location.get("coordinates"), dict) else {}
    lon, lat = coords.get("longitude"), coords.get("latitude")
    if isinstance(lon, (int, float)) and isinstance(lat, (int, float)) \
            and -180 <= lon <= 180 and -90 <= lat <= 90:
        return float(lon), float(lat)
    return None, None


# ----------------------------------------------------------------------------- sensors

@dataclass
class FollowedSensor:
    id: int
    location_id: int
    station_id: int
    station_code: str
    parameter: str
    pollutant: str
    units: str
    last_hour: datetime | None          # cursor: start (CST) of the newest hour stored
    datetime_last: datetime | None      # the API's newest measurement (UTC), if it said

    @property
    def label(self) -> str:
        return f"OpenAQ sensor {self.id} ({self.station_code} {self.pollutant})"


def sync_sensors(engine, location_id: int, station_id: int, code: str, api_sensors: list[dict],
                 ) -> tuple[list[FollowedSensor], list[str]]:
    """Record the location's sensors of stored pollutants; return them and what is not followed.

    One sensor per pollutant and station: a second sensor of the same pollutant
    (two instruments, or a duplicate feed) would overwrite the first hour by
    hour, so the sensor already followed (else the lowest id) is kept.
    """
    t = schema.openaq_sensors
    skipped: list[str] = []
    by_pollutant: dict[str, list[dict]] = {}
    for sensor in api_sensors:
        if not isinstance(sensor, dict) or not isinstance(sensor.get("id"), int):
            continue
        pollutant = pollutant_of(sensor.get("parameter"))
        name = str((sensor.get("parameter") or {}).get("name", "?"))
        if pollutant is None:
            skipped.append(f"{name} (sensor {sensor['id']}, not a pollutant Lantian stores)")
            continue
        by_pollutant.setdefault(pollutant, []).append(sensor)
    followed: list[FollowedSensor] = []
    with engine.begin() as conn:
        rows = {r.id: r for r in conn.execute(select(t).where(t.c.location_id == location_id))}
        for pollutant, sensors in by_pollutant.items():
            known = [s for s in sensors if s["id"] in rows and rows[s["id"]].station_id == station_id]
            chosen = (known or sorted(sensors, key=lambda s: s["id"]))[0]
            skipped += [f"{pollutant} sensor {s['id']} (station {code} already has {pollutant} "
                        f"from sensor {chosen['id']})" for s in sensors if s is not chosen]
            parameter = chosen["parameter"]
            values = dict(location_id=location_id, station_id=station_id,
                          parameter=str(parameter.get("name"))[:32], pollutant=pollutant,
                          units=str(parameter.get("units") or "")[:16])
            row = rows.get(chosen["id"])
            last_hour = None
            if row is None:
                conn.execute(t.insert().values(id=chosen["id"], last_hour=None, **values))
            else:
                last_hour = row.last_hour
                if row.station_id != station_id:
                    last_hour = None      # mapped to another station: its history starts anew
                changed = {k: v for k, v in values.items() if getattr(row, k) != v}
                if changed:
                    conn.execute(t.update().where(t.c.id == row.id)
                                 .values(last_hour=last_hour, **changed))
            followed.append(FollowedSensor(
                id=chosen["id"], location_id=location_id, station_id=station_id,
                station_code=code, parameter=values["parameter"], pollutant=pollutant,
                units=values["units"], last_hour=last_hour,
                datetime_last=_datetime_last(chosen)))
    followed.sort(key=lambda s: s.id)
    return followed, skipped


def _datetime_last(sensor: dict) -> datetime | None:
    try:
        return parse_utc(sensor["datetimeLast"]["utc"])
    except (KeyError, TypeError, ValueError):
        return None


# ----------------------------------------------------------------------------- storing

def with_qc_context(conn, frame: pd.DataFrame, station_id: int, pollutant: str,
                    rules: QCRules) -> tuple[pd.DataFrame, int]:
    """QC a window together with the stored hours around it.

    An hourly pull brings one hour at a time: alone, it can never be a spike
    (no neighbours) or part of 24 stuck hours. The QC rules run over the stored
    neighbours and the new hours together; the new hours take those flags, and
    stored hours whose flag changes (the previous hour is now known to be a
    spike) are added to the frame, so the loader stores the change. Returns the
    frame and the number of stored hours re-flagged.
    """
    if frame.empty:
        return frame, 0
    times = frame["time"].to_numpy("datetime64[s]")
    margin = np.timedelta64(QC_CONTEXT_HOURS, "h")
    stored = read_hourly(conn, [station_id], times.min() - margin, times.max() + margin)
    if stored.empty:
        return frame, 0
    col = COLUMN_OF[pollutant]
    stored_ts = stored["ts"].to_numpy("datetime64[s]")
    stored_values = stored[col].to_numpy(np.float64)
    stored_flags = stored[f"{col}_flag"].to_numpy(np.int8)
    context = (~np.isin(stored_ts, times)
               & (~np.isnan(stored_values) | (stored_flags == NON_NUMERIC)))
    if not context.any():
        return frame, 0
    new_flags = frame["flag"].map(FLAG_CODE).to_numpy(np.int8)
    all_ts = np.concatenate([times, stored_ts[context]])
    all_values = np.concatenate([frame["value"].to_numpy(np.float64), stored_values[context]])
    all_flags = np.concatenate([new_flags, stored_flags[context]])
    order = np.argsort(all_ts, kind="stable")
    hours = all_ts[order].astype("datetime64[h]").astype(np.int64)
    checked = np.empty_like(all_flags)
    checked[order] = flag_column(pollutant, all_values[order], all_flags[order],
                                 np.zeros(len(order), dtype=np.int64), hours, rules)
    n = len(frame)
    out = frame.copy()
    out["flag"] = np.asarray(FLAGS, dtype=object)[checked[:n]]
    reflagged = np.flatnonzero(checked[n:] != all_flags[n:])
    if len(reflagged):
        extra = pd.DataFrame({
            "station": out["station"].iloc[0], "time": all_ts[n:][reflagged],
            "pollutant": pollutant, "value": all_values[n:][reflagged],
            "unit": out["unit"].iloc[0],
            "flag": np.asarray(FLAGS, dtype=object)[checked[n:][reflagged]]})
        attrs = dict(out.attrs)
        out = pd.concat([out, extra], ignore_index=True)
        out.attrs = attrs
    out["flag"] = out["flag"].astype("str")
    return out, len(reflagged)


def _now_cst() -> datetime:
    return cst_hour(datetime.now(timezone.utc)).replace(microsecond=0)


def store_window(engine, sensor: FollowedSensor, frame: pd.DataFrame, results: list[dict],
                 rules: QCRules) -> LoadResult:
    """One ingest run, one transaction: the window's readings and the sensor's cursor."""
    first, last = frame["time"].min(), frame["time"].max()
    name = f"{sensor.label} {first:%Y-%m-%d %H:%M} … {last:%Y-%m-%d %H:%M} CST"
    checksum = hashlib.sha256(json.dumps(results, sort_keys=True, default=str)
                              .encode()).hexdigest()
    result = LoadResult(file=name, reader="openaq")
    result.run_id, result.same_as_run = start_run(
        engine, "openaq", name, checksum,
        {"sensor": sensor.id, "location": sensor.location_id, "units": sensor.units})
    t = schema.openaq_sensors
    newest = pd.Timestamp(last).to_pydatetime()
    try:
        with engine.begin() as conn:
            checked, reflagged = with_qc_context(conn, frame, sensor.station_id,
                                                 sensor.pollutant, rules)
            load_frame(conn, checked, result, strict=True, rules=rules)
            current = conn.execute(select(t.c.last_hour).where(t.c.id == sensor.id)).scalar()
            cursor = max(current, newest) if current is not None else newest
            conn.execute(t.update().where(t.c.id == sensor.id)
                         .values(last_hour=cursor, checked_at=_now_cst()))
    except Exception as exc:
        result.status = "failed"
        result.message = str(exc) if isinstance(exc, IngestError) else f"{type(exc).__name__}: {exc}"
        finish_run(engine, result)
        raise
    if reflagged:
        result.message = f"{reflagged} stored hour(s) re-flagged by QC with the new hours"
    elif result.status == "unchanged" and result.same_as_run:
        result.message = f"identical to run #{result.same_as_run}"
    finish_run(engine, result)
    sensor.last_hour = cursor
    return result


def record_failure(engine, sensor: FollowedSensor, error: Exception) -> None:
    """A fetch that failed before anything could be stored, in the ingest runs."""
    result = LoadResult(file=sensor.label, reader="openaq")
    result.run_id, _ = start_run(engine, "openaq", sensor.label, "",
                                 {"sensor": sensor.id, "location": sensor.location_id})
    result.status, result.message = "failed", str(error)
    finish_run(engine, result)


def _mark_checked(engine, sensor: FollowedSensor) -> None:
    t = schema.openaq_sensors
    with engine.begin() as conn:
        conn.execute(t.update().where(t.c.id == sensor.id).values(checked_at=_now_cst()))


# ----------------------------------------------------------------------------- the pull

@dataclass
class PullReport:
    results: list[LoadResult] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    created_stations: list[str] = field(default_factory=list)
    not_followed: list[str] = field(default_factory=list)
    locations: int = 0
    sensors: int = 0
    up_to_date: int = 0
    requests: int = 0
    aborted: str = ""

    @property
    def readings_new(self) -> int:
        return sum(r.readings_new for r in self.results)

    @property
    def readings_changed(self) -> int:
        return sum(r.readings_changed for r in self.results)

    @property
    def readings_flagged(self) -> int:
        return sum(r.readings_flagged for r in self.results)

    def summary(self) -> str:
        text = (f"OpenAQ: {self.locations} locations, {self.sensors} sensors "
                f"({self.up_to_date} already up to date), {len(self.results)} windows stored: "
                f"{self.readings_new:,} new readings, {self.readings_changed:,} changed, "
                f"{self.readings_flagged:,} flagged; {self.requests} requests")
        if self.created_stations:
            text += f"; new stations: {', '.join(self.created_stations)}"
        if self.failures:
            text += f"; {len(self.failures)} failed"
        if self.aborted:
            text += "; stopped early"
        return text


@dataclass(frozen=True)
class PullWindow:
    """What the caller asked for: ``since`` (re-fetch from that day, whatever the
    cursor says), ``until`` (last day), ``now`` (aware; hours ending after it are not asked for)."""
    since: date | None = None
    until: date | None = None
    now: datetime | None = None


def sensor_window(sensor: FollowedSensor, source: OpenAQSource, request: PullWindow,
                  now_utc: datetime) -> HourWindow | None:
    """The hours to ask for, or None when the sensor is up to date."""
    # Only hours that have ended: the hour starting one hour before the current one.
    last = cst_hour(now_utc).replace(minute=0, second=0, microsecond=0) - HOUR
    if request.until is not None:
        last = min(last, datetime.combine(request.until, datetime.min.time()) + timedelta(hours=23))
    if request.since is not None:
        first = datetime.combine(request.since, datetime.min.time())
    elif sensor.last_hour is not None:
        first = sensor.last_hour + HOUR - timedelta(hours=source.lookback_hours)
        if source.lookback_hours == 0 and sensor.datetime_last is not None \
                and sensor.datetime_last <= utc_of_cst(sensor.last_hour + HOUR):
            return None     # the API has nothing after the last hour stored
    elif source.since is not None:
        first = datetime.combine(source.since, datetime.min.time())
    else:
        first = last + HOUR - timedelta(days=FIRST_PULL_DAYS)
    if first > last:
        return None
    return HourWindow(first, last)


def pull_sensor(engine, client: OpenAQClient, sensor: FollowedSensor, window: HourWindow,
                rules: QCRules, *, window_hours: int = WINDOW_HOURS,
                log: Callable[[str], None] | None = None) -> list[LoadResult]:
    """Fetch and store ``window`` in slices of ``window_hours``; one transaction per slice."""
    stored: list[LoadResult] = []
    first = window.first
    while first <= window.last:
        last = min(first + timedelta(hours=window_hours - 1), window.last)
        piece = HourWindow(first, last)
        try:
            results = client.sensor_hours(sensor.id, utc_of_cst(first), utc_of_cst(last + HOUR))
            frame = read_hours(results, station=sensor.station_code, pollutant=sensor.pollutant,
                               window=piece, source=sensor.label)
        except IngestError as exc:
            record_failure(engine, sensor, exc)    # store_window records its own failures
            raise
        if not frame.empty:
            result = store_window(engine, sensor, frame, results, rules)
            stored.append(result)
            if log:
                log(result.summary())
        first = last + HOUR
    _mark_checked(engine, sensor)
    return stored


def source_locations(client: OpenAQClient, source: OpenAQSource
                     ) -> list[tuple[LocationSpec, dict | None]]:
    """The listed locations, then those found in the bbox (with their metadata)."""
    out: list[tuple[LocationSpec, dict | None]] = [(spec, None) for spec in source.locations]
    if source.bbox is not None:
        listed = {spec.id for spec in source.locations}
        for location in client.locations_in_bbox(source.bbox, monitors_only=source.monitors_only):
            if not isinstance(location, dict) or not isinstance(location.get("id"), int):
                continue
            if location["id"] in listed:
                continue
            if source.monitors_only and location.get("isMonitor") is False:
                continue
            if source.locality and str(location.get("locality") or "").casefold() \
                    != source.locality.casefold():
                continue
            listed.add(location["id"])
            out.append((LocationSpec(id=location["id"]), location))
    return out


def run_pull(engine, client: OpenAQClient, sources: list[OpenAQSource], *,
             request: PullWindow = PullWindow(), where="settings", rules: QCRules | None = None,
             log: Callable[[str], None] | None = None,
             status: Callable[[str], None] | None = None) -> PullReport:
    """Pull every source's locations and sensors; one failure does not stop the others.

    A failure that would repeat for every request (bad key, service down) stops
    the run (``report.aborted``); cursors stay where they were, so the next run
    fetches the gap.
    """
    rules = rules or load_rules()
    now_utc = request.now or datetime.now(timezone.utc)
    report = PullReport()
    sent_before = client.requests_sent
    for source in sources:
        check_areas(engine, source, where)
    try:
        for source in sources:
            try:
                locations = source_locations(client, source)
            except OpenAQError as exc:
                report.failures.append(f"source {source.name}: {exc}")
                if exc.stops_run:
                    raise
                continue
            for spec, metadata in locations:
                report.locations += 1
                if status:
                    status(f"OpenAQ location {spec.id}")
                try:
                    station_id, code, created = ensure_station(engine, client, spec, source,
                                                               metadata, where)
                    if created:
                        report.created_stations.append(code)
                    followed, skipped = sync_sensors(engine, spec.id, station_id, code,
                                                     client.location_sensors(spec.id))
                except OpenAQError as exc:
                    report.failures.append(str(exc))      # names the location's URL
                    if exc.stops_run:
                        raise
                    continue
                report.not_followed += [f"location {spec.id}: {s}" for s in skipped]
                for sensor in followed:
                    report.sensors += 1
                    window = sensor_window(sensor, source, request, now_utc)
                    if window is None:
                        report.up_to_date += 1
                        _mark_checked(engine, sensor)
                        continue
                    if status:
                        status(f"{sensor.label}: {window.first:%Y-%m-%d %H:%M} … "
                               f"{window.last:%Y-%m-%d %H:%M}")
                    try:
                        report.results += pull_sensor(engine, client, sensor, window, rules,
                                                      log=log)
                    except IngestError as exc:
                        report.failures.append(f"{sensor.label}: {exc}")
                        if isinstance(exc, OpenAQError) and exc.stops_run:
                            raise
    except OpenAQError as exc:
        report.aborted = str(exc)
    report.requests = client.requests_sent - sent_before
    return report
