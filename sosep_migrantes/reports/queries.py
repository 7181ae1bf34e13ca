"""The report's figures: every one a SQL aggregate over the families and persons of the period, in scope.

Two common table expressions carry the report's population: ``report_families`` (the families whose
arrival falls in the period, in Guatemala time, within the user's scope and the filters) and
``report_members`` (their members, with the age at arrival computed by the service's age rule in SQL).
Every breakdown is one ``GROUP BY`` over them, so the figures are the same on SQLite and PostgreSQL and
add up across breakdowns (sexes to persons, departments to families, months to the period).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import CTE, ColumnElement, Select, and_, case, distinct, false, func, literal, select

from ..auth.models import User
from ..cases.models import FamilyUnit, Member, family_protection_causes, member_languages
from ..cases.queries import scoped_families
from ..catalogs.models import (
    Centre,
    Country,
    Department,
    FamilyRelationship,
    Municipality,
    sede_municipalities,
)
from ..core.permissions import Permission, Role
from ..core.sqltime import days_between, local_date, month_of, years_between
from ..core.timeutil import LOCAL_TZ
from ..extensions import db
from ..followup.models import CaseClosure, ClosureKind, ContactOutcome, FollowUp, Linkage
from ..needs.models import FamilyNeed, NeedStatus, ServiceDelivery
from ..reception.models import Arrival
from ..referrals.models import Referral


@dataclass(frozen=True)
class ReportFilters:
    """The period (both days included, Guatemala time) and the optional filters of a report."""

    start: dt.date
    end: dt.date
    centre_id: int | None = None
    mode: str | None = None
    country_id: int | None = None
    department_id: int | None = None
    sede_id: int | None = None


#: Age groups at arrival: (code, lowest age, highest age or None).
AGE_GROUPS: tuple[tuple[str, int, int | None], ...] = (
    ("0-5", 0, 5),
    ("6-12", 6, 12),
    ("13-17", 13, 17),
    ("18-29", 18, 29),
    ("30-59", 30, 59),
    ("60+", 60, None),
)

#: Relationship to the head, as the institutions count members: (code, relationship codes).
RELATIONSHIP_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("HEAD", ("HEAD",)),
    ("MOTHER", ("MOTHER",)),
    ("FATHER", ("FATHER",)),
    ("SON", ("SON",)),
    ("DAUGHTER", ("DAUGHTER",)),
)
OTHER_RELATIONSHIP = "OTHER"


def may_report(user: User) -> bool:
    return user.can(Permission.REPORT_VIEW)


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=LOCAL_TZ).astimezone(dt.UTC)


def report_families(user: User, filters: ReportFilters) -> CTE:
    """The families of the report: in the user's scope, arrived in the period, matching the filters."""
    scoped = scoped_families(user) if may_report(user) else select(FamilyUnit).where(false())
    stmt = (
        scoped.with_only_columns(
            FamilyUnit.id.label("family_id"),
            FamilyUnit.arrival_id,
            FamilyUnit.centre_id,
            FamilyUnit.destination_municipality_id.label("municipality_id"),
            FamilyUnit.status,
            FamilyUnit.first_contact_on,
            Arrival.arrived_at,
            local_date(Arrival.arrived_at).label("arrived_on"),
            Arrival.mode,
            Arrival.country_id,
        )
        .join(Arrival, Arrival.id == FamilyUnit.arrival_id)
        .where(Arrival.arrived_at >= _day_start(filters.start))
        .where(Arrival.arrived_at < _day_start(filters.end + dt.timedelta(days=1)))
    )
    if filters.centre_id:
        stmt = stmt.where(FamilyUnit.centre_id == filters.centre_id)
    if filters.mode:
        stmt = stmt.where(Arrival.mode == filters.mode)
    if filters.country_id:
        stmt = stmt.where(Arrival.country_id == filters.country_id)
    if filters.department_id:
        in_department = select(Municipality.id).where(Municipality.department_id == filters.department_id)
        stmt = stmt.where(FamilyUnit.destination_municipality_id.in_(in_department))
    if filters.sede_id and user.role_enum is not Role.SEDE:
        covered = select(sede_municipalities.c.municipality_id).where(
            sede_municipalities.c.sede_id == filters.sede_id
        )
        stmt = stmt.where(FamilyUnit.destination_municipality_id.in_(covered))
    return stmt.cte("report_families")


def report_members(families: CTE) -> CTE:
    """The members of the report's families, with their age at arrival and relationship code."""
    age = case(
        (Member.birth_date.is_(None), func.coalesce(Member.estimated_age, 0)),
        else_=years_between(Member.birth_date, families.c.arrived_on),
    )
    return (
        select(
            Member.id.label("member_id"),
            Member.family_id,
            Member.sex,
            age.label("age"),
            FamilyRelationship.code.label("relationship"),
            Member.pueblo_id,
            Member.needs_interpreter,
            families.c.arrived_on,
        )
        .join(families, families.c.family_id == Member.family_id)
        .join(FamilyRelationship, FamilyRelationship.id == Member.relationship_id)
        .cte("report_members")
    )


@dataclass
class Population:
    families: CTE
    members: CTE


def population(user: User, filters: ReportFilters) -> Population:
    families = report_families(user, filters)
    return Population(families, report_members(families))


def _rows(stmt: Select[*tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in db.session.execute(stmt)]


# -- families, persons, arrivals ----------------------------------------------------------------------


def totals(p: Population) -> dict[str, int]:
    """Families, persons, arrivals, and arrivals by mode (flights and buses)."""
    f, m = p.families, p.members
    families, arrivals, flights, buses = db.session.execute(
        select(
            func.count(),
            func.count(distinct(f.c.arrival_id)),
            func.count(distinct(case((f.c.mode == "air", f.c.arrival_id)))),
            func.count(distinct(case((f.c.mode == "land", f.c.arrival_id)))),
        ).select_from(f)
    ).one()
    persons = db.session.scalar(select(func.count()).select_from(m)) or 0
    return {
        "families": families,
        "persons": persons,
        "arrivals": arrivals,
        "flights": flights,
        "buses": buses,
    }


def _families_and_persons(p: Population, key: ColumnElement[Any]) -> dict[Any, tuple[int, int]]:
    """``{key: (families, persons)}`` grouped by an expression over ``report_families``."""
    f, m = p.families, p.members
    persons = (
        select(m.c.family_id, func.count().label("n")).group_by(m.c.family_id).subquery("persons_per_family")
    )
    stmt = (
        select(key.label("k"), func.count(), func.coalesce(func.sum(persons.c.n), 0))
        .select_from(f)
        .outerjoin(persons, persons.c.family_id == f.c.family_id)
        .group_by(key)
    )
    return {k: (families, int(n)) for k, families, n in _rows(stmt)}


def by_month(p: Population) -> dict[str, tuple[int, int]]:
    return _families_and_persons(p, month_of(p.families.c.arrived_on))


def route_of(p: Population) -> ColumnElement[str]:
    """``air-US``, ``air-MX``, ``land-MX``... from the arrival's mode and country code."""
    country = select(Country.code).where(Country.id == p.families.c.country_id).scalar_subquery()
    return p.families.c.mode.concat(literal("-")).concat(country)


def by_route(p: Population) -> dict[str, tuple[int, int]]:
    return _families_and_persons(p, route_of(p))


def by_centre(p: Population) -> dict[str, tuple[int, int]]:
    code = select(Centre.code).where(Centre.id == p.families.c.centre_id).scalar_subquery()
    return _families_and_persons(p, code)


def by_department(p: Population) -> dict[int, tuple[int, int]]:
    department = (
        select(Municipality.department_id)
        .where(Municipality.id == p.families.c.municipality_id)
        .scalar_subquery()
    )
    return _families_and_persons(p, department)


def by_municipality(p: Population) -> dict[int, tuple[int, int]]:
    return _families_and_persons(p, p.families.c.municipality_id)


# -- persons ------------------------------------------------------------------------------------------


def age_group(age: ColumnElement[int]) -> ColumnElement[str]:
    whens = []
    for code, low, high in AGE_GROUPS:
        condition = age >= low if high is None else and_(age >= low, age <= high)
        whens.append((condition, literal(code)))
    return case(*whens, else_=literal(AGE_GROUPS[-1][0]))


def by_sex_and_age(p: Population) -> dict[tuple[str, str], int]:
    m = p.members
    group = age_group(m.c.age)
    stmt = select(group, m.c.sex, func.count()).group_by(group, m.c.sex)
    return {(g, str(sex)): n for g, sex, n in _rows(stmt)}


def young_children(p: Population) -> dict[str, int]:
    """Children under 1 and under 6 (differentiated food), families with a child under 7 (Hogares)."""
    m = p.members
    under_1, under_6, families_under_7 = db.session.execute(
        select(
            func.count().filter(m.c.age < 1),
            func.count().filter(m.c.age < 6),
            func.count(distinct(case((m.c.age < 7, m.c.family_id)))),
        )
    ).one()
    return {"under_1": under_1, "under_6": under_6, "families_with_child_under_7": families_under_7}


def relationship_group(code: ColumnElement[str]) -> ColumnElement[str]:
    return case(
        *((code.in_(codes), literal(group)) for group, codes in RELATIONSHIP_GROUPS),
        else_=literal(OTHER_RELATIONSHIP),
    )


def by_relationship(p: Population) -> dict[str, int]:
    m = p.members
    group = relationship_group(m.c.relationship)
    return dict(_rows(select(group, func.count()).group_by(group)))


def by_pueblo(p: Population) -> dict[int | None, int]:
    m = p.members
    return dict(_rows(select(m.c.pueblo_id, func.count()).group_by(m.c.pueblo_id)))


def by_language(p: Population) -> dict[int, int]:
    """Persons speaking each language (a person may speak several: these do not add up to persons)."""
    m = p.members
    stmt = (
        select(member_languages.c.language_id, func.count())
        .join(m, m.c.member_id == member_languages.c.member_id)
        .group_by(member_languages.c.language_id)
    )
    return dict(_rows(stmt))


def interpreter_needed(p: Population) -> int:
    m = p.members
    return db.session.scalar(select(func.count()).select_from(m).where(m.c.needs_interpreter.is_(True))) or 0


# -- needs, services, referrals, protection ---------------------------------------------------------


def needs(p: Population) -> dict[int, tuple[int, int, int]]:
    """Per need: identified (all recorded), attended at the centre, referred."""
    f = p.families
    stmt = (
        select(
            FamilyNeed.need_id,
            func.count(),
            func.count().filter(FamilyNeed.status == NeedStatus.ATTENDED),
            func.count().filter(FamilyNeed.status == NeedStatus.REFERRED),
        )
        .join(f, f.c.family_id == FamilyNeed.family_id)
        .group_by(FamilyNeed.need_id)
    )
    return {need_id: (n, attended, referred) for need_id, n, attended, referred in _rows(stmt)}


def services(p: Population) -> dict[int, tuple[int, int]]:
    """Per need: services delivered at the centre and their total quantity."""
    f = p.families
    stmt = (
        select(FamilyNeed.need_id, func.count(), func.coalesce(func.sum(ServiceDelivery.quantity), 0))
        .join(FamilyNeed, FamilyNeed.id == ServiceDelivery.family_need_id)
        .join(f, f.c.family_id == FamilyNeed.family_id)
        .group_by(FamilyNeed.need_id)
    )
    return {need_id: (n, int(quantity)) for need_id, n, quantity in _rows(stmt)}


def referrals(p: Population) -> dict[tuple[int, str], int]:
    """Referrals with a slip (sent or later, not cancelled drafts) by institution and status."""
    f = p.families
    stmt = (
        select(Referral.institution_id, Referral.status, func.count())
        .join(f, f.c.family_id == Referral.family_id)
        .where(Referral.has_slip)
        .group_by(Referral.institution_id, Referral.status)
    )
    return {(institution, str(status)): n for institution, status, n in _rows(stmt)}


def protection(p: Population) -> tuple[dict[int, int], int]:
    """Families per protection-risk cause, and families with at least one (a family may have several)."""
    f = p.families
    causes = family_protection_causes.c
    stmt = (
        select(causes.cause_id, func.count())
        .join(f, f.c.family_id == causes.family_id)
        .group_by(causes.cause_id)
    )
    any_cause = (
        select(func.count(distinct(causes.family_id)))
        .join(f, f.c.family_id == causes.family_id)
        .scalar_subquery()
    )
    return dict(_rows(stmt)), db.session.scalar(select(any_cause)) or 0


# -- follow-up ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FollowUpFigures:
    followed: int
    located: int
    #: Families (and persons) linked, per institution (None: an outside service).
    linked: dict[int | None, tuple[int, int]]
    days_to_first_contact: dict[int, int]
    closures: dict[str, int]

    @property
    def located_rate(self) -> float | None:
        return self.located / self.followed if self.followed else None


def followup(p: Population) -> FollowUpFigures:
    """The period's families followed up, located, linked per programme; days to first contact; closures."""
    f = p.families
    followed, located = db.session.execute(
        select(
            func.count(distinct(FollowUp.family_id)),
            func.count(distinct(case((FollowUp.outcome == ContactOutcome.LOCATED, FollowUp.family_id)))),
        ).join(f, f.c.family_id == FollowUp.family_id)
    ).one()
    # A linkage of the whole family counts all its members; one of a member counts that member.
    m = p.members
    members_linked = case(
        (
            Linkage.member_id.is_(None),
            select(func.count()).where(m.c.family_id == Linkage.family_id).scalar_subquery(),
        ),
        else_=literal(1),
    )
    linked_rows = _rows(
        select(Linkage.institution_id, func.count(distinct(Linkage.family_id)), func.sum(members_linked))
        .join(f, f.c.family_id == Linkage.family_id)
        .group_by(Linkage.institution_id)
    )
    days = days_between(f.c.arrived_on, f.c.first_contact_on)
    distribution = _rows(
        select(days, func.count()).select_from(f).where(f.c.first_contact_on.is_not(None)).group_by(days)
    )
    latest = (
        select(CaseClosure.family_id, func.max(CaseClosure.id).label("closure_id"))
        .join(f, f.c.family_id == CaseClosure.family_id)
        .group_by(CaseClosure.family_id)
        .subquery()
    )
    closures = _rows(
        select(CaseClosure.reason, func.count())
        .join(latest, latest.c.closure_id == CaseClosure.id)
        .where(CaseClosure.kind == ClosureKind.CLOSE)
        .group_by(CaseClosure.reason)
    )
    return FollowUpFigures(
        followed=followed,
        located=located,
        linked={institution: (families, int(persons or 0)) for institution, families, persons in linked_rows},
        days_to_first_contact={int(d): n for d, n in distribution},
        closures={str(reason): n for reason, n in closures},
    )


def department_names() -> dict[int, str]:
    return dict(_rows(select(Department.id, Department.name)))
