"""Spanish by default, English on request, and an English catalogue that covers every message."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import render_template
from flask_babel import force_locale

from sosep_migrantes.auth.models import User
from sosep_migrantes.extensions import db
from sosep_migrantes.referrals import pdf
from tests.factories import login, make_arrival, make_family, make_user
from tests.referrals.helpers import refer

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "sosep_migrantes" / "translations"
EN_PO = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"
EN_MO = EN_PO.with_suffix(".mo")
PLACEHOLDER = re.compile(r"%\(\w+\)[-+ #0-9.]*[a-z]|\{\w+\}")


def _read_catalogue():
    with EN_PO.open("rb") as fh:
        return read_po(fh)


@pytest.fixture(scope="module", autouse=True)
def _compiled_catalogue() -> None:
    """The .mo is git-ignored (``make install`` compiles it); compile it here when missing or stale."""
    if not EN_MO.exists() or EN_MO.stat().st_mtime < EN_PO.stat().st_mtime:
        with EN_MO.open("wb") as fh:
            write_mo(fh, _read_catalogue())


def _html_lang(html: str) -> str:
    match = re.search(r'<html lang="([^"]+)"', html)
    assert match, "no <html lang> in the page"
    return match.group(1)


def _choose(client, locale: str, next_path: str = "/arrivals/"):
    response = client.post("/language", data={"locale": locale, "next": next_path})
    assert response.status_code == 302
    assert response.location.endswith(next_path)
    return response


def test_pages_are_in_spanish_by_default(app, ctx, client):
    login(client, make_user("reception"))
    html = client.get("/arrivals/").get_data(as_text=True)
    assert _html_lang(html) == "es"
    assert ">Llegadas<" in html and ">Casos<" in html and "Salir" in html
    assert "Arrivals" not in html


def test_choosing_english_translates_the_pages_and_sticks_to_the_user(app, ctx, client):
    user = make_user("reception")
    login(client, user)
    assert ">Llegadas<" in client.get("/arrivals/").get_data(as_text=True)

    _choose(client, "en")
    html = client.get("/arrivals/").get_data(as_text=True)
    assert _html_lang(html) == "en"
    assert ">Arrivals<" in html and ">Cases<" in html and "Sign out" in html
    assert "New arrival (flight or bus)" in html
    assert "Llegadas" not in html
    # The language button now offers Spanish back.
    assert 'value="es_GT"' in html and "Español" in html

    # Stored on the account: a new session of the same user (another browser) opens in English.
    db.session.expire_all()
    assert db.session.get(User, user.id).locale == "en"
    other = app.test_client()
    with app.app_context():  # a fresh `g` and database session, as a real request has
        login(other, user)
        html = other.get("/arrivals/").get_data(as_text=True)
    assert _html_lang(html) == "en" and ">Arrivals<" in html

    _choose(client, "es_GT")
    html = client.get("/arrivals/").get_data(as_text=True)
    assert _html_lang(html) == "es" and ">Llegadas<" in html


def test_an_unknown_language_is_refused(app, ctx, client):
    login(client, make_user("reception"))
    assert client.post("/language", data={"locale": "fr"}).status_code == 400


def test_validation_errors_are_in_spanish_by_default(app, ctx, client):
    login(client, make_user("reception"))
    response = client.post("/arrivals/new", data={})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="e-arrived_at">Este campo es obligatorio.</p>' in html
    assert "Revise los campos marcados: no se guardó nada todavía." in html
    assert "This field is required." not in html


def test_validation_errors_are_in_english_when_english_is_chosen(app, ctx, client):
    login(client, make_user("reception"))
    _choose(client, "en", "/arrivals/new")
    response = client.post("/arrivals/new", data={})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert _html_lang(html) == "en"
    assert 'id="e-arrived_at">This field is required.</p>' in html
    assert "Check the highlighted fields: nothing has been saved yet." in html
    assert re.search(r"\d+ fields to correct", html)
    assert "Este campo es obligatorio." not in html


def test_referral_slips_stay_in_spanish_for_an_english_speaking_user(app, ctx, monkeypatch):
    user = make_user("reception", centre="FAG")
    referral = refer(make_family(user, make_arrival(user)), user, priority="urgent")
    monkeypatch.setattr(pdf, "render_pdf", lambda template, **context: render_template(template, **context))
    with force_locale("en"):
        html = pdf.render_slips([referral])
        assert "Urgent" in str(referral.priority_label)  # the UI itself is in English here
    assert "Mujer" in html and "Hombre" in html and "Urgente" in html
    assert not re.search(r"\b(Female|Male|Urgent)\b", html)


def test_the_english_catalogue_has_no_empty_or_fuzzy_entry():
    catalogue = _read_catalogue()
    messages = [m for m in catalogue if m.id]
    assert len(messages) > 100
    assert not catalogue.fuzzy
    empty, fuzzy, placeholders = [], [], []
    for message in messages:
        ids = message.id if isinstance(message.id, tuple | list) else (message.id,)
        strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
        if not all(s and s.strip() for s in strings) or len(strings) < len(ids):
            empty.append(message.id)
        if message.fuzzy:
            fuzzy.append(message.id)
        for msgid, msgstr in zip(ids, strings, strict=False):
            if msgstr and sorted(PLACEHOLDER.findall(msgid)) != sorted(PLACEHOLDER.findall(msgstr)):
                placeholders.append((msgid, msgstr))
    assert empty == [], f"untranslated: {empty}"
    assert fuzzy == [], f"fuzzy: {fuzzy}"
    assert placeholders == [], f"placeholders differ: {placeholders}"
    assert [(m.id, errors) for m, errors in catalogue.check()] == []


def test_every_message_in_the_code_is_in_the_english_catalogue():
    """``make translations-update`` and translating the new entries fixes a failure here."""
    with (ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    keywords = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
    catalogue = _read_catalogue()
    missing = sorted(
        {
            f"{filename}:{lineno}: {message[0] if isinstance(message, tuple) else message}"
            for filename, lineno, message, _comments, _context in extract_from_dir(
                str(ROOT), method_map, options_map, keywords=keywords
            )
            if catalogue.get(message[0] if isinstance(message, tuple) else message) is None
        }
    )
    assert missing == [], "not in the en catalogue (run `make translations-update`):\n" + "\n".join(missing)
