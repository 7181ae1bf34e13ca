"""The report's files opened back (zip + csv, openpyxl, pypdf): every figure as on the page.

The fixture is a small November 2026: a family at FAG (a mother, a son, a baby) referred to two
institutions, one of which an admin has named like a spreadsheet formula, and a family at Tecún Umán.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import time
import zipfile

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import select

from sosep_migrantes.catalogs.models import Institution, Sede
from sosep_migrantes.core.timeutil import LOCAL_TZ
from sosep_migrantes.extensions import db
from sosep_migrantes.reports import exports
from sosep_migrantes.reports.exports import export_columns, header_label
from sosep_migrantes.reports.queries import ReportFilters
from sosep_migrantes.reports.tables import Column, Report, Table, build_report
from tests.factories import make_arrival, make_family, make_user, member
from tests.referrals.helpers import refer

NOVEMBER = ReportFilters(start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 30))
FORMULA_NAME = '=HYPERLINK("http://example.invalid/x","Ver")'


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=LOCAL_TZ)


@pytest.fixture
def formula_institution(ctx):
    """OIM renamed by an admin to something a spreadsheet would run; the catalogue is put back after."""
    oim = db.session.scalar(select(Institution).where(Institution.code == "OIM"))
    saved = oim.name_es
    oim.name_es = FORMULA_NAME
    db.session.commit()
    yield oim
    oim = db.session.scalar(select(Institution).where(Institution.code == "OIM"))
    oim.name_es = saved
    db.session.commit()


def make_november() -> None:
    """A family at FAG (Cuilco: Huehuetenango's sede) referred twice, and one at Tecún Umán (Nebaj)."""
    fag = make_user("reception", centre="FAG")
    tecun = make_user("reception", centre="TECUN_UMAN")
    mother = make_family(
        fag,
        make_arrival(fag, when=local(2026, 11, 20, 10, 30)),
        members=[
            member("Rosa", "Pérez Gómez", age=34),
            member("Tomás", "Pérez Gómez", sex="M", relationship="SON", age=7),
            member("Luz", "Pérez Gómez", relationship="DAUGHTER", age=0),
        ],
    )
    make_family(
        tecun,
        make_arrival(tecun, centre="TECUN_UMAN", mode="land", country="MX", when=local(2026, 11, 3, 8)),
        municipality=1413,
        members=[member("Pedro", "Ixcoy Brito", sex="M", age=40)],
    )
    refer(mother, fag, "OIM", send=True)
    refer(mother, fag, "SOSEP_HOGARES", send=True)


@pytest.fixture
def report(ctx, formula_institution) -> Report:
    make_november()
    return build_report(make_user("coordinator"), NOVEMBER, "Nacional")


# -- CSV ------------------------------------------------------------------------------------------------


def read_zip(data: bytes) -> dict[str, list[list[str]]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        files = {}
        for name in archive.namelist():
            raw = archive.read(name)
            assert raw.startswith(b"\xef\xbb\xbf"), name  # the BOM: Excel reads the accents
            files[name] = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    return files


def test_csv_zip_has_one_file_per_breakdown_with_every_figure(report):
    files = read_zip(exports.to_csv_zip(report))
    names = sorted(files)
    assert names[0] == "00-summary.csv"
    assert names[1:] == [f"{i:02d}-{t.key}.csv" for i, t in enumerate(report.tables, start=1)]
    for name, table in zip(names[1:], report.tables, strict=True):
        header, *body = files[name]
        columns = export_columns(table)
        assert header == [header_label(c) for c in columns], name
        expected_rows = [*table.rows, *([table.total] if table.total else [])]
        assert len(body) == len(expected_rows), name
        for line, row in zip(body, expected_rows, strict=True):
            for column, value in zip(columns, line, strict=True):
                expected = row.get(column.key)
                if column.numeric:
                    assert int(value) == expected, (name, column.key)
                elif expected is not None:
                    assert value.lstrip("'") == str(expected), (name, column.key)
    summary = {line[0]: line[2] for line in files["00-summary.csv"][1:]}
    assert summary["start"] == "2026-11-01" and summary["end"] == "2026-11-30"
    for key, value in report.totals.items():
        assert int(summary[key]) == value


def test_csv_has_codes_as_well_as_labels(report):
    files = read_zip(exports.to_csv_zip(report))

    def table(key):
        return next(lines for name, lines in files.items() if name.endswith(f"-{key}.csv"))

    centres = table("by_centre")
    assert centres[0][:2] == ["Código", "Centro"]
    assert {line[0] for line in centres[1:-1]} == {"FAG", "TECUN_UMAN"}
    sex_age = table("by_sex_age")
    assert sex_age[0][:4] == ["Grupo de edad", "Edad al llegar", "Mujer (F)", "Hombre (M)"]
    assert [line[0] for line in sex_age[1:-1]] == ["0-5", "6-12", "13-17", "18-29", "30-59", "60+"]
    departments = table("by_department")
    assert departments[0][0] == "Código INE" and {line[0] for line in departments[1:-1]} == {"13", "14"}
    municipalities = table("by_municipality")
    assert "Código INE del departamento" in municipalities[0]
    # Totals stay numbers: no thousands separators, no apostrophes.
    assert centres[-1][1:] == ["Total", "2", "4"]


def test_csv_neutralises_a_formula_in_an_institutions_name(report):
    lines = next(v for k, v in read_zip(exports.to_csv_zip(report)).items() if k.endswith("-referrals.csv"))
    labels = [line[1] for line in lines[1:]]
    assert "'" + FORMULA_NAME in labels
    assert not any(cell.startswith(("=", "+", "-", "@")) for line in lines for cell in line)


@pytest.mark.parametrize("value", ["=1+2", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_every_formula_prefix_is_neutralised_and_numbers_stay_numbers(value):
    assert exports.safe_text(value) == "'" + value
    assert exports.cell_value(value) == "'" + value
    assert exports.cell_value(-3) == -3 and exports.cell_value(2.5) == 2.5
    assert exports.safe_text("Escuela de Cuilco") == "Escuela de Cuilco"


def hostile_report() -> Report:
    """A report typed by hand whose texts all start like formulas."""
    columns = [Column("code", "Código", numeric=False), Column("label", "@Nombre", numeric=False)]
    columns.append(Column("persons", "Personas"))
    rows = [
        {"code": "-1", "label": "=HYPERLINK(1)", "persons": 3},
        {"code": "+X", "label": "\tTab", "persons": 4},
        {"code": "@A", "label": "\rCR", "persons": 0},
    ]
    table = Table(
        "hostile", "=Título", columns, rows, {"code": "", "label": "Total", "persons": 7}, "persons"
    )
    table.note = "-nota"
    return Report(NOVEMBER, "+Alcance", {"families": 1, "persons": 7}, [table])


def test_hand_made_hostile_texts_come_out_neutralised_in_csv_and_xlsx(ctx):
    report = hostile_report()
    lines = read_zip(exports.to_csv_zip(report))["01-hostile.csv"]
    assert lines[0] == ["Código", "'@Nombre", "Personas"]
    assert lines[1:] == [
        ["'-1", "'=HYPERLINK(1)", "3"],
        ["'+X", "'\tTab", "4"],
        ["'@A", "'\rCR", "0"],
        ["", "Total", "7"],
    ]
    book = load_workbook(io.BytesIO(exports.to_xlsx(report)))
    texts = [
        cell.value
        for sheet in book.worksheets
        for row in sheet.iter_rows()
        for cell in row
        if isinstance(cell.value, str)
    ]
    assert texts and not any(t.startswith(exports.FORMULA_PREFIXES) for t in texts)
    assert all(
        cell.data_type != "f" for sheet in book.worksheets for row in sheet.iter_rows() for cell in row
    )
    sheet = book.worksheets[1]
    assert sheet["A1"].value == "'=Título" and sheet["A2"].value.startswith("Del 01/11/2026")
    assert [c.value for c in sheet[5]] == ["'-1", "'=HYPERLINK(1)", 3]


# -- XLSX -----------------------------------------------------------------------------------------------

HEADER_ROW = 4  # openpyxl counts from 1: title, period, blank, header


def test_xlsx_has_a_cover_and_one_sheet_per_breakdown_with_every_figure(report):
    book = load_workbook(io.BytesIO(exports.to_xlsx(report)))
    assert len(book.sheetnames) == len(report.tables) + 1
    assert len({n.casefold() for n in book.sheetnames}) == len(book.sheetnames)
    assert all(len(n) <= 31 for n in book.sheetnames)
    cover = book.worksheets[0]
    cover_values = {row[0]: row[1] for row in cover.iter_rows(values_only=True) if row[0]}
    assert cover_values["Período"] == "Del 01/11/2026 al 30/11/2026"
    assert cover_values["Alcance"] == "Nacional"
    assert re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d \(hora de Guatemala\)", cover_values["Generado"])
    assert cover_values["Unidades familiares"] == report.totals["families"] == 2
    assert cover_values["Personas"] == report.totals["persons"] == 4
    for sheet, table in zip(book.worksheets[1:], report.tables, strict=True):
        assert sheet["A1"].value == table.title
        columns = export_columns(table)
        assert [c.value for c in sheet[HEADER_ROW]][: len(columns)] == [header_label(c) for c in columns]
        assert sheet.freeze_panes == f"A{HEADER_ROW + 1}"
        expected_rows = [*table.rows, *([table.total] if table.total else [])]
        for offset, row in enumerate(expected_rows, start=1):
            cells = sheet[HEADER_ROW + offset]
            for column, cell in zip(columns, cells, strict=False):
                expected = row.get(column.key)
                if column.numeric:
                    assert cell.data_type == "n" and cell.value == expected, (table.key, column.key)
                elif isinstance(expected, int):
                    assert cell.value == expected
                elif expected not in (None, ""):
                    assert str(cell.value).lstrip("'") == str(expected), (table.key, column.key)
        if table.total:
            total_cells = sheet[HEADER_ROW + len(expected_rows)]
            assert total_cells[1].value == "Total" and all(
                c.font.b for c in total_cells if c.value is not None
            )
        if table.note:
            assert sheet.cell(HEADER_ROW + len(expected_rows) + 2, 1).value == table.note
        assert all(sheet.column_dimensions[letter].width >= 8 for letter in "ABC"[: len(columns)]), table.key


def test_xlsx_neutralises_a_formula_in_an_institutions_name(report):
    book = load_workbook(io.BytesIO(exports.to_xlsx(report)))
    index = [t.key for t in report.tables].index("referrals")
    sheet = book.worksheets[index + 1]
    labels = [row[1] for row in sheet.iter_rows(min_row=HEADER_ROW + 1, values_only=True)]
    assert "'" + FORMULA_NAME in labels
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)


def test_sheet_names_are_valid_short_and_unique():
    titles = ["Resumen", "Por mes: [enero/febrero]?", "x" * 40, "x" * 40, "RESUMEN", "'"]
    names = exports.sheet_names(titles)
    assert names[0] == "Resumen" and names[1] == "Por mes   enero febrero"
    assert names[2] == "x" * 31 and names[3] == "x" * 27 + " (2)" and names[4] == "RESUMEN (2)"
    assert names[5] == "Hoja"
    assert all(len(n) <= 31 for n in names) and len({n.casefold() for n in names}) == len(names)


# -- PDF ------------------------------------------------------------------------------------------------


def after_label(table: Table) -> list[Column]:
    keys = [c.key for c in table.columns]
    return table.columns[keys.index("label") :]


def text_pattern(value) -> str:
    """A cell as the PDF prints it: numbers with thousands separators, text however it wraps."""
    text = f"{value:,}" if isinstance(value, int) else "".join(str(value).split())
    return r"\s*".join(re.escape(c) for c in text)


def pdf_text(data: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(data))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


def test_pdf_has_the_cover_the_map_and_every_tables_figures(report):
    started = time.perf_counter()
    data = exports.to_pdf(report)
    elapsed = time.perf_counter() - started
    assert data.startswith(b"%PDF") and len(data) < 1_500_000
    assert elapsed < 20
    pages, text = pdf_text(data)
    assert pages >= 3
    flat = " ".join(text.split())
    assert "Informe de familias retornadas recibidas" in flat
    assert "Del 01/11/2026 al 30/11/2026" in flat and "Nacional" in flat
    assert f"{pages} / {pages}" in flat  # page numbers
    assert "Familias recibidas por departamento de destino" in flat  # the map
    for table in report.tables:
        assert table.title in flat, table.key
        section = flat[flat.index(table.title) :]
        if not table.rows:
            assert section.removeprefix(table.title).lstrip().startswith("Sin datos en el período")
            continue
        for row in [*table.rows, *([table.total] if table.total else [])]:
            # The row's label, then every later cell (a department's name, the figures) in order.
            pattern = r"\s+".join(
                text_pattern(row.get(c.key)) for c in after_label(table) if row.get(c.key) not in ("", None)
            )
            pattern += r"(?:\s|$)"
            assert re.search(pattern, section), (table.key, row)


def test_pdf_of_an_empty_period_still_renders(ctx):
    report = build_report(make_user("coordinator"), ReportFilters(dt.date(2001, 1, 1), dt.date(2001, 1, 31)))
    pages, text = pdf_text(exports.to_pdf(report))
    assert pages >= 2 and "Nacional" in text


# -- file names -----------------------------------------------------------------------------------------


def test_file_names_carry_the_period_and_the_scope_codes_only(report):
    assert exports.filename(report, "pdf") == "informe-2026-11-01_2026-11-30.pdf"
    huehue = db.session.scalar(select(Sede).where(Sede.code == "HUEHUETENANGO"))
    sede_report = Report(ReportFilters(NOVEMBER.start, NOVEMBER.end, sede_id=huehue.id), "Sede", {})
    assert exports.filename(sede_report, "xlsx") == "informe-2026-11-01_2026-11-30-sede-HUEHUETENANGO.xlsx"
    filtered = Report(ReportFilters(NOVEMBER.start, NOVEMBER.end, mode="land", department_id=9), "", {})
    assert exports.filename(filtered, ".zip") == "informe-2026-11-01_2026-11-30-via-land-depto-09.zip"
    for name in (exports.filename(report, ext) for ext in ("csv", "xlsx", "pdf")):
        assert re.fullmatch(r"[a-z0-9_.-]+", name)
        assert not any(word in name for word in ("Rosa", "Pérez", "Pedro", "Ixcoy"))


def municipalities_report(n: int = 340) -> Report:
    """A year's municipalities, typed by hand: a long table whose chart would not fit on a page."""
    columns = [
        Column("code", "Código INE", numeric=False),
        Column("label", "Municipio", numeric=False),
        Column("families", "Familias"),
        Column("persons", "Personas"),
    ]
    rows = [
        {"code": 100 + i, "label": f"Municipio {i}", "families": i * 7 % 1000, "persons": i * 23 % 4000}
        for i in range(n)
    ]
    total = {"code": "", "label": "Total", "families": sum(r["families"] for r in rows)}
    total["persons"] = sum(r["persons"] for r in rows)
    table = Table("by_municipality", "Por municipio de destino", columns, rows, total, "families")
    by_department = Table("by_department", "Por departamento de destino", columns, [], None, "families")
    totals = {"families": total["families"], "persons": total["persons"]}
    return Report(NOVEMBER, "Nacional", totals, [by_department, table], {13: total["families"]})


def test_a_long_tables_chart_keeps_its_largest_bars_and_the_pdf_stays_light(ctx):
    report = municipalities_report()
    chart = exports.pdf_chart(report.tables[1])
    assert chart is not None and len(chart.bars) == exports.CHART_MAX_BARS
    largest = sorted((r["families"] for r in report.tables[1].rows), reverse=True)
    assert [bar.value for bar in chart.bars] == largest[: exports.CHART_MAX_BARS]
    started = time.perf_counter()
    data = exports.to_pdf(report)
    assert time.perf_counter() - started < 20
    assert len(data) < 1_500_000
    pages, text = pdf_text(data)
    flat = " ".join(text.split())
    assert f"El gráfico muestra los {exports.CHART_MAX_BARS} valores mayores" in flat
    assert "Municipio 339" in flat and f"Total {report.totals['families']:,}" in flat
    assert pages < 20
