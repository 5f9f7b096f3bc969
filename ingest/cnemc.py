"""Reader for the national real-time platform's daily files and its station list.

Daily files ``china_sites_YYYYMMDD.csv`` (as mirrored from the national
platform): header ``date,hour,type,<station code>,<station code>,…``; one row
per hour and type, ``date`` YYYYMMDD, ``hour`` 0–23 (China Standard Time),
``type`` one of :data:`ALL_TYPES`. Only the hourly concentrations
(:data:`HOURLY_TYPES`) are stored; the running 24-hour and 8-hour means and the
AQI rows are derived values and are skipped. Units are already canonical
(µg/m³, CO mg/m³). Empty cells are missing.

Whether ``hour`` labels the beginning or the end of the averaging hour is not
stated by the source; the default is ``beginning`` (override with
``hour_label="ending"``, which stores hour 0 as 23:00 of the previous day).

Station list ``NewSiteList.csv`` (GBK, sometimes UTF-8): ``监测点编码, 监测点名称,
城市, 经度, 纬度, 对照点, 省级行政区, 地级行政区``. Names carry notes such as
``(对照点)`` (background station) or ``(停运150702)`` (retired on 2015-07-02).
"""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import IngestError, clip, quote
from .frame import check_station_codes, check_years, label_to_start, long_from_wide, to_numeric
from .tabular import read_text_table

# type → pollutant for the hourly concentrations we store.
HOURLY_TYPES = {"PM2.5": "PM2.5", "PM10": "PM10", "SO2": "SO2", "NO2": "NO2", "O3": "O3",
                "CO": "CO"}
DERIVED_TYPES = ("PM2.5_24h", "PM10_24h", "SO2_24h", "NO2_24h", "O3_24h", "O3_8h",
                 "O3_8h_24h", "CO_24h", "AQI")
ALL_TYPES = tuple(HOURLY_TYPES) + DERIVED_TYPES
KEY_COLUMNS = ("date", "hour", "type")
DAILY_LAYOUT = ("the national daily layout date,hour,type,<station code>,… "
                "(china_sites_YYYYMMDD.csv)")
_NAME_DATE = re.compile(r"china_sites_(\d{8})\.csv(\.gz)?$", re.IGNORECASE)
_DAILY_NAME = re.compile(r"^china_sites_.*\.csv(\.gz)?$", re.IGNORECASE)


# --------------------------------------------------------------------------- daily files

def daily_files(paths) -> list[Path]:
    """Files and folders → sorted ``china_sites_*.csv[.gz]`` files (folders searched recursively).

    Files named explicitly are kept whatever their name; the list is sorted by
    file name (so by date), then by folder.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    found: dict[Path, None] = {}
    for path in map(Path, paths):
        if path.is_dir():
            for p in path.rglob("*"):
                if p.is_file() and _DAILY_NAME.match(p.name):
                    found[p] = None
        elif path.is_file():
            found[path] = None
        else:
            raise IngestError(path, "no such file or folder",
                              expected="china_sites_YYYYMMDD.csv files or folders of them")
    if not found:
        raise IngestError(", ".join(str(p) for p in paths) or "(no path given)",
                          "no china_sites_*.csv or china_sites_*.csv.gz files found",
                          expected="the national platform's daily files china_sites_YYYYMMDD.csv")
    return sorted(found, key=lambda p: (p.name, str(p.parent)))


def read_cnemc(path, hour_label: str = "beginning") -> pd.DataFrame:
    """Read one ``china_sites_YYYYMMDD.csv[.gz]`` file into the canonical long frame.

    The frame has the canonical columns plus ``row`` (the file line of each
    reading, header = line 1); ``frame.attrs["rows_read"]`` is the number of
    data rows in the file (all types).
    """
    table = read_text_table(path, required=KEY_COLUMNS, expected_layout=DAILY_LAYOUT)
    return _parse_daily(table, path, hour_label)


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _text(column: pd.Series, i: int) -> str:
    """The cell as the user wrote it (near enough): for messages."""
    value = column.astype("string").iloc[i]
    return "" if value is pd.NA else str(value)


def _parse_daily(table: pd.DataFrame, path, hour_label: str) -> pd.DataFrame:
    source = str(path)
    stations = [c for c in table.columns if c not in KEY_COLUMNS]
    for j, code in enumerate(table.columns):
        if code.startswith("Unnamed:") or not code:
            raise IngestError(path, f"header column {j + 1} has no station code", row=1,
                              expected=DAILY_LAYOUT)
    if not stations:
        raise IngestError(path, "the header has no station code columns", row=1,
                          expected=DAILY_LAYOUT)
    check_station_codes(stations, path, rows=np.ones(len(stations), dtype=np.int64),
                        what="the header's station code", fix="correct the header")
    if table.empty:
        raise IngestError(path, "the file has a header but no data rows",
                          expected="one row per hour and type")
    lines = np.arange(len(table), dtype=np.int64) + 2  # header is line 1

    # type
    types = table["type"].astype("string").str.strip()
    unknown = ~types.isin(ALL_TYPES).to_numpy(dtype=bool, na_value=False)
    if unknown.any():
        i = _first(unknown)
        raise IngestError(path, f"unknown type {quote(_text(table['type'], i))}", row=int(lines[i]),
                          column="type", expected=", ".join(ALL_TYPES))

    # date: YYYYMMDD, the file name's date when it has one
    date_text = table["date"].astype("string").str.strip().str.replace(r"\.0$", "", regex=True)
    days = pd.to_datetime(date_text, format="%Y%m%d", errors="coerce")
    bad = (days.isna() | ~date_text.str.fullmatch(r"\d{8}").fillna(False)).to_numpy(dtype=bool)
    if bad.any():
        i = _first(bad)
        raise IngestError(path, f"date {quote(_text(table['date'], i))} is not a date",
                          row=int(lines[i]), column="date", expected="YYYYMMDD, e.g. 20150101")
    check_years(days.to_numpy(), path, rows=lines, column="date",
                labels=date_text.to_numpy(dtype=object))
    m = _NAME_DATE.search(Path(path).name)
    if m:
        wrong = (date_text != m.group(1)).to_numpy(dtype=bool)
        if wrong.any():
            i = _first(wrong)
            raise IngestError(path, f"date {clip(date_text.iloc[i])} differs from the file "
                              f"name's date {m.group(1)}", row=int(lines[i]), column="date",
                              expected="only rows of the day named in the file name")

    # hour: integer 0–23
    hours, missing, non_numeric = to_numeric(table["hour"])
    bad = missing | non_numeric | (hours != np.floor(hours)) | (hours < 0) | (hours > 23)
    if bad.any():
        i = _first(bad)
        raise IngestError(path, f"hour {quote(_text(table['hour'], i))} is not a whole hour 0–23",
                          row=int(lines[i]), column="hour", expected="hours 0–23")

    # Duplicated (date, hour, type) rows must agree cell by cell.
    keys = pd.DataFrame({"date": date_text, "hour": hours.astype(np.int64), "type": types})
    dup = keys.duplicated(keep=False).to_numpy(dtype=bool)
    if dup.any():
        cells = table.loc[dup, stations].astype("string").apply(lambda s: s.str.strip())
        rows = pd.concat([keys[dup], cells], axis=1).drop_duplicates()
        conflict = rows.duplicated(subset=list(KEY_COLUMNS), keep=False).to_numpy(dtype=bool)
        if conflict.any():
            k = rows.loc[conflict].iloc[0]
            same = ((keys["date"] == k["date"]) & (keys["hour"] == k["hour"])
                    & (keys["type"] == k["type"])).to_numpy(dtype=bool)
            where = ", ".join(str(n) for n in lines[same][:5])
            raise IngestError(path, f"{clip(k['type'])} for {clip(k['date'])} hour {k['hour']} "
                              f"is given in rows {where} with different values", row=int(lines[same][0]),
                              column="type", expected="one row per date, hour and type")

    rows_read = len(table)
    start = (days.to_numpy(dtype="datetime64[s]")
             + hours.astype(np.int64).astype("timedelta64[h]").astype("timedelta64[s]"))
    start = label_to_start(start, hour_label, source)

    # One grid of (hour, station) shared by the six pollutants, filled from the
    # rows of each type; cells whose type row is absent are dropped afterwards.
    hourly = types.isin(list(HOURLY_TYPES)).to_numpy(dtype=bool, na_value=False)
    grid_times, slot = np.unique(start[hourly], return_inverse=True)
    n_st, n_t = len(stations), len(grid_times)
    hourly_types = types[hourly].to_numpy(dtype=object)
    hourly_lines = lines[hourly]
    cell_values, cell_missing, cell_text = _cells(table.loc[hourly, stations])
    columns, present, source_line = {}, [], []
    for type_name, pollutant in HOURLY_TYPES.items():
        sel = hourly_types == type_name
        values = np.full((n_t, n_st), np.nan)
        missing = np.ones((n_t, n_st), dtype=bool)
        non_numeric = np.zeros((n_t, n_st), dtype=bool)
        line = np.zeros(n_t, dtype=np.int64)
        values[slot[sel]] = cell_values[sel]
        missing[slot[sel]] = cell_missing[sel]
        non_numeric[slot[sel]] = cell_text[sel]
        line[slot[sel]] = hourly_lines[sel]
        columns[pollutant] = (values.ravel(), missing.ravel(), non_numeric.ravel())
        present.append(np.repeat(line > 0, n_st))
        source_line.append(np.repeat(line, n_st))
    frame = long_from_wide(np.repeat(grid_times, n_st),
                           np.tile(np.asarray(stations, dtype=object), n_t), columns)
    frame["row"] = np.concatenate(source_line)
    keep = np.concatenate(present)
    if not keep.all():
        frame = frame.loc[keep].reset_index(drop=True)
    frame.attrs["rows_read"] = rows_read
    return frame


def _cells(block: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Station cells of some rows as 2-D arrays (rows × stations): values, missing, non-numeric."""
    shape = block.shape
    values = np.full(shape, np.nan)
    missing = np.zeros(shape, dtype=bool)
    non_numeric = np.zeros(shape, dtype=bool)
    numeric = np.array([pd.api.types.is_numeric_dtype(d) and not pd.api.types.is_bool_dtype(d)
                        for d in block.dtypes], dtype=bool)
    if numeric.any():
        v = block.iloc[:, numeric].to_numpy(dtype="float64", na_value=np.nan)
        values[:, numeric] = v
        missing[:, numeric] = np.isnan(v)
    if (~numeric).any():
        # The few columns with text in them: one to_numeric over all their cells.
        text = block.iloc[:, ~numeric].to_numpy(dtype=object)
        v, m, nn = to_numeric(pd.Series(text.ravel(), dtype=object))
        values[:, ~numeric] = v.reshape(text.shape)
        missing[:, ~numeric] = m.reshape(text.shape)
        non_numeric[:, ~numeric] = nn.reshape(text.shape)
    return values, missing, non_numeric


# --------------------------------------------------------------------------- station list

LIST_COLUMNS = {"监测点编码": "code", "监测点名称": "name", "城市": "list_city", "经度": "lon",
                "纬度": "lat", "对照点": "background", "省级行政区": "province",
                "地级行政区": "prefecture"}
LIST_LAYOUT = "the national station list 监测点编码,监测点名称,城市,经度,纬度,对照点,省级行政区,地级行政区"
STATION_LIST_COLUMNS = ["code", "name_zh", "list_city", "lon", "lat", "background", "province",
                        "prefecture", "retired_on"]
# A note in parentheses (ASCII or full-width) in a station name.
_NOTE = re.compile(r"\s*[(（]\s*([^()（）]*?)\s*[)）]\s*")
_RETIRED = re.compile(r"^(?:(?:停运|停用)(\d{6}|\d{8})|(\d{6}|\d{8})(?:停运|停用)|已停运|已停用)$")
_KNOWN_NOTE = re.compile(r"^(?:对照点|启用\d{6}|启用\d{8}|\d{6}启用|\d{8}启用)$")
LON_RANGE = (70.0, 140.0)
LAT_RANGE = (0.0, 60.0)


def _note_date(digits: str) -> date | None:
    """``150702`` or ``20150702`` → 2015-07-02; None when not a calendar date."""
    text = ("20" + digits) if len(digits) == 6 else digits
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def _parse_name(name: str, path, row: int) -> tuple[str, bool, date | None]:
    """``定陵(对照点)`` → (``定陵``, background, None); ``X(停运150702)`` → (``X``, False, 2015-07-02).

    Only the known notes are removed; other parentheses stay part of the name.
    """
    background, retired = False, None

    def strip(match: re.Match) -> str:
        nonlocal background, retired
        note = match.group(1)
        if note == "对照点":
            background = True
            return ""
        r = _RETIRED.match(note)
        if r:
            digits = r.group(1) or r.group(2)
            if digits:
                retired = _note_date(digits)
                if retired is None:
                    raise IngestError(path, f"the note {quote(match.group(0).strip())} holds "
                                      "no valid date", row=row, column="监测点名称",
                                      expected="停运YYMMDD or 停运YYYYMMDD")
            return ""
        if _KNOWN_NOTE.match(note):
            return ""
        return match.group(0)

    clean = _NOTE.sub(strip, name).strip()
    return clean, background, retired


def read_station_list(path) -> pd.DataFrame:
    """Read ``NewSiteList.csv`` (GBK or UTF-8) into one row per station.

    Columns: code, name_zh (notes removed), list_city, lon, lat (NaN when empty),
    background (bool), province, prefecture, retired_on (date or None).
    """
    table = read_text_table(path, required=tuple(LIST_COLUMNS), expected_layout=LIST_LAYOUT)
    if table.empty:
        raise IngestError(path, "the station list has a header but no stations",
                          expected="one row per station")
    lines = np.arange(len(table), dtype=np.int64) + 2
    text = {}
    for source, name in LIST_COLUMNS.items():
        if name in ("lon", "lat"):
            continue
        text[name] = table[source].astype("string").str.strip().fillna("")
        if name in ("code", "name"):
            empty = (text[name] == "").to_numpy(dtype=bool)
            if empty.any():
                i = _first(empty)
                raise IngestError(path, f"empty {source}", row=int(lines[i]), column=source,
                                  expected="a station code and name in every row")
    check_station_codes(text["code"], path, rows=lines, column="监测点编码")

    coords = {}
    for source, name, (lo, hi) in (("经度", "lon", LON_RANGE), ("纬度", "lat", LAT_RANGE)):
        values, missing, non_numeric = to_numeric(table[source])
        if non_numeric.any():
            i = _first(non_numeric)
            raise IngestError(path, f"{quote(_text(table[source], i))} is not a number",
                              row=int(lines[i]), column=source,
                              expected=f"decimal degrees {lo:g}–{hi:g} or empty")
        out = ~np.isnan(values) & ((values < lo) | (values > hi))
        if out.any():
            i = _first(out)
            raise IngestError(path, f"{name} {values[i]:g} is outside China ({lo:g}–{hi:g})",
                              row=int(lines[i]), column=source,
                              expected=f"{'longitude' if name == 'lon' else 'latitude'} "
                              f"{lo:g}–{hi:g} (decimal degrees, not swapped)")
        coords[name] = values

    flag = text["background"].str.upper()
    bad = ~flag.isin(["Y", "N", ""]).to_numpy(dtype=bool)
    if bad.any():
        i = _first(bad)
        raise IngestError(path, f"对照点 {quote(_text(table['对照点'], i))} is not Y or N",
                          row=int(lines[i]), column="对照点", expected="Y or N")

    # Notes in names: a handful of distinct strings, parsed once each.
    names = text["name"]
    parsed = {}
    for name in names.unique():
        i = int(np.flatnonzero((names == name).to_numpy(dtype=bool))[0])
        parsed[name] = _parse_name(name, path, int(lines[i]))
    name_zh = names.map(lambda n: parsed[n][0])
    in_name = names.map(lambda n: parsed[n][1]).to_numpy(dtype=bool)
    retired = names.map(lambda n: parsed[n][2]).astype(object)
    empty = (name_zh == "").to_numpy(dtype=bool)
    if empty.any():
        i = _first(empty)
        raise IngestError(path, f"station name {quote(names.iloc[i])} is only a note",
                          row=int(lines[i]), column="监测点名称", expected="a station name")

    frame = pd.DataFrame({
        "code": text["code"], "name_zh": name_zh, "list_city": text["list_city"],
        "lon": coords["lon"], "lat": coords["lat"],
        "background": (flag == "Y").to_numpy(dtype=bool) | in_name,
        "province": text["province"], "prefecture": text["prefecture"],
        "retired_on": retired.where(retired.notna(), None)})
    frame["row"] = lines

    dup = frame["code"].duplicated(keep=False).to_numpy(dtype=bool)
    if dup.any():
        data = frame.loc[dup, STATION_LIST_COLUMNS].astype("string").fillna("")
        distinct = data.drop_duplicates()
        conflict = distinct["code"].duplicated(keep=False).to_numpy(dtype=bool)
        if conflict.any():
            code = distinct.loc[conflict, "code"].iloc[0]
            rows = frame.loc[frame["code"] == code, "row"].tolist()
            raise IngestError(path, f"station {clip(code)} is listed in rows "
                              f"{', '.join(map(str, rows[:5]))} with different data",
                              row=int(rows[0]), column="监测点编码",
                              expected="each station code once")
        frame = frame.drop_duplicates(subset="code", keep="first")
    return frame.reset_index(drop=True)
