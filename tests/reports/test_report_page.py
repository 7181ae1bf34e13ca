"""The report page and its downloads, as each kind of user gets them.

Two families in October 2026 (Guatemala time): one received at FAG going to Cuilco (Huehuetenango), one at
Tecún Umán going to Nebaj (Quiché). The page's figures are compared with :func:`build_report`'s for the
same user and filters; the filters' refusals are read beside their fields, with what was typed kept.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import zipfile
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import openpyxl
import pytest

from sosep_migrantes.catalogs.models import Sede
from sosep_migrantes.catalogs.services import by_code
from sosep_migrantes.core import timeutil
from sosep_migrantes.core.timeutil import LOCAL_TZ
from sosep_migrantes.extensions import db
from sosep_migrantes.reports.charts import format_value
from sosep_migrantes.reports.queries import ReportFilters
from sosep_migrantes.reports.schemas import Period, PeriodKind, quarter_bounds
from sosep_migrantes.reports.tables import build_report
from tests.factories import login, make_arrival, make_family, make_user, member
from tests.referrals.partners import make_partner

OCTOBER = "/reports/?period=month&year=2026&month=10"
OCTOBER_FILTERS = ReportFilters(start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31))
NEBAJ = 1413
#: What a report's query string may carry: the period and filter codes, nothing about a person.
QUERY_KEYS = {
    "period",
    "year",
    "month",
    "quarter",
    "from",
    "to",
    "centre",
    "mode",
    "country",
    "department",
    "sede",
}


class Page(HTMLParser):
    """What a reader sees on the report page: the totals, each table's cells, fields, errors and links."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.totals: dict[str, str] = {}
        #: Section key (``by_centre``) -> rows of cell texts (header, body rows, total row).
        self.tables: dict[str, list[list[str]]] = {}
        self.errors: dict[str, str] = {}
        self.inputs: dict[str, str] = {}
        self.selected: dict[str, str] = {}
        self.links: list[str] = []
        self.svgs = 0
        self._section: str | None = None
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._total: str | None = None
        self._error: str | None = None
        self._select: str | None = None
        self._option: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "section" and a.get("id", "").startswith("t-"):
            self._section = a["id"][2:]
            self.tables[self._section] = []
        elif tag == "tr" and self._section:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "dd" and a.get("id", "").startswith("total-"):
            self._total = a["id"][6:]
            self.totals[self._total] = ""
        elif tag == "p" and a.get("id", "").startswith("e-"):
            self._error = a["id"][2:]
            self.errors[self._error] = ""
        elif tag == "input" and a.get("type") != "radio" and "name" in a:
            self.inputs[a["name"]] = a.get("value", "")
        elif tag == "input" and a.get("type") == "radio" and "checked" in a:
            self.selected[a["name"]] = a.get("value", "")
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select and "selected" in a:
            self.selected[self._select] = a.get("value", "")
        elif tag == "a" and "href" in a:
            self.links.append(a["href"])
        elif tag == "svg":
            self.svgs += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._section:
            self.tables[self._section].append(self._row)
            self._row = None
        elif tag == "section":
            self._section = None
        elif tag == "dd":
            self._total = None
        elif tag == "p":
            self._error = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._total:
            self.totals[self._total] += data.strip()
        if self._error:
            self.errors[self._error] += data.strip()


def page(client, url: str, status: int = 200) -> tuple[Page, str]:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    html = response.get_data(as_text=True)
    return Page(html), html


def expected_rows(table) -> list[list[str]]:
    """A table's rows as the page writes them (numbers with thousands separators)."""

    def cell(value, numeric: bool) -> str:
        if numeric and isinstance(value, int | float) and not isinstance(value, bool):
            return format_value(value)
        return "" if value is None else str(value)

    rows = [[column.label for column in table.columns]]
    rows += [[cell(row.get(c.key), c.numeric) for c in table.columns] for row in table.rows]
    if table.total is not None:
        rows.append([cell(table.total.get(c.key), c.numeric) for c in table.columns])
    return rows


@pytest.fixture
def world(app):
    with app.app_context():
        fag = make_user("reception", centre="FAG")
        tecun = make_user("reception", centre="TECUN_UMAN")
        make_family(
            fag,
            make_arrival(fag, when=dt.datetime(2026, 10, 12, 9, 0, tzinfo=LOCAL_TZ)),
            members=[
                member("Rosa", "Pérez Gómez", age=34),
                member("Tomás", "Pérez Gómez", sex="M", relationship="SON", age=5),
                member("Luz", "Pérez Gómez", relationship="DAUGHTER", age=0),
            ],
        )
        make_family(
            tecun,
            make_arrival(
                tecun,
                centre="TECUN_UMAN",
                mode="land",
                country="MX",
                when=dt.datetime(2026, 10, 20, 15, 0, tzinfo=LOCAL_TZ),
            ),
            municipality=NEBAJ,
            members=[member("Pedro", "Ixcoy Brito", sex="M", age=40)],
        )
        users = {
            "fag": fag,
            "tecun": tecun,
            "coordinator": make_user("coordinator"),
            "huehue": make_user("sede", sede="HUEHUETENANGO"),
            "quiche": make_user("sede", sede="QUICHE"),
            "admin": make_user("admin"),
            "partner": make_partner("OIM"),
        }
        ids = {name: user.id for name, user in users.items()}
        db.session.remove()
    return {"users": users, "ids": ids}


def signed_in(app, world, name: str):
    client = app.test_client()
    login(client, world["users"][name])
    return client


def report_for(app, world, name: str, filters: ReportFilters = OCTOBER_FILTERS):
    from sosep_migrantes.auth.models import User

    with app.test_request_context():
        user = db.session.get(User, world["ids"][name])
        report = build_report(user, filters)
        db.session.remove()
    return report


def assert_page_matches(parsed: Page, report) -> None:
    """Every figure the page shows is build_report's: the totals and each table's rows and total."""
    assert parsed.totals == {k: format_value(v) for k, v in report.totals.items()}
    for table in report.tables:
        shown = parsed.tables[table.key]
        if table.rows:
            assert shown == expected_rows(table), table.key
        else:
            assert shown == [], table.key


# -- each kind of user ------------------------------------------------------------------------------


def test_coordinator_national_report_shows_build_reports_figures(app, world):
    parsed, html = page(signed_in(app, world, "coordinator"), OCTOBER)
    report = report_for(app, world, "coordinator")
    assert report.totals == {
        "families": 2,
        "persons": 4,
        "arrivals": 2,
        "flights": 1,
        "buses": 1,
        "remigrations": 0,
    }
    assert_page_matches(parsed, report)
    assert 'id="report-scope">Nacional<' in html
    assert "octubre de 2026" in html and "01/10/2026 – 31/10/2026" in html
    # The map, and a chart beside every table that names a chart column.
    assert 'class="choropleth"' in html
    charted = [t for t in report.tables if t.chart_value and t.rows]
    assert html.count('class="bar-chart"') == len(charted) > 0


def test_coordinator_chooses_a_sede(app, world):
    client = signed_in(app, world, "coordinator")
    parsed, html = page(client, OCTOBER + "&sede=HUEHUETENANGO")
    assert 'id="report-scope">Sede Departamental de Huehuetenango<' in html
    assert parsed.totals["families"] == "1" and parsed.totals["persons"] == "3"
    with app.app_context():
        sede_id = by_code(Sede, "HUEHUETENANGO").id
    filters = ReportFilters(OCTOBER_FILTERS.start, OCTOBER_FILTERS.end, sede_id=sede_id)
    assert_page_matches(parsed, report_for(app, world, "coordinator", filters))
    assert parsed.selected["sede"] == "HUEHUETENANGO"


def test_a_sede_gets_its_own_territory_whatever_the_query_string_says(app, world):
    client = signed_in(app, world, "huehue")
    parsed, html = page(client, OCTOBER + "&sede=QUICHE")
    assert 'id="report-scope">Sede Departamental de Huehuetenango<' in html
    assert "Quiché" not in html.split('id="report-scope"')[1].split("<")[0]
    assert parsed.totals["families"] == "1" and parsed.totals["persons"] == "3"
    assert_page_matches(parsed, report_for(app, world, "huehue"))
    # No sede to choose, and the downloads carry its own sede.
    assert "sede" not in parsed.selected
    download = next(link for link in parsed.links if "/reports/export.xlsx" in link)
    assert parse_qs(urlsplit(download).query)["sede"] == ["HUEHUETENANGO"]


def test_reception_gets_its_centre(app, world):
    client = signed_in(app, world, "tecun")
    parsed, html = page(client, OCTOBER + "&centre=FAG&sede=HUEHUETENANGO")
    assert 'id="report-scope">Centro TECUN_UMAN<' in html
    assert parsed.totals == {
        "families": "1",
        "persons": "1",
        "arrivals": "1",
        "flights": "0",
        "buses": "1",
        "remigrations": "0",
    }
    assert_page_matches(parsed, report_for(app, world, "tecun"))
    assert "centre" not in parsed.selected and "sede" not in parsed.selected


@pytest.mark.parametrize("who", ["admin", "partner"])
@pytest.mark.parametrize(
    "path", ["/reports/", "/reports/export.pdf", "/reports/export.xlsx", "/reports/export.zip"]
)
def test_admin_and_partners_get_no_report(app, world, who, path):
    response = signed_in(app, world, who).get(path)
    assert response.status_code == 403


def test_the_menu_leads_to_the_reports_of_those_who_may_read_them(app, world):
    for who, shown in (("coordinator", True), ("huehue", True), ("fag", True), ("admin", False)):
        html = signed_in(app, world, who).get("/cases/" if who != "admin" else "/admin/users").get_data(True)
        assert ('href="/reports/"' in html) is shown, who


def test_filters_narrow_the_report_and_are_said_in_words(app, world):
    client = signed_in(app, world, "coordinator")
    parsed, html = page(client, OCTOBER + "&mode=land&country=MX&department=14")
    assert parsed.totals["families"] == "1" and parsed.totals["buses"] == "1"
    scope = html.split('id="report-scope">')[1].split("<")[0]
    assert scope == "Nacional · Vía: Terrestre · País de retorno: México · Departamento: Quiché"
    assert parsed.selected["mode"] == "land" and parsed.selected["department"] == "14"


def test_a_department_leads_to_its_municipalities(app, world):
    parsed, _html = page(signed_in(app, world, "coordinator"), OCTOBER)
    drill = [link for link in parsed.links if "department=13" in link]
    assert len(drill) == 1
    assert parse_qs(urlsplit(drill[0]).query) == {
        "period": ["month"],
        "year": ["2026"],
        "month": ["10"],
        "department": ["13"],
    }
    parsed, _html = page(signed_in(app, world, "coordinator"), drill[0])
    assert [row[1] for row in parsed.tables["by_municipality"][1:-1]] == ["Cuilco"]


def test_links_carry_only_the_period_and_codes(app, world):
    parsed, _html = page(signed_in(app, world, "coordinator"), OCTOBER + "&centre=FAG")
    report_links = [link for link in parsed.links if link.startswith("/reports/")]
    assert len(report_links) >= 4
    for link in report_links:
        assert set(parse_qs(urlsplit(link).query)) <= QUERY_KEYS, link


# -- the period -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "values", "start", "end"),
    [
        (PeriodKind.QUARTER, {"year": 2026, "quarter": 4}, dt.date(2026, 10, 1), dt.date(2026, 12, 31)),
        (PeriodKind.QUARTER, {"year": 2026, "quarter": 1}, dt.date(2026, 1, 1), dt.date(2026, 3, 31)),
        (PeriodKind.QUARTER, {"year": 2026, "quarter": 2}, dt.date(2026, 4, 1), dt.date(2026, 6, 30)),
        (PeriodKind.YEAR, {"year": 2026}, dt.date(2026, 1, 1), dt.date(2026, 12, 31)),
        (PeriodKind.MONTH, {"year": 2028, "month": 2}, dt.date(2028, 2, 1), dt.date(2028, 2, 29)),
        (PeriodKind.MONTH, {"year": 2026, "month": 2}, dt.date(2026, 2, 1), dt.date(2026, 2, 28)),
        (PeriodKind.MONTH, {"year": 2026, "month": 12}, dt.date(2026, 12, 1), dt.date(2026, 12, 31)),
    ],
)
def test_period_bounds(kind, values, start, end):
    period = Period.of(kind, **values)
    assert (period.start, period.end) == (start, end)


def test_quarter_bounds_cover_the_year_without_gaps():
    days = [quarter_bounds(2027, q) for q in range(1, 5)]
    assert days[0][0] == dt.date(2027, 1, 1) and days[-1][1] == dt.date(2027, 12, 31)
    for (_s, end), (start, _e) in itertools.pairwise(days):
        assert start - end == dt.timedelta(days=1)


def test_quarter_and_year_on_the_page(app, world):
    client = signed_in(app, world, "coordinator")
    parsed, html = page(client, "/reports/?period=quarter&year=2026&quarter=4")
    assert "4.º trimestre de 2026" in html and "01/10/2026 – 31/12/2026" in html
    assert parsed.totals["families"] == "2"
    filters = ReportFilters(dt.date(2026, 10, 1), dt.date(2026, 12, 31))
    assert_page_matches(parsed, report_for(app, world, "coordinator", filters))
    # The month of the quarter's breakdown by month: three rows, October to December.
    assert [row[1] for row in parsed.tables["by_month"][1:-1]] == [
        "octubre 2026",
        "noviembre 2026",
        "diciembre 2026",
    ]
    parsed, html = page(client, "/reports/?period=year&year=2026&month=3&quarter=9")
    assert "Año 2026" in html and "01/01/2026 – 31/12/2026" in html and not parsed.errors
    parsed, html = page(client, "/reports/?period=custom&from=2026-10-15&to=2026-10-31")
    assert "del 15/10/2026 al 31/10/2026" in html
    assert parsed.totals["families"] == "1"


def test_by_default_the_current_month_in_guatemala_time(app, world, monkeypatch):
    # 03:00 UTC on 1 November is still 31 October, 21:00, in Guatemala.
    monkeypatch.setattr(
        timeutil, "now_local", lambda: dt.datetime(2026, 11, 1, 3, 0, tzinfo=dt.UTC).astimezone(LOCAL_TZ)
    )
    parsed, html = page(signed_in(app, world, "coordinator"), "/reports/")
    assert "octubre de 2026" in html and "01/10/2026 – 31/10/2026" in html
    assert parsed.totals["families"] == "2"
    assert parsed.selected["period"] == "month" and parsed.selected["month"] == "10"
    assert parsed.inputs["year"] == "2026"


# -- the filters refused ----------------------------------------------------------------------------


def test_refused_values_are_said_beside_their_fields_and_kept(app, world):
    client = signed_in(app, world, "coordinator")
    parsed, html = page(client, "/reports/?period=month&year=20x6&month=13&centre=NOPE&mode=sea", 400)
    assert parsed.errors == {
        "year": "Escriba un año de cuatro cifras, por ejemplo 2026.",
        "month": "Elija un mes de la lista.",
        "centre": "Elija una opción de la lista.",
        "mode": "Elija una opción de la lista.",
    }
    assert parsed.inputs["year"] == "20x6"
    assert parsed.selected["period"] == "month"
    assert "Revise los filtros marcados" in html
    assert not parsed.totals and not parsed.tables
    assert 'aria-describedby="e-year"' in html


def test_a_custom_period_needs_both_days_in_order(app, world):
    client = signed_in(app, world, "coordinator")
    parsed, _html = page(client, "/reports/?period=custom&from=2026-10-31&to=2026-10-01", 400)
    assert parsed.errors == {"to": "El último día no puede ser anterior al primero."}
    assert (parsed.inputs["from"], parsed.inputs["to"]) == ("2026-10-31", "2026-10-01")
    assert parsed.selected["period"] == "custom"
    parsed, _html = page(client, "/reports/?period=custom&from=31/02/2026", 400)
    assert parsed.errors == {"from": "Fecha no válida: escríbala como dd/mm/aaaa."}
    assert parsed.inputs["from"] == "31/02/2026"
    parsed, _html = page(client, "/reports/?period=custom&from=2026-10-01", 400)
    assert parsed.errors == {"to": "Escriba el último día del período."}
    parsed, _html = page(client, "/reports/?period=custom&from=2010-01-01&to=2026-10-01", 400)
    assert parsed.errors == {"to": "El período puede abarcar como máximo 10 años."}


def test_out_of_range_values(app, world):
    client = signed_in(app, world, "coordinator")
    parsed, _html = page(client, "/reports/?period=quarter&year=1999&quarter=5&department=23", 400)
    assert parsed.errors == {
        "year": "Escriba un año entre 2000 y 2100.",
        "quarter": "Elija un trimestre de la lista.",
        "department": "Elija una opción de la lista.",
    }
    parsed, _html = page(client, "/reports/?period=weekly&sede=ATLANTIS", 400)
    assert parsed.errors == {
        "period": "Elija una opción de la lista.",
        "sede": "Elija una opción de la lista.",
    }
    assert parsed.inputs["year"]  # today's year is still offered


def test_a_refused_download_is_the_page_with_its_messages(app, world):
    response = signed_in(app, world, "coordinator").get("/reports/export.xlsx?period=month&month=13")
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert Page(response.get_data(as_text=True)).errors == {"month": "Elija un mes de la lista."}


# -- the downloads ----------------------------------------------------------------------------------


def download(client, url: str):
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.headers["Cache-Control"] == "no-store"
    return response


def test_downloads_carry_the_pages_figures_and_a_name_with_the_period(app, world):
    client = signed_in(app, world, "coordinator")
    parsed, _html = page(client, OCTOBER + "&sede=HUEHUETENANGO")
    links = {urlsplit(link).path: link for link in parsed.links if "/reports/export." in link}
    assert set(links) == {"/reports/export.pdf", "/reports/export.xlsx", "/reports/export.zip"}
    name = "informe-2026-10-01_2026-10-31-sede-HUEHUETENANGO"

    xlsx = download(client, links["/reports/export.xlsx"])
    assert xlsx.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert xlsx.headers["Content-Disposition"] == f'attachment; filename="{name}.xlsx"'
    workbook = openpyxl.load_workbook(io.BytesIO(xlsx.data), read_only=True)
    cells = [value for row in workbook.worksheets[0].iter_rows(values_only=True) for value in row]
    assert 1 in cells and 3 in cells  # one family, three persons

    archive = download(client, links["/reports/export.zip"])
    assert archive.mimetype == "application/zip"
    assert archive.headers["Content-Disposition"] == f'attachment; filename="{name}.zip"'
    with zipfile.ZipFile(io.BytesIO(archive.data)) as files:
        assert any(n.endswith("by_centre.csv") for n in files.namelist())
        centres = next(n for n in files.namelist() if n.endswith("by_centre.csv"))
        assert "FAG" in files.read(centres).decode("utf-8-sig")

    pdf = download(client, links["/reports/export.pdf"])
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert pdf.headers["Content-Disposition"] == f'attachment; filename="{name}.pdf"'


def test_a_centres_file_is_named_by_its_period_and_centre(app, world):
    response = download(signed_in(app, world, "fag"), "/reports/export.zip?period=year&year=2026")
    name = "informe-2026-01-01_2026-12-31-centro-FAG.zip"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{name}"'


@pytest.mark.parametrize(
    ("role", "extra"), [("sede", {"sede": "NOPE"}), ("reception", {"centre": "14", "sede": "14"})]
)
def test_filters_a_role_does_not_have_are_ignored_not_refused(app, ctx, role, extra):
    user = make_user(role, sede="HUEHUETENANGO" if role == "sede" else None)
    client = app.test_client()
    login(client, user)
    response = client.get("/reports/", query_string={"period": "year", "year": "2026", **extra})
    assert response.status_code == 200
