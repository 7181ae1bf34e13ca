"""Referral slips (*boletas de referencia*): plain data for the PDF template, one slip or a whole arrival."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from flask_babel import force_locale

from ..core.pdf import QR_SCHEME, render_pdf
from ..core.timeutil import age_in_months, now_local, to_local
from .models import Referral


def qr_url(number: str) -> str:
    """A QR code that carries only the slip number: no personal data leaves on it."""
    return QR_SCHEME + quote(number)


def age_text(birth: dt.date | None, years: int, on: dt.date) -> str:
    """'3 años', or '8 meses' for a baby whose date of birth is known."""
    if years < 1 and birth is not None:
        months = age_in_months(birth, on)
        return f"{max(months, 0)} {'mes' if months == 1 else 'meses'}"
    return f"{years} {'año' if years == 1 else 'años'}"


def slip_data(referral: Referral) -> dict[str, Any]:
    family = referral.family
    arrival_day = to_local(family.arrival.arrived_at).date()
    institution = referral.institution
    return {
        "number": referral.number,
        "case_number": family.case_number,
        "date": to_local(referral.created_at).strftime("%d/%m/%Y")
        if referral.created_at
        else now_local().strftime("%d/%m/%Y"),
        "centre": family.centre.name,
        "institution": {
            "name": institution.name_es,
            "kind": institution.kind_label,
            "address": institution.address,
            "phone": institution.phone,
            "email": institution.email,
            "contact_person": institution.contact_person,
        },
        "members": [
            {
                "name": m.full_name,
                "age": age_text(m.birth_date, m.age_at(arrival_day), arrival_day),
                "estimated": m.birth_date is None,
                "sex": m.sex_label,
                "relationship": m.relationship_to_head.name_es,
            }
            for m in referral.members
        ],
        "destination": family.destination.label,
        "community": family.community,
        "phone": family.phone,
        "reason": referral.reason,
        "needs": [n.name_es for n in referral.needs],
        "priority": referral.priority_label,
        "urgent": referral.is_urgent,
        "staff": referral.created_by.full_name if referral.created_by else "",
        "qr": qr_url(referral.number),
    }


def render_slips(referrals: Iterable[Referral]) -> bytes:
    # Slips are printed in Spanish whatever language the user works in: labels such as sex, priority
    # or institution type are gettext strings, so they are built under the Spanish locale.
    with force_locale("es_GT"):
        return render_pdf("referrals/slips.pdf.html", slips=[slip_data(r) for r in referrals])
