"""Input schemas for the catalogues an admin edits."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from marshmallow import EXCLUDE, ValidationError, fields, post_load, validate, validates_schema

from ..core.schema import REQUIRED, InputSchema, UniqueList, boolean, choice, is_ascii_number, text
from .contacts import InstitutionContactSchema
from .fields import CatalogCode
from .models import InstitutionKind, Need
from .services import all_municipalities

CODE = validate.Regexp(
    r"^[A-Z][A-Z0-9_]{1,39}$", error=_l("Use de 2 a 40 mayúsculas sin tildes, números o guion bajo.")
)


class InstitutionSchema(InstitutionContactSchema):
    """An institution as the admin's form sends it; its contact fields are checked as the loaded files'."""

    class Meta:
        unknown = EXCLUDE

    code = fields.String(required=True, validate=CODE, error_messages=REQUIRED)
    name_es = text(required=True, max_length=200)
    name_en = text(required=True, max_length=200)
    kind = choice([k.value for k in InstitutionKind], required=True)
    is_sosep = boolean()
    #: The form lists every need, inactive ones too: an institution may keep one it served before.
    needs = UniqueList(CatalogCode(Need, allow_inactive=True), load_default=list)
    is_active = boolean()


class NeedSchema(InputSchema):
    class Meta:
        unknown = EXCLUDE

    code = fields.String(required=True, validate=CODE, error_messages=REQUIRED)
    name_es = text(required=True, max_length=200)
    name_en = text(required=True, max_length=200)


#: How many of the unknown values a coverage message repeats (and how much of each).
_SHOWN_UNKNOWN, _SHOWN_CHARS = 5, 20


class SedeCoverageSchema(InputSchema):
    """The municipalities a sede covers, by INE code (the coverage page's ticked boxes).

    A value that is not a municipality of the catalogue refuses the whole form, naming it: saving the
    rest would quietly drop what the admin meant to tick. Leaving a sede with no municipality at all is
    the service's decision (it needs ``confirm_empty``), because a sede can also be emptied by taking its
    municipalities for another one.
    """

    class Meta:
        unknown = EXCLUDE

    municipalities = UniqueList(fields.String(), load_default=list)
    #: The admin's "yes, leave a sede without municipalities" (its users then see none of its cases).
    confirm_empty = boolean()

    @validates_schema(skip_on_field_errors=False)
    def check_known(self, data: dict[str, Any], **kwargs: Any) -> None:
        known = {m.id for m in all_municipalities()}
        unknown = [
            code
            for code in data.get("municipalities") or []
            if not (is_ascii_number(code.strip(), max_digits=4) and int(code.strip()) in known)
        ]
        if unknown:
            shown = ", ".join(f"«{code[:_SHOWN_CHARS]}»" for code in unknown[:_SHOWN_UNKNOWN])
            if len(unknown) > _SHOWN_UNKNOWN:
                shown += ", …"
            raise ValidationError(
                {
                    "municipalities": str(
                        _l(
                            "No son municipios del catálogo: %(codes)s. No se guardó nada; "
                            "marque los municipios de la lista.",
                            codes=shown,
                        )
                    )
                }
            )

    @post_load
    def to_ids(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        ids: list[int] = []
        for code in data["municipalities"]:
            if int(code.strip()) not in ids:
                ids.append(int(code.strip()))
        data["municipalities"] = ids
        return data
