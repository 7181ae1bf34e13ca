"""``flask report``: the same files as the page's downloads, national or one sede's; Spanish errors."""

from __future__ import annotations

import csv
import io
import re
import zipfile

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from sosep_migrantes.auth.models import User
from sosep_migrantes.catalogs.models import Sede
from sosep_migrantes.extensions import db
from sosep_migrantes.reports import exports
from sosep_migrantes.reports.queries import ReportFilters
from sosep_migrantes.reports.tables import Report, build_report
from tests.factories import make_user
from tests.reports.test_exports import NOVEMBER, make_november, pdf_text

PERIOD = ["--from", "2026-11-01", "--to", "2026-11-30"]
#: The moment a file was made: the one thing two runs may not share.
GENERATED = re.compile(r"\d\d/\d\d/\d{4} \d\d:\d\d|\d{4}-\d\d-\d\d \d\d:\d\d")


@pytest.fixture
def november(ctx):
    make_november()
    return make_user("coordinator")


def run(app, *args: str):
    return app.test_cli_runner().invoke(args=["report", *args])


def page_report(coordinator, sede: str | None = None) -> Report:
    """The report the page gives a coordinator for November, national or for one sede."""
    if sede is None:
        return build_report(coordinator, NOVEMBER, "Nacional")
    chosen = db.session.scalar(select(Sede).where(Sede.code == sede))
    filters = ReportFilters(NOVEMBER.start, NOVEMBER.end, sede_id=chosen.id)
    return build_report(coordinator, filters, chosen.name)


def without_generation_time(content: bytes) -> str:
    return GENERATED.sub("<generado>", content.decode("utf-8-sig"))


def test_csv_into_a_folder_writes_the_pages_files(app, november, tmp_path):
    out = tmp_path / "informe-noviembre"
    result = run(app, *PERIOD, "--format", "csv", "--output", str(out))
    assert result.exit_code == 0, result.output
    expected = exports.csv_files(page_report(november))
    assert sorted(p.name for p in out.iterdir()) == [name for name, _content in expected]
    for name, content in expected:
        written = (out / name).read_bytes()
        if name == "00-summary.csv":
            assert without_generation_time(written) == without_generation_time(content)
        else:
            assert written == content, name
    assert "2 unidades familiares, 4 personas" in result.output


def test_csv_into_a_zip(app, november, tmp_path):
    out = tmp_path / "mensual" / "informe.zip"
    result = run(app, *PERIOD, "--format", "csv", "--output", str(out))
    assert result.exit_code == 0, result.output
    with (
        zipfile.ZipFile(out) as written,
        zipfile.ZipFile(io.BytesIO(exports.to_csv_zip(page_report(november)))) as page,
    ):
        assert written.namelist() == page.namelist()
        for name in page.namelist():
            assert without_generation_time(written.read(name)) == without_generation_time(page.read(name))
    lines = list(csv.reader(io.StringIO(zipfile.ZipFile(out).read("03-by_centre.csv").decode("utf-8-sig"))))
    assert lines[-1] == ["", "Total", "2", "4"]


def sheets(content: bytes) -> list[tuple[str, list[tuple]]]:
    book = load_workbook(io.BytesIO(content))
    return [
        (
            sheet.title,
            [
                tuple(GENERATED.sub("<generado>", v) if isinstance(v, str) else v for v in row)
                for row in sheet.iter_rows(values_only=True)
            ],
        )
        for sheet in book.worksheets
    ]


def test_xlsx_is_the_pages_workbook(app, november, tmp_path):
    out = tmp_path / "informe.xlsx"
    result = run(app, *PERIOD, "--format", "xlsx", "--output", str(out))
    assert result.exit_code == 0, result.output
    assert sheets(out.read_bytes()) == sheets(exports.to_xlsx(page_report(november)))


def test_pdf_is_the_pages_pdf(app, november, tmp_path):
    out = tmp_path / "informe.pdf"
    result = run(app, *PERIOD, "--format", "pdf", "--output", str(out))
    assert result.exit_code == 0, result.output
    written_pages, written = pdf_text(out.read_bytes())
    page_pages, page = pdf_text(exports.to_pdf(page_report(november)))
    assert written_pages == page_pages
    assert GENERATED.sub("", written) == GENERATED.sub("", page)
    assert "Nacional" in written


def test_one_sedes_report(app, november, tmp_path):
    out = tmp_path / "huehue.xlsx"
    result = run(app, *PERIOD, "--format", "xlsx", "--output", str(out), "--sede", "huehuetenango")
    assert result.exit_code == 0, result.output
    expected = page_report(november, "HUEHUETENANGO")
    assert expected.totals["families"] == 1  # Cuilco's family; Nebaj's is Quiché's
    assert sheets(out.read_bytes()) == sheets(exports.to_xlsx(expected))
    assert "Sede Departamental de Huehuetenango" in result.output


def test_the_command_leaves_no_account_behind(app, november, tmp_path):
    users = db.session.scalar(select(func.count()).select_from(User))
    result = run(app, *PERIOD, "--format", "csv", "--output", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(User)) == users


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-13-01", "--to", "2026-11-30"], "--from: «2026-13-01» no es una fecha válida"),
        (["--from", "2026-11-01", "--to", "30/11/2026"], "use el formato AAAA-MM-DD"),
        (["--to", "2026-11-30"], "Falta --from AAAA-MM-DD."),
        (["--from", "2026-11-30", "--to", "2026-11-01"], "--to no puede ser anterior a --from."),
    ],
)
def test_bad_dates_are_refused_in_spanish(app, ctx, tmp_path, args, message):
    result = run(app, *args, "--format", "pdf", "--output", str(tmp_path / "x.pdf"))
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "x.pdf").exists()


def test_an_unknown_sede_or_format_is_refused(app, ctx, tmp_path):
    result = run(app, *PERIOD, "--format", "pdf", "--output", str(tmp_path / "x.pdf"), "--sede", "ATLANTIS")
    assert result.exit_code == 2
    assert "--sede: no existe la sede «ATLANTIS»" in result.output and "HUEHUETENANGO" in result.output
    result = run(app, *PERIOD, "--format", "docx", "--output", str(tmp_path / "x.docx"))
    assert result.exit_code == 2 and "--format: use csv, xlsx, pdf." in result.output
    result = run(app, *PERIOD, "--format", "pdf")
    assert result.exit_code == 2 and "Falta --output RUTA." in result.output
    assert list(tmp_path.iterdir()) == []
