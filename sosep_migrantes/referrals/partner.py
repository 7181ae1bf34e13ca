"""The partner institutions' pages (OIM, Refugio de la Niñez, ...): the referrals addressed to them, and
their answer.

A partner's user sees what the paper slip tells the institution and nothing more: the slip's number and
date, its priority, the names and ages of the persons referred, the reason, the family's phone and
destination, and the referral's own history. Never the case (its number, other members, needs,
protection causes, notes, CUIs), nor another institution's referrals: every page and the PDF start from
``services.partner_referrals`` and are given plain data (:class:`PartnerReferral`), not the ORM objects, so
a template cannot reach further into the case.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from marshmallow import ValidationError, fields, validate
from sqlalchemy import Select
from sqlalchemy.orm import selectinload

from ..auth.models import User
from ..core import audit
from ..core.audit import AuditAction
from ..core.errors import ServiceError
from ..core.forms import form_errors, form_to_data
from ..core.pagination import paginate
from ..core.pdf import pdf_response, render_pdf
from ..core.permissions import Permission, permission_required
from ..core.schema import AsciiInteger, InputSchema
from ..core.timeutil import age_in_months, to_local
from ..core.transaction import unit_of_work
from . import services
from .models import REFERRAL_STATUS_LABELS, Priority, Referral, ReferralEvent, ReferralStatus
from .schemas import TransitionSchema

bp = Blueprint("partner", __name__, url_prefix="/partner")

S = ReferralStatus
#: Referrals per page of the home page.
PER_PAGE = 25

#: The states a partner sees a referral in (those with a slip; see ``services.partner_referrals``).
SHOWN = (S.SENT, S.ACCEPTED, S.REJECTED, S.ATTENDED, S.NOT_LOCATED)
#: The home page's status filter: the open referrals (still to be answered or attended) by default.
OPEN = "open"
ALL = "all"
STATUS_FILTERS: dict[str, tuple[ReferralStatus, ...]] = {
    OPEN: (S.SENT, S.ACCEPTED),
    ALL: SHOWN,
    **{s.value: (s,) for s in SHOWN},
}
FILTER_LABELS = {
    OPEN: _l("Abiertas (enviadas o aceptadas)"),
    ALL: _l("Todas"),
    **{s.value: REFERRAL_STATUS_LABELS[s] for s in SHOWN},
}

#: What the buttons of the answer form say.
ANSWER_LABELS = {
    S.ACCEPTED: _l("Aceptar la derivación"),
    S.REJECTED: _l("Rechazar"),
    S.ATTENDED: _l("Registrar que fue atendida"),
    S.NOT_LOCATED: _l("No se localizó a la familia"),
}


class PartnerFilterSchema(InputSchema):
    """The home page's query string: the status filter and the page."""

    status = fields.String(load_default=OPEN, validate=validate.OneOf(list(STATUS_FILTERS)))
    page = AsciiInteger(6, load_default=1, validate=validate.Range(min=1))

    def load_ignoring_errors(self, data: dict[str, Any]) -> dict[str, Any]:
        """A malformed value (an old bookmark, a hand-edited URL) counts as absent, not as an error."""
        loaded: dict[str, Any]
        try:
            loaded = self.load(data)
        except ValidationError as exc:
            loaded = self.load({k: v for k, v in data.items() if k not in exc.messages})
        return loaded


# -- what a partner is shown ------------------------------------------------------------------------


@dataclass(frozen=True)
class ReferredPerson:
    name: str
    #: Age at arrival, in whole years; ``months`` too for a baby whose date of birth is known.
    years: int
    months: int | None
    estimated: bool


@dataclass(frozen=True)
class HistoryStep:
    at: dt.datetime
    status: ReferralStatus
    status_label: str
    who: str
    institution: str | None
    note: str | None


@dataclass(frozen=True)
class PartnerReferral:
    """A referral as its institution sees it: the slip's facts, nothing else of the case."""

    id: int
    number: str
    date: dt.date
    priority: Priority
    priority_label: str
    is_urgent: bool
    persons: list[ReferredPerson]
    reason: str
    phone: str | None
    destination: str
    status: ReferralStatus
    status_label: str


def actor_institution(user: User | None) -> str | None:
    """The institution a partner user answers for (staff of SOSEP: none)."""
    if user is None or user.institution is None:
        return None
    return user.institution.name


def shown_referral(referral: Referral) -> PartnerReferral:
    """What the institution's pages, its PDF and the partner API show of a referral."""
    family = referral.family
    arrived_on = to_local(family.arrival.arrived_at).date()
    persons = []
    for member in referral.members:
        years = member.age_at(arrived_on)
        months = None
        if years < 1 and member.birth_date is not None:
            months = max(age_in_months(member.birth_date, arrived_on), 0)
        persons.append(ReferredPerson(member.full_name, years, months, member.birth_date is None))
    return PartnerReferral(
        id=referral.id,
        number=referral.number,
        # The slip's date, so the page and the paper the family carries agree.
        date=to_local(referral.created_at).date(),
        priority=Priority(referral.priority),
        priority_label=referral.priority_label,
        is_urgent=referral.is_urgent,
        persons=persons,
        reason=referral.reason,
        phone=family.phone,
        destination=family.destination.label,
        status=ReferralStatus(referral.status),
        status_label=referral.status_label,
    )


def referral_history(events: list[ReferralEvent]) -> list[HistoryStep]:
    """The referral's steps as its institution sees them."""
    # The draft was SOSEP's work before the referral was handed over: the history starts when it was sent.
    return [
        HistoryStep(
            e.created_at,
            ReferralStatus(e.to_status),
            e.status_label,
            e.user.full_name,
            actor_institution(e.user),
            e.note,
        )
        for e in events
        if e.to_status != S.DRAFT
    ]


def partner_list(user: User, status_filter: str) -> Select[Referral]:
    """The referrals addressed to the user's institution in one of :data:`STATUS_FILTERS`, newest first
    (the home page and the partner API)."""
    return (
        services.partner_referrals(user)
        .where(Referral.status.in_(STATUS_FILTERS[status_filter]))
        .options(selectinload(Referral.members), selectinload(Referral.family))
        .order_by(Referral.id.desc())
    )


def render_partner_slip(referral: Referral) -> bytes:
    """The referral on paper for the institution's own file: the same facts as its page, in Spanish."""
    with force_locale("es_GT"):
        return render_pdf(
            "referrals/partner_slip.pdf.html",
            referral=shown_referral(referral),
            institution=referral.institution.name_es,
        )


# -- the pages -----------------------------------------------------------------------------------------


@bp.get("/")
@permission_required(Permission.REFERRAL_RESPOND)
def home() -> ResponseReturnValue:
    """The referrals addressed to the user's institution, newest first, the open ones by default."""
    loaded = PartnerFilterSchema().load_ignoring_errors(request.args.to_dict())
    page = paginate(partner_list(current_user, loaded["status"]), loaded["page"], PER_PAGE)
    return render_template(
        "referrals/partner_home.html",
        page=page,
        referrals=[shown_referral(r) for r in page.items],
        status=loaded["status"],
        filter_labels=FILTER_LABELS,
        institution=current_user.institution,
    )


def _detail(
    referral: Referral, values: dict[str, Any], errors: dict[str, str], status: int = 200
) -> ResponseReturnValue:
    return render_template(
        "referrals/partner_detail.html",
        referral=shown_referral(referral),
        history=referral_history(referral.events),
        answers=[(s.value, ANSWER_LABELS[s]) for s in services.allowed_answers(referral)],
        values=values,
        errors=errors,
    ), status


@bp.get("/referrals/<int:referral_id>")
@permission_required(Permission.REFERRAL_RESPOND)
def detail(referral_id: int) -> ResponseReturnValue:
    referral = services.get_partner_referral(current_user, referral_id) or abort(404)
    return _detail(referral, {}, {})


@bp.post("/referrals/<int:referral_id>/status")
@permission_required(Permission.REFERRAL_RESPOND)
def answer(referral_id: int) -> ResponseReturnValue:
    referral = services.get_partner_referral(current_user, referral_id, for_update=True) or abort(404)
    values = form_to_data(request.form)
    try:
        with unit_of_work():
            data = TransitionSchema().load(values)
            services.answer_referral(referral, data["status"], data.get("note"), current_user)
    except (ValidationError, ServiceError) as exc:
        # Drawn again from what is saved (the rollback expired the referral), with what was typed.
        referral = services.get_partner_referral(current_user, referral_id) or abort(404)
        return _detail(referral, values, form_errors(exc), 400)
    flash(_("Respuesta registrada: %(status)s.", status=referral.status_label), "success")
    return redirect(url_for("partner.detail", referral_id=referral.id))


@bp.get("/referrals/<int:referral_id>/slip.pdf")
@permission_required(Permission.REFERRAL_RESPOND)
def slip(referral_id: int) -> ResponseReturnValue:
    """The referral on paper for the institution's own file: the same facts as its page, in Spanish."""
    referral = services.get_partner_referral(current_user, referral_id) or abort(404)
    content = render_partner_slip(referral)
    with unit_of_work():
        audit.record(AuditAction.SLIP_PRINT, "family", referral.family_id, referral_id=referral.id)
    return pdf_response(content, f"{referral.number}.pdf")


# -- the staff's side ------------------------------------------------------------------------------


@bp.app_template_global()
def referral_answer(referral: Referral) -> ReferralEvent | None:
    """The latest answer to a referral, for the staff's referral and case pages ("Aceptada por Ana
    López (OIM) el 24/11/2026"). Registered here, with the partners' pages, because the case page belongs
    to the cases module, which cannot import the referrals one."""
    return services.latest_answer(referral)


@bp.app_template_global()
def answered_by(user: User | None) -> str:
    """Who gave an answer: the person's name, and their institution when they answer for a partner."""
    if user is None:
        return ""
    institution = actor_institution(user)
    return f"{user.full_name} ({institution})" if institution else user.full_name
