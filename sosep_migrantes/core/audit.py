"""Audit trail: one row per state change, written in the same transaction as the change.

Events are tagged ``subject:action`` (``family:create``). ``details`` holds ids and the *names of*
changed fields, never the personal data itself, so the trail can be read without exposing families.
"""

from __future__ import annotations

from typing import Any

from flask import has_request_context, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, created_at_col, intpk
from ..extensions import db


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_subject", "subject_type", "subject_id"),)

    id: Mapped[intpk]
    created_at: Mapped[created_at_col]
    #: Who did it; null for CLI commands and the system.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: ``subject:action``, e.g. ``family:update``.
    action: Mapped[str] = mapped_column(String(60))
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[int | None]
    #: Ids and field names only: no names, CUIs or free text about the family.
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ip_address: Mapped[str | None] = mapped_column(String(64))


#: How an action reads in the history shown to staff; an action missing here is shown as its code.
ACTION_LABELS = {
    "arrival:create": _l("Llegada registrada"),
    "family:create": _l("Unidad familiar registrada"),
    "family:update": _l("Unidad familiar modificada"),
    "user:create": _l("Usuario creado"),
    "user:update": _l("Usuario modificado"),
    "user:login": _l("Ingreso al sistema"),
    "user:locale": _l("Idioma cambiado"),
    "sede:coverage": _l("Cobertura de la sede modificada"),
    "catalogs:load": _l("Catálogos cargados"),
    "need:identified": _l("Necesidad identificada"),
    "need:attended": _l("Necesidad atendida en el centro"),
    "need:referred": _l("Necesidad derivada"),
    "referral:create": _l("Derivación creada"),
    "referral:sent": _l("Derivación enviada"),
    "referral:accepted": _l("Derivación aceptada"),
    "referral:rejected": _l("Derivación rechazada"),
    "referral:attended": _l("Derivación atendida"),
    "referral:not_located": _l("Familia no localizada"),
    "referral:cancelled": _l("Derivación cancelada"),
    "institution:save": _l("Institución guardada"),
    "need:create": _l("Necesidad agregada al catálogo"),
    "need:toggle": _l("Necesidad activada o desactivada"),
    "slip:print": _l("Boleta de referencia impresa"),
}


#: What kind of record an event is about, as shown on the audit log page; missing ones show their code.
SUBJECT_LABELS = {
    "arrival": _l("Llegada"),
    "family": _l("Unidad familiar"),
    "user": _l("Cuenta de usuario"),
    "sede": _l("Sede"),
    "catalogs": _l("Catálogos"),
    "need": _l("Necesidad"),
    "institution": _l("Institución"),
    "referral": _l("Derivación"),
}


def _label(labels: dict[str, Any], code: str) -> str:
    label = labels.get(code)
    return str(label) if label is not None else code


def action_label(action: str) -> str:
    return _label(ACTION_LABELS, action)


def subject_label(subject_type: str) -> str:
    return _label(SUBJECT_LABELS, subject_type)


def record(action: str, subject_type: str, subject_id: int | None, **details: Any) -> AuditEvent:
    """Add an audit event to the current session (the caller's transaction commits it)."""
    user_id = details.pop("actor_id", None)
    ip = None
    if has_request_context():
        ip = request.remote_addr
        if user_id is None and current_user and current_user.is_authenticated:
            user_id = current_user.id
    event = AuditEvent(
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        details=details,
        user_id=user_id,
        ip_address=ip,
    )
    db.session.add(event)
    return event
