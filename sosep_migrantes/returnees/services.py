"""Earlier records of a returning person, anywhere in the country, and what staff decide about them.

:func:`find_candidates` looks for the person among *all* cases, not only those the user may see: the
same CUI (``members.cui``, indexed) or the phonetic keys of :mod:`~sosep_migrantes.cases.phonetic`
(``member_keys``, indexed), then scores the few rows found in Python, the same on SQLite and PostgreSQL.
What it returns is already cut to what the user may know: a candidate in a case outside the user's scope
(``cases.queries.scope_clause``) carries only its case number, centre, date of arrival and the sede that
follows it, never a name, a date of birth or a link. Staff link a candidate (:func:`link_returnee`: a
re-migration, shown on both cases and counted in the reports) or dismiss it (:func:`dismiss_candidate`:
not offered again for that pair); both are audited. The views and the JSON API call these functions.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, or_, select

from ..auth.models import User
from ..cases import phonetic
from ..cases.models import FamilyUnit, Member, MemberKey
from ..cases.queries import scope_clause
from ..catalogs.models import Centre, Sede, sede_municipalities
from ..core import audit
from ..core.audit import AuditAction
from ..core.errors import ServiceError
from ..core.permissions import Permission
from ..core.timeutil import to_local
from ..extensions import db
from ..reception.models import Arrival
from .models import ReturneeDecision, ReturneeLink

#: The most candidates offered for one person.
CANDIDATES_LIMIT = 10
#: The most keys a look-up reads (a very common name in a crowded year), and the most members it scores.
KEYS_LIMIT = 5000
ROWS_LIMIT = 400


class MatchReason(enum.StrEnum):
    SAME_CUI = "same_cui"
    SAME_NAME = "same_name"
    SIMILAR_NAME = "similar_name"
    SAME_BIRTH_DATE = "same_birth_date"
    COMPATIBLE_AGE = "compatible_age"


REASON_LABELS = {
    MatchReason.SAME_CUI: _l("mismo CUI"),
    MatchReason.SAME_NAME: _l("mismo nombre"),
    MatchReason.SIMILAR_NAME: _l("nombre similar"),
    MatchReason.SAME_BIRTH_DATE: _l("misma fecha de nacimiento"),
    MatchReason.COMPATIBLE_AGE: _l("edad compatible"),
}


@dataclass(frozen=True, slots=True)
class Candidate:
    """An earlier record that may be the same person, with only what the user may know of it.

    ``visible`` says whether its case is in the user's scope; when it is not, ``family_id``,
    ``full_name`` and ``birth_date`` stay ``None``. ``member_id`` only names the record to link or
    dismiss.
    """

    member_id: int
    case_number: str
    centre: str
    arrived_on: dt.date
    #: The sede that follows the case (from its destination municipality), if any covers it.
    sede: str | None
    #: 0 to 100: the more reasons, and the closer the name, the higher.
    score: int
    reasons: tuple[MatchReason, ...]
    visible: bool
    family_id: int | None = None
    full_name: str | None = None
    birth_date: dt.date | None = None

    @property
    def reason_labels(self) -> list[str]:
        return [str(REASON_LABELS[reason]) for reason in self.reasons]


@dataclass
class _Row:
    member_id: int
    given_names: str
    surnames: str
    cui: str | None
    birth_date: dt.date | None
    estimated_age: int | None
    family_id: int
    case_number: str
    municipality_id: int
    centre: str
    arrived_at: dt.datetime
    arrived_on: dt.date = field(init=False)

    def __post_init__(self) -> None:
        self.arrived_on = to_local(self.arrived_at).date()


def _score(
    row: _Row,
    words: list[str],
    cui: str | None,
    birth_date: dt.date | None,
    age: int | None,
    on: dt.date,
) -> tuple[int, tuple[MatchReason, ...]] | None:
    """The score and reasons of a row found, or ``None`` if it is not the person typed."""
    reasons: list[MatchReason] = []
    score = 0
    if cui and row.cui == cui:
        reasons.append(MatchReason.SAME_CUI)
        score += 60
    other = phonetic.name_words(row.given_names) + phonetic.name_words(row.surnames)
    similarity = phonetic.name_similarity(words, other) if words and other else 0.0
    compatible = phonetic.compatible_age(
        birth_date, age, row.birth_date, row.estimated_age, row.arrived_on, on
    )
    name_matches = similarity >= phonetic.SIMILAR_NAME and compatible
    if not reasons and not name_matches:
        return None
    if similarity >= phonetic.SIMILAR_NAME:
        if phonetic.same_words(words, other):
            reasons.append(MatchReason.SAME_NAME)
        else:
            reasons.append(MatchReason.SIMILAR_NAME)
        score += round(60 * similarity)
    if compatible:
        if birth_date is not None and birth_date == row.birth_date:
            reasons.append(MatchReason.SAME_BIRTH_DATE)
            score += 30
        else:
            reasons.append(MatchReason.COMPATIBLE_AGE)
            score += 15
    return min(score, 100), tuple(reasons)


def _decided_with(member_id: int) -> set[int]:
    """The members already linked to, or dismissed for, ``member_id`` (either way round)."""
    rows = db.session.execute(
        select(ReturneeLink.member_id, ReturneeLink.earlier_member_id).where(
            or_(ReturneeLink.member_id == member_id, ReturneeLink.earlier_member_id == member_id)
        )
    )
    return {a if b == member_id else b for a, b in rows}


def _rows(member_ids: set[int]) -> list[_Row]:
    if not member_ids:
        return []
    stmt = (
        select(
            Member.id,
            Member.given_names,
            Member.surnames,
            Member.cui,
            Member.birth_date,
            Member.estimated_age,
            FamilyUnit.id,
            FamilyUnit.case_number,
            FamilyUnit.destination_municipality_id,
            Centre.name,
            Arrival.arrived_at,
        )
        .join(FamilyUnit, FamilyUnit.id == Member.family_id)
        .join(Arrival, Arrival.id == FamilyUnit.arrival_id)
        .join(Centre, Centre.id == FamilyUnit.centre_id)
        # A family pre-registered from a passenger list is offered too: a walk-in at the desk may be one of
        # its members (the desk confirms that family instead of registering the person twice).
        .where(Member.id.in_(member_ids))
    )
    return [_Row(*row) for row in db.session.execute(stmt)]


def _visible_families(user: User, family_ids: set[int]) -> set[int]:
    clause = scope_clause(user)
    if clause is None:
        return family_ids
    return set(db.session.scalars(select(FamilyUnit.id).where(FamilyUnit.id.in_(family_ids), clause)))


def _sedes(municipality_ids: set[int]) -> dict[int, str]:
    rows = db.session.execute(
        select(sede_municipalities.c.municipality_id, Sede.name)
        .join(Sede, Sede.id == sede_municipalities.c.sede_id)
        .where(sede_municipalities.c.municipality_id.in_(municipality_ids))
    )
    return {municipality_id: name for municipality_id, name in rows}


def find_candidates(
    user: User,
    *,
    given_names: str,
    surnames: str,
    cui: str | None,
    birth_date: dt.date | None,
    age: int | None,
    on: dt.date,
    exclude_member_id: int | None = None,
    exclude_family_id: int | None = None,
    limit: int = CANDIDATES_LIMIT,
) -> list[Candidate]:
    """Earlier records, anywhere in the country, of the person with these data, typed on ``on`` (the day
    of the arrival): the same CUI, or a similar name (accents, case, the surnames' order, Spanish
    spelling of the same sound, a typo) with the same date of birth or, where one side has only an age,
    ages a year apart at most. Best first, cut to ``limit``, with the disclosure already applied.

    ``exclude_member_id``: the member these data are (its own record, and the records already linked to
    it or dismissed for it, are left out); ``exclude_family_id``: its family. A user without
    ``returnee:view`` (a partner) gets nothing.
    """
    if not user.can(Permission.RETURNEE_VIEW):
        return []
    cui = cui if cui and len(cui) == 13 and cui.isdigit() else None
    words = phonetic.name_words(given_names) + phonetic.name_words(surnames)
    found: set[int] = set()
    if cui:
        found.update(db.session.scalars(select(Member.id).where(Member.cui == cui).limit(ROWS_LIMIT)))
    keys = phonetic.lookup_keys(given_names, surnames, birth_date, age, on)
    if keys:
        # Decided on the name from the index alone (the name beside each key): only a member whose name may
        # be the person's is read. A common name in a crowded year finds hundreds of keys, and few pass.
        alike: dict[str, bool] = {}
        rows = db.session.execute(
            select(MemberKey.member_id, MemberKey.name_key).where(MemberKey.key.in_(keys)).limit(KEYS_LIMIT)
        )
        for member_id, name in rows:
            passes = alike.get(name)
            if passes is None:
                similarity = phonetic.name_similarity(words, name.split())
                passes = alike[name] = similarity >= phonetic.SIMILAR_NAME
            if passes:
                found.add(member_id)
    if exclude_member_id is not None:
        found -= {exclude_member_id, *_decided_with(exclude_member_id)}
    if len(found) > ROWS_LIMIT:  # the latest records (ids follow registration)
        found = set(sorted(found)[-ROWS_LIMIT:])
    scored = []
    for row in _rows(found):
        if row.family_id == exclude_family_id:
            continue
        result = _score(row, words, cui, birth_date, age, on)
        if result is not None:
            scored.append((result, row))
    scored.sort(key=lambda item: (-item[0][0], -item[1].arrived_at.timestamp(), -item[1].member_id))
    scored = scored[:limit]
    if not scored:
        return []
    visible = _visible_families(user, {row.family_id for _, row in scored})
    sedes = _sedes({row.municipality_id for _, row in scored})
    candidates = []
    for (score, reasons), row in scored:
        shown = row.family_id in visible
        candidates.append(
            Candidate(
                member_id=row.member_id,
                case_number=row.case_number,
                centre=row.centre,
                arrived_on=row.arrived_on,
                sede=sedes.get(row.municipality_id),
                score=score,
                reasons=reasons,
                visible=shown,
                family_id=row.family_id if shown else None,
                full_name=f"{row.given_names} {row.surnames}".strip() if shown else None,
                birth_date=row.birth_date if shown else None,
            )
        )
    return candidates


def candidates_for_member(user: User, member: Member, *, limit: int = CANDIDATES_LIMIT) -> list[Candidate]:
    """:func:`find_candidates` for a member already saved (the case page's "Registros anteriores"),
    without its own family's members and the records already decided for it."""
    arrived_on = to_local(member.family.arrival.arrived_at).date()
    return find_candidates(
        user,
        given_names=member.given_names,
        surnames=member.surnames,
        cui=member.cui,
        birth_date=member.birth_date,
        age=None if member.birth_date else member.estimated_age,
        on=arrived_on,
        exclude_member_id=member.id,
        exclude_family_id=member.family_id,
        limit=limit,
    )


def _member_in_scope(user: User, member_id: int) -> Member | None:
    clause = scope_clause(user)
    stmt = select(Member).join(FamilyUnit, FamilyUnit.id == Member.family_id).where(Member.id == member_id)
    return db.session.scalar(stmt if clause is None else stmt.where(clause))


def _decide(user: User, member_id: int, other_member_id: int, decision: ReturneeDecision) -> ReturneeLink:
    member = _member_in_scope(user, member_id)
    if member is None:
        raise LookupError(member_id)
    # Only a record the search offers for this member may be decided on: an id typed by hand cannot
    # reveal another case's number.
    offered = {c.member_id for c in candidates_for_member(user, member, limit=ROWS_LIMIT)}
    link = db.session.scalar(
        select(ReturneeLink).where(
            or_(
                (ReturneeLink.member_id == member_id) & (ReturneeLink.earlier_member_id == other_member_id),
                (ReturneeLink.member_id == other_member_id) & (ReturneeLink.earlier_member_id == member_id),
            )
        )
    )
    if link is None and other_member_id not in offered:
        raise ServiceError({"earlier_member_id": _("Ese registro no es un registro anterior propuesto.")})
    other = db.session.get(Member, other_member_id)
    if other is None:  # pragma: no cover - offered just now
        raise ServiceError({"earlier_member_id": _("Ese registro no es un registro anterior propuesto.")})
    if link is None:
        later, earlier = sorted(
            (member, other), key=lambda m: (m.family.arrival.arrived_at, m.family_id), reverse=True
        )
        link = ReturneeLink(
            member_id=later.id, earlier_member_id=earlier.id, decision=decision, created_by_id=user.id
        )
        db.session.add(link)
    elif link.decision == decision:
        return link
    else:
        link.decision = decision
        link.created_by_id = user.id
    db.session.flush()
    audit.record(
        AuditAction.RETURNEE_LINK if decision is ReturneeDecision.LINKED else AuditAction.RETURNEE_DISMISS,
        "member",
        member.id,
        other_member_id=other.id,
        family_id=member.family_id,
        other_family_id=other.family_id,
        actor_id=user.id,
    )
    return link


def link_returnee(user: User, member_id: int, earlier_member_id: int) -> ReturneeLink:
    """Record that the member (in the user's scope) is the same person as an earlier record the search
    offered for it: a re-migration, shown on both cases (with the minimal disclosure across scopes) and
    counted in the reports. Audited. Raises ``LookupError`` for a member outside the scope and
    :class:`ServiceError` for a record not offered."""
    return _decide(user, member_id, earlier_member_id, ReturneeDecision.LINKED)


def dismiss_candidate(user: User, member_id: int, other_member_id: int) -> ReturneeLink:
    """Record that an offered record is not the same person: not offered again for that pair. Audited.
    A pair linked before is unlinked this way."""
    return _decide(user, member_id, other_member_id, ReturneeDecision.DISMISSED)


@dataclass(frozen=True, slots=True)
class LinkedRecord:
    """A re-migration on a case page: the family's member and the other record, cut to the scope."""

    member_id: int
    member_name: str
    #: The other record is the earlier one (this case is the return) or the later one.
    other_is_earlier: bool
    other: Candidate
    linked_at: dt.datetime


#: The re-migrations linked to some members, either way round (built once: every case page asks).
_LINKS_OF_MEMBERS = (
    select(ReturneeLink)
    .where(
        ReturneeLink.decision == ReturneeDecision.LINKED,
        or_(
            ReturneeLink.member_id.in_(bindparam("members", expanding=True)),
            ReturneeLink.earlier_member_id.in_(bindparam("members", expanding=True)),
        ),
    )
    .order_by(ReturneeLink.created_at, ReturneeLink.id)
)


def linked_records(user: User, family: FamilyUnit) -> list[LinkedRecord]:
    """The re-migrations linked to the members of ``family`` (a family the user may see), both ways."""
    names = {m.id: m.full_name for m in family.members}
    if not names or not user.can(Permission.RETURNEE_VIEW):
        return []
    links = db.session.scalars(_LINKS_OF_MEMBERS, {"members": list(names)}).all()
    if not links:  # most cases: nothing more to read
        return []
    others = {link.earlier_member_id if link.member_id in names else link.member_id for link in links}
    rows = {row.member_id: row for row in _rows(others)}
    visible = _visible_families(user, {row.family_id for row in rows.values()})
    sedes = _sedes({row.municipality_id for row in rows.values()})
    shown = []
    for link in links:
        mine, other_id = (
            (link.member_id, link.earlier_member_id)
            if link.member_id in names
            else (link.earlier_member_id, link.member_id)
        )
        row = rows.get(other_id)
        if row is None:
            continue
        is_visible = row.family_id in visible
        other = Candidate(
            member_id=row.member_id,
            case_number=row.case_number,
            centre=row.centre,
            arrived_on=row.arrived_on,
            sede=sedes.get(row.municipality_id),
            score=100,
            reasons=(),
            visible=is_visible,
            family_id=row.family_id if is_visible else None,
            full_name=f"{row.given_names} {row.surnames}".strip() if is_visible else None,
            birth_date=row.birth_date if is_visible else None,
        )
        shown.append(
            LinkedRecord(mine, names[mine], other_id == link.earlier_member_id, other, link.created_at)
        )
    return shown
