"""The daily statistics table (store/daily.py): kept by every write, and the dashboard's
city-year computed from it is the city-year computed from the hourly values, exactly.

Identity is checked column by column (``assert_frame_equal(check_exact=True)``, dtypes
and categories included) on the real Beijing data and on a synthetic network loaded
the awkward ways real loads happen (whole years, half days, corrections of one
pollutant, values with many decimals that take the float path of the averaging,
QC-excluded values, stations starting mid-day), on SQLite and PostgreSQL.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from config.sites import load_site_config
from ingest.frame import long_from_wide
from ingest.loader import LoadResult, load_frame, start_run
from store import daily as station_daily
from store.sites import sync_site_config

PROFILES = [None, "cn-2026-final", "us-epa-2024", "who-2021"]

# -- a small SYNTHETIC network ------------------------------------------------------------

SITE = """\
city: {{id: {city}, name_zh: 合成{city}, name_en: Synthetic {city}, synthetic: true}}
districts:
{districts}
stations:
{stations}
"""


def write_site(tmp_path, city: str, n_districts: int, per_district: int, prefix: str,
               grade: str = "II"):
    districts = "\n".join(f"  - {{id: {city}-d{i}, name_zh: 区{i}, name_en: D{i}, grade: {grade}}}"
                          for i in range(n_districts))
    stations = "\n".join(
        f"  - {{code: {prefix}{i:03d}, name_zh: 站{i}, name_en: S{i}, "
        f"district: {city}-d{i // per_district}, lon: 116.{i:03d}, lat: 39.{i:03d}}}"
        for i in range(n_districts * per_district))
    path = tmp_path / f"{city}.yaml"
    path.write_text(SITE.format(city=city, districts=districts, stations=stations),
                    encoding="utf-8")
    return load_site_config(path)


def synthetic_values(codes, times, seed: int, decimals: dict | None = None):
    """{pollutant: (stations × hours) array}: cycles, noise, 4 % gaps, a few negatives."""
    rng = np.random.default_rng(seed)
    n_st, n_h = len(codes), len(times)
    hour = (times.astype("datetime64[h]").astype(np.int64) % 24)[None, :]
    levels = {"SO2": 12, "NO2": 35, "PM10": 80, "PM2.5": 45, "CO": 0.9, "O3": 70}
    out = {}
    for p, level in levels.items():
        cycle = 1 + (0.6 if p == "O3" else 0.2) * np.sin(2 * np.pi * (hour - 9) / 24)
        v = level * cycle * rng.lognormal(0, 0.4, size=(n_st, n_h))
        places = (decimals or {}).get(p, 1 if p == "CO" else 0)
        v = v if places is None else np.round(v, places)
        v[rng.random((n_st, n_h)) < 0.04] = np.nan
        v[rng.random((n_st, n_h)) < 0.002] = -3.0          # QC: negative, excluded
        out[p] = v
    return out


def frame_of(codes, times, values, pollutants=None, hours=None):
    """The canonical long frame of (stations × hours) arrays, optionally only some hours
    (a boolean mask over ``times``) and pollutants."""
    keep = np.ones(len(times), bool) if hours is None else hours
    t = times[keep]
    stations = np.repeat(np.asarray(codes, dtype=object), len(t))
    columns = {}
    for p in pollutants or list(values):
        v = values[p][:, keep].reshape(-1)
        columns[p] = (v, np.isnan(v), np.zeros(len(v), bool))
    f = long_from_wide(np.tile(t, len(codes)), stations, columns)
    f.attrs["rows_read"] = len(t) * len(codes)
    return f


def load(engine, frame, name):
    result = LoadResult(file=name, reader="test")
    result.run_id, _ = start_run(engine, "test", name, name, {})
    with engine.begin() as conn:
        return load_frame(conn, frame, result)


def build_network(engine, tmp_path):
    """Two SYNTHETIC cities loaded piece by piece; returns {city: years}.

    * ``alpha``: integers (CO one decimal), 3 districts × 3 stations, 2024-12 … 2025-02
      loaded as whole days, then 2025-03 in two half-day loads (12 h + 12 h per day: the
      daily rows are completed from what is stored), then a correction of NO2 only
      (an upsert that leaves the other pollutants as stored); one station starts at
      13:00 on its first day.
    * ``beta``: NO2 and SO2 converted from ppb (many decimals: the float path of the
      averaging), PM2.5 with two decimals, 2 districts × 2 stations, grade I.
    """
    alpha = write_site(tmp_path, "alpha", 3, 3, "AL")
    beta = write_site(tmp_path, "beta", 2, 2, "BE", grade="I")
    with engine.begin() as conn:
        sync_site_config(conn, alpha)
        sync_site_config(conn, beta)
    a_codes = [s.code for s in alpha.stations]
    times = np.arange(np.datetime64("2024-12-01T00"), np.datetime64("2025-04-01T00"),
                      np.timedelta64(1, "h")).astype("datetime64[s]")
    values = synthetic_values(a_codes, times, seed=11)
    values["PM10"][0, : 24 * 10 + 13] = np.nan                    # AL000 starts late …
    winter = times < np.datetime64("2025-03-01")
    whole = frame_of(a_codes, times, values, hours=winter)
    whole = whole[~((whole["station"] == "AL000") & (whole["time"] < np.datetime64(
        "2024-12-11T13:00")))]                                    # … at 13:00, mid-day
    load(engine, whole, "alpha-winter")
    hour = times.astype("datetime64[h]").astype(np.int64) % 24
    load(engine, frame_of(a_codes, times, values, hours=~winter & (hour < 12)), "alpha-am")
    load(engine, frame_of(a_codes, times, values, hours=~winter & (hour >= 12)), "alpha-pm")
    fixed = {p: v.copy() for p, v in values.items()}
    fixed["NO2"][:, ::7] += 5.0                                   # a corrected NO2 series
    r = load(engine, frame_of(a_codes, times, fixed, pollutants=["NO2"]), "alpha-no2-fix")
    assert r.readings_changed > 0

    b_codes = [s.code for s in beta.stations]
    ppb_to_ug = {"NO2": 1.8804, "SO2": 2.6186}                    # 25 °C, as ingest converts
    b_times = times[times >= np.datetime64("2025-01-01")]
    b_values = synthetic_values(b_codes, b_times, seed=12, decimals={"PM2.5": 2})
    for p, factor in ppb_to_ug.items():
        b_values[p] = np.round(b_values[p] / 1.9, 1) * factor
    load(engine, frame_of(b_codes, b_times, b_values), "beta")
    return {"alpha": [2024, 2025], "beta": [2025]}


@pytest.fixture
def network(engine, tmp_path):
    return engine, build_network(engine, tmp_path)


# -- helpers -------------------------------------------------------------------------------

def hourly_city_year(engine, city: str, year: int, profile):
    """(daily, aqi, last day) of the city-year straight from the hourly table."""
    from indicators import pipeline
    from store.frames import hourly_frame, membership, station_table
    start, end = pipeline.year_bounds(year)
    with engine.connect() as conn:
        members = membership(conn, city)
        stations = station_table(conn)
        codes = stations.loc[stations["city"] == city, "code"]
        hourly = hourly_frame(conn, stations=codes, start=start, end=end)
    daily, aqi = pipeline.daily_and_aqi(hourly, members, profile=profile)
    return daily, aqi, pd.Timestamp(np.datetime64(hourly["time"].max(), "D")).date()


def no_hourly_reads(monkeypatch):
    """Make any read of the hourly table fail the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("the yearly path read the hourly table")
    import store.frames
    import store.writer
    monkeypatch.setattr(store.writer, "read_hourly", refuse)
    monkeypatch.setattr(store.frames, "read_hourly", refuse)


def assert_same_city_year(engine, city, year, profile):
    from evaluation import snapshot
    from evaluation.city_year import city_year, daily_profile
    profile = daily_profile(profile)
    expected_daily, expected_aqi, last_day = hourly_city_year(engine, city, year, profile)
    got = city_year(snapshot(engine), city, year, profile)      # a new snapshot computes
    pd.testing.assert_frame_equal(got.daily, expected_daily, check_exact=True)
    pd.testing.assert_frame_equal(got.aqi, expected_aqi, check_exact=True)
    assert got.last_day == last_day
    return got


def stored_rows(engine) -> pd.DataFrame:
    with engine.connect() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT id FROM stations"))]
        return station_daily.read_rows(conn, ids, "1900-01-01", "2200-01-01")


# -- tests ---------------------------------------------------------------------------------

def test_daily_path_is_identical_on_a_synthetic_network(network, monkeypatch):
    engine, cities = network
    with engine.connect() as conn:
        assert station_daily.is_ready(conn)
        stations = pd.read_sql(text("SELECT id, code, city_id AS city FROM stations"), conn)
        alpha = station_daily.station_days(conn, stations[stations["city"] == "alpha"],
                                           "2025-01-01", "2025-12-31")
        beta = station_daily.station_days(conn, stations[stations["city"] == "beta"],
                                          "2025-01-01", "2025-12-31")
    # both arithmetic paths of indicators.averaging are exercised
    assert alpha.totals("no2")[1:] == (1.0, True) and alpha.totals("co")[1:] == (10.0, True)
    assert beta.totals("no2")[1:] == (1.0, False)                 # ppb: the float path
    assert beta.totals("pm25")[1:] == (100.0, True)
    for city, years in cities.items():
        for year in years:
            for profile in PROFILES:
                assert_same_city_year(engine, city, year, profile)
    # AL000's day that began at 13:00 (its morning has only the NO2 of the correction,
    # inserted as new hours) and the half-day loads are complete rows
    rows = stored_rows(engine)
    al000 = rows[rows["station_id"] == rows["station_id"].min()]
    day = al000[al000["day"] == np.datetime64("2024-12-11")].iloc[0]
    assert 0 < day["pm10_n"] <= 11 and day["no2_n"] > 20 and np.isnan(day["o3_h12"])
    assert al000["day"].min() == np.datetime64("2024-12-01") and al000["so2_n"].iloc[0] == 0
    assert (rows.loc[rows["day"] >= np.datetime64("2025-03-01"), "o3_h23"].notna().mean()
            > 0.9)
    # and the city-year and the statistics of the dashboard never read an hour
    no_hourly_reads(monkeypatch)
    assert_cached_views_without_hourly(engine)


def assert_cached_views_without_hourly(engine):
    from flask import Flask

    from dashboard import queries
    from dashboard.cache import init_cache
    from dashboard.state import resolve
    server = Flask("t")
    init_cache(server, "")
    with server.app_context():
        cy = queries.city_year(engine, "alpha", 2025)
        assert len(cy.daily) and cy.last_day.isoformat() == "2025-03-31"
        catalog = queries.catalog(engine)
        assert catalog.spans["alpha"][0].isoformat() == "2024-12-01"
        assert catalog.spans["beta"] == (pd.Timestamp("2025-01-01").date(),
                                         pd.Timestamp("2025-03-31").date())
        view = resolve({"city": "alpha", "year": "2025"}, catalog.city_ids(), catalog.spans)
        stats = queries.period_stats(engine, view)
        assert set(stats["level"]) == {"station", "district", "city"}


def test_rebuild_gives_the_rows_the_writes_kept(network):
    engine, _ = network
    kept = stored_rows(engine)
    assert len(kept) == 9 * 121 + 4 * 90
    calls = []
    written = station_daily.rebuild(engine, progress=lambda d, t: calls.append((d, t)),
                                    stations_per_step=5)
    assert written == len(kept)
    assert calls[-1] == (13, 13) and len(calls) == 3
    pd.testing.assert_frame_equal(stored_rows(engine), kept, check_exact=True)


def test_until_built_the_dashboard_reads_hours_and_init_builds_it(network, cli, db_url):
    engine, _ = network
    kept = stored_rows(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM meta WHERE key = 'daily_stats'"))
        conn.execute(text("DELETE FROM station_daily"))
    with engine.connect() as conn:
        assert not station_daily.is_ready(conn)
        assert station_daily.station_days(conn, pd.DataFrame({"id": [1], "code": ["x"]}),
                                          "2025-01-01", "2025-12-31") is None
    assert_same_city_year(engine, "alpha", 2025, None)            # from the hours
    result = cli("init")
    assert result.exit_code == 0, result.output
    assert "daily statistics computed from the hourly readings: 1,449 station-days" \
        in result.output
    with engine.connect() as conn:
        assert station_daily.is_ready(conn)
    pd.testing.assert_frame_equal(stored_rows(engine), kept, check_exact=True)
    assert "daily statistics" not in cli("init").output          # nothing left to do


def test_changed_qc_rules_make_the_table_stale(network, monkeypatch):
    engine, _ = network
    monkeypatch.setattr(station_daily, "fingerprint", lambda: "1;exclude=negative")
    with engine.connect() as conn:
        assert not station_daily.is_ready(conn)
    assert station_daily.ensure_ready(engine) == 9 * 121 + 4 * 90
    with engine.connect() as conn:
        assert station_daily.is_ready(conn)


def test_summaries_of_awkward_days():
    """Decimals, the exact-path bound and the float sum, on hand-made days."""
    dense = np.full((4, 24, 6), np.nan)
    dense[0, :20, 0] = 7.0                                        # SO2: 20 integer hours
    dense[1, :, 0] = np.arange(24) / 10                           # 0.0 … 2.3: 1 decimal
    dense[2, :3, 0] = [1 / 3, 2.0, 4.0]                           # 1/3: more than 6 places
    dense[3, 0, 0] = 2.0 ** 40                                    # 0 places; × 10 ≥ 2**43
    dense[0, 5, 3] = 81.0                                         # an O3 hour
    s = station_daily.summarize(dense)
    assert s["so2_n"].tolist() == [20, 24, 3, 1]
    assert s["so2_dec"].tolist() == [0, 1, -1, 0]
    assert station_daily.summarize(dense * 0 + 0.1 * np.arange(24)[None, :, None])[
        "so2_dec"][1] == -1                                       # 0.30000000000000004 …
    assert s["so2"][0] == 7.0 and s["so2"][1] == 1.15              # exact: 27.6 / 24
    assert s["so2"][2] == (1 / 3 + 2.0 + 4.0) / 3                  # float path: sum / n
    assert s["so2_max"].tolist() == [7.0, 2.3, 4.0, 2.0 ** 40]
    assert np.isnan(s["no2"]).all() and (s["no2_n"] == 0).all()
    assert s["o3_h05"][0] == 81.0 and np.isnan(s["o3_h04"][0])

    def totals(rows):
        fields = {k: v[rows][:, None] for k, v in s.items() if not k.startswith("o3_")}
        days = station_daily.StationDays(np.array([f"S{i}" for i in rows]),
                                         np.datetime64("2025-01-01"), 1, fields,
                                         np.full((len(rows), 24), np.nan))
        return days.totals("so2")
    total, scale, exact = totals([0, 1])                          # 10**1, exact integers
    assert (scale, exact) == (10.0, True) and total.ravel().tolist() == [1400.0, 276.0]
    assert totals([0, 3])[1:] == (1.0, True)                      # 2**40 at 10**0: exact
    assert totals([1, 3])[1:] == (1.0, False)                     # 2**40 × 10: floats
    assert totals([0, 2])[1:] == (1.0, False)                     # 1/3: floats
    assert totals([0, 2])[0].ravel().tolist() == [140.0, 1 / 3 + 2.0 + 4.0]


def test_daily_path_is_identical_on_beijing(beijing_db_url, monkeypatch):
    """The real Beijing set (12 stations, 2013-03 … 2017-02): every year and profile."""
    from store.db import make_engine
    engine = make_engine(beijing_db_url)
    with engine.connect() as conn:
        assert station_daily.is_ready(conn)
        assert conn.execute(text("SELECT COUNT(*) FROM station_daily")).scalar() == 17532
    for year in range(2013, 2018):
        for profile in PROFILES:
            got = assert_same_city_year(engine, "beijing", year, profile)
            assert len(got.daily) > 8000
    engine.dispose()


def test_month_statistics_from_the_month_alone(beijing_db_url):
    """dashboard.queries computes a month's statistics from that month's days: the same
    rows as the statistics of every month of the year, then that month's."""
    from flask import Flask

    from dashboard.cache import init_cache
    from dashboard.queries import city_year
    from evaluation import Period, snapshot
    from evaluation.city_year import period_stats
    from indicators import pipeline
    from store.db import make_engine
    engine = make_engine(beijing_db_url)
    server = Flask("t")
    init_cache(server, "")
    with server.app_context():
        for year, profile in ((2015, None), (2016, "cn-2026-final"), (2014, "who-2021")):
            cy = city_year(engine, "beijing", year, profile)
            months = pipeline.period_table(cy.daily, cy.aqi, period="month", grades=cy.grades,
                                           profile=profile)
            for month in range(1, 13):
                label = f"{year}-{month:02d}"
                got = period_stats(snapshot(engine), "beijing", Period.month(year, month),
                                   profile)
                expected = months[months["period"].astype(str) == label].reset_index(drop=True)
                assert len(got) > 500
                pd.testing.assert_frame_equal(got, expected, check_exact=True)
    engine.dispose()
