"""retention: when a closed case's personal data was anonymised

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 21:10:00

``family_units.anonymised_at``: set by ``flask retention anonymise`` (``ops.retention``) when it removes
the personal data of a case closed longer ago than the retention period; null for every existing case.
A nullable column without a default: adding it rewrites no row on PostgreSQL, and SQLite adds it in place.
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('family_units', schema=None) as batch_op:
        batch_op.add_column(sa.Column('anonymised_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('family_units', schema=None) as batch_op:
        batch_op.drop_column('anonymised_at')
