"""``/api/v1``: earlier records of a returning person anywhere in the country (issue #12, item 3), and
staff's decision on them, through :mod:`sosep_migrantes.returnees.services`.

The search looks among *all* cases, so what it answers is cut by the service itself: a record in a case
outside the account's scope carries only its case number, centre, date of arrival and the sede that
follows it (``visible`` false, no name, no date of birth, no family id), as on the pages. Linking (a
re-migration, counted in the reports) and dismissing are audited by the services.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import abort
from flask.views import MethodView
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..cases.models import FamilyUnit
from ..cases.queries import get_family
from ..core.errors import ServiceError
from ..core.permissions import Permission, permission_required
from ..core.schema import InputSchema, date, integer, text
from ..core.timeutil import today_local
from ..core.transaction import retried
from ..returnees import services
from ..returnees.models import ReturneeLink
from ..returnees.schemas import DecisionSchema
from .common import Timestamp, audit_case_reads, errors

blp = Blueprint(
    "api_returnees",
    __name__,
    url_prefix="",
    description="Registros anteriores de una persona en todo el país (re-migraciones): candidatos con su "
    "puntuación y motivos, vincular o descartar.",
)


class CandidateSearchSchema(InputSchema):
    """The person as typed at the desk: names and a CUI, a date of birth or an age, and the day of the
    arrival (today by default)."""

    given_names = text(max_length=120, load_default="")
    surnames = text(max_length=120, load_default="")
    cui = fields.String(
        allow_none=True,
        validate=validate.Regexp(r"^[0-9]{13}$", error=_l("El CUI debe tener 13 dígitos.")),
    )
    birth_date = date()
    age = integer(
        validate=validate.Range(min=0, max=120, error=_l("La edad debe estar entre 0 y 120 años.")),
    )
    on = date()
    limit = integer(
        load_default=services.CANDIDATES_LIMIT,
        validate=validate.Range(min=1, max=services.CANDIDATES_LIMIT),
    )

    @validates_schema
    def something_to_look_for(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not (data.get("given_names") or data.get("surnames") or data.get("cui")):
            raise ValidationError(
                _("Escriba los nombres y apellidos de la persona, o su CUI."), field_name="given_names"
            )


class RecordSchema(Schema):
    """Another record of the person. Outside the account's scope (``visible`` false) only its case
    number, centre, date of arrival and sede are given: no name, no date of birth, no family id."""

    member_id = fields.Integer(required=True)
    case_number = fields.String(required=True)
    centre = fields.String(required=True)
    arrived_on = fields.Date(required=True)
    sede = fields.String(allow_none=True)
    visible = fields.Boolean(required=True)
    family_id = fields.Integer(allow_none=True)
    full_name = fields.String(allow_none=True)
    birth_date = fields.Date(allow_none=True)


class CandidateSchema(RecordSchema):
    """An earlier record that may be the same person, with why it was offered."""

    #: 0 to 100.
    score = fields.Integer(required=True)
    #: ``same_cui``, ``same_name``, ``similar_name``, ``same_birth_date``, ``compatible_age``.
    reasons = fields.Function(lambda c: [str(reason) for reason in c.reasons], required=True)
    #: The reasons in words, in the request's language.
    reason_labels = fields.List(fields.String(), required=True)


class CandidateListSchema(Schema):
    items = fields.List(fields.Nested(CandidateSchema), required=True)


class MemberCandidatesSchema(Schema):
    member_id = fields.Integer(required=True)
    full_name = fields.String(required=True)
    candidates = fields.List(fields.Nested(CandidateSchema), required=True)


class LinkedRecordSchema(Schema):
    """A re-migration linked to a member of the case: the other record, cut to the scope."""

    member_id = fields.Integer(required=True)
    member_name = fields.String(required=True)
    #: True: the other record is the earlier one (this case is the return).
    other_is_earlier = fields.Boolean(required=True)
    other = fields.Nested(RecordSchema, required=True)
    linked_at = Timestamp(required=True)


class EarlierRecordsSchema(Schema):
    family_id = fields.Integer(required=True)
    members = fields.List(fields.Nested(MemberCandidatesSchema), required=True)
    linked = fields.List(fields.Nested(LinkedRecordSchema), required=True)


class DecisionOutSchema(Schema):
    id = fields.Integer(required=True)
    #: The later record (the return) and the earlier one, whichever way they were sent.
    member_id = fields.Integer(required=True)
    earlier_member_id = fields.Integer(required=True)
    #: ``linked`` or ``dismissed``.
    decision = fields.Function(lambda link: str(link.decision), required=True)
    created_at = Timestamp(required=True)


@blp.route("/returnees/candidates")
class Candidates(MethodView):
    @permission_required(Permission.RETURNEE_VIEW)
    @blp.arguments(CandidateSearchSchema, location="query", as_kwargs=False)
    @blp.response(200, CandidateListSchema)
    @errors(blp, 401, 403, 422)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Earlier records of a person anywhere in the country, best first, as the desk offers them while
        a member is typed: the same CUI, or a similar name (accents, case, the surnames' order, spelling of
        the same sound, a typo) with the same date of birth or a compatible age. Outside the account's
        scope, only the case number, centre, date of arrival and sede."""
        on: dt.date = args.get("on") or today_local()
        candidates = services.find_candidates(
            current_user,
            given_names=args.get("given_names") or "",
            surnames=args.get("surnames") or "",
            cui=args.get("cui"),
            birth_date=args.get("birth_date"),
            age=None if args.get("birth_date") else args.get("age"),
            on=on,
            limit=args["limit"],
        )
        # The cases of the scope whose names and dates of birth the answer gives (not those cut to the
        # minimum, nor what was typed: a search's words are not kept).
        audit_case_reads(_visible_families(candidates), part="returnee_candidates")
        return {"items": candidates}


def _visible_families(records: list[services.Candidate], but: int | None = None) -> list[int]:
    return sorted({r.family_id for r in records if r.family_id is not None and r.family_id != but})


def _family(family_id: int) -> FamilyUnit:
    return get_family(current_user, family_id) or abort(404)


@blp.route("/families/<int:family_id>/earlier-records")
class EarlierRecords(MethodView):
    @permission_required(Permission.RETURNEE_VIEW)
    @blp.response(200, EarlierRecordsSchema)
    @errors(blp, 401, 403, 404)
    def get(self, family_id: int) -> dict[str, Any]:
        """Each member's earlier records anywhere in the country (without those already linked or
        dismissed for it), and the re-migrations linked to the case, as its «Registros anteriores» page."""
        family = _family(family_id)
        members = [
            (member, services.candidates_for_member(current_user, member))
            for member in family.members
            if member.given_names or member.cui  # an anonymised member has nothing to look for
        ]
        linked = services.linked_records(current_user, family)
        found = {
            "family_id": family.id,
            "members": [
                {"member_id": member.id, "full_name": member.full_name, "candidates": candidates}
                for member, candidates in members
            ],
            "linked": linked,
        }
        # The case, and the other cases of the scope whose names and dates of birth are given with it.
        shown = [c for _member, candidates in members for c in candidates] + [r.other for r in linked]
        audit_case_reads([family.id], part="earlier_records")
        others = _visible_families(shown, but=family.id)
        audit_case_reads(others, part="earlier_record_of", family_id=family.id)
        return found


def _decide(family_id: int, data: dict[str, Any], link: bool) -> ReturneeLink:
    family = _family(family_id)
    if data["member_id"] not in {m.id for m in family.members}:
        raise ServiceError({"member_id": _("Ese integrante no es de este caso.")})
    decide = services.link_returnee if link else services.dismiss_candidate
    try:
        # The same pair decided twice at the same moment: the later one finds the other's decision.
        return retried(lambda: decide(current_user, data["member_id"], data["earlier_member_id"]))
    except LookupError:
        abort(404)


@blp.route("/families/<int:family_id>/earlier-records/link")
class Link(MethodView):
    @permission_required(Permission.RETURNEE_LINK)
    @blp.arguments(DecisionSchema)
    @blp.response(200, DecisionOutSchema)
    @errors(blp, 400, 401, 403, 404, 422)
    def post(self, data: dict[str, Any], family_id: int) -> ReturneeLink:
        """Record that a member of the case (``member_id``) is the same person as an earlier record the
        search offers for it (``earlier_member_id``): a re-migration, shown on both cases and counted in
        the reports. Audited. A record not offered for the member is refused (400)."""
        return _decide(family_id, data, link=True)


@blp.route("/families/<int:family_id>/earlier-records/dismiss")
class Dismiss(MethodView):
    @permission_required(Permission.RETURNEE_LINK)
    @blp.arguments(DecisionSchema)
    @blp.response(200, DecisionOutSchema)
    @errors(blp, 400, 401, 403, 404, 422)
    def post(self, data: dict[str, Any], family_id: int) -> ReturneeLink:
        """Record that an offered record is not the same person: it is not offered again for that pair (a
        pair linked before is unlinked this way). Audited."""
        return _decide(family_id, data, link=False)
