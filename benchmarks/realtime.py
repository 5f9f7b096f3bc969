"""A new hour of the national real-time feed: ingest it and compute its hourly AQI (target < 2 s).

SYNTHETIC national network, built from the real sample ``../shared/data/cnemc-live``
(25 hours, ~150 stations each): every real row is replicated under new station codes
(``1001A`` → ``1001AS03`` for replica 3) in new cities (``北京市`` → ``北京市·合成03``),
replica k taking its values from real hour h + k (so that replicas differ), until about
``--stations`` stations (default 2,000: the national network). The files keep the feed's
exact layout; their names start with ``SYNTHETIC_`` and every station name carries
``(合成)``. Replica 0 is also described by a SYNTHETIC site file (city ``syn-north``, one
district per real city of the sample), so the network has site-file districts and a city,
and one list city per replica city (≈ 390 cities) from the feed's own ``area`` column.

The database (SQLite in a temporary folder, and PostgreSQL ``lantian_realtime_bench``,
dropped and created anew, left in place unless ``--drop``) first receives
``--hours-before`` hours (default 24) through the loader. Then, for ``--runs`` new
hours each:

1. ``lantian ingest cnemc-live FILE --quiet`` as a whole process (Python start, imports,
   reading, QC, writing, commit);
2. the same kind of new hour in-process (``ingest.cnemc_live.load_live_file``);
3. the hourly AQI of that hour for every station, district and city, from the database
   (``store.realtime.hourly_inputs`` + ``indicators.pipeline.hourly_table``).

    .venv/bin/python benchmarks/realtime.py [--stations 2000] [--hours-before 24]
        [--runs 3] [--db sqlite|postgresql|both] [--pg postgresql://…/lantian_realtime_bench]
        [--drop]
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

SAMPLE = ROOT.parent / "shared" / "data" / "cnemc-live"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/lantian_realtime_bench"
TARGET_S = 2.0
FIRST_HOUR = pd.Timestamp("2025-01-10 01:00")        # timepoint (end) of synthetic hour 0


def real_hours() -> list[pd.DataFrame]:
    files = sorted(SAMPLE.glob("*/*.csv"))
    if len(files) < 2:
        sys.exit(f"the real sample {SAMPLE} is absent: it is needed to build the SYNTHETIC "
                 "network")
    return [pd.read_csv(f, dtype=str, keep_default_na=False) for f in files]


def synthetic_hour(hours: list[pd.DataFrame], h: int, replicas: int) -> pd.DataFrame:
    """SYNTHETIC hour ``h`` of the network: replica k = real hour (h + k) mod 25, recoded."""
    parts = []
    for k in range(replicas):
        rows = hours[(h + k) % len(hours)].copy()
        rows["timepoint"] = (FIRST_HOUR + pd.Timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%S")
        rows["stationcode"] = rows["stationcode"] + f"S{k:02d}"
        rows["area"] = rows["area"] + f"·合成{k:02d}"
        rows["positionname"] = rows["positionname"] + "(合成)"
        parts.append(rows)
    return pd.concat(parts, ignore_index=True)


def write_hour(folder: Path, frame: pd.DataFrame) -> Path:
    stamp = frame["timepoint"].iloc[0].replace(":00:00", "")
    path = folder / f"SYNTHETIC_{stamp}.csv"
    frame.to_csv(path, index=False, lineterminator="\n")
    return path


def site_file(folder: Path, hours: list[pd.DataFrame]) -> Path:
    """SYNTHETIC site file of replica 0: city ``syn-north``, one district per real city."""
    stations = pd.concat(hours, ignore_index=True).drop_duplicates("stationcode")
    areas = sorted(stations["area"].unique())
    district = {a: f"d{i:02d}" for i, a in enumerate(areas)}
    lines = ["# SYNTHETIC site file for benchmarks/realtime.py (generated, not data)",
             "city: {id: syn-north, name_zh: 北方（合成数据）, name_en: North (synthetic), "
             "synthetic: true}", "districts:"]
    lines += [f"  - {{id: {d}, name_zh: '{a}（合成）', name_en: District {d}, grade: II}}"
              for a, d in district.items()]
    lines.append("stations:")
    for r in stations.itertuples(index=False):
        lines.append(f"  - {{code: {r.stationcode}S00, name_zh: '{r.positionname}(合成)', "
                     f"name_en: Synthetic {r.stationcode}, district: {district[r.area]}, "
                     f"lon: {float(r.longitude or 0) or 116.0}, lat: {float(r.latitude or 0) or 40.0}}}")
    path = folder / "syn-north.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def recreate_pg(url: str) -> None:
    base, name = url.rsplit("/", 1)
    if "bench" not in name:
        sys.exit(f"refusing to drop database {name!r}: its name must contain 'bench'")
    admin = create_engine("postgresql+psycopg://" + base.split("://", 1)[1] + "/postgres",
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def drop_pg(url: str) -> None:
    base, name = url.rsplit("/", 1)
    admin = create_engine("postgresql+psycopg://" + base.split("://", 1)[1] + "/postgres",
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def hour_aqi(engine, hour: pd.Timestamp):
    """The hourly AQI of every station, district and city for ``hour`` (start, CST)."""
    from indicators.pipeline import hourly_table
    from store.realtime import hourly_inputs
    with engine.connect() as conn:
        hourly, members = hourly_inputs(conn, hour, hour)
    return hourly_table(hourly, members, start=hour, end=hour)


def bench(url: str, label: str, hours, replicas: int, before: int, runs: int,
          folder: Path) -> dict:
    from ingest.cnemc_live import load_live_file
    from indicators.pipeline import published_comparison
    from store.db import make_engine, migrate
    from store.realtime import published_frame

    lantian = str(Path(sys.executable).with_name("lantian"))
    env = {**os.environ, "LANTIAN_DATABASE_URL": url, "LANTIAN_SETTINGS": ""}
    init = subprocess.run([lantian, "init", "--sites", str(site_file(folder, hours))], env=env,
                          capture_output=True, text=True)
    if init.returncode:
        sys.exit(init.stderr)
    engine = make_engine(url)
    migrate(engine)
    t0 = time.perf_counter()
    n_read = 0
    for h in range(before):
        live = load_live_file(engine, write_hour(folder, synthetic_hour(hours, h, replicas)),
                              synthetic=True)
        n_read += live.result.readings_read
    preload = time.perf_counter() - t0
    with engine.connect() as conn:
        n_stations = conn.execute(text("SELECT COUNT(*) FROM stations")).scalar()
    print(f"[{label}] {before} SYNTHETIC hours preloaded ({n_read:,} readings, {n_stations:,} "
          f"stations) in {preload:.1f} s")

    rows = {"process": [], "ingest": [], "aqi": []}
    h = before
    for _ in range(runs):
        # 1. a new hour through the command, as a whole process
        path = write_hour(folder, synthetic_hour(hours, h, replicas))
        t = time.perf_counter()
        done = subprocess.run([lantian, "ingest", "cnemc-live", str(path), "--quiet"], env=env,
                              capture_output=True, text=True)
        rows["process"].append(time.perf_counter() - t)
        if done.returncode:
            sys.exit(done.stderr)
        h += 1
        # 2. the next new hour in-process, 3. its hourly AQI
        path = write_hour(folder, synthetic_hour(hours, h, replicas))
        t = time.perf_counter()
        live = load_live_file(engine, path, synthetic=True)
        rows["ingest"].append(time.perf_counter() - t)
        hour = FIRST_HOUR + pd.Timedelta(hours=h - 1)        # timepoint is the end
        t = time.perf_counter()
        values, aqi = hour_aqi(engine, hour)
        rows["aqi"].append(time.perf_counter() - t)
        h += 1
    levels = aqi["level"].value_counts().to_dict()
    with engine.connect() as conn:
        published = published_frame(conn, start=hour, end=hour)
    compared = published_comparison(aqi, published)
    complete = compared["missing"] == ""
    print(f"[{label}] last hour {hour:%Y-%m-%d %H:%M}: {live.result.readings_read:,} readings, "
          f"{live.published_read:,} published AQIs; AQI rows {levels}; published AQI "
          f"reproduced at {int(compared.loc[complete, 'aqi_agrees'].sum()):,} of "
          f"{int(complete.sum()):,} complete station-hours")
    engine.dispose()
    med = {k: statistics.median(v) for k, v in rows.items()}
    for key, what in (("process", "`lantian ingest cnemc-live FILE` (whole process)"),
                      ("ingest", "ingest in-process (load_live_file)"),
                      ("aqi", "hourly AQI, all stations, districts and cities")):
        print(f"[{label}] {what:<52} median {med[key]:.2f} s  "
              f"({', '.join(f'{v:.2f}' for v in rows[key])})")
    total = med["ingest"] + med["aqi"]
    print(f"[{label}] in-process ingest + AQI {total:.2f} s: "
          f"{'PASS' if total < TARGET_S else 'FAIL'} (< {TARGET_S:g} s); "
          f"whole-process ingest + AQI {med['process'] + med['aqi']:.2f} s")
    return med


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stations", type=int, default=2000)
    parser.add_argument("--hours-before", type=int, default=24)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--pg", default=DEFAULT_PG)
    parser.add_argument("--drop", action="store_true", help="drop the PostgreSQL database after")
    args = parser.parse_args(argv)
    hours = real_hours()
    per_hour = min(len(h) for h in hours)
    replicas = max(1, math.ceil(args.stations / per_hour))
    print(f"SYNTHETIC national network: {replicas} replicas of the real sample's ~{per_hour} "
          f"stations an hour (≈ {replicas * per_hour:,} stations, new codes and cities; "
          "generated, not data)")
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} cores, load average {load:.1f} at the start")
    with tempfile.TemporaryDirectory(prefix="lantian-realtime-") as tmp:
        tmp = Path(tmp)
        if args.db in ("sqlite", "both"):
            (tmp / "sqlite").mkdir()
            bench(f"sqlite:///{tmp / 'bench.sqlite'}", "sqlite", hours, replicas,
                  args.hours_before, args.runs, tmp / "sqlite")
        if args.db in ("postgresql", "both"):
            recreate_pg(args.pg)
            (tmp / "pg").mkdir()
            try:
                bench(args.pg, "postgresql", hours, replicas, args.hours_before, args.runs,
                      tmp / "pg")
            finally:
                if args.drop:
                    drop_pg(args.pg)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
