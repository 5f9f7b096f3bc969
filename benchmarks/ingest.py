"""Ingest speed on the whole Beijing Multi-Site set (12 files, 2.45 million readings).

Prints, in one run on the same machine:

* **load only**: Lantian's loader in-process into SQLite and PostgreSQL (each timed
  end to end: read, parse, QC, diff against what is stored, write, station_daily,
  commit; then the same files again, which store nothing new);
* **the fair naive baseline, load only**: ``DataFrame.to_sql`` of the same readings
  (Lantian's reader's long frame: station, time, pollutant, value, unit, flag) into
  SQLite the way a user would write it, in each variant: a plain ``sqlite3``
  connection, a SQLAlchemy engine with pandas' defaults, and (``--multi``, slow) a
  SQLAlchemy engine with ``method="multi", chunksize=…``; the fastest is "the fair
  baseline". Only the write is timed for the baseline (building the frame is not),
  so the comparison favours it;
* **whole processes** (``--repeat`` runs each, the median and the fastest):
  ``lantian init --sites … && lantian ingest prsa … --quiet`` into a new SQLite file,
  ``lantian ingest prsa`` alone (after ``init``), and a naive script as a whole
  process (``python naive.py``: ``pandas.read_csv`` of each file, melt to readings,
  CO to mg/m³, ``to_sql`` with the fastest variant above); also a raw dump of the
  files as they are (``read_csv`` + ``to_sql``: no canonical readings, no units,
  station codes or QC: a floor, not an equivalent);
* the ratios: load only (Lantian vs the fair baseline; target ≥ 3×) and whole
  process (the naive script vs ``lantian ingest prsa``; target: the ingest process
  under 3 s on the 2-core machine), with the load average.

    .venv/bin/python benchmarks/ingest.py [--data ../shared/data] [--postgres URL]
        [--repeat 3] [--multi] [--no-postgres]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path

import pandas as pd
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config.sites import load_site_config  # noqa: E402
from ingest.loader import load_file  # noqa: E402
from ingest.prsa import files_in, read_prsa  # noqa: E402
from store.db import make_engine, migrate  # noqa: E402
from store.sites import sync_site_config  # noqa: E402

SITES = ROOT / "config" / "sites" / "beijing.yaml"


def load_all(engine, files) -> tuple[float, int, int]:
    start = time.perf_counter()
    read = new = 0
    for path in files:
        result = load_file(engine, "prsa", path, read_prsa)
        read += result.readings_read
        new += result.readings_new
    return time.perf_counter() - start, read, new


def bench_loader(label: str, url: str, files) -> tuple[float, float]:
    engine = make_engine(url)
    migrate(engine)
    with engine.begin() as conn:
        sync_site_config(conn, load_site_config(SITES))
    seconds, read, new = load_all(engine, files)
    again, _, new_again = load_all(engine, files)
    print(f"{label:<11} first load : {new:>9,} readings in {seconds:6.2f} s = "
          f"{new / seconds:>10,.0f} readings/s")
    print(f"{label:<11} second load: {new_again:>9,} new      in {again:6.2f} s (idempotent re-run)")
    engine.dispose()
    return seconds, again


def long_frame(files) -> pd.DataFrame:
    """Every reading of ``files`` as Lantian's reader gives them (long: station, time,
    pollutant, value, unit, flag), missing values dropped, text columns as ``str``."""
    frame = pd.concat([read_prsa(p) for p in files], ignore_index=True)
    frame = frame[frame["flag"].astype(str) != "missing"].reset_index(drop=True)
    for col in ("station", "pollutant", "unit", "flag"):
        frame[col] = frame[col].astype(str)
    return frame


#: The naive baseline's variants: (label, connection kind, to_sql keyword arguments).
#: SQLite allows 32,766 bound parameters a statement: ``multi`` with 6 columns takes
#: at most 5,461 rows a statement; 4,000 is what a user reading the error would pick.
VARIANTS = [("sqlite3 connection, pandas defaults", "sqlite3", {}),
            ("SQLAlchemy engine, pandas defaults", "engine", {}),
            ("SQLAlchemy engine, method='multi', chunksize=4000", "engine",
             {"method": "multi", "chunksize": 4000})]


def bench_naive(frame: pd.DataFrame, folder: Path, multi: bool) -> dict:
    """Seconds of ``frame.to_sql`` into a new SQLite file, per variant."""
    import sqlite3
    out = {}
    for label, kind, kwargs in VARIANTS:
        if kwargs.get("method") == "multi" and not multi:
            print(f"{'naive':<11} to_sql     : {label}: skipped (--multi; slow)")
            continue
        path = folder / f"naive-{len(out)}.sqlite"
        con = sqlite3.connect(path) if kind == "sqlite3" else create_engine(f"sqlite:///{path}")
        start = time.perf_counter()
        frame.to_sql("readings", con, index=False, if_exists="replace", **kwargs)
        if kind == "sqlite3":
            con.commit()
            con.close()
        else:
            con.dispose()
        seconds = time.perf_counter() - start
        out[label] = seconds
        print(f"{'naive':<11} to_sql     : {len(frame):>9,} readings in {seconds:6.2f} s = "
              f"{len(frame) / seconds:>10,.0f} readings/s  ({label})")
    return out


NAIVE_SCRIPT = '''"""A user's naive load of the Beijing files: pandas and to_sql, nothing else."""
import sqlite3
import sys
from pathlib import Path

import numpy as np
import pandas as pd

folder, database, mode, kind = sys.argv[1:5]
con = sqlite3.connect(database) if kind == "sqlite3" else __import__(
    "sqlalchemy").create_engine(f"sqlite:///{database}")
POLLUTANTS = ["PM2.5", "PM10", "SO2", "NO2", "CO", "O3"]
for path in sorted(Path(folder).glob("*.csv.gz")):
    table = pd.read_csv(path)
    if mode == "raw":                   # the file as it is
        table.to_sql("prsa", con, index=False, if_exists="append")
        continue
    table["time"] = pd.to_datetime(table[["year", "month", "day", "hour"]])
    table["CO"] = table["CO"] / 1000.0          # µg/m3 in these files, mg/m3 canonical
    long = table.melt(id_vars=["station", "time"], value_vars=POLLUTANTS,
                      var_name="pollutant", value_name="value").dropna(subset=["value"])
    long["unit"] = np.where(long["pollutant"] == "CO", "mg/m3", "µg/m3")
    long.to_sql("readings", con, index=False, if_exists="append")
if kind == "sqlite3":
    con.commit()
    con.close()
'''


def run_process(command: list[str], env: dict) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(command[:3])} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds


def bench_processes(folder: Path, tmp: Path, repeat: int, kind: str) -> dict:
    """Wall-clock seconds of whole processes, ``repeat`` runs each (fresh SQLite files)."""
    lantian = str(Path(sys.executable).with_name("lantian"))
    script = tmp / "naive.py"
    script.write_text(NAIVE_SCRIPT, encoding="utf-8")
    times: dict[str, list[float]] = {"init + ingest": [], "ingest alone": [], "init alone": [],
                                     "ingest again": [], "naive script": [],
                                     "raw dump script": []}
    for k in range(repeat):
        db = tmp / f"process-{k}.sqlite"
        env = {**os.environ, "LANTIAN_DATABASE_URL": f"sqlite:///{db}", "LANTIAN_SETTINGS": ""}
        init = run_process([lantian, "init", "--sites", str(SITES)], env)
        ingest = run_process([lantian, "ingest", "prsa", str(folder), "--quiet"], env)
        times["init alone"].append(init)
        times["ingest alone"].append(ingest)
        times["init + ingest"].append(init + ingest)
        times["ingest again"].append(       # the same files again: nothing new to store
            run_process([lantian, "ingest", "prsa", str(folder), "--quiet"], env))
        for label, mode in (("naive script", "long"), ("raw dump script", "raw")):
            target = tmp / f"naive-process-{k}-{mode}.sqlite"
            times[label].append(run_process(
                [sys.executable, str(script), str(folder), str(target), mode, kind], env))
    for label, values in times.items():
        print(f"{'process':<11} {label:<16}: median {statistics.median(values):6.2f} s, "
              f"fastest {min(values):6.2f} s  ({', '.join(f'{v:.2f}' for v in values)})")
    return {label: statistics.median(values) for label, values in times.items()}


def load_average() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each whole process")
    parser.add_argument("--multi", action="store_true",
                        help="also the method='multi' baseline (minutes)")
    args = parser.parse_args()
    folder = args.data / "beijing-multisite"
    if not folder.is_dir():
        sys.exit(f"{folder} is absent: this benchmark needs the real Beijing files")
    files = files_in(folder)
    warnings.simplefilter("ignore")
    print(f"{os.cpu_count()} CPUs, load average {load_average()} at the start")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sqlite_seconds, _ = bench_loader("sqlite", f"sqlite:///{tmp / 'lantian.sqlite'}", files)
        pg_seconds = None
        if not args.no_postgres:
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine("postgresql+psycopg://" + args.postgres.split("://", 1)[1],
                                  isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            try:
                pg_seconds, _ = bench_loader(
                    "postgresql", f"{args.postgres}?options=-csearch_path%3D{schema}", files)
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        frame = long_frame(files)
        naive = bench_naive(frame, tmp, args.multi)
        fair_label = min(naive, key=naive.get)
        fair = naive[fair_label]
        kind = next(k for label, k, _ in VARIANTS if label == fair_label)
        print(f"load average {load_average()} before the whole processes")
        processes = bench_processes(folder, tmp, args.repeat, kind)
    total = len(frame)
    print()
    print(f"fair naive baseline: to_sql with a {fair_label} ({fair:.2f} s; "
          + ", ".join(f"{label}: {s:.2f} s" for label, s in naive.items()) + ")")
    print(f"load only   : Lantian SQLite {sqlite_seconds:.2f} s "
          f"({total / sqlite_seconds:,.0f} readings/s) = {fair / sqlite_seconds:.1f}× the fair "
          f"baseline (target ≥ 3×: {'PASS' if fair / sqlite_seconds >= 3 else 'FAIL'})")
    if pg_seconds:
        print(f"              Lantian PostgreSQL {pg_seconds:.2f} s "
              f"({total / pg_seconds:,.0f} readings/s, target ≥ 500,000)")
    ingest = processes["ingest alone"]
    print(f"whole process: lantian ingest prsa {ingest:.2f} s (target < 3 s: "
          f"{'PASS' if ingest < 3 else 'FAIL'}), init + ingest {processes['init + ingest']:.2f} s,"
          f" again (nothing new) {processes['ingest again']:.2f} s;"
          f" the naive script {processes['naive script']:.2f} s = "
          f"{processes['naive script'] / ingest:.1f}× lantian ingest, "
          f"{processes['naive script'] / processes['init + ingest']:.1f}× init + ingest; "
          f"a raw dump of the files {processes['raw dump script']:.2f} s "
          f"({processes['raw dump script'] / ingest:.2f}×)")
    print(f"load average at the end {load_average()}")


if __name__ == "__main__":
    main()
