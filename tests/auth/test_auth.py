"""Accounts: logging in and out, what protects the forms, and the admin's user pages and CLI.

Several accounts take part in most tests, so set-up runs in its own application context and each
request gets a fresh one (as in production): a shared context would share the logged-in user too.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pyotp
import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from sosep_migrantes.auth.models import User
from sosep_migrantes.core.audit import AuditEvent
from sosep_migrantes.extensions import db, limiter
from tests.conftest import make_app
from tests.factories import PASSWORD, login, make_user, totp_code

WRONG = "Usuario o contraseña incorrectos."
PUBLIC_ENDPOINTS = {
    "static",
    "auth.login",
    "core.healthz",
    "auth.set_language",
    "api-docs.openapi_json",
    "api_docs",
}


def create(app, role: str = "reception", **kwargs) -> str:
    with app.app_context():
        username = make_user(role, **kwargs).username
        db.session.remove()
    return username


def signed_in(app, username: str, password: str = PASSWORD) -> FlaskClient:
    """Signed in as the browser would: the password, then the authenticator's code where there is one."""
    client = app.test_client()
    login(client, get_user(app, username), password)
    return client


def get_user(app, username: str) -> User | None:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        if user is not None:
            db.session.expunge(user)
        return user


def enrol(client: FlaskClient) -> None:
    """Enrol an authenticator app, as the person does on the page (scan, type the code)."""
    client.get("/account/second-factor")
    with client.session_transaction() as current:
        secret = current["totp_pending"]
    response = client.post("/account/second-factor", data={"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 200, response.get_data(as_text=True)


def errors_in(html: str) -> dict[str, str]:
    return dict(re.findall(r'<p class="error" id="e-([^"]+)">([^<]*)</p>', html))


def test_login_lands_on_the_users_work_and_logout_ends_the_session(app):
    username = create(app, "reception", centre="FAG")
    client = app.test_client()
    assert 'name="username"' in client.get("/login").get_data(as_text=True)
    response = client.post("/login", data={"username": f"  {username.upper()} ", "password": PASSWORD})
    assert (response.status_code, response.location) == (302, "/")
    assert client.get("/").location == "/arrivals/"
    assert client.get("/arrivals/").status_code == 200
    user = get_user(app, username)
    assert user.last_login_at is not None
    with app.app_context():
        assert (
            db.session.scalar(select(AuditEvent.action).where(AuditEvent.user_id == user.id)) == "user:login"
        )

    response = client.post("/logout")
    assert (response.status_code, response.location) == (302, "/login")
    assert "Sesión cerrada." in client.get("/login").get_data(as_text=True)
    assert client.get("/arrivals/").location.startswith("/login")


@pytest.mark.parametrize(("username", "password"), [("recepcion", "wrong-password-1"), ("nadie", PASSWORD)])
def test_wrong_password_or_unknown_user_get_the_same_spanish_message(app, username, password):
    create(app, "reception", centre="FAG", username="recepcion")
    response = app.test_client().post("/login", data={"username": username, "password": password})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert errors_in(html) == {"password": WRONG}
    assert f'value="{username}"' in html  # the username is kept...
    assert password not in html  # ... the password never comes back


def test_an_inactive_account_cannot_log_in_and_loses_its_session(app):
    username = create(app, "coordinator")
    client = signed_in(app, username)
    with app.app_context():
        db.session.scalar(select(User).where(User.username == username)).is_active_account = False
        db.session.commit()
    assert client.get("/cases/").location.startswith("/login")
    response = app.test_client().post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 400
    assert errors_in(response.get_data(as_text=True)) == {"password": WRONG}


@pytest.mark.parametrize(
    ("target", "lands_on"),
    [
        ("/cases/", "/cases/"),
        ("/cases/?page=2", "/cases/?page=2"),
        ("//evil.com", "/"),
        ("http://evil.com", "/"),
        ("https://evil.com/cases/", "/"),
        ("/\\evil.com", "/"),
        ("///evil.com", "/"),
        ("javascript:alert(1)", "/"),
        ("cases", "/"),
    ],
)
def test_next_after_login_only_goes_to_this_site(app, target, lands_on):
    username = create(app, "reception")
    response = app.test_client().post(
        "/login", query_string={"next": target}, data={"username": username, "password": PASSWORD}
    )
    assert response.location == lands_on


@pytest.mark.parametrize(("target", "lands_on"), [("/cases/?page=2", "/cases/?page=2"), ("//evil.com", "/")])
def test_next_is_kept_through_the_second_factor(app, target, lands_on):
    username = create(app, "coordinator")
    client = app.test_client()
    response = client.post(
        "/login", query_string={"next": target}, data={"username": username, "password": PASSWORD}
    )
    assert response.location == "/login/code"
    assert client.post("/login/code", data={"code": totp_code()}).location == lands_on


def test_every_page_needs_a_login(app):
    checked = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        url = rule.build({arg: 1 for arg in rule.arguments})[1]
        for method in sorted({"GET", "POST"} & rule.methods):
            response = app.test_client().open(url, method=method)
            checked.append((method, url))
            if url.startswith("/api/"):  # the JSON API says it, with no page to send anyone to
                assert response.status_code == 401, (method, url)
                assert response.json["code"] == 401
                continue
            assert response.status_code == 302, (method, url)
            assert response.location.startswith("/login"), (method, url)
    assert ("GET", "/cases/1/edit") in checked and ("POST", "/logout") in checked
    assert ("GET", "/api/v1/families/1") in checked


def test_health_check_and_login_page_are_public(app):
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/login").status_code == 200


def test_passwords_are_stored_as_argon2id_hashes(app):
    user = get_user(app, create(app, "coordinator"))
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


@pytest.fixture
def csrf_app(database_url) -> Iterator:
    protected = make_app(database_url, WTF_CSRF_ENABLED=True)
    yield protected
    with protected.app_context():
        db.engine.dispose()


def csrf_token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_forms_without_a_csrf_token_are_refused(app, csrf_app):
    username = create(app, "reception", centre="FAG")
    client = csrf_app.test_client()
    refused = client.post("/login", data={"username": username, "password": PASSWORD})
    assert refused.status_code == 400
    assert "El formulario caducó o no es válido." in refused.get_data(as_text=True)

    token = csrf_token(client.get("/login").get_data(as_text=True))
    logged_in = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert logged_in.status_code == 302

    arrival = {"centre": "FAG", "arrived_at": "2026-01-05T10:00", "mode": "air", "country": "US"}
    assert client.post("/arrivals/new", data=arrival).status_code == 400
    token = csrf_token(client.get("/arrivals/new").get_data(as_text=True))
    assert client.post("/arrivals/new", data={**arrival, "csrf_token": token}).status_code == 302


@pytest.fixture
def limited_app(database_url) -> Iterator:
    # The limiter is one object shared by every app; put it back as the session's app expects.
    was_enabled = limiter.enabled
    limited = make_app(database_url, RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")
    yield limited
    limiter.reset()
    limiter.enabled = was_enabled
    with limited.app_context():
        db.engine.dispose()


def test_too_many_login_attempts_are_slowed_down(app, limited_app):
    username = create(app, "coordinator")
    client = limited_app.test_client()
    for _ in range(3):
        assert (
            client.post("/login", data={"username": username, "password": "guess-guess-1"}).status_code == 400
        )
    blocked = client.post("/login", data={"username": username, "password": PASSWORD})
    assert blocked.status_code == 429
    assert "Demasiados intentos. Espere un momento y vuelva a intentarlo." in blocked.get_data(as_text=True)
    assert client.get("/login").status_code == 200  # only attempts are limited, not the page


@pytest.fixture
def throttled_app(database_url) -> Iterator:
    was_enabled = limiter.enabled
    throttled = make_app(
        database_url,
        RATELIMIT_ENABLED=True,
        LOGIN_RATE_LIMIT="100 per minute",
        LOGIN_FREE_ATTEMPTS=2,
        LOGIN_MAX_DELAY_SECONDS=4,
    )
    yield throttled
    limiter.reset()
    limiter.enabled = was_enabled
    with throttled.app_context():
        db.engine.dispose()


def test_guessing_one_account_from_many_addresses_is_slowed_down_not_locked(app, throttled_app):
    username = create(app, "reception")
    other = create(app, "reception")

    def attempt(user: str, address: str, password: str = "guess-guess-1"):  # noqa: S107
        client = throttled_app.test_client()
        data = {"username": user, "password": password}
        return client.post("/login", data=data, environ_base={"REMOTE_ADDR": address})

    assert [attempt(username, f"10.0.0.{n}").status_code for n in range(1, 4)] == [400, 400, 400]
    waiting = attempt(username, "10.0.0.9", PASSWORD)  # a fourth address, even the right password
    assert waiting.status_code == 429
    wait = int(waiting.headers["Retry-After"])
    assert 1 <= wait <= 4
    assert f"Espere {wait} segundos" in waiting.get_data(as_text=True)
    assert attempt(other, "10.0.0.10").status_code == 400  # other accounts are not affected
    time.sleep(wait + 0.1)
    # The delay is over: the real user signs in from wherever it is; nobody could lock it out for longer.
    assert attempt(username, "10.0.0.11", PASSWORD).status_code == 302
    # ... and the success started the count again.
    assert attempt(username, "10.0.0.12").status_code == 400


def new_user_form(**overrides: str) -> dict[str, str]:
    form = {
        "username": "recepcion.fag",
        "full_name": "Ana Recepción",
        "role": "reception",
        "centre": "FAG",
        "password": "a-long-password-1",
        "is_active": "true",
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def test_admin_creates_a_reception_user_bound_to_a_centre(app):
    admin_name = create(app, "admin")
    admin = signed_in(app, admin_name)
    assert admin.get("/admin/users/new").status_code == 200
    response = admin.post("/admin/users/new", data=new_user_form())
    assert (response.status_code, response.location) == (302, "/admin/users")
    page = admin.get("/admin/users").get_data(as_text=True)
    assert "Usuario recepcion.fag creado." in page

    user = get_user(app, "recepcion.fag")
    assert (user.role, user.full_name, user.is_active_account) == ("reception", "Ana Recepción", True)
    with app.app_context():
        assert db.session.get(User, user.id).centre.code == "FAG"
        event = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "user:create", AuditEvent.subject_id == user.id)
        )
        assert event.user_id == get_user(app, admin_name).id
    assert (user.must_change_password, user.access_pending) == (True, True)
    newcomer = signed_in(app, "recepcion.fag", "a-long-password-1")
    assert newcomer.get("/arrivals/new").location == "/account/password"
    newcomer.post(
        "/account/password",
        data={
            "current_password": "a-long-password-1",
            "password": "su-propia-frase-larga",
            "password_confirm": "su-propia-frase-larga",
        },
    )
    # Its own second factor too, before anyone approves it.
    assert newcomer.get("/arrivals/new").location == "/account/second-factor"
    enrol(newcomer)
    assert newcomer.get("/arrivals/new").location == "/account/pending"
    signed_in(app, create(app, "coordinator")).post(
        f"/admin/approvals/{user.id}", data={"decision": "approve"}
    )
    assert newcomer.get("/arrivals/new").status_code == 200


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"centre": None}, "centre", "Un usuario de recepción debe tener un centro."),
        ({"role": "sede", "centre": None}, "sede", "Un usuario de sede debe tener una sede."),
        ({"password": "corta"}, "password", "La contraseña debe tener al menos 10 caracteres."),
        (
            {"username": "Ana López"},
            "username",
            "Use de 3 a 60 letras minúsculas sin tildes, números, punto, guion o guion bajo.",
        ),
        ({"username": "existente"}, "username", "Ya existe un usuario con ese nombre."),
        ({"centre": "NOWHERE"}, "centre", "Elija un centro de recepción de la lista."),
    ],
)
def test_user_form_errors_are_shown_beside_their_field(app, overrides, field, message):
    create(app, "coordinator", username="existente")
    admin = signed_in(app, create(app, "admin"))
    response = admin.post("/admin/users/new", data=new_user_form(**overrides))
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert errors_in(html) == {field: message}
    assert 'value="Ana Recepción"' in html
    assert "a-long-password-1" not in html
    with app.app_context():  # nobody was added: only "existente" and the admin
        assert db.session.scalar(select(func.count(User.id))) == 2


def test_editing_a_user_with_a_blank_password_keeps_the_old_one(app):
    username = create(app, "reception", centre="FAG")
    before = get_user(app, username)
    admin = signed_in(app, create(app, "admin"))
    assert f'value="{before.full_name}"' in admin.get(f"/admin/users/{before.id}").get_data(as_text=True)
    form = {
        "full_name": "Nombre Nuevo",
        "role": "sede",
        "sede": "QUICHE",
        "password": "",
        "is_active": "true",
    }
    assert admin.post(f"/admin/users/{before.id}", data=form).status_code == 302

    after = get_user(app, username)
    assert (after.full_name, after.role, after.centre_id, after.password_hash) == (
        "Nombre Nuevo",
        "sede",
        None,
        before.password_hash,
    )
    moved = signed_in(app, username)  # same password as before
    # A new role: the person's own second factor, then a second person's approval.
    assert moved.get("/arrivals/").location == "/account/second-factor"
    enrol(moved)
    assert moved.get("/arrivals/").location == "/account/pending"
    signed_in(app, create(app, "coordinator")).post(
        f"/admin/approvals/{before.id}", data={"decision": "approve"}
    )
    assert moved.get("/arrivals/").status_code == 403  # a sede user now: no reception desk

    form["password"] = "another-password-2"
    assert admin.post(f"/admin/users/{before.id}", data=form).status_code == 302
    assert moved.get("/followup/").location.startswith("/login")  # a reset ends its sessions
    reset = app.test_client()
    reset.post("/login", data={"username": username, "password": "another-password-2"})
    assert reset.get("/followup/").location == "/login/code"  # its own phone, which the admin has not


@pytest.mark.parametrize(
    "change", [{"role": "coordinator"}, {"is_active": None}], ids=["demote", "deactivate"]
)
def test_an_admin_cannot_demote_or_deactivate_themselves(app, change):
    admin_name = create(app, "admin")
    me = get_user(app, admin_name)
    admin = signed_in(app, admin_name)
    form = {"full_name": "Yo", "role": "admin", "is_active": "true", **change}
    response = admin.post(f"/admin/users/{me.id}", data={k: v for k, v in form.items() if v is not None})
    assert response.status_code == 400
    assert errors_in(response.get_data(as_text=True)) == {
        "role": "No puede quitarse a sí mismo el rol de administrador ni desactivarse."
    }
    still = get_user(app, admin_name)
    assert (still.role, still.is_active_account, still.full_name) == ("admin", True, me.full_name)
    assert admin.get("/admin/users").status_code == 200


def test_only_admins_reach_the_user_pages(app):
    coordinator = signed_in(app, create(app, "coordinator"))
    assert coordinator.get("/admin/users").status_code == 403
    assert coordinator.post("/admin/users/new", data=new_user_form(role="admin")).status_code == 403
    assert get_user(app, "recepcion.fag") is None


def test_cli_creates_a_user_reading_the_password_from_stdin(app):
    result = app.test_cli_runner().invoke(
        args=["users", "create", "ana", "--role", "sede", "--sede", "QUICHE"], input="long-password-1\n"
    )
    assert result.exit_code == 0, result.output
    assert "Usuario creado: ana (sede)" in result.output
    assert "long-password-1" not in result.output
    signed_in(app, "ana", "long-password-1")
    with app.app_context():
        ana = db.session.scalar(select(User).where(User.username == "ana"))
        assert (ana.sede.code, ana.full_name) == ("QUICHE", "ana")


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (["--role", "sede", "--sede", "NOWHERE"], "long-password-1", "sede: Elija una sede de la lista."),
        (["--role", "sede"], "long-password-1", "sede: Un usuario de sede debe tener una sede."),
        (["--role", "admin"], "short", "password: La contraseña debe tener al menos 10 caracteres."),
    ],
)
def test_cli_explains_what_is_wrong_and_creates_nothing(app, args, password, message):
    result = app.test_cli_runner().invoke(args=["users", "create", "ana", *args], input=f"{password}\n")
    assert result.exit_code == 1
    assert message in result.output
    assert get_user(app, "ana") is None


def test_language_choice_is_kept_in_the_session_and_on_the_account(app):
    anonymous = app.test_client()
    response = anonymous.post("/language", data={"locale": "en", "next": "//evil.com"})
    assert (response.status_code, response.location) == (302, "/")
    with anonymous.session_transaction() as session:
        assert session["locale"] == "en"

    username = create(app, "coordinator")
    client = signed_in(app, username)
    response = client.post("/language", data={"locale": "en", "next": "/cases/"})
    assert (response.status_code, response.location) == (302, "/cases/")
    assert get_user(app, username).locale == "en"
    assert client.post("/language", data={"locale": "es_GT"}).status_code == 302
    assert get_user(app, username).locale == "es_GT"


def test_an_unknown_language_is_refused(app):
    client = app.test_client()
    assert client.post("/language", data={"locale": "fr"}).status_code == 400
    with client.session_transaction() as session:
        assert "locale" not in session


def test_a_hash_made_with_other_argon2_parameters_is_renewed_at_login(app, client):
    from argon2 import PasswordHasher

    from sosep_migrantes.auth.models import User
    from sosep_migrantes.extensions import db

    with app.app_context():
        user = make_user("coordinator", username="vieja")
        user.password_hash = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4).hash(PASSWORD)
        db.session.commit()
        db.session.remove()
    assert client.post("/login", data={"username": "vieja", "password": PASSWORD}).status_code == 302
    with app.app_context():
        renewed = db.session.scalar(db.select(User).where(User.username == "vieja")).password_hash
    # The suite hashes with the cheapest parameters (tests/conftest.py): the hash now carries those.
    assert renewed.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
