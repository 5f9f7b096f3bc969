"""OpenAQ sensors followed and their incremental cursor

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('openaq_sensors',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('parameter', sa.String(length=32), nullable=False),
    sa.Column('pollutant', sa.String(length=8), nullable=False),
    sa.Column('units', sa.String(length=16), nullable=False),
    sa.Column('last_hour', sa.DateTime(), nullable=True),
    sa.Column('checked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'],
                            name=op.f('fk_openaq_sensors_station_id_stations'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_openaq_sensors'))
    )
    with op.batch_alter_table('openaq_sensors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_openaq_sensors_location_id'), ['location_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_openaq_sensors_station_id'), ['station_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('openaq_sensors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_openaq_sensors_station_id'))
        batch_op.drop_index(batch_op.f('ix_openaq_sensors_location_id'))
    op.drop_table('openaq_sensors')
