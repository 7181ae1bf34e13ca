"""``flask backup`` / ``flask restore``: a round trip gives back every table, row for row."""

from __future__ import annotations

import datetime as dt
import hashlib
import stat
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import delete, select, update

from sosep_migrantes.auth.services import system_user
from sosep_migrantes.cases.models import FamilyUnit, Member
from sosep_migrantes.catalogs.models import Municipality
from sosep_migrantes.catalogs.services import load_catalogs
from sosep_migrantes.core.audit import AuditEvent
from sosep_migrantes.demo.generator import DemoGenerator
from sosep_migrantes.extensions import db
from sosep_migrantes.ops.backup import libpq_connection
from tests.conftest import make_app, scratch_database


@pytest.fixture
def scratch_app(tmp_path: Path):
    """An app on a scratch database with a few synthetic families: a restore must not touch the suite's."""
    with scratch_database("sosep_backup", tmp_path) as url:
        app = make_app(url)
        with app.app_context():
            upgrade()
            load_catalogs()
            DemoGenerator(5, dt.date(2026, 11, 20), days=10).run(6, system_user())
            db.session.commit()
            db.session.remove()
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def snapshot() -> dict[str, tuple[int, str]]:
    """Every table of the metadata: its row count and a hash of all its rows in primary-key order."""
    result = {}
    for table in db.metadata.sorted_tables:
        rows = db.session.execute(select(table).order_by(*table.primary_key.columns)).all()
        digest = hashlib.sha256(repr([tuple(row) for row in rows]).encode()).hexdigest()
        result[table.name] = (len(rows), digest)
    db.session.remove()
    return result


def run(app, *args: str):
    return app.test_cli_runner().invoke(args=list(args))


def test_backup_and_restore_give_back_every_table(scratch_app, tmp_path: Path):
    app = scratch_app
    with app.app_context():
        before = snapshot()
    assert before["family_units"][0] == 6 and before["members"][0] > 6 and before["referrals"][0] > 0

    path = tmp_path / "backups" / "sosep.backup"
    path.parent.mkdir()
    result = run(app, "backup", str(path))
    assert result.exit_code == 0, result.output
    assert "Respaldo escrito" in result.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # personal data
    assert [p.name for p in path.parent.iterdir()] == ["sosep.backup"]  # no partial file left behind

    with app.app_context():  # lose and change data after the backup
        family = db.session.scalars(select(FamilyUnit).order_by(FamilyUnit.id)).first()
        db.session.execute(update(Member).where(Member.family_id == family.id).values(given_names="X"))
        db.session.execute(update(Municipality).values(name="?"))
        db.session.execute(delete(AuditEvent))
        db.session.commit()
        db.session.remove()
        changed = snapshot()
    assert changed != before

    result = run(app, "restore", str(path), "--yes")
    assert result.exit_code == 0, result.output
    assert "restaurada" in result.output
    with app.app_context():
        assert snapshot() == before


def test_restore_refuses_without_yes_and_backup_never_overwrites(scratch_app, tmp_path: Path):
    app = scratch_app
    folder = tmp_path / "backups"
    folder.mkdir()
    result = run(app, "backup", str(folder))  # a folder: the file is named by the time
    assert result.exit_code == 0, result.output
    (path,) = folder.iterdir()
    assert path.name.startswith("sosep-") and path.suffix in {".dump", ".sqlite3"}

    result = run(app, "backup", str(path))
    assert result.exit_code != 0 and "ya existe" in result.output

    with app.app_context():
        before = snapshot()
        # The audit trail: members cannot go on their own (their needs and referrals RESTRICT it).
        db.session.execute(delete(AuditEvent))
        db.session.commit()
        db.session.remove()
    result = run(app, "restore", str(path))
    assert result.exit_code != 0 and "--yes" in result.output
    with app.app_context():
        assert snapshot()["audit_events"][0] == 0  # untouched

    wrong = tmp_path / "notes.txt"
    wrong.write_text("not a backup")
    result = run(app, "restore", str(wrong), "--yes")
    assert result.exit_code != 0 and "no es un respaldo" in result.output

    result = run(app, "restore", str(path), "--yes")
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert snapshot() == before


def test_the_password_goes_in_the_environment_not_on_the_command_line():
    conninfo, env = libpq_connection(
        "postgresql+psycopg://sosep:s3cr%40t@db.internal:5433/sosep?sslmode=require"
    )
    assert "s3cr" not in conninfo
    assert conninfo == "postgresql://sosep@db.internal:5433/sosep?sslmode=require"
    assert env["PGPASSWORD"] == "s3cr@t"
