"""Arrivals: creating them and reading them within the user's scope."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, false, select

from ..auth.models import User
from ..catalogs.services import centre_by_code
from ..core import audit
from ..core.audit import AuditAction
from ..core.errors import ServiceError
from ..core.permissions import Permission, Role
from ..extensions import db
from .models import Arrival


def scoped_arrivals(user: User) -> Select[Arrival]:
    """Arrivals a user may see: a reception user those of their centre, a coordinator all."""
    stmt = select(Arrival)
    if not user.can(Permission.ARRIVAL_VIEW):
        return stmt.where(false())
    if user.role_enum is Role.RECEPTION:
        stmt = stmt.where(Arrival.centre_id == user.centre_id)
    return stmt


def get_arrival(user: User, arrival_id: int) -> Arrival | None:
    return db.session.scalar(scoped_arrivals(user).where(Arrival.id == arrival_id))


def create_arrival(data: dict[str, Any], user: User) -> Arrival:
    """Open an arrival (a flight or bus) at a centre so families can be registered on it."""
    centre = centre_by_code(data["centre"])
    if centre is None:
        raise ServiceError({"centre": _("Elija un centro de recepción de la lista.")})
    if user.role_enum is Role.RECEPTION and centre.id != user.centre_id:
        raise ServiceError({"centre": _("Solo puede registrar llegadas en su propio centro.")})
    arrival = Arrival(
        centre=centre,
        arrived_at=data["arrived_at"],
        mode=data["mode"],
        country=data["country"],
        origin=data.get("origin"),
        transport_ref=data.get("transport_ref"),
        notes=data.get("notes"),
        created_by_id=user.id,
    )
    db.session.add(arrival)
    db.session.flush()
    audit.record(AuditAction.ARRIVAL_CREATE, "arrival", arrival.id, centre_id=centre.id, actor_id=user.id)
    return arrival
