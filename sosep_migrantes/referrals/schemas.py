"""Input schemas for referrals (form and API)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from marshmallow import EXCLUDE, fields, validate

from ..catalogs.fields import CatalogCode
from ..catalogs.models import Institution, Need
from ..core.schema import (
    REQUIRED,
    AsciiInteger,
    InputSchema,
    UniqueList,
    boolean,
    choice,
    submission_token,
    text,
)
from .models import Priority, ReferralStatus


class ReferralSchema(InputSchema):
    class Meta:
        unknown = EXCLUDE

    submission_token = submission_token()
    institution = CatalogCode(Institution, required=True)
    member_ids = fields.List(
        AsciiInteger(9, error_messages={"invalid": _l("Integrante no válido.")}),
        required=True,
        validate=validate.Length(min=1, error=_l("Elija al menos un integrante.")),
        error_messages={"required": _l("Elija al menos un integrante.")},
    )
    needs = UniqueList(CatalogCode(Need), load_default=list)
    reason = text(required=True, max_length=2000)
    priority = choice([p.value for p in Priority], load_default=Priority.NORMAL.value)
    #: Create it directly as *sent* (the slip is handed to the family now) instead of as a draft.
    send = boolean()


class TransitionSchema(InputSchema):
    class Meta:
        unknown = EXCLUDE

    status = fields.String(
        required=True,
        validate=validate.OneOf([s.value for s in ReferralStatus], error=_l("Estado no válido.")),
        error_messages=REQUIRED,
    )
    note = text(max_length=2000)
