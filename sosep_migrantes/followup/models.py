"""What a sede records while it follows a family up: contacts, linkage, transfers, closures and reopenings."""

from __future__ import annotations

import datetime as dt
import enum

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..cases.models import FamilyUnit, Member
from ..catalogs.models import Institution, Municipality, Sede
from ..db import Base, created_at_col, intpk


class ContactType(enum.StrEnum):
    PHONE = "phone"
    HOME_VISIT = "home_visit"
    OFFICE_VISIT = "office_visit"
    MESSAGE = "message"
    OTHER = "other"


CONTACT_TYPE_LABELS = {
    ContactType.PHONE: _l("Llamada telefónica"),
    ContactType.HOME_VISIT: _l("Visita domiciliaria"),
    ContactType.OFFICE_VISIT: _l("Visita a la sede"),
    ContactType.MESSAGE: _l("Mensaje"),
    ContactType.OTHER: _l("Otro"),
}


class ContactOutcome(enum.StrEnum):
    LOCATED = "located"
    NOT_LOCATED = "not_located"
    MOVED = "moved"
    REMIGRATED = "remigrated"
    DECLINED = "declined"
    OTHER = "other"


CONTACT_OUTCOME_LABELS = {
    ContactOutcome.LOCATED: _l("Localizada"),
    ContactOutcome.NOT_LOCATED: _l("No localizada"),
    ContactOutcome.MOVED: _l("Se trasladó dentro de Guatemala"),
    ContactOutcome.REMIGRATED: _l("Volvió a migrar"),
    ContactOutcome.DECLINED: _l("No desea los servicios"),
    ContactOutcome.OTHER: _l("Otro"),
}


class ClosureReason(enum.StrEnum):
    LINKED = "linked"
    NOT_LOCATED = "not_located"
    REMIGRATED = "remigrated"
    DECLINED = "declined"
    DECEASED = "deceased"
    OTHER = "other"


CLOSURE_REASON_LABELS = {
    ClosureReason.LINKED: _l("Vinculada a un programa"),
    ClosureReason.NOT_LOCATED: _l("No localizada tras varios intentos"),
    ClosureReason.REMIGRATED: _l("Volvió a migrar"),
    ClosureReason.DECLINED: _l("No desea los servicios"),
    ClosureReason.DECEASED: _l("Fallecimiento"),
    ClosureReason.OTHER: _l("Otro motivo"),
}


class ClosureKind(enum.StrEnum):
    CLOSE = "close"
    REOPEN = "reopen"


class FollowUp(Base):
    """One contact with the family (or the attempt): when, how, with whom, and what came of it."""

    __tablename__ = "followups"

    id: Mapped[intpk]
    family_id: Mapped[int] = mapped_column(ForeignKey("family_units.id", ondelete="CASCADE"), index=True)
    contacted_on: Mapped[dt.date]
    contact_type: Mapped[ContactType]
    #: Who was spoken to ("la madre", "vecina"): free text, part of the case.
    contacted_person: Mapped[str | None] = mapped_column(String(160))
    outcome: Mapped[ContactOutcome]
    notes: Mapped[str | None] = mapped_column(Text)
    next_action: Mapped[str | None] = mapped_column(String(300))
    #: When the next contact falls due (the case's ``followup_due_on`` follows the latest follow-up's).
    next_action_on: Mapped[dt.date | None]
    submission_token: Mapped[str | None] = mapped_column(String(32), unique=True)
    created_at: Mapped[created_at_col]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    family: Mapped[FamilyUnit] = relationship()
    created_by = relationship("User", lazy="joined")

    @property
    def contact_type_label(self) -> str:
        return str(CONTACT_TYPE_LABELS[ContactType(self.contact_type)])

    @property
    def outcome_label(self) -> str:
        return str(CONTACT_OUTCOME_LABELS[ContactOutcome(self.outcome)])


class Linkage(Base):
    """A member, or the whole family, linked (*vinculada*) to a programme or service."""

    __tablename__ = "linkages"
    __table_args__ = (
        CheckConstraint("institution_id IS NOT NULL OR outside_service IS NOT NULL", name="says_where"),
    )

    id: Mapped[intpk]
    family_id: Mapped[int] = mapped_column(ForeignKey("family_units.id", ondelete="CASCADE"), index=True)
    #: Null: the whole family. RESTRICT: a linked member stays on the case.
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="RESTRICT"), index=True)
    #: A SOSEP programme or another institution of the catalogue ...
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"), index=True)
    #: ... or a service outside it, by name ("Escuela de Cuilco").
    outside_service: Mapped[str | None] = mapped_column(String(200))
    linked_on: Mapped[dt.date]
    note: Mapped[str | None] = mapped_column(Text)
    #: The referral this linkage answers (it was then marked attended).
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id", ondelete="SET NULL"))
    submission_token: Mapped[str | None] = mapped_column(String(32), unique=True)
    created_at: Mapped[created_at_col]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    member: Mapped[Member | None] = relationship()
    institution: Mapped[Institution | None] = relationship(lazy="joined")
    created_by = relationship("User", lazy="joined")

    @property
    def target_name(self) -> str:
        # An anonymised case (ops.retention) keeps that it was an outside service, not its name.
        return self.institution.name if self.institution else (self.outside_service or "—")


class CaseTransfer(Base):
    """The family moved: its case passed from one sede's territory to another's."""

    __tablename__ = "case_transfers"

    id: Mapped[intpk]
    family_id: Mapped[int] = mapped_column(ForeignKey("family_units.id", ondelete="CASCADE"), index=True)
    from_sede_id: Mapped[int | None] = mapped_column(ForeignKey("sedes.id"))
    to_sede_id: Mapped[int | None] = mapped_column(ForeignKey("sedes.id"))
    from_municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id"))
    to_municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id"))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[created_at_col]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    from_sede: Mapped[Sede | None] = relationship(foreign_keys=[from_sede_id], lazy="joined")
    to_sede: Mapped[Sede | None] = relationship(foreign_keys=[to_sede_id], lazy="joined")
    from_municipality: Mapped[Municipality] = relationship(foreign_keys=[from_municipality_id], lazy="joined")
    to_municipality: Mapped[Municipality] = relationship(foreign_keys=[to_municipality_id], lazy="joined")


class CaseClosure(Base):
    """A case closed with its reason, or reopened with why: the latest row says whether it is closed."""

    __tablename__ = "case_closures"
    __table_args__ = (CheckConstraint("kind <> 'close' OR reason IS NOT NULL", name="close_has_reason"),)

    id: Mapped[intpk]
    family_id: Mapped[int] = mapped_column(ForeignKey("family_units.id", ondelete="CASCADE"), index=True)
    kind: Mapped[ClosureKind]
    #: Why it was closed (null for a reopening, whose ``note`` says why).
    reason: Mapped[ClosureReason | None]
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[created_at_col]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    created_by = relationship("User", lazy="joined")

    @property
    def reason_label(self) -> str:
        return str(CLOSURE_REASON_LABELS[ClosureReason(self.reason)]) if self.reason else ""
