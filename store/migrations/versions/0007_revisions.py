"""revisions: what each load (or undo) replaced; the span and undo of ingest runs

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-10 09:00:00

Issue 14. ``revisions`` keeps, for every station-hour a run changed, the row as it was
before (six values and flags) and the run that had written it, so that
``lantian history`` shows every earlier value and ``lantian runs undo`` restores them.
``ingest_runs`` gains the span of the station-hours a run wrote (``first_hour``,
``last_hour``) and ``undone_by``.

Runs loaded before this migration kept nothing of what they replaced: the first run
whose changes are recorded is written to ``meta`` (``revisions_since``), and older runs
cannot be undone. Same tables on SQLite and PostgreSQL (``revisions`` is small: it
holds only changed station-hours, so it is not partitioned like ``hourly``).
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

_POLLUTANTS = ('so2', 'no2', 'co', 'o3', 'pm10', 'pm25')


def upgrade() -> None:
    columns = [sa.Column('station_id', sa.Integer(), nullable=False),
               sa.Column('ts', sa.DateTime(), nullable=False),
               sa.Column('run_id', sa.Integer(), nullable=False),
               sa.Column('previous_run_id', sa.Integer(), nullable=False)]
    columns += [sa.Column(c, sa.Float(), nullable=True) for c in _POLLUTANTS]
    columns += [sa.Column(f'{c}_flag', sa.SmallInteger(), nullable=False) for c in _POLLUTANTS]
    op.create_table('revisions', *columns,
                    sa.PrimaryKeyConstraint('station_id', 'ts', 'run_id',
                                            name=op.f('pk_revisions')))
    with op.batch_alter_table('revisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_revisions_run_id'), ['run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_revisions_previous_run_id'), ['previous_run_id'],
                              unique=False)
    with op.batch_alter_table('ingest_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_hour', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('last_hour', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('undone_by', sa.Integer(), nullable=True))
    bind = op.get_bind()
    first = bind.execute(sa.text("SELECT COALESCE(MAX(id), 0) + 1 FROM ingest_runs")).scalar()
    bind.execute(sa.text("DELETE FROM meta WHERE key = 'revisions_since'"))
    bind.execute(sa.text("INSERT INTO meta (key, value) VALUES ('revisions_since', :v)"),
                 {"v": str(int(first))})


def downgrade() -> None:
    op.get_bind().execute(sa.text("DELETE FROM meta WHERE key = 'revisions_since'"))
    with op.batch_alter_table('ingest_runs', schema=None) as batch_op:
        batch_op.drop_column('undone_by')
        batch_op.drop_column('last_hour')
        batch_op.drop_column('first_hour')
    with op.batch_alter_table('revisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_revisions_previous_run_id'))
        batch_op.drop_index(batch_op.f('ix_revisions_run_id'))
    op.drop_table('revisions')
