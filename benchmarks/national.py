"""National scale on PostgreSQL: load rate, a year's national indicators, dashboard latency.

A SYNTHETIC national network (``benchmarks/_network.py``: stations with seasonal and
diurnal cycles, ~3 % missing hours, 34 "provinces" of 50 stations as the districts of
one area ``nation``; generated here, not data) is loaded into its own PostgreSQL
database through Lantian's loader (``ingest.loader.load_frame``: canonical frame →
QC → diff against what is stored → COPY into the yearly partition → the daily rows of
the touched station-days → one transaction per file), one national "daily file"
(every station, 24 hours, six pollutants) at a time, as the national platform
publishes them. Then, on the last year:

1. load rate [readings/s] (target ≥ 500,000), with the rate of the first and the last
   month (does the rate fall as the partition grows?);
2. time to recompute the year's national indicators from the database (target ≤ 60 s):
   from the hourly rows (daily values of every station, province and the nation,
   daily AQI, annual statistics and composite index) and from the daily table (what
   the dashboard does), and that both give identical frames;
3. the dashboard's overview (``/``) and ranking (``/ranking``) page callbacks through
   the Flask test client (``dashboard.app.create_app``, signed in): the first call
   (the city-year computed), first visits (the city-year cached, the view not; p95)
   and warm calls (p95), target p95 ≤ 300 ms;
4. for the extrapolation: table sizes and the time of the one query that still reads
   every hourly row (``store.queries.status_frame``: the data page, ``lantian status``).

    .venv/bin/python benchmarks/national.py [--stations 1700] [--years 1] [--start 2025]
        [--db postgresql://postgres@127.0.0.1:5432/lantian_national] [--days-per-file 1]
        [--reuse] [--drop] [--calls 20]

The database is dropped and created anew (its name must contain "national") unless
``--reuse`` finds the same network already loaded; it is left in place for a look
with ``LANTIAN_DATABASE_URL=… lantian serve`` unless ``--drop``.
"""
from __future__ import annotations

import argparse
import gc
import importlib.util
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/lantian_national"
TARGET_RATE = 500_000
TARGET_RECOMPUTE_S = 60.0
TARGET_P95_MS = 300.0
PER_PROVINCE = 50


def _module(file: str, name: str | None = None):
    spec = importlib.util.spec_from_file_location(name or file, HERE / f"{file}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- the database ---------------------------------------------------------------------------

def psycopg_url(url: str) -> str:
    return "postgresql+psycopg://" + url.split("://", 1)[1]


def recreate_database(url: str) -> None:
    name = url.rsplit("/", 1)[1].split("?")[0]
    if "national" not in name:
        sys.exit(f"refusing to drop database {name!r}: its name must contain 'national'")
    admin = create_engine(psycopg_url(url.rsplit("/", 1)[0] + "/postgres"),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1].split("?")[0]
    admin = create_engine(psycopg_url(url.rsplit("/", 1)[0] + "/postgres"),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def site_file(folder: Path, n_stations: int) -> Path:
    """The SYNTHETIC national site file: area ``nation``, provinces of 50 stations."""
    n_prov = -(-n_stations // PER_PROVINCE)
    lines = ["# SYNTHETIC national network for benchmarks/national.py (generated, not data)",
             "city: {id: nation, name_zh: 全国（合成数据）, name_en: Nation (synthetic), "
             "synthetic: true}", "districts:"]
    lines += [f"  - {{id: d{p:02d}, name_zh: 合成省{p:02d}, name_en: Province {p:02d}, "
              "grade: II}" for p in range(n_prov)]
    lines.append("stations:")
    lines += [f"  - {{code: SYN{i:04d}, name_zh: 合成站{i:04d}, name_en: Synthetic {i:04d}, "
              f"district: d{i // PER_PROVINCE:02d}, lon: {73 + (i * 0.037) % 62:.3f}, "
              f"lat: {18 + (i * 0.023) % 35:.3f}}}" for i in range(n_stations)]
    path = folder / "national.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def loaded_span(engine):
    with engine.connect() as conn:
        n = conn.execute(text("SELECT COUNT(*) FROM stations WHERE code LIKE 'SYN%'")).scalar()
        first = conn.execute(text("SELECT MIN(day), MAX(day), COUNT(DISTINCT station_id) "
                                  "FROM station_daily")).one()
    return n, first


# -- 1. the load -------------------------------------------------------------------------

def load_network(engine, n_stations: int, years: list[int], days_per_file: int,
                 days: int | None = None) -> dict:
    """Load every year, one 'file' of ``days_per_file`` days × every station at a time.
    Returns readings, seconds (loader only) and per-file rates."""
    from ingest.frame import long_from_wide
    from ingest.loader import LoadResult, finish_run, load_frame, start_run
    synthetic_network = _module("_network").synthetic_network

    codes = np.array([f"SYN{i:04d}" for i in range(n_stations)], dtype=object)
    pollutants = ("SO2", "NO2", "PM10", "PM2.5", "CO", "O3")
    total_readings, total_s, per_file = 0, 0.0, []
    for year in years:
        t0 = time.perf_counter()
        frame, _ = synthetic_network(n_stations, year=year, seed=7 + year)
        n_hours = len(frame) // n_stations
        last_hour = n_hours if days is None else min(n_hours, 24 * days)
        times = frame["time"].to_numpy()[:n_hours]
        wide = {p: frame[p].to_numpy().reshape(n_stations, n_hours) for p in pollutants}
        del frame
        gc.collect()
        print(f"  generated {year}: {n_stations:,} stations × {n_hours:,} hours in "
              f"{time.perf_counter() - t0:.1f} s (not timed)", flush=True)
        step = 24 * days_per_file
        for h0 in range(0, last_hour, step):
            h1 = min(h0 + step, last_hour)
            started = time.perf_counter()
            t = times[h0:h1]
            columns = {}
            for p in pollutants:
                v = np.ascontiguousarray(wide[p][:, h0:h1]).reshape(-1)
                columns[p] = (v, np.isnan(v), np.zeros(len(v), bool))
            day = pd.Timestamp(t[0]).strftime("%Y%m%d")
            frame = long_from_wide(np.tile(t, n_stations), np.repeat(codes, len(t)), columns)
            frame.attrs["rows_read"] = len(t) * n_stations
            name = f"synthetic:national_{day}.csv"
            result = LoadResult(file=name, reader="benchmark")
            result.run_id, _ = start_run(engine, "benchmark", name, f"national-{day}", {})
            with engine.begin() as conn:
                load_frame(conn, frame, result, strict=True, synthetic=True)
            finish_run(engine, result)
            seconds = time.perf_counter() - started
            total_s += seconds
            total_readings += result.readings_new
            per_file.append((pd.Timestamp(t[0]), result.readings_new, seconds))
            if len(per_file) % 30 == 0:
                done = sum(r for _, r, _ in per_file)
                print(f"  {pd.Timestamp(t[-1]):%Y-%m-%d}: {done:,} readings in {total_s:.0f} s "
                      f"({done / total_s:,.0f}/s)", flush=True)
        del wide
        gc.collect()
    return {"readings": total_readings, "seconds": total_s, "files": per_file}


# -- 2. a year's national indicators from the database --------------------------------------

def recompute(engine, year: int) -> dict:
    from indicators import pipeline
    from evaluation.daily import daily_and_aqi
    from store import daily as station_daily
    from store.frames import hourly_frame, membership, station_table

    out = {}
    start, end = pipeline.year_bounds(year)
    with engine.connect() as conn:
        members = membership(conn, "nation")
        stations = station_table(conn)
    grades = pipeline.grades_of(members, dict(zip(stations["code"],
                                                  stations["grade"].fillna("II"))))
    nation = stations[stations["city"] == "nation"]

    def annual(daily, aqi):
        return pipeline.period_table(daily, aqi, period="year", grades=grades)

    gc.collect()
    t0 = time.perf_counter()
    with engine.connect() as conn:
        hourly = hourly_frame(conn, stations=nation["code"], start=start, end=end)
    t1 = time.perf_counter()
    daily_h, aqi_h = pipeline.daily_and_aqi(hourly, members)
    stats_h = annual(daily_h, aqi_h)
    t2 = time.perf_counter()
    out["hourly_rows"] = len(hourly)
    out["from_hourly"] = (t1 - t0, t2 - t1)
    del hourly
    gc.collect()

    t0 = time.perf_counter()
    with engine.connect() as conn:
        days = station_daily.station_days(conn, nation, start, end)
    t1 = time.perf_counter()
    daily_d, aqi_d = daily_and_aqi(days, members)
    stats_d = annual(daily_d, aqi_d)
    t2 = time.perf_counter()
    out["from_daily"] = (t1 - t0, t2 - t1)
    out["daily_rows"] = int(days.n_days * len(days.stations))
    pd.testing.assert_frame_equal(daily_d, daily_h, check_exact=True)
    pd.testing.assert_frame_equal(aqi_d, aqi_h, check_exact=True)
    pd.testing.assert_frame_equal(stats_d, stats_h, check_exact=True)
    out["identical"] = True
    out["areas"] = int(daily_d[["level", "area"]].drop_duplicates().shape[0])
    out["daily_values"] = len(daily_d)
    out["statistics"] = len(stats_d)
    return out


# -- 3. the dashboard ---------------------------------------------------------------------

def dashboard_latency(url: str, year: int, calls: int) -> dict:
    """Overview and ranking page callbacks, through the router as the browser calls it."""
    import dash

    from dashboard.app import create_app
    from dashboard.cache import cache
    from tests.dash_helpers import staff_client
    router_payload = _module("dashboard", "_bench_dashboard").router_payload

    app = create_app(url, cache_url="")
    client = staff_client(app)
    client.get("/")
    assert {"/", "/ranking"} <= {p["path"] for p in dash.page_registry.values()}

    def call(path, search) -> float:
        t0 = time.perf_counter()
        response = client.post("/_dash-update-component", json=router_payload(path, search))
        ms = (time.perf_counter() - t0) * 1000
        body = response.get_data(as_text=True)
        if response.status_code != 200 or '"page-error"' in body or '"page-db-error"' in body:
            raise SystemExit(f"{path}?{search} failed: {response.status_code} {body[:400]}")
        return ms

    base = f"city=nation&year={year}"
    # (a forced Chinese profile, e.g. cn-2026-final, has daily values of its own: a
    # city-year computed anew, i.e. another first call, not a first visit)
    overview_views = [base, f"{base}&lang=en", f"city=nation&period=ytd&year={year}",
                      f"{base}&profile=who-2021", f"{base}&profile=who-2021&lang=en"]
    overview_views += [f"city=nation&period=month&year={year}&month={m}{lang}"
                       for m in range(1, 13) for lang in ("", "&lang=en")]
    by = ["composite", "PM2.5", "PM10", "NO2", "SO2", "CO", "O3", "good_day_ratio"]
    ranking_views = [f"{base}&level={level}&by={b}" for level in ("district", "station")
                     for b in by]
    ranking_views += [f"city=nation&period=month&year={year}&month=6&level={level}&by={b}"
                      for level in ("district", "station") for b in by[:4]]
    results = {}
    with app.server.app_context():
        cache.clear()
    first_call = {}
    first_call["/"] = call("/", "?" + base)                       # computes the city-year
    first_call["/ranking"] = call("/ranking", "?" + ranking_views[0])
    for path, views in (("/", overview_views), ("/ranking", ranking_views)):
        views = [v for v in views if not (path == "/" and v == base)
                 and not (path == "/ranking" and v == ranking_views[0])]
        first = [call(path, "?" + v) for v in views]
        warm = []
        while len(warm) < max(calls, len(views)):
            warm += [call(path, "?" + v) for v in views]
        slowest = max(zip(first, views))
        results[path] = {"cold": first_call[path], "first": first, "warm": warm,
                         "slowest": slowest}
    return results


def pct(values, q) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")


# -- the run ---------------------------------------------------------------------------------

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stations", type=int, default=1700)
    parser.add_argument("--years", type=int, default=1)
    parser.add_argument("--start", type=int, default=2025, help="first year")
    parser.add_argument("--db", default=DEFAULT_DB, help="PostgreSQL URL (name with 'national')")
    parser.add_argument("--days-per-file", type=int, default=1,
                        help="days of every station per load transaction (default 1)")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the database when it holds this network already")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    parser.add_argument("--calls", type=int, default=20, help="warm calls per page, at least")
    parser.add_argument("--days", type=int, help=argparse.SUPPRESS)   # trial runs: first N days
    args = parser.parse_args(argv)
    os.environ.setdefault("LANTIAN_SETTINGS", "")
    warnings.simplefilter("ignore")

    from config.sites import load_site_config
    from store.db import make_engine, migrate
    from store.sites import sync_site_config

    years = list(range(args.start, args.start + args.years))
    command = "benchmarks/national.py " + " ".join(argv if argv is not None else sys.argv[1:])
    load_avg = os.getloadavg()[0]
    print(f"SYNTHETIC national network: {args.stations:,} stations × {args.years} year(s) "
          f"({years[0]}–{years[-1]}); {os.cpu_count()} CPUs, load average {load_avg:.1f}")
    print(f"database {args.db}")
    engine = make_engine(args.db)
    reuse = False
    if args.reuse:
        try:
            n, (first, last, with_days) = loaded_span(engine)
            reuse = (n == args.stations and with_days == args.stations and first is not None
                     and first.year == years[0] and last.year == years[-1]
                     and last.month == 12 and last.day == 31)
        except Exception:  # noqa: BLE001 - no such database or schema: load it
            reuse = False
        engine.dispose()
    load = None
    if not reuse:
        recreate_database(args.db)
        engine = make_engine(args.db)
        migrate(engine)
        with tempfile.TemporaryDirectory() as tmp, engine.begin() as conn:
            sync_site_config(conn, load_site_config(site_file(Path(tmp), args.stations)))
        print(f"\n1. load ({args.days_per_file} day(s) of every station per file and "
              "transaction)", flush=True)
        load = load_network(engine, args.stations, years, args.days_per_file, args.days)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        print("\n1. load: reused the loaded network (no load measured)")

    with engine.connect() as conn:
        sizes = dict(conn.execute(text(
            "SELECT 'hourly', SUM(pg_total_relation_size(inhrelid))::bigint FROM pg_inherits "
            "WHERE inhparent = 'hourly'::regclass UNION ALL "
            "SELECT 'station_daily', pg_total_relation_size('station_daily') UNION ALL "
            "SELECT 'database', pg_database_size(current_database())")).all())
        counts = dict(conn.execute(text(
            "SELECT 'hourly', COUNT(*) FROM hourly UNION ALL "
            "SELECT 'station_daily', COUNT(*) FROM station_daily")).all())
        version = conn.execute(text("SHOW server_version")).scalar()

    year = years[-1]
    print(f"\n2. recompute {year}'s national indicators from the database", flush=True)
    rec = recompute(engine, year)
    print(f"\n3. dashboard callbacks (overview /, ranking /ranking) on {year}", flush=True)
    dash_results = dashboard_latency(args.db, year, args.calls)
    print("\n4. the one query that reads every hourly row (data page, lantian status)",
          flush=True)
    from store.queries import status_frame
    t0 = time.perf_counter()
    with engine.connect() as conn:
        status_frame(conn)
    status_s = time.perf_counter() - t0

    # -- report ------------------------------------------------------------------------
    print("\n" + "=" * 78)
    print(f"command: .venv/bin/python {command}".rstrip())
    print(f"PostgreSQL {version}; {os.cpu_count()} CPUs; load average at start {load_avg:.1f}")
    print(f"hourly: {counts['hourly']:,} station-hours ({sizes['hourly'] / 2**30:.2f} GiB with "
          f"index); station_daily: {counts['station_daily']:,} station-days "
          f"({sizes['station_daily'] / 2**30:.2f} GiB); database "
          f"{sizes['database'] / 2**30:.2f} GiB")
    verdicts = []
    if load is not None:
        rate = load["readings"] / load["seconds"]
        files = load["files"]
        months = pd.DataFrame(files, columns=["day", "readings", "seconds"])
        months["month"] = months["day"].dt.to_period("M")
        by_month = months.groupby("month")[["readings", "seconds"]].sum()
        first_m, last_m = by_month.iloc[0], by_month.iloc[-1]
        ok = rate >= TARGET_RATE
        verdicts.append(ok)
        print(f"load: {load['readings']:,} readings in {load['seconds']:.1f} s = {rate:,.0f} "
              f"readings/s over {len(files)} files [{'PASS' if ok else 'FAIL'}: target ≥ "
              f"{TARGET_RATE:,}]")
        print(f"      first month {first_m['readings'] / first_m['seconds']:,.0f}/s, last month "
              f"{last_m['readings'] / last_m['seconds']:,.0f}/s; per file p50 "
              f"{pct(months['seconds'], 50) * 1000:.0f} ms, max "
              f"{months['seconds'].max() * 1000:.0f} ms")
    (read_h, comp_h), (read_d, comp_d) = rec["from_hourly"], rec["from_daily"]
    ok = read_h + comp_h <= TARGET_RECOMPUTE_S
    verdicts.append(ok)
    print(f"recompute {year} (station, {rec['areas'] - args.stations} province/nation daily "
          f"values, AQI, annual statistics + composite; {rec['daily_values']:,} daily values, "
          f"{rec['statistics']:,} statistics):")
    print(f"      from the hourly rows  : {read_h + comp_h:6.1f} s (read {rec['hourly_rows']:,} "
          f"rows {read_h:.1f} s, compute {comp_h:.1f} s) [{'PASS' if ok else 'FAIL'}: target "
          f"≤ {TARGET_RECOMPUTE_S:.0f} s]")
    ok_d = read_d + comp_d <= TARGET_RECOMPUTE_S
    verdicts.append(ok_d)
    print(f"      from the daily table  : {read_d + comp_d:6.1f} s (read {rec['daily_rows']:,} "
          f"station-days {read_d:.1f} s, compute {comp_d:.1f} s) [{'PASS' if ok_d else 'FAIL'}]"
          f"; identical frames: {'yes' if rec['identical'] else 'NO'}")
    for path, r in dash_results.items():
        p95_first, p95_warm = pct(r["first"], 95), pct(r["warm"], 95)
        ok = p95_first <= TARGET_P95_MS and p95_warm <= TARGET_P95_MS
        verdicts.append(ok)
        print(f"dashboard {path:<9}: first call {r['cold']:.0f} ms (computes the city-year); "
              f"first visits p95 {p95_first:.0f} ms (n={len(r['first'])}, max "
              f"{max(r['first']):.0f}); warm p95 {p95_warm:.0f} ms (n={len(r['warm'])}, p50 "
              f"{pct(r['warm'], 50):.0f}) [{'PASS' if ok else 'FAIL'}: target p95 ≤ "
              f"{TARGET_P95_MS:.0f} ms]")
        print(f"      slowest first visit: ?{r['slowest'][1]} ({r['slowest'][0]:.0f} ms)")
    print(f"status_frame (reads every hourly row; data page, lantian status): {status_s:.1f} s")
    print(f"overall: {'PASS' if all(verdicts) else 'FAIL'}")
    engine.dispose()
    if args.drop:
        drop_database(args.db)
        print(f"dropped {args.db}")
    else:
        print(f"left in place: {args.db} (drop: DROP DATABASE lantian_national)")
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
