"""One place that turns a reader's name and options into a read function.

The command line (``lantian ingest csv|excel|cnemc|prsa``) and the dashboard's
upload page build their readers here, so that the same choices read a file
the same way and record the same options in the ingest run (the loader
recognises a file loaded before by its checksum, reader and options).

:func:`reader_for` validates the options first (an unknown reader, a wide
layout without a station, an unreadable ``--unit`` override) and raises
:class:`ingest.errors.IngestError` with one clear line, before any file is
touched.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Mapping

import pandas as pd

from .errors import IngestError, quote
from .frame import HOUR_LABELS, check_gas_temperature, check_station_codes, parse_unit_overrides

#: Reader names, as on the command line.
READERS = ("csv", "excel", "cnemc", "prsa")
#: Readers of the generic long/wide tables (they take layout, station, units …).
TABULAR = ("csv", "excel")
LAYOUTS = ("long", "wide")

Read = Callable[[Path], pd.DataFrame]


def _units(units) -> dict[str, str]:
    """``{"CO": "mg/m3"}`` or ``["CO=mg/m3", "NO2=ppb"]`` (or one "CO=mg/m3, NO2=ppb"
    text) → validated ``{pollutant: unit}``."""
    if not units:
        return {}
    if isinstance(units, str):
        items: Iterable = [units]
    elif isinstance(units, Mapping):
        items = [f"{k}={v}" for k, v in units.items()]
    else:
        items = list(units)
    return parse_unit_overrides(items)          # errors name the option: "--unit: …"


def reader_for(kind: str, *, layout: str = "long", station: str | None = None, units=None,
               hour_label: str = "beginning", gas_temperature: float | None = None,
               aliases: dict[str, str] | None = None, engine=None,
               source="") -> tuple[Read, dict]:
    """(read function ``read(path) -> canonical frame``, options recorded with the run).

    Parameters
    ----------
    kind : ``csv`` | ``excel`` | ``cnemc`` | ``prsa``
    layout : ``long`` or ``wide`` (csv, excel)
    station : station code of a wide file (csv, excel; required with ``wide``)
    units : source unit overrides, ``{"CO": "mg/m3"}`` or ``["CO=mg/m3"]`` (csv, excel)
    hour_label : ``beginning`` or ``ending``
    gas_temperature : reference temperature of ppb/ppm values [°C] (csv, excel); a finite
        value from -60 to 60 (:data:`ingest.frame.GAS_TEMPERATURE_RANGE`)
    aliases : station name → code for PRSA files (site-file names); default: read
        from ``engine`` when given (:func:`store.sites.station_aliases`)
    source : what an error about the options names (the file; default the option)

    The options dict is the one the command line records (the same file loaded
    with the same choices by either is recognised as loaded before).
    """
    if kind not in READERS:
        raise IngestError(source or "--reader", f"unknown reader {quote(kind)}",
                          expected=", ".join(READERS))
    if hour_label not in HOUR_LABELS:
        raise IngestError(source or "--hour-label", f"unknown hour label {quote(hour_label)}",
                          expected=" or ".join(HOUR_LABELS))
    # a finite temperature in GAS_TEMPERATURE_RANGE (nan, inf, 1e9 are typos)
    gas_temperature = check_gas_temperature(gas_temperature, source or "--gas-temperature")
    if kind == "prsa":
        from .prsa import read_prsa
        if aliases is None and engine is not None:
            from store.sites import station_aliases
            aliases = station_aliases(engine)
        names = dict(aliases or {})
        return (lambda p: read_prsa(p, station_codes=names, hour_label=hour_label),
                {"hour_label": hour_label})
    if kind == "cnemc":
        from .cnemc import read_cnemc
        return (lambda p: read_cnemc(p, hour_label=hour_label), {"hour_label": hour_label})

    if layout not in LAYOUTS:
        raise IngestError(source or "--layout", f"unknown layout {quote(layout)}",
                          expected=" or ".join(LAYOUTS))
    station = (station or "").strip() or None
    if layout == "wide" and not station:
        raise IngestError(source or "--station", "a wide file holds one station",
                          expected="--station CODE with --layout wide")
    if station:
        check_station_codes(station, source or "--station", what="the code",
                            fix="give the station's code")
    overrides = _units(units)
    if kind == "excel":
        from .excel import read_excel as read
    else:
        from .csvfile import read_csv as read
    options = {"layout": layout, "station": station, "units": overrides,
               "hour_label": hour_label, "gas_temperature": gas_temperature}
    return (lambda p: read(p, layout=layout, station=station, units=overrides,
                           hour_label=hour_label, gas_temperature_c=gas_temperature),
            options)


#: The file names a tabular reader takes from a folder (as the upload page accepts them).
FOLDER_ENDINGS = {"csv": (".csv", ".csv.gz", ".txt"), "excel": (".xlsx",)}


def files_in_folders(kind: str, paths) -> list[Path]:
    """The files to read: each file named, and the :data:`FOLDER_ENDINGS` files of each
    folder named (not hidden, sorted by name). A folder without any is an
    :class:`IngestError` saying that nothing was found (a file that does not exist is
    left to the reader, which says so)."""
    endings = FOLDER_ENDINGS[kind]
    files: list[Path] = []
    for path in map(Path, paths):
        if not path.is_dir():
            files.append(path)
            continue
        found = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")
                       and p.name.lower().endswith(endings))
        if not found:
            raise IngestError(path, f"no {', '.join(endings)} files found in this folder",
                              expected=f"a folder holding {' or '.join(endings)} files, or the "
                              "files themselves")
        files += found
    return files


def command_line(kind: str, name: str, options: dict, *, strict: bool = False) -> str:
    """The ``lantian ingest …`` command that reads ``name`` with these options."""
    parts = ["lantian", "ingest", kind, _quote(name)]
    if kind in TABULAR:
        if options.get("layout", "long") != "long":
            parts += ["--layout", options["layout"]]
        if options.get("station"):
            parts += ["--station", _quote(options["station"])]
        for pollutant, unit in (options.get("units") or {}).items():
            parts += ["--unit", _quote(f"{pollutant}={unit}")]
        if options.get("gas_temperature") is not None:
            parts += ["--gas-temperature", f"{options['gas_temperature']:g}"]
    if options.get("hour_label", "beginning") != "beginning":
        parts += ["--hour-label", options["hour_label"]]
    if strict:
        parts.append("--strict")
    return " ".join(parts)


def _quote(text: str) -> str:
    import shlex
    return shlex.quote(str(text))
