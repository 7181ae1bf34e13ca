"""search: trigram index on the folded search text (PostgreSQL)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 15:00:00

A ``LIKE '%word%'`` search read the whole ``family_units`` table (90-250 ms at a million persons).
pg_trgm's GIN index serves it for words of three characters or more. The extension is created where
the database allows it (pg_trgm is a trusted extension: the database owner may create it); where it
does not, the migration says what to ask the database administrator and goes on: search still works,
only slower. SQLite needs nothing.
"""
import logging

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

INDEX = "ix_family_units_search_text_trgm"


def _has_trigram(bind) -> bool:
    if bind.scalar(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")):
        return True
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError as exc:
        log.warning(
            "pg_trgm could not be created (%s). Case search works but reads the whole table. "
            "Ask the database administrator to run, in this database: CREATE EXTENSION pg_trgm; "
            "then run 'flask --app wsgi db upgrade' again after 'flask --app wsgi db downgrade 0003'.",
            type(exc.orig).__name__,
        )
        return False
    return True


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name != "postgresql" or not _has_trigram(bind):
        return
    op.create_index(
        INDEX,
        "family_units",
        ["search_text"],
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
    )


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute(sa.text(f"DROP INDEX IF EXISTS {INDEX}"))
