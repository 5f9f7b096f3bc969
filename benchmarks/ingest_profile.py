"""Where does ``lantian ingest prsa`` spend its time? A breakdown of the whole process.

Runs ``lantian ingest prsa <data>/beijing-multisite --quiet`` in this process, exactly
as the console script does (``lantian.cli.main``), on a new SQLite database made with
``lantian init --sites config/sites/beijing.yaml`` (first load) and then again on the
same database (nothing new), and times each phase by wrapping the functions that do it
(nothing in the package is changed; a wrapped function inside another counts for the
inner one): interpreter start, imports, the schema check, reading and parsing the
files, QC, reading the stored rows for the diff, the diff, the writes (SQLite
``executemany``), ``station_daily``, the history of changed readings (revisions), the
commits, the ingest runs' rows, and the rest. Each load runs in its own process; the
load average is printed.

    .venv/bin/python benchmarks/ingest_profile.py [--data ../shared/data] [--repeat 3]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SITES = ROOT / "config" / "sites" / "beijing.yaml"

#: (module, function, phase): the wrapped functions, innermost phases first in the report.
PHASES = [
    ("store.db", "require_schema", "schema check"),
    ("ingest.tabular", "read_bytes", "read file (gunzip)"),
    ("ingest.tabular", "read_text_table", "parse CSV (pandas.read_csv + checks)"),
    ("ingest.prsa", "_parse_prsa", "PRSA columns → canonical frame"),
    ("ingest.loader", "to_batch", "to_batch (long → station-hours)"),
    ("ingest.loader", "run_qc", "QC"),
    ("ingest.loader", "read_hourly", "read stored rows (diff, QC context)"),
    ("ingest.loader", "_diff", "diff"),
    ("store.daily", "refresh", "station_daily refresh"),
    ("ingest.loader", "insert_revisions", "revisions (history of changed readings)"),
    ("ingest.loader", "insert_hourly", "write new rows (executemany)"),
    ("ingest.loader", "upsert_hourly", "write changed rows (upsert)"),
    ("store.db", "lock_for_writing", "write lock (BEGIN IMMEDIATE)"),
    ("ingest.loader", "start_run", "ingest run rows (start, finish)"),
    ("ingest.loader", "finish_run", "ingest run rows (start, finish)"),
    ("ingest.loader", "file_checksum", "file checksum"),
]

CHILD = r'''
import sys, time, json
T0 = time.perf_counter()
import importlib
phases, totals, stack = %(phases)s, {}, []

def wrap(module, name, label):
    mod = importlib.import_module(module)
    inner = getattr(mod, name, None)
    if inner is None:
        return
    def timed(*args, **kwargs):
        start = time.perf_counter()
        stack.append(0.0)
        try:
            return inner(*args, **kwargs)
        finally:
            spent = time.perf_counter() - start
            nested = stack.pop()
            totals[label] = totals.get(label, 0.0) + spent - nested
            if stack:
                stack[-1] += spent
    timed.__wrapped__ = inner
    setattr(mod, name, timed)
    for other in list(sys.modules.values()):      # names imported with "from … import"
        if other is not None and other is not mod and getattr(other, name, None) is inner:
            setattr(other, name, timed)

t = time.perf_counter()
import lantian.cli as cli
imports = time.perf_counter() - t
import ingest.loader, ingest.prsa, ingest.tabular, ingest.readers, store.daily, store.writer
import store.db
for module, name, label in phases:
    wrap(module, name, label)
commits = [0.0]
from sqlalchemy import event
from sqlalchemy.engine import Engine
@event.listens_for(Engine, "commit")
def _c(conn):
    commits.append(time.perf_counter())
sys.argv = ["lantian", "ingest", "prsa", %(folder)r, "--quiet"]
t = time.perf_counter()
try:
    cli.main()
except SystemExit as exc:
    if exc.code not in (0, None):
        raise
command = time.perf_counter() - t
print("PHASES " + json.dumps({"imports (lantian.cli and what the command imports)": imports,
                              "command": command, "phases": totals,
                              "in_process": time.perf_counter() - T0}))
'''


def run_child(folder: Path, url: str) -> dict:
    code = CHILD % {"phases": repr(PHASES), "folder": str(folder)}
    env = {**os.environ, "LANTIAN_DATABASE_URL": url, "LANTIAN_SETTINGS": ""}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          cwd=str(ROOT))
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"the ingest failed:\n{done.stderr[-3000:]}")
    line = next(x for x in done.stdout.splitlines() if x.startswith("PHASES "))
    out = json.loads(line[7:])
    out["wall"] = wall
    return out


def report(label: str, runs: list[dict]) -> None:
    def med(values):
        return statistics.median(values)
    wall = med([r["wall"] for r in runs])
    imports = med([r["imports (lantian.cli and what the command imports)"] for r in runs])
    in_process = med([r["in_process"] for r in runs])
    command = med([r["command"] for r in runs])
    names = []
    for _, _, name in PHASES:
        if name not in names:
            names.append(name)
    phases = {n: med([r["phases"].get(n, 0.0) for r in runs]) for n in names}
    print(f"\n{label}: whole process {wall:.2f} s (median of {len(runs)}: "
          + ", ".join(f"{r['wall']:.2f}" for r in runs) + ")")
    rows = [("interpreter start and exit", wall - in_process),
            ("imports of lantian.cli (pandas, SQLAlchemy, typer, rich …)", imports)]
    rows += [(n, s) for n, s in phases.items() if s >= 0.0005]
    rows.append(("the rest of the command (lazy imports, engine, CLI, commits …)",
                 command - sum(phases.values())))
    for name, seconds in rows:
        print(f"  {seconds:6.2f} s {seconds / wall * 100:5.1f}%  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    folder = args.data / "beijing-multisite"
    if not folder.is_dir():
        sys.exit(f"{folder} is absent: this benchmark needs the real Beijing files")
    lantian = str(Path(sys.executable).with_name("lantian"))
    print(f"{os.cpu_count()} CPUs, load average {'/'.join(f'{x:.2f}' for x in os.getloadavg())}")
    first, again = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.repeat):
            url = f"sqlite:///{Path(tmp) / f'profile-{k}.sqlite'}"
            env = {**os.environ, "LANTIAN_DATABASE_URL": url, "LANTIAN_SETTINGS": ""}
            subprocess.run([lantian, "init", "--sites", str(SITES)], env=env, check=True,
                           capture_output=True)
            first.append(run_child(folder, url))
            again.append(run_child(folder, url))
    report("lantian ingest prsa, first load (2,454,305 readings)", first)
    report("lantian ingest prsa, the same files again (nothing new)", again)
    print(f"\nload average at the end {'/'.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
