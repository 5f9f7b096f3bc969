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
    """Stored rows of these stations with ``start <= ts <= end``, sorted by station, ts."""
    ids = sorted(int(i) for i in set(np.asarray(station_ids).tolist()))
    cols = ["station_id", "ts", *VALUE_COLUMNS, *FLAG_COLUMNS]
    if not ids:
        return pd.DataFrame(columns=cols)
    # Bounds in the stored text format: in SQLite '… 23:00:00' sorts before '… 23:00:00.000000'.
    start_s, end_s = ts_text(np.array([start, end], dtype="datetime64[s]")).tolist()
    # Integers we produced and ISO timestamps we formatted: safe to inline.
    where = (f"station_id IN ({', '.join(str(i) for i in ids)}) "
             f"AND ts >= '{start_s}' AND ts <= '{end_s}'")
    if conn.dialect.name == "postgresql":
        return _read_postgresql(conn, cols, where)
    return _read_sqlite(conn, cols, where)


def _read_sqlite(conn, cols, where) -> pd.DataFrame:
    raw = conn.connection.driver_connection
    rows = raw.execute(f"SELECT {', '.join(cols)} FROM hourly WHERE {where} "
                       "ORDER BY station_id, ts").fetchall()
    if not rows:
        return pd.DataFrame(columns=cols)
    columns = list(zip(*rows))
    data = {"station_id": np.array(columns[0], dtype=np.int64),
            "ts": pd.to_datetime(pd.Series(columns[1], dtype=object), format=_TS_FORMAT)
            .to_numpy("datetime64[s]")}
    for name, col in zip(cols[2:], columns[2:]):
        data[name] = np.array(col, dtype=np.float64 if name in VALUE_COLUMNS else np.int8)
    return pd.DataFrame(data)


def _read_postgresql(conn, cols, where) -> pd.DataFrame:
    buffer = io.BytesIO()
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:
        with cur.copy(f"COPY (SELECT {', '.join(cols)} FROM hourly WHERE {where} "
                      "ORDER BY station_id, ts) TO STDOUT (FORMAT csv)") as copy:
            for chunk in copy:
                buffer.write(chunk)
    if not buffer.tell():
        return pd.DataFrame(columns=cols)
    buffer.seek(0)
    types = {"station_id": pa.int64(), "ts": pa.timestamp("s")}
    types.update({c: pa.float64() for c in VALUE_COLUMNS})
    types.update({c: pa.int8() for c in FLAG_COLUMNS})
    table = pacsv.read_csv(buffer, read_options=pacsv.ReadOptions(column_names=cols),
                           convert_options=pacsv.ConvertOptions(column_types=types))
    return pd.DataFrame({c: table[c].to_numpy(zero_copy_only=False) for c in cols})


def _all_columns() -> list[str]:
    return ["station_id", "ts", *VALUE_COLUMNS, *FLAG_COLUMNS, "run_id"]


def _on_conflict(columns: list[str]) -> str:
    sets = [f"{c} = excluded.{c}" for c in columns] + [f"{c}_flag = excluded.{c}_flag" for c in columns]
    sets.append("run_id = excluded.run_id")
    return f"ON CONFLICT (station_id, ts) DO UPDATE SET {', '.join(sets)}"


def insert_hourly(conn, batch: HourlyBatch, run_id: int) -> None:
    """Insert station-hours that are not stored yet (PostgreSQL: COPY straight in)."""
    if not len(batch):
        return
    if conn.dialect.name == "postgresql":
        _copy_postgresql(conn, batch, run_id, "hourly")
    else:
        _executemany_sqlite(conn, batch, run_id, "")


def upsert_hourly(conn, batch: HourlyBatch, run_id: int, columns: list[str]) -> None:
    """Insert the batch; on an existing station-hour update only ``columns`` (+ run).

    PostgreSQL: COPY into a temporary staging table, then one
    ``INSERT … SELECT … ON CONFLICT DO UPDATE``.
    """
    if not len(batch):
        return
    if conn.dialect.name == "postgresql":
        cols = _all_columns()
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:
            cur.execute("CREATE TEMP TABLE IF NOT EXISTS hourly_staging "
                        "(LIKE hourly INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
            cur.execute("TRUNCATE hourly_staging")
        _copy_postgresql(conn, batch, run_id, "hourly_staging")
        with raw.cursor() as cur:
            cur.execute(f"INSERT INTO hourly ({', '.join(cols)}) SELECT {', '.join(cols)} "
                        f"FROM hourly_staging {_on_conflict(columns)}")
    else:
        _executemany_sqlite(conn, batch, run_id, _on_conflict(columns))


def _executemany_sqlite(conn, batch: HourlyBatch, run_id: int, conflict: str) -> None:
    cols = _all_columns()
    sql = (f"INSERT INTO hourly ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
           + conflict)
    n = len(batch)
    data = [batch.station_id.tolist(), ts_text(batch.ts).tolist()]
    data += [batch.values[:, j].tolist() for j in range(batch.values.shape[1])]  # NaN binds NULL
    data += [batch.flags[:, j].tolist() for j in range(batch.flags.shape[1])]
    data.append([run_id] * n)
    conn.connection.driver_connection.executemany(sql, zip(*data))


def _copy_postgresql(conn, batch: HourlyBatch, run_id: int, table: str) -> None:
    cols = _all_columns()
    arrays = [pa.array(batch.station_id, pa.int32()),
              pa.array(batch.ts.astype("datetime64[s]"), pa.timestamp("s"))]
    arrays += [pa.array(batch.values[:, j], pa.float64(), from_pandas=True)
               for j in range(batch.values.shape[1])]
    arrays += [pa.array(batch.flags[:, j], pa.int16()) for j in range(batch.flags.shape[1])]
    arrays.append(pa.array(np.full(len(batch), run_id, dtype=np.int32)))
    buffer = io.BytesIO()
    # pyarrow writes the shortest round-trip float text and NULL as an empty field.
    pacsv.write_csv(pa.table(arrays, names=cols), buffer,
                    write_options=pacsv.WriteOptions(include_header=False, quoting_style="needed"))
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:
        with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN (FORMAT csv)") as copy:
            copy.write(buffer.getbuffer())
