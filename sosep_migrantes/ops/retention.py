"""Data retention: the personal data of cases closed longer ago than the retention period is removed.

``flask retention anonymise`` (docs/deploy.md, section 13) runs :func:`anonymise_batch` over the family
units whose case was closed (follow-up closure) more than ``RETENTION_YEARS`` ago, a batch of ids at a
time, one transaction per batch: a few set-based ``UPDATE … WHERE family_id IN (…)`` per table, never
ORM objects, so it runs on a database of a million persons.

What goes, in each case: the members' given names and surnames (emptied; ``members.full_name`` then reads
as a dash) and the search text built from them (the case number alone remains, as the search folds it),
CUIs and identity documents (type and number), dates of birth, health and disability notes; the family's
phone, address, community (the place below the municipality) and consent witness; and every free text
written about it: the family's notes, needs' notes, services' descriptions and who delivered them,
referrals' reasons and outcome notes, the notes of every referral step (the partner institutions'
answers), follow-ups' person contacted, notes and next action, linkages' notes and outside services'
names, transfers' reasons, closures' and reopenings' notes. A required text column is emptied (``''``),
the others set to null.

What stays, because the protocol report counts it (``reports.queries``) or the case would not read
without it: the case and referral numbers; the arrival, centre, destination municipality and department;
sex, relationship to the head, pueblo, languages, interpreter, disability and pregnancy flags; the *age at
arrival*, written into ``estimated_age`` (the column the report already reads when there is no date of
birth) from the date of birth by the report's own SQL rule (``core.sqltime.years_between``), so every
age group stays the same; needs, services' quantities, referrals' institutions, statuses and members,
follow-ups' dates, types and outcomes, linkages' institutions, transfers' sedes and municipalities,
closures' reasons; the status and follow-up dates; consent type and date; the audit trail (ids only); the
re-migrations linked to other cases (``returnee_links``: ids only). The members' phonetic keys
(``member_keys``, made of their names and dates of birth) are deleted.
Arrivals (a flight or a bus, shared by many families) are not changed.

A family is anonymised once: ``anonymised_at`` is set with the rest and such families are never picked
again. Its ``version`` is bumped, so an edit form opened before is refused as stale.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, case, delete, func, literal, null, select, update

from ..cases.models import CaseStatus, FamilyUnit, Member, MemberKey
from ..core.audit import AuditAction, record_many
from ..core.sqltime import local_date, years_between
from ..extensions import db
from ..followup.models import CaseClosure, CaseTransfer, ClosureKind, FollowUp, Linkage
from ..needs.models import FamilyNeed, ServiceDelivery
from ..reception.models import Arrival
from ..referrals.models import Referral, ReferralEvent

#: Family ids per batch (and per transaction): the ``IN (…)`` lists stay well under SQLite's 32,766
#: parameters, and a batch's row locks are held for well under a second.
BATCH_SIZE = 1000

#: The value of a required (NOT NULL) text column once anonymised.
EMPTY = ""

#: ``execution_options`` of the bulk statements: the session holds no objects of these rows to refresh.
_BULK: dict[str, Any] = {"synchronize_session": False}


@dataclass(frozen=True)
class Batch:
    """What one batch anonymised: the families' ids (ascending) and how many persons they had."""

    family_ids: list[int]
    persons: int


def retention_cutoff(now: dt.datetime, years: int) -> dt.datetime:
    """``now`` minus ``years`` calendar years (a 29 February becomes the 28th)."""
    try:
        return now.replace(year=now.year - years)
    except ValueError:
        return now.replace(year=now.year - years, day=28)


def _closed_before(cutoff: dt.datetime) -> ColumnElement[bool]:
    """The family's case is closed, and was closed (its latest closure) before ``cutoff``.

    The status is derived from the latest closure row (``followup.rules``): closed means that row is a
    closing, so its date is the closure's date, whatever reopenings and closings came before.
    """
    closed_at = (
        select(CaseClosure.created_at)
        .where(CaseClosure.family_id == FamilyUnit.id, CaseClosure.kind == ClosureKind.CLOSE)
        .order_by(CaseClosure.id.desc())
        .limit(1)
        .correlate(FamilyUnit)
        .scalar_subquery()
    )
    return (FamilyUnit.status == CaseStatus.CLOSED) & (closed_at < cutoff)


def due(cutoff: dt.datetime) -> ColumnElement[bool]:
    """The families to anonymise: closed before ``cutoff`` and not anonymised yet."""
    return FamilyUnit.anonymised_at.is_(None) & _closed_before(cutoff)


def count_due(cutoff: dt.datetime) -> tuple[int, int]:
    """(families, persons) that a run with this cutoff would anonymise (``--dry-run``)."""
    families = db.session.scalar(select(func.count()).select_from(FamilyUnit).where(due(cutoff)))
    persons = db.session.scalar(
        select(func.count())
        .select_from(Member)
        .join(FamilyUnit, FamilyUnit.id == Member.family_id)
        .where(due(cutoff))
    )
    return families or 0, persons or 0


def next_batch(cutoff: dt.datetime, after_id: int, size: int = BATCH_SIZE) -> list[int]:
    """The next ``size`` family ids due, above ``after_id``; locked until the transaction ends.

    The lock (PostgreSQL; SQLite has one writer anyway) keeps a sede from reopening or editing a case
    between this choice and its anonymisation: the other request waits, then sees the new version.
    """
    stmt = (
        select(FamilyUnit.id)
        .where(due(cutoff), FamilyUnit.id > after_id)
        .order_by(FamilyUnit.id)
        .limit(size)
        .with_for_update()
    )
    return list(db.session.scalars(stmt))


def anonymise_batch(family_ids: Sequence[int], now: dt.datetime, years: int) -> Batch:
    """Remove the personal data of these family units (see the module's docstring); audit each one.

    Set-based: one ``UPDATE`` per table for the whole batch. Adds no objects and flushes nothing; the
    caller's transaction commits (the command: one transaction per batch).
    """
    ids = list(family_ids)
    if not ids:
        return Batch([], 0)
    execute = db.session.execute
    counted = (
        select(Member.family_id, func.count()).where(Member.family_id.in_(ids)).group_by(Member.family_id)
    )
    persons: dict[int, int] = {family_id: n for family_id, n in db.session.execute(counted)}

    # The age at arrival first, from the date of birth about to go, by the report's rule and arrival day.
    arrived_on = (
        select(local_date(Arrival.arrived_at))
        .join(FamilyUnit, FamilyUnit.arrival_id == Arrival.id)
        .where(FamilyUnit.id == Member.family_id)
        .scalar_subquery()
    )
    execute(
        update(Member)
        .where(Member.family_id.in_(ids), Member.birth_date.is_not(None))
        .values(estimated_age=years_between(Member.birth_date, arrived_on)),
        execution_options=_BULK,
    )
    # The phonetic keys the returnee search finds a member by are made of its names and date of birth:
    # they go with them (a re-migration linked before stays linked, by ids only).
    execute(
        delete(MemberKey).where(MemberKey.member_id.in_(select(Member.id).where(Member.family_id.in_(ids)))),
        execution_options=_BULK,
    )
    execute(
        update(Member)
        .where(Member.family_id.in_(ids))
        .values(
            given_names=EMPTY,
            surnames=EMPTY,
            birth_date=None,
            cui=None,
            cui_check_confirmed=False,
            document_type_id=None,
            document_number=None,
            disability_notes=None,
            health_notes=None,
        ),
        execution_options=_BULK,
    )
    execute(
        update(FamilyUnit)
        .where(FamilyUnit.id.in_(ids))
        .values(
            community=None,
            address=None,
            phone=None,
            consent_witness=None,
            notes=None,
            # What cases.services.search_text_of gives with the names and documents gone: the folded case
            # number (centre code, year and sequence: ASCII, so lower() folds it as fold() does).
            search_text=func.lower(FamilyUnit.case_number),
            anonymised_at=now,
            version=FamilyUnit.version + 1,
        ),
        execution_options=_BULK,
    )
    execute(
        update(FamilyNeed).where(FamilyNeed.family_id.in_(ids)).values(notes=None), execution_options=_BULK
    )
    needs_of_batch = select(FamilyNeed.id).where(FamilyNeed.family_id.in_(ids))
    execute(
        update(ServiceDelivery)
        .where(ServiceDelivery.family_need_id.in_(needs_of_batch))
        .values(description=EMPTY, delivered_by=EMPTY),
        execution_options=_BULK,
    )
    execute(
        update(Referral).where(Referral.family_id.in_(ids)).values(reason=EMPTY, outcome_notes=None),
        execution_options=_BULK,
    )
    referrals_of_batch = select(Referral.id).where(Referral.family_id.in_(ids))
    execute(
        update(ReferralEvent).where(ReferralEvent.referral_id.in_(referrals_of_batch)).values(note=None),
        execution_options=_BULK,
    )
    execute(
        update(FollowUp)
        .where(FollowUp.family_id.in_(ids))
        .values(contacted_person=None, notes=None, next_action=None),
        execution_options=_BULK,
    )
    execute(
        update(Linkage)
        .where(Linkage.family_id.in_(ids))
        .values(
            note=None,
            # A linkage names its institution or an outside service (a CHECK): the name goes, not the fact.
            outside_service=case((Linkage.outside_service.is_(None), null()), else_=literal(EMPTY)),
        ),
        execution_options=_BULK,
    )
    execute(
        update(CaseTransfer).where(CaseTransfer.family_id.in_(ids)).values(reason=EMPTY),
        execution_options=_BULK,
    )
    execute(
        update(CaseClosure).where(CaseClosure.family_id.in_(ids)).values(note=None), execution_options=_BULK
    )
    record_many(
        AuditAction.FAMILY_ANONYMISE,
        "family",
        {family_id: {"persons": persons.get(family_id, 0), "retention_years": years} for family_id in ids},
    )
    return Batch(ids, sum(persons.values()))
