"""Personal API tokens: made and revoked by their owner (or the operator for a service account), shown
once, stored hashed, with an expiry and the last use; a token opens nothing its account could not."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from types import SimpleNamespace

import pytest
from sqlalchemy import select, update

from sosep_migrantes.auth import services as auth_services
from sosep_migrantes.auth.models import ApiToken, User
from sosep_migrantes.core.audit import AuditEvent
from sosep_migrantes.extensions import db, limiter
from tests.api.helpers import Integration, token_for, user_with_token
from tests.conftest import make_app
from tests.factories import PASSWORD, login, make_user


def _token_row(app, secret: str) -> ApiToken | None:
    with app.app_context():
        row = db.session.scalar(
            select(ApiToken).where(ApiToken.token_hash == hashlib.sha256(secret.encode()).hexdigest())
        )
        db.session.expunge_all()
        return row


def test_a_user_makes_a_token_in_its_account_sees_it_once_and_revokes_it(app) -> None:
    with app.app_context():
        user_id = make_user("reception", centre="FAG", username="recepcion.api").id
        db.session.remove()
    client = app.test_client()
    login(client, type("U", (), {"username": "recepcion.api", "totp_secret": None}))
    missing = client.post("/account/tokens", data={"name": "  ", "days": "400"})
    assert missing.status_code == 400
    page = missing.get_data(as_text=True)
    assert "Escriba para qué es el token" in page or "obligatorio" in page
    assert "entre 1 y 365 días" in page

    made = client.post("/account/tokens", data={"name": "Sistema de OIM", "days": "30"})
    assert made.status_code == 200
    secret = re.search(r'value="(sosep_[^"]+)"', made.get_data(as_text=True)).group(1)
    # Only its hash is kept; the account page shows its start, never the token again.
    row = _token_row(app, secret)
    assert row is not None and row.name == "Sistema de OIM" and secret not in row.token_hash
    account = client.get("/account/").get_data(as_text=True)
    assert "Sistema de OIM" in account and row.prefix in account and secret not in account
    # One tokens section, in the page, not in its <title> (a template slip once put it in both).
    assert account.count('id="api-tokens"') == 1
    assert re.search(r"<title>([^<]*)</title>", account).group(1).startswith("Mi cuenta")

    api = Integration(app, secret)
    assert api.get("/catalogs/").status_code == 200
    assert _token_row(app, secret).last_used_at is not None

    assert client.post(f"/account/tokens/{row.id}/revoke").status_code == 302
    assert api.get("/catalogs/").status_code == 401
    with app.app_context():
        actions = db.session.scalars(
            select(AuditEvent.action).where(
                AuditEvent.subject_type == "user", AuditEvent.subject_id == user_id
            )
        ).all()
        assert {"api_token:create", "api_token:revoke"} <= set(actions)


def test_someone_elses_token_cannot_be_revoked(app) -> None:
    with app.app_context():
        _owner, secret = user_with_token("reception", centre="FAG")
        make_user("reception", centre="FAG", username="otra.recepcion")
        token_id = _token_row(app, secret).id
        db.session.remove()
    client = app.test_client()
    login(client, type("U", (), {"username": "otra.recepcion", "totp_secret": None}))
    client.post(f"/account/tokens/{token_id}/revoke")
    assert Integration(app, secret).get("/catalogs/").status_code == 200


def test_an_expired_token_opens_nothing(app) -> None:
    with app.app_context():
        _user, secret = user_with_token("coordinator")
        db.session.execute(
            update(ApiToken).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
        db.session.commit()
    answer = Integration(app, secret).get("/families/")
    assert answer.status_code == 401
    assert "token" in answer.json["message"]


@pytest.mark.parametrize("change", ["deactivate", "role", "reset"])
def test_taking_access_away_revokes_the_tokens(app, change: str) -> None:
    with app.app_context():
        admin = make_user("admin")
        user, secret = user_with_token("sede", sede="HUEHUETENANGO")
        data = {"full_name": user.full_name, "role": "sede", "sede": "HUEHUETENANGO", "is_active": True}
        if change == "deactivate":
            data["is_active"] = False
        elif change == "role":
            data.update(role="reception", centre="FAG", sede=None)
        else:
            data["password"] = "otra-clave-larga-y-nueva-2026"
        auth_services.update_user(user, data, admin)
        db.session.commit()
    assert Integration(app, secret).get("/families/").status_code == 401
    assert _token_row(app, secret).revoked_at is not None


def test_an_account_waiting_for_approval_gets_nothing_through_its_tokens(app) -> None:
    with app.app_context():
        user, secret = user_with_token("sede", sede="HUEHUETENANGO")
        db.session.execute(
            update(User).where(User.id == user.id).values(access_requested_at=dt.datetime.now(dt.UTC))
        )
        db.session.commit()
    assert Integration(app, secret).get("/families/").status_code == 401


def test_malformed_and_unknown_tokens_are_refused_alike(app) -> None:
    client = app.test_client()
    for header in ("Bearer sosep_nothing", "Bearer " + "x" * 5000, "Basic abc", "Bearer", "bearer  "):
        answer = client.get("/api/v1/families/", headers={"Authorization": header})
        assert answer.status_code == 401, header
        assert answer.json["code"] == 401


def test_the_command_line_makes_lists_and_revokes_tokens_for_a_service_account(app) -> None:
    with app.app_context():
        make_user("coordinator", username="integracion.mides")
        db.session.remove()
    runner = app.test_cli_runner(mix_stderr=False) if _mixes_stderr(app) else app.test_cli_runner()
    made = runner.invoke(args=["tokens", "create", "integracion.mides", "--days", "30"])
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip().splitlines()[-1]
    assert secret.startswith("sosep_")
    assert Integration(app, secret).get("/families/").status_code == 200
    listed = runner.invoke(args=["tokens", "list", "integracion.mides"])
    assert "Línea de comandos" in listed.stdout and secret not in listed.stdout
    token_id = listed.stdout.split("\t", 1)[0]
    assert runner.invoke(args=["tokens", "revoke", "integracion.mides", token_id]).exit_code == 0
    assert Integration(app, secret).get("/families/").status_code == 401
    assert runner.invoke(args=["tokens", "create", "nadie", "--days", "30"]).exit_code == 1
    assert runner.invoke(args=["tokens", "create", "integracion.mides", "--days", "0"]).exit_code != 0


def _mixes_stderr(app) -> bool:
    import inspect

    from click.testing import CliRunner

    return "mix_stderr" in inspect.signature(CliRunner.__init__).parameters


def test_a_browser_session_writes_through_the_api_only_with_its_csrf_token(database_url) -> None:
    protected = make_app(database_url, WTF_CSRF_ENABLED=True)
    with protected.app_context():
        user = make_user("reception", centre="FAG", username="recepcion.csrf")
        secret = token_for(user)
        db.session.remove()
    browser = protected.test_client()
    page = browser.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert (
        browser.post(
            "/login", data={"username": "recepcion.csrf", "password": PASSWORD, "csrf_token": csrf}
        ).status_code
        == 302
    )
    # Reading is fine; a write without the token is refused before anything is read or saved.
    assert browser.get("/api/v1/arrivals/").status_code == 200
    forged = browser.post("/api/v1/arrivals/", json={"centre": "FAG"})
    assert forged.status_code == 400
    assert "formulario caducó" in forged.json["message"]
    page = browser.get("/account/").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    with_token = browser.post("/api/v1/arrivals/", json={"centre": "FAG"}, headers={"X-CSRFToken": csrf})
    assert with_token.status_code == 422  # past CSRF: the schema's answer
    # A Bearer token needs no CSRF token: no cookie the browser would send on its own.
    assert Integration(protected, secret).post("/arrivals/", json={"centre": "FAG"}).status_code == 422
    with protected.app_context():
        db.engine.dispose()


def test_an_admin_makes_a_service_accounts_token_that_waits_for_a_second_person(app) -> None:
    """By an admin for a service account (issue #12, item 2), under the two-person rule: the token is shown
    once, opens nothing until another person approves the access, and the admin can revoke it."""
    with app.app_context():
        admin = make_user("admin", username="admin.tokens")
        service = make_user("coordinator", username="sistema.oim")
        approver = make_user("coordinator", username="coordinacion.aprueba")
        service_id, approver_id = service.id, approver.id
        account = SimpleNamespace(id=admin.id, username=admin.username, totp_secret=admin.totp_secret)
        db.session.remove()
    client = app.test_client()
    login(client, account)
    nameless = client.post(f"/admin/users/{service_id}/tokens", data={"name": "", "days": "30"})
    assert nameless.status_code == 400 and "obligatorio" in nameless.get_data(as_text=True)
    made = client.post(f"/admin/users/{service_id}/tokens", data={"name": "Sistema de OIM", "days": "90"})
    assert made.status_code == 200
    page = made.get_data(as_text=True)
    assert "segunda persona" in page
    secret = re.search(r'value="(sosep_[^"]+)"', page).group(1)
    api = Integration(app, secret)
    assert api.get("/families/").status_code == 401  # waits for the second person
    with app.app_context():
        auth_services.approve_access(db.session.get(User, service_id), db.session.get(User, approver_id))
        db.session.commit()
    assert api.get("/families/").status_code == 200
    token_id = _token_row(app, secret).id
    assert client.post(f"/admin/users/{service_id}/tokens/{token_id}/revoke").status_code == 302
    assert api.get("/families/").status_code == 401
    # An admin's own tokens are made in «Mi cuenta», not here.
    with app.app_context():
        admin_id = db.session.scalar(select(User.id).where(User.username == "admin.tokens"))
    own = client.post(f"/admin/users/{admin_id}/tokens", data={"name": "Mío", "days": "30"})
    assert own.status_code == 400 and "Mi cuenta" in own.get_data(as_text=True)


def test_requests_are_limited_per_token_not_per_address(database_url) -> None:
    """API_RATE_LIMIT counts each token apart: one integration's burst does not stop another's."""
    was_enabled = limiter.enabled
    limited = make_app(database_url, RATELIMIT_ENABLED=True, API_RATE_LIMIT="3 per minute")
    try:
        with limited.app_context():
            first = token_for(make_user("coordinator"))
            second = token_for(make_user("coordinator"))
            db.session.remove()
        busy, other = Integration(limited, first), Integration(limited, second)
        assert [busy.get("/catalogs/").status_code for _ in range(3)] == [200] * 3
        refused = busy.get("/catalogs/")
        assert refused.status_code == 429 and refused.json["code"] == 429 and refused.json["message"]
        assert other.get("/catalogs/").status_code == 200
    finally:
        limiter.reset()
        limiter.enabled = was_enabled
        with limited.app_context():
            db.engine.dispose()
