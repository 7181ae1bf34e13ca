"""User accounts. A reception user is bound to one centre, a sede user to one sede."""

from __future__ import annotations

import datetime as dt

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..catalogs.models import Centre, Institution, Sede
from ..core.permissions import ROLE_LABELS, Permission, Role, role_has
from ..db import Base, created_at_col, intpk

#: OWASP's argon2id setting (19 MiB, 2 passes, 1 lane) rather than the library's 64 MiB x 4 lanes: a server
#: worker verifies several logins at once (a shift starting) and each verification holds its memory cost.
#: Hashes made with other parameters still verify (they carry their own) and are renewed at the next login.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class User(UserMixin, Base):  # type: ignore[misc]  # Flask-Login ships no types
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            f"role <> '{Role.RECEPTION.value}' OR centre_id IS NOT NULL", name="reception_has_centre"
        ),
        CheckConstraint(f"role <> '{Role.SEDE.value}' OR sede_id IS NOT NULL", name="sede_user_has_sede"),
        CheckConstraint(
            f"role <> '{Role.PARTNER.value}' OR institution_id IS NOT NULL", name="partner_has_institution"
        ),
    )

    id: Mapped[intpk]
    username: Mapped[str] = mapped_column(String(60), unique=True)
    full_name: Mapped[str] = mapped_column(String(160))
    #: argon2id hash.
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role]
    centre_id: Mapped[int | None] = mapped_column(ForeignKey("centres.id"))
    sede_id: Mapped[int | None] = mapped_column(ForeignKey("sedes.id"))
    #: The institution a partner user answers for.
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"))
    is_active_account: Mapped[bool] = mapped_column(default=True)
    #: ``es_GT`` or ``en``; null means the service default (Spanish).
    locale: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[created_at_col]
    last_login_at: Mapped[dt.datetime | None]
    #: When the user last opened the follow-up inbox ("new since my last visit").
    inbox_seen_at: Mapped[dt.datetime | None]
    #: Set when an admin chose the password (a new account, a reset): the user must choose its own before
    #: anything else opens.
    must_change_password: Mapped[bool] = mapped_column(default=False)
    #: The base32 secret of the user's authenticator app (RFC 6238); null until enrolled.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    #: The 30-second step of the last code accepted: a code is good once (no replay within its window).
    totp_last_step: Mapped[int | None]
    #: Two-person rule: an admin granted or restored access (a role, its binding, a password or second
    #: factor reset, a reactivation) and a second person has not approved it yet. While set, the account
    #: opens nothing but its own account pages. Null: nothing pending.
    access_requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    access_requested_at: Mapped[dt.datetime | None]

    access_requested_by: Mapped[User | None] = relationship(
        remote_side="User.id", foreign_keys=[access_requested_by_id], lazy="select"
    )
    centre: Mapped[Centre | None] = relationship(lazy="joined")
    sede: Mapped[Sede | None] = relationship(lazy="joined")
    institution: Mapped[Institution | None] = relationship(lazy="joined")

    @property
    def is_active(self) -> bool:  # flask-login refuses inactive accounts
        return self.is_active_account

    @property
    def access_pending(self) -> bool:
        """Access granted by one admin and not yet approved by a second person."""
        return self.access_requested_at is not None

    @property
    def has_second_factor(self) -> bool:
        return self.totp_secret is not None

    def set_password(self, password: str) -> None:
        self.password_hash = _hasher.hash(password)

    def check_password(self, password: str) -> bool:
        if not verify_password(self.password_hash, password):
            return False
        if _hasher.check_needs_rehash(self.password_hash):
            # Made with older or heavier parameters: renewed now, while the password is at hand.
            self.set_password(password)
        return True

    def can(self, permission: Permission) -> bool:
        # Belt and braces: the sign-in gate (auth.gate) already keeps a pending account on its own pages.
        return not self.access_pending and role_has(self.role, permission)

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    @property
    def role_label(self) -> str:
        """The role as shown to people, in the current language."""
        return str(ROLE_LABELS[self.role_enum])


class UserSession(Base):
    """One signed-in session, kept on the server so it can be ended (logout, a password or role change,
    a deactivation, the user itself from another computer) and timed out.

    The browser's cookie carries a random identifier; only its SHA-256 is stored, so a copy of the table
    opens no session.
    """

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user_id_ended_at", "user_id", "ended_at"),)

    id: Mapped[intpk]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime]
    #: Whether the second factor was given in this session (or the account has none and needs none).
    second_factor_done: Mapped[bool] = mapped_column(default=False)
    ip_address: Mapped[str | None] = mapped_column(String(45))
    #: The browser, as it describes itself (shortened), so a user can tell its sessions apart.
    user_agent: Mapped[str | None] = mapped_column(String(200))
    ended_at: Mapped[dt.datetime | None]
    #: Why it ended: logout, password, reset, deactivated, role, by_user, idle, expired.
    end_reason: Mapped[str | None] = mapped_column(String(20))

    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)


class RecoveryCode(Base):
    """A one-time code that stands in for the authenticator app (lost phone). Only its SHA-256 is kept:
    the codes are random (50 bits), so a fast hash is enough."""

    __tablename__ = "recovery_codes"

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[dt.datetime | None]


class ApiToken(Base):
    """A personal API token (``Authorization: Bearer``): the account's role and scope, nothing more.

    Shown once when created; only its SHA-256 is kept (the token is 256 random bits, so a fast hash is
    enough). It stops working when it expires, when it is revoked, and whenever its account could not sign
    in (deactivated, waiting for a second person's approval, owing a new password).
    """

    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_user_id_revoked_at", "user_id", "revoked_at"),)

    id: Mapped[intpk]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The token's first characters, so its owner can tell tokens apart (not enough to use it).
    prefix: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    #: What the token is for, in the owner's words ("Sistema de OIM").
    name: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[created_at_col]
    #: Who made it: the owner, an admin (for a service account) or null (the command line).
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    expires_at: Mapped[dt.datetime]
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined", innerjoin=True)
