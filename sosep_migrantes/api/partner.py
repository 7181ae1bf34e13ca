"""``/api/v1/partner/referrals``: a partner institution's case system reads the referrals addressed to
its institution and answers them (accepted, rejected, attended, family not located).

What it is given is exactly what the institution's pages show (``referrals.partner.shown_referral`` and
``referral_history``): the slip's facts, never the case. Every request starts from
``services.partner_referrals``, so another institution's referral, a draft or a cancelled one is a 404;
a partner's token reaches nothing else of the API (its role has no other permission: 403).
"""

from __future__ import annotations

from typing import Any

from flask import Response, abort
from flask.typing import ResponseReturnValue
from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from ..core import audit
from ..core.audit import AuditAction
from ..core.pdf import pdf_response
from ..core.permissions import Permission, permission_required
from ..core.schema import choice
from ..core.transaction import unit_of_work
from ..referrals import services
from ..referrals.models import Referral
from ..referrals.partner import (
    OPEN,
    STATUS_FILTERS,
    partner_list,
    referral_history,
    render_partner_slip,
    shown_referral,
)
from ..referrals.schemas import TransitionSchema
from .common import PageArgsSchema, PageSchema, Timestamp, errors, page_of, with_etag
from .referrals import ETAG_HEADER, check_if_match

blp = Blueprint(
    "api_partner",
    __name__,
    url_prefix="/partner",
    description=(
        "Instituciones aliadas: las derivaciones dirigidas a la institución del token, con los mismos "
        "datos que sus páginas, y su respuesta."
    ),
)


class ReferredPersonOutSchema(Schema):
    name = fields.String(required=True)
    #: Age at arrival in whole years; ``months`` too for a baby whose date of birth is known.
    years = fields.Integer(required=True)
    months = fields.Integer(allow_none=True)
    #: The age was estimated (no date of birth).
    estimated = fields.Boolean(required=True)


class PartnerReferralOutSchema(Schema):
    """A referral as its institution sees it: the slip's facts, nothing else of the case."""

    id = fields.Integer(required=True)
    #: The slip number, as on the paper the family carries.
    number = fields.String(required=True)
    #: The slip's date.
    date = fields.Date(required=True)
    #: ``normal`` or ``urgent``.
    priority = fields.String(required=True)
    persons = fields.List(fields.Nested(ReferredPersonOutSchema), required=True)
    reason = fields.String(required=True)
    phone = fields.String(allow_none=True)
    #: "Municipio, Departamento".
    destination = fields.String(required=True)
    status = fields.String(required=True)


class HistoryStepOutSchema(Schema):
    at = Timestamp(required=True)
    status = fields.String(required=True)
    #: Who recorded the step, and for which institution when it was a partner's answer.
    who = fields.String(required=True)
    institution = fields.String(allow_none=True)
    note = fields.String(allow_none=True)


class PartnerReferralDetailSchema(PartnerReferralOutSchema):
    """One referral with its history since it was sent and the answers it may be given now; ``version``
    is also its ETag (``"v<version>"``)."""

    history = fields.List(fields.Nested(HistoryStepOutSchema), required=True)
    allowed_answers = fields.List(fields.String(), required=True)
    version = fields.Integer(required=True)


class PartnerReferralPageSchema(PageSchema):
    items = fields.List(fields.Nested(PartnerReferralOutSchema), required=True)


class PartnerFilterArgsSchema(PageArgsSchema):
    """The home page's filter: ``open`` (sent or accepted, the default), ``all``, or one status."""

    status = choice(list(STATUS_FILTERS), load_default=OPEN)


def _referral(referral_id: int, *, for_update: bool = False) -> Referral:
    return services.get_partner_referral(current_user, referral_id, for_update=for_update) or abort(404)


def _detail(referral: Referral) -> ResponseReturnValue:
    version = services.status_version(referral)
    body = {
        **vars(shown_referral(referral)),
        "history": referral_history(referral.events),
        "allowed_answers": [s.value for s in services.allowed_answers(referral)],
        "version": version,
    }
    return with_etag(body, version)


@blp.route("/referrals/")
class PartnerReferrals(MethodView):
    @permission_required(Permission.REFERRAL_RESPOND)
    @blp.arguments(PartnerFilterArgsSchema, location="query", as_kwargs=False)
    @blp.response(200, PartnerReferralPageSchema)
    @errors(blp, 401, 403, 422)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The referrals addressed to the token's institution, newest first: the open ones (sent or
        accepted) unless ``status`` asks for ``all`` or one status."""
        page = page_of(partner_list(current_user, args.get("status") or OPEN), args)
        page["items"] = [shown_referral(referral) for referral in page["items"]]
        return page


@blp.route("/referrals/<int:referral_id>")
class PartnerReferralItem(MethodView):
    @permission_required(Permission.REFERRAL_RESPOND)
    @blp.response(200, PartnerReferralDetailSchema, headers=ETAG_HEADER)
    @errors(blp, 401, 403, 404)
    def get(self, referral_id: int) -> ResponseReturnValue:
        """One referral addressed to the institution, with its history and the answers it may get."""
        return _detail(_referral(referral_id))


@blp.route("/referrals/<int:referral_id>/status")
class PartnerAnswer(MethodView):
    @permission_required(Permission.REFERRAL_RESPOND)
    @blp.arguments(TransitionSchema)
    @blp.response(200, PartnerReferralDetailSchema, headers=ETAG_HEADER)
    @errors(blp, 400, 401, 403, 404, 409, 412, 422)
    def post(self, data: dict[str, Any], referral_id: int) -> ResponseReturnValue:
        """The institution's answer: ``status`` = ``accepted``, ``rejected`` (with a ``note``: why),
        ``attended`` (after accepted) or ``not_located`` (with a ``note``). Sending and cancelling are
        SOSEP's (400), as is any move the referral's state does not allow; an answer made from a state
        someone has just left is a 409, one with a stale ``If-Match`` a 412."""
        referral = _referral(referral_id, for_update=True)
        check_if_match(referral)
        with unit_of_work():
            services.answer_referral(referral, data["status"], data.get("note"), current_user)
        return _detail(_referral(referral_id))


@blp.route("/referrals/<int:referral_id>/slip.pdf")
class PartnerSlip(MethodView):
    @permission_required(Permission.REFERRAL_RESPOND)
    @blp.response(
        200,
        {"type": "string", "format": "binary"},
        content_type="application/pdf",
        description="La derivación en papel para el archivo de la institución (PDF, en español).",
    )
    @errors(blp, 401, 403, 404)
    def get(self, referral_id: int) -> Response:
        """The referral on paper, the same facts as the institution's page; printing it is audited."""
        referral = _referral(referral_id)
        content = render_partner_slip(referral)
        with unit_of_work():
            audit.record(AuditAction.SLIP_PRINT, "family", referral.family_id, referral_id=referral.id)
        return pdf_response(content, f"{referral.number}.pdf")
