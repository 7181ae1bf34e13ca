"""Gap-free yearly number series per centre (case numbers, referral slip numbers)."""

from __future__ import annotations

import enum

from sqlalchemy import ForeignKey, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base
from ..extensions import db


class SequenceKind(enum.StrEnum):
    #: Case numbers: ``FAG-2026-00042``.
    CASE = "case"
    #: Referral slip numbers: ``REF-FAG-2026-00012``.
    REFERRAL = "referral"


class NumberSequence(Base):
    """Last number given per series, centre and year; its row lock serialises concurrent takers."""

    __tablename__ = "number_sequences"

    kind: Mapped[SequenceKind] = mapped_column(primary_key=True)
    centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_value: Mapped[int] = mapped_column(default=0)


def next_number(kind: SequenceKind, centre_id: int, year: int) -> int:
    """Take the next number of a series.

    ``INSERT .. ON CONFLICT DO NOTHING`` creates the counter once; the ``UPDATE .. RETURNING`` then
    row-locks it until the transaction ends, so concurrent registrations queue up instead of
    producing the same number (SQLite serialises writers on its own).
    """
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    db.session.execute(
        insert(NumberSequence)
        .values(kind=kind, centre_id=centre_id, year=year, last_value=0)
        .on_conflict_do_nothing()
    )
    return db.session.execute(
        update(NumberSequence)
        .where(
            NumberSequence.kind == kind, NumberSequence.centre_id == centre_id, NumberSequence.year == year
        )
        .values(last_value=NumberSequence.last_value + 1)
        .returning(NumberSequence.last_value)
    ).scalar_one()
