"""published_hourly: the hourly AQI as the national real-time feed published it

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-12 09:00:00

Issue 17. ``lantian ingest cnemc-live`` stores the feed's 1-h values in ``hourly`` and its
published ``aqi`` and primary pollutant(s) here, one row per station-hour, so that
Lantian's own hourly AQI can be shown beside the published one. Same table on SQLite and
PostgreSQL (not partitioned: one small row per station-hour).
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('published_hourly',
                    sa.Column('station_id', sa.Integer(), nullable=False),
                    sa.Column('ts', sa.DateTime(), nullable=False),
                    sa.Column('aqi', sa.SmallInteger(), nullable=False),
                    sa.Column('primary_pollutants', sa.String(length=64), nullable=False),
                    sa.Column('source', sa.String(length=16), nullable=False),
                    sa.Column('run_id', sa.Integer(), nullable=False),
                    sa.PrimaryKeyConstraint('station_id', 'ts',
                                            name=op.f('pk_published_hourly')))
    with op.batch_alter_table('published_hourly', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_published_hourly_ts'), ['ts'], unique=False)


    # what a run replaced (for ``lantian runs undo``): the row as it was before
    op.create_table('published_revisions',
                    sa.Column('station_id', sa.Integer(), nullable=False),
                    sa.Column('ts', sa.DateTime(), nullable=False),
                    sa.Column('run_id', sa.Integer(), nullable=False),
                    sa.Column('previous_run_id', sa.Integer(), nullable=False),
                    sa.Column('aqi', sa.SmallInteger(), nullable=False),
                    sa.Column('primary_pollutants', sa.String(length=64), nullable=False),
                    sa.Column('source', sa.String(length=16), nullable=False),
                    sa.PrimaryKeyConstraint('station_id', 'ts', 'run_id',
                                            name=op.f('pk_published_revisions')))
    with op.batch_alter_table('published_revisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_published_revisions_run_id'), ['run_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('published_revisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_published_revisions_run_id'))
    op.drop_table('published_revisions')
    with op.batch_alter_table('published_hourly', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_published_hourly_ts'))
    op.drop_table('published_hourly')
