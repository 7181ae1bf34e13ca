"""The JSON API on family units: an integration registers, reads, lists and updates cases with a token,
within the same rules as the pages (scope, permissions, validation, optimistic locking, audit)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from sosep_migrantes.cases.models import FamilyUnit
from sosep_migrantes.core.audit import AuditEvent
from sosep_migrantes.extensions import db
from tests.api.helpers import Integration, user_with_token
from tests.factories import family_payload, make_arrival, make_family, make_user, member


@pytest.fixture
def desk(app) -> dict[str, Any]:
    """A FAG reception account with a token, an arrival of its centre and one of Tecún Umán's."""
    with app.app_context():
        user, token = user_with_token("reception", centre="FAG")
        staff = make_user("coordinator")
        fag = make_arrival(user)
        tecun = make_arrival(staff, centre="TECUN_UMAN", mode="land", country="MX")
        other = make_family(staff, tecun, municipality=1217, members=[member("Rosa Elena", "Ramírez Chávez")])
        found = {"token": token, "fag": fag.id, "tecun": tecun.id, "other": other.id}
        db.session.remove()
    return found


def test_an_integration_registers_and_reads_a_family_with_a_token(app, desk) -> None:
    api = Integration(app, desk["token"])
    created = api.post(f"/arrivals/{desk['fag']}/families", json=family_payload())
    assert created.status_code == 201, created.json
    body = created.json
    assert body["case_number"].startswith("FAG-")
    assert [m["given_names"] for m in body["members"]] == ["María", "José"]
    assert body["members"][0]["relationship"] == "HEAD"
    assert created.headers["ETag"] == f'"v{body["version"]}"'

    read = api.get(f"/families/{body['id']}")
    assert read.status_code == 200
    assert read.json == body
    listed = api.get("/families/", query_string={"q": body["case_number"]})
    assert [item["id"] for item in listed.json["items"]] == [body["id"]]
    assert listed.json["items"][0]["members"] == 2
    with app.app_context():
        reads = db.session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "family:api_read", AuditEvent.subject_id == body["id"]
            )
        ).all()
        assert len(reads) == 2  # the read and the list's line
        assert all(event.details.get("token_id") for event in reads)


def test_the_same_validation_as_the_form_in_the_request_language(app, desk) -> None:
    payload = family_payload(members=[member(age=130), member("José", "", sex="M", relationship="SON")])
    spanish = Integration(app, desk["token"]).post(f"/arrivals/{desk['fag']}/families", json=payload)
    assert spanish.status_code == 422
    assert spanish.json["code"] == 422
    errors = spanish.json["errors"]["members"]
    assert "entre 0 y 120" in " ".join(errors["0"]["estimated_age"])
    assert errors["1"]["surnames"]
    english = Integration(app, desk["token"], language="en").post(
        f"/arrivals/{desk['fag']}/families", json=payload
    )
    assert "between 0 and 120" in " ".join(english.json["errors"]["members"]["0"]["estimated_age"])
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(FamilyUnit)) == 1  # only the other centre's


def test_out_of_scope_is_not_found_and_lists_hold_only_the_scope(app, desk) -> None:
    api = Integration(app, desk["token"])
    assert api.get(f"/families/{desk['other']}").status_code == 404
    assert api.post(f"/arrivals/{desk['tecun']}/families", json=family_payload()).status_code == 404
    assert api.get("/families/").json["items"] == []
    assert api.get(f"/arrivals/{desk['tecun']}").status_code == 404


def test_updates_need_the_etag_and_a_stale_one_is_refused(app, desk) -> None:
    api = Integration(app, desk["token"])
    body = api.post(f"/arrivals/{desk['fag']}/families", json=family_payload()).json
    change = family_payload(
        members=[
            {**member(), "id": body["members"][0]["id"]},
            member("Ana", "López Pérez", relationship="DAUGHTER", age=8),
        ],
        community="Caserío El Rosario",
    )
    assert api.put(f"/families/{body['id']}", json=change).status_code == 428
    assert (
        api.put(f"/families/{body['id']}", json=change, headers={"If-Match": "nonsense"}).status_code == 412
    )
    updated = api.put(f"/families/{body['id']}", json=change, headers={"If-Match": f'"v{body["version"]}"'})
    assert updated.status_code == 200, updated.json
    assert updated.json["community"] == "Caserío El Rosario"
    assert [m["given_names"] for m in updated.json["members"]] == ["María", "Ana"]
    assert updated.headers["ETag"] == f'"v{updated.json["version"]}"' != created_etag(body)
    # The first ETag is stale now: someone else's change would be overwritten.
    stale = api.put(f"/families/{body['id']}", json=change, headers={"If-Match": f'"v{body["version"]}"'})
    assert stale.status_code == 412
    assert "cambió" in stale.json["message"]


def created_etag(body: dict[str, Any]) -> str:
    return f'"v{body["version"]}"'


def test_a_retried_registration_is_not_saved_twice(app, desk) -> None:
    api = Integration(app, desk["token"])
    payload = family_payload(submission_token="a" * 32)
    assert api.post(f"/arrivals/{desk['fag']}/families", json=payload).status_code == 201
    again = api.post(f"/arrivals/{desk['fag']}/families", json=payload)
    assert again.status_code == 409
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(FamilyUnit)) == 2


def test_permissions_follow_the_role(app, desk) -> None:
    with app.app_context():
        _sede, sede_token = user_with_token("sede", sede="HUEHUETENANGO")
        _admin, admin_token = user_with_token("admin")
        db.session.remove()
    # A sede account cannot register at a desk; an admin reads no families at all.
    sede = Integration(app, sede_token)
    assert sede.post(f"/arrivals/{desk['fag']}/families", json=family_payload()).status_code == 403
    assert sede.get("/families/").status_code == 200
    assert Integration(app, admin_token).get("/families/").status_code == 403
    assert Integration(app, admin_token).get("/catalogs/relationships").status_code == 200


def test_bad_requests_get_a_4xx_with_a_message(app, desk) -> None:
    api = Integration(app, desk["token"])
    not_json = api.client.post(
        f"/api/v1/arrivals/{desk['fag']}/families",
        data="{not json",
        headers={**api.headers(), "Content-Type": "application/json"},
    )
    assert 400 <= not_json.status_code < 500 and not_json.json["message"]
    assert api.get("/families/", query_string={"q": "ab"}).status_code == 400
    assert api.get("/families/", query_string={"page": "0"}).status_code == 422
    assert api.get("/families/", query_string={"status": "lost"}).status_code == 422
    assert api.get("/families/99999999").status_code == 404


def test_malformed_parameters_and_bodies_are_answered_in_the_request_language(app, desk) -> None:
    """marshmallow's own messages (a date that is not one, a body that is not an object, an unknown
    parameter) in Spanish, or English for an integration that asks for it; never the library's English."""
    spanish, english = Integration(app, desk["token"]), Integration(app, desk["token"], language="en")
    bad_date = spanish.get("/families/", query_string={"arrived_from": "2026-13-45"})
    assert bad_date.status_code == 422
    assert "Fecha no válida" in str(bad_date.json["errors"]["arrived_from"])
    assert "Not a valid date" in str(
        english.get("/families/", query_string={"arrived_from": "2026-13-45"}).json["errors"]["arrived_from"]
    )
    not_an_object = spanish.post("/arrivals/", json=[1, 2])
    assert not_an_object.status_code == 422 and "Envíe un objeto" in str(not_an_object.json["errors"])
    unknown = spanish.get("/families/", query_string={"stauts": "closed"})
    assert unknown.status_code == 422 and "no existe" in str(unknown.json["errors"]["stauts"])
    too_many = english.get("/families/", query_string={"per_page": "500"})
    assert too_many.status_code == 422 and "per page" in str(too_many.json["errors"]["per_page"])
