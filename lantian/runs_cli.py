"""``lantian runs`` (list the ingest runs, undo one) and ``lantian history`` (every value
a station-hour has had, and the runs that wrote and replaced them).

The records behind them are described in :mod:`store.revisions`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import pandas as pd
import typer

from lantian.cli import UserError, _engine, app, out, user_errors

runs_app = typer.Typer(help="Ingest runs: list them, undo one.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")


@runs_app.command("list")
@user_errors
def runs_list(limit: Annotated[int, typer.Option("--limit", "-n", min=1,
                                                 help="How many of the newest runs.")] = 20):
    """The newest ingest runs: time, reader, file, status and counts (readings read, new,
    changed; station-hours revised, whose earlier values are kept)."""
    from store.revisions import list_runs, revision_count

    engine = _engine()
    with engine.connect() as conn:
        frame = list_runs(conn, limit)
        kept = revision_count(conn)
    # Plain aligned columns, the file last: readable in any terminal width and by scripts.
    shown = ["run", "started", "reader", "status", "read", "new", "changed", "revised", "file"]
    numbers = ("run", "read", "new", "changed", "revised")
    cells = {"run": frame["run"].astype(str), "started": frame["started"].str.slice(0, 16),
             "reader": frame["reader"].astype(str), "status": frame["status"].astype(str),
             "file": [f if f.startswith("run #") else Path(f).name for f in frame["file"]]}
    for col in ("read", "new", "changed", "revised"):
        cells[col] = [f"{v:,}" for v in frame[col]]
    widths = {c: max([len(c)] + [len(v) for v in cells[c]]) for c in shown}

    def line(values: dict) -> str:
        return "  ".join(values[c].rjust(widths[c]) if c in numbers else
                         values[c] if c == "file" else values[c].ljust(widths[c])
                         for c in shown)
    out.print("Ingest runs, newest first (times in China Standard Time)", markup=False)
    out.print(line({c: c for c in shown}), markup=False)
    for i in range(len(frame)):
        out.print(line({c: cells[c][i] for c in shown}), markup=False)
    out.print(f"{kept:,} earlier versions of station-hours kept ('lantian history STATION "
              "--at TIME' shows them; 'lantian runs undo RUN' puts a run's back)", markup=False)


@runs_app.command("undo")
@user_errors
def runs_undo(run: Annotated[int, typer.Argument(help="The run to undo (see 'lantian runs "
                                                  "list').")]):
    """Undo one ingest run: restore the readings it replaced and remove the ones it added,
    in one transaction. Refused when a later run changed any of the same readings."""
    from store.revisions import UndoError, undo_run

    engine = _engine()
    try:
        result = undo_run(engine, run)
    except UndoError as exc:
        raise UserError(str(exc)) from None
    out.print(result.summary(), markup=False)


def _parse_at(text: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(text.strip())
    except (ValueError, TypeError):
        ts = None
    if ts is None or pd.isna(ts) or ts.tzinfo is not None:
        raise UserError(f"--at {text!r}: expected a time like 2016-12-01 00:00 "
                        "(China Standard Time, the start of the hour)")
    if ts != ts.floor("h"):
        raise UserError(f"--at {text!r}: readings are hourly; give the start of the hour, "
                        f"e.g. {ts.floor('h'):%Y-%m-%d %H:%M}")
    return ts


def _value_text(value: float, flag: int, unit: str) -> str:
    from ingest.qc import FLAGS, NON_NUMERIC
    if flag == NON_NUMERIC:
        shown = "(not a number)"
    elif value != value:
        shown = "(empty)"
    else:
        shown = f"{value:g} {unit}"
    return f"{shown} [{FLAGS[flag] if 0 <= flag < len(FLAGS) else flag}]"


def _run_text(run_id: int, runs: dict) -> str:
    row = runs.get(run_id)
    if row is None:
        return f"run #{run_id}"
    name = row.file if row.reader == "undo" else Path(str(row.file)).name
    when = f"{row.started_at:%Y-%m-%d %H:%M}" if row.started_at else "?"
    undone = f", undone by run #{row.undone_by}" if row.undone_by else ""
    return f"run #{run_id} ({when}, {row.reader}, {name}{undone})"


@app.command("history")
@user_errors
def history(station: Annotated[str, typer.Argument(help="Station code, e.g. 1003A.")],
            at: Annotated[str, typer.Option("--at", help="The hour (start, China Standard "
                                                         "Time): 'YYYY-MM-DD HH:MM'.")],
            pollutant: Annotated[Optional[str], typer.Option(
                "--pollutant", "-p", help="Only this pollutant (SO2, NO2, CO, O3, PM10, "
                "PM2.5).")] = None):
    """Every value a station-hour has had: the current ones with the run that wrote them,
    and each earlier value with the run that wrote it and the run that replaced it."""
    from config.sites import CANONICAL_UNITS
    from ingest.frame import canonical_pollutant
    from store.revisions import history as station_history

    ts = _parse_at(at)
    wanted = None
    if pollutant is not None:
        wanted = canonical_pollutant(pollutant)
        if wanted is None:
            raise UserError(f"--pollutant {pollutant!r}: expected one of SO2, NO2, CO, O3, "
                            "PM10, PM2.5")
    engine = _engine()
    with engine.connect() as conn:
        try:
            found = station_history(conn, station, ts)
        except LookupError as exc:
            raise UserError(f"{exc} (see 'lantian status')") from None
    cells = {p: v for p, v in found.cells.items() if wanted is None or p == wanted}
    out.print(f"{station} {ts:%Y-%m-%d %H:%M} (China Standard Time, start of the hour)",
              markup=False)
    if not cells:
        what = wanted or "any pollutant"
        out.print(f"  no reading of {what} has ever been stored for this hour", markup=False)
        return
    for p, values in cells.items():
        for i, cell in enumerate(values):
            head = f"  {p:<6}" if i == 0 else " " * 8
            text = _value_text(cell.value, cell.flag, CANONICAL_UNITS[p])
            if cell.replaced_by is None:
                line = f"{head}now     {text} — written by {_run_text(cell.written_by, found.runs)}"
            else:
                line = (f"{head}earlier {text} — written by "
                        f"{_run_text(cell.written_by, found.runs)}, replaced by "
                        f"{_run_text(cell.replaced_by, found.runs)}")
            out.print(line, markup=False)
        if values[0].replaced_by is not None:
            out.print("        now     (empty)", markup=False)
    for run_id in found.untracked:
        out.print(f"  note: run #{run_id} was loaded before earlier values were kept (schema "
                  "0007): what it replaced, if anything, is not known", markup=False)
