"""The yearly report in a real browser (issue #9): figures, map, charts and the three downloads.

A coordinator opens "Informes" from the menu, chooses the year through the filters form, reads the totals,
sees the departments map and the bar charts beside their tables, and downloads the PDF, the workbook and
the CSV files through the page's buttons; every file says what the page says. A sede user gets its own
territory only, whatever sede the address names.

The families, this year: two on one flight into FAG going to Huehuetenango (Cuilco and the departmental
capital), one by air into FAG going to Nebaj (Quiché), one by land from Mexico into Tecún Umán going to
San Marcos; and one family of last year, which the year's report must leave out.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from typing import Any

import openpyxl
import pytest
from playwright.sync_api import Download, Locator, Page, expect
from pypdf import PdfReader

from sosep_migrantes.core.timeutil import LOCAL_TZ, today_local
from tests.browser.test_reception_journey import log_in, main_nav
from tests.factories import make_arrival, make_family, make_user, member

pytestmark = pytest.mark.browser

COORDINATOR = "coordinacion"
SEDE_USER = "sede.huehue"

CUILCO, HUEHUETENANGO, NEBAJ, SAN_MARCOS = 1304, 1301, 1413, 1201

MAP = "Familias recibidas por departamento de destino"
BY_DEPARTMENT = "Por departamento de destino"
DEPARTMENT_CHART = "Gráfica de barras: Por departamento de destino (Familias)"
ROUTE_CHART = "Gráfica de barras: Por vía y país de retorno (Familias)"
HUEHUE_SEDE = "Sede Departamental de Huehuetenango"

#: The by-department table as the page writes it: header, one row per department, the total.
DEPARTMENT_ROWS = [
    ["Código INE", "Departamento", "Familias", "Personas"],
    ["13", "Huehuetenango", "2", "5"],
    ["12", "San Marcos", "1", "4"],
    ["14", "Quiché", "1", "1"],
    ["", "Total", "4", "10"],
]


def this_year(month: int, day: int) -> dt.datetime:
    """Nine in the morning on that day of this year in Guatemala (today at the latest: no arrival ahead)."""
    today = today_local()
    return dt.datetime.combine(min(dt.date(today.year, month, day), today), dt.time(9, 0), tzinfo=LOCAL_TZ)


def make_the_year() -> None:
    """Four families this year (10 persons, 3 arrivals: 2 flights and a bus) and one last year."""
    fag = make_user("reception", centre="FAG")
    tecun = make_user("reception", centre="TECUN_UMAN")
    flight = make_arrival(fag, when=this_year(2, 10))
    make_family(
        fag,
        flight,
        municipality=CUILCO,
        consent_on=flight.arrived_at.date().isoformat(),
        members=[
            member("Marta Lucía", "Domingo Sales", age=34),
            member("Brayan Josué", "Domingo Sales", sex="M", relationship="SON", age=8),
            member("Ana Sofía", "Domingo Sales", relationship="DAUGHTER", age=3),
        ],
    )
    make_family(
        fag,
        flight,
        municipality=HUEHUETENANGO,
        consent_on=flight.arrived_at.date().isoformat(),
        members=[
            member("Pedro", "Mendoza Ros", sex="M", age=41),
            member("Luisa", "Mendoza Alva", relationship="DAUGHTER", age=16),
        ],
    )
    make_family(
        fag,
        make_arrival(fag, when=this_year(6, 3)),
        municipality=NEBAJ,
        consent_on=this_year(6, 3).date().isoformat(),
        members=[member("Jacinto", "Brito Cobo", sex="M", age=27)],
    )
    bus = make_arrival(tecun, centre="TECUN_UMAN", mode="land", country="MX", when=this_year(9, 21))
    make_family(
        tecun,
        bus,
        municipality=SAN_MARCOS,
        consent_on=bus.arrived_at.date().isoformat(),
        members=[
            member("Rosa Elena", "Pérez Fuentes", age=38),
            member("Kevin", "Pérez Fuentes", sex="M", relationship="SON", age=12),
            member("Dulce", "Pérez Fuentes", relationship="DAUGHTER", age=9),
            member("Mateo", "Pérez Fuentes", sex="M", relationship="SON", age=1),
        ],
    )
    # Last year's family: not in this year's figures.
    last_year = dt.datetime(today_local().year - 1, 12, 28, 9, 0, tzinfo=LOCAL_TZ)
    make_family(
        fag,
        make_arrival(fag, when=last_year),
        municipality=CUILCO,
        consent_on=last_year.date().isoformat(),
        members=[
            member("Elvia", "Tzul Ramos", age=30),
            member("Eber", "Tzul Ramos", sex="M", relationship="SPOUSE", age=31),
        ],
    )


# -- the page ------------------------------------------------------------------------------------------


def total(page: Page, term: str) -> Locator:
    """The figure under ``term`` in the totals ("Unidades familiares", "Personas", ...)."""
    return (
        page.locator("dl.report-totals > div")
        .filter(has=page.locator("dt").get_by_text(term, exact=True))
        .locator("dd")
    )


def choose_the_year(page: Page) -> int:
    """Through the filters form: the "Año" period, this year typed in, "Ver informe"."""
    year = today_local().year
    page.get_by_role("radio", name="Año", exact=True).check()
    page.get_by_role("textbox", name="Año", exact=True).fill(str(year))
    page.get_by_role("button", name="Ver informe").click()
    expect(page).to_have_url(re.compile(rf"/reports/\?(.*&)?period=year&year={year}(&|$)"))
    expect(page.locator(".report-scope strong")).to_have_text(f"Año {year}")
    expect(page.get_by_role("radio", name="Año", exact=True)).to_be_checked()
    return year


def department_titles(page: Page) -> list[str]:
    """The tooltip of each department on the map ("Huehuetenango: 2 familias")."""
    return page.get_by_role("img", name=MAP, exact=True).locator("path > title").all_text_contents()


def table_cells(table: Locator) -> list[list[str]]:
    """Every row of a table (header, body, total) as the texts of its cells."""
    cells: list[list[str]] = table.locator("tr").evaluate_all(
        "rows => rows.map(r => [...r.cells].map(c => c.innerText.trim()))"
    )
    return cells


def department_table(page: Page) -> Locator:
    return page.get_by_role("region", name=BY_DEPARTMENT, exact=True).get_by_role("table")


def download(page: Page, button: str) -> tuple[str, bytes]:
    """Click a download button of the page; the file's suggested name and its bytes."""
    with page.expect_download() as info:
        page.get_by_role("navigation", name="Descargas").get_by_role("link", name=button).click()
    file: Download = info.value
    assert file.failure() is None, file.failure()
    with open(file.path(), "rb") as handle:
        return file.suggested_filename, handle.read()


# -- the files -----------------------------------------------------------------------------------------


def plain(value: Any) -> str:
    """A cell as text without thousands separators: the page's "1,234", the workbook's 1234, the CSV's."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text.replace(",", "") if re.fullmatch(r"\d{1,3}(,\d{3})+", text) else text


def plain_rows(rows: list[list[Any]]) -> list[list[str]]:
    return [[plain(value) for value in row] for row in rows]


def pdf_text(body: bytes) -> str:
    """The PDF's text, its lines joined by single spaces (the PDF wraps long labels)."""
    assert body.startswith(b"%PDF-")
    return " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(body)).pages).split())


def sheet_table(body: bytes, sheet_name: str) -> list[list[Any]]:
    """A breakdown's sheet from its header row (row 4: title, period and a blank row come first) on."""
    workbook = openpyxl.load_workbook(io.BytesIO(body), read_only=True, data_only=True)
    try:
        rows = [list(row) for row in workbook[sheet_name].iter_rows(min_row=4, values_only=True)]
    finally:
        workbook.close()
    return [row for row in rows if any(value not in (None, "") for value in row)]


def workbook_totals(body: bytes) -> dict[str, Any]:
    """The cover sheet's label -> value pairs (period, scope, totals)."""
    workbook = openpyxl.load_workbook(io.BytesIO(body), read_only=True, data_only=True)
    try:
        return {
            row[0]: row[1]
            for row in workbook["Resumen"].iter_rows(values_only=True)
            if row and row[0] is not None and len(row) > 1
        }
    finally:
        workbook.close()


def zip_csv(body: bytes, key: str) -> list[list[str]]:
    """The rows of the zip's ``NN-<key>.csv``."""
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        names = [name for name in archive.namelist() if re.fullmatch(rf"\d\d-{key}\.csv", name)]
        assert len(names) == 1, archive.namelist()
        text = archive.read(names[0]).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


# -- the journeys --------------------------------------------------------------------------------------


def test_coordinator_reads_the_year_and_downloads_its_files(app, page: Page) -> None:
    with app.app_context():
        make_user("coordinator", username=COORDINATOR)
        make_the_year()

    # --- Informes, from the menu: today's month first, then the year chosen in the form -------------
    log_in(page, COORDINATOR)
    main_nav(page).get_by_role("link", name="Informes").click()
    expect(page.get_by_role("heading", name="Informe de familias retornadas recibidas")).to_be_visible()
    expect(page.get_by_role("radio", name="Mes", exact=True)).to_be_checked()
    year = choose_the_year(page)
    expect(page.locator("#report-scope")).to_have_text("Nacional")
    expect(page.locator(".report-scope")).to_contain_text(f"01/01/{year} – 31/12/{year}")

    # --- The totals: four families, ten persons, three arrivals (two flights, one bus) ---------------
    expect(total(page, "Unidades familiares")).to_have_text("4")
    expect(total(page, "Personas")).to_have_text("10")
    expect(total(page, "Llegadas")).to_have_text("3")
    expect(total(page, "Vuelos")).to_have_text("2")
    expect(total(page, "Buses")).to_have_text("1")

    # --- The map: the 22 departments, each saying its families -------------------------------------
    the_map = page.get_by_role("img", name=MAP, exact=True)
    expect(the_map).to_be_visible()
    expect(the_map.locator("path")).to_have_count(22)
    titles = department_titles(page)
    assert len(titles) == 22
    for line in ("Huehuetenango: 2 familias", "Quiché: 1 familia", "San Marcos: 1 familia"):
        assert line in titles, titles
    assert "Guatemala: 0 familias" in titles, titles
    assert sum(1 for line in titles if line.endswith(": 0 familias")) == 19, titles

    # --- The charts beside their tables: the departments, and the routes -----------------------------
    chart = page.get_by_role("img", name=DEPARTMENT_CHART, exact=True)
    expect(chart).to_be_visible()
    expect(chart).to_have_accessible_description("Huehuetenango: 2; San Marcos: 1; Quiché: 1")
    bars = chart.locator("g.bar")
    expect(bars).to_have_count(3)
    expect(bars.locator("title")).to_have_text(["Huehuetenango: 2", "San Marcos: 1", "Quiché: 1"])
    widths = [
        float(w) for w in bars.locator("rect").evaluate_all("rs => rs.map(r => r.getAttribute('width'))")
    ]
    assert widths[0] > widths[1] == widths[2] > 0, widths
    routes = page.get_by_role("img", name=ROUTE_CHART, exact=True)
    expect(routes).to_be_visible()
    expect(routes.locator("g.bar > title")).to_have_text(
        ["Aérea desde Estados Unidos: 3", "Terrestre desde México: 1"]
    )

    table = department_table(page)
    expect(table).to_be_visible()
    page_rows = table_cells(table)
    assert page_rows == DEPARTMENT_ROWS, page_rows
    # A department's name opens its municipalities (the page's drill-down).
    expect(table.get_by_role("link", name="Huehuetenango", exact=True)).to_have_attribute(
        "href", re.compile(r"department=13")
    )

    # --- PDF: the year, the scope and the totals ------------------------------------------------------
    name, body = download(page, "Descargar PDF")
    assert name == f"informe-{year}-01-01_{year}-12-31.pdf"
    text = pdf_text(body)
    assert "Informe de familias retornadas recibidas" in text
    assert f"Del 01/01/{year} al 31/12/{year}" in text
    assert "Nacional" in text
    assert re.search(r"(?<![\d,])4\s*Unidades familiares", text), text[:1500]
    assert re.search(r"(?<![\d,])10\s*Personas", text), text[:1500]
    assert MAP in text
    # The departments' table as on the page: its title, header, rows and total, in that order.
    page_table = " ".join(cell for row in page_rows for cell in row if cell)
    assert f"{BY_DEPARTMENT} {page_table}" in text, text

    # --- XLSX: the cover's totals and the departments' sheet, cell for cell --------------------------
    name, body = download(page, "Descargar Excel (XLSX)")
    assert name == f"informe-{year}-01-01_{year}-12-31.xlsx"
    cover = workbook_totals(body)
    assert cover["Unidades familiares"] == 4 and cover["Personas"] == 10, cover
    assert cover["Llegadas"] == 3 and cover["Vuelos"] == 2 and cover["Buses"] == 1, cover
    assert cover["Alcance"] == "Nacional", cover
    sheet = sheet_table(body, BY_DEPARTMENT)
    assert sheet[1] == [13, "Huehuetenango", 2, 5], sheet  # numbers stay numbers
    assert plain_rows(sheet) == plain_rows(page_rows), sheet

    # --- CSV (zip): the departments' file, and the summary's totals ----------------------------------
    name, body = download(page, "Descargar CSV (zip)")
    assert name == f"informe-{year}-01-01_{year}-12-31.zip"
    assert plain_rows(zip_csv(body, "by_department")) == plain_rows(page_rows)
    summary = {row[0]: row[2] for row in zip_csv(body, "summary")[1:]}
    assert summary["families"] == "4" and summary["persons"] == "10", summary
    assert summary["start"] == f"{year}-01-01" and summary["end"] == f"{year}-12-31", summary


def test_a_sede_user_gets_only_its_territory_in_the_report(app, page: Page) -> None:
    with app.app_context():
        make_user("sede", sede="HUEHUETENANGO", username=SEDE_USER)
        make_the_year()

    log_in(page, SEDE_USER)
    main_nav(page).get_by_role("link", name="Informes").click()
    expect(page.get_by_role("heading", name="Informe de familias retornadas recibidas")).to_be_visible()
    expect(page.locator("#report-scope")).to_have_text(HUEHUE_SEDE)
    # No sede to choose: the sede's report is its own territory.
    expect(page.locator("#report-filters").get_by_label("Sede", exact=True)).to_have_count(0)
    year = choose_the_year(page)

    # --- Another sede named in the address: still Huehuetenango's families only ----------------------
    page.goto(page.url + "&sede=QUICHE")
    expect(page.locator(".report-scope strong")).to_have_text(f"Año {year}")
    expect(page.locator("#report-scope")).to_have_text(HUEHUE_SEDE)
    expect(total(page, "Unidades familiares")).to_have_text("2")
    expect(total(page, "Personas")).to_have_text("5")
    expect(total(page, "Llegadas")).to_have_text("1")
    expect(total(page, "Buses")).to_have_text("0")

    expect(page.get_by_role("img", name=MAP, exact=True)).to_be_visible()
    titles = department_titles(page)
    assert "Huehuetenango: 2 familias" in titles, titles
    for line in ("Quiché: 0 familias", "San Marcos: 0 familias"):
        assert line in titles, titles
    chart = page.get_by_role("img", name=DEPARTMENT_CHART, exact=True)
    expect(chart.locator("g.bar > title")).to_have_text(["Huehuetenango: 2"])
    assert table_cells(department_table(page)) == [
        DEPARTMENT_ROWS[0],
        ["13", "Huehuetenango", "2", "5"],
        ["", "Total", "2", "5"],
    ]
    for other in ("Quiché", "San Marcos"):
        expect(department_table(page).get_by_text(other)).to_have_count(0)

    # --- The downloads carry its own sede, not the one typed in the address --------------------------
    for link in page.get_by_role("navigation", name="Descargas").get_by_role("link").all():
        href = link.get_attribute("href") or ""
        assert "sede=HUEHUETENANGO" in href and "QUICHE" not in href, href
    name, body = download(page, "Descargar CSV (zip)")
    assert name == f"informe-{year}-01-01_{year}-12-31-sede-HUEHUETENANGO.zip"
    summary = {row[0]: row[2] for row in zip_csv(body, "summary")[1:]}
    assert summary["scope"] == HUEHUE_SEDE, summary
    assert summary["families"] == "2" and summary["persons"] == "5", summary
    assert plain_rows(zip_csv(body, "by_department")) == [
        DEPARTMENT_ROWS[0],
        ["13", "Huehuetenango", "2", "5"],
        ["", "Total", "2", "5"],
    ]
