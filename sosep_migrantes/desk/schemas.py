"""What the desk form adds to the family (cases.schemas.FamilyUnitSchema): needs served on the spot and the
referrals chosen, both by member row (the members have no ids before the family is saved)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from marshmallow import EXCLUDE, fields, pre_load, validate, validates_schema

from ..catalogs.fields import CatalogCode
from ..catalogs.models import Institution, Need
from ..core.schema import AsciiInteger, InputSchema, boolean, choice, integer, raise_if, text
from ..referrals.models import Priority


class DeskNeedSchema(InputSchema):
    """One line of the desk's checklist: ticked, the need is served at the centre now."""

    class Meta:
        unknown = EXCLUDE

    need = CatalogCode(Need, required=True)
    given = boolean()
    quantity = integer(
        validate=validate.Range(min=1, max=999, error=_l("La cantidad debe estar entre 1 y 999."))
    )


class DeskReferralSchema(InputSchema):
    """A referral offered on the desk form: ticked, it is created and its slip queued with the family."""

    class Meta:
        unknown = EXCLUDE

    institution = CatalogCode(Institution, required=True)
    selected = boolean()
    #: Member rows of the form (page indexes).
    persons = fields.List(
        AsciiInteger(3, error_messages={"invalid": _l("Integrante no válido.")}), load_default=list
    )
    reason = text(max_length=2000)
    priority = choice([p.value for p in Priority], load_default=Priority.NORMAL.value)

    @validates_schema(skip_on_field_errors=True)
    def check_chosen(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data.get("selected"):
            return
        errors = {}
        if not data.get("persons"):
            errors["persons"] = str(_l("Elija al menos un integrante."))
        if not data.get("reason"):
            errors["reason"] = str(_l("Escriba el motivo de la derivación."))
        raise_if(errors)


class DeskExtrasSchema(InputSchema):
    class Meta:
        unknown = EXCLUDE

    delivered_by = text(max_length=160)
    needs = fields.List(fields.Nested(DeskNeedSchema), load_default=list)
    referrals = fields.List(fields.Nested(DeskReferralSchema), load_default=list)

    @pre_load
    def drop_blank_other(self, data: Any, **kwargs: Any) -> Any:
        """The "other referral" line comes last; left without an institution it is no referral at all."""
        if isinstance(data, dict) and isinstance(data.get("referrals"), list):
            lines = data["referrals"]
            if lines and isinstance(lines[-1], dict) and not lines[-1].get("institution"):
                data = {**data, "referrals": lines[:-1]}
        return data
