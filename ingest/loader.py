"""Write canonical frames to the database: one ingest run and one transaction per file.

A file that fails part-way leaves the database exactly as it was (the data
transaction rolls back) and its ingest run is recorded as ``failed`` with the
one-line reason. Loading the same file twice stores nothing new: the batch is
compared with what is stored, and only new or changed station-hours are
written.

A load changes a stored reading only where the file *carries* that station, hour and
pollutant: a value, or a text that is not a number (stored as NULL flagged
``non_numeric``: it is what the file says). An empty cell (blank, NA, an xlsx formula
without a cached value, a NaN from a conversion) carries nothing and never touches
what is stored; a station-hour the file lists only with empty cells is stored as an
empty row when it is not stored yet. A carried value and flag equal to the stored ones
is unchanged. What a run changes is recorded in ``revisions`` (the rows as they were
and the run that wrote them), so ``lantian history`` and ``lantian runs undo``
(:mod:`store.revisions`) can show and restore it.
"""
from __future__ import annotations

import hashlib
import os
import re
import socket
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from store import schema
from store.db import bump_data_version, lock_for_writing  # noqa: F401 - used by cnemc_live
from store.runs import last_loaded_run, options_text
from store.writer import (FLAG_COLUMNS, VALUE_COLUMNS, HourlyBatch, insert_hourly,
                          insert_revisions, read_hourly, upsert_hourly)

from .errors import IngestError, clip_list, quote
from .frame import check_station_codes, label_codes
from .qc import (CEILING, FLAG_CODE, MISSING, NON_NUMERIC, OK, SPIKE, STUCK, QCRules,
                 flag_column, load_rules)

POLLUTANT_ORDER = [p for _, p in schema.POLLUTANT_COLUMNS]
_POLLUTANT_INDEX = {p: j for j, p in enumerate(POLLUTANT_ORDER)}


class UnknownStationsWarning(UserWarning):
    """Readings for station codes not in the database; the stations were created."""


@dataclass
class LoadResult:
    file: str
    reader: str
    run_id: int | None = None
    status: str = "running"
    rows_read: int = 0
    readings_read: int = 0
    readings_new: int = 0
    readings_changed: int = 0
    readings_flagged: int = 0
    readings_rejected: int = 0
    duplicates_ignored: int = 0
    created_stations: list[str] = field(default_factory=list)
    same_as_run: int | None = None
    skipped: bool = False              # identical to a run whose readings are all still stored
    ignored_columns: list[str] = field(default_factory=list)
    skipped_rows: int = 0
    skipped_names: list[str] = field(default_factory=list)
    message: str = ""

    def summary(self) -> str:
        name = Path(self.file).name
        if self.status == "failed":
            return f"{name}: FAILED — {self.message}"
        if self.skipped:
            return f"{name}: 0 new, 0 changed — nothing new to store ({self.message})"
        head = (f"{name}: {self.readings_read:,} readings read, {self.readings_new:,} new, "
                f"{self.readings_changed:,} changed")
        if self.readings_new == 0 and self.readings_changed == 0:
            head += " — nothing new to store"
            if self.same_as_run:
                head += f" (identical to the file loaded in run #{self.same_as_run})"
        extra = []
        if self.readings_flagged:
            extra.append(f"{self.readings_flagged:,} flagged by QC")
        if self.readings_rejected:
            extra.append(f"{self.readings_rejected:,} excluded from statistics")
        if self.duplicates_ignored:
            extra.append(f"{self.duplicates_ignored:,} identical duplicate readings ignored")
        if self.ignored_columns:
            extra.append(f"columns not loaded: {clip_list(self.ignored_columns)}")
        if self.skipped_rows:
            extra.append(f"{self.skipped_rows:,} rows of quantities not stored skipped "
                         f"({clip_list(self.skipped_names)})")
        if self.created_stations:
            extra.append(f"new stations without district: {clip_list(self.created_stations)}")
        return head + (f" ({'; '.join(extra)})" if extra else "")


def file_checksum(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


#: A 'running' run of another machine with no end after this long is closed as interrupted.
STALE_AFTER = timedelta(hours=24)
_OWNER = re.compile(r"running: pid (\d+) on (.+)")


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:                                   # a killed child nobody has reaped yet
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def _same_run(conn, run_id: int) -> int | None:
    """The newest finished run (ok or unchanged) of the same file, reader and options as
    run ``run_id``."""
    r = schema.ingest_runs.c
    mine = conn.execute(select(r.checksum, r.reader, r.options).where(r.id == run_id)).first()
    if mine is None or not mine.checksum:
        return None
    return conn.execute(select(func.max(r.id)).where(
        r.checksum == mine.checksum, r.reader == mine.reader, r.options == mine.options,
        r.id != run_id, r.status.in_(("ok", "unchanged")))).scalar()


def _still_as_loaded(conn, run_id: int, margin_hours: int) -> int | None:
    """The earlier run that loaded the same file (checksum, reader, options) as run
    ``run_id`` when loading it again cannot change anything, so it need not be read:
    the newest such run with status ok, not undone, with its span of hours recorded
    (runs before migration 0007 have none: never skipped), that wrote every reading the
    file carried (new + changed = read: its station-hours are the file's), none of whose
    rows was changed or deleted since (no revision names it as the previous run: undo
    and every later write record one), and whose stations got no write after it within
    its span widened by the QC context (neighbours that could change a QC flag).
    None: read the file."""
    r = schema.ingest_runs.c
    mine = conn.execute(select(r.checksum, r.reader, r.options).where(r.id == run_id)).first()
    if mine is None or not mine.checksum:
        return None
    prev = conn.execute(select(r.id, r.status, r.undone_by, r.first_hour, r.last_hour,
                               r.readings_read, r.readings_new, r.readings_changed).where(
        r.checksum == mine.checksum, r.reader == mine.reader, r.options == mine.options,
        r.id < run_id, r.status == "ok").order_by(r.id.desc()).limit(1)).first()
    if (prev is None or prev.undone_by is not None or prev.first_hour is None
            or prev.last_hour is None or not prev.readings_read
            or prev.readings_new + prev.readings_changed != prev.readings_read):
        return None
    R = int(prev.id)
    rev, hourly = schema.revisions.c, schema.hourly.c
    if conn.execute(select(rev.run_id).where(rev.previous_run_id == R).limit(1)).first():
        return None
    # a write after R (and before this run) to R's stations near R's hours
    later = conn.execute(select(func.count()).select_from(schema.ingest_runs).where(
        r.id > R, r.id != run_id, r.status == "ok")).scalar()
    if later:
        ids = [int(i) for i, in conn.execute(select(hourly.station_id).distinct()
                                             .where(hourly.run_id == R))]
        if not ids:
            return None
        margin = timedelta(hours=margin_hours)
        lo, hi = prev.first_hour - margin, prev.last_hour + margin
        if conn.execute(select(hourly.run_id).where(
                hourly.station_id.in_(ids), hourly.ts >= lo, hourly.ts <= hi,
                hourly.run_id > R).limit(1)).first():
            return None
        if conn.execute(select(rev.run_id).where(
                rev.run_id > R, rev.station_id.in_(ids), rev.ts >= lo, rev.ts <= hi)
                .limit(1)).first():
            return None
    return R


def as_sqlalchemy_error(exc: BaseException) -> BaseException:
    """A database driver's own error (sqlite3, psycopg: raised through the raw connection
    that bulk writes use) as SQLAlchemy's matching error (``IntegrityError`` …, with the
    driver's error as ``orig``), so that callers catching :class:`SQLAlchemyError` catch
    it; any other exception unchanged."""
    module = type(exc).__module__.split(".")[0]
    if module == "sqlite3":
        import sqlite3
        base = sqlite3.Error
    elif module == "psycopg":
        import psycopg
        base = psycopg.Error
    else:
        return exc
    if not isinstance(exc, base):
        return exc
    wrapped = DBAPIError.instance(None, None, exc, base)
    wrapped.__cause__ = exc
    return wrapped


def close_stale_runs(conn) -> list[int]:
    """Close 'running' runs whose process is gone (in ``conn``'s transaction).

    A run records its owner (``running: pid N on HOST``) when it starts. On this
    host, a run whose process no longer exists was killed or crashed (or the
    database refused to record its end): its data transaction died with it
    (rolled back: the run becomes ``failed``), unless it had committed (readings
    of the run are stored: ``ok``, counts unknown). A run of another host is
    closed only after :data:`STALE_AFTER` without an end. Returns the ids closed.
    """
    host = socket.gethostname()
    closed = []
    for run_id, message, started in conn.execute(
            select(schema.ingest_runs.c.id, schema.ingest_runs.c.message,
                   schema.ingest_runs.c.started_at)
            .where(schema.ingest_runs.c.status == "running")).all():
        owner = _OWNER.fullmatch(message or "")
        if owner and owner.group(2) == host:
            if not _process_gone(int(owner.group(1))):
                continue
            why = f"its process ({owner.group(1)} on {host}) ended before the run finished"
        elif started is not None and _now() - started > STALE_AFTER:
            why = f"no end was recorded within {STALE_AFTER.total_seconds() / 3600:g} hours"
        else:
            continue
        stored = conn.execute(select(schema.hourly.c.run_id)
                              .where(schema.hourly.c.run_id == run_id).limit(1)).first()
        conn.execute(schema.ingest_runs.update().where(schema.ingest_runs.c.id == run_id).values(
            # committed data: the whole file is stored (one transaction), only its end is not
            status="ok" if stored else "failed", finished_at=_now(),
            message=f"interrupted: {why} (killed, crashed or the database failed); " + (
                "its readings had been stored, its counts were not recorded" if stored else
                "nothing of it was stored: load the file again")))
        closed.append(int(run_id))
    return closed


def start_run(engine, reader: str, file, checksum: str, options: dict) -> tuple[int, int | None]:
    """Record a running ingest run (own transaction); return its id and an earlier identical run.

    Runs left 'running' by a process that no longer exists are closed first
    (:func:`close_stale_runs`)."""
    opts = options_text(options)
    with engine.begin() as conn:
        close_stale_runs(conn)
        same = last_loaded_run(conn, checksum, reader, options)
        run_id = conn.execute(schema.ingest_runs.insert().values(
            reader=reader, file=str(file), checksum=checksum, options=opts,
            started_at=_now(), status="running",
            message=f"running: pid {os.getpid()} on {socket.gethostname()}")
        ).inserted_primary_key[0]
    return int(run_id), same


def finish_run(engine, result: LoadResult) -> None:
    with engine.begin() as conn:
        conn.execute(schema.ingest_runs.update().where(schema.ingest_runs.c.id == result.run_id)
                     .values(finished_at=_now(), status=result.status, rows_read=result.rows_read,
                             readings_read=result.readings_read, readings_new=result.readings_new,
                             readings_changed=result.readings_changed,
                             readings_flagged=result.readings_flagged,
                             readings_rejected=result.readings_rejected,
                             message=result.message[:2000]))


def _one_line(exc: BaseException) -> str:
    """``Type: message`` on one line; a database error: the driver's first line (without
    SQLAlchemy's statement and background link, or the server's hint and context)."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        exc = exc.orig
    message = str(exc)
    if type(exc).__module__.split(".")[0] in ("sqlite3", "psycopg"):
        message = (message.strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {' '.join(message.split())}"


def _record_failure(engine, result: LoadResult) -> None:
    """Record a failed run. When the database refuses even that (down, full, read-only),
    the error that stopped the load is the one to report: the run stays 'running' and
    the next run closes it (:func:`close_stale_runs`)."""
    try:
        finish_run(engine, result)
    except SQLAlchemyError:
        pass


def resolve_stations(conn, codes, *, strict: bool, source: str, synthetic: bool = False,
                     ) -> tuple[dict[str, int], list[str]]:
    """Station code → id, creating unknown codes (unassigned district) unless strict."""
    codes = sorted(set(codes))
    found = dict(conn.execute(select(schema.stations.c.code, schema.stations.c.id)
                              .where(schema.stations.c.code.in_(codes))).all()) if codes else {}
    unknown = [c for c in codes if c not in found]
    # Readers check codes with their file rows; this stops any other source of frames.
    check_station_codes(unknown, source, what="new station code")
    if unknown and strict:
        raise IngestError(source, f"unknown station code(s) {clip_list(unknown)}",
                          expected="stations listed in the site file (load it with 'lantian "
                          "init --sites FILE') or run without --strict to create them")
    for code in unknown:
        found[code] = conn.execute(schema.stations.insert().values(
            code=code, name_zh=code, name_en=code, role="evaluation", network="",
            synthetic=synthetic, origin="ingest")).inserted_primary_key[0]
    return found, unknown


def to_batch(frame: pd.DataFrame, station_ids: dict[str, int], source: str,
             ) -> tuple[HourlyBatch, list[str], int]:
    """Pivot the canonical long frame to one row per station-hour.

    Returns the batch (sorted by station, time), the pollutants present and the
    number of duplicate readings dropped. A cell is *carried* (``batch.carried``) when
    the frame gives it a value or a text flagged ``non_numeric``; an empty cell (NaN,
    whatever its flag) is not, and stays NaN/``missing`` in the batch. Conflicting
    duplicates (same station, hour and pollutant with two different carried values) are
    an error; an empty duplicate of a carried reading is dropped.
    """
    sid = label_codes(frame["station"], station_ids, "station", source)
    hours = frame["time"].to_numpy(dtype="datetime64[h]").astype(np.int64)
    pcol = label_codes(frame["pollutant"], _POLLUTANT_INDEX, "pollutant", source)
    base = hours.min() if len(hours) else 0
    key = (sid << 32) | (hours - base)
    row_keys, row = np.unique(key, return_inverse=True)
    n = len(row_keys)
    values_in = frame["value"].to_numpy(dtype="float64")
    flags_in = label_codes(frame["flag"], FLAG_CODE, "QC flag", source).astype(np.int8)

    cell = row * 6 + pcol
    carried_in = ~np.isnan(values_in) | (flags_in == NON_NUMERIC)
    taken = carried_in.nonzero()[0]
    # every entry beyond the first of a cell is a duplicate (counted without a sort)
    duplicates = int(len(cell) - np.count_nonzero(np.bincount(cell, minlength=n * 6)))
    if duplicates and (np.bincount(cell[taken], minlength=n * 6) > 1).any():
        order = taken[np.argsort(cell[taken], kind="stable")]
        cell_sorted = cell[order]
        dup = np.zeros(len(order), dtype=bool)
        dup[1:] = cell_sorted[1:] == cell_sorted[:-1]
        later, first = order[dup], order[np.flatnonzero(dup) - 1]
        a, b = values_in[later], values_in[first]
        conflict = ~((a == b) | (np.isnan(a) & np.isnan(b))) | (flags_in[later] != flags_in[first])
        if conflict.any():
            i, j = int(first[conflict][0]), int(later[conflict][0])
            r = frame.iloc[j]
            rows = frame["row"] if "row" in frame.columns else None
            raise IngestError(source, f"station {quote(r['station'])} "
                              f"{pd.Timestamp(r['time']):%Y-%m-%d %H:%M} "
                              f"{r['pollutant']} is given twice with different values "
                              f"({values_in[i]:g} and {values_in[j]:g})",
                              row=int(rows.iloc[j]) if rows is not None else None,
                              expected="one value per station, hour and pollutant")
    values = np.full((n, 6), np.nan)
    flags = np.full((n, 6), MISSING, dtype=np.int8)
    carried = np.zeros((n, 6), dtype=bool)
    r, p = row[taken], pcol[taken]
    values[r, p] = values_in[taken]
    flags[r, p] = flags_in[taken]
    carried[r, p] = True
    present = [POLLUTANT_ORDER[j] for j in np.unique(pcol)]
    station = (row_keys >> 32).astype(np.int64)
    ts = ((row_keys & 0xFFFFFFFF) + base).astype("datetime64[h]").astype("datetime64[s]")
    return HourlyBatch(station, ts, values, flags, carried), present, duplicates


#: Flags QC derives from the values alone: a stored neighbour flagged so is given back to
#: QC as a plain value, as it was when its own file was checked.
_DERIVED_FLAGS = (OK, CEILING, SPIKE, STUCK)


def qc_context_hours(rules: QCRules) -> int:
    """Stored hours either side of a batch that QC sees with it: the spike rule needs
    both neighbours, the stuck rule a run of ``stuck_hours``."""
    return max(2 * rules.stuck_hours, 48)


def run_qc(batch: HourlyBatch, present: list[str], rules: QCRules,
           stored: pd.DataFrame | None = None) -> None:
    """Flag the carried cells of ``batch``, with the stored hours of ``stored`` (read with a
    margin of :func:`qc_context_hours`) as their neighbours: a file that carries part of
    what is stored is judged as the whole was (a stored spike's neighbours, a stuck run
    that continues into the stored hours), so loading a subset again changes no flag.
    Stored cells are only context: their own flags are never rewritten here."""
    hours = batch.ts.astype("datetime64[h]").astype(np.int64)
    carried = batch.carried if batch.carried is not None else np.ones(batch.values.shape, bool)
    if stored is None or stored.empty:
        for p in present:
            j = _POLLUTANT_INDEX[p]
            batch.flags[:, j] = flag_column(p, batch.values[:, j], batch.flags[:, j],
                                            batch.station_id, hours, rules)
        return
    s_station = stored["station_id"].to_numpy(np.int64)
    s_hours = stored["ts"].to_numpy("datetime64[h]").astype(np.int64)
    b_key = (batch.station_id << 32) | (hours & 0xFFFFFFFF)
    s_key = (s_station << 32) | (s_hours & 0xFFFFFFFF)
    # one series per station: the stored hours overlaid with the batch's carried cells
    key = np.concatenate([b_key, s_key])
    order = np.argsort(key, kind="stable")          # batch first among equal keys
    first = np.ones(len(key), dtype=bool)
    first[1:] = key[order][1:] != key[order][:-1]
    keep = order[first]                             # each station-hour once, batch preferred
    keep = keep[np.argsort(key[keep], kind="stable")]
    station = np.concatenate([batch.station_id, s_station])[keep]
    hour = np.concatenate([hours, s_hours])[keep]
    n_batch = len(batch)
    from_batch = keep < n_batch
    # where the batch does not carry a cell, the stored value (if any) is the neighbour
    pos = np.searchsorted(s_key, b_key)
    pos = np.minimum(pos, max(len(s_key) - 1, 0))
    b_stored = (s_key[pos] == b_key) if len(s_key) else np.zeros(n_batch, dtype=bool)
    s_values = stored[VALUE_COLUMNS].to_numpy(np.float64)
    s_flags = stored[FLAG_COLUMNS].to_numpy(np.int8)
    for p in present:
        j = _POLLUTANT_INDEX[p]
        context_flags = np.where(np.isin(s_flags[:, j], _DERIVED_FLAGS), OK, s_flags[:, j])
        b_values = batch.values[:, j].copy()
        b_flags = batch.flags[:, j].copy()
        fill = ~carried[:, j] & b_stored
        b_values[fill] = s_values[pos[fill], j]
        b_flags[fill] = context_flags[pos[fill]]
        values = np.concatenate([b_values, s_values[:, j]])[keep]
        flags = np.concatenate([b_flags, context_flags]).astype(np.int8)[keep]
        checked = flag_column(p, values, flags, station, hour, rules)
        mine = np.zeros(n_batch, dtype=np.int8)
        mine[keep[from_batch]] = checked[from_batch]
        batch.flags[:, j] = np.where(carried[:, j], mine, batch.flags[:, j])


@dataclass
class _Diff:
    """What a batch changes: station-hours to insert, stored ones to rewrite (merged rows
    and the rows they replace, for ``revisions``), and the readings new / changed."""
    new_rows: np.ndarray                  # bool (n,): not stored yet
    changed_rows: np.ndarray              # bool (n,): stored, and a carried cell differs
    merged: HourlyBatch                   # the changed rows as they are to be (whole rows)
    replaced: HourlyBatch                 # the changed rows as they were
    replaced_run: np.ndarray              # int64: the run that had written each of them
    readings_new: int
    readings_changed: int


def _readable(values, flags):
    return ~np.isnan(values) | (flags == NON_NUMERIC)


def _diff(batch: HourlyBatch, stored: pd.DataFrame) -> _Diff:
    """Compare the carried cells of ``batch`` with the stored rows (``read_hourly(…,
    with_run=True)``), all in numpy masks (n, 6). A cell changes only where the batch
    carries it and its value or flag differs from the stored one (NaN equal to NaN); a
    reading is *new* where nothing readable was stored, else *changed*. A changed row is
    the stored row with the carried cells replaced; cells not carried stay as stored."""
    carried = batch.carried if batch.carried is not None else np.ones(batch.values.shape, bool)
    n = len(batch)
    nothing = batch.take(np.zeros(n, dtype=bool))
    if stored.empty:
        return _Diff(np.ones(n, dtype=bool), np.zeros(n, dtype=bool), nothing, nothing,
                     np.zeros(0, dtype=np.int64), int(carried.sum()), 0)
    skey = (stored["station_id"].to_numpy(np.int64) << 32) | (
        stored["ts"].to_numpy("datetime64[h]").astype(np.int64) & 0xFFFFFFFF)
    bkey = (batch.station_id << 32) | (
        batch.ts.astype("datetime64[h]").astype(np.int64) & 0xFFFFFFFF)
    pos = np.searchsorted(skey, bkey)
    pos_clipped = np.minimum(pos, len(skey) - 1)
    exists = skey[pos_clipped] == bkey
    at = pos_clipped[exists]
    old_values = np.full((n, 6), np.nan)
    old_flags = np.full((n, 6), MISSING, dtype=np.int8)
    old_values[exists] = stored[VALUE_COLUMNS].to_numpy(np.float64)[at]
    old_flags[exists] = stored[FLAG_COLUMNS].to_numpy(np.int8)[at]
    nv, nf = batch.values, batch.flags
    same = ((nv == old_values) | (np.isnan(nv) & np.isnan(old_values))) & (nf == old_flags)
    differs = carried & ~same
    old_readable = _readable(old_values, old_flags)
    changed_rows = exists & differs.any(axis=1)
    keep = changed_rows
    merged = HourlyBatch(batch.station_id[keep], batch.ts[keep],
                         np.where(carried[keep], nv[keep], old_values[keep]),
                         np.where(carried[keep], nf[keep], old_flags[keep]).astype(np.int8))
    replaced = HourlyBatch(batch.station_id[keep], batch.ts[keep], old_values[keep],
                           old_flags[keep])
    run = np.zeros(n, dtype=np.int64)
    run[exists] = stored["run_id"].to_numpy(np.int64)[at]
    return _Diff(~exists, changed_rows, merged, replaced, run[keep],
                 int((differs & ~old_readable).sum()), int((differs & old_readable).sum()))


def load_frame(conn, frame: pd.DataFrame, result: LoadResult, *, strict: bool = False,
               rules: QCRules | None = None, synthetic: bool = False) -> LoadResult:
    """Store a canonical frame inside ``conn``'s transaction; fills ``result``'s counts."""
    rules = rules or load_rules()
    result.rows_read = int(frame.attrs.get("rows_read", len(frame)))
    # Say what the source held that is not stored (nothing is dropped silently).
    result.ignored_columns = list(frame.attrs.get("ignored_columns", []))
    result.skipped_rows = int(frame.attrs.get("skipped_rows", 0))
    result.skipped_names = list(frame.attrs.get("skipped_pollutants", []))
    if frame.empty:
        result.status = "unchanged"
        return result
    lock_for_writing(conn)
    if result.run_id is not None and result.same_as_run is None:
        # a load of the same file that committed while this one waited for the lock
        result.same_as_run = _same_run(conn, result.run_id)
    ids, created = resolve_stations(conn, [str(c) for c in frame["station"].unique()], strict=strict,
                                    source=result.file, synthetic=synthetic)
    if created:
        warnings.warn(f"{result.file}: unknown station code(s) {clip_list(created)} created "
                      "without a district; assign them in the site file", UnknownStationsWarning,
                      stacklevel=2)
    result.created_stations = created
    batch, present, result.duplicates_ignored = to_batch(frame, ids, result.file)
    margin = np.timedelta64(qc_context_hours(rules), "h")
    stored = read_hourly(conn, batch.station_id, batch.ts.min() - margin,
                         batch.ts.max() + margin, with_run=True)
    run_qc(batch, present, rules, stored)
    carried = batch.carried                # QC flagged only these: the others are NaN/missing
    result.readings_read = int(carried.sum())
    result.readings_flagged = int((carried & (batch.flags != OK)).sum())
    result.readings_rejected = int((carried & np.isin(batch.flags, rules.excluded_codes)).sum())

    diff = _diff(batch, stored)
    result.readings_new, result.readings_changed = diff.readings_new, diff.readings_changed
    write = diff.new_rows | diff.changed_rows
    if diff.new_rows.any():
        insert_hourly(conn, batch.take(diff.new_rows), result.run_id)
    if diff.changed_rows.any():
        upsert_hourly(conn, diff.merged, result.run_id)           # whole, merged rows
        insert_revisions(conn, diff.replaced, result.run_id, diff.replaced_run)
    if write.any():
        bump_data_version(conn)
        written = batch.ts[write]
        conn.execute(schema.ingest_runs.update().where(schema.ingest_runs.c.id == result.run_id)
                     .values(first_hour=pd.Timestamp(written.min()).to_pydatetime(),
                             last_hour=pd.Timestamp(written.max()).to_pydatetime()))
    result.status = "ok" if write.any() else "unchanged"
    return result


def load_file(engine, reader: str, path, read, *, options: dict | None = None,
              strict: bool = False, synthetic: bool = False) -> LoadResult:
    """Read ``path`` with ``read(path) -> frame`` and store it as one ingest run.

    Raises :class:`IngestError` (after recording the failed run) when the file
    is bad; the database then holds exactly what it held before.
    """
    path = Path(path)
    checksum = file_checksum(path) if path.is_file() else ""
    result = LoadResult(file=str(path), reader=reader)
    result.run_id, result.same_as_run = start_run(engine, reader, path, checksum, options or {})
    try:
        with engine.begin() as conn:
            loaded = _still_as_loaded(conn, result.run_id, qc_context_hours(load_rules()))
        if loaded is not None:
            result.status, result.same_as_run, result.skipped = "unchanged", loaded, True
            result.message = f"identical to run #{loaded}, loaded before; nothing read"
            finish_run(engine, result)
            return result
        frame = read(path)
        with engine.begin() as conn:
            load_frame(conn, frame, result, strict=strict, synthetic=synthetic)
    except IngestError as exc:
        result.status, result.message = "failed", str(exc)
        _record_failure(engine, result)
        raise
    except Exception as exc:  # unexpected: still record the failure, then let it surface
        result.status, result.message = "failed", _one_line(exc)
        error = as_sqlalchemy_error(exc)     # a raw driver error: as SQLAlchemy's
        error.lantian_file = str(path)       # the CLI names the file in its one-line error
        _record_failure(engine, result)
        if error is not exc:
            raise error from exc
        raise
    if result.status == "unchanged" and result.same_as_run:
        result.message = f"identical to run #{result.same_as_run}"
    try:
        finish_run(engine, result)
    except SQLAlchemyError as exc:    # the readings are stored: only the run's end is not
        exc.lantian_file, exc.lantian_stored = str(path), True
        raise
    return result
