"""The institutions' public contact data: its validation, and loading it from a CSV file.

A referral slip prints the address, phone, email and contact (a person or an office) of the institution
the family is sent to. The admin's form and ``flask catalogs load --institutions FILE`` check them with
the same schema (:class:`InstitutionContactSchema`); the shipped ``data/institutions_contacts.csv`` is
read the same way by ``load_catalogs``, which only fills what is empty.

Kept apart from ``services`` and ``schemas`` so that both can use it: ``schemas`` imports ``services``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields, validate
from sqlalchemy import select

from ..core import audit
from ..core.audit import AuditAction
from ..core.schema import InputSchema, text
from ..core.text import clean
from ..extensions import db
from .models import Institution

#: The contact fields, in the order of the file's columns and of the slip.
CONTACT_FIELDS = ("address", "phone", "email", "contact_person")

#: How each field is named in a message about a line of the file.
FIELD_NAMES = {
    "code": _l("código"),
    "address": _l("dirección"),
    "phone": _l("teléfono"),
    "email": _l("correo electrónico"),
    "contact_person": _l("persona u oficina de contacto"),
}

#: A Guatemalan number: 8 digits, written 22223333, 2222 3333 or 2222-3333.
_LOCAL_PHONE = re.compile(r"^[0-9]{4}[ -]?[0-9]{4}$")
#: An international number: '+', the country code and the number, with spaces, hyphens or parentheses.
_INTERNATIONAL_PHONE = re.compile(r"^\+[0-9][0-9 ()-]*[0-9]$")
#: E.164: at most 15 digits with the country code; fewer than 8 is no one's complete number.
_MIN_DIGITS, _MAX_DIGITS = 8, 15
GUATEMALA_CODE = "502"


def is_valid_phone(value: str) -> bool:
    """'2414 7400', '2414-7400', '+502 2414 7400' or '+1 (202) 555-0100'; not '2414-740' nor '+502 241'."""
    if _LOCAL_PHONE.fullmatch(value):
        return True
    if not (value.isascii() and _INTERNATIONAL_PHONE.fullmatch(value)):
        return False
    digits = re.sub(r"[^0-9]", "", value)
    if digits.startswith(GUATEMALA_CODE):
        return len(digits) == len(GUATEMALA_CODE) + 8
    return _MIN_DIGITS <= len(digits) <= _MAX_DIGITS


PHONE_MESSAGE = _l(
    "Teléfono no válido: escriba 8 dígitos (2222 3333) o el número internacional con + y el código "
    "de país (+502 2222 3333)."
)


def _check_phone(value: str) -> None:
    if not is_valid_phone(value):
        raise ValidationError(str(PHONE_MESSAGE))


class InstitutionContactSchema(InputSchema):
    """What a slip prints of an institution; the lengths are the columns'."""

    address = text(max_length=300)
    phone = fields.String(
        allow_none=True,
        validate=[
            validate.Length(max=60, error=_l("Debe tener como máximo {max} caracteres.")),
            _check_phone,
        ],
    )
    email = fields.String(
        allow_none=True,
        validate=[
            validate.Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", error=_l("Correo electrónico no válido.")),
            validate.Length(max=120, error=_l("Debe tener como máximo {max} caracteres.")),
        ],
    )
    contact_person = text(max_length=160)


# -- the file --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContactRow:
    """One line of a contacts file: the institution's code and the values it gives (blank cells left out)."""

    line: int
    code: str
    values: dict[str, str]


class ContactFileError(Exception):
    """The file cannot be loaded; ``problems`` are Spanish sentences, each naming its line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


#: How much of a refused value a message repeats.
_SHOWN_CHARS = 40


def _shown(value: str) -> str:
    return value if len(value) <= _SHOWN_CHARS else value[:_SHOWN_CHARS] + "…"


def read_contacts_file(path: Path) -> str:
    """The file's text (UTF-8, with or without the BOM a spreadsheet adds)."""
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ContactFileError(
            [_("El archivo no está en UTF-8: guárdelo como «CSV UTF-8» y vuelva a cargarlo.")]
        ) from None


def parse_contacts(content: str, known_codes: Iterable[str]) -> list[ContactRow]:
    """Every row of a contacts file, checked; :class:`ContactFileError` lists every problem found.

    The header names ``code`` and any of the contact columns. A blank cell gives nothing (it never
    erases a saved value); a row naming an institution twice, an unknown code, an invalid phone or
    email or a value too long refuses the whole file, so a half-loaded file never reaches a slip.
    """
    known = set(known_codes)
    reader = csv.reader(io.StringIO(content, newline=""))
    header = _header(reader)
    problems: list[str] = []
    rows: list[ContactRow] = []
    seen: dict[str, int] = {}
    schema = InstitutionContactSchema()
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise ContactFileError([_("Línea %(line)d: %(error)s", line=line, error=str(exc))]) from None
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            problems.append(
                _(
                    "Línea %(line)d: tiene %(found)d columnas y el encabezado %(expected)d.",
                    line=line,
                    found=len(cells),
                    expected=len(header),
                )
            )
            continue
        raw = {name: clean(cell) for name, cell in zip(header, cells, strict=True)}
        code = raw.pop("code") or ""
        if not code:
            problems.append(_("Línea %(line)d: falta el código de la institución.", line=line))
        elif code not in known:
            problems.append(
                _(
                    "Línea %(line)d: «%(code)s» no es el código de una institución del catálogo.",
                    line=line,
                    code=_shown(code),
                )
            )
        elif code in seen:
            problems.append(
                _(
                    "Línea %(line)d: la institución %(code)s ya está en la línea %(first)d.",
                    line=line,
                    code=code,
                    first=seen[code],
                )
            )
        else:
            seen[code] = line
        values = {name: value for name, value in raw.items() if value is not None}
        try:
            schema.load(values)
        except ValidationError as exc:
            problems.extend(_field_problems(line, values, exc.messages_dict))
            continue
        if code in known and seen.get(code) == line:
            rows.append(ContactRow(line, code, values))
    if problems:
        raise ContactFileError(problems)
    return rows


def _header(reader: Any) -> list[str]:
    try:
        header = [cell.strip().lower() for cell in next(reader)]
    except StopIteration:
        raise ContactFileError([_("El archivo está vacío.")]) from None
    except csv.Error as exc:
        raise ContactFileError([_("Línea 1: %(error)s", error=str(exc))]) from None
    columns = ("code", *CONTACT_FIELDS)
    problem = None
    unknown = [name for name in header if name not in columns]
    if len(header) == 1 and ";" in header[0]:
        problem = _("Línea 1: las columnas deben ir separadas por comas, no por punto y coma.")
    elif unknown:
        problem = _(
            "Línea 1: columna desconocida «%(name)s»; las columnas son: %(expected)s.",
            name=_shown(unknown[0]),
            expected=", ".join(columns),
        )
    elif len(set(header)) != len(header):
        problem = _("Línea 1: una columna aparece dos veces.")
    elif "code" not in header or len(header) == 1:
        problem = _(
            "Línea 1: el encabezado debe tener la columna code y al menos una de estas: %(fields)s.",
            fields=", ".join(CONTACT_FIELDS),
        )
    if problem is not None:
        raise ContactFileError([problem])
    return header


def _field_problems(line: int, values: dict[str, str], messages: dict[str, Any]) -> list[str]:
    problems = []
    for name in CONTACT_FIELDS:
        if name not in messages:
            continue
        message = " ".join(str(m) for m in messages[name])
        problems.append(
            _(
                "Línea %(line)d, %(field)s «%(value)s»: %(message)s",
                line=line,
                field=str(FIELD_NAMES[name]),
                value=_shown(values.get(name, "")),
                message=message,
            )
        )
    return problems


def apply_contacts(rows: Sequence[ContactRow], *, only_empty: bool) -> dict[str, list[str]]:
    """Write the rows' values on their institutions; returns the fields changed, by institution code.

    ``only_empty`` (the shipped file, at every ``make run``) fills a field only where nothing is saved,
    so an admin's edits stay. A file an admin loads on purpose replaces what its filled cells give. A
    value already saved is not a change: loading the same file twice changes nothing the second time.
    """
    institutions = {i.code: i for i in db.session.scalars(select(Institution))}
    changed: dict[str, list[str]] = {}
    for row in rows:
        institution = institutions[row.code]
        for name, value in row.values.items():
            current = getattr(institution, name)
            if current == value or (only_empty and current):
                continue
            setattr(institution, name, value)
            changed.setdefault(row.code, []).append(name)
    db.session.flush()
    return changed


def load_contacts_file(path: Path) -> dict[str, list[str]]:
    """``flask catalogs load --institutions FILE``: check every row, then update the institutions.

    All or nothing: any problem raises :class:`ContactFileError` before anything is written (and the
    caller's ``unit_of_work`` rolls back). Each institution changed gets an ``institution:save`` audit
    entry naming the fields, never their values (a contact person is a person).
    """
    content = read_contacts_file(path)
    rows = parse_contacts(content, db.session.scalars(select(Institution.code)).all())
    changed = apply_contacts(rows, only_empty=False)
    ids = {code: id_ for code, id_ in db.session.execute(select(Institution.code, Institution.id))}
    for code, names in changed.items():
        audit.record(
            AuditAction.INSTITUTION_SAVE,
            "institution",
            ids[code],
            code=code,
            fields=names,
            source="catalogs load --institutions",
        )
    return changed
