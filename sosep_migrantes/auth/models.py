"""User accounts. A reception user is bound to one centre, a sede user to one sede."""

from __future__ import annotations

import datetime as dt

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, String
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

    centre: Mapped[Centre | None] = relationship(lazy="joined")
    sede: Mapped[Sede | None] = relationship(lazy="joined")
    institution: Mapped[Institution | None] = relationship(lazy="joined")

    @property
    def is_active(self) -> bool:  # flask-login refuses inactive accounts
        return self.is_active_account

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
        return role_has(self.role, permission)

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    @property
    def role_label(self) -> str:
        """The role as shown to people, in the current language."""
        return str(ROLE_LABELS[self.role_enum])
