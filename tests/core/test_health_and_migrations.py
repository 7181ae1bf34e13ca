"""The health check tells monitoring whether the database answers; the migrations build the models."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, inspect, select

from sosep_migrantes.catalogs.models import Municipality
from sosep_migrantes.catalogs.services import load_catalogs
from sosep_migrantes.db import in_dialect
from sosep_migrantes.extensions import db
from tests.conftest import make_app, scratch_database


def test_health_is_ok_when_the_database_answers(app, client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


@pytest.mark.parametrize(
    "url",
    ["postgresql+psycopg://nobody@127.0.0.1:1/nothing", "sqlite:////nonexistent-dir/for/sure/db.sqlite3"],
    ids=["postgresql-refused", "sqlite-missing-dir"],
)
def test_health_is_503_when_the_database_is_unreachable(url):
    broken = make_app(url)
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "database": "unreachable"}
    with broken.app_context():
        db.engine.dispose()


def test_the_migrations_match_the_models(app):
    with app.app_context(), db.engine.connect() as connection:
        dialect = connection.dialect.name
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "include_object": lambda obj, name, type_, reflected, compare_to: in_dialect(obj, dialect),
            },
        )
        assert compare_metadata(context, db.metadata) == []


@pytest.fixture
def fresh_database_url(tmp_path) -> Iterator[str]:
    """An empty database of its own, on the same kind of server as the rest of the suite."""
    with scratch_database("sosep_fresh", tmp_path) as url:
        yield url


def test_downgrade_to_nothing_and_upgrade_again(fresh_database_url):
    fresh = make_app(fresh_database_url)
    with fresh.app_context():
        upgrade()
        tables = set(inspect(db.engine).get_table_names())
        assert {"family_units", "members", "users", "audit_events", "municipalities"} <= tables

        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}

        upgrade()
        assert set(inspect(db.engine).get_table_names()) == tables
        load_catalogs()
        db.session.commit()
        assert db.session.scalar(select(func.count(Municipality.id))) == 340
        db.session.remove()
        db.engine.dispose()
