"""Referrals of a case, their status, and the PDF slips (one, or all of an arrival)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError

from ..cases.models import FamilyUnit
from ..cases.queries import get_family
from ..cases.views import CasePage, case_page_part
from ..catalogs.models import Institution, Need
from ..catalogs.services import active_items
from ..core import audit
from ..core.audit import AuditAction
from ..core.errors import ServiceError
from ..core.forms import form_errors, form_to_data
from ..core.pdf import pdf_response
from ..core.permissions import Permission, permission_required
from ..core.transaction import AlreadySaved, unit_of_work
from ..needs.services import family_needs
from ..reception.services import get_arrival
from . import services
from .models import PRIORITY_LABELS, REFERRAL_ACTION_LABELS, ReferralStatus
from .pdf import render_slips
from .schemas import ReferralSchema, TransitionSchema

bp = Blueprint("referrals", __name__)


@case_page_part
def _on_the_case_page(page: CasePage) -> dict[str, Any]:
    referrals = page.once(services.family_referrals)
    suggestions = services.suggestions_for(page.family, referrals, needs=page.once(family_needs))
    return {"referrals": referrals, "suggestions": suggestions}


def _form(
    family: FamilyUnit, values: dict[str, Any], errors: dict[str, str], status: int = 200
) -> ResponseReturnValue:
    return render_template(
        "referrals/new.html",
        family=family,
        values=values,
        errors=errors,
        institutions=active_items(Institution),
        institution_needs={i.code: [n.code for n in i.needs] for i in active_items(Institution)},
        needs=active_items(Need),
        priorities=PRIORITY_LABELS,
        suggestions=services.suggestions_for(family),
    ), status


@bp.route("/cases/<int:family_id>/referrals/new", methods=["GET", "POST"])
@permission_required(Permission.REFERRAL_CREATE)
def new_referral(family_id: int) -> ResponseReturnValue:
    family = get_family(current_user, family_id) or abort(404)
    if request.method == "GET":
        return _form(family, services.new_referral_values(family, request.args.get("institution", "")), {})
    values = form_to_data(request.form, multi=("member_ids", "needs"))
    token = values.get("submission_token")
    try:
        with unit_of_work():
            # The same form sent again, after its first save or at the same moment (unit_of_work turns
            # the token's unique constraint into AlreadySaved): show what it created, print no second slip.
            if services.submitted_referral(current_user, token) is not None:
                raise AlreadySaved
            referral = services.create_referral(family, ReferralSchema().load(values), current_user)
    except (ValidationError, ServiceError) as exc:
        return _form(family, values, form_errors(exc), 400)
    except AlreadySaved:
        already = services.submitted_referral(current_user, token)
        if already is None:  # taken by a referral this user may not see: the general "already sent" answer
            raise
        flash(_("Esta derivación ya estaba guardada como %(number)s.", number=already.number), "info")
        return redirect(url_for("referrals.detail", referral_id=already.id))
    if referral.status == ReferralStatus.SENT:
        flash(
            _("Derivación %(number)s enviada. Imprima la boleta para la familia.", number=referral.number),
            "success",
        )
    else:
        flash(_("Derivación %(number)s guardada como borrador.", number=referral.number), "success")
    return redirect(url_for("referrals.detail", referral_id=referral.id))


@bp.get("/referrals/<int:referral_id>")
@permission_required(Permission.CASE_VIEW)
def detail(referral_id: int) -> ResponseReturnValue:
    referral = services.get_referral(current_user, referral_id) or abort(404)
    return render_template(
        "referrals/detail.html",
        referral=referral,
        status_labels=REFERRAL_ACTION_LABELS,
        transitions=services.allowed_transitions(referral),
        errors={},
        values={},
    )


@bp.post("/referrals/<int:referral_id>/status")
@permission_required(Permission.REFERRAL_UPDATE)
def change_status(referral_id: int) -> ResponseReturnValue:
    referral = services.get_referral(current_user, referral_id, for_update=True) or abort(404)
    values = form_to_data(request.form)
    try:
        with unit_of_work():
            data = TransitionSchema().load(values)
            services.change_status(referral, data["status"], data.get("note"), current_user)
    except (ValidationError, ServiceError) as exc:
        referral = services.get_referral(current_user, referral_id) or abort(404)
        return render_template(
            "referrals/detail.html",
            referral=referral,
            status_labels=REFERRAL_ACTION_LABELS,
            transitions=services.allowed_transitions(referral),
            errors=form_errors(exc),
            values=values,
        ), 400
    flash(_("Estado actualizado: %(status)s.", status=referral.status_label), "success")
    return redirect(url_for("referrals.detail", referral_id=referral.id))


@bp.get("/referrals/<int:referral_id>/slip.pdf")
@permission_required(Permission.CASE_VIEW)
def slip(referral_id: int) -> ResponseReturnValue:
    referral = services.get_referral(current_user, referral_id) or abort(404)
    if not referral.has_slip:
        # Like the arrival's PDF: a draft or a cancelled referral has no slip to hand to the family.
        abort(404)
    content = render_slips([referral])
    # Printing personal data is recorded like a change: who printed which slip, and when.
    with unit_of_work():
        audit.record(AuditAction.SLIP_PRINT, "family", referral.family_id, referral_id=referral.id)
    # The file is named by the slip number only: no names in downloads or URLs.
    return pdf_response(content, f"{referral.number}.pdf")


@bp.get("/arrivals/<int:arrival_id>/slips.pdf")
@permission_required(Permission.CASE_VIEW)
def arrival_slips(arrival_id: int) -> ResponseReturnValue:
    arrival = get_arrival(current_user, arrival_id) or abort(404)
    referrals = services.arrival_slips(current_user, arrival)
    if not referrals:
        flash(_("Esta llegada no tiene derivaciones enviadas para imprimir."), "info")
        return redirect(url_for("desk.arrival", arrival_id=arrival.id))
    content = render_slips(referrals)
    with unit_of_work():
        audit.record(AuditAction.SLIP_PRINT, "arrival", arrival.id, referrals=[r.id for r in referrals])
    return pdf_response(content, f"boletas-llegada-{arrival.id}.pdf")
