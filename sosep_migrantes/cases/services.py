"""Operations on family units. They add and flush and write the audit trail; the request commits."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol, cast

from flask_babel import gettext as _
from sqlalchemy import Table, delete, insert, select
from sqlalchemy.orm.exc import StaleDataError

from ..auth.models import User
from ..core import audit
from ..core.audit import AuditAction
from ..core.errors import ServiceError
from ..core.numbering import SequenceKind, next_number
from ..core.text import fold
from ..core.timeutil import to_local
from ..db import utcnow
from ..extensions import db
from ..reception.models import Arrival
from .lifecycle import case_changed
from .models import CaseStatus, FamilyUnit, Member, MemberKey
from .phonetic import member_keys, name_key

FAMILY_FIELDS = (
    "community",
    "address",
    "phone",
    "consent_type",
    "consent_witness",
    "consent_on",
    "notes",
)
MEMBER_FIELDS = (
    "given_names",
    "surnames",
    "sex",
    "birth_date",
    "estimated_age",
    "cui",
    "cui_check_confirmed",
    "document_number",
    "needs_interpreter",
    "has_disability",
    "disability_notes",
    "pregnancy",
    "health_notes",
)
MEMBER_REFS = {"relationship": "relationship_to_head", "document_type": "document_type", "pueblo": "pueblo"}


class EditConflict(Exception):
    """The family was changed by someone else since the user opened the edit form."""

    def __init__(self, current_version: int) -> None:
        super().__init__(current_version)
        self.current_version = current_version


def _apply_member(member: Member, data: dict[str, Any], position: int) -> None:
    for field in MEMBER_FIELDS:
        setattr(member, field, data.get(field))
    for key, attr in MEMBER_REFS.items():
        setattr(member, attr, data.get(key))
    member.cui_check_confirmed = bool(data.get("cui") and data.get("cui_check_confirmed"))
    member.languages = list(data.get("languages") or [])
    member.position = position


def _apply_family(family: FamilyUnit, data: dict[str, Any]) -> None:
    for field in FAMILY_FIELDS:
        setattr(family, field, data.get(field))
    family.destination = data["destination_municipality"]
    family.destination_municipality_id = data["destination_municipality"].id
    family.migration_reasons = list(data.get("migration_reasons") or [])
    family.protection_causes = list(data.get("protection_causes") or [])
    family.protection_risk = bool(family.protection_causes)


class MemberNames(Protocol):
    """What the search text reads of a member: a :class:`Member`, or a row with the same columns."""

    @property
    def given_names(self) -> str: ...
    @property
    def surnames(self) -> str: ...
    @property
    def cui(self) -> str | None: ...
    @property
    def document_number(self) -> str | None: ...


def search_text_of(case_number: str, members: Iterable[MemberNames]) -> str:
    """The folded text the case search matches: the case number and each member's names and documents."""
    parts = [case_number]
    for member in members:
        parts += [member.given_names, member.surnames, member.cui or "", member.document_number or ""]
    return fold(" ".join(p for p in parts if p))


def refresh_search_text(family: FamilyUnit) -> None:
    family.search_text = search_text_of(family.case_number, family.members)


def refresh_member_keys(family: FamilyUnit, *, previous: Iterable[int] = ()) -> None:
    """Write again the phonetic keys of the family's members (flushed: they need their ids), and drop those
    of ``previous`` members (removed by an edit), so the returnee search finds what is saved now."""
    ids = {m.id for m in family.members} | set(previous)
    if ids:
        db.session.execute(delete(MemberKey).where(MemberKey.member_id.in_(ids)))
    arrived_on = to_local(family.arrival.arrived_at).date()
    rows = [
        {
            "member_id": member.id,
            "kind": kind,
            "key": key,
            "name_key": name_key(member.given_names, member.surnames),
        }
        for member in family.members
        for kind, key in sorted(
            member_keys(
                member.given_names, member.surnames, member.birth_date, member.estimated_age, arrived_on
            )
        )
    ]
    if rows:
        db.session.execute(insert(MemberKey), rows)


def register_family(
    arrival: Arrival, data: dict[str, Any], user: User, *, preregistered: bool = False
) -> FamilyUnit:
    """Register a family unit and all its members on an arrival, with its case number.

    ``data`` is what :class:`~.schemas.FamilyUnitSchema` loaded. Everything is flushed in the caller's
    transaction, so a failure leaves nothing half-saved.

    ``preregistered``: the family comes from the arrival's passenger list (``data`` built from its rows,
    with ``passenger_group`` and no consent yet) and waits for the desk to confirm it
    (:func:`confirm_preregistered`); it gets its case number now, so the desk's slips and search find it.
    """
    year = to_local(arrival.arrived_at).year
    seq = next_number(SequenceKind.CASE, arrival.centre_id, year)
    family = FamilyUnit(
        arrival=arrival,
        centre_id=arrival.centre_id,
        case_year=year,
        case_seq=seq,
        case_number=f"{arrival.centre.code}-{year}-{seq:05d}",
        created_by_id=user.id,
        submission_token=data.get("submission_token"),
        passenger_group=data.get("passenger_group"),
        status=CaseStatus.PREREGISTERED if preregistered else CaseStatus.RECEIVED,
    )
    _apply_family(family, data)
    for position, member_data in enumerate(data["members"]):
        member = Member()
        _apply_member(member, member_data, position)
        family.members.append(member)
    refresh_search_text(family)
    case_changed(family, user)  # before the INSERT: its follow-up dates go in with it
    db.session.add(family)
    db.session.flush()
    refresh_member_keys(family)
    audit.record(
        AuditAction.FAMILY_CREATE,
        "family",
        family.id,
        arrival_id=arrival.id,
        members=[m.id for m in family.members],
        **({"preregistered": True} if preregistered else {}),
        actor_id=user.id,
    )
    return family


def confirm_preregistered(family: FamilyUnit, data: dict[str, Any], user: User) -> FamilyUnit:
    """The desk confirms a family pre-registered from the passenger list: its data as completed on the
    desk's form (``data`` from :class:`~.schemas.FamilyUnitSchema`, with the version the form was opened
    at) replaces what the list said, and the family is received from now on (counted, followed up).

    A family already confirmed (by another desk, or this form sent twice) is refused with
    :class:`EditConflict`, as any edit made from a stale version is.
    """
    if family.status != CaseStatus.PREREGISTERED:
        raise EditConflict(family.version)
    update_family(family, data, user)
    family.status = CaseStatus.RECEIVED
    case_changed(family, user)  # received from now: its first contact falls due from the arrival
    audit.record(
        AuditAction.FAMILY_CONFIRM,
        "family",
        family.id,
        **{"from": CaseStatus.PREREGISTERED.value, "to": family.status.value},
        actor_id=user.id,
    )
    return family


def update_family(family: FamilyUnit, data: dict[str, Any], user: User) -> FamilyUnit:
    """Apply an edit made from ``data["version"]``; raise :class:`EditConflict` if that is stale.

    The version check runs twice: here, against what this transaction read, and in the ``UPDATE``
    itself (SQLAlchemy's ``version_id_col``), which catches an edit committed in between.
    """
    if data.get("version") != family.version:
        raise EditConflict(family.version)
    before = _snapshot(family)
    _apply_family(family, data)
    existing = {m.id: m for m in family.members}
    removed = set(existing) - {m.get("id") for m in data["members"]}
    _refuse_removing_members_with_history(family, removed)
    kept: list[Member] = []
    for position, member_data in enumerate(data["members"]):
        member = existing.get(member_data.get("id")) if member_data.get("id") else None
        if member is None:
            member = Member()
        _apply_member(member, member_data, position)
        kept.append(member)
    family.members = kept
    family.updated_at = utcnow()
    family.updated_by_id = user.id
    refresh_search_text(family)
    try:
        db.session.flush()
    except StaleDataError as exc:  # the caller rolls back
        raise EditConflict(-1) from exc
    refresh_member_keys(family, previous=removed)
    after = _snapshot(family)
    changed = sorted(k for k in before.keys() | after.keys() if after.get(k) != before.get(k))
    audit.record(
        AuditAction.FAMILY_UPDATE,
        "family",
        family.id,
        changed=changed,
        removed_members=sorted(removed),
        version=family.version,
        actor_id=user.id,
    )
    if "protection_causes" in changed:  # an urgent first contact, or no longer
        case_changed(family, user)
    return family


def members_with_history(member_ids: set[int]) -> set[int]:
    """Those of ``member_ids`` that a ``RESTRICT`` foreign key keeps from being deleted (needs, referrals).

    The rows pointing at them are found through the schema's own foreign keys, so this asks exactly what
    the database would refuse, and cases need not import the modules built on top of them.
    """
    if not member_ids:
        return set()
    # Typed as a FromClause; a class declared with __tablename__ is mapped to a Table.
    members = cast("Table", Member.__table__)
    pointing = [
        fk.parent
        for table in members.metadata.tables.values()
        for fk in table.foreign_keys
        if fk.references(members) and fk.ondelete == "RESTRICT"
    ]
    found: set[int] = set()
    for column in pointing:
        found.update(db.session.scalars(select(column).where(column.in_(member_ids))))
    return found


def _refuse_removing_members_with_history(family: FamilyUnit, member_ids: set[int]) -> None:
    """A member with needs, services or referrals on record stays: deleting them would erase that history.

    PostgreSQL would refuse the deletion anyway (the foreign keys are ``RESTRICT``); asking first names the
    members in the message, and holds on SQLite too, which does not enforce foreign keys.
    """
    with_history = members_with_history(member_ids)
    if with_history:
        names = ", ".join(m.full_name for m in family.members if m.id in with_history)
        raise ServiceError(
            {
                "members_summary": _(
                    "No se puede quitar a %(names)s: tiene necesidades o derivaciones registradas. "
                    "Cancele y vuelva a editar sin quitarlo.",
                    names=names,
                )
            }
        )


def _snapshot(family: FamilyUnit) -> dict[str, Any]:
    """Field values by name, to record *which* fields changed (never their values) in the audit."""
    snap: dict[str, Any] = {f: getattr(family, f) for f in FAMILY_FIELDS}
    snap["destination_municipality"] = family.destination_municipality_id
    snap["migration_reasons"] = sorted(r.id for r in family.migration_reasons)
    snap["protection_causes"] = sorted(c.id for c in family.protection_causes)
    for member in family.members:
        key = f"member:{member.id}"
        snap[key] = (
            *(str(getattr(member, f)) for f in MEMBER_FIELDS),
            member.relationship_to_head.id if member.relationship_to_head else None,
            member.pueblo_id,
            member.document_type_id,
            tuple(sorted(lang.id for lang in member.languages)),
        )
    return snap
