"""sosep-migrantes: reception and follow-up of returned migrant family units (SOSEP, Guatemala)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask, current_app, has_request_context, request, session
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import load_config
from .extensions import babel, csrf, db, limiter, login_manager, migrate

PACKAGE = Path(__file__).resolve().parent
#: The checkout (or wherever the service is started from, when installed from a wheel): ``instance/`` is here.
ROOT = PACKAGE.parent if (PACKAGE.parent / "pyproject.toml").exists() else Path.cwd()


def select_locale() -> str:
    if not has_request_context():  # CLI commands and jobs: no session, no user
        return "es_GT"
    languages = babel_languages()
    if request.accept_languages and request.path.startswith(current_app.config["API_PREFIX"] + "/"):
        # An integration says its language in each request (field errors in Spanish or English).
        best = request.accept_languages.best_match(["es", "es-GT", "en"], default="es")
        return "en" if best == "en" else "es_GT"
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        user_locale: str = current_user.locale
        return user_locale
    if session.get("locale") in languages:
        session_locale: str = session["locale"]
        return session_locale
    # Spanish unless the user chose English (staff share desks; the browser's language is no guide).
    return "es_GT"


def babel_languages() -> dict[str, str]:
    languages: dict[str, str] = current_app.config["LANGUAGES"]
    return languages


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
    )
    app.config.update(load_config(Path(app.instance_path), config))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("weasyprint").setLevel(logging.WARNING)
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    # Flask-Limiter logs each refused attempt with its key, and the per-account login key is what was typed
    # as the user name (sometimes a password or a CUI typed in the wrong field): warnings and errors only.
    logging.getLogger("flask-limiter").setLevel(logging.WARNING)

    if app.config["PROXY_COUNT"]:
        # Behind nginx or a load balancer: the client's address (rate limits, audit) is X-Forwarded-For's.
        count = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)  # type: ignore[method-assign]

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PACKAGE / "migrations"), render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=lambda: "America/Guatemala")
    login_manager.init_app(app)

    from .core import security

    security.register_converters(app)
    _register_models()
    _register_blueprints(app)
    _register_cli(app)

    from . import api

    api.init_app(app)

    from .core import errors, templating, transaction

    security.init_app(app)
    errors.init_app(app)
    templating.init_app(app)
    transaction.init_app(app)
    return app


def _register_models() -> None:
    # Import every module that declares tables, so metadata (and Alembic) sees them all.
    from .auth import models as _auth  # noqa: F401
    from .cases import models as _cases  # noqa: F401
    from .catalogs import models as _catalogs  # noqa: F401
    from .core import audit as _audit  # noqa: F401
    from .core import numbering as _numbering  # noqa: F401
    from .desk import models as _desk  # noqa: F401
    from .followup import models as _followup  # noqa: F401
    from .needs import models as _needs  # noqa: F401
    from .reception import models as _reception  # noqa: F401
    from .referrals import models as _referrals  # noqa: F401
    from .returnees import models as _returnees  # noqa: F401


def _register_blueprints(app: Flask) -> None:
    from .auth.account import bp as account_bp
    from .auth.views import bp as auth_bp
    from .cases.views import bp as cases_bp
    from .catalogs.views import bp as catalogs_bp
    from .core.views import bp as core_bp
    from .desk import returnees as _desk_returnees  # noqa: F401  (the desk's earlier-records hint)
    from .desk.views import bp as desk_bp
    from .followup import history as _followup_history  # noqa: F401  (the case page's timeline)
    from .followup.views import bp as followup_bp
    from .needs.views import bp as needs_bp
    from .reception.views import bp as reception_bp
    from .referrals.partner import bp as partner_bp
    from .referrals.views import bp as referrals_bp
    from .reports.views import bp as reports_bp
    from .returnees.views import bp as returnees_bp

    for bp in (
        core_bp,
        auth_bp,
        account_bp,
        catalogs_bp,
        reception_bp,
        desk_bp,
        cases_bp,
        needs_bp,
        referrals_bp,
        followup_bp,
        partner_bp,
        reports_bp,
        returnees_bp,
    ):
        app.register_blueprint(bp)


def _register_cli(app: Flask) -> None:
    from .auth.cli import tokens_cli, users_cli
    from .catalogs.cli import catalogs_cli
    from .cli import setup_command
    from .demo.cli import demo_data_command
    from .ops.cli import backup_command, restore_command, retention_cli
    from .reports.cli import report_command

    app.cli.add_command(users_cli)
    app.cli.add_command(tokens_cli)
    app.cli.add_command(catalogs_cli)
    app.cli.add_command(setup_command)
    app.cli.add_command(demo_data_command)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
    app.cli.add_command(retention_cli)
    app.cli.add_command(report_command)
