"""Editing a case through its form, with optimistic locking so no one's work is silently overwritten."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict, iter_multi_items

from sosep_migrantes.auth.models import User
from sosep_migrantes.cases.forms import MULTI_FIELDS, family_values
from sosep_migrantes.cases.models import FamilyUnit, Member
from sosep_migrantes.cases.schemas import FamilyUnitSchema
from sosep_migrantes.cases.services import EditConflict, update_family
from sosep_migrantes.core.audit import AuditEvent
from sosep_migrantes.core.forms import form_to_data
from sosep_migrantes.extensions import db
from tests.factories import PASSWORD, login, make_arrival, make_family, make_user, member, sign_in_as

CONFLICT = "Otra persona modificó esta unidad familiar mientras usted la editaba. No se guardó nada."


def as_form(values: dict[str, Any]) -> dict[str, Any]:
    """What the browser posts for the edit form filled with ``values`` (checked boxes send "true")."""
    flat: dict[str, Any] = {}

    def put(name: str, value: Any) -> None:
        if value is True:
            flat[name] = "true"
        elif value not in (False, None):
            flat[name] = value

    for key, value in values.items():
        if key == "members":
            for i, row in enumerate(value):
                for field, field_value in row.items():
                    put(f"members-{i}-{field}", field_value)
        else:
            put(key, value)
    return flat


def loaded(values: dict[str, Any]) -> dict[str, Any]:
    """What the edit view loads from the browser's post of ``values``."""
    form = MultiDict(list(iter_multi_items(as_form(values))))
    return FamilyUnitSchema().load(form_to_data(form, multi=MULTI_FIELDS, lists=("members",)))


def edit_values(family_id: int) -> dict[str, Any]:
    """The values the edit form shows now (the same function the view uses)."""
    return family_values(db.session.get(FamilyUnit, family_id))


def updates(family_id: int) -> list[AuditEvent]:
    return db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "family:update", AuditEvent.subject_id == family_id)
    ).all()


def test_edit_form_shows_the_saved_values(app, ctx, client):
    user = make_user("reception", centre="FAG")
    family = make_family(
        user,
        make_arrival(user),
        phone="5555-0000",
        members=[
            member(cui="2456789050101"),
            member("José", "López Pérez", sex="M", relationship="SON", age=8),
        ],
    )
    login(client, user)
    html = client.get(f"/cases/{family.id}/edit").get_data(as_text=True)
    for shown in (
        'name="version" value="1"',
        'value="Cuilco, Huehuetenango"',
        'value="María"',
        'value="José"',
        'value="2456789050101"',
        'value="5555-0000"',
        'value="20/11/2026"',
    ):
        assert shown in html


def test_saving_an_edit_bumps_the_version_and_audits_field_names_only(app, ctx, client):
    user = make_user("sede", sede="HUEHUETENANGO")
    family = make_family(
        make_user("coordinator"),
        make_arrival(user),
        members=[
            member(cui="2456789050101"),
            member("José", "López Pérez", sex="M", relationship="SON", age=8),
        ],
    )
    family_id, son_id = family.id, family.members[1].id
    login(client, user)
    values = edit_values(family_id)
    values.update(phone="5555-1234", community="Aldea Las Flores")
    values["members"][1]["given_names"] = "José Luis"

    response = client.post(f"/cases/{family_id}/edit", data=as_form(values))
    assert response.status_code == 302
    assert response.location == f"/cases/{family_id}"
    page = client.get(response.location).get_data(as_text=True)
    assert "Cambios guardados." in page and "5555-1234" in page and "José Luis López Pérez" in page

    db.session.expire_all()
    saved = db.session.get(FamilyUnit, family_id)
    assert (saved.version, saved.phone, saved.community) == (2, "5555-1234", "Aldea Las Flores")
    assert saved.updated_by_id == user.id
    [event] = updates(family_id)
    assert event.details["changed"] == ["community", f"member:{son_id}", "phone"]
    assert event.user_id == user.id
    written = json.dumps(event.details, ensure_ascii=False)
    for personal in ("José", "López", "2456789050101", "5555-1234", "Las Flores"):
        assert personal not in written


def test_an_edit_that_changes_nothing_is_saved_without_changed_fields(app, ctx, client):
    user = make_user("reception", centre="FAG")
    family_id = make_family(user, make_arrival(user)).id
    login(client, user)
    assert client.post(f"/cases/{family_id}/edit", data=as_form(edit_values(family_id))).status_code == 302
    [event] = updates(family_id)
    assert event.details["changed"] == []


def test_a_bad_edit_shows_errors_and_saves_nothing(app, ctx, client):
    user = make_user("reception", centre="FAG")
    family_id = make_family(user, make_arrival(user)).id
    login(client, user)
    values = edit_values(family_id)
    values.update(phone="12", destination_municipality="Ciudad Inventada")
    response = client.post(f"/cases/{family_id}/edit", data=as_form(values))
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="e-phone"' in html and 'id="e-destination_municipality"' in html
    assert 'value="Ciudad Inventada"' in html
    db.session.expire_all()
    assert db.session.get(FamilyUnit, family_id).version == 1
    assert updates(family_id) == []


def test_two_people_editing_the_same_case_the_second_gets_a_conflict(app):
    with app.app_context():
        first = make_user("reception", centre="FAG", username="primera")
        first_id = first.id
        make_user("sede", sede="HUEHUETENANGO", username="segunda")
        family_id = make_family(first, make_arrival(first)).id
        both_loaded = edit_values(family_id)
        db.session.remove()
    clients = {}
    for username in ("primera", "segunda"):
        clients[username] = app.test_client()
        sign_in_as(clients[username], username, PASSWORD)
        form = clients[username].get(f"/cases/{family_id}/edit").get_data(as_text=True)
        assert 'name="version" value="1"' in form

    mine = dict(both_loaded, phone="5555-1111")
    assert clients["primera"].post(f"/cases/{family_id}/edit", data=as_form(mine)).status_code == 302

    theirs = dict(both_loaded, community="Caserío El Naranjo", migration_reasons=["UNEMPLOYMENT"])
    conflict = clients["segunda"].post(f"/cases/{family_id}/edit", data=as_form(theirs))
    html = conflict.get_data(as_text=True)
    assert conflict.status_code == 409
    assert CONFLICT in html
    # The second person's own changes are listed so they can re-apply them...
    assert "<tr><td>Comunidad, aldea o colonia</td><td>Caserío El Naranjo</td><td>—</td></tr>" in html
    # Catalogue values are shown by name, as the form shows them, not by code.
    reasons = "<td>Motivos de la migración</td><td>Desempleo o falta de oportunidades económicas</td>"
    assert reasons in html
    # ... and the form now holds what is saved, at the new version.
    assert 'name="version" value="2"' in html and 'value="5555-1111"' in html
    assert 'value="Caserío El Naranjo"' not in html

    with app.app_context():
        saved = db.session.get(FamilyUnit, family_id)
        assert (saved.version, saved.phone, saved.community, saved.updated_by_id) == (
            2,
            "5555-1111",
            None,
            first_id,
        )
        assert [e.user_id for e in updates(family_id)] == [first_id]


def test_an_edit_committed_after_the_form_was_read_is_caught_by_the_update(app):
    """Two requests read version 1; the one that writes second must fail, not overwrite."""
    with app.app_context():
        user = make_user("reception", centre="FAG")
        user_id, family_id = user.id, make_family(user, make_arrival(user)).id
        db.session.remove()
    with app.test_request_context():
        slow = db.session.get(FamilyUnit, family_id)
        slow_data = loaded({**edit_values(family_id), "notes": "Lenta"})
        assert slow.version == 1
        with app.test_request_context():  # another request, its own session, commits in between
            fast_data = loaded({**edit_values(family_id), "notes": "Rápida"})
            update_family(db.session.get(FamilyUnit, family_id), fast_data, db.session.get(User, user_id))
            db.session.commit()
        with pytest.raises(EditConflict):
            update_family(slow, slow_data, db.session.get(User, user_id))
        db.session.rollback()
    with app.app_context():
        saved = db.session.get(FamilyUnit, family_id)
        assert (saved.version, saved.notes) == (2, "Rápida")


def test_removing_a_member_and_adding_another_in_one_edit(app, ctx, client):
    user = make_user("reception", centre="FAG")
    family = make_family(user, make_arrival(user))
    family_id, head_id, son_id = family.id, family.members[0].id, family.members[1].id
    login(client, user)
    values = edit_values(family_id)
    values["members"] = [values["members"][0], member("Ana", "López Pérez", relationship="DAUGHTER", age=3)]
    assert client.post(f"/cases/{family_id}/edit", data=as_form(values)).status_code == 302

    db.session.expire_all()
    members = db.session.get(FamilyUnit, family_id).members
    assert [(m.given_names, m.relationship_to_head.code) for m in members] == [
        ("María", "HEAD"),
        ("Ana", "DAUGHTER"),
    ]
    assert members[0].id == head_id
    assert db.session.get(Member, son_id) is None
    assert "ana" in db.session.get(FamilyUnit, family_id).search_text
    assert "jose" not in db.session.get(FamilyUnit, family_id).search_text


def test_a_member_of_another_family_cannot_be_taken_over(app, ctx, client):
    user = make_user("reception", centre="FAG")
    arrival = make_arrival(user)
    ours = make_family(user, arrival)
    other = make_family(
        user,
        arrival,
        members=[member("Rosa", "Xol"), member("Pedro", "Xol", sex="M", relationship="SON", age=4)],
    )
    ours_id, other_id, pedro_id = ours.id, other.id, other.members[1].id
    login(client, user)
    values = edit_values(ours_id)
    values["members"][1].update(id=str(pedro_id), given_names="Intruso")
    assert client.post(f"/cases/{ours_id}/edit", data=as_form(values)).status_code == 302

    db.session.expire_all()
    pedro = db.session.get(Member, pedro_id)
    assert (pedro.family_id, pedro.given_names) == (other_id, "Pedro")
    assert [m.given_names for m in db.session.get(FamilyUnit, other_id).members] == ["Rosa", "Pedro"]
    ours_members = db.session.get(FamilyUnit, ours_id).members
    assert [m.given_names for m in ours_members] == ["María", "Intruso"]
    assert pedro_id not in {m.id for m in ours_members}


def test_a_member_with_needs_or_referrals_cannot_be_removed(app, ctx, client):
    from tests.referrals.helpers import refer

    user = make_user("reception", centre="FAG")
    family = make_family(user, make_arrival(user))
    family_id, son_id = family.id, family.members[1].id
    refer(family, user, "SOSEP_SEDES", member_ids=[son_id], send=True)
    login(client, user)
    values = edit_values(family_id)
    values["members"] = [values["members"][0]]  # the son's row removed
    values["phone"] = "5555 1234"
    response = client.post(f"/cases/{family_id}/edit", data=as_form(values))
    assert response.status_code == 400
    assert "No se puede quitar a José López Pérez" in response.get_data(as_text=True)
    db.session.expire_all()
    saved = db.session.get(FamilyUnit, family_id)
    assert [m.id for m in saved.members][1] == son_id and saved.phone is None  # nothing applied
    assert updates(family_id) == []


def test_the_same_member_in_two_rows_is_refused(app, ctx, client):
    user = make_user("reception", centre="FAG")
    family = make_family(user, make_arrival(user))
    family_id, head_id = family.id, family.members[0].id
    login(client, user)
    values = edit_values(family_id)
    values["members"][1]["id"] = str(head_id)  # a tampered or stale row
    response = client.post(f"/cases/{family_id}/edit", data=as_form(values))
    assert response.status_code == 400
    assert "Un mismo integrante aparece en dos filas" in response.get_data(as_text=True)
    db.session.expire_all()
    assert [m.given_names for m in db.session.get(FamilyUnit, family_id).members] == ["María", "José"]


def test_removing_a_member_is_audited_by_id(app, ctx, client):
    user = make_user("reception", centre="FAG")
    family = make_family(user, make_arrival(user))
    family_id, son_id = family.id, family.members[1].id
    login(client, user)
    values = edit_values(family_id)
    values["members"] = [values["members"][0]]
    assert client.post(f"/cases/{family_id}/edit", data=as_form(values)).status_code == 302
    (event,) = updates(family_id)
    assert event.details["removed_members"] == [son_id]
    assert f"member:{son_id}" in event.details["changed"]


def test_a_sede_that_moves_a_family_away_is_told_where_it_went(app):
    with app.app_context():
        staff = make_user("reception", centre="FAG")
        family_id = make_family(staff, make_arrival(staff)).id  # going to Cuilco, Huehuetenango
        make_user("sede", sede="HUEHUETENANGO", username="sede.huehue")
        values = edit_values(family_id)
        db.session.remove()
    client = app.test_client()
    sign_in_as(client, "sede.huehue", PASSWORD)
    values["destination_municipality"] = "Santa María Nebaj, Quiché"
    response = client.post(f"/cases/{family_id}/edit", data=as_form(values), follow_redirects=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.request.path == "/cases/"
    assert "pasó a Sede Departamental de Quiché y ya no aparece en su lista" in html
    assert client.get(f"/cases/{family_id}").status_code == 404
