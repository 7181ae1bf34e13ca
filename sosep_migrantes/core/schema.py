"""Marshmallow building blocks with Spanish messages, shared by every module's schemas."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from flask_babel import lazy_gettext as _l
from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validate

from .text import strip_control
from .timeutil import LOCAL_TZ


def _strip_control(value: Any) -> Any:
    if isinstance(value, str):
        return strip_control(value)
    if isinstance(value, list):
        return [_strip_control(v) for v in value]
    if isinstance(value, dict):
        return {k: _strip_control(v) for k, v in value.items()}
    return value


#: marshmallow's own messages, where a schema gives none of its own (the API's query parameters, a body
#: that is not an object): translatable, so an answer is in Spanish, or English for those who ask for it.
#: Set on the library's classes once; each field collects them along its class's ancestry.
_FIELD_MESSAGES: dict[type[fields.Field[Any]], dict[str, Any]] = {
    fields.Field: {
        "required": _l("Este campo es obligatorio."),
        "null": _l("Este campo es obligatorio."),
        "validator_failed": _l("Valor no válido."),
    },
    fields.String: {"invalid": _l("Escriba un texto.")},
    fields.Number: {"invalid": _l("Escriba un número."), "too_large": _l("El número es demasiado grande.")},
    fields.Integer: {"invalid": _l("Escriba un número entero.")},
    fields.Boolean: {"invalid": _l("Escriba true o false.")},
    fields.Date: {"invalid": _l("Fecha no válida: escríbala como dd/mm/aaaa (o aaaa-mm-dd).")},
    fields.DateTime: {"invalid": _l("Fecha y hora no válidas: escríbalas como aaaa-mm-ddThh:mm.")},
    fields.List: {"invalid": _l("Envíe una lista.")},
    fields.Dict: {"invalid": _l("Envíe un objeto.")},
    fields.Nested: {"type": _l("Envíe un objeto.")},
}
for _field, _messages in _FIELD_MESSAGES.items():
    _field.default_error_messages = {**_field.default_error_messages, **_messages}


class InputSchema(Schema):
    """Base of every input schema: unknown keys ignored, control characters removed before loading."""

    class Meta:
        unknown = EXCLUDE

    error_messages = {
        "type": _l("Envíe un objeto con los campos (JSON)."),
        "unknown": _l("Este campo no existe."),
    }

    @pre_load
    def strip_control_characters(self, data: Any, **kwargs: Any) -> Any:
        return _strip_control(data)


class FilterSchema(InputSchema):
    """A list's filters: from untrusted input, and a bookmark may be old, so a bad value is dropped."""

    class Meta:
        unknown = EXCLUDE

    def load_ignoring_errors(self, data: dict[str, Any]) -> dict[str, Any]:
        """Load ``data``, leaving out (as if absent) each value that does not load."""
        loaded: dict[str, Any]
        try:
            loaded = self.load(data)
        except ValidationError as exc:
            loaded = self.load({k: v for k, v in data.items() if k not in exc.messages})
        return loaded


def is_ascii_number(value: Any, max_digits: int = 9) -> bool:
    """'1304' yes; '²', '١٢' or a 20-digit number no (Python's isdigit() accepts the first two)."""
    text = str(value)
    return text.isascii() and text.isdecimal() and 0 < len(text) <= max_digits


class AsciiInteger(fields.Integer):
    """A whole number written with at most ``max_digits`` ASCII digits (``int()`` also takes '١٢')."""

    def __init__(self, max_digits: int, **kwargs: Any) -> None:
        super().__init__(allow_none=True, **kwargs)
        self.max_digits = max_digits

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if not is_ascii_number(value, self.max_digits):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class UniqueList(fields.List[Any]):
    """A list whose repeated entries count once (the same language chosen twice, say)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[Any]:
        items = super()._deserialize(value, attr, data, **kwargs)
        unique: list[Any] = []
        for item in items:
            if item not in unique:
                unique.append(item)
        return unique


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


_DAY_MONTH_YEAR = re.compile(r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\s*$")


class DayFirstDate(fields.Date):
    """A date typed as staff write it, ``dd/mm/aaaa`` (also ``d/m/aaaa``, with dots or dashes), or in the
    ISO form the API and old forms send (``2026-11-24``). One text field, no date widget with three stops."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.date:
        if isinstance(value, str) and (match := _DAY_MONTH_YEAR.match(value)):
            day, month, year = (int(part) for part in match.groups())
            try:
                return dt.date(year, month, day)
            except ValueError:
                raise self.make_error("invalid") from None
        return super()._deserialize(value, attr, data, **kwargs)


def date(**kwargs: Any) -> fields.Date:
    return DayFirstDate(
        allow_none=True,
        error_messages={
            **REQUIRED,
            "invalid": _l("Fecha no válida: escríbala como dd/mm/aaaa."),
            "format": _l("Fecha no válida: escríbala como dd/mm/aaaa."),
        },
        **kwargs,
    )


#: The widest offsets from UTC in use anywhere: −12:00 (Baker Island) and +14:00 (Line Islands).
MIN_UTC_OFFSET, MAX_UTC_OFFSET = dt.timedelta(hours=-12), dt.timedelta(hours=14)


class LocalDateTime(fields.DateTime):
    """A date and time, loaded as an aware datetime in Guatemala's time.

    Typed without a zone (the form's ``2026-11-23T14:30``) it is Guatemala time. Sent with an offset (the
    API, a script) it is converted to Guatemala time first, so that the schema's range checks read the
    day and hour staff would: ``2014-01-01T00:30+14:00`` is 31 December 2013 in Guatemala, not 2014. An
    offset no place on Earth uses (beyond −12:00 or +14:00, such as ``+23:59``) is refused.
    """

    default_error_messages = {
        "invalid": _l("Fecha y hora no válidas."),
        "format": _l("Fecha y hora no válidas."),
        "offset": _l("La zona horaria debe estar entre -12:00 y +14:00 (Guatemala: -06:00)."),
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.datetime:
        loaded = super()._deserialize(value, attr, data, **kwargs)
        offset = loaded.utcoffset()
        if offset is None:
            return loaded.replace(tzinfo=LOCAL_TZ)
        if not MIN_UTC_OFFSET <= offset <= MAX_UTC_OFFSET:
            raise self.make_error("offset")
        try:
            return loaded.astimezone(LOCAL_TZ)
        except (OverflowError, ValueError):  # year 1 or 9999 moved across the year's edge
            raise self.make_error("invalid") from None


def integer(**kwargs: Any) -> fields.Integer:
    """A whole number typed with ASCII digits (an age, a quantity): '٣٤' or '³' is not read as 34 or 3."""
    return AsciiInteger(9, error_messages={**REQUIRED, "invalid": _l("Escriba un número entero.")}, **kwargs)


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


def date_between(value: dt.date | None, earliest: dt.date, latest: dt.date) -> str | None:
    """The message for a date outside ``earliest``..``latest`` (both shown as staff write them), or None."""
    if value is None or earliest <= value <= latest:
        return None
    return str(_l("Escriba una fecha entre {min} y {max}.")).format(
        min=earliest.strftime("%d/%m/%Y"), max=latest.strftime("%d/%m/%Y")
    )


def submission_token() -> fields.String:
    """The hidden one-time token a form carries (see ``new_submission_token``)."""
    return fields.String(
        allow_none=True,
        validate=validate.Regexp(
            r"^[0-9a-f]{32}$", error=_l("Formulario no válido: vuelva a cargar la página.")
        ),
    )


_TOKEN = re.compile(r"[0-9a-f]{32}")


def is_submission_token(value: object) -> bool:
    """Whether ``value`` has the shape of a one-time form token (checked before it is looked up)."""
    return isinstance(value, str) and _TOKEN.fullmatch(value) is not None


def new_submission_token() -> str:
    return uuid.uuid4().hex


def raise_if(errors: dict[str, Any]) -> None:
    if errors:
        raise ValidationError(errors)
