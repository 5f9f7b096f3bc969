"""Broken files: one clear line naming the file (and row), exit status 1, nothing stored.

The corpus lives in tests/data/broken (regenerate with make_corpus.py there);
hypothesis then mutates valid files byte by byte: a reader must either return
a canonical frame or raise IngestError — never anything else.
"""
import gzip

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from ingest.cnemc import read_cnemc
from ingest.csvfile import read_csv
from ingest.errors import IngestError
from ingest.frame import COLUMNS
from ingest.prsa import read_prsa
from store import schema
from tests.conftest import BEIJING_SITES, TEST_DATA

BROKEN = TEST_DATA / "broken"

# file → (expected outcome, words the error must contain, row it must name or None)
EXPECTED = {
    "prsa__empty.csv": ("error", "the file is empty", None),
    "prsa__header_only.csv": ("error", "no data rows", None),
    "prsa__truncated.csv.gz": ("error", "damaged or truncated", None),
    "prsa__not_gzip.csv.gz": ("error", "not gzip-compressed", None),
    "prsa__missing_column.csv": ("error", "missing column(s) NO2", 1),
    "prsa__duplicated_header_column.csv": ("error", "appears twice in the header", 1),
    "prsa__header_repeated_inside.csv": ("error", "header line is repeated", 7),
    "prsa__text_in_numbers.csv": ("ok", None, None),
    "prsa__bad_hour.csv": ("error", "hour 24 is outside 0–23", 2),
    "prsa__bad_date.csv": ("error", "do not form a date", 2),
    "prsa__unknown_station.csv": ("error", "unknown station name 'Atlantis'", 2),
    "prsa__ragged_row.csv": ("error", "the row has 20 fields, the header 18", 5),
    "prsa__out_of_order.csv": ("ok", None, None),
    "prsa__duplicated_identical.csv": ("ok", None, None),
    "prsa__duplicated_conflicting.csv": ("error", "given twice with different values", None),
    "prsa__utf16.csv": ("error", "the file is UTF-16 text", None),
    "prsa__binary.csv": ("error", "", None),
    "prsa__negative_and_caps.csv": ("ok", None, None),
    "cnemc__empty.csv": ("error", "the file is empty", None),
    "cnemc__truncated.csv.gz": ("error", "damaged or truncated", None),
    "cnemc__missing_type_column.csv": ("error", "missing column(s) type", 1),
    "cnemc__unknown_type.csv": ("error", "NOX", None),
    "cnemc__text_in_numbers.csv": ("ok", None, None),
    # decoded from GBK (the message quotes it), refused: codes are ASCII (security issue 13)
    "cnemc__gbk_header.csv": ("error", "'监测点' is not a valid station code", 1),
    "cnemc__duplicated_conflicting.csv": ("error", "", None),
    "cnemc__bad_hour.csv": ("error", "hour", None),
    "csv-long__missing_value_column.csv": ("error", "value", 1),
    "csv-long__bad_time.csv": ("error", "2024-13-45 03:00", 5),
    "csv-long__not_on_the_hour.csv": ("error", "not on the hour", 5),
    "csv-long__unknown_pollutant.csv": ("error", "XYZ", 2),
    "csv-long__bad_unit.csv": ("error", "furlongs", 2),
    "csv-long__text_in_numbers.csv": ("ok", None, None),
    "csv-long__duplicated_conflicting.csv": ("error", "", None),
    "csv-long__latin1.csv": ("error", "", None),
    "csv-wide__no_time_column.csv": ("error", "time", 1),
    "csv-wide__duplicated_timestamps.csv": ("error", "given twice with different values", None),
    "csv-wide__out_of_order.csv": ("ok", None, None),
    "csv-wide__empty_lines.csv": ("error", "", None),
    "excel-wide__not_a_workbook.xlsx": ("error", "", None),
    "excel-wide__truncated_zip.xlsx": ("error", "", None),
}
# reader prefix → CLI arguments after the file
ARGS = {"csv-long": ["csv"], "csv-wide": ["csv", "--layout", "wide", "--station", "1003A"],
        "excel-wide": ["excel", "--layout", "wide", "--station", "1003A"]}


def test_corpus_is_complete():
    files = {p.name for p in BROKEN.iterdir() if p.name != "make_corpus.py"}
    assert files == set(EXPECTED)


def _counts(db_url):
    from store.db import make_engine
    engine = make_engine(db_url)
    with engine.connect() as conn:
        out = tuple(conn.execute(select(func.count()).select_from(t)).scalar()
                    for t in (schema.hourly, schema.stations))
    engine.dispose()
    return out


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_broken_file_through_the_cli(cli, db_url, name):
    outcome, words, row = EXPECTED[name]
    prefix = name.split("__")[0]
    reader, *options = ARGS.get(prefix, [prefix])
    path = BROKEN / name
    assert cli("init", "--sites", BEIJING_SITES).exit_code == 0
    before = _counts(db_url)
    result = cli("ingest", reader, path, *options, "--quiet")
    if outcome == "ok":
        assert result.exit_code == 0, result.output
        assert _counts(db_url)[0] > before[0]
        again = cli("ingest", reader, path, *options, "--quiet")
        assert again.exit_code == 0 and _counts(db_url)[0] == _counts(db_url)[0]
        return
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = [l for l in result.output.splitlines() if l.strip()]
    assert len(lines) == 1 or (len(lines) == 2 and lines[0].startswith("warning")), result.output
    message = " ".join(result.output.split())  # rich may soft-wrap long lines
    assert message.startswith("error:") and name in message
    assert words in message
    if row is not None:
        assert f"row {row}" in message
    assert _counts(db_url) == before  # nothing stored, no station created


def test_flags_from_the_corpus():
    text = read_prsa(BROKEN / "prsa__text_in_numbers.csv")
    bad = text[(text["pollutant"] == "PM2.5") & (text["flag"] == "non_numeric")]
    assert len(bad) == 1 and pd.isna(bad["value"].iloc[0])
    from ingest.qc import apply_qc
    caps = apply_qc(read_prsa(BROKEN / "prsa__negative_and_caps.csv"))
    flags = caps.set_index(["pollutant", "time"])["flag"].astype(str)
    assert flags[("PM2.5", pd.Timestamp("2013-03-01 00:00"))] == "negative"
    assert (flags.loc["CO"].iloc[1:] == "ceiling").all()


def _valid_bytes(reader):
    if reader is read_csv:
        return (TEST_DATA / "tabular" / "long.csv").read_bytes()
    if reader is read_prsa:
        return (BROKEN / "prsa__out_of_order.csv").read_bytes()
    return (TEST_DATA / "cnemc" / "china_sites_20150101.csv").read_bytes()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reader=st.sampled_from([read_prsa, read_cnemc, read_csv]), data=st.data())
def test_mutated_files_give_a_frame_or_an_ingest_error(tmp_path, reader, data):
    raw = bytearray(_valid_bytes(reader))
    for _ in range(data.draw(st.integers(1, 6))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert", "dup_line"]))
        if not raw:
            break
        i = data.draw(st.integers(0, len(raw) - 1))
        if op == "flip":
            raw[i] = data.draw(st.integers(0, 255))
        elif op == "cut":
            del raw[i:i + data.draw(st.integers(1, 40))]
        elif op == "insert":
            raw[i:i] = data.draw(st.sampled_from([b",", b"\n", b'"', b"NA", b"-1", b"\xff", b"x"]))
        else:
            lines = bytes(raw).split(b"\n")
            j = data.draw(st.integers(0, len(lines) - 1))
            lines.insert(j, lines[j])
            raw = bytearray(b"\n".join(lines))
    gz = data.draw(st.booleans())
    name = "china_sites_20150101.csv" if reader is read_cnemc else "prsa.csv"
    path = tmp_path / (name + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(bytes(raw)) if gz else bytes(raw))
    try:
        frame = reader(path)
    except IngestError as exc:
        assert str(path) in str(exc)
        return
    assert list(frame.columns)[:6] == COLUMNS
