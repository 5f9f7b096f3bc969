"""Reader for generic Excel workbooks (.xlsx) in the long or wide layout.

The first sheet is read unless ``sheet`` names another (by name or 0-based
position); its first non-empty row is the header. Cells formatted as dates come
in as datetimes (rounded to the second: Excel stores them as day fractions);
text cells are parsed like CSV text. Layouts, units and times: see
:mod:`ingest.layouts`. Old binary .xls workbooks are refused with a hint.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .errors import IngestError, clip, quote
from .layouts import _parse_table

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls (and other old Office files)
EXPECTED = "an Excel .xlsx workbook"


def _check_workbook(path: Path) -> None:
    if not path.is_file():
        raise IngestError(path, "no such file", expected="the path of an existing file")
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(_OLE_MAGIC):
        raise IngestError(path, "this is an old binary .xls workbook",
                          expected=f"{EXPECTED} (open it in Excel or LibreOffice and save as "
                          ".xlsx), or export the sheet as CSV")
    if not head.startswith(_ZIP_MAGIC):
        raise IngestError(path, "not an .xlsx workbook (an .xlsx file is a zip archive)",
                          expected=f"{EXPECTED}; for CSV text use 'lantian ingest csv'")


def _sheet_names(path: Path) -> list[str]:
    from openpyxl import load_workbook
    wb = load_workbook(path, read_only=True)
    try:
        return list(wb.sheetnames)
    finally:
        wb.close()


def _sheet_list(sheets, most: int = 20) -> str:
    names = ", ".join(quote(s, 60) for s in sheets[:most])
    return names + (f" … ({len(sheets)} sheets)" if len(sheets) > most else "")


def read_excel(path, layout: str = "long", station: str | None = None,
               units: dict[str, str] | None = None, hour_label: str = "beginning",
               gas_temperature_c: float | None = None, sheet: str | int | None = None,
               encoding: str | None = None) -> pd.DataFrame:
    """Read one sheet of an .xlsx workbook into the canonical long frame.

    Parameters are those of :func:`ingest.csvfile.read_csv`, plus ``sheet``
    (name or 0-based position; default the first sheet). ``encoding`` is
    accepted for symmetry and ignored: workbooks carry their own. The ``row``
    column is the row number in the sheet.
    """
    path = Path(path)
    _check_workbook(path)
    try:
        sheets = _sheet_names(path)
    except Exception as exc:  # openpyxl's InvalidFileException and friends
        raise IngestError(path, f"cannot open the workbook ({type(exc).__name__}: {clip(exc)})",
                          expected=f"{EXPECTED} that Excel can open") from None
    if not sheets:
        raise IngestError(path, "the workbook has no sheets", expected=EXPECTED)
    if sheet is None:
        label = sheets[0]
    elif isinstance(sheet, int) or (sheet not in sheets and str(sheet).isdigit()):
        if not 0 <= int(sheet) < len(sheets):
            raise IngestError(path, f"the workbook has no sheet number {sheet}",
                              expected=f"0 … {len(sheets) - 1} or a sheet name: "
                              + _sheet_list(sheets))
        label = sheets[int(sheet)]
    elif sheet in sheets:
        label = sheet
    else:
        raise IngestError(path, f"no sheet named {quote(sheet)}",
                          expected="one of the sheets " + _sheet_list(sheets))
    try:
        raw = pd.read_excel(path, sheet_name=label, header=None, engine="openpyxl")
    except Exception as exc:  # a damaged workbook: openpyxl raises many kinds
        raise IngestError(path, f"cannot read sheet {quote(label)} "
                          f"({type(exc).__name__}: {clip(exc)})",
                          expected=f"{EXPECTED} that Excel can open") from None
    source = f"{path} [sheet {clip(label, 60)}]" if len(sheets) > 1 else path
    data, first_row = _split_sheet(raw, source)
    return _parse_table(data, source, layout, station, units, hour_label, gas_temperature_c,
                        first_row=first_row)


def _split_sheet(raw: pd.DataFrame, source) -> tuple[pd.DataFrame, int]:
    """A header=None sheet → (data with header names, sheet row of the first data row)."""
    filled = raw.notna() & ~raw.astype("string").apply(lambda c: c.str.strip() == "").fillna(False)
    nonempty = filled.any(axis=1).to_numpy()
    if raw.empty or not nonempty.any():
        raise IngestError(source, "the sheet is empty", expected="a header row and data rows")
    first = int(nonempty.argmax())
    header = []
    for j, h in enumerate(raw.iloc[first]):
        name = "" if pd.isna(h) else str(h).strip()
        if name.endswith(".0") and isinstance(h, float):
            name = name[:-2]
        header.append(name or f"(column {j + 1})")
    seen = set()
    for name in header:
        if name in seen:
            raise IngestError(source, f"column {quote(name)} appears twice in the header",
                              row=first + 1, column=name, expected="each column name once")
        seen.add(name)
    # Drop columns that are empty throughout (formatting left in the sheet).
    keep = [j for j in range(raw.shape[1]) if filled.iloc[first:, j].any()]
    data = raw.iloc[first + 1:, keep].reset_index(drop=True)
    data.columns = [header[j] for j in keep]
    data = data.infer_objects()

    return data, first + 2
