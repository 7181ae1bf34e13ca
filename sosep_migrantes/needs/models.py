"""Needs identified for a family (or one member) and the services delivered at the centre."""

from __future__ import annotations

import datetime as dt
import enum

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..cases.models import FamilyUnit, Member
from ..catalogs.models import Need
from ..db import Base, created_at_col, intpk


class NeedStatus(enum.StrEnum):
    IDENTIFIED = "identified"
    ATTENDED = "attended"
    REFERRED = "referred"


NEED_STATUS_LABELS = {
    NeedStatus.IDENTIFIED: _l("Identificada"),
    NeedStatus.ATTENDED: _l("Atendida en el centro"),
    NeedStatus.REFERRED: _l("Derivada"),
}

#: What a line of the needs checklist may say: identified (to refer), or attended at the centre right away.
CHECKLIST_ACTIONS = (NeedStatus.IDENTIFIED, NeedStatus.ATTENDED)


class FamilyNeed(Base):
    __tablename__ = "family_needs"

    id: Mapped[intpk]
    family_id: Mapped[int] = mapped_column(ForeignKey("family_units.id", ondelete="CASCADE"), index=True)
    #: The member concerned; null when the need is the whole family's.
    #: RESTRICT: a member with needs on record stays on the case (cases.services refuses to remove them).
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="RESTRICT"), index=True)
    need_id: Mapped[int] = mapped_column(ForeignKey("needs.id"))
    status: Mapped[NeedStatus] = mapped_column(default=NeedStatus.IDENTIFIED)
    notes: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[created_at_col]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    family: Mapped[FamilyUnit] = relationship()
    member: Mapped[Member | None] = relationship(lazy="joined")
    need: Mapped[Need] = relationship(lazy="joined")
    services: Mapped[list[ServiceDelivery]] = relationship(
        back_populates="family_need", order_by="ServiceDelivery.id"
    )

    @property
    def status_label(self) -> str:
        return str(NEED_STATUS_LABELS[NeedStatus(self.status)])

    @property
    def is_pending(self) -> bool:
        """Identified and neither attended at the centre nor referred yet."""
        return self.status == NeedStatus.IDENTIFIED


class ServiceDelivery(Base):
    """Something given or done at the centre: what, how many, by whom and when."""

    __tablename__ = "service_deliveries"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[intpk]
    family_need_id: Mapped[int] = mapped_column(ForeignKey("family_needs.id", ondelete="CASCADE"), index=True)
    #: What was delivered ("Kit de higiene para adulto", "Consulta pediátrica").
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[int] = mapped_column(default=1)
    #: Who delivered it: staff member or provider ("Pediatra MSPAS").
    delivered_by: Mapped[str] = mapped_column(String(160))
    delivered_at: Mapped[dt.datetime]
    created_at: Mapped[created_at_col]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    family_need: Mapped[FamilyNeed] = relationship(back_populates="services")
