"""Arrivals: a flight or a bus received at a centre, on which family units are registered."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..catalogs.models import Centre, Country, TransportMode
from ..db import Base, created_at_col, intpk


class Arrival(Base):
    __tablename__ = "arrivals"

    id: Mapped[intpk]
    centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id"), index=True)
    #: When the flight landed or the bus arrived (stored in UTC).
    arrived_at: Mapped[dt.datetime] = mapped_column(index=True)
    mode: Mapped[TransportMode]
    #: Country the family is returned from.
    country_id: Mapped[int] = mapped_column(ForeignKey("countries.id"))
    #: Airport or city of departure ("Laredo, TX", "Tapachula").
    origin: Mapped[str | None] = mapped_column(String(120))
    #: Flight number or bus plate/reference.
    transport_ref: Mapped[str | None] = mapped_column(String(60))
    notes: Mapped[str | None] = mapped_column(String(1000))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[created_at_col]

    centre: Mapped[Centre] = relationship(lazy="joined")
    country: Mapped[Country] = relationship(lazy="joined")

    @property
    def mode_label(self) -> str:
        return TransportMode(self.mode).label
