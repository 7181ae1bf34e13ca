"""What every resource of the API shares: pages, ETags and the error document."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort, current_app, request
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from marshmallow import RAISE, Schema, fields, validate
from sqlalchemy import Select

from ..auth.tokens import current_token
from ..core import audit
from ..core.audit import AuditAction
from ..core.pagination import paginate
from ..core.schema import AsciiInteger, InputSchema
from ..core.transaction import unit_of_work

F = TypeVar("F", bound=Callable[..., Any])


class Timestamp(fields.DateTime):
    """A moment as RFC 3339 with its offset (UTC): SQLite hands timestamps back without their zone, and a
    date-time without an offset is not one an integration can place."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        result = super()._serialize(value, attr, obj, **kwargs)
        return None if result is None else str(result)


class ServiceErrorSchema(Schema):
    """Every error of the service: the status, a message for people and, for bad input, one message (or a
    list, or a nested object for a list's rows) per field, in the request's language."""

    code = fields.Integer(required=True)
    status = fields.String(required=True)
    message = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.Raw())


def errors(blp: Any, *codes: int) -> Callable[[F], F]:
    """The error answers an operation may give (``@errors(blp, 401, 403, 404)``), each documented in the
    service's one error format."""

    def decorate(view: F) -> F:
        for code in codes:
            view = blp.alt_response(code, schema=ServiceErrorSchema)(view)
        return view

    return decorate


class PageArgsSchema(InputSchema):
    """``page`` (from 1) and ``per_page`` (up to ``API_MAX_PAGE_SIZE``) of a list.

    Unknown parameters are refused (422), not ignored: a misspelt filter (``stauts=closed``) would
    otherwise answer with every case instead of saying what is wrong.
    """

    class Meta:
        unknown = RAISE

    page = AsciiInteger(
        6,
        load_default=1,
        validate=validate.Range(min=1, max=100_000, error=_l("La página va de {min} a {max}.")),
    )
    per_page = AsciiInteger(
        3,
        load_default=None,
        validate=validate.Range(min=1, max=100, error=_l("Entre {min} y {max} por página.")),
    )


class PageSchema(Schema):
    """The envelope of a list: its items, where it is, and how many match (counted up to a cap: past it,
    ``total_is_exact`` is false and ``has_next`` says whether to ask for the next page)."""

    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    total = fields.Integer(required=True)
    total_is_exact = fields.Boolean(required=True)
    has_next = fields.Boolean(required=True)


def page_of(stmt: Select[Any], args: dict[str, Any], load: Any = None) -> dict[str, Any]:
    """One page of ``stmt`` (already in a stable order) as the list envelope."""
    config = current_app.config
    per_page = min(args.get("per_page") or config["API_PAGE_SIZE"], config["API_MAX_PAGE_SIZE"])
    extra = {"load": load} if load is not None else {}
    page = paginate(stmt, args.get("page") or 1, per_page, config["CASES_COUNT_CAP"], **extra)
    return {
        "items": page.items,
        "page": page.number,
        "per_page": page.per_page,
        "total": min(page.total, page.cap) if not page.total_is_exact else page.total,
        "total_is_exact": page.total_is_exact,
        "has_next": page.has_next,
    }


def etag_of(version: int) -> str:
    return f'"v{version}"'


def with_etag(body: Any, version: int, status: int = 200) -> ResponseReturnValue:
    """A response carrying the record's version as its ETag (send it back in ``If-Match`` to update)."""
    return body, status, {"ETag": etag_of(version)}


def version_from_if_match() -> int:
    """The version an update was made from, from ``If-Match``: 428 without it, 412 if it is not one of ours.

    The service compares it with the stored version (and the UPDATE does again): a stale one is a 412.
    """
    header = request.headers.get("If-Match")
    if not header:
        abort(428)
    tag = header.strip()
    if tag.startswith("W/"):
        tag = tag[2:]
    tag = tag.strip('"')
    if not tag.startswith("v") or not tag[1:].isascii() or not tag[1:].isdigit() or len(tag) > 10:
        abort(412)
    return int(tag[1:])


def audit_case_reads(family_ids: list[int], **details: Any) -> None:
    """Who read which cases through the API (and with which token), saved before they are sent: an
    integration reads in bulk, and who read which family must be answerable. ``details`` says what of
    the case was read when it is not the case itself (``part="needs"``, a ``referral_id``)."""
    if not family_ids:
        return
    token = current_token()
    event = {"token_id": token.id if token is not None else None, **details}
    with unit_of_work():
        # One INSERT for a page of 25 cases (an ORM object each cost more than the list itself).
        audit.record_many(
            AuditAction.FAMILY_API_READ,
            "family",
            {family_id: event for family_id in family_ids},
            actor_id=current_user.id,
        )
