"""Input schemas for needs and services delivered (form and API)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from marshmallow import EXCLUDE, fields, pre_load, validate, validates_schema

from ..catalogs.fields import CatalogCode
from ..catalogs.models import Need
from ..core.schema import InputSchema, choice, integer, raise_if, text
from .models import CHECKLIST_ACTIONS, NeedStatus


class NeedEntrySchema(InputSchema):
    """One line of the needs checklist: a need identified, or attended at the centre right away."""

    class Meta:
        unknown = EXCLUDE

    need = CatalogCode(Need, required=True)
    action = choice([a.value for a in CHECKLIST_ACTIONS], _l("Elija identificada o atendida."), required=True)
    #: The member concerned; empty for the whole family.
    member_id = integer()
    notes = text(max_length=500)
    description = text(max_length=300)
    quantity = integer(
        validate=validate.Range(min=1, max=999, error=_l("La cantidad debe estar entre 1 y 999."))
    )
    delivered_by = text(max_length=160)

    @validates_schema(skip_on_field_errors=False)
    def check_service(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("action") == NeedStatus.ATTENDED and not data.get("delivered_by"):
            raise_if({"delivered_by": str(_l("Indique quién entregó o atendió."))})


class NeedsBatchSchema(InputSchema):
    """The needs checklist: only the lines given an action are recorded; the one "delivered by" of the
    form serves every attended line that does not name its own.
    """

    class Meta:
        unknown = EXCLUDE

    delivered_by = text(max_length=160)

    items = fields.List(
        fields.Nested(NeedEntrySchema),
        required=True,
        validate=validate.Length(min=1, error=_l("Marque al menos una necesidad.")),
        error_messages={"required": _l("Marque al menos una necesidad.")},
    )

    @pre_load
    def marked_lines(self, data: Any, **kwargs: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            return data
        return {**data, "items": marked_items(data)}


class AttendSchema(InputSchema):
    """Close an identified need with the service delivered at the centre."""

    class Meta:
        unknown = EXCLUDE

    description = text(max_length=300)
    quantity = integer(
        validate=validate.Range(min=1, max=999, error=_l("La cantidad debe estar entre 1 y 999."))
    )
    delivered_by = text(required=True, max_length=160)


def marked_items(data: dict[str, Any]) -> list[Any]:
    """The checklist's lines with an action, each with its "delivered by" (its own or the form's);
    errors on ``items-<n>-...`` count lines in this list.
    """
    default = data.get("delivered_by")
    return [
        {**row, "delivered_by": row.get("delivered_by") or default}
        for row in data.get("items") or []
        if isinstance(row, dict) and row.get("action")
    ]
