"""The loader: idempotent, exact counts, only changes what changed, atomic on failure."""
import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select, text

from config.sites import load_site_config
from ingest.errors import IngestError
from ingest.frame import long_from_wide
from ingest.loader import LoadResult, UnknownStationsWarning, load_file, load_frame, start_run
from store import schema
from store.sites import sync_site_config
from tests.conftest import BEIJING_SITES


def frame(station="1003A", start="2024-01-01", n=48, **pollutants):
    times = pd.date_range(start, periods=n, freq="h").to_numpy("datetime64[s]")
    cols = {}
    for p, values in pollutants.items():
        v = np.asarray(values, dtype=float)
        cols[p.replace("PM25", "PM2.5")] = (v, np.isnan(v), np.zeros(n, bool))
    f = long_from_wide(times, station, cols)
    f.attrs["rows_read"] = n
    return f


def load(engine, f, name="mem", strict=False):
    result = LoadResult(file=name, reader="test")
    result.run_id, _ = start_run(engine, "test", name, name, {})
    with engine.begin() as conn:
        return load_frame(conn, f, result, strict=strict)


@pytest.fixture
def beijing(engine):
    with engine.begin() as conn:
        sync_site_config(conn, load_site_config(BEIJING_SITES))
    return engine


def stored(engine, col, station="1003A"):
    with engine.connect() as conn:
        return conn.execute(text(
            f"SELECT h.ts, h.{col}, h.{col}_flag FROM hourly h JOIN stations s ON s.id = "
            f"h.station_id WHERE s.code = :c ORDER BY h.ts"), {"c": station}).all()


def test_counts_and_idempotency(beijing):
    no2 = np.arange(48.0)
    no2[5] = np.nan
    r = load(beijing, frame(NO2=no2, SO2=np.full(48, 7.0)))
    assert (r.readings_read, r.readings_new, r.readings_changed) == (95, 95, 0)
    again = load(beijing, frame(NO2=no2, SO2=np.full(48, 7.0)))
    assert (again.readings_new, again.readings_changed, again.status) == (0, 0, "unchanged")
    rows = stored(beijing, "no2")
    assert len(rows) == 48 and rows[5][1] is None and rows[5][2] == 1  # missing flag
    assert rows[47][1] == 47.0


def test_a_changed_file_updates_only_what_changed(beijing):
    load(beijing, frame(NO2=np.arange(48.0), SO2=np.full(48, 7.0)))
    no2 = np.arange(48.0)
    no2[10] = 99.0
    r = load(beijing, frame(NO2=no2, SO2=np.full(48, 7.0)))
    assert (r.readings_new, r.readings_changed) == (0, 1)
    assert stored(beijing, "no2")[10][1] == 99.0
    # A source with only PM2.5 for the same hours leaves NO2 and SO2 alone.
    r = load(beijing, frame(PM25=np.full(48, 30.0)))
    assert (r.readings_new, r.readings_changed) == (48, 0)
    assert stored(beijing, "no2")[10][1] == 99.0 and stored(beijing, "so2")[0][1] == 7.0
    # Extending the period adds only the new hours.
    r = load(beijing, frame(NO2=np.arange(72.0), n=72))
    assert (r.readings_new, r.readings_changed) == (24, 1)  # hour 10 goes back to 10.0


def test_unknown_station_created_with_warning_or_refused(beijing):
    with pytest.warns(UnknownStationsWarning, match="9999X"):
        r = load(beijing, frame(station="9999X", NO2=np.ones(48)))
    assert r.created_stations == ["9999X"]
    with beijing.connect() as conn:
        row = conn.execute(select(schema.stations.c.district_id, schema.stations.c.origin)
                           .where(schema.stations.c.code == "9999X")).one()
    assert tuple(row) == (None, "ingest")
    with pytest.raises(IngestError, match="unknown station code.*8888X"):
        load(beijing, frame(station="8888X", NO2=np.ones(48)), strict=True)


def test_conflicting_duplicates_are_an_error_identical_ones_are_counted(beijing):
    f = frame(NO2=np.arange(48.0))
    dup = pd.concat([f, f.iloc[[3]]], ignore_index=True)
    r = load(beijing, dup)
    assert r.duplicates_ignored == 1 and r.readings_new == 48
    bad = f.iloc[[3]].copy()
    bad["value"] = 1234.0
    with pytest.raises(IngestError, match="given twice with different values"):
        load(beijing, pd.concat([f, bad], ignore_index=True))


def test_failed_file_leaves_the_database_as_it_was(beijing, tmp_path):
    load(beijing, frame(NO2=np.arange(48.0)))

    def count():
        with beijing.connect() as conn:
            return (conn.execute(select(func.count()).select_from(schema.hourly)).scalar(),
                    conn.execute(select(func.count()).select_from(schema.stations)).scalar())
    before = count()
    path = tmp_path / "f.csv"
    path.write_text("x")

    def read_then_fail(_path):
        good = frame(station="7777X", NO2=np.ones(48), start="2024-02-01")
        bad = good.iloc[[0]].copy()
        bad["value"] = 5.0  # conflicting duplicate: detected after the station was created
        return pd.concat([good, bad], ignore_index=True)
    with pytest.warns(UnknownStationsWarning):
        with pytest.raises(IngestError):
            load_file(beijing, "test", path, read_then_fail)
    assert count() == before  # neither the readings nor the new station 7777X
    with beijing.connect() as conn:
        run = conn.execute(select(schema.ingest_runs).order_by(schema.ingest_runs.c.id.desc())).first()
    assert run.status == "failed" and "given twice" in run.message


def test_columns_not_loaded_are_reported(cli, tmp_path):
    path = tmp_path / "w.csv"
    path.write_text("time,PM2.5,TEMP,CO(mg/Nm3)\n2024-01-01 00:00,5,1,0.3\n", encoding="utf-8")
    cli("init", "--sites", BEIJING_SITES)
    result = cli("ingest", "csv", path, "--layout", "wide", "--station", "1003A")
    assert result.exit_code == 0
    assert "columns not loaded: TEMP, CO(mg/Nm3)" in " ".join(result.output.split())
