"""Input schemas for accounts."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from marshmallow import EXCLUDE, fields, validate, validates_schema

from ..core.permissions import Role
from ..core.schema import REQUIRED, InputSchema, boolean, choice, raise_if, text

MIN_PASSWORD = 10


class LoginSchema(InputSchema):
    class Meta:
        unknown = EXCLUDE

    username = text(required=True, max_length=60)
    password = fields.String(required=True, error_messages=REQUIRED)


def _password(required: bool) -> fields.String:
    """Only present or not here: the rules (length, common, built on the name) are
    ``auth.passwords.password_problem``'s, checked by the services with the account's name at hand."""
    return fields.String(
        required=required,
        allow_none=not required,
        load_only=True,
        # Far above the rules' own maximum: only keeps a huge value away from the hasher.
        validate=validate.Length(max=1000, error=_l("La contraseña puede tener como máximo 128 caracteres.")),
        error_messages=REQUIRED,
    )


class ChangePasswordSchema(InputSchema):
    class Meta:
        unknown = EXCLUDE

    current_password = fields.String(required=True, error_messages=REQUIRED)
    password = _password(required=True)
    password_confirm = fields.String(required=True, error_messages=REQUIRED)


class CodeSchema(InputSchema):
    """A code from the authenticator app (6 digits) or a recovery code (xxxxx-xxxxx)."""

    class Meta:
        unknown = EXCLUDE

    code = text(required=True, max_length=40)


class UserSchema(InputSchema):
    """Create or edit an account; the password is optional on edit (blank keeps the current one)."""

    class Meta:
        unknown = EXCLUDE

    username = fields.String(
        required=True,
        error_messages=REQUIRED,
        validate=validate.Regexp(
            r"^[a-z0-9._-]{3,60}$",
            error=_l("Use de 3 a 60 letras minúsculas sin tildes, números, punto, guion o guion bajo."),
        ),
    )
    full_name = text(required=True, max_length=160)
    role = choice([r.value for r in Role], _l("Elija un rol."), required=True)
    centre = fields.String(allow_none=True)
    sede = fields.String(allow_none=True)
    #: The partner institution's catalogue code (partner users only).
    institution = fields.String(allow_none=True)
    password = _password(required=False)
    is_active = boolean()

    @validates_schema(skip_on_field_errors=False)
    def check_binding(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors = {}
        if data.get("role") == Role.RECEPTION and not data.get("centre"):
            errors["centre"] = str(_l("Un usuario de recepción debe tener un centro."))
        if data.get("role") == Role.SEDE and not data.get("sede"):
            errors["sede"] = str(_l("Un usuario de sede debe tener una sede."))
        if data.get("role") == Role.PARTNER and not data.get("institution"):
            errors["institution"] = str(
                _l("Un usuario de una institución aliada debe tener una institución.")
            )
        raise_if(errors)


class NewUserSchema(UserSchema):
    password = _password(required=True)


class ApiTokenSchema(InputSchema):
    """A new personal API token: what it is for and how many days it works."""

    class Meta:
        unknown = EXCLUDE

    name = text(required=True, max_length=80)
    days = fields.Integer(
        load_default=30,
        strict=False,
        validate=validate.Range(min=1, max=365, error=_l("La vigencia debe estar entre 1 y 365 días.")),
        error_messages={"invalid": _l("Escriba un número de días.")},
    )
