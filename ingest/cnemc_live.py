"""Reader for the national platform's real-time feed (全国城市空气质量实时发布): one file an hour.

Each file is a CSV snapshot of the national platform's hourly release, one row per
station (as archived hour by hour by the ``HeQinWill/CNEMC`` repository)::

    timepoint,stationcode,longitude,latitude,area,positionname,primarypollutant,aqi,
    pm10,pm10_24h,pm2_5,pm2_5_24h,o3,o3_24h,o3_8h,o3_8h_24h,no2,no2_24h,so2,so2_24h,co,co_24h

It is recognised by that header (:func:`is_live_header`). Conventions (checked on
the real sample, ``../shared/data/cnemc-live/README.md``):

- ``timepoint`` is China Standard Time and labels the **end** of the hour
  (``T16:00:00`` = 15:00–16:00): stored as the start, 15:00 (standards §3).
- ``pm10``, ``pm2_5``, ``no2``, ``so2`` [µg/m³] and ``co`` [mg/m³] are the 1-h values.
  The ozone columns are shifted relative to their names: ``o3_24h`` is the hourly
  1-h O3 (``o3`` the running 24-h maximum, ``o3_8h_24h`` the current 8-h mean,
  ``o3_8h`` a running daily maximum of the 8-h means). Only the six 1-h values are
  stored as readings; the ``_24h`` means and the other ozone columns are values
  derived from them, not stored (the load's summary lists them as not loaded).
- ``aqi`` is the published hourly (real-time) AQI and ``primarypollutant`` its primary
  pollutant(s) (``"颗粒物(PM10),细颗粒物(PM2.5)"``; blank when the AQI ≤ 50): kept as
  the *published* values (table ``published_hourly``) beside Lantian's own.
- ``stationcode``, ``positionname`` (``(对照点)``: a background site), ``longitude``,
  ``latitude`` and ``area`` (the city) describe the station: an unknown code becomes a
  station with that name, coordinates and city (:mod:`store.realtime`).
- Blank cells are missing. A station without data may also be absent from an hour.

The national platform itself serves the release as a WCF binary stream
(``GetAQIDataPublishLives``); no documented JSON of it was found, so only this CSV
layout is read.
"""
from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .cnemc import LAT_RANGE, LON_RANGE, _parse_name
from .errors import IngestError, clip, quote
from .frame import check_station_codes, check_years, long_from_wide, to_numeric
from .tabular import GZIP_MAGIC, read_text_table

#: The feed's columns, in its order.
LIVE_COLUMNS = ("timepoint", "stationcode", "longitude", "latitude", "area", "positionname",
                "primarypollutant", "aqi", "pm10", "pm10_24h", "pm2_5", "pm2_5_24h", "o3",
                "o3_24h", "o3_8h", "o3_8h_24h", "no2", "no2_24h", "so2", "so2_24h", "co",
                "co_24h")
#: Feed column → pollutant of the 1-h values stored (note the ozone shift: ``o3_24h``).
HOURLY_COLUMNS = {"so2": "SO2", "no2": "NO2", "co": "CO", "o3_24h": "O3", "pm10": "PM10",
                  "pm2_5": "PM2.5"}
#: The columns a file must have to be read (the others are derived values, not stored).
REQUIRED = ("timepoint", "stationcode", "longitude", "latitude", "area", "positionname",
            "primarypollutant", "aqi", *HOURLY_COLUMNS)
#: The header columns that identify the layout.
_SIGNATURE = ("timepoint", "stationcode", "positionname", "primarypollutant", "aqi", "o3_24h")
LIVE_LAYOUT = ("the national real-time feed timepoint,stationcode,longitude,latitude,area,"
               "positionname,primarypollutant,aqi,pm10,…,co_24h (one file an hour)")
SOURCE = "cnemc-live"
#: Names of primary pollutants in the feed → Lantian's pollutant names.
_PRIMARY_PATTERNS = (("PM2.5", re.compile(r"PM2\.5|PM25|细颗粒物", re.I)),
                     ("PM10", re.compile(r"PM10|可吸入颗粒物|^颗粒物", re.I)),
                     ("SO2", re.compile(r"SO2|二氧化硫", re.I)),
                     ("NO2", re.compile(r"NO2|二氧化氮", re.I)),
                     ("CO", re.compile(r"^CO$|一氧化碳", re.I)),
                     ("O3", re.compile(r"O3|臭氧", re.I)))
#: Canonical order of a list of primary pollutants (that of the hourly AQI's inputs).
PRIMARY_ORDER = ("SO2", "NO2", "CO", "O3", "PM10", "PM2.5")
_FILE_ENDINGS = (".csv", ".csv.gz")


@dataclass
class LiveFile:
    """One feed file, parsed.

    ``readings``: the canonical long frame of the six 1-h values (plus ``row``);
    ``published``: one row per station-hour with a published AQI — ``station``,
    ``time`` (start of the hour, CST), ``aqi`` (int), ``primary`` (Lantian pollutant
    names comma-joined in :data:`PRIMARY_ORDER`, "" for none), ``row``;
    ``stations``: one row per station code — ``code``, ``name_zh`` (notes removed),
    ``background`` (``(对照点)``), ``lon``, ``lat`` (NaN when blank), ``area``.
    """
    readings: pd.DataFrame
    published: pd.DataFrame
    stations: pd.DataFrame
    rows_read: int


# --------------------------------------------------------------------------- detection
def _first_line(path) -> str:
    """The header line of a (possibly gzip) text file, decoded; "" when unreadable."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(2)
        opener = gzip.open if head == GZIP_MAGIC else open
        with opener(path, "rb") as fh:
            raw = fh.read(4096)
    except (OSError, EOFError):
        return ""
    line = raw.split(b"\n", 1)[0]
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return line.decode(enc).strip()
        except UnicodeDecodeError:
            continue
    return ""


def is_live_header(header) -> bool:
    """Whether a header (a line or a list of column names) is the real-time feed's."""
    if isinstance(header, str):
        header = header.split(",")
    names = {h.strip().strip('"').lower() for h in header}
    return all(c in names for c in _SIGNATURE)


def is_live_file(path) -> bool:
    """Whether ``path`` is a file whose header is the real-time feed's."""
    return Path(path).is_file() and is_live_header(_first_line(path))


def live_files(paths, *, explicit_must_match: bool = True) -> list[Path]:
    """Files and folders → the feed files to load, sorted by name (so by hour), then folder.

    A folder is searched recursively for ``.csv`` / ``.csv.gz`` files whose header is
    the feed's (others are left alone); a file named explicitly is taken as it is (its
    reader says so if it is not the feed). A folder without any feed file is an error.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    found: dict[Path, None] = {}
    for path in map(Path, paths):
        if path.is_dir():
            matched = [p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")
                       and p.name.lower().endswith(_FILE_ENDINGS) and is_live_file(p)]
            if not matched:
                raise IngestError(path, "no real-time feed files (.csv or .csv.gz with the "
                                  "feed's header) found in this folder", expected=LIVE_LAYOUT)
            found.update(dict.fromkeys(matched))
        elif path.is_file() or explicit_must_match:
            found[path] = None
    if not found:
        raise IngestError(", ".join(str(p) for p in paths) or "(no path given)",
                          "no real-time feed files found", expected=LIVE_LAYOUT)
    return sorted(found, key=lambda p: (p.name, str(p.parent)))


# --------------------------------------------------------------------------- reading
def read_cnemc_live(path) -> pd.DataFrame:
    """The canonical long frame of the 1-h values of one feed file (see :func:`parse_live`)."""
    return parse_live(path).readings


def parse_live(path) -> LiveFile:
    """Read one real-time feed file: readings, published AQI and station descriptions.

    Raises :class:`IngestError` naming the file, row and column of the first problem.
    """
    table = read_text_table(path, required=REQUIRED, expected_layout=LIVE_LAYOUT,
                            text_columns=("timepoint", "stationcode", "area", "positionname",
                                          "primarypollutant"))
    return _parse_live(table, path)


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _text(column: pd.Series) -> pd.Series:
    return column.astype("string").str.strip().fillna("")


def _primary_names(text: str, path, row: int) -> str:
    """``"颗粒物(PM10),细颗粒物(PM2.5)"`` → ``"PM10,PM2.5"`` (canonical order)."""
    found = []
    for part in re.split(r"[,，;；、]", text):
        part = part.strip()
        if not part or part in ("—", "-", "--"):
            continue
        name = next((p for p, rx in _PRIMARY_PATTERNS if rx.search(part)), None)
        if name is None:
            raise IngestError(path, f"unknown primary pollutant {quote(part)}", row=row,
                              column="primarypollutant",
                              expected="names such as 细颗粒物(PM2.5), 颗粒物(PM10), 二氧化硫, "
                              "二氧化氮, 一氧化碳, 臭氧1小时, comma-separated, or blank")
        found.append(name)
    return ",".join(p for p in PRIMARY_ORDER if p in found)


def _parse_live(table: pd.DataFrame, path) -> LiveFile:
    if table.empty:
        raise IngestError(path, "the file has a header but no data rows",
                          expected="one row per station")
    n = len(table)
    lines = np.arange(n, dtype=np.int64) + 2          # the header is line 1

    codes = _text(table["stationcode"])
    empty = (codes == "").to_numpy(dtype=bool)
    if empty.any():
        i = _first(empty)
        raise IngestError(path, "empty station code", row=int(lines[i]), column="stationcode",
                          expected="a national station code in every row, e.g. 1001A")
    check_station_codes(codes, path, rows=lines, column="stationcode")
    codes = codes.to_numpy(dtype=object)

    # timepoint: CST, the END of the hour → the start
    label = _text(table["timepoint"])
    ends = pd.to_datetime(label.str.replace(" ", "T", regex=False), format="%Y-%m-%dT%H:%M:%S",
                          errors="coerce")
    short = pd.to_datetime(label.str.replace(" ", "T", regex=False), format="%Y-%m-%dT%H:%M",
                           errors="coerce")
    ends = ends.fillna(short)
    bad = ends.isna().to_numpy(dtype=bool)
    if bad.any():
        i = _first(bad)
        raise IngestError(path, f"timepoint {quote(label.iloc[i])} is not a time", row=int(lines[i]),
                          column="timepoint", expected="YYYY-MM-DDTHH:00:00 (CST, the end of "
                          "the hour), e.g. 2022-01-05T16:00:00")
    ends = ends.to_numpy(dtype="datetime64[s]")
    check_years(ends, path, rows=lines, column="timepoint", labels=label.to_numpy(dtype=object))
    off = (ends - ends.astype("datetime64[h]")).astype(np.int64) != 0
    if off.any():
        i = _first(off)
        raise IngestError(path, f"timepoint {quote(label.iloc[i])} is not on the hour",
                          row=int(lines[i]), column="timepoint",
                          expected="whole hours (the feed labels each hour by its end)")
    start = ends - np.timedelta64(1, "h")

    # one row per station and hour: identical repeats are dropped, differing ones refused
    key = pd.DataFrame({"code": codes, "t": start})
    dup = key.duplicated(keep=False).to_numpy(dtype=bool)
    if dup.any():
        cells = table.loc[dup, list(REQUIRED)].astype("string").apply(lambda s: s.str.strip())
        conflict = cells.drop_duplicates().duplicated(subset=["stationcode", "timepoint"],
                                                      keep=False)
        if conflict.any():
            j = conflict[conflict].index[0]
            same = ((key["code"] == codes[j]) & (key["t"] == start[j])).to_numpy(dtype=bool)
            rows = ", ".join(str(r) for r in lines[same][:5])
            raise IngestError(path, f"station {quote(codes[j])} at {clip(label.iloc[j])} is "
                              f"given in rows {rows} with different values",
                              row=int(lines[same][1]), column="stationcode",
                              expected="one row per station and hour")
        keep = ~key.duplicated(keep="first").to_numpy(dtype=bool)
        table, codes, start, lines, label = (table.loc[keep].reset_index(drop=True),
                                             codes[keep], start[keep], lines[keep],
                                             label[keep].reset_index(drop=True))

    # the six 1-h values
    columns = {}
    for column, pollutant in HOURLY_COLUMNS.items():
        values, missing, non_numeric = to_numeric(table[column])
        columns[pollutant] = (values, missing, non_numeric)
    readings = long_from_wide(start, codes, columns)
    readings["row"] = np.tile(lines, len(columns))
    readings.attrs["rows_read"] = n
    readings.attrs["ignored_columns"] = [c for c in table.columns if c not in REQUIRED]

    # the published AQI and primary pollutant(s)
    aqi, aqi_missing, aqi_text = to_numeric(table["aqi"])
    wrong = aqi_text | (~aqi_missing & ((aqi < 0) | (aqi != np.floor(aqi))))
    if wrong.any():
        i = _first(wrong)
        raise IngestError(path, f"aqi {quote(_text(table['aqi']).iloc[i])} is not a whole "
                          "number ≥ 0", row=int(lines[i]), column="aqi",
                          expected="the published AQI (an integer) or blank")
    primary_text = _text(table["primarypollutant"])
    names = {t: None for t in primary_text.unique()}
    for t in names:
        i = _first((primary_text == t).to_numpy(dtype=bool))
        names[t] = _primary_names(t, path, int(lines[i]))
    has = ~aqi_missing
    published = pd.DataFrame({
        "station": codes[has], "time": start[has],
        "aqi": aqi[has].astype(np.int64),
        "primary": primary_text[has].map(names).to_numpy(dtype=object),
        "row": lines[has]})

    # station descriptions
    coords = {}
    for column, (lo, hi) in (("longitude", LON_RANGE), ("latitude", LAT_RANGE)):
        values, _, non_numeric = to_numeric(table[column])
        out = non_numeric | (~np.isnan(values) & ((values < lo) | (values > hi)))
        if out.any():
            i = _first(out)
            raise IngestError(path, f"{column} {quote(_text(table[column]).iloc[i])} is not "
                              f"a {column} in China ({lo:g}–{hi:g})", row=int(lines[i]),
                              column=column, expected="decimal degrees, or blank")
        coords[column] = values
    position = _text(table["positionname"]).to_numpy(dtype=object)
    area = _text(table["area"]).to_numpy(dtype=object)
    first = ~pd.Series(codes).duplicated().to_numpy()
    parsed = {}
    for i in np.flatnonzero(first):
        name = position[i]
        if name and name not in parsed:
            parsed[name] = _parse_name(name, path, int(lines[i]))
    stations = pd.DataFrame({
        "code": codes[first],
        "name_zh": [parsed[p][0] if p else "" for p in position[first]],
        "background": [bool(parsed[p][1]) if p else False for p in position[first]],
        "lon": coords["longitude"][first], "lat": coords["latitude"][first],
        "area": area[first]})
    return LiveFile(readings, published, stations.reset_index(drop=True), n)


# --------------------------------------------------------------------------- loading
@dataclass
class LiveLoadResult:
    """What loading one feed file did: the readings' :class:`ingest.loader.LoadResult`, the
    published AQIs written, the stations created or completed."""
    result: object
    published_read: int = 0
    published_new: int = 0
    published_changed: int = 0
    stations_completed: int = 0

    def summary(self) -> str:
        text = self.result.summary()
        if self.result.status == "failed":
            return text
        return (f"{text}; published AQI: {self.published_read:,} read, "
                f"{self.published_new:,} new, {self.published_changed:,} changed")


def load_live_file(engine, path, *, strict: bool = False, synthetic: bool = False,
                   rules=None) -> LiveLoadResult:
    """Store one feed file as one ingest run (reader ``cnemc-live``) and one transaction.

    The 1-h values go through the common loader (:func:`ingest.loader.load_frame`: QC, only
    what is new or changed, revisions); unknown stations are created from the file first
    (unless ``strict``, which refuses them) and the published AQIs written to
    ``published_hourly`` (:mod:`store.realtime`), all in the same transaction: a bad file
    changes nothing and its run is recorded as failed. Loading a file again changes
    nothing; the scheduler skips a file whose checksum a run of this reader has loaded.
    """
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    from store.realtime import prepare_stations, station_ids, write_published

    from .loader import (LoadResult, as_sqlalchemy_error, file_checksum, finish_run, load_frame,
                         lock_for_writing, start_run)

    def record_failure(message: str) -> None:
        result.status, result.message = "failed", message
        try:
            finish_run(engine, result)
        except SQLAlchemyError:      # the database refuses even that: the next run closes it
            pass

    path = Path(path)
    checksum = file_checksum(path) if path.is_file() else ""
    result = LoadResult(file=str(path), reader=SOURCE)
    result.run_id, result.same_as_run = start_run(engine, SOURCE, path, checksum, {})
    live = LiveLoadResult(result)
    try:
        parsed = parse_live(path)
        live.published_read = len(parsed.published)
        with engine.begin() as conn:
            lock_for_writing(conn)
            created, live.stations_completed = prepare_stations(
                conn, parsed.stations, create=not strict, synthetic=synthetic)
            load_frame(conn, parsed.readings, result, strict=strict, rules=rules,
                       synthetic=synthetic)
            result.created_stations = created + [c for c in result.created_stations
                                                 if c not in created]
            ids = station_ids(conn, parsed.published["station"])
            published = parsed.published.assign(
                station_id=parsed.published["station"].map(ids).astype("int64"))
            live.published_new, live.published_changed = write_published(
                conn, published, result.run_id, SOURCE)
            if live.published_new or live.published_changed or live.stations_completed:
                result.status = "ok"
    except IngestError as exc:
        record_failure(str(exc))
        raise
    except Exception as exc:  # unexpected: still record the failure, then let it surface
        error = as_sqlalchemy_error(exc)
        orig = error.orig if isinstance(error, DBAPIError) and error.orig is not None else exc
        record_failure(f"{type(orig).__name__}: "
                       f"{' '.join((str(orig).strip().splitlines() or [''])[0].split())}")
        error.lantian_file = str(path)
        if error is not exc:
            raise error from exc
        raise
    notes = []
    if live.published_new or live.published_changed:
        notes.append(f"published AQI: {live.published_new} new, "
                     f"{live.published_changed} changed")
    if created:
        notes.append(f"{len(created)} station(s) created from the file")
    if result.status == "unchanged" and result.same_as_run:
        notes.append(f"identical to run #{result.same_as_run}")
    result.message = "; ".join(notes)
    finish_run(engine, result)
    return live
