"""A small fake of the OpenAQ API v3 on 127.0.0.1: a real threaded HTTP server, never the internet.

It serves, in the shape the real service answers (openaq-api-v2 v3 models and
routers; see RECORDED_LOCATION and RECORDED_HOUR below):

- ``GET /v3/locations/{id}`` and ``GET /v3/locations/{id}/sensors``
- ``GET /v3/locations?bbox=…&monitor=…`` (``meta.found`` an exact count)
- ``GET /v3/sensors/{id}/hours?datetime_from=…&datetime_to=…`` filtered like v3
  (``datetime_from < hour end <= datetime_to``), in time order, with ``limit``
  (≤ 1,000, else HTTP 422) / ``page`` and ``meta.found`` as v3 gives it for
  hours: ``">limit"`` for a full page, else the number on the page.

It checks ``X-API-Key`` (401 without the right one), answers 403 for locations
in ``forbidden``, 404 for unknown ids, 503 for everything while ``down``, and
plays queued faults (:meth:`FakeOpenAQ.fail`): a status with headers (429 with
``Retry-After``, 500 …) or a malformed JSON body. Every request is logged.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

UTC = timezone.utc
LOCAL = timezone(timedelta(hours=8))
HOUR = timedelta(hours=1)

# OpenAQ measurand ids and units as the v3 /parameters list gives them.
PARAMETERS = {("pm10", "µg/m³"): 1, ("pm25", "µg/m³"): 2, ("o3", "µg/m³"): 3,
              ("co", "µg/m³"): 4, ("no2", "µg/m³"): 5, ("so2", "µg/m³"): 6,
              ("no2", "ppm"): 7, ("co", "ppm"): 8, ("so2", "ppm"): 9, ("o3", "ppm"): 10,
              ("no2", "ppb"): 15, ("relativehumidity", "%"): 98, ("temperature", "c"): 100}
DISPLAY = {"pm10": "PM10", "pm25": "PM2.5", "o3": "O₃", "co": "CO", "no2": "NO₂", "so2": "SO₂",
           "relativehumidity": "RH", "temperature": "Temperature (C)"}

# One location as /v3/locations/{id} answers (recorded shape; values of our fixture).
RECORDED_LOCATION = {
    "id": 2178, "name": "Dongsi", "locality": "Beijing", "timezone": "Asia/Shanghai",
    "country": {"id": 10, "code": "CN", "name": "China"},
    "owner": {"id": 4, "name": "Unknown Governmental Organization"},
    "provider": {"id": 166, "name": "ChinaAQIData"},
    "isMobile": False, "isMonitor": True,
    "instruments": [{"id": 2, "name": "Government Monitor"}],
    "sensors": [{"id": 101, "name": "no2 ppb",
                 "parameter": {"id": 15, "name": "no2", "units": "ppb", "displayName": "NO₂"}}],
    "coordinates": {"latitude": 39.9289, "longitude": 116.4174},
    "licenses": None, "bounds": [116.4174, 39.9289, 116.4174, 39.9289], "distance": None,
    "datetimeFirst": {"utc": "2024-01-01T01:00:00Z", "local": "2024-01-01T09:00:00+08:00"},
    "datetimeLast": {"utc": "2024-01-03T00:00:00Z", "local": "2024-01-03T08:00:00+08:00"},
}

# One result of /v3/sensors/{id}/hours (recorded shape).
RECORDED_HOUR = {
    "value": 10.0,
    "flagInfo": {"hasFlags": False},
    "parameter": {"id": 15, "name": "no2", "units": "ppb", "displayName": None},
    "period": {"label": "1hour", "interval": "01:00:00",
               "datetimeFrom": {"utc": "2024-01-01T00:00:00Z", "local": "2024-01-01T08:00:00+08:00"},
               "datetimeTo": {"utc": "2024-01-01T01:00:00Z", "local": "2024-01-01T09:00:00+08:00"}},
    "coordinates": None,
    "summary": {"min": 9.0, "q02": 9.0, "q25": 9.5, "median": 10.0, "q75": 10.5, "q98": 11.0,
                "max": 11.0, "avg": 10.0, "sd": 0.5},
    "coverage": {"expectedCount": 1, "expectedInterval": "01:00:00", "observedCount": 1,
                 "observedInterval": "01:00:00", "percentComplete": 100.0,
                 "percentCoverage": 100.0,
                 "datetimeFrom": {"utc": "2024-01-01T00:00:00Z",
                                  "local": "2024-01-01T08:00:00+08:00"},
                 "datetimeTo": {"utc": "2024-01-01T01:00:00Z",
                                "local": "2024-01-01T09:00:00+08:00"}},
}


def dt_object(moment: datetime) -> dict:
    return {"utc": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "local": moment.astimezone(LOCAL).isoformat()}


def parameter_json(name: str, units: str) -> dict:
    return {"id": PARAMETERS.get((name, units), 999), "name": name, "units": units,
            "displayName": DISPLAY.get(name)}


def hour_json(start_utc: datetime, value, name: str, units: str,
              percent_coverage: float | None = 100.0) -> dict:
    """An hourly mean in the recorded shape; ``percent_coverage`` None = no coverage object."""
    end = start_utc + HOUR
    item = {
        "value": value, "flagInfo": {"hasFlags": False},
        "parameter": {**parameter_json(name, units), "displayName": None},
        "period": {"label": "1hour", "interval": "01:00:00", "datetimeFrom": dt_object(start_utc),
                   "datetimeTo": dt_object(end)},
        "coordinates": None,
        "summary": {"min": value, "q02": value, "q25": value, "median": value, "q75": value,
                    "q98": value, "max": value, "avg": value, "sd": None},
    }
    if percent_coverage is not None:
        observed = round(60 * percent_coverage / 100)
        item["coverage"] = {
            "expectedCount": 60, "expectedInterval": "01:00:00", "observedCount": observed,
            "observedInterval": f"{observed // 60:02d}:{observed % 60:02d}:00",
            "percentComplete": float(round(percent_coverage)),
            "percentCoverage": float(percent_coverage),
            "datetimeFrom": dt_object(start_utc), "datetimeTo": dt_object(end)}
    return item


@dataclass
class Fault:
    path: str
    status: int
    body: bytes
    headers: dict
    times: int
    query: dict = field(default_factory=dict)


@dataclass
class LoggedRequest:
    path: str
    query: dict
    headers: dict


class FakeOpenAQ:
    """The fake service; ``with FakeOpenAQ() as fake: fake.url`` …"""

    def __init__(self, api_key: str = "test-key"):
        self.api_key = api_key
        self.locations: dict[int, dict] = {}
        self.location_sensors: dict[int, list[int]] = {}
        self.sensor_parameter: dict[int, tuple[str, str]] = {}
        self.hours: dict[int, list[dict]] = {}
        self.forbidden: set[int] = set()
        self.down = False
        self.faults: list[Fault] = []
        self.requests: list[LoggedRequest] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- fixture data -----------------------------------------------------------------
    def add_location(self, location_id: int, name: str, lat: float, lon: float, *,
                     locality: str = "Beijing", is_monitor: bool = True,
                     sensors: list[tuple[int, str, str]] = ()) -> dict:
        """A location with sensors ``(sensor id, parameter name, units)``."""
        location = json.loads(json.dumps(RECORDED_LOCATION))
        location.update(id=location_id, name=name, locality=locality, isMonitor=is_monitor,
                        coordinates={"latitude": lat, "longitude": lon},
                        bounds=[lon, lat, lon, lat])
        location["sensors"] = [{"id": sid, "name": f"{p} {u}", "parameter": parameter_json(p, u)}
                               for sid, p, u in sensors]
        with self._lock:
            self.locations[location_id] = location
            self.location_sensors[location_id] = [sid for sid, _, _ in sensors]
            for sid, p, u in sensors:
                self.sensor_parameter[sid] = (p, u)
                self.hours.setdefault(sid, [])
        return location

    def add_hours(self, sensor_id: int, first_utc: datetime, values, *,
                  coverage=100.0) -> None:
        """Hourly means from ``first_utc`` on; ``coverage`` a number or one per value."""
        name, units = self.sensor_parameter[sensor_id]
        coverages = coverage if isinstance(coverage, (list, tuple)) else [coverage] * len(values)
        with self._lock:
            rows = self.hours[sensor_id]
            for i, (value, cov) in enumerate(zip(values, coverages)):
                rows.append(hour_json(first_utc + i * HOUR, value, name, units, cov))
            rows.sort(key=lambda r: r["period"]["datetimeFrom"]["utc"])

    def fail(self, path: str, status: int = 500, *, body: bytes | None = None,
             headers: dict | None = None, times: int = 1, query: dict | None = None) -> None:
        """The next ``times`` requests to ``path`` (with these query values) get this answer."""
        if body is None:
            body = json.dumps({"detail": f"fake failure {status}"}).encode()
        with self._lock:
            self.faults.append(Fault(path, status, body, dict(headers or {}), times,
                                     {k: str(v) for k, v in (query or {}).items()}))

    def requests_to(self, path_part: str) -> list[LoggedRequest]:
        return [r for r in self.requests if path_part in r.path]

    # -- server -----------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakeOpenAQ":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server API
                fake._handle(self)

            def log_message(self, *_):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- answers ----------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlparse(handler.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        with self._lock:
            self.requests.append(LoggedRequest(url.path, query, dict(handler.headers)))
            fault = next((f for f in self.faults if f.path == url.path and f.times > 0
                          and all(query.get(k) == v for k, v in f.query.items())), None)
            if fault is not None:
                fault.times -= 1
            down = self.down
        if handler.headers.get("X-API-Key") != self.api_key:
            return self._send(handler, 401, {"detail": "Invalid credentials"})
        if down:
            return self._send(handler, 503, {"detail": "Service Unavailable"})
        if fault is not None:
            return self._send_raw(handler, fault.status, fault.body, fault.headers)
        parts = url.path.strip("/").split("/")
        try:
            if parts[:2] == ["v3", "locations"] and len(parts) == 2:
                return self._locations(handler, query)
            if parts[:2] == ["v3", "locations"] and len(parts) in (3, 4):
                location_id = int(parts[2])
                if location_id in self.forbidden:
                    return self._send(handler, 403, {"detail": "Forbidden"})
                if location_id not in self.locations:
                    return self._send(handler, 404, {"detail": "Location not found"})
                if len(parts) == 3:
                    return self._page(handler, [self.locations[location_id]], 1, 100, 1)
                if parts[3] == "sensors":
                    return self._page(handler, self._sensors(location_id), 1, 100,
                                      len(self.location_sensors[location_id]))
            if parts[:2] == ["v3", "sensors"] and len(parts) == 4 and parts[3] == "hours":
                return self._hours(handler, int(parts[2]), query)
        except ValueError:
            return self._send(handler, 422, {"detail": [{"msg": "invalid path parameter"}]})
        return self._send(handler, 404, {"detail": "Not Found"})

    def _sensors(self, location_id: int) -> list[dict]:
        out = []
        for sid in self.location_sensors[location_id]:
            name, units = self.sensor_parameter[sid]
            rows = self.hours.get(sid, [])
            first = rows[0]["period"]["datetimeTo"] if rows else None
            last = rows[-1]["period"]["datetimeTo"] if rows else None
            out.append({
                "id": sid, "name": f"{name} {units}", "parameter": parameter_json(name, units),
                "datetimeFirst": first, "datetimeLast": last,
                "coverage": None,
                "latest": ({"datetime": last, "value": rows[-1]["value"],
                            "coordinates": self.locations[location_id]["coordinates"]}
                           if rows else None),
                "summary": None})
        return out

    def _paging(self, handler, query) -> tuple[int, int] | None:
        try:
            limit, page = int(query.get("limit", 100)), int(query.get("page", 1))
        except ValueError:
            limit = page = 0
        if not 0 < limit <= 1000 or page < 1:
            self._send(handler, 422, {"detail": [{"msg": "limit must be 1…1000, page >= 1"}]})
            return None
        return limit, page

    def _locations(self, handler, query) -> None:
        paging = self._paging(handler, query)
        if paging is None:
            return
        limit, page = paging
        found = list(self.locations.values())
        if "bbox" in query:
            min_lon, min_lat, max_lon, max_lat = (float(v) for v in query["bbox"].split(","))
            found = [loc for loc in found
                     if min_lon <= loc["coordinates"]["longitude"] <= max_lon
                     and min_lat <= loc["coordinates"]["latitude"] <= max_lat]
        if query.get("monitor") == "true":
            found = [loc for loc in found if loc["isMonitor"]]
        found.sort(key=lambda loc: loc["id"])
        self._page(handler, found[(page - 1) * limit:page * limit], page, limit, len(found))

    def _hours(self, handler, sensor_id: int, query) -> None:
        if sensor_id not in self.hours:
            return self._send(handler, 404, {"detail": "Sensor not found"})
        paging = self._paging(handler, query)
        if paging is None:
            return
        limit, page = paging
        rows = self.hours[sensor_id]

        def bound(key):
            if key not in query:
                return None
            moment = datetime.fromisoformat(query[key])
            return moment if moment.tzinfo else moment.replace(tzinfo=LOCAL)  # v3: naive = local
        start, end = bound("datetime_from"), bound("datetime_to")
        # v3 filters on the hour's end: datetime_from < end <= datetime_to
        selected = [r for r in rows
                    if (start is None or datetime.fromisoformat(r["period"]["datetimeTo"]["utc"]) > start)
                    and (end is None or datetime.fromisoformat(r["period"]["datetimeTo"]["utc"]) <= end)]
        chunk = selected[(page - 1) * limit:page * limit]
        found = f">{limit}" if len(chunk) == limit else len(chunk)
        self._page(handler, chunk, page, limit, found)

    def _page(self, handler, results, page, limit, found) -> None:
        self._send(handler, 200, {"meta": {"name": "openaq-api", "website": "/", "page": page,
                                           "limit": limit, "found": found},
                                  "results": results})

    def _send(self, handler, status: int, document, headers: dict | None = None) -> None:
        self._send_raw(handler, status, json.dumps(document, ensure_ascii=False).encode(),
                       headers or {})

    @staticmethod
    def _send_raw(handler, status: int, body: bytes, headers: dict) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            handler.send_header(key, str(value))
        handler.end_headers()
        handler.wfile.write(body)
