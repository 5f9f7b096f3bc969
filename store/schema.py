"""SQLAlchemy 2 schema. Change it only together with a new Alembic migration.

Times are naive ``DateTime`` values in China Standard Time (UTC+8, no DST);
an hourly timestamp is the **start** of the averaging hour (standards §3).
Canonical units: µg/m³, CO in mg/m³.
"""
from __future__ import annotations

from sqlalchemy import (Boolean, Column, Date, DateTime, Float, ForeignKey, Index, Integer,
                        MetaData, SmallInteger, String, Table, Text, UniqueConstraint)

metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

# (column name, pollutant) in storage order; column names are SQL-safe.
POLLUTANT_COLUMNS = (("so2", "SO2"), ("no2", "NO2"), ("co", "CO"), ("o3", "O3"),
                     ("pm10", "PM10"), ("pm25", "PM2.5"))
COLUMN_OF = {p: c for c, p in POLLUTANT_COLUMNS}

cities = Table(
    "cities", metadata,
    Column("id", String(64), primary_key=True),
    Column("name_zh", String(128), nullable=False),
    Column("name_en", String(128), nullable=False),
    Column("synthetic", Boolean, nullable=False, default=False),
    Column("site_file", Text),
)

districts = Table(
    "districts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("city_id", String(64), ForeignKey("cities.id", ondelete="CASCADE"), nullable=False),
    Column("code", String(64), nullable=False),
    Column("name_zh", String(128), nullable=False),
    Column("name_en", String(128), nullable=False),
    Column("grade", String(2), nullable=False, default="II"),
    UniqueConstraint("city_id", "code"),
)

stations = Table(
    "stations", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", String(32), nullable=False, unique=True),
    Column("name_zh", String(128), nullable=False, default=""),
    Column("name_en", String(128), nullable=False, default=""),
    Column("city_id", String(64), ForeignKey("cities.id", ondelete="SET NULL")),
    Column("district_id", Integer, ForeignKey("districts.id", ondelete="SET NULL")),
    # evaluation | background | excluded (standards §7: only evaluation
    # stations count for district and city values)
    Column("role", String(16), nullable=False, default="evaluation"),
    Column("network", String(16), nullable=False, default=""),
    Column("lon", Float),
    Column("lat", Float),
    # From the national station list: its city, province and prefecture names.
    Column("list_city", String(64)),
    Column("province", String(64)),
    Column("prefecture", String(64)),
    Column("retired_on", Date),
    Column("synthetic", Boolean, nullable=False, default=False),
    # site_file | station_list | ingest (created on first sight of an unknown code)
    Column("origin", String(16), nullable=False, default="site_file"),
)

targets = Table(
    "targets", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("district_id", Integer, ForeignKey("districts.id", ondelete="CASCADE"), nullable=False),
    Column("pollutant", String(8), nullable=False),
    Column("statistic", String(32), nullable=False),
    Column("value", Float, nullable=False),
    Column("unit", String(16), nullable=False),
    Column("first_year", Integer),
    Column("last_year", Integer),
    Column("note", Text, nullable=False, default=""),
)

ingest_runs = Table(
    "ingest_runs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("reader", String(32), nullable=False),
    Column("file", Text, nullable=False),
    Column("checksum", String(64), nullable=False),
    Column("options", Text, nullable=False, default=""),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    # running | ok | unchanged | failed (an undone run keeps its status: see undone_by)
    Column("status", String(16), nullable=False),
    Column("rows_read", Integer, nullable=False, default=0),
    Column("readings_read", Integer, nullable=False, default=0),
    Column("readings_new", Integer, nullable=False, default=0),
    Column("readings_changed", Integer, nullable=False, default=0),
    Column("readings_flagged", Integer, nullable=False, default=0),
    Column("readings_rejected", Integer, nullable=False, default=0),
    Column("message", Text, nullable=False, default=""),
    # The span of the station-hours the run wrote (inserted or changed), recorded with
    # its readings (migration 0007): ``lantian runs undo`` looks for its rows there.
    Column("first_hour", DateTime),
    Column("last_hour", DateTime),
    # The run (reader "undo") that undid this one; the status stays what it was, so
    # that the file still counts as loaded (the scheduler does not load it again).
    Column("undone_by", Integer),
    Index(None, "checksum"),
)

# No foreign keys on this table, deliberately: on PostgreSQL their per-row
# triggers cost more than the whole COPY (5 s of 8 s for the Beijing set). The
# loader is the only writer and resolves station and run ids in the same
# transaction; tests/test_store.py checks that no row is orphaned.
_hourly_columns = [
    Column("station_id", Integer, primary_key=True),
    Column("ts", DateTime, primary_key=True),
]
for _col, _pollutant in POLLUTANT_COLUMNS:
    _hourly_columns.append(Column(_col, Float, comment=f"{_pollutant}, canonical unit"))
for _col, _pollutant in POLLUTANT_COLUMNS:
    # QC flag code of the value (ingest.qc.FLAGS); 0 = ok, 1 = missing.
    _hourly_columns.append(Column(f"{_col}_flag", SmallInteger, nullable=False, default=1))
_hourly_columns.append(Column("run_id", Integer, nullable=False))

# PostgreSQL: partitioned by time, one partition per calendar year (hourly_y2015 …),
# created by store/writer.py before it writes into a new year (migration 0005).
hourly = Table("hourly", metadata, *_hourly_columns, sqlite_with_rowid=False,
               postgresql_partition_by="RANGE (ts)")

meta = Table(
    "meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# The sent log of the report emails: one row per delivery of one report to one
# recipient (a --resend adds a row). A report counts as sent to a recipient when
# any row for (report, period, city, scope, recipient) has status "sent"; a
# failed delivery is recorded as "failed" with its error and never as sent.
# Times are naive China Standard Time like everything else here.
report_deliveries = Table(
    "report_deliveries", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("report", String(32), nullable=False),        # weekly
    Column("period", String(16), nullable=False),        # 2015-W05
    Column("city_id", String(64), nullable=False),
    Column("scope", String(64), nullable=False),         # a district id, or "city"
    Column("recipient", String(320), nullable=False),
    Column("lang", String(8), nullable=False, default="zh"),
    Column("status", String(16), nullable=False),        # sent | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("message_id", Text, nullable=False, default=""),
    Column("subject", Text, nullable=False, default=""),
    Column("error", Text, nullable=False, default=""),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime, nullable=False),
    Index(None, "report", "period", "city_id", "scope", "recipient"),
)

# Staff accounts of the dashboard. Passwords are stored only as
# werkzeug scrypt hashes. ``district_code`` (with ``city_id``) scopes a viewer to
# one district; empty means every district. Failed sign-ins and lockouts are
# counted per (username, address) in ``login_failures`` (migration 0006).
users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", String(256), nullable=False),
    Column("role", String(16), nullable=False),              # viewer | analyst | admin
    Column("city_id", String(64)),
    Column("district_code", String(64)),
    Column("active", Boolean, nullable=False, default=True),
    # bumped on a password change or disable: sessions issued before are void
    Column("session_epoch", Integer, nullable=False, default=0),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("last_login_at", DateTime),
)

# Failed sign-ins per (username as typed, address): an attacker at one
# address locks only that address's attempts on the account. Keyed by the name, not
# the account id, so that unknown names are counted and locked exactly like known
# ones (their answers reveal nothing). ``failures`` is incremented atomically
# *before* the password is checked (an attempt counts as failed until it succeeds),
# so parallel attempts cannot check more than the limit; ``locked_until`` (CST) is
# set by the attempt that reaches the limit. A success, an administrator's unlock or
# password reset deletes the rows; rows untouched for a day are pruned.
login_failures = Table(
    "login_failures", metadata,
    Column("username", String(64), primary_key=True),
    Column("remote_addr", String(64), primary_key=True),
    Column("failures", Integer, nullable=False, default=0),
    Column("locked_until", DateTime),
    Column("updated_at", DateTime, nullable=False),
    Index(None, "updated_at"),
)

# Staff sign-in sessions: the signed cookie carries a random id whose
# SHA-256 is ``id``; every request checks this row (joined with its account) so a
# sign-out ends that one session at once (``ended_at``), on every server, while the
# account's other sessions go on. A session lives at most ``session_hours`` from
# ``created_at`` however active it is. ``users.session_epoch`` still ends all of an
# account's sessions at once (password, role, disable).
sessions = Table(
    "sessions", metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("ended_at", DateTime),
    Column("remote_addr", String(64), nullable=False, default=""),
    Index(None, "user_id"),
)

# Who did what, when, from where: logins (ok, failed, locked), logouts,
# uploads, target, recipient and user changes. Append-only. The login rate
# limit counts recent ``login_failed`` rows per address from here, so it holds
# across every web worker and server sharing the database.
audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False),
    Column("username", String(64), nullable=False, default=""),
    Column("action", String(32), nullable=False),
    Column("remote_addr", String(64), nullable=False, default=""),
    Column("detail", Text, nullable=False, default=""),
    Index(None, "action", "remote_addr", "at"),
    Index(None, "at"),
)

# The OpenAQ sensors Lantian follows (ingest/openaq.py): one row per OpenAQ v3
# sensor, the station and pollutant its readings are stored under, the unit the
# API reports them in, and the cursor of the incremental pull. ``last_hour`` is
# the start (CST, standards §3) of the newest hour stored from this sensor; the
# next pull asks only for the hours after it and advances it in the same
# transaction as the readings, so a failed pull leaves it where it was and the
# gap is fetched again next time.
openaq_sensors = Table(
    "openaq_sensors", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),   # the OpenAQ sensor id
    Column("location_id", Integer, nullable=False),                 # the OpenAQ location id
    Column("station_id", Integer, ForeignKey("stations.id", ondelete="CASCADE"), nullable=False),
    Column("parameter", String(32), nullable=False),                # OpenAQ name: no2, pm25 …
    Column("pollutant", String(8), nullable=False),                 # Lantian's: NO2, PM2.5 …
    Column("units", String(16), nullable=False),                    # as the API says: ppb, µg/m³
    Column("last_hour", DateTime),
    Column("checked_at", DateTime),                                 # last successful pull (CST)
    Index(None, "location_id"),
    Index(None, "station_id"),
)

# Daily statistics of every station-day that has hourly rows (store/daily.py), kept
# by the writer in the same transaction as the readings, so that a year's daily values
# of a whole network are read from ~365 rows per station instead of ~8,760. Values
# are as the statistics see them (QC-excluded values left out). Per 24-h-mean
# pollutant: ``<p>`` the unrounded daily mean of the valid hours, ``<p>_n`` their
# number, and what makes the area means exact (indicators/averaging.py): ``<p>_sum``
# the float sum of the valid hours, ``<p>_dec`` the decimals (0-6) that hold every
# valid value (NULL: more), ``<p>_max`` the largest |value|. O3: the day's 24 hourly
# values (NULL = not valid), because MDA8 windows, area 8-h means and the area 1-h
# maximum need them; the rules of each profile are applied when the table is read.
_daily_columns = [
    Column("station_id", Integer, primary_key=True),
    Column("day", Date, primary_key=True),
]
for _col, _pollutant in POLLUTANT_COLUMNS:
    if _pollutant == "O3":
        continue
    _daily_columns += [Column(_col, Float), Column(f"{_col}_n", SmallInteger, nullable=False),
                       Column(f"{_col}_sum", Float), Column(f"{_col}_dec", SmallInteger),
                       Column(f"{_col}_max", Float)]
_daily_columns += [Column(f"o3_h{_h:02d}", Float) for _h in range(24)]

station_daily = Table("station_daily", metadata, *_daily_columns, sqlite_with_rowid=False)

# What a load or an undo replaced (migration 0007): one row per station-hour a
# run *changed* (none for the station-hours it inserted, so a first load costs nothing
# more): the run, the run that had written the row before it, and the row as it was
# then (all six values and flags). ``hourly.run_id`` is the last run that wrote a row,
# so the state before and after every run can be rebuilt: the cells a run wrote are
# those that differ between its revision row and the row's next state (the next
# revision of the station-hour, whose ``previous_run_id`` is this run, or the current
# row). A station-hour that an undo emptied is deleted from ``hourly``; its revision
# keeps what it held. No foreign keys, like ``hourly``: the loader is the only writer.
_revision_columns = [
    Column("station_id", Integer, primary_key=True),
    Column("ts", DateTime, primary_key=True),
    Column("run_id", Integer, primary_key=True),
    Column("previous_run_id", Integer, nullable=False),
]
_revision_columns += [Column(c, Float) for c, _ in POLLUTANT_COLUMNS]
_revision_columns += [Column(f"{c}_flag", SmallInteger, nullable=False)
                      for c, _ in POLLUTANT_COLUMNS]
revisions = Table("revisions", metadata, *_revision_columns,
                  Index(None, "run_id"), Index(None, "previous_run_id"))

# The hourly (real-time) AQI as a source published it (migration 0008): the
# national platform's real-time feed (``lantian ingest cnemc-live``) carries, beside the
# 1-h values stored in ``hourly``, its own ``aqi`` and primary pollutant(s), kept here so
# that Lantian's AQI (computed from the stored values, indicators/aqi.py) can be shown
# beside it and disagreements found. One row per station-hour with a published AQI (``ts``
# the start of the hour, CST, like ``hourly``); ``primary_pollutants`` Lantian pollutant
# names comma-joined (SO2, NO2, CO, O3, PM10, PM2.5 order), "" for none (AQI ≤ 50);
# ``source`` the reader (``cnemc-live``); ``run_id`` the ingest run that last wrote the
# row. A file loaded again changes nothing; a republished different value replaces the
# row (counted as changed). No foreign keys, like ``hourly``: the loader is the only writer.
published_hourly = Table(
    "published_hourly", metadata,
    Column("station_id", Integer, primary_key=True),
    Column("ts", DateTime, primary_key=True),
    Column("aqi", SmallInteger, nullable=False),
    Column("primary_pollutants", String(64), nullable=False, default=""),
    Column("source", String(16), nullable=False),
    Column("run_id", Integer, nullable=False),
    Index(None, "ts"),
)

# A published value a run replaced (a republished hour), kept so that ``lantian runs undo``
# puts it back: the row as it was, the run that replaced it and the run that had written it.
published_revisions = Table(
    "published_revisions", metadata,
    Column("station_id", Integer, primary_key=True),
    Column("ts", DateTime, primary_key=True),
    Column("run_id", Integer, primary_key=True),
    Column("previous_run_id", Integer, nullable=False),
    Column("aqi", SmallInteger, nullable=False),
    Column("primary_pollutants", String(64), nullable=False),
    Column("source", String(16), nullable=False),
    Index(None, "run_id"),
)

# Every saved version of each city's site configuration (issue 16 §12, store/site_copies.py):
# the shipped file as ``lantian init --sites`` loaded it, then each edit made on the
# administrators' page. The newest version is the city's configuration; the site files
# in config/sites/ are never written. ``source``: shipped (a file loaded, or an updated
# one followed), replace (``--replace`` over edits), admin (an edit on the page), file
# (the file a database loaded before copies existed). ``origin``: the file loaded or
# what an edit changed.
site_versions = Table(
    "site_versions", metadata,
    Column("city_id", String(64), ForeignKey("cities.id", ondelete="CASCADE"),
           primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("content", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("source", String(16), nullable=False),
    Column("origin", Text, nullable=False, default=""),
    Column("saved_by", String(64), nullable=False, default=""),
    Column("saved_at", DateTime, nullable=False),
    Column("note", Text, nullable=False, default=""),
)
