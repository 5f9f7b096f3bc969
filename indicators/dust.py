"""Official dust days (沙尘), standards.md §7.

Days officially identified as dust-affected are imported from a list, never
inferred. By default (profile ``dust.exclude_from``: PM10, PM2.5 and the
composite index) the PM10 and PM2.5 statistics — and through them the
composite index — are computed with dust days removed, while the good-day
ratio keeps them.

One rule, applied by :func:`indicators.statistics.period_statistics`
(``dust_days=``; use :func:`with_station_days` so stations inherit their
district's days): dust days are removed from the PM statistics but still count
as captured days for validity, so a dusty spring cannot make a year "not
valid" (standards.md is silent on this; it is our default). The AQI frame is
never touched, so good days and the good-day ratio keep dust days.
:func:`flag_dust_days` marks the affected daily rows (column ``dust``) for
exports and charts without changing their validity.

The list file is a CSV with a header and columns ``area,date`` (more columns
are ignored), UTF-8 (with or without BOM) or GBK, dates ``YYYY-MM-DD``
(``YYYY/MM/DD`` accepted)::

    area,date
    chengqu,2021-03-15
    yangquan-demo,2021-03-16

``area`` is a district id or a city id (or a station code). A station
inherits its district's dust days; a city entry applies to the city-level
rows only (list the districts too if their values should exclude the day).
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from config.standards import Profile, default_cn_profile, load_profile

from .frames import DAILY_COLUMNS, DAILY_QUANTITIES, check_columns

DUST_COLUMNS = ("area", "date")
_FORMAT_FIX = "save the official list as CSV with the header 'area,date' and one area-day per line"


class DustFileError(ValueError):
    """A dust-day list that cannot be read; the message names the file, the row and the fix."""

    def __init__(self, file, row, problem: str, fix: str = _FORMAT_FIX):
        self.file, self.row, self.problem, self.fix = str(file), row, problem, fix
        where = f"{self.file}: row {row}" if row is not None else self.file
        super().__init__(f"{where}: {problem} — {fix}")


def _decode(path: Path, raw: bytes) -> str:
    for encoding in ("utf-8-sig", "gbk"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DustFileError(path, None, "not UTF-8 or GBK text", "save the file as UTF-8 (or GBK) CSV")


def _parse_dust_days(text: str, path) -> pd.DataFrame:
    if not text.strip():
        raise DustFileError(path, None, "the file is empty",
                            "the first line must be the header 'area,date'")
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False,
                            skip_blank_lines=False, skipinitialspace=True)
    except (pd.errors.ParserError, ValueError) as exc:
        raise DustFileError(path, None, f"not a readable CSV ({str(exc).strip()})") from None
    header = [str(c).strip().lstrip("\ufeff").casefold() for c in frame.columns]
    missing = [c for c in DUST_COLUMNS if c not in header]
    if missing:
        looks_like_data = any(ch.isdigit() for ch in "".join(header))
        problem = (f"no header (first line is {list(frame.columns)})" if looks_like_data
                   else f"header lacks column(s) {missing} (found {list(frame.columns)})")
        raise DustFileError(path, 1, problem, "start the file with the header line 'area,date'")
    if len(set(header)) != len(header):
        raise DustFileError(path, 1, f"duplicated header columns {list(frame.columns)}",
                            "name each column once: 'area,date'")
    frame.columns = header
    frame = frame[list(DUST_COLUMNS)].apply(lambda c: c.str.strip())
    line = pd.Series(np.arange(len(frame)) + 2, index=frame.index)   # header is line 1
    blank = (frame["area"] == "") & (frame["date"] == "")
    frame, line = frame[~blank], line[~blank]
    no_area = frame["area"] == ""
    if no_area.any():
        raise DustFileError(path, int(line[no_area].iloc[0]), "the area is empty",
                            "give the district or city id (as in the site file) on every line")
    text_dates = frame["date"].str.replace("/", "-", regex=False)
    dates = pd.to_datetime(text_dates, format="%Y-%m-%d", errors="coerce")
    bad = dates.isna()
    if bad.any():
        i = bad.to_numpy().nonzero()[0][0]
        raise DustFileError(path, int(line.iloc[i]), f"{frame['date'].iloc[i]!r} is not a date",
                            "write dates as YYYY-MM-DD, e.g. 2021-03-15")
    out = pd.DataFrame({"area": frame["area"].astype(str).to_numpy(),
                        "date": dates.to_numpy().astype("datetime64[D]")})
    out = out.drop_duplicates().sort_values(["area", "date"], kind="stable")
    return out.reset_index(drop=True)


def read_dust_days(path) -> pd.DataFrame:
    """Read an official dust-day list.

    Parameters
    ----------
    path : str or Path
        CSV file with header ``area,date`` (UTF-8 or GBK).

    Returns
    -------
    DataFrame with columns ``area`` (str) and ``date`` (midnight of the day;
    pandas stores numpy ``datetime64[D]`` at second resolution), one row per
    area-day, duplicates dropped, sorted.

    Raises
    ------
    DustFileError
        (a ValueError) naming the file, the row and the fix.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DustFileError(path, None, f"cannot be read ({exc.strerror or exc})",
                            "give the path of the official dust-day CSV") from None
    return _parse_dust_days(_decode(path, raw), path)


def _days(values) -> np.ndarray:
    return pd.to_datetime(pd.Series(values)).to_numpy().astype("datetime64[D]")


def _station_districts(stations) -> dict:
    """station → district from a mapping/Series or a membership frame."""
    if stations is None:
        return {}
    if isinstance(stations, pd.DataFrame):
        rows = stations[stations["level"] == "district"] if "level" in stations else stations
        area = "area" if "area" in rows else "district"
        return dict(zip(rows["station"], rows[area]))
    if isinstance(stations, pd.Series):
        return stations.to_dict()
    return dict(stations)


def _excluded_quantities(profile) -> set:
    prof = profile if isinstance(profile, Profile) else load_profile(str(profile))
    listed = (prof.raw.get("dust") or {}).get("exclude_from") or []
    return {q for q in listed if q in DAILY_QUANTITIES}


def with_station_days(dust_days: pd.DataFrame, stations) -> pd.DataFrame:
    """The dust list plus one row per station of each listed district (station inheritance).

    For :func:`indicators.statistics.period_statistics` (``dust_days=``), which
    matches areas by id: a station's rows then drop its district's dust days.
    Returns ``area``, ``date``, duplicates dropped.
    """
    check_columns(dust_days, DUST_COLUMNS, "dust days")
    parents = pd.Series(_station_districts(stations), dtype=object)
    base = pd.DataFrame({"area": dust_days["area"].astype(str).to_numpy(),
                         "date": _days(dust_days["date"])})
    links = pd.DataFrame({"station": parents.index.astype(str),
                          "area": parents.astype(str).to_numpy()})
    inherited = base.merge(links, on="area")[["station", "date"]].rename(columns={"station": "area"})
    out = pd.concat([base, inherited], ignore_index=True).drop_duplicates()
    return out.sort_values(["area", "date"], kind="stable").reset_index(drop=True)


def flag_dust_days(daily: pd.DataFrame, dust_days: pd.DataFrame, quantities=None,
                   stations=None, profile=None) -> pd.DataFrame:
    """Mark the daily values that official dust days remove from the PM statistics.

    Parameters
    ----------
    daily : DataFrame
        Daily values (``frames.DAILY_COLUMNS``) of stations, districts, cities.
    dust_days : DataFrame
        ``area``, ``date`` (e.g. from :func:`read_dust_days`).
    quantities : iterable of str, optional
        Daily quantities to remove on dust days. Default: the profile's
        ``dust.exclude_from`` restricted to daily quantities (PM10, PM2.5).
    stations : mapping station → district, Series, or membership frame, optional
        So that a station inherits its district's dust days.
    profile : str or Profile, optional
        Profile for the default quantities; None: each row's ``profile``.

    Returns
    -------
    A copy of ``daily`` with a boolean column ``dust``: True where the value
    is left out of the PM statistics because of a dust day. ``valid`` and
    every other column are unchanged (a dust day still counts as captured).
    """
    check_columns(daily, DAILY_COLUMNS, "daily values")
    check_columns(dust_days, DUST_COLUMNS, "dust days")
    out = daily.copy()
    n = len(out)
    if n == 0:
        out["dust"] = pd.Series(dtype=bool)
        return out

    if quantities is not None:
        affected = out["pollutant"].isin(list(quantities)).to_numpy()
    elif profile is not None:
        affected = out["pollutant"].isin(sorted(_excluded_quantities(profile))).to_numpy()
    else:
        affected = np.zeros(n, dtype=bool)
        pids = out["profile"].astype(object).fillna(default_cn_profile()).astype(str).to_numpy()
        for pid in pd.unique(pids):                  # once per profile, not per area
            sel = pids == pid
            affected[sel] = np.isin(out["pollutant"].to_numpy()[sel].astype(object),
                                    sorted(_excluded_quantities(pid)))

    listed = pd.MultiIndex.from_arrays([dust_days["area"].astype(str).to_numpy(),
                                        _days(dust_days["date"])])
    day = _days(out["date"])
    area = out["area"].astype(str).to_numpy()
    on_list = pd.MultiIndex.from_arrays([area, day]).isin(listed)
    parents = _station_districts(stations)
    if parents:
        is_station = (out["level"] == "station").to_numpy()
        district = pd.Series(area, dtype=object).map(parents).fillna("").astype(str).to_numpy()
        inherited = pd.MultiIndex.from_arrays([district, day]).isin(listed)
        on_list |= is_station & inherited & (district != "")
    dust = affected & on_list
    out["dust"] = dust
    return out
