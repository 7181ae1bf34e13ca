"""The sedes' follow-up in the demo data (issue #8): bulk rows as the services would leave them, service-made
follow-ups through the services, and checks that catch a case whose status or dates do not follow."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter

import pytest
from sqlalchemy import func, select, text

from sosep_migrantes.auth.models import User
from sosep_migrantes.cases.models import FamilyUnit
from sosep_migrantes.catalogs.models import Sede
from sosep_migrantes.core.permissions import Role
from sosep_migrantes.demo.checks import check_consistency
from sosep_migrantes.demo.generator import sede_users
from sosep_migrantes.extensions import db
from sosep_migrantes.followup import rules
from sosep_migrantes.followup.models import CaseClosure, CaseTransfer, FollowUp, Linkage
from sosep_migrantes.followup.services import case_facts

from .test_bulk import run_bulk
from .test_demo_data import UNTIL, run_demo

TODAY = dt.date.fromisoformat(UNTIL)


def rows(sql: str, **params) -> list:
    return db.session.execute(text(sql), params).all()


def scalar(sql: str, **params):
    return db.session.execute(text(sql), params).scalar_one()


def assert_every_case_follows_the_rules() -> None:
    """Each family's stored status and dates are what refresh_case computes from its events."""
    families = db.session.scalars(select(FamilyUnit)).all()
    assert families
    for family in families:
        facts = case_facts(family)
        assert family.status == rules.status(facts), family.case_number
        assert family.followup_due_on == rules.due_on(facts, rules.Settings()), family.case_number
        assert (family.first_contact_on, family.last_contact_on) == (
            facts.first_contact_on,
            facts.last_contact_on,
        ), family.case_number


def test_a_sede_account_per_sede_made_once(app, ctx):
    accounts = sede_users()
    sedes = db.session.scalars(select(Sede)).all()
    assert set(accounts) == {s.id for s in sedes}
    assert all(u.role == Role.SEDE and u.sede_id == sede_id for sede_id, u in accounts.items())
    assert not any(u.is_active for u in accounts.values())  # nobody signs in with them
    db.session.commit()
    assert {u.id for u in sede_users().values()} == {u.id for u in accounts.values()}
    assert db.session.scalar(select(func.count()).select_from(User)) == len(sedes)


def test_bulk_follow_up_rows_are_what_the_rules_and_services_would_leave(app, ctx):
    run_bulk(app, 3_000, seed=3)
    assert db.session.scalar(select(func.count()).select_from(FollowUp)) > 500
    assert db.session.scalar(select(func.count()).select_from(Linkage)) > 100
    assert db.session.scalar(select(func.count()).select_from(CaseClosure)) > 100
    assert_every_case_follows_the_rules()
    assert check_consistency() == []

    # Protection risk is the causes', and such a case's first contact falls due within 3 days.
    for family in db.session.scalars(select(FamilyUnit).where(FamilyUnit.protection_risk.is_(True))):
        assert family.protection_causes
    assert (
        scalar(
            "SELECT count(*) FROM family_units f WHERE f.protection_risk = false AND EXISTS "
            "(SELECT 1 FROM family_protection_causes c WHERE c.family_id = f.id)"
        )
        == 0
    )

    # Each contact is recorded by the account of the sede that covered the family then: its own sede,
    # or, after a transfer, the sede it went to.
    wrong_sede = scalar(
        "SELECT count(*) FROM followups u JOIN users s ON s.id = u.created_by_id "
        "JOIN family_units f ON f.id = u.family_id "
        "WHERE s.role <> 'sede' OR (NOT EXISTS (SELECT 1 FROM case_transfers t WHERE t.family_id = f.id) "
        "AND NOT EXISTS (SELECT 1 FROM sede_municipalities sm WHERE sm.sede_id = s.sede_id "
        "AND sm.municipality_id = f.destination_municipality_id))"
    )
    assert wrong_sede == 0

    # Every follow-up event has its audit entry by the same account, with the services' details.
    events = Counter(
        dict(
            rows(
                "SELECT action, count(*) FROM audit_events WHERE action IN ('followup:record', "
                "'linkage:create', 'family:close', 'family:reopen', 'family:transfer', 'family:status') "
                "GROUP BY action"
            )
        )
    )
    assert events["followup:record"] == db.session.scalar(select(func.count()).select_from(FollowUp))
    assert events["linkage:create"] == db.session.scalar(select(func.count()).select_from(Linkage))
    assert events["family:transfer"] == db.session.scalar(select(func.count()).select_from(CaseTransfer))
    assert events["family:status"] > events["followup:record"] / 2
    followup = db.session.scalars(select(FollowUp).order_by(FollowUp.id)).first()
    (details, user_id) = rows(
        "SELECT details, user_id FROM audit_events WHERE action = 'followup:record' AND subject_id = :f "
        "ORDER BY id LIMIT 1",
        f=followup.family_id,
    )[0]
    if isinstance(details, str):  # SQLite gives the JSON text back
        details = json.loads(details)
    assert details == {
        "followup_id": followup.id,
        "contact_type": str(followup.contact_type),
        "outcome": str(followup.outcome),
    }
    assert user_id == followup.created_by_id


def test_bulk_follow_up_looks_like_the_sedes_work(app, ctx):
    run_bulk(app, 20_000)
    by_age: dict[str, Counter] = {"old": Counter(), "recent": Counter()}
    overdue_recent = 0
    for status, arrived_at, due in rows(
        "SELECT f.status, a.arrived_at, f.followup_due_on FROM family_units f "
        "JOIN arrivals a ON a.id = f.arrival_id"
    ):
        arrived = dt.date.fromisoformat(str(arrived_at)[:10])
        age = (TODAY - arrived).days
        if age > 200:
            by_age["old"][status] += 1
        elif age < 90:
            by_age["recent"][status] += 1
            due_on = dt.date.fromisoformat(str(due)) if due is not None else None
            overdue_recent += rules.is_overdue(due_on, TODAY)
    old, recent = by_age["old"], by_age["recent"]
    # Families that arrived more than about six months ago: mostly closed, some linked.
    assert old["closed"] / old.total() > 0.7, old
    assert old["linked"] > 0 and old["closed"] > old["linked"] + old["in_followup"], old
    # The recent ones are spread over the open statuses, and the sedes are late with some.
    assert {"received", "referred", "in_followup"} <= set(recent), recent
    assert overdue_recent > 0

    contacts = Counter(n for (n,) in rows("SELECT count(*) FROM followups GROUP BY family_id"))
    assert set(contacts) <= {1, 2, 3, 4} and contacts[1] > contacts[4], contacts
    outcomes = {o for (o,) in rows("SELECT DISTINCT outcome FROM followups")}
    assert {"located", "not_located", "moved", "remigrated", "declined"} <= outcomes
    reasons = Counter(
        dict(rows("SELECT reason, count(*) FROM case_closures WHERE kind = 'close' GROUP BY reason"))
    )
    assert reasons.most_common(1)[0][0] == "linked", reasons
    assert {"not_located", "remigrated", "declined", "deceased", "other"} <= set(reasons), reasons
    assert scalar("SELECT count(*) FROM case_closures WHERE kind = 'reopen'") > 0
    # A case closed as not located had the attempts the rules ask for.
    assert (
        scalar(
            "SELECT count(*) FROM case_closures c WHERE c.reason = 'not_located' AND (SELECT count(*) FROM "
            "followups u WHERE u.family_id = c.family_id AND u.outcome = 'not_located') < 3"
        )
        == 0
    )

    # Linked to SOSEP's programmes, or to the institution of a referral, which is then attended.
    programmes = {
        code
        for (code,) in rows(
            "SELECT DISTINCT i.code FROM linkages l JOIN institutions i ON i.id = l.institution_id "
            "WHERE l.referral_id IS NULL"
        )
    }
    assert {"SOSEP_HOGARES", "SOSEP_MUJER"} <= programmes, programmes
    followed = rows(
        "SELECT r.status, e.note FROM linkages l JOIN referrals r ON r.id = l.referral_id "
        "JOIN referral_events e ON e.referral_id = r.id AND e.to_status = 'attended'"
    )
    assert followed and all(status == "attended" for status, _ in followed)
    assert any(note == "Vinculación registrada por la sede." for _, note in followed)

    # A few families moved to another sede's territory: the case went with them.
    transfers = rows(
        "SELECT t.from_sede_id, t.to_sede_id, t.to_municipality_id, f.destination_municipality_id, "
        "f.transferred_at, t.created_at FROM case_transfers t JOIN family_units f ON f.id = t.family_id"
    )
    families = db.session.scalar(select(func.count()).select_from(FamilyUnit))
    assert 0 < len(transfers) < families * 0.06
    for from_sede, to_sede, to_municipality, destination, transferred_at, created_at in transfers:
        assert from_sede != to_sede and to_municipality == destination
        assert str(transferred_at) == str(created_at)


def test_follow_ups_recorded_through_the_services_in_the_service_demo(app, ctx):
    run_demo(app, 80, 4)
    assert db.session.scalar(select(func.count()).select_from(FollowUp)) > 20
    statuses = Counter(db.session.scalars(select(FamilyUnit.status)).all())
    assert statuses["in_followup"] and (statuses["linked"] or statuses["closed"]), statuses
    assert db.session.scalar(select(func.count()).select_from(Linkage)) > 0
    # Recorded by the sedes' accounts, and audited by the services themselves.
    creators = db.session.scalars(select(User.role).join(FollowUp, FollowUp.created_by_id == User.id)).all()
    assert set(creators) == {Role.SEDE}
    assert scalar("SELECT count(*) FROM audit_events WHERE action = 'followup:record'") == db.session.scalar(
        select(func.count()).select_from(FollowUp)
    )
    assert_every_case_follows_the_rules()
    assert check_consistency() == []


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (
            "UPDATE family_units SET status = 'closed' WHERE id = (SELECT min(family_id) FROM followups "
            "WHERE family_id NOT IN (SELECT family_id FROM case_closures))",
            "estado no es el que resulta",
        ),
        (
            "UPDATE family_units SET followup_due_on = NULL WHERE id = "
            "(SELECT min(id) FROM family_units WHERE status = 'in_followup')",
            "próxima fecha de seguimiento estando",
        ),
        (
            # Every case in follow-up, so that the random sample the rule is checked on holds some.
            "UPDATE family_units SET followup_due_on = '2020-01-01' WHERE status = 'in_followup'",
            "calculan las reglas del seguimiento",
        ),
        (
            "UPDATE family_units SET last_contact_on = first_contact_on WHERE id = (SELECT min(family_id) "
            "FROM followups GROUP BY family_id HAVING count(DISTINCT contacted_on) > 1 LIMIT 1)",
            "primer o último contacto",
        ),
        (
            "UPDATE family_units SET protection_risk = CASE WHEN protection_risk THEN false ELSE true END "
            "WHERE id = (SELECT min(id) FROM family_units)",
            "riesgo de protección",
        ),
        (
            "UPDATE case_closures SET kind = 'reopen', reason = NULL WHERE id = "
            "(SELECT min(id) FROM case_closures)",
            "no se alternan",
        ),
        (
            "UPDATE case_closures SET reason = 'not_located' WHERE id = "
            "(SELECT min(id) FROM case_closures WHERE reason = 'declined')",
            "motivo no respaldan",
        ),
        (
            "UPDATE linkages SET referral_id = (SELECT min(r.id) FROM referrals r "
            "WHERE r.family_id <> linkages.family_id) WHERE id = (SELECT min(id) FROM linkages)",
            "derivación de otra familia",
        ),
        (
            "UPDATE family_units SET destination_municipality_id = (SELECT min(t.from_municipality_id) "
            "FROM case_transfers t WHERE t.family_id = family_units.id) "
            "WHERE id = (SELECT min(family_id) FROM case_transfers)",
            "último traslado",
        ),
        (
            "DELETE FROM audit_events WHERE id = (SELECT min(id) FROM audit_events "
            "WHERE action = 'followup:record')",
            "sin su evento de auditoría",
        ),
        ("DELETE FROM audit_events WHERE action = 'family:status'", "último cambio de estado auditado"),
    ],
)
def test_the_follow_up_checks_find_broken_data(app, ctx, breakage, expected):
    run_bulk(app, 4_000, seed=2)
    assert check_consistency() == []
    changed = db.session.execute(text(breakage)).rowcount
    db.session.commit()
    assert changed, breakage  # the data had what the breakage needs
    problems = check_consistency()
    assert any(expected in p for p in problems), problems
    result = app.test_cli_runner().invoke(args=["demo-data", "--check"])
    assert result.exit_code != 0 and expected in result.output
