"""``lantian`` command line.

Every error a user can cause (bad file, bad config, uninitialised database)
is printed as one line on stderr with exit status 1 — no traceback.
"""
from __future__ import annotations

import functools
import sys
import warnings
from datetime import date
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from config import ConfigError
from config.settings import load_settings
from evaluation.errors import DustFileError, NoDataError
from ingest.errors import IngestError
from reports.errors import ReportError

class OneLineErrors(TyperGroup):
    """The ``lantian`` command: a mistake on the command line itself (an unknown option or
    command, ``--year abc``, a missing argument) is one line ``error: …`` on stderr with
    exit status 1, like every other user error, instead of click's usage box (status 2)."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True,
             **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.TyperException as exc:      # typer's (vendored) click errors
            if type(exc).__name__ == "NoArgsIsHelpError":     # the help was shown
                sys.exit(exc.exit_code)
            ctx = getattr(exc, "ctx", None)
            where = f"{ctx.command_path}: " if ctx is not None else ""
            hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            text = exc.format_message() if hasattr(exc, "format_message") else str(exc)
            # typer words a bad choice "Value error, 'x' is not one of …": say what is wrong
            message = " ".join(text.split()).replace("Value error, ", "")
            err.print(f"[bold red]error:[/] {escape(where + message + hint)}", markup=True)
            sys.exit(1)
        except typer.Abort:
            err.print("[bold red]error:[/] aborted", markup=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) and not isinstance(code, bool) else 0)


app = typer.Typer(help="Lantian (蓝天): air-quality compliance monitoring.",
                  no_args_is_help=True, pretty_exceptions_enable=False, cls=OneLineErrors,
                  context_settings={"help_option_names": ["-h", "--help"]})
ingest_app = typer.Typer(help="Load hourly readings (and station lists) into the database.",
                         no_args_is_help=True)
app.add_typer(ingest_app, name="ingest")
stats_app = typer.Typer(help="Statistics of the standard (daily values, annual evaluation).",
                        no_args_is_help=True)
app.add_typer(stats_app, name="stats")
report_app = typer.Typer(help="Report emails (weekly exceedance reports).", no_args_is_help=True)
app.add_typer(report_app, name="report")


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version
        try:
            number = version("lantian")
        except PackageNotFoundError:          # run from a checkout that is not installed
            number = "unknown"
        typer.echo(f"lantian {number}")
        raise typer.Exit()


@app.callback()
def _root(show_version: bool = typer.Option(False, "--version", callback=_print_version,
                                            is_eager=True,
                                            help="Print the version and exit.")) -> None:
    """Lantian (蓝天): air-quality compliance monitoring."""


class UserError(Exception):
    """A request that cannot be answered (unknown area, no data): one line, exit 1."""


def day_range(start: str, end: str) -> tuple[date, date]:
    """``--from`` / ``--to`` as days (YYYY-MM-DD, in order), else a :class:`UserError`."""
    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        raise UserError(f"--from {start!r} / --to {end!r}: dates must be YYYY-MM-DD") from None
    if last < first:
        raise UserError(f"--to {end} is before --from {start}")
    return first, last

err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)


class HourLabel(str, Enum):
    beginning = "beginning"
    ending = "ending"


class Layout(str, Enum):
    long = "long"
    wide = "wide"


class StatusFormat(str, Enum):
    table = "table"
    csv = "csv"


class Level(str, Enum):
    station = "station"
    district = "district"
    city = "city"


class OutFormat(str, Enum):
    csv = "csv"
    json = "json"
    xlsx = "xlsx"


def user_errors(fn):
    """Turn a user's mistake into one line on stderr and exit status 1."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (IngestError, ConfigError, UserError, DustFileError, ReportError,
                NoDataError) as exc:
            # the message quotes file content: "[/]" or "[red]" in it is text, not markup
            err.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True)
            raise typer.Exit(1) from None
        except Exception as exc:
            message = database_problem(exc)
            if message is None:
                raise
            err.print(f"[bold red]error:[/] {escape(message)}", markup=True)
            raise typer.Exit(1) from None
    return wrapper


def database_problem(exc: BaseException) -> str | None:
    """One line for a database that is down, full or read-only (naming it and the fix);
    None for any other error (a bug: its traceback must show)."""
    import os

    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError
    if isinstance(exc, DBAPIError):             # through SQLAlchemy
        orig, invalidated = exc.orig, exc.connection_invalidated
    elif type(exc).__module__.split(".")[0] in ("sqlite3", "psycopg"):   # the driver's own
        orig, invalidated = exc, False          # (bulk writes use the raw connection)
    else:
        return None
    if orig is None:
        return None
    detail = " ".join((str(orig).strip().splitlines() or [""])[0].split())[:300]
    text, state = detail.lower(), str(getattr(orig, "sqlstate", "") or "")
    try:
        db = make_url(load_settings().database_url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - the message names what it can
        db = "(the configured database)"
    where = f"{exc.lantian_file}: " if getattr(exc, "lantian_file", None) else ""
    undone = ("the file's readings were stored, only the end of its ingest run could not be "
              "recorded (the next ingest records it)") if getattr(exc, "lantian_stored", False) \
        else "nothing of the interrupted write was stored"
    if "database or disk is full" in text or state == "53100" or "no space left" in text:
        return (f"{where}database {db} is full ({detail}): free space on the disk that holds "
                f"it, then run the command again; {undone}")
    if "readonly database" in text or state == "25006":
        fix = ("let the account running lantian write the file and its folder (and take "
               "mode=ro out of LANTIAN_DATABASE_URL)") if "readonly database" in text else (
            "point LANTIAN_DATABASE_URL at a writable (primary) server, or ALTER DATABASE … "
            "SET default_transaction_read_only = off")
        return f"{where}database {db} is read-only ({detail}): {fix}; {undone}"
    if "unable to open database file" in text:
        path = Path(make_url(db).database or "") if db.startswith("sqlite") else None
        if path and path.is_file() and not (os.access(path, os.W_OK)
                                            and os.access(path.parent, os.W_OK)):
            return (f"{where}database {db} is read-only ({detail}: its file or folder cannot "
                    "be written, and SQLite writes its -wal and -shm files beside it): let the "
                    "account running lantian write both (permissions, a read-only mount)")
        return (f"{where}cannot open database {db} ({detail}): check the path in "
                "LANTIAN_DATABASE_URL and that its folder exists and is writable")
    if "connection failed" in text or state == "57P03":
        return (f"{where}cannot connect to database {db} ({detail}): start the database "
                "server or correct LANTIAN_DATABASE_URL, then run the command again")
    if invalidated or state.startswith(("08", "57P")) or "connection is lost" in text or \
            "server closed the connection" in text or "consuming input failed" in text:
        return (f"{where}lost the connection to database {db} ({detail}); {undone}: run "
                "the command again once the server is back")
    return None


def _engine(require: bool = True):
    from store.db import make_engine, require_schema
    engine = make_engine(load_settings().database_url)
    if require:
        require_schema(engine)
    return engine


Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or per-file lines.")]
Strict = Annotated[bool, typer.Option("--strict", help="Refuse readings for unknown station codes.")]
HourLabelOpt = Annotated[HourLabel, typer.Option("--hour-label",
                         help="Whether the source labels an hour by its beginning or its end.")]


@app.command()
@user_errors
def init(sites: Annotated[Optional[list[Path]], typer.Option(
        "--sites", help="Site file(s) to load, e.g. config/sites/beijing.yaml.")] = None,
         replace: Annotated[bool, typer.Option(
             "--replace", help="Load a site file even though the city's copy was edited "
             "(on the dashboard) since it was loaded: the file becomes the city's "
             "configuration, the edits stay in 'lantian sites history'.")] = False):
    """Create or migrate the database and load site files (idempotent).

    A site file is stored as the city's editable copy (in the database, every version
    kept: 'lantian sites history --city C'); the file itself is never written, so the
    files in config/sites/ stay as git has them. Without --sites every city's current
    copy, with the edits made on the dashboard, is loaded again. A file that changed
    since an edited copy was loaded from it is refused (nothing is loaded) unless
    --replace; the same file again keeps the edits.
    """
    from store import site_copies
    from store.db import make_engine, migrate

    settings = load_settings()
    texts = [(p, site_copies.read_text(p)) for p in sites or []]
    configs = [site_copies.parse(text, p) for p, text in texts]   # validate all first
    engine = make_engine(settings.database_url)
    revision = migrate(engine)
    out.print(f"database {engine.url.render_as_string(hide_password=True)} at schema {revision}")
    _daily_backfill(engine)
    if not replace:                     # refuse before loading anything
        with engine.connect() as conn:
            for (path, text), site in zip(texts, configs):
                action, edits = site_copies.plan_load(conn, site.city.id, text)
                if action == "conflict":
                    raise site_copies.SiteCopyConflict(path, site.city.id, edits)
    if not sites:
        with engine.begin() as conn:
            loaded = site_copies.load_current(conn, settings.data_dir)
        for item in loaded:
            _print_loaded(item, "the stored copy")
    for (path, text), site in zip(texts, configs):
        with engine.begin() as conn:
            item = site_copies.load_file(conn, path, data_dir=settings.data_dir,
                                         replace_edits=replace, text=text)
        _print_loaded(item, str(path))


def _print_loaded(item, what: str) -> None:
    """One line per loaded site: the city, its counts and which version of its copy."""
    site, v, counts = item.site, item.version, item.counts
    label = " (SYNTHETIC demo city)" if site.city.synthetic else ""
    how = {"new": "stored as version 1 of the city's copy",
           "same": f"= version {v.version} of the city's copy",
           "follow": f"the file changed: stored as version {v.version}",
           "replace": f"replaced the edited copy: stored as version {v.version}",
           "current": f"version {v.version} of the city's copy ({v.source}, {v.saved_by}, "
                      f"{v.saved_at:%Y-%m-%d %H:%M})",
           "kept": f"unchanged since it was loaded; kept the edited copy, version {v.version} "
                   f"({len(item.edits)} edit(s), the newest by {v.saved_by} at "
                   f"{v.saved_at:%Y-%m-%d %H:%M})"}[item.action]
    if item.action == "new" and v.version != 1:
        how = f"stored as version {v.version} of the city's copy"
    out.print(f"loaded {what}: city {site.city.id}{label}, {counts['districts']} districts, "
              f"{counts['stations']} stations, {counts['targets']} targets — {how}",
              markup=False)


def _daily_backfill(engine) -> None:
    """Compute the daily statistics table (store/daily.py) from the stored hourly rows when
    it is not complete (a database from before schema 0005, or changed QC rules)."""
    from rich.progress import Progress

    from store.daily import ensure_ready, is_ready
    with engine.connect() as conn:
        if is_ready(conn):
            return
    with Progress(console=err, transient=True) as bar:
        task = bar.add_task("daily statistics from the hourly readings (stations)", total=None)
        rows = ensure_ready(engine, lambda done, total: bar.update(task, completed=done,
                                                                   total=total))
    out.print(f"daily statistics computed from the hourly readings: {rows or 0:,} station-days")


def _load_files(reader: str, files: list[Path], read, *, options: dict, strict: bool,
                quiet: bool) -> None:
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn)

    from ingest.loader import UnknownStationsWarning, load_file

    engine = _engine()
    totals = {"new": 0, "changed": 0, "read": 0, "skipped": 0}
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=err, disable=quiet or len(files) < 2,
                        transient=True)
    with progress, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnknownStationsWarning)
        task = progress.add_task(f"{reader}", total=len(files))
        for path in files:
            progress.update(task, description=f"{reader} {path.name}")
            result = load_file(engine, reader, path, read, options=options, strict=strict)
            totals["new"] += result.readings_new
            totals["changed"] += result.readings_changed
            totals["read"] += result.readings_read
            totals["skipped"] += result.skipped
            if not quiet:
                progress.console.print(result.summary(), markup=False)
            progress.advance(task)
    for w in caught:
        err.print(f"warning: {w.message}", markup=False)
    if len(files) > 1 and not quiet:
        out.print(f"{len(files)} files: {totals['read']:,} readings read, {totals['new']:,} new, "
                  f"{totals['changed']:,} changed"
                  + (f" ({totals['skipped']:,} identical to the runs that loaded them, not read)"
                     if totals["skipped"] else ""))


@ingest_app.command("prsa")
@user_errors
def ingest_prsa(path: Annotated[Path, typer.Argument(help="A PRSA file or a folder of them.")],
                hour_label: HourLabelOpt = HourLabel.beginning, strict: Strict = False,
                quiet: Quiet = False):
    """Beijing Multi-Site (PRSA) per-station files (CO given in µg/m³ there)."""
    from ingest.prsa import files_in
    from ingest.readers import reader_for

    read, options = reader_for("prsa", hour_label=hour_label.value, engine=_engine())
    _load_files("prsa", files_in(path), read, options=options, strict=strict, quiet=quiet)


@ingest_app.command("cnemc")
@user_errors
def ingest_cnemc(paths: Annotated[list[Path], typer.Argument(
                     help="china_sites_YYYYMMDD.csv files or folders of them.")],
                 hour_label: HourLabelOpt = HourLabel.beginning, strict: Strict = False,
                 quiet: Quiet = False):
    """The national platform's daily files china_sites_YYYYMMDD.csv (hourly types only)."""
    from ingest.cnemc import daily_files
    from ingest.readers import reader_for

    read, options = reader_for("cnemc", hour_label=hour_label.value)
    _load_files("cnemc", daily_files(paths), read, options=options, strict=strict, quiet=quiet)


@ingest_app.command("stations")
@user_errors
def ingest_stations(path: Annotated[Path, typer.Argument(help="NewSiteList.csv (GBK or UTF-8).")]):
    """The national station list: creates stations and fills names and coordinates."""
    from ingest.cnemc import read_station_list
    from store.station_list import sync_station_list

    frame = read_station_list(path)
    with _engine().begin() as conn:
        counts = sync_station_list(conn, frame)
    out.print(f"{path.name}: {len(frame):,} stations read, {counts['created']:,} created, "
              f"{counts['updated']:,} updated")


def _tabular_command(kind: str, paths, layout, station, unit, hour_label, gas_temperature,
                     strict, quiet):
    from ingest.readers import files_in_folders, reader_for   # shared with the upload page

    read, options = reader_for(kind, layout=layout.value, station=station, units=unit,
                               hour_label=hour_label.value, gas_temperature=gas_temperature,
                               source=paths[0])
    files = files_in_folders(kind, paths)       # a folder without such files: an error
    _load_files(kind, files, read, options=options, strict=strict, quiet=quiet)


LayoutOpt = Annotated[Layout, typer.Option("--layout", help="long: station,time,pollutant,value,"
                      "unit rows; wide: a time column and one column per pollutant.")]
StationOpt = Annotated[Optional[str], typer.Option("--station", help="Station code (wide layout).")]
UnitOpt = Annotated[Optional[list[str]], typer.Option("--unit", help="Source unit override, e.g. "
                    "CO=mg/m3 (repeatable). Default: the column's unit, else canonical.")]
GasOpt = Annotated[Optional[float], typer.Option("--gas-temperature", help="Reference temperature "
                   "[°C] of ppb/ppm values, needed to convert them (25 for the Chinese standard).")]


@ingest_app.command("csv")
@user_errors
def ingest_csv(paths: Annotated[list[Path], typer.Argument(help="CSV or .csv.gz files.")],
               layout: LayoutOpt = Layout.long, station: StationOpt = None,
               unit: UnitOpt = None, hour_label: HourLabelOpt = HourLabel.beginning,
               gas_temperature: GasOpt = None, strict: Strict = False, quiet: Quiet = False):
    """Generic long or wide CSV (gzip allowed)."""
    _tabular_command("csv", paths, layout, station, unit, hour_label, gas_temperature,
                     strict, quiet)


@ingest_app.command("excel")
@user_errors
def ingest_excel(paths: Annotated[list[Path], typer.Argument(help=".xlsx files.")],
                 layout: LayoutOpt = Layout.long, station: StationOpt = None,
                 unit: UnitOpt = None, hour_label: HourLabelOpt = HourLabel.beginning,
                 gas_temperature: GasOpt = None, strict: Strict = False, quiet: Quiet = False):
    """Generic long or wide Excel workbook (.xlsx, first sheet)."""
    _tabular_command("excel", paths, layout, station, unit, hour_label, gas_temperature,
                     strict, quiet)


@ingest_app.command("openaq")
@user_errors
def ingest_openaq(
        location: Annotated[Optional[list[int]], typer.Option(
            "--location", help="OpenAQ location id (repeatable).")] = None,
        bbox: Annotated[Optional[str], typer.Option(
            "--bbox", help="Every reference monitor in 'min lon,min lat,max lon,max lat'.")] = None,
        source: Annotated[Optional[list[str]], typer.Option(
            "--source", help="A source of the settings file's 'sources:' by name (repeatable). "
            "Default without --location/--bbox: every configured source.")] = None,
        since: Annotated[Optional[str], typer.Option(
            "--since", help="Fetch from this day (YYYY-MM-DD, CST), whatever was fetched before; "
            "default: only the hours after the last one stored (new sensors: 7 days).")] = None,
        until: Annotated[Optional[str], typer.Option(
            "--until", help="Last day to fetch (YYYY-MM-DD, CST); default: the last hour that "
            "has ended.")] = None,
        city: Annotated[Optional[str], typer.Option(
            "--city", help="City (site file id) of the stations created; needed with "
            "--district when the database holds several cities.")] = None,
        district: Annotated[Optional[str], typer.Option(
            "--district", help="District (of --city) of the stations created.")] = None,
        station: Annotated[Optional[str], typer.Option(
            "--station", help="Store the one --location under this station code (e.g. the site "
            "file's code of the same monitor); default openaq-<id>.")] = None,
        lookback: Annotated[int, typer.Option(
            "--lookback", min=0, max=744, help="Also ask again for this many hours before the "
            "last one stored (late or revised data).")] = 0,
        quiet: Quiet = False):
    """Hourly means from the OpenAQ API v3 (key in OPENAQ_API_KEY), incremental: each run
    asks only for the hours after the last one stored."""
    from dataclasses import replace

    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from ingest.openaq import client_from_settings
    from ingest.openaq_sources import (LocationSpec, OpenAQSource, PullWindow, parse_bbox,
                                       parse_date, run_pull, select_sources,
                                       sources_from_settings, station_option)

    settings = load_settings()
    where = "command line"
    if station and len(location or []) != 1:
        raise UserError("--station names the station of exactly one --location")
    if station:
        station = station_option(station, where, "--station")
    if location or bbox:
        if source:
            raise UserError("give --location/--bbox or --source, not both")
        sources = [OpenAQSource(
            name="command line",
            locations=tuple(LocationSpec(id=i, station=station) for i in dict.fromkeys(location or [])),
            bbox=parse_bbox(bbox, where, "--bbox") if bbox else None,
            city=city, district=district, lookback_hours=lookback)]
    else:
        if city or district or station:
            raise UserError("--city/--district/--station go with --location or --bbox; a "
                            "configured source has its own")
        sources = select_sources(sources_from_settings(settings), source,
                                 settings.settings_file or "settings")
        if not sources:
            raise UserError("nothing to pull: give --location ID (or --bbox), or add 'sources:' "
                            "to the settings file")
        if lookback:
            sources = [replace(s, lookback_hours=lookback) for s in sources]
    request = PullWindow(since=parse_date(since, where, "--since") if since else None,
                         until=parse_date(until, where, "--until") if until else None)
    if request.since and request.until and request.until < request.since:
        raise UserError(f"--until {until} is before --since {since}")
    client = client_from_settings(settings)
    engine = _engine()
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                        console=err, disable=quiet, transient=True)
    with progress:
        task = progress.add_task("OpenAQ", total=None)
        report = run_pull(engine, client, sources, request=request, where=where,
                          log=None if quiet else (lambda text: progress.console.print(
                              text, markup=False, highlight=False)),
                          status=lambda text: progress.update(task, description=text))
    if not quiet:
        for item in report.not_followed:
            err.print(f"not followed: {item}", markup=False)
        out.print(report.summary(), markup=False)
    if report.failures:
        text = "; ".join(report.failures)
        if report.aborted and "next run fetches" not in text:
            text += " — stopped; the next run fetches what was missed"
        raise UserError(text)


@app.command()
@user_errors
def status(format: Annotated[StatusFormat, typer.Option("--format")] = StatusFormat.table,
           runs: Annotated[int, typer.Option("--runs", help="How many recent ingest runs.")] = 10):
    """What is loaded: one row per station and pollutant, then the recent ingest runs."""
    from store.queries import recent_runs, status_frame
    from store.revisions import revision_count

    engine = _engine()
    with engine.connect() as conn:
        frame = status_frame(conn)
        recent = recent_runs(conn, runs)
        revised = revision_count(conn)
    if format == StatusFormat.csv:
        _write_table(frame, OutFormat.csv, None)
        if frame.attrs.get("synthetic_stations"):  # stdout stays a clean CSV
            err.print("note: SYNTHETIC demo data at stations "
                      + ", ".join(frame.attrs["synthetic_stations"]), markup=False)
        return
    from rich.table import Table
    table = Table(title="Readings (count for statistics; first/last in China Standard Time)")
    for col in frame.columns:
        table.add_column(col, justify="right" if col in ("readings", "flagged") else "left",
                         no_wrap=True)
    for row in frame.itertuples(index=False):
        table.add_row(*[f"{v:,}" if isinstance(v, int) else str(v) for v in row])
    out.print(table)
    if frame.attrs.get("synthetic_stations"):
        out.print("[bold yellow]SYNTHETIC DEMO DATA[/]: stations "
                  + ", ".join(frame.attrs["synthetic_stations"]) + " hold generated readings.")
    runs_table = Table(title="Recent ingest runs")
    shown = ["run", "reader", "file", "status", "finished", "read", "new", "changed", "message"]
    for col in shown:
        runs_table.add_column(col, no_wrap=col not in ("message", "file"),
                              justify="right" if col in ("run", "read", "new", "changed") else "left",
                              max_width=48 if col in ("message", "file") else None)
    # The file is its own column: keep the message to what went wrong.
    recent["message"] = [m[len(f):].lstrip(":, ") if m.startswith(f) else m
                         for f, m in zip(recent["file"].astype(str), recent["message"].astype(str))]
    for row in recent[shown].itertuples(index=False):
        values = [Path(str(v)).name if col == "file" else
                  f"{v:,}" if isinstance(v, int) and col != "run" else str(v)
                  for col, v in zip(shown, row)]
        runs_table.add_row(*values)
    out.print(runs_table)
    if revised:
        out.print(f"{revised:,} earlier versions of station-hours are kept (readings a later "
                  "load replaced): 'lantian history STATION --at TIME' shows them, "
                  "'lantian runs undo RUN' puts a run's readings back.", markup=False)


@app.command()
@user_errors
def demo(sites: Annotated[Path, typer.Option("--sites")] = Path(__file__).resolve().parent.parent
         / "config" / "sites" / "yangquan.yaml",
         until: Annotated[Optional[str], typer.Option(
             "--until", help="Last day of the demo (YYYY-MM-DD); default yesterday.")] = None,
         peers: Annotated[Optional[str], typer.Option(
             "--peers", help="Also a peer group's other cities (key-168): one SYNTHETIC "
             "station each (SYNP001 …, '北京（合成）'), readings for the same years, so that "
             "the group's ranking is complete.")] = None,
         quiet: Quiet = False):
    """Generate and load deterministic SYNTHETIC demo data for the demo city
    (and, with --peers, for the other cities of a peer group)."""
    from datetime import timedelta

    from config.sites import load_site_config
    from ingest.demo import generate_demo
    from ingest.loader import LoadResult, finish_run, load_frame, start_run
    from store import site_copies
    from store.db import make_engine, migrate

    site = load_site_config(sites)
    if not site.city.synthetic:
        raise ConfigError(sites, "city.synthetic", "the demo only writes into a synthetic city",
                          "use config/sites/yangquan.yaml or set synthetic: true")
    group = None
    if peers is not None:
        from config.groups import load_group
        group = load_group(peers)
        if group.level != "city":
            raise UserError(f"--peers {peers}: a county group's members are the districts of "
                            "site-file cities; give a city group, e.g. --peers key-168")
    last = _day(until, "--until") if until else date.today() - timedelta(days=1)
    settings = load_settings()
    engine = make_engine(settings.database_url)
    migrate(engine)
    with engine.begin() as conn:
        # the city's copy as 'lantian init --sites' stores it; an edited copy is kept
        try:
            site_copies.load_file(conn, sites, data_dir=settings.data_dir)
        except site_copies.SiteCopyConflict:
            pass                        # the city is loaded, from its edited copy
    frame = generate_demo(site, until=last, progress=not quiet)
    name = f"synthetic:{site.city.id} ({frame['time'].min():%Y-%m-%d} … {frame['time'].max():%Y-%m-%d})"
    result = LoadResult(file=name, reader="demo")
    result.run_id, result.same_as_run = start_run(engine, "demo", name, "synthetic",
                                                  {"city": site.city.id})
    with engine.begin() as conn:
        load_frame(conn, frame, result, strict=True, synthetic=True)
    finish_run(engine, result)
    out.print(f"SYNTHETIC demo data for {site.city.name_zh}: {result.summary()}", markup=False)
    if group is not None:
        _demo_peers(engine, site, group, last, quiet)


def _demo_peers(engine, site, group, last: date, quiet: bool) -> None:
    """``lantian demo --peers``: a SYNTHETIC station and readings for every member of the
    group but the one the demo site claims (``national_name``)."""
    import time

    from rich.progress import Progress

    from ingest import demo_peers

    started = time.perf_counter()
    stations = demo_peers.demo_peer_stations(group, {site.city.national_name})
    if stations.empty:
        return
    with engine.begin() as conn:
        counts = demo_peers.create_stations(conn, stations)
    with Progress(console=err, transient=True, disable=quiet) as bar:
        task = bar.add_task(f"generating SYNTHETIC readings for {group.id} (cities)",
                            total=len(stations))
        result = demo_peers.load_peers(
            engine, stations, last, last.year - 2, label=f"peers {group.id}",
            options={"group": group.id, "demo_city": site.city.id}, long_outages=False,
            progress=lambda done, total: bar.update(task, completed=done, total=total))
    out.print(f"SYNTHETIC peer data for {len(stations)} other cities of {group.name_zh} "
              f"({group.id}; stations {stations['code'].iloc[0]} … {stations['code'].iloc[-1]}"
              f", {counts['created']} created): {result.summary()} "
              f"[{time.perf_counter() - started:.0f} s]", markup=False)


def _day(text: str, option: str) -> date:
    """``YYYY-MM-DD`` → date, or a one-line UserError naming the option."""
    try:
        return date.fromisoformat(str(text).strip())
    except ValueError:
        raise UserError(f"{option} {text!r} is not a date; write YYYY-MM-DD") from None


def _snapshot():
    """The command's snapshot: the database at its data version when the command starts."""
    from evaluation import snapshot
    return snapshot(_engine())


def _check_out_file(path: Path | None, option: str = "--out") -> None:
    """Refuse an output file that cannot be written, before any work is done: a folder,
    or a file in a folder that does not exist (an existing file is replaced)."""
    if path is None:
        return
    if path.is_dir():
        raise UserError(f"{option} {path} is a folder; give the path of a file to write")
    parent = path.parent
    if not parent.is_dir():
        raise UserError(f"{option} {path}: the folder {parent} does not exist; create it "
                        "first or give another path")


def _check_out_dir(path: Path | None, option: str = "--out") -> None:
    """Refuse an output folder in one line before any work is done: an existing file, or
    a missing folder that cannot be created (a file in its path, no permission); a
    missing folder is created by the command when it writes."""
    if path is None:
        return
    if path.exists() and not path.is_dir():
        raise UserError(f"{option} {path} is a file, not a folder; give a folder for the "
                        "files written (it is created when missing)")
    import os
    ancestor = path
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if ancestor != path and not (ancestor.is_dir() and os.access(ancestor, os.W_OK | os.X_OK)):
        raise UserError(f"{option} {path}: the folder cannot be created in {ancestor}; "
                        "give a folder that exists or can be created")


def _decimals_as_numbers(frame):
    """Columns of exact decimals (published values, ``indicators.pipeline.as_published``) as
    JSON/xlsx numbers: whole numbers as int (``12``), others as float (``0.9``); CSV
    writes the decimals themselves (``7.40``)."""
    from decimal import Decimal

    import pandas as pd

    def number(x):
        if not isinstance(x, Decimal):
            return x
        return int(x) if x == x.to_integral_value() else float(x)

    columns = [c for c in frame.columns if frame[c].dtype == object
               and any(isinstance(x, Decimal) for x in frame[c])]
    if not columns:
        return frame
    # built as object columns (``map`` would infer float64 and write 12 as 12.0)
    return frame.assign(**{c: pd.Series([number(x) for x in frame[c]], index=frame.index,
                                        dtype=object) for c in columns})


def _json_records(frame) -> str:
    """The frame as a JSON list of records: numbers stay numbers, floats at full precision
    (their shortest round-trip form: ``13.110192837465565``, ``50.4``; pandas' ``to_json``
    cuts to 10 decimals or, asked for 15, writes 50.4 as 50.399999999999999), missing
    values null, dates ISO text."""
    import json
    import math
    from datetime import date as _date

    import numpy as np

    def cell(v):
        if isinstance(v, np.generic):
            v = v.item()
        if v is None or (isinstance(v, float) and not math.isfinite(v)):
            return None
        if isinstance(v, (str, bool, int, float)):
            return v
        if isinstance(v, _date):
            return v.isoformat()
        try:
            import pandas as pd
            if pd.isna(v):
                return None
        except (TypeError, ValueError):
            pass
        return str(v)

    columns = [str(c) for c in frame.columns]
    records = [dict(zip(columns, map(cell, row)))
               for row in frame.itertuples(index=False, name=None)]
    return json.dumps(records, ensure_ascii=False, indent=1)


def _write_table(frame, format: OutFormat, out_path: Path | None) -> None:
    """The one writer of the command's tables (stdout or ``--out FILE``): every CSV and xlsx
    goes through here, with text cells a spreadsheet would run as a formula neutralised
    (:func:`store.export_safety.neutralise_formulas`)."""
    if format in (OutFormat.csv, OutFormat.xlsx):
        from store.export_safety import neutralise_formulas
        frame = neutralise_formulas(frame)
    if format == OutFormat.xlsx and out_path is None:
        raise UserError("--format xlsx needs --out FILE.xlsx")
    _check_out_file(out_path)
    if format in (OutFormat.json, OutFormat.xlsx):
        frame = _decimals_as_numbers(frame)
    try:
        if format == OutFormat.xlsx:
            frame.to_excel(out_path, index=False)
        elif format == OutFormat.json:
            text = _json_records(frame)
            out_path.write_text(text + "\n", encoding="utf-8") if out_path else sys.stdout.write(text + "\n")
        else:
            text = frame.to_csv(index=False, lineterminator="\n")
            out_path.write_text(text, encoding="utf-8") if out_path else sys.stdout.write(text)
    except OSError as exc:
        raise UserError(f"--out {out_path}: cannot write the file ({exc.strerror or exc})") from None
    if out_path is not None:
        err.print(f"wrote {len(frame):,} rows to {out_path}", markup=False)


YearOpt = Annotated[int, typer.Option("--year", min=1970, max=2100,
                                      help="Calendar year, e.g. 2015.")]
LevelOpt = Annotated[Level, typer.Option("--level")]
ProfileOpt = Annotated[Optional[str], typer.Option(
    "--profile", help="Force a standard profile (default: the one in force by date).")]
AreaOpt = Annotated[Optional[list[str]], typer.Option("--area", help="Only these areas (repeatable).")]
CityOpt = Annotated[Optional[str], typer.Option("--city", help="Only this city's stations and areas.")]
FormatOpt = Annotated[OutFormat, typer.Option("--format")]
DustOpt = Annotated[Optional[Path], typer.Option(
    "--dust", help="Official dust-day list (CSV area,date): PM10, PM2.5 and the composite "
    "index are computed with those days removed; the good-day ratio keeps them.")]


OutOpt = Annotated[Optional[Path], typer.Option("--out", help="Write to this file instead of stdout.")]


@stats_app.command("annual")
@user_errors
def stats_annual(year: YearOpt, level: LevelOpt = Level.district, profile: ProfileOpt = None,
                 format: FormatOpt = OutFormat.csv, out: OutOpt = None, area: AreaOpt = None,
                 city: CityOpt = None, dust: DustOpt = None):
    """Annual statistics, one row per statistic:
    level,area,year,pollutant,statistic,value,reported,valid,n_valid,n_required,reason
    (value unrounded; reported as published, e.g. 12, CO 0.9, composite index 4.56;
    reason why a statistic is not valid)."""
    from evaluation.exports import annual_table

    _check_out_file(out)
    if profile:
        from config.standards import load_profile
        load_profile(profile)
    _write_table(annual_table(_snapshot(), year, level.value, profile, area, city, dust),
                 format, out)


@stats_app.command("daily")
@user_errors
def stats_daily(start: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD.")],
                end: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD.")],
                level: LevelOpt = Level.district, profile: ProfileOpt = None,
                format: FormatOpt = OutFormat.csv, out: OutOpt = None, area: AreaOpt = None,
                city: CityOpt = None):
    """Daily values and AQI: level,area,date,pollutant,value,reported,valid
    (value unrounded; reported as published: whole numbers, CO to 0.1 mg/m³)."""
    from evaluation.exports import daily_table

    first, last = day_range(start, end)
    _check_out_file(out)
    _write_table(daily_table(_snapshot(), first, last, level.value, profile, area, city),
                 format, out)


@app.command()
@user_errors
def rank(year: YearOpt, level: LevelOpt = Level.district,
         by: Annotated[str, typer.Option("--by", help="composite, good_day_ratio, SO2, NO2, "
                                         "PM10, PM2.5, CO (P95) or O3 (P90 MDA8).")] = "composite",
         profile: ProfileOpt = None, city: CityOpt = None, dust: DustOpt = None,
         valid_only: Annotated[bool, typer.Option(
             "--valid-only", help="The strict order: rank only areas whose statistic is "
             "valid (by default every area with a value is ranked, those failing a capture "
             "rule marked provisional).")] = False,
         lang: Annotated[str, typer.Option("--lang", help="Area names in zh or en")] = "zh",
         format: Annotated[StatusFormat, typer.Option("--format")] = StatusFormat.table,
         group: Annotated[Optional[str], typer.Option(
             "--group", help="A peer group of config/groups/ (key-168: the 168 key cities, "
             "with --level city; shanxi-counties, with --level district): rank its members "
             "by composite index and mark the bottom-N line.")] = None,
         until: Annotated[Optional[str], typer.Option(
             "--until", help="With --group: the year to date up to this day.")] = None):
    """Rank areas for a year: every area with a value is ranked, those
    whose statistic fails a capture rule marked provisional with the reason; areas
    without a value listed last. Ties share a rank. The change against the year before
    is in % (concentrations, composite index), percentage points (good-day ratio) or
    days (counts). CSV: area (id), name, rank, status, reason, change, change_kind …"""
    from evaluation.exports import RANK_BY, rank_table

    if group is not None:
        # a peer group is ranked by composite index over its own members (§7, the
        # national method): the options that choose other areas or statistics do not apply
        for given, option in ((by != "composite", "--by"), (city is not None, "--city"),
                              (dust is not None, "--dust")):
            if given:
                raise UserError(f"{option} does not apply with --group (a peer group is "
                                "ranked by composite index over all its members)")
        _peer_rank(group, level, year, until, profile, valid_only, lang, format)
        return
    if until is not None:
        raise UserError("--until applies with --group only; use 'lantian stats annual' or "
                        "the dashboard for a year to date")
    if by not in RANK_BY:
        raise UserError(f"--by {by!r} is not a ranking; use one of {', '.join(RANK_BY)}")
    if lang not in ("zh", "en"):
        raise UserError(f"--lang {lang!r}: use zh or en")
    pollutant, statistic = RANK_BY[by]
    ranked = rank_table(_snapshot(), year, level.value, by, profile, city, dust,
                        valid_only=valid_only, lang=lang)
    if format == StatusFormat.csv:
        _write_table(ranked, OutFormat.csv, None)
        return
    from rich.table import Table
    decimals = 2 if statistic == "composite_index" else (
        1 if statistic == "good_day_ratio" or pollutant == "CO" else 0)
    strict = ", valid statistics only" if valid_only else ""
    table = Table(title=f"{year} {level.value} ranking by {by} ({pollutant} {statistic}"
                        f"{strict})")
    for title in ("rank", "name", "value", f"vs {year - 1}", "status", "reason"):
        table.add_column(title, justify="right" if title in ("rank", "value") or
                         title.startswith("vs") else "left", no_wrap=title != "reason",
                         max_width=70 if title == "reason" else None)
    for r in ranked.itertuples(index=False):
        table.add_row("" if pd_isna(r.rank) else str(int(r.rank)), str(r.name),
                      "" if pd_isna(r.reported) else f"{r.reported:.{decimals}f}",
                      _change_text(r.change, r.change_kind), str(r.status),
                      _short_reason(r.reason))
    out.print(table)
    if ranked["reason"].astype(str).str.contains("valid days, needs").any():
        out.print("reason: the inputs failing a capture rule, with the month's valid days / "
                  "days needed (full text in --format csv)", markup=False)


#: (zh, en) of a peer ranking's row status (``indicators.ranking.rank``).
_PEER_STATUS = {"ranked": ("有效", "valid"), "provisional": ("暂定", "provisional"),
                "insufficient data": ("无数据", "no value")}


_NO_VALUE = ("未导入数据", "no data loaded")


def _peer_rank(group_id: str, level: Level, year: int, until, profile, valid_only: bool,
               lang: str, format: StatusFormat) -> None:
    """``lantian rank --group``: a peer group's members by composite index, the bottom-N
    line marked, last year's place beside each."""
    from config.groups import load_group, province_name
    from evaluation.city_year import Period
    from evaluation.peers import peer_ranking

    group = load_group(group_id)
    wanted = "city" if group.level == "city" else "district"
    if level.value != wanted:
        raise UserError(f"group {group_id} ranks {'cities' if wanted == 'city' else 'counties'}:"
                        f" use --level {wanted}")
    period = Period.to_date(_day(until, "--until")) if until else Period.calendar_year(year)
    if until and period.year != year:
        raise UserError(f"--until {until} is not in --year {year}")
    ranking = peer_ranking(_snapshot(), group_id, period, profile, valid_only)
    table = ranking.table
    if format == StatusFormat.csv:
        _write_table(table.assign(group=group.id, period=period.label,
                                  line_value=ranking.line_value),
                     OutFormat.csv, None)
        err.print(ranking.verdict(lang), markup=False)
        return
    from rich.table import Table
    zh = lang != "en"
    view = Table(title=f"{year}{' YTD ' + until if until else ''} — {group.name(lang)} — "
                       + ("综合指数排名" if zh else "ranking by composite index"))
    heads = (("名次", "城市" if group.level == "city" else "县（市、区）", "省份", "站点数",
              "综合指数", f"{year - 1}年名次", "变化", "状态", "原因") if zh else
             ("rank", "name", "province", "stations", "composite", f"rank {year - 1}",
              "change", "status", "reason"))
    for i, title in enumerate(heads):
        view.add_column(title, justify="right" if i in (0, 3, 4, 5, 6) else "left",
                        max_width=50 if i == 8 else None)
    line_drawn = False
    for r in table.itertuples(index=False):
        if not line_drawn and ranking.complete and bool(r.in_bottom):
            view.add_row("", f"── {'后' + str(group.bottom) + '名线' if zh else 'bottom ' + str(group.bottom)}"
                         f" ({ranking.line_value:.2f}) ──", "", "", "", "", "", "", "")
            line_drawn = True
        view.add_row("" if pd_isna(r.rank) else str(int(r.rank)),
                     str(r.name_zh if zh else r.name_en) + (" *" if r.synthetic else ""),
                     province_name(r.province, lang), str(r.stations),
                     "" if pd_isna(r.reported) else f"{r.reported:.2f}",
                     "" if pd_isna(r.previous_rank) else str(int(r.previous_rank)),
                     _change_text(r.change, "%"), _PEER_STATUS[str(r.status)][0 if zh else 1],
                     _NO_VALUE[0 if zh else 1] if r.reason == "no statistic"
                     else _short_reason(r.reason))
    out.print(view)
    if table["synthetic"].any():
        out.print("* SYNTHETIC data (合成数据)" if not zh else "* 合成数据（SYNTHETIC）",
                  markup=False)
    out.print(ranking.verdict(lang), markup=False)


def _change_text(change, kind) -> str:
    """A change in its unit (``indicators.ranking.change_kind``): ``-8.0%`` (concentrations,
    the composite index), ``+3.2 points`` (the good-day ratio), ``+11 days`` (counts)."""
    if change is None or pd_isna(change):
        return ""
    if kind == "days":
        return f"{change:+.0f} day{'' if abs(change) == 1 else 's'}" if change else "0 days"
    if kind == "points":
        return f"{change:+.1f} points" if change else "0.0 points"
    return f"{change:+.1f}%" if change else "0.0%"


def _short_reason(reason) -> str:
    """A ranking reason for the terminal: "SO2 (2016-09: 26/27); NO2 (…)" instead of
    "invalid SO2 annual_mean (2016-09: 26 valid days, needs 27); …"."""
    import re
    text = "" if reason is None or pd_isna(reason) else str(reason)
    text = re.sub(r"provisional: year to date \S+ to \S+?(; |(?=\)))", "", text)
    text = re.sub(r"\binvalid (\S+) \w+ \(", r"\1 (", text)
    return re.sub(r"(\d+) valid days?, needs (\d+)", r"\1/\2", text)


@app.command()
@user_errors
def targets(year: YearOpt, city: CityOpt = None,
            until: Annotated[Optional[str], typer.Option(
                "--until", help="Year to date up to this day (default: the last day with "
                "data when the year is not complete).")] = None,
            lang: Annotated[str, typer.Option("--lang", help="zh or en")] = "zh",
            format: Annotated[StatusFormat, typer.Option("--format")] = StatusFormat.table):
    """Each district against its local targets and the national limits; for a year in
    progress, what the rest of the year must average.

    The status is decided against the binding figure (the stricter of the target and
    the limit): met / not met / insufficient data for a complete year, on track / at
    risk / already exceeded for a year to date. ``--lang`` chooses the language of the
    table (names, headers, statuses); ``--format csv`` keeps stable English codes and
    gives the district names in both languages (name_zh, name_en)."""
    from evaluation.exports import targets_evaluation

    if lang not in ("zh", "en"):
        raise UserError(f"--lang {lang!r} is not a language; use zh or en")
    table, ytd_end, in_progress = targets_evaluation(
        _snapshot(), year, city, _day(until, "--until") if until else None)
    if format == StatusFormat.csv:
        _write_table(table, OutFormat.csv, None)
        return
    out.print(_targets_view(table, year, ytd_end, in_progress, lang))


class ObjectivesFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"
    xlsx = "xlsx"


@app.command()
@user_errors
def objectives(year: YearOpt,
               city: Annotated[str, typer.Option("--city", help="The city whose plan is judged.")],
               until: Annotated[Optional[str], typer.Option(
                   "--until", help="Year to date up to this day (default: the last day with "
                   "data when the year is not complete).")] = None,
               lang: Annotated[str, typer.Option("--lang", help="zh or en")] = "zh",
               format: Annotated[ObjectivesFormat, typer.Option("--format")] = ObjectivesFormat.table,
               out_path: OutOpt = None):
    """The city's action plan (the site file's plan: section, as loaded in the city's
    current site copy), one row per objective: met / not met / insufficient data for a
    complete year, on track / at risk / already exceeded for a year to date, no data
    where it cannot be computed (peer-group ranks)."""
    from evaluation.objectives import objectives_evaluation

    if lang not in ("zh", "en"):
        raise UserError(f"--lang {lang!r} is not a language; use zh or en")
    if format != ObjectivesFormat.table:
        if format == ObjectivesFormat.xlsx and out_path is None:
            raise UserError("--format xlsx needs --out FILE.xlsx")
        _check_out_file(out_path)
    table, ytd_end, in_progress = objectives_evaluation(
        _snapshot(), year, city, _day(until, "--until") if until else None)
    if format != ObjectivesFormat.table:
        _write_table(table, OutFormat(format.value), out_path)
        return
    out.print(_objectives_view(table, year, ytd_end, in_progress, lang))


#: (zh, en) of the ``lantian objectives`` table's title and headers.
_OBJECTIVE_WORDS = {
    "title": ("行动计划目标 — {year} 年", "Action plan objectives — {year}"),
    "title_ytd": ("行动计划目标 — {year} 年年初至今（截至 {end}），临时结果",
                  "Action plan objectives — {year} year to date (to {end}), provisional"),
    "id": ("编号", "id"), "objective": ("目标", "objective"), "value": ("数值", "value"),
    "target": ("目标值", "target"), "margin": ("差值", "margin"), "status": ("状态", "status"),
    "reason": ("说明", "why / rest of year"),
}


def _objectives_view(table, year: int, ytd_end, in_progress: bool, lang: str):
    """The ``lantian objectives`` table in ``lang``."""
    from rich.table import Table

    from evaluation.objectives import NO_DATA, NO_DATA_TEXT
    from reports.texts import status as status_text

    i = 1 if lang == "en" else 0
    view = Table(title=(_OBJECTIVE_WORDS["title_ytd"][i].format(year=year, end=ytd_end)
                        if in_progress else _OBJECTIVE_WORDS["title"][i].format(year=year)))
    for key in ("id", "objective", "value", "target", "margin", "status", "reason"):
        view.add_column(_OBJECTIVE_WORDS[key][i],
                        justify="right" if key in ("value", "target", "margin") else "left",
                        max_width=60 if key == "reason" else None)
    from dashboard.ledger import ledger_text

    for r in table.itertuples(index=False):
        status = NO_DATA_TEXT[i] if r.status == NO_DATA else status_text(r.status, lang)
        reason = r.reason if i else r.reason_zh
        if r.status == "insufficient data" and r.kind != "rank":
            reason = ledger_text(str(r.reason), lang)     # why, in the reader's language
        view.add_row(str(r.id), str(r.text_en if i else r.text_zh),
                     "" if pd_isna(r.value) else f"{r.value:g}",
                     "" if pd_isna(r.target) else f"{r.target:g}",
                     "" if pd_isna(r.margin) else f"{r.margin:+g}", status, str(reason))
    return view


#: (zh, en) of the ``lantian targets`` table's title and headers.
_TARGET_WORDS = {
    "title": ("目标完成情况 — {year} 年", "Targets — {year}"),
    "title_ytd": ("目标完成情况 — {year} 年年初至今（截至 {end}），临时结果",
                  "Targets — {year} year to date (to {end}), provisional"),
    "area": ("区县", "district"), "pollutant": ("污染物", "pollutant"),
    "statistic": ("统计量", "statistic"), "reported": ("数值", "value"),
    "capture": ("有效天数", "valid days"), "target": ("目标", "target"),
    "national_limit": ("国家限值", "national limit"), "binding": ("约束值", "binding"),
    "margin": ("差值", "margin"), "verdict": ("状态", "status"),
    "each": ("对照目标 / 国标", "vs target / limit"),
    "rest": ("剩余时段需 / 原因", "rest of year / why"),
    "basis.target": ("目标", "target"), "basis.national": ("国标", "limit"),
    "note": ("状态按约束值（目标与国家限值中较严者）判定；差值 = 数值 − 约束值。",
             "The status is judged against the binding figure (the stricter of the target "
             "and the national limit); margin = value − binding figure."),
}


def _targets_view(table, year: int, ytd_end, in_progress: bool, lang: str):
    """The ``lantian targets`` table in ``lang``: every header, name and status word."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from dashboard.ledger import ledger_text
    from reports.texts import statistic as statistic_name
    from reports.texts import status as status_text

    i = 1 if lang == "en" else 0

    def w(key: str, **kw) -> str:
        return _TARGET_WORDS[key][i].format(**kw)

    view = Table(title=w("title_ytd", year=year, end=ytd_end) if in_progress
                 else w("title", year=year))
    numeric = {"reported", "capture", "target", "national_limit", "binding", "margin"}
    for key in ("area", "pollutant", "statistic", "reported", "capture", "target",
                "national_limit", "binding", "margin", "verdict", "each", "rest"):
        view.add_column(w(key), justify="right" if key in numeric else "left",
                        max_width=60 if key == "rest" else None)
    name_col = "name_en" if lang == "en" else "name_zh"
    for r in table.itertuples(index=False):
        capture = f"{r.n_valid}/{r.n_required}" if not pd_isna(r.n_valid) else ""
        rest = r.needed_en if lang == "en" else r.needed_zh
        if r.verdict == "insufficient data":
            rest = ledger_text(r.detail, lang)   # why the statistic is not valid
        local = getattr(r, "basis", "target") == "target"   # else no local target
        each = (f"{status_text(r.verdict_target, lang)} / "
                f"{status_text(r.verdict_national, lang)}") if local else ""
        binding = ("" if pd_isna(r.binding) else
                   f"{r.binding:g} {w('basis.' + str(r.binding_basis))}")
        view.add_row(str(getattr(r, name_col, r.area)), str(r.pollutant),
                     statistic_name(str(r.statistic), lang),
                     "" if pd_isna(r.reported) else f"{r.reported:g}", capture,
                     f"{r.target:g}" if local else "—",
                     "" if pd_isna(r.national_limit) else f"{r.national_limit:g}",
                     binding, "" if pd_isna(r.margin) else f"{r.margin:+g}",
                     status_text(r.verdict, lang), each, "" if pd_isna(rest) else str(rest))
    return Group(view, Text(w("note")))


def pd_isna(value) -> bool:
    import pandas as pd
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _check_port(host: str, port: int) -> None:
    """Refuse, in one line, a port outside 1–65535 (0 would pick a random one nobody is
    told about), a host that is not an address of this machine, or a port already in use."""
    import errno
    import socket
    if not 1 <= port <= 65535:
        raise UserError(f"--port {port} is not a TCP port; give one from 1 to 65535, e.g. 8050")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UserError(f"--host {host!r} is not an address of this machine ({exc})") from None
    family, _type, _proto, _name, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # as the servers do
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise UserError(f"port {port} on {host} is already in use (another lantian "
                                "serve?); stop that server or give another --port") from None
            raise UserError(f"cannot serve on {host}:{port} ({exc.strerror or exc}); give "
                            "another --host or --port") from None


@app.command()
@user_errors
def serve(host: str = "127.0.0.1", port: int = 8050,
          debug: Annotated[bool, typer.Option(
              "--debug", help="Flask's debugger and reloader (development server only).")] = False,
          workers: Annotated[int, typer.Option(
              "--workers", min=0, help="gunicorn worker processes (production; e.g. the "
              "number of cores). 0: Flask's development server (one process, for a "
              "single user).")] = 0,
          threads: Annotated[int, typer.Option(
              "--threads", min=1, help="Threads per gunicorn worker.")] = 4,
          timeout: Annotated[int, typer.Option(
              "--timeout", min=1, help="Seconds a request may take before gunicorn "
              "replaces its worker.")] = 120,
          access_log: Annotated[Optional[str], typer.Option(
              "--access-log", help="gunicorn access log: a file, or '-' for stderr "
              "(default: none).")] = None):
    """Serve the dashboard: with --workers N on gunicorn (production: the app is built and
    its default views computed once, then N worker processes fork from it); without,
    on Flask's development server."""
    _check_port(host, port)
    _engine()
    if workers == 0:
        from dashboard.app import create_app

        app_ = create_app()
        out.print(f"Lantian dashboard on http://{host}:{port}/ (development server; "
                  "--workers N for production)")
        app_.run(host=host, port=port, debug=debug)
        return
    if debug:
        raise UserError("--debug is for the development server: leave out --workers")
    from dashboard.wsgi import run

    out.print(f"Lantian dashboard on http://{host}:{port}/ (gunicorn, {workers} workers × "
              f"{threads} threads)")
    run(host=host, port=port, workers=workers, threads=threads, timeout=timeout,
        access_log=access_log)


@report_app.command("weekly")
@user_errors
def report_weekly(
        week: Annotated[Optional[str], typer.Option(
            "--week", help="ISO week, e.g. 2015-W05 (default: the last complete week in "
            "China Standard Time).")] = None,
        district: Annotated[Optional[list[str]], typer.Option(
            "--district", help="Only this district (repeatable); 'city' = the city-wide "
            "summary. Default: every district with recipients, and the city summary.")] = None,
        city: CityOpt = None,
        send: Annotated[bool, typer.Option("--send", help="Send through SMTP (LANTIAN_SMTP_*); "
                                           "recipients already sent this week are skipped.")] = False,
        out_dir: Annotated[Optional[Path], typer.Option(
            "--out", help="Write one .eml and one .html per recipient group into this folder "
            "for review (nothing is sent).")] = None,
        resend: Annotated[bool, typer.Option("--resend", help="With --send: send again to "
                                             "recipients already sent this week.")] = False,
        sites: Annotated[Optional[Path], typer.Option(
            "--sites", help="Site file with the recipients (default: the one 'lantian init' "
            "loaded for the city).")] = None,
        quiet: Quiet = False):
    """Weekly exceedance report per district (and a city-wide summary), by email or to files."""
    from reports.weekly import run_weekly
    from reports.weeks import parse_week

    if send == (out_dir is not None):
        raise UserError("choose one of --send (deliver by email) or --out DIR (write files "
                        "for review)")
    if resend and not send:
        raise UserError("--resend goes with --send")
    chosen = parse_week(week) if week else None
    _check_out_dir(out_dir)
    settings = load_settings()
    engine = _engine()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=err, transient=True,
                        disable=quiet or not err.is_terminal)   # no stray blank line in a log
    with progress:
        result = run_weekly(engine, settings, city=city, week=chosen, districts=district,
                            out_dir=out_dir, send=send, resend=resend, site_file=sites,
                            progress=progress,
                            log=None if quiet else (lambda text: progress.console.print(
                                text, markup=False, highlight=False)))
    label = f"{result.city} {result.week.label} ({result.week.start} to {result.week.end})"
    if result.synthetic:
        label += " [SYNTHETIC DEMO DATA]"
    if out_dir is not None:
        out.print(f"{label}: wrote {len(result.written)} files "
                  f"({len(result.groups)} recipient groups) to {out_dir}", markup=False)
        return
    out.print(f"{label}: {result.count('sent')} sent, {result.count('failed')} failed, "
              f"{result.count('skipped')} already sent"
              + (" (use --resend to send again)" if result.count('skipped') else "")
              + f"; {result.seconds.get('total', 0):.1f} s", markup=False)
    if result.aborted:
        raise UserError(result.aborted + "; the deliveries not attempted will go out on the "
                        "next run")
    if result.failed:
        raise UserError(f"{len(result.failed)} of {len(result.outcomes) - result.count('skipped')} "
                        "deliveries failed (not marked sent): " + "; ".join(
                            f"{o.recipient} ({o.error})" for o in result.failed))


@app.command()
@user_errors
def scheduler(once: Annotated[Optional[str], typer.Option(
                  "--once", help="Run this job (by name) once now and exit.")] = None,
              list_jobs: Annotated[bool, typer.Option(
                  "--list", help="List the jobs and their next run times, then exit.")] = False):
    """Run the jobs of the settings file (weekly reports, periodic ingest) on their cron
    schedules, in China Standard Time, in this one process (never inside the web server)."""
    import logging

    from lantian.scheduler import build_scheduler, jobs_from_settings, run_job

    settings = load_settings()
    jobs = jobs_from_settings(settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: "
                        "%(message)s")
    if once is not None:
        chosen = [j for j in jobs if j.name == once]
        if not chosen:
            raise UserError(f"no job named {once!r}; jobs: "
                            + (", ".join(j.name for j in jobs) or "none (add 'jobs:' to the "
                               "settings file)"))
        result = run_job(chosen[0], settings)
        if getattr(result, "failed", None) or getattr(result, "aborted", ""):
            raise UserError(f"job {once}: some deliveries failed; see the log above")
        if isinstance(result, dict) and result.get("failed"):
            raise UserError(f"job {once}: {result['failed']} {result.get('unit', 'files')} "
                            "failed; see the log above")
        return
    if not jobs:
        raise UserError(f"no jobs in {settings.settings_file or 'the settings file'}; add e.g. "
                        "'jobs: [{kind: weekly_report, cron: \"0 8 * * mon\", city: beijing}]'")
    if list_jobs:
        from apscheduler.schedulers.background import BackgroundScheduler
        sched = build_scheduler(jobs, BackgroundScheduler)
        sched.start(paused=True)
        for job in jobs:
            entry = sched.get_job(job.name)
            out.print(f"{job.name}: {job.kind} cron '{job.cron}' (CST), next run "
                      f"{entry.next_run_time:%Y-%m-%d %H:%M %Z}", markup=False)
        sched.shutdown(wait=False)
        return
    sched = build_scheduler(jobs)
    out.print(f"scheduler: {len(jobs)} jobs ({', '.join(j.name for j in jobs)}), Asia/Shanghai; "
              "Ctrl-C stops", markup=False)
    try:
        sched.start()
    except (KeyboardInterrupt, SystemExit):
        pass


from lantian import users_cli  # noqa: E402,F401 - registers 'lantian users' on app
from lantian import runs_cli  # noqa: E402,F401 - registers 'lantian runs', 'lantian history'
from lantian import realtime_cli  # noqa: E402,F401 - 'ingest cnemc-live', 'stats hourly'
from lantian import alerts_cli  # noqa: E402,F401 - 'lantian alerts'
from lantian import sites_cli  # noqa: E402,F401 - 'lantian sites history|show|diff'


def main() -> None:
    app()


if __name__ == "__main__":
    main()
