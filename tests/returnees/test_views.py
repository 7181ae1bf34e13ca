"""The case page's earlier records as a user sees them: minimal disclosure across scopes, link, dismiss."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from sosep_migrantes.extensions import db
from sosep_migrantes.returnees.models import ReturneeLink
from tests.factories import login, make_arrival, make_family, make_user, member
from tests.referrals.partners import make_partner

from .test_services import EARLIER


@pytest.fixture
def world(ctx):
    fag = make_user("reception", centre="FAG")
    tecun = make_user("reception", centre="TECUN_UMAN")
    earlier = make_family(
        tecun,
        make_arrival(tecun, centre="TECUN_UMAN", mode="land", country="MX", when=EARLIER),
        municipality=1413,  # Nebaj, Quiché
        members=[member("Catarina", "Tzoc Brito", age=None, birth_date="1985-09-12")],
    )
    again = make_family(
        fag, make_arrival(fag), members=[member("Catalina", "Tzoc Brito", age=None, birth_date="1985-09-12")]
    )
    return {"fag": fag, "tecun": tecun, "earlier": earlier, "again": again}


def test_a_fag_user_sees_a_tecun_uman_case_only_as_number_centre_date_and_sede(client, world):
    login(client, world["fag"])
    html = client.get(f"/cases/{world['again'].id}/earlier-records").get_data(as_text=True)
    assert world["earlier"].case_number in html
    assert "Tecún Umán" in html and "05/03/2024" in html and "Quiché" in html
    assert "Catarina" not in html and "12/09/1985" not in html
    assert f"/cases/{world['earlier'].id}" not in html
    assert "Vincular" in html and "Descartar" in html


def test_linking_shows_the_re_migration_on_both_cases(client, world):
    again, earlier = world["again"], world["earlier"]
    login(client, world["fag"])
    response = client.post(
        f"/cases/{again.id}/earlier-records/link",
        data={"member_id": again.members[0].id, "earlier_member_id": earlier.members[0].id},
    )
    assert response.status_code == 302
    page = client.get(f"/cases/{again.id}").get_data(as_text=True)
    assert "Re-migraciones" in page and earlier.case_number in page and "Catarina" not in page
    client.post("/logout")
    login(client, world["tecun"])
    page = client.get(f"/cases/{earlier.id}").get_data(as_text=True)
    assert again.case_number in page and "regresó de nuevo" in page and "Catalina" not in page


def test_dismissing_is_not_offered_again(client, world):
    again, earlier = world["again"], world["earlier"]
    login(client, world["fag"])
    client.post(
        f"/cases/{again.id}/earlier-records/dismiss",
        data={"member_id": again.members[0].id, "earlier_member_id": earlier.members[0].id},
    )
    assert db.session.scalars(select(ReturneeLink.decision)).one() == "dismissed"
    html = client.get(f"/cases/{again.id}/earlier-records").get_data(as_text=True)
    assert earlier.case_number not in html and "Ningún otro registro parecido." in html


def test_a_record_not_offered_or_a_member_of_another_case_is_refused(client, world):
    again, earlier = world["again"], world["earlier"]
    login(client, world["fag"])
    response = client.post(
        f"/cases/{again.id}/earlier-records/link",
        data={"member_id": earlier.members[0].id, "earlier_member_id": again.members[0].id},
    )
    assert response.status_code == 400 and "Ese integrante no es de este caso." in response.get_data(
        as_text=True
    )
    assert db.session.scalars(select(ReturneeLink)).all() == []


def test_partners_cannot_see_earlier_records(client, world):
    login(client, make_partner("OIM"))
    assert client.get(f"/cases/{world['again'].id}/earlier-records").status_code == 403


def test_the_desk_offers_to_link_or_dismiss_right_after_saving(client, world):
    again, earlier = world["again"], world["earlier"]
    login(client, world["fag"])
    desk = f"/arrivals/{again.arrival_id}/families/new?saved={again.id}"
    html = client.get(desk).get_data(as_text=True)
    assert f"Posibles registros anteriores de {again.case_number}" in html
    assert earlier.case_number in html and "Otro ámbito" in html
    assert "Catarina Tzoc" not in html and f"/cases/{earlier.id}" not in html
    response = client.post(
        f"/cases/{again.id}/earlier-records/link",
        data={"member_id": again.members[0].id, "earlier_member_id": earlier.members[0].id, "back": "desk"},
    )
    assert response.status_code == 302 and response.location == desk
    html = client.get(desk).get_data(as_text=True)
    assert "Posibles registros anteriores" not in html  # decided: not offered again
