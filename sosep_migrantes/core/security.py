"""Response headers and request limits, in one place for every route (issue #10, items 4 and 5).

- A Content-Security-Policy that allows only the service's own files: no inline script or style on any
  page (PDFs are drawn on the server and carry their own styles), no frames, no plugins, forms posted only
  to the service itself.
- ``nosniff``, no referrer leaving the service, no framing (``frame-ancestors`` and the older header).
- ``Cache-Control: no-store`` on everything but the static files: pages, PDFs, spreadsheets and JSON all
  may carry personal data, and a shared desk computer must not keep them.
- HSTS when the request came over HTTPS (directly or through a proxy counted by ``PROXY_COUNT``).
- Route integers bounded to the database's 32-bit ids: ``/cases/2147483648`` is a 404, not a database error.
- A request body of at most ``MAX_CONTENT_LENGTH`` (2 MB), except on a route that declares a larger upload
  with :func:`allows_upload` (the passenger list: 5 MB), checked before anything reads the body.
- A query string's raw bytes beyond ASCII percent-encoded before Flask reads it: ``?page=\x80`` sent as is
  (not as ``%80``) made ``request.args`` raise ``UnicodeDecodeError`` (a 500); now it reads as ``%80`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from flask import Flask, Response, current_app, request
from werkzeug.routing import IntegerConverter, Map

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
HSTS = "max-age=31536000; includeSubDomains"
#: The largest id a route accepts: the columns are 32-bit integers on PostgreSQL.
MAX_ROUTE_INT = 2**31 - 1


class BoundedIntConverter(IntegerConverter):
    """Werkzeug's ``int`` converter, refusing (404) what no row's id can be."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ROUTE_INT)
        super().__init__(url_map, *args, **kwargs)


F = TypeVar("F", bound=Callable[..., Any])


def allows_upload(max_bytes: int) -> Callable[[F], F]:
    """Decorator: this route accepts a request body of up to ``max_bytes`` (a file upload), instead of the
    service's ``MAX_CONTENT_LENGTH``. Put it above ``permission_required``, below the route."""

    def decorator(view: F) -> F:
        view.max_content_length = max_bytes  # type: ignore[attr-defined]
        return view

    return decorator


def apply_upload_limit(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """The body limit of the route being served. A URL value preprocessor: those run before every
    ``before_request`` function, so before CSRF protection reads (and size-checks) the form."""
    view = current_app.view_functions.get(endpoint or "")
    limit = getattr(view, "max_content_length", None)
    if isinstance(limit, int):
        request.max_content_length = limit


def secure_headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"
        response.headers.pop("Expires", None)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def _percent_encoded(query: str) -> str:
    """``QUERY_STRING`` with every character beyond ASCII percent-encoded.

    WSGI hands the query string over as latin-1 (one character per byte received). Werkzeug reads a
    percent-encoded byte that is not UTF-8 (``%80``) as the text ``%80``, but decodes raw bytes strictly, so
    ``?page=\x80`` sent unencoded raised in ``request.args``. Encoded here, raw UTF-8 (``?q=pø`` from a client
    that does not encode) still reads as the text it is, and a stray byte as ``%80``, which the filters drop.
    """
    out = []
    for char in query:
        if char.isascii():
            out.append(char)
        else:
            raw = char.encode("latin-1") if ord(char) < 256 else char.encode("utf-8")
            out.append("".join(f"%{byte:02X}" for byte in raw))
    return "".join(out)


class QueryStringQuoting:
    """WSGI middleware: the query string's raw bytes percent-encoded (see :func:`_percent_encoded`)."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        query = environ.get("QUERY_STRING", "")
        if not query.isascii():
            environ["QUERY_STRING"] = _percent_encoded(query)
        return self.app(environ, start_response)


def init_app(app: Flask) -> None:
    app.url_value_preprocessor(apply_upload_limit)
    app.after_request(secure_headers)
    app.wsgi_app = QueryStringQuoting(app.wsgi_app)  # type: ignore[method-assign]


def register_converters(app: Flask) -> None:
    """Before any blueprint is registered: the routes' ``<int:...>`` use the bounded converter."""
    app.url_map.converters["int"] = BoundedIntConverter
