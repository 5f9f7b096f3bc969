"""The audit trail of the readings: history of a station-hour, the ingest runs, undo.

What is recorded (migration 0007)
-------------------------------------------
``hourly.run_id`` is the run that last wrote a station-hour. When a run *changes* a
stored station-hour (never when it inserts one), the loader records the row as it was
in ``revisions``: the run, the run that had written the row before it
(``previous_run_id``) and all six values and flags. For one station-hour the revisions
form a chain from the run that inserted the row to the current row: the state a run
left is the ``previous`` state of the revision whose ``previous_run_id`` is that run,
or the current row when ``hourly.run_id`` is that run, or nothing (an undo deleted the
emptied row). The cells a run wrote are those that differ between the state before it
and the state it left (a load writes only cells it carries, and only when they
differ).

Undo
----
:func:`undo_run` writes as a run of its own (reader ``undo``, recorded in ``revisions``
like a load, so the history shows it and nothing is lost): it puts back, in the
cells the run wrote, what was there before (nothing, for cells of rows it inserted),
deletes rows left empty, refreshes ``station_daily`` for those station-days and bumps
the data version, all in one transaction under the loaders' write lock. It refuses
when a later run changed any of those cells (a later run that was itself undone does
not count: its undo put the cells back), and marks the run ``undone_by``. Runs from
before migration 0007 (``meta.revisions_since``) cannot be undone: what they replaced
was not kept.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import func, select, tuple_

from . import schema
from .db import bump_data_version
from .writer import (FLAG_COLUMNS, VALUE_COLUMNS, HourlyBatch, delete_hourly, insert_revisions,
                     read_hourly, upsert_hourly)

MISSING = 1             # ingest.qc.MISSING: an empty cell is NaN flagged missing
NON_NUMERIC = 3         # ingest.qc.NON_NUMERIC
UNDO_READER = "undo"
_CHUNK = 2000           # keys per IN (…) query


class UndoError(Exception):
    """A run that cannot be undone (one line)."""


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


def revisions_since(conn) -> int:
    """The first run whose changes are in ``revisions`` (older runs kept nothing)."""
    row = conn.execute(select(schema.meta.c.value)
                       .where(schema.meta.c.key == "revisions_since")).first()
    return int(row[0]) if row else 1


def revision_count(conn) -> int:
    return int(conn.execute(select(func.count()).select_from(schema.revisions)).scalar())


# -- rows as arrays --------------------------------------------------------------------------

@dataclass
class _Rows:
    """Station-hour rows as arrays: key, state (values, flags), and a run per row
    (``run``: the run of a revision or the row's run; ``prev``: a revision's
    previous_run_id)."""
    sid: np.ndarray
    ts: np.ndarray
    values: np.ndarray
    flags: np.ndarray
    run: np.ndarray
    prev: np.ndarray

    @classmethod
    def empty(cls) -> "_Rows":
        return cls(np.zeros(0, np.int64), np.zeros(0, "datetime64[s]"), np.zeros((0, 6)),
                   np.zeros((0, 6), np.int8), np.zeros(0, np.int64), np.zeros(0, np.int64))

    @classmethod
    def from_records(cls, rows, has_prev: bool) -> "_Rows":
        if not rows:
            return cls.empty()
        frame = pd.DataFrame([tuple(r) for r in rows], columns=list(rows[0]._fields))
        return cls(frame["station_id"].to_numpy(np.int64),
                   pd.to_datetime(frame["ts"]).to_numpy("datetime64[s]"),
                   frame[VALUE_COLUMNS].astype("float64").to_numpy(np.float64),
                   frame[FLAG_COLUMNS].to_numpy(np.int8),
                   frame["run_id"].to_numpy(np.int64),
                   frame["previous_run_id"].to_numpy(np.int64) if has_prev
                   else np.zeros(len(frame), np.int64))

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> "_Rows":
        if frame.empty:
            return cls.empty()
        return cls(frame["station_id"].to_numpy(np.int64), frame["ts"].to_numpy("datetime64[s]"),
                   frame[VALUE_COLUMNS].to_numpy(np.float64), frame[FLAG_COLUMNS].to_numpy(np.int8),
                   frame["run_id"].to_numpy(np.int64), np.zeros(len(frame), np.int64))

    def __len__(self) -> int:
        return len(self.sid)

    @property
    def key(self) -> np.ndarray:
        return keys(self.sid, self.ts)

    def take(self, idx) -> "_Rows":
        return _Rows(self.sid[idx], self.ts[idx], self.values[idx], self.flags[idx],
                     self.run[idx], self.prev[idx])

    @staticmethod
    def concat(parts: list["_Rows"]) -> "_Rows":
        parts = [p for p in parts if len(p)]
        if not parts:
            return _Rows.empty()
        return _Rows(*(np.concatenate([getattr(p, f) for p in parts])
                       for f in ("sid", "ts", "values", "flags", "run", "prev")))


def keys(sid, ts) -> np.ndarray:
    """One int64 per station-hour."""
    hours = np.asarray(ts).astype("datetime64[h]").astype(np.int64)
    return (np.asarray(sid, dtype=np.int64) << 32) | (hours & 0xFFFFFFFF)


def same_cells(v1, f1, v2, f2) -> np.ndarray:
    """Cell by cell: equal value (NaN equal to NaN) and flag."""
    return ((v1 == v2) | (np.isnan(v1) & np.isnan(v2))) & (f1 == f2)


def _empty_state(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full((n, 6), np.nan), np.full((n, 6), MISSING, dtype=np.int8)


def _lookup(key: np.ndarray, want: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position in ``key`` (unique) of each ``want``, and whether it is there."""
    if not len(key):
        return np.zeros(len(want), np.int64), np.zeros(len(want), bool)
    order = np.argsort(key, kind="stable")
    pos = np.minimum(np.searchsorted(key[order], want), len(key) - 1)
    found = key[order][pos] == want
    return order[pos], found


def _revisions_where(conn, clause) -> _Rows:
    r = schema.revisions
    return _Rows.from_records(conn.execute(select(r).where(clause)).all(), has_prev=True)


def _revisions_with_prev(conn, runs) -> _Rows:
    runs = sorted({int(x) for x in runs})
    parts = [_revisions_where(conn, schema.revisions.c.previous_run_id.in_(runs[i:i + _CHUNK]))
             for i in range(0, len(runs), _CHUNK)]
    return _Rows.concat(parts)


def _current_rows(conn, sid: np.ndarray, ts: np.ndarray) -> _Rows:
    """The hourly rows (with their run) of these station-hours that exist."""
    h = schema.hourly
    cols = [h.c.station_id, h.c.ts, *[h.c[c] for c in VALUE_COLUMNS],
            *[h.c[c] for c in FLAG_COLUMNS], h.c.run_id]
    pairs = list(zip(np.asarray(sid, dtype=np.int64).tolist(),
                     np.asarray(ts).astype("datetime64[s]").tolist()))
    parts = []
    for i in range(0, len(pairs), _CHUNK):
        rows = conn.execute(select(*cols).where(
            tuple_(h.c.station_id, h.c.ts).in_(pairs[i:i + _CHUNK]))).all()
        parts.append(_Rows.from_records(rows, has_prev=False))
    return _Rows.concat(parts)


# -- undo --------------------------------------------------------------------------------

@dataclass
class UndoResult:
    run_id: int
    undo_run_id: int
    file: str
    restored: int = 0            # readings put back to what the run replaced
    removed: int = 0             # readings the run had added, now empty again
    rows_deleted: int = 0        # station-hours left empty and deleted
    rows_written: int = 0        # station-hours rewritten
    days: int = 0                # station-days whose daily row was refreshed
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (f"run #{self.run_id} ({self.file}) undone by run #{self.undo_run_id}: "
                f"{self.restored:,} readings restored to the values it replaced, "
                f"{self.removed:,} readings it added removed "
                f"({self.rows_written:,} station-hours rewritten, {self.rows_deleted:,} "
                f"deleted; daily statistics refreshed for {self.days:,} station-days)")
        return text + "".join(f"; {n}" for n in self.notes)


def file_name(file: str) -> str:
    """The name of a run's file (a path's last part; an undo's "run #N" as it is)."""
    from pathlib import Path
    return file if file.startswith("run #") else Path(file).name or file


def _run_label(row) -> str:
    return (f"run #{row.id} ({row.reader}, {file_name(str(row.file))}, "
            f"{row.started_at:%Y-%m-%d %H:%M})")


def _describe(conn, sid: int, ts, j: int) -> str:
    code = conn.execute(select(schema.stations.c.code)
                        .where(schema.stations.c.id == int(sid))).scalar()
    return f"{code} {pd.Timestamp(ts):%Y-%m-%d %H:%M} {schema.POLLUTANT_COLUMNS[j][1]}"


def undo_run(engine, run_id: int) -> UndoResult:
    """Undo run ``run_id`` in one transaction (see the module docstring); raises
    :class:`UndoError` (nothing changed) when it cannot."""
    from .db import lock_for_writing
    runs = schema.ingest_runs
    with engine.begin() as conn:
        lock_for_writing(conn)
        run = conn.execute(select(runs).where(runs.c.id == int(run_id))).first()
        if run is None:
            raise UndoError(f"there is no ingest run #{run_id} (see 'lantian runs list')")
        if run.undone_by is not None:
            raise UndoError(f"run #{run_id} was already undone by run #{run.undone_by}")
        if run.reader == UNDO_READER:
            raise UndoError(f"run #{run_id} is an undo ({run.file}); load the file of that "
                            "run again to bring its readings back")
        if run.status in ("failed", "running"):
            raise UndoError(f"run #{run_id} is {run.status}: nothing of it is stored"
                            if run.status == "failed" else
                            f"run #{run_id} is still running; wait for it to finish")
        if run.id < revisions_since(conn):
            raise UndoError(f"run #{run_id} was loaded before revisions were kept (schema "
                            "0007): what it replaced is not known, so it cannot be undone")
        result = _undo(conn, run)
    return result


def _undo(conn, run) -> UndoResult:
    R = int(run.id)
    rv = schema.revisions
    # 1. the station-hours R wrote: changed (a revision of R), or inserted and still
    #    R's (current run R, found within R's span), or inserted and changed since
    #    (a revision whose previous run is R).
    changed = _revisions_where(conn, rv.c.run_id == R)          # state before R
    later = _revisions_where(conn, rv.c.previous_run_id == R)    # state R left
    ids = [int(i) for i in conn.execute(select(schema.stations.c.id)).scalars()]
    if run.first_hour is not None and ids:
        mine = _Rows.from_frame(read_hourly(conn, ids, np.datetime64(run.first_hour, "s"),
                                            np.datetime64(run.last_hour, "s"), with_run=True,
                                            of_run=R))
    else:
        mine = _Rows.empty()
    all_keys = np.unique(np.concatenate([changed.key, later.key, mine.key]))
    n = len(all_keys)
    if n == 0:
        raise UndoError(f"run #{R} ({file_name(str(run.file))}) changed no readings: "
                        "nothing to undo")
    before_v, before_f = _empty_state(n)
    at, ok = _lookup(changed.key, all_keys)
    before_v[ok], before_f[ok] = changed.values[at[ok]], changed.flags[at[ok]]
    after_v, after_f = _empty_state(n)
    at, ok = _lookup(later.key, all_keys)
    after_v[ok], after_f[ok] = later.values[at[ok]], later.flags[at[ok]]
    at, ok = _lookup(mine.key, all_keys)
    after_v[ok], after_f[ok] = mine.values[at[ok]], mine.flags[at[ok]]
    wrote = ~same_cells(before_v, before_f, after_v, after_f)          # (n, 6): R's cells

    # 2. the current rows of those station-hours
    found = _Rows.concat([changed, later, mine])
    at, _ = _lookup(found.key, all_keys)
    sid, ts_of = found.sid[at], found.ts[at]
    others = ~np.isin(all_keys, mine.key)
    current = _Rows.concat([mine, _current_rows(conn, sid[others], ts_of[others])])
    cur_v, cur_f = _empty_state(n)
    cur_run = np.zeros(n, dtype=np.int64)
    at, exists = _lookup(current.key, all_keys)
    cur_v[exists], cur_f[exists] = current.values[at[exists]], current.flags[at[exists]]
    cur_run[exists] = current.run[at[exists]]

    # 3. a later run that changed one of R's cells: walk each chain on from R
    _refuse_if_changed_later(conn, R, later, all_keys, wrote, current)

    # 4. the new state: R's cells as before R, the others as they are
    new_v = np.where(wrote, before_v, cur_v)
    new_f = np.where(wrote, before_f, cur_f).astype(np.int8)
    empty = (np.isnan(new_v) & (new_f == MISSING)).all(axis=1)
    delete = exists & empty
    rewrite = ~empty & (~exists | ~same_cells(new_v, new_f, cur_v, cur_f).all(axis=1))
    touched = delete | rewrite
    if not touched.any():
        raise UndoError(f"run #{R} ({file_name(str(run.file))}): its readings are already "
                        "as before it (nothing to undo)")

    runs = schema.ingest_runs
    now = _now()
    U = int(conn.execute(runs.insert().values(
        reader=UNDO_READER, file=f"run #{R}", checksum="",
        options=json.dumps({"undo": R}), started_at=now, status="running",
        message="")).inserted_primary_key[0])
    result = UndoResult(run_id=R, undo_run_id=U, file=file_name(str(run.file)))
    was = exists & touched
    insert_revisions(conn, HourlyBatch(sid[was], ts_of[was], cur_v[was], cur_f[was]), U,
                     cur_run[was])
    if rewrite.any():
        upsert_hourly(conn, HourlyBatch(sid[rewrite], ts_of[rewrite], new_v[rewrite],
                                        new_f[rewrite]), U)
    if delete.any():
        delete_hourly(conn, sid[delete], ts_of[delete])
    from .realtime import undo_published
    restored, removed = undo_published(conn, R, U)
    if restored or removed:
        result.notes.append(f"published AQI: {restored:,} restored, {removed:,} removed")
    bump_data_version(conn)
    readable_before = ~np.isnan(before_v) | (before_f == NON_NUMERIC)
    result.restored = int((wrote & readable_before).sum())
    result.removed = int((wrote & ~readable_before).sum())
    result.rows_deleted, result.rows_written = int(delete.sum()), int(rewrite.sum())
    days = np.unique(keys(sid[touched], ts_of[touched].astype("datetime64[D]")))
    result.days = len(days)
    if run.reader == "openaq":
        result.notes.append("the OpenAQ sensor's cursor stays where it is: the next pull does "
                            "not fetch these hours again")
    span = ts_of[touched]
    conn.execute(runs.update().where(runs.c.id == U).values(
        status="ok", finished_at=_now(), readings_changed=result.restored + result.removed,
        first_hour=pd.Timestamp(span.min()).to_pydatetime(),
        last_hour=pd.Timestamp(span.max()).to_pydatetime(),
        message=(f"undo of run #{R}: {result.restored:,} readings restored, "
                 f"{result.removed:,} removed, {result.rows_deleted:,} station-hours deleted")))
    conn.execute(runs.update().where(runs.c.id == R).values(undone_by=U))
    return result


def _refuse_if_changed_later(conn, R: int, later: _Rows, all_keys, wrote, current: _Rows):
    """Raise :class:`UndoError` naming the first later run (in each station-hour's chain)
    that changed one of R's cells. Runs that were undone, and undo runs, are passed over:
    an undo put back exactly the cells of its run."""
    if not len(later):
        return
    # the chain of each station-hour on from R: revisions linked by previous_run_id
    steps, frontier, depth = [], later, 0
    while len(frontier) and depth < 10_000:
        steps.append(frontier)
        depth += 1
        nxt = _revisions_with_prev(conn, np.unique(frontier.run))
        if not len(nxt):
            break
        link = pd.DataFrame({"key": frontier.key, "prev": frontier.run})
        hit = pd.DataFrame({"key": nxt.key, "prev": nxt.prev, "i": np.arange(len(nxt))}) \
            .merge(link, on=["key", "prev"])["i"].to_numpy()
        frontier = nxt.take(np.sort(hit))
    chain = _Rows.concat(steps)                 # (key, run N, state before N)
    # the state N left: the next revision's (its previous run is N), or the current row
    # when N wrote it last, else nothing (an undo deleted the row)
    after_v, after_f = _empty_state(len(chain))
    me = pd.DataFrame({"key": chain.key, "run": chain.run, "i": np.arange(len(chain))})
    nxt = me.merge(pd.DataFrame({"key": chain.key, "run": chain.prev,
                                 "j": np.arange(len(chain))}), on=["key", "run"])
    i, j = nxt["i"].to_numpy(), nxt["j"].to_numpy()
    after_v[i], after_f[i] = chain.values[j], chain.flags[j]
    cur = me.merge(pd.DataFrame({"key": current.key, "run": current.run,
                                 "j": np.arange(len(current))}), on=["key", "run"])
    i, j = cur["i"].to_numpy(), cur["j"].to_numpy()
    after_v[i], after_f[i] = current.values[j], current.flags[j]
    changed_by_run = ~same_cells(chain.values, chain.flags, after_v, after_f)
    at, _ = _lookup(all_keys, chain.key)
    hit = changed_by_run & wrote[at]
    if not hit.any():
        return
    runs = schema.ingest_runs
    skip = [int(r) for r in conn.execute(
        select(runs.c.id).where(runs.c.id.in_(sorted(set(chain.run.tolist()))),
                                (runs.c.undone_by.is_not(None)) | (runs.c.reader == UNDO_READER))
    ).scalars()]
    rows_hit = np.flatnonzero(hit.any(axis=1) & ~np.isin(chain.run, skip))
    if not len(rows_hit):
        return
    first = int(rows_hit[0])
    other_id = int(chain.run[first])
    count = int(hit[chain.run == other_id].sum())
    other = conn.execute(select(runs).where(runs.c.id == other_id)).first()
    label = _run_label(other) if other is not None else f"run #{other_id}"
    example = _describe(conn, chain.sid[first], chain.ts[first],
                        int(np.flatnonzero(hit[first])[0]))
    raise UndoError(f"run #{R} cannot be undone: a later {label} changed {count:,} of the "
                    f"readings it wrote (e.g. {example}); undo run #{other_id} first")


# -- history -------------------------------------------------------------------------------

@dataclass
class CellValue:
    value: float
    flag: int
    written_by: int            # run id
    replaced_by: int | None    # run id; None: the current value


@dataclass
class History:
    station: str
    ts: datetime
    cells: dict[str, list[CellValue]]   # pollutant → values, current (if any) first
    runs: dict[int, object]             # run id → ingest_runs row
    untracked: list[int]                # first writers that predate the revision log


def history(conn, station_code: str, ts) -> History:
    """Every value each pollutant of one station-hour has had, with the run that wrote it
    and the run that replaced it; raises :class:`LookupError` for an unknown station."""
    sid = conn.execute(select(schema.stations.c.id)
                       .where(schema.stations.c.code == station_code)).scalar()
    if sid is None:
        raise LookupError(f"unknown station code {station_code!r}")
    ts = pd.Timestamp(ts).to_pydatetime()
    rv = schema.revisions
    revs = _revisions_where(conn, (rv.c.station_id == sid) & (rv.c.ts == ts))
    current = _current_rows(conn, np.array([sid]), np.array([ts], dtype="datetime64[s]"))
    by_run = {int(r): i for i, r in enumerate(revs.run.tolist())}
    prevs = set(revs.prev.tolist())
    cur_run = int(current.run[0]) if len(current) else None
    # chains end at the current row's run, or at a run that deleted the row
    tails = [r for r in by_run if r not in prevs and r != cur_run]
    if cur_run is not None:
        tails.append(cur_run)
    chains = []
    for tail in tails:
        if tail == cur_run:
            states = [(tail, current.values[0], current.flags[0])]
        else:                                 # the run deleted the row (an undo)
            v, f = _empty_state(1)
            states = [(tail, v[0], f[0])]
        x = tail
        while x in by_run:
            i = by_run[x]
            states.insert(0, (int(revs.prev[i]), revs.values[i], revs.flags[i]))
            x = int(revs.prev[i])
        chains.append(states)
    chains.sort(key=lambda states: states[0][0])
    since = revisions_since(conn)
    untracked = sorted({states[0][0] for states in chains if states[0][0] < since})
    cells: dict[str, list[CellValue]] = {}
    for j, (_, pollutant) in enumerate(schema.POLLUTANT_COLUMNS):
        segments: list[CellValue] = []
        for states in chains:
            last = None                       # (value, flag) of the open segment
            for run_id, values, flags in states:
                cell = (float(values[j]), int(flags[j]))
                if last is not None and same_cells(np.array(cell[0]), np.array(cell[1]),
                                                    np.array(last[0]), np.array(last[1])):
                    continue
                if segments and segments[-1].replaced_by is None and last is not None:
                    segments[-1].replaced_by = run_id
                last = cell
                if not (np.isnan(cell[0]) and cell[1] == MISSING):
                    segments.append(CellValue(cell[0], cell[1], run_id, None))
            if segments and segments[-1].replaced_by is None and states[-1][0] != cur_run:
                segments[-1].replaced_by = states[-1][0]
        if segments:
            cells[pollutant] = segments[::-1]
    run_ids = {c.written_by for v in cells.values() for c in v}
    run_ids |= {c.replaced_by for v in cells.values() for c in v if c.replaced_by is not None}
    runs = schema.ingest_runs
    info = {int(r.id): r for r in conn.execute(
        select(runs).where(runs.c.id.in_(sorted(run_ids))))} if run_ids else {}
    return History(station_code, ts, cells, info, untracked)


# -- runs --------------------------------------------------------------------------------

def list_runs(conn, limit: int = 20) -> pd.DataFrame:
    """The newest ``limit`` ingest runs with their counts, station-hours changed
    (revisions recorded) and what undid them."""
    runs = schema.ingest_runs
    rows = conn.execute(select(runs).order_by(runs.c.id.desc()).limit(int(limit))).all()
    ids = [int(r.id) for r in rows]
    revised = dict(conn.execute(
        select(schema.revisions.c.run_id, func.count()).where(schema.revisions.c.run_id.in_(ids))
        .group_by(schema.revisions.c.run_id)).all()) if ids else {}
    return pd.DataFrame({
        "run": ids,
        "started": [f"{r.started_at:%Y-%m-%d %H:%M:%S}" if r.started_at else "" for r in rows],
        "reader": [r.reader for r in rows],
        "file": [r.file for r in rows],
        "status": [r.status + (f", undone by #{r.undone_by}" if r.undone_by else "")
                   for r in rows],
        "read": [int(r.readings_read or 0) for r in rows],
        "new": [int(r.readings_new or 0) for r in rows],
        "changed": [int(r.readings_changed or 0) for r in rows],
        "revised": [int(revised.get(i, 0)) for i in ids],
        "message": [r.message or "" for r in rows],
    })
