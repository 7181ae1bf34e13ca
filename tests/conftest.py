"""Test set-up: a real database built by the migrations, emptied of case data after each test.

The suite runs on SQLite by default and on PostgreSQL when ``TEST_DATABASE_URL`` names a server
(``make test`` does both): a database of its own is created there and dropped at the end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from sosep_migrantes import create_app
from sosep_migrantes.extensions import db

#: Tables emptied after each test; catalogues stay loaded for the whole session.
CASE_TABLES = (
    "audit_events",
    "followups",
    "linkages",
    "case_transfers",
    "case_closures",
    "referral_events",
    "referral_members",
    "referral_needs",
    "referrals",
    "service_deliveries",
    "family_needs",
    "returnee_links",
    "member_keys",
    "member_languages",
    "members",
    "family_migration_reasons",
    "family_protection_causes",
    "family_units",
    "passenger_lists",
    "number_sequences",
    "arrivals",
    "user_sessions",
    "recovery_codes",
    "api_tokens",
    "users",
)


def _postgres_url() -> str | None:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return None
    if url.startswith("postgresql://"):
        return url.replace("postgresql://", "postgresql+psycopg://", 1)
    return url


@contextmanager
def scratch_database(prefix: str, sqlite_dir: Path) -> Iterator[str]:
    """An empty database of its own: a SQLite file, or a PostgreSQL database created and dropped."""
    server = _postgres_url()
    if server is None:
        yield f"sqlite:///{sqlite_dir / (prefix + '.sqlite3')}"
        return
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with scratch_database("sosep_test", tmp_path_factory.mktemp("db")) as url:
        yield url


def make_app(database_url: str, **overrides):
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test-secret",
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "SERVER_NAME": None,
    }
    config.update(overrides)
    return create_app(config)


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing() -> Iterator[None]:
    """Still argon2id, with the cheapest parameters: the real ones cost ~0.1 s per user and per login."""
    from argon2 import PasswordHasher

    from sosep_migrantes.auth import models

    real = models._hasher
    models._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    models._hasher = real


@pytest.fixture(scope="session")
def app(database_url: str):
    """The application, with the schema built by the Alembic migrations and the catalogues loaded."""
    from flask_migrate import upgrade

    from sosep_migrantes.catalogs.services import load_catalogs

    app = make_app(database_url)
    with app.app_context():
        upgrade()
        load_catalogs()
        db.session.commit()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _clean_case_data(request: pytest.FixtureRequest) -> Iterator[None]:
    # The limiter is one object for every app: an app made by an earlier test without RATELIMIT_ENABLED=0
    # (a configuration test, say) leaves it on, and the suite's shared address would meet the login limit.
    # A test that wants it builds its own app after this (tests/auth: limited_app, throttled_app).
    from sosep_migrantes.extensions import limiter

    limiter.enabled = False
    yield
    if "app" not in request.fixturenames:
        return
    app = request.getfixturevalue("app")
    with app.app_context():
        db.session.rollback()
        for table in CASE_TABLES:
            db.session.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - our own table names
        db.session.commit()
        db.session.remove()


@pytest.fixture
def ctx(app):
    """An application context with a clean session, for tests that call services directly."""
    with app.test_request_context():
        yield
        db.session.rollback()
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def is_postgres(database_url: str) -> bool:
    return database_url.startswith("postgresql")


def pytest_report_header(config: pytest.Config) -> str:
    url = _postgres_url()
    return f"database: {'PostgreSQL (' + make_url(url).host + ')' if url else 'SQLite'}"


ROOT = Path(__file__).resolve().parent.parent
