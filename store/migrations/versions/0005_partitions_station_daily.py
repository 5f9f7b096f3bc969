"""hourly partitioned by year (PostgreSQL); daily statistics per station-day

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 12:00:00

PostgreSQL: ``hourly`` becomes a table PARTITION BY RANGE (ts) with one partition
per calendar year (``hourly_y2015`` …); the existing rows are moved into it (the
primary key is built after the move, which is faster than inserting into an
indexed table). store/writer.py creates the partition of a new year before it
writes into it. SQLite keeps the plain table.

Both: the ``station_daily`` table (store/daily.py). On a database without hourly
rows it is complete at once (marked so in ``meta``); on one with readings it is
filled by ``lantian init`` (which shows its progress), and until then the
dashboard reads the hourly table as before.
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_POLLUTANTS = (("so2", "SO2"), ("no2", "NO2"), ("co", "CO"), ("o3", "O3"),
               ("pm10", "PM10"), ("pm25", "PM2.5"))
_HOURLY_COLUMNS = (["station_id", "ts"] + [c for c, _ in _POLLUTANTS]
                   + [f"{c}_flag" for c, _ in _POLLUTANTS] + ["run_id"])


def _hourly_columns():
    columns = [sa.Column('station_id', sa.Integer(), nullable=False),
               sa.Column('ts', sa.DateTime(), nullable=False)]
    columns += [sa.Column(c, sa.Float(), nullable=True, comment=f'{p}, canonical unit')
                for c, p in _POLLUTANTS]
    columns += [sa.Column(f'{c}_flag', sa.SmallInteger(), nullable=False) for c, _ in _POLLUTANTS]
    columns.append(sa.Column('run_id', sa.Integer(), nullable=False))
    return columns


def _daily_columns():
    columns = [sa.Column('station_id', sa.Integer(), nullable=False),
               sa.Column('day', sa.Date(), nullable=False)]
    for c, p in _POLLUTANTS:
        if p == 'O3':
            continue
        columns += [sa.Column(c, sa.Float(), nullable=True),
                    sa.Column(f'{c}_n', sa.SmallInteger(), nullable=False),
                    sa.Column(f'{c}_sum', sa.Float(), nullable=True),
                    sa.Column(f'{c}_dec', sa.SmallInteger(), nullable=True),
                    sa.Column(f'{c}_max', sa.Float(), nullable=True)]
    columns += [sa.Column(f'o3_h{h:02d}', sa.Float(), nullable=True) for h in range(24)]
    return columns


def _year_partition(year: int) -> str:
    return (f"CREATE TABLE hourly_y{year} PARTITION OF hourly "
            f"FOR VALUES FROM ('{year}-01-01 00:00:00') TO ('{year + 1}-01-01 00:00:00')")


def _partition_hourly(bind) -> None:
    op.execute("ALTER TABLE hourly RENAME TO hourly_unpartitioned")
    op.execute("ALTER TABLE hourly_unpartitioned RENAME CONSTRAINT pk_hourly "
               "TO pk_hourly_unpartitioned")
    op.create_table('hourly', *_hourly_columns(), postgresql_partition_by='RANGE (ts)')
    first, last = bind.execute(sa.text(
        "SELECT MIN(ts), MAX(ts) FROM hourly_unpartitioned")).one()
    if first is not None:
        for year in range(first.year, last.year + 1):
            op.execute(_year_partition(year))
        cols = ", ".join(_HOURLY_COLUMNS)
        op.execute(f"INSERT INTO hourly ({cols}) SELECT {cols} FROM hourly_unpartitioned")
    op.execute("ALTER TABLE hourly ADD CONSTRAINT pk_hourly PRIMARY KEY (station_id, ts)")
    op.drop_table('hourly_unpartitioned')


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table('station_daily', *_daily_columns(),
                    sa.PrimaryKeyConstraint('station_id', 'day', name=op.f('pk_station_daily')),
                    sqlite_with_rowid=False)
    if bind.dialect.name == 'postgresql':
        _partition_hourly(bind)
    if bind.execute(sa.text("SELECT 1 FROM hourly LIMIT 1")).first() is None:
        # Nothing to summarise: the (empty) daily table is complete. The marker says
        # under which QC rules; store.daily rebuilds the table when they change.
        from store.daily import fingerprint
        op.execute(sa.text("INSERT INTO meta (key, value) VALUES ('daily_stats', :v)")
                   .bindparams(v=fingerprint()))


def downgrade() -> None:
    bind = op.get_bind()
    op.execute("DELETE FROM meta WHERE key = 'daily_stats'")
    op.drop_table('station_daily')
    if bind.dialect.name == 'postgresql':
        op.execute("ALTER TABLE hourly RENAME TO hourly_partitioned")
        op.execute("ALTER TABLE hourly_partitioned RENAME CONSTRAINT pk_hourly "
                   "TO pk_hourly_partitioned")
        op.create_table('hourly', *_hourly_columns(),
                        sa.PrimaryKeyConstraint('station_id', 'ts', name=op.f('pk_hourly')))
        cols = ", ".join(_HOURLY_COLUMNS)
        op.execute(f"INSERT INTO hourly ({cols}) SELECT {cols} FROM hourly_partitioned")
        op.drop_table('hourly_partitioned')   # its partitions go with it
