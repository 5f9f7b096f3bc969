"""OpenAQ API v3: hourly means of a sensor, fetched politely, mapped to the canonical frame.

What this module does (``ingest/openaq_sources.py`` decides *what* to fetch and
stores it):

- :class:`OpenAQClient` — ``GET`` with the ``X-API-Key`` header, timeouts,
  retries with exponential backoff on 5xx answers and connection errors,
  HTTP 429 honoured with its ``Retry-After`` (seconds or an HTTP date), one
  clear line for 401/403/404 and for an answer that is not the v3 JSON.
- :class:`RateLimiter` — the documented limits (60 requests a minute, 2,000 an
  hour, per API key) kept over a whole run, with the clock and the sleep
  injectable so that tests never wait.
- pagination with ``limit`` (at most 1,000) / ``page`` and ``meta.found``, which
  v3 gives as a number or, when it did not count, as a string like ``">1000"``.
- :func:`read_hours` — ``/v3/sensors/{id}/hours`` results to the canonical long
  frame (``ingest/frame.py``): OpenAQ parameter → Lantian pollutant, the
  unrounded hourly mean (``summary.avg``) from the sensor's unit to the
  canonical unit (ppb/ppm converted at the reference state of standards §2),
  ``period.datetimeFrom.utc`` → start of the hour in China Standard Time
  (standards §3), and an hour whose ``coverage`` is under 45 minutes of
  sampling flagged ``low_coverage`` (standards §3), never valid.

The v3 hours endpoint labels an hour by its end in the database and filters
``datetime_from < end <= datetime_to`` (openaq-api-v2, v3/routers/measurements.py
and v3/models/queries.py); each result says its own ``period.datetimeFrom`` /
``datetimeTo``, which is what we read.
"""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Callable, Iterator

import numpy as np
import pandas as pd
import requests

from config.sites import CANONICAL_UNITS

from .errors import IngestError
from .frame import COLUMNS, empty_frame, unit_factor

DEFAULT_URL = "https://api.openaq.org"
API_KEY_VARIABLE = "OPENAQ_API_KEY"
REGISTER_URL = "https://explore.openaq.org/register"
# v3 Paging: 0 < limit <= 1000 (openaq-api-v2 v3/models/queries.py).
MAX_PAGE_LIMIT = 1000
# docs.openaq.org "Rate limits", general use: 60 / minute and 2,000 / hour per key.
RATE_LIMITS = ((60, 60.0), (2000, 3600.0))
# OpenAQ parameter name → Lantian pollutant. Other parameters (pm1, no, nox, bc,
# temperature, relativehumidity, um003 …) are not stored and are reported as such.
PARAMETER_POLLUTANT = {"so2": "SO2", "no2": "NO2", "co": "CO", "o3": "O3",
                       "pm10": "PM10", "pm25": "PM2.5"}
# Standards §2: gases at the reference state 298.15 K, 1013.25 hPa; ppb/ppm from
# OpenAQ are converted there (ingest.frame.unit_factor uses 1013.25 hPa).
REFERENCE_TEMPERATURE_C = 25.0
# Standards §3: an hourly value is valid with >= 45 minutes of sampling.
MIN_SAMPLED_MINUTES = 45.0
CST = timezone(timedelta(hours=8), "CST")
HOUR = timedelta(hours=1)


class OpenAQError(IngestError):
    """A request to OpenAQ that failed, explained on one line.

    ``stops_run`` is true when every further request would fail the same way
    (bad key, service down, rate limit far away): the run stops there, the
    cursors stay where they were and the next run fetches the gap.
    """

    def __init__(self, source, problem: str, *, expected: str = "", status: int | None = None,
                 stops_run: bool = False):
        super().__init__(source, problem, expected=expected)
        self.status = status
        self.stops_run = stops_run


# ----------------------------------------------------------------------------- rate limit

class RateLimiter:
    """At most ``n`` requests in any ``period`` seconds, for each ``(n, period)`` of ``limits``.

    A rolling window (the times of the requests sent) rather than a token bucket
    that starts full: a full bucket of 60 that refills at 1/s lets 120 requests
    through in one minute, which a server counting per minute would refuse. One
    limiter serves a whole run (every source, location and sensor), so the run as
    a whole keeps to the limits. ``pause`` holds every further request (the
    server said the period's allowance is used up).
    """

    def __init__(self, limits=RATE_LIMITS, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.limits = tuple((int(n), float(period)) for n, period in limits)
        if any(n < 1 or period <= 0 for n, period in self.limits):
            raise ValueError(f"rate limits must be positive: {limits!r}")
        self.clock = clock
        self.sleep = sleep
        self._sent: list[float] = []
        self._paused_until = -math.inf
        self.waited = 0.0

    def wait_time(self) -> float:
        """Seconds until the next request may go (0 when it may go now)."""
        now = self.clock()
        longest = max(period for _, period in self.limits)
        self._sent = [t for t in self._sent if t > now - longest]
        wait = self._paused_until - now
        for n, period in self.limits:
            recent = [t for t in self._sent if t > now - period]
            if len(recent) >= n:
                # The request n places back must leave the window first.
                wait = max(wait, recent[-n] + period - now)
        return max(wait, 0.0)

    def acquire(self) -> None:
        """Block until a request is allowed, then count it as sent."""
        while (wait := self.wait_time()) > 0:
            self.sleep(wait)
            self.waited += wait
        self._sent.append(self.clock())

    def pause(self, seconds: float) -> None:
        """Send nothing for ``seconds`` from now."""
        self._paused_until = max(self._paused_until, self.clock() + max(float(seconds), 0.0))


def retry_after_seconds(value, now: datetime | None = None) -> float | None:
    """A ``Retry-After`` header in seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if value is None:
        return None
    text = str(value).strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max((when - now).total_seconds(), 0.0)


def found_count(found) -> int | None:
    """``meta.found`` as a number, or None when v3 only says ``">1000"`` (more than a page)."""
    if isinstance(found, bool):
        return None
    if isinstance(found, int):
        return found
    if isinstance(found, str) and found.strip().isdigit():
        return int(found.strip())
    return None


# ----------------------------------------------------------------------------- client

class OpenAQClient:
    """The v3 endpoints Lantian reads, with retries, rate limits and clear errors.

    ``attempts`` counts every try of one request (the first and the retries);
    retries wait ``backoff``, 2×, 4× … seconds (at most ``max_backoff``), or what a
    429's ``Retry-After`` says. A ``Retry-After`` longer than ``max_retry_after``
    stops the run instead of blocking for hours.
    """

    def __init__(self, base_url: str, api_key: str, *, limiter: RateLimiter | None = None,
                 session: requests.Session | None = None, timeout=(10.0, 60.0),
                 attempts: int = 5, backoff: float = 1.0, max_backoff: float = 60.0,
                 max_retry_after: float = 900.0, page_limit: int = MAX_PAGE_LIMIT):
        if not 0 < page_limit <= MAX_PAGE_LIMIT:
            raise ValueError(f"page_limit must be 1…{MAX_PAGE_LIMIT}, not {page_limit}")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.limiter = limiter or RateLimiter()
        self.session = session or requests.Session()
        self.timeout = timeout
        self.attempts = max(int(attempts), 1)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after
        self.page_limit = page_limit
        self.requests_sent = 0

    # -- one request ------------------------------------------------------------------
    def get_json(self, path: str, params: dict | None = None, *, what: str = "") -> dict:
        """``GET base_url + path``; the decoded v3 document (a mapping with ``results``)."""
        source = f"OpenAQ {path}"
        what = what or path
        problem = ""
        for attempt in range(1, self.attempts + 1):
            self.limiter.acquire()
            self.requests_sent += 1
            delay = min(self.backoff * 2 ** (attempt - 1), self.max_backoff)
            try:
                response = self.session.get(
                    self.base_url + path, params=params, timeout=self.timeout,
                    headers={"X-API-Key": self.api_key, "Accept": "application/json",
                             "User-Agent": "lantian (air-quality compliance monitoring)"})
            except (requests.ConnectionError, requests.Timeout) as exc:
                problem = f"cannot reach {self.base_url} ({type(exc).__name__})"
            else:
                self._note_rate_headers(response)
                status = response.status_code
                if status == 429:
                    wait = retry_after_seconds(response.headers.get("Retry-After"))
                    if wait is not None and wait > self.max_retry_after:
                        raise OpenAQError(source, f"rate limit reached (HTTP 429), retry after "
                                          f"{wait:.0f} s", status=429, stops_run=True,
                                          expected="fewer requests per hour (60/min, 2,000/h "
                                          "per key); the next run continues where this stopped")
                    problem = "rate limit reached (HTTP 429)"
                    if wait is not None:
                        delay = wait
                elif status >= 500 or status == 408:
                    problem = f"the service answered HTTP {status}"
                elif status >= 400:
                    raise self._client_error(source, what, response)
                else:
                    return self._document(source, response)
            if attempt < self.attempts:
                self.limiter.sleep(delay)
        raise OpenAQError(source, f"{problem}; gave up after {self.attempts} attempts",
                          expected="OpenAQ reachable (check the network and "
                          "LANTIAN_OPENAQ_URL); the next run fetches what was missed",
                          stops_run=True)

    def _note_rate_headers(self, response) -> None:
        """Honour ``x-ratelimit-remaining: 0`` with its ``x-ratelimit-reset`` [s] (OpenAQ docs)."""
        remaining = response.headers.get("x-ratelimit-remaining")
        reset = retry_after_seconds(response.headers.get("x-ratelimit-reset"))
        if remaining is not None and remaining.strip() == "0" and reset is not None:
            self.limiter.pause(min(reset, self.max_retry_after))

    def _client_error(self, source: str, what: str, response) -> OpenAQError:
        status = response.status_code
        detail = _detail(response)
        if status == 401:
            return OpenAQError(source, f"OpenAQ refused the API key (HTTP 401{detail})",
                               status=401, stops_run=True,
                               expected=f"a valid key in {API_KEY_VARIABLE} (register at "
                               f"{REGISTER_URL})")
        if status == 403:
            return OpenAQError(source, f"OpenAQ forbids this request (HTTP 403{detail})",
                               status=403, stops_run=True,
                               expected=f"a key in {API_KEY_VARIABLE} that may read it; a "
                               "suspended key must be renewed on explore.openaq.org")
        if status == 404:
            return OpenAQError(source, f"{what} does not exist on OpenAQ (HTTP 404)",
                               status=404, expected="an existing id (look it up on "
                               "https://explore.openaq.org)")
        return OpenAQError(source, f"OpenAQ rejected the request (HTTP {status}{detail})",
                           status=status, expected="a request the v3 API accepts")

    @staticmethod
    def _document(source: str, response) -> dict:
        try:
            data = response.json()
        except ValueError:
            snippet = response.text[:60].replace("\n", " ")
            raise OpenAQError(source, f"the answer is not valid JSON ({snippet!r}…)",
                              expected="the JSON of the OpenAQ v3 API (check "
                              "LANTIAN_OPENAQ_URL); nothing of this request was stored") from None
        if not isinstance(data, dict) or not isinstance(data.get("results"), list):
            raise OpenAQError(source, "the answer has no 'results' list",
                              expected="an OpenAQ v3 document {meta, results}")
        return data

    # -- pagination -------------------------------------------------------------------
    def pages(self, path: str, params: dict | None = None, *, what: str = "",
              max_pages: int = 10_000) -> Iterator[list[dict]]:
        """The ``results`` of each page in turn, until a short page or ``meta.found`` is reached."""
        page = 1
        while True:
            data = self.get_json(path, {**(params or {}), "limit": self.page_limit,
                                        "page": page}, what=what)
            results = data["results"]
            yield results
            meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
            size = meta.get("limit") if isinstance(meta.get("limit"), int) else self.page_limit
            total = found_count(meta.get("found"))
            if len(results) < size or not results:
                return
            if total is not None and page * size >= total:
                return
            page += 1
            if page > max_pages:
                raise OpenAQError(f"OpenAQ {path}", f"more than {max_pages} pages",
                                  expected="a smaller time window")

    def all_results(self, path: str, params: dict | None = None, *, what: str = "") -> list[dict]:
        return [r for page in self.pages(path, params, what=what) for r in page]

    # -- the endpoints ----------------------------------------------------------------
    def location(self, location_id: int) -> dict:
        """``/v3/locations/{id}``: name, coordinates, locality, country, isMonitor, sensors."""
        results = self.get_json(f"/v3/locations/{int(location_id)}",
                                what=f"location {location_id}")["results"]
        if not results or not isinstance(results[0], dict):
            raise OpenAQError(f"OpenAQ /v3/locations/{location_id}",
                              f"location {location_id} does not exist on OpenAQ (empty answer)",
                              status=404, expected="an existing location id")
        return results[0]

    def location_sensors(self, location_id: int) -> list[dict]:
        """``/v3/locations/{id}/sensors``: each sensor's id, parameter and ``datetimeLast``."""
        return self.all_results(f"/v3/locations/{int(location_id)}/sensors",
                                what=f"location {location_id}")

    def locations_in_bbox(self, bbox, *, monitors_only: bool = True) -> list[dict]:
        """``/v3/locations?bbox=min lon,min lat,max lon,max lat`` (every page)."""
        params = {"bbox": ",".join(f"{float(v):.4f}" for v in bbox)}
        if monitors_only:
            params["monitor"] = "true"
        return self.all_results("/v3/locations", params, what=f"locations in {params['bbox']}")

    def sensor_hours(self, sensor_id: int, first_hour_utc: datetime,
                     end_utc: datetime) -> list[dict]:
        """``/v3/sensors/{id}/hours`` of the hours starting ``first_hour_utc`` … ending by ``end_utc``.

        Asks from one hour earlier: whether a server compares ``datetime_from``
        with the hour's end (v3 today) or its start, the first hour wanted is
        then included; :func:`read_hours` drops what lies outside the window.
        """
        params = {"datetime_from": iso_utc(first_hour_utc - HOUR), "datetime_to": iso_utc(end_utc)}
        return self.all_results(f"/v3/sensors/{int(sensor_id)}/hours", params,
                                what=f"sensor {sensor_id}")


def _detail(response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return ""
    if isinstance(detail, list):  # FastAPI validation errors
        detail = "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d)
                           for d in detail)
    return f": {str(detail)[:200]}" if detail else ""


# ----------------------------------------------------------------------------- time

def iso_utc(moment: datetime) -> str:
    """``2024-01-01T00:00:00Z``: always with the zone (v3 reads a naive time as local time)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc(text) -> datetime:
    """An ISO 8601 time with a zone (``…Z`` or ``…+00:00``) as an aware UTC datetime."""
    moment = datetime.fromisoformat(str(text).strip())
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return moment.astimezone(timezone.utc)


def cst_hour(moment_utc: datetime) -> datetime:
    """An aware instant → naive China Standard Time (UTC+8, no daylight saving)."""
    return moment_utc.astimezone(CST).replace(tzinfo=None)


def utc_of_cst(naive_cst: datetime) -> datetime:
    """Naive China Standard Time → aware UTC."""
    return naive_cst.replace(tzinfo=CST).astimezone(timezone.utc)


# ----------------------------------------------------------------------------- mapping

def pollutant_of(parameter: dict | None) -> str | None:
    """The Lantian pollutant of an OpenAQ ``parameter`` object; None when we do not store it."""
    if not isinstance(parameter, dict):
        return None
    return PARAMETER_POLLUTANT.get(str(parameter.get("name", "")).strip().casefold())


def sampled_minutes(coverage) -> float | None:
    """Minutes of the hour covered by sampling, from a v3 ``coverage`` object; None if unknown.

    ``percentCoverage`` is observed count × averaging interval / period (openaq-db
    ``calculate_coverage``): the share of the hour that was sampled. Without it,
    ``observedInterval`` (``"HH:MM:SS"``) is the sampled time itself.
    """
    if not isinstance(coverage, dict):
        return None
    percent = coverage.get("percentCoverage")
    if isinstance(percent, (int, float)) and not isinstance(percent, bool) and math.isfinite(percent):
        return min(max(float(percent), 0.0), 100.0) * 60.0 / 100.0
    interval = coverage.get("observedInterval")
    match = re.fullmatch(r"\s*(\d+):(\d{2}):(\d{2}(?:\.\d+)?)\s*", str(interval or ""))
    if match:
        hours, minutes, seconds = match.groups()
        return min(int(hours) * 60 + int(minutes) + float(seconds) / 60, 60.0)
    return None


def _converted(raw, factor: float) -> float | None:
    """``raw × factor`` when ``raw`` is a JSON number and the product is finite; None for
    text, booleans, ``Infinity``/``NaN`` and numbers past the float range (``1e308`` ppm,
    a 400-digit integer), which are stored as ``non_numeric``."""
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        return None
    try:
        value = float(raw) * factor
    except OverflowError:
        return None
    return value if math.isfinite(value) else None


def _hourly_mean(item: dict):
    """The hour's mean: ``summary.avg`` when given, else ``value``.

    v3 publishes ``value`` rounded to two significant digits (``sig_digits(value_avg,
    2)`` in openaq-api-v2 v3/routers/measurements.py: PM2.5 123.4 → 120, CO 0.537 →
    0.54) and the unrounded mean as ``summary.avg``. Standards §4 rounds once, at
    the end, so the unrounded mean is stored.
    """
    summary = item.get("summary")
    avg = summary.get("avg") if isinstance(summary, dict) else None
    if _converted(avg, 1.0) is not None:      # a finite JSON number
        return avg
    return item.get("value")


@dataclass(frozen=True)
class HourWindow:
    """Hours to keep, as hour starts in China Standard Time (both ends included)."""
    first: datetime
    last: datetime


def read_hours(results: list[dict], *, station: str, pollutant: str, window: HourWindow,
               source: str) -> pd.DataFrame:
    """v3 ``hours`` results of one sensor → the canonical long frame (``ingest/frame.py``).

    Hours outside ``window`` are dropped (the request asks for one hour more).
    ``frame.attrs['rows_read']`` counts the results inside the window.
    """
    factors: dict[str, float] = {}
    times, values, flags = [], [], []
    for i, item in enumerate(results):
        where = f"{source}, result {i + 1}"
        if not isinstance(item, dict):
            raise IngestError(where, "a result is not an object", expected="v3 hourly data")
        period = item.get("period") if isinstance(item.get("period"), dict) else {}
        try:
            start = parse_utc((period.get("datetimeFrom") or {}).get("utc"))
            end = parse_utc((period.get("datetimeTo") or {}).get("utc")) \
                if period.get("datetimeTo") else start + HOUR
        except (TypeError, ValueError, AttributeError):
            raise IngestError(where, "period.datetimeFrom.utc is missing or not an ISO time",
                              expected="e.g. \"2024-01-01T00:00:00Z\"") from None
        if end - start != HOUR or start.minute or start.second or start.microsecond:
            raise IngestError(where, f"the period {iso_utc(start)} … {iso_utc(end)} is not one "
                              "whole hour", expected="hourly means from /v3/sensors/{id}/hours")
        hour = cst_hour(start)
        if not window.first <= hour <= window.last:
            continue
        parameter = item.get("parameter") if isinstance(item.get("parameter"), dict) else {}
        units = str(parameter.get("units") or "")
        if units not in factors:
            factors[units] = unit_factor(pollutant, units,
                                         gas_temperature_c=REFERENCE_TEMPERATURE_C,
                                         source=where, option="parameter.units")
        raw = _hourly_mean(item)
        times.append(hour)
        if raw is None:
            values.append(np.nan)
            flags.append("missing")
        elif _converted(raw, factors[units]) is None:
            values.append(np.nan)
            flags.append("non_numeric")
        else:
            values.append(_converted(raw, factors[units]))
            minutes = sampled_minutes(item.get("coverage"))
            # Standards §3: under 45 minutes of sampling is no valid hourly value. An
            # hour without coverage information is taken as valid (same clause).
            flags.append("low_coverage" if minutes is not None and minutes < MIN_SAMPLED_MINUTES
                         else "ok")
    if not times:
        frame = empty_frame()
    else:
        n = len(times)
        frame = pd.DataFrame({
            "station": pd.Series([station] * n, dtype="str"),
            "time": pd.Series(np.array(times, dtype="datetime64[s]")),
            "pollutant": pd.Series([pollutant] * n, dtype="str"),
            "value": np.array(values, dtype="float64"),
            "unit": pd.Series([CANONICAL_UNITS[pollutant]] * n, dtype="str"),
            "flag": pd.Series(flags, dtype="str"),
        })[COLUMNS]
    frame.attrs["rows_read"] = len(times)
    return frame


def client_from_settings(settings, environ=None, *, limiter: RateLimiter | None = None,
                         ) -> OpenAQClient:
    """A client for ``settings.openaq_url`` with the key from ``OPENAQ_API_KEY``."""
    import os

    from config import ConfigError

    env = os.environ if environ is None else environ
    key = str(env.get(API_KEY_VARIABLE) or "").strip()
    if not key:
        raise ConfigError("environment", API_KEY_VARIABLE, "not set (OpenAQ API v3 needs a key)",
                          f"register at {REGISTER_URL}, then export {API_KEY_VARIABLE}=<your key>")
    return OpenAQClient(settings.openaq_url, key, limiter=limiter)
