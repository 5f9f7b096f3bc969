"""Peer ranking of the 168 key cities from a year of daily rows: how long does it take?

The database: the real national station list (``../shared/data/cnemc-sites/NewSiteList.csv``,
as ``lantian ingest stations`` stores it) and one full year of **SYNTHETIC** hourly readings
(``ingest.demo_peers``: the demo generator's shape, levels by province and city; not data)
for every evaluation station of the 168 cities not retired before that year (~1,140
stations), loaded by the project's loader as one ingest run labelled synthetic (reader
``demo-peers``; the stations are marked synthetic). The loader writes ``station_daily``
as it stores the hours.

Timed: ``evaluation.peers.peer_ranking(snap, "key-168", Period.calendar_year(YEAR))``
**cold** — a fresh snapshot and memo each time (nothing evaluated before), the
``station_daily`` rows already there — ``--repeat`` times; printed: stations, station-days,
seconds (min, median). Target: under 5 s on this machine.

* SQLite: the database is built once under ``CACHE_DIR`` and reused while the station list
  and the generator (``ingest/demo.py``, ``ingest/demo_peers.py``) are unchanged.
* PostgreSQL (``--postgres``, default ``postgresql://postgres@127.0.0.1:5432/test``): a
  schema of its own (``peerbench_<pid>``, dropped at the end). By default it receives the
  same station list and the cached database's ``station_daily`` rows through the writer
  the loader uses (``store.daily``: COPY + upsert) — the rows the loader would write from
  the same hours, without loading 60 million readings again; ``--postgres-readings``
  loads the readings through the loader instead (several minutes). Both legs must give
  the identical ranking table (checked).

    .venv/bin/python benchmarks/peer_ranking.py CACHE_DIR [--year 2025] [--repeat 5]
        [--db all|sqlite|postgresql] [--postgres URL] [--postgres-readings] [--profile]
"""
from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import os
import pstats
import statistics
import sys
import time
import uuid
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

SHARED = Path(os.environ.get("LANTIAN_SHARED_DATA") or ROOT.parent / "shared" / "data")
STATION_LIST = SHARED / "cnemc-sites" / "NewSiteList.csv"
GROUP = "key-168"
TARGET_S = 5.0
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
SEED = 2021


def fingerprint(year: int) -> str:
    """What the cached database depends on: the station list, the generator, year, seed."""
    digest = hashlib.sha256()
    for path in (STATION_LIST, ROOT / "ingest" / "demo.py", ROOT / "ingest" / "demo_peers.py",
                 ROOT / "config" / "groups" / f"{GROUP}.yaml"):
        digest.update(path.read_bytes())
    digest.update(f"{year};{SEED}".encode())
    return digest.hexdigest()[:16]


def station_list(engine) -> None:
    """``lantian ingest stations NewSiteList.csv``."""
    from ingest.cnemc import read_station_list
    from store.station_list import sync_station_list
    with engine.begin() as conn:
        counts = sync_station_list(conn, read_station_list(STATION_LIST))
    print(f"  station list: {counts['created']:,} stations created", flush=True)


def load_readings(engine, year: int):
    from config.groups import load_group
    from ingest.demo_peers import group_stations, load_peers

    with engine.connect() as conn:
        stations = group_stations(conn, load_group(GROUP), year)
    t0 = time.perf_counter()

    def progress(done, total):
        print(f"  {done}/{total} cities, {time.perf_counter() - t0:.0f} s", flush=True)

    result = load_peers(engine, stations, date(year, 12, 31), year, SEED,
                        label=f"benchmark {GROUP} stations {year}",
                        options={"group": GROUP, "benchmark": "peer_ranking"},
                        progress=progress)
    print(f"  SYNTHETIC readings: {result.summary()} in {time.perf_counter() - t0:.0f} s",
          flush=True)


def sqlite_database(cache: Path, year: int):
    """The cached SQLite database (built when missing or stale)."""
    from store.db import make_engine, migrate

    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"peer-ranking-{GROUP}-{year}.sqlite"
    marker = path.with_suffix(".json")
    key = fingerprint(year)
    if path.exists() and marker.exists() and json.loads(marker.read_text()).get("key") == key:
        print(f"SQLite: reusing {path}", flush=True)
        return make_engine(f"sqlite:///{path}")
    print(f"SQLite: building {path} (station list + a SYNTHETIC year; a few minutes)",
          flush=True)
    for stale in (path, marker, Path(f"{path}-wal"), Path(f"{path}-shm")):
        stale.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{path}")
    t0 = time.perf_counter()
    migrate(engine)
    station_list(engine)
    load_readings(engine, year)
    marker.write_text(json.dumps({"key": key, "year": year, "built_s":
                                  round(time.perf_counter() - t0, 1)}))
    return engine


def postgres_database(url: str, schema: str, year: int, source, readings: bool):
    """A fresh schema of ``url`` with the station list and the year's daily rows."""
    from store import daily
    from store.db import make_engine, migrate

    base = "postgresql+psycopg://" + url.split("://", 1)[1]
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    sep = "&" if "?" in base else "?"
    engine = make_engine(f"{base}{sep}options=-csearch_path%3D{schema}")
    t0 = time.perf_counter()
    migrate(engine)
    station_list(engine)
    if readings:
        load_readings(engine, year)
    else:
        with source.connect() as src:
            ids = dict(src.execute(text("SELECT id, code FROM stations")).all())
            marked = [c for (c,) in src.execute(text(
                "SELECT code FROM stations WHERE synthetic = 1"))]
            rows = daily.read_rows(src, list(ids), f"{year}-01-01", f"{year}-12-31")
        with engine.begin() as conn:
            target = dict(conn.execute(text("SELECT code, id FROM stations")).all())
            conn.execute(text("UPDATE stations SET synthetic = TRUE WHERE code = ANY(:c)"),
                         {"c": marked})
            sid = rows["station_id"].map(ids).map(target).to_numpy("int64")
            columns = {c: rows[c].to_numpy() for c in daily.COLUMNS[2:]}
            daily._write(conn, sid, rows["day"].to_numpy("datetime64[D]"), columns)
            conn.execute(text("UPDATE meta SET value = CAST(CAST(value AS integer) + 1 AS text)"
                              " WHERE key = 'data_version'"))
        print(f"  station_daily: {len(rows):,} rows copied through store.daily's writer",
              flush=True)
    print(f"  built in {time.perf_counter() - t0:.0f} s", flush=True)
    return engine


def drop_schema(url: str, schema: str) -> None:
    base = "postgresql+psycopg://" + url.split("://", 1)[1]
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


def figures(engine, year: int) -> tuple[int, int]:
    """(stations with daily rows in the year, station-days)."""
    with engine.connect() as conn:
        n, days = conn.execute(text(
            "SELECT COUNT(DISTINCT station_id), COUNT(*) FROM station_daily "
            f"WHERE day >= '{year}-01-01' AND day <= '{year}-12-31'")).one()
    return int(n), int(days)


def time_ranking(engine, year: int, repeat: int, profile: bool):
    from evaluation.city_year import Period
    from evaluation.peers import peer_ranking
    from evaluation.snapshot import LocalMemo, snapshot

    period = Period.calendar_year(year)
    seconds, result = [], None
    for _ in range(repeat):
        snap = snapshot(engine, LocalMemo())           # cold: nothing evaluated yet
        t0 = time.perf_counter()
        result = peer_ranking(snap, GROUP, period)
        seconds.append(time.perf_counter() - t0)
    if profile:
        snap = snapshot(engine, LocalMemo())
        prof = cProfile.Profile()
        prof.enable()
        peer_ranking(snap, GROUP, period)
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(30)
    return seconds, result


def report(name: str, engine, year: int, seconds: list[float], ranking) -> None:
    n, days = figures(engine, year)
    t = ranking.table
    print(f"{name}: {n:,} stations, {days:,} station-days; peer_ranking cold "
          f"min {min(seconds):.2f} s, median {statistics.median(seconds):.2f} s "
          f"(first {seconds[0]:.2f} s, {len(seconds)} runs) — target < {TARGET_S:.0f} s: "
          f"{'met' if statistics.median(seconds) < TARGET_S else 'NOT met'}", flush=True)
    print(f"  {ranking.members_with_value} of {ranking.group.size} cities with a value, "
          f"complete {ranking.complete}, annual {ranking.annual}, line value "
          f"{ranking.line_value:.2f}; {int(t['synthetic'].sum())} cities SYNTHETIC", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("cache", type=Path, help="folder of the cached SQLite database")
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--db", choices=("all", "sqlite", "postgresql"), default="all")
    parser.add_argument("--postgres", default=os.environ.get("LANTIAN_TEST_POSTGRES_URL",
                                                             DEFAULT_PG))
    parser.add_argument("--postgres-readings", action="store_true",
                        help="load the readings into PostgreSQL through the loader too")
    parser.add_argument("--profile", action="store_true", help="cProfile one more run")
    args = parser.parse_args()
    if not STATION_LIST.is_file():
        sys.exit(f"{STATION_LIST} is absent: the benchmark needs the national station list "
                 "(../shared/data beside the project)")
    import pandas as pd

    source = sqlite_database(args.cache, args.year)
    tables = {}
    if args.db in ("all", "sqlite"):
        seconds, ranking = time_ranking(source, args.year, args.repeat, args.profile)
        report("SQLite", source, args.year, seconds, ranking)
        tables["sqlite"] = ranking.table
    if args.db in ("all", "postgresql"):
        schema = f"peerbench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        print(f"PostgreSQL: schema {schema} of {args.postgres}", flush=True)
        try:
            engine = postgres_database(args.postgres, schema, args.year, source,
                                       args.postgres_readings)
            seconds, ranking = time_ranking(engine, args.year, args.repeat, args.profile)
            report("PostgreSQL", engine, args.year, seconds, ranking)
            tables["postgresql"] = ranking.table
            engine.dispose()
        finally:
            drop_schema(args.postgres, schema)
    if len(tables) == 2:
        pd.testing.assert_frame_equal(tables["sqlite"], tables["postgresql"])
        print("SQLite and PostgreSQL give the identical ranking table", flush=True)


if __name__ == "__main__":
    main()
