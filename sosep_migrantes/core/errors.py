"""HTML or JSON errors, chosen by the request; a 500 rolls the transaction back.

:class:`ServiceError` is the one error a service raises when a request cannot be applied as asked
(a code already taken, a move the status machine refuses): its messages are keyed like the form's
fields, so the view shows each beside its field, as it does the schema's.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.http import HTTP_STATUS_CODES

from ..extensions import db
from . import logfilter
from .transaction import AlreadySaved

log = logging.getLogger(__name__)


class ServiceError(ValueError):
    """The operation cannot be applied as asked; ``errors`` maps form field names to Spanish messages."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(errors)
        self.errors = errors


class ServiceConflict(ServiceError):
    """The record changed between the request's read and its write (a compare-and-set found another
    state): the same field messages as a :class:`ServiceError`, answered as a 409 where no form shows them."""


MESSAGES = {
    400: lambda: _("La solicitud no es válida."),
    401: lambda: _("Inicie sesión, o envíe un token de API vigente (Authorization: Bearer)."),
    403: lambda: _("No tiene permiso para ver esta página."),
    404: lambda: _("No se encontró lo que busca, o no está dentro de su alcance."),
    405: lambda: _("Método no permitido."),
    409: lambda: _("Conflicto: los datos cambiaron mientras los editaba."),
    412: lambda: _("El registro cambió desde que lo leyó (If-Match no coincide): vuelva a leerlo."),
    413: lambda: _("Lo enviado es demasiado grande."),
    415: lambda: _("Envíe los datos como JSON (Content-Type: application/json)."),
    422: lambda: _("Hay datos que corregir; vea los mensajes de cada campo."),
    428: lambda: _("Envíe la cabecera If-Match con la ETag del registro leído."),
    429: lambda: _("Demasiados intentos. Espere un momento y vuelva a intentarlo."),
    500: lambda: _("Ocurrió un error inesperado. Nada se guardó; vuelva a intentarlo."),
    503: lambda: _("El servicio no está disponible en este momento."),
}


def _status_name(code: int) -> str:
    return HTTP_STATUS_CODES.get(code, "Error")


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return (
        best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def _field_messages(error: HTTPException) -> dict[str, Any] | None:
    """The field errors a JSON handler's input schema found (flask-smorest/webargs put them in
    ``error.data["messages"]``, per location: ``json``, ``query``), merged across locations."""
    data = getattr(error, "data", None)
    messages = data.get("messages") if isinstance(data, dict) else None
    if not isinstance(messages, dict):
        return None
    merged: dict[str, Any] = {}
    for location in messages.values():
        if isinstance(location, dict):
            merged.update(location)
    return merged or None


def _respond(code: int, message: str, errors: dict[str, Any] | None = None) -> ResponseReturnValue:
    if wants_json():
        body = {"code": code, "status": _status_name(code), "message": message}
        if errors:
            body["errors"] = errors
        return jsonify(body), code
    return render_template("errors/error.html", code=code, message=message), code


def init_app(app: Flask) -> None:
    # The 500 handler below logs the exception: a database error's values must not go with it.
    logfilter.install()

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> ResponseReturnValue:
        return _respond(
            400, _("El formulario caducó o no es válido. Vuelva a cargar la página e inténtelo de nuevo.")
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> ResponseReturnValue:
        if error.code is None or error.code < 400:
            return error
        message = MESSAGES.get(error.code, lambda: error.description)()
        return _respond(error.code, message, _field_messages(error))

    # A view that shows a form catches these itself; these answers are for the rest (and the API).
    @app.errorhandler(ServiceError)
    def service_error(error: ServiceError) -> ResponseReturnValue:
        return _respond(400, " ".join(error.errors.values()) or MESSAGES[400](), error.errors)

    @app.errorhandler(ServiceConflict)
    def service_conflict(error: ServiceConflict) -> ResponseReturnValue:
        return _respond(409, " ".join(error.errors.values()) or MESSAGES[409](), error.errors)

    @app.errorhandler(AlreadySaved)
    def already_saved(error: AlreadySaved) -> ResponseReturnValue:
        return _respond(409, _("Este formulario ya se había enviado y está guardado."))

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> ResponseReturnValue:
        db.session.rollback()
        # Only the exception type and the path: request data may hold personal data.
        log.exception("Unhandled %s on %s %s", type(error).__name__, request.method, request.path)
        return _respond(500, MESSAGES[500]())

    app.register_error_handler(InternalServerError, unexpected)
