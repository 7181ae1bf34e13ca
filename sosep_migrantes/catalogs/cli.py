"""``flask catalogs load``."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from ..core.transaction import unit_of_work
from .services import load_catalogs

catalogs_cli = AppGroup("catalogs", help="Catálogos de referencia.")


@catalogs_cli.command("load")
def load_command() -> None:
    """Load the shipped reference data (idempotent: adds only what is missing)."""
    with unit_of_work():
        added = load_catalogs()
    for table, count in added.items():
        click.echo(f"{table}: {count}")
