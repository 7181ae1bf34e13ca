"""Migration 0010: the members saved before it get their phonetic keys, the same the services write."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import select, text

from sosep_migrantes.cases.models import FamilyUnit, MemberKey
from sosep_migrantes.cases.phonetic import member_keys, name_key
from sosep_migrantes.catalogs.services import load_catalogs
from sosep_migrantes.core.timeutil import to_local
from sosep_migrantes.extensions import db
from tests.conftest import make_app, scratch_database
from tests.factories import make_arrival, make_family, make_user, member


@pytest.fixture
def fresh_app(tmp_path) -> Iterator:
    with scratch_database("sosep_keys", tmp_path) as url:
        app = make_app(url)
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def stored() -> set[tuple[int, str, str, str]]:
    return {
        (member_id, kind.value, key, name)
        for member_id, kind, key, name in db.session.execute(
            select(MemberKey.member_id, MemberKey.kind, MemberKey.key, MemberKey.name_key)
        )
    }


def test_0010_writes_the_keys_of_the_members_already_saved(fresh_app):
    with fresh_app.app_context(), fresh_app.test_request_context():
        upgrade()
        load_catalogs()
        db.session.commit()
        user = make_user("reception", centre="FAG")
        family = make_family(
            user,
            make_arrival(user),
            members=[
                member("María Elena", "de León Pérez", age=None, birth_date="1990-05-03"),
                member("Yesenia", "Velásquez Xol", relationship="DAUGHTER", age=14),
            ],
        )
        arrived_on = to_local(family.arrival.arrived_at).date()
        expected = {
            (m.id, kind.value, key, name_key(m.given_names, m.surnames))
            for m in family.members
            for kind, key in member_keys(m.given_names, m.surnames, m.birth_date, m.estimated_age, arrived_on)
        }
        assert stored() == expected
        family_id = family.id
        db.session.remove()

        downgrade(revision="0009")
        upgrade()
        assert stored() == expected
        assert db.session.get(FamilyUnit, family_id) is not None
        assert db.session.execute(text("SELECT count(*) FROM returnee_links")).scalar() == 0
