"""``flask backup PATH``, ``flask restore PATH --yes`` and ``flask retention anonymise``.

docs/deploy.md has the timers (nightly backup, monthly retention) and the restore drill.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from ..core.timeutil import to_local
from ..core.transaction import unit_of_work
from ..extensions import db
from . import retention
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


@click.group("retention")
def retention_cli() -> None:
    """Data retention: the personal data of cases closed long ago."""


@retention_cli.command("anonymise")
@click.option(
    "--years",
    type=click.IntRange(min=1),
    default=None,
    help="Años desde el cierre del caso (por omisión RETENTION_YEARS, 5).",
)
@click.option("--dry-run", is_flag=True, help="Solo contar lo que se anonimizaría; no cambia nada.")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1, max=10_000),
    default=retention.BATCH_SIZE,
    show_default=True,
    help="Unidades familiares por lote (una transacción por lote).",
)
@with_appcontext
def anonymise_command(years: int | None, dry_run: bool, batch_size: int) -> None:
    """Anonymise the family units whose case was closed more than N years ago (idempotent)."""
    if years is None:
        years = int(current_app.config["RETENTION_YEARS"])
        if years < 1:
            raise click.ClickException(f"RETENTION_YEARS debe ser al menos 1 (es {years}).")
    now = dt.datetime.now(dt.UTC)
    cutoff = retention.retention_cutoff(now, years)
    closed_before = to_local(cutoff).strftime("%d/%m/%Y")
    if dry_run:
        families, persons = retention.count_due(cutoff)
        db.session.rollback()
        click.echo(
            f"Simulación, sin cambios: se anonimizarían {families} unidades familiares ({persons} personas) "
            f"cerradas antes del {closed_before} (hace más de {years} años)."
        )
        return
    families = persons = last_id = 0
    while True:
        with unit_of_work():  # one transaction per batch: a failure keeps the batches already done
            batch = retention.anonymise_batch(retention.next_batch(cutoff, last_id, batch_size), now, years)
        if not batch.family_ids:
            break
        families += len(batch.family_ids)
        persons += batch.persons
        last_id = batch.family_ids[-1]
    click.echo(
        f"Anonimizadas {families} unidades familiares ({persons} personas) "
        f"cerradas antes del {closed_before} (hace más de {years} años)."
    )
