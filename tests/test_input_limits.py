"""Input limits (issue 14): bad numbers, impossible years and temperatures, one-line CLI
errors, control characters and absurd targets in site files.

* ``inf``/``-inf`` (which pandas reads from a CSV as floats) and numbers that a unit
  conversion takes past the float range are ``non_numeric`` without a value, in every
  reader; a value above the pollutant's physical ceiling (qc.yaml) is ``implausible``
  and never counts; the real Beijing and Haikou data hold none.
* ``--gas-temperature`` is a finite number from -60 to 60 °C, on the command line and
  on the upload page; a year outside 1970–2100 is refused naming file, row and column.
* Every bad ``lantian`` invocation is one line ``error: …`` with exit status 1.
"""
from __future__ import annotations

import datetime as dt
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sqlalchemy import select

from config import ConfigError
from config.sites import parse_site_config
from ingest.cnemc import read_cnemc
from ingest.csvfile import read_csv
from ingest.errors import IngestError
from ingest.excel import read_excel
from ingest.frame import long_from_wide, unit_factor
from ingest.prsa import read_prsa
from ingest.qc import ALWAYS_EXCLUDED, FLAG_CODE, FLAGS, apply_qc, flag_column, load_rules
from ingest.readers import reader_for
from tests.conftest import BEIJING_SITES

PRSA_HEADER = ("No,year,month,day,hour,PM2.5,PM10,SO2,NO2,CO,O3,TEMP,PRES,DEWP,RAIN,wd,WSPM,"
               "station\n")


def flags(frame: pd.DataFrame) -> dict:
    """(pollutant, hour) → (flag, value) after QC."""
    out = apply_qc(frame)
    return {(str(r.pollutant), pd.Timestamp(r.time).hour): (str(r.flag), r.value)
            for r in out.itertuples()}


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# -- bad numbers: non-finite → non_numeric, above the physical ceiling → implausible ---------

def test_physical_ceilings_are_configured_and_always_excluded():
    rules = load_rules()
    assert rules.physical_ceiling == {"PM2.5": 20000.0, "PM10": 50000.0, "SO2": 50000.0,
                                      "NO2": 20000.0, "CO": 1000.0, "O3": 10000.0}
    assert "implausible" in ALWAYS_EXCLUDED and "implausible" in rules.excluded
    assert FLAG_CODE["implausible"] == 8          # the last code: stored codes never move
    # far above every instrument cap of the ceiling rule
    for pollutant, caps in rules.ceiling_values.items():
        assert rules.physical_ceiling[pollutant] >= 10 * max(caps)


@pytest.mark.parametrize("pollutant", ["PM2.5", "PM10", "SO2", "NO2", "CO", "O3"])
def test_above_the_physical_ceiling_is_implausible_at_it_is_not(pollutant):
    ceiling = load_rules().physical_ceiling[pollutant]
    times = pd.date_range("2016-01-01", periods=4, freq="h").to_numpy("datetime64[s]")
    values = np.array([ceiling * 0.5, ceiling, np.nextafter(ceiling, np.inf), 1e308])
    frame = long_from_wide(times, "1001A", {pollutant: (values, np.zeros(4, bool),
                                                        np.zeros(4, bool))})
    got = apply_qc(frame)["flag"].astype(str).tolist()
    assert got[2:] == ["implausible", "implausible"]
    assert "implausible" not in got[:2]


def test_flag_column_makes_a_stray_infinity_non_numeric():
    rules = load_rules()
    values = np.array([10.0, np.inf, -np.inf, 12.0])
    out = flag_column("NO2", values, np.zeros(4, np.int8), np.zeros(4, np.int64),
                      np.arange(4), rules)
    assert [FLAGS[c] for c in out] == ["ok", "non_numeric", "non_numeric", "ok"]


def test_ceilings_come_from_qc_yaml_and_bad_ones_are_refused(tmp_path):
    shipped = yaml.safe_load((Path(__file__).parent.parent / "config" / "qc.yaml")
                             .read_text(encoding="utf-8"))
    shipped["physical_ceiling"]["NO2"] = 500
    path = write(tmp_path / "qc.yaml", yaml.safe_dump(shipped))
    rules = load_rules(str(path))
    times = pd.date_range("2016-01-01", periods=2, freq="h").to_numpy("datetime64[s]")
    values = np.array([400.0, 600.0])
    frame = long_from_wide(times, "1001A", {"NO2": (values, np.zeros(2, bool),
                                                    np.zeros(2, bool))})
    assert apply_qc(frame, rules)["flag"].astype(str).tolist() == ["ok", "implausible"]
    for bad in ("inf", -1, "lots", None):
        shipped["physical_ceiling"]["NO2"] = bad
        path = write(tmp_path / f"qc-{bad}.yaml", yaml.safe_dump(shipped))
        with pytest.raises(ConfigError, match="physical_ceiling.NO2"):
            load_rules(str(path))
    del shipped["physical_ceiling"]
    with pytest.raises(ConfigError, match="physical_ceiling"):
        load_rules(str(write(tmp_path / "qc-none.yaml", yaml.safe_dump(shipped))))


def test_long_csv_inf_text_and_1e308(tmp_path):
    path = write(tmp_path / "long.csv", "station,time,pollutant,value\n"
                 "1001A,2016-01-01 00:00,PM2.5,inf\n1001A,2016-01-01 01:00,PM2.5,-inf\n"
                 "1001A,2016-01-01 02:00,PM2.5,1e308\n1001A,2016-01-01 03:00,PM2.5,12\n"
                 "1001A,2016-01-01 04:00,PM2.5,Infinity\n")
    got = flags(read_csv(path))
    assert got[("PM2.5", 0)][0] == got[("PM2.5", 1)][0] == got[("PM2.5", 4)][0] == "non_numeric"
    assert np.isnan(got[("PM2.5", 0)][1]) and np.isnan(got[("PM2.5", 1)][1])
    assert got[("PM2.5", 2)] == ("implausible", 1e308)
    assert got[("PM2.5", 3)] == ("ok", 12.0)


def test_a_unit_conversion_past_the_float_range_is_non_numeric(tmp_path):
    long = write(tmp_path / "long.csv", "station,time,pollutant,value,unit\n"
                 "1001A,2016-01-01 00:00,PM10,1e308,mg/m3\n1001A,2016-01-01 01:00,PM10,0.05,mg/m3\n")
    got = flags(read_csv(long))
    assert got[("PM10", 0)][0] == "non_numeric" and np.isnan(got[("PM10", 0)][1])
    assert got[("PM10", 1)] == ("ok", 50.0)
    wide = write(tmp_path / "wide.csv", "time,NO2\n2016-01-01 00:00,1e308\n"
                 "2016-01-01 01:00,inf\n2016-01-01 02:00,0.04\n")
    with _no_warnings():
        frame = read_csv(wide, layout="wide", station="1001A", units={"NO2": "mg/m3"})
    got = flags(frame)
    assert [got[("NO2", h)][0] for h in range(3)] == ["non_numeric", "non_numeric", "ok"]


class _no_warnings:
    """No RuntimeWarning (overflow) escapes: the CLI would print it as a warning line."""

    def __enter__(self):
        import warnings
        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("error", RuntimeWarning)

    def __exit__(self, *exc):
        self._ctx.__exit__(*exc)


def test_wide_prsa_cnemc_and_excel(tmp_path):
    wide = write(tmp_path / "wide.csv", "time,PM2.5,SO2\n2016-01-01 00:00,inf,-inf\n"
                 "2016-01-01 01:00,1e308,3\n")
    got = flags(read_csv(wide, layout="wide", station="1001A"))
    assert got[("PM2.5", 0)][0] == got[("SO2", 0)][0] == "non_numeric"
    assert got[("PM2.5", 1)][0] == "implausible"

    prsa = write(tmp_path / "prsa.csv", PRSA_HEADER
                 + "1,2016,1,1,0,inf,1e308,-inf,4,5,6,0,0,0,0,N,1,Dongsi\n"
                 + "2,2016,1,1,1,1,2,3,4,5,6,0,0,0,0,N,1,Dongsi\n")
    got = flags(read_prsa(prsa))
    assert got[("PM2.5", 0)][0] == got[("SO2", 0)][0] == "non_numeric"
    assert got[("PM10", 0)][0] == "implausible"
    assert got[("PM2.5", 1)] == ("ok", 1.0)

    cnemc = write(tmp_path / "china_sites_20160101.csv", "date,hour,type,1001A,1002A\n"
                  "20160101,0,PM2.5,inf,1e308\n20160101,0,NO2,-inf,2\n")
    out = apply_qc(read_cnemc(cnemc))
    by = {(r.station, r.pollutant): r.flag for r in out.astype(str).itertuples()}
    assert by[("1001A", "PM2.5")] == by[("1001A", "NO2")] == "non_numeric"
    assert by[("1002A", "PM2.5")] == "implausible" and by[("1002A", "NO2")] == "ok"

    xlsx = tmp_path / "wide.xlsx"
    pd.DataFrame({"time": [dt.datetime(2016, 1, 1, 0), dt.datetime(2016, 1, 1, 1)],
                  "PM10": [1e308, 80.0]}).to_excel(xlsx, index=False)
    got = flags(read_excel(xlsx, layout="wide", station="1001A"))
    assert got[("PM10", 0)][0] == "implausible" and got[("PM10", 1)] == ("ok", 80.0)


def test_openaq_values_past_the_float_range_are_non_numeric():
    from ingest.openaq import _converted, _hourly_mean
    assert _converted(12.5, 1.88) == pytest.approx(23.5)
    assert _converted(1e308, 1880.0) is None            # ppm NO2 → µg/m³ overflows
    assert _converted(10 ** 400, 1.0) is None           # a 400-digit JSON integer
    assert _converted(float("inf"), 1.0) is None and _converted("12", 1.0) is None
    assert _converted(True, 1.0) is None
    assert _hourly_mean({"summary": {"avg": 10 ** 400}, "value": 3}) == 3


def test_stored_flags_and_statistics_exclude_them(cli, engine, tmp_path):
    from store import schema
    from store.frames import hourly_frame
    assert cli("init", "--sites", BEIJING_SITES).exit_code == 0
    path = write(tmp_path / "bad.csv", "station,time,pollutant,value\n"
                 "1003A,2016-01-01 00:00,NO2,inf\n1003A,2016-01-01 01:00,NO2,1e308\n"
                 "1003A,2016-01-01 02:00,NO2,30\n1003A,2016-01-01 03:00,NO2,-inf\n")
    result = cli("ingest", "csv", path)
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output
    h = schema.hourly.c
    with engine.connect() as conn:
        rows = conn.execute(select(h.ts, h.no2, h.no2_flag).order_by(h.ts)).all()
        counted = hourly_frame(conn, stations=["1003A"])
    assert [FLAGS[r.no2_flag] for r in rows] == ["non_numeric", "implausible", "ok",
                                                  "non_numeric"]
    assert rows[0].no2 is None and rows[3].no2 is None       # inf is never stored
    assert rows[1].no2 == 1e308
    assert counted["NO2"].tolist()[2] == 30 and counted["NO2"].isna().sum() == 3


@pytest.mark.realdata
def test_the_real_data_holds_nothing_implausible(shared_data):
    """The extremes of the real sets stay valid (Beijing O3 1,071, PM 999, CO 10 mg/m³;
    Haikou CO 11.5 mg/m³, SO2 438): the physical ceilings are far above them."""
    frames = [read_prsa(p) for p in sorted((shared_data / "beijing-multisite").glob("*.csv.gz"))]
    frames.append(read_csv(shared_data / "haikou-1410A" / "PM2.5NO2SO2O3CO_1410A.csv.gz",
                           layout="wide", station="1410A", units={"CO": "mg/m3"}))
    for frame in frames:
        out = apply_qc(frame)
        assert not (out["flag"] == "implausible").any()
        assert not (out["flag"] == "non_numeric").any() or out.loc[
            out["flag"] == "non_numeric", "value"].isna().all()
    beijing = pd.concat(frames[:-1])
    assert beijing.loc[beijing["pollutant"] == "O3", "value"].max() == 1071


# -- gas temperature --------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf"), 1e9, -273.15,
                                 60.5, -61, "warm"])
def test_gas_temperature_must_be_a_sane_finite_value(bad):
    with pytest.raises(IngestError, match="gas temperature .* not a temperature from -60 to 60"):
        reader_for("csv", gas_temperature=bad)
    with pytest.raises(IngestError, match="not a temperature from -60 to 60"):
        unit_factor("NO2", "ppb", gas_temperature_c=bad, source="x.csv")


@pytest.mark.parametrize("fine", [-60, 0, 20, 25, 60])
def test_gas_temperatures_in_range_are_taken(fine):
    _read, options = reader_for("csv", gas_temperature=fine)
    assert options["gas_temperature"] == fine
    assert unit_factor("NO2", "ppb", gas_temperature_c=fine) > 0


def test_the_upload_page_refuses_an_absurd_gas_temperature(demo_db_url, tmp_path):
    from dashboard.app import create_app
    from tests.dash_helpers import staff_client
    from tests.test_upload import _copy_demo, answer, counts, press
    app = create_app(_copy_demo(demo_db_url, tmp_path), cache_url="")
    app.server.test_client().get("/public")
    client = staff_client(app, "analyst")
    data = b"station,time,pollutant,value,unit\nSYN01,2025-07-01 00:00,NO2,20,ppb\n"
    before = counts(app)
    for gas in ("inf", "1e9", "nan"):
        text, checked = answer(press(client, app, "check", data, "ppb.csv", gas=gas))
        assert "gas temperature" in text and "-60 to 60" in text, text[:2000]
        assert checked is None
    text, checked = answer(press(client, app, "check", data, "ppb.csv", gas=25))
    assert checked is not None
    assert counts(app) == before


# -- years outside 1970–2100 ------------------------------------------------------------------

@pytest.mark.parametrize("stamp", ["1900-01-01 00:00", "1900010100", "2101-01-01 00:00",
                                   "1969-12-31 23:00", "2100-12-31 24:00"])
def test_long_csv_years_outside_are_refused_naming_file_row_column(tmp_path, stamp):
    path = write(tmp_path / "t.csv", "station,time,pollutant,value\n"
                 f"1001A,2016-01-01 00:00,NO2,1\n1001A,{stamp},NO2,1\n")
    with pytest.raises(IngestError) as info:
        read_csv(path)
    assert info.value.row == 3 and info.value.column == "time"
    assert "outside 1970–2100" in str(info.value) and str(path) in str(info.value)


def test_years_in_prsa_cnemc_excel_and_wide_files(tmp_path):
    prsa = write(tmp_path / "prsa.csv", PRSA_HEADER
                 + "1,2016,1,1,0,1,1,1,4,5,6,0,0,0,0,N,1,Dongsi\n"
                 + "2,20160,1,1,1,1,1,1,4,5,6,0,0,0,0,N,1,Dongsi\n")
    with pytest.raises(IngestError, match=r"row 3, column 'year': .*year 20160, outside"):
        read_prsa(prsa)
    cnemc = write(tmp_path / "china.csv", "date,hour,type,1001A\n19000101,0,PM2.5,1\n")
    with pytest.raises(IngestError, match=r"row 2, column 'date': .*'19000101'.*year 1900"):
        read_cnemc(cnemc)
    wide = write(tmp_path / "wide.csv", "time,NO2\n2016-01-01 00:00,1\n1900-01-01 01:00,2\n")
    with pytest.raises(IngestError, match=r"row 3, column 'time'"):
        read_csv(wide, layout="wide", station="1001A")
    typo = write(tmp_path / "typo.csv", "time,NO2\n20160-01-01 00:00,1\n")
    with pytest.raises(IngestError, match=r"row 2, column 'time': cannot read the time"):
        read_csv(typo, layout="wide", station="1001A")
    xlsx = tmp_path / "old.xlsx"
    pd.DataFrame({"time": [dt.datetime(2016, 1, 1), dt.datetime(1500, 1, 1, 1)],
                  "PM10": [1.0, 2.0]}).to_excel(xlsx, index=False)
    with pytest.raises(IngestError, match=r"row 3, column 'time': .*year 1500"):
        read_excel(xlsx, layout="wide", station="1001A")


def test_a_bad_year_stores_nothing(cli, engine, tmp_path):
    from store import schema
    assert cli("init", "--sites", BEIJING_SITES).exit_code == 0
    path = write(tmp_path / "year.csv", "station,time,pollutant,value\n"
                 "1003A,2016-01-01 00:00,NO2,1\n1003A,1900-01-01 00:00,NO2,1\n")
    result = cli("ingest", "csv", path)
    assert result.exit_code == 1 and "row 3, column 'time'" in result.output
    with engine.connect() as conn:
        assert conn.execute(select(schema.hourly.c.ts)).first() is None


# -- every CLI error: one line, exit 1 ----------------------------------------------------------

@pytest.fixture
def busy_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        yield s.getsockname()[1]


def _site(tmp_path: Path, name: str, edit) -> Path:
    data = yaml.safe_load(BEIJING_SITES.read_text(encoding="utf-8"))
    edit(data)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_bad_invocations_are_one_line_errors(cli, tmp_path, busy_port):
    assert cli("init", "--sites", BEIJING_SITES).exit_code == 0
    good = write(tmp_path / "good.csv", "station,time,pollutant,value\n"
                 + "".join(f"1003A,2015-01-0{d} {h:02d}:00,NO2,{20 + h}\n"
                           for d in (1, 2) for h in range(24)))
    assert cli("ingest", "csv", good).exit_code == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    other = tmp_path / "other"
    other.mkdir()
    write(other / "notes.md", "nothing to load\n")
    existing = write(tmp_path / "review.eml", "x")
    crlf = _site(tmp_path, "crlf.yaml",
                 lambda d: d["districts"][1].update(name_zh="西城区\r\n第二行"))
    city = _site(tmp_path, "city.yaml", lambda d: d["city"].update(name_en="Bei\njing"))
    station = _site(tmp_path, "station.yaml",
                    lambda d: d["stations"][0].update(name_en="Wan\x00shou"))
    target = _site(tmp_path, "target.yaml", lambda d: d.update(targets=[
        {"district": d["districts"][0]["id"], "pollutant": "NO2",
         "statistic": "annual_mean", "value": float("inf")}]))
    cases = [
        ("report", "weekly", "--week", "2015-W01", "--out", existing),
        ("report", "weekly", "--week", "2015-W01", "--out", existing / "sub"),
        ("report", "weekly", "--week", "xyz", "--out", tmp_path / "review"),
        ("stats", "annual", "--year", "2015", "--out", tmp_path / "missing" / "x.csv"),
        ("stats", "daily", "--from", "2015-01-01", "--to", "2015-01-02", "--out",
         tmp_path / "missing" / "x.csv"),
        ("stats", "annual", "--year", "2015", "--out", empty),
        ("stats", "annual", "--year", "abc"),
        ("stats", "annual", "--year", "20160"),
        ("stats", "annual", "--year", "2015", "--bogus"),
        ("stats", "annual", "--year", "2015", "--dust", empty),
        ("stats", "annual", "--year", "2015", "--dust", tmp_path / "no-dust.csv"),
        ("stats", "daily", "--from", "2016-13-45", "--to", "2016-12-31"),
        ("stats", "daily", "--from", "2015-01-01", "--to", "2015-01-02", "--level", "x"),
        ("rank", "--year", "abc"),
        ("targets", "--year", "2015", "--until", "2015-13-45"),
        ("demo", "--until", "2016-13-45"),
        ("serve", "--port", "99999"),
        ("serve", "--port", "0"),
        ("serve", "--port", "-1"),
        ("serve", "--port", "http"),
        ("serve", "--port", busy_port),
        ("init", "--sites", crlf),
        ("init", "--sites", city),
        ("init", "--sites", station),
        ("init", "--sites", target),
        ("init", "--sites", empty),
        ("init", "--sites", tmp_path / "no-such.yaml"),
        ("ingest", "csv"),
        ("ingest", "csv", tmp_path / "no-such.csv"),
        ("ingest", "stations", empty),
        ("ingest", "openaq", "--since", "1900-01-01", "--location", "1"),
        ("ingest", "openaq", "--since", "2016-13-45", "--location", "1"),
        ("users", "audit", "--limit", "0"),
        ("nosuchcommand",),
    ]
    for reader in ("csv", "excel", "cnemc", "prsa"):
        cases += [("ingest", reader, empty), ("ingest", reader, other)]
    for gas in ("nan", "inf", "1e9", "-300", "warm"):
        cases.append(("ingest", "csv", good, "--gas-temperature", gas))
    for args in cases:
        result = cli(*args)
        shown = " ".join(map(str, args))
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert result.exit_code == 1, f"{shown}: exit {result.exit_code}: {result.output}"
        assert len(lines) == 1 and lines[0].startswith("error: "), f"{shown}: {result.output}"
        assert "Traceback" not in result.output, shown
    # what some of them say
    assert "districts[1].name_zh" in cli("init", "--sites", crlf).output
    assert "targets[0].value" in cli("init", "--sites", target).output
    assert "no .csv, .csv.gz, .txt files found" in cli("ingest", "csv", other).output
    assert "already in use" in cli("serve", "--port", busy_port).output
    assert "is a file, not a folder" in cli("report", "weekly", "--week", "2015-W01", "--out",
                                            existing).output


# -- users list, site files -------------------------------------------------------------------

def test_users_list_shows_no_nan_scope(cli, engine):
    from store.users import add_user
    assert cli("init", "--sites", BEIJING_SITES).exit_code == 0
    with engine.begin() as conn:
        add_user(conn, "everywhere", "a-long-password-1", "viewer", actor="tests")
        add_user(conn, "dongcheng-only", "a-long-password-2", "viewer", city="beijing",
                 district="dongcheng", actor="tests")
    result = cli("users", "list")
    assert result.exit_code == 0
    assert "nan" not in result.output
    assert "beijing/dongcheng" in result.output.replace("│", "").replace(" ", "") or \
        "beijing/dong" in result.output


def _config(**changes) -> dict:
    data = {"city": {"id": "c", "name_zh": "城", "name_en": "City"},
            "districts": [{"id": "d", "name_zh": "区", "name_en": "District"}],
            "stations": [{"code": "1001A", "name_zh": "站", "name_en": "Station",
                          "district": "d", "aliases": ["Alias"]}],
            "targets": [], "recipients": {"city": [{"email": "a@example.org", "name": "A"}]}}
    for where, value in changes.items():
        section, _, key = where.partition("__")
        target = data[section][0] if isinstance(data[section], list) else data[section]
        target[key] = value
    return data


@pytest.mark.parametrize("where,key", [
    ("city__name_zh", "city.name_zh"), ("city__name_en", "city.name_en"),
    ("districts__name_zh", "districts[0].name_zh"),
    ("districts__name_en", "districts[0].name_en"),
    ("stations__name_zh", "stations[0].name_zh"), ("stations__name_en", "stations[0].name_en")])
@pytest.mark.parametrize("bad", ["东城\r\n区", "Dong\ncheng", "Dong\tcheng", "Dong\x00",
                                 "Dong\u2028cheng", "\u202eDong"])
def test_names_with_control_characters_are_refused(where, key, bad):
    with pytest.raises(ConfigError) as info:
        parse_site_config(_config(**{where: bad}), Path("site.yaml"))
    text = str(info.value)
    assert f"{key}: " in text and "control character" in text
    assert "\n" not in text and "\r" not in text


def test_aliases_notes_and_recipient_names_are_checked_too():
    data = _config(stations__aliases=["ok", "bad\nalias"])
    with pytest.raises(ConfigError, match=r"stations\[0\].aliases"):
        parse_site_config(data, Path("s.yaml"))
    data = _config()
    data["recipients"]["city"][0]["name"] = "A\r\nB"
    with pytest.raises(ConfigError, match=r"recipients.city\[0\].name"):
        parse_site_config(data, Path("s.yaml"))
    data = _config()
    data["targets"] = [{"district": "d", "pollutant": "NO2", "statistic": "annual_mean",
                        "value": 30, "note": "line\nbreak"}]
    with pytest.raises(ConfigError, match=r"targets\[0\].note"):
        parse_site_config(data, Path("s.yaml"))
    parse_site_config(_config(), Path("s.yaml"))             # the clean file loads


@pytest.mark.parametrize("pollutant,statistic,value", [
    ("NO2", "annual_mean", float("inf")), ("NO2", "annual_mean", float("nan")),
    ("NO2", "annual_mean", "inf"), ("NO2", "annual_mean", -5), ("NO2", "annual_mean", 0),
    ("PM2.5", "annual_mean", 1e9), ("CO", "p95_daily", 500), ("O3", "p90_mda8", 1e308),
    ("ALL", "exceedance_days", 400), ("AQI", "heavy_days", -1),
    ("AQI", "good_day_ratio", 150), ("ALL", "composite_index", 0),
    ("NO2", "annual_mean", True), ("NO2", "annual_mean", "thirty")])
def test_absurd_target_values_are_refused_naming_the_entry(pollutant, statistic, value):
    data = _config()
    data["targets"] = [{"district": "d", "pollutant": "NO2", "statistic": "annual_mean",
                        "value": 30},
                       {"district": "d", "pollutant": pollutant, "statistic": statistic,
                        "value": value}]
    with pytest.raises(ConfigError, match=r"targets\[1\]\.value"):
        parse_site_config(data, Path("s.yaml"))


@pytest.mark.parametrize("pollutant,statistic,value", [
    ("NO2", "annual_mean", 37), ("CO", "p95_daily", 4), ("AQI", "heavy_days", 0),
    ("AQI", "good_day_ratio", 80.5), ("ALL", "composite_index", 4.5),
    ("ALL", "exceedance_days", 366)])
def test_sane_target_values_load(pollutant, statistic, value):
    data = _config()
    data["targets"] = [{"district": "d", "pollutant": pollutant, "statistic": statistic,
                        "value": value}]
    assert parse_site_config(data, Path("s.yaml")).targets[0].value == value


def test_the_shipped_site_files_still_load():
    from config.sites import load_site_config
    loaded = {path.name: load_site_config(path)
              for path in sorted(BEIJING_SITES.parent.glob("*.yaml"))}
    assert sorted(loaded) == ["beijing.yaml", "yangquan.yaml"]
    beijing, demo = loaded["beijing.yaml"], loaded["yangquan.yaml"]
    assert (beijing.city.id, beijing.city.synthetic) == ("beijing", False)
    assert [s.code for s in beijing.stations] == [f"{n}A" for n in range(1001, 1013)]
    assert len(beijing.districts) == 8 and len(beijing.targets) == 0
    assert (demo.city.id, demo.city.synthetic) == ("yangquan-demo", True)
    assert [s.code for s in demo.stations] == [f"SYN{n:02d}" for n in range(1, 10)]
    assert (len(demo.districts), len(demo.targets)) == (6, 12)


# -- the dashboard names the new flag ----------------------------------------------------------

def test_every_flag_has_a_zh_and_en_label_and_implausible_is_drawn_at_zero():
    from dashboard.figures.station import flag_label, hourly_series
    from dashboard.i18n import catalog
    assert all(f"qc.flag.{flag}" in catalog(lang) for flag in FLAGS for lang in ("zh", "en"))
    assert (flag_label("implausible", "zh"), flag_label("implausible", "en")) == \
        ("超出物理上限", "above the physical ceiling")
    readings = pd.DataFrame({"time": pd.date_range("2016-01-01", periods=3, freq="h"),
                             "NO2": [20.0, 1e308, 22.0],
                             "NO2_flag": ["ok", "implausible", "ok"]})
    fig = hourly_series(readings, pollutant="NO2", start="2016-01-01", end="2016-01-01",
                        unit="µg/m³", excluded=tuple(load_rules().excluded), lang="en")
    marker = [t for t in fig.data if str(t.name).startswith("above the physical ceiling")]
    assert len(marker) == 1 and list(marker[0].y) == [0.0]
    assert "1e+308" in str(marker[0].customdata[0])
