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
from . import second_factor, sessions, tokens
from .models import User, _hasher, verify_password
from .passwords import password_problem
from .sessions import EndReason


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


def sign_in(user: User) -> None:
    """A new server-side session; the second factor is still owed if the account has one."""
    sessions.start(user, second_factor_done=not user.has_second_factor)


def pass_second_factor(user: User, code: str) -> bool:
    """Check a code (app or recovery); on success the session is renewed as fully signed in."""
    if not second_factor.verify(user, code):
        return False
    sessions.renew(user, EndReason.SECOND_FACTOR, second_factor_done=True)
    return True


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


def password_context(username: str, full_name: str) -> list[str]:
    """What a password must not be built on: the account's own name and user name."""
    return [username, full_name, *full_name.split(), *username.replace(".", " ").replace("_", " ").split()]


def check_password_rules(password: str, username: str, full_name: str, field: str = "password") -> None:
    problem = password_problem(password, context=password_context(username, full_name))
    if problem:
        raise ServiceError({field: str(problem)})


def _request_access(user: User, actor: User) -> None:
    """Two-person rule: what an admin grants or restores waits for a second person's approval."""
    user.access_requested_by_id = actor.id
    user.access_requested_at = utcnow()


def create_user(data: dict[str, Any], actor: User | None = None) -> User:
    """Create an account bound to its centre, sede or (partners) institution. The password is hashed
    with argon2id.

    Made by an admin (``actor``), the account must choose its own password (and, where its role needs
    one, a second factor) at its first sign-in, and opens nothing until a second person approves it.
    Made by the server's operator (the command line, no actor), it is active at once.
    """
    username = data["username"].strip().lower()
    if db.session.scalar(select(User.id).where(User.username == username)):
        raise ServiceError({"username": _("Ya existe un usuario con ese nombre.")})
    check_password_rules(data["password"], username, data["full_name"])
    user = User(username=username, full_name=data["full_name"], is_active_account=True)
    _bind(user, data)
    user.set_password(data["password"])
    if actor is not None:
        user.must_change_password = True
        _request_access(user, actor)
    db.session.add(user)
    db.session.flush()
    audit.record(
        AuditAction.USER_CREATE,
        "user",
        user.id,
        role=user.role,
        pending_approval=user.access_pending,
        actor_id=actor.id if actor else None,
    )
    return user


def update_user(user: User, data: dict[str, Any], actor: User) -> User:
    """Change an account's name, role, binding, activity or password.

    A new role or binding, a reactivation or a password reset ends every session of the account and, by the
    two-person rule, waits for a second person's approval; a reset password must be changed at the next
    sign-in. A deactivation ends every session.
    """
    if user.id == actor.id and (data["role"] != Role.ADMIN or not data.get("is_active")):
        raise ServiceError(
            {"role": _("No puede quitarse a sí mismo el rol de administrador ni desactivarse.")}
        )
    if user.id == actor.id and data.get("password"):
        raise ServiceError({"password": _("Cambie su propia contraseña en «Mi cuenta».")})
    if data.get("password"):
        check_password_rules(data["password"], user.username, data["full_name"])
    before = (user.role, user.centre_id, user.sede_id, user.institution_id)
    was_active = user.is_active_account
    user.full_name = data["full_name"]
    _bind(user, data)
    user.is_active_account = bool(data.get("is_active"))
    changed = ["profile"]
    end_reason = None
    if before != (user.role, user.centre_id, user.sede_id, user.institution_id):
        changed.append("role")
        end_reason = EndReason.ROLE
    if data.get("password"):
        user.set_password(data["password"])
        user.must_change_password = True
        changed.append("password")
        end_reason = EndReason.RESET
    if was_active and not user.is_active_account:
        changed.append("deactivated")
        end_reason = EndReason.DEACTIVATED
    elif not was_active and user.is_active_account:
        changed.append("reactivated")
    if user.is_active_account and {"role", "password", "reactivated"} & set(changed):
        _request_access(user, actor)
    ended = sessions.end_all(user, end_reason) if end_reason else 0
    # A token is the account's access too: whatever ends the sessions revokes the tokens.
    revoked = tokens.revoke_all(user) if end_reason else 0
    db.session.flush()
    audit.record(
        AuditAction.USER_UPDATE,
        "user",
        user.id,
        role=user.role,
        changed=changed,
        sessions_ended=ended,
        tokens_revoked=revoked,
        pending_approval=user.access_pending,
        actor_id=actor.id,
    )
    return user


def create_service_token(user: User, name: str, days: int, actor: User) -> tokens.NewToken:
    """An admin makes an API token for a service account (another system's account). Like any access an
    admin grants, it opens nothing until a second person approves it: the account waits for approval
    (two-person rule), so one admin cannot mint a way into case data alone."""
    if user.id == actor.id:
        raise ServiceError({"name": _("Cree sus propios tokens en «Mi cuenta».")})
    new = tokens.create_token(user, name, days, created_by=actor)
    if not user.access_pending:
        _request_access(user, actor)
    return new


def reset_second_factor(user: User, actor: User) -> None:
    """An admin forgets a user's authenticator (a lost phone): every session ends, the user enrols again at
    the next sign-in, and the account waits for a second person's approval."""
    if user.id == actor.id:
        raise ServiceError({"second_factor": _("No puede restablecer su propio segundo factor.")})
    second_factor.reset(user)
    ended = sessions.end_all(user, EndReason.SECOND_FACTOR)
    tokens.revoke_all(user)
    if user.is_active_account:
        _request_access(user, actor)
    audit.record(AuditAction.USER_TOTP_RESET, "user", user.id, sessions_ended=ended, actor_id=actor.id)


#: Who may approve an access an admin granted (never the admin who asked, never the account itself).
APPROVER_ROLES = (Role.ADMIN, Role.COORDINATOR)


def pending_accounts() -> Sequence[User]:
    return db.session.scalars(
        select(User).where(User.access_requested_at.is_not(None)).order_by(User.access_requested_at)
    ).all()


def _check_approver(user: User, approver: User) -> None:
    if (
        approver.role_enum not in APPROVER_ROLES
        or approver.access_pending
        or not approver.is_active
        or approver.id == user.id
    ):
        raise ServiceError({"approval": _("Usted no puede aprobar este acceso.")})
    if approver.id == user.access_requested_by_id:
        raise ServiceError({"approval": _("Otra persona debe aprobarlo: usted pidió este acceso.")})
    if not user.access_pending:
        raise ServiceError({"approval": _("Este acceso ya no espera aprobación.")})


def approve_access(user: User, approver: User) -> None:
    _check_approver(user, approver)
    requested_by = user.access_requested_by_id
    user.access_requested_by_id = None
    user.access_requested_at = None
    audit.record(
        AuditAction.USER_ACCESS_APPROVE,
        "user",
        user.id,
        role=user.role,
        requested_by=requested_by,
        actor_id=approver.id,
    )


def reject_access(user: User, approver: User) -> None:
    """Refuse it: the account is deactivated and its sessions end."""
    _check_approver(user, approver)
    requested_by = user.access_requested_by_id
    user.access_requested_by_id = None
    user.access_requested_at = None
    user.is_active_account = False
    sessions.end_all(user, EndReason.DEACTIVATED)
    tokens.revoke_all(user)
    audit.record(
        AuditAction.USER_ACCESS_REJECT,
        "user",
        user.id,
        role=user.role,
        requested_by=requested_by,
        actor_id=approver.id,
    )


def user_by_username(username: str) -> User | None:
    return db.session.scalar(select(User).where(User.username == username.strip().lower()))


def reset_second_factor_by_operator(user: User) -> None:
    second_factor.reset(user)
    ended = sessions.end_all(user, EndReason.SECOND_FACTOR)
    tokens.revoke_all(user)
    audit.record(AuditAction.USER_TOTP_RESET, "user", user.id, sessions_ended=ended, operator=True)


def approve_by_operator(user: User) -> None:
    """``flask users approve``: the server's operator, who holds the database anyway, approves."""
    user.access_requested_by_id = None
    user.access_requested_at = None
    audit.record(AuditAction.USER_ACCESS_APPROVE, "user", user.id, role=user.role, operator=True)


def change_own_password(user: User, data: dict[str, Any]) -> None:
    """The user chooses a new password: the current one proves it is the user; every other session ends."""
    if not user.check_password(data["current_password"]):
        raise ServiceError({"current_password": _("La contraseña actual no es correcta.")})
    if data["password"] != data["password_confirm"]:
        raise ServiceError({"password_confirm": _("Las dos contraseñas nuevas no coinciden.")})
    if verify_password(user.password_hash, data["password"]):
        raise ServiceError({"password": _("La nueva contraseña debe ser distinta de la actual.")})
    check_password_rules(data["password"], user.username, user.full_name)
    user.set_password(data["password"])
    user.must_change_password = False
    ended = sessions.end_all(user, EndReason.PASSWORD, keep=sessions.current())
    audit.record(AuditAction.USER_PASSWORD, "user", user.id, sessions_ended=ended, actor_id=user.id)


def end_other_sessions(user: User) -> int:
    ended = sessions.end_all(user, EndReason.BY_USER, keep=sessions.current())
    audit.record(AuditAction.USER_SESSIONS_END, "user", user.id, sessions_ended=ended, actor_id=user.id)
    return ended


def end_session(user: User, session_id: int) -> bool:
    ended = sessions.end_one(user, session_id)
    if ended:
        audit.record(AuditAction.USER_SESSIONS_END, "user", user.id, sessions_ended=1, actor_id=user.id)
    return ended


def logout(user: User) -> None:
    sessions.end_current(EndReason.LOGOUT)
    audit.record(AuditAction.USER_LOGOUT, "user", user.id, actor_id=user.id)


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
