"""The JSON API on a family's needs and the services delivered: recorded and read with a token through
the needs page's schemas and services, within the same scope and permissions, audited."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from sosep_migrantes.core.audit import AuditEvent
from sosep_migrantes.extensions import db
from sosep_migrantes.needs.models import FamilyNeed, NeedStatus
from tests.api.helpers import Integration, token_for, user_with_token
from tests.factories import make_arrival, make_family, member
from tests.referrals.partners import make_partner


@pytest.fixture
def world(app) -> dict[str, Any]:
    """A family at FAG going to Cuilco (Huehuetenango), one at Tecún Umán going to Nebaj (Quiché), and a
    token for each kind of account."""
    with app.app_context():
        fag_desk, fag_token = user_with_token("reception", centre="FAG")
        tecun_desk, tecun_token = user_with_token("reception", centre="TECUN_UMAN")
        cuilco = make_family(fag_desk, make_arrival(fag_desk), municipality="Cuilco, Huehuetenango")
        nebaj = make_family(
            tecun_desk,
            make_arrival(tecun_desk, centre="TECUN_UMAN", mode="land", country="MX"),
            municipality=1413,
            members=[member("Catarina", "Tzoc Brito")],
        )
        found = {
            "tokens": {
                "reception_fag": fag_token,
                "reception_tecun": tecun_token,
                "sede_huehuetenango": user_with_token("sede", sede="HUEHUETENANGO")[1],
                "sede_quiche": user_with_token("sede", sede="QUICHE")[1],
                "coordinator": user_with_token("coordinator")[1],
                "admin": user_with_token("admin")[1],
                "partner_oim": token_for(make_partner("OIM")),
            },
            "cuilco": cuilco.id,
            "members": [m.id for m in cuilco.members],
            "nebaj": nebaj.id,
            "nebaj_member": nebaj.members[0].id,
        }
        db.session.remove()
    return found


def api(app, world, who: str = "reception_fag", language: str | None = None) -> Integration:
    return Integration(app, world["tokens"][who], language)


def audit_actions(app) -> list[tuple[str, dict[str, Any]]]:
    with app.app_context():
        return [(e.action, e.details) for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_an_integration_records_needs_attends_one_and_reads_them(app, world) -> None:
    desk = api(app, world)
    _head, son = world["members"]
    url = f"/families/{world['cuilco']}/needs"
    recorded = desk.post(
        url,
        json={
            "delivered_by": "Enfermería FAG",
            "items": [
                {"need": "MEDICAL", "action": "identified", "member_id": son, "notes": "Fiebre."},
                {"need": "HYGIENE_KIT", "action": "attended", "quantity": 2},
                # A line without an action is not recorded, as an unticked line of the page.
                {"need": "FOOD"},
            ],
        },
    )
    assert recorded.status_code == 201, recorded.json
    medical, kit = recorded.json["items"]
    assert (medical["need"], medical["status"], medical["member_id"], medical["services"]) == (
        "MEDICAL",
        "identified",
        son,
        [],
    )
    assert (kit["need"], kit["status"], kit["member_id"]) == ("HYGIENE_KIT", "attended", None)
    assert [(s["description"], s["quantity"], s["delivered_by"]) for s in kit["services"]] == [
        ("Kit de higiene", 2, "Enfermería FAG")
    ]

    attended = desk.post(
        f"{url}/{medical['id']}/attend",
        json={"description": "Consulta pediátrica", "delivered_by": "Pediatra MSPAS"},
    )
    assert attended.status_code == 200, attended.json
    assert attended.json["status"] == "attended"
    assert [s["delivered_by"] for s in attended.json["services"]] == ["Pediatra MSPAS"]

    listed = desk.get(url)
    assert listed.status_code == 200
    assert [(n["need"], n["status"]) for n in listed.json["items"]] == [
        ("MEDICAL", "attended"),
        ("HYGIENE_KIT", "attended"),
    ]
    assert listed.json["total"] == 2
    trail = audit_actions(app)
    assert [(action, details.get("need")) for action, details in trail if action.startswith("need:")] == [
        ("need:identified", "MEDICAL"),
        ("need:attended", "HYGIENE_KIT"),
        ("need:attended", "MEDICAL"),
    ]
    reads = [details for action, details in trail if action == "family:api_read"]
    assert [(d["part"], bool(d["token_id"])) for d in reads] == [("needs", True)]


def test_a_need_no_longer_pending_and_bad_input_in_both_languages(app, world) -> None:
    url = f"/families/{world['cuilco']}/needs"
    [need] = (
        api(app, world).post(url, json={"items": [{"need": "LEGAL", "action": "identified"}]}).json["items"]
    )
    attend = {"delivered_by": "Abogada PGN"}
    assert api(app, world).post(f"{url}/{need['id']}/attend", json=attend).status_code == 200
    again = api(app, world).post(f"{url}/{need['id']}/attend", json=attend)
    assert again.status_code == 400
    assert again.json["errors"] == {"delivered_by": "Esta necesidad ya no está pendiente."}
    english = api(app, world, language="en").post(f"{url}/{need['id']}/attend", json=attend)
    assert english.json["errors"] == {"delivered_by": "This need is no longer pending."}

    nothing = api(app, world).post(url, json={"items": []})
    assert nothing.status_code == 422
    assert "Marque al menos una necesidad." in str(nothing.json["errors"]["items"])
    assert "Tick at least one need." in str(
        api(app, world, language="en").post(url, json={"items": [{"need": "FOOD"}]}).json["errors"]["items"]
    )
    no_one = api(app, world).post(url, json={"items": [{"need": "FOOD", "action": "attended"}]})
    assert no_one.status_code == 422
    assert no_one.json["errors"]["items"]["0"]["delivered_by"]
    unknown = api(app, world).post(url, json={"items": [{"need": "CAVIAR", "action": "identified"}]})
    assert unknown.status_code == 422 and unknown.json["errors"]["items"]["0"]["need"]
    # A member of another family: refused by the service, beside the line.
    stranger = api(app, world, language="en").post(
        url, json={"items": [{"need": "FOOD", "action": "identified", "member_id": world["nebaj_member"]}]}
    )
    assert stranger.status_code == 400
    assert stranger.json["errors"] == {"items-0-member_id": "Choose a member of this family."}
    no_service = api(app, world).post(f"{url}/{need['id']}/attend", json={})
    assert no_service.status_code == 422 and no_service.json["errors"]["delivered_by"]
    with app.app_context():
        assert db.session.scalars(select(FamilyNeed.status)).all() == [NeedStatus.ATTENDED]


def test_scope_and_permissions_follow_the_needs_page(app, world) -> None:
    url = f"/families/{world['cuilco']}/needs"
    [need] = (
        api(app, world).post(url, json={"items": [{"need": "MEDICAL", "action": "identified"}]}).json["items"]
    )
    line = {"items": [{"need": "FOOD", "action": "identified"}]}
    attend = {"delivered_by": "Enfermería"}
    # The sede of the family's destination reads and writes (case:edit); the coordinator only reads.
    sede = api(app, world, "sede_huehuetenango")
    assert sede.get(url).status_code == 200
    assert sede.post(url, json=line).status_code == 201
    coordinator = api(app, world, "coordinator")
    assert [n["need"] for n in coordinator.get(url).json["items"]] == ["MEDICAL", "FOOD"]
    assert coordinator.post(url, json=line).status_code == 403
    assert coordinator.post(f"{url}/{need['id']}/attend", json=attend).status_code == 403
    # Another centre, another sede: not found; their own family is theirs.
    for who in ("reception_tecun", "sede_quiche"):
        other = api(app, world, who)
        assert other.get(url).status_code == 404
        assert other.post(url, json=line).status_code == 404
        assert other.post(f"{url}/{need['id']}/attend", json=attend).status_code == 404
        assert other.get(f"/families/{world['nebaj']}/needs").status_code == 200
    # A need is reached through its own family only.
    nebaj = f"/families/{world['nebaj']}/needs"
    assert (
        api(app, world, "reception_tecun").post(f"{nebaj}/{need['id']}/attend", json=attend).status_code
        == 404
    )
    for who in ("admin", "partner_oim"):
        assert api(app, world, who).get(url).status_code == 403
        assert api(app, world, who).post(url, json=line).status_code == 403
    with app.app_context():
        assert db.session.get(FamilyNeed, need["id"]).status == NeedStatus.IDENTIFIED
