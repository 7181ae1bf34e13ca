"""Browser tests: the real application served over HTTP and driven by headless Chromium (Playwright).

The served app is a second application object on the same database as the ``app`` fixture (which
builds the schema and loads the catalogues), with CSRF protection switched on as in production.
Case data is emptied after each test by the autouse fixture of ``tests/conftest.py``: every test
here requests ``app`` (directly or through ``live_server``), so that fixture sees it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from werkzeug.serving import WSGIRequestHandler, make_server

from sosep_migrantes.extensions import db
from tests.conftest import make_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

#: Long enough for a slow CI machine, short enough that a broken page fails the test quickly.
EXPECT_TIMEOUT_MS = 10_000


class _QuietHandler(WSGIRequestHandler):
    """No access-log line per request (failures and tracebacks are still logged)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@pytest.fixture(scope="session")
def live_server(app, database_url: str) -> Iterator[str]:
    """Base URL (``http://127.0.0.1:PORT``) of the application served in a background thread."""
    served = make_app(database_url, WTF_CSRF_ENABLED=True)
    server = make_server("127.0.0.1", 0, served, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        with served.app_context():
            db.engine.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser, live_server: str) -> Iterator[Page]:
    """A fresh browser context (no cookies) for each test, as a desk PC in Guatemala would be set up."""
    context = browser.new_context(
        base_url=live_server,
        locale="es-GT",
        timezone_id="America/Guatemala",
        # The usual desk laptop screen: a long form scrolls, under the sticky save bar.
        viewport={"width": 1366, "height": 768},
    )
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    page = context.new_page()
    script_errors: list[str] = []
    page.on("pageerror", lambda error: script_errors.append(str(error)))
    # A script or style the Content-Security-Policy blocks is reported on the console, not as an error.
    page.on(
        "console",
        lambda message: (
            script_errors.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    try:
        yield page
    finally:
        context.close()
    assert not script_errors, f"JavaScript errors on the page: {script_errors}"
