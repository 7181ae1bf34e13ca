"""``/api/v1/families/<id>/needs``: a family's needs and the services delivered at the centre, read and
recorded through the same schemas (the needs checklist's, the attend form's), scoped query and services
as the needs page.

Reading needs case:view and writing case:edit, as on the page; the family is read through the account's
scope (404 outside it). Reading a family's needs through the API is audited as a read of the case.
"""

from __future__ import annotations

from typing import Any

from flask import abort
from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from ..cases.models import FamilyUnit
from ..cases.queries import get_family
from ..core.permissions import Permission, permission_required
from ..core.transaction import unit_of_work
from ..needs import services
from ..needs.models import FamilyNeed
from ..needs.schemas import AttendSchema, NeedsBatchSchema
from .common import (
    PageArgsSchema,
    PageSchema,
    Timestamp,
    audit_case_reads,
    errors,
    page_of,
)

blp = Blueprint(
    "api_needs",
    __name__,
    url_prefix="",
    description="Necesidades de una unidad familiar y servicios entregados en el centro.",
)


class ServiceOutSchema(Schema):
    """Something given or done at the centre for a need."""

    id = fields.Integer(required=True)
    description = fields.String(required=True)
    quantity = fields.Integer(required=True)
    #: Who delivered it: a staff member or a provider, as typed.
    delivered_by = fields.String(required=True)
    delivered_at = Timestamp(required=True)


class NeedOutSchema(Schema):
    """A need of the family (or of one member): its catalogue code, its status and its services."""

    id = fields.Integer(required=True)
    family_id = fields.Integer(required=True)
    #: The code of the needs catalogue (``/api/v1/catalogs/needs``).
    need = fields.Function(lambda n: n.need.code, required=True)
    #: The member concerned; null for the whole family.
    member_id = fields.Integer(allow_none=True)
    #: ``identified`` (pending), ``attended`` (at the centre) or ``referred`` (by a sent referral).
    status = fields.Function(lambda n: n.status.value, required=True)
    notes = fields.String(allow_none=True)
    created_at = Timestamp(required=True)
    services = fields.List(fields.Nested(ServiceOutSchema), required=True)


class NeedPageSchema(PageSchema):
    items = fields.List(fields.Nested(NeedOutSchema), required=True)


class RecordedNeedsSchema(Schema):
    """The needs a checklist recorded (a need already pending for the same person is completed, not
    repeated)."""

    items = fields.List(fields.Nested(NeedOutSchema), required=True)


def _family(family_id: int) -> FamilyUnit:
    return get_family(current_user, family_id) or abort(404)


@blp.route("/families/<int:family_id>/needs")
class FamilyNeeds(MethodView):
    @permission_required(Permission.CASE_VIEW)
    @blp.arguments(PageArgsSchema, location="query", as_kwargs=False)
    @blp.response(200, NeedPageSchema)
    @errors(blp, 401, 403, 404, 422)
    def get(self, args: dict[str, Any], family_id: int) -> dict[str, Any]:
        """The family's needs with their services, in the order they were recorded."""
        family = _family(family_id)
        audit_case_reads([family.id], part="needs")
        family = _family(family_id)  # read again after the audit's commit expired it
        return page_of(services.family_needs_query(family), args)

    @permission_required(Permission.CASE_EDIT)
    @blp.arguments(NeedsBatchSchema)
    @blp.response(201, RecordedNeedsSchema)
    @errors(blp, 400, 401, 403, 404, 422)
    def post(self, data: dict[str, Any], family_id: int) -> dict[str, Any]:
        """Record the needs checklist: each line (``need``, ``action`` = ``identified`` or ``attended``,
        optionally ``member_id``, ``notes``, and for an attended one the service: ``description``,
        ``quantity``, ``delivered_by``, which the top-level ``delivered_by`` fills when a line has none).
        Lines without an action are left out, as unticked lines of the page are."""
        family = _family(family_id)
        with unit_of_work():
            recorded = services.record_needs(family, data["items"], current_user)
            ids = [need.id for need in recorded]
        return {"items": _needs(family_id, ids)}


def _needs(family_id: int, ids: list[int]) -> list[FamilyNeed]:
    family = _family(family_id)
    by_id = {need.id: need for need in services.family_needs(family)}
    return [by_id[i] for i in ids]


@blp.route("/families/<int:family_id>/needs/<int:need_id>/attend")
class AttendNeed(MethodView):
    @permission_required(Permission.CASE_EDIT)
    @blp.arguments(AttendSchema)
    @blp.response(200, NeedOutSchema)
    @errors(blp, 400, 401, 403, 404, 422)
    def post(self, data: dict[str, Any], family_id: int, need_id: int) -> FamilyNeed:
        """Close a pending (identified) need with the service delivered at the centre; a need no longer
        pending (attended or referred meanwhile) is refused with a 400."""
        family = _family(family_id)
        family_need = services.get_family_need(family, need_id) or abort(404)
        with unit_of_work():
            services.attend_need(family_need, data, current_user)
        [attended] = _needs(family_id, [need_id])
        return attended
