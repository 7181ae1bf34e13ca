"""An arrival's passenger list (issue #11, item 4): reading the file, planning the families to pre-register.

The file is what an airline, the migration institute or staff with Excel produce, so it is read with care
and refused whole, with one Spanish sentence, when it cannot be read as a list:

- its kind is told by its first bytes, not by its name: an XLSX is a zip (``PK\\x03\\x04``); a ``.csv`` that
  is a spreadsheet, an ``.xlsx`` that is text, an old ``.xls`` or a PDF are named for what they are;
- a CSV is decoded as UTF-8 (with or without Excel's BOM), else UTF-16 with its BOM (Excel's "Unicode
  text"), else Windows-1252 (Excel's "CSV" on a Spanish Windows: Latin-1 plus curly quotes); its separator
  is the one its header line uses (a comma, or the semicolon of Excel in Spanish locales, or a tab);
- an XLSX is opened only after its zip directory says it unpacks to little enough (an "XLSX bomb" is
  refused before any of it is decompressed; Python's zipfile never unpacks more than the directory says),
  then read by openpyxl in read-only mode (streamed, XML parsed through defusedxml); merged cells are
  refused, since a group reference merged over several rows leaves all but the first row without one;
- more than :data:`MAX_ROWS` rows is refused (a flight is about 130 people).

Rows are then checked one by one with the family form's own member schema, so a date, a CUI or a name is
judged as at the desk, and grouped by the family reference into the families to pre-register.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError

from ..cases.schemas import MAX_MEMBERS, PHONE, MemberSchema
from ..catalogs.models import FamilyRelationship, Municipality
from ..catalogs.services import active_items, all_municipalities, by_code
from ..core.text import clean, fold, strip_control
from ..core.timeutil import age_on

#: The largest file the upload route accepts (the rest of the service refuses bodies above 2 MB).
MAX_FILE_BYTES = 5 * 1024 * 1024
#: A flight brings about 130 people: a list ten times that long is not a passenger list.
MAX_ROWS = 1000
#: What an XLSX may unpack to: a 1,000-row list is well under 1 MB of XML.
MAX_UNCOMPRESSED_BYTES = 40 * 1024 * 1024
MAX_ZIP_ENTRIES = 500
#: Columns read from each row (a list has ten; a sheet may say it has 16,384).
MAX_COLUMNS = 50
#: The last row of a sheet read: blank rows are skipped, but a sheet reaching row 1,048,576 would take
#: seconds to walk through.
MAX_SHEET_ROW = 20_000
ADULT_AGE = 18
XLSX_MAGIC = b"PK\x03\x04"
#: Compound File Binary: Excel 97-2003 (.xls) and password-protected .xlsx files.
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


class PassengerListError(Exception):
    """The file cannot be read as a passenger list; ``message`` says why, in Spanish, for the page."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ListColumn:
    key: str
    #: The header in the template.
    header: Any
    required: bool
    #: Other headers accepted, folded (lower-case, no accents, nothing in parentheses).
    aliases: tuple[str, ...] = ()


COLUMNS = (
    ListColumn("given_names", _l("Nombres"), True, ("nombre", "nombres", "primer nombre")),
    ListColumn("surnames", _l("Apellidos"), True, ("apellido", "apellidos")),
    ListColumn("sex", _l("Sexo (F o M)"), True, ("sexo", "genero")),
    ListColumn(
        "birth_date",
        _l("Fecha de nacimiento (dd/mm/aaaa)"),
        True,
        ("fecha de nacimiento", "fecha nacimiento", "nacimiento", "fecha de nac"),
    ),
    ListColumn(
        "document",
        _l("CUI u otro documento"),
        False,
        ("cui u otro documento", "cui o documento", "cui", "dpi", "documento", "numero de documento"),
    ),
    ListColumn("group", _l("Grupo familiar"), True, ("grupo familiar", "grupo", "familia", "referencia")),
    ListColumn(
        "department", _l("Departamento de destino"), True, ("departamento de destino", "departamento")
    ),
    ListColumn("municipality", _l("Municipio de destino"), True, ("municipio de destino", "municipio")),
    ListColumn("phone", _l("Teléfono"), False, ("telefono", "telefono de contacto", "celular")),
    ListColumn("relationship", _l("Parentesco (opcional)"), False, ("parentesco", "relacion")),
)
COLUMN_BY_KEY = {column.key: column for column in COLUMNS}
#: Where a problem the member schema finds in a field is shown: under which column of the list.
FIELD_COLUMN = {
    "given_names": "given_names",
    "surnames": "surnames",
    "sex": "sex",
    "birth_date": "birth_date",
    "estimated_age": "birth_date",
    "cui": "document",
    "cui_check_confirmed": "document",
    "document_type": "document",
    "document_number": "document",
    "relationship": "relationship",
}
_PARENTHESES = re.compile(r"\([^)]*\)")
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_CUI_LIKE = re.compile(r"^[0-9][0-9 -]{11,16}[0-9]$")


def template_headers() -> list[str]:
    return [str(column.header) for column in COLUMNS]


def _header_key(text: str) -> str:
    return _NOT_WORD.sub(" ", _PARENTHESES.sub(" ", fold(text))).strip()


# -- reading the file ----------------------------------------------------------------------------------


def read_rows(file_name: str, content: bytes) -> list[dict[str, Any]]:
    """The list's rows, as ``{"row": <row number in the file>, <column key>: <text>, ...}``; blank rows are
    skipped. Raises :class:`PassengerListError` when the file is not a list this service can read."""
    if not content:
        raise PassengerListError(_("El archivo está vacío."))
    if len(content) > MAX_FILE_BYTES:
        raise PassengerListError(
            _("El archivo pesa más de %(mb)d MB: no es una lista de pasajeros.", mb=MAX_FILE_BYTES // 2**20)
        )
    kind = _kind(file_name, content)
    table = _xlsx_rows(content) if kind == "xlsx" else _csv_rows(content)
    return _records(table)


def _kind(file_name: str, content: bytes) -> str:
    """``"csv"`` or ``"xlsx"``, from the name and the first bytes, which must agree."""
    name = file_name.lower().strip()
    extension = name.rsplit(".", 1)[-1] if "." in name else ""
    if extension not in ("csv", "xlsx", "txt"):
        raise PassengerListError(_("Suba la lista como archivo .xlsx (Excel) o .csv."))
    if content.startswith(OLE_MAGIC):
        raise PassengerListError(
            _(
                "El archivo es de Excel 97-2003 (.xls) o está protegido con contraseña: ábralo en Excel, "
                "quite la contraseña si la tiene y guárdelo como «Libro de Excel (.xlsx)»."
            )
        )
    if content.startswith(b"%PDF"):
        raise PassengerListError(_("El archivo es un PDF, no una hoja de cálculo: suba un .xlsx o un .csv."))
    is_zip = content.startswith(XLSX_MAGIC)
    if extension == "xlsx" and not is_zip:
        raise PassengerListError(
            _(
                "El archivo se llama .xlsx pero no es un libro de Excel: ábralo en Excel y guárdelo "
                "como .xlsx."
            )
        )
    if extension != "xlsx" and is_zip:
        raise PassengerListError(
            _(
                "El archivo se llama .%(ext)s pero es un libro de Excel o un archivo comprimido: "
                "cámbiele el nombre a .xlsx o guárdelo como CSV.",
                ext=extension,
            )
        )
    return "xlsx" if is_zip else "csv"


def _too_many_rows() -> PassengerListError:
    return PassengerListError(
        _(
            "La lista tiene más de %(max)s filas: una llegada trae unas 130 personas. Revise que sea la "
            "lista de esta llegada, o divídala en archivos de hasta %(max)s filas.",
            max=f"{MAX_ROWS:,}".replace(",", "."),
        )
    )


def _decode(content: bytes) -> str:
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return content.decode("utf-16")
        except UnicodeDecodeError:
            pass
    else:
        for encoding in ("utf-8-sig", "cp1252"):
            try:
                return content.decode(encoding)
            except UnicodeDecodeError:
                continue
    raise PassengerListError(
        _(
            "No se pudo leer el texto del archivo (su codificación no es UTF-8 ni la de Excel en Windows). "
            "Ábralo en Excel y guárdelo como «CSV UTF-8» o como .xlsx."
        )
    )


def _csv_rows(content: bytes) -> Iterator[tuple[int, list[str]]]:
    text = _decode(content)
    if "\x00" in text:
        raise PassengerListError(_("El archivo no es texto: suba la lista como .xlsx o .csv."))
    first_line = text.lstrip("\r\n").split("\n", 1)[0]
    # The header names no separator: the one it uses most is the file's (Excel in Spanish writes ';').
    delimiter = max((";", ",", "\t", "|"), key=first_line.count)
    if first_line.count(delimiter) == 0:
        raise PassengerListError(
            _(
                "No se encontraron columnas en el archivo: la primera fila debe tener los encabezados de "
                "la plantilla separados por comas o por punto y coma."
            )
        )
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for row in reader:
            yield reader.line_num, [strip_control(cell) for cell in row[:MAX_COLUMNS]]
    except csv.Error as exc:
        raise PassengerListError(
            _("El archivo CSV está dañado cerca de la línea %(line)d.", line=reader.line_num)
        ) from exc


def _check_zip(content: bytes) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise PassengerListError(
            _("El archivo .xlsx está dañado: ábralo en Excel y guárdelo de nuevo.")
        ) from exc
    unpacked = sum(entry.file_size for entry in entries)
    if len(entries) > MAX_ZIP_ENTRIES or unpacked > MAX_UNCOMPRESSED_BYTES:
        raise PassengerListError(
            _(
                "El libro de Excel descomprimido ocuparía más de %(mb)d MB: no es una lista de pasajeros. "
                "Copie la lista a un libro nuevo (o a la plantilla) y súbalo.",
                mb=MAX_UNCOMPRESSED_BYTES // 2**20,
            )
        )
    names = {entry.filename for entry in entries}
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise PassengerListError(
            _("El archivo es un .zip o un documento de otro programa, no un libro de Excel (.xlsx).")
        )
    return archive


def _has_merged_cells(archive: zipfile.ZipFile, sheet_path: str | None) -> bool:
    """Whether the sheet's XML declares a merged range. openpyxl's read-only sheets do not expose merged
    ranges (they are written after the rows), so the sheet's part is scanned for the element, streamed."""
    paths = [sheet_path.lstrip("/")] if sheet_path else []
    if not paths or paths[0] not in archive.namelist():
        paths = [n for n in archive.namelist() if n.startswith("xl/worksheets/") and n.endswith(".xml")]
    for path in paths:
        tail = b""
        with archive.open(path) as part:
            while chunk := part.read(256 * 1024):
                window = tail + chunk
                if b"<mergeCell " in window or b":mergeCell " in window:
                    return True
                tail = window[-32:]
    return False


def _xlsx_rows(content: bytes) -> list[tuple[int, list[str]]]:
    # Imported when a list is uploaded, not with the app. openpyxl ships no types.
    from openpyxl import load_workbook  # type: ignore[import-untyped]

    archive = _check_zip(content)
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken part; the message is the same
        raise PassengerListError(
            _("No se pudo leer el libro de Excel: ábralo en Excel y guárdelo de nuevo como .xlsx.")
        ) from exc
    try:
        if not workbook.worksheets:
            raise PassengerListError(_("El libro de Excel no tiene hojas."))
        sheet = workbook.worksheets[0]
        rows: list[tuple[int, list[str]]] = []
        read = 0
        for number, values in enumerate(sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True), start=1):
            if number > MAX_SHEET_ROW:  # a sheet whose rows reach that far is not a flight's list
                raise _too_many_rows()
            if not any(value is not None for value in values):
                continue  # openpyxl fills a gap between rows with empty ones: skipped without reading them
            cells = [_cell_text(value) for value in values]
            if not any(cells):
                continue
            read += 1
            if read > MAX_ROWS + 1:  # the header and MAX_ROWS rows
                raise _too_many_rows()
            rows.append((number, cells))
        if _has_merged_cells(archive, getattr(sheet, "_worksheet_path", None)):
            raise PassengerListError(
                _(
                    "La hoja tiene celdas combinadas (por ejemplo, el grupo familiar combinado en varias "
                    "filas): sepárelas y escriba el valor en cada fila."
                )
            )
        return rows
    finally:
        workbook.close()


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a CUI or a phone typed as a number
    return strip_control(str(value)).strip()


def _records(table: Iterable[tuple[int, list[str]]]) -> list[dict[str, Any]]:
    rows = iter(table)
    header: list[str] | None = None
    for _number, cells in rows:
        if any(cell.strip() for cell in cells):
            header = cells
            break
    if header is None:
        raise PassengerListError(_("El archivo no tiene filas."))
    positions = _columns(header)
    records: list[dict[str, Any]] = []
    for number, cells in rows:
        if not any(cell.strip() for cell in cells):
            continue
        if len(records) >= MAX_ROWS:
            raise _too_many_rows()
        record: dict[str, Any] = {"row": number}
        for index, key in positions.items():
            record[key] = cells[index].strip() if index < len(cells) else ""
        records.append(record)
    if not records:
        raise PassengerListError(_("La lista tiene encabezados pero ninguna persona."))
    return records


def _columns(header: Sequence[str]) -> dict[int, str]:
    """Which column of the file holds each of the list's keys; refuses a header without the required ones."""
    wanted = {
        alias: column.key
        for column in COLUMNS
        for alias in (_header_key(str(column.header)), *column.aliases)
    }
    found: dict[int, str] = {}
    seen: dict[str, str] = {}
    for index, title in enumerate(header):
        key = wanted.get(_header_key(title))
        if key is None:
            continue
        if key in seen:
            raise PassengerListError(
                _(
                    "Las columnas «%(a)s» y «%(b)s» dicen lo mismo: deje solo una.",
                    a=seen[key],
                    b=title.strip(),
                )
            )
        seen[key] = title.strip()
        found[index] = key
    missing = [str(column.header) for column in COLUMNS if column.required and column.key not in seen]
    if missing:
        shown = ", ".join(f"«{title.strip()}»" for title in header if title.strip())
        raise PassengerListError(
            _(
                "Faltan columnas de la plantilla: %(missing)s. La primera fila del archivo tiene: %(found)s. "
                "Descargue la plantilla y copie la lista en ella.",
                missing=", ".join(f"«{title}»" for title in missing),
                found=shown or _("nada"),
            )
        )
    return found


# -- planning the families -----------------------------------------------------------------------------


@dataclass
class PlannedMember:
    row: int
    name: str
    age: int | None
    relationship: FamilyRelationship | None
    #: The relationship was not in the list: the head is its first adult, the others are guessed from
    #: their age (a child of the head, or another relative); the desk can correct it.
    inferred: bool
    #: What :func:`cases.services.register_family` takes for this member (the member schema's output).
    data: dict[str, Any]


@dataclass
class PlannedGroup:
    reference: str
    rows: list[int] = field(default_factory=list)
    members: list[PlannedMember] = field(default_factory=list)
    destination: Municipality | None = None
    phone: str | None = None
    #: Rows of the group with a problem of their own (listed with the file's problems).
    problem_rows: list[int] = field(default_factory=list)
    #: What is wrong with the group as a whole (two destinations, two heads, too many persons).
    problems: list[str] = field(default_factory=list)
    #: The case number of the family this group already became on the arrival (a list uploaded again).
    existing: str | None = None
    #: Some row named a destination (found or not): "no destination" would then be a second error.
    destination_typed: bool = False

    @property
    def will_create(self) -> bool:
        return not self.problems and not self.problem_rows and self.existing is None

    def family_data(self) -> dict[str, Any]:
        """The registration service's input for this group: no consent yet (asked at the desk)."""
        return {
            "destination_municipality": self.destination,
            "phone": self.phone,
            "consent_type": None,
            "passenger_group": self.reference,
            "members": [member.data for member in self.members],
        }


@dataclass
class Plan:
    row_count: int
    groups: list[PlannedGroup]
    #: ``(row number, message)`` in file order: what keeps a row's group from being created.
    problems: list[tuple[int, str]]
    #: ``(row number, message)``: what the desk will be asked to check, but does not stop the group.
    warnings: list[tuple[int, str]]

    @property
    def to_create(self) -> list[PlannedGroup]:
        return [group for group in self.groups if group.will_create]

    @property
    def persons_to_create(self) -> int:
        return sum(len(group.members) for group in self.to_create)


_SEXES = {
    "f": "F",
    "femenino": "F",
    "mujer": "F",
    "m": "M",
    "masculino": "M",
    "hombre": "M",
    "h": "M",
}
#: Relationships as lists write them, folded, besides the catalogue's names and codes.
_RELATIONSHIP_WORDS = {
    "jefe": "HEAD",
    "jefa": "HEAD",
    "jefe de familia": "HEAD",
    "jefa de familia": "HEAD",
    "titular": "HEAD",
    "esposo": "SPOUSE",
    "esposa": "SPOUSE",
    "conyuge": "SPOUSE",
    "conviviente": "SPOUSE",
    "pareja": "SPOUSE",
    "hijo": "SON",
    "hija": "DAUGHTER",
    "padre": "FATHER",
    "madre": "MOTHER",
    "hermano": "BROTHER",
    "hermana": "SISTER",
    "nieto": "GRANDCHILD",
    "nieta": "GRANDCHILD",
    "abuelo": "GRANDPARENT",
    "abuela": "GRANDPARENT",
    "sobrino": "NEPHEW_NIECE",
    "sobrina": "NEPHEW_NIECE",
    "tio": "UNCLE_AUNT",
    "tia": "UNCLE_AUNT",
    "hijastro": "STEPCHILD",
    "hijastra": "STEPCHILD",
    "tutor": "GUARDIAN",
    "tutora": "GUARDIAN",
}


def _relationship_codes() -> dict[str, str]:
    codes = dict(_RELATIONSHIP_WORDS)
    for item in active_items(FamilyRelationship):
        codes[fold(item.name_es)] = item.code
        codes[_header_key(item.name_es)] = item.code
        codes[fold(item.code)] = item.code
    return codes


class _Places:
    """Municipalities by what a list writes: INE code, or name within the department's name."""

    def __init__(self) -> None:
        self.by_code: dict[str, Municipality] = {}
        self.by_names: dict[tuple[str, str], Municipality] = {}
        by_name: dict[str, list[Municipality]] = {}
        for municipality in all_municipalities():
            self.by_code[str(municipality.id)] = municipality
            self.by_names[(fold(municipality.department.name), fold(municipality.name))] = municipality
            by_name.setdefault(fold(municipality.name), []).append(municipality)
        self.unique_names = {name: found[0] for name, found in by_name.items() if len(found) == 1}

    def find(self, department: str, municipality: str) -> Municipality | None:
        if municipality.isascii() and municipality.isdigit():
            return self.by_code.get(municipality.lstrip("0"))
        if department:
            return self.by_names.get((fold(department), fold(municipality)))
        return self.unique_names.get(fold(municipality))


def group_reference(text: str) -> str:
    """The key a family group is known by: spaces squeezed, upper case (``fam 12`` and ``FAM 12`` agree)."""
    return (clean(text) or "").upper()


def plan(records: Sequence[dict[str, Any]], arrived_on: dt.date, existing: dict[str, str]) -> Plan:
    """Check each row and group the rows into the families to pre-register, nothing saved.

    ``existing`` maps the group references already on the arrival to their case numbers: those groups are
    shown as imported and not created again.
    """
    problems: list[tuple[int, str]] = []
    warnings: list[tuple[int, str]] = []
    places = _Places()
    relationships = _relationship_codes()
    groups: dict[str, PlannedGroup] = {}
    destinations: dict[str, set[int]] = {}
    for record in records:
        row = int(record["row"])
        row_problems: list[str] = []
        reference = group_reference(record.get("group", ""))
        if not reference:
            row_problems.append(_("Grupo familiar: falta la referencia del grupo."))
        elif len(reference) > 40:
            row_problems.append(_("Grupo familiar: la referencia tiene más de 40 caracteres."))
        member, member_problems, member_warnings = _member(record, row, arrived_on, relationships)
        row_problems += member_problems
        warnings += [(row, message) for message in member_warnings]
        municipality = None
        department, town = record.get("department", ""), record.get("municipality", "")
        if town or department:
            municipality = places.find(department, town)
            if municipality is None:
                row_problems.append(
                    _(
                        "Destino: no se encontró el municipio «%(place)s» en el catálogo.",
                        place=", ".join(part for part in (town, department) if part),
                    )
                )
        phone = clean(record.get("phone", ""))
        if phone:
            try:
                PHONE(phone)
            except ValidationError as exc:
                row_problems.append(_("Teléfono: %(message)s", message=_lower_first(_first(exc.messages))))
                phone = None
        problems += [(row, message) for message in row_problems]
        if not reference or len(reference) > 40:
            continue
        group = groups.setdefault(reference, PlannedGroup(reference, existing=existing.get(reference)))
        group.rows.append(row)
        if row_problems:
            group.problem_rows.append(row)
        group.destination_typed = group.destination_typed or bool(town or department)
        if member is not None:
            group.members.append(member)
        if municipality is not None:
            destinations.setdefault(reference, set()).add(municipality.id)
            group.destination = group.destination or municipality
        group.phone = group.phone or phone
    for reference, group in groups.items():
        _finish_group(group, destinations.get(reference, set()), warnings)
    problems.sort(key=lambda item: item[0])
    warnings.sort(key=lambda item: item[0])
    return Plan(row_count=len(records), groups=list(groups.values()), problems=problems, warnings=warnings)


def _first(messages: Any) -> str:
    if isinstance(messages, dict):
        messages = next(iter(messages.values()), "")
    if isinstance(messages, list):
        return _first(messages[0]) if messages else ""
    return str(messages)


def _member(
    record: dict[str, Any], row: int, arrived_on: dt.date, relationships: dict[str, str]
) -> tuple[PlannedMember | None, list[str], list[str]]:
    """The row's person as the family form's member schema reads it, or what is wrong with the row."""
    problems: list[str] = []
    warnings: list[str] = []
    sex_text = fold(record.get("sex", ""))
    sex = _SEXES.get(sex_text)
    if sex is None:
        problems.append(
            _("Sexo: escriba F (mujer) o M (hombre).")
            if sex_text
            else _("Sexo: falta; escriba F (mujer) o M (hombre).")
        )
    relationship_text = record.get("relationship", "")
    code = relationships.get(fold(relationship_text)) or relationships.get(_header_key(relationship_text))
    if relationship_text and code is None:
        problems.append(
            _(
                "Parentesco: «%(value)s» no está en el catálogo; déjelo vacío o escriba, por ejemplo, Hijo.",
                value=relationship_text,
            )
        )
    # A blank cell is a missing value, as a blank form field is (the schema says "required" then).
    payload: dict[str, Any] = {
        "given_names": record.get("given_names") or None,
        "surnames": record.get("surnames") or None,
        "sex": sex,
        "birth_date": record.get("birth_date") or None,
        # Placeholder until the group's head is known (the schema requires one).
        "relationship": code or "OTHER",
        # As the desk's form starts each new member: Spanish, changed there when the family speaks another.
        "languages": ["ES"],
    }
    document = record.get("document", "").strip()
    if document:
        if _CUI_LIKE.match(document) and len(re.sub(r"\D", "", document)) == 13:
            payload["cui"] = document
        else:
            payload["document_type"] = "OTHER"
            payload["document_number"] = document
    data = None
    try:
        data = MemberSchema().load(payload)
    except ValidationError as exc:
        errors = exc.messages if isinstance(exc.messages, dict) else {"given_names": exc.messages}
        if set(errors) == {"cui_check_confirmed"}:
            # The CUI's (unofficial) check digit fails: staff confirm it at the desk, as when typed there.
            warnings.append(_("CUI: %(message)s Se confirmará en el escritorio.", message=_first(errors)))
            data = MemberSchema().load({**payload, "cui_check_confirmed": True})
            data["cui_check_confirmed"] = False
        else:
            for key, messages in errors.items():
                if key == "sex" and sex is None:
                    continue  # already said, in the list's words
                column = COLUMN_BY_KEY[FIELD_COLUMN.get(key, "given_names")]
                if key == "birth_date" and payload["birth_date"] is None:
                    message = _("falta; escríbala como dd/mm/aaaa.")
                else:
                    message = _lower_first(_first(messages))
                problems.append(f"{_column_name(column)}: {message}")
    if problems or data is None:
        return None, problems, warnings
    birth = data.get("birth_date")
    age = age_on(birth, arrived_on) if birth is not None else data.get("estimated_age")
    member = PlannedMember(
        row=row,
        name=f"{data['given_names']} {data['surnames']}",
        age=age,
        relationship=by_code(FamilyRelationship, code) if code else None,
        inferred=code is None,
        data=data,
    )
    return member, problems, warnings


def _column_name(column: ListColumn) -> str:
    return _PARENTHESES.sub("", str(column.header)).strip()


def _lower_first(message: str) -> str:
    return message[:1].lower() + message[1:] if message[:2] != message[:2].upper() else message


def _finish_group(group: PlannedGroup, destinations: set[int], warnings: list[tuple[int, str]]) -> None:
    """The group's head first, each member's relationship, and what keeps the group from being created."""
    first_row = group.rows[0]
    if len(destinations) > 1:
        group.problems.append(_("Las filas del grupo tienen destinos distintos: una familia tiene uno."))
    elif not group.destination_typed:
        group.problems.append(
            _("Falta el destino: escriba el departamento y el municipio en al menos una fila del grupo.")
        )
    if len(group.rows) > MAX_MEMBERS:
        group.problems.append(
            _(
                "El grupo tiene %(n)d personas: una unidad familiar tiene hasta %(max)d.",
                n=len(group.rows),
                max=MAX_MEMBERS,
            )
        )
    if len(group.members) != len(group.rows):
        return  # a row with problems: the members cannot be told apart yet
    heads = [m for m in group.members if m.relationship is not None and m.relationship.code == "HEAD"]
    if len(heads) > 1:
        group.problems.append(
            _("El grupo tiene %(n)d jefes(as) de familia: indique uno solo en «Parentesco».", n=len(heads))
        )
        return
    if heads:
        head = heads[0]
    else:
        adults = [m for m in group.members if m.age is not None and m.age >= ADULT_AGE]
        head = adults[0] if adults else group.members[0]
        if not adults:
            warnings.append(
                (first_row, _("Grupo %(ref)s: no tiene ninguna persona adulta.", ref=group.reference))
            )
        _set_relationship(head, "HEAD")
    head_is_adult = head.age is not None and head.age >= ADULT_AGE
    for member in group.members:
        if member is head or member.relationship is not None:
            continue
        is_child = member.age is not None and member.age < ADULT_AGE and head_is_adult
        code = ("DAUGHTER" if member.data["sex"] == "F" else "SON") if is_child else "OTHER_RELATIVE"
        _set_relationship(member, code)
    group.members = [head] + [m for m in group.members if m is not head]


def _set_relationship(member: PlannedMember, code: str) -> None:
    relationship = by_code(FamilyRelationship, code)
    member.relationship = relationship
    member.data["relationship"] = relationship


# -- the template --------------------------------------------------------------------------------------

TEMPLATE_NOTES = (
    _l("Una fila por persona; la primera fila lleva los encabezados (no los cambie)."),
    _l(
        "Grupo familiar: la misma referencia (por ejemplo FAM-01) en todas las personas de una familia; "
        "cada referencia será una unidad familiar pre-registrada."
    ),
    _l("Sexo: F (mujer) o M (hombre). Fecha de nacimiento: dd/mm/aaaa."),
    _l("CUI u otro documento: el CUI de 13 dígitos, o el número del pasaporte u otro documento."),
    _l(
        "Departamento y municipio de destino: como en el catálogo del INE (por ejemplo Huehuetenango, "
        "Cuilco); basta escribirlos en una fila de cada grupo."
    ),
    _l(
        "Parentesco (opcional): con el/la jefe(a) de familia (Jefe(a) de familia, Hijo, Hija, Esposo(a)...). "
        "Si se deja vacío, el/la jefe(a) es la primera persona adulta del grupo."
    ),
    _l("No combine celdas. Hasta 1.000 filas por archivo."),
)


def template_csv() -> bytes:
    """The template as CSV: the headers only, UTF-8 with a BOM (so Excel shows the accents)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(template_headers())
    return out.getvalue().encode("utf-8-sig")


def template_xlsx() -> bytes:
    """The template as an Excel book: the headers, text columns where Excel would spoil a number (a CUI
    shown as 2,45678E+12, a phone losing its +502), a date column, and a sheet of instructions."""
    import xlsxwriter  # type: ignore[import-untyped]  # ships no py.typed marker

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    head = book.add_format({"bold": True, "bg_color": "#E8EEF4", "border": 1, "text_wrap": True})
    as_text = book.add_format({"num_format": "@"})
    as_date = book.add_format({"num_format": "dd/mm/yyyy"})
    sheet = book.add_worksheet(str(_l("Lista de pasajeros")))
    for index, column in enumerate(COLUMNS):
        cell_format = as_date if column.key == "birth_date" else as_text
        sheet.set_column(index, index, 24 if column.key in ("given_names", "surnames") else 18, cell_format)
        sheet.write(0, index, str(column.header), head)
    sheet.freeze_panes(1, 0)
    sex_column = next(i for i, c in enumerate(COLUMNS) if c.key == "sex")
    sheet.data_validation(1, sex_column, MAX_ROWS, sex_column, {"validate": "list", "source": ["F", "M"]})
    notes = book.add_worksheet(str(_l("Instrucciones")))
    notes.set_column(0, 0, 110)
    for index, note in enumerate(TEMPLATE_NOTES):
        notes.write(index, 0, str(note))
    book.close()
    return out.getvalue()
