"""``/api/v1``: a sede's follow-up work on a case (contacts, linkage, transfer, closure, reopening) and
its inbox, through the same schemas, scoped queries and services as the follow-up forms
(:mod:`sosep_migrantes.followup.views`).

A transfer, a closure and a reopening change the case as a whole (its sede, its status): they are made
from the case's version read, sent back in ``If-Match`` (the ETag of ``GET /families/<id>``); a stale one
is a 412 and nothing is saved. Every answer that changed the case carries its new ETag.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from flask import abort
from flask.typing import ResponseReturnValue
from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import Select, select
from sqlalchemy.orm.exc import StaleDataError

from ..cases.models import FamilyUnit
from ..cases.queries import get_family
from ..core.permissions import Permission, Role, permission_required
from ..core.schema import is_submission_token
from ..core.timeutil import today_local
from ..core.transaction import AlreadySaved, retried, unit_of_work
from ..extensions import db
from ..followup import queries, services
from ..followup.models import CaseClosure, CaseTransfer, FollowUp, Linkage
from ..followup.schemas import (
    ClosureSchema,
    FollowUpSchema,
    InboxFilterSchema,
    LinkageSchema,
    ReopenSchema,
    TransferSchema,
)
from .common import (
    PageArgsSchema,
    PageSchema,
    Timestamp,
    audit_case_reads,
    errors,
    etag_of,
    page_of,
    version_from_if_match,
)

blp = Blueprint(
    "api_followup",
    __name__,
    url_prefix="",
    description="Seguimiento de un caso por su sede: contactos, vinculación, traslado, cierre y reapertura; "
    "la bandeja de la sede.",
)


ETAG_HEADER = {"ETag": {"schema": {"type": "string"}, "description": "La nueva versión del caso."}}


class CaseStateSchema(Schema):
    """The case after the change: its status, when the next contact falls due, and its version (the
    ETag to send in ``If-Match`` next)."""

    id = fields.Integer(required=True)
    case_number = fields.String(required=True)
    status = fields.Function(lambda f: f.status.value, required=True)
    followup_due_on = fields.Date(allow_none=True)
    version = fields.Integer(required=True)


class FollowUpItemSchema(Schema):
    id = fields.Integer(required=True)
    contacted_on = fields.Date(required=True)
    contact_type = fields.Function(lambda f: str(f.contact_type), required=True)
    contacted_person = fields.String(allow_none=True)
    outcome = fields.Function(lambda f: str(f.outcome), required=True)
    notes = fields.String(allow_none=True)
    next_action = fields.String(allow_none=True)
    next_action_on = fields.Date(allow_none=True)
    created_at = Timestamp(required=True)


class FollowUpOutSchema(FollowUpItemSchema):
    """The contact saved, with the case as it is now."""

    case = fields.Nested(CaseStateSchema, required=True)


class FollowUpPageSchema(PageSchema):
    items = fields.List(fields.Nested(FollowUpItemSchema), required=True)


class LinkageItemSchema(Schema):
    id = fields.Integer(required=True)
    #: Empty: the whole family.
    member_id = fields.Integer(allow_none=True)
    institution = fields.Function(lambda ln: ln.institution.code if ln.institution else None, allow_none=True)
    outside_service = fields.String(allow_none=True)
    linked_on = fields.Date(required=True)
    note = fields.String(allow_none=True)
    referral_id = fields.Integer(allow_none=True)
    created_at = Timestamp(required=True)


class LinkageOutSchema(LinkageItemSchema):
    """The linkage saved, with the case as it is now."""

    case = fields.Nested(CaseStateSchema, required=True)


class LinkagePageSchema(PageSchema):
    items = fields.List(fields.Nested(LinkageItemSchema), required=True)


class TransferOutSchema(Schema):
    id = fields.Integer(required=True)
    from_sede = fields.Function(lambda t: t.from_sede.code if t.from_sede else None, allow_none=True)
    to_sede = fields.Function(lambda t: t.to_sede.code if t.to_sede else None, allow_none=True)
    #: INE codes of the municipalities.
    from_municipality = fields.Integer(attribute="from_municipality_id", required=True)
    to_municipality = fields.Integer(attribute="to_municipality_id", required=True)
    reason = fields.String(required=True)
    created_at = Timestamp(required=True)
    #: False when the case left the account's territory with it (it no longer sees the case).
    still_in_scope = fields.Boolean(required=True)
    case = fields.Nested(CaseStateSchema, required=True)


class ClosureOutSchema(Schema):
    id = fields.Integer(required=True)
    #: ``close`` or ``reopen``.
    kind = fields.Function(lambda c: str(c.kind), required=True)
    reason = fields.Function(lambda c: str(c.reason) if c.reason else None, allow_none=True)
    note = fields.String(allow_none=True)
    created_at = Timestamp(required=True)
    case = fields.Nested(CaseStateSchema, required=True)


class InboxArgsSchema(InboxFilterSchema, PageArgsSchema):
    """The inbox's filters (``sede``, ``status``, ``overdue``, ``protection``, ``municipality``, ``sort``)
    and the page; a sede account always gets its own sede."""

    class Meta(PageArgsSchema.Meta):  # unknown parameters refused, as every list of the API
        pass


class InboxItemSchema(Schema):
    id = fields.Integer(required=True)
    case_number = fields.String(required=True)
    centre = fields.String(required=True)
    arrived_at = Timestamp(required=True)
    status = fields.String(required=True)
    destination = fields.String(required=True)
    members = fields.Integer(required=True)
    head_name = fields.String(allow_none=True)
    protection_risk = fields.Boolean(required=True)
    due_on = fields.Date(allow_none=True)
    is_overdue = fields.Boolean(required=True)
    days_overdue = fields.Integer(required=True)
    is_due_this_week = fields.Boolean(required=True)
    last_contact_on = fields.Date(allow_none=True)
    days_since_arrival = fields.Integer(required=True)
    #: Registered, or transferred here, since the account's last visit to the inbox page.
    is_new = fields.Boolean(required=True)
    #: Moved here from another sede and not contacted since.
    was_transferred = fields.Boolean(required=True)


class InboxCountsSchema(Schema):
    new = fields.Integer(required=True)
    open = fields.Integer(required=True)
    overdue = fields.Integer(required=True)
    due_this_week = fields.Integer(required=True)


class InboxPageSchema(PageSchema):
    items = fields.List(fields.Nested(InboxItemSchema), required=True)
    counts = fields.Nested(InboxCountsSchema, required=True)
    #: The sede shown (its code), or none for a coordinator's whole country.
    sede = fields.String(allow_none=True)


# -- helpers -----------------------------------------------------------------------------------------


def _family(family_id: int) -> FamilyUnit:
    """The case, read through the account's scope as the follow-up forms read it (404 outside)."""
    return get_family(current_user, family_id) or abort(404)


def _with_case(record: Any, family_id: int, status: int = 201) -> ResponseReturnValue:
    """The saved record with the case as it is now (and its ETag), read again after the commit."""
    family = db.session.get(FamilyUnit, family_id)
    if family is None:  # pragma: no cover - just saved
        abort(404)
    record.case = family
    return record, status, {"ETag": etag_of(family.version)}


def _already_saved(model: Any, token: str | None) -> bool:
    if not is_submission_token(token):
        return False
    return db.session.scalar(select(model.id).where(model.submission_token == token)) is not None


def _record(
    family_id: int, data: dict[str, Any], model: Any, service: Callable[..., Any]
) -> ResponseReturnValue:
    """A contact or a linkage: saved once (a retried request with its ``submission_token`` is a 409).

    Either rewrites the case's status and due date, a versioned row: two contacts recorded at the same
    moment (two people, or an integration's parallel calls) meet there, and the later one's ``UPDATE``
    finds the version moved. Neither was made from a version the caller read, so the later one is simply
    made again, from the case as the other left it (:func:`~sosep_migrantes.core.transaction.retried`).
    """

    def save() -> Any:
        family = _family(family_id)
        if _already_saved(model, data.get("submission_token")):
            raise AlreadySaved
        return service(family, data, current_user)

    return _with_case(retried(save), family_id)


def _change_case(family_id: int, data: dict[str, Any], service: Callable[..., Any]) -> tuple[Any, int]:
    """A transfer, closure or reopening, made from the version in ``If-Match`` (428 without it, 412 if
    the case changed since: compared here, and again by the ``UPDATE``)."""
    family = _family(family_id)
    if version_from_if_match() != family.version:
        abort(412)
    try:
        with unit_of_work():
            saved = service(family, data, current_user)
    except StaleDataError:
        abort(412)
    return saved, family_id


def _records(model: Any, family_id: int, *order: Any) -> Select[Any]:
    return select(model).where(model.family_id == family_id).order_by(*order)


# -- a case's follow-up ------------------------------------------------------------------------------


@blp.route("/families/<int:family_id>/followups")
class FollowUps(MethodView):
    @permission_required(Permission.CASE_VIEW)
    @blp.arguments(PageArgsSchema, location="query", as_kwargs=False)
    @blp.response(200, FollowUpPageSchema)
    @errors(blp, 401, 403, 404, 422)
    def get(self, args: dict[str, Any], family_id: int) -> dict[str, Any]:
        """The case's contacts (and attempts), the latest first, as its page shows them."""
        family = _family(family_id)
        audit_case_reads([family.id], part="followups")
        return page_of(_records(FollowUp, family_id, FollowUp.contacted_on.desc(), FollowUp.id.desc()), args)

    @permission_required(Permission.FOLLOWUP_RECORD)
    @blp.arguments(FollowUpSchema)
    @blp.response(201, FollowUpOutSchema, headers=ETAG_HEADER)
    @errors(blp, 400, 401, 403, 404, 409, 422)
    def post(self, data: dict[str, Any], family_id: int) -> ResponseReturnValue:
        """Record a contact with the family (or an attempt); it sets when the next one falls due. A
        ``submission_token`` (32 hex digits) makes a retried request safe: the second one is a 409."""
        return _record(family_id, data, FollowUp, services.record_followup)


@blp.route("/families/<int:family_id>/linkages")
class Linkages(MethodView):
    @permission_required(Permission.CASE_VIEW)
    @blp.arguments(PageArgsSchema, location="query", as_kwargs=False)
    @blp.response(200, LinkagePageSchema)
    @errors(blp, 401, 403, 404, 422)
    def get(self, args: dict[str, Any], family_id: int) -> dict[str, Any]:
        """The programmes and services the family (or a member) was linked to, the latest first."""
        family = _family(family_id)
        audit_case_reads([family.id], part="linkages")
        return page_of(_records(Linkage, family_id, Linkage.linked_on.desc(), Linkage.id.desc()), args)

    @permission_required(Permission.FOLLOWUP_RECORD)
    @blp.arguments(LinkageSchema)
    @blp.response(201, LinkageOutSchema, headers=ETAG_HEADER)
    @errors(blp, 400, 401, 403, 404, 409, 422)
    def post(self, data: dict[str, Any], family_id: int) -> ResponseReturnValue:
        """Link a member (``member_id``) or the whole family to a programme (``institution``, a code) or an
        outside service; with a ``referral_id`` the referral it answers is marked attended."""
        return _record(family_id, data, Linkage, services.link)


@blp.route("/families/<int:family_id>/transfer")
class Transfer(MethodView):
    @permission_required(Permission.FOLLOWUP_RECORD)
    @blp.arguments(TransferSchema)
    @blp.response(201, TransferOutSchema, headers=ETAG_HEADER)
    @errors(blp, 400, 401, 403, 404, 412, 422, 428)
    def post(self, data: dict[str, Any], family_id: int) -> ResponseReturnValue:
        """The family moved to another sede's territory: the case goes with it (the old sede stops seeing
        it, so ``still_in_scope`` is then false). ``If-Match``: the case's ETag."""
        saved, family_id = _change_case(family_id, data, services.transfer)
        transfer: CaseTransfer = saved
        transfer.still_in_scope = get_family(current_user, family_id) is not None  # type: ignore[attr-defined]
        return _with_case(transfer, family_id)


@blp.route("/families/<int:family_id>/close")
class Close(MethodView):
    @permission_required(Permission.FOLLOWUP_RECORD)
    @blp.arguments(ClosureSchema)
    @blp.response(201, ClosureOutSchema, headers=ETAG_HEADER)
    @errors(blp, 400, 401, 403, 404, 412, 422, 428)
    def post(self, data: dict[str, Any], family_id: int) -> ResponseReturnValue:
        """Close the case with its reason (borne out by what is recorded: a linkage for ``linked``, the
        attempts for ``not_located``, a note for ``other``). ``If-Match``: the case's ETag."""
        closure: CaseClosure
        closure, family_id = _change_case(family_id, data, services.close)
        return _with_case(closure, family_id)


@blp.route("/families/<int:family_id>/reopen")
class Reopen(MethodView):
    @permission_required(Permission.FOLLOWUP_RECORD)
    @blp.arguments(ReopenSchema)
    @blp.response(201, ClosureOutSchema, headers=ETAG_HEADER)
    @errors(blp, 400, 401, 403, 404, 412, 422, 428)
    def post(self, data: dict[str, Any], family_id: int) -> ResponseReturnValue:
        """Reopen a closed case, saying why (``note``); its first contact falls due again from today.
        ``If-Match``: the case's ETag."""
        closure: CaseClosure
        closure, family_id = _change_case(family_id, data, services.reopen)
        return _with_case(closure, family_id)


# -- the inbox ---------------------------------------------------------------------------------------


def _inbox_item(row: queries.InboxRow) -> dict[str, Any]:
    case = row.case
    return {
        "id": case.id,
        "case_number": case.case_number,
        "centre": case.centre_code,
        "arrived_at": case.arrived_at,
        "status": case.status,
        "destination": case.destination,
        "members": case.size,
        "head_name": case.head_name,
        "protection_risk": case.has_protection_risk,
        "due_on": row.due_on,
        "is_overdue": row.is_overdue,
        "days_overdue": row.days_overdue if row.is_overdue else 0,
        "is_due_this_week": row.is_due_this_week,
        "last_contact_on": row.last_contact_on,
        "days_since_arrival": row.days_since_arrival,
        "is_new": row.is_new,
        "was_transferred": row.was_transferred,
    }


def _since() -> dt.datetime:
    """Where "new" starts: the account's last visit to the inbox page (the API does not move it)."""
    since: dt.datetime = current_user.inbox_seen_at or current_user.created_at
    return since if since.tzinfo is not None else since.replace(tzinfo=dt.UTC)


@blp.route("/followup/inbox")
class Inbox(MethodView):
    @permission_required(Permission.FOLLOWUP_INBOX)
    @blp.arguments(InboxArgsSchema, location="query", as_kwargs=False)
    @blp.response(200, InboxPageSchema)
    @errors(blp, 401, 403, 422)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The sede's cases to follow up, as its inbox page lists them (open ones by default, newest
        arrival first; ``sort=due`` or ``last_contact``), with the figures at the top of the page.
        A coordinator chooses a ``sede`` (its id) or gets the whole country."""
        page_args = {"page": args.pop("page"), "per_page": args.pop("per_page", None)}
        filters = queries.InboxFilters(**args)
        if current_user.role_enum is Role.SEDE:
            filters.sede_id = current_user.sede_id
        sede = current_user.sede if current_user.role_enum is Role.SEDE else None
        if sede is None and filters.sede_id is not None:
            from ..catalogs.models import Sede

            sede = db.session.get(Sede, filters.sede_id)
            filters.sede_id = sede.id if sede else None
        today, since = today_local(), _since()
        families = queries.inbox_families(current_user, filters)
        page = page_of(
            queries.ordered(families, filters, today),
            page_args,
            load=queries.inbox_loader(today, since),
        )
        page["items"] = [_inbox_item(row) for row in page["items"]]
        counts = queries.inbox_counts(current_user, filters, today, since)
        page["counts"] = {
            "new": counts.new,
            "open": counts.open,
            "overdue": counts.overdue,
            "due_this_week": counts.due_this_week,
        }
        page["sede"] = sede.code if sede else None
        audit_case_reads([item["id"] for item in page["items"]], part="inbox")
        return page
