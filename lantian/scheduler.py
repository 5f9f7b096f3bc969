"""``lantian scheduler``: the weekly reports and periodic ingest in one process (APScheduler).

Jobs come from the ``jobs:`` list of the settings file::

    jobs:
      - {kind: weekly_report, cron: "0 8 * * mon", city: beijing}
      - {kind: ingest, cron: "15 * * * *", reader: csv, path: "/data/incoming/*.csv"}

Cron expressions have the five crontab fields and are read in China Standard
Time (Asia/Shanghai), like everything else in Lantian; numeric days of the
week mean what they mean to cron (0 or 7 = Sunday, 1 = Monday), not
APScheduler 3's own numbering. One process, never inside the web server
(every gunicorn worker would run every job). Each run is logged.

Job keys
    every job: ``kind``, ``cron``, optional ``name`` (default ``<kind>-<n>``).
    ``weekly_report``: ``city`` (optional with one city), ``districts`` (list),
    ``sites`` (site file with the recipients; default the one ``init`` loaded),
    ``resend`` (default false). Sends the last complete ISO week.
    ``ingest``: ``reader`` (csv | excel | prsa | cnemc), ``path`` (a file, folder
    or glob), and the reader's options ``layout``, ``station``, ``unit`` (e.g.
    ``{CO: mg/m3}``), ``hour_label``, ``gas_temperature``, ``strict``. Files already
    loaded (same checksum) are skipped; a bad file is logged and the others load.
    ``openaq``: ``sources`` (names from the ``sources:`` list of the settings
    file; default all). Pulls the hours each followed sensor has published since
    the last pull (ingest/openaq_sources.py); run it hourly, e.g. ``cron: "20 * * * *"``.
    ``cnemc-live``: ``folder`` (searched recursively for the real-time feed's hourly
    files, recognised by their header), ``strict``. Loads the files not loaded yet
    (ingest/cnemc_live.py): a file a run of this reader loaded is skipped (unchanged
    since that run, or the same checksum); a bad file is logged, the others load.
    ``alerts``: ``city`` (default: every city whose site file has ``alerts:``), ``sites``.
    Sends the hourly-AQI alerts of the newest stored hours (reports/alerts.py): each
    episode once per recipient (the sent log), a failed delivery again on the next run.
    Run it hourly after the ingest that brings the hours, e.g. ``cron: "50 * * * *"``.
"""
from __future__ import annotations

import glob
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from config import ConfigError

TIMEZONE = ZoneInfo("Asia/Shanghai")
KINDS = ("weekly_report", "ingest", "openaq", "cnemc-live", "alerts")
READERS = ("csv", "excel", "prsa", "cnemc")
COMMON_KEYS = {"kind", "cron", "name"}
KEYS = {"weekly_report": {"city", "districts", "sites", "resend"},
        "ingest": {"reader", "path", "layout", "station", "unit", "hour_label",
                   "gas_temperature", "strict"},
        "openaq": {"sources"},
        "cnemc-live": {"folder", "strict"},
        "alerts": {"city", "sites"}}
_DOW_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_APS_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

log = logging.getLogger("lantian.scheduler")


@dataclass(frozen=True)
class Job:
    name: str
    kind: str
    cron: str
    options: dict = field(default_factory=dict)


def cron_day_of_week(value: str) -> str:
    """A crontab day-of-week field (0/7 = Sunday) in APScheduler 3's terms (names)."""
    out = []
    for part in value.split(","):
        base, _, step = part.partition("/")
        if not re.search(r"\d", base):
            out.append(part)               # "*", "*/2" handled below, names as they are
            if base == "*" and step:
                out[-1] = ",".join(_DOW_NAMES[d] for d in range(0, 7, int(step)))
            continue
        if "-" in base:
            a, b = (int(x) for x in base.split("-", 1))
        else:
            a = b = int(base)
            if step:
                b = 7
        if not (0 <= a <= 7 and 0 <= b <= 7 and a <= b):
            raise ValueError(f"bad day of week {part!r}")
        days = range(a, b + 1, int(step) if step else 1)
        out.append(",".join(dict.fromkeys(_DOW_NAMES[d % 7] for d in days)))
    return ",".join(out)


def cron_trigger(expression: str):
    """A CronTrigger in CST from five crontab fields (minute hour day month day-of-week)."""
    from apscheduler.triggers.cron import CronTrigger

    fields = str(expression).split()
    if len(fields) != 5:
        raise ValueError(f"{expression!r} does not have the five crontab fields")
    minute, hour, day, month, dow = fields
    return CronTrigger(minute=minute, hour=hour, day=day, month=month,
                       day_of_week=cron_day_of_week(dow), timezone=TIMEZONE)


def parse_jobs(items, source) -> list[Job]:
    """Validate the ``jobs:`` list; every mistake is a ConfigError naming file, key and fix."""
    jobs: list[Job] = []
    names: set[str] = set()
    for i, item in enumerate(items or ()):
        where = f"jobs[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(source, where, "expected a mapping",
                              "write e.g. '- {kind: weekly_report, cron: \"0 8 * * mon\"}'")
        kind = str(item.get("kind") or "")
        if kind not in KINDS:
            raise ConfigError(source, f"{where}.kind", f"{kind or '(missing)'!r} is not a job kind",
                              f"use one of: {', '.join(KINDS)}")
        unknown = sorted(set(item) - COMMON_KEYS - KEYS[kind])
        if unknown:
            raise ConfigError(source, f"{where}.{unknown[0]}", f"unknown key for a {kind} job",
                              f"use: {', '.join(sorted(COMMON_KEYS | KEYS[kind]))}")
        cron = str(item.get("cron") or "")
        try:
            cron_trigger(cron)
        except (ValueError, TypeError) as exc:
            raise ConfigError(source, f"{where}.cron", f"{cron!r} is not a cron expression "
                              f"({exc})", "write five fields, e.g. \"0 8 * * mon\" "
                              "(08:00 CST every Monday)") from None
        name = str(item.get("name") or f"{kind}-{i + 1}")
        if name in names:
            raise ConfigError(source, f"{where}.name", f"duplicate job name {name!r}",
                              "give each job its own name")
        names.add(name)
        options = {k: v for k, v in item.items() if k not in COMMON_KEYS}
        if kind == "ingest":
            if options.get("reader") not in READERS:
                raise ConfigError(source, f"{where}.reader",
                                  f"{options.get('reader')!r} is not a reader",
                                  f"use one of: {', '.join(READERS)}")
            if not options.get("path"):
                raise ConfigError(source, f"{where}.path", "missing",
                                  "give a file, folder or glob, e.g. /data/incoming/*.csv")
        if kind == "cnemc-live" and not options.get("folder"):
            raise ConfigError(source, f"{where}.folder", "missing",
                              "give the folder that receives the feed's hourly files, e.g. "
                              "/data/cnemc-live")
        if kind == "openaq" and options.get("sources") is not None and (
                not isinstance(options["sources"], list)
                or not all(isinstance(n, str) for n in options["sources"])):
            raise ConfigError(source, f"{where}.sources", "expected a list of source names",
                              "write e.g. 'sources: [beijing-openaq]' (names of the 'sources:' "
                              "list), or leave it out for all")
        if kind == "weekly_report" and options.get("districts") is not None and not isinstance(
                options["districts"], list):
            raise ConfigError(source, f"{where}.districts", "expected a list of district ids",
                              "write e.g. 'districts: [dongcheng, xicheng]'")
        jobs.append(Job(name=name, kind=kind, cron=cron, options=options))
    return jobs


def jobs_from_settings(settings) -> list[Job]:
    where = settings.settings_file or "settings"
    jobs = parse_jobs(settings.jobs, where)
    if any(job.kind == "openaq" for job in jobs):
        from ingest.openaq_sources import select_sources, sources_from_settings
        configured = sources_from_settings(settings)
        for job in jobs:
            if job.kind == "openaq":
                if not configured:
                    raise ConfigError(where, "sources", f"job {job.name!r} pulls OpenAQ but no "
                                      "source is configured", "add a 'sources:' list, e.g. "
                                      "'sources: [{kind: openaq, name: city, locations: [2178]}]'")
                select_sources(configured, job.options.get("sources"), where)
    return jobs


# ----------------------------------------------------------------------------- job bodies

def run_weekly_report(job: Job, settings=None, *, now=None):
    """Send the last complete week's report (idempotent: the sent log skips what was sent)."""
    from config.settings import load_settings
    from reports.weekly import run_weekly
    from store.db import make_engine, require_schema

    settings = settings or load_settings()
    engine = make_engine(settings.database_url)
    try:
        require_schema(engine)
        o = job.options
        result = run_weekly(engine, settings, city=o.get("city"), districts=o.get("districts"),
                            send=True, resend=bool(o.get("resend", False)),
                            site_file=o.get("sites"), now=now, log=log.info)
    finally:
        engine.dispose()
    summary = (f"{job.name}: {result.city} {result.week.label}: {result.count('sent')} sent, "
               f"{result.count('failed')} failed, {result.count('skipped')} already sent")
    if result.failed or result.aborted:
        log.error(summary + ("; " + result.aborted if result.aborted else "") + "; failed: "
                  + ", ".join(f"{o.recipient} ({o.error})" for o in result.failed))
    else:
        log.info(summary)
    return result


def _reader(job: Job, engine):
    """(read function, recorded options) of an ingest job: the command line's readers."""
    from ingest.readers import reader_for
    o = job.options
    return reader_for(o["reader"], layout=str(o.get("layout", "long")), station=o.get("station"),
                      units=o.get("unit") or {}, hour_label=str(o.get("hour_label", "beginning")),
                      gas_temperature=o.get("gas_temperature"), engine=engine,
                      source=f"job {job.name}")


def job_files(pattern: str) -> list[Path]:
    path = Path(pattern).expanduser()
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    return [Path(p) for p in sorted(glob.glob(str(path))) if Path(p).is_file()]


def run_ingest(job: Job, settings=None) -> dict:
    """Load the files of ``path`` not loaded yet; one bad file does not stop the others."""
    from config.settings import load_settings
    from ingest.errors import IngestError
    from ingest.loader import file_checksum, load_file
    from store.db import make_engine, require_schema
    from store.queries import loaded_checksums

    settings = settings or load_settings()
    engine = make_engine(settings.database_url)
    counts = {"files": 0, "skipped": 0, "loaded": 0, "failed": 0, "new": 0}
    try:
        require_schema(engine)
        files = job_files(str(job.options["path"]))
        counts["files"] = len(files)
        reader = job.options["reader"]
        sums = {p: file_checksum(p) for p in files}
        with engine.connect() as conn:
            done = loaded_checksums(conn, reader, sums.values())
        read, options = _reader(job, engine)
        for path in files:
            if sums[path] in done:
                counts["skipped"] += 1
                continue
            try:
                result = load_file(engine, reader, path, read, options=options,
                                   strict=bool(job.options.get("strict", False)))
            except IngestError as exc:
                counts["failed"] += 1
                log.error(f"{job.name}: {exc}")
                continue
            counts["loaded"] += 1
            counts["new"] += result.readings_new
            log.info(f"{job.name}: {result.summary()}")
    finally:
        engine.dispose()
    text = (f"{job.name}: {counts['files']} files, {counts['loaded']} loaded, "
            f"{counts['skipped']} already loaded, {counts['failed']} failed, "
            f"{counts['new']:,} new readings")
    (log.error if counts["failed"] else log.info)(text)
    return counts


def run_openaq(job: Job, settings=None, *, client=None, now=None) -> dict:
    """Pull the job's OpenAQ sources (all when it names none); failures logged, others go on."""
    from config.settings import load_settings
    from ingest.openaq import client_from_settings
    from ingest.openaq_sources import PullWindow, run_pull, select_sources, sources_from_settings
    from store.db import make_engine, require_schema

    settings = settings or load_settings()
    where = settings.settings_file or "settings"
    sources = select_sources(sources_from_settings(settings), job.options.get("sources"), where)
    client = client or client_from_settings(settings)
    engine = make_engine(settings.database_url)
    try:
        require_schema(engine)
        report = run_pull(engine, client, sources, request=PullWindow(now=now), where=where,
                          log=lambda text: log.info(f"{job.name}: {text}"))
    finally:
        engine.dispose()
    for failure in report.failures:
        log.error(f"{job.name}: {failure}")
    (log.error if report.failures else log.info)(f"{job.name}: {report.summary()}")
    return {"sensors": report.sensors, "stored": len(report.results),
            "failed": len(report.failures), "new": report.readings_new,
            "unit": "OpenAQ sensors or locations"}


def _loaded_before(conn, reader: str) -> dict[str, object]:
    """File path → start of the newest finished run (ok or unchanged) of ``reader`` on it."""
    from sqlalchemy import func, select

    from store.schema import ingest_runs as r
    rows = conn.execute(select(r.c.file, func.max(r.c.started_at))
                        .where(r.c.reader == reader, r.c.status.in_(("ok", "unchanged")))
                        .group_by(r.c.file)).all()
    return {str(f): started for f, started in rows}


def run_cnemc_live(job: Job, settings=None) -> dict:
    """Load the real-time feed files of ``folder`` not loaded yet (one run and one
    transaction each); one bad file does not stop the others."""
    from datetime import datetime

    from config.settings import load_settings
    from ingest.cnemc_live import SOURCE, is_live_file, load_live_file
    from ingest.errors import IngestError
    from ingest.loader import file_checksum
    from store.db import make_engine, require_schema
    from store.queries import loaded_checksums

    settings = settings or load_settings()
    folder = Path(str(job.options["folder"])).expanduser()
    counts = {"files": 0, "skipped": 0, "loaded": 0, "failed": 0, "new": 0,
              "published_new": 0, "published_changed": 0}
    if not folder.is_dir():
        log.error(f"{job.name}: folder {folder} does not exist")
        counts["failed"] = 1
        counts["unit"] = "folders"
        return counts
    engine = make_engine(settings.database_url)
    try:
        require_schema(engine)
        files = sorted((p for p in folder.rglob("*") if p.is_file()
                        and not p.name.startswith(".")
                        and p.name.lower().endswith((".csv", ".csv.gz"))),
                       key=lambda p: (p.name, str(p.parent)))
        with engine.connect() as conn:
            before = _loaded_before(conn, SOURCE)
        todo = []
        for path in files:
            started = before.get(str(path))
            if started is not None and datetime.fromtimestamp(path.stat().st_mtime) < started:
                counts["skipped"] += 1          # unchanged since a run loaded it
                continue
            todo.append(path)
        sums = {p: file_checksum(p) for p in todo}
        with engine.connect() as conn:
            done = loaded_checksums(conn, SOURCE, sums.values())
        for path in todo:
            if sums[path] in done:
                counts["skipped"] += 1
                continue
            if not is_live_file(path):
                continue                       # another kind of file in the folder
            counts["files"] += 1
            try:
                live = load_live_file(engine, path, strict=bool(job.options.get("strict", False)))
            except IngestError as exc:
                counts["failed"] += 1
                log.error(f"{job.name}: {exc}")
                continue
            counts["loaded"] += 1
            counts["new"] += live.result.readings_new
            counts["published_new"] += live.published_new
            counts["published_changed"] += live.published_changed
            log.info(f"{job.name}: {live.summary()}")
    finally:
        engine.dispose()
    counts["files"] += counts["skipped"]
    text = (f"{job.name}: {counts['files']} feed files, {counts['loaded']} loaded, "
            f"{counts['skipped']} already loaded, {counts['failed']} failed, "
            f"{counts['new']:,} new readings, {counts['published_new']:,} new and "
            f"{counts['published_changed']:,} changed published AQIs")
    (log.error if counts["failed"] else log.info)(text)
    return counts


def run_alerts_job(job: Job, settings=None, *, now=None) -> dict:
    """Send the hourly-AQI alerts of the newest stored hours (idempotent: the sent log skips
    what was sent; failed deliveries go out on the next run)."""
    from config.settings import load_settings
    from reports.alerts import cities_with_alerts, run_alerts
    from store.db import make_engine, require_schema

    settings = settings or load_settings()
    engine = make_engine(settings.database_url)
    counts = {"cities": 0, "episodes": 0, "sent": 0, "skipped": 0, "failed": 0,
              "unit": "alert deliveries"}
    try:
        require_schema(engine)
        city = job.options.get("city")
        chosen = [city] if city or job.options.get("sites") else cities_with_alerts(engine)
        for name in chosen:
            result = run_alerts(engine, settings, city=name, send=True,
                                site_file=job.options.get("sites"), now=now,
                                log=lambda text: log.info(f"{job.name}: {text}"))
            counts["cities"] += 1
            counts["episodes"] += len(result.episodes)
            for status in ("sent", "skipped", "failed"):
                counts[status] += result.count(status)
            for note in result.notes:
                log.warning(f"{job.name}: {result.city} {note}")
            summary = (f"{job.name}: {result.city} (hours ending by {result.at:%Y-%m-%d %H:%M}): "
                       f"{len(result.episodes)} episodes, {result.count('sent')} sent, "
                       f"{result.count('failed')} failed, {result.count('skipped')} already sent")
            if result.failed or result.aborted:
                log.error(summary + ("; " + result.aborted if result.aborted else "")
                          + "; failed: " + ", ".join(f"{o.recipient} ({o.error})"
                                                     for o in result.failed))
            else:
                log.info(summary)
            if result.aborted:
                break
    finally:
        engine.dispose()
    return counts


RUNNERS = {"weekly_report": run_weekly_report, "ingest": run_ingest, "openaq": run_openaq,
           "cnemc-live": run_cnemc_live, "alerts": run_alerts_job}


def run_job(job: Job, settings=None):
    """Run one job now (what the scheduler calls; also ``lantian scheduler --once NAME``)."""
    log.info(f"{job.name}: start ({job.kind})")
    return RUNNERS[job.kind](job, settings)


def _logged(job: Job):
    def run():
        try:
            run_job(job)
        except Exception as exc:  # keep the scheduler alive; the error is in the log
            log.exception(f"{job.name}: failed: {exc}")
    run.__name__ = f"run_{job.kind}"
    return run


def build_scheduler(jobs: list[Job], scheduler_class=None):
    """A scheduler (BlockingScheduler by default) in Asia/Shanghai with one entry per job."""
    if scheduler_class is None:
        from apscheduler.schedulers.blocking import BlockingScheduler as scheduler_class
    scheduler = scheduler_class(timezone=TIMEZONE)
    for job in jobs:
        # one run at a time per job; runs missed while down (up to an hour) run once
        scheduler.add_job(_logged(job), trigger=cron_trigger(job.cron), id=job.name,
                          name=job.name, replace_existing=True, coalesce=True, max_instances=1,
                          misfire_grace_time=3600)
    return scheduler
