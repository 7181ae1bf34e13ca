"""The case's history on its page: each kind of event in words, with who and when; access to protection cases
is logged, once per view; the timeline reads the same few queries however long the case's history is."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import g
from sqlalchemy import event, select

from sosep_migrantes.auth.models import User
from sosep_migrantes.cases.forms import family_values
from sosep_migrantes.cases.services import update_family
from sosep_migrantes.catalogs.models import Institution, Municipality, Need
from sosep_migrantes.catalogs.services import by_code
from sosep_migrantes.core import audit
from sosep_migrantes.core.audit import AuditAction, AuditEvent
from sosep_migrantes.core.templating import local_datetime
from sosep_migrantes.core.timeutil import LOCAL_TZ, today_local
from sosep_migrantes.extensions import db
from sosep_migrantes.followup import services as followup
from sosep_migrantes.followup.history import case_timeline
from sosep_migrantes.needs import services as needs
from sosep_migrantes.referrals import services as referrals
from tests.cases.test_editing import loaded
from tests.factories import login, make_arrival, make_family, make_user
from tests.referrals.helpers import refer
from tests.referrals.partners import make_partner

NEBAJ = 1413  # Santa María Nebaj, Quiché


def named(role: str, full_name: str, **scope: str) -> User:
    user = make_user(role, **scope)
    user.full_name = full_name
    db.session.commit()
    return user


@pytest.fixture
def desk(ctx) -> User:
    return named("reception", "Rosa Tzoc", centre="FAG")


@pytest.fixture
def huehue(ctx) -> User:
    return named("sede", "Marta Cux", sede="HUEHUETENANGO")


@pytest.fixture
def coordinator(ctx) -> User:
    return named("coordinator", "Julio Ajú")


@pytest.fixture
def family(desk):
    """Arrived ten days ago, bound for Cuilco (the Huehuetenango sede): María López Pérez and her son José."""
    arrived = dt.datetime.combine(today_local() - dt.timedelta(days=10), dt.time(9, 0), tzinfo=LOCAL_TZ)
    return make_family(desk, make_arrival(desk, when=arrived))


def timeline_lines(client, family_id: int) -> list[str]:
    """The history's lines as a person reads them (tags dropped, entities decoded)."""
    page = client.get(f"/cases/{family_id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    section = text[text.index('<h2 id="history">') :]
    section = section[: section.index("</ul>")] if "</ul>" in section else ""
    return [
        " ".join(html.unescape(re.sub(r"<[^>]+>", "", item)).split())
        for item in re.findall(r"<li>(.*?)</li>", section, re.S)
    ]


def last_event(family, action: AuditAction) -> AuditEvent:
    found = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.subject_id == family.id, AuditEvent.action == action.value)
        .order_by(AuditEvent.id.desc())
    ).first()
    assert found is not None, action
    return found


def line_for(lines: list[str], sentence: str) -> str:
    matching = [line for line in lines if sentence in line]
    assert len(matching) == 1, (sentence, lines)
    return matching[0]


def assert_entry(lines: list[str], sentence: str, action: AuditAction, family, who: str, detail: str) -> str:
    """The line with ``sentence`` says when (the event's time in Guatemala) and who did it, in what role."""
    line = line_for(lines, sentence)
    when = local_datetime(last_event(family, action).created_at)
    assert line.startswith(f"{when} · {who}, {detail}: "), line
    return line


def read_as(client, user: User, family_id: int) -> list[str]:
    g.pop("_login_user", None)  # the test's request context caches the previous client's user
    login(client, user)
    return timeline_lines(client, family_id)


# -- each kind of event, in words ---------------------------------------------------------------------


def test_registration_says_how_many_members_and_who_registered_the_family(client, family, coordinator):
    lines = read_as(client, coordinator, family.id)
    assert lines == [lines[0]]  # nothing else has happened yet
    assert_entry(
        lines,
        "Unidad familiar registrada con 2 integrantes",
        AuditAction.FAMILY_CREATE,
        family,
        "Rosa Tzoc",
        "Recepción (centro)",
    )


def test_an_edit_names_the_fields_changed_in_words_and_the_member_whose_data_changed(
    client, family, huehue, coordinator
):
    values = family_values(family)
    values["phone"] = "5555-1234"
    values["destination_municipality"] = "Chiantla, Huehuetenango"
    values["members"][1]["health_notes"] = "Asma."
    update_family(family, loaded(values), huehue)
    db.session.commit()
    lines = read_as(client, coordinator, family.id)
    line = assert_entry(
        lines,
        "Datos modificados: destino, datos de José López Pérez, teléfono",
        AuditAction.FAMILY_UPDATE,
        family,
        "Marta Cux",
        "Sede departamental",
    )
    assert "Asma" not in line and "5555" not in line  # which fields, never what they hold now


def test_needs_identified_and_attended_say_which_need_and_for_whom(client, family, desk, coordinator):
    food, kit = by_code(Need, "FOOD"), by_code(Need, "HYGIENE_KIT")
    son = family.members[1]
    needs.record_needs(
        family,
        [
            {"need": food, "action": "identified"},
            {"need": kit, "action": "attended", "member_id": son.id, "delivered_by": "Rosa Tzoc"},
        ],
        desk,
    )
    db.session.commit()
    lines = read_as(client, coordinator, family.id)
    assert_entry(
        lines,
        "Necesidad identificada: Alimentación (toda la familia)",
        AuditAction.NEED_IDENTIFIED,
        family,
        "Rosa Tzoc",
        "Recepción (centro)",
    )
    assert_entry(
        lines,
        "Necesidad atendida en el centro: Kit de higiene (José López Pérez)",
        AuditAction.NEED_ATTENDED,
        family,
        "Rosa Tzoc",
        "Recepción (centro)",
    )


def test_referrals_created_sent_accepted_by_the_institution_and_rejected_with_its_reason(
    client, family, desk, coordinator
):
    oim_referral = refer(family, desk, "OIM", send=True)
    oim_user = make_partner("OIM", full_name="Ana López")
    referrals.change_status(oim_referral, "accepted", None, oim_user)
    db.session.commit()
    cristosal_referral = refer(family, desk, "CRISTOSAL", send=True)
    cristosal_user = make_partner("CRISTOSAL", full_name="Luis Chen")
    referrals.change_status(
        cristosal_referral, "rejected", "No atiende el municipio de destino.", cristosal_user
    )
    db.session.commit()
    lines = read_as(client, coordinator, family.id)
    oim = "Organización Internacional para las Migraciones (OIM)"
    created = line_for(lines, f"Derivación {oim_referral.number} a {oim} creada")
    assert "Rosa Tzoc, Recepción (centro): " in created
    line_for(lines, f"Derivación {oim_referral.number} a {oim} enviada")
    assert_entry(
        lines,
        f"{oim} aceptó la derivación {oim_referral.number}",
        AuditAction.REFERRAL_ACCEPTED,
        family,
        "Ana López",
        oim,
    )
    rejected = assert_entry(
        lines,
        f"Cristosal rechazó la derivación {cristosal_referral.number}",
        AuditAction.REFERRAL_REJECTED,
        family,
        "Luis Chen",
        "Cristosal",
    )
    assert rejected.endswith("— «No atiende el municipio de destino.»")


def test_the_status_of_the_case_moves_in_words(client, family, desk, coordinator):
    refer(family, desk, "SOSEP_SEDES", send=True)
    lines = read_as(client, coordinator, family.id)
    assert_entry(
        lines,
        "Estado: Recibida en el centro → Derivada",
        AuditAction.FAMILY_STATUS,
        family,
        "Rosa Tzoc",
        "Recepción (centro)",
    )


def test_a_follow_up_says_how_the_family_was_contacted_and_what_came_of_it(
    client, family, huehue, coordinator
):
    yesterday = today_local() - dt.timedelta(days=1)
    followup.record_followup(
        family,
        {
            "contacted_on": yesterday,
            "contact_type": "home_visit",
            "outcome": "located",
            "notes": "La madre busca trabajo.",
        },
        huehue,
    )
    db.session.commit()
    lines = read_as(client, coordinator, family.id)
    line = assert_entry(
        lines,
        f"Seguimiento del {yesterday:%d/%m/%Y}: visita domiciliaria — localizada",
        AuditAction.FOLLOWUP_RECORD,
        family,
        "Marta Cux",
        "Sede departamental",
    )
    assert line.endswith("— «La madre busca trabajo.»")
    line_for(lines, "Estado: Recibida en el centro → En seguimiento")


def test_a_linkage_names_the_member_or_the_family_and_the_programme(client, family, huehue, coordinator):
    mother = family.members[0]
    programme = by_code(Institution, "SOSEP_MUJER")
    followup.link(
        family, {"linked_on": today_local(), "member_id": mother.id, "institution": programme}, huehue
    )
    followup.link(family, {"linked_on": today_local(), "outside_service": "Escuela de Cuilco"}, huehue)
    db.session.commit()
    lines = read_as(client, coordinator, family.id)
    line_for(lines, f"María López Pérez vinculada a {programme.name_es}")
    assert_entry(
        lines,
        "Familia vinculada a Escuela de Cuilco",
        AuditAction.LINKAGE_CREATE,
        family,
        "Marta Cux",
        "Sede departamental",
    )


def test_a_transfer_names_both_sedes_and_gives_its_reason(client, family, huehue, coordinator):
    nebaj = db.session.get(Municipality, NEBAJ)
    followup.transfer(family, {"municipality": nebaj, "reason": "Se mudó con sus suegros."}, huehue)
    db.session.commit()
    lines = read_as(client, coordinator, family.id)
    line = assert_entry(
        lines,
        "Trasladado de Sede Departamental de Huehuetenango a Sede Departamental de Quiché "
        "(Santa María Nebaj, Quiché)",
        AuditAction.FAMILY_TRANSFER,
        family,
        "Marta Cux",
        "Sede departamental",
    )
    assert line.endswith("— «Se mudó con sus suegros.»")


def test_closing_and_reopening_say_why(client, family, huehue, coordinator):
    followup.close(family, {"reason": "remigrated", "note": "Lo contó una vecina."}, huehue)
    db.session.commit()
    followup.reopen(family, {"note": "La familia volvió a la comunidad."}, coordinator)
    db.session.commit()
    lines = read_as(client, coordinator, family.id)
    closed = assert_entry(
        lines,
        "Caso cerrado: volvió a migrar",
        AuditAction.FAMILY_CLOSE,
        family,
        "Marta Cux",
        "Sede departamental",
    )
    assert closed.endswith("— «Lo contó una vecina.»")
    reopened = assert_entry(
        lines, "Caso reabierto", AuditAction.FAMILY_REOPEN, family, "Julio Ajú", "Coordinación (nacional)"
    )
    assert reopened.endswith("— «La familia volvió a la comunidad.»")
    # Newest first: the status the reopening brought back, the reopening, ..., the registration last.
    assert lines[0].endswith("Julio Ajú, Coordinación (nacional): Estado: Cerrada → Recibida en el centro")
    assert lines[1] == reopened
    assert lines[-1].endswith("Unidad familiar registrada con 2 integrantes")


def test_a_printed_slip_and_an_action_the_timeline_does_not_know(client, family, desk, coordinator):
    referral = refer(family, desk, "SOSEP_SEDES", send=True)
    audit.record(AuditAction.SLIP_PRINT, "family", family.id, referral_id=referral.id, actor_id=desk.id)
    # A row written by an older version (an action since retired) is shown by its code, not dropped.
    db.session.add(
        AuditEvent(action="family:archived", subject_type="family", subject_id=family.id, details={})
    )
    db.session.commit()
    lines = read_as(client, coordinator, family.id)
    line_for(lines, f"Boleta de la derivación {referral.number} impresa")
    assert any(line.endswith("Sistema: family:archived") for line in lines), lines


def test_no_entry_comes_from_another_family(client, family, desk, huehue, coordinator):
    other = make_family(desk, make_arrival(desk))
    refer(other, desk, "OIM", send=True)
    followup.record_followup(
        other, {"contacted_on": today_local(), "contact_type": "phone", "outcome": "not_located"}, huehue
    )
    db.session.commit()
    lines = read_as(client, coordinator, family.id)
    assert len(lines) == 1 and "Unidad familiar registrada" in lines[0]
    assert len(case_timeline(family)) == 1
    assert {e.action for e in case_timeline(other)} >= {"referral:create", "followup:record"}


# -- access to cases at protection risk ----------------------------------------------------------------


def views_logged(family) -> list[int | None]:
    return list(
        db.session.scalars(
            select(AuditEvent.user_id)
            .where(
                AuditEvent.subject_type == "family",
                AuditEvent.subject_id == family.id,
                AuditEvent.action == AuditAction.FAMILY_VIEW_PROTECTED.value,
            )
            .order_by(AuditEvent.id)
        )
    )


def test_each_view_of_a_protection_case_is_logged_once_for_every_role(app, client, desk, huehue, coordinator):
    protected = make_family(desk, make_arrival(desk), protection_causes=["THREATS"])
    plain = make_family(desk, make_arrival(desk))
    for user in (coordinator, huehue, desk):
        own = app.test_client()  # one browser each (a logged-in browser is sent away from the login page)
        lines = read_as(own, user, protected.id)
        assert not any("riesgo de protección" in line for line in lines)  # access logs stay off the timeline
        timeline_lines(own, plain.id)
    timeline_lines(own, protected.id)  # the reception user again
    db.session.expire_all()
    assert views_logged(protected) == [coordinator.id, huehue.id, desk.id, desk.id]
    assert views_logged(plain) == []
    event = last_event(protected, AuditAction.FAMILY_VIEW_PROTECTED)
    assert event.details == {}  # who and when are the row's own columns: nothing about the family


def test_a_case_outside_the_users_scope_logs_no_view(app, client, desk, coordinator):
    protected = make_family(desk, make_arrival(desk), protection_causes=["THREATS"])
    quiche = named("sede", "Pedro Us", sede="QUICHE")
    g.pop("_login_user", None)
    login(client, quiche)
    assert client.get(f"/cases/{protected.id}").status_code == 404
    assert views_logged(protected) == []


# -- cost ------------------------------------------------------------------------------------------------


@contextmanager
def counted_statements() -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def every_kind_of_event(family, desk: User, huehue: User, rounds: int) -> None:
    """Needs, referrals and their answers, follow-ups, linkages and an edit, ``rounds`` times over."""
    oim = make_partner("OIM")
    for n in range(rounds):
        needs.record_needs(family, [{"need": by_code(Need, "FOOD"), "action": "identified"}], desk)
        referral = refer(family, desk, "OIM", send=True)
        referrals.change_status(referral, "accepted", None, oim)
        followup.record_followup(
            family, {"contacted_on": today_local(), "contact_type": "phone", "outcome": "located"}, huehue
        )
        followup.link(family, {"linked_on": today_local(), "outside_service": f"Escuela {n}"}, huehue)
        values = family_values(family)
        values["phone"] = f"5555-{n:04d}"
        update_family(family, loaded(values), huehue)
        db.session.commit()


def statements_for_timeline(family_id: int) -> tuple[int, int]:
    db.session.expire_all()
    from sosep_migrantes.cases.models import FamilyUnit

    family = db.session.get(FamilyUnit, family_id)
    with counted_statements() as seen:
        entries = case_timeline(family)
    return len(entries), len(seen)


def test_the_timeline_reads_a_bounded_number_of_queries(desk, huehue):
    small = make_family(desk, make_arrival(desk))
    large = make_family(desk, make_arrival(desk))
    every_kind_of_event(small, desk, huehue, rounds=1)
    every_kind_of_event(large, desk, huehue, rounds=6)
    nebaj = db.session.get(Municipality, NEBAJ)
    for family in (small, large):
        followup.transfer(family, {"municipality": nebaj, "reason": "Se mudó."}, huehue)
        followup.close(family, {"reason": "remigrated"}, huehue)
        db.session.commit()
    small_entries, small_statements = statements_for_timeline(small.id)
    large_entries, large_statements = statements_for_timeline(large.id)
    assert large_entries >= 30 and large_entries > 3 * small_entries
    assert large_statements == small_statements
    # The events with who did them, then the rows the case page lists (referrals and their steps, needs and
    # their services, follow-ups, linkages, transfers, closures), one query per kind.
    assert small_statements <= 10
