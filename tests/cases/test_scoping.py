"""Least privilege: each kind of user sees only the cases and arrivals of their centre or territory.

Several users take part in these tests, so set-up runs in its own application context and every
request gets a fresh one (as in production): a shared context would share the logged-in user too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from sosep_migrantes.cases.models import FamilyUnit
from sosep_migrantes.extensions import db
from tests.factories import PASSWORD, make_arrival, make_family, make_user, member, sign_in_as

#: A case in the list: its number links to its detail page.
LISTED = re.compile(r'<a href="/cases/\d+">([^<]+)</a>')


@dataclass
class World:
    fag_arrival: int
    tecun_arrival: int
    #: Family ids: going to Cuilco (Huehuetenango), to Nebaj (Quiché) and to Ayutla (San Marcos).
    cuilco: int
    nebaj: int
    ayutla: int
    numbers: dict[str, str]


@pytest.fixture
def world(app) -> World:
    with app.app_context():
        staff = make_user("coordinator", username="carga")
        fag = make_arrival(staff, centre="FAG")
        tecun = make_arrival(staff, centre="TECUN_UMAN", mode="land", country="MX")
        cuilco = make_family(staff, fag, municipality="Cuilco, Huehuetenango")
        nebaj = make_family(
            staff,
            fag,
            municipality=1413,
            members=[
                member("Catarina", "Tzoc Brito", cui="2456789051413"),
                member("Gaspar", "Tzoc Brito", sex="M", relationship="SON", age=5),
            ],
        )
        ayutla = make_family(
            staff, tecun, municipality=1217, members=[member("Rosa Elena", "Ramírez Chávez")]
        )
        world = World(
            fag_arrival=fag.id,
            tecun_arrival=tecun.id,
            cuilco=cuilco.id,
            nebaj=nebaj.id,
            ayutla=ayutla.id,
            numbers={"cuilco": cuilco.case_number, "nebaj": nebaj.case_number, "ayutla": ayutla.case_number},
        )
        db.session.remove()
    return world


def signed_in(app, role: str, *, centre: str | None = None, sede: str | None = None) -> FlaskClient:
    with app.app_context():
        username = make_user(role, centre=centre, sede=sede).username
        db.session.remove()
    client = app.test_client()
    response = sign_in_as(client, username, PASSWORD)
    assert response.status_code == 302
    return client


def listed(client: FlaskClient) -> set[str]:
    """Case numbers shown in the case list."""
    response = client.get("/cases/")
    assert response.status_code == 200
    return set(LISTED.findall(response.get_data(as_text=True)))


def search(client: FlaskClient, q: str) -> set[str]:
    """Case numbers found: the results come with the POST itself (no redirect, no URL with the text)."""
    response = client.post("/cases/", data={"q": q})
    assert response.status_code == 200
    return set(LISTED.findall(response.get_data(as_text=True)))


def test_sede_sees_cases_going_to_its_territory_only(app, world):
    huehue = signed_in(app, "sede", sede="HUEHUETENANGO")
    assert listed(huehue) == {world.numbers["cuilco"]}
    assert world.numbers["cuilco"] in huehue.get(f"/cases/{world.cuilco}").get_data(as_text=True)
    assert huehue.get(f"/cases/{world.cuilco}/edit").status_code == 200
    assert huehue.get(f"/cases/{world.nebaj}").status_code == 404
    assert huehue.get(f"/cases/{world.nebaj}/edit").status_code == 404
    assert huehue.post(f"/cases/{world.nebaj}/edit", data={"version": "1"}).status_code == 404


def test_search_does_not_reach_outside_the_sede(app, world):
    huehue = signed_in(app, "sede", sede="HUEHUETENANGO")
    assert search(huehue, "Tzoc") == set()
    assert search(huehue, "2456789051413") == set()
    assert search(huehue, world.numbers["nebaj"]) == set()
    assert search(huehue, "López") == {world.numbers["cuilco"]}


def test_malacatan_follows_ayutla_and_the_san_marcos_sede_does_not(app, world):
    malacatan = signed_in(app, "sede", sede="MALACATAN")
    san_marcos = signed_in(app, "sede", sede="SAN_MARCOS")
    assert listed(malacatan) == {world.numbers["ayutla"]}
    assert malacatan.get(f"/cases/{world.ayutla}").status_code == 200
    assert listed(san_marcos) == set()
    assert san_marcos.get(f"/cases/{world.ayutla}").status_code == 404


def test_reception_user_sees_only_their_centre(app, world):
    fag = signed_in(app, "reception", centre="FAG")
    assert listed(fag) == {world.numbers["cuilco"], world.numbers["nebaj"]}
    assert fag.get(f"/cases/{world.ayutla}").status_code == 404
    assert fag.get(f"/cases/{world.ayutla}/edit").status_code == 404
    arrivals = fag.get("/arrivals/").get_data(as_text=True)
    assert f"/arrivals/{world.fag_arrival}" in arrivals
    assert f"/arrivals/{world.tecun_arrival}" not in arrivals
    assert fag.get(f"/arrivals/{world.fag_arrival}").status_code == 200
    assert fag.get(f"/arrivals/{world.tecun_arrival}").status_code == 404
    assert fag.get(f"/arrivals/{world.tecun_arrival}/families/new").status_code == 404


def test_reception_user_cannot_register_on_another_centres_arrival(app, world):
    fag = signed_in(app, "reception", centre="FAG")
    form = {
        "destination_municipality": "1217",
        "consent_type": "refused",
        "members-0-given_names": "Ana",
        "members-0-surnames": "Xol",
        "members-0-sex": "F",
        "members-0-relationship": "HEAD",
        "members-0-estimated_age": "30",
    }
    assert fag.post(f"/arrivals/{world.tecun_arrival}/families/new", data=form).status_code == 404
    arrival = fag.post(
        "/arrivals/new",
        data={"centre": "TECUN_UMAN", "arrived_at": "2026-01-05T10:00", "mode": "land", "country": "MX"},
    )
    assert arrival.status_code == 400
    assert "Solo puede registrar llegadas en su propio centro." in arrival.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(FamilyUnit)) == 3


def test_coordinator_sees_everything_but_cannot_open_arrivals_or_edit(app, world):
    coordinator = signed_in(app, "coordinator")
    assert listed(coordinator) == set(world.numbers.values())
    for family_id in (world.cuilco, world.nebaj, world.ayutla):
        assert coordinator.get(f"/cases/{family_id}").status_code == 200
    assert coordinator.get(f"/arrivals/{world.tecun_arrival}").status_code == 200
    assert coordinator.get("/arrivals/new").status_code == 403
    assert coordinator.post("/arrivals/new", data={"centre": "FAG"}).status_code == 403
    assert coordinator.get(f"/arrivals/{world.fag_arrival}/families/new").status_code == 403
    assert coordinator.get(f"/cases/{world.cuilco}/edit").status_code == 403


def test_admin_manages_users_but_never_sees_families(app, world):
    admin = signed_in(app, "admin")
    assert admin.get("/admin/users").status_code == 200
    for url in (
        "/cases/",
        f"/cases/{world.cuilco}",
        f"/cases/{world.cuilco}/edit",
        "/arrivals/",
        f"/arrivals/{world.fag_arrival}",
    ):
        response = admin.get(url)
        assert response.status_code == 403, url
        assert "No tiene permiso para ver esta página." in response.get_data(as_text=True)
    assert admin.post("/cases/", data={"q": "López"}).status_code == 403


def test_search_ignores_accents_and_case(app):
    with app.app_context():
        staff = make_user("coordinator", username="carga")
        arrival = make_arrival(staff)
        maria_jose = make_family(staff, arrival, members=[member("María José", "López Pérez")]).case_number
        rosa = make_family(
            staff,
            arrival,
            members=[
                member("Rosa", "Ramírez Chávez"),
                member("Josué", "Ramírez", sex="M", relationship="SON"),
            ],
        )
        rosa = rosa.case_number
        db.session.remove()
    client = signed_in(app, "coordinator")
    assert search(client, "lopez") == {maria_jose}
    assert search(client, "LÓPEZ") == {maria_jose}
    assert search(client, "jose maria") == {maria_jose}
    assert search(client, "  ramirez   CHAVEZ ") == {rosa}
    assert search(client, "Cux") == set()
    assert "0 unidades familiares encontradas" in client.post("/cases/", data={"q": "Cux"}).get_data(
        as_text=True
    )


def test_search_by_cui_and_by_case_number(app):
    with app.app_context():
        staff = make_user("coordinator", username="carga")
        arrival = make_arrival(staff)
        first = make_family(staff, arrival).case_number
        second = make_family(staff, arrival, members=[member(cui="2456 7890 5 0101")]).case_number
        db.session.remove()
    client = signed_in(app, "coordinator")
    assert search(client, "2456789050101") == {second}
    assert search(client, second) == {second}
    assert search(client, second.lower()) == {second}
    assert search(client, first) == {first}


def test_search_text_stays_out_of_urls_cookies_and_session(app, world):
    client = signed_in(app, "coordinator")
    response = client.post("/cases/", data={"q": "Tzoc", "status": "received"})
    assert response.status_code == 200 and not response.history
    html = response.get_data(as_text=True)
    assert set(LISTED.findall(html)) == {world.numbers["nebaj"]}
    assert 'value="Tzoc"' in html  # shown again in the box, from the POST itself
    assert "Tzoc" not in "".join(re.findall(r'href="([^"]*)"', html))
    # Nothing of the search text is kept: not in the session cookie, not on the next visit.
    with client.session_transaction() as session:
        assert "Tzoc" not in repr(dict(session))
        assert session["case_filters"]["status"] == "received"  # non-personal filters are remembered
    assert listed(client) == set(world.numbers.values())
    client.post("/cases/", data={"clear": "1"})
    with client.session_transaction() as session:
        assert "case_filters" not in session


def test_malformed_filters_are_ignored_not_fatal(app, world):
    client = signed_in(app, "coordinator")
    bad = {
        "centre_id": "²",
        "department_id": "9" * 40,
        "arrived_to": "9999-12-31",
        "arrived_from": "1900-01-01",
    }
    assert client.post("/cases/", data={**bad, "q": "Tzoc\x00"}).status_code == 200
    assert listed(client) == set(world.numbers.values())
    assert client.get("/cases/?page=99999999999999999999").status_code == 200


def test_list_can_show_only_families_with_a_protection_cause(app):
    with app.app_context():
        staff = make_user("coordinator", username="proteccion")
        arrival = make_arrival(staff)
        plain = make_family(staff, arrival).case_number
        at_risk = make_family(staff, arrival, protection_causes=["THREATS"]).case_number
        db.session.remove()
    client = signed_in(app, "coordinator")
    assert listed(client) == {plain, at_risk}
    client.post("/cases/", data={"protection": "true"})
    assert listed(client) == {at_risk}
    client.post("/cases/", data={"clear": "1"})
    assert listed(client) == {plain, at_risk}
