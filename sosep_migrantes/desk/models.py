"""An arrival's passenger list: uploaded, previewed, then confirmed into pre-registered family units."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, created_at_col, intpk


class PassengerList(Base):
    """One upload of a passenger list for an arrival, kept on the server between its preview and its
    confirmation (the form carries only ``token``), then as the record of what the list created."""

    __tablename__ = "passenger_lists"
    __table_args__ = (
        # The same file confirmed twice for one arrival (two desks, or a double click) meets this.
        UniqueConstraint("arrival_id", "confirmed_sha256", name="uq_passenger_lists_confirmed_file"),
    )

    id: Mapped[intpk]
    arrival_id: Mapped[int] = mapped_column(ForeignKey("arrivals.id", ondelete="CASCADE"), index=True)
    #: Random, carried by the preview's confirm form: it names this upload, and only its uploader has it.
    token: Mapped[str] = mapped_column(String(32), unique=True)
    #: SHA-256 of the file's bytes: the same file uploaded again is recognised before anything is read.
    content_sha256: Mapped[str] = mapped_column(String(64), index=True)
    #: The same hash once confirmed, null before: unique per arrival (``uq_passenger_lists_confirmed_file``).
    confirmed_sha256: Mapped[str | None] = mapped_column(String(64))
    #: The name the file had on the user's computer (shown on the arrival page), cut to 200 characters.
    file_name: Mapped[str] = mapped_column(String(200))
    #: The rows as read from the file (cell texts by column key, with their row number): personal data,
    #: so emptied once confirmed (the families hold it then); an unconfirmed upload is deleted after a day.
    rows: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    row_count: Mapped[int]
    #: Family units the confirmation created (null before it).
    families_created: Mapped[int | None]
    created_at: Mapped[created_at_col]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    confirmed_at: Mapped[dt.datetime | None]
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
