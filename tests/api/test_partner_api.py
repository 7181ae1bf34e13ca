"""The partner institutions' API: an institution's case system (OIM, Refugio de la Niñez) reads the
referrals addressed to it, with the same minimal facts as its pages, and answers them; it reaches
nothing else, neither SOSEP's side of the API nor another institution's referrals."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from sosep_migrantes.auth.models import User
from sosep_migrantes.core.audit import AuditEvent
from sosep_migrantes.extensions import db
from sosep_migrantes.referrals import services
from sosep_migrantes.referrals.models import Referral
from tests.api.helpers import Integration, token_for, user_with_token
from tests.factories import make_arrival, make_family, member
from tests.referrals.helpers import refer
from tests.referrals.partners import make_partner

CUI = "2456789050101"
REASON = "Acompañamiento para su reintegración en la comunidad."
OIM_NAME = "Organización Internacional para las Migraciones (OIM)"
#: What a partner is given of a referral, in a list and (with its history) alone: the slip's facts.
LIST_FIELDS = {"id", "number", "date", "priority", "persons", "reason", "phone", "destination", "status"}
DETAIL_FIELDS = LIST_FIELDS | {"history", "allowed_answers", "version"}


@pytest.fixture
def world(app) -> dict[str, Any]:
    """A family at FAG with everything a partner must not see, its referrals to OIM (sent, a draft, one
    withdrawn) and to Refugio de la Niñez, and tokens for both institutions and the desk."""
    with app.app_context():
        desk, desk_token = user_with_token("reception", centre="FAG")
        family = make_family(
            desk,
            make_arrival(desk),
            municipality="Santa Cruz del Quiché, Quiché",
            phone="5555-0101",
            notes="Nota interna: el padre sigue detenido en Texas.",
            protection_causes=["EXTORTION"],
            members=[
                member("Ixchel Catarina", "Tzul Xicará", age=34, cui=CUI, health_notes="Diabetes tipo 2."),
                member("José", "Tzul Ñuñez", sex="M", relationship="SON", age=9),
                member("Rosa Amalia", "Chávez Ramos", relationship="DAUGHTER", age=12),
            ],
        )
        mother, son, _daughter = family.members
        referred = refer(
            family, desk, "OIM", member_ids=[mother.id, son.id], send=True, priority="urgent", reason=REASON
        )
        draft = refer(family, desk, "OIM", member_ids=[son.id], reason="Borrador sin enviar.")
        withdrawn = refer(family, desk, "OIM", member_ids=[mother.id], send=True, reason="Se retiró.")
        services.change_status(withdrawn, "cancelled", "Registrada por error.", desk)
        elsewhere = refer(family, desk, "REFUGIO_NINEZ", send=True, reason="Para otra institución.")
        db.session.commit()
        found = {
            "desk": desk.id,
            "family": family.id,
            "case_number": family.case_number,
            "son": son.id,
            "referral": referred.id,
            "number": referred.number,
            "draft": draft.id,
            "withdrawn": withdrawn.id,
            "elsewhere": elsewhere.id,
            "elsewhere_number": elsewhere.number,
            "tokens": {
                "oim": token_for(make_partner("OIM", full_name="Ana López")),
                "refugio": token_for(make_partner("REFUGIO_NINEZ", full_name="Pedro Refugio")),
                "desk": desk_token,
                "coordinator": user_with_token("coordinator")[1],
            },
        }
        db.session.remove()
    return found


def api(app, world, who: str = "oim", language: str | None = None) -> Integration:
    return Integration(app, world["tokens"][who], language)


def assert_only_the_slip_facts(body: str, world) -> None:
    for hidden in (
        "Rosa Amalia",  # a member who was not referred
        CUI,
        "PROTECTION",
        "EXTORTION",
        "detenido en Texas",
        "Diabetes",
        "Borrador sin enviar.",
        "Se retiró.",
        "Para otra institución.",
        world["elsewhere_number"],
        '"family_id"',
        '"member_ids"',
    ):
        assert hidden not in body, hidden
    # The case number (FAG-2026-00001) is never given; the slip number REF-FAG-... contains it.
    assert not re.search(rf"(?<!REF-){re.escape(world['case_number'])}", body)


def test_a_partner_lists_and_reads_its_institutions_referrals_with_only_the_slip_facts(app, world) -> None:
    oim = api(app, world)
    listed = oim.get("/partner/referrals/")
    assert listed.status_code == 200
    [item] = listed.json["items"]
    assert set(item) == LIST_FIELDS
    assert item["id"] == world["referral"]
    assert (item["number"], item["priority"], item["status"], item["reason"]) == (
        world["number"],
        "urgent",
        "sent",
        REASON,
    )
    assert item["persons"] == [
        {"name": "Ixchel Catarina Tzul Xicará", "years": 34, "months": None, "estimated": True},
        {"name": "José Tzul Ñuñez", "years": 9, "months": None, "estimated": True},
    ]
    assert (item["phone"], item["destination"]) == ("5555-0101", "Santa Cruz del Quiché, Quiché")
    assert_only_the_slip_facts(listed.get_data(as_text=True), world)

    detail = oim.get(f"/partner/referrals/{world['referral']}")
    assert detail.status_code == 200
    assert set(detail.json) == DETAIL_FIELDS
    assert {k: v for k, v in detail.json.items() if k in LIST_FIELDS} == item
    # Its history from the moment it was sent (the draft was SOSEP's work), and the answers it may give.
    assert [(step["status"], step["who"], step["institution"]) for step in detail.json["history"]] == [
        ("sent", "Usuario reception", None)
    ]
    assert detail.json["allowed_answers"] == ["accepted", "rejected", "not_located"]
    assert detail.headers["ETag"] == f'"v{detail.json["version"]}"' == '"v2"'
    assert_only_the_slip_facts(detail.get_data(as_text=True), world)


def test_a_partner_answers_every_way_it_may(app, world) -> None:
    oim = api(app, world)
    url = f"/partner/referrals/{world['referral']}/status"
    accepted = oim.post(url, json={"status": "accepted"}, headers={"If-Match": '"v2"'})
    assert accepted.status_code == 200, accepted.json
    assert accepted.json["status"] == "accepted"
    assert accepted.json["allowed_answers"] == ["attended", "not_located"]
    assert accepted.json["history"][-1]["who"] == "Ana López"
    assert accepted.json["history"][-1]["institution"] == OIM_NAME
    attended = oim.post(url, json={"status": "attended", "note": "Atendida en Quiché."})
    assert attended.status_code == 200 and attended.json["status"] == "attended"
    assert attended.json["allowed_answers"] == []
    assert attended.headers["ETag"] == '"v4"'

    # The other answers, each on a referral of its own: rejected, family not located (sent or accepted).
    with app.app_context():
        desk = db.session.get(User, world["desk"])
        from sosep_migrantes.cases.models import FamilyUnit

        family = db.session.get(FamilyUnit, world["family"])
        fresh = [refer(family, desk, "OIM", member_ids=[world["son"]], send=True).id for _ in range(3)]
        db.session.remove()
    rejected, not_located, accepted_then_lost = fresh
    assert oim.post(f"/partner/referrals/{rejected}/status", json={"status": "rejected"}).status_code == 400
    assert (
        oim.post(
            f"/partner/referrals/{rejected}/status", json={"status": "rejected", "note": "Sin cobertura."}
        ).json["status"]
        == "rejected"
    )
    lost = oim.post(
        f"/partner/referrals/{not_located}/status", json={"status": "not_located", "note": "No contesta."}
    )
    assert lost.json["status"] == "not_located"
    assert (
        oim.post(f"/partner/referrals/{accepted_then_lost}/status", json={"status": "accepted"}).status_code
        == 200
    )
    lost = oim.post(
        f"/partner/referrals/{accepted_then_lost}/status", json={"status": "not_located", "note": "Se mudó."}
    )
    assert lost.json["status"] == "not_located"

    # SOSEP's staff see each answer and who gave it (for which institution).
    staff = api(app, world, "desk").get(f"/referrals/{world['referral']}").json
    assert [e["to_status"] for e in staff["events"]] == ["draft", "sent", "accepted", "attended"]
    assert staff["events"][-1]["institution"] == "OIM"
    with app.app_context():
        partner_id = db.session.scalar(select(User.id).where(User.full_name == "Ana López"))
        answers = db.session.scalars(
            select(AuditEvent).where(AuditEvent.user_id == partner_id).order_by(AuditEvent.id)
        ).all()
        # Each answer's audit entry, by the partner's user (the case's status moves are SOSEP's to read).
        assert [
            (e.action, e.details["referral_id"]) for e in answers if e.action.startswith("referral:")
        ] == [
            ("referral:accepted", world["referral"]),
            ("referral:attended", world["referral"]),
            ("referral:rejected", rejected),
            ("referral:not_located", not_located),
            ("referral:accepted", accepted_then_lost),
            ("referral:not_located", accepted_then_lost),
        ]


def test_sending_cancelling_and_moves_out_of_order_are_refused_in_both_languages(app, world) -> None:
    url = f"/partner/referrals/{world['referral']}/status"
    for status in ("cancelled", "sent", "draft"):
        refused = api(app, world).post(url, json={"status": status, "note": "x"})
        assert refused.status_code == 400
        assert refused.json["errors"] == {"status": "Elija una de las respuestas de la lista."}
    english = api(app, world, language="en").post(url, json={"status": "cancelled", "note": "x"})
    assert english.json["errors"] == {"status": "Choose one of the answers from the list."}
    out_of_order = api(app, world, language="en").post(url, json={"status": "attended"})
    assert out_of_order.status_code == 400
    assert out_of_order.json["errors"]["status"].startswith("Cannot change from")
    no_reason = api(app, world).post(url, json={"status": "not_located"})
    assert no_reason.status_code == 400 and no_reason.json["errors"] == {"note": "Indique el motivo."}
    assert api(app, world).post(url, json={"status": "lost"}).status_code == 422
    stale = api(app, world).post(url, json={"status": "accepted"}, headers={"If-Match": '"v1"'})
    assert stale.status_code == 412 and stale.json["message"]
    with app.app_context():
        assert db.session.get(Referral, world["referral"]).status == "sent"


def test_a_partner_reaches_nothing_else(app, world) -> None:
    oim = api(app, world)
    for path in (
        "/families/",
        f"/families/{world['family']}",
        f"/families/{world['family']}/needs",
        f"/families/{world['family']}/referrals",
        f"/referrals/{world['referral']}",
        f"/referrals/{world['referral']}/slip.pdf",
        "/arrivals/",
    ):
        assert oim.get(path).status_code == 403, path
    assert oim.post(f"/referrals/{world['referral']}/status", json={"status": "accepted"}).status_code == 403
    # Another institution's referral, a draft and one withdrawn after it was sent: as if they did not exist.
    for other in (world["elsewhere"], world["draft"], world["withdrawn"], 999999):
        assert oim.get(f"/partner/referrals/{other}").status_code == 404
        assert oim.get(f"/partner/referrals/{other}/slip.pdf").status_code == 404
        assert oim.post(f"/partner/referrals/{other}/status", json={"status": "accepted"}).status_code == 404
    # The other institution sees its own and not OIM's.
    refugio = api(app, world, "refugio")
    assert [item["id"] for item in refugio.get("/partner/referrals/").json["items"]] == [world["elsewhere"]]
    assert refugio.get(f"/partner/referrals/{world['referral']}").status_code == 404
    answer = refugio.post(f"/partner/referrals/{world['referral']}/status", json={"status": "accepted"})
    assert answer.status_code == 404
    # SOSEP's staff have no partner side.
    for who in ("desk", "coordinator"):
        assert api(app, world, who).get("/partner/referrals/").status_code == 403
    with app.app_context():
        assert db.session.get(Referral, world["referral"]).status == "sent"


def test_the_list_filters_by_status_and_the_slip_is_printed(app, world) -> None:
    with app.app_context():
        desk = db.session.get(User, world["desk"])
        referral = db.session.get(Referral, world["referral"])
        services.change_status(referral, "rejected", "Sin cupo.", desk)
        db.session.commit()
        db.session.remove()
    oim = api(app, world)
    assert oim.get("/partner/referrals/").json["items"] == []  # open ones by default
    assert [
        i["id"] for i in oim.get("/partner/referrals/", query_string={"status": "all"}).json["items"]
    ] == [world["referral"]]
    assert oim.get("/partner/referrals/", query_string={"status": "rejected"}).json["total"] == 1
    bogus = oim.get("/partner/referrals/", query_string={"status": "draft"})
    assert bogus.status_code == 422 and bogus.json["errors"]["status"]

    slip = oim.get(f"/partner/referrals/{world['referral']}/slip.pdf")
    assert slip.status_code == 200 and slip.mimetype == "application/pdf"
    assert slip.headers["Content-Disposition"] == f'inline; filename="{world["number"]}.pdf"'
    with app.app_context():
        printed = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "slip:print"))
        assert printed.details == {"referral_id": world["referral"]}
