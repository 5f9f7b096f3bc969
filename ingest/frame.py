"""The canonical long frame every reader produces, pollutant names and units.

Columns of the canonical frame:

``station``   station code (str)
``time``      start of the averaging hour, naive datetime in China Standard Time
``pollutant`` one of ``SO2, NO2, PM10, PM2.5, CO, O3``
``value``     float in the canonical unit (µg/m³; CO mg/m³); NaN when missing
``unit``      the canonical unit of the pollutant
``flag``      QC flag name (:data:`ingest.qc.FLAGS`); readers set ``missing`` and
              ``non_numeric``, :func:`ingest.qc.apply_qc` adds the others
"""
from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from config.sites import CANONICAL_UNITS, POLLUTANTS, STATION_CODE_RULE, is_station_code
from config.units import normalise_unit

from .errors import IngestError, clip, quote

COLUMNS = ["station", "time", "pollutant", "value", "unit", "flag"]

# Names seen in bureau exports, case- and punctuation-insensitive (see _alias_key).
_ALIASES = {
    "SO2": ["so2", "二氧化硫", "sulfurdioxide", "sulphurdioxide"],
    "NO2": ["no2", "二氧化氮", "nitrogendioxide"],
    "PM10": ["pm10", "可吸入颗粒物"],
    "PM2.5": ["pm2.5", "pm25", "pm2_5", "细颗粒物"],
    "CO": ["co", "一氧化碳", "carbonmonoxide"],
    "O3": ["o3", "臭氧", "ozone"],
}


def _alias_key(name: str) -> str:
    return re.sub(r"[\s_\-()（）.]", "", str(name)).casefold().replace("₂", "2").replace("₃", "3")


POLLUTANT_ALIASES = {_alias_key(a): p for p, names in _ALIASES.items() for a in names}


def canonical_pollutant(name: str) -> str | None:
    """``'pm2_5'`` → ``'PM2.5'``; None when the name is not a pollutant we store."""
    key = _alias_key(name)
    # Units in the header ("PM2.5(μg/m³)", "CO_mg/m3") are not part of the name.
    key = re.sub(r"(µg|μg|ug|mg)/?m3?$|ppb$|ppm$", "", key.replace("³", "3"))
    return POLLUTANT_ALIASES.get(key)


# Factor from a source unit to the canonical unit of each pollutant class.
_MASS_FACTORS = {"CO": {"mg/m3": 1.0, "µg/m3": 1e-3},
                 "*": {"µg/m3": 1.0, "mg/m3": 1e3}}
# Molar masses [g/mol] for ppb → µg/m³ at a stated temperature and 1013.25 hPa.
MOLAR_MASS = {"SO2": 64.066, "NO2": 46.0055, "CO": 28.010, "O3": 47.997}
_MOLAR_VOLUME_0C = 22.41396954  # L/mol at 273.15 K, 101.325 kPa


#: Reference temperatures a source may state for its ppb/ppm values [°C]: the standards
#: use 0, 20 or 25 °C; anything outside this range is a typo (1e9, nan, inf).
GAS_TEMPERATURE_RANGE = (-60.0, 60.0)


def check_gas_temperature(value, source="") -> float | None:
    """``value`` as a float when it is a finite temperature in :data:`GAS_TEMPERATURE_RANGE`
    [°C] (None stays None); else :class:`IngestError` naming ``source`` (the option or
    file)."""
    if value is None:
        return None
    lo, hi = GAS_TEMPERATURE_RANGE
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number) or not lo <= number <= hi:
        raise IngestError(source or "--gas-temperature", f"gas temperature {quote(value)} °C is "
                          f"not a temperature from {lo:g} to {hi:g} °C",
                          expected="the reference temperature of the source's ppb/ppm values "
                          "in °C, e.g. --gas-temperature 25 (the Chinese standard)")
    return number


def unit_factor(pollutant: str, unit: str, *, gas_temperature_c: float | None = None,
                source: str = "", option: str = "--unit") -> float:
    """Multiplier from ``unit`` to the canonical unit of ``pollutant``.

    ppb/ppm are converted only when the source's reference temperature is given
    (standards §2: gases at 298.15 K, 1013.25 hPa; ingest converts only when told).
    """
    key = normalise_unit(unit)
    table = _MASS_FACTORS["CO" if pollutant == "CO" else "*"]
    if key in table:
        return table[key]
    if key in ("ppb", "ppm"):
        if pollutant not in MOLAR_MASS:
            raise IngestError(source, f"unit {quote(unit)} is not possible for {pollutant}",
                              expected="µg/m3 for particles")
        if gas_temperature_c is None:
            raise IngestError(source, f"unit {quote(unit)} for {pollutant} needs the gas "
                              "temperature to convert", expected="--gas-temperature 25 (or the source's "
                              "stated reference temperature in °C)")
        gas_temperature_c = check_gas_temperature(gas_temperature_c, source)
        molar_volume = _MOLAR_VOLUME_0C * (273.15 + gas_temperature_c) / 273.15
        ug_per_ppb = MOLAR_MASS[pollutant] / molar_volume
        factor = ug_per_ppb * (1000 if key == "ppm" else 1)
        return factor / 1000 if pollutant == "CO" else factor
    raise IngestError(source, f"unknown unit {quote(unit)} for {pollutant} in {option}",
                      expected=f"{CANONICAL_UNITS[pollutant]}, "
                      f"{'µg/m3' if pollutant == 'CO' else 'mg/m3'}, ppb or ppm")


def parse_unit_overrides(items, source: str = "") -> dict[str, str]:
    """``["CO=mg/m3", "NO2=ppb"]`` → ``{"CO": "mg/m3", "NO2": "ppb"}`` with clear errors."""
    out: dict[str, str] = {}
    for item in items or []:
        for part in str(item).split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise IngestError(source or "--unit", f"cannot read unit override {quote(part)}",
                                  expected="POLLUTANT=UNIT, e.g. CO=mg/m3")
            name, unit = (s.strip() for s in part.split("=", 1))
            pollutant = canonical_pollutant(name)
            if pollutant is None:
                raise IngestError(source or "--unit", f"unknown pollutant {quote(name)} in --unit",
                                  expected=", ".join(POLLUTANTS))
            unit_factor(pollutant, unit, gas_temperature_c=25.0, source=source or "--unit")
            out[pollutant] = unit
    return out


def to_numeric(raw: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse a column of cell texts: (values, missing mask, non-numeric mask).

    Empty cells and the usual missing markers (NA, NaN, —, 无数据 …) are missing;
    anything else that is not a number is ``non_numeric`` (kept, flagged).
    """
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        values = raw.to_numpy(dtype="float64", na_value=np.nan)
        missing = np.isnan(values)
        # pandas reads the text "inf" / "-inf" of a CSV as a float: no reading either.
        return finite_values(values, missing, np.zeros(len(values), dtype=bool))
    text = raw.astype("string").str.strip()
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    missing = (text.isna() | text.str.fullmatch(r"(?i)(|na|nan|n/a|null|none|-+|—+|/|无数据)")
               .fillna(True)).to_numpy(dtype=bool)
    non_numeric = np.isnan(values) & ~missing
    # "inf" parses as a number but is not a reading.
    return finite_values(values, missing, non_numeric)


def finite_values(values: np.ndarray, missing: np.ndarray, non_numeric: np.ndarray,
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values, missing, non-numeric) with every infinite value made ``non_numeric``
    without a value: ``inf`` in a file, or a huge number (``1e308``) that a unit
    conversion took past the float range. Finite values are left to QC (a value above
    the physical ceiling is flagged ``implausible``)."""
    values = np.asarray(values, dtype="float64")
    infinite = np.isinf(values)
    if infinite.any():
        values = np.where(infinite, np.nan, values)
        non_numeric = np.asarray(non_numeric, dtype=bool) | infinite
    return values, missing, non_numeric


def empty_frame() -> pd.DataFrame:
    return pd.DataFrame({"station": pd.Series(dtype="str"),
                         "time": pd.Series(dtype="datetime64[s]"),
                         "pollutant": pd.Series(dtype="str"),
                         "value": pd.Series(dtype="float64"),
                         "unit": pd.Series(dtype="str"),
                         "flag": pd.Series(dtype="str")})


def _categorical(values, categories) -> pd.Categorical:
    return pd.Categorical(values, categories=list(categories))


def long_from_wide(times: np.ndarray, stations, columns: dict[str, tuple],
                   ) -> pd.DataFrame:
    """Build the canonical frame from per-pollutant arrays of one row per station-hour.

    ``columns`` maps pollutant → (values in canonical unit, missing mask, non-numeric mask).
    ``stations`` is one code or an array aligned with ``times``. Label columns are
    categoricals: millions of readings share a handful of labels.
    """
    from .qc import FLAGS, MISSING, NON_NUMERIC, OK

    n = len(times)
    k = len(columns)
    if not k:
        return empty_frame()
    # after the unit conversion: 1e308 mg/m³ is inf µg/m³
    columns = {p: finite_values(*c) for p, c in columns.items()}
    if isinstance(stations, str):
        station = pd.Categorical.from_codes(np.zeros(n * k, dtype=np.int32), categories=[stations])
    else:
        codes, uniques = pd.factorize(np.asarray(stations, dtype=object))
        station = pd.Categorical.from_codes(np.tile(codes, k), categories=list(uniques))
    pollutants = list(columns)
    flag_codes = np.concatenate([
        np.where(non_numeric, NON_NUMERIC, np.where(missing, MISSING, OK)).astype(np.int8)
        for _, missing, non_numeric in columns.values()])
    pollutant_codes = np.repeat(np.arange(k, dtype=np.int8), n)
    units = sorted({CANONICAL_UNITS[p] for p in pollutants})
    frame = pd.DataFrame({
        "station": station,
        "time": np.tile(np.asarray(times).astype("datetime64[s]"), k),
        "pollutant": pd.Categorical.from_codes(pollutant_codes, categories=pollutants),
        "value": np.concatenate([np.asarray(v, dtype="float64") for v, _, _ in columns.values()]),
        "unit": pd.Categorical.from_codes(
            np.repeat(np.array([units.index(CANONICAL_UNITS[p]) for p in pollutants]), n),
            categories=units),
        "flag": pd.Categorical.from_codes(flag_codes, categories=list(FLAGS)),
    })
    return frame[COLUMNS]


def label_codes(series: pd.Series, mapping: dict, what: str, source: str = "") -> np.ndarray:
    """Map a label column (categorical or plain) to integer codes through ``mapping``.

    Works on the few distinct labels rather than on every row.
    """
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes, uniques = series.cat.codes.to_numpy(), series.cat.categories
    else:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
    lookup = np.empty(len(uniques), dtype=np.int64)
    for i, label in enumerate(uniques):
        if label not in mapping:
            raise IngestError(source, f"unknown {what} {quote(label)}",
                              expected=", ".join(clip(m, 60) for m in list(mapping)[:20]))
        lookup[i] = mapping[label]
    if (codes < 0).any():
        raise IngestError(source, f"a row has no {what}", expected=f"a {what} on every row")
    return lookup[codes]


def check_station_codes(codes, source, *, rows=None, column: str | None = None,
                        what: str = "station code", fix: str = "correct the code in the file",
                        ) -> None:
    """Refuse the first code that is not a valid station code (:data:`config.sites.STATION_CODE`).

    ``codes`` is one code or one per row; ``rows`` the file row of each (for the
    message). Raises :class:`IngestError` naming the file, the row, the code (quoted,
    cut to 200 characters) and the rule. Each distinct code is checked once.
    """
    values = [codes] if isinstance(codes, str) else codes
    index, uniques = pd.factorize(pd.Series(np.asarray(values, dtype=object)),
                                  use_na_sentinel=True)
    bad = [j for j, code in enumerate(uniques) if not is_station_code(code)]
    if not bad:
        return
    i = int(np.flatnonzero(np.isin(index, bad))[0])
    raise IngestError(source, f"{what} {quote(uniques[index[i]])} is not a valid station code",
                      row=int(np.asarray(rows)[i]) if rows is not None else None, column=column,
                      expected=f"{STATION_CODE_RULE} — {fix}")


HOUR_LABELS = ("beginning", "ending")
#: Years a stored hour may lie in: a year outside is a typo (20160 for 2016, a 1900-01-01
#: placeholder), refused with the file, row and column rather than stored.
YEAR_RANGE = (1970, 2100)


def check_years(times, source, *, rows=None, column: str | None = None, labels=None) -> None:
    """Refuse the first time whose year is outside :data:`YEAR_RANGE`.

    ``times`` are the stored hours (datetime64); ``rows`` the file row of each, ``labels``
    the source text of each (quoted in the message; default the time itself).
    """
    t = np.asarray(times).astype("datetime64[s]")
    if not len(t):
        return
    years = t.astype("datetime64[Y]").astype(np.int64) + 1970
    lo, hi = YEAR_RANGE
    bad = ~np.isnat(t) & ((years < lo) | (years > hi))
    if not bad.any():
        return
    i = int(np.flatnonzero(bad)[0])
    shown = str(labels[i]) if labels is not None else str(t[i]).replace("T", " ")
    raise IngestError(source, f"the time {quote(shown)} is in the year {int(years[i])}, "
                      f"outside {lo}–{hi}", row=int(np.asarray(rows)[i]) if rows is not None else None,
                      column=column, expected=f"a year from {lo} to {hi} (e.g. 2016, not 20160)")


def label_to_start(times: pd.Series | np.ndarray, hour_label: str, source: str = ""):
    """Convert hour labels to the start of the averaging hour (standards §3).

    An hour-ending label 01:00 means the hour 00:00–01:00, stored as 00:00.
    """
    if hour_label not in HOUR_LABELS:
        raise IngestError(source or "--hour-label", f"unknown hour label {quote(hour_label)}",
                          expected="beginning or ending")
    return times - np.timedelta64(1, "h") if hour_label == "ending" else times


def check_whole_hours(times: pd.Series, source, row_offset: int = 2, column: str = "time"):
    """Raise when a timestamp is not on the hour (hourly readings only)."""
    bad = (times.dt.minute != 0) | (times.dt.second != 0)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise IngestError(source, f"timestamp {clip(times.iloc[i])} is not on the hour",
                          row=i + row_offset, column=column, expected="hourly readings labelled HH:00")
