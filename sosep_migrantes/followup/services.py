"""Follow-up operations. They add and flush and write the audit trail; the request commits.

:func:`refresh_case` is the one function that sets a case's status and follow-up dates; every operation
here, and the lower modules through ``cases.lifecycle``, call it after changing what it reads.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app, has_app_context
from flask_babel import gettext as _
from sqlalchemy import func, select

from ..auth.models import User
from ..cases.lifecycle import on_case_changed
from ..cases.models import CaseStatus, FamilyUnit
from ..catalogs.models import Institution
from ..catalogs.services import sede_for_municipality
from ..core import audit
from ..core.audit import AuditAction
from ..core.errors import ServiceError
from ..core.schema import date_between
from ..core.timeutil import to_local, today_local
from ..db import utcnow
from ..extensions import db
from ..referrals.models import Priority, Referral, ReferralStatus
from ..referrals.services import change_status
from . import rules
from .models import (
    CaseClosure,
    CaseTransfer,
    ClosureKind,
    ClosureReason,
    ContactOutcome,
    FollowUp,
    Linkage,
)

#: How far after a contact the next one may be set: further is a mistyped year, not a plan.
NEXT_ACTION_HORIZON = dt.timedelta(days=366)


def settings() -> rules.Settings:
    return rules.settings_from(current_app.config) if has_app_context() else rules.Settings()


def case_facts(family: FamilyUnit) -> rules.CaseFacts:
    """The facts :mod:`.rules` reads, from what is recorded about the case (five small queries)."""
    if family.id is None:  # being registered: nothing is recorded about it yet
        return rules.CaseFacts(
            arrived_on=to_local(family.arrival.arrived_at).date(),
            protection_risk=family.protection_risk,
            preregistered=family.status == CaseStatus.PREREGISTERED,
        )
    referral_rows = db.session.execute(
        select(Referral.priority, Referral.status).where(Referral.family_id == family.id, Referral.has_slip)
    ).all()
    contacts = db.session.execute(
        select(func.min(FollowUp.contacted_on), func.max(FollowUp.contacted_on)).where(
            FollowUp.family_id == family.id
        )
    ).one()
    latest = db.session.scalar(
        select(FollowUp.next_action_on)
        .where(FollowUp.family_id == family.id)
        .order_by(FollowUp.contacted_on.desc(), FollowUp.id.desc())
        .limit(1)
    )
    linked = db.session.scalar(select(Linkage.id).where(Linkage.family_id == family.id).limit(1)) is not None
    closure = db.session.execute(
        select(CaseClosure.kind, CaseClosure.created_at)
        .where(CaseClosure.family_id == family.id)
        .order_by(CaseClosure.id.desc())
        .limit(1)
    ).first()
    return rules.CaseFacts(
        arrived_on=to_local(family.arrival.arrived_at).date(),
        referred=bool(referral_rows),
        urgent_referral=any(
            priority == Priority.URGENT and status != ReferralStatus.REJECTED
            for priority, status in referral_rows
        ),
        protection_risk=family.protection_risk,
        first_contact_on=contacts[0],
        last_contact_on=contacts[1],
        next_contact_on=latest,
        linked=linked,
        closed=closure is not None and closure.kind == ClosureKind.CLOSE,
        reopened_on=(
            to_local(closure.created_at).date()
            if closure is not None and closure.kind == ClosureKind.REOPEN
            else None
        ),
        preregistered=family.status == CaseStatus.PREREGISTERED,
    )


@on_case_changed
def refresh_case(family: FamilyUnit, user: User) -> None:
    """Set the case's status and follow-up dates from its events; a change of status is audited."""
    if family.id is not None:
        db.session.flush()
    facts = case_facts(family)
    status = rules.status(facts)
    family.followup_due_on = rules.due_on(facts, settings())
    family.first_contact_on = facts.first_contact_on
    family.last_contact_on = facts.last_contact_on
    before = family.status
    family.status = status
    if before is not None and before != status and family.id is not None:
        audit.record(
            AuditAction.FAMILY_STATUS,
            "family",
            family.id,
            **{"from": str(before), "to": status.value},
            actor_id=user.id,
        )
    if family.id is not None:
        db.session.flush()


def is_closed(family: FamilyUnit) -> bool:
    return rules.status(case_facts(family)) is CaseStatus.CLOSED


def _refuse_if_closed(family: FamilyUnit, field: str) -> None:
    if is_closed(family):
        raise ServiceError({field: _("El caso está cerrado. Reábralo antes de registrar algo nuevo.")})


def _check_date(errors: dict[str, str], field: str, value: dt.date, family: FamilyUnit) -> None:
    arrived_on = to_local(family.arrival.arrived_at).date()
    if value > today_local():
        errors[field] = _("La fecha no puede ser posterior a hoy.")
    elif value < arrived_on:
        errors[field] = _(
            "La fecha no puede ser anterior a la llegada (%(date)s).", date=arrived_on.strftime("%d/%m/%Y")
        )


def record_followup(family: FamilyUnit, data: dict[str, Any], user: User) -> FollowUp:
    """Record a contact (or an attempt) with the family; it sets when the next one falls due."""
    _refuse_if_closed(family, "contacted_on")
    errors: dict[str, str] = {}
    _check_date(errors, "contacted_on", data["contacted_on"], family)
    next_on = data.get("next_action_on")
    if "contacted_on" in errors:
        pass  # the next date is read against a contact date that is itself wrong (9999-12-31, say)
    elif next_on is not None and next_on <= data["contacted_on"]:
        errors["next_action_on"] = _("La próxima fecha debe ser posterior a la del contacto.")
    elif next_on is not None:
        # A mistyped year (2062 for 2026) would hide the case from the overdue list for decades.
        problem = date_between(
            next_on, data["contacted_on"] + dt.timedelta(days=1), data["contacted_on"] + NEXT_ACTION_HORIZON
        )
        if problem:
            errors["next_action_on"] = problem
    if errors:
        raise ServiceError(errors)
    followup = FollowUp(
        family_id=family.id,
        contacted_on=data["contacted_on"],
        contact_type=data["contact_type"],
        contacted_person=data.get("contacted_person"),
        outcome=data["outcome"],
        notes=data.get("notes"),
        next_action=data.get("next_action"),
        next_action_on=next_on,
        submission_token=data.get("submission_token"),
        created_by_id=user.id,
    )
    db.session.add(followup)
    db.session.flush()
    audit.record(
        AuditAction.FOLLOWUP_RECORD,
        "family",
        family.id,
        followup_id=followup.id,
        contact_type=str(followup.contact_type),
        outcome=str(followup.outcome),
        actor_id=user.id,
    )
    refresh_case(family, user)
    return followup


#: A referral that a linkage can follow, and so mark attended.
LINKABLE_REFERRALS = frozenset({ReferralStatus.SENT, ReferralStatus.ACCEPTED, ReferralStatus.ATTENDED})


def linkable_referrals(family: FamilyUnit) -> list[Referral]:
    return list(
        db.session.scalars(
            select(Referral)
            .where(Referral.family_id == family.id, Referral.status.in_(LINKABLE_REFERRALS))
            .order_by(Referral.id)
        )
    )


def link(family: FamilyUnit, data: dict[str, Any], user: User) -> Linkage:
    """Link a member, or the whole family, to a programme or service (a referral it follows: attended)."""
    _refuse_if_closed(family, "linked_on")
    errors: dict[str, str] = {}
    _check_date(errors, "linked_on", data["linked_on"], family)
    member_id = data.get("member_id")
    if member_id is not None and member_id not in {m.id for m in family.members}:
        errors["member_id"] = _("Elija un integrante de esta familia.")
    referral: Referral | None = None
    if data.get("referral_id") is not None:
        referral = next((r for r in linkable_referrals(family) if r.id == data["referral_id"]), None)
        if referral is None:
            errors["referral_id"] = _("Elija una derivación enviada de esta familia.")
    institution: Institution | None = data.get("institution")
    if institution is None and referral is not None:
        institution = referral.institution
    outside = data.get("outside_service")
    if institution is None and not outside:
        errors["institution"] = _("Elija el programa o institución, o escriba el servicio externo.")
    elif institution is not None and outside:
        errors["outside_service"] = _("Elija un programa o escriba un servicio externo, no ambos.")
    if referral is not None and institution is not None and referral.institution_id != institution.id:
        errors["referral_id"] = _("La derivación elegida es a otra institución.")
    if errors:
        raise ServiceError(errors)
    linkage = Linkage(
        family_id=family.id,
        member_id=member_id,
        institution=institution,
        outside_service=outside if institution is None else None,
        linked_on=data["linked_on"],
        note=data.get("note"),
        referral_id=referral.id if referral else None,
        submission_token=data.get("submission_token"),
        created_by_id=user.id,
    )
    db.session.add(linkage)
    db.session.flush()
    audit.record(
        AuditAction.LINKAGE_CREATE,
        "family",
        family.id,
        linkage_id=linkage.id,
        member_id=member_id,
        institution=institution.code if institution else None,
        referral_id=referral.id if referral else None,
        actor_id=user.id,
    )
    if referral is not None and referral.status != ReferralStatus.ATTENDED:
        note = _("Vinculación registrada por la sede.")
        if referral.status == ReferralStatus.SENT:
            change_status(referral, ReferralStatus.ACCEPTED, note, user)
        change_status(referral, ReferralStatus.ATTENDED, note, user)
    refresh_case(family, user)
    return linkage


def transfer(family: FamilyUnit, data: dict[str, Any], user: User) -> CaseTransfer:
    """The family moved to another sede's territory: the case goes with it (the old sede stops seeing it)."""
    _refuse_if_closed(family, "municipality")
    municipality = data["municipality"]
    old_municipality_id = family.destination_municipality_id
    old_sede = sede_for_municipality(old_municipality_id)
    new_sede = sede_for_municipality(municipality.id)
    if municipality.id == old_municipality_id:
        raise ServiceError({"municipality": _("La familia ya tiene ese municipio como destino.")})
    if new_sede is None:
        raise ServiceError(
            {
                "municipality": _(
                    "Ninguna sede cubre ese municipio todavía: pida a la administración que lo asigne a una "
                    "sede antes de trasladar el caso."
                )
            }
        )
    if old_sede is not None and new_sede.id == old_sede.id:
        raise ServiceError(
            {
                "municipality": _(
                    "Ese municipio también lo cubre %(sede)s: no es un traslado. "
                    "Cambie el destino con «Editar».",
                    sede=new_sede.name,
                )
            }
        )
    record = CaseTransfer(
        family_id=family.id,
        from_sede_id=old_sede.id if old_sede else None,
        to_sede_id=new_sede.id,
        from_municipality_id=old_municipality_id,
        to_municipality_id=municipality.id,
        reason=data["reason"],
        created_by_id=user.id,
    )
    db.session.add(record)
    family.destination = municipality
    family.destination_municipality_id = municipality.id
    if data.get("community") is not None or data.get("address") is not None:
        family.community = data.get("community")
        family.address = data.get("address")
    if data.get("phone"):
        family.phone = data["phone"]
    family.transferred_at = utcnow()
    family.updated_at = family.transferred_at
    family.updated_by_id = user.id
    db.session.flush()
    audit.record(
        AuditAction.FAMILY_TRANSFER,
        "family",
        family.id,
        transfer_id=record.id,
        from_sede=record.from_sede_id,
        to_sede=record.to_sede_id,
        actor_id=user.id,
    )
    refresh_case(family, user)
    return record


def not_located_attempts(family: FamilyUnit) -> int:
    return (
        db.session.scalar(
            select(func.count()).where(
                FollowUp.family_id == family.id, FollowUp.outcome == ContactOutcome.NOT_LOCATED
            )
        )
        or 0
    )


def close(family: FamilyUnit, data: dict[str, Any], user: User) -> CaseClosure:
    """Close the case with its reason; the reason must be borne out by what is recorded."""
    _refuse_if_closed(family, "reason")
    reason = ClosureReason(data["reason"])
    note = data.get("note")
    errors: dict[str, str] = {}
    if reason is ClosureReason.LINKED and rules.status(case_facts(family)) is not CaseStatus.LINKED:
        errors["reason"] = _("Registre primero la vinculación a un programa.")
    if reason is ClosureReason.NOT_LOCATED:
        needed = settings().not_located_attempts
        attempts = not_located_attempts(family)
        if attempts < needed:
            errors["reason"] = _(
                "Se necesitan %(needed)d intentos sin localizar a la familia; hay %(done)d registrados.",
                needed=needed,
                done=attempts,
            )
    if reason is ClosureReason.OTHER and not note:
        errors["note"] = _("Indique el motivo.")
    if errors:
        raise ServiceError(errors)
    closure = CaseClosure(
        family_id=family.id, kind=ClosureKind.CLOSE, reason=reason, note=note, created_by_id=user.id
    )
    db.session.add(closure)
    db.session.flush()
    audit.record(
        AuditAction.FAMILY_CLOSE,
        "family",
        family.id,
        closure_id=closure.id,
        reason=reason.value,
        actor_id=user.id,
    )
    refresh_case(family, user)
    return closure


def reopen(family: FamilyUnit, data: dict[str, Any], user: User) -> CaseClosure:
    """Reopen a closed case, saying why; its first contact falls due again from today."""
    if not is_closed(family):
        raise ServiceError({"note": _("El caso no está cerrado.")})
    if family.anonymised_at is not None:
        raise ServiceError(
            {"note": _("Este caso fue anonimizado: si la familia regresa, regístrela como un caso nuevo.")}
        )
    closure = CaseClosure(
        family_id=family.id, kind=ClosureKind.REOPEN, note=data["note"], created_by_id=user.id
    )
    db.session.add(closure)
    db.session.flush()
    audit.record(AuditAction.FAMILY_REOPEN, "family", family.id, closure_id=closure.id, actor_id=user.id)
    refresh_case(family, user)
    return closure
