from __future__ import annotations

import re

from sqlalchemy import select

from sosep_migrantes.cases.models import FamilyUnit
from sosep_migrantes.core.audit import AuditEvent
from sosep_migrantes.extensions import db
from tests.factories import family_payload, form_data, login, make_arrival, make_family, make_user, member


def errors_in(html: str) -> list[str]:
    return re.findall(r'<p class="error" id="e-([^"]+)">', html)


def test_register_family_through_the_form(app, ctx, client):
    user = make_user("reception", centre="FAG")
    arrival_id = make_arrival(user).id
    login(client, user)
    response = client.post(f"/arrivals/{arrival_id}/families/new", data=form_data(family_payload()))
    assert response.status_code == 302
    follow = client.get(response.location)
    assert "FAG-2026-00001" in follow.get_data(as_text=True)
    family = db.session.scalar(select(FamilyUnit))
    assert family.case_number == "FAG-2026-00001"
    assert [m.given_names for m in family.members] == ["María", "José"]
    assert family.destination.name == "Cuilco"
    actions = db.session.scalars(select(AuditEvent.action)).all()
    assert "family:create" in actions


def test_bad_form_keeps_what_was_typed_and_saves_nothing(app, ctx, client):
    user = make_user("reception", centre="FAG")
    arrival_id = make_arrival(user).id
    login(client, user)
    payload = family_payload(
        municipality="Ciudad Inventada",
        members=[
            member(given="Rosa Elena", cui="12345"),
            member("Pedro", sex="M", relationship="SON", age=None),
        ],
    )
    response = client.post(f"/arrivals/{arrival_id}/families/new", data=form_data(payload))
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert set(errors_in(html)) == {"destination_municipality", "members-0-cui", "members-1-birth_date"}
    assert "El CUI debe tener 13 dígitos." in html
    assert 'value="Rosa Elena"' in html and 'value="Ciudad Inventada"' in html
    assert db.session.scalar(select(FamilyUnit)) is None


def test_case_numbers_follow_each_centre_and_year(app, ctx):
    user = make_user("coordinator")
    fag = make_arrival(user, centre="FAG")
    tecun = make_arrival(user, centre="TECUN_UMAN", mode="land", country="MX")
    numbers = [
        make_family(user, fag).case_number,
        make_family(user, fag).case_number,
        make_family(user, tecun).case_number,
    ]
    assert numbers == ["FAG-2026-00001", "FAG-2026-00002", "TECUN_UMAN-2026-00001"]


def test_the_same_form_sent_twice_registers_one_family(app, ctx, client):
    """A retry on a shaky connection (the first save did arrive) must not create a second case."""
    user = make_user("reception", centre="FAG")
    arrival_id = make_arrival(user).id
    login(client, user)
    page = client.get(f"/arrivals/{arrival_id}/families/new").get_data(as_text=True)
    token = re.search(r'name="submission_token" value="([0-9a-f]{32})"', page).group(1)
    form = {**form_data(family_payload()), "submission_token": token}
    first = client.post(f"/arrivals/{arrival_id}/families/new", data=form)
    again = client.post(f"/arrivals/{arrival_id}/families/new", data=form)
    assert first.status_code == again.status_code == 302
    assert first.location == again.location  # both show the one family saved
    shown = client.get(again.location).get_data(as_text=True)
    assert "Esta unidad familiar ya estaba guardada como FAG-2026-00001." in shown
    assert db.session.scalars(select(FamilyUnit.case_number)).all() == ["FAG-2026-00001"]
    # A new form is a new token: the next family is registered normally.
    next_page = client.get(f"/arrivals/{arrival_id}/families/new").get_data(as_text=True)
    assert token not in next_page


def test_a_cui_already_in_another_case_is_pointed_out(app, ctx, client):
    user = make_user("reception", centre="FAG")
    arrival = make_arrival(user)
    cui = "2456789050101"
    first = make_family(user, arrival, members=[member(cui=cui)])
    first_number = first.case_number
    login(client, user)
    form = form_data(family_payload(members=[member("Rosa", "Xol", cui=cui)]))
    response = client.post(f"/arrivals/{arrival.id}/families/new", data=form)
    banner = client.get(response.location).get_data(as_text=True)
    assert "Posible registro duplicado:" in banner
    assert "El CUI de Rosa Xol también está en el caso" in banner and first_number in banner
    second = db.session.scalar(select(FamilyUnit).where(FamilyUnit.case_number != first_number))
    detail = client.get(f"/cases/{second.id}").get_data(as_text=True)
    assert "Posible registro duplicado:" in detail and first_number in detail
    other = make_family(user, arrival, members=[member("Juana", "Coy", cui="1234567890101")])
    assert "Posible registro duplicado" not in client.get(f"/cases/{other.id}").get_data(as_text=True)
