"""One save for the desk: the family, the needs served and the referrals chosen, in one transaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _

from ..auth.models import User
from ..cases.models import FamilyUnit
from ..cases.services import confirm_preregistered, register_family
from ..core.errors import ServiceError
from ..needs.models import NeedStatus
from ..needs.services import record_needs
from ..reception.models import Arrival
from ..referrals.models import Priority, Referral
from ..referrals.services import create_referral


def register_at_desk(
    arrival: Arrival,
    family_data: dict[str, Any],
    extras: dict[str, Any],
    positions: Mapping[int, int],
    default_quantities: Mapping[str, int],
    user: User,
) -> tuple[FamilyUnit, list[Referral]]:
    """Register the family, serve its ticked needs and create (as sent, slips queued for the arrival's batch)
    the referrals ticked; the caller's unit of work commits all or nothing.

    ``positions`` maps a member row of the form to the member's position in ``family_data["members"]``.
    """
    family = register_family(arrival, family_data, user)
    return family, _serve_and_refer(family, extras, positions, default_quantities, user)


def confirm_at_desk(
    family: FamilyUnit,
    family_data: dict[str, Any],
    extras: dict[str, Any],
    positions: Mapping[int, int],
    default_quantities: Mapping[str, int],
    user: User,
) -> tuple[FamilyUnit, list[Referral]]:
    """:func:`register_at_desk` for a family pre-registered from the passenger list: its data as completed
    on the same form (the version it was opened at included) replaces the list's, the family is received
    from now on, and its ticked needs and referrals are saved with it; all or nothing."""
    confirm_preregistered(family, family_data, user)
    return family, _serve_and_refer(family, extras, positions, default_quantities, user)


def _serve_and_refer(
    family: FamilyUnit,
    extras: dict[str, Any],
    positions: Mapping[int, int],
    default_quantities: Mapping[str, int],
    user: User,
) -> list[Referral]:
    """The desk form's needs served now and referrals created (as sent) for a family just saved."""
    delivered_by = extras.get("delivered_by") or user.full_name
    items = [
        {
            "need": line["need"],
            "action": NeedStatus.ATTENDED,
            "quantity": line.get("quantity") or default_quantities.get(line["need"].code, 1),
            "delivered_by": delivered_by,
        }
        for line in extras.get("needs", [])
        if line.get("given")
    ]
    if items:
        record_needs(family, items, user)
    members = sorted(family.members, key=lambda m: m.position)
    referrals = []
    for index, line in enumerate(extras.get("referrals", [])):
        if not line.get("selected"):
            continue
        rows = [positions[row] for row in line["persons"] if row in positions]
        if not rows:
            raise ServiceError({f"referrals-{index}-persons": _("Elija al menos un integrante.")})
        try:
            referral = create_referral(
                family,
                {
                    "institution": line["institution"],
                    "member_ids": [members[position].id for position in rows],
                    "reason": line["reason"],
                    "priority": line.get("priority") or Priority.NORMAL.value,
                    "send": True,
                },
                user,
            )
        except ServiceError as exc:
            raise ServiceError(
                {f"referrals-{index}-{key}": message for key, message in exc.errors.items()}
            ) from exc
        referrals.append(referral)
    return referrals
