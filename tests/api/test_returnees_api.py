"""The JSON API on returnees: earlier records of a person anywhere in the country, on demand and for a
case's members, cut to the case number, centre, date and sede outside the account's scope; linking and
dismissing them, audited."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from sqlalchemy import select

from sosep_migrantes.core.audit import AuditEvent
from sosep_migrantes.core.timeutil import LOCAL_TZ
from sosep_migrantes.extensions import db
from sosep_migrantes.returnees.models import ReturneeLink
from tests.api.helpers import Integration, token_for, user_with_token
from tests.factories import make_arrival, make_family, member
from tests.referrals.partners import make_partner

EARLIER = dt.datetime(2024, 3, 5, 9, 0, tzinfo=LOCAL_TZ)
CATARINA = {
    "given_names": "Catarina",
    "surnames": "Tzoc Brito",
    "birth_date": "1985-09-12",
    "on": "2026-11-20",
}


@pytest.fixture
def world(app) -> dict[str, Any]:
    """An earlier case of each side (2024): María Elena at FAG (Cuilco, Huehuetenango), Catarina at Tecún
    Umán (Nebaj, Quiché); and a new FAG case (November 2026) whose head, Catalina, is Catarina again."""
    with app.app_context():
        fag, fag_token = user_with_token("reception", centre="FAG")
        tecun, tecun_token = user_with_token("reception", centre="TECUN_UMAN")
        fag_case = make_family(
            fag,
            make_arrival(fag, when=EARLIER),
            members=[
                member("María Elena", "López Pérez", age=None, birth_date="1990-05-03", cui="2456789051304")
            ],
        )
        tecun_case = make_family(
            tecun,
            make_arrival(tecun, centre="TECUN_UMAN", mode="land", country="MX", when=EARLIER),
            municipality=1413,
            members=[member("Catarina", "Tzoc Brito", age=None, birth_date="1985-09-12")],
        )
        again = make_family(
            fag,
            make_arrival(fag),
            members=[
                member("Catalina", "Tzoc Brito", age=None, birth_date="1985-09-12"),
                member("Pedro", "Sic Ajanel", sex="M", relationship="SON", age=9),
            ],
        )
        found = {
            "fag_case": fag_case.id,
            "fag_number": fag_case.case_number,
            "fag_member": fag_case.members[0].id,
            "tecun_case": tecun_case.id,
            "tecun_number": tecun_case.case_number,
            "tecun_member": tecun_case.members[0].id,
            "again": again.id,
            "again_number": again.case_number,
            "catalina": again.members[0].id,
            "pedro": again.members[1].id,
            "tokens": {
                "reception_fag": fag_token,
                "reception_tecun": tecun_token,
                "sede_huehuetenango": user_with_token("sede", sede="HUEHUETENANGO")[1],
                "sede_quiche": user_with_token("sede", sede="QUICHE")[1],
                "coordinator": user_with_token("coordinator")[1],
                "admin": user_with_token("admin")[1],
                "partner": token_for(make_partner("OIM")),
            },
        }
        db.session.remove()
    return found


def api(app, world, who: str, language: str | None = None) -> Integration:
    return Integration(app, world["tokens"][who], language=language)


def search(app, world, who: str, language: str | None = None, **args: Any) -> Any:
    return api(app, world, who, language).get("/returnees/candidates", query_string=args)


def by_case(response) -> dict[str, dict[str, Any]]:
    assert response.status_code == 200, response.json
    return {item["case_number"]: item for item in response.json["items"]}


def audited(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        events = list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))
        db.session.expunge_all()
        return events


def test_outside_the_scope_only_number_centre_date_and_sede(app, world) -> None:
    response = search(app, world, "reception_fag", **CATARINA)
    assert response.status_code == 200, response.json
    # Tecún Umán's case (2024), and Catalina of the FAG desk's own new case, whole: it is in its scope.
    found, own_case = response.json["items"]
    assert own_case["case_number"] == world["again_number"] and own_case["full_name"] == "Catalina Tzoc Brito"
    assert found["case_number"] == world["tecun_number"]
    assert found["centre"].endswith("Tecún Umán") and found["arrived_on"] == "2024-03-05"
    assert "Quiché" in found["sede"]
    assert found["visible"] is False
    assert (found["family_id"], found["full_name"], found["birth_date"]) == (None, None, None)
    assert set(found["reasons"]) == {"same_name", "same_birth_date"} and found["score"] == 90
    # Neither the earlier case's names nor its date of birth nor its id reach the answer.
    body = response.get_data(as_text=True)
    assert "Catarina" not in body and str(world["tecun_case"]) not in {
        str(i["family_id"]) for i in response.json["items"]
    }
    assert not {"Tzoc", "1985"} & {str(value) for value in found.values()}
    # The same record in the account's scope: all of it.
    for who in ("reception_tecun", "sede_quiche", "coordinator"):
        own = by_case(search(app, world, who, **CATARINA))[world["tecun_number"]]
        assert own["visible"] and own["full_name"] == "Catarina Tzoc Brito", who
        assert own["family_id"] == world["tecun_case"] and own["birth_date"] == "1985-09-12"
    hidden = by_case(search(app, world, "sede_huehuetenango", **CATARINA))[world["tecun_number"]]
    assert hidden["full_name"] is None and not hidden["visible"]
    # And the other way round: for Tecún Umán, the FAG desk's case is the one cut to the minimum.
    fag_case = by_case(search(app, world, "reception_tecun", **CATARINA))[world["again_number"]]
    assert (fag_case["full_name"], fag_case["family_id"], fag_case["visible"]) == (None, None, False)
    assert search(app, world, "partner", **CATARINA).status_code == 403
    assert search(app, world, "admin", **CATARINA).status_code == 403


@pytest.mark.parametrize(
    ("given", "surnames"),
    [
        ("maria elena", "LOPEZ PEREZ"),  # accents and case
        ("María Elena", "Pérez López"),  # the surnames' order
        ("María Elena", "Lopz Peres"),  # a typo and a phonetic variant
    ],
)
def test_variants_of_the_name_with_the_same_date_of_birth(app, world, given, surnames) -> None:
    args = {"given_names": given, "surnames": surnames, "birth_date": "03/05/1990", "on": "2026-11-20"}
    [found] = search(app, world, "reception_fag", **args).json["items"]
    assert found["case_number"] == world["fag_number"] and found["full_name"] == "María Elena López Pérez"
    assert search(app, world, "reception_fag", **{**args, "birth_date": "1990-05-04"}).json["items"] == []


def test_the_same_cui_whatever_the_name(app, world) -> None:
    [found] = search(app, world, "reception_tecun", cui="2456789051304").json["items"]
    assert found["reasons"] == ["same_cui"] and found["case_number"] == world["fag_number"]
    assert found["full_name"] is None  # FAG's case, outside Tecún Umán's scope


def test_bad_searches_are_refused_in_the_request_language(app, world) -> None:
    nothing = search(app, world, "reception_fag", birth_date="1985-09-12")
    assert nothing.status_code == 422
    assert nothing.json["errors"]["given_names"] == [
        "Escriba los nombres y apellidos de la persona, o su CUI."
    ]
    english = search(app, world, "reception_fag", "en", surnames="Tzoc", cui="12", age="130")
    assert english.status_code == 422
    assert english.json["errors"]["cui"] == ["The CUI must have 13 digits."]
    assert english.json["errors"]["age"] == ["Age must be between 0 and 120 years."]
    assert search(app, world, "reception_fag", surnames="Tzoc", birth_date="31/02/1985").status_code == 422


def test_a_case_s_earlier_records_and_who_may_read_them(app, world) -> None:
    url = f"/families/{world['again']}/earlier-records"
    response = api(app, world, "reception_fag").get(url)
    assert response.status_code == 200, response.json
    catalina, pedro = response.json["members"]
    assert catalina["member_id"] == world["catalina"] and pedro["candidates"] == []
    [candidate] = catalina["candidates"]
    assert candidate["member_id"] == world["tecun_member"] and candidate["visible"] is False
    assert candidate["reasons"] == ["similar_name", "same_birth_date"]
    assert "Catarina" not in response.get_data(as_text=True)
    assert response.json["linked"] == []
    assert api(app, world, "sede_huehuetenango").get(url).status_code == 200
    assert api(app, world, "coordinator").get(url).status_code == 200
    assert api(app, world, "reception_tecun").get(url).status_code == 404
    assert api(app, world, "sede_quiche").get(url).status_code == 404
    assert api(app, world, "partner").get(url).status_code == 403
    reads = [(event.subject_id, event.details["part"]) for event in audited(app, "family:api_read")]
    # Three reads of the case; and the coordinator, who sees Tecún Umán's earlier case whole, read it too.
    assert sorted(reads) == sorted(
        [(world["again"], "earlier_records")] * 3 + [(world["tecun_case"], "earlier_record_of")]
    )


def test_linking_a_returnee_is_audited_and_shown_on_both_cases_within_each_scope(app, world) -> None:
    decision = {"member_id": world["catalina"], "earlier_member_id": world["tecun_member"]}
    url = f"/families/{world['again']}/earlier-records"
    # Who may not: a coordinator reads but does not decide; another scope does not find the case.
    assert api(app, world, "coordinator").post(url + "/link", json=decision).status_code == 403
    assert api(app, world, "partner").post(url + "/link", json=decision).status_code == 403
    assert api(app, world, "reception_tecun").post(url + "/link", json=decision).status_code == 404
    assert api(app, world, "sede_quiche").post(url + "/link", json=decision).status_code == 404
    assert audited(app, "returnee:link") == []
    linked = api(app, world, "sede_huehuetenango").post(url + "/link", json=decision)
    assert linked.status_code == 200, linked.json
    assert linked.json["decision"] == "linked"
    assert (linked.json["member_id"], linked.json["earlier_member_id"]) == (
        world["catalina"],
        world["tecun_member"],
    )
    [event] = audited(app, "returnee:link")
    assert event.subject_id == world["catalina"] and event.details["other_family_id"] == world["tecun_case"]
    # On the new case: the earlier record, cut to the minimum; decided, it is no longer a candidate.
    mine = api(app, world, "reception_fag").get(url).json
    [shown] = mine["linked"]
    assert shown["member_id"] == world["catalina"] and shown["other_is_earlier"] is True
    assert shown["other"]["case_number"] == world["tecun_number"] and shown["other"]["full_name"] is None
    assert mine["members"][0]["candidates"] == []
    # On the earlier case, for Tecún Umán: the return, cut the same way (FAG's case is not its).
    theirs = api(app, world, "reception_tecun").get(f"/families/{world['tecun_case']}/earlier-records")
    [back] = theirs.json["linked"]
    assert back["other_is_earlier"] is False and back["other"]["case_number"] == world["again_number"]
    assert "Catalina" not in theirs.get_data(as_text=True) and "Sic" not in theirs.get_data(as_text=True)
    # Linking again changes nothing and writes nothing more.
    assert api(app, world, "reception_fag").post(url + "/link", json=decision).status_code == 200
    assert len(audited(app, "returnee:link")) == 1


def test_dismissing_a_candidate_is_audited_and_unlinks(app, world) -> None:
    decision = {"member_id": world["catalina"], "earlier_member_id": world["tecun_member"]}
    desk = api(app, world, "reception_fag")
    url = f"/families/{world['again']}/earlier-records"
    assert desk.post(url + "/link", json=decision).status_code == 200
    dismissed = desk.post(url + "/dismiss", json=decision)
    assert dismissed.status_code == 200 and dismissed.json["decision"] == "dismissed"
    assert len(audited(app, "returnee:dismiss")) == 1
    assert desk.get(url).json["linked"] == []
    with app.app_context():
        assert db.session.scalars(select(ReturneeLink.decision)).one() == "dismissed"


def test_only_a_member_of_the_case_and_an_offered_record_can_be_decided(app, world) -> None:
    url = f"/families/{world['again']}/earlier-records/link"
    stranger = api(app, world, "reception_fag").post(
        url, json={"member_id": world["fag_member"], "earlier_member_id": world["tecun_member"]}
    )
    assert stranger.status_code == 400
    assert stranger.json["errors"] == {"member_id": "Ese integrante no es de este caso."}
    # María Elena's earlier case is not Pedro's: the search does not offer it, so it cannot be linked.
    not_offered = api(app, world, "reception_fag", "en").post(
        url, json={"member_id": world["pedro"], "earlier_member_id": world["fag_member"]}
    )
    assert not_offered.status_code == 400
    assert not_offered.json["errors"] == {
        "earlier_member_id": "That record is not a proposed earlier record."
    }
    missing = api(app, world, "reception_fag", "en").post(url, json={"member_id": world["pedro"]})
    assert (
        missing.status_code == 422
        and missing.json["errors"]["earlier_member_id"] == "This field is required."
    )
    assert audited(app, "returnee:link") == []


@pytest.mark.postgres_only
def test_the_same_pair_linked_at_the_same_moment_is_linked_once(app, world, is_postgres) -> None:
    if not is_postgres:
        pytest.skip("SQLite serialises writers: the race needs a server that runs them at once")
    decision = {"member_id": world["catalina"], "earlier_member_id": world["tecun_member"]}
    url = f"/families/{world['again']}/earlier-records/link"
    start = threading.Barrier(4)
    statuses: list[int] = []

    def link() -> None:
        client = api(app, world, "reception_fag")
        start.wait(timeout=10)
        statuses.append(client.post(url, json=decision).status_code)

    threads = [threading.Thread(target=link) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert statuses == [200] * 4
    with app.app_context():
        assert db.session.scalars(select(ReturneeLink.decision)).one() == "linked"
        db.session.remove()
    assert len(audited(app, "returnee:link")) == 1


def test_a_search_audits_the_cases_it_shows_whole_and_keeps_no_search_words(app, world) -> None:
    assert len(search(app, world, "reception_tecun", **CATARINA).json["items"]) == 2
    [event] = audited(app, "family:api_read")
    # Tecún Umán's own case was shown with its names; the FAG case, cut to the minimum, was not read.
    assert event.subject_id == world["tecun_case"]
    assert event.details["part"] == "returnee_candidates" and event.details["token_id"]
    assert "Catarina" not in str(event.details) and "1985" not in str(event.details)
    assert search(app, world, "reception_fag", cui="2456789051304").status_code == 200
    assert {e.subject_id for e in audited(app, "family:api_read")} == {world["tecun_case"], world["fag_case"]}
