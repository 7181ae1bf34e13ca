"""``flask users ...``: manage accounts from the command line (password read from stdin)."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup
from marshmallow import ValidationError

from ..core.errors import ServiceError
from ..core.forms import form_errors
from ..core.permissions import Role
from ..core.transaction import unit_of_work
from . import services
from .schemas import NewUserSchema

users_cli = AppGroup("users", help="Gestionar cuentas de usuario.")


@users_cli.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--centre", help="Código del centro (FAG, LA_AURORA, TECUN_UMAN) para recepción.")
@click.option("--sede", help="Código de la sede (p. ej. HUEHUETENANGO) para usuarios de sede.")
@click.option("--institution", help="Código de la institución (p. ej. OIM) para instituciones aliadas.")
@click.option("--full-name", default=None, help="Nombre completo (por defecto, el nombre de usuario).")
def create_user_command(
    username: str,
    role: str,
    centre: str | None,
    sede: str | None,
    institution: str | None,
    full_name: str | None,
) -> None:
    """Create a user; the password is read from standard input (one line)."""
    if sys.stdin.isatty():
        password = click.prompt("Contraseña", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    payload = {
        "username": username,
        "full_name": full_name or username,
        "role": role,
        "centre": centre,
        "sede": sede,
        "institution": institution,
        "password": password,
    }
    try:
        with unit_of_work():
            user = services.create_user(NewUserSchema().load(payload))
    except (ValidationError, ServiceError) as exc:
        for field, message in form_errors(exc).items():
            click.echo(f"{field}: {message}", err=True)
        raise SystemExit(1) from None
    click.echo(f"Usuario creado: {user.username} ({user.role}), id {user.id}")
