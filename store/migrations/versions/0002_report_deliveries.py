"""report deliveries (the sent log of the weekly report emails)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('report_deliveries',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('report', sa.String(length=32), nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('city_id', sa.String(length=64), nullable=False),
    sa.Column('scope', sa.String(length=64), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('lang', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Text(), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_deliveries'))
    )
    with op.batch_alter_table('report_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_deliveries_report_period_city_id_scope_recipient'),
                              ['report', 'period', 'city_id', 'scope', 'recipient'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('report_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_deliveries_report_period_city_id_scope_recipient'))
    op.drop_table('report_deliveries')
