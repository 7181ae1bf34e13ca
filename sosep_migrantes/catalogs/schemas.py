"""Input schemas for the catalogues an admin edits."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from marshmallow import EXCLUDE, fields, validate

from ..core.schema import REQUIRED, AsciiInteger, InputSchema, UniqueList, boolean, choice, text
from .fields import CatalogCode
from .models import InstitutionKind, Need

CODE = validate.Regexp(
    r"^[A-Z][A-Z0-9_]{1,39}$", error=_l("Use de 2 a 40 mayúsculas sin tildes, números o guion bajo.")
)


class InstitutionSchema(InputSchema):
    class Meta:
        unknown = EXCLUDE

    code = fields.String(required=True, validate=CODE, error_messages=REQUIRED)
    name_es = text(required=True, max_length=200)
    name_en = text(required=True, max_length=200)
    kind = choice([k.value for k in InstitutionKind], required=True)
    is_sosep = boolean()
    address = text(max_length=300)
    phone = text(max_length=60)
    email = fields.String(
        allow_none=True,
        validate=[
            validate.Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", error=_l("Correo electrónico no válido.")),
            validate.Length(max=120, error=_l("Debe tener como máximo {max} caracteres.")),
        ],
    )
    contact_person = text(max_length=160)
    needs = UniqueList(CatalogCode(Need), load_default=list)
    is_active = boolean()


class NeedSchema(InputSchema):
    class Meta:
        unknown = EXCLUDE

    code = fields.String(required=True, validate=CODE, error_messages=REQUIRED)
    name_es = text(required=True, max_length=200)
    name_en = text(required=True, max_length=200)


class SedeCoverageSchema(InputSchema):
    """The municipalities a sede covers, by id (the coverage page's ticked boxes)."""

    class Meta:
        unknown = EXCLUDE

    municipalities = UniqueList(AsciiInteger(4), load_default=list)
