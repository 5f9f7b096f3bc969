"""Checks of a file uploaded for loading, and what it would load; no web framework here.

The upload page (``dashboard/pages/upload.py``) hands :func:`process` the browser's data
URL; it checks the file, reads it with the readers the command line uses
(:mod:`ingest.readers`) and either reports what a load would store (:class:`Inspection`)
or loads it through :func:`ingest.loader.load_file`, exactly as ``lantian ingest`` does.

Limits and safety, all before anything is stored: the decoded size must be within the
caller's limit (the page's ``upload_max_mb``). A .gz table may expand to at most that
same limit (the readers parse the expanded text: it costs what an uncompressed file of
that size costs), an .xlsx workbook's parts together to at most :data:`EXPANSION` times
it (their XML is verbose), with at most :data:`ZIP_MEMBERS` parts and no archive inside.
Both are checked while decompressing in chunks (:data:`ingest.tabular.CHUNK`), never
holding the expanded data: the check stops as soon as the limit is passed, and a workbook
part that expands beyond its declared size is refused as damaged. The readers then
decompress within the same limit (:func:`ingest.tabular.expansion_limit`). The name must
end as the reader expects (:data:`ENDINGS`) and the content must match (an .xlsx is a zip
workbook, a .gz is gzip, a text table decodes as UTF-8 or GBK text without NUL bytes).
The upload's name is reduced to a bare file name (:func:`safe_name`: no folders, no
"..", no control characters, at most :data:`NAME_MAX` characters) and the file is written
only into a fresh private temporary folder that is removed afterwards (:func:`staged`).
A refused file (:class:`Refused`) leaves the database as it was: no readings, no ingest
run.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import io
import logging
import os
import re
import shutil
import tempfile
import unicodedata
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from config.sites import CANONICAL_UNITS
from store.places import stations_by_code
from store.runs import last_loaded_run, options_text, rename_run_file

from .errors import DamagedArchive, ExpandsTooFar, IngestError, cap, clip, clip_list, quote
from .loader import POLLUTANT_ORDER, LoadResult, load_file, run_qc, to_batch
from .qc import FLAGS, NON_NUMERIC, OK, load_rules
from .readers import READERS, reader_for
from .tabular import CHUNK, archive_kind, check_text, expansion_limit, iter_gunzip

log = logging.getLogger(__name__)

#: File name endings each reader accepts (compared in lower case).
ENDINGS = {"csv": (".csv", ".csv.gz", ".txt"), "excel": (".xlsx",),
           "cnemc": (".csv", ".csv.gz"), "prsa": (".csv", ".csv.gz")}
#: The national platform's daily files: the reader checks the rows against the name's date.
CNEMC_NAME = re.compile(r"^china_sites_\d{8}\.csv(\.gz)?$", re.IGNORECASE)
#: An .xlsx upload's parts may expand to at most this many times the size limit (a .gz
#: table: to the size limit itself).
EXPANSION = 10
#: Most parts (zip members) of an .xlsx upload.
ZIP_MEMBERS = 1000
#: Longest stored file name (characters; the ending is kept).
NAME_MAX = 120

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"      # old binary Office files (.xls)


class Refused(Exception):
    """An upload refused before anything is stored: a message key and its values.

    The caller words the message from ``key`` (the upload page: ``up.r.<key>``) on one
    line of at most :data:`ingest.errors.MESSAGE_MAX` characters: values quoting the file
    arrive cut (:func:`ingest.errors.quote`), and every value is cut again here.
    :func:`process` sets ``about``: the file, its size and checksum once known, and the
    reader (for the audit log)."""

    def __init__(self, key: str, **values):
        super().__init__(key)
        self.key = key
        self.values = {k: cap(v) if isinstance(v, str) else v for k, v in values.items()}
        self.about = ""


def fmt_size(n: float) -> str:
    if n < 1024:
        return f"{int(n)} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / 1024 / 1024:.1f} MB"


def safe_name(name) -> str:
    """The upload's name as a bare file name: the last part after any ``/`` or ``\\``,
    without control or format characters (NUL, bidi overrides), with characters other
    than letters, digits, ``_ - . + ( ) ( )`` and spaces replaced by ``_``, runs of dots
    collapsed (no ``..``), no leading or trailing dots or spaces, and at most
    :data:`NAME_MAX` characters (the ending kept). ``china_sites_20150101.csv`` stays as
    it is. May return ``""`` (nothing usable is left)."""
    text = unicodedata.normalize("NFC", str(name or ""))
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    text = re.split(r"[\\/]", text)[-1]
    text = re.sub(r"[^\w.\-+()（） ]", "_", text)
    text = re.sub(r"\.{2,}", ".", text).strip(" .")
    if len(text) > NAME_MAX:
        m = re.search(r"(\.[A-Za-z0-9]{1,8}){1,2}$", text)
        ending = m.group(0) if m and len(m.group(0)) < NAME_MAX // 2 else ""
        text = text[:NAME_MAX - len(ending)].rstrip(" .") + ending
    return text


def check_name(name, reader: str) -> str:
    """The sanitised name, if the reader takes files of that name; else :class:`Refused`."""
    clean = safe_name(name)
    if not clean:
        raise Refused("no_name")
    allowed = ENDINGS[reader]
    if not clean.lower().endswith(allowed):
        if reader == "excel" and clean.lower().endswith(".xls"):
            raise Refused("xls", name=clean)
        raise Refused("type", reader=reader, name=clean, allowed=" ".join(allowed))
    if reader == "cnemc" and not CNEMC_NAME.match(clean):
        raise Refused("cnemc_name", name=clean)
    return clean


def decode_contents(contents, limit: int) -> bytes:
    """The bytes of a ``dcc.Upload`` data URL (``data:<type>;base64,<data>``), refusing
    one larger than ``limit`` bytes before decoding it."""
    if not contents or not isinstance(contents, str):
        raise Refused("no_file")
    head, sep, payload = contents.partition(",")
    if not sep or not head.startswith("data:") or not head.endswith(";base64"):
        raise Refused("bad_upload")
    payload = payload.strip()
    estimate = len(payload) * 3 // 4 - payload[-2:].count("=")
    if estimate > limit:
        raise Refused("too_big", size=fmt_size(estimate), limit=fmt_size(limit))
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise Refused("bad_upload") from None
    if len(data) > limit:
        raise Refused("too_big", size=fmt_size(len(data)), limit=fmt_size(limit))
    if not data:
        raise Refused("empty")
    return data


def _chunks(data: bytes, size: int = CHUNK):
    """``data`` in pieces of ``size`` bytes."""
    view = memoryview(data)
    for i in range(0, len(view), size):
        yield bytes(view[i:i + size])


def _no_archive_inside(chunks, name: str):
    """The chunks, refusing content that starts as another archive (a bomb in a bomb)."""
    first = True
    for piece in chunks:
        if first and piece:
            kind = archive_kind(piece)
            if kind:
                raise Refused("nested", name=name, kind=kind)
            first = False
        yield piece


def _inflate(raw: memoryview):
    """Raw deflate data (a zip part) decompressed :data:`CHUNK` bytes at a time; raises
    :class:`DamagedArchive` when the stream is damaged or ends early."""
    d = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        for i in range(0, len(raw), CHUNK):
            data = bytes(raw[i:i + CHUNK])
            while data and not d.eof:
                piece = d.decompress(data, CHUNK)
                data = d.unconsumed_tail
                if piece:
                    yield piece
            if d.eof:
                return
        piece = d.flush()            # what zlib still holds (at most its window)
        if piece:
            yield piece
    except zlib.error as exc:
        raise DamagedArchive("", str(exc)) from None
    if not d.eof:
        raise DamagedArchive("", "the compressed data ends early")


def _part_size(view: memoryview, part: zipfile.ZipInfo, name: str, most: int,
               total: int) -> int:
    """``total`` + the bytes workbook part ``part`` really expands to, found by
    decompressing it in chunks (its declared size is not trusted): refused as soon as it
    passes its declared size or ``total`` passes ``most``, or when its size or checksum
    differs from what it declares."""
    label = quote(part.filename, 80)
    off = part.header_offset
    head = bytes(view[off:off + 30])
    if len(head) < 30 or not head.startswith(ZIP_MAGIC):
        raise Refused("bad_zip", name=name, detail=f"part {label} has no local header")
    start = off + 30 + int.from_bytes(head[26:28], "little") + \
        int.from_bytes(head[28:30], "little")
    raw = view[start:start + part.compress_size]
    if len(raw) < part.compress_size:
        raise Refused("bad_zip", name=name, detail=f"part {label} is truncated")
    if part.compress_type == zipfile.ZIP_STORED:
        pieces = _chunks(raw)
    elif part.compress_type == zipfile.ZIP_DEFLATED:
        pieces = _inflate(raw)
    else:
        raise Refused("bad_zip", name=name, detail=f"part {label} uses compression method "
                      f"{part.compress_type} (Excel uses deflate)")
    size, crc = 0, 0
    try:
        for piece in _no_archive_inside(pieces, name):
            size += len(piece)
            total += len(piece)
            if size > part.file_size:
                raise Refused("zip_lies", name=name, part=label,
                              declared=fmt_size(part.file_size))
            if total > most:
                raise Refused("expands", limit=fmt_size(most), factor=EXPANSION)
            crc = zlib.crc32(piece, crc)
    except DamagedArchive as exc:
        raise Refused("bad_zip", name=name, detail=f"part {label}: {exc.detail}") from None
    if size != part.file_size or crc != part.CRC:
        raise Refused("bad_zip", name=name, detail=f"part {label} holds {size:,} bytes with "
                      f"checksum {crc:08x}, not the {part.file_size:,} bytes with checksum "
                      f"{part.CRC:08x} it declares")
    return total


def check_workbook(data: bytes, name: str, most: int) -> None:
    """An .xlsx upload as a zip archive: at most :data:`ZIP_MEMBERS` parts, none
    encrypted or itself an archive, declared sizes within ``most`` bytes together, and
    each part decompressed in chunks (never held) to check its real size and checksum:
    refused as soon as one expands beyond its declared size or all of them beyond
    ``most`` (:class:`Refused`)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError,
            NotImplementedError) as exc:
        raise Refused("bad_zip", name=name, detail=str(exc) or type(exc).__name__) from None
    if len(parts) > ZIP_MEMBERS:
        raise Refused("members", name=name, n=f"{len(parts):,}", most=f"{ZIP_MEMBERS:,}")
    if "[Content_Types].xml" not in {p.filename for p in parts}:
        raise Refused("not_xlsx", name=name)
    if sum(p.file_size for p in parts) > most:
        raise Refused("expands", limit=fmt_size(most), factor=EXPANSION)
    for part in parts:
        if part.flag_bits & 0x1:
            raise Refused("bad_zip", name=name,
                          detail=f"part {quote(part.filename, 80)} is encrypted")
    view, total = memoryview(data), 0
    for part in parts:
        total = _part_size(view, part, name, most, total)


def check_content(data: bytes, name: str, reader: str, limit: int) -> None:
    """Does the content match the name and the reader? (:class:`Refused` if not.)

    An .xlsx must be a zip workbook whose parts expand to at most
    :data:`EXPANSION` × ``limit`` (:func:`check_workbook`); a text table must not be a
    workbook, a ``.gz`` must be gzip expanding to at most ``limit`` and holding no other
    archive, and the text must decode as UTF-8 or GBK without NUL bytes
    (:func:`ingest.tabular.check_text`). Compressed data is checked while it is
    decompressed, :data:`ingest.tabular.CHUNK` bytes at a time: the expanded content is
    never held, and the check stops as soon as it passes the limit.
    """
    if reader == "excel":
        if data.startswith(OLE_MAGIC):
            raise Refused("xls", name=name)
        if not data.startswith(ZIP_MAGIC):
            raise Refused("not_xlsx", name=name)
        check_workbook(data, name, EXPANSION * limit)
        return
    if data.startswith((ZIP_MAGIC, OLE_MAGIC)):
        raise Refused("workbook", name=name)
    if name.lower().endswith(".gz") and not data.startswith(GZIP_MAGIC):
        raise Refused("not_gzip", name=name)
    if data.startswith(GZIP_MAGIC):
        chunks = _no_archive_inside(iter_gunzip(data, name, limit), name)
    else:
        chunks = _chunks(data)
    try:
        _size, content = check_text(chunks, name)
    except ExpandsTooFar:
        raise Refused("expands_text", limit=fmt_size(limit)) from None
    except DamagedArchive as exc:
        raise Refused("bad_gzip", name=name, detail=exc.detail) from None
    except IngestError as exc:
        raise Refused("not_text", name=name, detail=_reason(exc)) from None
    if not content:
        raise Refused("empty")


def _reason(exc: IngestError) -> str:
    """The error without its file part (the banner names the file)."""
    text = exc.problem
    if exc.row is not None:
        text = f"row {exc.row}" + (f", column {quote(exc.column)}" if exc.column else "") + \
            f": {text}"
    return text + (f"; expected {exc.expected}" if exc.expected else "")


@contextmanager
def staged(data: bytes, name: str):
    """``name`` (a :func:`safe_name`) written into a fresh private temporary folder
    (mode 0700, the file 0600), yielding its path; the folder is removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="lantian-upload-")).resolve()
    try:
        path = folder / name
        if path.parent != folder or name in ("", ".", ".."):       # never outside the folder
            raise Refused("no_name")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        with os.fdopen(os.open(path, flags, 0o600), "wb") as fh:
            fh.write(data)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -- what a file holds ------------------------------------------------------------------------

@dataclass
class Choice:
    """The reader and its options, as chosen on the page."""

    reader: str = "csv"
    layout: str = "long"
    station: str | None = None
    units: str | None = None
    hour_label: str = "beginning"
    gas_temperature: float | None = None
    strict: bool = False

    @classmethod
    def of(cls, reader, layout, station, units, hour_label, gas, strict) -> "Choice":
        try:
            gas = None if gas in (None, "") else float(gas)
        except (TypeError, ValueError):
            gas = None
        return cls(reader=str(reader or "csv"), layout=str(layout or "long"),
                   station=(str(station).strip()[:32] or None) if station else None,
                   units=(str(units).strip()[:200] or None) if units else None,
                   hour_label=str(hour_label or "beginning"), gas_temperature=gas,
                   strict=bool(strict))


@dataclass
class Inspection:
    """What a file would load (computed without writing anything)."""

    name: str
    size: int
    sha256: str
    choice: Choice
    options: dict
    rows_read: int = 0
    readings: int = 0
    flagged: int = 0
    excluded: int = 0
    duplicates: int = 0
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    stations: pd.DataFrame = field(default_factory=pd.DataFrame)
    pollutants: pd.DataFrame = field(default_factory=pd.DataFrame)
    ignored_columns: list = field(default_factory=list)
    skipped_rows: int = 0
    skipped_names: list = field(default_factory=list)
    loaded_before: int | None = None

    @property
    def unknown(self) -> list[str]:
        if self.stations.empty:
            return []
        return self.stations.loc[~self.stations["known"], "code"].tolist()

    def detail(self) -> str:
        """One line for the audit log."""
        return (f"{self.name} ({self.size} bytes, sha256 {self.sha256}) reader "
                f"{self.choice.reader} {options_text(self.options)}"
                f"{' strict' if self.choice.strict else ''}: {self.rows_read} rows, "
                f"{self.readings} readings, {len(self.stations)} stations "
                f"({len(self.unknown)} unknown), {self.flagged} flagged")

    def load_detail(self, result: LoadResult) -> str:
        """One line for the audit log of a load of this file."""
        return (f"{self.name} ({self.size} bytes, sha256 {self.sha256}) reader "
                f"{self.choice.reader} {options_text(self.options)}"
                f"{' strict' if self.choice.strict else ''}: run "
                f"#{result.run_id} {result.status}, {result.rows_read} rows, "
                f"{result.readings_read} read, {result.readings_new} new, "
                f"{result.readings_changed} changed, {result.readings_flagged} flagged, "
                f"{result.readings_rejected} excluded"
                + (f", stations created {clip_list(result.created_stations)}"
                   if result.created_stations else ""))


def inspect(engine, frame: pd.DataFrame, *, name: str, size: int, sha256: str, choice: Choice,
            options: dict) -> Inspection:
    """Counts of what ``frame`` would load: the loader's own pivot and QC
    (:func:`ingest.loader.to_batch`, :func:`ingest.loader.run_qc`), so the counts are
    those a load reports; the database is only read (known stations, earlier runs)."""
    rules = load_rules()
    ins = Inspection(name=name, size=size, sha256=sha256, choice=choice, options=options,
                     rows_read=int(frame.attrs.get("rows_read", len(frame))),
                     ignored_columns=list(frame.attrs.get("ignored_columns", [])),
                     skipped_rows=int(frame.attrs.get("skipped_rows", 0)),
                     skipped_names=list(frame.attrs.get("skipped_pollutants", [])))
    with engine.connect() as conn:
        ins.loaded_before = last_loaded_run(conn, sha256, choice.reader, options)
        if frame.empty:
            return ins
        codes = sorted({str(c) for c in frame["station"].unique()})
        known = stations_by_code(conn, codes)
    batch, present, ins.duplicates = to_batch(frame, {c: i for i, c in enumerate(codes)}, name)
    run_qc(batch, present, rules)
    cols = [POLLUTANT_ORDER.index(p) for p in present]
    values, flags = batch.values[:, cols], batch.flags[:, cols]
    readable = ~np.isnan(values) | (flags == NON_NUMERIC)
    flagged = readable & (flags != OK)
    excluded = np.isin(flags, rules.excluded_codes)
    ins.readings, ins.flagged = int(readable.sum()), int(flagged.sum())
    ins.excluded = int(excluded.sum())
    if len(batch):
        ins.start, ins.end = pd.Timestamp(batch.ts.min()), pd.Timestamp(batch.ts.max())
    per_station = np.bincount(batch.station_id, weights=readable.sum(axis=1),
                              minlength=len(codes)).astype(np.int64)
    ins.stations = pd.DataFrame({
        "code": codes, "readings": per_station,
        "known": [c in known for c in codes],
        "name_zh": [known[c].name_zh if c in known else "" for c in codes],
        "name_en": [known[c].name_en if c in known else "" for c in codes],
        "city": [(known[c].city_id or "") if c in known else "" for c in codes]})
    missing = frame.loc[(frame["flag"] == "missing").to_numpy(bool), "pollutant"] \
        .astype(str).value_counts()
    rows = []
    for j, pollutant in enumerate(present):
        v = values[:, j]
        numeric = v[~np.isnan(v)]
        kinds = pd.Series(flags[flagged[:, j], j]).map(dict(enumerate(FLAGS))).value_counts()
        rows.append({"pollutant": pollutant, "unit": CANONICAL_UNITS[pollutant],
                     "readings": int(readable[:, j].sum()),
                     "missing": int(missing.get(pollutant, 0)),
                     "flagged": int(flagged[:, j].sum()),
                     "flags": ", ".join(f"{k} {n}" for k, n in kinds.items()),
                     "excluded": int(excluded[:, j].sum()),
                     "min": float(numeric.min()) if len(numeric) else None,
                     "max": float(numeric.max()) if len(numeric) else None})
    ins.pollutants = pd.DataFrame(rows)
    return ins


# -- check or load ------------------------------------------------------------------------------

def run_label(name: str) -> str:
    """What the ingest run records as its file: the upload's (sanitised) name."""
    return f"upload:{name}"


def process(action: str, contents, filename, choice: Choice, *, engine,
            limit: int) -> tuple[Inspection, LoadResult | None]:
    """Check (``action="check"``) or load (``"load"``) one upload: ``contents`` is the
    browser's data URL, ``limit`` the size limit in bytes.

    Returns ``(Inspection, LoadResult | None)``; raises :class:`Refused` (its ``about``
    set) when the file or the options are not acceptable — the database then holds
    exactly what it held before.
    """
    shown = safe_name(filename) or "?"
    size, digest = 0, ""
    try:
        if not contents:
            raise Refused("no_file")
        if choice.reader not in READERS:
            raise Refused("options", detail=f"unknown reader {quote(choice.reader)}")
        name = check_name(filename, choice.reader)
        shown = name
        data = decode_contents(contents, limit)
        size, digest = len(data), hashlib.sha256(data).hexdigest()
        try:
            read, options = reader_for(choice.reader, layout=choice.layout,
                                       station=choice.station, units=choice.units,
                                       hour_label=choice.hour_label,
                                       gas_temperature=choice.gas_temperature, engine=engine,
                                       source=name)
        except IngestError as exc:
            raise Refused("options", detail=str(exc)) from None
        check_content(data, name, choice.reader, limit)
        with staged(data, name) as path:
            try:
                with expansion_limit(limit):     # the readers decompress within it too
                    frame = read(path)
            except ExpandsTooFar:
                raise Refused("expands_text", limit=fmt_size(limit)) from None
            except IngestError as exc:
                raise Refused("invalid", detail=_clean(str(exc), path.parent)) from None
            except Exception:  # noqa: BLE001 - a reader bug must not become a traceback page
                log.exception("upload: reading %s with %s failed", name, choice.reader)
                raise Refused("unexpected") from None
            try:
                ins = inspect(engine, frame, name=name, size=size, sha256=digest,
                              choice=choice, options=options)
            except IngestError as exc:       # conflicting duplicates (the loader's pivot)
                raise Refused("invalid", detail=_clean(str(exc), path.parent)) from None
            except SQLAlchemyError:
                log.exception("upload: reading the stations for %s failed", name)
                raise Refused("database") from None
            if frame.empty:
                raise Refused("no_readings")
            if action == "check":
                return ins, None
            if choice.strict and ins.unknown:
                raise Refused("strict", codes=clip_list(ins.unknown))
            try:
                result = load_file(engine, choice.reader, path, lambda _path: frame,
                                   options=options, strict=choice.strict)
            except IngestError as exc:       # (checked above: a race with another load)
                raise Refused("invalid", detail=_clean(str(exc), path.parent)) from None
            except IntegrityError as exc:    # another load wrote the same rows (not expected:
                # the loader waits for the other load's lock), rolled back: nothing stored
                log.warning("upload: loading %s clashed with another load (%s)", name,
                            clip(exc.orig if exc.orig is not None else exc))
                raise Refused("conflict") from None
            except SQLAlchemyError:
                log.exception("upload: loading %s failed", name)
                raise Refused("database") from None
            except Exception:  # noqa: BLE001 - never a traceback page (logged, refused)
                log.exception("upload: loading %s failed unexpectedly", name)
                raise Refused("unexpected") from None
            finally:
                _relabel_run(engine, path, name)
    except Refused as exc:
        exc.about = (f"{shown} ({size} bytes{', sha256 ' + digest if digest else ''}) reader "
                     f"{choice.reader}")
        raise
    result.file = name
    return ins, result


def _clean(message: str, folder: Path) -> str:
    """A reader's message without the temporary folder (the user knows the file by name)."""
    return message.replace(str(folder) + os.sep, "")


def _relabel_run(engine, path: Path, name: str) -> None:
    """The ingest run names the upload, not the temporary file that is removed."""
    try:
        with engine.begin() as conn:
            rename_run_file(conn, str(path), run_label(name))
    except SQLAlchemyError:
        log.exception("upload: naming the ingest run of %s failed", name)
