"""Accounts: authentication and management."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select

from ..catalogs.models import Institution
from ..catalogs.services import by_code, centre_by_code, sede_by_code
from ..core import audit
from ..core.audit import AuditAction
from ..core.errors import ServiceError
from ..core.permissions import Role
from ..db import utcnow
from ..extensions import db
from .models import User, _hasher, verify_password


@cache
def _dummy_hash() -> str:
    """Verifying against a dummy hash when the user does not exist keeps the timing the same, so the
    login form does not reveal which usernames exist. Made on the first failed look-up, not at start-up."""
    return _hasher.hash("sosep-migrantes-dummy-password")


def authenticate(username: str, password: str) -> User | None:
    user: User | None = db.session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        verify_password(_dummy_hash(), password)
        return None
    if not user.check_password(password) or not user.is_active:
        return None
    user.last_login_at = utcnow()
    audit.record(AuditAction.USER_LOGIN, "user", user.id, actor_id=user.id)
    return user


def list_users() -> Sequence[User]:
    return db.session.scalars(select(User).order_by(User.role, User.username)).all()


def count_admins() -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.role == Role.ADMIN, User.is_active_account.is_(True))
        )
        or 0
    )


def _bind(user: User, data: dict[str, Any]) -> None:
    errors: dict[str, str] = {}
    role = Role(data["role"])
    # Look the centre or sede up before touching the user: a query autoflushes, and a user flushed
    # half-changed (a reception user without its centre) breaks the table's role checks.
    centre = centre_by_code(data.get("centre") or "") if role is Role.RECEPTION else None
    sede = sede_by_code(data.get("sede") or "") if role is Role.SEDE else None
    institution = by_code(Institution, data.get("institution") or "") if role is Role.PARTNER else None
    if role is Role.RECEPTION and centre is None:
        errors["centre"] = _("Elija un centro de recepción de la lista.")
    if role is Role.SEDE and sede is None:
        errors["sede"] = _("Elija una sede de la lista.")
    # A deactivated institution takes no new users, but one of its users can still be edited.
    if role is Role.PARTNER and (
        institution is None or not (institution.is_active or institution.id == user.institution_id)
    ):
        errors["institution"] = _("Elija una institución de la lista.")
    if errors:
        raise ServiceError(errors)
    user.centre_id = centre.id if centre else None
    user.sede_id = sede.id if sede else None
    user.institution_id = institution.id if institution else None
    user.role = role


def create_user(data: dict[str, Any], actor: User | None = None) -> User:
    """Create an account bound to its centre, sede or (partners) institution. The password is hashed
    with argon2id."""
    username = data["username"].strip().lower()
    if db.session.scalar(select(User.id).where(User.username == username)):
        raise ServiceError({"username": _("Ya existe un usuario con ese nombre.")})
    user = User(username=username, full_name=data["full_name"], is_active_account=True)
    _bind(user, data)
    user.set_password(data["password"])
    db.session.add(user)
    db.session.flush()
    audit.record(
        AuditAction.USER_CREATE, "user", user.id, role=user.role, actor_id=actor.id if actor else None
    )
    return user


def update_user(user: User, data: dict[str, Any], actor: User) -> User:
    """Change an account's name, role, binding, activity or password."""
    if user.id == actor.id and (data["role"] != Role.ADMIN or not data.get("is_active")):
        raise ServiceError(
            {"role": _("No puede quitarse a sí mismo el rol de administrador ni desactivarse.")}
        )
    user.full_name = data["full_name"]
    _bind(user, data)
    user.is_active_account = bool(data.get("is_active"))
    changed = ["profile"]
    if data.get("password"):
        user.set_password(data["password"])
        changed.append("password")
    db.session.flush()
    audit.record(AuditAction.USER_UPDATE, "user", user.id, role=user.role, changed=changed, actor_id=actor.id)
    return user


def set_locale(user: User, locale: str) -> None:
    user.locale = locale
    audit.record(AuditAction.USER_LOCALE, "user", user.id, locale=locale, actor_id=user.id)


SYSTEM_USERNAME = "sistema"


def system_user() -> User:
    """The inactive account that command-line jobs (demo data, imports) act as; nobody can log in with it."""
    import secrets

    user = db.session.scalar(select(User).where(User.username == SYSTEM_USERNAME))
    if user is None:
        user = User(
            username=SYSTEM_USERNAME,
            full_name="Sistema",
            role=Role.COORDINATOR,
            is_active_account=False,
        )
        user.set_password(secrets.token_urlsafe(32))
        db.session.add(user)
        db.session.flush()
        audit.record(AuditAction.USER_CREATE, "user", user.id, role=user.role, system=True)
    return user


def users_by_id(ids: Iterable[int]) -> dict[int, User]:
    """The accounts with these ids (the audit log names who did each thing)."""
    wanted = set(ids)
    if not wanted:
        return {}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(wanted)))}
