"""The national platform's daily files (``ingest cnemc``) and station list (``ingest stations``).

The daily files under tests/data/cnemc/ are hand-made fixtures following the
documented layout (see tests/data/cnemc/README.md); the station list tests on
the real NewSiteList.csv need ../shared/data and skip without it.
"""
from __future__ import annotations

import csv
import gzip
import shutil
import warnings
from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from ingest.cnemc import daily_files, read_cnemc, read_station_list
from ingest.errors import IngestError
from ingest.loader import UnknownStationsWarning, load_file
from ingest.qc import FLAG_CODE
from store import schema
from store.station_list import sync_station_list

from .conftest import BEIJING_SITES, TEST_DATA

CNEMC = TEST_DATA / "cnemc"
DAY1 = CNEMC / "china_sites_20150101.csv"   # hours 0–2
DAY2 = CNEMC / "china_sites_20150102.csv"   # hours 0–1
HOURLY = ("PM2.5", "PM10", "SO2", "NO2", "O3", "CO")
DERIVED = ("AQI", "PM2.5_24h", "PM10_24h", "SO2_24h", "NO2_24h", "O3_24h", "O3_8h",
           "O3_8h_24h", "CO_24h")
STATIONS = ("1003A", "1011A", "1410A")
# Readings with a value per station and pollutant over both fixture files (5 hours):
# empty cells 1410A PM10 and PM2.5, 1011A CO, 1003A NO2; text cell 1003A SO2 (non_numeric).
EXPECTED_COUNTS = {
    "1003A": {"PM2.5": 5, "PM10": 5, "SO2": 4, "NO2": 4, "O3": 5, "CO": 5},
    "1011A": {"PM2.5": 5, "PM10": 5, "SO2": 5, "NO2": 5, "O3": 5, "CO": 4},
    "1410A": {"PM2.5": 4, "PM10": 4, "SO2": 5, "NO2": 5, "O3": 5, "CO": 5},
}
SITE_LIST_HEADER = "监测点编码,监测点名称,城市,经度,纬度,对照点,省级行政区,地级行政区"


def file_cells(*paths) -> dict[tuple[str, datetime, str], str]:
    """(station, hour start, type) → cell text, parsed independently with the csv module."""
    cells = {}
    for path in paths:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        header = rows[0]
        for row in rows[1:]:
            start = datetime.strptime(row[0], "%Y%m%d").replace(hour=int(row[1]))
            for code, text in zip(header[3:], row[3:]):
                cells[(code, start, row[2])] = text
    return cells


def stored(engine) -> pd.DataFrame:
    """All hourly rows with station codes, one row per station-hour."""
    h, s = schema.hourly, schema.stations
    with engine.connect() as conn:
        rows = conn.execute(select(s.c.code, h).join(s, s.c.id == h.c.station_id)
                            .order_by(s.c.code, h.c.ts)).mappings().all()
    return pd.DataFrame([dict(r) for r in rows])


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def station_rows(engine) -> dict[str, dict]:
    with engine.connect() as conn:
        return {r["code"]: dict(r) for r in conn.execute(select(schema.stations)).mappings()}


def write(path, text: str, encoding: str = "utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def edited_day1(tmp_path, old: str, new: str, name: str = "china_sites_20150101.csv"):
    text = DAY1.read_text(encoding="utf-8")
    assert old in text
    return write(tmp_path / name, text.replace(old, new, 1))


# --------------------------------------------------------------------------- reader

def test_read_cnemc_stores_only_hourly_types_with_file_values():
    frame = read_cnemc(DAY1)
    assert {"station", "time", "pollutant", "value", "unit", "flag", "row"} <= set(frame.columns)
    assert frame.attrs["rows_read"] == 45          # 3 hours × 15 types, derived rows included
    assert len(frame) == 3 * 6 * 3                 # hours × hourly types × stations
    assert set(frame["pollutant"].astype(str)) == set(HOURLY)
    assert set(frame["station"].astype(str)) == set(STATIONS)
    assert frame["time"].min() == pd.Timestamp("2015-01-01 00:00")
    assert frame["time"].max() == pd.Timestamp("2015-01-01 02:00")

    cells = file_cells(DAY1)
    for r in frame.itertuples(index=False):
        text = cells[(str(r.station), r.time.to_pydatetime(), str(r.pollutant))]
        if text == "":
            assert np.isnan(r.value) and r.flag == "missing"
        elif text == "ERR":
            assert np.isnan(r.value) and r.flag == "non_numeric"
        else:
            assert r.value == float(text) and r.flag == "ok"

    def at(station, hour, pollutant):
        sel = ((frame["station"] == station) & (frame["pollutant"] == pollutant)
               & (frame["time"] == pd.Timestamp(2015, 1, 1, hour)))
        return frame.loc[sel].iloc[0]

    assert at("1003A", 0, "PM2.5")["value"] == 110.0
    assert at("1410A", 0, "CO")["value"] == 0.84
    assert at("1410A", 0, "CO")["unit"] == "mg/m3"
    assert at("1011A", 1, "NO2")["value"] == 56.0
    bad = at("1003A", 0, "SO2")
    assert bad["flag"] == "non_numeric" and bad["row"] == 7   # header line 1, AQI line 2, …
    assert at("1410A", 1, "PM10")["flag"] == "missing"


def test_derived_types_are_ignored(tmp_path):
    lines = DAY1.read_text(encoding="utf-8").splitlines()
    out = [lines[0]]
    for line in lines[1:]:
        d, h, t, *cells = line.split(",")
        out.append(",".join([d, h, t] + (["X"] * len(cells) if t in DERIVED else cells)))
    garbled = read_cnemc(write(tmp_path / DAY1.name, "\n".join(out) + "\n"))
    pd.testing.assert_frame_equal(garbled, read_cnemc(DAY1))


def test_hour_label_ending_shifts_one_hour():
    begin = read_cnemc(DAY1)
    end = read_cnemc(DAY1, hour_label="ending")
    assert (end["time"].to_numpy() == begin["time"].to_numpy() - np.timedelta64(1, "h")).all()
    assert end["time"].min() == pd.Timestamp("2014-12-31 23:00")
    with pytest.raises(IngestError, match="unknown hour label"):
        read_cnemc(DAY1, hour_label="middle")


def test_gzip_file_reads_the_same(tmp_path):
    gz = tmp_path / "china_sites_20150101.csv.gz"
    gz.write_bytes(gzip.compress(DAY1.read_bytes()))
    pd.testing.assert_frame_equal(read_cnemc(gz), read_cnemc(DAY1))


def test_daily_files_expands_folders(tmp_path):
    assert daily_files([CNEMC]) == [DAY1, DAY2]
    assert daily_files(CNEMC) == [DAY1, DAY2]
    (tmp_path / "2015").mkdir()
    shutil.copy(DAY2, tmp_path / "2015" / DAY2.name)
    (tmp_path / "2015" / "china_sites_20150101.csv.gz").write_bytes(
        gzip.compress(DAY1.read_bytes()))
    (tmp_path / "notes.txt").write_text("not a daily file")
    (tmp_path / "china_cities_20150101.csv").write_text("date,hour,type\n")
    names = [p.name for p in daily_files([tmp_path])]
    assert names == ["china_sites_20150101.csv.gz", "china_sites_20150102.csv"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(IngestError, match="no china_sites"):
        daily_files([empty])
    with pytest.raises(IngestError, match="no such file or folder"):
        daily_files([tmp_path / "absent"])


@pytest.mark.parametrize("old, new, problem, row, column", [
    ("20150101,1,PM10_24h,", "20150101,1,PM10_1h,", "unknown type 'PM10_1h'", 21, "type"),
    ("20150101,2,SO2,", "2015011,2,SO2,", "is not a date", 37, "date"),
    ("20150101,2,SO2,", "20150231,2,SO2,", "is not a date", 37, "date"),
    ("20150101,2,SO2,", "20150102,2,SO2,", "differs from the file name's date 20150101", 37,
     "date"),
    ("20150101,1,O3,", "20150101,24,O3,", "hour '24' is not a whole hour", 26, "hour"),
    ("20150101,1,O3,", "20150101,1.5,O3,", "hour '1.5' is not a whole hour", 26, "hour"),
    ("20150101,1,O3,", "20150101,,O3,", "hour '' is not a whole hour", 26, "hour"),
])
def test_bad_rows_name_file_row_and_column(tmp_path, old, new, problem, row, column):
    path = edited_day1(tmp_path, old, new)
    with pytest.raises(IngestError) as info:
        read_cnemc(path)
    assert problem in info.value.problem
    assert (info.value.row, info.value.column) == (row, column)
    assert info.value.file == str(path)
    assert "\n" not in str(info.value)


def test_date_is_free_when_the_name_has_none(tmp_path):
    both = DAY1.read_text(encoding="utf-8") + "".join(
        DAY2.read_text(encoding="utf-8").splitlines(keepends=True)[1:])
    frame = read_cnemc(write(tmp_path / "two_days.csv", both))
    assert frame["time"].dt.day.unique().tolist() == [1, 2]


def test_duplicated_rows(tmp_path):
    lines = DAY1.read_text(encoding="utf-8").splitlines(keepends=True)
    # Line 3 is hour 0 PM2.5; an identical copy is harmless ...
    same = read_cnemc(write(tmp_path / "china_sites_20150101.csv", "".join(lines + [lines[2]])))
    assert len(same) == 54
    # ... a copy with another value is an error naming both rows.
    changed = lines[2].replace(",110,", ",111,")
    with pytest.raises(IngestError) as info:
        read_cnemc(write(tmp_path / "china_sites_20150101.csv", "".join(lines + [changed])))
    assert "rows 3, 47" in info.value.problem and "different values" in info.value.problem


def test_layout_errors(tmp_path):
    with pytest.raises(IngestError, match="missing column"):
        read_cnemc(write(tmp_path / "a.csv", "day,hour,type,1001A\n20150101,0,PM10,3\n"))
    with pytest.raises(IngestError, match="no station code columns"):
        read_cnemc(write(tmp_path / "b.csv", "date,hour,type\n20150101,0,PM10\n"))
    with pytest.raises(IngestError, match="no data rows"):
        read_cnemc(write(tmp_path / "c.csv", "date,hour,type,1001A\n"))


# --------------------------------------------------------------------------- loading

def test_load_counts_values_and_reload(engine):
    read = read_cnemc
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = [load_file(engine, "cnemc", p, read) for p in (DAY1, DAY2)]
    created = [w for w in caught if issubclass(w.category, UnknownStationsWarning)]
    assert created and all(c in str(created[0].message) for c in STATIONS)
    assert first[0].rows_read == 45 and first[1].rows_read == 30
    assert first[0].readings_read + first[1].readings_read == 86   # 90 cells − 5 empty + 1 text
    assert first[0].readings_new + first[1].readings_new == 86

    rows = stored(engine)
    assert len(rows) == 3 * 5                     # station-hours
    for code, expected in EXPECTED_COUNTS.items():
        mine = rows[rows["code"] == code]
        got = {p: int(mine[schema.COLUMN_OF[p]].notna().sum()) for p in HOURLY}
        assert got == expected, code
    # Values equal the file cells; derived types (AQI, _24h, O3_8h) never stored.
    cells = file_cells(DAY1, DAY2)
    for r in rows.to_dict("records"):
        for p in HOURLY:
            text = cells[(r["code"], pd.Timestamp(r["ts"]).to_pydatetime(), p)]
            v = r[schema.COLUMN_OF[p]]
            if text in ("", "ERR"):
                assert v is None or np.isnan(v)
            else:
                assert v == float(text)
    so2 = rows.loc[(rows["code"] == "1003A") & (rows["ts"] == datetime(2015, 1, 1, 0))]
    assert so2["so2_flag"].item() == FLAG_CODE["non_numeric"]
    o3 = rows.loc[(rows["code"] == "1011A") & (rows["ts"] == datetime(2015, 1, 2, 1)), "o3"]
    assert o3.item() == 19.0     # the O3 row, not O3_24h (40), O3_8h (24) or O3_8h_24h (44)
    key = ("1011A", datetime(2015, 1, 2, 1))
    assert [cells[key + (t,)] for t in ("O3", "O3_24h", "O3_8h", "O3_8h_24h")] == [
        "19", "40", "24", "44"]

    again = [load_file(engine, "cnemc", p, read) for p in (DAY1, DAY2)]
    assert [r.readings_new for r in again] == [0, 0]
    assert [r.readings_changed for r in again] == [0, 0]
    assert [r.status for r in again] == ["unchanged", "unchanged"]
    assert len(stored(engine)) == 15


def test_load_hour_ending(engine):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownStationsWarning)
        load_file(engine, "cnemc", DAY1, lambda p: read_cnemc(p, hour_label="ending"),
                  options={"hour_label": "ending"})
    rows = stored(engine)
    assert sorted(rows["ts"].unique()) == [datetime(2014, 12, 31, 23), datetime(2015, 1, 1, 0),
                                           datetime(2015, 1, 1, 1)]
    first = rows[(rows["code"] == "1003A") & (rows["ts"] == datetime(2014, 12, 31, 23))]
    assert first["pm25"].item() == 110.0


def test_cli_ingest_cnemc(engine, cli):
    assert cli("init", "--sites", BEIJING_SITES).exit_code == 0
    before = station_rows(engine)
    assert "1410A" not in before and "1003A" in before

    result = cli("ingest", "cnemc", CNEMC)
    assert result.exit_code == 0, result.output
    assert "warning:" in result.stderr and "1410A" in result.stderr
    assert "1003A" not in result.stderr.split("unknown station code(s)")[1].split("created")[0]
    assert "2 files: 86 readings read, 86 new" in result.stdout
    after = station_rows(engine)
    assert after["1410A"]["origin"] == "ingest" and after["1410A"]["district_id"] is None
    assert after["1003A"]["district_id"] == before["1003A"]["district_id"]
    assert len(stored(engine)) == 15

    again = cli("ingest", "cnemc", DAY1, DAY2)
    assert again.exit_code == 0, again.output
    # day 2 is identical to the run that loaded it, still standing: not read;
    # day 1 is read (day 2's hours, loaded after it, are in its QC context)
    assert ("2 files: 51 readings read, 0 new, 0 changed (1 identical to the runs that "
            "loaded them, not read)") in again.stdout
    assert ("china_sites_20150101.csv: 51 readings read, 0 new, 0 changed — nothing new to "
            "store (identical to the file loaded in run #") in again.output

    ending = cli("ingest", "cnemc", DAY1, "--hour-label", "ending", "--quiet")
    assert ending.exit_code == 0, ending.output
    assert stored(engine)["ts"].min() == datetime(2014, 12, 31, 23)


def test_cli_strict_refuses_unknown_stations(engine, cli):
    assert cli("init", "--sites", BEIJING_SITES).exit_code == 0
    result = cli("ingest", "cnemc", DAY1, "--strict")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert str(DAY1) in lines[0] and "unknown station code(s) 1410A" in lines[0]
    assert "Traceback" not in result.output
    assert count(engine, schema.hourly) == 0
    assert "1410A" not in station_rows(engine)


@pytest.mark.parametrize("old, new, row, words", [
    ("20150101,2,NO2,", "20150101,2,NOX,", 39, "unknown type 'NOX'"),
    ("20150101,1,CO,", "20150110,1,CO,", 30, "differs from the file name's date"),
])
def test_cli_bad_file_leaves_database_unchanged(engine, cli, tmp_path, old, new, row, words):
    assert cli("init", "--sites", BEIJING_SITES).exit_code == 0
    assert cli("ingest", "cnemc", DAY2).exit_code == 0
    hourly, stations = count(engine, schema.hourly), station_rows(engine)
    data = stored(engine)

    bad = edited_day1(tmp_path, old, new)
    result = cli("ingest", "cnemc", bad)
    assert result.exit_code == 1
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1 and "Traceback" not in result.output
    assert str(bad) in message and f"row {row}" in message and words in message
    assert count(engine, schema.hourly) == hourly
    assert station_rows(engine) == stations
    pd.testing.assert_frame_equal(stored(engine), data)
    with engine.connect() as conn:
        last = conn.execute(select(schema.ingest_runs.c.status, schema.ingest_runs.c.message)
                            .order_by(schema.ingest_runs.c.id.desc())).first()
    assert last.status == "failed" and words in last.message


# --------------------------------------------------------------------------- station list

def small_list(tmp_path, *rows, encoding="gbk", header=SITE_LIST_HEADER):
    return write(tmp_path / "NewSiteList.csv", "\n".join((header,) + rows) + "\n", encoding)


def test_station_list_notes_and_encodings(tmp_path):
    rows = ("1002A,定陵(对照点),北京,116.2202,40.2915,Y,北京市,北京市",
            "1013A,市监测中心(停运150702),天津,117.151,39.097,Y,天津市,天津市",
            "1475A,职工医院（20181115停运）,兰州,103.7222,36.0812,N,甘肃省,兰州市",
            "2994A,武警支队(启用161031),金华,119.6533,29.1128,N,浙江省,金华市",
            "1436A,草堂寺（已停运）,成都,104.026,30.6544,N,四川省,成都市",
            "3019A,西沙,三沙,,,N,海南省,三沙市",
            "1410A,海南大学,海口,110.3232,20.0574,N,海南省,海口市")
    for encoding in ("gbk", "utf-8", "utf-8-sig"):
        frame = read_station_list(small_list(tmp_path, *rows, encoding=encoding))
        assert frame["code"].tolist() == ["1002A", "1013A", "1475A", "2994A", "1436A", "3019A",
                                          "1410A"]
        by = frame.set_index("code")
        assert by.loc["1002A", "name_zh"] == "定陵" and by.loc["1002A", "background"]
        assert by.loc["1013A", "name_zh"] == "市监测中心"
        assert by.loc["1013A", "retired_on"] == date(2015, 7, 2)
        assert by.loc["1475A", "retired_on"] == date(2018, 11, 15)
        assert by.loc["2994A", "name_zh"] == "武警支队" and by.loc["2994A", "retired_on"] is None
        assert by.loc["1436A", "name_zh"] == "草堂寺"
        assert np.isnan(by.loc["3019A", "lon"]) and np.isnan(by.loc["3019A", "lat"])
        assert not by.loc["1410A", "background"] and by.loc["1410A", "retired_on"] is None


@pytest.mark.parametrize("rows, problem, row", [
    (("1001A,万寿西宫,北京,116.3621,39.8784,N,北京市,北京市",
      "1001A,万寿西宫,北京,116.3621,39.9,N,北京市,北京市"), "1001A is listed in rows 2, 3", 2),
    (("1001A,万寿西宫,北京,116.3621,39.8784,N,北京市,北京市",
      "1002A,定陵,北京,40.2915,116.2202,Y,北京市,北京市"), "lon 40.2915 is outside", 3),
    (("1001A,万寿西宫,北京,116.3621,-39.8,N,北京市,北京市",), "lat -39.8 is outside", 2),
    (("1001A,万寿西宫,北京,116.36E,39.8784,N,北京市,北京市",), "is not a number", 2),
    (("1001A,万寿西宫,北京,116.3621,39.8784,X,北京市,北京市",), "is not Y or N", 2),
    (("1001A,万寿西宫(停运151332),北京,116.3621,39.8784,N,北京市,北京市",), "no valid date", 2),
])
def test_station_list_errors(tmp_path, rows, problem, row):
    with pytest.raises(IngestError) as info:
        read_station_list(small_list(tmp_path, *rows))
    assert problem in info.value.problem and info.value.row == row


def test_station_list_layout_errors(tmp_path):
    with pytest.raises(IngestError, match="missing column"):
        read_station_list(small_list(tmp_path, "1001A,万寿西宫,北京,116.3,39.8,N,北京市",
                                     header="监测点编码,监测点名称,城市,经度,纬度,对照点,省级行政区"))
    same = "1001A,万寿西宫,北京,116.3621,39.8784,N,北京市,北京市"
    assert len(read_station_list(small_list(tmp_path, same, same))) == 1


def test_sync_station_list_keeps_site_file_stations(engine, cli, tmp_path):
    assert cli("init", "--sites", BEIJING_SITES).exit_code == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownStationsWarning)
        load_file(engine, "cnemc", DAY1, read_cnemc)          # creates 1410A (origin ingest)
    before = station_rows(engine)
    path = small_list(
        tmp_path,
        "1001A,另一个名字,北京,116.0,39.0,Y,北京市,北京市",      # site-file station: kept as is
        "1002A,定陵(对照点),北京,116.2202,40.2915,Y,北京市,北京市",
        "1410A,海南大学,海口,110.3232,20.0574,N,海南省,海口市",   # placeholder from ingest
        "1409A,东寨港(对照点),海口,110.576,19.9507,Y,海南省,海口市",
        "1013A,市监测中心(停运150702),天津,117.151,39.097,Y,天津市,天津市")
    frame = read_station_list(path)
    with engine.begin() as conn:
        assert sync_station_list(conn, frame) == {"created": 2, "updated": 3}
    after = station_rows(engine)
    s1 = after["1001A"]
    for col in ("name_zh", "name_en", "lon", "lat", "role", "district_id", "city_id", "origin"):
        assert s1[col] == before["1001A"][col], col
    assert (s1["list_city"], s1["province"], s1["prefecture"]) == ("北京", "北京市", "北京市")
    assert after["1002A"]["role"] == "background" and after["1002A"]["city_id"] == "beijing"
    h = after["1410A"]
    assert (h["name_zh"], h["lon"], h["lat"], h["origin"], h["role"]) == (
        "海南大学", 110.3232, 20.0574, "station_list", "evaluation")
    assert h["id"] == before["1410A"]["id"]              # readings stay attached
    b = after["1409A"]
    assert (b["name_zh"], b["role"], b["origin"], b["district_id"], b["city_id"]) == (
        "东寨港", "background", "station_list", None, None)
    assert after["1013A"]["retired_on"] == date(2015, 7, 2)
    with engine.begin() as conn:
        assert sync_station_list(conn, frame) == {"created": 0, "updated": 0}


@pytest.mark.realdata
def test_real_station_list(shared_data):
    frame = read_station_list(shared_data / "cnemc-sites" / "NewSiteList.csv")
    assert len(frame) == 2026 and frame["code"].is_unique
    by = frame.set_index("code")
    s = by.loc["1410A"]
    assert (s["name_zh"], s["list_city"], s["lon"], s["lat"]) == ("海南大学", "海口", 110.3232, 20.0574)
    assert (s["province"], s["prefecture"]) == ("海南省", "海口市")
    assert by.loc["1002A", "background"] and by.loc["1002A", "name_zh"] == "定陵"
    assert not by.loc["1003A", "background"]
    assert by.loc["1013A", "retired_on"] == date(2015, 7, 2)
    assert by.loc["1014A", "retired_on"] == date(2016, 11, 22)
    assert by.loc["1475A", "retired_on"] == date(2018, 11, 15)     # (20181115停运)
    for code, name in (("1738A", "市中心"), ("1739A", "赛鱼"), ("1740A", "南庄"),
                       ("1741A", "白羊墅"), ("1742A", "平坦"), ("1743A", "大阳泉"),
                       ("3619A", "龙柱")):
        assert by.loc[code, "name_zh"] == name and by.loc[code, "list_city"] == "阳泉"
    assert not frame["name_zh"].str.contains(r"[(（)）]").any()   # every note understood
    assert frame["lon"].isna().sum() == 10                          # empty coordinates kept NaN
    assert frame["lon"].dropna().between(70, 140).all()


@pytest.mark.realdata
def test_cli_ingest_real_station_list(engine, cli, shared_data):
    path = shared_data / "cnemc-sites" / "NewSiteList.csv"
    assert cli("init", "--sites", BEIJING_SITES).exit_code == 0
    before = station_rows(engine)
    result = cli("ingest", "stations", path)
    assert result.exit_code == 0, result.output
    assert "2,026 stations read, 2,014 created, 12 updated" in result.stdout
    after = station_rows(engine)
    assert len(after) == 2026
    for code in ("1738A", "1739A", "1740A", "1741A", "1742A", "1743A", "3619A", "1410A"):
        assert after[code]["origin"] == "station_list"
    assert after["1410A"]["name_zh"] == "海南大学" and after["1410A"]["lat"] == 20.0574
    d = after["1002A"]
    assert (d["role"], d["district_id"], d["city_id"]) == (
        "background", before["1002A"]["district_id"], "beijing")
    assert after["1003A"]["list_city"] == "北京" and after["1003A"]["role"] == "evaluation"
    assert after["1013A"]["retired_on"] == date(2015, 7, 2)

    again = cli("ingest", "stations", path)
    assert again.exit_code == 0, again.output
    assert "0 created, 0 updated" in again.stdout
    assert len(station_rows(engine)) == 2026
