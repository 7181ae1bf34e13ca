"""``flask setup``: what ``make run`` does before serving (migrate, catalogues, first admin).

At the root, beside the app factory: it uses auth and catalogs, so it cannot live in core.
"""

from __future__ import annotations

import os
import secrets

import click
from flask.cli import with_appcontext
from flask_migrate import upgrade

from .auth import services as auth_services
from .catalogs.services import load_catalogs
from .core.errors import ServiceError
from .core.permissions import Role
from .core.transaction import unit_of_work


@click.command("setup")
@with_appcontext
def setup_command() -> None:
    """Migrate the database, load the catalogues and create the first admin if there is none."""
    upgrade()
    with unit_of_work():
        added = load_catalogs()
    total = sum(added.values())
    click.echo(f"Catálogos: {total} filas nuevas." if total else "Catálogos: ya estaban cargados.")
    if auth_services.count_admins() == 0:
        password = os.environ.get("ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        username = os.environ.get("ADMIN_USERNAME", "admin")
        try:
            with unit_of_work():
                auth_services.create_user(
                    {
                        "username": username,
                        "full_name": "Administración",
                        "role": Role.ADMIN.value,
                        "password": password,
                    }
                )
        except ServiceError as exc:
            for message in exc.errors.values():
                click.echo(f"ADMIN_PASSWORD: {message}", err=True)
            raise SystemExit(1) from None
        click.echo(f"Administrador creado: usuario '{username}'.")
        if not os.environ.get("ADMIN_PASSWORD"):
            # Shown once, on the terminal of whoever installs the service; never logged.
            click.echo(f"Contraseña generada (guárdela ahora, no se volverá a mostrar): {password}")
