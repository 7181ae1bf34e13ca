"""Reading family units, always through the user's scope.

Every list, search, detail page, PDF and export starts from :func:`scoped_families`, so what a
detail page hides cannot leak elsewhere: a reception user sees the cases of their centre, a sede
user the cases whose destination municipality their sede covers, a coordinator all of them.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import Select, false, func, select
from sqlalchemy.orm import selectinload

from ..auth.models import User
from ..catalogs.models import Municipality, sede_municipalities
from ..core.permissions import Permission, Role
from ..core.text import fold
from ..core.timeutil import LOCAL_TZ
from ..extensions import db
from ..reception.models import Arrival
from .models import FamilyUnit, Member


def scope_clause(user: User):
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


def scoped_families(user: User) -> Select[tuple[FamilyUnit]]:
    stmt = select(FamilyUnit)
    clause = scope_clause(user)
    return stmt if clause is None else stmt.where(clause)


def get_family(user: User, family_id: int) -> FamilyUnit | None:
    """The family if the user may see it; ``None`` (the view answers 404) otherwise."""
    return db.session.scalar(
        scoped_families(user)
        .where(FamilyUnit.id == family_id)
        .options(
            selectinload(FamilyUnit.members).selectinload(Member.languages),
            selectinload(FamilyUnit.migration_reasons),
            selectinload(FamilyUnit.protection_causes),
        )
    )


def submitted_family(user: User, token: str | None) -> FamilyUnit | None:
    """The family a form with this one-time token already registered (a resent form), if any."""
    if not token:
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


def search_families(user: User, filters: CaseFilters) -> Select[tuple[FamilyUnit]]:
    stmt = scoped_families(user).join(FamilyUnit.arrival)
    if filters.centre_id:
        stmt = stmt.where(FamilyUnit.centre_id == filters.centre_id)
    if filters.department_id:
        stmt = stmt.join(Municipality, FamilyUnit.destination_municipality_id == Municipality.id).where(
            Municipality.department_id == filters.department_id
        )
    if filters.status:
        stmt = stmt.where(FamilyUnit.status == filters.status)
    if filters.protection_only:
        stmt = stmt.where(FamilyUnit.protection_causes.any())
    if filters.arrival_id:
        stmt = stmt.where(FamilyUnit.arrival_id == filters.arrival_id)
    if filters.arrived_from:
        stmt = stmt.where(Arrival.arrived_at >= _local_day_start(filters.arrived_from))
    if filters.arrived_to:
        stmt = stmt.where(Arrival.arrived_at < _local_day_start(filters.arrived_to + dt.timedelta(days=1)))
    if filters.q:
        stmt = stmt.where(*search_conditions(filters.q))
    # The list shows each family's head, size and protection flag: load them in two queries, not 2 per row.
    return stmt.options(
        selectinload(FamilyUnit.members).joinedload(Member.relationship_to_head),
        selectinload(FamilyUnit.protection_causes),
    ).order_by(Arrival.arrived_at.desc(), FamilyUnit.case_seq.desc())


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


def search_conditions(q: str) -> list:
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


def _escape_like(word: str) -> str:
    return word.replace("/", "//").replace("%", "/%").replace("_", "/_")


def count(stmt: Select) -> int:
    return db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0


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
    ).all()
    return [(cuis[cui], other) for other, cui in others]
