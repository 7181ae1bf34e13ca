"""The report as files: CSV per breakdown (in a zip), an XLSX workbook, a PDF laid out like an annual report.

Every file is written from the one :class:`~.tables.Report` the page shows, so the figures cannot differ
from the page's. Text cells are neutralised against formula injection (a label such as an institution's
name, typed by an admin, could start with ``=``); numbers stay numbers. File names carry the period and
the scope's codes, never a person's data.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import xlsxwriter  # type: ignore[import-untyped]  # ships no py.typed marker
from flask_babel import gettext as _
from flask_babel import ngettext

from ..catalogs.models import Centre, Country, Sede
from ..core.pdf import render_pdf
from ..core.timeutil import now_local
from ..extensions import db
from . import charts, geo
from .tables import Column, Report, Table

#: A spreadsheet reads a cell starting with one of these as a formula (or, for tab and CR, may shift it
#: into one): OWASP's list for CSV injection.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

#: Row keys that carry a code the table's columns do not show, with the header the files give them.
EXTRA_CODE_COLUMNS: dict[str, Callable[[], str]] = {
    "department_code": lambda: _("Código INE del departamento"),
}

#: Bars a chart draws at most (a table of 300 municipalities is read as a table, not as a chart).
CHART_MAX_BARS = 15


# -- cells -----------------------------------------------------------------------------------------------


def safe_text(value: str) -> str:
    """``value`` with a leading apostrophe if a spreadsheet would read it as a formula."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def cell_value(value: Any) -> int | float | str:
    """A number stays a number (so a spreadsheet can sum it); anything else is neutralised text."""
    if isinstance(value, bool):
        return safe_text(str(value))
    if isinstance(value, int | float):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if value is None:
        return ""
    return safe_text(str(value))


def export_columns(table: Table) -> list[Column]:
    """The columns a file carries: the table's, with the codes its rows hold and the page may not show.

    A table without a code column whose rows have codes (the follow-up indicators) gets one first; the
    municipalities get their department's INE code after the department's name.
    """
    columns = list(table.columns)
    keys = {c.key for c in columns}
    if "code" not in keys and any(row.get("code") not in (None, "") for row in table.rows):
        columns.insert(0, Column("code", _("Código"), numeric=False))
    for key, label in EXTRA_CODE_COLUMNS.items():
        if key not in keys and any(key in row for row in table.rows):
            after = next((i + 1 for i, c in enumerate(columns) if key.startswith(c.key)), len(columns))
            columns.insert(after, Column(key, label(), numeric=False))
    return columns


def header_label(column: Column) -> str:
    """A column's header: its label, and its code where the code is what people file by (sex: F, M)."""
    if column.key.isupper():
        return f"{column.label} ({column.key})"
    return column.label


def table_rows(table: Table, columns: Sequence[Column]) -> Iterator[list[int | float | str]]:
    """The header, the rows and the total row (if any), as cell values."""
    yield [safe_text(header_label(c)) for c in columns]
    for row in table.rows:
        yield [cell_value(row.get(c.key)) for c in columns]
    if table.total is not None:
        yield [cell_value(table.total.get(c.key)) for c in columns]


# -- the summary -----------------------------------------------------------------------------------------


def period_label(report: Report) -> str:
    start, end = report.filters.start, report.filters.end
    label: str = _("Del %(start)s al %(end)s", start=start.strftime("%d/%m/%Y"), end=end.strftime("%d/%m/%Y"))
    return label


def scope_text(report: Report) -> str:
    return report.scope_label or str(_("Nacional"))


def totals_rows(report: Report) -> list[dict[str, Any]]:
    labels = {
        "families": _("Unidades familiares"),
        "persons": _("Personas"),
        "arrivals": _("Llegadas"),
        "flights": _("Vuelos"),
        "buses": _("Buses"),
        "remigrations": _("Re-migraciones (reingresos vinculados)"),
    }
    return [{"code": k, "label": labels.get(k, k), "value": v} for k, v in report.totals.items()]


def summary_table(report: Report, generated_at: dt.datetime) -> Table:
    """The period, the scope, when the file was made, and the totals: the first of the CSV files."""
    rows: list[dict[str, Any]] = [
        {"code": "start", "label": _("Desde"), "value": report.filters.start.isoformat()},
        {"code": "end", "label": _("Hasta"), "value": report.filters.end.isoformat()},
        {"code": "scope", "label": _("Alcance"), "value": scope_text(report)},
        {
            "code": "generated_at",
            "label": _("Generado (hora de Guatemala)"),
            "value": generated_at.strftime("%Y-%m-%d %H:%M"),
        },
        *totals_rows(report),
    ]
    columns = [
        Column("code", _("Código"), numeric=False),
        Column("label", _("Indicador"), numeric=False),
        Column("value", _("Valor"), numeric=False),
    ]
    return Table("summary", _("Resumen"), columns, rows)


# -- CSV -------------------------------------------------------------------------------------------------


def to_csv(table: Table) -> bytes:
    """One table as CSV: UTF-8 with a BOM (Excel then reads the accents), a header row, CRLF lines."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerows(table_rows(table, export_columns(table)))
    return buffer.getvalue().encode("utf-8-sig")


def csv_files(report: Report, generated_at: dt.datetime | None = None) -> list[tuple[str, bytes]]:
    """``(file name, content)`` of each CSV: the summary first, then one per breakdown, numbered in order."""
    tables = [summary_table(report, generated_at or now_local()), *report.tables]
    return [(f"{i:02d}-{t.key}.csv", to_csv(t)) for i, t in enumerate(tables)]


def to_csv_zip(report: Report) -> bytes:
    """Every CSV of the report in one zip."""
    generated_at = now_local()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in csv_files(report, generated_at):
            info = zipfile.ZipInfo(name, date_time=generated_at.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()


# -- XLSX ------------------------------------------------------------------------------------------------

#: Characters a sheet name may not contain, and the longest name Excel accepts.
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
SHEET_NAME_MAX = 31


def sheet_names(titles: Sequence[str]) -> list[str]:
    """Valid, unique (Excel compares them without case) sheet names of at most 31 characters."""
    names: list[str] = []
    taken: set[str] = set()
    for title in titles:
        base = _SHEET_FORBIDDEN.sub(" ", title).strip().strip("'").strip() or _("Hoja")
        name = base[:SHEET_NAME_MAX].rstrip()
        n = 2
        while name.casefold() in taken:
            suffix = f" ({n})"
            name = base[: SHEET_NAME_MAX - len(suffix)].rstrip() + suffix
            n += 1
        taken.add(name.casefold())
        names.append(name)
    return names


def _width(value: int | float | str) -> int:
    text = f"{value:,}" if isinstance(value, int) else str(value)
    return len(text)


def _column_widths(rows: Sequence[Sequence[int | float | str]]) -> list[float]:
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [min(max(w + 2, 8), 60) for w in widths]


@dataclass
class _Formats:
    title: Any
    subtitle: Any
    header: Any
    header_numeric: Any
    text: Any
    number: Any
    decimal: Any
    total_text: Any
    total_number: Any
    total_decimal: Any
    note: Any


def _formats(workbook: Any) -> _Formats:
    header = {"bold": True, "text_wrap": True, "valign": "bottom", "bottom": 1, "bg_color": "#E7E9EE"}
    total = {"bold": True, "top": 1}
    return _Formats(
        title=workbook.add_format({"bold": True, "font_size": 13}),
        subtitle=workbook.add_format({"italic": True, "font_color": "#444444"}),
        header=workbook.add_format(header),
        header_numeric=workbook.add_format({**header, "align": "right"}),
        text=workbook.add_format({"valign": "top"}),
        number=workbook.add_format({"num_format": "#,##0"}),
        decimal=workbook.add_format({"num_format": "#,##0.0"}),
        total_text=workbook.add_format(total),
        total_number=workbook.add_format({**total, "num_format": "#,##0"}),
        total_decimal=workbook.add_format({**total, "num_format": "#,##0.0"}),
        note=workbook.add_format({"italic": True, "font_color": "#444444"}),
    )


def _write_cell(sheet: Any, row: int, col: int, value: int | float | str, fmt: _Formats, total: bool) -> None:
    if isinstance(value, int):
        sheet.write_number(row, col, value, fmt.total_number if total else fmt.number)
    elif isinstance(value, float):
        sheet.write_number(row, col, value, fmt.total_decimal if total else fmt.decimal)
    elif value == "":
        sheet.write_blank(row, col, None, fmt.total_text if total else fmt.text)
    else:
        sheet.write_string(row, col, value, fmt.total_text if total else fmt.text)


def _write_table(sheet: Any, table: Table, fmt: _Formats, subtitle: str) -> None:
    """Title and period on top, the header, the rows, the total in bold, the note under it."""
    columns = export_columns(table)
    rows = list(table_rows(table, columns))
    for i, width in enumerate(_column_widths(rows)):
        sheet.set_column(i, i, width)
    sheet.write_string(0, 0, safe_text(table.title), fmt.title)
    sheet.write_string(1, 0, safe_text(subtitle), fmt.subtitle)
    header_row = 3
    for col, (column, label) in enumerate(zip(columns, rows[0], strict=True)):
        sheet.write_string(header_row, col, str(label), fmt.header_numeric if column.numeric else fmt.header)
    last = len(rows) - 1
    for offset, values in enumerate(rows[1:], start=1):
        is_total = table.total is not None and offset == last
        for col, value in enumerate(values):
            _write_cell(sheet, header_row + offset, col, value, fmt, is_total)
    if table.note:
        sheet.write_string(header_row + len(rows) + 1, 0, safe_text(table.note), fmt.note)
    sheet.freeze_panes(header_row + 1, 0)


def _write_cover(
    sheet: Any, report: Report, generated_at: dt.datetime, names: Sequence[str], fmt: _Formats
) -> None:
    sheet.set_column(0, 0, 34)
    sheet.set_column(1, 1, 46)
    sheet.write_string(0, 0, _("Informe de familias retornadas recibidas"), fmt.title)
    sheet.write_string(1, 0, "SOSEP", fmt.subtitle)
    details = [
        (_("Período"), period_label(report)),
        (_("Alcance"), scope_text(report)),
        (_("Generado"), generated_at.strftime("%d/%m/%Y %H:%M") + " " + _("(hora de Guatemala)")),
    ]
    row = 3
    for label, value in details:
        sheet.write_string(row, 0, label, fmt.total_text)
        sheet.write_string(row, 1, safe_text(value), fmt.text)
        row += 1
    row += 1
    sheet.write_string(row, 0, _("Totales del período"), fmt.header)
    sheet.write_string(row, 1, "", fmt.header_numeric)
    for item in totals_rows(report):
        row += 1
        sheet.write_string(row, 0, safe_text(item["label"]), fmt.text)
        sheet.write_number(row, 1, item["value"], fmt.number)
    row += 2
    sheet.write_string(row, 0, _("Hojas de este libro"), fmt.header)
    sheet.write_string(row, 1, "", fmt.header)
    for name, table in zip(names, report.tables, strict=True):
        row += 1
        sheet.write_string(row, 0, safe_text(name), fmt.text)
        sheet.write_string(row, 1, safe_text(table.title), fmt.text)


def to_xlsx(report: Report) -> bytes:
    """A workbook: a cover sheet (period, scope, totals, when it was made), then one sheet per breakdown."""
    generated_at = now_local()
    buffer = io.BytesIO()
    # constant_memory writes each row out as it goes (a year's municipalities stay cheap); the cells are
    # written with write_string/write_number, so no text is ever taken for a formula or a link.
    workbook = xlsxwriter.Workbook(
        buffer,
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    workbook.set_properties({"title": _("Informe de familias retornadas recibidas"), "company": "SOSEP"})
    fmt = _formats(workbook)
    names = sheet_names([_("Resumen")] + [t.title for t in report.tables])
    _write_cover(workbook.add_worksheet(names[0]), report, generated_at, names[1:], fmt)
    subtitle = f"{period_label(report)} · {scope_text(report)}"
    for name, table in zip(names[1:], report.tables, strict=True):
        _write_table(workbook.add_worksheet(name), table, fmt, subtitle)
    workbook.close()
    return buffer.getvalue()


# -- PDF -------------------------------------------------------------------------------------------------


def pdf_chart(table: Table) -> charts.BarChart | None:
    """The page's chart of a table; past ``CHART_MAX_BARS`` rows, only the largest (to fit on a page)."""
    chart = charts.table_chart(table)
    if chart is None or len(chart.bars) <= CHART_MAX_BARS:
        return chart
    largest = sorted(chart.bars, key=lambda bar: -bar.value)[:CHART_MAX_BARS]
    return charts.bar_chart(chart.key, chart.title, [(bar.label, bar.value) for bar in largest])


def report_map(report: Report) -> geo.Choropleth:
    return geo.choropleth(
        report.families_by_department,
        title=_("Familias recibidas por departamento de destino"),
        count_label=lambda n: ngettext("%(num)d familia", "%(num)d familias", n),
        legend_title=_("Familias"),
    )


def to_pdf(report: Report) -> bytes:
    """The report as an annual report's pages: cover, totals, the map, then each table with its chart."""
    generated_at = now_local()
    return render_pdf(
        "reports/report.pdf.html",
        report=report,
        period=period_label(report),
        scope=scope_text(report),
        generated_at=generated_at.strftime("%d/%m/%Y %H:%M"),
        totals=totals_rows(report),
        choropleth=report_map(report),
        # The page's partials draw each table and its chart; in the PDF a long table's chart is cut.
        table_chart=pdf_chart,
        chart_max_bars=CHART_MAX_BARS,
    )


# -- file names ------------------------------------------------------------------------------------------

_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")


def _code_of(model: Any, id_: int | None) -> str | None:
    if id_ is None:
        return None
    item = db.session.get(model, id_)
    return str(item.code) if item is not None else str(id_)


def filename(report: Report, ext: str) -> str:
    """``informe-2026-11-01_2026-11-30-sede-HUEHUETENANGO.xlsx``: the period and the filters' codes only."""
    f = report.filters
    parts = [f"informe-{f.start.isoformat()}_{f.end.isoformat()}"]
    scope = [
        ("sede", _code_of(Sede, f.sede_id)),
        ("centro", _code_of(Centre, f.centre_id)),
        ("via", f.mode),
        ("pais", _code_of(Country, f.country_id)),
        ("depto", f"{f.department_id:02d}" if f.department_id else None),
    ]
    for word, code in scope:
        if code:
            parts.append(f"{word}-{_UNSAFE.sub('', code)}")
    return "-".join(parts) + "." + ext.lstrip(".")
