"""Read-side queries shared by the CLI and the dashboard (DataFrames out)."""
from __future__ import annotations

import pandas as pd
from sqlalchemy import select, text

from config.qc import load_rules

from .schema import POLLUTANT_COLUMNS


def status_frame(conn) -> pd.DataFrame:
    """One row per station and pollutant: ``station,pollutant,readings,first,last,flagged``.

    ``readings`` counts stored values that count for statistics (not NULL and
    not carrying an excluding QC flag); ``first``/``last`` bound those values
    (``YYYY-MM-DD HH:MM``, China Standard Time); ``flagged`` counts stored
    values with any QC flag other than ok/missing.
    """
    excluded = ", ".join(str(c) for c in load_rules().excluded_codes)
    # one pass over the hourly rows for all six pollutants (a pass per pollutant cost six
    # scans of the whole table: 20 s on the demo with its 167 peer cities)
    aggregates = []
    for col, _pollutant in POLLUTANT_COLUMNS:
        counts = f"{col} IS NOT NULL AND {col}_flag NOT IN ({excluded})"
        aggregates += [f"SUM(CASE WHEN {counts} THEN 1 ELSE 0 END) AS {col}_readings",
                       f"MIN(CASE WHEN {counts} THEN ts END) AS {col}_first",
                       f"MAX(CASE WHEN {counts} THEN ts END) AS {col}_last",
                       f"SUM(CASE WHEN {col}_flag > 1 THEN 1 ELSE 0 END) AS {col}_flagged"]
    sql = ("SELECT s.code AS station, s.synthetic AS synthetic, u.* FROM (SELECT station_id, "
           + ", ".join(aggregates) + " FROM hourly GROUP BY station_id) u "
           "JOIN stations s ON s.id = u.station_id ORDER BY s.code")
    result = conn.execute(text(sql))
    wide = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    parts = [pd.DataFrame({"station": wide["station"], "synthetic": wide["synthetic"],
                           "pollutant": pollutant, "pos": wide.index, "ord": i,
                           "readings": wide[f"{col}_readings"], "first": wide[f"{col}_first"],
                           "last": wide[f"{col}_last"], "flagged": wide[f"{col}_flagged"]})
             for i, (col, pollutant) in enumerate(POLLUTANT_COLUMNS)]
    frame = pd.concat(parts, ignore_index=True) if len(wide) else pd.DataFrame(
        columns=["station", "synthetic", "pollutant", "pos", "ord", "readings", "first",
                 "last", "flagged"])
    # the database's order of the codes (its collation), each station's pollutants in turn
    frame = frame.sort_values(["pos", "ord"], kind="stable").drop(columns=["pos", "ord"])
    frame = frame[(frame["readings"] > 0) | (frame["flagged"] > 0)].reset_index(drop=True)
    for col in ("first", "last"):
        frame[col] = pd.to_datetime(frame[col]).dt.strftime("%Y-%m-%d %H:%M").fillna("")
    for col in ("readings", "flagged"):
        frame[col] = frame[col].astype("int64")
    synthetic = sorted(frame.loc[frame["synthetic"].astype(bool), "station"].unique().tolist())
    frame = frame.drop(columns="synthetic")
    frame.attrs["synthetic_stations"] = synthetic
    return frame


def recent_runs(conn, limit: int = 10) -> pd.DataFrame:
    rows = conn.execute(text(
        "SELECT id, reader, file, status, started_at, finished_at, rows_read, readings_read, "
        "readings_new, readings_changed, readings_flagged, readings_rejected, message, "
        "undone_by FROM ingest_runs ORDER BY id DESC LIMIT :n"), {"n": int(limit)}).fetchall()
    frame = pd.DataFrame(rows, columns=["run", "reader", "file", "status", "started", "finished",
                                        "rows", "read", "new", "changed", "flagged", "rejected",
                                        "message", "undone_by"])
    # an undone run keeps its status (its file still counts as loaded); say it was undone
    undone = frame["undone_by"].notna()
    frame.loc[undone, "status"] = [f"{s}, undone by #{int(u)}" for s, u in
                                   zip(frame.loc[undone, "status"], frame.loc[undone, "undone_by"])]
    frame = frame.drop(columns="undone_by")
    for col in ("started", "finished"):
        frame[col] = pd.to_datetime(frame[col]).dt.strftime("%Y-%m-%d %H:%M:%S").fillna("")
    return frame


def loaded_checksums(conn, reader: str, checksums) -> set[str]:
    """Which of ``checksums`` a ``reader`` has already loaded (runs ok or unchanged)."""
    from sqlalchemy import select

    from .schema import ingest_runs
    checksums = list(checksums)
    if not checksums:
        return set()
    rows = conn.execute(select(ingest_runs.c.checksum).where(
        ingest_runs.c.reader == reader, ingest_runs.c.checksum.in_(checksums),
        ingest_runs.c.status.in_(("ok", "unchanged")))).all()
    return {r[0] for r in rows}


def run_in_progress(conn) -> bool:
    """True while an ingest run is recorded as running."""
    from .schema import ingest_runs
    return conn.execute(select(ingest_runs.c.id).where(ingest_runs.c.status == "running")
                        .limit(1)).first() is not None
