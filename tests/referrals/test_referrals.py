"""Referrals: the status machine, consent, slip numbers, audit, and the suggestions on the case page."""

from __future__ import annotations

import datetime as dt
import html as htmllib
import itertools
import json
import re

import pytest
from sqlalchemy import func, select

from sosep_migrantes.catalogs.models import Need
from sosep_migrantes.catalogs.services import by_code
from sosep_migrantes.core.audit import AuditEvent
from sosep_migrantes.core.errors import ServiceError
from sosep_migrantes.core.timeutil import LOCAL_TZ, now_local
from sosep_migrantes.extensions import db
from sosep_migrantes.needs import services as need_services
from sosep_migrantes.needs.models import FamilyNeed
from sosep_migrantes.referrals import services
from sosep_migrantes.referrals.models import Referral, ReferralEvent, ReferralStatus
from sosep_migrantes.referrals.services import TRANSITIONS
from tests.factories import login, make_arrival, make_family, make_user, member
from tests.referrals.helpers import refer

S = ReferralStatus
YEAR = now_local().year

#: How to reach each state from a new draft.
PATHS = {
    S.DRAFT: [],
    S.SENT: [S.SENT],
    S.ACCEPTED: [S.SENT, S.ACCEPTED],
    S.REJECTED: [S.SENT, S.REJECTED],
    S.ATTENDED: [S.SENT, S.ACCEPTED, S.ATTENDED],
    S.NOT_LOCATED: [S.SENT, S.NOT_LOCATED],
    S.CANCELLED: [S.CANCELLED],
}
ALL_PAIRS = list(itertools.product(S, S))


def setup_case(**payload):
    user = make_user("reception", centre="FAG")
    arrival = make_arrival(user)
    return user, arrival, make_family(user, arrival, **payload)


def walk(referral: Referral, path, user) -> None:
    for step in path:
        services.change_status(referral, step, "Motivo registrado por el personal.", user)
    db.session.commit()


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# -- the status machine -----------------------------------------------------------------------------


def test_the_transitions_are_the_documented_lifecycle():
    assert {k.value: sorted(v) for k, v in TRANSITIONS.items()} == {
        "draft": ["cancelled", "sent"],
        "sent": ["accepted", "cancelled", "not_located", "rejected"],
        "accepted": ["attended", "cancelled", "not_located"],
        "rejected": [],
        "attended": [],
        "not_located": [],
        "cancelled": [],
    }


@pytest.mark.parametrize(("start", "to"), ALL_PAIRS, ids=[f"{a.value}->{b.value}" for a, b in ALL_PAIRS])
def test_every_pair_of_states(ctx, start, to):
    user, _, family = setup_case()
    referral = refer(family, user)
    walk(referral, PATHS[start], user)
    assert referral.status == start.value
    follow_up = make_user("sede", sede="HUEHUETENANGO")
    events_before = len(referral.events)
    before = dt.datetime.now(dt.UTC)

    if to in TRANSITIONS[start]:
        services.change_status(referral, to, "La institución informó el resultado.", follow_up)
        db.session.commit()
        db.session.expire_all()
        stored = db.session.get(Referral, referral.id)
        assert stored.status == to.value
        assert stored.updated_at is not None
        assert len(stored.events) == events_before + 1
        event = stored.events[-1]
        assert (event.from_status, event.to_status) == (start.value, to.value)
        assert event.user_id == follow_up.id and event.user.full_name == "Usuario sede"
        assert event.note == "La institución informó el resultado."
        created = event.created_at if event.created_at.tzinfo else event.created_at.replace(tzinfo=dt.UTC)
        slack = dt.timedelta(seconds=5)
        assert before - slack <= created <= dt.datetime.now(dt.UTC) + slack
    else:
        with pytest.raises(ServiceError) as refused:
            services.change_status(referral, to, "Intento no permitido.", follow_up)
        assert set(refused.value.errors) == {"status"}
        assert "No se puede pasar de" in refused.value.errors["status"]
        db.session.commit()
        db.session.expire_all()
        stored = db.session.get(Referral, referral.id)
        assert stored.status == start.value
        assert len(stored.events) == events_before
        assert (
            db.session.scalar(
                select(func.count()).select_from(ReferralEvent).where(ReferralEvent.user_id == follow_up.id)
            )
            == 0
        )


def test_the_creation_is_the_first_event(ctx):
    user, _, family = setup_case()
    referral = refer(family, user, send=True)
    assert [(e.from_status, e.to_status, e.user_id) for e in referral.events] == [
        (None, "draft", user.id),
        ("draft", "sent", user.id),
    ]
    assert referral.status == "sent"


@pytest.mark.parametrize("to", [S.REJECTED, S.NOT_LOCATED, S.CANCELLED])
@pytest.mark.parametrize("note", [None, "", "   "])
def test_closing_moves_require_a_note(ctx, to, note):
    user, _, family = setup_case()
    referral = refer(family, user, send=True)
    with pytest.raises(ServiceError) as refused:
        services.change_status(referral, to, note, user)
    assert refused.value.errors == {"note": "Indique el motivo."}
    db.session.rollback()
    assert db.session.get(Referral, referral.id).status == "sent"


def test_note_required_shown_beside_the_note_field(ctx, client):
    user, _, family = setup_case()
    referral_id = refer(family, user, send=True).id
    login(client, user)
    response = client.post(f"/referrals/{referral_id}/status", data={"status": "rejected", "note": ""})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert '<p class="error" id="e-note">Indique el motivo.</p>' in html
    db.session.expire_all()
    assert db.session.get(Referral, referral_id).status == "sent"

    response = client.post(
        f"/referrals/{referral_id}/status", data={"status": "rejected", "note": "No atienden ese municipio."}
    )
    assert response.status_code == 302
    page = client.get(response.location).get_data(as_text=True)
    assert "Rechazada" in page and "No atienden ese municipio." in page
    assert 'value="accepted"' not in page  # a rejected referral offers no more moves


def test_illegal_move_through_the_form_is_refused(ctx, client):
    user, _, family = setup_case()
    referral_id = refer(family, user).id
    login(client, user)
    response = client.post(f"/referrals/{referral_id}/status", data={"status": "accepted"})
    html = htmllib.unescape(response.get_data(as_text=True))
    assert response.status_code == 400
    assert "No se puede pasar de «Borrador» a «Aceptada»." in html
    db.session.expire_all()
    assert db.session.get(Referral, referral_id).status == "draft"
    assert count(ReferralEvent) == 1


def test_coordinator_cannot_move_a_referral(ctx, client):
    user, _, family = setup_case()
    referral_id = refer(family, user, send=True).id
    login(client, make_user("coordinator"))
    assert client.get(f"/referrals/{referral_id}").status_code == 200
    assert client.post(f"/referrals/{referral_id}/status", data={"status": "accepted"}).status_code == 403
    db.session.expire_all()
    assert db.session.get(Referral, referral_id).status == "sent"


# -- sending covers needs ---------------------------------------------------------------------------


def test_sending_marks_covered_needs_referred_and_the_case_referred(ctx):
    user, _, family = setup_case()
    mother, son = family.members
    codes = ("PSYCHOLOGICAL", "PROTECTION", "LEGAL", "MEDICAL", "HYGIENE_KIT")
    need = {code: by_code(Need, code) for code in codes}
    need_services.record_needs(
        family,
        [
            {"need": need["PSYCHOLOGICAL"], "action": "identified"},  # whole family
            {"need": need["PROTECTION"], "action": "identified", "member_id": mother.id},
            {"need": need["LEGAL"], "action": "identified", "member_id": son.id},  # son is not referred
            {"need": need["MEDICAL"], "action": "identified"},  # not covered by the referral
            {"need": need["HYGIENE_KIT"], "action": "attended", "delivered_by": "Ana Tzoc"},
        ],
        user,
    )
    db.session.commit()

    referral = refer(
        family, user, "OIM", member_ids=[mother.id], needs=["PSYCHOLOGICAL", "PROTECTION", "LEGAL"]
    )

    def statuses():
        db.session.expire_all()
        return {n.need.code: n.status for n in db.session.scalars(select(FamilyNeed))}

    assert set(statuses().values()) == {"identified", "attended"}  # a draft changes nothing
    assert family.status == "received"

    services.change_status(referral, S.SENT, None, user)
    db.session.commit()
    assert statuses() == {
        "PSYCHOLOGICAL": "referred",
        "PROTECTION": "referred",
        "LEGAL": "identified",
        "MEDICAL": "identified",
        "HYGIENE_KIT": "attended",
    }
    assert family.status == "referred"


# -- consent ----------------------------------------------------------------------------------------


def test_without_consent_no_referral_outside_sosep(ctx, client):
    user, _, family = setup_case(consent_type="refused")
    family_id, member_ids = family.id, [str(m.id) for m in family.members]
    login(client, user)
    page = client.get(f"/cases/{family_id}/referrals/new").get_data(as_text=True)
    assert "solo puede derivarse a programas de la SOSEP" in page

    form = {
        "institution": "OIM",
        "member_ids": member_ids,
        "reason": "Amenazas en la comunidad.",
        "priority": "urgent",
        "send": "true",
    }
    response = client.post(f"/cases/{family_id}/referrals/new", data=form)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    error = re.search(r'<p class="error" id="e-institution">([^<]+)</p>', html)
    assert error is not None
    assert "no ha dado su consentimiento" in error.group(1)
    assert "Amenazas en la comunidad." in html  # what was typed is kept
    db.session.expire_all()
    assert count(Referral) == 0
    assert (
        db.session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action.like("referral:%"))
        )
        == 0
    )

    with pytest.raises(ServiceError):
        refer(family, user, "CRISTOSAL")
    db.session.rollback()

    form["institution"] = "SOSEP_HOGARES"
    response = client.post(f"/cases/{family_id}/referrals/new", data=form)
    assert response.status_code == 302
    referral = db.session.scalar(select(Referral))
    assert referral.institution.code == "SOSEP_HOGARES"
    assert referral.status == "sent"
    # The refused attempt took no slip number.
    assert referral.number == f"REF-FAG-{YEAR}-00001"


def test_a_draft_cannot_be_sent_outside_sosep_once_consent_is_withdrawn(ctx, client):
    user, _, family = setup_case()
    to_oim = refer(family, user, "OIM")
    to_sedes = refer(family, user, "SOSEP_SEDES")
    oim_id, sedes_id = to_oim.id, to_sedes.id
    family.consent_type = "refused"  # the family withdrew its consent after the drafts were written
    family.consent_on = None
    db.session.commit()
    login(client, user)
    response = client.post(f"/referrals/{oim_id}/status", data={"status": "sent"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert re.search(r'<p class="error" id="e-status">[^<]*no ha dado su consentimiento', html)
    assert client.post(f"/referrals/{sedes_id}/status", data={"status": "sent"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Referral, oim_id).status == "draft"
    assert db.session.get(Referral, sedes_id).status == "sent"
    assert client.get(f"/referrals/{oim_id}/slip.pdf").status_code == 404


# -- slip numbers -----------------------------------------------------------------------------------


def test_slip_numbers_follow_each_centre_and_year(ctx, monkeypatch):
    coordinator = make_user("coordinator")
    fag = make_arrival(coordinator, centre="FAG")
    tecun = make_arrival(coordinator, centre="TECUN_UMAN", mode="land", country="MX")
    first, second = make_family(coordinator, fag), make_family(coordinator, fag)
    land = make_family(coordinator, tecun)
    numbers = [
        refer(first, coordinator).number,
        refer(second, coordinator, "SOSEP_MUJER").number,
        refer(land, coordinator).number,
        refer(first, coordinator, "OIM").number,
    ]
    assert numbers == [
        f"REF-FAG-{YEAR}-00001",
        f"REF-FAG-{YEAR}-00002",
        f"REF-TECUN_UMAN-{YEAR}-00001",
        f"REF-FAG-{YEAR}-00003",
    ]

    next_year = dt.datetime(YEAR + 1, 1, 2, 9, 0, tzinfo=LOCAL_TZ)
    monkeypatch.setattr(services, "now_local", lambda: next_year)
    assert refer(second, coordinator).number == f"REF-FAG-{YEAR + 1}-00001"


# -- members ------------------------------------------------------------------------------------------


def test_member_of_another_family_is_refused(ctx, client):
    user, arrival, family = setup_case()
    other = make_family(user, arrival, members=[member("Lucía", "Chávez Ramos")])
    family_id, stranger_id = family.id, other.members[0].id
    with pytest.raises(ServiceError) as refused:
        refer(family, user, member_ids=[family.members[0].id, stranger_id])
    assert refused.value.errors == {"member_ids": "Elija integrantes de esta familia."}
    db.session.rollback()

    login(client, user)
    response = client.post(
        f"/cases/{family_id}/referrals/new",
        data={
            "institution": "SOSEP_SEDES",
            "member_ids": [str(stranger_id)],
            "reason": "Seguimiento.",
        },
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert '<p class="error" id="e-member_ids">Elija integrantes de esta familia.</p>' in html
    db.session.expire_all()
    assert count(Referral) == 0


ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@pytest.mark.parametrize("written", ["arabic_indic", "huge", "sign"])
def test_a_member_id_not_written_in_ascii_digits_is_refused(ctx, client, written):
    """The ids of the members chosen are read like every other number of a form: ASCII digits only
    (int() read '١' as member 1 and saved the referral)."""
    user, _, family = setup_case()
    family_id, mother_id = family.id, family.members[0].id
    sent = {
        "arabic_indic": str(mother_id).translate(ARABIC_INDIC),
        "huge": "9" * 20,
        "sign": f"+{mother_id}",
    }[written]
    login(client, user)
    response = client.post(
        f"/cases/{family_id}/referrals/new",
        data={"institution": "SOSEP_SEDES", "member_ids": [sent], "reason": "Seguimiento."},
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert '<p class="error" id="e-member_ids">Integrante no válido.</p>' in html
    assert count(Referral) == 0


def test_no_member_chosen_is_refused(ctx, client):
    user, _, family = setup_case()
    family_id = family.id
    login(client, user)
    response = client.post(
        f"/cases/{family_id}/referrals/new", data={"institution": "SOSEP_SEDES", "reason": "Seguimiento."}
    )
    assert response.status_code == 400
    assert "Elija al menos un integrante." in response.get_data(as_text=True)
    assert count(Referral) == 0


# -- audit ----------------------------------------------------------------------------------------------


def test_audit_records_creation_and_sending_without_names(ctx, client):
    user, _, family = setup_case(
        members=[
            member("Ixchel Catarina", "Tz'ul Xicará"),
            member("José", "Ñuñez Pérez", sex="M", relationship="SON", age=9),
        ]
    )
    family_id = family.id
    ids = [str(m.id) for m in family.members]
    login(client, user)
    response = client.post(
        f"/cases/{family_id}/referrals/new",
        data={
            "institution": "CRISTOSAL",
            "member_ids": ids,
            "reason": "Extorsión de pandillas a Ixchel.",
            "priority": "urgent",
            "send": "true",
        },
    )
    assert response.status_code == 302
    referral = db.session.scalar(select(Referral))
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action.like("referral:%")).order_by(AuditEvent.id)
    ).all()
    assert [e.action for e in events] == ["referral:create", "referral:sent"]
    for event in events:
        assert (event.subject_type, event.subject_id, event.user_id) == ("family", family_id, user.id)
        assert event.details["referral_id"] == referral.id
        dumped = json.dumps(event.details, ensure_ascii=False)
        for personal in ("Ixchel", "Catarina", "Tz'ul", "Xicará", "Ñuñez", "Extorsión", "pandillas"):
            assert personal not in dumped
    assert events[0].details["institution"] == "CRISTOSAL"
    history = client.get(f"/cases/{family_id}").get_data(as_text=True)
    assert referral.number in history and "Cristosal" in history


# -- suggestions on the case page and the pre-filled form ----------------------------------------------


def _checked_members(html: str) -> set[str]:
    return set(re.findall(r'name="member_ids" value="(\d+)" checked', html))


def test_case_page_suggests_programmes_and_derivar_prefills_the_form(ctx, client):
    user, _, family = setup_case(
        members=[
            member("Rosa", "Chávez Ramos", age=30),
            member("Ana", "Chávez Ramos", relationship="DAUGHTER", age=3),
            member("Tomás", "Chávez Ruiz", sex="M", relationship="GRANDPARENT", age=65),
        ]
    )
    family_id = family.id
    mother_id, child_id, grandfather_id = (str(m.id) for m in family.members)
    login(client, user)
    html = htmllib.unescape(client.get(f"/cases/{family_id}").get_data(as_text=True))
    suggestions = html.split('id="suggestions"')[1].split("</ul>")[0]
    assert "SOSEP · Hogares Comunitarios" in suggestions and "Ana Chávez Ramos" in suggestions
    assert "SOSEP · Mis Años Dorados" in suggestions and "Tomás Chávez Ruiz" in suggestions
    assert "Prioritaria" not in suggestions
    link = f"/cases/{family_id}/referrals/new?institution=SOSEP_HOGARES"
    assert f'href="{link}">Derivar</a>' in suggestions
    assert f"/cases/{family_id}/referrals/new?institution=SOSEP_ANOS_DORADOS" in suggestions

    form = htmllib.unescape(client.get(link).get_data(as_text=True))
    assert '<option value="SOSEP_HOGARES" selected>' in form
    assert _checked_members(form) == {child_id}
    assert '<option value="normal" selected>' in form
    reason = re.search(r'<textarea id="f-reason" name="reason"[^>]*>([^<]*)</textarea>', form).group(1)
    assert "Niñas y niños de 6 meses a menos de 7 años: Ana Chávez Ramos." in reason

    form = htmllib.unescape(
        client.get(f"/cases/{family_id}/referrals/new?institution=SOSEP_ANOS_DORADOS").get_data(as_text=True)
    )
    assert _checked_members(form) == {grandfather_id}
    assert mother_id not in _checked_members(form)

    # Once referred, the suggestion says so instead of offering another referral.
    client.post(
        f"/cases/{family_id}/referrals/new",
        data={"institution": "SOSEP_HOGARES", "member_ids": [child_id], "reason": reason, "send": "true"},
    )
    html = htmllib.unescape(client.get(f"/cases/{family_id}").get_data(as_text=True))
    assert "(ya derivada)" in html
    assert f'{link}">Derivar' not in html


def test_protection_suggestion_prefills_an_urgent_referral_with_the_pending_needs(ctx, client):
    user, _, family = setup_case(protection_causes=["THREATS"])
    family_id = family.id
    ids = {str(m.id) for m in family.members}
    need_services.record_needs(
        family,
        [
            {"need": by_code(Need, "PROTECTION"), "action": "identified"},
            {"need": by_code(Need, "CHILD_CARE"), "action": "identified"},
        ],
        user,
    )
    db.session.commit()
    login(client, user)
    html = htmllib.unescape(client.get(f"/cases/{family_id}").get_data(as_text=True))
    suggestions = html.split('id="suggestions"')[1].split("</ul>")[0]
    items = re.findall(r"<li>(.*?)</li>", suggestions, re.S)
    assert "Prioritaria" in items[0]
    assert sum("Prioritaria" in item for item in items) == 3

    form = client.get(f"/cases/{family_id}/referrals/new?institution=OIM").get_data(as_text=True)
    form = htmllib.unescape(form)
    assert '<option value="OIM" selected>' in form
    assert '<option value="urgent" selected>' in form
    assert _checked_members(form) == ids
    assert "Causa de riesgo de protección" in form
    checked_needs = set(re.findall(r'name="needs" value="([A-Z_]+)" checked', form))
    assert checked_needs == {"PROTECTION"}  # child care is not something OIM provides


def test_other_sede_cannot_open_the_referral_form(ctx, client):
    user, _, family = setup_case()  # Cuilco, Huehuetenango
    family_id = family.id
    referral_id = refer(family, user, send=True).id
    login(client, make_user("sede", sede="QUICHE"))
    assert client.get(f"/cases/{family_id}/referrals/new").status_code == 404
    attempt = {"institution": "SOSEP_SEDES", "member_ids": ["1"], "reason": "x"}
    assert client.post(f"/cases/{family_id}/referrals/new", data=attempt).status_code == 404
    assert client.get(f"/referrals/{referral_id}").status_code == 404
    assert client.post(f"/referrals/{referral_id}/status", data={"status": "accepted"}).status_code == 404
    db.session.expire_all()
    assert count(Referral) == 1 and db.session.get(Referral, referral_id).status == "sent"


def test_the_same_referral_form_sent_twice_creates_one_slip(app, ctx, client):
    user = make_user("reception", centre="FAG")
    family = make_family(user, make_arrival(user))
    family_id, member_ids = family.id, [str(m.id) for m in family.members]
    login(client, user)
    page = client.get(f"/cases/{family_id}/referrals/new?institution=SOSEP_SEDES").get_data(as_text=True)
    token = re.search(r'name="submission_token" value="([0-9a-f]{32})"', page).group(1)
    form = {
        "institution": "SOSEP_SEDES",
        "member_ids": member_ids,
        "reason": "Seguimiento",
        "send": "true",
        "submission_token": token,
    }
    first = client.post(f"/cases/{family_id}/referrals/new", data=form)
    again = client.post(f"/cases/{family_id}/referrals/new", data=form)
    assert first.status_code == again.status_code == 302 and first.location == again.location
    assert "ya estaba guardada como REF-FAG-" in client.get(again.location).get_data(as_text=True)
    assert len(db.session.scalars(select(Referral.id)).all()) == 1


def test_a_case_status_moved_by_sending_a_referral_is_audited(ctx):
    """Sending marks the covered needs referred and the case 'referred': each change has its audit entry."""
    user, _, family = setup_case()
    need_services.record_needs(
        family, [{"need": by_code(Need, "LEGAL"), "action": "identified", "member_id": None}], user
    )
    db.session.commit()
    referral = refer(family, user, "OIM", needs=["LEGAL"])
    services.change_status(referral, S.SENT, None, user)
    db.session.commit()
    events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    status_events = [e for e in events if e.action == "family:status"]
    assert [(e.subject_id, e.details["from"], e.details["to"]) for e in status_events] == [
        (family.id, "received", "referred")
    ]
    assert status_events[0].user_id == user.id
    referred = [e for e in events if e.action == "need:referred"]
    assert [e.details["need"] for e in referred] == ["LEGAL"]

    second = refer(family, user, "OIM")
    services.change_status(second, S.SENT, None, user)
    db.session.commit()
    assert db.session.scalar(select(func.count()).where(AuditEvent.action == "family:status")) == 1
