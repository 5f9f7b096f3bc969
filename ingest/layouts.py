"""The generic long and wide table layouts shared by the CSV and Excel readers.

``long``  one reading a row: ``station, time, pollutant, value[, unit]``.
          Pollutant names go through :func:`ingest.frame.canonical_pollutant`
          (``PM25``, ``pm2_5``, ``二氧化氮`` …). Rows of quantities we do not store
          (AQI, TEMP, PRES, humidity, 24-hour averages …) are skipped and counted
          in ``frame.attrs["skipped_rows"]``; any other name is an error.
          ``station`` may be left out when a station code is given.
``wide``  one hour a row: a ``time``/``datetime`` column (时间, 日期时间 …) and a
          column per pollutant, one station per file (the station code is
          given). A header may carry the unit: ``PM2.5(μg/m³)``, ``CO_mg/m3``.
          Columns that are not pollutants are ignored and listed in
          ``frame.attrs["ignored_columns"]``.

Units, most specific first:

* long: a non-empty ``unit`` cell is authoritative for its row; an empty cell
  (or no unit column) falls back to the ``--unit`` override of the pollutant,
  then to the canonical unit. A ``--unit`` override that contradicts a unit
  cell is an error rather than a silent choice.
* wide: the ``--unit`` override, then the unit in the header, then canonical.

ppb/ppm are converted only with the source's gas reference temperature.

Times: ``YYYY-MM-DD HH:MM[:SS]``, ``YYYY/MM/DD HH:MM[:SS]`` (``-``, ``/`` or ``.``
between the date parts, ``T`` or spaces before the hour, one-digit month, day
and hour allowed), ``YYYYMMDDHH``, and datetimes from Excel. ``24:00`` means
00:00 of the next day. A trailing offset (``+08:00``, ``+0800``, ``Z``) is
converted to China Standard Time (UTC+8, no DST); times without one are taken
to be China Standard Time already. Every time must be on the hour; with
``hour_label="ending"`` 01:00 is stored as the hour starting 00:00.

The frame carries a ``row`` column: the row number in the source (the header is
row 1), which the loader names in duplicate errors.
"""
from __future__ import annotations

import datetime as dt
import math
import re

import numpy as np
import pandas as pd

from config.sites import CANONICAL_UNITS, POLLUTANTS
from config.units import normalise_unit

from .errors import IngestError, clip, quote
from .frame import (COLUMNS, _alias_key, canonical_pollutant, check_station_codes, check_years,
                    empty_frame, finite_values, label_to_start, long_from_wide, to_numeric,
                    unit_factor)

LAYOUTS = ("long", "wide")

# Column roles → accepted header names (compared stripped and case-insensitively).
COLUMN_NAMES = {
    "time": ("time", "datetime", "date_time", "date time", "timestamp", "时间", "日期时间",
             "监测时间", "数据时间"),
    "station": ("station", "station_code", "站点", "站点编码", "监测点编码"),
    "pollutant": ("pollutant", "污染物", "监测项目"),
    "value": ("value", "浓度", "监测值", "值"),
    "unit": ("unit", "单位"),
}
TEXT_COLUMNS = COLUMN_NAMES["time"] + COLUMN_NAMES["station"] + COLUMN_NAMES["pollutant"] \
    + COLUMN_NAMES["unit"]

LONG_EXPECTED = "the long layout station,time,pollutant,value[,unit] (one reading a row)"
WIDE_EXPECTED = ("the wide layout: a time (or datetime) column and one column per pollutant "
                 "(SO2, NO2, PM10, PM2.5, CO, O3)")

# Quantities that appear in long exports but are not hourly pollutant readings we store.
_NON_POLLUTANTS = {_alias_key(n) for n in (
    "AQI", "IAQI", "aqi_level", "quality", "level", "primary_pollutant", "首要污染物", "空气质量指数",
    "空气质量等级", "质量等级", "TEMP", "temperature", "温度", "气温", "PRES", "pressure", "气压",
    "DEWP", "dewpoint", "dew_point", "露点", "RAIN", "precipitation", "降水", "降水量", "降雨量",
    "WSPM", "ws", "wind_speed", "windspeed", "风速", "wd", "wind_direction", "winddirection",
    "风向", "humidity", "RH", "relative_humidity", "湿度", "相对湿度", "visibility", "能见度",
    "NO", "NOx", "氮氧化物", "一氧化氮")}
# Rolling averages of the national platform (PM2.5_24h, O3_8h, O3_8h_24h …).
_ROLLING = re.compile(r"^(pm25|pm10|so2|no2|o3|co)(8h|24h|8h24h)$")

# Header units: "PM2.5(μg/m³)", "CO_mg/m3", "NO2 (ppb)", "PM10(微克/立方米)".
_HEADER_UNIT = re.compile(r"[\s_(\[（]*(?P<unit>(?:µg|μg|ug|mg)\s*/\s*m(?:3|³)?|ppb|ppm)"
                          r"[\s)\]）]*$", re.IGNORECASE)
_CHINESE_UNITS = (("微克/立方米", "µg/m3"), ("毫克/立方米", "mg/m3"), ("微克每立方米", "µg/m3"),
                  ("毫克每立方米", "mg/m3"))

_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y/%m/%d %H:%M:%S")
_TIME_RE = (r"^(\d{4})(?:[-/.](\d{1,2})[-/.](\d{1,2})[ T]+(\d{1,2}):(\d{2})"
            r"(?::(\d{2})(?:\.(\d+))?)?|(\d{2})(\d{2})(\d{2}))\s*(Z|[+-]\d{2}(?::?\d{2})?)?$")
TIME_EXPECTED = ("a time such as 2014-05-13 01:00[:00], 2014/05/13 01:00 or 2014051301 "
                 "(China Standard Time, or with an offset like +08:00)")
CST = dt.timezone(dt.timedelta(hours=8))


def _norm(name) -> str:
    return str(name).strip().casefold()


def _find_columns(columns, roles, path, expected: str, header_row: int) -> dict[str, str]:
    """Role → the column holding it; a role named by two columns is an error."""
    found: dict[str, str] = {}
    for role in roles:
        names = {_norm(n) for n in COLUMN_NAMES[role]}
        hits = [c for c in columns if _norm(c) in names]
        if len(hits) > 1:
            raise IngestError(path, f"columns {quote(hits[0])} and {quote(hits[1])} both name "
                              f"the {role}",
                              row=header_row, column=hits[1],
                              expected=f"one {role} column; {expected}")
        if hits:
            found[role] = hits[0]
    return found


def split_header(header) -> tuple[str | None, str | None]:
    """``'PM2.5(μg/m³)'`` → ``('PM2.5', 'µg/m3')``; ``'TEMP'`` → ``(None, None)``."""
    text = str(header).strip()
    for zh, unit in _CHINESE_UNITS:
        text = text.replace(zh, unit)
    pollutant = canonical_pollutant(text)
    if pollutant is None:
        return None, None
    m = _HEADER_UNIT.search(text)
    if not m:
        return pollutant, None
    unit = re.sub(r"\s", "", m.group("unit")).casefold().replace("μ", "µ").replace("³", "3")
    unit = unit.replace("ug", "µg")
    if unit.endswith("/m"):
        unit += "3"
    return pollutant, unit


def _as_text(raw: pd.Series) -> pd.Series:
    """Cells as stripped text (NA where empty); whole numbers without a trailing ``.0``."""
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        values = raw.to_numpy(dtype="float64", na_value=np.nan)
        whole = np.isfinite(values) & (values == np.round(values))
        out = raw.astype("string")
        out[whole] = pd.array(values[whole].astype(np.int64).astype(str), dtype="string")
        return out.str.strip().replace("", pd.NA)

    def one(v):
        if isinstance(v, float) and math.isfinite(v) and v == round(v):
            return str(int(v))
        if isinstance(v, (dt.datetime, pd.Timestamp)):  # Excel: round off day-fraction noise
            return pd.Timestamp(v).round("s").strftime("%Y-%m-%d %H:%M:%S")
        return v
    if raw.dtype == object:
        raw = raw.map(one)
    return raw.astype("string").str.strip().replace("", pd.NA)


def _scale(values: np.ndarray, factor: float) -> np.ndarray:
    """``values * factor``, but divide by an integer inverse (300 µg → exactly 0.3 mg)."""
    if factor == 1.0:
        return values
    if factor < 1.0:
        inverse = round(1.0 / factor)
        if inverse >= 2 and abs(1.0 / factor - inverse) <= 1e-9 * inverse:
            return values / inverse
    with np.errstate(over="ignore"):      # 1e308 mg/m³ → inf: non_numeric (finite_values)
        return values * factor


def _column_list(columns, most: int = 20) -> str:
    """Column names for a message: each quoted (cut), at most ``most`` of them."""
    names = [quote(c, 60) for c in list(columns)[:most]]
    return ", ".join(names) + (f" … ({len(columns)} columns)" if len(columns) > most else "")


def _fail_row(path, problem, rows, i, column, expected):
    raise IngestError(path, problem, row=int(rows[i]), column=column, expected=expected)


def parse_times(raw: pd.Series, path, column: str, rows: np.ndarray, hour_label: str,
                ) -> np.ndarray:
    """Time cells → start of the averaging hour, ``datetime64[s]`` in China Standard Time."""
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        times = raw.dt.tz_convert(CST).dt.tz_localize(None)
    elif pd.api.types.is_datetime64_dtype(raw.dtype):
        times = raw
    else:
        times = None
    if times is not None:
        # Excel stores datetimes as day fractions: 01:00 may come back a few µs off.
        times = times.dt.round("s")
        bad = times.isna().to_numpy()
        if bad.any():
            _fail_row(path, "the time is empty", rows, int(np.flatnonzero(bad)[0]), column,
                      TIME_EXPECTED)
    else:
        text = _as_text(raw)
        empty = text.isna().to_numpy()
        if empty.any():
            _fail_row(path, "the time is empty", rows, int(np.flatnonzero(empty)[0]), column,
                      TIME_EXPECTED)
        times = None
        for fmt in _TIME_FORMATS:  # fast path: one plain format for the whole column
            if pd.isna(pd.to_datetime(text.iloc[:1], format=fmt, errors="coerce").iloc[0]):
                continue
            parsed = pd.to_datetime(text, format=fmt, errors="coerce")
            if not parsed.isna().any():
                times = parsed
                break
        if times is None:
            times = _parse_time_text(text, path, column, rows)
    check_years(times.to_numpy(), path, rows=rows, column=column,
                labels=raw.to_numpy(dtype=object))
    times = pd.Series(times.to_numpy(dtype="datetime64[ns]"))
    off = (times - times.dt.floor("h")).to_numpy() != np.timedelta64(0, "ns")
    if off.any():
        i = int(np.flatnonzero(off)[0])
        _fail_row(path, f"timestamp {clip(raw.iloc[i])} is not on the hour", rows, i, column,
                  "hourly readings labelled HH:00")
    out = times.to_numpy(dtype="datetime64[s]")
    return label_to_start(out, hour_label, str(path))


def _parse_time_text(text: pd.Series, path, column: str, rows: np.ndarray) -> pd.Series:
    parts = text.str.extract(_TIME_RE)
    unread = parts[0].isna().to_numpy()
    if unread.any():
        i = int(np.flatnonzero(unread)[0])
        _fail_row(path, f"cannot read the time {quote(text.iloc[i])}", rows, i, column,
                  TIME_EXPECTED)

    def num(a, b=None):
        s = parts[a] if b is None else parts[a].fillna(parts[b])
        return pd.to_numeric(s.fillna("0")).to_numpy(dtype=np.int64)

    year, month, day = num(0), num(1, 7), num(2, 8)
    hour, minute, second = num(3, 9), num(4), num(5)
    date = pd.to_datetime(pd.DataFrame({"year": year, "month": month, "day": day}),
                          errors="coerce")
    bad = date.isna().to_numpy() | (hour > 24) | (minute > 59) | (second > 59) | (
        (hour == 24) & ((minute > 0) | (second > 0)))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        _fail_row(path, f"{quote(text.iloc[i])} is not a real date and time", rows, i, column,
                  TIME_EXPECTED)
    fraction = parts[6].fillna("").str.strip("0").str.len().to_numpy() > 0
    if fraction.any():
        i = int(np.flatnonzero(fraction)[0])
        _fail_row(path, f"timestamp {clip(text.iloc[i])} is not on the hour", rows, i, column,
                  "hourly readings labelled HH:00")
    seconds = hour * 3600 + minute * 60 + second  # 24:00 → 00:00 of the next day
    zone = parts[10]
    has_zone = zone.notna().to_numpy()
    if has_zone.any():
        z = zone[has_zone].str.replace(":", "", regex=False).str.replace("Z", "+0000", regex=False)
        sign = np.where(z.str[0].to_numpy(dtype=object) == "-", -1, 1)
        zh = pd.to_numeric(z.str[1:3]).to_numpy(dtype=np.int64)
        zm = pd.to_numeric(z.str[3:5].replace("", "0")).to_numpy(dtype=np.int64)
        offset = np.zeros(len(text), dtype=np.int64)
        offset[has_zone] = sign * (zh * 3600 + zm * 60)
        # local time − offset = UTC; + 8 h = China Standard Time.
        seconds = seconds - np.where(has_zone, offset - 8 * 3600, 0)
    return pd.Series(date.to_numpy(dtype="datetime64[ns]")
                     + seconds.astype("timedelta64[s]").astype("timedelta64[ns]"))


def _station_codes(table: pd.DataFrame, column: str | None, station: str | None, path,
                   rows: np.ndarray, header_row: int, wide: bool) -> np.ndarray | str:
    """The station code of every row (or the one code of the file); each a valid code."""
    if station:
        check_station_codes(str(station).strip(), path, what="--station",
                            fix="give the station's code")
    if column is None:
        if not station:
            expected = (f"{WIDE_EXPECTED} and --station CODE" if wide
                        else f"{LONG_EXPECTED}, or --station CODE for a one-station file")
            raise IngestError(path, "there is no station column and no station code was given",
                              row=header_row, expected=expected)
        return str(station).strip()
    codes = _as_text(table[column])
    empty = codes.isna().to_numpy()
    if station:
        station = str(station).strip()
        other = ~empty & (codes != station).fillna(True).to_numpy(dtype=bool)
        if other.any():
            i = int(np.flatnonzero(other)[0])
            _fail_row(path, f"station {quote(codes.iloc[i])} differs from the station code given "
                      f"({quote(station)})", rows, i, column,
                      "the same station as --station, or leave out --station")
        return station
    if empty.any():
        _fail_row(path, "the station code is empty", rows, int(np.flatnonzero(empty)[0]), column,
                  "a station code such as 1001A")
    codes = codes.to_numpy(dtype=object)
    check_station_codes(codes, path, rows=rows, column=column)
    return codes


def _prepare(table: pd.DataFrame, path, first_row: int) -> tuple[pd.DataFrame, np.ndarray, int]:
    """Drop completely empty rows; return the table, source row numbers and rows read."""
    if len(table.columns) == 0:
        raise IngestError(path, "the table is empty", expected="a header row and data rows")
    rows = np.arange(first_row, first_row + len(table), dtype=np.int64)
    blank = np.ones(len(table), dtype=bool)
    for col in table.columns:
        cells = table[col]
        empty = cells.isna().to_numpy(dtype=bool)
        if not (pd.api.types.is_numeric_dtype(cells.dtype)
                or pd.api.types.is_datetime64_any_dtype(cells.dtype)):
            stripped = cells.astype("string").str.strip()
            empty = empty | (stripped == "").to_numpy(dtype=bool, na_value=True)
        blank &= empty
    if blank.any():
        table = table.loc[~blank].reset_index(drop=True)
        rows = rows[~blank]
    if table.empty:
        raise IngestError(path, "the table has a header but no data rows",
                          expected="one row per reading (long) or per hour (wide)")
    return table, rows, len(table)


def _parse_table(table: pd.DataFrame, path, layout: str, station: str | None,
                 units: dict[str, str] | None, hour_label: str, gas_temperature_c: float | None,
                 *, first_row: int = 2) -> pd.DataFrame:
    """A header-parsed table in the long or wide layout → the canonical long frame.

    ``first_row`` is the source row number of the table's first data row (the
    header being the row before it).
    """
    if layout not in LAYOUTS:
        raise IngestError(path, f"unknown layout {quote(layout)}", expected="long or wide")
    table = table.copy()
    table.columns = [str(c).strip() for c in table.columns]
    table, rows, rows_read = _prepare(table, path, first_row)
    units = dict(units or {})
    parse = _parse_wide if layout == "wide" else _parse_long
    frame = parse(table, path, rows, first_row - 1, station, units, hour_label, gas_temperature_c)
    frame.attrs["rows_read"] = rows_read
    frame.attrs.setdefault("skipped_rows", 0)
    frame.attrs["layout"] = layout
    return frame


def _factor(pollutant: str, unit: str, gas_temperature_c, path, option: str) -> float:
    return unit_factor(pollutant, unit, gas_temperature_c=gas_temperature_c, source=str(path),
                       option=option)


def _parse_wide(table, path, rows, header_row, station, units, hour_label, gas_temperature_c):
    roles = _find_columns(table.columns, ("time", "station"), path, WIDE_EXPECTED,
                          header_row)
    if "time" not in roles:
        raise IngestError(path, "no time column", row=header_row, expected=WIDE_EXPECTED)
    if not station:
        raise IngestError(path, "a wide file holds one station and no station code was given",
                          expected="--station CODE with --layout wide")
    code = _station_codes(table, roles.get("station"), station, path, rows, header_row, wide=True)
    pollutant_columns: dict[str, tuple[str, str | None]] = {}
    ignored = []
    for col in table.columns:
        if col in roles.values():
            continue
        pollutant, unit = split_header(col)
        if pollutant is None:
            ignored.append(col)
            continue
        if pollutant in pollutant_columns:
            raise IngestError(path, f"columns {quote(pollutant_columns[pollutant][0])} and "
                              f"{quote(col)} are both {pollutant}", row=header_row, column=col,
                              expected="one column per pollutant")
        pollutant_columns[pollutant] = (col, unit)
    if not pollutant_columns:
        raise IngestError(path, f"no pollutant columns among {_column_list(table.columns)}",
                          row=header_row, expected=WIDE_EXPECTED)
    times = parse_times(table[roles["time"]], path, roles["time"], rows, hour_label)
    columns, source_units = {}, {}
    for pollutant in [p for p in POLLUTANTS if p in pollutant_columns]:
        col, header_unit = pollutant_columns[pollutant]
        if pollutant in units:
            unit, option = units[pollutant], "--unit"
        elif header_unit:
            unit, option = header_unit, f"the header {quote(col)}"
        else:
            unit, option = CANONICAL_UNITS[pollutant], "--unit"
        factor = _factor(pollutant, unit, gas_temperature_c, path, option)
        values, missing, non_numeric = to_numeric(table[col])
        columns[pollutant] = (_scale(values, factor), missing, non_numeric)
        source_units[pollutant] = unit
    frame = long_from_wide(times, code, columns)
    frame["row"] = np.tile(rows, len(columns))
    frame.attrs["ignored_columns"] = ignored
    frame.attrs["units"] = source_units
    return frame


def _pollutant_names(names: pd.Series, path, rows, column) -> tuple[np.ndarray, np.ndarray]:
    """Canonical pollutant per row (None for skipped rows) and the skipped mask."""
    empty = names.isna().to_numpy()
    if empty.any():
        _fail_row(path, "the pollutant is empty", rows, int(np.flatnonzero(empty)[0]), column,
                  ", ".join(POLLUTANTS))
    mapping = {}
    for name in names.unique():
        pollutant = canonical_pollutant(name)
        if pollutant is None:
            key = _alias_key(name)
            if key not in _NON_POLLUTANTS and not _ROLLING.match(key):
                i = int(np.flatnonzero((names == name).to_numpy(dtype=bool))[0])
                _fail_row(path, f"unknown pollutant {quote(name)}", rows, i, column,
                          f"{', '.join(POLLUTANTS)} (or a known non-pollutant such as AQI or "
                          "TEMP, which is skipped)")
        mapping[name] = pollutant
    canonical = names.map(mapping).to_numpy(dtype=object)
    skipped = pd.isna(canonical)
    return canonical, skipped


def _parse_long(table, path, rows, header_row, station, units, hour_label, gas_temperature_c):
    roles = _find_columns(table.columns, ("station", "time", "pollutant", "value", "unit"), path,
                          LONG_EXPECTED, header_row)
    missing_roles = [r for r in ("time", "pollutant", "value") if r not in roles]
    if "station" not in roles and not station:
        missing_roles.insert(0, "station")
    if missing_roles:
        raise IngestError(path, f"missing column(s) {', '.join(missing_roles)}",
                          row=header_row, expected=LONG_EXPECTED)
    ignored = [c for c in table.columns if c not in roles.values()]
    names = _as_text(table[roles["pollutant"]])
    pollutants, skipped = _pollutant_names(names, path, rows, roles["pollutant"])
    skipped_names = sorted(set(names[skipped].tolist()))
    if skipped.any():
        keep = ~skipped
        table = table.loc[keep].reset_index(drop=True)
        rows, pollutants = rows[keep], pollutants[keep]
    if table.empty:
        frame = empty_frame()
        frame["row"] = pd.Series(dtype="int64")
    else:
        codes = _station_codes(table, roles.get("station"), station, path, rows, header_row,
                               wide=False)
        times = parse_times(table[roles["time"]], path, roles["time"], rows, hour_label)
        values, missing, non_numeric = to_numeric(table[roles["value"]])
        values = _convert_long(values, pollutants, table, roles, path, rows, units,
                               gas_temperature_c)
        values, missing, non_numeric = finite_values(values, missing, non_numeric)
        flag = np.where(non_numeric, "non_numeric", np.where(missing, "missing", "ok"))
        if not isinstance(codes, np.ndarray):
            codes = np.full(len(table), codes, dtype=object)
        frame = pd.DataFrame({
            "station": codes,
            "time": times, "pollutant": pollutants, "value": values,
            "unit": pd.Series(pollutants).map(CANONICAL_UNITS).to_numpy(dtype=object),
            "flag": flag})
        frame["time"] = frame["time"].astype("datetime64[s]")
        for col in ("station", "pollutant", "unit", "flag"):
            frame[col] = frame[col].astype("str")
        frame = frame[COLUMNS]
        frame["row"] = rows
    frame.attrs["skipped_rows"] = int(skipped.sum())
    frame.attrs["skipped_pollutants"] = skipped_names
    frame.attrs["ignored_columns"] = ignored
    return frame


def _convert_long(values, pollutants, table, roles, path, rows, units, gas_temperature_c):
    """Per-row unit: the unit cell, else the --unit override, else canonical."""
    unit_of_row = np.array([units.get(p, CANONICAL_UNITS[p]) for p in pollutants], dtype=object)
    from_cell = np.zeros(len(values), dtype=bool)
    if "unit" in roles:
        cells = _as_text(table[roles["unit"]])
        from_cell = cells.notna().to_numpy(dtype=bool)
        cell_units = cells.to_numpy(dtype=object, na_value=None)
        cell_keys = np.array([normalise_unit(c) if c is not None else "" for c in cell_units],
                             dtype=object)
        for p, unit in units.items():
            clash = from_cell & (pollutants == p) & (cell_keys != normalise_unit(unit))
            if clash.any():
                i = int(np.flatnonzero(clash)[0])
                _fail_row(path, f"the unit {quote(cell_units[i])} contradicts --unit "
                          f"{p}={clip(unit)}",
                          rows, i, roles["unit"], "the unit column and --unit to agree (a "
                          "filled unit cell is used; --unit applies to rows without one)")
        unit_of_row = np.where(from_cell, cell_units, unit_of_row)
    keys = pd.Series(pollutants.astype(str)) + "\x00" + pd.Series(
        [normalise_unit(u) for u in unit_of_row], dtype="str")
    codes, uniques = pd.factorize(keys)
    out = values.copy()
    for k in range(len(uniques)):
        sel = codes == k
        i = int(np.flatnonzero(sel)[0])
        option = "the unit column" if from_cell[i] else "--unit"
        try:
            factor = _factor(pollutants[i], unit_of_row[i], gas_temperature_c, path, option)
        except IngestError as exc:
            raise IngestError(path, exc.problem, row=int(rows[i]),
                              column=roles["unit"] if from_cell[i] else None,
                              expected=exc.expected) from None
        out[sel] = _scale(values[sel], factor)
    return out
