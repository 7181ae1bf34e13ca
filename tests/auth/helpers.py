"""Accounts for tests that sign several people in: each request must get an application context of its
own (Flask-Login keeps the signed-in user on it), so the database is read in short contexts here."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from flask.testing import FlaskClient

from sosep_migrantes.auth.models import User
from sosep_migrantes.extensions import db
from tests.factories import login, make_user


def within(app, read: Callable[[], Any]) -> Any:
    with app.app_context():
        try:
            return read()
        finally:
            db.session.remove()


def snapshot(user: User) -> SimpleNamespace:
    return SimpleNamespace(
        id=user.id,
        username=user.username,
        full_name=user.full_name,
        totp_secret=user.totp_secret,
        access_pending=user.access_pending,
        must_change_password=user.must_change_password,
        is_active_account=user.is_active_account,
    )


def account(app, role: str, **kwargs: Any) -> SimpleNamespace:
    return within(app, lambda: snapshot(make_user(role, **kwargs)))


def reload(app, user_id: int) -> SimpleNamespace:
    return within(app, lambda: snapshot(db.session.get(User, user_id)))


def signed_in(app, user: Any) -> FlaskClient:
    client = app.test_client()
    login(client, user)
    return client
