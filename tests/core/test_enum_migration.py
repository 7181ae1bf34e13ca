"""Migration 0005: the enums' CHECKs replace the hand-written ones, and the data stays as it was."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from sosep_migrantes.catalogs.services import load_catalogs
from sosep_migrantes.extensions import db
from tests.conftest import make_app, scratch_database


@pytest.fixture
def fresh_app(tmp_path) -> Iterator:
    with scratch_database("sosep_enums", tmp_path) as url:
        app = make_app(url)
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def checks(table: str) -> set[str]:
    return {c["name"] for c in inspect(db.engine).get_check_constraints(table)}


def test_0005_down_and_up_keeps_the_data_and_the_constraints(fresh_app):
    with fresh_app.app_context():
        upgrade()
        load_catalogs()
        db.session.commit()
        modes = db.session.execute(text("SELECT code, mode FROM centres ORDER BY code")).all()
        assert ("TECUN_UMAN", "land") in modes
        assert "ck_centres_mode" in checks("centres")
        db.session.remove()  # its transaction would hold the tables the migration alters

        downgrade(revision="0004")
        assert "ck_centres_mode" not in checks("centres")
        assert {"ck_members_sex", "ck_members_pregnancy", "ck_members_age_known"} <= checks("members")
        assert "ix_family_needs_member_id" not in {
            i["name"] for i in inspect(db.engine).get_indexes("family_needs")
        }

        upgrade()
        assert db.session.execute(text("SELECT code, mode FROM centres ORDER BY code")).all() == modes
        db.session.remove()
        assert {"ck_members_sex", "ck_members_pregnancy", "ck_members_age_known"} <= checks("members")
        assert {"ck_users_role", "ck_users_reception_has_centre", "ck_users_sede_user_has_sede"} <= checks(
            "users"
        )
        fks = {
            fk["name"]: fk["options"].get("ondelete")
            for fk in inspect(db.engine).get_foreign_keys("family_needs")
        }
        assert fks["fk_family_needs_member_id_members"] == "RESTRICT"
        with pytest.raises(IntegrityError):
            db.session.execute(text("UPDATE centres SET mode = 'sea'"))
        db.session.rollback()
