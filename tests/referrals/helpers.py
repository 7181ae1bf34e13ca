"""Helpers shared by the referral tests."""

from __future__ import annotations

from sosep_migrantes.extensions import db
from sosep_migrantes.referrals import services
from sosep_migrantes.referrals.models import Referral
from sosep_migrantes.referrals.schemas import ReferralSchema


def refer(
    family,
    user,
    institution: str = "SOSEP_SEDES",
    *,
    member_ids: list[int] | None = None,
    send: bool = False,
    needs: list[str] = (),
    priority: str = "normal",
    reason: str = "Seguimiento en su comunidad.",
) -> Referral:
    """Create a referral through the schema and the service, as the form does, and commit it."""
    data = ReferralSchema().load(
        {
            "institution": institution,
            "member_ids": member_ids or [m.id for m in family.members],
            "reason": reason,
            "needs": list(needs),
            "priority": priority,
            "send": send,
        }
    )
    referral = services.create_referral(family, data, user)
    db.session.commit()
    return referral
