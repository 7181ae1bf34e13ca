"""The sede inbox and the coordinators' view per sede: what is new, open, overdue and due, in few queries.

Both read the follow-up columns :func:`.services.refresh_case` keeps on ``family_units`` (due date, first
and last contact, transfer) instead of recomputing them from the events, so a sede with tens of
thousands of cases answers from an index.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, or_, select
from sqlalchemy.orm import joinedload, lazyload

from ..auth.models import User
from ..cases.models import CASE_STATUS_LABELS, CaseStatus, FamilyUnit
from ..cases.queries import CaseRow, case_rows, scoped_families
from ..catalogs.models import Municipality, Sede, sede_municipalities
from ..core.permissions import Role
from ..core.sqltime import days_between, local_date
from ..core.timeutil import to_local, today_local
from ..extensions import db
from ..reception.models import Arrival
from . import rules
from .models import CaseClosure, CaseTransfer, ClosureKind, FollowUp, Linkage

#: Status filter values besides each :class:`CaseStatus`: every case not closed (the default), or all.
OPEN, ALL = "open", "all"
#: A family pre-registered from a passenger list is not received yet: no sede follows it up until the
#: desk confirms it, so the inbox, its counts and the view per sede leave it out.
FOLLOWED_STATUSES = tuple(s for s in CaseStatus if s is not CaseStatus.PREREGISTERED)
OPEN_STATUSES = tuple(s for s in FOLLOWED_STATUSES if s is not CaseStatus.CLOSED)


class Sort:
    NEWEST = "newest"
    DUE = "due"
    LAST_CONTACT = "last_contact"
    ALL = (NEWEST, DUE, LAST_CONTACT)


@dataclass
class InboxFilters:
    #: The sede whose cases are shown: a sede user's own, a coordinator's choice, ``None`` for the country.
    sede_id: int | None = None
    status: str = OPEN
    overdue_only: bool = False
    protection_only: bool = False
    municipality_id: int | None = None
    sort: str = Sort.NEWEST


def inbox_families(user: User, filters: InboxFilters) -> Select[Any]:
    """The families of the inbox: the user's scope, narrowed to the chosen sede and the filters."""
    stmt = scoped_families(user)
    if filters.sede_id is not None and user.role_enum is not Role.SEDE:
        # A sede user's scope is its sede already; a coordinator chooses one.
        covered = select(sede_municipalities.c.municipality_id).where(
            sede_municipalities.c.sede_id == filters.sede_id
        )
        stmt = stmt.where(FamilyUnit.destination_municipality_id.in_(covered))
    if filters.status == OPEN:
        stmt = stmt.where(FamilyUnit.status.in_(OPEN_STATUSES))
    elif filters.status in FOLLOWED_STATUSES:
        stmt = stmt.where(FamilyUnit.status == filters.status)
    else:  # all of them, or a status the inbox does not show (pre-registered)
        stmt = stmt.where(FamilyUnit.status.in_(FOLLOWED_STATUSES))
    if filters.municipality_id:
        stmt = stmt.where(FamilyUnit.destination_municipality_id == filters.municipality_id)
    if filters.protection_only:
        stmt = stmt.where(FamilyUnit.protection_risk.is_(True))
    return stmt


def _overdue(today: dt.date) -> ColumnElement[bool]:
    return FamilyUnit.followup_due_on < today


def _due_this_week(today: dt.date) -> ColumnElement[bool]:
    return FamilyUnit.followup_due_on.between(today, rules.week_end(today))


def _is_new(since: dt.datetime) -> ColumnElement[bool]:
    return or_(FamilyUnit.created_at > since, FamilyUnit.transferred_at > since)


@dataclass(frozen=True)
class InboxCounts:
    new: int
    open: int
    overdue: int
    due_this_week: int


def inbox_counts(user: User, filters: InboxFilters, today: dt.date, since: dt.datetime) -> InboxCounts:
    """The figures at the top of the inbox, for the chosen sede (not narrowed by the other filters)."""
    scope = inbox_families(user, InboxFilters(sede_id=filters.sede_id, status=OPEN))
    row = db.session.execute(
        scope.with_only_columns(
            func.count().filter(_is_new(since)),
            func.count(),
            func.count().filter(_overdue(today)),
            func.count().filter(_due_this_week(today)),
        )
    ).one()
    return InboxCounts(new=row[0], open=row[1], overdue=row[2], due_this_week=row[3])


@dataclass(frozen=True)
class InboxRow:
    case: CaseRow
    due_on: dt.date | None
    last_contact_on: dt.date | None
    transferred_at: dt.datetime | None
    created_at: dt.datetime
    today: dt.date
    since: dt.datetime

    @property
    def days_since_arrival(self) -> int:
        return (self.today - to_local(self.case.arrived_at).date()).days

    @property
    def is_overdue(self) -> bool:
        return rules.is_overdue(self.due_on, self.today)

    @property
    def days_overdue(self) -> int:
        return (self.today - self.due_on).days if self.due_on is not None else 0

    @property
    def is_due_this_week(self) -> bool:
        return rules.is_due_this_week(self.due_on, self.today)

    @property
    def is_new(self) -> bool:
        return _after(self.created_at, self.since) or _after(self.transferred_at, self.since)

    @property
    def was_transferred(self) -> bool:
        """Moved here from another sede and not contacted since."""
        if self.transferred_at is None:
            return False
        return self.last_contact_on is None or self.last_contact_on < to_local(self.transferred_at).date()


def _after(value: dt.datetime | None, since: dt.datetime) -> bool:
    if value is None:
        return False
    if value.tzinfo is None:  # SQLite gives naive UTC back
        value = value.replace(tzinfo=dt.UTC)
    return value > since


_EXTRA = (
    FamilyUnit.followup_due_on,
    FamilyUnit.last_contact_on,
    FamilyUnit.transferred_at,
    FamilyUnit.created_at,
)
_CASE_ROW_FIELDS = tuple(CaseRow.__dataclass_fields__)


def ordered(stmt: Select[Any], filters: InboxFilters, today: dt.date) -> Select[Any]:
    """The inbox's order. A protection-risk case goes first among cases equal on the chosen order."""
    stmt = stmt.join(Arrival, Arrival.id == FamilyUnit.arrival_id)
    if filters.overdue_only:
        stmt = stmt.where(_overdue(today))
    risk_first = FamilyUnit.protection_risk.desc()
    if filters.sort == Sort.DUE:
        return stmt.order_by(
            FamilyUnit.followup_due_on.is_(None), FamilyUnit.followup_due_on, risk_first, FamilyUnit.id
        )
    if filters.sort == Sort.LAST_CONTACT:
        # Longest without contact first: never contacted, then the oldest contact.
        return stmt.order_by(
            FamilyUnit.last_contact_on.is_not(None),
            FamilyUnit.last_contact_on,
            risk_first,
            Arrival.arrived_at,
            FamilyUnit.id,
        )
    return stmt.order_by(Arrival.arrived_at.desc(), risk_first, FamilyUnit.case_seq.desc(), FamilyUnit.id)


def inbox_loader(today: dt.date, since: dt.datetime) -> Any:
    """The ``load`` of :func:`core.pagination.paginate` for inbox pages: one query, no ORM objects."""

    def load(stmt: Select[Any]) -> list[InboxRow]:
        rows = db.session.execute(case_rows(stmt).add_columns(*_EXTRA))
        found = []
        for row in rows:
            values = row._mapping
            found.append(
                InboxRow(
                    case=CaseRow(**{k: values[k] for k in _CASE_ROW_FIELDS}),
                    due_on=values["followup_due_on"],
                    last_contact_on=values["last_contact_on"],
                    transferred_at=values["transferred_at"],
                    created_at=values["created_at"],
                    today=today,
                    since=since,
                )
            )
        return found

    return load


def count_stmt(stmt: Select[Any], filters: InboxFilters, today: dt.date) -> Select[Any]:
    return stmt.where(_overdue(today)) if filters.overdue_only else stmt


def municipalities_of(sede_id: int | None) -> list[Municipality]:
    """The municipalities a sede covers (its inbox's municipality filter)."""
    if sede_id is None:
        return []
    return list(
        db.session.scalars(
            select(Municipality)
            .join(sede_municipalities, sede_municipalities.c.municipality_id == Municipality.id)
            .where(sede_municipalities.c.sede_id == sede_id)
            .order_by(Municipality.name)
        )
    )


# -- the coordinators' view per sede ----------------------------------------------------------------


@dataclass
class SedeFigures:
    sede: Sede
    open: int = 0
    overdue: int = 0
    due_this_week: int = 0
    linked_this_month: int = 0
    #: Median days from arrival to first contact, over the cases first contacted in the last year.
    median_days_to_contact: float | None = None
    contacted: int = 0
    days: dict[int, int] = field(default_factory=dict)


#: The period over which the days from arrival to first contact are measured.
CONTACT_PERIOD_DAYS = 365


def sede_overview(today: dt.date) -> list[SedeFigures]:
    """For each sede: open, overdue, due this week, linked this month, median days to first contact.

    Two statements whatever the number of sedes: the counts per sede (with the linkages of the month in
    a subquery), and the distribution of days to first contact per sede, from which the median is taken.
    """
    sedes = {s.id: SedeFigures(s) for s in db.session.scalars(select(Sede).order_by(Sede.name))}
    sm = sede_municipalities.c
    month_start = today.replace(day=1)
    linked = (
        select(sm.sede_id, func.count(func.distinct(Linkage.family_id)).label("n"))
        .join(FamilyUnit, FamilyUnit.id == Linkage.family_id)
        .join(sede_municipalities, sm.municipality_id == FamilyUnit.destination_municipality_id)
        .where(Linkage.linked_on >= month_start, Linkage.linked_on <= today)
        .group_by(sm.sede_id)
        .subquery()
    )
    counts = (
        select(
            sm.sede_id,
            func.count(),
            func.count().filter(_overdue(today)),
            func.count().filter(_due_this_week(today)),
        )
        .join(FamilyUnit, FamilyUnit.destination_municipality_id == sm.municipality_id)
        .where(FamilyUnit.status.in_(OPEN_STATUSES))
        .group_by(sm.sede_id)
        .subquery()
    )
    stmt = select(
        Sede.id,
        func.coalesce(counts.c[1], 0),
        func.coalesce(counts.c[2], 0),
        func.coalesce(counts.c[3], 0),
        func.coalesce(linked.c.n, 0),
    )
    stmt = stmt.outerjoin(counts, counts.c.sede_id == Sede.id).outerjoin(linked, linked.c.sede_id == Sede.id)
    for sede_id, open_, overdue, due_week, linked_n in db.session.execute(stmt):
        figures = sedes[sede_id]
        figures.open, figures.overdue, figures.due_this_week = open_, overdue, due_week
        figures.linked_this_month = linked_n
    days = days_between(local_date(Arrival.arrived_at), FamilyUnit.first_contact_on)
    distribution = (
        select(sm.sede_id, days.label("days"), func.count())
        .select_from(FamilyUnit)
        .join(Arrival, Arrival.id == FamilyUnit.arrival_id)
        .join(sede_municipalities, sm.municipality_id == FamilyUnit.destination_municipality_id)
        .where(FamilyUnit.first_contact_on >= today - dt.timedelta(days=CONTACT_PERIOD_DAYS))
        .group_by(sm.sede_id, days)
    )
    by_sede: dict[int, dict[int, int]] = defaultdict(dict)
    for sede_id, n_days, n in db.session.execute(distribution):
        by_sede[sede_id][int(n_days)] = n
    for sede_id, histogram in by_sede.items():
        figures = sedes[sede_id]
        figures.days = histogram
        figures.contacted = sum(histogram.values())
        figures.median_days_to_contact = median_of(histogram)
    return list(sedes.values())


def median_of(histogram: dict[int, int]) -> float | None:
    """The median of values given as ``{value: how many}``."""
    total = sum(histogram.values())
    if total == 0:
        return None
    lower_rank, upper_rank = (total + 1) // 2, total // 2 + 1
    lower = upper = None
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if lower is None and seen >= lower_rank:
            lower = value
        if seen >= upper_rank:
            upper = value
            break
    assert lower is not None and upper is not None
    return (lower + upper) / 2


def status_choices() -> list[tuple[str, str]]:
    return [(s.value, str(label)) for s, label in CASE_STATUS_LABELS.items() if s in FOLLOWED_STATUSES]


# -- one case's follow-up (its page, its forms) ------------------------------------------------------


@dataclass(frozen=True)
class CaseFollowUp:
    """A case's follow-up as its page and its forms show it: when the next contact falls due, and its rows."""

    family: FamilyUnit
    today: dt.date
    followups: list[FollowUp]
    linkages: list[Linkage]
    transfers: list[CaseTransfer]
    closures: list[CaseClosure]

    @property
    def due_on(self) -> dt.date | None:
        return self.family.followup_due_on

    @property
    def is_overdue(self) -> bool:
        return rules.is_overdue(self.due_on, self.today)

    @property
    def is_closed(self) -> bool:
        return bool(self.closures) and self.closures[-1].kind == ClosureKind.CLOSE

    @property
    def last_closure(self) -> CaseClosure | None:
        return self.closures[-1] if self.closures else None


def _of_the_family(model: Any, *order: Any, options: tuple[Any, ...] = ()) -> Select[Any]:
    return select(model).where(model.family_id == bindparam("family_id")).order_by(*order).options(*options)


# The follow-up section's statements, built once (building them cost as much as running them). Of who
# recorded a row only a contact's author is shown, by name: not whole users joined with their centre, sede
# and institution to each row (a linkage's member is one of the family's, loaded already).
_CONTACTS = _of_the_family(
    FollowUp,
    FollowUp.contacted_on.desc(),
    FollowUp.id.desc(),
    options=(joinedload(FollowUp.created_by).load_only(User.full_name).lazyload("*"),),
)
_LINKAGES = _of_the_family(
    Linkage, Linkage.linked_on.desc(), Linkage.id.desc(), options=(lazyload(Linkage.created_by),)
)
_TRANSFERS = _of_the_family(CaseTransfer, CaseTransfer.id.desc())
_CLOSURES = _of_the_family(CaseClosure, CaseClosure.id, options=(lazyload(CaseClosure.created_by),))


def case_followup(family: FamilyUnit) -> CaseFollowUp:
    """The case's contacts and linkages (newest first), transfers (newest first) and closures (oldest
    first): its page's follow-up section and its timeline show them, its forms say whether it is closed."""

    def rows(stmt: Select[Any]) -> list[Any]:
        return list(db.session.scalars(stmt, {"family_id": family.id}))

    return CaseFollowUp(
        family=family,
        today=today_local(),
        followups=rows(_CONTACTS),
        linkages=rows(_LINKAGES),
        # A case that never moved has no transfer to read: each sets ``transferred_at`` (services.transfer).
        transfers=rows(_TRANSFERS) if family.transferred_at is not None else [],
        closures=rows(_CLOSURES),
    )
