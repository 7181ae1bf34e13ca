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
from . import services, tokens
from .models import User
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


def _user_or_exit(username: str) -> User:
    user = services.user_by_username(username)
    if user is None:
        click.echo(f"No existe el usuario {username}.", err=True)
        raise SystemExit(1)
    return user


@users_cli.command("approve")
@click.argument("username")
def approve_user_command(username: str) -> None:
    """Approve an access an admin granted (two-person rule), as the server's operator."""
    with unit_of_work():
        user = _user_or_exit(username)
        if not user.access_pending:
            click.echo(f"{user.username}: no espera aprobación.")
            return
        services.approve_by_operator(user)
    click.echo(f"Acceso aprobado: {user.username} ({user.role}).")


@users_cli.command("reset-second-factor")
@click.argument("username")
def reset_second_factor_command(username: str) -> None:
    """Forget a user's authenticator app (lost phone): it enrols again at its next sign-in."""
    with unit_of_work():
        user = _user_or_exit(username)
        services.reset_second_factor_by_operator(user)
    click.echo(f"Segundo factor restablecido: {user.username}; sus sesiones se cerraron.")


tokens_cli = AppGroup("tokens", help="Tokens personales de la API (cuentas de servicio).")


@tokens_cli.command("create")
@click.argument("username")
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, tokens.MAX_DAYS))
@click.option("--name", default=None, help="Para qué es (por defecto, «Línea de comandos»).")
def create_token_command(username: str, days: int, name: str | None) -> None:
    """Make an API token for USERNAME (a service account) and print it once: it is not kept."""
    try:
        with unit_of_work():
            user = _user_or_exit(username)
            new = tokens.create_token(user, name or "Línea de comandos", days, created_by=None)
    except ServiceError as exc:
        for field, message in exc.errors.items():
            click.echo(f"{field}: {message}", err=True)
        raise SystemExit(1) from None
    click.echo(
        f"Token {new.token.id} de {user.username}, vigente hasta {new.token.expires_at:%Y-%m-%d %H:%M} UTC. "
        "Guárdelo ahora: no se volverá a mostrar.",
        err=True,
    )
    click.echo(new.secret)


@tokens_cli.command("list")
@click.argument("username")
def list_tokens_command(username: str) -> None:
    """The live tokens of USERNAME (id, start, name, expiry, last use); never the tokens themselves."""
    user = _user_or_exit(username)
    for token in tokens.live_tokens(user):
        used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "-"
        click.echo(f"{token.id}\t{token.prefix}…\t{token.name}\t{token.expires_at:%Y-%m-%d}\t{used}")


@tokens_cli.command("revoke")
@click.argument("username")
@click.argument("token_id", type=int)
def revoke_token_command(username: str, token_id: int) -> None:
    """Revoke one token of USERNAME (its id, from ``flask tokens list``)."""
    with unit_of_work():
        user = _user_or_exit(username)
        revoked = tokens.revoke_token(user, token_id, revoked_by=None)
    if not revoked:
        click.echo(f"{username} no tiene un token vigente con id {token_id}.", err=True)
        raise SystemExit(1)
    click.echo(f"Token {token_id} revocado.")
