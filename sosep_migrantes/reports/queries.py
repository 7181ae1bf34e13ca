"""The report's figures: every one a SQL aggregate over the families and persons of the period, in scope.

Two common table expressions carry the report's population: ``report_families`` (the families whose
arrival falls in the period, in Guatemala time, within the user's scope and the filters) and
``report_members`` (their members, with the age at arrival computed by the service's age rule in SQL).
Every breakdown is one ``GROUP BY`` over them, so the figures are the same on SQLite and PostgreSQL and
add up across breakdowns (sexes to persons, departments to families, months to the period).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    Date,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    and_,
    case,
    distinct,
    false,
    func,
    insert,
    literal,
    select,
    text,
    update,
)

from ..auth.models import User
from ..cases.models import CaseStatus, FamilyUnit, Member, family_protection_causes, member_languages
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
from ..returnees.models import ReturneeDecision, ReturneeLink


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


def report_families(user: User, filters: ReportFilters) -> Select[*tuple[Any, ...]]:
    """The families of the report: in the user's scope, arrived in the period, matching the filters.

    With what every breakdown groups by already on the row (the arrival's day, route and centre code, the
    destination's department, the number of members), so no breakdown joins back to the big tables.
    """
    scoped = scoped_families(user) if may_report(user) else select(FamilyUnit).where(false())
    stmt = (
        scoped.with_only_columns(
            FamilyUnit.id.label("family_id"),
            FamilyUnit.arrival_id,
            FamilyUnit.centre_id,
            Centre.code.label("centre_code"),
            FamilyUnit.destination_municipality_id.label("municipality_id"),
            Municipality.department_id,
            FamilyUnit.status,
            FamilyUnit.first_contact_on,
            local_date(Arrival.arrived_at).label("arrived_on"),
            Arrival.mode,
            Arrival.mode.concat(literal("-")).concat(Country.code).label("route"),
            literal(0).label("size"),  # counted from report_members once they are written
        )
        .join(Arrival, Arrival.id == FamilyUnit.arrival_id)
        .join(Centre, Centre.id == FamilyUnit.centre_id)
        .join(Country, Country.id == Arrival.country_id)
        .join(Municipality, Municipality.id == FamilyUnit.destination_municipality_id)
        .where(Arrival.arrived_at >= _day_start(filters.start))
        .where(Arrival.arrived_at < _day_start(filters.end + dt.timedelta(days=1)))
        # Pre-registered from a passenger list, not received yet: counted once the desk confirms them.
        .where(FamilyUnit.status != CaseStatus.PREREGISTERED)
    )
    if filters.centre_id:
        stmt = stmt.where(FamilyUnit.centre_id == filters.centre_id)
    if filters.mode:
        stmt = stmt.where(Arrival.mode == filters.mode)
    if filters.country_id:
        stmt = stmt.where(Arrival.country_id == filters.country_id)
    if filters.department_id:
        stmt = stmt.where(Municipality.department_id == filters.department_id)
    if filters.sede_id and user.role_enum is not Role.SEDE:
        covered = select(sede_municipalities.c.municipality_id).where(
            sede_municipalities.c.sede_id == filters.sede_id
        )
        stmt = stmt.where(FamilyUnit.destination_municipality_id.in_(covered))
    return stmt


#: The report's population, written once per report into temporary tables (private to the connection,
#: dropped after the report): the breakdowns then read a few thousand narrow rows each instead of joining
#: the period's arrivals, families and members again (a national year took 15 s as common table
#: expressions, recomputed by every breakdown).
_temporary = MetaData()
REPORT_FAMILIES = Table(
    "report_families",
    _temporary,
    Column("family_id", Integer, primary_key=True),
    Column("arrival_id", Integer),
    Column("centre_id", Integer),
    Column("centre_code", String(20)),
    Column("municipality_id", Integer),
    Column("department_id", Integer),
    Column("status", String(20)),
    Column("first_contact_on", Date),
    Column("arrived_on", Date),
    Column("mode", String(20)),
    Column("route", String(40)),
    Column("size", Integer),
    prefixes=["TEMPORARY"],
)
REPORT_MEMBERS = Table(
    "report_members",
    _temporary,
    Column("member_id", Integer),
    Column("family_id", Integer),
    Column("sex", String(20)),
    Column("age", Integer),
    Column("relationship", String(40)),
    Column("pueblo_id", Integer),
    Column("needs_interpreter", Boolean),
    prefixes=["TEMPORARY"],
)


def report_members(families: Table) -> Select[*tuple[Any, ...]]:
    """The members of the report's families, with their age at arrival and relationship code."""
    age = case(
        (Member.birth_date.is_(None), func.coalesce(Member.estimated_age, 0)),
        else_=years_between(Member.birth_date, families.c.arrived_on),
    )
    return (
        select(
            Member.id,
            Member.family_id,
            Member.sex,
            age,
            FamilyRelationship.code,
            Member.pueblo_id,
            Member.needs_interpreter,
        )
        .join(families, families.c.family_id == Member.family_id)
        .join(FamilyRelationship, FamilyRelationship.id == Member.relationship_id)
    )


@dataclass
class Population:
    families: Table
    members: Table
    #: The lowest and highest family and member ids of the population. Families are registered as they
    #: arrive, so a period's ids are (nearly) one range: joining the big tables (needs, services,
    #: languages, follow-ups) within it reads a slice of their index instead of the whole table.
    family_ids: tuple[int, int] = (0, 0)
    member_ids: tuple[int, int] = (0, 0)

    def families_of(self, column: Any) -> Any:
        """``column`` (a family id of another table) within the population's range, joined to it."""
        return and_(column.between(*self.family_ids), column == self.families.c.family_id)


def _drop_population() -> None:
    connection = db.session.connection()
    for table in (REPORT_MEMBERS, REPORT_FAMILIES):
        connection.execute(text(f"DROP TABLE IF EXISTS {table.name}"))


def population(user: User, filters: ReportFilters) -> Population:
    """Write the report's families and members into this connection's temporary tables."""
    _drop_population()
    connection = db.session.connection()
    for table in (REPORT_FAMILIES, REPORT_MEMBERS):
        table.create(connection)
    families = report_families(user, filters)
    connection.execute(insert(REPORT_FAMILIES).from_select([c.name for c in REPORT_FAMILIES.c], families))
    f, m = REPORT_FAMILIES, REPORT_MEMBERS
    low, high = connection.execute(select(func.min(f.c.family_id), func.max(f.c.family_id))).one()
    family_ids = (low or 0, high or 0)
    members = report_members(f).where(Member.family_id.between(*family_ids))
    connection.execute(insert(m).from_select([c.name for c in m.c], members))
    sizes = select(m.c.family_id, func.count().label("n")).group_by(m.c.family_id).subquery()
    connection.execute(update(f).values(size=sizes.c.n).where(f.c.family_id == sizes.c.family_id))
    low, high = connection.execute(select(func.min(m.c.member_id), func.max(m.c.member_id))).one()
    return Population(f, m, family_ids, (low or 0, high or 0))


@contextmanager
def report_population(user: User, filters: ReportFilters) -> Iterator[Population]:
    """The population for the duration of the block; the temporary tables are dropped after it."""
    try:
        yield population(user, filters)
    finally:
        _drop_population()


def _rows(stmt: Select[*tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in db.session.execute(stmt)]


# -- families, persons, arrivals ----------------------------------------------------------------------


def totals(p: Population) -> dict[str, int]:
    """Families, persons, arrivals, arrivals by mode (flights and buses), and re-migrations."""
    f = p.families
    families, persons, arrivals, flights, buses = db.session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(f.c.size), 0),
            func.count(distinct(f.c.arrival_id)),
            func.count(distinct(case((f.c.mode == "air", f.c.arrival_id)))),
            func.count(distinct(case((f.c.mode == "land", f.c.arrival_id)))),
        ).select_from(f)
    ).one()
    return {
        "families": families,
        "persons": int(persons),
        "arrivals": arrivals,
        "flights": flights,
        "buses": buses,
        "remigrations": remigrations(p),
    }


def remigrations(p: Population) -> int:
    """Persons of the period linked by staff to an earlier record of theirs (a re-migration, issue #12):
    counted on the later case, the one whose arrival falls in the period."""
    m = p.members
    return (
        db.session.scalar(
            select(func.count(distinct(m.c.member_id)))
            .select_from(m)
            .join(ReturneeLink, ReturneeLink.member_id == m.c.member_id)
            .where(ReturneeLink.decision == ReturneeDecision.LINKED)
        )
        or 0
    )


def _families_and_persons(p: Population, key: ColumnElement[Any]) -> dict[Any, tuple[int, int]]:
    """``{key: (families, persons)}`` grouped by a column of ``report_families``."""
    f = p.families
    stmt = select(key.label("k"), func.count(), func.coalesce(func.sum(f.c.size), 0)).group_by(key)
    return {k: (families, int(n)) for k, families, n in _rows(stmt)}


def by_month(p: Population) -> dict[str, tuple[int, int]]:
    return _families_and_persons(p, month_of(p.families.c.arrived_on))


def by_route(p: Population) -> dict[str, tuple[int, int]]:
    """``air-US``, ``air-MX``, ``land-MX``... from the arrival's mode and country code."""
    return _families_and_persons(p, p.families.c.route)


def by_centre(p: Population) -> dict[str, tuple[int, int]]:
    return _families_and_persons(p, p.families.c.centre_code)


def by_department(p: Population) -> dict[int, tuple[int, int]]:
    return _families_and_persons(p, p.families.c.department_id)


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
        .join(
            m,
            and_(
                member_languages.c.member_id.between(*p.member_ids),
                m.c.member_id == member_languages.c.member_id,
            ),
        )
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
        .join(f, p.families_of(FamilyNeed.family_id))
        .group_by(FamilyNeed.need_id)
    )
    return {need_id: (n, attended, referred) for need_id, n, attended, referred in _rows(stmt)}


def services(p: Population) -> dict[int, tuple[int, int]]:
    """Per need: services delivered at the centre and their total quantity."""
    f = p.families
    stmt = (
        select(FamilyNeed.need_id, func.count(), func.coalesce(func.sum(ServiceDelivery.quantity), 0))
        .join(FamilyNeed, FamilyNeed.id == ServiceDelivery.family_need_id)
        .join(f, p.families_of(FamilyNeed.family_id))
        .group_by(FamilyNeed.need_id)
    )
    return {need_id: (n, int(quantity)) for need_id, n, quantity in _rows(stmt)}


def referrals(p: Population) -> dict[tuple[int, str], int]:
    """Referrals with a slip (sent or later, not cancelled drafts) by institution and status."""
    f = p.families
    stmt = (
        select(Referral.institution_id, Referral.status, func.count())
        .join(f, p.families_of(Referral.family_id))
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
        .join(f, p.families_of(causes.family_id))
        .group_by(causes.cause_id)
    )
    any_cause = (
        select(func.count(distinct(causes.family_id)))
        .join(f, p.families_of(causes.family_id))
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
        ).join(f, p.families_of(FollowUp.family_id))
    ).one()
    # A linkage of the whole family counts all its members; one of a member counts that member.
    members_linked = case((Linkage.member_id.is_(None), f.c.size), else_=literal(1))
    linked_rows = _rows(
        select(Linkage.institution_id, func.count(distinct(Linkage.family_id)), func.sum(members_linked))
        .join(f, p.families_of(Linkage.family_id))
        .group_by(Linkage.institution_id)
    )
    days = days_between(f.c.arrived_on, f.c.first_contact_on)
    distribution = _rows(
        select(days, func.count()).select_from(f).where(f.c.first_contact_on.is_not(None)).group_by(days)
    )
    latest = (
        select(CaseClosure.family_id, func.max(CaseClosure.id).label("closure_id"))
        .join(f, p.families_of(CaseClosure.family_id))
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
