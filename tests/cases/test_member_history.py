"""A member with needs or referrals on record stays on the case: the database refuses; the edit says who."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from sosep_migrantes.cases.services import members_with_history
from sosep_migrantes.catalogs.models import Need
from sosep_migrantes.catalogs.services import by_code
from sosep_migrantes.extensions import db
from sosep_migrantes.needs import services as need_services
from sosep_migrantes.needs.models import NeedStatus
from tests.cases.test_editing import as_form, edit_values
from tests.factories import login, make_arrival, make_family, make_user, member
from tests.referrals.helpers import refer


@pytest.fixture
def family_of_three(app, ctx):
    user = make_user("reception", centre="FAG")
    family = make_family(
        user,
        make_arrival(user),
        members=[
            member(),
            member("José", "López Pérez", sex="M", relationship="SON", age=8),
            member("Ana", "López Pérez", relationship="DAUGHTER", age=5),
        ],
    )
    return user, family


def _need_for(family, user, member_id: int) -> None:
    item = {"need": by_code(Need, "FOOD"), "action": NeedStatus.IDENTIFIED, "member_id": member_id}
    need_services.record_needs(family, [item], user)
    db.session.commit()


def test_members_with_needs_or_referrals_are_found_through_the_restrict_foreign_keys(family_of_three):
    user, family = family_of_three
    head, son, daughter = (m.id for m in family.members)
    _need_for(family, user, son)
    refer(family, user, "SOSEP_SEDES", member_ids=[daughter])
    assert members_with_history({head, son, daughter}) == {son, daughter}
    assert members_with_history(set()) == set()


def test_the_database_refuses_to_delete_a_member_with_needs_or_referrals(family_of_three, is_postgres):
    if not is_postgres:
        pytest.skip("SQLite does not enforce foreign keys; the edit's own check holds there")
    user, family = family_of_three
    head, son, daughter = (m.id for m in family.members)
    _need_for(family, user, son)
    refer(family, user, "SOSEP_SEDES", member_ids=[daughter])
    for member_id in (son, daughter):
        with pytest.raises(IntegrityError, match=r"fk_(family_needs|referral_members)_member_id_members"):
            db.session.execute(text("DELETE FROM members WHERE id = :id"), {"id": member_id})
        db.session.rollback()
    db.session.execute(text("DELETE FROM members WHERE id = :id"), {"id": head})  # no history: it may go
    db.session.rollback()


def test_a_member_with_a_need_cannot_be_removed_by_an_edit(family_of_three, client):
    user, family = family_of_three
    family_id, son = family.id, family.members[1].id
    _need_for(family, user, son)
    login(client, user)
    values = edit_values(family_id)
    del values["members"][1]
    response = client.post(f"/cases/{family_id}/edit", data=as_form(values))
    assert response.status_code == 400
    assert "No se puede quitar a José López Pérez" in response.get_data(as_text=True)
