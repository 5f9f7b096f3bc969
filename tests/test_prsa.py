"""Acceptance on the real Beijing Multi-Site files, on SQLite and PostgreSQL."""
import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from ingest.prsa import PRSA_STATIONS, read_prsa
from store.queries import status_frame
from tests.conftest import BEIJING_SITES

POLLUTANTS = ["PM2.5", "PM10", "SO2", "NO2", "CO", "O3"]
COLUMN = {"PM2.5": "pm25", "PM10": "pm10", "SO2": "so2", "NO2": "no2", "CO": "co", "O3": "o3"}


@pytest.fixture(scope="module")
def expected_counts():
    """Non-missing readings per station and pollutant, counted straight from the files."""
    from tests.conftest import SHARED_DATA
    folder = SHARED_DATA / "beijing-multisite"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent: the real-data acceptance test needs ../shared/data")
    rows = []
    for path in sorted(folder.glob("PRSA_Data_*.csv.gz")):
        raw = pd.read_csv(path)
        code = PRSA_STATIONS[raw["station"].iloc[0]]
        for p in POLLUTANTS:
            rows.append((code, p, int(raw[p].notna().sum()), int((raw[p] < 0).sum())))
    return pd.DataFrame(rows, columns=["station", "pollutant", "readings", "negative"])


def test_read_prsa_units_and_times(shared_data):
    frame = read_prsa(shared_data / "beijing-multisite"
                      / "PRSA_Data_Dongsi_20130301-20170228.csv.gz")
    assert frame.attrs["rows_read"] == 35064
    first = frame[frame["time"] == pd.Timestamp("2013-03-01 00:00")].set_index("pollutant")
    assert first.loc["CO", "value"] == 0.3 and first.loc["CO", "unit"] == "mg/m3"  # 300 µg/m³
    assert first.loc["NO2", "value"] == 17 and first.loc["PM2.5", "value"] == 9
    assert (frame["station"] == "1003A").all()
    assert frame["time"].min() == pd.Timestamp("2013-03-01 00:00")
    assert frame["time"].max() == pd.Timestamp("2017-02-28 23:00")


def test_beijing_set_loads_exactly(cli, db_url, expected_counts, shared_data):
    assert cli("init", "--sites", BEIJING_SITES).exit_code == 0
    first = cli("ingest", "prsa", shared_data / "beijing-multisite")
    assert first.exit_code == 0, first.output
    total = int(expected_counts["readings"].sum())
    assert total == 2_454_305
    assert f"12 files: {total:,} readings read, {total:,} new, 0 changed" in first.output

    from store.db import make_engine
    engine = make_engine(db_url)
    with engine.connect() as conn:
        stored = []
        for p, col in COLUMN.items():
            for code, n in conn.execute(text(
                    f"SELECT s.code, COUNT(h.{col}) FROM hourly h JOIN stations s "
                    f"ON s.id = h.station_id GROUP BY s.code")).all():
                stored.append((code, p, int(n)))
        status = status_frame(conn)
        co = conn.execute(text("SELECT MAX(co), MIN(co) FROM hourly")).one()
        orphans = conn.execute(text(
            "SELECT COUNT(*) FROM hourly h LEFT JOIN stations s ON s.id = h.station_id "
            "LEFT JOIN ingest_runs r ON r.id = h.run_id WHERE s.id IS NULL OR r.id IS NULL"
        )).scalar()
    stored = pd.DataFrame(stored, columns=["station", "pollutant", "stored"])
    merged = expected_counts.merge(stored, on=["station", "pollutant"], how="outer")
    assert (merged["readings"] == merged["stored"]).all(), merged[merged["readings"] != merged["stored"]]
    # status counts the readings that count for statistics: all but negative ones here
    st = status.merge(expected_counts, on=["station", "pollutant"])
    assert len(st) == 72
    assert (st["readings_x"] == st["readings_y"] - st["negative"]).all()
    assert (st["first"] >= "2013-03-01 00:00").all() and (st["last"] <= "2017-02-28 23:00").all()
    assert co[0] == 10.0 and co[1] >= 0.1  # CO in mg/m³: the 10000 µg/m³ cap is 10.0
    assert orphans == 0
    assert status["flagged"].sum() > 0

    second = cli("ingest", "prsa", shared_data / "beijing-multisite")
    assert second.exit_code == 0
    # identical to the runs that loaded them, still standing: not read again
    assert ("12 files: 0 readings read, 0 new, 0 changed (12 identical to the runs that "
            "loaded them, not read)") in second.output, second.output
    assert "identical to run #1, loaded before; nothing read" in second.output
    engine.dispose()


def test_status_csv_columns(cli, shared_data):
    cli("init", "--sites", BEIJING_SITES)
    cli("ingest", "prsa", shared_data / "beijing-multisite"
        / "PRSA_Data_Dongsi_20130301-20170228.csv.gz")
    out = cli("status", "--format", "csv")
    assert out.exit_code == 0
    lines = out.output.splitlines()
    assert lines[0] == "station,pollutant,readings,first,last,flagged"
    rows = [l.split(",") for l in lines[1:]]
    assert {r[0] for r in rows} == {"1003A"}
    no2 = next(r for r in rows if r[1] == "NO2")
    raw = pd.read_csv(shared_data / "beijing-multisite" / "PRSA_Data_Dongsi_20130301-20170228.csv.gz")
    assert int(no2[2]) == int(raw["NO2"].notna().sum())
    assert no2[3] == "2013-03-01 00:00" and no2[4] == "2017-02-28 23:00"
    table = cli("status")
    assert "Recent ingest runs" in table.output and "1003A" in table.output


def test_a_quote_left_open_in_the_header_is_a_clear_error(tmp_path):
    """(found by tests/test_fuzz.py) The header's last name opens a quote that swallows the
    next line: pandas then has no 'station' column; a one-line error, not a KeyError."""
    from ingest.errors import IngestError
    path = tmp_path / "PRSA_Data_Dongsi_cut.csv"
    path.write_text('No,year,month,day,hour,PM2.5,PM10,SO2,NO2,CO,O3,TEMP,PRES,DEWP,RAIN,wd,'
                    'WSPM,"station\n1,2013,3,1,0,9,9,3,17,300,89,-0.5,1024.5,-21.4,0,NNW",5.7,'
                    'Dongsi\n2,2013,3,1,1,9,9,3,17,300,89,-0.5,1024.5,-21.4,0,NNW,5.7,Dongsi\n')
    with pytest.raises(IngestError, match="missing column"):
        read_prsa(path)
