"""Input schemas of follow-up (form and API): a contact, a linkage, a transfer, a closure, a reopening."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from marshmallow import EXCLUDE, fields, validate

from ..cases.models import CaseStatus
from ..catalogs.fields import CatalogCode, MunicipalityRef
from ..catalogs.models import Institution
from ..core.schema import (
    AsciiInteger,
    FilterSchema,
    InputSchema,
    choice,
    date,
    integer,
    submission_token,
    text,
)
from .models import ClosureReason, ContactOutcome, ContactType
from .queries import ALL, OPEN, Sort


class _Schema(InputSchema):
    class Meta:
        unknown = EXCLUDE


class FollowUpSchema(_Schema):
    submission_token = submission_token()
    contacted_on = date(required=True)
    contact_type = choice([c.value for c in ContactType], required=True)
    contacted_person = text(max_length=160)
    outcome = choice([o.value for o in ContactOutcome], required=True)
    notes = text(max_length=4000)
    next_action = text(max_length=300)
    next_action_on = date()


class LinkageSchema(_Schema):
    submission_token = submission_token()
    #: Empty: the whole family.
    member_id = integer(
        validate=validate.Range(min=1, max=2**31 - 1, error=_l("Elija una opción de la lista."))
    )
    institution = CatalogCode(Institution)
    outside_service = text(max_length=200)
    linked_on = date(required=True)
    note = text(max_length=4000)
    referral_id = integer(
        validate=validate.Range(min=1, max=2**31 - 1, error=_l("Elija una opción de la lista."))
    )


class TransferSchema(_Schema):
    municipality = MunicipalityRef(required=True)
    community = text(max_length=160)
    address = text(max_length=300)
    phone = text(max_length=40)
    reason = text(required=True, max_length=2000)


class ClosureSchema(_Schema):
    reason = choice([r.value for r in ClosureReason], required=True)
    note = text(max_length=4000)


class ReopenSchema(_Schema):
    note = text(required=True, max_length=4000)


class InboxFilterSchema(FilterSchema):
    """The inbox's filters, from the query string (none of them says anything about a person)."""

    sede_id = AsciiInteger(6, data_key="sede")
    status = fields.String(
        load_default=OPEN, validate=validate.OneOf([OPEN, ALL, *(s.value for s in CaseStatus)])
    )
    overdue_only = fields.Boolean(data_key="overdue", load_default=False)
    protection_only = fields.Boolean(data_key="protection", load_default=False)
    municipality_id = AsciiInteger(6, data_key="municipality")
    sort = fields.String(load_default=Sort.NEWEST, validate=validate.OneOf(Sort.ALL))
    page = AsciiInteger(6, load_default=1, validate=validate.Range(min=1))
