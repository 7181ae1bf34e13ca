"""Arrivals: a flight or a bus received at a centre, on which family units are registered."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..catalogs.models import Centre, Country
from ..db import Base, created_at_col, intpk


class TransportMode(enum.StrEnum):
    AIR = "air"
    LAND = "land"


class Arrival(Base):
    __tablename__ = "arrivals"
    __table_args__ = (CheckConstraint("mode IN ('air', 'land')", name="mode"),)

    id: Mapped[intpk]
    centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id"), index=True)
    #: When the flight landed or the bus arrived (stored in UTC).
    arrived_at: Mapped[dt.datetime] = mapped_column(index=True)
    mode: Mapped[str] = mapped_column(String(10))
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
