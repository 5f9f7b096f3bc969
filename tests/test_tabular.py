"""Generic CSV and Excel readers (ingest.csvfile, ingest.excel, ingest.layouts)."""
from __future__ import annotations

import datetime as dt
import gzip
import io

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from ingest.csvfile import read_csv
from ingest.errors import IngestError
from ingest.excel import read_excel
from ingest.frame import COLUMNS, MOLAR_MASS
from ingest.qc import FLAG_CODE

from .conftest import BEIJING_SITES, TEST_DATA

DATA = TEST_DATA / "tabular"
HAIKOU = "haikou-1410A/PM2.5NO2SO2O3CO_1410A.csv.gz"
NO2_PPB_25C = 46.0055 / 24.465  # µg/m³ per ppb at 25 °C, 1013.25 hPa (≈ 1.8804)


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


def value(frame, station, time, pollutant):
    sel = frame[(frame["station"] == station) & (frame["time"] == ts(time))
                & (frame["pollutant"] == pollutant)]
    assert len(sel) >= 1, f"no {station} {time} {pollutant} in the frame"
    return sel.iloc[0]


def write(path, text: str, encoding: str = "utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def xlsx(path, rows, title="Sheet1", extra_sheets=None):
    from openpyxl import Workbook
    wb = Workbook()
    ws = wb.active
    ws.title = title
    for row in rows:
        ws.append(row)
    for name, sheet_rows in (extra_sheets or {}).items():
        other = wb.create_sheet(name)
        for row in sheet_rows:
            other.append(row)
    wb.save(path)
    return path


# --------------------------------------------------------------------------- long CSV

def test_long_csv_values_aliases_units_and_skipped_rows():
    frame = read_csv(DATA / "long.csv")
    assert list(frame.columns) == COLUMNS + ["row"]
    assert str(frame["time"].dtype) == "datetime64[s]"
    assert frame.attrs["rows_read"] == 13
    assert frame.attrs["skipped_rows"] == 2
    assert frame.attrs["skipped_pollutants"] == ["AQI", "TEMP"]
    assert len(frame) == 11
    assert set(frame["pollutant"]) == {"PM2.5", "NO2", "CO", "SO2", "PM10", "O3"}

    pm = frame[(frame["station"] == "1001A") & (frame["pollutant"] == "PM2.5")]
    assert pm["value"].tolist() == [35.0, 35.0]          # PM25 and pm2_5
    assert pm["row"].tolist() == [2, 3]                  # lines in the file
    no2 = value(frame, "1001A", "2024-01-01 00:00", "NO2")  # 二氧化氮, empty unit cell
    assert no2["value"] == 41.5 and no2["unit"] == "µg/m3" and no2["row"] == 4
    co = value(frame, "1001A", "2024-01-01 00:00", "CO")   # 300 ug/m3 → exactly 0.3 mg/m3
    assert co["value"] == 0.3 and co["unit"] == "mg/m3"
    assert value(frame, "1001A", "2024-01-01 01:00", "CO")["value"] == 0.8
    so2 = value(frame, "1001A", "2024-01-01 01:00", "SO2")  # text "故障"
    assert so2["flag"] == "non_numeric" and np.isnan(so2["value"])
    pm10 = value(frame, "1001A", "2024-01-01 01:00", "PM10")
    assert pm10["flag"] == "missing" and np.isnan(pm10["value"])
    assert value(frame, "1003A", "2024-01-01 00:00", "O3")["value"] == 62.0
    assert value(frame, "1003A", "2024-01-01 01:00", "PM2.5")["value"] == pytest.approx(42.0)
    assert value(frame, "1003A", "2024-01-01 01:00", "CO")["value"] == 1.1  # 一氧化碳
    assert (frame.loc[frame["flag"] == "ok", "value"] > 0).all()


def test_long_unit_override_applies_only_without_a_unit_cell(tmp_path):
    path = write(tmp_path / "no_unit.csv", "station,time,pollutant,value\n"
                 "1001A,2024-01-01 00:00,CO,9\n1001A,2024-01-01 00:00,NO2,40\n")
    frame = read_csv(path, units={"CO": "ug/m3"})
    assert value(frame, "1001A", "2024-01-01 00:00", "CO")["value"] == 9 / 1000  # not 9 * 0.001
    assert value(frame, "1001A", "2024-01-01 00:00", "NO2")["value"] == 40.0

    # Unit column present: a filled cell wins; an empty cell takes the --unit override.
    path = write(tmp_path / "units.csv", "station,time,pollutant,value,unit\n"
                 "1001A,2024-01-01 00:00,CO,0.5,mg/m3\n1001A,2024-01-01 01:00,CO,700,\n")
    with pytest.raises(IngestError) as exc:
        read_csv(path, units={"CO": "µg/m3"})
    assert exc.value.row == 2 and exc.value.column == "unit"
    assert "contradicts --unit CO=µg/m3" in str(exc.value)
    path = write(tmp_path / "units2.csv", "station,time,pollutant,value,unit\n"
                 "1001A,2024-01-01 00:00,CO,500,µg/m3\n1001A,2024-01-01 01:00,CO,700,\n")
    frame = read_csv(path, units={"CO": "ug/m3"})
    assert frame["value"].tolist() == [0.5, 0.7]


def test_long_ppb_needs_gas_temperature(tmp_path):
    path = write(tmp_path / "ppb.csv", "station,time,pollutant,value,unit\n"
                 "1001A,2024-01-01 00:00,NO2,10,ppb\n1001A,2024-01-01 00:00,CO,1,ppm\n")
    with pytest.raises(IngestError) as exc:
        read_csv(path)
    assert exc.value.row == 2 and exc.value.column == "unit"
    assert "gas temperature" in str(exc.value)
    frame = read_csv(path, gas_temperature_c=25)
    assert value(frame, "1001A", "2024-01-01 00:00", "NO2")["value"] == pytest.approx(
        10 * NO2_PPB_25C, rel=1e-4)
    # CO ppm → mg/m³: 28.010 / 24.465 ≈ 1.1449
    assert value(frame, "1001A", "2024-01-01 00:00", "CO")["value"] == pytest.approx(
        MOLAR_MASS["CO"] / 24.465, rel=1e-4)


def test_long_station_option_and_numeric_codes(tmp_path):
    path = write(tmp_path / "one.csv", "time,pollutant,value\n2024-01-01 00:00,O3,50\n")
    with pytest.raises(IngestError) as exc:
        read_csv(path)
    assert "missing column(s) station" in str(exc.value) and exc.value.row == 1
    frame = read_csv(path, station="1001A")
    assert frame["station"].tolist() == ["1001A"]
    # Codes that look like numbers stay text (leading zeros kept).
    path = write(tmp_path / "codes.csv", "station,time,pollutant,value\n"
                 "0101,2024-01-01 00:00,O3,50\n")
    assert read_csv(path)["station"].tolist() == ["0101"]
    path = write(tmp_path / "other.csv", "station,time,pollutant,value\n"
                 "1002A,2024-01-01 00:00,O3,50\n")
    with pytest.raises(IngestError) as exc:
        read_csv(path, station="1001A")
    assert exc.value.row == 2 and exc.value.column == "station"


def test_long_unknown_pollutant_names_row_and_column(tmp_path):
    path = write(tmp_path / "bad.csv", "station,time,pollutant,value\n"
                 "1001A,2024-01-01 00:00,NO2,40\n1001A,2024-01-01 00:00,benzene,3\n")
    with pytest.raises(IngestError) as exc:
        read_csv(path)
    assert exc.value.row == 3 and exc.value.column == "pollutant"
    assert "unknown pollutant 'benzene'" in str(exc.value)


def test_long_rolling_averages_and_weather_are_skipped(tmp_path):
    path = write(tmp_path / "cnemc_like.csv", "station,time,pollutant,value\n"
                 "1001A,2024-01-01 00:00,PM2.5_24h,40\n1001A,2024-01-01 00:00,O3_8h,90\n"
                 "1001A,2024-01-01 00:00,湿度,60\n1001A,2024-01-01 00:00,wd,NE\n"
                 "1001A,2024-01-01 00:00,PM2.5,33\n")
    frame = read_csv(path)
    assert frame.attrs["skipped_rows"] == 4
    assert frame[["pollutant", "value"]].values.tolist() == [["PM2.5", 33.0]]


# --------------------------------------------------------------------------- wide CSV

def test_wide_csv_chinese_headers_units_and_hour_ending():
    frame = read_csv(DATA / "wide_zh.csv", layout="wide", station="1410A",
                     hour_label="ending", gas_temperature_c=25)
    assert frame.attrs["rows_read"] == 3
    assert frame.attrs["ignored_columns"] == ["温度", "AQI"]
    assert frame.attrs["units"]["NO2"] == "ppb" and frame.attrs["units"]["CO"] == "mg/m3"
    assert set(frame["station"]) == {"1410A"}
    times = sorted(set(frame["time"]))
    # Hour-ending 01:00, 02:00 and 24:00 are the hours starting 00:00, 01:00, 23:00.
    assert times == [ts("2024-03-01 00:00"), ts("2024-03-01 01:00"), ts("2024-03-01 23:00")]
    assert value(frame, "1410A", "2024-03-01 00:00", "PM2.5")["value"] == 12.0
    assert value(frame, "1410A", "2024-03-01 00:00", "SO2")["value"] == 5.0   # 二氧化硫
    assert value(frame, "1410A", "2024-03-01 00:00", "CO")["value"] == 0.571
    assert value(frame, "1410A", "2024-03-01 23:00", "CO")["value"] == 0.7
    assert value(frame, "1410A", "2024-03-01 00:00", "NO2")["value"] == pytest.approx(
        10 * NO2_PPB_25C, rel=1e-4)
    assert value(frame, "1410A", "2024-03-01 01:00", "NO2")["value"] == pytest.approx(37.6087,
                                                                                   rel=1e-4)
    assert value(frame, "1410A", "2024-03-01 01:00", "PM10")["flag"] == "missing"   # —
    assert value(frame, "1410A", "2024-03-01 23:00", "SO2")["flag"] == "missing"    # 无数据
    pm = frame[frame["pollutant"] == "PM2.5"].sort_values("time")
    assert pm["row"].tolist() == [2, 3, 4]


def test_wide_unit_override_beats_header_unit(tmp_path):
    path = write(tmp_path / "w.csv", "datetime,CO_mg/m3,PM10\n2024-01-01 00:00,300,50\n"
                 "2024-01-01 01:00,9,51\n")
    frame = read_csv(path, layout="wide", station="S1", units={"CO": "µg/m3"})
    co = frame[frame["pollutant"] == "CO"]["value"].tolist()
    assert co == [0.3, 9 / 1000]
    frame = read_csv(path, layout="wide", station="S1")   # header unit mg/m3
    assert frame[frame["pollutant"] == "CO"]["value"].tolist() == [300.0, 9.0]


def test_wide_ppb_without_temperature_fails(tmp_path):
    path = write(tmp_path / "w.csv", "time,NO2\n2024-01-01 00:00,10\n")
    with pytest.raises(IngestError, match="gas temperature"):
        read_csv(path, layout="wide", station="S1", units={"NO2": "ppb"})
    frame = read_csv(path, layout="wide", station="S1", units={"NO2": "ppb"},
                     gas_temperature_c=25)
    assert frame["value"].iloc[0] == pytest.approx(18.804, rel=1e-4)


def test_wide_errors(tmp_path):
    path = write(tmp_path / "w.csv", "time,NO2\n2024-01-01 00:00,10\n")
    with pytest.raises(IngestError, match="--station"):
        read_csv(path, layout="wide")
    path = write(tmp_path / "notime.csv", "when,NO2\n2024-01-01 00:00,10\n")
    with pytest.raises(IngestError, match="no time column"):
        read_csv(path, layout="wide", station="S1")
    path = write(tmp_path / "twice.csv", "time,NO2,二氧化氮\n2024-01-01 00:00,10,10\n")
    with pytest.raises(IngestError, match="both NO2"):
        read_csv(path, layout="wide", station="S1")
    path = write(tmp_path / "none.csv", "time,TEMP\n2024-01-01 00:00,10\n")
    with pytest.raises(IngestError, match="no pollutant columns"):
        read_csv(path, layout="wide", station="S1")
    path = write(tmp_path / "header.csv", "time,NO2\n")
    with pytest.raises(IngestError, match="no data rows"):
        read_csv(path, layout="wide", station="S1")


# --------------------------------------------------------------------------- times

@pytest.mark.parametrize("text, expected", [
    ("2024-01-01 05:00", "2024-01-01 05:00"),
    ("2024-01-01 05:00:00", "2024-01-01 05:00"),
    ("2024/01/01 05:00", "2024-01-01 05:00"),
    ("2024/1/1 5:00", "2024-01-01 05:00"),
    ("2024-01-01T05:00:00", "2024-01-01 05:00"),
    ("2024010105", "2024-01-01 05:00"),
    ("2024-01-01 24:00", "2024-01-02 00:00"),
    ("2024-01-01 05:00+08:00", "2024-01-01 05:00"),
    ("2024-01-01T05:00:00Z", "2024-01-01 13:00"),          # UTC → China Standard Time
    ("2024-01-01 05:00:00+0000", "2024-01-01 13:00"),
    ("2024-01-01 20:00-05:00", "2024-01-02 09:00"),
])
def test_time_formats(tmp_path, text, expected):
    path = write(tmp_path / "t.csv", f"time,O3\n{text},50\n")
    frame = read_csv(path, layout="wide", station="S1")
    assert frame["time"].tolist() == [ts(expected)]


def test_mixed_time_formats_in_one_file(tmp_path):
    path = write(tmp_path / "t.csv", "time,O3\n2024-01-01 23:00,1\n2024-01-01 24:00,2\n"
                 "2024/01/02 01:00,3\n")
    frame = read_csv(path, layout="wide", station="S1", hour_label="ending")
    assert frame["time"].tolist() == [ts("2024-01-01 22:00"), ts("2024-01-01 23:00"),
                                      ts("2024-01-02 00:00")]


@pytest.mark.parametrize("text, problem", [
    ("01/05/2024 05:00", "cannot read the time"),
    ("yesterday", "cannot read the time"),
    ("2024-01-01", "cannot read the time"),
    ("2024-02-30 05:00", "not a real date"),
    ("2024-01-01 25:00", "not a real date"),
    ("2024-01-01 24:30", "not a real date"),
    ("2024-01-01 05:30", "not on the hour"),
    ("2024-01-01 05:00+05:30", "not on the hour"),
])
def test_bad_times_name_row_and_column(tmp_path, text, problem):
    path = write(tmp_path / "t.csv", f"datetime,O3\n2024-01-01 00:00,1\n{text},2\n")
    with pytest.raises(IngestError) as exc:
        read_csv(path, layout="wide", station="S1")
    assert problem in str(exc.value)
    assert exc.value.row == 3 and exc.value.column == "datetime"


def test_empty_time_with_values_is_an_error_but_blank_rows_are_skipped(tmp_path):
    path = write(tmp_path / "t.csv", "time,O3\n2024-01-01 00:00,1\n,\n \" \",\n2024-01-01 01:00,2\n")
    frame = read_csv(path, layout="wide", station="S1")
    assert frame["value"].tolist() == [1.0, 2.0] and frame["row"].tolist() == [2, 5]
    path = write(tmp_path / "t2.csv", "time,O3\n2024-01-01 00:00,1\n,7\n")
    with pytest.raises(IngestError) as exc:
        read_csv(path, layout="wide", station="S1")
    assert exc.value.row == 3 and "empty" in str(exc.value)


# --------------------------------------------------------------------------- encodings, gzip

def test_gzip_and_gbk(tmp_path):
    text = "站点,时间,污染物,浓度,单位\n1001A,2024-01-01 00:00,二氧化硫,8,微克/立方米\n"
    gz = tmp_path / "long.csv.gz"
    gz.write_bytes(gzip.compress(text.replace("微克/立方米", "µg/m3").encode("utf-8")))
    frame = read_csv(gz)
    assert frame[["station", "pollutant", "value"]].values.tolist() == [["1001A", "SO2", 8.0]]
    gbk = write(tmp_path / "gbk.csv", text.replace(",单位", "").replace(",微克/立方米", ""), "gbk")
    assert read_csv(gbk)["value"].tolist() == [8.0]
    wide = write(tmp_path / "wide_gbk.csv", "时间,PM10(微克/立方米),CO(毫克/立方米)\n"
                 "2024-01-01 00:00,70,1.2\n", "gb18030")
    frame = read_csv(wide, layout="wide", station="S1")
    assert frame[["pollutant", "value"]].values.tolist() == [["PM10", 70.0], ["CO", 1.2]]


# --------------------------------------------------------------------------- Excel

def test_excel_wide_with_datetimes(tmp_path):
    path = xlsx(tmp_path / "w.xlsx", [
        ["时间", "PM2.5(μg/m³)", "CO(μg/m³)", "NO2", "备注"],
        [dt.datetime(2024, 1, 1, 1), 35, 300, 40, "ok"],
        [dt.datetime(2024, 1, 1, 1, 59, 59, 999999), "仪器故障", 9, None, None],  # Excel noise
        ["2024-01-01 03:00", 40, None, 42.5, None],                              # a text cell
    ])
    frame = read_excel(path, layout="wide", station="1001A", hour_label="ending")
    assert frame.attrs["ignored_columns"] == ["备注"]
    assert frame.attrs["rows_read"] == 3
    assert sorted(set(frame["time"])) == [ts("2024-01-01 00:00"), ts("2024-01-01 01:00"),
                                          ts("2024-01-01 02:00")]
    co = frame[frame["pollutant"] == "CO"].sort_values("time")
    assert co["value"].tolist()[:2] == [0.3, 9 / 1000]
    assert co["flag"].tolist() == ["ok", "ok", "missing"]
    pm = value(frame, "1001A", "2024-01-01 01:00", "PM2.5")
    assert pm["flag"] == "non_numeric" and pm["row"] == 3
    assert value(frame, "1001A", "2024-01-01 02:00", "NO2")["value"] == 42.5


def test_excel_long_sheet_by_name_with_header_not_on_row_one(tmp_path):
    path = xlsx(tmp_path / "l.xlsx", [["ignored first sheet"]], extra_sheets={"readings": [
        [],
        ["Station", "Time", "Pollutant", "Value", "Unit"],
        [1001, dt.datetime(2024, 1, 1, 0), "pm25", 12, "µg/m3"],
        ["1003A", dt.datetime(2024, 1, 1, 0), "CO", 800, "ug/m3"],
        ["1003A", dt.datetime(2024, 1, 1, 0), "AQI", 50, None],
        ["1003A", "2024-01-01 01:00", "nitrogen dioxide", 20, None],
    ]})
    frame = read_excel(path, layout="long", sheet="readings")
    assert frame["station"].tolist() == ["1001", "1003A", "1003A"]
    assert frame["pollutant"].tolist() == ["PM2.5", "CO", "NO2"]
    assert frame["value"].tolist() == [12.0, 0.8, 20.0]
    assert frame["row"].tolist() == [3, 4, 6]
    assert frame.attrs["skipped_rows"] == 1
    assert read_excel(path, layout="long", sheet=1)["value"].tolist() == [12.0, 0.8, 20.0]


def test_excel_errors(tmp_path):
    not_zip = write(tmp_path / "a.xlsx", "time,O3\n2024-01-01 00:00,1\n")
    with pytest.raises(IngestError, match="not an .xlsx workbook"):
        read_excel(not_zip, layout="wide", station="S1")
    xls = tmp_path / "old.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512)
    with pytest.raises(IngestError, match="old binary .xls"):
        read_excel(xls, layout="wide", station="S1")
    import zipfile
    with zipfile.ZipFile(tmp_path / "z.xlsx", "w") as zf:
        zf.writestr("data.csv", "a,b\n")
    with pytest.raises(IngestError, match="cannot open the workbook"):
        read_excel(tmp_path / "z.xlsx", layout="wide", station="S1")
    empty = xlsx(tmp_path / "e.xlsx", [])
    with pytest.raises(IngestError, match="the sheet is empty"):
        read_excel(empty, layout="long")
    header_only = xlsx(tmp_path / "h.xlsx", [["station", "time", "pollutant", "value"]])
    with pytest.raises(IngestError, match="no data rows"):
        read_excel(header_only, layout="long")
    missing = xlsx(tmp_path / "m.xlsx", [["station", "time", "value"],
                                         ["1001A", dt.datetime(2024, 1, 1), 3]])
    with pytest.raises(IngestError) as exc:
        read_excel(missing, layout="long")
    assert "missing column(s) pollutant" in str(exc.value) and exc.value.row == 1
    with pytest.raises(IngestError, match="no sheet named 'x'"):
        read_excel(missing, layout="long", sheet="x")
    with pytest.raises(IngestError, match="no such file"):
        read_excel(tmp_path / "absent.xlsx", layout="long")


# --------------------------------------------------------------------------- CLI + database

def _hourly(db_url):
    from store import schema
    from store.db import make_engine
    eng = make_engine(db_url)
    with eng.connect() as conn:
        rows = conn.execute(select(schema.stations.c.code, schema.hourly)
                            .join(schema.stations,
                                  schema.stations.c.id == schema.hourly.c.station_id)).mappings()
        frame = pd.DataFrame(rows.all())
    eng.dispose()
    return frame


def _status(cli) -> pd.DataFrame:
    result = cli("status", "--format", "csv")
    assert result.exit_code == 0, result.output
    return pd.read_csv(io.StringIO(result.stdout), dtype={"station": "str"})


def test_cli_long_csv_text_value_is_flagged_not_fatal(cli, db_url):
    assert cli("init", "--sites", BEIJING_SITES).exit_code == 0
    result = cli("ingest", "csv", DATA / "long.csv")
    assert result.exit_code == 0, result.output
    # 11 readings: 2 identical duplicates (PM25/pm2_5, O3/Ozone) collapse; 1 missing.
    assert "8 readings read, 8 new" in result.output
    assert "identical duplicate readings ignored" in result.output
    stored = _hourly(db_url)
    row = stored[(stored["code"] == "1001A") & (stored["ts"] == ts("2024-01-01 01:00"))].iloc[0]
    assert pd.isna(row["so2"]) and row["so2_flag"] == FLAG_CODE["non_numeric"]
    assert row["co"] == 0.8 and row["pm10_flag"] == FLAG_CODE["missing"]
    first = stored[(stored["code"] == "1001A") & (stored["ts"] == ts("2024-01-01 00:00"))].iloc[0]
    assert first["co"] == 0.3 and first["no2"] == 41.5 and first["pm25"] == 35.0
    status = _status(cli)
    so2 = status[(status["station"] == "1001A") & (status["pollutant"] == "SO2")].iloc[0]
    assert so2["readings"] == 0 and so2["flagged"] == 1      # kept, flagged, not counted
    again = cli("ingest", "csv", DATA / "long.csv")
    assert again.exit_code == 0 and "0 new" in again.output


def test_cli_wide_csv_and_excel(cli, db_url, tmp_path):
    assert cli("init", "--sites", BEIJING_SITES).exit_code == 0
    result = cli("ingest", "csv", DATA / "wide_zh.csv", "--layout", "wide")
    assert result.exit_code == 1 and "--station" in result.output
    result = cli("ingest", "csv", DATA / "wide_zh.csv", "--layout", "wide", "--station", "1410A",
                 "--hour-label", "ending")
    assert result.exit_code == 1 and "needs the gas temperature" in result.output
    result = cli("ingest", "csv", DATA / "wide_zh.csv", "--layout", "wide", "--station", "1410A",
                 "--hour-label", "ending", "--gas-temperature", "25")
    assert result.exit_code == 0, result.output
    stored = _hourly(db_url).set_index("ts")
    assert stored.loc[ts("2024-03-01 23:00"), "co"] == 0.7
    assert stored.loc[ts("2024-03-01 00:00"), "no2"] == pytest.approx(10 * NO2_PPB_25C, rel=1e-4)

    book = xlsx(tmp_path / "w.xlsx", [["datetime", "CO", "PM10"],
                                      [dt.datetime(2024, 3, 2, 0), 450, 60]])
    result = cli("ingest", "excel", book, "--layout", "wide", "--station", "1003A",
                 "--unit", "CO=ug/m3")
    assert result.exit_code == 0, result.output
    stored = _hourly(db_url)
    row = stored[stored["code"] == "1003A"].iloc[0]
    assert row["ts"] == ts("2024-03-02 00:00") and row["co"] == 0.45 and row["pm10"] == 60.0
    result = cli("ingest", "excel", DATA / "long.csv")
    assert result.exit_code == 1 and "not an .xlsx workbook" in result.output


def test_cli_conflicting_duplicate_names_the_row(cli, tmp_path):
    assert cli("init").exit_code == 0
    path = write(tmp_path / "dup.csv", "station,time,pollutant,value\n"
                 "1001A,2024-01-01 00:00,NO2,40\n1001A,2024-01-01 00:00,no2,41\n")
    result = cli("ingest", "csv", path)
    assert result.exit_code == 1
    assert "row 3" in result.output and "given twice with different values" in result.output


@pytest.mark.realdata
def test_haikou_wide_csv_acceptance(cli, db_url, shared_data):
    path = shared_data / HAIKOU
    source = pd.read_csv(path)
    assert len(source) == 75_664
    expected = {"PM2.5": "pm25", "O3": "o3", "NO2": "no2", "CO": "co", "SO2": "so2"}
    counts = {p: int(source[p].notna().sum()) for p in expected}

    assert cli("init", "--sites", BEIJING_SITES).exit_code == 0
    args = ("ingest", "csv", path, "--layout", "wide", "--station", "1410A", "--unit", "CO=mg/m3")
    result = cli(*args)
    assert result.exit_code == 0, result.output
    assert "unknown station code(s) 1410A created" in result.stderr
    assert f"{sum(counts.values()):,} readings read, {sum(counts.values()):,} new" in result.output

    stored = _hourly(db_url)
    assert set(stored["code"]) == {"1410A"}
    assert len(stored) == 75_664
    for pollutant, col in expected.items():
        assert int(stored[col].notna().sum()) == counts[pollutant], pollutant
    stored = stored.sort_values("ts")
    assert stored["ts"].iloc[0] == ts("2014-05-13 00:00")
    assert stored["ts"].iloc[-1] == ts("2023-03-30 23:00")
    assert stored["co"].iloc[0] == 0.571
    assert stored["pm10"].isna().all()

    from store import schema
    from store.db import make_engine
    eng = make_engine(db_url)
    with eng.connect() as conn:
        origin = conn.execute(select(schema.stations.c.origin, schema.stations.c.district_id)
                              .where(schema.stations.c.code == "1410A")).one()
    eng.dispose()
    assert origin == ("ingest", None)

    again = cli(*args)
    assert again.exit_code == 0, again.output
    assert "0 new, 0 changed" in again.output and "nothing new to store" in again.output

    status = _status(cli)
    assert list(status.columns) == ["station", "pollutant", "readings", "first", "last", "flagged"]
    haikou = status[status["station"] == "1410A"].set_index("pollutant")
    assert sorted(haikou.index) == sorted(expected)
    for pollutant in expected:
        # No value of this file is negative or text, so every stored reading counts.
        assert haikou.loc[pollutant, "readings"] == counts[pollutant]
        first = source.loc[source[pollutant].notna(), "datetime"].iloc[0]
        last = source.loc[source[pollutant].notna(), "datetime"].iloc[-1]
        assert haikou.loc[pollutant, "first"] == first[:16]
        assert haikou.loc[pollutant, "last"] == last[:16]
