"""The JSON API on referrals: an integration creates a family's referrals, reads them and moves them
through every transition the state machine allows, with a token, within the same rules as the pages
(scope, permissions, consent, the state machine, concurrency, audit); every refusal is a 4xx with a
message in the request's language."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import select, update

from sosep_migrantes.core.audit import AuditEvent
from sosep_migrantes.extensions import db
from sosep_migrantes.referrals import services
from sosep_migrantes.referrals.models import Referral, ReferralStatus
from tests.api.helpers import Integration, token_for, user_with_token
from tests.factories import make_arrival, make_family, member
from tests.referrals.helpers import refer
from tests.referrals.partners import make_partner

S = ReferralStatus
#: Every move the state machine allows, as (from, to).
ALLOWED = sorted(
    ((origin, to) for origin, targets in services.TRANSITIONS.items() for to in targets),
    key=lambda move: (list(S).index(move[0]), list(S).index(move[1])),
)
#: The shortest way from a draft to each state (by the service, as a desk would).
PATH = {
    S.DRAFT: [],
    S.SENT: [S.SENT],
    S.ACCEPTED: [S.SENT, S.ACCEPTED],
    S.REJECTED: [S.SENT, S.REJECTED],
    S.ATTENDED: [S.SENT, S.ACCEPTED, S.ATTENDED],
    S.NOT_LOCATED: [S.SENT, S.NOT_LOCATED],
    S.CANCELLED: [S.CANCELLED],
}
NOTE = "Motivo registrado por la integración."


@pytest.fixture
def world(app) -> dict[str, Any]:
    """A family at FAG going to Cuilco (Huehuetenango) and one at Tecún Umán going to Nebaj (Quiché),
    and a token for each kind of account."""
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
        tokens = {
            "reception_fag": fag_token,
            "reception_tecun": tecun_token,
            "sede_huehuetenango": user_with_token("sede", sede="HUEHUETENANGO")[1],
            "sede_quiche": user_with_token("sede", sede="QUICHE")[1],
            "coordinator": user_with_token("coordinator")[1],
            "admin": user_with_token("admin")[1],
            "partner_oim": token_for(make_partner("OIM")),
        }
        found = {
            "tokens": tokens,
            "fag_desk": fag_desk.id,
            "cuilco": cuilco.id,
            "members": [m.id for m in cuilco.members],
            "nebaj": nebaj.id,
        }
        db.session.remove()
    return found


def api(app, world, who: str = "reception_fag", language: str | None = None) -> Integration:
    return Integration(app, world["tokens"][who], language)


def referral_in(app, world, state: ReferralStatus, institution: str = "OIM") -> int:
    """A referral of the Cuilco family brought to ``state`` by the services."""
    from sosep_migrantes.auth.models import User
    from sosep_migrantes.cases.models import FamilyUnit

    with app.app_context():
        desk = db.session.get(User, world["fag_desk"])
        referral = refer(db.session.get(FamilyUnit, world["cuilco"]), desk, institution)
        for step in PATH[state]:
            services.change_status(referral, step, NOTE, desk)
        db.session.commit()
        referral_id = referral.id
        db.session.remove()
    return referral_id


def actions(app, referral_id: int) -> list[str]:
    with app.app_context():
        rows = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        return [e.action for e in rows if e.details.get("referral_id") == referral_id]


def test_an_integration_creates_reads_and_lists_a_referral(app, world) -> None:
    desk = api(app, world)
    head, son = world["members"]
    created = desk.post(
        f"/families/{world['cuilco']}/referrals",
        json={"institution": "OIM", "member_ids": [son], "needs": ["MEDICAL"], "reason": "Control médico."},
    )
    assert created.status_code == 201, created.json
    body = created.json
    assert body["number"].startswith("REF-FAG-")
    assert (body["status"], body["institution"], body["member_ids"], body["needs"]) == (
        "draft",
        "OIM",
        [son],
        ["MEDICAL"],
    )
    assert body["allowed_transitions"] == ["sent", "cancelled"]
    assert not body["has_slip"]
    assert created.headers["ETag"] == '"v1"' == f'"v{body["version"]}"'
    assert [e["to_status"] for e in body["events"]] == ["draft"]

    read = desk.get(f"/referrals/{body['id']}")
    assert read.status_code == 200
    assert read.json == body
    assert read.headers["ETag"] == '"v1"'
    listed = desk.get(f"/families/{world['cuilco']}/referrals")
    assert [item["id"] for item in listed.json["items"]] == [body["id"]]
    assert listed.json["total"] == 1

    sent = desk.post(
        f"/families/{world['cuilco']}/referrals",
        json={
            "institution": "SOSEP_SEDES",
            "member_ids": [head, son],
            "reason": "Seguimiento.",
            "send": True,
        },
    )
    assert sent.status_code == 201
    assert sent.json["status"] == "sent" and sent.json["has_slip"]
    assert sent.headers["ETag"] == '"v2"'
    assert actions(app, body["id"])[:1] == ["referral:create"]
    assert actions(app, sent.json["id"])[:2] == ["referral:create", "referral:sent"]
    with app.app_context():
        reads = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "family:api_read")).all()
        # The referral read (its id) and the family's list (the part read), each with the token.
        assert {(e.details.get("referral_id"), e.details.get("part")) for e in reads} == {
            (body["id"], None),
            (None, "referrals"),
        }
        assert all(e.details["token_id"] and e.subject_id == world["cuilco"] for e in reads)


@pytest.mark.parametrize("who", ["reception_fag", "sede_huehuetenango"])
@pytest.mark.parametrize(("origin", "to"), ALLOWED, ids=[f"{a.value}-{b.value}" for a, b in ALLOWED])
def test_every_allowed_transition_through_the_api(app, world, who, origin, to) -> None:
    referral_id = referral_in(app, world, origin)
    version = len(PATH[origin]) + 1
    moved = api(app, world, who).post(
        f"/referrals/{referral_id}/status",
        json={"status": to.value, "note": NOTE},
        headers={"If-Match": f'"v{version}"'},
    )
    assert moved.status_code == 200, moved.json
    assert moved.json["status"] == to.value
    assert moved.json["events"][-1]["from_status"] == origin.value
    assert moved.json["events"][-1]["to_status"] == to.value
    assert moved.headers["ETag"] == f'"v{version + 1}"'
    assert moved.json["allowed_transitions"] == [s.value for s in S if s in services.TRANSITIONS[to]]
    assert actions(app, referral_id)[-1] == services.STATUS_ACTIONS[to].value
    with app.app_context():
        assert db.session.get(Referral, referral_id).status == to


def test_every_refused_transition_is_a_400_with_a_message(app, world) -> None:
    spanish, english = api(app, world), api(app, world, language="en")
    for origin in S:
        referral_id = referral_in(app, world, origin)
        for to in S:
            if to in services.TRANSITIONS[origin]:
                continue
            answer = spanish.post(f"/referrals/{referral_id}/status", json={"status": to.value, "note": NOTE})
            assert answer.status_code == 400, (origin, to, answer.status_code)
            assert answer.json["errors"]["status"].startswith("No se puede pasar de")
            answer = english.post(f"/referrals/{referral_id}/status", json={"status": to.value, "note": NOTE})
            assert answer.status_code == 400
            assert answer.json["errors"]["status"].startswith("Cannot change from")
        with app.app_context():
            assert db.session.get(Referral, referral_id).status == origin


def test_a_move_that_needs_a_reason_and_bad_input_in_both_languages(app, world) -> None:
    referral_id = referral_in(app, world, S.SENT)
    url = f"/referrals/{referral_id}/status"
    no_reason = api(app, world).post(url, json={"status": "rejected"})
    assert no_reason.status_code == 400
    assert no_reason.json["errors"] == {"note": "Indique el motivo."}
    assert api(app, world, language="en").post(url, json={"status": "rejected"}).json["errors"] == {
        "note": "Give the reason."
    }
    lost = api(app, world).post(url, json={"status": "lost"})
    assert lost.status_code == 422
    assert lost.json["errors"]["status"] == ["Estado no válido."]
    assert api(app, world, language="en").post(url, json={}).json["errors"]["status"]
    assert api(app, world, language="en").post(url, json={"status": "lost"}).json["errors"]["status"] == [
        "Invalid status."
    ]
    assert actions(app, referral_id) == ["referral:create", "referral:sent"]


def test_a_stale_etag_is_refused_and_a_lost_race_is_a_conflict(app, world, monkeypatch) -> None:
    referral_id = referral_in(app, world, S.SENT)
    desk = api(app, world)
    url = f"/referrals/{referral_id}/status"
    etag = desk.get(f"/referrals/{referral_id}").headers["ETag"]
    assert desk.post(url, json={"status": "accepted"}, headers={"If-Match": etag}).status_code == 200
    # Made from what was read before that answer: refused, and the answer stands.
    stale = desk.post(url, json={"status": "rejected", "note": NOTE}, headers={"If-Match": etag})
    assert stale.status_code == 412
    assert "cambió" in stale.json["message"]
    assert desk.post(url, json={"status": "attended"}, headers={"If-Match": "nonsense"}).status_code == 412

    # Someone else moves it between this request's read and its write (what the row lock prevents on
    # PostgreSQL, and what can happen on SQLite): the compare-and-set refuses it with a 409.
    import sosep_migrantes.api.referrals as api_referrals

    def moved_meanwhile(referral: Referral) -> None:
        db.session.execute(
            update(Referral)
            .where(Referral.id == referral.id)
            .values(status=S.CANCELLED)
            .execution_options(synchronize_session=False)
        )

    monkeypatch.setattr(api_referrals, "check_if_match", moved_meanwhile)
    conflict = desk.post(url, json={"status": "attended"})
    assert conflict.status_code == 409
    assert "Otra persona cambió el estado" in conflict.json["errors"]["status"]
    assert (
        "Someone else changed"
        in api(app, world, language="en").post(url, json={"status": "attended"}).json["message"]
    )
    with app.app_context():
        assert (
            db.session.get(Referral, referral_id).status == S.ACCEPTED
        )  # the conflicting requests rolled back
    assert actions(app, referral_id)[-1] == "referral:accepted"


def test_consent_rules_and_members_of_another_family(app, world) -> None:
    with app.app_context():
        from sosep_migrantes.auth.models import User

        desk = db.session.get(User, world["fag_desk"])
        refused = make_family(desk, make_arrival(desk), consent_type="refused", consent_on=None)
        refused_id, refused_member = refused.id, refused.members[0].id
        db.session.remove()
    payload = {"institution": "OIM", "member_ids": [refused_member], "reason": "Acompañamiento."}
    outside = api(app, world).post(f"/families/{refused_id}/referrals", json=payload)
    assert outside.status_code == 400
    assert "consentimiento" in outside.json["errors"]["institution"]
    english = api(app, world, language="en").post(f"/families/{refused_id}/referrals", json=payload)
    assert "consent" in english.json["errors"]["institution"]
    # SOSEP's own programmes need no consent.
    sosep = api(app, world).post(
        f"/families/{refused_id}/referrals", json={**payload, "institution": "SOSEP_SEDES"}
    )
    assert sosep.status_code == 201
    # Members are the family's own.
    other = api(app, world).post(f"/families/{world['cuilco']}/referrals", json=payload)
    assert other.status_code == 400 and other.json["errors"]["member_ids"]
    missing = api(app, world, language="en").post(
        f"/families/{world['cuilco']}/referrals", json={"institution": "OIM", "reason": "x"}
    )
    assert missing.status_code == 422
    assert "Choose at least one member." in str(missing.json["errors"]["member_ids"])


def test_a_retried_creation_is_not_saved_twice(app, world) -> None:
    payload = {
        "institution": "SOSEP_SEDES",
        "member_ids": world["members"],
        "reason": "Seguimiento.",
        "submission_token": "b" * 32,
    }
    desk = api(app, world)
    assert desk.post(f"/families/{world['cuilco']}/referrals", json=payload).status_code == 201
    assert desk.post(f"/families/{world['cuilco']}/referrals", json=payload).status_code == 409
    with app.app_context():
        assert len(db.session.scalars(select(Referral)).all()) == 1


def test_the_slip_pdf_of_a_sent_referral_is_printed_and_audited(app, world) -> None:
    sent, draft = referral_in(app, world, S.SENT), referral_in(app, world, S.DRAFT)
    slip = api(app, world).get(f"/referrals/{sent}/slip.pdf")
    assert slip.status_code == 200
    assert slip.mimetype == "application/pdf" and slip.data.startswith(b"%PDF")
    assert "REF-FAG-" in slip.headers["Content-Disposition"]
    assert actions(app, sent)[-1] == "slip:print"
    assert api(app, world).get(f"/referrals/{draft}/slip.pdf").status_code == 404


def test_scope_and_permissions_follow_the_pages(app, world) -> None:
    referral_id = referral_in(app, world, S.SENT)
    family = world["cuilco"]
    body = {"institution": "SOSEP_SEDES", "member_ids": world["members"], "reason": "Seguimiento."}
    move = {"status": "accepted"}
    # In scope: the FAG desk and the sede of Huehuetenango write; the coordinator only reads.
    assert api(app, world, "sede_huehuetenango").get(f"/referrals/{referral_id}").status_code == 200
    assert (
        api(app, world, "sede_huehuetenango").post(f"/families/{family}/referrals", json=body).status_code
        == 201
    )
    coordinator = api(app, world, "coordinator")
    assert coordinator.get(f"/families/{family}/referrals").status_code == 200
    assert coordinator.post(f"/referrals/{referral_id}/status", json=move).status_code == 403
    assert coordinator.post(f"/families/{family}/referrals", json=body).status_code == 403
    # Out of scope: another centre, another sede.
    for who in ("reception_tecun", "sede_quiche"):
        other = api(app, world, who)
        assert other.get(f"/referrals/{referral_id}").status_code == 404
        assert other.get(f"/referrals/{referral_id}/slip.pdf").status_code == 404
        assert other.get(f"/families/{family}/referrals").status_code == 404
        assert other.post(f"/referrals/{referral_id}/status", json=move).status_code == 404
        assert other.post(f"/families/{family}/referrals", json=body).status_code == 404
        assert other.get(f"/families/{world['nebaj']}/referrals").status_code == 200
    # Neither an admin nor a partner institution reaches SOSEP's side of a referral.
    for who in ("admin", "partner_oim"):
        assert api(app, world, who).get(f"/referrals/{referral_id}").status_code == 403
        assert api(app, world, who).post(f"/referrals/{referral_id}/status", json=move).status_code == 403
        assert api(app, world, who).get(f"/families/{family}/referrals").status_code == 403
    with app.app_context():
        assert db.session.get(Referral, referral_id).status == S.SENT


def test_two_integrations_answering_at_once_leave_one_outcome(app, world) -> None:
    """Two systems record different outcomes of the same referral at the same moment, both from the
    version they read: one wins, the other is told it moved (412 after waiting for the row's lock on
    PostgreSQL, or 409 from the compare-and-set where both read it first); never a 5xx."""
    referral_id = referral_in(app, world, S.SENT)
    start = threading.Barrier(2)
    answers: dict[str, Any] = {}

    def integration(status: str, who: str) -> None:
        client = api(app, world, who)
        start.wait(timeout=10)
        answers[status] = client.post(
            f"/referrals/{referral_id}/status",
            json={"status": status, "note": NOTE},
            headers={"If-Match": '"v2"'},
        )

    threads = [
        threading.Thread(target=integration, args=("accepted", "reception_fag")),
        threading.Thread(target=integration, args=("rejected", "sede_huehuetenango")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    codes = sorted(response.status_code for response in answers.values())
    assert codes[0] == 200 and codes[1] in (409, 412), codes
    [winner] = [status for status, response in answers.items() if response.status_code == 200]
    [loser] = [response for response in answers.values() if response.status_code != 200]
    assert loser.json["message"]
    with app.app_context():
        assert db.session.get(Referral, referral_id).status == winner
    assert actions(app, referral_id) == ["referral:create", "referral:sent", f"referral:{winner}"]
