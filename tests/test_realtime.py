"""The national real-time feed (``lantian ingest cnemc-live``), the published hourly AQI
beside Lantian's, ``lantian stats hourly`` and the ``cnemc-live`` scheduler job.

Real data: ``../shared/data/cnemc-live`` (25 hourly files of 2022-01-05/06, the first
~150 stations of each hour); the tests that need it skip with a message when it is absent.
"""
from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from ingest.errors import IngestError
from tests.conftest import BEIJING_SITES

HEADER = ("timepoint,stationcode,longitude,latitude,area,positionname,primarypollutant,aqi,"
          "pm10,pm10_24h,pm2_5,pm2_5_24h,o3,o3_24h,o3_8h,o3_8h_24h,no2,no2_24h,so2,so2_24h,co,"
          "co_24h")


@pytest.fixture(scope="module")
def live_dir(shared_data) -> Path:
    folder = shared_data / "cnemc-live"
    if not folder.is_dir():
        pytest.skip(f"real data folder {folder} is absent; skipping the real-time feed tests")
    return folder


@pytest.fixture(scope="module")
def live_files_all(live_dir):
    from ingest.cnemc_live import live_files
    return live_files([live_dir])


@pytest.fixture(scope="module")
def parsed(live_files_all):
    from ingest.cnemc_live import parse_live
    return [parse_live(p) for p in live_files_all]


def _raw(live_files_all) -> pd.DataFrame:
    """The sample as plain text cells (the reference for the reader's conventions)."""
    return pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False) for p in live_files_all],
                     ignore_index=True)


def write(tmp_path, name, *rows) -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "\n" + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


ROW = ("2022-01-05T16:00:00,9001A,116.40,39.90,测试市,测试站,细颗粒物(PM2.5),{aqi},70,60,{pm25},"
       "41,27,3,20,2,78,59,5,8,1.3,1.2")


# ---------------------------------------------------------------- reader (pure)
@pytest.mark.realdata
def test_every_complete_station_hour_gives_the_published_aqi(parsed):
    """3,559 of 3,559 station-hours with the six 1-h values reproduce the published AQI
    (cn-2012 hourly AQI: the six 1-h values, PM on the 24-h table) and primary pollutants."""
    from indicators.aqi import hourly_aqi
    from indicators.pipeline import published_comparison
    readings = pd.concat([p.readings for p in parsed], ignore_index=True)
    published = pd.concat([p.published for p in parsed], ignore_index=True)
    wide = readings.pivot_table(index=["station", "time"], columns="pollutant", values="value",
                                observed=True, dropna=False).reset_index()
    wide = wide.assign(level="station", area=wide["station"].astype(str))
    ours = hourly_aqi(wide)
    assert set(ours["profile"]) == {"cn-2012"}
    compared = published_comparison(ours, published)
    complete = compared["missing"] == ""
    assert complete.sum() == 3559
    assert compared.loc[complete, "aqi_agrees"].all()
    assert compared.loc[complete, "primary_agrees"].all()
    # the 14 published hours with an input missing: all above 100, all reproduced too
    # (the missing-pollutant rule)
    partial = compared[~complete]
    assert len(partial) == 14 and (partial["published_aqi"] > 100).all()
    assert partial["aqi_agrees"].all() and partial["primary_agrees"].all()
    # the feed left its aqi blank at 15 station-hours where Lantian has an AQI (14 with all
    # six 1-h values, e.g. 1110A 2022-01-05T08; 1140A 05T00 without PM10 but > 100): the
    # platform withholds some hours for reasons the file does not give. Lantian shows its
    # own AQI there, without a published one beside it.
    unpublished = ours.merge(published[["station", "time"]].assign(p=1),
                             left_on=["area", "time"], right_on=["station", "time"], how="left")
    extra = unpublished[unpublished["p"].isna() & unpublished["aqi"].notna()]
    assert len(extra) == 15 and (extra["missing"] == "").sum() == 14


@pytest.mark.realdata
def test_reader_conventions_on_the_sample(parsed, live_files_all):
    raw = _raw(live_files_all)
    readings = pd.concat([p.readings for p in parsed], ignore_index=True)
    # timepoint labels the END of the hour: 2022-01-05T00:00:00 is stored as 01-04 23:00
    assert readings["time"].min() == pd.Timestamp("2022-01-04 23:00")
    assert readings["time"].max() == pd.Timestamp("2022-01-05 23:00")
    wide = readings.pivot_table(index=["station", "time"], columns="pollutant", values="value",
                                observed=True).reset_index().set_index(["station", "time"])
    at = wide.loc[("1001A", pd.Timestamp("2022-01-04 23:00"))]
    # the 1-h values; O3 from o3_24h (the shift), not o3 (the 24-h maximum)
    first = raw[(raw.stationcode == "1001A") & (raw.timepoint == "2022-01-05T00:00:00")].iloc[0]
    assert at["PM2.5"] == float(first.pm2_5) and at["PM10"] == float(first.pm10)
    assert at["O3"] == float(first.o3_24h) != float(first.o3)
    assert at["CO"] == float(first.co) == 1.3             # mg/m³ as given
    # real oddities stay: PM10 0 at 1001A 05T17, PM2.5 0 at 1042A 05T20
    assert wide.loc[("1001A", pd.Timestamp("2022-01-05 16:00")), "PM10"] == 0
    assert wide.loc[("1042A", pd.Timestamp("2022-01-05 19:00")), "PM2.5"] == 0
    assert parsed[0].readings.attrs["ignored_columns"] == [
        "pm10_24h", "pm2_5_24h", "o3", "o3_8h", "o3_8h_24h", "no2_24h", "so2_24h", "co_24h"]
    published = pd.concat([p.published for p in parsed], ignore_index=True)
    assert len(published) == 3573
    assert set(published["primary"]) == {"", "PM10", "PM2.5", "PM10,PM2.5"}
    assert (published.loc[published["primary"] == "", "aqi"] <= 50).all()
    stations = parsed[0].stations.set_index("code")
    assert stations.loc["1002A", "name_zh"] == "定陵" and stations.loc["1002A", "background"]
    assert stations.loc["1001A", "area"] == "北京市" and not stations.loc["1001A", "background"]
    assert stations.loc["1001A", ["lon", "lat"]].tolist() == [116.3621, 39.8784]


@pytest.mark.realdata
def test_detection_by_header(live_dir, tmp_path):
    from ingest.cnemc_live import is_live_file, live_files
    files = live_files([live_dir])
    assert len(files) == 25 and files[0].name == "2022-01-05T00.csv"
    folder = tmp_path / "feed"
    (folder / "day").mkdir(parents=True)
    shutil.copy(files[3], folder / "day" / files[3].name)
    (folder / "other.csv").write_text("station,time,pollutant,value\n1001A,2022-01-05 00:00,"
                                      "NO2,3\n")
    (folder / "README.md").write_text("not a table")
    assert live_files([folder]) == [folder / "day" / files[3].name]
    assert not is_live_file(folder / "other.csv")
    with pytest.raises(IngestError, match="missing column"):
        from ingest.cnemc_live import parse_live
        parse_live(folder / "other.csv")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(IngestError, match="no real-time feed files"):
        live_files([empty])


def test_gzip_and_a_row_of_blanks(tmp_path):
    import gzip

    from ingest.cnemc_live import parse_live
    text = (HEADER + "\n" + ROW.format(aqi=69, pm25=50) + "\n"
            + "2022-01-05T16:00:00,9002A,,,测试市,空站,,,,,,,,,,,,,,,,\n")
    path = tmp_path / "h.csv.gz"
    path.write_bytes(gzip.compress(text.encode()))
    live = parse_live(path)
    assert list(live.published["station"]) == ["9001A"]        # no aqi: nothing published
    assert live.readings[live.readings["station"] == "9002A"]["value"].isna().all()
    assert np.isnan(live.stations.set_index("code").loc["9002A", "lon"])


@pytest.mark.parametrize("row, column, match", [
    (ROW.replace("2022-01-05T16:00:00", "yesterday"), "timepoint", "not a time"),
    (ROW.replace("T16:00:00", "T16:30:00"), "timepoint", "not on the hour"),
    (ROW.replace("T16:00:00", "T16:00:00").replace("2022-", "1900-"), "timepoint", "1900"),
    (ROW.replace("细颗粒物(PM2.5)", "花粉"), "primarypollutant", "unknown primary pollutant"),
    (ROW.replace("{aqi}", "六十"), "aqi", "not a whole number"),
    (ROW.replace("{aqi}", "-3"), "aqi", "not a whole number"),
    (ROW.replace("116.40", "39.90"), "longitude", "not a longitude"),
    (ROW.replace("9001A", "90 01A"), "stationcode", "not a valid station code"),
])
def test_bad_rows_are_one_clear_line(tmp_path, row, column, match):
    from ingest.cnemc_live import parse_live
    path = write(tmp_path, "bad.csv", ROW.format(aqi=69, pm25=50).replace("9001A", "9000A"),
                 row.format(aqi=69, pm25=50))
    with pytest.raises(IngestError) as e:
        parse_live(path)
    text = str(e.value)
    assert match in text and "row 3" in text and column in text and "\n" not in text


def test_duplicated_station_hours(tmp_path):
    from ingest.cnemc_live import parse_live
    same = write(tmp_path, "same.csv", ROW.format(aqi=69, pm25=50), ROW.format(aqi=69, pm25=50))
    live = parse_live(same)
    assert len(live.published) == 1 and len(live.readings) == 6
    differ = write(tmp_path, "differ.csv", ROW.format(aqi=69, pm25=50),
                   ROW.format(aqi=70, pm25=51))
    with pytest.raises(IngestError, match="rows 2, 3 with different values"):
        parse_live(differ)


# ---------------------------------------------------------------- database
def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


@pytest.mark.realdata
def test_load_is_incremental_idempotent_and_reproduces_the_published_aqi(
        cli, engine, live_dir, tmp_path):
    from indicators.pipeline import hourly_table, published_comparison
    from store import schema
    from store.realtime import hourly_inputs, published_frame
    assert cli("init", "--sites", BEIJING_SITES).exit_code == 0
    first = cli("ingest", "cnemc-live", live_dir, "--quiet")
    assert first.exit_code == 0, first.output
    assert _count(engine, schema.published_hourly) == 3573
    with engine.connect() as conn:
        stored = conn.execute(select(func.min(schema.hourly.c.ts),
                                     func.max(schema.hourly.c.ts))).one()
    assert [str(t) for t in stored] == ["2022-01-04 23:00:00", "2022-01-05 23:00:00"]
    runs = _count(engine, schema.ingest_runs)
    # loading again stores nothing and changes no published value
    again = cli("ingest", "cnemc-live", live_dir)
    assert again.exit_code == 0
    assert "22,147 readings read, 0 new, 0 changed; published AQI 0 new, 0 changed" in again.output
    assert "nothing new to store" in again.output
    assert _count(engine, schema.ingest_runs) == runs + 25
    # every complete station-hour, computed from the database, gives the published AQI
    with engine.connect() as conn:
        hourly, members = hourly_inputs(conn, "2022-01-04 23:00", "2022-01-05 23:00")
        published = published_frame(conn)
    values, aqi = hourly_table(hourly, members, start="2022-01-04 23:00",
                               end="2022-01-05 23:00")
    compared = published_comparison(aqi, published)
    assert len(compared) == 3573 and compared["aqi_agrees"].all()
    assert compared["primary_agrees"].all()
    assert (compared["missing"] == "").sum() == 3559


def test_republished_values_are_updated_and_counted(cli, engine, tmp_path):
    from store import schema
    from store.realtime import published_frame
    assert cli("init").exit_code == 0
    a = write(tmp_path, "2022-01-05T16.csv", ROW.format(aqi=69, pm25=50))
    assert cli("ingest", "cnemc-live", a).exit_code == 0
    (tmp_path / "later").mkdir()
    b = write(tmp_path / "later", "2022-01-05T16.csv", ROW.format(aqi=72, pm25=52))
    result = cli("ingest", "cnemc-live", b)
    assert result.exit_code == 0
    assert "6 readings read, 0 new, 1 changed" in result.output
    assert "published AQI: 1 read, 0 new, 1 changed" in result.output
    with engine.connect() as conn:
        pub = published_frame(conn)
        runs = conn.execute(select(schema.ingest_runs.c.id, schema.ingest_runs.c.message)
                            .order_by(schema.ingest_runs.c.id)).all()
    assert pub[["station", "aqi", "primary"]].values.tolist() == [["9001A", 72, "PM2.5"]]
    assert pub["time"].iloc[0] == pd.Timestamp("2022-01-05 15:00")      # start of the hour
    assert int(pub["run_id"].iloc[0]) == runs[-1].id
    assert "published AQI: 0 new, 1 changed" in runs[-1].message
    # the first file again: back to its values, counted as changes again
    result = cli("ingest", "cnemc-live", a)
    assert "published AQI: 1 read, 0 new, 1 changed" in result.output


def test_unknown_stations_are_created_from_the_file(cli, engine, tmp_path):
    from store import schema
    from store.frames import station_table
    assert cli("init").exit_code == 0
    path = write(tmp_path, "h.csv", ROW.format(aqi=69, pm25=50),
                 ROW.format(aqi=69, pm25=50).replace("9001A", "9002A")
                 .replace("测试站", "对照站(对照点)").replace("116.40", ""))
    strict = cli("ingest", "cnemc-live", path, "--strict")
    assert strict.exit_code == 1 and "unknown station code" in strict.output
    assert _count(engine, schema.stations) == 0 and _count(engine, schema.published_hourly) == 0
    result = cli("ingest", "cnemc-live", path)
    assert result.exit_code == 0 and "2 station(s) created from the feed" in result.output
    with engine.connect() as conn:
        rows = {r.code: r for r in conn.execute(select(schema.stations)).all()}
    assert rows["9001A"].name_zh == "测试站" and rows["9001A"].role == "evaluation"
    assert (rows["9001A"].lon, rows["9001A"].lat) == (116.40, 39.90)
    assert rows["9001A"].list_city == "测试市" and rows["9001A"].origin == "ingest"
    assert rows["9002A"].name_zh == "对照站" and rows["9002A"].role == "background"
    assert rows["9002A"].lon is None
    # a later file with the coordinate fills it; names given are kept
    later = write(tmp_path, "h2.csv", ROW.format(aqi=69, pm25=50).replace("9001A", "9002A")
                  .replace("测试站", "别名").replace("T16", "T17"))
    assert cli("ingest", "cnemc-live", later).exit_code == 0
    with engine.connect() as conn:
        table = station_table(conn).set_index("code")
    assert table.loc["9002A", "lon"] == 116.40 and table.loc["9002A", "name_zh"] == "对照站"


@pytest.mark.realdata
def test_stations_match_the_national_list(cli, engine, live_dir, shared_data, tmp_path):
    from store import schema
    from store.realtime import realtime_membership
    files = sorted((live_dir / "2022-01-05").glob("*.csv"))[:2]
    assert cli("init").exit_code == 0
    # the feed first: cities by the feed's names; the list then adopts the stations
    assert cli("ingest", "cnemc-live", *files, "--quiet").exit_code == 0
    with engine.connect() as conn:
        assert "保定市" in set(realtime_membership(conn)["area"])
    assert cli("ingest", "stations", shared_data / "cnemc-sites" / "NewSiteList.csv").exit_code == 0
    with engine.connect() as conn:
        row = conn.execute(select(schema.stations).where(schema.stations.c.code == "1051A")).one()
        areas = set(realtime_membership(conn)["area"])
    assert row.origin == "station_list" and row.list_city == "保定"
    assert "保定" in areas and "保定市" not in areas
    # a station of the feed not on the list joins its area's list city
    extra = tmp_path / "extra.csv"
    text = files[0].read_text(encoding="utf-8").splitlines()
    line = next(t for t in text if ",1051A," in t).replace("1051A", "9051A")
    extra.write_text(text[0] + "\n" + line + "\n", encoding="utf-8")
    assert cli("ingest", "cnemc-live", extra).exit_code == 0
    with engine.connect() as conn:
        row = conn.execute(select(schema.stations).where(schema.stations.c.code == "9051A")).one()
    assert row.list_city == "保定" and row.origin == "ingest"


@pytest.mark.realdata
def test_stats_hourly_command(cli, engine, live_dir, tmp_path):
    assert cli("init", "--sites", BEIJING_SITES).exit_code == 0
    files = sorted((live_dir / "2022-01-05").glob("*.csv"))[:3]
    assert cli("ingest", "cnemc-live", *files, "--quiet").exit_code == 0
    result = cli("stats", "hourly", "--from", "2022-01-05", "--to", "2022-01-05", "--level",
                 "station", "--area", "1001A", "--published", "--iaqi")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.stdout))
    assert list(table.columns) == ["level", "area", "time", "pollutant", "value", "reported",
                                   "valid"]
    # files T00 … T02 hold the hours 01-04 23:00 … 01-05 01:00: two hours on the 5th
    assert sorted(table["time"].unique()) == ["2022-01-05 00:00", "2022-01-05 01:00"]
    aqi = table[table["pollutant"] == "AQI"].set_index("time")["reported"]
    pub = table[table["pollutant"] == "AQI_published"].set_index("time")["reported"]
    assert (aqi == pub).all() and len(aqi) == 2
    city = cli("stats", "hourly", "--from", "2022-01-05", "--to", "2022-01-05", "--level",
               "city", "--format", "json")
    rows = json.loads(city.stdout)
    assert {r["area"] for r in rows} >= {"beijing", "天津市", "保定市"}
    assert {r["pollutant"] for r in rows} == {"SO2", "NO2", "CO", "O3", "PM10", "PM2.5", "AQI"}
    one = cli("stats", "hourly", "--from", "2022-01-05", "--to", "2022-01-05", "--level",
              "city", "--city", "天津市")
    assert set(pd.read_csv(io.StringIO(one.stdout))["area"]) == {"天津市"}
    district = cli("stats", "hourly", "--from", "2022-01-05", "--to", "2022-01-05", "--level",
                   "district", "--city", "beijing", "--format", "xlsx", "--out",
                   tmp_path / "d.xlsx")
    assert district.exit_code == 0
    assert set(pd.read_excel(tmp_path / "d.xlsx")["area"]) >= {"dongcheng", "xicheng"}
    for args, message in [(("--from", "2022-01-06", "--to", "2022-01-05"), "before --from"),
                          (("--from", "2022/01/05", "--to", "2022-01-05"), "YYYY-MM-DD"),
                          (("--from", "2021-01-05", "--to", "2021-01-05"), "no hourly data"),
                          (("--from", "2022-01-05", "--to", "2022-01-05", "--profile",
                            "who-2021"), "HJ 633"),
                          (("--from", "2022-01-05", "--to", "2022-01-05", "--level", "city",
                            "--area", "nowhere"), "unknown city nowhere")]:
        bad = cli("stats", "hourly", *args)
        assert bad.exit_code == 1 and message in bad.output and "Traceback" not in bad.output


def test_stats_hourly_neutralises_formula_cells(cli, engine, tmp_path):
    assert cli("init").exit_code == 0
    path = write(tmp_path, "h.csv", ROW.format(aqi=69, pm25=50).replace("测试市", "=HYPERLINK()"))
    assert cli("ingest", "cnemc-live", path).exit_code == 0
    out = cli("stats", "hourly", "--from", "2022-01-05", "--to", "2022-01-05", "--level", "city")
    assert out.exit_code == 0
    assert set(pd.read_csv(io.StringIO(out.stdout))["area"]) == {"'=HYPERLINK()"}


@pytest.mark.realdata
def test_latest_hour_of_a_city(cli, engine, live_dir):
    from indicators.aqi import hourly_aqi
    from store.realtime import latest_hour
    assert cli("init", "--sites", BEIJING_SITES).exit_code == 0
    files = sorted((live_dir / "2022-01-05").glob("*.csv"))[:3]
    assert cli("ingest", "cnemc-live", *files, "--quiet").exit_code == 0
    with engine.connect() as conn:
        beijing = latest_hour(conn, "beijing")
        tianjin = latest_hour(conn, "天津市")
        nothing = latest_hour(conn, "nowhere")
    assert set(beijing["time"]) == {pd.Timestamp("2022-01-05 01:00")}
    # 12 stations, but 1009A is absent from the feed 05T02–T17 (its README)
    assert len(beijing) == 11 and "1009A" not in set(beijing["station"])
    assert set(beijing["city"]) == {"beijing"}
    assert beijing["published_aqi"].notna().all()
    ours = hourly_aqi(beijing.assign(level="station", area=beijing["station"]))
    assert (ours["aqi"].to_numpy() == beijing["published_aqi"].to_numpy()).all()
    assert set(tianjin["list_city"]) == {"天津市"} and len(tianjin) == 9
    assert nothing.empty


# ---------------------------------------------------------------- scheduler
def test_cnemc_live_job_keys():
    from config import ConfigError
    from lantian.scheduler import parse_jobs
    jobs = parse_jobs([{"kind": "cnemc-live", "cron": "40 * * * *", "folder": "/data/live"}],
                      "settings.yaml")
    assert jobs[0].kind == "cnemc-live" and jobs[0].options["folder"] == "/data/live"
    with pytest.raises(ConfigError, match="folder"):
        parse_jobs([{"kind": "cnemc-live", "cron": "40 * * * *"}], "settings.yaml")
    with pytest.raises(ConfigError, match="unknown key"):
        parse_jobs([{"kind": "cnemc-live", "cron": "40 * * * *", "folder": "x", "path": "y"}],
                   "settings.yaml")


@pytest.mark.realdata
def test_cnemc_live_job_loads_new_files_once(cli, engine, live_dir, tmp_path):
    import os

    from config.settings import load_settings
    from lantian.scheduler import Job, run_cnemc_live
    from store import schema
    assert cli("init").exit_code == 0
    incoming = tmp_path / "incoming"
    (incoming / "2022-01-05").mkdir(parents=True)
    files = sorted((live_dir / "2022-01-05").glob("*.csv"))
    for f in files[:2]:
        shutil.copy(f, incoming / "2022-01-05" / f.name)
    (incoming / "notes.csv").write_text("a,b\n1,2\n")
    write(incoming / "2022-01-05", "2022-01-05T99.csv", ROW.format(aqi=69, pm25=50)
          .replace("T16:00:00", "T16:30:00"))
    job = Job("live", "cnemc-live", "40 * * * *", {"folder": str(incoming)})
    counts = run_cnemc_live(job, load_settings())
    assert counts["loaded"] == 2 and counts["failed"] == 1 and counts["new"] > 1000
    assert counts["published_new"] == _count(engine, schema.published_hourly) > 250
    again = run_cnemc_live(job, load_settings())          # nothing loaded twice
    assert again["loaded"] == 0 and again["skipped"] == 2 and again["failed"] == 1
    # a new hour arrives; a loaded file touched again (same content) is not reloaded
    shutil.copy(files[2], incoming / "2022-01-05" / files[2].name)
    os.utime(incoming / "2022-01-05" / files[0].name)
    third = run_cnemc_live(job, load_settings())
    assert third["loaded"] == 1 and third["skipped"] == 2


def test_undo_puts_back_the_published_values_a_run_replaced_or_added(cli, engine, tmp_path):
    from store.realtime import published_frame
    assert cli("init").exit_code == 0
    a = write(tmp_path, "2022-01-05T16.csv", ROW.format(aqi=69, pm25=50))
    assert cli("ingest", "cnemc-live", a).exit_code == 0
    (tmp_path / "later").mkdir()
    b = write(tmp_path / "later", "2022-01-05T16.csv", ROW.format(aqi=72, pm25=52))
    assert cli("ingest", "cnemc-live", b).exit_code == 0

    def published():
        with engine.connect() as conn:
            return published_frame(conn)[["station", "aqi", "primary"]].values.tolist()
    assert published() == [["9001A", 72, "PM2.5"]]
    undo = cli("runs", "undo", "2")
    assert undo.exit_code == 0, undo.output
    assert "published AQI: 1 restored, 0 removed" in undo.output
    assert published() == [["9001A", 69, "PM2.5"]]
    undo = cli("runs", "undo", "1")
    assert undo.exit_code == 0, undo.output
    assert "published AQI: 0 restored, 1 removed" in undo.output
    assert published() == []
