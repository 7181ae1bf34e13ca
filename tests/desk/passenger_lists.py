"""Passenger lists for the tests: a flight's rows, written as Excel and as CSV the ways Excel writes them."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence

HEADERS = (
    "Nombres",
    "Apellidos",
    "Sexo (F o M)",
    "Fecha de nacimiento (dd/mm/aaaa)",
    "CUI u otro documento",
    "Grupo familiar",
    "Departamento de destino",
    "Municipio de destino",
    "Teléfono",
    "Parentesco (opcional)",
)


def cui(serial: str, department: int, municipality: int) -> str:
    """A CUI whose (unofficial) check digit is right."""
    check = sum(int(serial[i]) * (i + 2) for i in range(8)) % 11
    assert check < 10, "choose another serial: its check digit would be 10"
    return f"{serial}{check}{department:02d}{municipality:02d}"


#: A small flight: four families, eleven persons. The first is the desk's family of four (issue #11).
FLIGHT: tuple[tuple[str, ...], ...] = (
    # given names, surnames, sex, birth date, document, group, department, municipality, phone, relationship
    (
        "María Elena",
        "López Pérez",
        "F",
        "15/03/1992",
        cui("24567890", 13, 4),
        "FAM-01",
        "Huehuetenango",
        "Cuilco",
        "5555 1234",
        "",
    ),
    ("José Luis", "López Pérez", "M", "10/01/2023", "", "FAM-01", "", "", "", ""),
    ("Ana Sofía", "López Pérez", "F", "05/03/2018", "", "FAM-01", "", "", "", ""),
    ("Pedro", "López García", "M", "02/02/1961", "P1234567", "FAM-01", "", "", "", "Abuelo(a)"),
    ("Catarina", "Tzoc Brito", "F", "01/06/1990", "", "FAM-02", "Quiché", "Santa María Nebaj", "", ""),
    ("Gaspar", "Tzoc Brito", "M", "12/12/2020", "", "FAM-02", "Quiché", "Santa María Nebaj", "", ""),
    ("Juan", "Ramírez Son", "M", "20/07/1985", "", "FAM-03", "San Marcos", "Tacaná", "+502 4444 5555", ""),
    ("Rosa", "Ramírez Son", "F", "20/07/2012", "", "FAM-03", "", "", "", ""),
    ("Luis", "Ramírez Son", "M", "20/07/2015", "", "FAM-03", "", "", "", ""),
    (
        "Elena",
        "Chávez Ixcoy",
        "F",
        "09/09/1979",
        "",
        "FAM-04",
        "Guatemala",
        "Mixco",
        "",
        "Jefe(a) de familia",
    ),
    ("Marta", "Chávez Ixcoy", "F", "09/09/2001", "", "FAM-04", "", "", "", ""),
)


def csv_bytes(
    rows: Sequence[Sequence[str]] = FLIGHT,
    *,
    headers: Sequence[str] = HEADERS,
    delimiter: str = ",",
    encoding: str = "utf-8-sig",
) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(
    rows: Sequence[Sequence[str]] = FLIGHT,
    *,
    headers: Sequence[str] = HEADERS,
    merge: str | None = None,
    typed: bool = True,
) -> bytes:
    """The list as Excel saves it: dates as dates and CUIs as numbers when ``typed`` (a person typing
    into a blank book), and ``merge`` (``"F2:F5"``) merged as someone tidying the sheet would."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Lista"
    sheet.append(list(headers))
    for row in rows:
        values: list[object] = list(row)
        if typed:
            if row[3]:
                day, month, year = (int(part) for part in row[3].split("/"))
                values[3] = dt.datetime(year, month, day)
            if row[4].isdigit():
                values[4] = int(row[4])
        sheet.append(values)
    if merge:
        sheet.merge_cells(merge)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
