"""``flask report --from ... --to ... --format csv|xlsx|pdf --output PATH [--sede CODE]``: scheduled reports.

The command writes the same files as the page's downloads (:mod:`.exports`), for the whole country or one
sede, so a coordinator can schedule the monthly report. It reads the cases as a coordinator would: through
the same scope function as every page (``cases.queries.scoped_families``), with a coordinator that exists
only for the run (never saved, it cannot log in).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
from flask.cli import with_appcontext
from flask_babel import gettext as _
from sqlalchemy import select

from ..auth.models import User
from ..catalogs.models import Sede
from ..core.permissions import Role
from ..extensions import db
from . import exports
from .queries import ReportFilters
from .tables import Report, build_report

FORMATS = ("csv", "xlsx", "pdf")


def scheduled_reader() -> User:
    """A coordinator for the command's run: transient (never added to the session), so no account exists."""
    return User(username="informe-programado", full_name="Informe programado", role=Role.COORDINATOR)


def _date(option: str, value: str | None) -> dt.date:
    if not value:
        raise click.UsageError(f"Falta {option} AAAA-MM-DD.")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.UsageError(
            f"{option}: «{value}» no es una fecha válida; use el formato AAAA-MM-DD (p. ej. 2026-11-30)."
        ) from None


def sede_scope(code: str | None) -> tuple[int | None, str]:
    """The sede's id and the scope's words (as the page says them); the country without a code."""
    if not code:
        return None, _("Nacional")
    sede = db.session.scalar(select(Sede).where(Sede.code == code.strip().upper()))
    if sede is None:
        known = ", ".join(db.session.scalars(select(Sede.code).order_by(Sede.code)))
        raise click.UsageError(f"--sede: no existe la sede «{code}». Sedes: {known}.")
    return sede.id, sede.name


def write_report(report: Report, fmt: str, output: Path) -> list[Path]:
    """Write the report's file(s) at ``output``; the paths written."""
    if fmt == "csv" and output.suffix.lower() != ".zip":
        output.mkdir(parents=True, exist_ok=True)
        written = []
        for name, content in exports.csv_files(report):
            path = output / name
            path.write_bytes(content)
            written.append(path)
        return written
    content = {"csv": exports.to_csv_zip, "xlsx": exports.to_xlsx, "pdf": exports.to_pdf}[fmt](report)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(content)
    return [output]


@click.command("report")
@click.option("--from", "start", metavar="AAAA-MM-DD", help="Primer día del período (hora de Guatemala).")
@click.option("--to", "end", metavar="AAAA-MM-DD", help="Último día del período, incluido.")
@click.option("--format", "fmt", metavar="csv|xlsx|pdf", help="csv (una carpeta o un .zip), xlsx o pdf.")
@click.option(
    "--output",
    metavar="RUTA",
    help="Archivo que se escribe; en csv, una carpeta (se crea) o un archivo .zip.",
)
@click.option("--sede", metavar="CÓDIGO", help="Código de la sede (p. ej. HUEHUETENANGO); sin él, nacional.")
@with_appcontext
def report_command(
    start: str | None, end: str | None, fmt: str | None, output: str | None, sede: str | None
) -> None:
    """Escribe el informe de un período (nacional o de una sede) en CSV, XLSX o PDF, como la página."""
    first, last = _date("--from", start), _date("--to", end)
    if last < first:
        raise click.UsageError("--to no puede ser anterior a --from.")
    if fmt is None or fmt.lower() not in FORMATS:
        raise click.UsageError(f"--format: use {', '.join(FORMATS)}.")
    if not output:
        raise click.UsageError("Falta --output RUTA.")
    sede_id, scope_label = sede_scope(sede)
    filters = ReportFilters(start=first, end=last, sede_id=sede_id)
    report = build_report(scheduled_reader(), filters, scope_label)
    try:
        written = write_report(report, fmt.lower(), Path(output))
    except OSError as exc:
        raise click.ClickException(f"No se pudo escribir en {output}: {exc.strerror or exc}") from exc
    size = sum(path.stat().st_size for path in written)
    what = f"{len(written)} archivos en {output}" if len(written) > 1 else str(written[0])
    click.echo(
        f"Informe {exports.period_label(report)} ({scope_label}): {what}, {size / 1024:.0f} KB. "
        f"{report.totals['families']} unidades familiares, {report.totals['persons']} personas."
    )
