"""Daily statistics of every station-day (the ``station_daily`` table).

A year of a national network is 1,700 stations × 8,760 hours = 15 million hourly
rows; the dashboard's yearly views need only daily values. This table keeps one
row per station-day that has hourly rows (≈ 620,000 rows for that year), written
by the hourly writer (:func:`refresh`, called from ``store/writer.py``) in the
same transaction as the readings, for exactly the station-days a load touched.
The dashboard's city-year (``dashboard/queries.py``) is computed from it by
:func:`daily_and_aqi`, which gives **the same frames, bit for bit,** as
``indicators.pipeline.daily_and_aqi`` of the hourly values
(tests/test_daily_store.py compares every column on the real Beijing data and on
a synthetic network).

What a row holds, and why that is enough
----------------------------------------
Values are as the statistics see them: those whose QC flag excludes them
(config/qc.yaml) are left out, as ``store.frames.hourly_frame`` leaves them out.

* SO2, NO2, CO, PM10, PM2.5 (24-h means): ``<p>_n`` valid hours and ``<p>`` their
  unrounded mean. Area means are means of the *unrounded* station means, done
  by ``indicators.averaging`` in exact integer arithmetic when every value of
  the pollutant in the city-year is a decimal with at most 6 places (else in
  floats). To repeat that exactly the row also keeps ``<p>_dec`` (the fewest
  decimals, 0–6, holding every valid value of the day; NULL: more than 6),
  ``<p>_max`` (the largest |value|, for the 2**43 bound of the exact path) and
  ``<p>_sum`` (the float sum of the valid hours, what the float path adds). On
  the exact path the integer sum at the city-year's scale 10**K is
  ``rint(mean × n × 10**K)``: the mean is the float nearest to that sum / (n·10**K),
  and the sum is below 2**48, far inside the precision of a float.
* O3: the day's 24 hourly values. The MDA8 of an area is the maximum of the
  *area's* 8-h window means (means of the station windows) and the area's daily
  1-h maximum is the maximum of the area's hourly means, so the station hours are
  needed; the 8-h windows of a day's MDA8 lie wholly inside the day (standards §3),
  so the day's own hours are all it takes.

No rule of a profile (minimum hours, windows, rounding, limits) is applied when
the table is written: the reader applies the profile it is asked for, so the
table serves every profile. The O3 windows, area means, validity and rounding are
computed by the indicators' own functions (``indicators.averaging``, called by
``evaluation.daily``); only the
sums that the hourly path would build from the hours are read from the table.

Readiness
---------
``meta.daily_stats`` holds :func:`fingerprint` (table format + the QC flags
excluded from statistics) when the table is complete: migration 0005 sets it on
a database without readings, :func:`rebuild` (``lantian init``) after computing
the table from existing hourly rows. Until then, or when the QC rules change,
:func:`station_days` returns None and the dashboard reads the hourly table.
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

FORMAT = 1
META_KEY = "daily_stats"
HOURS = 24
MEANS = [(c, p) for c, p in POLLUTANT_COLUMNS if p != "O3"]      # so2 no2 co pm10 pm25
O3_HOURS = [f"o3_h{h:02d}" for h in range(HOURS)]
_FIELDS = ("", "_n", "_sum", "_dec", "_max")
COLUMNS = ["station_id", "day", *[f"{c}{f}" for c, _ in MEANS for f in _FIELDS], *O3_HOURS]
_INT_COLUMNS = {f"{c}{f}" for c, _ in MEANS for f in ("_n", "_dec")}
_FLOAT_COLUMNS = set(COLUMNS[2:]) - _INT_COLUMNS
#: Stands for NULL in a SQLite read of float columns (as ``store.writer``); no stored mean,
#: sum, maximum or O3 hour is this value.
_NULL_SENTINEL = -1.7976931348623157e308
_VALUE_INDEX = {c: j for j, (c, _) in enumerate(POLLUTANT_COLUMNS)}
_MAX_DECIMALS = 6          # as indicators.averaging: exact sums for up to 6 decimals
_GRID_LIMIT = 2.0 ** 43    # |value × 10**k| from which averaging leaves the exact path


def fingerprint() -> str:
    """What the stored rows depend on besides the readings: the table's format and the
    QC flags excluded from statistics."""
    from config.qc import load_rules
    return f"{FORMAT};exclude={','.join(sorted(load_rules().excluded))}"


def is_ready(conn) -> bool:
    row = conn.execute(text("SELECT value FROM meta WHERE key = :k"), {"k": META_KEY}).first()
    return row is not None and row[0] == fingerprint()


# -- station-days of hourly rows ---------------------------------------------------------

def statistics_values(values: np.ndarray, flags: np.ndarray) -> np.ndarray:
    """(n, 6) hourly values with the QC-excluded ones NaN (as ``hourly_frame``)."""
    from config.qc import load_rules
    out = np.array(values, dtype=np.float64, copy=True)
    out[np.isin(flags, np.asarray(load_rules().excluded_codes))] = np.nan
    return out


def day_cells(station_id: np.ndarray, ts: np.ndarray, values: np.ndarray):
    """The station-days of hourly rows: (station ids (R,), days (R,) datetime64[D],
    values (R, 24, 6) NaN where no row, hours per station-day (R,)), sorted by
    station then day."""
    hours = ts.astype("datetime64[h]").astype(np.int64)
    days = np.floor_divide(hours, HOURS)
    sid = np.asarray(station_id, dtype=np.int64)
    base = int(days.min()) if len(days) else 0
    key = (sid << 32) | (days - base)
    keys, inverse = np.unique(key, return_inverse=True)
    dense = np.full((len(keys), HOURS, values.shape[1]), np.nan)
    dense[inverse, hours - days * HOURS] = values
    counts = np.bincount(inverse, minlength=len(keys))
    return ((keys >> 32).astype(np.int64),
            ((keys & 0xFFFFFFFF) + base).astype("datetime64[D]"), dense, counts)


def _decimals(x: np.ndarray) -> np.ndarray:
    """Per row of (R, 24): the fewest decimals k ≤ 6 such that every valid value is the
    float of a k-place decimal, tested as ``indicators.averaging._on_grid`` tests it
    (``rint(x·10**k) / 10**k == x``); -1 when none (or a value is infinite)."""
    dec = np.full(len(x), -1, dtype=np.int64)
    pending = ~np.isinf(x).any(axis=1)
    for k in range(_MAX_DECIMALS + 1):
        rows = np.flatnonzero(pending)
        if not len(rows):
            break
        xs = x[rows]
        scale = 10.0 ** k
        y = np.multiply(xs, scale)
        np.rint(y, out=y)
        back = y / scale if scale != 1.0 else y
        ok = ((back == xs) | np.isnan(xs)).all(axis=1)
        dec[rows[ok]] = k
        pending[rows[ok]] = False
    return dec


def summarize(dense: np.ndarray) -> dict[str, np.ndarray]:
    """The ``station_daily`` columns (without the keys) of station-days (R, 24, 6) of
    values as the statistics see them (POLLUTANT_COLUMNS order; NaN = not valid).
    NULL is NaN in float columns and -1 in ``_dec``."""
    out: dict[str, np.ndarray] = {}
    for col, _ in MEANS:
        x = np.ascontiguousarray(dense[:, :, _VALUE_INDEX[col]])
        valid = np.isfinite(x)
        n = valid.sum(axis=1)
        has = n > 0
        # what the float path of averaging adds: the day's row, invalid hours as 0
        fsum = np.where(valid, x, 0.0).sum(axis=1)
        absmax = np.where(valid, np.abs(x), -np.inf).max(axis=1, initial=-np.inf)
        absmax[~has] = np.nan
        dec = _decimals(x)
        scale = 10.0 ** np.maximum(dec, 0)
        exact = (dec >= 0) & has & (np.rint(np.where(has, absmax, 0.0) * scale) < _GRID_LIMIT)
        with np.errstate(invalid="ignore", divide="ignore"):
            ints = np.where(valid, np.rint(x * scale[:, None]), 0.0).sum(axis=1)
            mean = np.where(exact, ints / (n * scale), fsum / n)
        mean[~has] = np.nan
        out[col], out[f"{col}_n"], out[f"{col}_sum"] = mean, n.astype(np.int64), fsum
        out[f"{col}_dec"], out[f"{col}_max"] = np.where(has, dec, 0), absmax
    o3 = dense[:, :, _VALUE_INDEX["o3"]]
    for h, name in enumerate(O3_HOURS):
        out[name] = np.ascontiguousarray(o3[:, h])
    return out


# -- writing -------------------------------------------------------------------------------

def _write(conn, station_id: np.ndarray, day: np.ndarray, columns: dict) -> None:
    """Insert or replace these station-day rows."""
    if not len(station_id):
        return
    names = COLUMNS[2:]
    if conn.dialect.name == "postgresql":
        arrays = [pa.array(station_id, pa.int32()), pa.array(day.astype("datetime64[D]"))]
        for name in names:
            v = columns[name]
            if name in _INT_COLUMNS:
                arrays.append(pa.array(v, pa.int16(), mask=v < 0))
            else:
                arrays.append(pa.array(v, pa.float64(), from_pandas=True))
        buffer = io.BytesIO()
        pacsv.write_csv(pa.table(arrays, names=COLUMNS), buffer,
                        write_options=pacsv.WriteOptions(include_header=False,
                                                         quoting_style="needed"))
        raw = conn.connection.driver_connection
        sets = ", ".join(f"{c} = excluded.{c}" for c in names)
        with raw.cursor() as cur:
            cur.execute("CREATE TEMP TABLE IF NOT EXISTS station_daily_staging "
                        "(LIKE station_daily) ON COMMIT DELETE ROWS")
            cur.execute("TRUNCATE station_daily_staging")
            with cur.copy(f"COPY station_daily_staging ({', '.join(COLUMNS)}) FROM STDIN "
                          "(FORMAT csv)") as copy:
                copy.write(buffer.getbuffer())
            cur.execute(f"INSERT INTO station_daily ({', '.join(COLUMNS)}) "
                        f"SELECT {', '.join(COLUMNS)} FROM station_daily_staging "
                        f"ON CONFLICT (station_id, day) DO UPDATE SET {sets}")
        return
    data = [station_id.tolist(), np.datetime_as_string(day.astype("datetime64[D]")).tolist()]
    for name in names:
        v = columns[name]
        if name in _INT_COLUMNS:
            data.append([None if i < 0 else i for i in v.tolist()])
        else:
            data.append(v.tolist())                     # NaN binds NULL
    sets = ", ".join(f"{c} = excluded.{c}" for c in names)
    sql = (f"INSERT INTO station_daily ({', '.join(COLUMNS)}) "
           f"VALUES ({', '.join('?' * len(COLUMNS))}) "
           f"ON CONFLICT (station_id, day) DO UPDATE SET {sets}")
    conn.connection.driver_connection.executemany(sql, zip(*data))


def _stored_days(conn, station_id: np.ndarray, day: np.ndarray) -> np.ndarray:
    """(R, 24, 6) stored hourly values (statistics view) of these station-days (sorted
    by station, day), read from the hourly table in runs of consecutive days."""
    from .writer import FLAG_COLUMNS, VALUE_COLUMNS, read_hourly
    dense = np.full((len(station_id), HOURS, len(VALUE_COLUMNS)), np.nan)
    want = (station_id << 32) | (day.astype(np.int64) & 0xFFFFFFFF)
    order = np.argsort(want)
    distinct = np.unique(day)
    # runs of consecutive days, each read once for the stations that need it
    breaks = np.flatnonzero(np.diff(distinct.astype(np.int64)) > 1) + 1
    for run in np.split(distinct, breaks):
        inside = (day >= run[0]) & (day <= run[-1])
        start = run[0].astype("datetime64[s]")
        end = (run[-1] + 1).astype("datetime64[s]") - np.timedelta64(1, "h")
        rows = read_hourly(conn, station_id[inside], start, end)
        if rows.empty:
            continue
        values = statistics_values(rows[VALUE_COLUMNS].to_numpy(np.float64),
                                   rows[FLAG_COLUMNS].to_numpy(np.int16))
        sid, days, cells, _ = day_cells(rows["station_id"].to_numpy(np.int64),
                                        rows["ts"].to_numpy("datetime64[s]"), values)
        got = (sid << 32) | (days.astype(np.int64) & 0xFFFFFFFF)
        pos = np.searchsorted(want[order], got)
        pos = np.minimum(pos, len(want) - 1)
        hit = want[order][pos] == got
        dense[order[pos[hit]]] = cells[hit]
    return dense


def refresh(conn, station_id: np.ndarray, ts: np.ndarray, values: np.ndarray | None = None,
            flags: np.ndarray | None = None) -> int:
    """Recompute the daily rows of the station-days of these hourly rows, which the
    caller has just written in ``conn``'s transaction; returns how many.

    ``values``/``flags`` (n, 6), when given, are what was written *as whole rows into
    station-hours that were not stored before* (the insert path): a station-day all
    24 of whose hours are among them is summarised from them, without reading it
    back. Every other station-day is read back from the hourly table (its other hours,
    or columns an upsert left as they were)."""
    if not len(station_id):
        return 0
    if values is None:
        sid, day, _, _ = day_cells(station_id, ts, np.zeros((len(station_id), 0)))
        dense = _stored_days(conn, sid, day)
    else:
        sid, day, dense, counts = day_cells(station_id, ts, statistics_values(values, flags))
        partial = counts < HOURS
        if partial.any():
            dense[partial] = _stored_days(conn, sid[partial], day[partial])
    _write(conn, sid, day, summarize(dense))
    return len(sid)


def forget_days_without_hours(conn, station_id: np.ndarray, ts: np.ndarray) -> int:
    """After hourly rows were deleted (``lantian runs undo``): delete the daily rows of
    their station-days that have no hourly row left (the table holds a row per
    station-day *with* hourly rows); returns how many station-days were checked."""
    from .writer import ts_text
    if not len(station_id):
        return 0
    sid, day, _, _ = day_cells(np.asarray(station_id, dtype=np.int64), ts,
                               np.zeros((len(station_id), 0)))
    start = day.astype("datetime64[s]")
    end = (day + 1).astype("datetime64[s]")
    raw = conn.connection.driver_connection
    sql = ("DELETE FROM station_daily WHERE station_id = {p} AND day = {p} AND NOT EXISTS "
           "(SELECT 1 FROM hourly WHERE station_id = {p} AND ts >= {p} AND ts < {p})")
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cur:
            cur.executemany(sql.format(p="%s"), list(zip(
                sid.tolist(), day.tolist(), sid.tolist(), start.tolist(), end.tolist())))
    else:
        raw.executemany(sql.format(p="?"), zip(
            sid.tolist(), np.datetime_as_string(day).tolist(), sid.tolist(),
            ts_text(start).tolist(), ts_text(end).tolist()))
    return len(sid)


# -- reading -------------------------------------------------------------------------------

def _where(station_ids, first_day, last_day) -> str:
    ids = ", ".join(str(int(i)) for i in sorted(set(station_ids)))
    first = str(np.datetime64(first_day, "D"))
    last = str(np.datetime64(last_day, "D"))
    return f"station_id IN ({ids}) AND day >= '{first}' AND day <= '{last}'"


def select_sql(station_ids, first_day, last_day, no_nulls: bool = False,
               columns=None) -> str:
    """The query of the daily rows of these stations from ``first_day`` to ``last_day``;
    ``no_nulls``: NULL as NaN (floats) and -1 (``_dec``), for a binary COPY
    (``store.writer.copy_out_binary``); ``columns``: these of ``COLUMNS`` only."""
    cols = list(columns or COLUMNS)
    if no_nulls:
        cols = [c if c in ("station_id", "day") or c.endswith("_n")
                else f"COALESCE({c}, CAST(-1 AS smallint))" if c in _INT_COLUMNS
                else f"COALESCE({c}, 'NaN'::float8)" for c in cols]
    # (no ORDER BY when read by COPY: sorted here, without the server's sort to disk)
    return (f"SELECT {', '.join(cols)} FROM station_daily "
            f"WHERE {_where(station_ids, first_day, last_day)}"
            + ("" if no_nulls else " ORDER BY station_id, day"))


def read_rows(conn, station_ids, first_day, last_day, columns=None) -> pd.DataFrame:
    """The stored rows (``COLUMNS``, or ``columns`` of them, station_id and day first;
    NULL as NaN, ``_dec`` NULL as -1), by station, day."""
    names = list(columns or COLUMNS)
    if not len(station_ids):
        return pd.DataFrame(columns=names)
    if conn.dialect.name == "postgresql":
        from .writer import copy_out_binary
        fields = [(c, "int4" if c == "station_id" else "date" if c == "day"
                   else "int2" if c in _INT_COLUMNS else "float8") for c in names]
        data = copy_out_binary(conn, select_sql(station_ids, first_day, last_day, True,
                                                names), fields)
        if data is None:
            return pd.DataFrame(columns=names)
        order = np.lexsort((data["day"], data["station_id"]))
        for c in names:
            data[c] = data[c][order].astype(np.int64) if c == "station_id" or \
                c in _INT_COLUMNS else data[c][order]
        return pd.DataFrame({c: data[c] for c in names}, copy=False)
    # SQLite: one np.fromiter over the cursor into a structured array (as
    # store.writer reads the hourly table): every cell a number — the day as days since
    # 1970, NULL as -1 (``_dec``) or a sentinel turned back into NaN — so that no list of
    # rows and no Python list per column is built (a year of 1,100 stations: 3 s, not 9).
    head, rest = select_sql(station_ids, first_day, last_day, columns=names).split(
        " FROM station_daily ", 1)
    exprs, dtype = [], []
    for name in names:
        if name == "station_id":
            exprs.append(name)
        elif name == "day":
            exprs.append("CAST(julianday(day) - 2440587.5 AS INTEGER)")
        elif name in _INT_COLUMNS:
            exprs.append(f"IFNULL({name}, -1)")
        else:
            exprs.append(f"IFNULL({name}, {_NULL_SENTINEL!r})")
        dtype.append((name, np.float64 if name in _FLOAT_COLUMNS else np.int64))
    cursor = conn.connection.driver_connection.execute(
        f"SELECT {', '.join(exprs)} FROM station_daily {rest}")
    rows = np.fromiter(cursor, dtype=np.dtype(dtype))
    if not len(rows):
        return pd.DataFrame(columns=names)
    data = {"station_id": rows["station_id"].copy(),
            "day": rows["day"].astype("datetime64[D]")}
    for name in names[2:]:
        col = rows[name]
        data[name] = np.where(col == _NULL_SENTINEL, np.nan, col) if name in _FLOAT_COLUMNS \
            else col.copy()
    return pd.DataFrame(data, copy=False)


@dataclass
class StationDays:
    """Dense (stations × days) arrays of the daily rows of a set of stations: what
    :func:`daily_and_aqi` needs. Stations are the codes with rows, sorted as the
    hourly panel sorts them; days run from the first to the last day with a row."""

    stations: np.ndarray           # (S,) str
    start: np.datetime64           # first day
    n_days: int
    fields: dict                   # column → (S, D) array (int64 counts/decimals, floats)
    o3: np.ndarray                 # (S, D·24) O3 hours, NaN = not valid / no row
    # column → (scale, exact) of :meth:`totals` when found beforehand (:func:`station_days`
    # reads the decimals and maxima as aggregates, then only the columns that path adds)
    grid: dict | None = None

    @property
    def empty(self) -> bool:
        return len(self.stations) == 0 or self.n_days == 0

    @property
    def last_day(self):
        return (pd.Timestamp(self.start + np.timedelta64(self.n_days - 1, "D")).date()
                if not self.empty else None)

    @classmethod
    def from_rows(cls, rows: pd.DataFrame, codes: dict, grid: dict | None = None,
                  ) -> "StationDays":
        """From :func:`read_rows` (every column, or those ``grid`` leaves to read);
        ``codes`` maps station id → code."""
        if rows.empty:
            return cls(np.array([], dtype=str), np.datetime64("1970-01-01", "D"), 0, {},
                       np.empty((0, 0)), grid)
        names = rows["station_id"].map(codes).to_numpy(dtype=object)
        stations = np.array(sorted(set(names.tolist())), dtype=object)
        row = np.searchsorted(stations, names)
        day = rows["day"].to_numpy("datetime64[D]")
        start = day.min()
        n_days = int((day.max() - start).astype(np.int64)) + 1
        col = (day - start).astype(np.int64)
        shape = (len(stations), n_days)
        fields = {}
        for name in COLUMNS[2:]:
            if name in O3_HOURS or name not in rows.columns:
                continue
            is_int = name in _INT_COLUMNS
            dense = np.zeros(shape, dtype=np.int64) if is_int else np.full(shape, np.nan)
            dense[row, col] = rows[name].to_numpy(np.int64 if is_int else np.float64)
            fields[name] = dense
        o3 = np.full((len(stations), n_days, HOURS), np.nan)
        o3[row, col] = rows[O3_HOURS].to_numpy(np.float64)
        return cls(stations.astype(str), start, n_days, fields, o3.reshape(len(stations), -1),
                   grid)

    def totals(self, col: str) -> tuple[np.ndarray, float, bool]:
        """(sums, scale, exact) of a 24-h-mean pollutant as ``indicators.averaging`` forms
        them from the hours: exact integers at 10**K when every valid value of the
        city-year has ≤ K ≤ 6 decimals and |value·10**K| < 2**43, else float sums."""
        n, has = self.fields[f"{col}_n"], self.fields[f"{col}_n"] > 0
        if self.grid is not None and col in self.grid:
            scale, exact = self.grid[col]
        else:
            dec = self.fields[f"{col}_dec"][has]
            scale, exact = _grid((dec >= 0).all(), dec.max(initial=0),
                                 self.fields[f"{col}_max"][has].max(initial=0.0))
        if exact:
            total = np.zeros(n.shape)
            total[has] = np.rint(self.fields[col][has] * n[has] * scale)
            return total, scale, True
        return np.where(has, self.fields[f"{col}_sum"], 0.0), 1.0, False


def _grid(all_decimal: bool, max_decimals, max_abs) -> tuple[float, bool]:
    """(scale, exact) of :meth:`StationDays.totals`: exact at 10**(the most decimals) when
    every valid value is a decimal of ≤ 6 places and the largest stays below 2**43."""
    if not all_decimal:
        return 1.0, False
    scale = 10.0 ** int(max_decimals)
    if np.rint(float(max_abs) * scale) < _GRID_LIMIT:
        return scale, True
    return 1.0, False


def _grids(conn, station_ids, first_day, last_day) -> dict:
    """(scale, exact) of each 24-h-mean pollutant over these daily rows, from three
    aggregates of the rows with valid hours (the fewest decimals' minimum — NULL: more
    than 6 — and maximum, the largest |value|): what :meth:`StationDays.totals` finds
    from the whole ``_dec`` and ``_max`` columns."""
    parts = []
    for col, _ in MEANS:
        parts += [f"MIN(CASE WHEN {col}_n > 0 THEN COALESCE({col}_dec, -1) END)",
                  f"MAX(CASE WHEN {col}_n > 0 THEN {col}_dec END)",
                  f"MAX(CASE WHEN {col}_n > 0 THEN {col}_max END)"]
    row = conn.execute(text(f"SELECT {', '.join(parts)} FROM station_daily "
                            f"WHERE {_where(station_ids, first_day, last_day)}")).one()
    out = {}
    for j, (col, _) in enumerate(MEANS):
        low, most, biggest = row[3 * j:3 * j + 3]
        out[col] = _grid(low is None or low >= 0, most or 0, biggest or 0.0)
    return out


def station_days(conn, stations: pd.DataFrame, start, end) -> StationDays | None:
    """The daily rows of ``stations`` (``store.frames.station_table`` rows: id, code) with
    ``start <= day <= end``, or None when the table is not ready (then read hourly)."""
    if not is_ready(conn):
        return None
    ids, first, last = stations["id"].to_numpy(), np.datetime64(start, "D"), \
        np.datetime64(end, "D")
    codes = dict(zip(stations["id"], stations["code"]))
    if not len(ids):
        return StationDays.from_rows(read_rows(conn, ids, first, last), codes)
    # the exact path's decimals and bound as aggregates first, then only the columns
    # totals() reads: the means (exact) or the float sums, and the counts (36 of 51).
    # Two statements: consistent when no write committed between them (every write of
    # the table bumps the data version in its transaction); else again, and at last one
    # statement of every column.
    from .db import data_version
    for _ in range(3):
        version = data_version(conn)
        grid = _grids(conn, ids, first, last)
        names = ["station_id", "day"]
        for col, _ in MEANS:
            names += [col if grid[col][1] else f"{col}_sum", f"{col}_n"]
        rows = read_rows(conn, ids, first, last, names + O3_HOURS)
        if data_version(conn) == version:
            return StationDays.from_rows(rows, codes, grid)
    return StationDays.from_rows(read_rows(conn, ids, first, last), codes)


def station_spans(conn) -> list[tuple]:
    """(station id, first day, last day) of every station with readings: two index
    probes per station (the daily table when ready, else the hourly table), never a
    scan of the readings."""
    if is_ready(conn):
        sql = ("SELECT s.id, (SELECT MIN(d.day) FROM station_daily d WHERE d.station_id = s.id),"
               " (SELECT MAX(d.day) FROM station_daily d WHERE d.station_id = s.id) "
               "FROM stations s")
    else:
        sql = ("SELECT s.id, (SELECT MIN(h.ts) FROM hourly h WHERE h.station_id = s.id),"
               " (SELECT MAX(h.ts) FROM hourly h WHERE h.station_id = s.id) FROM stations s")
    return [tuple(r) for r in conn.execute(text(sql)).fetchall() if r[1] is not None]


# -- building the table from the hourly rows -----------------------------------------------

def rebuild(engine, progress=None, stations_per_step: int = 25) -> int:
    """Compute the whole table from the hourly rows, a few stations per transaction, then
    mark it ready (and bump the data version); returns the number of rows written.

    ``progress(done, total)`` is called after each step (stations). Each step locks the
    table against writers, so a load running meanwhile either is in the step's
    snapshot or writes its own station-days after the step.
    """
    from .db import bump_data_version
    from .writer import FLAG_COLUMNS, VALUE_COLUMNS, read_hourly

    with engine.connect() as conn:
        ids = [int(r[0]) for r in conn.execute(text("SELECT id FROM stations ORDER BY id"))]
    written = 0
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM station_daily WHERE station_id NOT IN "
                          "(SELECT id FROM stations)"))
    for lo in range(0, len(ids), stations_per_step):
        chunk = ids[lo:lo + stations_per_step]
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("LOCK TABLE station_daily IN EXCLUSIVE MODE"))
            conn.execute(text(f"DELETE FROM station_daily WHERE station_id IN "
                              f"({', '.join(map(str, chunk))})"))
            rows = read_hourly(conn, chunk, np.datetime64("1900-01-01T00:00:00"),
                               np.datetime64("2200-01-01T00:00:00"))
            if not rows.empty:
                values = statistics_values(rows[VALUE_COLUMNS].to_numpy(np.float64),
                                           rows[FLAG_COLUMNS].to_numpy(np.int16))
                sid, day, dense, _ = day_cells(rows["station_id"].to_numpy(np.int64),
                                               rows["ts"].to_numpy("datetime64[s]"), values)
                del rows, values
                _write(conn, sid, day, summarize(dense))
                written += len(sid)
        if progress is not None:
            progress(min(lo + stations_per_step, len(ids)), len(ids))
    with engine.begin() as conn:
        updated = conn.execute(text("UPDATE meta SET value = :v WHERE key = :k"),
                               {"v": fingerprint(), "k": META_KEY})
        if updated.rowcount == 0:
            conn.execute(text("INSERT INTO meta (key, value) VALUES (:k, :v)"),
                         {"k": META_KEY, "v": fingerprint()})
        bump_data_version(conn)
    return written


def ensure_ready(engine, progress=None) -> int | None:
    """:func:`rebuild` unless the table is ready; the rows written, or None."""
    with engine.connect() as conn:
        if is_ready(conn):
            return None
    return rebuild(engine, progress)
