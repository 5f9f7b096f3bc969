"""``lantian ingest cnemc-live`` (the national real-time feed) and ``lantian stats hourly``
(the 1-h values and the hourly AQI of stations, districts and cities)."""
from __future__ import annotations

import warnings
from datetime import datetime, time
from pathlib import Path
from typing import Annotated

import typer

from lantian.cli import (AreaOpt, CityOpt, day_range, FormatOpt, Level, LevelOpt, OutFormat, OutOpt,
                         ProfileOpt, Quiet, Strict, UserError, _check_out_file, _engine,
                         _write_table, err, ingest_app, out, stats_app, user_errors)


@ingest_app.command("cnemc-live")
@user_errors
def ingest_cnemc_live(paths: Annotated[list[Path], typer.Argument(
                          help="Hourly files of the real-time feed (.csv, .csv.gz) or folders "
                          "of them (searched recursively; recognised by their header).")],
                      strict: Strict = False, quiet: Quiet = False):
    """The national platform's real-time feed, one file an hour: the 1-h values (timepoint =
    end of the hour, stored as its start), the published AQI and primary pollutant beside
    Lantian's own, unknown stations created from the file's names and coordinates."""
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn)

    from ingest.cnemc_live import live_files, load_live_file
    from ingest.loader import UnknownStationsWarning

    files = live_files(paths)
    engine = _engine()
    totals = {"read": 0, "new": 0, "changed": 0, "published_new": 0, "published_changed": 0}
    created: list[str] = []
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=err, disable=quiet or len(files) < 2,
                        transient=True)
    with progress, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnknownStationsWarning)
        task = progress.add_task("cnemc-live", total=len(files))
        for path in files:
            progress.update(task, description=f"cnemc-live {path.name}")
            live = load_live_file(engine, path, strict=strict)
            r = live.result
            totals["read"] += r.readings_read
            totals["new"] += r.readings_new
            totals["changed"] += r.readings_changed
            totals["published_new"] += live.published_new
            totals["published_changed"] += live.published_changed
            created += r.created_stations
            if not quiet:
                progress.console.print(live.summary(), markup=False)
            progress.advance(task)
    for w in caught:
        err.print(f"warning: {w.message}", markup=False)
    if created:
        from ingest.errors import clip_list
        err.print(f"note: {len(created)} station(s) created from the feed (name, coordinates "
                  f"and city from the file; no district): {clip_list(created)}", markup=False)
    if len(files) > 1 and not quiet:
        out.print(f"{len(files)} files: {totals['read']:,} readings read, {totals['new']:,} new, "
                  f"{totals['changed']:,} changed; published AQI {totals['published_new']:,} "
                  f"new, {totals['published_changed']:,} changed", markup=False)


def _hour_bounds(start: str, end: str) -> tuple[datetime, datetime]:
    first, last = day_range(start, end)
    return datetime.combine(first, time(0)), datetime.combine(last, time(23))


@stats_app.command("hourly")
@user_errors
def stats_hourly(start: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD.")],
                 end: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD.")],
                 level: LevelOpt = Level.station, profile: ProfileOpt = None,
                 format: FormatOpt = OutFormat.csv, out: OutOpt = None, area: AreaOpt = None,
                 city: CityOpt = None,
                 iaqi: Annotated[bool, typer.Option(
                     "--iaqi", help="Also the IAQI_<pollutant> rows.")] = False,
                 published: Annotated[bool, typer.Option(
                     "--published", help="Also AQI_published rows: the AQI the source "
                     "published for the station-hour (real-time feed).")] = False):
    """1-h values and the hourly (real-time) AQI: level,area,time,pollutant,value,reported,valid
    (time = start of the hour, CST)."""
    from config.standards import load_profile
    from evaluation import snapshot
    from evaluation.realtime import hourly_table_export

    first, last = _hour_bounds(start, end)
    if profile is not None and load_profile(profile).kind != "cn":
        raise UserError(f"--profile {profile}: the hourly AQI is HJ 633's; use cn-2012, "
                        "cn-2026-transition or cn-2026-final")
    _check_out_file(out)
    table = hourly_table_export(snapshot(_engine()), first, last, city, level.value, area,
                                profile, iaqi, published)
    _write_table(table, format, out)
