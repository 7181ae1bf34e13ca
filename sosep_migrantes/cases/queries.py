"""Reading family units, always through the user's scope.

Every list, search, detail page, PDF and export starts from :func:`scoped_families`, so what a
detail page hides cannot leak elsewhere: a reception user sees the cases of their centre, a sede
user the cases whose destination municipality their sede covers, a coordinator all of them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, false, func, or_, select, text
from sqlalchemy.orm import aliased, joinedload, lazyload, load_only, selectinload

from ..auth.models import User
from ..catalogs.models import Centre, Department, FamilyRelationship, Municipality, sede_municipalities
from ..core.permissions import Permission, Role
from ..core.schema import is_submission_token
from ..core.text import fold
from ..core.timeutil import LOCAL_TZ
from ..extensions import db
from ..reception.models import Arrival
from ..reception.services import scoped_arrivals
from .models import CASE_STATUS_LABELS, CaseStatus, FamilyUnit, Member, family_protection_causes


def scope_clause(user: User) -> ColumnElement[bool] | None:
    if not user.can(Permission.CASE_VIEW):
        return false()
    role = user.role_enum
    if role is Role.COORDINATOR:
        return None
    if role is Role.RECEPTION:
        return FamilyUnit.centre_id == user.centre_id
    if role is Role.SEDE:
        covered = select(sede_municipalities.c.municipality_id).where(
            sede_municipalities.c.sede_id == user.sede_id
        )
        return FamilyUnit.destination_municipality_id.in_(covered)
    return false()


def scoped_families(user: User) -> Select[FamilyUnit]:
    stmt = select(FamilyUnit)
    clause = scope_clause(user)
    return stmt if clause is None else stmt.where(clause)


#: What a case's pages show with it. A family has a few reasons and causes at most: joined to its row
#: rather than read by two queries more (each page that shows a case paid about a millisecond for them).
_FAMILY_LOADS = (
    selectinload(FamilyUnit.members).joinedload(Member.languages),
    joinedload(FamilyUnit.migration_reasons),
    joinedload(FamilyUnit.protection_causes),
)


def get_family(user: User, family_id: int) -> FamilyUnit | None:
    """The family if the user may see it; ``None`` (the view answers 404) otherwise."""
    return db.session.scalar(scoped_families(user).where(FamilyUnit.id == family_id).options(*_FAMILY_LOADS))


def submitted_family(user: User, token: str | None) -> FamilyUnit | None:
    """The family a form with this one-time token already registered (a resent form), if any."""
    if not is_submission_token(token):  # a malformed token (a NUL byte, say) is never looked up
        return None
    return db.session.scalar(scoped_families(user).where(FamilyUnit.submission_token == token))


@dataclass
class CaseFilters:
    centre_id: int | None = None
    department_id: int | None = None
    status: str | None = None
    arrived_from: dt.date | None = None
    arrived_to: dt.date | None = None
    q: str | None = None
    arrival_id: int | None = None
    #: Only families with a protection-risk cause (they go first in follow-up).
    protection_only: bool = False


def _local_day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=LOCAL_TZ).astimezone(dt.UTC)


def filter_families(user: User, filters: CaseFilters) -> Select[FamilyUnit]:
    """The families in the user's scope that match ``filters``, unordered: what a list counts.

    Arrivals are joined only for a date filter, so counting a search reads ``family_units`` alone.
    """
    stmt = scoped_families(user)
    if filters.centre_id:
        stmt = stmt.where(FamilyUnit.centre_id == filters.centre_id)
    if filters.department_id:
        # The department's municipalities as a list of values, not a subquery: PostgreSQL then reads the
        # destination index once for all of them (with the status index beside it) instead of once per
        # municipality, which it chose from a subquery's estimate (a department's received cases:
        # 27 ms -> under 1 ms on 300,000 families).
        covered = db.session.scalars(
            select(Municipality.id).where(Municipality.department_id == filters.department_id)
        ).all()
        stmt = stmt.where(FamilyUnit.destination_municipality_id.in_(covered))
    if filters.status:
        stmt = stmt.where(FamilyUnit.status == filters.status)
    else:
        # A family pre-registered from a passenger list is not received yet: listed only when asked for
        # (the status filter, the arrival's list of pre-registered families).
        stmt = stmt.where(FamilyUnit.status != CaseStatus.PREREGISTERED)
    if filters.protection_only:
        stmt = stmt.where(FamilyUnit.protection_causes.any())
    if filters.arrival_id:
        stmt = stmt.where(FamilyUnit.arrival_id == filters.arrival_id)
    if filters.arrived_from or filters.arrived_to:
        arrivals = select(Arrival.id)
        if filters.arrived_from:
            arrivals = arrivals.where(Arrival.arrived_at >= _local_day_start(filters.arrived_from))
        if filters.arrived_to:
            end = _local_day_start(filters.arrived_to + dt.timedelta(days=1))
            arrivals = arrivals.where(Arrival.arrived_at < end)
        stmt = stmt.where(FamilyUnit.arrival_id.in_(arrivals))
    if filters.q:
        stmt = stmt.where(*search_conditions(filters.q))
    return stmt


def search_families(user: User, filters: CaseFilters) -> Select[FamilyUnit]:
    """:func:`filter_families` newest arrival first (the order of every case list)."""
    return (
        filter_families(user, filters)
        .join(FamilyUnit.arrival)
        .order_by(Arrival.arrived_at.desc(), FamilyUnit.case_seq.desc())
    )


@dataclass(frozen=True, slots=True)
class CaseRow:
    """One line of a case list: what the table shows, read in one query without building the case's objects.

    At a million persons the list and search pages are the busiest; loading each family with its members,
    arrival, centre and destination as ORM objects cost four times the SQL it needed.
    """

    id: int
    case_number: str
    status: str
    arrived_at: dt.datetime
    centre_code: str
    municipality: str
    department: str
    #: Number of members.
    size: int
    #: "Given names Surnames" of the head of family (the first member when none is marked head).
    head_name: str | None
    has_protection_risk: bool

    @property
    def destination(self) -> str:
        return f"{self.municipality}, {self.department}"

    @property
    def status_label(self) -> str:
        return str(CASE_STATUS_LABELS[CaseStatus(self.status)])


_head, _relationship = aliased(Member), aliased(FamilyRelationship)
_centre, _municipality, _department = aliased(Centre), aliased(Municipality), aliased(Department)
#: The columns of :class:`CaseRow`, built once (statement construction is a good part of a list's cost).
_CASE_ROW_COLUMNS = (
    FamilyUnit.id,
    FamilyUnit.case_number,
    FamilyUnit.status,
    Arrival.arrived_at,
    _centre.code.label("centre_code"),
    _municipality.name.label("municipality"),
    _department.name.label("department"),
    select(func.count()).where(Member.family_id == FamilyUnit.id).scalar_subquery().label("size"),
    select(_head.given_names.concat(" ").concat(_head.surnames))
    .join(_relationship, _relationship.id == _head.relationship_id)
    .where(_head.family_id == FamilyUnit.id)
    .order_by(case((_relationship.code == "HEAD", 0), else_=1), _head.position)
    .limit(1)
    .scalar_subquery()
    .label("head_name"),
    # Counted per row through the primary key: as an EXISTS, PostgreSQL hashed the whole table for each
    # page (a national list page took 16 ms instead of 1).
    (
        select(func.count()).where(family_protection_causes.c.family_id == FamilyUnit.id).scalar_subquery()
        > 0
    ).label("has_protection_risk"),
)


def case_rows(stmt: Select[FamilyUnit]) -> Select[Any]:
    """The columns of :class:`CaseRow` for the families ``stmt`` selects, in its order and filters."""
    return (
        stmt.with_only_columns(*_CASE_ROW_COLUMNS, maintain_column_froms=True)
        .join(_centre, _centre.id == FamilyUnit.centre_id)
        .join(_municipality, _municipality.id == FamilyUnit.destination_municipality_id)
        .join(_department, _department.id == _municipality.department_id)
    )


def list_rows(stmt: Select[FamilyUnit]) -> list[CaseRow]:
    """The :class:`CaseRow` of each family ``stmt`` selects (ordered, limited as it says)."""
    return [CaseRow(**row._mapping) for row in db.session.execute(case_rows(stmt))]


#: ``FAG-2026-42`` or ``fag-2026-00042``: a case number typed whole (centre code, year, sequence).
_CASE_NUMBER = re.compile(r"^([a-z_]+)-(\d{4})-(\d{1,6})$")
#: Words shorter than this cannot use the trigram index; a search needs at least one this long.
MIN_WORD = 3


def search_words(q: str) -> list[str]:
    """The folded words of a search: "López-Pérez, María" -> ["lopez", "perez", "maria"]."""
    return fold(q).replace("-", " ").replace(",", " ").split()


def is_searchable(q: str) -> bool:
    """Whether the text has a word long enough to be looked up in the index (or is a case number)."""
    return bool(_CASE_NUMBER.match(fold(q))) or any(len(w) >= MIN_WORD for w in search_words(q))


def search_conditions(q: str) -> list[ColumnElement[bool]]:
    """Conditions on :class:`FamilyUnit` for a typed search.

    A whole case number is looked up by its unique index. Otherwise every word must appear (in any
    order) in the folded ``search_text``: "lopez maria" finds "María Elena López". On PostgreSQL a
    trigram GIN index (migration 0004) serves ``LIKE '%word%'`` for words of three characters or
    more, so the search does not read the table; the results are the same as on SQLite.
    """
    folded = fold(q)
    match = _CASE_NUMBER.match(folded)
    if match:
        centre, year, seq = match.groups()
        return [FamilyUnit.case_number == f"{centre.upper()}-{year}-{int(seq):05d}"]
    return [FamilyUnit.search_text.like(f"%{_escape_like(w)}%", escape="/") for w in search_words(q)]


def plan_each_search() -> None:
    """On PostgreSQL, plan the rest of this transaction's statements with their actual values.

    psycopg prepares a statement run five times, and PostgreSQL then settles on one generic plan for it;
    a generic plan cannot see the words of a ``LIKE``, so the same plan served a common surname and a
    rare one (up to 90 ms for a search that takes 30 planned on its own words).
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


def _escape_like(word: str) -> str:
    return word.replace("/", "//").replace("%", "/%").replace("_", "/_")


def count(stmt: Select[Any]) -> int:
    return db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0


#: What a possible duplicate's warning shows of the other case (its number and arrival), not the whole case
#: joined with its centre, arrival and destination: the query runs for every case with a CUI, found or not.
_DUPLICATE_LOADS = (
    load_only(FamilyUnit.case_number, FamilyUnit.arrival_id),
    lazyload(FamilyUnit.centre),
    lazyload(FamilyUnit.destination),
    joinedload(FamilyUnit.arrival).load_only(Arrival.arrived_at).lazyload("*"),
)


def possible_duplicates(user: User, family: FamilyUnit) -> list[tuple[Member, FamilyUnit]]:
    """Members of this family whose CUI is also in another case the user can see.

    Two desks registering the same flight, or a family returned twice: staff are told, and decide.
    """
    cuis = {m.cui: m for m in family.members if m.cui}
    if not cuis:
        return []
    others = db.session.execute(
        scoped_families(user)
        .join(Member, Member.family_id == FamilyUnit.id)
        .where(Member.cui.in_(cuis), FamilyUnit.id != family.id)
        .add_columns(Member.cui)
        .order_by(FamilyUnit.id)
        .options(*_DUPLICATE_LOADS)
    ).all()
    return [(cuis[cui], other) for other, cui in others]


def arrivals_with_family_counts(user: User, limit: int = 50) -> Sequence[tuple[Arrival, int, int]]:
    """The latest arrivals the user may see, with how many family units each has received and how many
    wait pre-registered from its passenger list (the desk's list)."""
    preregistered = FamilyUnit.status == CaseStatus.PREREGISTERED
    families = (
        select(
            FamilyUnit.arrival_id,
            func.count().filter(~preregistered).label("n"),
            func.count().filter(preregistered).label("pre"),
        )
        .group_by(FamilyUnit.arrival_id)
        .subquery()
    )
    stmt = (
        scoped_arrivals(user)
        .add_columns(func.coalesce(families.c.n, 0), func.coalesce(families.c.pre, 0))
        .outerjoin(families, families.c.arrival_id == Arrival.id)
        .order_by(Arrival.arrived_at.desc())
        .limit(limit)
    )
    return db.session.execute(stmt).all()


def preregistered_families(user: User, arrival_id: int, q: str | None = None) -> Sequence[FamilyUnit]:
    """The families of an arrival pre-registered from its passenger list and not yet confirmed at the desk,
    in the list's order; ``q`` narrows them to a group reference (``FAM-12``, whole) or to the families
    whose names or documents contain every word typed."""
    stmt = (
        scoped_families(user)
        .where(FamilyUnit.arrival_id == arrival_id, FamilyUnit.status == CaseStatus.PREREGISTERED)
        .options(selectinload(FamilyUnit.members))
        .order_by(FamilyUnit.id)
    )
    words = search_words(q or "")
    if words:
        group = " ".join((q or "").split()).upper()
        stmt = stmt.where(or_(FamilyUnit.passenger_group == group, and_(*search_conditions(q or ""))))
    return db.session.scalars(stmt).all()
