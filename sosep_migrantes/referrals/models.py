"""Referrals (*derivaciones*) of a family to a SOSEP programme or a partner institution."""

from __future__ import annotations

import datetime as dt
import enum

from flask_babel import lazy_gettext as _l
from sqlalchemy import Column, ColumnElement, ForeignKey, String, Table, Text
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..cases.models import FamilyUnit, Member
from ..catalogs.models import Institution, Need
from ..db import Base, created_at_col, intpk


class ReferralStatus(enum.StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    ATTENDED = "attended"
    NOT_LOCATED = "not_located"
    CANCELLED = "cancelled"


REFERRAL_STATUS_LABELS = {
    ReferralStatus.DRAFT: _l("Borrador"),
    ReferralStatus.SENT: _l("Enviada"),
    ReferralStatus.ACCEPTED: _l("Aceptada"),
    ReferralStatus.REJECTED: _l("Rechazada"),
    ReferralStatus.ATTENDED: _l("Atendida"),
    ReferralStatus.NOT_LOCATED: _l("Familia no localizada"),
    ReferralStatus.CANCELLED: _l("Cancelada"),
}


class Priority(enum.StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"


#: What the button that moves a referral *to* a state says.
REFERRAL_ACTION_LABELS = {
    ReferralStatus.SENT: _l("Enviar"),
    ReferralStatus.ACCEPTED: _l("Registrar que fue aceptada"),
    ReferralStatus.REJECTED: _l("Registrar rechazo"),
    ReferralStatus.ATTENDED: _l("Registrar que fue atendida"),
    ReferralStatus.NOT_LOCATED: _l("No se localizó a la familia"),
    ReferralStatus.CANCELLED: _l("Cancelar la derivación"),
}

PRIORITY_LABELS = {Priority.NORMAL: _l("Normal"), Priority.URGENT: _l("Urgente")}

#: A draft has not been handed to anyone yet, and a cancelled referral must not be presented: neither has a
#: slip to print (see :attr:`Referral.has_slip`).
WITHOUT_SLIP = frozenset({ReferralStatus.DRAFT, ReferralStatus.CANCELLED})

referral_members = Table(
    "referral_members",
    Base.metadata,
    Column("referral_id", ForeignKey("referrals.id", ondelete="CASCADE"), primary_key=True),
    # RESTRICT: a member who was referred stays on the case (cases.services refuses to remove them).
    Column("member_id", ForeignKey("members.id", ondelete="RESTRICT"), primary_key=True, index=True),
)

referral_needs = Table(
    "referral_needs",
    Base.metadata,
    Column("referral_id", ForeignKey("referrals.id", ondelete="CASCADE"), primary_key=True),
    Column("need_id", ForeignKey("needs.id"), primary_key=True),
)


class Referral(Base):
    __tablename__ = "referrals"

    id: Mapped[intpk]
    #: Slip number printed on the *boleta*: ``REF-FAG-2026-00012`` (series per centre and year).
    number: Mapped[str] = mapped_column(String(40), unique=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("family_units.id", ondelete="CASCADE"), index=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    #: Token of the form that created it: a resent form finds this referral instead of a second slip.
    submission_token: Mapped[str | None] = mapped_column(String(32), unique=True)
    reason: Mapped[str] = mapped_column(Text)
    priority: Mapped[Priority] = mapped_column(default=Priority.NORMAL)
    status: Mapped[ReferralStatus] = mapped_column(default=ReferralStatus.DRAFT, index=True)
    #: Why the institution rejected it, or what became of the family (attended / not located).
    outcome_notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[created_at_col]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[dt.datetime | None]

    family: Mapped[FamilyUnit] = relationship()
    institution: Mapped[Institution] = relationship(lazy="joined")
    members: Mapped[list[Member]] = relationship(secondary=referral_members, order_by="Member.position")
    needs: Mapped[list[Need]] = relationship(secondary=referral_needs, order_by="Need.sort_order")
    events: Mapped[list[ReferralEvent]] = relationship(
        back_populates="referral", order_by="ReferralEvent.id", cascade="all, delete-orphan"
    )
    created_by = relationship("User", foreign_keys=[created_by_id], lazy="joined")

    @property
    def status_label(self) -> str:
        return str(REFERRAL_STATUS_LABELS[ReferralStatus(self.status)])

    @property
    def priority_label(self) -> str:
        return str(PRIORITY_LABELS[Priority(self.priority)])

    @property
    def is_urgent(self) -> bool:
        return self.priority == Priority.URGENT

    @hybrid_property
    def has_slip(self) -> bool:
        """Sent, or anything after sent but cancelled: a slip may be printed and handed to the family."""
        return self.status not in WITHOUT_SLIP

    @has_slip.inplace.expression
    @classmethod
    def _has_slip_expression(cls) -> ColumnElement[bool]:
        return cls.status.not_in(WITHOUT_SLIP)


class ReferralEvent(Base):
    """One step of a referral's status: who moved it, when, and why."""

    __tablename__ = "referral_events"

    id: Mapped[intpk]
    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[ReferralStatus | None]
    to_status: Mapped[ReferralStatus]
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[created_at_col]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    referral: Mapped[Referral] = relationship(back_populates="events")
    user = relationship("User", lazy="joined")

    @property
    def status_label(self) -> str:
        return str(REFERRAL_STATUS_LABELS[ReferralStatus(self.to_status)])
