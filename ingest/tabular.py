"""Reading delimited text tables robustly, with errors a user can act on.

Shared by the readers: transparent gzip, UTF-8 (with or without BOM) or
GBK/GB18030 text, header checks (missing, duplicated, repeated inside the
data) and parser errors turned into :class:`IngestError` with the row.
"""
from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
import warnings
import zlib
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Iterable, Iterator

import pandas as pd

from .errors import DamagedArchive, ExpandsTooFar, IngestError, clip, quote

ENCODINGS = ("utf-8-sig", "gb18030")
GZIP_MAGIC = b"\x1f\x8b"
#: Bytes decompressed (or checked) at a time [bytes].
CHUNK = 1 << 20
#: How compressed or archived data begins: inside a .gz file or a workbook part, a nested
#: archive (a zip or gzip bomb hides in one) is refused.
ARCHIVE_MAGIC = {b"\x1f\x8b": "gzip", b"PK\x03\x04": "zip", b"PK\x05\x06": "zip",
                 b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz", b"\x28\xb5\x2f\xfd": "zstd",
                 b"7z\xbc\xaf\x27\x1c": "7z", b"Rar!\x1a\x07": "rar"}
#: The most bytes a compressed file may expand to when a reader reads it (None: no limit).
#: The upload page sets it (:func:`expansion_limit`); the command line reads an operator's
#: own files without one.
_EXPANDED_MAX: ContextVar[int | None] = ContextVar("lantian_expanded_max", default=None)


@contextmanager
def expansion_limit(most: int | None):
    """Within the block (this thread or task), a .gz file read by :func:`read_bytes` may
    expand to at most ``most`` bytes (:class:`ExpandsTooFar` as soon as it passes)."""
    token = _EXPANDED_MAX.set(None if most is None else int(most))
    try:
        yield
    finally:
        _EXPANDED_MAX.reset(token)


def archive_kind(head: bytes) -> str | None:
    """``"zip"``, ``"gzip"`` … when ``head`` (the first bytes) starts an archive, else None."""
    head = bytes(head[:8])
    for magic, kind in ARCHIVE_MAGIC.items():
        if head.startswith(magic) and (kind != "bzip2" or head[3:4].isdigit()):
            return kind
    return None


def iter_gunzip(data, path, most: int | None = None, chunk: int = CHUNK) -> Iterator[bytes]:
    """The decompressed content of gzip ``data`` (every member), ``chunk`` bytes at a time.

    Raises :class:`ExpandsTooFar` as soon as more than ``most`` bytes came out (never
    holding more than one chunk) and :class:`DamagedArchive` for damaged or truncated data.
    """
    total = 0
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as fh:
            while piece := fh.read(chunk):
                total += len(piece)
                if most is not None and total > most:
                    raise ExpandsTooFar(path, most)
                yield piece
    except (EOFError, OSError, zlib.error) as exc:
        raise DamagedArchive(path, str(exc) or type(exc).__name__, what="gzip data",
                             expected="a complete .gz file (download or copy it again)") from None


def read_bytes(path) -> bytes:
    """File content, un-gzipped when it is gzip (by magic number, not by name); within
    :func:`expansion_limit` decompressed in chunks, refused as soon as it passes the limit."""
    path = Path(path)
    if not path.is_file():
        raise IngestError(path, "no such file", expected="the path of an existing file")
    data = path.read_bytes()
    if data[:2] == GZIP_MAGIC:
        most = _EXPANDED_MAX.get()
        if most is not None:
            return b"".join(iter_gunzip(data, path, most))
        try:
            return gzip.decompress(data)
        except (EOFError, OSError, zlib.error) as exc:
            raise DamagedArchive(path, str(exc) or type(exc).__name__, what="gzip data",
                                 expected="a complete .gz file (download or copy it again)"
                                 ) from None
    if path.name.endswith(".gz"):
        raise IngestError(path, "the name ends in .gz but the file is not gzip-compressed",
                          expected="a gzip file, or rename it without .gz")
    return data


def decode(data: bytes, path, encoding: str | None = None) -> str:
    """Decode as the given encoding, else UTF-8, else GB18030 (a superset of GBK)."""
    if not encoding and data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise IngestError(path, "the file is UTF-16 text", expected="UTF-8 or GBK text "
                          "(save it again as UTF-8)")
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
                      expected="a UTF-8 or GBK encoded text file (save it again as UTF-8)")


def check_text(chunks: Iterable[bytes], path, encoding: str | None = None) -> tuple[int, bool]:
    """Check text arriving in chunks as :func:`decode` would read it, holding one chunk at
    a time: not UTF-16, no NUL bytes, decodable as ``encoding`` or else UTF-8 or GB18030.

    Returns (bytes seen, whether any of them is not blank); raises :class:`IngestError` with
    :func:`decode`'s messages as soon as the text is known to be unreadable (and whatever
    the chunks raise, e.g. :class:`ExpandsTooFar`).
    """
    decoders = {enc: codecs.getincrementaldecoder(enc)()
                for enc in ([encoding] if encoding else ENCODINGS)}
    total, content, pending = 0, False, False
    for piece in chunks:
        if total == 0 and not encoding and piece[:2] in (b"\xff\xfe", b"\xfe\xff"):
            raise IngestError(path, "the file is UTF-16 text", expected="UTF-8 or GBK text "
                              "(save it again as UTF-8)")
        total += len(piece)
        if b"\x00" in piece:
            raise IngestError(path, "the file contains NUL bytes (binary data or UTF-16 text)",
                              expected="a UTF-8 or GBK text table")
        content = content or bool(piece.strip())
        if piece.isascii() and not pending:      # every decoder takes it as it is
            continue
        for enc, decoder in list(decoders.items()):
            try:
                decoder.decode(piece)
            except UnicodeDecodeError:
                del decoders[enc]
        if not decoders:
            break
        pending = any(d.getstate()[0] for d in decoders.values())
    for enc, decoder in list(decoders.items()):
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            del decoders[enc]
    if not decoders:
        raise IngestError(path, f"cannot decode the text as {encoding or 'UTF-8 or GBK'}",
                          expected="a UTF-8 or GBK encoded text file (save it again as UTF-8)")
    return total, content


def _header(text: str, path, expected_layout: str) -> list[str]:
    first = text.lstrip("\ufeff").split("\n", 1)[0].rstrip("\r")
    if not first.strip():
        raise IngestError(path, "the first line is empty", row=1,
                          expected=f"a header line ({expected_layout})")
    try:
        header = [h.strip() for h in next(csv.reader([first]))]
    except csv.Error as exc:         # e.g. a name longer than csv.field_size_limit()
        raise IngestError(path, f"cannot read the header ({clip(exc)})", row=1,
                          expected=f"a header line of column names ({expected_layout})"
                          if expected_layout else "a header line of column names") from None
    seen = set()
    for h in header:
        if h in seen:
            raise IngestError(path, f"column {quote(h)} appears twice in the header", row=1,
                              column=h, expected="each column name once")
        seen.add(h)
    return header


def _first_ragged_row(text: str, width: int) -> tuple[int | None, int]:
    """(line number, field count) of the first data row with more fields than the header."""
    try:
        for number, fields in enumerate(csv.reader(io.StringIO(text.lstrip("\ufeff"))),
                                        start=1):
            if number > 1 and len(fields) > width:
                return number, len(fields)
    except csv.Error:               # a field longer than csv.field_size_limit()
        pass
    return None, width


def read_text_table(path, required=(), expected_layout: str = "", encoding: str | None = None,
                    text: str | None = None, text_columns=()) -> pd.DataFrame:
    """A delimited table as a DataFrame; raises IngestError naming file, row, column.

    Numeric columns are inferred by pandas; columns with text in them come back
    as strings for :func:`ingest.frame.to_numeric` to flag. Columns named in
    ``text_columns`` (compared stripped and case-insensitively; absent names are
    fine) are always read as text, so that codes such as ``0101`` keep their
    leading zeros and ``2014051300`` stays a time label.
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
    dtype = None
    if text_columns:
        wanted = {str(c).strip().casefold() for c in text_columns}
        raw = next(csv.reader([text.lstrip("\ufeff").split("\n", 1)[0].rstrip("\r")]))
        dtype = {name: "str" for h in raw if h.strip().casefold() in wanted
                 for name in {h, h.lstrip()}} or None
    try:
        with warnings.catch_warnings():
            # A row longer than the header would be cut silently: make it an error.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            table = pd.read_csv(io.StringIO(text), low_memory=False, skipinitialspace=True,
                                dtype=dtype, index_col=False)  # never turn columns into an index
    except pd.errors.ParserWarning:
        row, fields = _first_ragged_row(text, len(header))
        raise IngestError(path, f"the row has {fields} fields, the header {len(header)}", row=row,
                          expected=f"{len(header)} comma-separated fields per row") from None
    except pd.errors.ParserError as exc:
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if m:
            raise IngestError(path, f"the row has {m.group(3)} fields, the header {m.group(1)}",
                              row=int(m.group(2)),
                              expected=f"{m.group(1)} comma-separated fields per row") from None
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise IngestError(path, f"cannot parse the table ({clip(first_line)})",
                          expected=f"{len(header)} comma-separated fields per row") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise IngestError(path, f"cannot parse the table ({clip(exc)})",
                          expected=expected_layout) from None
    table.columns = [str(c).strip() for c in table.columns]
    # the header as parsed (a quote left open in it swallows the next lines into a name)
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise IngestError(path, f"missing column(s) {', '.join(missing)} (is a quote left "
                          "open in the header?)", row=1,
                          expected=expected_layout or f"columns {', '.join(required)}")
    if len(table.columns) and len(table):
        first = table.columns[0]
        repeated = table[first].astype("string").str.strip() == first
        if repeated.any():
            i = int(repeated.to_numpy(dtype=bool, na_value=False).argmax())
            raise IngestError(path, "the header line is repeated inside the data", row=i + 2,
                              column=first, expected="one header line at the top")
    return table
