"""Reader for the Beijing Multi-Site (PRSA) per-station files.

Layout: ``No, year, month, day, hour, PM2.5, PM10, SO2, NO2, CO, O3, TEMP,
PRES, DEWP, RAIN, wd, WSPM, station``; one file per station, ``hour`` 0–23
in Beijing time, taken as hour-beginning. All pollutants in µg/m³ — **CO too**
(300 means 0.3 mg/m³), converted here. Missing values are ``NA``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .errors import IngestError, quote
from .frame import check_years, label_to_start, long_from_wide, to_numeric
from .tabular import read_text_table

# Station names used in the files → national codes (national station list).
PRSA_STATIONS = {
    "Wanshouxigong": "1001A", "Dingling": "1002A", "Dongsi": "1003A", "Tiantan": "1004A",
    "Nongzhanguan": "1005A", "Guanyuan": "1006A", "Wanliu": "1007A", "Shunyi": "1008A",
    "Huairou": "1009A", "Changping": "1010A", "Aotizhongxin": "1011A", "Gucheng": "1012A",
}
TIME_COLUMNS = ("year", "month", "day", "hour")
POLLUTANT_COLUMNS = {"SO2": "SO2", "NO2": "NO2", "CO": "CO", "O3": "O3", "PM10": "PM10",
                     "PM2.5": "PM2.5"}
UNITS = {"CO": 1000.0}  # divisor to the canonical unit (µg/m³ → mg/m³)


def files_in(path) -> list[Path]:
    """The PRSA files of a folder (``*.csv``/``*.csv.gz``), or the one file given."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.name.endswith((".csv", ".csv.gz")))
        if not files:
            raise IngestError(path, "no .csv or .csv.gz files in this folder",
                              expected="the PRSA_Data_*.csv.gz files")
        return files
    return [path]


def read_prsa(path, station_codes: dict[str, str] | None = None,
              hour_label: str = "beginning") -> pd.DataFrame:
    """Read one PRSA file into the canonical long frame.

    Parameters
    ----------
    path : path of a ``PRSA_Data_<station>_*.csv[.gz]`` file
    station_codes : extra station name → code map (site-file aliases)
    hour_label : ``beginning`` (default for this set) or ``ending``
    """
    table = read_text_table(path, required=TIME_COLUMNS + ("station",) + tuple(POLLUTANT_COLUMNS),
                            expected_layout="the PRSA layout No,year,month,day,hour,PM2.5,PM10,"
                            "SO2,NO2,CO,O3,…,station")
    return _parse_prsa(table, path, station_codes, hour_label)


def _parse_prsa(table: pd.DataFrame, path, station_codes, hour_label) -> pd.DataFrame:
    codes = {k.casefold(): v for k, v in PRSA_STATIONS.items()}
    codes.update({k.casefold(): v for k, v in (station_codes or {}).items()})
    if table.empty:
        raise IngestError(path, "the file has a header but no data rows",
                          expected="one row per hour")
    # a file names one station on 35,000 rows: map the few distinct names, not every row
    # (stripping and case-folding every row took a third of this function)
    label, uniques = pd.factorize(table["station"].astype("string"), use_na_sentinel=True)
    names = [str(u).strip() for u in uniques]
    found = np.array([codes.get(n.casefold()) for n in names] + [None], dtype=object)
    stations = found[label]                  # label -1 (an empty cell): the None at the end
    unknown = np.flatnonzero(stations == None)  # noqa: E711 - elementwise on an object array
    if len(unknown):
        i = int(unknown[0])
        name = names[label[i]] if label[i] >= 0 else pd.NA
        raise IngestError(path, f"unknown station name {quote(name)}", row=i + 2,
                          column="station", expected="a PRSA station name or a site-file alias, "
                          "or load the file with the csv reader and --station CODE")

    parts = {}
    for name in TIME_COLUMNS:
        values, missing, non_numeric = to_numeric(table[name])
        bad = missing | non_numeric | (values != np.floor(values))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise IngestError(path, f"{quote(table[name].iloc[i])} is not a whole number",
                              row=i + 2, column=name, expected="integer year, month, day and hour 0–23")
        parts[name] = values.astype(np.int64)
    if ((parts["hour"] < 0) | (parts["hour"] > 23)).any():
        i = int(np.flatnonzero((parts["hour"] < 0) | (parts["hour"] > 23))[0])
        raise IngestError(path, f"hour {parts['hour'][i]} is outside 0–23", row=i + 2,
                          column="hour", expected="hours 0–23 within each day")
    times = pd.to_datetime(pd.DataFrame(parts), errors="coerce")
    if times.isna().any():
        i = int(np.flatnonzero(times.isna().to_numpy())[0])
        raise IngestError(path, "year, month, day do not form a date", row=i + 2, column="day",
                          expected="a real calendar date")
    check_years(times.to_numpy(), path, rows=np.arange(len(times)) + 2, column="year")
    times = label_to_start(times.to_numpy(dtype="datetime64[s]"), hour_label, str(path))

    columns = {}
    for source_name, pollutant in POLLUTANT_COLUMNS.items():
        values, missing, non_numeric = to_numeric(table[source_name])
        if pollutant in UNITS:
            values = values / UNITS[pollutant]
        columns[pollutant] = (values, missing, non_numeric)
    frame = long_from_wide(times, stations, columns)
    frame.attrs["rows_read"] = len(table)
    return frame
