"""The API's browsable documentation: Swagger UI from the service's own static files (no CDN, no inline
script under the Content-Security-Policy), showing the operations of the OpenAPI document."""

from __future__ import annotations

from playwright.sync_api import Page, expect


def test_the_api_documentation_opens_from_local_assets(app, page: Page) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto("/api/v1/docs")
    expect(page.get_by_text("SOSEP Migrantes API", exact=False).first).to_be_visible()
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/families/").first).to_be_visible()
    base = page.url.split("/api/")[0]
    assert all(url.startswith(base) for url in requested), [u for u in requested if not u.startswith(base)]
    assert not [e for e in errors if "Content Security Policy" in e], errors
