"""``flask backup PATH`` and ``flask restore PATH --yes``; docs/deploy.md has the timer and the drill."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from ..extensions import db
from .backup import BackupError, backup_database, default_backup_name, restore_database


def _database_url() -> str:
    url: str = current_app.config["SQLALCHEMY_DATABASE_URI"]
    return url


@click.command("backup")
@click.argument("path", type=click.Path(path_type=Path))
@with_appcontext
def backup_command(path: Path) -> None:
    """Back up the whole database to PATH (a new file, or a folder: then sosep-<UTC time>.dump/.sqlite3)."""
    url = _database_url()
    if path.is_dir():
        path = path / default_backup_name(url)
    try:
        backup_database(url, path)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    size = path.stat().st_size
    click.echo(
        f"Respaldo escrito en {path} ({size / 1_048_576:.1f} MB). "
        "Contiene datos personales: guárdelo cifrado."
    )


@click.command("restore")
@click.argument("path", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--yes", is_flag=True, help="Confirmar: el contenido actual de la base de datos se reemplaza.")
@with_appcontext
def restore_command(path: Path, yes: bool) -> None:
    """Replace the whole database with the backup at PATH (detenga antes los servidores de la aplicación)."""
    if not yes:
        raise click.ClickException(
            "La restauración reemplaza todos los datos actuales de la base de datos. "
            "Detenga los servidores de la aplicación y repita la orden con --yes."
        )
    # Our own pooled connections would hold locks on the tables the restore drops.
    db.session.remove()
    for engine in db.engines.values():
        engine.dispose()
    try:
        restore_database(_database_url(), path)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Base de datos restaurada desde {path}.")
