"""Issue 14: a load changes exactly the readings it carries, and nothing else; every
change is kept (``revisions``) and a run can be undone.

The property tests load random sequences of small overlapping files (wide and long CSV,
random subsets of stations, hours and pollutants, values that often repeat what is
stored, empty cells, text cells) through the real readers and loader, and compare the
database with a pure-Python model: the last value written for each station, hour and
pollutant. Values are chosen so that QC can only flag ``negative`` (a value below zero)
and ``non_numeric`` (a text): no neighbour jumps above the spike thresholds, no caps,
fewer than 24 hours. ``station_daily`` must equal its recomputation from ``hourly``.
"""
from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from config.sites import load_site_config
from ingest.csvfile import read_csv
from ingest.excel import read_excel
from ingest.loader import load_file
from store import daily as station_daily
from store import schema
from store.revisions import UndoError, undo_run
from store.sites import sync_site_config
from store.writer import FLAG_COLUMNS, VALUE_COLUMNS, read_hourly
from tests.conftest import BEIJING_SITES

STATIONS = ["1001A", "1002A", "1003A"]
POLLUTANTS = [p for _, p in schema.POLLUTANT_COLUMNS]
BASE = pd.Timestamp("2024-01-01 21:00")          # the hours cross midnight: two station-days
HOURS = 5
OK, NEGATIVE, NON_NUMERIC, MISSING = 0, 2, 3, 1
TEXT = "abc"                                     # not a number: flagged non_numeric
# |jump| ≤ 5 for CO (spike jump 5), ≤ 50 for the others (≥ 200); no instrument caps.
VALUES = {p: ([0.0, 1.0, 2.5, 4.0, -1.0] if p == "CO" else [0.0, 10.0, 25.0, 40.0, -10.0])
          for p in POLLUTANTS}


# -- the model ------------------------------------------------------------------------------

def expected_cell(cell):
    """(value, flag) a carried file cell is stored as; None for an empty cell."""
    if cell is None:
        return None
    if cell == TEXT:
        return (None, NON_NUMERIC)
    return (float(cell), NEGATIVE if cell < 0 else OK)


def apply(model: dict, cells: dict) -> tuple[dict, set, int, int]:
    """The model after a load of ``cells`` ((station, hour, pollutant) → file cell); the
    cells written, and the readings new and changed the loader must report."""
    after, written, new, changed = dict(model), set(), 0, 0
    for key, cell in cells.items():
        value = expected_cell(cell)
        if value is None or model.get(key) == value:
            continue
        written.add(key)
        new, changed = (new + 1, changed) if key not in model else (new, changed + 1)
        after[key] = value
    return after, written, new, changed


# -- files ------------------------------------------------------------------------------

def _text(cell) -> str:
    return "" if cell is None else cell if isinstance(cell, str) else f"{cell:g}"


def write_wide(path, hours, pollutants, grid):
    lines = ["time," + ",".join(pollutants)]
    for h, row in zip(hours, grid):
        lines.append(f"{BASE + pd.Timedelta(hours=h):%Y-%m-%d %H:%M},"
                     + ",".join(_text(c) for c in row))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_long(path, cells: dict):
    lines = ["station,time,pollutant,value"]
    for (station, h, p), cell in cells.items():
        lines.append(f"{station},{BASE + pd.Timedelta(hours=h):%Y-%m-%d %H:%M},{p},{_text(cell)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@st.composite
def cell_for(draw, pollutant):
    return draw(st.one_of(st.none(), st.just(TEXT), st.sampled_from(VALUES[pollutant])))


@st.composite
def wide_file(draw):
    station = draw(st.sampled_from(STATIONS))
    hours = sorted(draw(st.sets(st.integers(0, HOURS - 1), min_size=1, max_size=HOURS)))
    pollutants = draw(st.lists(st.sampled_from(POLLUTANTS), min_size=1, max_size=6,
                               unique=True))
    grid = [[draw(cell_for(p)) for p in pollutants] for _ in hours]
    cells = {(station, h, p): c for h, row in zip(hours, grid) for p, c in zip(pollutants, row)}
    return ("wide", station, hours, pollutants, grid, cells)


@st.composite
def long_file(draw):
    keys = draw(st.lists(st.tuples(st.sampled_from(STATIONS), st.integers(0, HOURS - 1),
                                   st.sampled_from(POLLUTANTS)),
                         min_size=1, max_size=14, unique=True))
    cells = {k: draw(cell_for(k[2])) for k in keys}
    return ("long", None, None, None, None, cells)


loads = st.lists(st.one_of(wide_file(), long_file()), min_size=1, max_size=5)


def load_spec(engine, folder, i, spec):
    kind, station, hours, pollutants, grid, cells = spec
    path = folder / f"load{i}-{kind}.csv"
    if kind == "wide":
        write_wide(path, hours, pollutants, grid)
        return load_file(engine, "csv", path, lambda p: read_csv(p, layout="wide",
                                                                 station=station))
    write_long(path, cells)
    return load_file(engine, "csv", path, lambda p: read_csv(p, layout="long"))


# -- the database side --------------------------------------------------------------------

def db_state(engine) -> dict:
    """(station, hour, pollutant) → (value or None, flag) of every readable stored cell;
    every other cell must be empty (NULL flagged missing)."""
    with engine.connect() as conn:
        codes = dict(conn.execute(text("SELECT id, code FROM stations")).all())
        rows = read_hourly(conn, list(codes), np.datetime64("2000-01-01T00:00:00"),
                           np.datetime64("2100-01-01T00:00:00"))
    state = {}
    for row in rows.itertuples(index=False):
        hour = int((pd.Timestamp(row.ts) - BASE) / pd.Timedelta(hours=1))
        for col, flag_col, p in zip(VALUE_COLUMNS, FLAG_COLUMNS, POLLUTANTS):
            value, flag = getattr(row, col), int(getattr(row, flag_col))
            if np.isnan(value) and flag == MISSING:
                continue
            assert not np.isnan(value) or flag == NON_NUMERIC, (row, col)
            state[(codes[row.station_id], hour, p)] = (None if np.isnan(value) else value, flag)
    return state


def assert_daily_matches_hourly(engine):
    """``station_daily`` as the writes kept it == recomputed from ``hourly``."""
    def rows():
        with engine.connect() as conn:
            ids = [r[0] for r in conn.execute(text("SELECT id FROM stations"))]
            return station_daily.read_rows(conn, ids, "1900-01-01", "2200-01-01")
    kept = rows()
    station_daily.rebuild(engine)
    rebuilt = rows()
    if kept.empty and rebuilt.empty:
        return
    pd.testing.assert_frame_equal(kept.reset_index(drop=True), rebuilt.reset_index(drop=True),
                                  check_exact=True, check_dtype=False)


def reset(engine):
    with engine.begin() as conn:
        for table in ("hourly", "revisions", "station_daily", "ingest_runs"):
            conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
def stations(engine):
    with engine.begin() as conn:
        sync_site_config(conn, load_site_config(BEIJING_SITES))
    return engine


# 25 fixed examples per backend; LANTIAN_HYPOTHESIS_EXAMPLES=500 searches further (random).
_EXAMPLES = os.environ.get("LANTIAN_HYPOTHESIS_EXAMPLES")
PROPERTY = settings(max_examples=int(_EXAMPLES or 25), deadline=None, derandomize=not _EXAMPLES,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


# -- properties -----------------------------------------------------------------------------

@PROPERTY
@given(sequence=loads, data=st.data())
def test_loads_end_in_the_last_value_written_and_undo_restores(stations, tmp_path_factory,
                                                               sequence, data):
    engine = stations
    reset(engine)
    folder = tmp_path_factory.mktemp("loads")
    model, states, written, run_ids = {}, [{}], [], []
    warnings.simplefilter("ignore")
    for i, spec in enumerate(sequence):
        result = load_spec(engine, folder, i, spec)
        model, cells, new, changed = apply(model, spec[5])
        assert (result.readings_new, result.readings_changed) == (new, changed), spec
        states.append(model)
        written.append(cells)
        run_ids.append(result.run_id)
        assert db_state(engine) == model
    assert_daily_matches_hourly(engine)

    # Undo the runs in a random order. An undo is refused when a later run that is not
    # undone wrote one of its cells; otherwise its cells go back to what they were before
    # it (gone, where it had added them), and nothing else changes.
    undone = set()
    for k in data.draw(st.permutations(list(range(len(sequence)))), label="undo order"):
        blocking = [j for j in range(k + 1, len(sequence))
                    if j not in undone and written[k] & written[j]]
        try:
            outcome = undo_run(engine, run_ids[k])
        except UndoError as exc:
            message = str(exc)
            if blocking:
                event("undo refused")
                assert f"later run #{run_ids[blocking[0]]} " in message or any(
                    f"later run #{run_ids[j]} " in message for j in blocking), message
            else:
                event("undo: nothing to undo")
                assert not written[k] and "nothing to undo" in message, message
            assert db_state(engine) == model
            continue
        assert not blocking, "undone although a later run changed its readings"
        event("undo of the last run standing" if all(j in undone for j in
                                                      range(k + 1, len(sequence)))
              else "undo of an earlier run")
        undone.add(k)
        for key in written[k]:
            if key in states[k]:
                model[key] = states[k][key]
            else:
                model.pop(key, None)
        assert outcome.restored + outcome.removed == len(written[k])
        assert db_state(engine) == model
        if k == len(sequence) - 1 and len(undone) == 1:
            assert model == states[k]                  # the last run: the state before it
        with pytest.raises(UndoError, match="already undone"):
            undo_run(engine, run_ids[k])
    assert_daily_matches_hourly(engine)


# -- cells that come in empty ---------------------------------------------------------------

def hourly_values(engine, station="1003A"):
    with engine.connect() as conn:
        return {(str(r[0])[:16], c): (v, f) for r in conn.execute(text(
            "SELECT h.ts, h.no2, h.no2_flag, h.pm25, h.pm25_flag FROM hourly h JOIN stations s "
            "ON s.id = h.station_id WHERE s.code = :c ORDER BY h.ts"), {"c": station})
            for c, v, f in (("NO2", r[1], r[2]), ("PM2.5", r[3], r[4]))}


STORED = {("2016-12-01 00:00", "NO2"): (36.0, OK), ("2016-12-01 00:00", "PM2.5"): (9.0, OK),
          ("2016-12-01 01:00", "NO2"): (41.0, OK), ("2016-12-01 01:00", "PM2.5"): (9.0, OK)}


@pytest.fixture
def repro(cli, engine, tmp_path):
    """The tester's station-hours as the Beijing data holds them (run 1, from the CLI)."""
    assert cli("init", "--sites", BEIJING_SITES).exit_code == 0
    first = tmp_path / "stored.csv"
    first.write_text("time,NO2,PM2.5\n2016-12-01 00:00,36,9\n2016-12-01 01:00,41,9\n")
    result = cli("ingest", "csv", first, "--layout", "wide", "--station", "1003A")
    assert result.exit_code == 0, result.output
    assert hourly_values(engine) == STORED
    return cli


def test_the_testers_reproduction_changes_nothing(repro, engine, tmp_path):
    p = tmp_path / "p.csv"
    p.write_text("station,time,pollutant,value,unit\n1003A,2016-12-01 00:00,PM2.5,9,ug/m3\n"
                 "1003A,2016-12-01 01:00,NO2,41,ug/m3\n")
    result = repro("ingest", "csv", p)
    assert result.exit_code == 0, result.output
    assert "2 readings read, 0 new, 0 changed — nothing new to store" in result.output
    assert hourly_values(engine) == STORED


def test_empty_cells_of_a_wide_csv_keep_the_stored_readings(repro, engine, tmp_path):
    wide = tmp_path / "gaps.csv"
    wide.write_text("time,NO2,PM2.5\n2016-12-01 00:00,,12\n2016-12-01 01:00,NA,\n")
    result = repro("ingest", "csv", wide, "--layout", "wide", "--station", "1003A")
    assert "1 readings read, 0 new, 1 changed" in result.output, result.output
    assert hourly_values(engine) == {**STORED, ("2016-12-01 00:00", "PM2.5"): (12.0, OK)}


def test_a_text_cell_is_carried_and_flagged(repro, engine, tmp_path):
    wide = tmp_path / "text.csv"
    wide.write_text("time,NO2\n2016-12-01 00:00,calibrating\n")
    result = repro("ingest", "csv", wide, "--layout", "wide", "--station", "1003A")
    assert "1 readings read, 0 new, 1 changed" in result.output, result.output
    assert hourly_values(engine) == {**STORED, ("2016-12-01 00:00", "NO2"): (None, NON_NUMERIC)}


def test_xlsx_formula_cells_without_cached_values_keep_the_stored_readings(repro, engine,
                                                                          tmp_path):
    from openpyxl import Workbook
    book = Workbook()
    sheet = book.active
    sheet.append(["time", "NO2", "PM2.5"])
    sheet.append(["2016-12-01 00:00", "=1+1", "=A1*2"])
    sheet.append(["2016-12-01 01:00", "=SUM(1,2)", 10])
    path = tmp_path / "formulas.xlsx"
    book.save(path)
    assert read_excel(path, layout="wide", station="1003A")["value"].isna().sum() == 3
    result = repro("ingest", "excel", path, "--layout", "wide", "--station", "1003A")
    assert result.exit_code == 0, result.output
    assert "1 readings read, 0 new, 1 changed" in result.output, result.output
    assert hourly_values(engine) == {**STORED, ("2016-12-01 01:00", "PM2.5"): (10.0, OK)}


def test_a_nan_gas_temperature_erases_nothing(repro, engine, tmp_path):
    wide = tmp_path / "ppb.csv"
    wide.write_text("time,NO2\n2016-12-01 00:00,20\n2016-12-01 01:00,21\n")
    result = repro("ingest", "csv", wide, "--layout", "wide", "--station", "1003A",
                   "--unit", "NO2=ppb", "--gas-temperature", "nan")
    assert hourly_values(engine) == STORED, result.output


# -- history, runs and undo through the command line ----------------------------------------

def test_history_runs_and_undo_on_the_command_line(repro, engine, tmp_path):
    a = tmp_path / "a.csv"
    a.write_text("station,time,pollutant,value\n1003A,2016-12-01 00:00,NO2,50\n"
                 "1003A,2016-12-01 02:00,NO2,7\n")
    b = tmp_path / "b.csv"
    b.write_text("station,time,pollutant,value\n1003A,2016-12-01 00:00,NO2,55\n")
    c = tmp_path / "c.csv"
    c.write_text("station,time,pollutant,value\n1003A,2016-12-01 01:00,PM2.5,11\n")
    for f in (a, b, c):
        assert repro("ingest", "csv", f).exit_code == 0          # runs 2, 3, 4

    shown = repro("history", "1003A", "--at", "2016-12-01 00:00", "--pollutant", "no2")
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert "NO2   now     55 µg/m3 [ok] — written by run #3" in lines[1] and "b.csv" in lines[1]
    assert "earlier 50 µg/m3 [ok] — written by run #2" in lines[2]
    assert "replaced by run #3" in lines[2]
    assert "earlier 36 µg/m3 [ok] — written by run #1" in lines[3] and "stored.csv" in lines[3]
    assert "PM2.5" not in shown.output

    listed = repro("runs", "list", "--limit", "3")
    assert listed.exit_code == 0, listed.output
    assert [ln.split()[0] for ln in listed.output.splitlines()[2:5]] == ["4", "3", "2"]

    refused = repro("runs", "undo", "2")                         # run 3 changed its NO2
    assert refused.exit_code == 1
    assert refused.output.count("\n") == 1 and "run #3" in refused.output
    assert "Traceback" not in refused.output

    with engine.connect() as conn:
        version = conn.execute(text("SELECT value FROM meta WHERE key = 'data_version'")).scalar()
    done = repro("runs", "undo", "4")                 # nobody changed PM2.5 at 01:00 since
    assert done.exit_code == 0, done.output
    assert "run #4 (c.csv) undone by run #5: 1 readings restored" in done.output
    assert hourly_values(engine)[("2016-12-01 01:00", "PM2.5")] == (9.0, OK)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT value FROM meta WHERE key = 'data_version'")
                            ).scalar() != version
        assert conn.execute(text("SELECT undone_by FROM ingest_runs WHERE id = 4")).scalar() == 5
    again = repro("runs", "undo", "4")
    assert again.exit_code == 1 and "already undone by run #5" in again.output

    assert repro("runs", "undo", "3").exit_code == 0           # the last change of NO2
    assert repro("runs", "undo", "2").exit_code == 0           # now run 2 is the last
    assert hourly_values(engine) == STORED                     # 02:00 (added by run 2) gone
    assert_daily_matches_hourly(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM station_daily WHERE day = '2016-12-01'")
                            ).scalar() == 1

    for args, words in ((("runs", "undo", "99"), "no ingest run #99"),
                        (("runs", "undo", "5"), "is an undo"),
                        (("history", "NOPE", "--at", "2016-12-01 00:00"), "unknown station"),
                        (("history", "1003A", "--at", "yesterday-ish"), "expected a time"),
                        (("history", "1003A", "--at", "2016-12-01 00:30"), "start of the hour")):
        bad = repro(*args)
        assert bad.exit_code == 1 and words in bad.output, (args, bad.output)
        assert bad.output.count("\n") == 1


def test_undo_of_a_run_that_changed_nothing_is_refused(repro, tmp_path):
    same = tmp_path / "same.csv"
    same.write_text("time,NO2\n2016-12-01 00:00,36\n")
    assert "nothing new" in repro("ingest", "csv", same, "--layout", "wide",
                                  "--station", "1003A").output
    result = repro("runs", "undo", "2")
    assert result.exit_code == 1 and "changed no readings" in result.output


def test_runs_before_the_revision_log_cannot_be_undone(repro, engine):
    with engine.begin() as conn:
        conn.execute(text("UPDATE meta SET value = '2' WHERE key = 'revisions_since'"))
    result = repro("runs", "undo", "1")
    assert result.exit_code == 1 and "before revisions were kept" in result.output


def test_a_part_of_a_file_loaded_again_is_judged_with_its_stored_neighbours(cli, engine,
                                                                            tmp_path):
    """QC sees the stored hours around a file: a spike or a stuck run found by the whole
    file is found again when only a part of it is loaded again, so nothing 'changes'."""
    from ingest.qc import SPIKE, STUCK
    assert cli("init", "--sites", BEIJING_SITES).exit_code == 0
    hours = pd.date_range("2016-12-01", periods=40, freq="h")
    no2 = [40.0] * 40
    no2[10] = 900.0                                   # a spike: > 4× and +200 over both sides
    so2 = [15.0 + (i % 3) for i in range(40)]
    so2[12:38] = [33.0] * 26                          # 26 h stuck above the floor
    whole = tmp_path / "whole.csv"
    pd.DataFrame({"time": hours.strftime("%Y-%m-%d %H:%M"), "NO2": no2, "SO2": so2}).to_csv(
        whole, index=False)
    assert cli("ingest", "csv", whole, "--layout", "wide", "--station", "1003A").exit_code == 0

    def flags():
        with engine.connect() as conn:
            return {str(r[0])[:16]: (r[1], r[2]) for r in conn.execute(text(
                "SELECT h.ts, h.no2_flag, h.so2_flag FROM hourly h JOIN stations s "
                "ON s.id = h.station_id WHERE s.code = '1003A' ORDER BY h.ts"))}
    before = flags()
    assert before["2016-12-01 10:00"][0] == SPIKE
    assert before["2016-12-01 20:00"][1] == STUCK
    # the spike hour alone, then a few hours inside the stuck run
    part = tmp_path / "part.csv"
    pd.DataFrame({"time": hours[[10, 20, 21]].strftime("%Y-%m-%d %H:%M"),
                  "NO2": [no2[10], no2[20], no2[21]],
                  "SO2": [so2[10], so2[20], so2[21]]}).to_csv(part, index=False)
    result = cli("ingest", "csv", part, "--layout", "wide", "--station", "1003A")
    assert "0 new, 0 changed" in result.output, result.output
    assert flags() == before


def test_status_shows_kept_versions_and_undone_runs(repro, tmp_path):
    wide = tmp_path / "change.csv"
    wide.write_text("time,NO2\n2016-12-01 00:00,37\n")
    assert repro("ingest", "csv", wide, "--layout", "wide", "--station", "1003A").exit_code == 0
    status = repro("status", "--runs", "5")
    assert "1 earlier versions of station-hours are kept" in status.output, status.output
    assert repro("runs", "undo", "2").exit_code == 0
    status = repro("status", "--runs", "5")
    assert "ok, undone by #3" in status.output, status.output


def test_a_file_loaded_before_is_skipped_only_while_its_readings_stand(repro, engine, tmp_path):
    """Issue 14: a file identical to a run whose readings are all still as it wrote them
    is not read again; after an undo of that run, a later change of one of its hours or
    of a neighbouring hour (QC context), or for a run without a recorded span, it is."""
    a = tmp_path / "a.csv"
    a.write_text("station,time,pollutant,value\n1003A,2016-12-01 02:00,NO2,7\n"
                 "1003A,2016-12-01 03:00,NO2,8\n")
    assert "2 readings read, 2 new" in repro("ingest", "csv", a).output      # run 2
    skipped = repro("ingest", "csv", a)                                       # run 3
    assert skipped.exit_code == 0
    assert "identical to run #2, loaded before; nothing read" in skipped.output
    with engine.connect() as conn:
        assert conn.execute(text("SELECT status, rows_read FROM ingest_runs WHERE id = 3")
                            ).one() == ("unchanged", 0)

    assert repro("runs", "undo", "2").exit_code == 0                          # run 4
    assert ("2016-12-01 02:00", "NO2") not in hourly_values(engine)
    again = repro("ingest", "csv", a)                                         # run 5
    assert "2 readings read, 2 new" in again.output, again.output
    assert hourly_values(engine)[("2016-12-01 02:00", "NO2")] == (7.0, OK)
    assert "identical to run #5" in repro("ingest", "csv", a).output          # run 6

    b = tmp_path / "b.csv"
    b.write_text("station,time,pollutant,value\n1003A,2016-12-01 02:00,NO2,9\n")
    assert "1 changed" in repro("ingest", "csv", b).output                    # run 7
    reread = repro("ingest", "csv", a)                                        # run 8
    assert "2 readings read, 0 new, 1 changed" in reread.output, reread.output
    assert hourly_values(engine)[("2016-12-01 02:00", "NO2")] == (7.0, OK)
    # run 8 wrote one of the file's two readings: it does not stand for the whole file
    assert "nothing read" not in repro("ingest", "csv", a).output             # run 9

    d = tmp_path / "d.csv"
    d.write_text("station,time,pollutant,value\n1003A,2016-12-01 10:00,NO2,20\n")
    assert "1 new" in repro("ingest", "csv", d).output                        # run 10
    e = tmp_path / "e.csv"
    e.write_text("station,time,pollutant,value\n1003A,2016-12-01 11:00,NO2,21\n"
                 "1004A,2016-12-01 10:00,NO2,30\n")
    assert "2 new" in repro("ingest", "csv", e).output                        # run 11
    near = repro("ingest", "csv", d)                   # 11:00 of 1003A is in QC's context
    assert "1 readings read" in near.output and "nothing read" not in near.output

    f = tmp_path / "f.csv"
    f.write_text("station,time,pollutant,value\n1005A,2016-12-02 10:00,NO2,20\n")
    assert "1 new" in repro("ingest", "csv", f).output
    with engine.begin() as conn:
        conn.execute(text("UPDATE ingest_runs SET first_hour = NULL, last_hour = NULL "
                          "WHERE id = (SELECT MAX(id) FROM ingest_runs)"))
    assert "1 readings read" in repro("ingest", "csv", f).output
