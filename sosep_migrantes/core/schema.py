"""Marshmallow building blocks with Spanish messages, shared by every module's schemas."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields, validate

REQUIRED = {"required": _l("Este campo es obligatorio."), "null": _l("Este campo es obligatorio.")}


def text(*, required: bool = False, max_length: int = 200, **kwargs: Any) -> fields.String:
    return fields.String(
        required=required,
        allow_none=not required,
        validate=validate.Length(
            min=1 if required else 0,
            max=max_length,
            error=_l("Debe tener como máximo {max} caracteres."),
        ),
        error_messages={**REQUIRED, "invalid": _l("Texto no válido.")},
        **kwargs,
    )


def date(**kwargs: Any) -> fields.Date:
    return fields.Date(
        allow_none=True,
        error_messages={**REQUIRED, "invalid": _l("Fecha no válida."), "format": _l("Fecha no válida.")},
        **kwargs,
    )


def integer(**kwargs: Any) -> fields.Integer:
    return fields.Integer(
        allow_none=True, error_messages={**REQUIRED, "invalid": _l("Escriba un número entero.")}, **kwargs
    )


def boolean() -> fields.Boolean:
    # An unchecked HTML checkbox sends nothing: absent means False.
    return fields.Boolean(load_default=False, error_messages={"invalid": _l("Valor no válido.")})


def choice(options: list[str], message: str | None = None, **kwargs: Any) -> fields.String:
    return fields.String(
        allow_none=not kwargs.get("required", False),
        validate=validate.OneOf(options, error=message or _l("Elija una opción de la lista.")),
        error_messages=REQUIRED,
        **kwargs,
    )


def not_in_future(value: dt.date | None, today: dt.date) -> str | None:
    if value is not None and value > today:
        return str(_l("La fecha no puede ser posterior a hoy."))
    return None


class CatalogCode(fields.Field):
    """A catalogue entry given by its code ("HEAD", "KICHE"); loads to the ORM object."""

    default_error_messages = {**REQUIRED, "invalid": _l("Elija una opción de la lista.")}

    def __init__(self, model: type, **kwargs: Any) -> None:
        kwargs.setdefault("allow_none", not kwargs.get("required", False))
        super().__init__(**kwargs)
        self.model = model

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        from ..catalogs.services import by_code

        item = by_code(self.model, str(value).strip()) if value not in (None, "") else None
        if item is None or not item.is_active:
            raise self.make_error("invalid")
        return item

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else value.code


class MunicipalityRef(fields.Field):
    """A municipality by INE code or by the 'Municipio, Departamento' label typed in the form."""

    default_error_messages = {
        **REQUIRED,
        "invalid": _l("Escriba el municipio y elíjalo de la lista (por ejemplo: Cuilco, Huehuetenango)."),
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        from ..catalogs.services import find_municipality

        municipality = find_municipality(value) if value not in (None, "") else None
        if municipality is None:
            raise self.make_error("invalid")
        return municipality

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else value.id


def raise_if(errors: dict[str, Any]) -> None:
    if errors:
        raise ValidationError(errors)
