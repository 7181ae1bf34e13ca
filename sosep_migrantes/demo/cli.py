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
@click.option("--families", default=200, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--seed", default=1, show_default=True, type=int)
@click.option(
    "--until",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Última fecha de llegada (por defecto, hoy); las llegadas cubren los 90 días anteriores.",
)
@with_appcontext
def demo_data_command(families: int, seed: int, until: dt.datetime | None) -> None:
    """Create synthetic arrivals and family units (deterministic for a seed)."""
    generator = DemoGenerator(seed, until.date() if until else today_local())
    result = generator.run(families, system_user())
    db.session.commit()
    click.echo(
        f"Datos de demostración: {result.arrivals} llegadas, {result.families} unidades familiares, "
        f"{result.members} personas."
    )
