"""Ingest speed on the whole Beijing Multi-Site set (12 files, 2.45 million readings).

Prints readings per second for Lantian's loader into SQLite and into
PostgreSQL (each timed end to end: read, parse, QC, diff against what is
stored, write, commit) and, in the same run, for a naive baseline:
``DataFrame.to_sql`` of the same long frame of readings into SQLite (only
the write is timed for the baseline, so the comparison favours it).

    .venv/bin/python benchmarks/ingest.py [--data ../shared/data] [--postgres URL]
"""
from __future__ import annotations

import argparse
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


def bench_loader(label: str, url: str, files) -> None:
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
    return new / seconds


def bench_naive(files, folder: Path) -> float:
    frame = pd.concat([read_prsa(p) for p in files], ignore_index=True)
    frame = frame[frame["flag"].astype(str) != "missing"]
    for col in ("station", "pollutant", "unit", "flag"):
        frame[col] = frame[col].astype(str)
    engine = create_engine(f"sqlite:///{folder / 'naive.sqlite'}")
    start = time.perf_counter()
    frame.to_sql("readings", engine, index=False, if_exists="replace")  # pandas defaults
    seconds = time.perf_counter() - start
    print(f"{'naive':<11} to_sql     : {len(frame):>9,} readings in {seconds:6.2f} s = "
          f"{len(frame) / seconds:>10,.0f} readings/s")
    engine.dispose()
    return len(frame) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    folder = args.data / "beijing-multisite"
    if not folder.is_dir():
        sys.exit(f"{folder} is absent: this benchmark needs the real Beijing files")
    files = files_in(folder)
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sqlite_rate = bench_loader("sqlite", f"sqlite:///{tmp / 'lantian.sqlite'}", files)
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine("postgresql+psycopg://" + args.postgres.split("://", 1)[1],
                              isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            pg_rate = bench_loader("postgresql", f"{args.postgres}?options=-csearch_path%3D{schema}",
                                   files)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        naive_rate = bench_naive(files, tmp)
    total = 2_454_305
    print()
    print(f"SQLite: whole set in {total / sqlite_rate:.2f} s (target < 6 s), "
          f"{sqlite_rate / naive_rate:.1f}× the naive to_sql baseline (target ≥ 3×)")
    print(f"PostgreSQL: {pg_rate:,.0f} readings/s (target ≥ 500,000)")


if __name__ == "__main__":
    main()
