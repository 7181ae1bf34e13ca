"""``flask demo-data``: fill the database with synthetic arrivals so a new user sees a living system."""

from __future__ import annotations

import datetime as dt

import click
from flask.cli import with_appcontext

from ..auth.services import system_user
from ..core.timeutil import today_local
from ..extensions import db
from .generator import DemoGenerator


@click.command("demo-data")
@click.option(
    "--families",
    type=click.IntRange(1, 100_000),
    default=None,
    help="Registrar N unidades familiares por los servicios, como en la ventanilla (por defecto, 200).",
)
@click.option(
    "--persons",
    type=click.IntRange(2, 50_000_000),
    default=None,
    help="Modo masivo: N personas (exactas) de 2019 a --until con COPY, para dimensionar el sistema.",
)
@click.option("--seed", default=1, show_default=True, type=int)
@click.option(
    "--until",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Última fecha de llegada (por defecto, hoy); con --families las llegadas cubren los 90 días "
    "anteriores, con --persons los años desde 2019.",
)
@click.option(
    "--check",
    is_flag=True,
    help="Solo verificar la coherencia de los datos que hay (números de caso, claves de búsqueda, "
    "derivaciones, seguimiento de las sedes, auditoría); termina con error si encuentra problemas.",
)
@with_appcontext
def demo_data_command(
    families: int | None, persons: int | None, seed: int, until: dt.datetime | None, check: bool
) -> None:
    """Create synthetic arrivals and family units (deterministic for a seed), or check the data.

    Both modes also write the sedes' follow-up (contacts, linkages, transfers, closures), recorded by
    one inactive account per sede (``demo-<sede>``).

    \b
    flask demo-data --families 200          through the services, as the desk does
    flask demo-data --persons 1000000       bulk mode, 2019 to today, tens of thousands a second
    flask demo-data --check                 consistency checks on the data in the database
    """
    if (families is not None) + (persons is not None) + check > 1:
        raise click.UsageError("Use solo una de --families, --persons o --check.")
    if check:
        _check()
        return
    last_day = until.date() if until else today_local()
    if persons is not None:
        _bulk(persons, seed, last_day)
        return
    generator = DemoGenerator(seed, last_day)
    result = generator.run(families or 200, system_user())
    db.session.commit()
    click.echo(
        f"Datos de demostración: {result.arrivals} llegadas, {result.families} unidades familiares, "
        f"{result.members} personas."
    )


def _bulk(persons: int, seed: int, until: dt.date) -> None:
    from .bulk import BulkGenerator

    actor = system_user()
    try:
        result = BulkGenerator(seed, until).run(persons, actor.id)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    click.echo(
        f"Datos de demostración (modo masivo): {result.arrivals} llegadas, {result.families} unidades "
        f"familiares, {result.persons} personas, {result.referrals} derivaciones, "
        f"{result.rows['followups']} seguimientos de las sedes."
    )
    click.echo(
        f"Tiempo: {result.seconds:.1f} s ({result.persons_per_second:,.0f} personas por segundo).".replace(
            ",", " "
        )
    )


def _check() -> None:
    from .checks import check_consistency

    problems = check_consistency()
    if problems:
        for problem in problems:
            click.echo(f"- {problem}")
        raise click.ClickException(f"{len(problems)} problemas de coherencia.")
    click.echo("Coherencia: sin problemas.")
