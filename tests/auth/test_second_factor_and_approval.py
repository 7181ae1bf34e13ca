"""Second factor, forced password change and the two-person rule (issue #10, items 2 and 3).

The two-person rule is tried the way an admin alone would try to get round it: every sequence of its own
actions (create an account, reset a password or a second factor, change a role, reactivate, approve) ends
on the waiting page, never on a case.
"""

from __future__ import annotations

from types import SimpleNamespace

import pyotp
import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from sosep_migrantes.auth.models import RecoveryCode, User
from sosep_migrantes.core.audit import AuditEvent
from sosep_migrantes.extensions import db
from tests.auth.helpers import account, reload, signed_in, snapshot, within
from tests.factories import PASSWORD, make_arrival, make_family, make_user, totp_code

NEW_PASSWORD = "mi-propia-frase-secreta"
ADMIN_CHOSEN = "frase-elegida-por-admin"


@pytest.fixture
def case_id(app):
    def build() -> int:
        reception = make_user("reception", centre="FAG")
        return make_family(reception, make_arrival(reception)).id

    return within(app, build)


def test_a_coordinator_must_enrol_before_any_case_page(app, case_id):
    def without_phone() -> SimpleNamespace:
        user = make_user("coordinator")
        user.totp_secret = None
        db.session.commit()
        return snapshot(user)

    coordinator = within(app, without_phone)
    client = app.test_client()
    assert (
        client.post("/login", data={"username": coordinator.username, "password": PASSWORD}).status_code
        == 302
    )
    response = client.get(f"/cases/{case_id}")
    assert response.status_code == 302 and response.location == "/account/second-factor"
    page = client.get("/account/second-factor").get_data(as_text=True)
    assert "<svg" in page
    with client.session_transaction() as current:
        secret = current["totp_pending"]
    wrong = client.post("/account/second-factor", data={"code": "000000"})
    assert wrong.status_code == 400 and "no es correcto" in wrong.get_data(as_text=True)
    enrolled = client.post("/account/second-factor", data={"code": pyotp.TOTP(secret).now()})
    codes = enrolled.get_data(as_text=True)
    assert enrolled.status_code == 200 and "no se volverán a mostrar" in codes
    assert within(app, lambda: db.session.scalar(select(func.count()).select_from(RecoveryCode))) == 10
    assert client.get(f"/cases/{case_id}").status_code == 200
    assert reload(app, coordinator.id).totp_secret == secret


def test_sign_in_asks_for_the_code_and_refuses_a_replayed_one(app, case_id):
    coordinator = account(app, "coordinator")
    client = app.test_client()
    response = client.post("/login", data={"username": coordinator.username, "password": PASSWORD})
    assert response.location == "/login/code"
    assert client.get(f"/cases/{case_id}").location == "/login/code"
    assert client.get("/account/password").location == "/login/code"  # not even its own account pages
    code = totp_code()
    assert client.post("/login/code", data={"code": code}).status_code == 302
    assert client.get(f"/cases/{case_id}").status_code == 200
    other = app.test_client()
    other.post("/login", data={"username": coordinator.username, "password": PASSWORD})
    replayed = other.post("/login/code", data={"code": code})
    assert replayed.status_code == 400 and "ya se usó" in replayed.get_data(as_text=True)
    assert other.get(f"/cases/{case_id}").status_code == 302


def test_a_recovery_code_works_once(app, case_id):
    coordinator = account(app, "coordinator")
    client = signed_in(app, coordinator)
    page = client.post("/account/recovery-codes", data={"code": "999999"})
    assert page.status_code == 302  # a wrong code changes nothing

    def forget_step() -> None:
        db.session.execute(db.update(User).values(totp_last_step=None))
        db.session.commit()

    within(app, forget_step)
    codes_page = client.post("/account/recovery-codes", data={"code": totp_code()}).get_data(as_text=True)
    import re

    codes = re.findall(r"<code>([a-z0-9]{5}-[a-z0-9]{5})</code>", codes_page)
    assert len(codes) == 10
    for attempt, expected in ((codes[0], 200), (codes[0].upper().replace("-", " "), 302)):
        phone_lost = app.test_client()
        phone_lost.post("/login", data={"username": coordinator.username, "password": PASSWORD})
        phone_lost.post("/login/code", data={"code": attempt})
        assert phone_lost.get(f"/cases/{case_id}").status_code == expected
    used = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "user:recovery_used")
    assert within(app, lambda: db.session.scalar(used)) == 1


def _admin_creates(app, client: FlaskClient, role: str = "coordinator", **extra: str) -> SimpleNamespace:
    form = {
        "username": "nueva.coord",
        "full_name": "Nueva Coordinadora",
        "role": role,
        "password": ADMIN_CHOSEN,
        "is_active": "y",
    }
    form |= extra
    response = client.post("/admin/users/new", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)
    return within(
        app, lambda: snapshot(db.session.scalars(select(User).where(User.username == form["username"])).one())
    )


def _take_over(app, user: SimpleNamespace, password: str = ADMIN_CHOSEN) -> FlaskClient:
    """What the admin does next: sign in with the password it chose, change it, enrol a phone."""
    client = app.test_client()
    assert client.post("/login", data={"username": user.username, "password": password}).status_code == 302
    if reload(app, user.id).totp_secret:
        return client  # someone else's phone: the admin is stuck at the code
    assert client.get("/").location == "/account/password"
    response = client.post(
        "/account/password",
        data={"current_password": password, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    if client.get("/").location == "/account/second-factor":
        client.get("/account/second-factor")
        with client.session_transaction() as current:
            secret = current["totp_pending"]
        client.post("/account/second-factor", data={"code": pyotp.TOTP(secret).now()})
    return client


def test_an_admin_alone_cannot_reach_a_case(app, case_id):
    admin = account(app, "admin")
    admin_client = signed_in(app, admin)
    created = _admin_creates(app, admin_client)
    client = _take_over(app, created)
    response = client.get(f"/cases/{case_id}")
    assert response.status_code == 302 and response.location == "/account/pending"
    assert client.get("/account/pending").status_code == 200
    assert client.get("/followup/").location == "/account/pending"
    # It cannot approve its own request, nor can the pending account approve itself.
    refused = admin_client.post(
        f"/admin/approvals/{created.id}", data={"decision": "approve"}, follow_redirects=True
    )
    assert "Otra persona debe aprobarlo" in refused.get_data(as_text=True)
    client.post(f"/admin/approvals/{created.id}", data={"decision": "approve"})
    # A second admin made by the first is pending too, so it cannot approve anything either.
    helper = _admin_creates(app, admin_client, role="admin", username="otro.admin")
    helper_client = _take_over(app, helper)
    helper_client.post(f"/admin/approvals/{created.id}", data={"decision": "approve"})
    assert reload(app, created.id).access_pending
    assert client.get(f"/cases/{case_id}").status_code == 302
    # Restoring access to an existing coordinator by a password reset: pending again.
    coordinator = account(app, "coordinator", username="coord.real")
    admin_client.post(
        f"/admin/users/{coordinator.id}",
        data={"full_name": "Coord", "role": "coordinator", "password": ADMIN_CHOSEN, "is_active": "y"},
    )
    assert reload(app, coordinator.id).access_pending and reload(app, coordinator.id).must_change_password
    stuck = _take_over(app, reload(app, coordinator.id))
    assert stuck.get(f"/cases/{case_id}").location in ("/login/code", "/account/pending")
    # ... and resetting its second factor as well: still pending.
    admin_client.post(f"/admin/users/{coordinator.id}/second-factor/reset")
    reset = _take_over(app, reload(app, coordinator.id))
    assert reset.get(f"/cases/{case_id}").location == "/account/pending"


def test_a_second_person_approves_and_it_is_audited(app, case_id):
    admin = account(app, "admin")
    created = _admin_creates(app, signed_in(app, admin), role="sede", sede="HUEHUETENANGO")
    client = _take_over(app, created)
    coordinator = account(app, "coordinator")
    coordinator_client = signed_in(app, coordinator)
    page = coordinator_client.get("/admin/approvals").get_data(as_text=True)
    assert "nueva.coord" in page and admin.username in page
    response = coordinator_client.post(f"/admin/approvals/{created.id}", data={"decision": "approve"})
    assert response.status_code == 302
    assert client.get("/followup/").status_code == 200
    event = within(
        app,
        lambda: db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "user:access_approve")
        ).one(),
    )
    assert (event.user_id, event.subject_id, event.details["requested_by"]) == (
        coordinator.id,
        created.id,
        admin.id,
    )
    assert "nueva.coord" in coordinator_client.get("/admin/approvals").get_data(as_text=True)


def test_a_refused_access_deactivates_the_account(app):
    admin, other_admin = account(app, "admin"), account(app, "admin")
    created = _admin_creates(app, signed_in(app, admin), role="reception", centre="FAG")
    client = _take_over(app, created)
    signed_in(app, other_admin).post(f"/admin/approvals/{created.id}", data={"decision": "reject"})
    assert not reload(app, created.id).is_active_account
    assert client.get("/account/pending").status_code == 302


def test_the_operator_approves_from_the_command_line(app):
    admin = account(app, "admin")
    created = _admin_creates(app, signed_in(app, admin), role="reception", centre="FAG")
    result = app.test_cli_runner().invoke(args=["users", "approve", created.username])
    assert result.exit_code == 0 and "aprobado" in result.output
    assert not reload(app, created.id).access_pending


def test_an_account_made_by_the_operator_is_active_at_once(app, case_id):
    coordinator = account(app, "coordinator")  # the factories go through the same service as the CLI
    assert not coordinator.access_pending and not coordinator.must_change_password
    assert signed_in(app, coordinator).get(f"/cases/{case_id}").status_code == 200


def test_forced_password_change_refuses_weak_and_unchanged_passwords(app):
    admin = account(app, "admin")
    created = _admin_creates(app, signed_in(app, admin), role="reception", centre="FAG")
    client = app.test_client()
    client.post("/login", data={"username": created.username, "password": ADMIN_CHOSEN})
    for new, _field in ((ADMIN_CHOSEN, "password"), ("1234567890", "password"), ("nueva.coord", "password")):
        response = client.post(
            "/account/password",
            data={"current_password": ADMIN_CHOSEN, "password": new, "password_confirm": new},
        )
        assert response.status_code == 400, new
        assert 'id="e-password"' in response.get_data(as_text=True)
    mismatch = client.post(
        "/account/password",
        data={"current_password": ADMIN_CHOSEN, "password": NEW_PASSWORD, "password_confirm": "otra"},
    )
    assert 'id="e-password_confirm"' in mismatch.get_data(as_text=True)
    assert client.get("/").location == "/account/password"
