"""Bulk reads and writes of the hourly table, without row-by-row ORM.

The hourly batch travels as a :class:`HourlyBatch`: aligned numpy arrays, one
element per station-hour, sorted by station then time. SQLite gets one
``executemany`` upsert; PostgreSQL gets ``COPY`` into a temporary staging
table (CSV written by pyarrow) and one ``INSERT … SELECT … ON CONFLICT`` upsert.
Only the pollutant columns a source delivered are touched on conflict.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import text

from .schema import POLLUTANT_COLUMNS

VALUE_COLUMNS = [c for c, _ in POLLUTANT_COLUMNS]
FLAG_COLUMNS = [f"{c}_flag" for c in VALUE_COLUMNS]
_TS_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's SQLite DateTime storage format


@dataclass
class HourlyBatch:
    station_id: np.ndarray            # int64 (n,)
    ts: np.ndarray                    # datetime64[s] (n,), start of hour, CST
    values: np.ndarray                # float64 (n, 6) in POLLUTANT_COLUMNS order
    flags: np.ndarray                 # int8 (n, 6)

    def __len__(self) -> int:
        return len(self.station_id)

    def take(self, mask: np.ndarray) -> "HourlyBatch":
        return HourlyBatch(self.station_id[mask], self.ts[mask], self.values[mask],
                           self.flags[mask])


def ts_text(ts: np.ndarray) -> np.ndarray:
    """Timestamps as SQLAlchemy stores them in SQLite (``2013-03-01 00:00:00.000000``)."""
    s = np.datetime_as_string(ts.astype("datetime64[s]"), unit="s")
    return np.char.add(np.char.replace(s, "T", " "), ".000000")


def read_hourly(conn, station_ids, start, end) -> pd.DataFrame:
    """Stored rows of these stations with ``start <= ts <= end`` (datetime64 bounds)."""
    ids = sorted(int(i) for i in set(np.asarray(station_ids).tolist()))
    cols = ["station_id", "ts", *VALUE_COLUMNS, *FLAG_COLUMNS]
    if not ids:
        return pd.DataFrame(columns=cols)
    placeholders = ", ".join(str(i) for i in ids)  # integers we produced: safe to inline
    sql = (f"SELECT {', '.join(cols)} FROM hourly WHERE station_id IN ({placeholders}) "
           "AND ts >= :start AND ts <= :end ORDER BY station_id, ts")
    start_py = pd.Timestamp(start).to_pydatetime()
    end_py = pd.Timestamp(end).to_pydatetime()
    rows = conn.execute(text(sql), {"start": start_py, "end": end_py}).fetchall()
    frame = pd.DataFrame(rows, columns=cols)
    if len(frame):
        if frame["ts"].dtype == object and isinstance(frame["ts"].iloc[0], str):
            frame["ts"] = pd.to_datetime(frame["ts"], format=_TS_FORMAT)
        frame["ts"] = frame["ts"].astype("datetime64[s]")
        frame[VALUE_COLUMNS] = frame[VALUE_COLUMNS].astype("float64")
    return frame


def upsert_hourly(conn, batch: HourlyBatch, run_id: int, columns: list[str]) -> None:
    """Insert the batch; on an existing station-hour update only ``columns`` (+ run)."""
    if not len(batch):
        return
    if conn.dialect.name == "postgresql":
        _upsert_postgresql(conn, batch, run_id, columns)
    else:
        _upsert_sqlite(conn, batch, run_id, columns)


def _on_conflict(columns: list[str], target: str = "excluded") -> str:
    sets = [f"{c} = {target}.{c}" for c in columns] + [f"{c}_flag = {target}.{c}_flag" for c in columns]
    sets.append(f"run_id = {target}.run_id")
    return f"ON CONFLICT (station_id, ts) DO UPDATE SET {', '.join(sets)}"


def _all_columns() -> list[str]:
    return ["station_id", "ts", *VALUE_COLUMNS, *FLAG_COLUMNS, "run_id"]


def _upsert_sqlite(conn, batch: HourlyBatch, run_id: int, columns: list[str]) -> None:
    cols = _all_columns()
    sql = (f"INSERT INTO hourly ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
           + _on_conflict(columns))
    values = batch.values  # sqlite3 binds NaN as NULL
    n = len(batch)
    data = [batch.station_id.tolist(), ts_text(batch.ts).tolist()]
    data += [values[:, j].tolist() for j in range(values.shape[1])]
    data += [batch.flags[:, j].tolist() for j in range(batch.flags.shape[1])]
    data.append([run_id] * n)
    raw = conn.connection.driver_connection
    raw.executemany(sql, zip(*data))


def _upsert_postgresql(conn, batch: HourlyBatch, run_id: int, columns: list[str]) -> None:
    cols = _all_columns()
    arrays = [pa.array(batch.station_id, pa.int32()),
              pa.array(batch.ts.astype("datetime64[s]"), pa.timestamp("s"))]
    arrays += [pa.array(batch.values[:, j], pa.float64(), from_pandas=True)
               for j in range(batch.values.shape[1])]
    arrays += [pa.array(batch.flags[:, j], pa.int16()) for j in range(batch.flags.shape[1])]
    arrays.append(pa.array(np.full(len(batch), run_id, dtype=np.int32)))
    buffer = io.BytesIO()
    pacsv.write_csv(pa.table(arrays, names=cols), buffer,
                    write_options=pacsv.WriteOptions(include_header=False, quoting_style="needed"))
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS hourly_staging "
                    "(LIKE hourly INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
        cur.execute("TRUNCATE hourly_staging")
        with cur.copy(f"COPY hourly_staging ({', '.join(cols)}) FROM STDIN (FORMAT csv)") as copy:
            copy.write(buffer.getbuffer())
        cur.execute(f"INSERT INTO hourly ({', '.join(cols)}) SELECT {', '.join(cols)} "
                    f"FROM hourly_staging {_on_conflict(columns)}")
