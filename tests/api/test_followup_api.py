"""The JSON API on a case's follow-up: contacts, linkage, transfer, closure and reopening, and the sede's
inbox, with the same permissions, scope, validation and audit as the follow-up forms, and the case's
ETag for the changes of the case as a whole (transfer, closure, reopening)."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from sosep_migrantes.core.audit import AuditEvent
from sosep_migrantes.core.timeutil import LOCAL_TZ, today_local
from sosep_migrantes.extensions import db
from sosep_migrantes.followup.models import FollowUp
from tests.api.helpers import Integration, token_for, user_with_token
from tests.factories import make_arrival, make_family, make_user, member
from tests.referrals.partners import make_partner

NEBAJ = 1413  # Quiché


def days_ago(n: int) -> dt.datetime:
    return dt.datetime.combine(today_local() - dt.timedelta(days=n), dt.time(10, 0), tzinfo=LOCAL_TZ)


@pytest.fixture
def world(app) -> dict[str, Any]:
    """A case going to Cuilco (Huehuetenango, received at FAG) and one going to Nebaj (Quiché, received at
    Tecún Umán), and a token for each kind of account."""
    with app.app_context():
        fag_desk, fag_token = user_with_token("reception", centre="FAG")
        tecun_desk, tecun_token = user_with_token("reception", centre="TECUN_UMAN")
        _huehue, huehue_token = user_with_token("sede", sede="HUEHUETENANGO")
        _quiche, quiche_token = user_with_token("sede", sede="QUICHE")
        _coordinator, coordinator_token = user_with_token("coordinator")
        partner_token = token_for(make_partner("OIM"))
        cuilco = make_family(fag_desk, make_arrival(fag_desk, when=days_ago(5)))
        nebaj = make_family(
            tecun_desk,
            make_arrival(tecun_desk, centre="TECUN_UMAN", mode="land", country="MX", when=days_ago(3)),
            municipality=NEBAJ,
            members=[member("Catarina", "Tzoc Brito")],
        )
        found = {
            "cuilco": cuilco.id,
            "cuilco_version": cuilco.version,
            "nebaj": nebaj.id,
            "tokens": {
                "reception_fag": fag_token,
                "reception_tecun": tecun_token,
                "sede_huehuetenango": huehue_token,
                "sede_quiche": quiche_token,
                "coordinator": coordinator_token,
                "partner": partner_token,
            },
        }
        db.session.remove()
    return found


def api(app, world, who: str, language: str | None = None) -> Integration:
    return Integration(app, world["tokens"][who], language=language)


def contact(**extra: Any) -> dict[str, Any]:
    return {"contacted_on": today_local().isoformat(), "contact_type": "phone", "outcome": "located", **extra}


def actions(app, family_id: int) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.subject_type == "family", AuditEvent.subject_id == family_id)
                .order_by(AuditEvent.id)
            )
        )


def etag(response) -> dict[str, str]:
    return {"If-Match": response.headers["ETag"]}


def current_etag(app, world, family_id: int, who: str = "sede_huehuetenango") -> dict[str, str]:
    read = api(app, world, who).get(f"/families/{family_id}")
    assert read.status_code == 200, read.json
    return etag(read)


def test_the_sede_records_a_contact_and_reads_the_case_follow_ups(app, world) -> None:
    sede = api(app, world, "sede_huehuetenango")
    saved = sede.post(
        f"/families/{world['cuilco']}/followups", json=contact(next_action="Visita", notes="Bien")
    )
    assert saved.status_code == 201, saved.json
    assert saved.json["outcome"] == "located" and saved.json["notes"] == "Bien"
    assert saved.json["case"]["status"] == "in_followup"
    assert saved.json["case"]["followup_due_on"] == (today_local() + dt.timedelta(days=30)).isoformat()
    # The contact changed the case: its ETag is the new version.
    assert saved.headers["ETag"] == f'"v{saved.json["case"]["version"]}"' != f'"v{world["cuilco_version"]}"'
    listed = sede.get(f"/families/{world['cuilco']}/followups")
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json["items"]] == [saved.json["id"]]
    # Who may see the case reads its follow-ups (a desk and a coordinator); no one may outside the scope.
    assert api(app, world, "reception_fag").get(f"/families/{world['cuilco']}/followups").status_code == 200
    assert api(app, world, "coordinator").get(f"/families/{world['cuilco']}/followups").status_code == 200
    assert api(app, world, "sede_quiche").get(f"/families/{world['cuilco']}/followups").status_code == 404
    assert api(app, world, "partner").get(f"/families/{world['cuilco']}/followups").status_code == 403
    assert actions(app, world["cuilco"]) == [
        "family:create",
        "followup:record",
        "family:status",
        "family:api_read",
        "family:api_read",
        "family:api_read",
    ]


def test_only_the_sede_of_the_case_records_follow_up(app, world) -> None:
    url = f"/families/{world['cuilco']}"
    for who, status in (
        ("sede_quiche", 404),
        ("reception_fag", 403),
        ("reception_tecun", 403),
        ("coordinator", 403),
        ("partner", 403),
    ):
        client = api(app, world, who)
        assert client.post(url + "/followups", json=contact()).status_code == status, who
        assert (
            client.post(url + "/linkages", json={"linked_on": today_local().isoformat()}).status_code
            == status
        )
        for action, body in (
            ("transfer", {"municipality": NEBAJ, "reason": "Se mudó"}),
            ("close", {"reason": "declined"}),
            ("reopen", {"note": "Volvió"}),
        ):
            assert (
                client.post(f"{url}/{action}", json=body, headers={"If-Match": '"v1"'}).status_code == status
            )
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(FollowUp)) == 0
    assert actions(app, world["cuilco"]) == ["family:create"]


def test_a_retried_contact_is_saved_once(app, world) -> None:
    sede = api(app, world, "sede_huehuetenango")
    body = contact(submission_token="b" * 32)
    assert sede.post(f"/families/{world['cuilco']}/followups", json=body).status_code == 201
    again = sede.post(f"/families/{world['cuilco']}/followups", json=body)
    assert again.status_code == 409 and again.json["message"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(FollowUp)) == 1


def test_linkage_to_a_programme_or_an_outside_service(app, world) -> None:
    sede = api(app, world, "sede_huehuetenango")
    url = f"/families/{world['cuilco']}/linkages"
    both = sede.post(
        url,
        json={"linked_on": today_local().isoformat(), "institution": "SOSEP_MUJER", "outside_service": "X"},
    )
    assert both.status_code == 400
    assert "no ambos" in both.json["errors"]["outside_service"]
    linked = sede.post(
        url, json={"linked_on": today_local().isoformat(), "outside_service": "Escuela de Cuilco"}
    )
    assert linked.status_code == 201, linked.json
    assert linked.json["outside_service"] == "Escuela de Cuilco" and linked.json["member_id"] is None
    assert linked.json["case"]["status"] == "linked"
    assert [item["id"] for item in sede.get(url).json["items"]] == [linked.json["id"]]
    assert "linkage:create" in actions(app, world["cuilco"])


def test_transfer_needs_the_etag_and_takes_the_case_to_the_other_sede(app, world) -> None:
    huehue, quiche = api(app, world, "sede_huehuetenango"), api(app, world, "sede_quiche")
    url = f"/families/{world['cuilco']}/transfer"
    move = {"municipality": NEBAJ, "reason": "La familia se mudó con sus padres.", "phone": "55554444"}
    assert huehue.post(url, json=move).status_code == 428
    assert huehue.post(url, json=move, headers={"If-Match": "*"}).status_code == 412  # not an ETag of ours
    stale = huehue.post(url, json=move, headers={"If-Match": f'"v{world["cuilco_version"] + 5}"'})
    assert stale.status_code == 412
    assert "cambió" in stale.json["message"]
    # Out of the scope: not found, whatever the ETag.
    assert quiche.post(url, json=move, headers=current_etag(app, world, world["cuilco"])).status_code == 404
    moved = huehue.post(url, json=move, headers=current_etag(app, world, world["cuilco"]))
    assert moved.status_code == 201, moved.json
    assert (moved.json["from_sede"], moved.json["to_sede"]) == ("HUEHUETENANGO", "QUICHE")
    assert moved.json["to_municipality"] == NEBAJ and moved.json["still_in_scope"] is False
    assert moved.headers["ETag"] == f'"v{moved.json["case"]["version"]}"'
    # The case went with the family: Quiché follows it now, Huehuetenango no longer sees it.
    assert huehue.get(f"/families/{world['cuilco']}").status_code == 404
    assert quiche.get(f"/families/{world['cuilco']}").json["phone"] == "55554444"
    assert quiche.get(f"/families/{world['cuilco']}").headers["ETag"] == moved.headers["ETag"]
    assert "family:transfer" in actions(app, world["cuilco"])


def test_a_transfer_the_service_refuses_is_told_beside_the_field(app, world) -> None:
    huehue = api(app, world, "sede_huehuetenango")
    same = huehue.post(
        f"/families/{world['cuilco']}/transfer",
        json={"municipality": "Cuilco, Huehuetenango", "reason": "Nada"},
        headers=current_etag(app, world, world["cuilco"]),
    )
    assert same.status_code == 400
    assert "ya tiene ese municipio" in same.json["errors"]["municipality"]


def test_close_and_reopen_with_the_etag_each_time(app, world) -> None:
    sede = api(app, world, "sede_huehuetenango")
    url = f"/families/{world['cuilco']}"
    before = current_etag(app, world, world["cuilco"])
    closed = sede.post(url + "/close", json={"reason": "declined", "note": "No desea apoyo."}, headers=before)
    assert closed.status_code == 201, closed.json
    assert (closed.json["kind"], closed.json["reason"]) == ("close", "declined")
    assert closed.json["case"]["status"] == "closed"
    assert closed.headers["ETag"] != before["If-Match"]
    # Nothing new on a closed case, and a reopening from the ETag read before the closure is stale.
    refused = sede.post(url + "/followups", json=contact())
    assert refused.status_code == 400 and "cerrado" in refused.json["errors"]["contacted_on"]
    assert sede.post(url + "/reopen", json={"note": "Pidió apoyo."}, headers=before).status_code == 412
    reopened = sede.post(url + "/reopen", json={"note": "Pidió apoyo."}, headers=etag(closed))
    assert reopened.status_code == 201, reopened.json
    assert reopened.json["kind"] == "reopen" and reopened.json["reason"] is None
    assert reopened.json["case"]["status"] == "received"
    # Open again: reopening it once more is refused by the service (nothing to reopen).
    again = sede.post(url + "/reopen", json={"note": "Otra vez."}, headers=etag(reopened))
    assert again.status_code == 400 and again.json["errors"]["note"] == "El caso no está cerrado."
    assert [a for a in actions(app, world["cuilco"]) if a in ("family:close", "family:reopen")] == [
        "family:close",
        "family:reopen",
    ]


def test_errors_in_spanish_or_english_by_accept_language(app, world) -> None:
    url = f"/families/{world['cuilco']}/close"
    for language, missing, reason in (
        (None, "Este campo es obligatorio.", "Indique el motivo."),
        ("en", "This field is required.", "Give the reason."),
    ):
        client = api(app, world, "sede_huehuetenango", language)
        invalid = client.post(url, json={}, headers=current_etag(app, world, world["cuilco"]))
        assert invalid.status_code == 422
        assert invalid.json["errors"]["reason"] == missing
        refused = client.post(
            url, json={"reason": "other"}, headers=current_etag(app, world, world["cuilco"])
        )
        assert refused.status_code == 400
        assert refused.json["errors"] == {"note": reason}
    english = api(app, world, "sede_huehuetenango", "en").post(url, json={"reason": "declined"})
    assert english.status_code == 428 and "If-Match" in english.json["message"]
    assert (
        api(app, world, "sede_quiche", "en")
        .get(f"/families/{world['cuilco']}/followups")
        .json["message"]
        .endswith("outside your scope.")
    )


def test_the_inbox_of_a_sede_holds_its_territory(app, world) -> None:
    inbox = api(app, world, "sede_huehuetenango").get("/followup/inbox")
    assert inbox.status_code == 200, inbox.json
    assert [item["id"] for item in inbox.json["items"]] == [world["cuilco"]]
    item = inbox.json["items"][0]
    assert item["status"] == "received" and item["days_since_arrival"] == 5
    assert item["due_on"] == (today_local() + dt.timedelta(days=10)).isoformat()
    assert inbox.json["sede"] == "HUEHUETENANGO" and inbox.json["counts"]["open"] == 1
    # A sede account cannot ask for another sede's inbox: it gets its own.
    with app.app_context():
        from sosep_migrantes.catalogs.models import Sede
        from sosep_migrantes.catalogs.services import by_code

        quiche_id = by_code(Sede, "QUICHE").id
    asked = api(app, world, "sede_huehuetenango").get("/followup/inbox", query_string={"sede": quiche_id})
    assert [item["id"] for item in asked.json["items"]] == [world["cuilco"]]
    assert [i["id"] for i in api(app, world, "sede_quiche").get("/followup/inbox").json["items"]] == [
        world["nebaj"]
    ]
    national = api(app, world, "coordinator").get("/followup/inbox")
    assert {item["id"] for item in national.json["items"]} == {world["cuilco"], world["nebaj"]}
    chosen = api(app, world, "coordinator").get(
        "/followup/inbox", query_string={"sede": quiche_id, "sort": "due"}
    )
    assert [item["id"] for item in chosen.json["items"]] == [world["nebaj"]]
    assert api(app, world, "reception_fag").get("/followup/inbox").status_code == 403
    assert api(app, world, "partner").get("/followup/inbox").status_code == 403
    assert (
        api(app, world, "coordinator").get("/followup/inbox", query_string={"sort": "x"}).status_code == 422
    )
    assert "family:api_read" in actions(app, world["cuilco"])


def test_a_case_closed_by_someone_else_meanwhile_is_a_conflict(app, world) -> None:
    read = current_etag(app, world, world["cuilco"])
    with app.app_context():
        from sosep_migrantes.cases.models import FamilyUnit
        from sosep_migrantes.followup import services

        family = db.session.get(FamilyUnit, world["cuilco"])
        services.record_followup(
            family,
            {"contacted_on": today_local(), "contact_type": "phone", "outcome": "declined"},
            make_user("sede", sede="HUEHUETENANGO"),
        )
        db.session.commit()
        db.session.remove()
    late = api(app, world, "sede_huehuetenango").post(
        f"/families/{world['cuilco']}/close", json={"reason": "declined"}, headers=read
    )
    assert late.status_code == 412
    assert actions(app, world["cuilco"]).count("family:close") == 0


def at_once(app, world, who: str, calls: list[tuple[str, dict[str, Any], dict[str, str]]]) -> list[int]:
    """Each call (path, body, headers) posted by its own client, all released at the same moment."""
    start = threading.Barrier(len(calls))
    statuses: list[int] = []
    failures: list[BaseException] = []

    def post(path: str, body: dict[str, Any], headers: dict[str, str]) -> None:
        try:
            client = api(app, world, who)
            start.wait(timeout=10)
            statuses.append(client.post(path, json=body, headers=headers).status_code)
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=post, args=call) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    assert not any(thread.is_alive() for thread in threads)
    return sorted(statuses)


@pytest.mark.postgres_only
def test_simultaneous_writes_never_fail_and_never_overwrite(app, world, is_postgres) -> None:
    if not is_postgres:
        pytest.skip("SQLite serialises writers: the race needs a server that runs them at once")
    url = f"/families/{world['cuilco']}"
    # Four different contacts at once: each rewrites the case's versioned row; all are saved.
    calls = [(url + "/followups", contact(notes=f"Llamada {n}"), {}) for n in range(4)]
    assert at_once(app, world, "sede_huehuetenango", calls) == [201] * 4
    # One contact sent four times at once (its token): saved once, the others told it was.
    same = contact(submission_token="c" * 32)
    assert (
        at_once(app, world, "sede_huehuetenango", [(url + "/followups", same, {})] * 4) == [201] + [409] * 3
    )
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(FollowUp)) == 5
        db.session.remove()
    # Four closures from the same ETag: one closes the case, the others made from a stale version.
    read = current_etag(app, world, world["cuilco"])
    closes = [(url + "/close", {"reason": "declined"}, read)] * 4
    assert at_once(app, world, "sede_huehuetenango", closes) == [201] + [412] * 3
    assert actions(app, world["cuilco"]).count("family:close") == 1
