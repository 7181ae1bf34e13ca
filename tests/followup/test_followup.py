"""Follow-up by the sede: the inbox, contacts, linkage, transfer, closure and reopening, the view per sede."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask import g
from sqlalchemy import select

from sosep_migrantes.cases.models import CaseStatus, FamilyUnit
from sosep_migrantes.catalogs.models import Sede
from sosep_migrantes.core.audit import AuditEvent
from sosep_migrantes.core.timeutil import LOCAL_TZ, today_local
from sosep_migrantes.extensions import db
from sosep_migrantes.followup import services
from sosep_migrantes.followup.models import FollowUp, Linkage
from sosep_migrantes.followup.queries import median_of, sede_overview
from sosep_migrantes.referrals.models import ReferralStatus
from tests.factories import login, make_arrival, make_family, make_user, member
from tests.referrals.helpers import refer

NEBAJ = 1413  # Quiché


def days_ago(n: int, hour: int = 10) -> dt.datetime:
    day = today_local() - dt.timedelta(days=n)
    return dt.datetime.combine(day, dt.time(hour, 0), tzinfo=LOCAL_TZ)


@pytest.fixture
def desk(ctx):
    return make_user("reception", centre="FAG")


@pytest.fixture
def huehue(ctx):
    return make_user("sede", sede="HUEHUETENANGO")


@pytest.fixture
def quiche(ctx):
    return make_user("sede", sede="QUICHE")


def family_arrived(desk, days: int, **payload):
    return make_family(desk, make_arrival(desk, when=days_ago(days)), **payload)


def events(family, action: str) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.subject_id == family.id, AuditEvent.action == action)
            .order_by(AuditEvent.id)
        )
    )


# -- status and due dates through the services ------------------------------------------------------


def test_a_registered_family_is_due_15_days_after_arrival_in_guatemala_time(desk):
    # 23:30 in Guatemala is already the next day in UTC: the local day counts.
    late = dt.datetime(2026, 11, 1, 23, 30, tzinfo=LOCAL_TZ)
    family = make_family(desk, make_arrival(desk, when=late))
    assert family.status is CaseStatus.RECEIVED
    assert family.followup_due_on == dt.date(2026, 11, 16)
    assert family.version == 1


def test_protection_cases_and_urgent_referrals_are_due_in_3_days(desk):
    protected = family_arrived(desk, 1, protection_causes=["THREATS"])
    assert protected.protection_risk
    assert protected.followup_due_on == today_local() + dt.timedelta(days=2)
    family = family_arrived(desk, 1)
    assert family.followup_due_on == today_local() + dt.timedelta(days=14)
    refer(family, desk, "SOSEP_SEDES", priority="urgent", send=True)
    assert family.status is CaseStatus.REFERRED
    assert family.followup_due_on == today_local() + dt.timedelta(days=2)
    [status_event] = events(family, "family:status")
    assert status_event.details == {"from": "received", "to": "referred"}


def test_status_follows_the_events_and_each_change_is_audited(desk, huehue):
    family = family_arrived(desk, 20)
    referral = refer(family, desk, "SOSEP_MUJER", send=True)
    today = today_local()
    services.record_followup(
        family, {"contacted_on": today, "contact_type": "home_visit", "outcome": "located"}, huehue
    )
    assert family.status is CaseStatus.IN_FOLLOWUP
    assert family.first_contact_on == family.last_contact_on == today
    assert family.followup_due_on == today + dt.timedelta(days=30)
    services.link(
        family, {"linked_on": today, "member_id": family.members[0].id, "referral_id": referral.id}, huehue
    )
    assert family.status is CaseStatus.LINKED
    assert family.followup_due_on is None
    assert referral.status is ReferralStatus.ATTENDED
    services.close(family, {"reason": "linked"}, huehue)
    assert family.status is CaseStatus.CLOSED
    services.reopen(family, {"note": "La familia pidió apoyo otra vez."}, huehue)
    assert family.status is CaseStatus.LINKED  # the linkage stands
    db.session.commit()
    moves = [(e.details["from"], e.details["to"]) for e in events(family, "family:status")]
    assert moves == [
        ("received", "referred"),
        ("referred", "in_followup"),
        ("in_followup", "linked"),
        ("linked", "closed"),
        ("closed", "linked"),
    ]


def test_no_follow_up_linkage_or_transfer_on_a_closed_case_until_it_is_reopened(desk, huehue):
    family = family_arrived(desk, 40)
    today = today_local()
    services.close(family, {"reason": "remigrated"}, huehue)
    with pytest.raises(services.ServiceError) as refused:
        services.record_followup(
            family, {"contacted_on": today, "contact_type": "phone", "outcome": "located"}, huehue
        )
    assert "cerrado" in refused.value.errors["contacted_on"]
    with pytest.raises(services.ServiceError):
        services.link(family, {"linked_on": today, "outside_service": "Escuela"}, huehue)
    with pytest.raises(services.ServiceError):
        services.close(family, {"reason": "declined"}, huehue)
    services.reopen(family, {"note": "Regresó a la comunidad."}, huehue)
    assert family.followup_due_on == today + dt.timedelta(days=15)
    services.record_followup(
        family, {"contacted_on": today, "contact_type": "phone", "outcome": "located"}, huehue
    )
    assert family.status is CaseStatus.IN_FOLLOWUP


def test_closure_reasons_must_be_borne_out(desk, huehue):
    family = family_arrived(desk, 40)
    today = today_local()
    with pytest.raises(services.ServiceError) as linked:
        services.close(family, {"reason": "linked"}, huehue)
    assert "vinculación" in linked.value.errors["reason"]
    with pytest.raises(services.ServiceError) as other:
        services.close(family, {"reason": "other"}, huehue)
    assert other.value.errors == {"note": "Indique el motivo."}
    for n in range(3):
        with pytest.raises(services.ServiceError) as not_located:
            services.close(family, {"reason": "not_located"}, huehue)
        assert f"hay {n} registrados" in not_located.value.errors["reason"]
        services.record_followup(
            family,
            {
                "contacted_on": today - dt.timedelta(days=3 - n),
                "contact_type": "home_visit",
                "outcome": "not_located",
            },
            huehue,
        )
    services.close(family, {"reason": "not_located"}, huehue)
    assert family.status is CaseStatus.CLOSED


def test_a_reopening_needs_a_closed_case(desk, huehue):
    family = family_arrived(desk, 5)
    with pytest.raises(services.ServiceError) as refused:
        services.reopen(family, {"note": "x"}, huehue)
    assert refused.value.errors == {"note": "El caso no está cerrado."}


# -- the forms ----------------------------------------------------------------------------------------


def test_a_follow_up_form_with_errors_keeps_what_was_typed_and_saves_nothing(client, desk, huehue):
    family = family_arrived(desk, 10)
    login(client, huehue)
    form = client.get(f"/cases/{family.id}/followups/new").get_data(as_text=True)
    token = re.search(r'name="submission_token" value="([0-9a-f]{32})"', form)[1]
    tomorrow = (today_local() + dt.timedelta(days=1)).isoformat()
    response = client.post(
        f"/cases/{family.id}/followups/new",
        data={
            "submission_token": token,
            "contacted_on": tomorrow,
            "contact_type": "home_visit",
            "contacted_person": "La abuela Juana",
            "notes": "Vive con su hermana.",
        },
    )
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "La abuela Juana" in body and "Vive con su hermana." in body
    assert 'id="e-outcome"' in body and "Este campo es obligatorio." in body
    assert db.session.scalar(select(FollowUp.id)) is None
    # Corrected: saved once; the same form sent again saves nothing more.
    data = {
        "submission_token": token,
        "contacted_on": today_local().isoformat(),
        "contact_type": "home_visit",
        "outcome": "located",
        "next_action_on": (today_local() + dt.timedelta(days=10)).isoformat(),
    }
    assert client.post(f"/cases/{family.id}/followups/new", data=data).status_code == 302
    again = client.post(f"/cases/{family.id}/followups/new", data=data, follow_redirects=True)
    assert "ya se había guardado" in again.get_data(as_text=True)
    assert len(db.session.scalars(select(FollowUp)).all()) == 1
    db.session.expire_all()
    assert db.session.get(FamilyUnit, family.id).followup_due_on == today_local() + dt.timedelta(days=10)


def test_a_next_date_before_the_contact_is_refused_beside_the_field(client, desk, huehue):
    family = family_arrived(desk, 10)
    login(client, huehue)
    today = today_local()
    response = client.post(
        f"/cases/{family.id}/followups/new",
        data={
            "contacted_on": today.isoformat(),
            "contact_type": "phone",
            "outcome": "located",
            "next_action_on": (today - dt.timedelta(days=1)).isoformat(),
        },
    )
    assert response.status_code == 400
    assert "La próxima fecha debe ser posterior a la del contacto." in response.get_data(as_text=True)


@pytest.mark.parametrize("next_on", ["2062-01-01", "9999-12-31"])
def test_a_next_date_more_than_a_year_ahead_is_refused_beside_the_field(client, desk, huehue, next_on):
    """A mistyped year used to be saved: the case then fell due in 2062 and left the overdue list."""
    family = family_arrived(desk, 10)
    login(client, huehue)
    today = today_local()
    response = client.post(
        f"/cases/{family.id}/followups/new",
        data={
            "contacted_on": today.isoformat(),
            "contact_type": "phone",
            "outcome": "located",
            "next_action_on": next_on,
        },
    )
    assert response.status_code == 400
    tomorrow, horizon = today + dt.timedelta(days=1), today + dt.timedelta(days=366)
    expected = f"Escriba una fecha entre {tomorrow:%d/%m/%Y} y {horizon:%d/%m/%Y}."
    assert f'id="e-next_action_on">{expected}</p>' in response.get_data(as_text=True)
    assert db.session.scalar(select(FollowUp.id)) is None
    # A year ahead is a plan, not a typo.
    data = {"contacted_on": today.isoformat(), "contact_type": "phone", "outcome": "located"}
    response = client.post(
        f"/cases/{family.id}/followups/new", data={**data, "next_action_on": horizon.isoformat()}
    )
    assert response.status_code == 302


def test_linkage_form_links_the_mother_to_a_programme(client, desk, huehue):
    family = family_arrived(desk, 10)
    mother = family.members[0]
    login(client, huehue)
    form = client.get(f"/cases/{family.id}/linkages/new").get_data(as_text=True)
    token = re.search(r'name="submission_token" value="([0-9a-f]{32})"', form)[1]
    missing = client.post(
        f"/cases/{family.id}/linkages/new",
        data={
            "submission_token": token,
            "member_id": mother.id,
            "linked_on": today_local().isoformat(),
            "note": "Grupo de los martes",
        },
    )
    assert missing.status_code == 400
    assert "Grupo de los martes" in missing.get_data(as_text=True)
    assert "Elija el programa o institución" in missing.get_data(as_text=True)
    saved = client.post(
        f"/cases/{family.id}/linkages/new",
        data={
            "submission_token": token,
            "member_id": mother.id,
            "institution": "SOSEP_MUJER",
            "linked_on": today_local().isoformat(),
        },
    )
    assert saved.status_code == 302
    linkage = db.session.scalars(select(Linkage)).one()
    assert (linkage.member_id, linkage.institution.code) == (mother.id, "SOSEP_MUJER")
    page = client.get(f"/cases/{family.id}").get_data(as_text=True)
    assert "Mejoramiento de las Condiciones Socioeconómicas de la Mujer" in page


def test_a_member_of_another_family_cannot_be_linked(client, desk, huehue):
    family, other = family_arrived(desk, 10), family_arrived(desk, 10)
    login(client, huehue)
    response = client.post(
        f"/cases/{family.id}/linkages/new",
        data={
            "member_id": other.members[0].id,
            "institution": "SOSEP_MUJER",
            "linked_on": today_local().isoformat(),
        },
    )
    assert response.status_code == 400
    assert "Elija un integrante de esta familia." in response.get_data(as_text=True)


def test_transfer_moves_visibility_both_ways(client, app, desk, huehue, quiche):
    family = family_arrived(desk, 10)
    login(client, huehue)
    same_sede = client.post(
        f"/cases/{family.id}/transfer", data={"municipality": "Chiantla, Huehuetenango", "reason": "Se mudó"}
    )
    assert same_sede.status_code == 400
    assert "no es un traslado" in same_sede.get_data(as_text=True)
    no_reason = client.post(
        f"/cases/{family.id}/transfer", data={"municipality": "Santa María Nebaj, Quiché"}
    )
    assert no_reason.status_code == 400
    assert "Santa María Nebaj, Quiché" in no_reason.get_data(as_text=True)
    moved = client.post(
        f"/cases/{family.id}/transfer",
        data={
            "municipality": "Santa María Nebaj, Quiché",
            "reason": "Se mudó con sus suegros.",
            "community": "Xolcuay",
        },
    )
    assert moved.status_code == 302, moved.get_data(as_text=True)
    assert moved.location.endswith("/followup/")
    assert client.get(f"/cases/{family.id}").status_code == 404
    assert family.case_number not in client.get("/followup/").get_data(as_text=True)
    g.pop("_login_user", None)  # the test's app context cached the first client's user
    other = app.test_client()
    login(other, quiche)
    inbox = other.get("/followup/").get_data(as_text=True)
    assert family.case_number in inbox and "Trasladado" in inbox
    assert other.get(f"/cases/{family.id}").status_code == 200
    assert len(events(family, "family:transfer")) == 1


# -- the inbox ----------------------------------------------------------------------------------------


def test_the_inbox_shows_the_sede_its_own_families_with_counts(client, desk, huehue):
    overdue = family_arrived(desk, 20)  # due 5 days ago
    this_week = family_arrived(desk, 10)  # due in 5 days
    later = family_arrived(desk, 1)  # due in 14 days
    elsewhere = family_arrived(desk, 20, municipality=NEBAJ)
    login(client, huehue)
    response = client.get("/followup/")
    body = response.get_data(as_text=True)
    for family in (overdue, this_week, later):
        assert family.case_number in body
    assert elsewhere.case_number not in body
    assert re.search(r"<strong>3</strong> abiertas", body)
    assert re.search(r"<strong>1</strong> con seguimiento vencido", body)
    assert re.search(r"<strong>1</strong> vence esta semana", body)
    assert "Vencido hace 5 días" in body
    only_overdue = client.get("/followup/?overdue=1").get_data(as_text=True)
    assert overdue.case_number in only_overdue and this_week.case_number not in only_overdue


def test_new_since_the_last_visit(client, app, desk, huehue):
    huehue.inbox_seen_at = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    db.session.commit()
    login(client, huehue)
    family_arrived(desk, 2)
    first = client.get("/followup/").get_data(as_text=True)
    assert re.search(r"<strong>1</strong> nueva desde su última visita", first)
    # Same sign-in: the count stays until the user signs in again.
    assert re.search(r"<strong>1</strong> nueva ", client.get("/followup/").get_data(as_text=True))
    again = app.test_client()
    login(again, huehue)
    assert re.search(r"<strong>0</strong> nuevas", again.get("/followup/").get_data(as_text=True))


def test_protection_cases_sort_first_among_equals_and_can_be_filtered(client, desk, huehue):
    arrival = make_arrival(desk, when=days_ago(3))
    plain = make_family(desk, arrival)
    protected = make_family(desk, arrival, protection_causes=["THREATS"])
    later_plain = make_family(desk, arrival)
    login(client, huehue)
    body = client.get("/followup/").get_data(as_text=True)
    assert (
        body.index(protected.case_number)
        < body.index(later_plain.case_number)
        < body.index(plain.case_number)
    )
    only = client.get("/followup/?protection=1").get_data(as_text=True)
    assert protected.case_number in only and plain.case_number not in only
    by_due = client.get("/followup/?sort=due").get_data(as_text=True)
    assert by_due.index(protected.case_number) < by_due.index(plain.case_number)


def test_municipality_and_status_filters(client, desk, huehue):
    cuilco = family_arrived(desk, 3)
    chiantla = family_arrived(desk, 3, municipality="Chiantla, Huehuetenango")
    closed = family_arrived(desk, 3)
    services.close(closed, {"reason": "remigrated"}, huehue)
    db.session.commit()
    login(client, huehue)
    by_place = client.get(f"/followup/?municipality={chiantla.destination_municipality_id}").get_data(
        as_text=True
    )
    assert chiantla.case_number in by_place and cuilco.case_number not in by_place
    open_only = client.get("/followup/").get_data(as_text=True)
    assert closed.case_number not in open_only
    assert closed.case_number in client.get("/followup/?status=closed").get_data(as_text=True)
    # A bad value is ignored rather than failing the page.
    assert client.get("/followup/?status=bogus&sort=x&municipality=99999999999999").status_code == 200


def test_a_coordinator_chooses_a_sede_or_sees_the_country(client, ctx, desk):
    coordinator = make_user("coordinator")
    huehue_case = family_arrived(desk, 3)
    quiche_case = family_arrived(desk, 3, municipality=NEBAJ)
    login(client, coordinator)
    national = client.get("/followup/").get_data(as_text=True)
    assert huehue_case.case_number in national and quiche_case.case_number in national
    quiche_id = db.session.scalar(select(Sede.id).where(Sede.code == "QUICHE"))
    chosen = client.get(f"/followup/?sede={quiche_id}").get_data(as_text=True)
    assert quiche_case.case_number in chosen and huehue_case.case_number not in chosen
    # The coordinator reads; it does not record follow-ups.
    assert client.get(f"/cases/{huehue_case.id}/followups/new").status_code == 403


def test_a_sede_ignores_the_sede_chooser(client, desk, huehue):
    quiche_case = family_arrived(desk, 3, municipality=NEBAJ)
    login(client, huehue)
    quiche_id = db.session.scalar(select(Sede.id).where(Sede.code == "QUICHE"))
    assert quiche_case.case_number not in client.get(f"/followup/?sede={quiche_id}").get_data(as_text=True)


# -- the coordinators' view per sede ------------------------------------------------------------------


def test_the_view_per_sede(client, ctx, desk, huehue):
    coordinator = make_user("coordinator")
    today = today_local()
    first = family_arrived(desk, 20)
    second = family_arrived(desk, 10)
    family_arrived(desk, 2)
    family_arrived(desk, 20, municipality=NEBAJ)
    services.record_followup(
        first,
        {"contacted_on": today - dt.timedelta(days=16), "contact_type": "phone", "outcome": "located"},
        huehue,
    )
    services.record_followup(
        second,
        {"contacted_on": today - dt.timedelta(days=2), "contact_type": "phone", "outcome": "located"},
        huehue,
    )
    services.link(
        second, {"linked_on": today, "institution": None, "outside_service": "Escuela de Cuilco"}, huehue
    )
    db.session.commit()
    figures = {f.sede.code: f for f in sede_overview(today)}
    hue = figures["HUEHUETENANGO"]
    assert (hue.open, hue.linked_this_month, hue.contacted) == (3, 1, 2)
    assert hue.median_days_to_contact == 6  # 4 and 8 days after arrival
    assert hue.overdue == 0  # contacted; the third is due in 13 days
    assert figures["QUICHE"].open == 1 and figures["QUICHE"].overdue == 1
    login(client, coordinator)
    page = client.get("/followup/sedes").get_data(as_text=True)
    assert "Huehuetenango" in page and "Mediana de días hasta el primer contacto" in page


def test_median_of_a_histogram():
    assert median_of({}) is None
    assert median_of({5: 1}) == 5
    assert median_of({4: 1, 8: 1}) == 6
    assert median_of({1: 2, 9: 1}) == 1
    assert median_of({1: 1, 2: 1, 3: 1, 10: 1}) == 2.5


def test_the_sede_inbox_ignores_members_of_families_only_by_their_head(client, desk, huehue):
    family_arrived(
        desk,
        3,
        members=[member("Ana", "Us Tzoc"), member("Luis", "Us Tzoc", sex="M", relationship="SON", age=4)],
    )
    login(client, huehue)
    body = client.get("/followup/").get_data(as_text=True)
    assert "Ana Us Tzoc" in body and "Luis" not in body


def test_a_transfer_to_a_municipality_no_sede_covers_is_refused(desk, huehue):
    from sosep_migrantes.catalogs.models import Municipality, sede_municipalities

    family = family_arrived(desk, 5)
    covering = db.session.execute(
        select(sede_municipalities).where(sede_municipalities.c.municipality_id == NEBAJ)
    ).all()
    db.session.execute(sede_municipalities.delete().where(sede_municipalities.c.municipality_id == NEBAJ))
    try:
        with pytest.raises(services.ServiceError) as refused:
            services.transfer(
                family, {"municipality": db.session.get(Municipality, NEBAJ), "reason": "Se mudó"}, huehue
            )
        assert "Ninguna sede cubre ese municipio" in refused.value.errors["municipality"]
    finally:
        db.session.rollback()
    assert len(covering) == 1
    assert (
        db.session.execute(
            select(sede_municipalities).where(sede_municipalities.c.municipality_id == NEBAJ)
        ).all()
        == covering
    )


def test_an_outcome_suggests_the_next_step(client, desk, huehue):
    family = family_arrived(desk, 5)
    login(client, huehue)
    response = client.post(
        f"/cases/{family.id}/followups/new",
        data={"contacted_on": today_local().isoformat(), "contact_type": "phone", "outcome": "remigrated"},
        follow_redirects=True,
    )
    assert "puede cerrar el caso con ese motivo" in response.get_data(as_text=True)


def test_a_sede_user_starts_at_its_inbox(client, huehue):
    login(client, huehue)
    assert client.get("/").location == "/followup/"
    assert 'href="/followup/">Seguimiento</a>' in client.get("/followup/").get_data(as_text=True)


def test_a_contact_date_at_the_end_of_the_calendar_is_refused_not_a_500(client, desk, huehue):
    """9999-12-31 as the contact's day: the next date's window (a year after it) cannot be computed."""
    family = family_arrived(desk, 10)
    login(client, huehue)
    response = client.post(
        f"/cases/{family.id}/followups/new",
        data={
            "contacted_on": "9999-12-31",
            "contact_type": "phone",
            "outcome": "located",
            "next_action_on": "9999-12-31",
        },
    )
    assert response.status_code == 400
    assert 'id="e-contacted_on"' in response.get_data(as_text=True)
