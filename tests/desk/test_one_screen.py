"""The desk's one screen (issue #11, item 1): family, needs served and referrals in one save."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from sosep_migrantes.cases.models import FamilyUnit
from sosep_migrantes.extensions import db
from sosep_migrantes.needs.models import FamilyNeed, ServiceDelivery
from sosep_migrantes.referrals.models import Referral
from tests.factories import login, make_arrival, make_user


def family_of_four(**extra: str) -> dict[str, str]:
    data = {
        "destination_municipality": "Cuilco, Huehuetenango",
        "consent_type": "written",
        "consent_on": "20/11/2026",
        "members-0-given_names": "María",
        "members-0-surnames": "López Pérez",
        "members-0-sex": "F",
        "members-0-relationship": "HEAD",
        "members-0-estimated_age": "34",
        "members-1-given_names": "José",
        "members-1-surnames": "López Pérez",
        "members-1-sex": "M",
        "members-1-relationship": "SON",
        "members-1-estimated_age": "3",
        "members-2-given_names": "Ana",
        "members-2-surnames": "López Pérez",
        "members-2-sex": "F",
        "members-2-relationship": "DAUGHTER",
        "members-2-birth_date": "05/03/2018",
        "members-3-given_names": "Pedro",
        "members-3-surnames": "López García",
        "members-3-sex": "M",
        "members-3-relationship": "GRANDPARENT",
        "members-3-estimated_age": "65",
    }
    data.update(extra)
    return data


def counts() -> tuple[int, int, int, int]:
    return tuple(
        db.session.scalar(select(func.count()).select_from(model))
        for model in (FamilyUnit, FamilyNeed, ServiceDelivery, Referral)
    )


def desk(client, arrival) -> tuple[str, dict[str, str]]:
    """The desk form's URL and the need and referral lines it offers for the family of four."""
    url = f"/arrivals/{arrival.id}/families/new"
    html = client.post(
        f"/arrivals/{arrival.id}/families/suggestions", data=family_of_four(migration_reasons="UNEMPLOYMENT")
    ).get_data(as_text=True)
    referral_lines = dict(
        (code, index) for index, code in re.findall(r'name="referrals-(\d+)-institution" value="(\w+)"', html)
    )
    return url, referral_lines


def test_one_save_registers_serves_and_refers(client, ctx):
    user = make_user("reception", centre="FAG")
    arrival = make_arrival(user)
    login(client, user)
    url, lines = desk(client, arrival)
    assert {"SOSEP_HOGARES", "OIM", "SOSEP_MUJER", "SOSEP_ANOS_DORADOS"} <= set(lines)
    page = client.get(url).get_data(as_text=True)
    needs = dict(re.findall(r'name="needs-(\d+)-need" value="(\w+)"', page))
    food = next(i for i, code in needs.items() if code == "FOOD")
    kit = next(i for i, code in needs.items() if code == "HYGIENE_KIT")
    data = family_of_four(migration_reasons="UNEMPLOYMENT") | {
        f"needs-{food}-need": "FOOD",
        f"needs-{food}-given": "y",
        f"needs-{kit}-need": "HYGIENE_KIT",
        f"needs-{kit}-given": "y",
        f"needs-{kit}-quantity": "2",
    }
    for code in ("SOSEP_HOGARES", "OIM"):
        i = lines[code]
        data |= {f"referrals-{i}-institution": code, f"referrals-{i}-selected": "y"}
    # Hogares: the persons the rule suggests (the son, row 1); OIM: typed by hand.
    data[f"referrals-{lines['SOSEP_HOGARES']}-persons"] = "1"
    data[f"referrals-{lines['SOSEP_HOGARES']}-reason"] = "Niño de 3 años."
    data[f"referrals-{lines['OIM']}-persons"] = ["0", "1", "2", "3"]
    data[f"referrals-{lines['OIM']}-reason"] = "Reintegración económica."
    response = client.post(url, data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert counts() == (1, 2, 2, 2)
    family = db.session.scalars(select(FamilyUnit)).one()
    quantities = {d.family_need.need.code: d.quantity for d in db.session.scalars(select(ServiceDelivery))}
    assert quantities == {"FOOD": 4, "HYGIENE_KIT": 2}  # one ration per person, unless typed
    referrals = {r.institution.code: r for r in db.session.scalars(select(Referral))}
    assert {code: r.status for code, r in referrals.items()} == {"SOSEP_HOGARES": "sent", "OIM": "sent"}
    assert [m.given_names for m in referrals["SOSEP_HOGARES"].members] == ["José"]
    assert len(referrals["OIM"].members) == 4
    assert family.members[2].birth_date.isoformat() == "2018-03-05"  # typed dd/mm/aaaa
    banner = client.get(response.location).get_data(as_text=True)
    assert family.case_number in banner and "2 boletas en la cola de la llegada" in banner


def test_a_bad_referral_saves_nothing_and_keeps_what_was_typed(client, ctx):
    user = make_user("reception", centre="FAG")
    arrival = make_arrival(user)
    login(client, user)
    url, lines = desk(client, arrival)
    i = lines["SOSEP_HOGARES"]
    data = family_of_four() | {
        f"referrals-{i}-institution": "SOSEP_HOGARES",
        f"referrals-{i}-selected": "y",
        f"referrals-{i}-persons": "1",
    }
    response = client.post(url, data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Escriba el motivo de la derivación." in html
    assert 'value="Pedro"' in html and 'value="05/03/2018"' in html
    assert counts() == (0, 0, 0, 0)


def test_without_consent_only_sosep_programmes_are_offered(client, ctx):
    user = make_user("reception", centre="FAG")
    arrival = make_arrival(user)
    login(client, user)
    data = family_of_four(consent_type="refused", protection_causes="THREATS")
    html = client.post(f"/arrivals/{arrival.id}/families/suggestions", data=data).get_data(as_text=True)
    assert "requiere el consentimiento" in html
    assert not re.search(r'name="referrals-\d+-selected"[^>]*>\s*<label[^>]*><strong>Derivar a OIM', html)
    assert "SOSEP_HOGARES" in html


def test_the_suggestions_are_scoped_to_the_users_arrivals(client, ctx):
    user = make_user("reception", centre="FAG")
    tecun = make_arrival(make_user("reception", centre="TECUN_UMAN"), centre="TECUN_UMAN")
    login(client, user)
    assert client.post(f"/arrivals/{tecun.id}/families/suggestions", data=family_of_four()).status_code == 404


def test_the_form_without_script_shows_the_suggestions_on_request(client, ctx):
    user = make_user("reception", centre="FAG")
    arrival = make_arrival(user)
    login(client, user)
    response = client.post(f"/arrivals/{arrival.id}/families/new", data=family_of_four(refresh="1"))
    assert response.status_code == 200
    assert "Derivar a" in response.get_data(as_text=True)
    assert counts() == (0, 0, 0, 0)


def test_the_error_summary_names_member_and_field_in_page_order(client, ctx):
    user = make_user("reception", centre="FAG")
    arrival = make_arrival(user)
    login(client, user)
    data = family_of_four(**{"members-1-surnames": "", "members-3-estimated_age": "130"})
    del data["destination_municipality"]
    response = client.post(f"/arrivals/{arrival.id}/families/new", data=data)
    html = response.get_data(as_text=True)
    summary = re.search(r'<div class="error-summary".*?</ul>', html, re.S).group(0)
    links = re.findall(r'<a href="#([^"]+)">([^<]+)</a>', summary)
    assert links == [
        ("f-destination_municipality", "Municipio de destino: este campo es obligatorio."),
        ("f-members-1-surnames", "Integrante 2 · Apellidos: este campo es obligatorio."),
        (
            "f-members-3-estimated_age",
            "Integrante 4 · Edad estimada (años): la edad debe estar entre 0 y 120 años.",
        ),
    ]
    # The age of 130 has its one message: no "give a birth date or an age" beside it.
    assert "Indique la fecha de nacimiento o la edad estimada." not in html


def test_earlier_records_of_the_person_being_typed_are_offered_across_the_country(client, ctx):
    from tests.factories import make_family, member

    user = make_user("reception", centre="FAG")
    old_arrival = make_arrival(user)
    earlier = make_family(
        user,
        old_arrival,
        members=[member("María Elena", "López Pérez", age=33, cui="2456789051304")],
    )
    tecun = make_user("reception", centre="TECUN_UMAN")
    make_family(
        tecun, make_arrival(tecun, centre="TECUN_UMAN"), members=[member("Rosa", "Chávez Pu", age=40)]
    )
    arrival = make_arrival(user)
    login(client, user)
    url = f"/arrivals/{arrival.id}/families/earlier-records"

    def offered(**typed: str) -> str:
        data = {
            "row": "0",
            "members-0-relationship": "HEAD",
            **{f"members-0-{k}": v for k, v in typed.items()},
        }
        return client.post(url, data=data).get_data(as_text=True)

    by_name = offered(given_names="maria elena", surnames="LOPEZ perez", estimated_age="34")
    assert earlier.case_number in by_name and "mismo nombre" in by_name
    assert earlier.case_number not in offered(
        given_names="María Elena", surnames="López Pérez", estimated_age="60"
    )
    assert "mismo CUI" in offered(given_names="M", surnames="L", cui="2456789051304")
    # Another centre's case (issue #12): offered, but only as its number, centre, date and sede.
    other = offered(given_names="Rosa", surnames="Chávez Pu", estimated_age="40")
    assert "TECUN_UMAN-" in other and "Otro ámbito" in other
    assert "Rosa" not in other and "Chávez" not in other and "/cases/" not in other
