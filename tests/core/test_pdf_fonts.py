"""Each server thread keeps one WeasyPrint font configuration: the PDFs' fonts are registered once.

Registering them for every PDF (WeasyPrint's default) was about a quarter of a one-slip PDF (issue #6).
"""

from __future__ import annotations

import io
import threading

from pypdf import PdfReader

from sosep_migrantes.core import pdf

HTML = """<!doctype html><html lang="es"><head><meta charset="utf-8"><style>
  @font-face { font-family: "Test Sans"; src: url("static:fonts/DejaVuSans.ttf"); }
  body { font-family: "Test Sans"; }
</style></head><body><p>{name}</p></body></html>"""


def embedded_fonts(content: bytes) -> list[str]:
    names = []
    for page in PdfReader(io.BytesIO(content)).pages:
        for font in page["/Resources"]["/Font"].values():
            names.append(str(font.get_object()["/BaseFont"]))
    return names


def test_a_thread_registers_its_fonts_once_and_keeps_them(app, monkeypatch):
    made, fetched = [], []
    real_config, real_fetch = pdf.FontConfiguration, pdf.StaticOnlyFetcher.fetch
    monkeypatch.setattr(pdf, "FontConfiguration", lambda: made.append(1) or real_config())
    monkeypatch.setattr(
        pdf, "render_template", lambda template, **context: HTML.replace("{name}", context["name"])
    )

    def fetch(self, url, headers=None):
        fetched.append(url)
        return real_fetch(self, url, headers)

    monkeypatch.setattr(pdf.StaticOnlyFetcher, "fetch", fetch)
    printed: dict[str, list[bytes]] = {}

    def render_twice(thread: str) -> None:
        with app.app_context():
            printed[thread] = [pdf.render_pdf("x", name=f"Hola {i}") for i in range(2)]

    for thread in ("one", "two"):  # new threads: nothing registered yet in either
        worker = threading.Thread(target=render_twice, args=(thread,))
        worker.start()
        worker.join(30)

    assert len(made) == 2, "one font configuration per thread, not one per PDF"
    assert fetched == ["static:fonts/DejaVuSans.ttf"] * 2, "the font file is read once per thread"
    for thread in ("one", "two"):
        for content in printed[thread]:  # the second PDF of a thread still has the font it registered
            assert any("Test-Sans" in name for name in embedded_fonts(content))


def test_a_thread_gets_the_same_configuration_each_time(app):
    mine = pdf.font_config()
    assert pdf.font_config() is mine
    others = []
    worker = threading.Thread(target=lambda: others.append(pdf.font_config()))
    worker.start()
    worker.join(30)
    assert others and others[0] is not mine
