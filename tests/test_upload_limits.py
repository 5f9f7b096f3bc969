"""Upload limits (security issue 13): decompression bombs, unbounded messages, parallel loads.

- A .csv.gz or .xlsx that expands too far is refused while it is decompressed in chunks:
  quickly, with the page's message, storing nothing, and without ever holding the
  expanded data (tracemalloc's peak stays far below the expanded size). A workbook part
  that expands beyond the size it declares (declared sizes can lie) is refused as soon
  as it does; too many parts and archives inside archives are refused.
- Values quoted from a file are cut to 200 characters with "…" and kept on one line;
  the whole message of a user error is at most 1,000 characters, on the page, in the
  audit log and on the command line.
- Two loads of the same new file at once: one loads, the other waits and is told that
  nothing new was stored (SQLite and PostgreSQL); never a raw driver error.
"""
from __future__ import annotations

import gzip
import io
import threading
import time
import tracemalloc
import zipfile
from dataclasses import replace

import pytest
from sqlalchemy import select

from dashboard.context import engine_of
from ingest import loader
from ingest.errors import MESSAGE_MAX, IngestError, clip, quote
from ingest.tabular import expansion_limit, read_bytes
from store import schema
from tests.conftest import _lantian
from tests.dash_helpers import staff_client
from tests.test_upload import (_copy_demo, answer, audit_rows, counts, long_csv, node, press,
                               strings)

MB = 1024 * 1024
LIMIT_MB = 8                    # the test app's upload limit: .gz tables expand to 8 MB at
EXPANDED = 100 * MB             # most, workbooks to 80 MB; the bombs expand to 100 MB
PEAK_MAX = 64 * MB              # tracemalloc peak allowed while one is checked
ROW = b"SYN01,2025-07-01 00:00,PM2.5,31\n"
HEADER = b"station,time,pollutant,value\n"


@pytest.fixture(scope="module")
def app(demo_db_url, tmp_path_factory):
    """The dashboard on a copy of the demo database, upload limit 8 MB."""
    from config.settings import load_settings
    from dashboard.app import create_app
    url = _copy_demo(demo_db_url, tmp_path_factory.mktemp("upload-limits"))
    settings = replace(load_settings(), upload_max_mb=LIMIT_MB)
    web = create_app(url, cache_url="", settings=settings)
    web.server.test_client().get("/public")
    return web


@pytest.fixture(scope="module")
def csv_bomb() -> bytes:
    """~250 KB of gzip expanding to 100 MB of CSV rows."""
    return gzip.compress(HEADER + ROW * (EXPANDED // len(ROW)), 6)


def _workbook(parts: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", b'<?xml version="1.0"?><Types/>')
        for name, data in parts.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def sheet_bomb() -> bytes:
    """An .xlsx whose sheet part expands to 100 MB (declared honestly)."""
    return _workbook({"xl/worksheets/sheet1.xml": b"<row/>" * (EXPANDED // 6)})


def _declare(data: bytes, part: str, size: int) -> bytes:
    """``data`` (a zip) with ``part``'s uncompressed size declared as ``size`` in its local
    header and in the central directory (the checksum is left as it is)."""
    out = bytearray(data)
    name = part.encode()
    local = out.index(b"PK\x03\x04")                    # the first local header …
    while out[local + 30:local + 30 + len(name)] != name:   # … of this part
        local = out.index(b"PK\x03\x04", local + 4)
    out[local + 22:local + 26] = size.to_bytes(4, "little")
    central = out.index(b"PK\x01\x02")
    while out[central + 46:central + 46 + len(name)] != name:
        central = out.index(b"PK\x01\x02", central + 4)
    out[central + 24:central + 28] = size.to_bytes(4, "little")
    return bytes(out)


def _press_measured(client, app, action, data, name, **kw):
    """(answer text, seconds, tracemalloc peak in bytes) of one press."""
    tracemalloc.start()
    try:
        started = time.perf_counter()
        response = press(client, app, action, data, name, **kw)
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    text, checked = answer(response)
    assert checked is None
    return text, seconds, peak


def _message(text: str) -> list[str]:
    return strings(node(text, "upload-message"))


def _stored(app) -> dict:
    now = counts(app)
    return {"hourly": now["hourly"], "runs": now["runs"], "stations": now["stations"]}


# -- decompression bombs ---------------------------------------------------------------------

def test_a_gzip_bomb_is_refused_while_decompressing_with_little_memory(app, csv_bomb):
    assert len(csv_bomb) < 400 * 1024
    client = staff_client(app, "analyst")
    before, refused = _stored(app), len(audit_rows(app, "upload_refused"))
    for action in ("check", "load"):
        text, seconds, peak = _press_measured(client, app, action, csv_bomb, "bomb.csv.gz")
        assert "压缩文件解压后超过上传上限 8.0 MB" in text and "数据库未作任何更改" in text
        assert peak < PEAK_MAX, f"peak {peak / MB:.1f} MB"     # (time: benchmarks only)
    assert _stored(app) == before
    log = audit_rows(app, "upload_refused")
    assert len(log) == refused + 2
    assert "expands to more than the upload limit of 8.0 MB" in log.iloc[0]["detail"]
    text, _ = answer(press(client, app, "check", csv_bomb, "bomb.csv.gz", lang="en"))
    assert "expands to more than the upload limit of 8.0 MB; the check stopped there" in text


def test_a_zip_bomb_is_refused_by_its_declared_size(app, sheet_bomb):
    client = staff_client(app, "analyst")
    before = _stored(app)
    text, seconds, peak = _press_measured(client, app, "check", sheet_bomb, "bomb.xlsx",
                                          reader="excel")
    assert "压缩文件解压后超过 80.0 MB（上传上限的 10 倍）" in text
    assert peak < PEAK_MAX
    assert _stored(app) == before


def test_a_zip_bomb_whose_declared_size_lies_is_refused_as_soon_as_it_passes_it(
        app, sheet_bomb):
    client = staff_client(app, "analyst")
    before = _stored(app)
    lying = _declare(sheet_bomb, "xl/worksheets/sheet1.xml", 1000)
    with zipfile.ZipFile(io.BytesIO(lying)) as archive:          # what it claims: 1 KB
        assert sum(p.file_size for p in archive.infolist()) < 2000
    for action in ("check", "load"):
        text, seconds, peak = _press_measured(client, app, action, lying, "lies.xlsx",
                                              reader="excel")
        assert "lies.xlsx 已损坏：部件 'xl/worksheets/sheet1.xml' 解压后超过其声明的 1000 B" in text
        assert peak < PEAK_MAX
    assert _stored(app) == before


def test_too_many_parts_and_archives_inside_are_refused(app, csv_bomb):
    client = staff_client(app, "analyst")
    before = _stored(app)
    many = _workbook({f"xl/p{i}.xml": b"<x/>" for i in range(1001)})
    text, _ = answer(press(client, app, "check", many, "many.xlsx", reader="excel"))
    assert "many.xlsx 含 1,002 个部件，超过 1,000 个" in text
    nested = _workbook({"xl/embeddings/inner.bin": csv_bomb})
    text, _ = answer(press(client, app, "check", nested, "nested.xlsx", reader="excel"))
    assert "nested.xlsx 内含另一个压缩文件（gzip）" in text
    double = gzip.compress(csv_bomb)
    text, _ = answer(press(client, app, "check", double, "double.csv.gz"))
    assert "double.csv.gz 内含另一个压缩文件（gzip）" in text
    assert _stored(app) == before


def test_a_gzip_table_within_the_limit_still_loads(app):
    client = staff_client(app, "analyst")
    data = gzip.compress(long_csv(day="2025-08-01", station_codes=("SYN02",)))
    text, checked = answer(press(client, app, "check", data, "fine.csv.gz"))
    assert "检查通过" in text and checked is not None


def test_the_readers_decompress_within_the_limit_the_upload_sets(tmp_path, csv_bomb):
    path = tmp_path / "bomb.csv.gz"
    path.write_bytes(csv_bomb)
    tracemalloc.start()
    try:
        with expansion_limit(8 * MB), pytest.raises(IngestError, match="expands to more "
                                                    "than 8,388,608 bytes"):
            read_bytes(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * 8 * MB
    small = tmp_path / "small.csv.gz"                   # the command line: no limit
    small.write_bytes(gzip.compress(HEADER + ROW * 1000))
    assert len(read_bytes(small)) == len(HEADER) + 1000 * len(ROW)


# -- messages --------------------------------------------------------------------------------

def test_quote_cuts_and_keeps_one_line():
    assert quote("1001A") == "'1001A'" and quote(3.5) == "3.5"
    long = quote("x" * 5 * MB)
    assert len(long) <= 202 and long.endswith("…'")
    assert quote("a\r\nb\u2028c\x00") == "'a\\r\\nb\\u2028c\\x00'"
    assert clip("line\nbreak") == "line\\nbreak" and len(clip("y" * 1000)) == 200
    error = IngestError("f.csv", "bad " + "z" * 5 * MB, row=2, column="c\n" * 500,
                        expected="e" * 5000)
    assert len(str(error)) == MESSAGE_MAX and "\n" not in str(error)


def _field_file(cell: str) -> bytes:
    return (HEADER.decode() + "SYN01,2025-07-01 00:00,PM2.5,31\n"
            + f'SYN01,"{cell}",PM2.5,32\n').encode()


def test_a_refused_file_with_a_5_mb_field_gives_a_short_message(app):
    client = staff_client(app, "analyst")
    before = _stored(app)
    data = _field_file("x" * 5 * MB)
    for lang in ("zh", "en"):
        text, _ = answer(press(client, app, "check", data, "field.csv", lang=lang))
        message = " ".join(_message(text))
        assert "cannot read the time 'xxx" in message and "…" in message
        assert len(message) < MESSAGE_MAX + 100, len(message)
        assert len(text) < 5000
    detail = audit_rows(app, "upload_refused").iloc[0]["detail"]
    assert detail.startswith("field.csv (") and len(detail) <= MESSAGE_MAX + 200
    assert _stored(app) == before


def test_long_column_names_are_cut_in_the_check_and_refused_beyond_the_csv_limit(app):
    client = staff_client(app, "analyst")
    data = (f"station,time,pollutant,value,{'n' * 100_000}\n"
            "SYN01,2025-07-03 00:00,PM2.5,31,1\n").encode()
    text, checked = answer(press(client, app, "check", data, "wide-name.csv"))
    assert "检查通过" in text and checked is not None
    assert "未载入的列：nnn" in text and "…" in text and len(text) < 20_000
    data = data.replace(b"n" * 100_000, b"n" * 5 * MB)     # beyond csv.field_size_limit()
    text, _ = answer(press(client, app, "check", data, "wide-name.csv"))
    message = " ".join(_message(text))
    assert "row 1: cannot read the header (field larger than field limit" in message
    assert "意外错误" not in message and len(message) < MESSAGE_MAX


def test_a_line_break_in_a_quoted_value_stays_on_one_line(app):
    client = staff_client(app, "analyst")
    text, _ = answer(press(client, app, "check", _field_file("bad\r\ntime"), "crlf.csv"))
    message = _message(text)
    assert any("cannot read the time 'bad\\r\\ntime'" in m for m in message), message
    assert not any("\n" in m or "\r" in m for m in message)
    detail = audit_rows(app, "upload_refused").iloc[0]["detail"]
    assert "\n" not in detail and "\r" not in detail


def test_the_command_line_prints_one_short_line(engine, cli, tmp_path):
    big = tmp_path / "big.csv"
    big.write_bytes(_field_file("x" * 5 * MB))
    result = cli("ingest", "csv", big)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "…" in lines[0] and len(lines[0]) < MESSAGE_MAX + 50
    crlf = tmp_path / "crlf.csv"
    crlf.write_bytes(_field_file("bad\r\ntime"))
    result = cli("ingest", "csv", crlf)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "'bad\\r\\ntime'" in lines[0]
    with engine.connect() as conn:                         # the failed runs' messages too
        messages = conn.execute(select(schema.ingest_runs.c.message)).scalars().all()
    assert len(messages) == 2 and all(len(m) <= MESSAGE_MAX for m in messages)


# -- parallel loads --------------------------------------------------------------------------

@pytest.mark.parametrize("stations", ["new", "known"])
def test_two_loads_of_the_same_new_file_at_once(db_url, stations, monkeypatch):
    """Both answer cleanly: one loads, the other waits and stores nothing new. (Without
    the loader's lock the second failed on the unique key of ``stations`` (new codes) or,
    for known stations, of ``hourly`` with a raw sqlite3/psycopg error: a 500.)"""
    from dashboard.app import create_app
    _lantian(db_url, "init")
    web = create_app(db_url, cache_url="")
    clients = [staff_client(web, "analyst") for _ in range(2)]
    codes = ("PAR01", "PAR02")
    if stations == "known":
        text, _ = answer(press(clients[0], web, "load", long_csv(day="2025-06-30",
                                                                 station_codes=codes),
                               "before.csv"))
        assert "已载入 before.csv" in text
    data = long_csv(hours=24, station_codes=codes)
    before = counts(web)
    barrier = threading.Barrier(2, timeout=60)
    started = threading.Barrier(2, timeout=60)
    real_start = loader.start_run

    def start_run(*args, **kwargs):       # both runs recorded before either writes
        run = real_start(*args, **kwargs)
        started.wait()
        return run
    monkeypatch.setattr(loader, "start_run", start_run)
    answers, errors = [], []

    def load(client):
        barrier.wait()
        try:
            answers.append(answer(press(client, web, "load", data, "same.csv"))[0])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
    threads = [threading.Thread(target=load, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    loaded = [a for a in answers if "已载入 same.csv" in a]
    told = [a for a in answers if "没有新数据：same.csv" in a]
    assert len(loaded) == 1 and len(told) == 1, [" ".join(_message(a)) for a in answers]
    assert "数据库中已有" in told[0] or "相同" in told[0]
    after = counts(web)
    assert after["hourly"] == before["hourly"] + 48              # one load: 2 × 24 hours
    assert after["stations"] == before["stations"] + (2 if stations == "new" else 0)
    assert after["version"] == before["version"] + 1             # written once
    with engine_of(web.server).connect() as conn:
        runs = conn.execute(select(schema.ingest_runs.c.status)).scalars().all()
    assert sorted(runs[-2:]) == ["ok", "unchanged"]
    engine_of(web.server).dispose()
