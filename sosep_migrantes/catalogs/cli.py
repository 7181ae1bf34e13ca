"""``flask catalogs load [--institutions FILE]``."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from ..core.transaction import unit_of_work
from .contacts import FIELD_NAMES, ContactFileError, load_contacts_file
from .services import load_catalogs

catalogs_cli = AppGroup("catalogs", help="Catálogos de referencia.")


@catalogs_cli.command("load")
@click.option(
    "--institutions",
    "contacts_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV (UTF-8) con los datos de contacto de las instituciones: "
    "code,address,phone,email,contact_person. Una celda vacía no cambia nada.",
)
def load_command(contacts_file: Path | None) -> None:
    """Load the shipped reference data (idempotent: adds only what is missing).

    With ``--institutions FILE``, then set the institutions' contact data from that file: every row is
    checked first, and one bad row leaves everything as it was (the catalogues too: one transaction).
    """
    try:
        with unit_of_work():
            added = load_catalogs()
            changed = load_contacts_file(contacts_file) if contacts_file else None
    except ContactFileError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        raise click.ClickException("No se guardó nada: corrija el archivo y vuelva a cargarlo.") from None
    for table, count in added.items():
        click.echo(f"{table}: {count}")
    if changed is None:
        return
    if not changed:
        click.echo("Instituciones: los datos de contacto ya estaban así; nada cambió.")
    for code, fields in changed.items():
        click.echo(f"Institución {code} actualizada: {', '.join(str(FIELD_NAMES[f]) for f in fields)}.")
