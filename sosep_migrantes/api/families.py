"""``/api/v1/families``: family units with their members, read and written through the same schema,
scoped queries and services as the desk and the case pages.

Reading a case through the API is audited (``family:api_read``), as a page view of a protection case is:
an integration reads in bulk, and who read which family must be answerable.
"""

from __future__ import annotations

from typing import Any

from flask import abort
from flask.typing import ResponseReturnValue
from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, fields, validate

from ..cases import queries
from ..cases.models import CaseStatus, FamilyUnit
from ..cases.schemas import FamilyUnitSchema
from ..cases.services import EditConflict, register_family, update_family
from ..core.errors import ServiceError
from ..core.permissions import Permission, permission_required
from ..core.schema import AsciiInteger
from ..core.transaction import unit_of_work
from ..reception.services import get_arrival
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
    "api_families",
    __name__,
    url_prefix="",
    description="Unidades familiares (casos) y sus integrantes.",
)


def _code(attribute: str) -> fields.Function:
    return fields.Function(
        lambda obj: getattr(getattr(obj, attribute), "code", None), allow_none=True, dump_only=True
    )


class MemberOutSchema(Schema):
    id = fields.Integer(required=True)
    position = fields.Integer(required=True)
    given_names = fields.String(required=True)
    surnames = fields.String(required=True)
    sex = fields.Function(lambda m: m.sex.value, required=True)
    birth_date = fields.Date(allow_none=True)
    estimated_age = fields.Integer(allow_none=True)
    relationship = _code("relationship_to_head")
    cui = fields.String(allow_none=True)
    cui_check_confirmed = fields.Boolean()
    document_type = _code("document_type")
    document_number = fields.String(allow_none=True)
    pueblo = _code("pueblo")
    languages = fields.Function(lambda m: [language.code for language in m.languages])
    needs_interpreter = fields.Boolean()
    has_disability = fields.Boolean()
    disability_notes = fields.String(allow_none=True)
    pregnancy = fields.Function(lambda m: m.pregnancy.value if m.pregnancy else None, allow_none=True)
    health_notes = fields.String(allow_none=True)


class FamilyOutSchema(Schema):
    """A family unit as the API gives it; ``version`` is also its ETag (``"v<version>"``)."""

    id = fields.Integer(required=True)
    case_number = fields.String(required=True)
    centre = fields.Function(lambda f: f.centre.code, required=True)
    arrival_id = fields.Integer(required=True)
    status = fields.Function(lambda f: f.status.value, required=True)
    destination_municipality = fields.Integer(attribute="destination_municipality_id", required=True)
    community = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    consent_type = fields.Function(
        lambda f: f.consent_type.value if f.consent_type else None, allow_none=True
    )
    consent_witness = fields.String(allow_none=True)
    consent_on = fields.Date(allow_none=True)
    notes = fields.String(allow_none=True)
    migration_reasons = fields.Function(lambda f: [r.code for r in f.migration_reasons])
    protection_causes = fields.Function(lambda f: [c.code for c in f.protection_causes])
    protection_risk = fields.Boolean()
    followup_due_on = fields.Date(allow_none=True)
    version = fields.Integer(required=True)
    created_at = Timestamp(required=True)
    updated_at = Timestamp(allow_none=True)
    members = fields.List(fields.Nested(MemberOutSchema), required=True)


class FamilySummarySchema(Schema):
    """One line of a list: enough to choose a case, not its members' data."""

    id = fields.Integer(required=True)
    case_number = fields.String(required=True)
    centre = fields.String(required=True)
    arrived_at = Timestamp(required=True)
    status = fields.String(required=True)
    #: "Municipio, Departamento".
    destination = fields.String(required=True)
    members = fields.Integer(required=True)
    #: The head of family's names, as the case list shows them.
    head_name = fields.String(allow_none=True)
    protection_risk = fields.Boolean(required=True)


class FamilyPageSchema(PageSchema):
    items = fields.List(fields.Nested(FamilySummarySchema), required=True)


class FamilyFilterSchema(PageArgsSchema):
    """The case list's filters (``cases.schemas.CaseFilterSchema``) as query parameters."""

    centre_id = AsciiInteger(6)
    department_id = AsciiInteger(6)
    arrival_id = AsciiInteger(9)
    status = fields.String(validate=validate.OneOf([s.value for s in CaseStatus]))
    arrived_from = fields.Date()
    arrived_to = fields.Date()
    protection = fields.Boolean(load_default=False)
    #: A name, CUI, document or case number, as in the list's search box (words of 3 or more).
    q = fields.String(validate=validate.Length(max=100))


class FamilyInputSchema(FamilyUnitSchema):
    """The desk's and edit form's schema, unchanged but for ``version``, which the API takes from
    ``If-Match`` (the ETag) instead of the body."""

    class Meta:
        unknown = EXCLUDE
        exclude = ("version",)


def _summary(rows: list[queries.CaseRow]) -> list[dict[str, Any]]:
    return [
        {
            "id": row.id,
            "case_number": row.case_number,
            "centre": row.centre_code,
            "arrived_at": row.arrived_at,
            "status": row.status,
            "destination": row.destination,
            "members": row.size,
            "head_name": row.head_name,
            "protection_risk": row.has_protection_risk,
        }
        for row in rows
    ]


def _readable(family_id: int) -> FamilyUnit:
    family = queries.get_family(current_user, family_id)
    if family is None or (
        family.status is CaseStatus.PREREGISTERED and not current_user.can(Permission.CASE_CREATE)
    ):
        abort(404)
    return family


@blp.route("/families/")
class Families(MethodView):
    @permission_required(Permission.CASE_VIEW)
    @blp.arguments(FamilyFilterSchema, location="query", as_kwargs=False)
    @blp.response(200, FamilyPageSchema)
    @errors(blp, 401, 403, 422)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The cases the account may see, with the case list's filters and search, newest arrival first.

        Search words need 3 letters or digits (a case number whole); the total is counted up to 500.
        """
        q = (args.get("q") or "").strip() or None
        if q is not None and not queries.is_searchable(q):
            raise ServiceError(
                {"q": _("Escriba al menos una palabra de 3 letras o números, o un número de caso completo.")}
            )
        if q is not None:
            queries.plan_each_search()  # as the case list does: a plan for these words, not a generic one
        filters = queries.CaseFilters(
            centre_id=args.get("centre_id"),
            department_id=args.get("department_id"),
            arrival_id=args.get("arrival_id"),
            status=args.get("status"),
            arrived_from=args.get("arrived_from"),
            arrived_to=args.get("arrived_to"),
            protection_only=args.get("protection", False),
            q=q,
        )
        page = page_of(queries.search_families(current_user, filters), args, load=queries.list_rows)
        page["items"] = _summary(page["items"])
        audit_case_reads([item["id"] for item in page["items"]])
        return page


@blp.route("/families/<int:family_id>")
class FamilyItem(MethodView):
    @permission_required(Permission.CASE_VIEW)
    @blp.response(200, FamilyOutSchema, headers={"ETag": {"schema": {"type": "string"}}})
    @errors(blp, 401, 403, 404)
    def get(self, family_id: int) -> ResponseReturnValue:
        """One case with its members; its ETag is what an update sends back in ``If-Match``."""
        family = _readable(family_id)
        audit_case_reads([family.id])
        # Read again after the audit's commit (which expired it), with its members in three queries.
        family = _readable(family_id)
        return with_etag(family, family.version)

    @permission_required(Permission.CASE_EDIT)
    @blp.arguments(FamilyInputSchema)
    @blp.response(200, FamilyOutSchema, headers={"ETag": {"schema": {"type": "string"}}})
    @errors(blp, 400, 401, 403, 404, 412, 422, 428)
    def put(self, data: dict[str, Any], family_id: int) -> ResponseReturnValue:
        """Replace the case's data and members (as the edit form does): send every member, those kept with
        their ``id``; ``If-Match`` must carry the ETag read (412 if the case changed since)."""
        family = _readable(family_id)
        if family.anonymised_at is not None:
            raise ServiceError(
                {
                    "family": _(
                        "Este caso fue anonimizado por el plazo de conservación: ya no se puede editar."
                    )
                }
            )
        data["version"] = version_from_if_match()
        try:
            with unit_of_work():
                update_family(family, data, current_user)
        except EditConflict:
            abort(412)
        family = queries.get_family(current_user, family_id) or abort(404)
        return with_etag(family, family.version)


@blp.route("/arrivals/<int:arrival_id>/families")
class ArrivalFamilies(MethodView):
    @permission_required(Permission.CASE_CREATE)
    @blp.arguments(FamilyInputSchema)
    @blp.response(201, FamilyOutSchema, headers={"ETag": {"schema": {"type": "string"}}})
    @errors(blp, 400, 401, 403, 404, 409, 422)
    def post(self, data: dict[str, Any], arrival_id: int) -> ResponseReturnValue:
        """Register a family on an arrival of the account's centre, with its case number. A
        ``submission_token`` (32 hex digits) makes a retried request safe: the second one is a 409 that
        names the case already saved."""
        arrival = get_arrival(current_user, arrival_id) or abort(404)
        if queries.submitted_family(current_user, data.get("submission_token")) is not None:
            abort(409)
        with unit_of_work():
            family = register_family(arrival, data, current_user)
        family = queries.get_family(current_user, family.id) or abort(404)
        return with_etag(family, family.version, 201)
