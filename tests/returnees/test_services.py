"""Earlier records across the country: found by CUI or a similar name with a compatible age, cut to the
minimum outside the user's scope, linked or dismissed with an audit entry, counted in the reports."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from sosep_migrantes.cases.models import Member, MemberKey
from sosep_migrantes.cases.schemas import FamilyUnitSchema
from sosep_migrantes.cases.services import update_family
from sosep_migrantes.core.audit import AuditAction, AuditEvent
from sosep_migrantes.core.errors import ServiceError
from sosep_migrantes.core.timeutil import LOCAL_TZ
from sosep_migrantes.extensions import db
from sosep_migrantes.ops.retention import anonymise_batch
from sosep_migrantes.reports.queries import ReportFilters
from sosep_migrantes.reports.tables import build_report
from sosep_migrantes.returnees.models import ReturneeDecision, ReturneeLink
from sosep_migrantes.returnees.services import (
    MatchReason,
    candidates_for_member,
    dismiss_candidate,
    find_candidates,
    link_returnee,
    linked_records,
)
from tests.factories import family_payload, make_arrival, make_family, make_user, member
from tests.referrals.partners import make_partner

ON = dt.date(2026, 11, 20)
EARLIER = dt.datetime(2024, 3, 5, 9, 0, tzinfo=LOCAL_TZ)


@pytest.fixture
def people(ctx):
    """A FAG desk and a Tecún Umán desk, each with an earlier case of its own (2024)."""
    fag = make_user("reception", centre="FAG")
    tecun = make_user("reception", centre="TECUN_UMAN")
    fag_case = make_family(
        fag,
        make_arrival(fag, when=EARLIER),
        members=[
            member("María Elena", "López Pérez", age=None, birth_date="1990-05-03", cui="2456789051304"),
            member("Yesenia", "Velásquez Xol", relationship="DAUGHTER", age=14),
        ],
    )
    tecun_case = make_family(
        tecun,
        make_arrival(tecun, centre="TECUN_UMAN", mode="land", country="MX", when=EARLIER),
        municipality=1413,  # Nebaj, Quiché
        members=[member("Catarina", "Tzoc Brito", age=None, birth_date="1985-09-12")],
    )
    return {"fag": fag, "tecun": tecun, "fag_case": fag_case, "tecun_case": tecun_case}


def find(user, given, surnames, *, cui=None, birth_date=None, age=None):
    return find_candidates(
        user, given_names=given, surnames=surnames, cui=cui, birth_date=birth_date, age=age, on=ON
    )


@pytest.mark.parametrize(
    ("given", "surnames"),
    [
        ("maria elena", "LOPEZ PEREZ"),  # accents and case
        ("María Elena", "Pérez López"),  # surnames' order
        ("López Pérez", "María Elena"),  # the two fields swapped
        ("María Elena", "Lopz Peres"),  # a typo and a phonetic variant
        ("Maria", "Lopes"),  # fewer words, another spelling
    ],
)
def test_variants_of_the_name_with_the_same_date_of_birth_are_found(people, given, surnames):
    [found] = find(people["fag"], given, surnames, birth_date=dt.date(1990, 5, 3))
    assert found.case_number == people["fag_case"].case_number
    assert MatchReason.SAME_BIRTH_DATE in found.reasons
    assert {MatchReason.SAME_NAME, MatchReason.SIMILAR_NAME} & set(found.reasons)


def test_phonetic_variants_with_a_compatible_age_are_found(people):
    # Yesenia was 14 in March 2024: 16 or so now, typed as it sounds.
    [found] = find(people["fag"], "Llesenia", "Belasquez Jol", age=16)
    assert found.case_number == people["fag_case"].case_number
    assert set(found.reasons) == {MatchReason.SIMILAR_NAME, MatchReason.COMPATIBLE_AGE}
    assert find(people["fag"], "Llesenia", "Belasquez Jol", age=30) == []


def test_a_different_date_of_birth_is_not_a_match(people):
    assert find(people["fag"], "María Elena", "López Pérez", birth_date=dt.date(1990, 5, 4)) == []
    assert find(people["fag"], "María Elena", "López Pérez", birth_date=dt.date(1991, 5, 3)) == []


def test_the_same_cui_is_a_match_whatever_the_name(people):
    [found] = find(people["fag"], "M", "L", cui="2456789051304")
    assert found.reasons == (MatchReason.SAME_CUI,)
    [both] = find(
        people["fag"], "María Elena", "López Pérez", cui="2456789051304", birth_date=dt.date(1990, 5, 3)
    )
    assert both.score == 100 and both.reasons[0] is MatchReason.SAME_CUI


def test_outside_the_scope_only_number_centre_date_and_sede_are_given(people):
    [found] = find(people["fag"], "Catarina", "Tzoc Brito", birth_date=dt.date(1985, 9, 12))
    assert not found.visible
    assert found.case_number == people["tecun_case"].case_number
    assert found.centre.endswith("Tecún Umán") and found.arrived_on == EARLIER.date()
    assert found.sede and "Quiché" in found.sede
    assert (found.family_id, found.full_name, found.birth_date) == (None, None, None)
    [own] = find(people["tecun"], "Catarina", "Tzoc Brito", birth_date=dt.date(1985, 9, 12))
    assert own.visible and own.full_name == "Catarina Tzoc Brito" and own.family_id == people["tecun_case"].id


def test_partners_get_nothing(people):
    assert find(make_partner("OIM"), "Catarina", "Tzoc Brito", birth_date=dt.date(1985, 9, 12)) == []


def test_link_and_dismiss_are_audited_and_the_link_shows_on_both_cases(people):
    fag, tecun = people["fag"], people["tecun"]
    again = make_family(
        fag, make_arrival(fag), members=[member("Catalina", "Tzoc Brito", age=None, birth_date="1985-09-12")]
    )
    newcomer = again.members[0]
    earlier = people["tecun_case"].members[0]
    assert [c.member_id for c in candidates_for_member(fag, newcomer)] == [earlier.id]
    link_returnee(fag, newcomer.id, earlier.id)
    db.session.commit()
    link = db.session.scalars(select(ReturneeLink)).one()
    assert (link.member_id, link.earlier_member_id, link.decision) == (newcomer.id, earlier.id, "linked")
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == AuditAction.RETURNEE_LINK)).one()
    assert event.subject_id == newcomer.id and event.details["other_member_id"] == earlier.id
    # On the new case, the earlier one is shown cut to the minimum (another scope) ...
    [shown] = linked_records(fag, again)
    assert shown.other_is_earlier and not shown.other.visible and shown.other.full_name is None
    # ... and on the earlier case, for its own desk, the later one (FAG's) the same way.
    [back] = linked_records(tecun, people["tecun_case"])
    assert (
        not back.other_is_earlier and back.other.case_number == again.case_number and not back.other.visible
    )
    # Decided: no longer offered. Dismissing it then unlinks it, audited too.
    assert candidates_for_member(fag, newcomer) == []
    dismiss_candidate(fag, newcomer.id, earlier.id)
    db.session.commit()
    assert db.session.scalars(select(ReturneeLink)).one().decision is ReturneeDecision.DISMISSED
    assert linked_records(fag, again) == []
    assert (
        db.session.scalar(select(func.count()).where(AuditEvent.action == AuditAction.RETURNEE_DISMISS)) == 1
    )


def test_only_an_offered_record_can_be_linked(people):
    fag = people["fag"]
    again = make_family(fag, make_arrival(fag), members=[member("Pedro", "Sic Ajanel", sex="M", age=40)])
    with pytest.raises(ServiceError):
        link_returnee(fag, again.members[0].id, people["tecun_case"].members[0].id)
    with pytest.raises(LookupError):  # a member of another scope's case
        link_returnee(fag, people["tecun_case"].members[0].id, again.members[0].id)


def test_the_report_counts_the_re_migrations_of_its_period(people):
    fag = people["fag"]
    again = make_family(
        fag,
        make_arrival(fag),
        members=[member("María Elena", "López Pérez", age=None, birth_date="1990-05-03")],
    )
    november = ReportFilters(dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    assert build_report(fag, november).totals["remigrations"] == 0
    link_returnee(fag, again.members[0].id, people["fag_case"].members[0].id)
    db.session.commit()
    assert build_report(fag, november).totals["remigrations"] == 1
    # Counted on the return, not on the earlier case's period.
    march = ReportFilters(dt.date(2024, 3, 1), dt.date(2024, 3, 31))
    assert build_report(fag, march).totals["remigrations"] == 0


def _keys(member_id: int) -> set[str]:
    return set(db.session.scalars(select(MemberKey.key).where(MemberKey.member_id == member_id)))


def test_keys_follow_an_edit_and_go_with_anonymisation(people):
    fag, family = people["fag"], people["fag_case"]
    head = family.members[0]
    assert "lps mr 1990" in _keys(head.id)
    payload = family_payload(
        members=[
            {**member("Rosa", "Chávez Pu", age=None, birth_date="1990-05-03"), "id": head.id},
            {
                **member("Yesenia", "Velásquez Xol", relationship="DAUGHTER", age=14),
                "id": family.members[1].id,
            },
        ],
        version=family.version,
    )
    update_family(family, FamilyUnitSchema().load(payload), fag)
    db.session.commit()
    assert "lps mr 1990" not in _keys(head.id) and "cbs rs 1990" in _keys(head.id)
    assert find(fag, "Rosa", "Chávez", birth_date=dt.date(1990, 5, 3))[0].member_id == head.id
    anonymise_batch([family.id], dt.datetime.now(dt.UTC), 5)
    db.session.commit()
    assert (
        db.session.scalar(
            select(func.count()).select_from(MemberKey).join(Member).where(Member.family_id == family.id)
        )
        == 0
    )
    assert find(fag, "Rosa", "Chávez", birth_date=dt.date(1990, 5, 3)) == []
