"""PDFs are rendered with WeasyPrint's user-agent stylesheet less its rules on every element's
pseudo-elements (list markers, footnotes, notes): six more styles per element, a tenth of a flight's
slips (issue #6). The slips print the same; lists keep their markers; no PDF template uses footnotes."""

from __future__ import annotations

import io
from pathlib import Path

from pypdf import PdfReader
from weasyprint import HTML

from sosep_migrantes.core import pdf
from tests.factories import login, make_arrival, make_family, make_user, member
from tests.referrals.helpers import refer

TEMPLATES = Path(pdf.__file__).resolve().parent.parent / "templates"


def text_of(content: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(content)).pages]


def test_pdfs_are_rendered_with_the_lean_stylesheet(app, monkeypatch):
    """Fails if this WeasyPrint no longer asks ``_ua_stylesheets`` or keeps its stylesheet elsewhere."""
    used = []
    real = pdf.LeanHTML._ua_stylesheets

    def spy(self, forms=False):
        sheets = real(self, forms)
        used.append(sheets)
        return sheets

    monkeypatch.setattr(pdf.LeanHTML, "_ua_stylesheets", spy)
    monkeypatch.setattr(pdf, "render_template", lambda _template, **context: "<p>Hola</p>")
    with app.app_context():
        assert text_of(pdf.render_pdf("x")) == ["Hola"]
    assert used, "WeasyPrint did not ask for its user-agent stylesheets"
    assert pdf._LEAN_UA is not None and pdf._FULL_UA is not None
    assert all(pdf._LEAN_UA in sheets and pdf._FULL_UA not in sheets for sheets in used)


def test_the_lean_stylesheet_drops_only_the_rules_on_every_elements_pseudo_elements():
    text = pdf.resources.files("weasyprint.css").joinpath("html5_ua.css").read_text("utf-8")
    dropped = [match[0].split("{")[0].strip() for match in pdf._EVERY_ELEMENTS_PSEUDO.finditer(text)]
    assert sorted(dropped) == [
        "::footnote-call",
        "::footnote-marker",
        "::marker",
        "::note-call",
        "::note-callback",
        "::note-marker",
    ]


def test_lists_keep_their_markers():
    html = "<ol><li>Uno</li><li>Dos</li></ol><ul><li>Tres</li></ul>"
    [lean] = text_of(pdf.LeanHTML(string=html).write_pdf())
    assert lean == text_of(HTML(string=html).write_pdf())[0]
    assert all(marker in lean for marker in ("1. ", "2. ", "•"))


def test_an_arrivals_slips_print_the_same_as_with_the_full_stylesheet(ctx, client, monkeypatch):
    user = make_user("reception", centre="FAG")
    arrival = make_arrival(user)
    for surnames in ("Tz'ul Xicará", "Ñuñez Pérez"):
        family = make_family(
            user,
            arrival,
            members=[
                member("Ixchel Catarina", surnames, age=34),
                member("José", surnames, sex="M", relationship="SON", age=1),
            ],
        )
        refer(family, user, "OIM", send=True, priority="urgent", needs=["PROTECTION"])
    login(client, user)
    lean = client.get(f"/arrivals/{arrival.id}/slips.pdf").data
    monkeypatch.setattr(pdf, "LeanHTML", HTML)
    full = client.get(f"/arrivals/{arrival.id}/slips.pdf").data
    assert len(text_of(lean)) == 2
    assert text_of(lean) == text_of(full)


def test_no_pdf_template_uses_footnotes_or_notes():
    """The lean stylesheet has no rules for them: a PDF with footnotes would print them unnumbered."""
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text("utf-8")
        if "@page" not in text and ".pdf." not in template.name:
            continue
        for feature in ("footnote", "float: note", "::note"):
            assert feature not in text, f"{template.name} uses {feature}"
