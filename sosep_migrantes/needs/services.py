"""Needs and services delivered: identify, attend at the centre, mark as referred."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

from flask_babel import gettext as _
from sqlalchemy import CursorResult, Select, select, update
from sqlalchemy.orm import joinedload, lazyload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from ..auth.models import User
from ..cases.models import FamilyUnit, Member
from ..catalogs.models import Need
from ..core import audit
from ..core.audit import AuditAction
from ..core.errors import ServiceError
from ..db import utcnow
from ..extensions import db
from .models import FamilyNeed, NeedStatus, ServiceDelivery

#: The audit event of a need recorded (or closed) with each status.
STATUS_ACTIONS: dict[NeedStatus, AuditAction] = {
    NeedStatus.IDENTIFIED: AuditAction.NEED_IDENTIFIED,
    NeedStatus.ATTENDED: AuditAction.NEED_ATTENDED,
    NeedStatus.REFERRED: AuditAction.NEED_REFERRED,
}


#: A need's services; its member is one of the family's, which the caller has read with it: taken from the
#: session when used, rather than joined to every need with the member's own catalogues. Built once.
_FAMILY_NEED_LOADS = (selectinload(FamilyNeed.services), lazyload(FamilyNeed.member))
#: The same for all the family's needs at once: a need has a service or two at most, joined to its row
#: rather than read by a query more (a page of the API keeps the query apart: a LIMIT cannot cut joined rows).
_ALL_FAMILY_NEED_LOADS = (joinedload(FamilyNeed.services), lazyload(FamilyNeed.member))


def family_needs_query(family: FamilyUnit, loads: tuple[Any, ...] = _FAMILY_NEED_LOADS) -> Select[FamilyNeed]:
    """The family's needs with their services, in the order they were recorded (the pages, the API)."""
    return select(FamilyNeed).where(FamilyNeed.family_id == family.id).options(*loads).order_by(FamilyNeed.id)


def family_needs(family: FamilyUnit) -> Sequence[FamilyNeed]:
    return db.session.scalars(family_needs_query(family, _ALL_FAMILY_NEED_LOADS)).unique().all()


def get_family_need(family: FamilyUnit, family_need_id: int) -> FamilyNeed | None:
    """One of the family's needs (the family already read through the user's scope)."""
    return db.session.scalar(family_needs_query(family).where(FamilyNeed.id == family_need_id))


def _member(family: FamilyUnit, member_id: int | None, field: str) -> Member | None:
    if member_id is None:
        return None
    member = next((m for m in family.members if m.id == member_id), None)
    if member is None:
        raise ServiceError({field: _("Elija un integrante de esta familia.")})
    return member


def _deliver(family_need: FamilyNeed, data: dict[str, Any], user: User) -> ServiceDelivery:
    """Record the service and close the need.

    A need already saved as *identified* is closed with a compare-and-set ``UPDATE``: if someone else
    attended it meanwhile (two clicks, two desks), the second service is refused instead of counted twice.
    """
    if family_need.id is not None:
        db.session.flush()
        # An UPDATE's result is a CursorResult (it has the rowcount); Session.execute is typed for SELECTs.
        claimed = cast(
            "CursorResult[Any]",
            db.session.execute(
                update(FamilyNeed)
                .where(FamilyNeed.id == family_need.id, FamilyNeed.status == NeedStatus.IDENTIFIED)
                .values(status=NeedStatus.ATTENDED)
                .execution_options(synchronize_session=False)
            ),
        )
        if claimed.rowcount != 1:
            raise ServiceError({"delivered_by": _("Esta necesidad ya no está pendiente.")})
        set_committed_value(family_need, "status", NeedStatus.ATTENDED)
    service = ServiceDelivery(
        description=data.get("description") or family_need.need.name_es,
        quantity=data.get("quantity") or 1,
        delivered_by=data["delivered_by"],
        delivered_at=utcnow(),
        created_by_id=user.id,
    )
    family_need.services.append(service)
    family_need.status = NeedStatus.ATTENDED
    return service


def record_needs(family: FamilyUnit, items: Iterable[dict[str, Any]], user: User) -> list[FamilyNeed]:
    """Record the checklist: each need is identified, or attended at once with its service.

    An identified need of the same kind and person is completed rather than duplicated.
    """
    recorded = []
    existing = {(n.need_id, n.member_id): n for n in family_needs(family) if n.is_pending}
    for index, item in enumerate(items):
        member = _member(family, item.get("member_id"), f"items-{index}-member_id")
        key = (item["need"].id, member.id if member else None)
        family_need = existing.get(key)
        if family_need is None:
            family_need = FamilyNeed(
                family_id=family.id,
                member=member,
                need=item["need"],
                notes=item.get("notes"),
                created_by_id=user.id,
            )
            db.session.add(family_need)
        if item["action"] == NeedStatus.ATTENDED:
            _deliver(family_need, item, user)
        recorded.append(family_need)
    db.session.flush()
    for family_need in recorded:
        audit.record(
            STATUS_ACTIONS[NeedStatus(family_need.status)],
            "family",
            family.id,
            family_need_id=family_need.id,
            need=family_need.need.code,
            member_id=family_need.member_id,
            actor_id=user.id,
        )
    return recorded


def attend_need(family_need: FamilyNeed, data: dict[str, Any], user: User) -> ServiceDelivery:
    """Record the service that closes an identified need at the centre."""
    if not family_need.is_pending:
        raise ServiceError({"delivered_by": _("Esta necesidad ya no está pendiente.")})
    service = _deliver(family_need, data, user)
    db.session.flush()
    audit.record(
        AuditAction.NEED_ATTENDED,
        "family",
        family_need.family_id,
        family_need_id=family_need.id,
        need=family_need.need.code,
        actor_id=user.id,
    )
    return service


def mark_referred(family: FamilyUnit, needs: Iterable[Need], member_ids: Iterable[int], user: User) -> None:
    """Needs covered by a referral stop being pending: identified ones become *referred*; each change has
    its audit entry (the referral's own is the caller's, and so is the case's status).
    """
    need_ids = {n.id for n in needs}
    members = set(member_ids)
    for family_need in family_needs(family):
        if (
            family_need.is_pending
            and family_need.need_id in need_ids
            and (family_need.member_id is None or family_need.member_id in members)
        ):
            family_need.status = NeedStatus.REFERRED
            audit.record(
                AuditAction.NEED_REFERRED,
                "family",
                family.id,
                family_need_id=family_need.id,
                need=family_need.need.code,
                member_id=family_need.member_id,
                actor_id=user.id,
            )
