"""What staff decided about a pair of records of (perhaps) the same person."""

from __future__ import annotations

import enum

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, created_at_col, intpk


class ReturneeDecision(enum.StrEnum):
    #: The same person came back: a re-migration, shown on both cases and counted in the reports.
    LINKED = "linked"
    #: Not the same person: the pair is not offered again.
    DISMISSED = "dismissed"


DECISION_LABELS = {ReturneeDecision.LINKED: _l("Vinculado"), ReturneeDecision.DISMISSED: _l("Descartado")}


class ReturneeLink(Base):
    """A decision about two members: the later record (``member_id``, the one that arrived last) and the
    earlier one. One row per pair, whichever case it was decided from."""

    __tablename__ = "returnee_links"
    __table_args__ = (UniqueConstraint("member_id", "earlier_member_id", name="uq_returnee_links_pair"),)

    id: Mapped[intpk]
    #: The member of the later arrival (the re-migration when linked).
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    earlier_member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    decision: Mapped[ReturneeDecision]
    created_at: Mapped[created_at_col]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
