"""``/api/v1/arrivals``: the flights and buses families arrive on (reception and coordinators)."""

from __future__ import annotations

from typing import Any

from flask import abort
from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import Select

from ..core.permissions import Permission, permission_required
from ..core.schema import AsciiInteger
from ..core.transaction import unit_of_work
from ..reception.models import Arrival
from ..reception.schemas import ArrivalSchema
from ..reception.services import create_arrival, get_arrival, scoped_arrivals
from .common import PageArgsSchema, PageSchema, Timestamp, errors, page_of

blp = Blueprint(
    "api_arrivals",
    __name__,
    url_prefix="/arrivals",
    description="Llegadas (vuelos y buses) de un centro de recepción.",
)


class ArrivalOutSchema(Schema):
    id = fields.Integer(required=True)
    centre = fields.Function(lambda a: a.centre.code, required=True)
    arrived_at = Timestamp(required=True)
    mode = fields.Function(lambda a: a.mode.value, required=True)
    country = fields.Function(lambda a: a.country.code, required=True)
    origin = fields.String(allow_none=True)
    transport_ref = fields.String(allow_none=True)
    notes = fields.String(allow_none=True)
    created_at = Timestamp(required=True)


class ArrivalPageSchema(PageSchema):
    items = fields.List(fields.Nested(ArrivalOutSchema), required=True)


class ArrivalFilterSchema(PageArgsSchema):
    centre = fields.String(validate=lambda v: 0 < len(v) <= 20)
    #: Only arrivals after this one (by id): an integration polls for new arrivals with it.
    since_id = AsciiInteger(9)


def _filtered(args: dict[str, Any]) -> Select[Arrival]:
    stmt = scoped_arrivals(current_user)
    if args.get("centre"):
        from ..catalogs.models import Centre

        stmt = stmt.join(Arrival.centre).where(Centre.code == args["centre"])
    if args.get("since_id"):
        stmt = stmt.where(Arrival.id > args["since_id"])
    return stmt.order_by(Arrival.id.desc())


@blp.route("/")
class Arrivals(MethodView):
    @permission_required(Permission.ARRIVAL_VIEW)
    @blp.arguments(ArrivalFilterSchema, location="query", as_kwargs=False)
    @blp.response(200, ArrivalPageSchema)
    @errors(blp, 401, 403)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The arrivals the account may see (its centre; every centre for coordinators), newest first."""
        return page_of(_filtered(args), args)

    @permission_required(Permission.ARRIVAL_CREATE)
    @blp.arguments(ArrivalSchema)
    @blp.response(201, ArrivalOutSchema)
    @errors(blp, 400, 401, 403, 422)
    def post(self, data: dict[str, Any]) -> Arrival:
        """Open an arrival at the account's centre (the same rules as the form)."""
        with unit_of_work():
            arrival = create_arrival(data, current_user)
        return arrival


@blp.route("/<int:arrival_id>")
class ArrivalItem(MethodView):
    @permission_required(Permission.ARRIVAL_VIEW)
    @blp.response(200, ArrivalOutSchema)
    @errors(blp, 401, 403, 404)
    def get(self, arrival_id: int) -> Arrival:
        """One arrival (404 outside the account's scope, as for a page)."""
        return get_arrival(current_user, arrival_id) or abort(404)
