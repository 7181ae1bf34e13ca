"""Server-side sessions (issue #10, item 1): what ends a session, timeouts, the user's own session list.

A session is replayed the way an attacker would: the cookie copied before the event, sent by another client
afterwards.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from sosep_migrantes.auth import sessions
from sosep_migrantes.auth.models import UserSession
from sosep_migrantes.extensions import db
from tests.auth.helpers import account, signed_in, within
from tests.factories import PASSWORD, login

CASES = "/cases/"


def cookie_of(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def replay(app, cookie: str) -> FlaskClient:
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    return thief


@pytest.fixture
def people(app):
    return account(app, "admin"), account(app, "sede", sede="HUEHUETENANGO")


def test_a_cookie_copied_before_logout_opens_nothing_after(app, people):
    _, sede = people
    client = signed_in(app, sede)
    copied = cookie_of(client)
    assert replay(app, copied).get(CASES).status_code == 200
    client.post("/logout")
    refused = replay(app, copied).get(CASES)
    assert refused.status_code == 302 and refused.location.startswith("/login")
    row = within(
        app, lambda: db.session.scalars(select(UserSession).where(UserSession.user_id == sede.id)).one()
    )
    assert (row.end_reason, row.ended_at is not None) == ("logout", True)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"password": "una-frase-nueva-del-admin"}, "reset"),
        ({"is_active": ""}, "deactivated"),
        ({"role": "reception", "centre": "FAG", "sede": ""}, "role"),
        ({"sede": "QUETZALTENANGO"}, "role"),
    ],
)
def test_an_admin_change_ends_every_session_of_the_account(app, people, change, reason):
    admin, sede = people
    first, second = signed_in(app, sede), signed_in(app, sede)
    copies = [cookie_of(first), cookie_of(second)]
    form = {"full_name": sede.full_name, "role": "sede", "sede": "HUEHUETENANGO", "is_active": "y"}
    response = signed_in(app, admin).post(f"/admin/users/{sede.id}", data=form | change)
    assert response.status_code == 302, response.get_data(as_text=True)
    for copy in copies:
        assert replay(app, copy).get(CASES).status_code == 302
    reasons = within(
        app,
        lambda: db.session.scalars(
            select(UserSession.end_reason).where(UserSession.user_id == sede.id)
        ).all(),
    )
    assert reasons == [reason, reason]


def test_a_new_session_identifier_at_every_sign_in(app, people):
    _, sede = people
    client = app.test_client()
    client.get("/login")
    with client.session_transaction() as planted:
        planted["sid"] = "chosen-by-an-attacker"
    login(client, sede)
    with client.session_transaction() as current:
        first = current["sid"]
    assert first != "chosen-by-an-attacker"
    client.post("/logout")
    login(client, sede)
    with client.session_transaction() as current:
        assert current["sid"] != first


class Clock:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.moment = dt.datetime.now(dt.UTC)
        monkeypatch.setattr(sessions, "now", lambda: self.moment)

    def advance(self, **delta: float) -> None:
        self.moment += dt.timedelta(**delta)


def test_idle_timeout(app, people, monkeypatch):
    _, sede = people
    clock = Clock(monkeypatch)
    client = signed_in(app, sede)
    clock.advance(minutes=29)
    assert client.get(CASES).status_code == 200  # used: the 30 minutes start again
    clock.advance(minutes=29)
    assert client.get(CASES).status_code == 200
    clock.advance(minutes=31)
    response = client.get(CASES)
    assert response.status_code == 302 and response.location.startswith("/login")
    assert "inactividad" in client.get("/login").get_data(as_text=True)
    assert within(app, lambda: db.session.scalar(select(UserSession.end_reason))) == "idle"


def test_absolute_lifetime_whatever_the_use(app, people, monkeypatch):
    _, sede = people
    clock = Clock(monkeypatch)
    client = signed_in(app, sede)
    for _ in range(20):  # busy all day, never idle for long
        clock.advance(minutes=29)
        assert client.get(CASES).status_code == 200
    clock.advance(minutes=29)  # 10 h 29 min after signing in
    assert client.get(CASES).status_code == 302
    assert within(app, lambda: db.session.scalar(select(UserSession.end_reason))) == "expired"


def test_timeouts_follow_the_settings(app, people, monkeypatch):
    _, sede = people
    clock = Clock(monkeypatch)
    monkeypatch.setitem(app.config, "SESSION_IDLE_MINUTES", 5)
    client = signed_in(app, sede)
    clock.advance(minutes=6)
    assert client.get(CASES).status_code == 302


def test_a_user_sees_and_ends_its_other_sessions(app, people):
    _, sede = people
    desk, phone, laptop = signed_in(app, sede), signed_in(app, sede), signed_in(app, sede)
    page = desk.get("/account/").get_data(as_text=True)
    assert len(re.findall(r'action="/account/sessions/\d+/end"', page)) == 2  # the others; not this one
    assert "Esta sesión" in page
    phone_row_id = within(
        app,
        lambda: db.session.scalars(
            select(UserSession.id).where(UserSession.user_id == sede.id).order_by(UserSession.id)
        ).all()[1],
    )
    assert desk.post(f"/account/sessions/{phone_row_id}/end").status_code == 302
    assert phone.get(CASES).status_code == 302
    assert laptop.get(CASES).status_code == 200
    desk.post("/account/sessions/end-others")
    assert laptop.get(CASES).status_code == 302
    assert desk.get(CASES).status_code == 200


def test_a_user_cannot_end_someone_elses_session(app, people):
    _admin, sede = people
    victim = signed_in(app, sede)
    row_id = within(
        app, lambda: db.session.scalar(select(UserSession.id).where(UserSession.user_id == sede.id))
    )
    other = account(app, "reception", centre="FAG")
    signed_in(app, other).post(f"/account/sessions/{row_id}/end")
    assert victim.get(CASES).status_code == 200


def test_changing_ones_password_ends_the_other_sessions_and_keeps_this_one(app, people):
    _, sede = people
    here, elsewhere = signed_in(app, sede), signed_in(app, sede)
    response = here.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "password": "otra-frase-larga-segura",
            "password_confirm": "otra-frase-larga-segura",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert here.get(CASES).status_code == 200
    assert elsewhere.get(CASES).status_code == 302


def test_only_a_hash_of_the_session_identifier_is_stored(app, people):
    _, sede = people
    client = signed_in(app, sede)
    with client.session_transaction() as current:
        raw = current["sid"]
    stored = within(app, lambda: db.session.scalar(select(UserSession.token_hash)))
    assert raw not in stored and len(stored) == 64


def test_the_cookie_is_set_at_sign_in_and_not_signed_again_on_every_page(app, people):
    """Its lifetime is the absolute limit from the sign-in (what the server allows anyway); a page that
    changes nothing in the session answers without a Set-Cookie."""
    _, sede = people
    client = signed_in(app, sede)
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.expires is not None
    lifetime = cookie.expires - dt.datetime.now(dt.UTC)
    assert dt.timedelta(hours=9, minutes=58) < lifetime <= dt.timedelta(hours=10)
    assert client.get(CASES).status_code == 200  # the first page keeps its CSRF token in the session
    for url in (CASES, "/account/", CASES):
        page = client.get(url)
        assert page.status_code == 200
        assert not [h for h in page.headers.getlist("Set-Cookie") if h.startswith("session=")], url
    # A change to the session (the language chosen) still sets it.
    changed = client.post("/language", data={"locale": "en"})
    assert changed.status_code == 302
    assert [h for h in changed.headers.getlist("Set-Cookie") if h.startswith("session=")]
