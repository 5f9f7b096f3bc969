"""Reader for generic CSV tables (gzip allowed) in the long or wide layout.

The layouts, unit rules and time formats are described in :mod:`ingest.layouts`.
Text is UTF-8 (with or without BOM) or GBK/GB18030 unless ``encoding`` is given.
"""
from __future__ import annotations

import pandas as pd

from .layouts import LONG_EXPECTED, TEXT_COLUMNS, WIDE_EXPECTED, _parse_table
from .tabular import read_text_table


def read_csv(path, layout: str = "long", station: str | None = None,
             units: dict[str, str] | None = None, hour_label: str = "beginning",
             gas_temperature_c: float | None = None, encoding: str | None = None,
             ) -> pd.DataFrame:
    """Read one CSV (or .csv.gz) file into the canonical long frame.

    Parameters
    ----------
    path : the file
    layout : ``long`` (station,time,pollutant,value[,unit]) or ``wide`` (time + one
        column per pollutant; needs ``station``)
    station : the station code (required for ``wide``; for ``long`` it stands in
        for a missing station column, or must match it)
    units : source unit per pollutant, e.g. ``{"CO": "mg/m3"}`` (validated by
        :func:`ingest.frame.parse_unit_overrides`)
    hour_label : ``beginning`` or ``ending``
    gas_temperature_c : reference temperature of ppb/ppm values (°C)
    encoding : text encoding; default UTF-8, else GB18030

    The frame's attrs hold ``rows_read``, ``skipped_rows`` (long rows of
    non-pollutants such as AQI or TEMP) and ``ignored_columns``; its ``row``
    column is the line in the file (header = 1).
    """
    table = read_text_table(path, expected_layout=WIDE_EXPECTED if layout == "wide"
                            else LONG_EXPECTED, encoding=encoding, text_columns=TEXT_COLUMNS)
    return _parse_table(table, path, layout, station, units, hour_label, gas_temperature_c)
