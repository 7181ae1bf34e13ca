"""``/api/v1/.../referrals``: a family's referrals (*derivaciones*), their status transitions and slips,
through the same schemas (the referral form's, the status form's), scoped queries and services as the
referral pages.

Optimistic locking: a referral changes only by status steps, each one recorded, so its version is its
number of steps (``services.status_version``), given as its ETag. A transition may send it back in
``If-Match``: if the referral moved since it was read, the answer is a 412 and nothing changes. Without
it, the status change is still a compare-and-set: a move made from a state someone else has just left
is a 409, and one the state machine does not allow from the current state a 400, both with a message.
"""

from __future__ import annotations

from typing import Any

from flask import Response, abort, request
from flask.typing import ResponseReturnValue
from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from ..cases.models import FamilyUnit
from ..cases.queries import get_family
from ..core import audit
from ..core.audit import AuditAction
from ..core.pdf import pdf_response
from ..core.permissions import Permission, permission_required
from ..core.transaction import unit_of_work
from ..referrals import services
from ..referrals.models import Referral
from ..referrals.pdf import render_slips
from ..referrals.schemas import ReferralSchema, TransitionSchema
from .common import (
    PageArgsSchema,
    PageSchema,
    Timestamp,
    audit_case_reads,
    errors,
    page_of,
    version_from_if_match,
    with_etag,
)

blp = Blueprint(
    "api_referrals",
    __name__,
    url_prefix="",
    description=(
        "Derivaciones de una unidad familiar a un programa de la SOSEP o a una institución aliada, "
        "sus cambios de estado y su boleta."
    ),
)

#: The ETag's header in the documentation of the answers that carry it.
ETAG_HEADER = {"ETag": {"schema": {"type": "string"}, "description": "La versión de la derivación."}}


class ReferralEventOutSchema(Schema):
    """One status step: from which state to which, when, by whom, and why."""

    from_status = fields.Function(lambda e: e.from_status.value if e.from_status else None, allow_none=True)
    to_status = fields.Function(lambda e: e.to_status.value, required=True)
    note = fields.String(allow_none=True)
    created_at = Timestamp(required=True)
    user_id = fields.Integer(required=True)
    #: The institution the step was recorded for, when a partner institution's user answered.
    institution = fields.Function(
        lambda e: e.user.institution.code if e.user.institution is not None else None, allow_none=True
    )


class ReferralOutSchema(Schema):
    """A referral as SOSEP's staff see it; ``version`` is also its ETag (``"v<version>"``)."""

    id = fields.Integer(required=True)
    #: The slip number (``REF-FAG-2026-00012``).
    number = fields.String(required=True)
    family_id = fields.Integer(required=True)
    #: The code of the institutions catalogue (``/api/v1/catalogs/institutions``).
    institution = fields.Function(lambda r: r.institution.code, required=True)
    status = fields.Function(lambda r: r.status.value, required=True)
    priority = fields.Function(lambda r: r.priority.value, required=True)
    reason = fields.String(required=True)
    outcome_notes = fields.String(allow_none=True)
    member_ids = fields.Function(lambda r: [m.id for m in r.members], required=True)
    #: Codes of the needs catalogue.
    needs = fields.Function(lambda r: [n.code for n in r.needs], required=True)
    #: Sent or later but cancelled: a slip may be printed (``slip.pdf``).
    has_slip = fields.Boolean(required=True)
    #: The states it may move to now (``POST .../status``).
    allowed_transitions = fields.Function(
        lambda r: [s.value for s in services.allowed_transitions(r)], required=True
    )
    version = fields.Function(services.status_version, required=True)
    created_at = Timestamp(required=True)
    updated_at = Timestamp(allow_none=True)
    events = fields.List(fields.Nested(ReferralEventOutSchema), required=True)


class ReferralPageSchema(PageSchema):
    items = fields.List(fields.Nested(ReferralOutSchema), required=True)


def _family(family_id: int) -> FamilyUnit:
    return get_family(current_user, family_id) or abort(404)


def _referral(referral_id: int, *, for_update: bool = False) -> Referral:
    return services.get_referral(current_user, referral_id, for_update=for_update) or abort(404)


def with_referral_etag(referral: Referral, status: int = 200) -> ResponseReturnValue:
    return with_etag(referral, services.status_version(referral), status)


def check_if_match(referral: Referral) -> None:
    """412 if the request says which version it was made from (``If-Match``) and the referral moved
    since (``*`` matches any); no ``If-Match`` leaves the compare-and-set of the status change alone."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return
    if version_from_if_match() != services.status_version(referral):
        abort(412)


@blp.route("/families/<int:family_id>/referrals")
class FamilyReferrals(MethodView):
    @permission_required(Permission.CASE_VIEW)
    @blp.arguments(PageArgsSchema, location="query", as_kwargs=False)
    @blp.response(200, ReferralPageSchema)
    @errors(blp, 401, 403, 404, 422)
    def get(self, args: dict[str, Any], family_id: int) -> dict[str, Any]:
        """The family's referrals, oldest first, with their steps."""
        family = _family(family_id)
        audit_case_reads([family.id], part="referrals")
        family = _family(family_id)  # read again after the audit's commit expired it
        return page_of(services.family_referrals_query(family), args)

    @permission_required(Permission.REFERRAL_CREATE)
    @blp.arguments(ReferralSchema)
    @blp.response(201, ReferralOutSchema, headers=ETAG_HEADER)
    @errors(blp, 400, 401, 403, 404, 409, 422)
    def post(self, data: dict[str, Any], family_id: int) -> ResponseReturnValue:
        """Refer members of the family to an institution (``send: true`` sends it at once, otherwise it
        is a draft). An institution outside the SOSEP needs the consent recorded on the case (400). A
        ``submission_token`` (32 hex digits) makes a retried request safe: the second one is a 409."""
        family = _family(family_id)
        if services.submitted_referral(current_user, data.get("submission_token")) is not None:
            abort(409)
        with unit_of_work():
            referral_id = services.create_referral(family, data, current_user).id
        return with_referral_etag(_referral(referral_id), 201)


@blp.route("/referrals/<int:referral_id>")
class ReferralItem(MethodView):
    @permission_required(Permission.CASE_VIEW)
    @blp.response(200, ReferralOutSchema, headers=ETAG_HEADER)
    @errors(blp, 401, 403, 404)
    def get(self, referral_id: int) -> ResponseReturnValue:
        """One referral of a case in the account's scope; its ETag may go back in a transition's
        ``If-Match``."""
        referral = _referral(referral_id)
        audit_case_reads([referral.family_id], referral_id=referral.id)
        return with_referral_etag(_referral(referral_id))


@blp.route("/referrals/<int:referral_id>/status")
class ReferralStatusChange(MethodView):
    @permission_required(Permission.REFERRAL_UPDATE)
    @blp.arguments(TransitionSchema)
    @blp.response(200, ReferralOutSchema, headers=ETAG_HEADER)
    @errors(blp, 400, 401, 403, 404, 409, 412, 422)
    def post(self, data: dict[str, Any], referral_id: int) -> ResponseReturnValue:
        """Move the referral to ``status`` (one of its ``allowed_transitions``), with a ``note`` where the
        move needs one (rejected, family not located, cancelled). A move the referral's state does not
        allow is a 400; one made from a state someone else has just left a 409; one sent with an
        ``If-Match`` that is no longer its ETag a 412."""
        referral = _referral(referral_id, for_update=True)
        check_if_match(referral)
        with unit_of_work():
            services.change_status(referral, data["status"], data.get("note"), current_user)
        return with_referral_etag(_referral(referral_id))


@blp.route("/referrals/<int:referral_id>/slip.pdf")
class ReferralSlip(MethodView):
    @permission_required(Permission.CASE_VIEW)
    @blp.response(
        200,
        {"type": "string", "format": "binary"},
        content_type="application/pdf",
        description="La boleta de referencia (PDF, en español).",
    )
    @errors(blp, 401, 403, 404)
    def get(self, referral_id: int) -> Response:
        """The slip handed to the family, as the referral page prints it (404 for a draft or a
        cancelled referral, which have none). Printing it is recorded in the audit."""
        referral = _referral(referral_id)
        if not referral.has_slip:
            abort(404)
        content = render_slips([referral])
        with unit_of_work():
            audit.record(AuditAction.SLIP_PRINT, "family", referral.family_id, referral_id=referral.id)
        return pdf_response(content, f"{referral.number}.pdf")
