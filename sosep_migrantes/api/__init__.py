"""The JSON API under ``/api/v1`` (issue #12), with flask-smorest.

Each resource is a flask-smorest ``Blueprint`` in this package (``api/<resource>.py``); its handlers are
thin, like the HTML views: the input is loaded by the *same* marshmallow schema as the form, the object
is read through the same scoped query as the pages (``cases.queries.get_family`` ...), a service of the
domain module changes it, and :func:`~sosep_migrantes.core.transaction.unit_of_work` commits once.

Who may call: a personal token (``Authorization: Bearer``, :mod:`sosep_migrantes.auth.tokens`), or a signed-in
browser session, which must then send its CSRF token (``X-CSRFToken``) to write. Errors share one format
with the rest of the service (``{code, status, message, errors}``, :mod:`sosep_migrantes.core.errors`),
in Spanish or English by ``Accept-Language``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_smorest import Api, Blueprint

from ..auth import tokens
from ..catalogs.fields import CatalogCode, MunicipalityRef
from ..extensions import csrf, limiter

#: Safe methods: a browser session may read the API without a CSRF token, never write.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class ServiceApi(Api):  # type: ignore[misc]  # flask-smorest ships no types
    """flask-smorest's ``Api`` without its app-wide HTTP error handler: the service's own
    (:mod:`sosep_migrantes.core.errors`) answers every error, HTML for pages and JSON for the API, in
    the same format flask-smorest uses (``code``, ``status``, ``message``, ``errors``)."""

    def _register_error_handlers(self) -> None:
        return None


# Query parameters follow their schema's ``unknown`` (webargs would ignore unknown ones whatever the schema
# says): the API's list schemas refuse a parameter they do not know (api.common.PageArgsSchema).
Blueprint.ARGUMENTS_PARSER.DEFAULT_UNKNOWN_BY_LOCATION = {
    **Blueprint.ARGUMENTS_PARSER.DEFAULT_UNKNOWN_BY_LOCATION,
    "query": None,
    "querystring": None,
}

api = ServiceApi(
    spec_kwargs={
        "info": {
            "description": (
                "API de SOSEP Migrantes: llegadas, unidades familiares, necesidades, derivaciones, "
                "seguimiento y cifras de los informes, con los mismos permisos y alcance que las páginas. "
                "Autenticación: `Authorization: Bearer <token>` (token personal, creado en «Mi cuenta» o "
                "con `flask tokens create`). Errores: `{code, status, message, errors}`, en español o "
                "inglés según `Accept-Language`."
            )
        },
        "security": [{"bearerAuth": []}],
    }
)


def _api_key() -> str:
    """Rate-limit key of an API request: its token (hashed), else the signed-in user, else the address."""
    secret = tokens.bearer_secret()
    if secret:
        return "token:" + tokens.digest(secret)[:32]
    if current_user and current_user.is_authenticated:
        return f"user:{current_user.id}"
    return "addr:" + (request.remote_addr or "")


def init_app(app: Flask) -> None:
    api.init_app(app)
    # The catalogue fields take a code (or a municipality's INE code or label): strings in the document.
    api.register_field(CatalogCode, "string", None)
    api.register_field(MunicipalityRef, "string", None)
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "Token personal de la API."}
    )
    from . import arrivals, catalogs, families, followup, needs, partner, referrals, reports, returnees

    for module in (catalogs, arrivals, families, needs, referrals, partner, followup, returnees, reports):
        blueprint = module.blp
        _prepare(blueprint)
        api.register_blueprint(blueprint, url_prefix=app.config["API_PREFIX"] + blueprint.url_prefix)

    @app.get(app.config["API_PREFIX"] + "/docs")
    def api_docs() -> ResponseReturnValue:
        """The browsable documentation (Swagger UI, served from static/: no CDN)."""
        return render_template("api/docs.html")


#: Blueprints are module-level objects set up once, whatever the number of apps (tests make several).
_PREPARED: set[str] = set()


def _prepare(blueprint: Any) -> None:
    if blueprint.name in _PREPARED:
        return
    _PREPARED.add(blueprint.name)
    # Token requests carry no cookie to forge; a browser session's writes are checked instead.
    csrf.exempt(blueprint)
    limiter.limit(lambda: current_app.config["API_RATE_LIMIT"], key_func=_api_key)(blueprint)
    blueprint.before_request(_check_csrf_of_session_writes)


def _check_csrf_of_session_writes() -> None:
    """A browser session may write through the API only with its CSRF token (a page's script can send
    it; another site cannot): without ``Authorization: Bearer``, a write is checked as a form is."""
    if request.method in SAFE_METHODS or not current_user.is_authenticated:
        return  # reads need no token; the anonymous get their 401 from the handler
    if tokens.current_token() is not None:
        return  # authenticated by its Bearer token, not by a cookie the browser sent on its own
    if current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()


def spec_document() -> dict[str, Any]:
    """The OpenAPI document, as served at ``/api/v1/openapi.json``."""
    document: dict[str, Any] = api.spec.to_dict()
    return document
