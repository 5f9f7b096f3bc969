"""Reading delimited text tables robustly, with errors a user can act on.

Shared by the readers: transparent gzip, UTF-8 (with or without BOM) or
GBK/GB18030 text, header checks (missing, duplicated, repeated inside the
data) and parser errors turned into :class:`IngestError` with the row.
"""
from __future__ import annotations

import csv
import gzip
import io
import re
import zlib
from pathlib import Path

import pandas as pd

from .errors import IngestError

ENCODINGS = ("utf-8-sig", "gb18030")


def read_bytes(path) -> bytes:
    """File content, un-gzipped when it is gzip (by magic number, not by name)."""
    path = Path(path)
    if not path.is_file():
        raise IngestError(path, "no such file", expected="the path of an existing file")
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(data)
        except (EOFError, OSError, zlib.error) as exc:
            raise IngestError(path, f"the gzip data is damaged or truncated ({exc})",
                              expected="a complete .gz file (download or copy it again)") from None
    if path.name.endswith(".gz"):
        raise IngestError(path, "the name ends in .gz but the file is not gzip-compressed",
                          expected="a gzip file, or rename it without .gz")
    return data


def decode(data: bytes, path, encoding: str | None = None) -> str:
    """Decode as the given encoding, else UTF-8, else GB18030 (a superset of GBK)."""
    for enc in ([encoding] if encoding else ENCODINGS):
        try:
            text = data.decode(enc)
        except (UnicodeDecodeError, LookupError):
            continue
        if "\x00" in text:
            raise IngestError(path, "the file contains NUL bytes (binary data or UTF-16 text)",
                              expected="a UTF-8 or GBK text table")
        return text
    raise IngestError(path, f"cannot decode the text as {encoding or 'UTF-8 or GBK'}",
                      expected="a UTF-8 or GBK encoded text file (or give --encoding)")


def _header(text: str, path, expected_layout: str) -> list[str]:
    first = text.lstrip("\ufeff").split("\n", 1)[0].rstrip("\r")
    if not first.strip():
        raise IngestError(path, "the first line is empty", row=1,
                          expected=f"a header line ({expected_layout})")
    header = [h.strip() for h in next(csv.reader([first]))]
    seen = set()
    for h in header:
        if h in seen:
            raise IngestError(path, f"column {h!r} appears twice in the header", row=1,
                              column=h, expected="each column name once")
        seen.add(h)
    return header


def read_text_table(path, required=(), expected_layout: str = "", encoding: str | None = None,
                    text: str | None = None) -> pd.DataFrame:
    """A delimited table as a DataFrame; raises IngestError naming file, row, column.

    Numeric columns are inferred by pandas; columns with text in them come back
    as strings for :func:`ingest.frame.to_numeric` to flag.
    """
    if text is None:
        text = decode(read_bytes(path), path, encoding)
    if not text.strip():
        raise IngestError(path, "the file is empty", expected=expected_layout or "a header and rows")
    header = _header(text, path, expected_layout)
    missing = [c for c in required if c not in header]
    if missing:
        raise IngestError(path, f"missing column(s) {', '.join(missing)}", row=1,
                          expected=expected_layout or f"columns {', '.join(required)}")
    try:
        table = pd.read_csv(io.StringIO(text), low_memory=False, skipinitialspace=True)
    except pd.errors.ParserError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise IngestError(path, f"a row has the wrong number of fields ({exc})".rstrip(),
                          row=int(m.group(1)) if m else None,
                          expected=f"{len(header)} comma-separated fields per row") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise IngestError(path, f"cannot parse the table ({exc})", expected=expected_layout) from None
    table.columns = [str(c).strip() for c in table.columns]
    if len(table.columns) and len(table):
        first = table.columns[0]
        repeated = table[first].astype("string").str.strip() == first
        if repeated.any():
            i = int(repeated.to_numpy(dtype=bool, na_value=False).argmax())
            raise IngestError(path, "the header line is repeated inside the data", row=i + 2,
                              column=first, expected="one header line at the top")
    return table
