"""PDF rendering with WeasyPrint, fed plain data and allowed to read only the app's static files."""

from __future__ import annotations

import gc
import io
import mimetypes
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import segno
from flask import Response, current_app, render_template
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

STATIC_SCHEME = "static:"
#: ``qr:TEXT`` draws a QR code of TEXT (a PNG made on the spot): shorter HTML and a cheaper image than an
#: inline SVG data URI, which matters when a flight's 56 slips are rendered in one go.
QR_SCHEME = "qr:"


class StaticOnlyFetcher(URLFetcher):  # type: ignore[misc]  # WeasyPrint ships no types
    """Serves ``static:`` URLs from the static folder and inline ``data:`` URIs; refuses all else.

    No ``file://`` (a template must not read the server's files) and no network fetch (a slip must not
    phone home, and the centres' network is unreliable anyway).
    """

    def __init__(self, static_folder: str | Path) -> None:
        super().__init__(allowed_protocols={"data"}, allow_redirects=False)
        self.root = Path(static_folder).resolve()

    def fetch(self, url: str, headers: dict[str, str] | None = None) -> URLFetcherResponse:
        if url.startswith("data:"):
            return super().fetch(url, headers)
        if url.startswith(QR_SCHEME):
            payload = unquote(url.removeprefix(QR_SCHEME))
            return URLFetcherResponse(url, qr_png(payload), {"Content-Type": "image/png"})
        if url.startswith(STATIC_SCHEME):
            path = (self.root / url.removeprefix(STATIC_SCHEME).lstrip("/")).resolve()
            if path.is_relative_to(self.root) and path.is_file():
                mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": mime})
        raise ValueError(f"URL refused by the PDF fetcher: {url[:80]}")


def qr_png(payload: str) -> bytes:
    buffer = io.BytesIO()
    segno.make(payload, error="m").save(buffer, kind="png", scale=4, border=1)
    return buffer.getvalue()


#: Generation-0 threshold while a PDF is being rendered (Python's default is 700).
RENDER_GC_THRESHOLD = 50_000
#: Generation-1 threshold while a PDF is being rendered (Python's default is 10 young collections):
#: high enough that no render reaches it, so nothing a render builds is moved to the oldest generation.
RENDER_GC_THRESHOLD_1 = 1_000_000

_gc_lock = threading.Lock()
_renders = 0
_saved_threshold: tuple[int, ...] | None = None


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the cyclic garbage collector less often while WeasyPrint builds its objects.

    A flight's slips create hundreds of thousands of short-lived objects (a layout tree, styles that
    point at each other: some 200,000 of them are still in reference cycles when the PDF is written)
    and the collector would walk them again and again. The collector stays on (other threads of the
    server keep being collected); only its thresholds are raised: young collections are rarer, and
    there are no older ones, which would move what the render still holds into the oldest generation,
    where its garbage waits for a collection of the whole heap. The first render to start saves the
    thresholds that the last render to end puts back, whatever happens to the renders in between (an
    exception included); the last one then collects the two younger generations once, so what the
    renders left is freed now and memory does not grow from one PDF to the next.
    """
    global _renders, _saved_threshold
    with _gc_lock:
        if _renders == 0:
            _saved_threshold = gc.get_threshold()
            gc.set_threshold(RENDER_GC_THRESHOLD, RENDER_GC_THRESHOLD_1, *_saved_threshold[2:])
        _renders += 1
    try:
        yield
    finally:
        with _gc_lock:
            _renders -= 1
            last = _renders == 0
            if last and _saved_threshold is not None:
                gc.set_threshold(*_saved_threshold)
                _saved_threshold = None
        if last:
            gc.collect(1)


_fonts = threading.local()


def font_config() -> FontConfiguration:
    """This thread's WeasyPrint font configuration, made once and kept for every later PDF.

    A new one per PDF (WeasyPrint's default) loads the system's font configuration, copies each
    ``@font-face`` file to a temporary folder and registers it, and starts Pango's font caches empty:
    about a quarter of a one-slip PDF. Kept per thread because Pango's objects are not thread-safe;
    the ``@font-face`` files are read (through the fetcher) the first time they are named.
    """
    config: FontConfiguration | None = getattr(_fonts, "config", None)
    if config is None:
        config = _fonts.config = FontConfiguration()
    return config


try:  # the stylesheet LeanHTML replaces: WeasyPrint's, parsed once when it is imported
    from weasyprint.html import UA_STYLESHEET as _FULL_UA
except ImportError:  # another WeasyPrint: nothing is replaced
    _FULL_UA = None


#: A rule of the user-agent stylesheet that names a pseudo-element of every element (``::marker {...}``).
_EVERY_ELEMENTS_PSEUDO = re.compile(r"^::([\w-]+)(\s*\{[^{}]*\})", re.MULTILINE)


def lean_user_agent_stylesheet() -> CSS | None:
    """WeasyPrint's own user-agent stylesheet less its rules on every element's pseudo-elements.

    Six rules (list markers, footnote and note calls and markers) name a pseudo-element of *every*
    element, so WeasyPrint computed six more styles for each element of a PDF: about a tenth of a
    flight's slips (issue #6). Our PDFs have no footnotes or notes (tests/core/test_pdf_lean_ua.py
    checks the templates), and list markers keep their rule, on ``li``. ``None`` if this WeasyPrint
    keeps its stylesheet elsewhere or has no such rule: PDFs are then rendered with the full one.
    """
    try:
        text = (resources.files("weasyprint.css") / "html5_ua.css").read_text("utf-8")
    except OSError:
        return None
    lean, removed = _EVERY_ELEMENTS_PSEUDO.subn(
        lambda rule: f"li::marker{rule[2]}" if rule[1] == "marker" else "", text
    )
    return CSS(string=lean) if removed else None


_LEAN_UA = lean_user_agent_stylesheet()


class LeanHTML(HTML):  # type: ignore[misc]  # WeasyPrint ships no types
    """WeasyPrint's ``HTML`` with the lean user-agent stylesheet in place of its own (when both are found)."""

    def _ua_stylesheets(self, forms: bool = False) -> list[CSS]:
        sheets: list[CSS] = super()._ua_stylesheets(forms)
        if _LEAN_UA is None:
            return sheets
        return [_LEAN_UA if sheet is _FULL_UA else sheet for sheet in sheets]


def render_pdf(template: str, **context: Any) -> bytes:
    """Render a Jinja template (given plain data) to PDF bytes."""
    html = render_template(template, **context)
    if current_app.static_folder is None:  # create_app keeps Flask's default; without it nothing would load
        raise RuntimeError("PDF rendering needs the app's static folder")
    fetcher = StaticOnlyFetcher(current_app.static_folder)
    with fewer_collections():
        document = LeanHTML(string=html, base_url=STATIC_SCHEME, url_fetcher=fetcher)
        pdf: bytes = document.write_pdf(font_config=font_config())
    return pdf


def pdf_response(content: bytes, filename: str) -> Response:
    """A PDF to open in the browser (or save), never cached: it holds personal data. ``filename`` must
    name no person (slips are named by their number)."""
    return Response(
        content,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"', "Cache-Control": "no-store"},
    )
