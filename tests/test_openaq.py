"""OpenAQ API v3 ingest: conversions, pagination, rate limits, retries, errors, the incremental
pull, the CLI and the scheduler job — against a real HTTP server on 127.0.0.1 (tests/openaq_fake.py)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
import yaml
from sqlalchemy import func, select

from config import ConfigError
from ingest.errors import IngestError
from ingest.openaq import (HourWindow, OpenAQClient, OpenAQError, RateLimiter, found_count,
                           read_hours, retry_after_seconds, sampled_minutes)
from ingest.openaq_sources import (LocationSpec, OpenAQSource, PullWindow, parse_sources,
                                   run_pull)
from ingest.qc import FLAG_CODE
from store import schema
from store.db import data_version
from store.writer import read_hourly
from tests.conftest import BEIJING_SITES
from tests.openaq_fake import RECORDED_HOUR, FakeOpenAQ, hour_json

UTC = timezone.utc
JAN1 = datetime(2024, 1, 1, tzinfo=UTC)
NOW = datetime(2024, 1, 3, tzinfo=UTC)                  # 48 hours after JAN1
SINCE_JAN1 = PullWindow(since=datetime(2024, 1, 1).date(), now=NOW)
# 24.4654 L/mol = 22.41396954 L/mol × 298.15 / 273.15 (standards §2 reference state)
NO2_UG_PER_PPB = 46.0055 / 24.46540
CO_MG_PER_PPM = 28.010 / 24.46540


class FakeClock:
    """Time that only moves when something sleeps: rate limits and backoff cost nothing."""

    def __init__(self):
        self.now = 1_000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


@pytest.fixture
def fake():
    with FakeOpenAQ() as server:
        yield server


@pytest.fixture
def clock():
    return FakeClock()


def make_client(fake, clock, **options) -> OpenAQClient:
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    return OpenAQClient(fake.url, "test-key", limiter=limiter, **options)


def no2_values(n, start=0):
    return [10.0 + (i % 5) for i in range(start, start + n)]


def pm25_values(n, start=0):
    return [30.0 + (i % 7) for i in range(start, start + n)]


def dongsi(fake, hours=48, first=JAN1):
    """Location 2178 with NO2 (ppb), PM2.5 (µg/m³), CO (ppm) and temperature sensors."""
    fake.add_location(2178, "Dongsi", 39.9289, 116.4174,
                      sensors=[(101, "no2", "ppb"), (102, "pm25", "µg/m³"), (103, "co", "ppm"),
                               (104, "temperature", "c")])
    fake.add_hours(101, first, no2_values(hours))
    fake.add_hours(102, first, pm25_values(hours))
    fake.add_hours(103, first, [0.5 + 0.1 * (i % 3) for i in range(hours)])
    fake.add_hours(104, first, [2.0] * hours)


def stored(engine, code: str) -> pd.DataFrame:
    with engine.connect() as conn:
        sid = conn.execute(select(schema.stations.c.id).where(
            schema.stations.c.code == code)).scalar()
        if sid is None:
            return pd.DataFrame()
        return read_hourly(conn, [sid], np.datetime64("2000-01-01"), np.datetime64("2100-01-01"))


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


def cursor(engine, sensor_id: int):
    t = schema.openaq_sensors
    with engine.connect() as conn:
        return conn.execute(select(t.c.last_hour).where(t.c.id == sensor_id)).scalar()


SOURCE = OpenAQSource(name="test", locations=(LocationSpec(2178),))


# ----------------------------------------------------------------------------- mapping

def one_hour(value, name="no2", units="ppb", start=JAN1, coverage=100.0):
    return read_hours([hour_json(start, value, name, units, coverage)], station="S",
                      pollutant={"no2": "NO2", "co": "CO", "o3": "O3", "pm25": "PM2.5"}[name],
                      window=HourWindow(datetime(2000, 1, 1), datetime(2100, 1, 1)), source="t")


def test_recorded_hour_is_converted_and_moved_to_china_standard_time_hour_beginning():
    frame = read_hours([RECORDED_HOUR], station="S", pollutant="NO2",
                       window=HourWindow(datetime(2024, 1, 1), datetime(2024, 1, 2)), source="t")
    # 2024-01-01T00:00Z–01:00Z is the CST hour starting 08:00 (UTC+8, hour-beginning)
    assert frame["time"].tolist() == [pd.Timestamp("2024-01-01 08:00")]
    # 10 ppb NO2 × 46.0055 g/mol / 24.4654 L/mol (298.15 K, 1013.25 hPa) = 18.804 µg/m³
    assert frame["value"].iloc[0] == pytest.approx(18.804, abs=5e-4)
    assert frame["unit"].iloc[0] == "µg/m3" and frame["flag"].iloc[0] == "ok"


@pytest.mark.parametrize("name, units, value, expected, unit", [
    ("co", "ppm", 1.0, 1.1449, "mg/m3"),         # 28.010 / 24.4654
    ("o3", "ppm", 0.05, 98.092, "µg/m3"),        # 50 ppb × 47.997 / 24.4654
    ("co", "µg/m³", 1000.0, 1.0, "mg/m3"),
    ("pm25", "µg/m³", 35.0, 35.0, "µg/m3"),
])
def test_units_to_canonical(name, units, value, expected, unit):
    frame = one_hour(value, name, units)
    assert frame["value"].iloc[0] == pytest.approx(expected, abs=5e-4)
    assert frame["unit"].iloc[0] == unit


def test_the_unrounded_mean_is_stored():
    # v3 rounds `value` to two significant digits; summary.avg is the mean itself
    item = hour_json(JAN1, 120.0, "pm25", "µg/m³")
    item["summary"]["avg"] = 123.4
    frame = read_hours([item], station="S", pollutant="PM2.5",
                       window=HourWindow(datetime(2024, 1, 1), datetime(2024, 1, 2)), source="t")
    assert frame["value"].tolist() == [123.4]
    item["summary"] = None                                              # no summary: the value
    frame = read_hours([item], station="S", pollutant="PM2.5",
                       window=HourWindow(datetime(2024, 1, 1), datetime(2024, 1, 2)), source="t")
    assert frame["value"].tolist() == [120.0]


def test_coverage_under_45_minutes_is_flagged_not_valid():
    # standards §3: an hourly value needs >= 45 minutes of sampling (75 % of the hour)
    assert one_hour(20.0, coverage=74.0)["flag"].iloc[0] == "low_coverage"
    assert one_hour(20.0, coverage=75.0)["flag"].iloc[0] == "ok"
    assert one_hour(20.0, coverage=None)["flag"].iloc[0] == "ok"      # no coverage: valid
    assert sampled_minutes({"observedInterval": "00:30:00"}) == 30.0
    assert sampled_minutes({"percentCoverage": 150.0}) == 60.0
    missing = one_hour(None)
    assert missing["flag"].iloc[0] == "missing" and np.isnan(missing["value"].iloc[0])


def test_hours_outside_the_window_and_bad_results():
    rows = [hour_json(JAN1 + timedelta(hours=i), 1.0, "no2", "ppb") for i in range(3)]
    window = HourWindow(datetime(2024, 1, 1, 9), datetime(2024, 1, 1, 9))
    frame = read_hours(rows, station="S", pollutant="NO2", window=window, source="t")
    assert frame["time"].tolist() == [pd.Timestamp("2024-01-01 09:00")]
    assert frame.attrs["rows_read"] == 1
    nine = JAN1 + timedelta(hours=1)                    # 09:00 CST, inside the window
    bad_unit = hour_json(nine, 1.0, "no2", "ppt")
    with pytest.raises(IngestError, match="unknown unit 'ppt' for NO2"):
        read_hours([bad_unit], station="S", pollutant="NO2", window=window, source="t")
    two_hours = hour_json(nine, 1.0, "no2", "ppb")
    two_hours["period"]["datetimeTo"]["utc"] = "2024-01-01T03:00:00Z"
    with pytest.raises(IngestError, match="not one whole hour"):
        read_hours([two_hours], station="S", pollutant="NO2", window=window, source="t")


def test_found_and_retry_after():
    assert found_count(523) == 523 and found_count("523") == 523
    assert found_count(">1000") is None and found_count(None) is None
    assert retry_after_seconds("7") == 7.0
    now = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    assert retry_after_seconds("Mon, 01 Jan 2024 12:00:30 GMT", now=now) == 30.0
    assert retry_after_seconds("soon") is None


# ----------------------------------------------------------------------------- rate limiter

def test_rate_limiter_keeps_every_window(clock):
    limiter = RateLimiter(((3, 60.0), (5, 3600.0)), clock=clock, sleep=clock.sleep)
    for _ in range(3):
        limiter.acquire()
    assert clock.sleeps == []
    limiter.acquire()                        # the 4th in a minute waits for the 1st to age out
    assert clock.sleeps == [60.0]
    limiter.acquire()                        # 5th: a new minute, 5 in the hour
    limiter.acquire()                        # 6th: the hour's 5 are used up until t0 + 3600
    assert clock.sleeps == [60.0, 3540.0]
    limiter.pause(10)
    limiter.acquire()
    assert clock.sleeps[-1] == 10.0


def test_documented_limits_hold_over_a_run(clock):
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)    # 60/min, 2,000/h
    sent = []
    for _ in range(2100):
        limiter.acquire()
        sent.append(clock.now)
    sent = np.array(sent)
    per_minute = max(np.searchsorted(sent, t + 60, side="left") - i for i, t in enumerate(sent))
    per_hour = max(np.searchsorted(sent, t + 3600, side="left") - i for i, t in enumerate(sent))
    assert per_minute == 60 and per_hour == 2000


# ----------------------------------------------------------------------------- the client

def test_pagination_follows_meta_found(fake, clock):
    fake.add_location(7, "X", 40.0, 116.0, sensors=[(701, "no2", "ppb")])
    fake.add_hours(701, JAN1, no2_values(250))
    client = make_client(fake, clock, page_limit=100)
    rows = client.sensor_hours(701, JAN1, JAN1 + timedelta(hours=250))
    assert len(rows) == 250
    assert [r.query["page"] for r in fake.requests_to("/hours")] == ["1", "2", "3"]
    assert {r.query["limit"] for r in fake.requests_to("/hours")} == {"100"}
    # asks from one hour before the first hour wanted, always with the zone
    assert fake.requests_to("/hours")[0].query["datetime_from"] == "2023-12-31T23:00:00Z"
    # 250 = 2.5 pages: "found" is ">100" on full pages; an exact count stops without a last request
    fake.add_location(8, "Y", 40.1, 116.1)
    fake.add_location(9, "Z", 40.2, 116.2)
    fake.add_location(10, "W", 40.3, 116.3)
    # 4 locations in pages of 2: the second page is full, found = 4 says it is the last
    located = make_client(fake, clock, page_limit=2).locations_in_bbox([115, 39, 117, 41])
    assert [loc["id"] for loc in located] == [7, 8, 9, 10]
    pages = [r.query["page"] for r in fake.requests_to("/v3/locations") if r.path == "/v3/locations"]
    assert pages == ["1", "2"]


def test_429_retry_after_is_honoured(fake, clock):
    dongsi(fake)
    fake.fail("/v3/sensors/101/hours", 429, headers={"Retry-After": "7"})
    rows = make_client(fake, clock).sensor_hours(101, JAN1, NOW)
    assert len(rows) == 48
    assert clock.sleeps == [7.0]
    assert len(fake.requests_to("/v3/sensors/101/hours")) == 2


def test_429_with_a_retry_after_too_far_stops_the_run(fake, clock):
    dongsi(fake)
    fake.fail("/v3/sensors/101/hours", 429, headers={"Retry-After": "7200"})
    with pytest.raises(OpenAQError, match="retry after 7200 s") as caught:
        make_client(fake, clock).sensor_hours(101, JAN1, NOW)
    assert caught.value.stops_run and clock.sleeps == []


def test_500_then_success(fake, clock):
    dongsi(fake)
    fake.fail("/v3/sensors/101/hours", 500)
    rows = make_client(fake, clock, backoff=1.0).sensor_hours(101, JAN1, NOW)
    assert len(rows) == 48 and clock.sleeps == [1.0]


def test_5xx_every_time_gives_up_with_backoff(fake, clock):
    dongsi(fake)
    fake.fail("/v3/sensors/101/hours", 502, times=10)
    with pytest.raises(OpenAQError, match="HTTP 502; gave up after 3 attempts") as caught:
        make_client(fake, clock, attempts=3, backoff=1.0).sensor_hours(101, JAN1, NOW)
    assert caught.value.stops_run and clock.sleeps == [1.0, 2.0]


def test_unreachable_service(clock):
    with FakeOpenAQ() as gone:
        url = gone.url
    client = OpenAQClient(url, "k", limiter=RateLimiter(clock=clock, sleep=clock.sleep),
                          attempts=2, timeout=(2, 2))
    with pytest.raises(OpenAQError, match="cannot reach http://127.0.0.1.*gave up after 2"):
        client.location(1)


@pytest.mark.parametrize("setup, call, words", [
    (lambda f: None, lambda c: c.location(2178), "OpenAQ refused the API key (HTTP 401"),
    (lambda f: f.forbidden.add(2178), lambda c: c.location(2178), "forbids this request (HTTP 403"),
    (lambda f: None, lambda c: c.location(999), "location 999 does not exist on OpenAQ (HTTP 404)"),
])
def test_http_errors_are_one_clear_line(fake, clock, setup, call, words):
    dongsi(fake)
    setup(fake)
    client = make_client(fake, clock)
    if "401" in words:
        client.api_key = "wrong"
    with pytest.raises(OpenAQError) as caught:
        call(client)
    assert words in str(caught.value) and "\n" not in str(caught.value)
    if "401" in words:
        assert "OPENAQ_API_KEY" in str(caught.value) and caught.value.stops_run


def test_malformed_json_is_a_clear_error(fake, clock):
    dongsi(fake)
    fake.fail("/v3/locations/2178", 200, body=b'{"meta": {"name": "openaq-api", "page": 1')
    with pytest.raises(OpenAQError, match="the answer is not valid JSON"):
        make_client(fake, clock).location(2178)


# ----------------------------------------------------------------------------- the pull

def test_first_pull_creates_the_station_and_stores_converted_hours(engine, fake, clock):
    dongsi(fake)
    report = run_pull(engine, make_client(fake, clock), [SOURCE], request=SINCE_JAN1)
    assert report.failures == [] and report.created_stations == ["openaq-2178"]
    with engine.connect() as conn:
        st = conn.execute(select(schema.stations).where(
            schema.stations.c.code == "openaq-2178")).one()
    assert (st.name_en, st.lon, st.lat, st.role, st.origin) == (
        "Dongsi", 116.4174, 39.9289, "evaluation", "openaq")
    rows = stored(engine, "openaq-2178")
    # 48 hours, JAN1 00Z = 08:00 CST, up to the last hour ended by NOW (2024-01-03 07:00 CST)
    assert len(rows) == 48
    assert rows["ts"].iloc[0] == pd.Timestamp("2024-01-01 08:00")
    assert rows["ts"].iloc[-1] == pd.Timestamp("2024-01-03 07:00")
    assert rows["no2"].to_numpy() == pytest.approx(np.array(no2_values(48)) * NO2_UG_PER_PPB)
    assert rows["pm25"].to_numpy() == pytest.approx(pm25_values(48))
    assert rows["co"].iloc[1] == pytest.approx(0.6 * CO_MG_PER_PPM)
    assert (rows["no2_flag"] == 0).all() and (rows["so2_flag"] == FLAG_CODE["missing"]).all()
    assert any("temperature" in item for item in report.not_followed)
    assert cursor(engine, 101) == datetime(2024, 1, 3, 7)
    with engine.connect() as conn:
        runs = conn.execute(select(schema.ingest_runs.c.reader, schema.ingest_runs.c.status,
                                   schema.ingest_runs.c.readings_new)).all()
    assert sorted(runs) == [("openaq", "ok", 48)] * 3
    assert report.readings_new == 144


def test_rerun_loads_nothing_twice_and_asks_only_for_new_hours(engine, fake, clock):
    dongsi(fake)
    client = make_client(fake, clock)
    run_pull(engine, client, [SOURCE], request=SINCE_JAN1)
    with engine.connect() as conn:
        version = data_version(conn)
    runs, hours_requests = count(engine, schema.ingest_runs), len(fake.requests_to("/hours"))
    again = run_pull(engine, client, [SOURCE], request=PullWindow(now=NOW))
    assert again.up_to_date == 3 and again.results == []
    assert len(fake.requests_to("/hours")) == hours_requests          # not even asked
    assert count(engine, schema.ingest_runs) == runs and len(stored(engine, "openaq-2178")) == 48
    with engine.connect() as conn:
        assert data_version(conn) == version
    # six new hours: asked from the cursor on, stored once
    for sensor, values in ((101, no2_values(6, 48)), (102, pm25_values(6, 48)), (103, [0.5] * 6)):
        fake.add_hours(sensor, NOW, values)
    later = run_pull(engine, client, [SOURCE], request=PullWindow(now=NOW + timedelta(hours=6)))
    asked = fake.requests_to("/v3/sensors/101/hours")[-1].query
    assert asked["datetime_from"] == "2024-01-02T23:00:00Z"           # last stored hour's start
    assert asked["datetime_to"] == "2024-01-03T06:00:00Z"
    assert later.readings_new == 18 and later.readings_changed == 0
    assert len(stored(engine, "openaq-2178")) == 54
    # asking again from the first day (--since) stores nothing twice
    repeat = run_pull(engine, client, [SOURCE], request=PullWindow(
        since=SINCE_JAN1.since, now=NOW + timedelta(hours=6)))
    assert repeat.readings_new == 0 and repeat.readings_changed == 0
    assert all(r.status == "unchanged" for r in repeat.results)
    assert len(stored(engine, "openaq-2178")) == 54


def test_a_day_of_outage_is_back_filled_on_the_next_run(engine, fake, clock):
    dongsi(fake, hours=24)
    client = make_client(fake, clock, attempts=3)
    run_pull(engine, client, [SOURCE], request=PullWindow(since=SINCE_JAN1.since,
                                                          now=JAN1 + timedelta(hours=24)))
    assert len(stored(engine, "openaq-2178")) == 24
    before = cursor(engine, 101)
    fake.down = True
    down = run_pull(engine, client, [SOURCE], request=PullWindow(now=NOW))
    assert down.aborted and "HTTP 503" in down.aborted and down.readings_new == 0
    assert cursor(engine, 101) == before
    fake.down = False
    for sensor, values in ((101, no2_values(24, 24)), (102, pm25_values(24, 24)),
                           (103, [0.5] * 24)):
        fake.add_hours(sensor, JAN1 + timedelta(hours=24), values)
    back = run_pull(engine, client, [SOURCE], request=PullWindow(now=NOW + timedelta(hours=1)))
    assert back.failures == [] and back.readings_new == 72
    rows = stored(engine, "openaq-2178")
    hours = rows["ts"].to_numpy("datetime64[h]")
    assert len(rows) == 48 and (np.diff(hours) == np.timedelta64(1, "h")).all()
    assert rows["no2"].to_numpy() == pytest.approx(np.array(no2_values(48)) * NO2_UG_PER_PPB)


def test_a_malformed_page_stores_nothing_of_that_window(engine, fake, clock):
    dongsi(fake, hours=250)
    fake.fail("/v3/sensors/101/hours", 200, body=b'{"meta": {"found": ">100"}, "results": [',
              query={"page": 2})
    client = make_client(fake, clock, page_limit=100)
    report = run_pull(engine, client, [SOURCE], request=PullWindow(
        since=SINCE_JAN1.since, now=JAN1 + timedelta(hours=250)))
    assert len(report.failures) == 1 and "sensor 101" in report.failures[0]
    assert "not valid JSON" in report.failures[0] and not report.aborted
    rows = stored(engine, "openaq-2178")
    assert rows["no2"].isna().all() and (rows["no2_flag"] == FLAG_CODE["missing"]).all()
    assert rows["pm25"].notna().sum() == 250                         # the other sensors load
    assert cursor(engine, 101) is None and cursor(engine, 102) is not None
    with engine.connect() as conn:
        failed = conn.execute(select(schema.ingest_runs.c.file, schema.ingest_runs.c.message)
                              .where(schema.ingest_runs.c.status == "failed")).all()
    assert len(failed) == 1 and "sensor 101" in failed[0].file and "JSON" in failed[0].message
    # the next run gets the whole window (a sensor without cursor starts at the source's since)
    configured = OpenAQSource("test", (LocationSpec(2178),), since=SINCE_JAN1.since)
    again = run_pull(engine, client, [configured],
                     request=PullWindow(now=JAN1 + timedelta(hours=250)))
    assert again.failures == [] and stored(engine, "openaq-2178")["no2"].notna().sum() == 250


def test_low_coverage_hours_are_stored_flagged_and_not_counted(engine, fake, clock):
    from store.frames import hourly_frame
    from store.queries import status_frame
    fake.add_location(55, "Partial", 39.9, 116.3, sensors=[(551, "pm25", "µg/m³")])
    fake.add_hours(551, JAN1, [40.0, 41.0, 42.0, 43.0], coverage=[100.0, 50.0, 74.9, 75.0])
    run_pull(engine, make_client(fake, clock), [OpenAQSource("t", (LocationSpec(55),))],
             request=SINCE_JAN1)
    rows = stored(engine, "openaq-55")
    assert rows["pm25"].tolist() == [40.0, 41.0, 42.0, 43.0]          # kept, with the flag
    assert rows["pm25_flag"].tolist() == [0, FLAG_CODE["low_coverage"],
                                          FLAG_CODE["low_coverage"], 0]
    with engine.connect() as conn:
        values = hourly_frame(conn)["PM2.5"].tolist()
        status = status_frame(conn)
    assert values[0] == 40.0 and np.isnan(values[1]) and np.isnan(values[2]) and values[3] == 43.0
    row = status[status["pollutant"] == "PM2.5"].iloc[0]
    assert (row["readings"], row["flagged"]) == (2, 2)


def test_qc_sees_the_stored_hours_of_earlier_pulls(engine, fake, clock):
    # 30 identical hours arrive in two pulls of 15: alone neither is 24 stuck hours
    fake.add_location(56, "Stuck", 39.9, 116.3, sensors=[(561, "pm25", "µg/m³")])
    fake.add_hours(561, JAN1, [50.0] * 15)
    client = make_client(fake, clock)
    source = OpenAQSource("t", (LocationSpec(56),))
    run_pull(engine, client, [source], request=PullWindow(since=SINCE_JAN1.since,
                                                          now=JAN1 + timedelta(hours=15)))
    assert (stored(engine, "openaq-56")["pm25_flag"] == 0).all()
    fake.add_hours(561, JAN1 + timedelta(hours=15), [50.0] * 15)
    second = run_pull(engine, client, [source], request=PullWindow(now=JAN1 + timedelta(hours=30)))
    flags = stored(engine, "openaq-56")["pm25_flag"]
    assert len(flags) == 30 and (flags == FLAG_CODE["stuck"]).all()
    assert second.readings_new == 15 and second.readings_changed == 15
    assert "re-flagged" in second.results[0].message


def test_bbox_district_and_site_file_station(engine, fake, clock):
    from config.sites import load_site_config
    from store.sites import sync_site_config
    with engine.begin() as conn:
        sync_site_config(conn, load_site_config(BEIJING_SITES))
    dongsi(fake, hours=3)
    fake.add_location(60, "Low-cost", 39.95, 116.40, is_monitor=False, sensors=[(601, "pm25", "µg/m³")])
    fake.add_location(61, "Tiantan", 39.886, 116.407, sensors=[(611, "pm25", "µg/m³")])
    fake.add_location(62, "Shanghai", 31.2, 121.4, locality="Shanghai", sensors=[(621, "pm25", "µg/m³")])
    fake.add_hours(611, JAN1, [20.0, 21.0])
    with engine.connect() as conn:
        dongsi_site = conn.execute(select(schema.stations.c.id, schema.stations.c.district_id)
                                   .where(schema.stations.c.code == "1003A")).one()
    source = OpenAQSource("beijing", locations=(LocationSpec(2178, station="1003A"),),
                          bbox=(116.2, 39.8, 116.6, 40.1), city="beijing", district="dongcheng")
    report = run_pull(engine, make_client(fake, clock), [source], request=SINCE_JAN1)
    assert report.failures == [] and report.created_stations == ["openaq-61"]
    bbox_request = [r for r in fake.requests if r.path == "/v3/locations"][0].query
    assert bbox_request["bbox"] == "116.2000,39.8000,116.6000,40.1000"
    assert bbox_request["monitor"] == "true"
    assert fake.requests_to("/v3/locations/2178") and not [
        r for r in fake.requests if r.path == "/v3/locations/2178"]   # the station existed
    assert stored(engine, "1003A")["no2"].notna().sum() == 3
    with engine.connect() as conn:
        s, d = schema.stations, schema.districts
        rows = {r.code: r for r in conn.execute(
            select(s.c.code, s.c.district_id, s.c.city_id, d.c.code.label("district"))
            .select_from(s.outerjoin(d, d.c.id == s.c.district_id))
            .where(s.c.code.in_(["1003A", "openaq-61"])))}
    assert rows["openaq-61"].district == "dongcheng" and rows["openaq-61"].city_id == "beijing"
    assert rows["1003A"].district_id == dongsi_site.district_id      # the site file's district


def test_unknown_district_fails_before_any_request(engine, fake, clock):
    dongsi(fake)
    source = OpenAQSource("t", (LocationSpec(2178, district="nowhere"),))
    with pytest.raises(ConfigError, match="district 'nowhere'"):
        run_pull(engine, make_client(fake, clock), [source], request=SINCE_JAN1)
    assert fake.requests == []


def test_second_sensor_of_a_pollutant_is_not_followed(engine, fake, clock):
    fake.add_location(70, "Twin", 39.9, 116.3, sensors=[(702, "pm25", "µg/m³"),
                                                        (701, "pm25", "µg/m³")])
    fake.add_hours(701, JAN1, [10.0] * 2)
    fake.add_hours(702, JAN1, [99.0] * 2)
    report = run_pull(engine, make_client(fake, clock), [OpenAQSource("t", (LocationSpec(70),))],
                      request=SINCE_JAN1)
    assert stored(engine, "openaq-70")["pm25"].tolist() == [10.0, 10.0]
    assert any("sensor 702" in item for item in report.not_followed)


def test_bad_key_stops_the_run_and_changes_nothing(engine, fake, clock):
    dongsi(fake)
    client = make_client(fake, clock)
    client.api_key = "expired"
    report = run_pull(engine, client, [SOURCE], request=SINCE_JAN1)
    assert "HTTP 401" in report.aborted and report.requests == 1
    assert count(engine, schema.stations) == 0 and count(engine, schema.hourly) == 0


# ----------------------------------------------------------------------------- config

@pytest.mark.parametrize("item, words", [
    ({"kind": "openaq"}, "neither 'locations' nor 'bbox'"),
    ({"kind": "csv", "locations": [1]}, "'csv' is not a source kind"),
    ({"kind": "openaq", "locations": [1], "every": 2}, "sources[0].every: unknown key"),
    ({"kind": "openaq", "bbox": [116.6, 39.8, 116.2, 40.1]}, "is not a box"),
    ({"kind": "openaq", "bbox": [1, 2, 3]}, "is not four numbers"),
    ({"kind": "openaq", "locations": ["abc"]}, "'abc' is not an OpenAQ location id"),
    ({"kind": "openaq", "locations": [{"id": 1, "role": "boss"}]}, "'boss' is not a station role"),
    ({"kind": "openaq", "locations": [1], "since": "last week"}, "'last week' is not a date"),
    ({"kind": "openaq", "locations": [1], "lookback_hours": -1}, "is not 0…744 hours"),
])
def test_source_config_mistakes_are_clear(item, words):
    with pytest.raises(ConfigError) as caught:
        parse_sources([item], "settings.yaml")
    assert words in str(caught.value) and str(caught.value).startswith("settings.yaml: sources[0]")


def test_sources_from_the_settings_file(tmp_path):
    from config.settings import load_settings
    from ingest.openaq_sources import sources_from_settings
    f = tmp_path / "settings.yaml"
    f.write_text(yaml.safe_dump({"sources": [
        {"kind": "openaq", "name": "bj", "city": "beijing", "district": "dongcheng",
         "since": "2024-01-01", "locations": [2178, {"id": 2179, "station": "1011A"}]},
        {"kind": "openaq", "bbox": "116.2,39.8,116.6,40.1", "monitors_only": False}]}))
    settings = load_settings({"LANTIAN_SETTINGS": str(f),
                              "LANTIAN_OPENAQ_URL": "http://127.0.0.1:9/"})
    assert settings.openaq_url == "http://127.0.0.1:9"
    bj, box = sources_from_settings(settings)
    assert (bj.name, bj.city, bj.district, str(bj.since)) == ("bj", "beijing", "dongcheng",
                                                               "2024-01-01")
    assert bj.locations == (LocationSpec(2178), LocationSpec(2179, station="1011A"))
    assert (box.name, box.bbox, box.monitors_only) == ("openaq-2", (116.2, 39.8, 116.6, 40.1),
                                                       False)
    f.write_text(yaml.safe_dump({"sources": [{"kind": "openaq", "name": "a", "locations": [1]},
                                             {"kind": "openaq", "name": "a", "locations": [2]}]}))
    with pytest.raises(ConfigError, match="duplicate source name 'a'"):
        sources_from_settings(load_settings({"LANTIAN_SETTINGS": str(f)}))
    f.write_text("sources: {kind: openaq}\n")
    with pytest.raises(ConfigError, match="sources: expected a list"):
        load_settings({"LANTIAN_SETTINGS": str(f)})
    with pytest.raises(ConfigError, match="LANTIAN_OPENAQ_URL: 'ftp://x' is not an http"):
        load_settings({"LANTIAN_SETTINGS": "", "LANTIAN_OPENAQ_URL": "ftp://x"})


# ----------------------------------------------------------------------------- CLI

def test_cli_end_to_end(cli, fake, monkeypatch):
    dongsi(fake)
    monkeypatch.setenv("LANTIAN_OPENAQ_URL", fake.url)
    monkeypatch.delenv("OPENAQ_API_KEY", raising=False)
    assert cli("init").exit_code == 0
    args = ("ingest", "openaq", "--location", 2178, "--since", "2024-01-01", "--until", "2024-01-02")
    missing_key = cli(*args)
    assert missing_key.exit_code == 1 and "OPENAQ_API_KEY: not set" in missing_key.output
    assert "Traceback" not in missing_key.output and fake.requests == []
    monkeypatch.setenv("OPENAQ_API_KEY", "test-key")
    first = cli(*args)
    assert first.exit_code == 0, first.output
    text = " ".join(first.output.split())
    # --until 2024-01-02 (CST) ends with the hour 23:00 CST: 40 of the fake's 48 hours
    assert "OpenAQ sensor 101 (openaq-2178 NO2) 2024-01-01 08:00 … 2024-01-02 23:00 CST: " \
           "40 readings read, 40 new" in text
    assert "not followed: location 2178: temperature" in text
    assert "new stations: openaq-2178" in text
    status = cli("status", "--format", "csv")
    assert "openaq-2178,NO2,40,2024-01-01 08:00,2024-01-02 23:00" in status.output
    again = cli(*args)
    assert again.exit_code == 0
    assert "nothing new to store (identical to the file loaded in run #" in again.output
    missing = cli("ingest", "openaq", "--location", 999, "--since", "2024-01-01", "-q")
    assert missing.exit_code == 1 and "Traceback" not in missing.output
    assert "location 999 does not exist on OpenAQ (HTTP 404)" in " ".join(missing.output.split())
    bad = cli("ingest", "openaq", "--bbox", "1,2,3")
    assert bad.exit_code == 1 and "--bbox: '1,2,3' is not four numbers" in bad.output
    nothing = cli("ingest", "openaq")
    assert nothing.exit_code == 1 and "nothing to pull" in nothing.output


def test_cli_configured_source_with_district(cli, fake, monkeypatch, tmp_path):
    dongsi(fake)
    settings = tmp_path / "settings.yaml"
    settings.write_text(yaml.safe_dump({"sources": [
        {"kind": "openaq", "name": "dongcheng", "city": "beijing", "district": "dongcheng",
         "locations": [2178]}]}))
    monkeypatch.setenv("LANTIAN_SETTINGS", str(settings))
    monkeypatch.setenv("LANTIAN_OPENAQ_URL", fake.url)
    monkeypatch.setenv("OPENAQ_API_KEY", "test-key")
    assert cli("init", "--sites", BEIJING_SITES).exit_code == 0
    result = cli("ingest", "openaq", "--source", "dongcheng", "--since", "2024-01-01",
                 "--until", "2024-01-01", "-q")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == ""                                # quiet
    unknown = cli("ingest", "openaq", "--source", "xicheng")
    assert unknown.exit_code == 1 and "no source named 'xicheng'" in unknown.output


# ----------------------------------------------------------------------------- scheduler

def test_scheduler_openaq_job(engine, db_url, fake, clock, tmp_path):
    from config.settings import load_settings
    from lantian.scheduler import build_scheduler, jobs_from_settings, run_job, run_openaq
    dongsi(fake)
    f = tmp_path / "settings.yaml"
    document = {"database_url": db_url,
                "sources": [{"kind": "openaq", "name": "dongsi", "locations": [2178],
                             "since": "2024-01-01"}],
                "jobs": [{"kind": "openaq", "name": "openaq-hourly", "cron": "20 * * * *",
                          "sources": ["dongsi"]}]}
    f.write_text(yaml.safe_dump(document))
    settings = load_settings({"LANTIAN_SETTINGS": str(f), "LANTIAN_OPENAQ_URL": fake.url})
    jobs = jobs_from_settings(settings)
    assert [(j.name, j.kind, j.options) for j in jobs] == [
        ("openaq-hourly", "openaq", {"sources": ["dongsi"]})]
    from apscheduler.schedulers.background import BackgroundScheduler
    scheduler = build_scheduler(jobs, BackgroundScheduler)
    fire = scheduler.get_job("openaq-hourly").trigger.get_next_fire_time(
        None, datetime(2024, 1, 3, 8, 0, tzinfo=timezone(timedelta(hours=8))))
    assert (fire.hour, fire.minute) == (8, 20)                          # hourly, CST
    counts = run_openaq(jobs[0], settings, client=make_client(fake, clock), now=NOW)
    assert counts["sensors"] == 3 and counts["failed"] == 0 and counts["new"] == 144
    assert len(stored(engine, "openaq-2178")) == 48
    # run_job as the scheduler calls it: the key comes from the environment
    with pytest.raises(ConfigError, match="OPENAQ_API_KEY"):
        import os
        saved = os.environ.pop("OPENAQ_API_KEY", None)
        try:
            run_job(jobs[0], settings)
        finally:
            if saved is not None:
                os.environ["OPENAQ_API_KEY"] = saved
    document["jobs"][0]["sources"] = ["elsewhere"]
    f.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError, match="no source named 'elsewhere'"):
        jobs_from_settings(load_settings({"LANTIAN_SETTINGS": str(f)}))
    document["jobs"][0]["sources"] = "dongsi"
    f.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError, match="jobs\\[0\\].sources: expected a list"):
        jobs_from_settings(load_settings({"LANTIAN_SETTINGS": str(f)}))
