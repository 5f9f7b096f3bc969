"""site_versions: every saved version of each city's site configuration

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-20 09:00:00

Issue 16 §12. Editing targets or recipients on the administrators' page used to
rewrite the site file in the code checkout (config/sites/*.yaml, tracked by git) and
leave a ``.bak`` beside it. The editable copy of a city's configuration now lives
here: ``lantian init --sites FILE`` stores FILE's text as a version, each edit adds
one (who, when, what), the newest is the city's configuration (store/site_copies.py).
A database loaded before this migration gets its first version from the file named
in ``cities.site_file`` at the next ``lantian init`` or edit.
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('site_versions',
                    sa.Column('city_id', sa.String(length=64), nullable=False),
                    sa.Column('version', sa.Integer(), nullable=False),
                    sa.Column('content', sa.Text(), nullable=False),
                    sa.Column('sha256', sa.String(length=64), nullable=False),
                    sa.Column('source', sa.String(length=16), nullable=False),
                    sa.Column('origin', sa.Text(), nullable=False),
                    sa.Column('saved_by', sa.String(length=64), nullable=False),
                    sa.Column('saved_at', sa.DateTime(), nullable=False),
                    sa.Column('note', sa.Text(), nullable=False),
                    sa.ForeignKeyConstraint(['city_id'], ['cities.id'],
                                            name=op.f('fk_site_versions_city_id_cities'),
                                            ondelete='CASCADE'),
                    sa.PrimaryKeyConstraint('city_id', 'version', name=op.f('pk_site_versions')))


def downgrade() -> None:
    op.drop_table('site_versions')
