"""The hourly table at national scale: yearly partitions on PostgreSQL (migration 0005,
created on demand by the writer), the plans of the dashboard's queries (EXPLAIN), and
the plain table SQLite keeps."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from store import daily as station_daily
from store import schema
from store.db import alembic_config, include_object, make_engine, migrate
from store.writer import ensure_partitions, hourly_select_sql
from tests.test_daily_store import frame_of, load, synthetic_values, write_site


def partitions(conn) -> list[str]:
    return sorted(r[0] for r in conn.execute(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'hourly'::regclass")))


def postgresql_only(db_backend):
    if db_backend != "postgresql":
        pytest.skip("PostgreSQL partitioning (SQLite keeps the plain table: "
                    "test_sqlite_keeps_the_plain_table)")


def plan(conn, sql: str) -> dict:
    raw = conn.execute(text(f"EXPLAIN (FORMAT JSON) {sql}")).scalar()
    return (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]


def nodes(node: dict):
    yield node
    for child in node.get("Plans", []):
        yield from nodes(child)


def relations(p: dict) -> set[str]:
    return {n["Relation Name"] for n in nodes(p) if "Relation Name" in n}


def scans_of(p: dict, relation: str) -> set[str]:
    return {n["Node Type"] for n in nodes(p) if n.get("Relation Name") == relation}


def hourly_content(conn) -> pd.DataFrame:
    cols = ", ".join(c.name for c in schema.hourly.columns)
    frame = pd.DataFrame(conn.execute(text(f"SELECT {cols} FROM hourly ORDER BY station_id, "
                                           "ts")).fetchall(),
                         columns=[c.name for c in schema.hourly.columns])
    return frame.assign(ts=pd.to_datetime(frame["ts"]))


def insert_plain_hourly(conn, n_stations: int = 3) -> int:
    """Rows straight into the (unpartitioned) hourly table of schema 0004: 2015-12-30 …
    2016-01-02, some values NULL; returns the number of rows."""
    times = pd.date_range("2015-12-30", "2016-01-02 23:00", freq="h")
    rows = []
    for s in range(1, n_stations + 1):
        conn.execute(text("INSERT INTO stations (id, code, name_zh, name_en, role, network, "
                          "synthetic, origin) VALUES (:i, :c, '', '', 'evaluation', '', "
                          "false, 'ingest')"), {"i": s, "c": f"P{s}"})
        for k, t in enumerate(times):
            v = None if (k + s) % 11 == 0 else float(10 + (k * s) % 37)
            # (SQLite: the text SQLAlchemy's DateTime stores)
            ts = t.to_pydatetime() if conn.dialect.name == "postgresql" \
                else t.strftime("%Y-%m-%d %H:%M:%S.000000")
            rows.append({"s": s, "t": ts, "v": v, "o": 40.0 + k % 24,
                         "f": 1 if v is None else 0})
    conn.execute(text("INSERT INTO hourly (station_id, ts, so2, no2, co, o3, pm10, pm25, "
                      "so2_flag, no2_flag, co_flag, o3_flag, pm10_flag, pm25_flag, run_id) "
                      "VALUES (:s, :t, :v, :v, NULL, :o, :v, :v, :f, :f, 1, 0, :f, :f, 1)"),
                 rows)
    return len(rows)


def test_migration_moves_the_readings_into_yearly_partitions(db_url, db_backend, cli):
    eng = make_engine(db_url)
    command.upgrade(alembic_config(eng), "0004")
    with eng.begin() as conn:
        n = insert_plain_hourly(conn)
        before = hourly_content(conn)
    migrate(eng)
    with eng.connect() as conn:
        assert len(before) == n == 3 * 96
        pd.testing.assert_frame_equal(hourly_content(conn), before)
        if db_backend == "postgresql":
            assert conn.execute(text("SELECT relkind FROM pg_class "
                                     "WHERE oid = 'hourly'::regclass")).scalar() == "p"
            assert partitions(conn) == ["hourly_y2015", "hourly_y2016"]
            assert conn.execute(text("SELECT COUNT(*) FROM hourly_y2016")).scalar() == 3 * 48
            assert conn.execute(text(
                "SELECT partdefid FROM pg_partitioned_table "
                "WHERE partrelid = 'hourly'::regclass")).scalar() == 0      # no DEFAULT
            assert conn.execute(text(
                "SELECT COUNT(*) FROM pg_indexes WHERE indexname IN "
                "('hourly_y2015_pkey', 'hourly_y2016_pkey', 'pk_hourly') "
                # this test's schema only: other runs' schemas hold the same names
                "AND schemaname = current_schema()")).scalar() == 3
        diff = compare_metadata(MigrationContext.configure(conn, opts={
            "compare_type": True, "include_object": include_object}), schema.metadata)
        assert diff == []
        # readings but no daily rows yet: not ready, the dashboard reads the hours
        assert not station_daily.is_ready(conn)
    result = cli("init")
    assert "daily statistics computed from the hourly readings: 12 station-days" \
        in result.output, result.output
    with eng.connect() as conn:
        assert station_daily.is_ready(conn)
        rows = station_daily.read_rows(conn, [1, 2, 3], "2015-01-01", "2016-12-31")
    assert len(rows) == 12
    for row in rows.itertuples(index=False):
        day = pd.Timestamp(row.day)
        hours = before[(before["station_id"] == row.station_id) & (before["ts"] >= day)
                       & (before["ts"] < day + pd.Timedelta(days=1))]
        assert row.so2_n == hours["so2"].notna().sum() == 22 and row.co_n == 0
        assert row.so2 == hours["so2"].sum() / row.so2_n
        assert [getattr(row, f"o3_h{h:02d}") for h in range(24)] == hours["o3"].tolist()
    eng.dispose()


def test_the_writer_creates_each_year_before_writing_into_it(engine, db_backend, tmp_path):
    postgresql_only(db_backend)
    site = write_site(tmp_path, "gamma", 1, 2, "GA")
    from store.sites import sync_site_config
    with engine.begin() as conn:
        sync_site_config(conn, site)
        assert partitions(conn) == []
    codes = [s.code for s in site.stations]
    times = np.arange(np.datetime64("2023-12-31T20"), np.datetime64("2024-01-01T04"),
                      np.timedelta64(1, "h")).astype("datetime64[s]")
    load(engine, frame_of(codes, times, synthetic_values(codes, times, 3)), "new-year")
    with engine.connect() as conn:
        assert partitions(conn) == ["hourly_y2023", "hourly_y2024"]
        assert conn.execute(text("SELECT COUNT(*) FROM hourly_y2023")).scalar() == 8
    # a new year is attached without blocking the dashboard's reads meanwhile
    with engine.connect() as writer, engine.connect() as reader:
        tx = writer.begin()
        assert ensure_partitions(writer, np.array(["2031-06-01T00"], dtype="datetime64[s]")) \
            == [2031]
        assert ensure_partitions(writer, np.array(["2031-07-01T00"], dtype="datetime64[s]")) \
            == []
        reader.execute(text("SET lock_timeout = '2s'"))
        assert reader.execute(text("SELECT COUNT(*) FROM hourly")).scalar() == 16
        reader.rollback()
        tx.commit()
    with engine.connect() as conn:
        assert partitions(conn)[-1] == "hourly_y2031"


def test_dashboard_queries_prune_partitions_and_use_indexes(engine, db_backend, tmp_path):
    """EXPLAIN of the SQL the dashboard runs (store.writer.hourly_select_sql for the
    station page, the weekly report and district ranges; store.daily for years)."""
    postgresql_only(db_backend)
    site = write_site(tmp_path, "delta", 2, 4, "DE")
    from store.sites import sync_site_config
    with engine.begin() as conn:
        sync_site_config(conn, site)
    codes = [s.code for s in site.stations]
    for year in (2022, 2023, 2024):
        times = np.arange(np.datetime64(f"{year}-01-01T00"), np.datetime64(f"{year + 1}-01-01T00"),
                          np.timedelta64(1, "h")).astype("datetime64[s]")
        load(engine, frame_of(codes, times, synthetic_values(codes, times, year)), str(year))
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        ids = [r[0] for r in conn.execute(text("SELECT id FROM stations ORDER BY id"))]
        index_scans = {"Index Scan", "Index Only Scan", "Bitmap Index Scan"}

        # station page: one station, one month → one partition, by its primary key
        p = plan(conn, hourly_select_sql([ids[0]], np.datetime64("2024-03-01T00:00:00"),
                                         np.datetime64("2024-03-31T23:00:00"), True))
        assert relations(p) == {"hourly_y2024"}
        assert scans_of(p, "hourly_y2024") <= {"Index Scan", "Bitmap Heap Scan"}
        assert {n.get("Index Name") for n in nodes(p) if n["Node Type"] in index_scans} \
            == {"hourly_y2024_pkey"}
        # the weekly report / a district's week: every station, seven days
        p = plan(conn, hourly_select_sql(ids, np.datetime64("2023-06-05T00:00:00"),
                                         np.datetime64("2023-06-11T23:00:00"), True))
        assert relations(p) == {"hourly_y2023"}
        assert any(n["Node Type"] in index_scans for n in nodes(p))
        # a range across the new year: the two partitions it touches, not the third
        p = plan(conn, hourly_select_sql([ids[1]], np.datetime64("2022-12-20T00:00:00"),
                                         np.datetime64("2023-01-10T23:00:00"), True))
        assert relations(p) == {"hourly_y2022", "hourly_y2023"}
        assert "Seq Scan" not in {n["Node Type"] for n in nodes(p)}

        # the yearly view: the daily rows only
        p = plan(conn, station_daily.select_sql(ids, "2024-01-01", "2024-12-31", True))
        assert relations(p) == {"station_daily"}
        # the catalogue's first/last day per station: index probes, no scan of readings
        assert station_daily.is_ready(conn)
        spans_sql = ("SELECT s.id, (SELECT MIN(d.day) FROM station_daily d WHERE "
                     "d.station_id = s.id), (SELECT MAX(d.day) FROM station_daily d WHERE "
                     "d.station_id = s.id) FROM stations s")
        p = plan(conn, spans_sql)
        assert relations(p) == {"stations", "station_daily"}
        assert scans_of(p, "station_daily") <= {"Index Only Scan", "Index Scan"}
        spans = station_daily.station_spans(conn)
    assert len(spans) == 8 and {str(s[1]) for s in spans} == {"2022-01-01"}


def test_sqlite_keeps_the_plain_table(engine, db_backend):
    if db_backend != "sqlite":
        pytest.skip("SQLite only")
    with engine.connect() as conn:
        sql = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'hourly'")).scalar()
        assert "WITHOUT ROWID" in sql and "PARTITION" not in sql.upper()
        assert ensure_partitions(conn, np.array(["2024-01-01T00"], dtype="datetime64[s]")) == []
        assert station_daily.is_ready(conn)


def test_downgrade_keeps_the_readings(db_url, db_backend):
    eng = make_engine(db_url)
    command.upgrade(alembic_config(eng), "0004")
    with eng.begin() as conn:
        insert_plain_hourly(conn, n_stations=2)
        before = hourly_content(conn)
    migrate(eng)
    command.downgrade(alembic_config(eng), "0004")
    with eng.connect() as conn:
        pd.testing.assert_frame_equal(hourly_content(conn), before)
        tables = set(conn.dialect.get_table_names(conn))
        assert "station_daily" not in tables and not any(t.startswith("hourly_y") for t in tables)
    migrate(eng)
    with eng.connect() as conn:
        pd.testing.assert_frame_equal(hourly_content(conn), before)
        assert not station_daily.is_ready(conn)
    eng.dispose()
