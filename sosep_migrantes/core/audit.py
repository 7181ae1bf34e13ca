"""Audit trail: one row per state change, written in the same transaction as the change.

Events are tagged ``subject:action`` (``family:create``), one :class:`AuditAction` member each, so a
typo is an error rather than a new kind of event. ``details`` holds ids and the *names of* changed
fields, never the personal data itself, so the trail can be read without exposing families.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Any

from flask import has_request_context, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import JSON, ForeignKey, Index, String, insert, select
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
    #: An :class:`AuditAction` value, ``subject:action`` (``family:update``). A plain string column with no
    #: CHECK: rows written before an action was renamed or retired must still read.
    action: Mapped[str] = mapped_column(String(60))
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[int | None]
    #: Ids and field names only: no names, CUIs or free text about the family.
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ip_address: Mapped[str | None] = mapped_column(String(64))


class AuditAction(enum.StrEnum):
    """Every kind of event the trail records; the values are what is stored (and must not change)."""

    ARRIVAL_CREATE = "arrival:create"
    FAMILY_CREATE = "family:create"
    FAMILY_UPDATE = "family:update"
    FAMILY_STATUS = "family:status"
    USER_CREATE = "user:create"
    USER_UPDATE = "user:update"
    USER_LOGIN = "user:login"
    USER_LOCALE = "user:locale"
    USER_LOGOUT = "user:logout"
    #: The user changed its own password.
    USER_PASSWORD = "user:password"  # noqa: S105 - an action name
    #: Sessions ended: by the user (its other sessions) or by a change to the account.
    USER_SESSIONS_END = "user:sessions_end"
    USER_TOTP_ENROL = "user:totp_enrol"
    USER_TOTP_RESET = "user:totp_reset"
    USER_RECOVERY_USED = "user:recovery_used"
    #: A second person approved (or refused) access to case data that an admin granted or restored.
    USER_ACCESS_APPROVE = "user:access_approve"
    USER_ACCESS_REJECT = "user:access_reject"
    SEDE_COVERAGE = "sede:coverage"
    CATALOGS_LOAD = "catalogs:load"
    NEED_IDENTIFIED = "need:identified"
    NEED_ATTENDED = "need:attended"
    NEED_REFERRED = "need:referred"
    REFERRAL_CREATE = "referral:create"
    REFERRAL_SENT = "referral:sent"
    REFERRAL_ACCEPTED = "referral:accepted"
    REFERRAL_REJECTED = "referral:rejected"
    REFERRAL_ATTENDED = "referral:attended"
    REFERRAL_NOT_LOCATED = "referral:not_located"
    REFERRAL_CANCELLED = "referral:cancelled"
    INSTITUTION_SAVE = "institution:save"
    NEED_CREATE = "need:create"
    NEED_TOGGLE = "need:toggle"
    SLIP_PRINT = "slip:print"
    FOLLOWUP_RECORD = "followup:record"
    LINKAGE_CREATE = "linkage:create"
    FAMILY_TRANSFER = "family:transfer"
    FAMILY_CLOSE = "family:close"
    FAMILY_REOPEN = "family:reopen"
    #: A case with a protection-risk cause was opened (who read it, and when).
    FAMILY_VIEW_PROTECTED = "family:view_protected"
    #: The personal data of a case closed longer ago than the retention period was removed (ops.retention).
    FAMILY_ANONYMISE = "family:anonymise"
    #: A family pre-registered from a passenger list was confirmed (and completed) at the desk.
    FAMILY_CONFIRM = "family:confirm"
    #: An arrival's passenger list was confirmed: its family groups became pre-registered family units.
    PASSENGER_LIST_IMPORT = "passenger_list:import"
    #: A member was linked to an earlier record of the same person (a re-migration), or the record dismissed.
    RETURNEE_LINK = "returnee:link"
    RETURNEE_DISMISS = "returnee:dismiss"
    #: A personal API token was made or revoked (issue #12); the token itself is never in the trail.
    API_TOKEN_CREATE = "api_token:create"  # noqa: S105 - an action name
    API_TOKEN_REVOKE = "api_token:revoke"  # noqa: S105 - an action name
    #: A case was read through the JSON API (who, with which token, when): an integration reads in bulk.
    FAMILY_API_READ = "family:api_read"


#: How an action reads in the history shown to staff; a stored action missing here is shown as its code.
#: Keyed by the members, which are strings: the look-up is by the action stored in a row.
ACTION_LABELS: dict[str, Any] = {
    AuditAction.ARRIVAL_CREATE: _l("Llegada registrada"),
    AuditAction.FAMILY_CREATE: _l("Unidad familiar registrada"),
    AuditAction.FAMILY_UPDATE: _l("Unidad familiar modificada"),
    AuditAction.FAMILY_STATUS: _l("Estado del caso cambiado"),
    AuditAction.USER_CREATE: _l("Usuario creado"),
    AuditAction.USER_UPDATE: _l("Usuario modificado"),
    AuditAction.USER_LOGIN: _l("Ingreso al sistema"),
    AuditAction.USER_LOCALE: _l("Idioma cambiado"),
    AuditAction.USER_LOGOUT: _l("Salida del sistema"),
    AuditAction.USER_PASSWORD: _l("Contraseña cambiada por el usuario"),
    AuditAction.USER_SESSIONS_END: _l("Sesiones cerradas"),
    AuditAction.USER_TOTP_ENROL: _l("Segundo factor activado"),
    AuditAction.USER_TOTP_RESET: _l("Segundo factor restablecido"),
    AuditAction.USER_RECOVERY_USED: _l("Código de recuperación usado"),
    AuditAction.USER_ACCESS_APPROVE: _l("Acceso aprobado por una segunda persona"),
    AuditAction.USER_ACCESS_REJECT: _l("Acceso rechazado por una segunda persona"),
    AuditAction.SEDE_COVERAGE: _l("Cobertura de la sede modificada"),
    AuditAction.CATALOGS_LOAD: _l("Catálogos cargados"),
    AuditAction.NEED_IDENTIFIED: _l("Necesidad identificada"),
    AuditAction.NEED_ATTENDED: _l("Necesidad atendida en el centro"),
    AuditAction.NEED_REFERRED: _l("Necesidad derivada"),
    AuditAction.REFERRAL_CREATE: _l("Derivación creada"),
    AuditAction.REFERRAL_SENT: _l("Derivación enviada"),
    AuditAction.REFERRAL_ACCEPTED: _l("Derivación aceptada"),
    AuditAction.REFERRAL_REJECTED: _l("Derivación rechazada"),
    AuditAction.REFERRAL_ATTENDED: _l("Derivación atendida"),
    AuditAction.REFERRAL_NOT_LOCATED: _l("Familia no localizada"),
    AuditAction.REFERRAL_CANCELLED: _l("Derivación cancelada"),
    AuditAction.INSTITUTION_SAVE: _l("Institución guardada"),
    AuditAction.NEED_CREATE: _l("Necesidad agregada al catálogo"),
    AuditAction.NEED_TOGGLE: _l("Necesidad activada o desactivada"),
    AuditAction.SLIP_PRINT: _l("Boleta de referencia impresa"),
    AuditAction.FOLLOWUP_RECORD: _l("Seguimiento registrado"),
    AuditAction.LINKAGE_CREATE: _l("Vinculación a un programa registrada"),
    AuditAction.FAMILY_TRANSFER: _l("Caso trasladado a otra sede"),
    AuditAction.FAMILY_CLOSE: _l("Caso cerrado"),
    AuditAction.FAMILY_REOPEN: _l("Caso reabierto"),
    AuditAction.FAMILY_VIEW_PROTECTED: _l("Consulta de un caso con riesgo de protección"),
    AuditAction.FAMILY_ANONYMISE: _l("Datos personales anonimizados por el plazo de conservación"),
    AuditAction.FAMILY_CONFIRM: _l("Unidad familiar pre-registrada confirmada en el escritorio"),
    AuditAction.PASSENGER_LIST_IMPORT: _l("Lista de pasajeros importada"),
    AuditAction.RETURNEE_LINK: _l("Vinculado a un registro anterior (re-migración)"),
    AuditAction.RETURNEE_DISMISS: _l("Registro anterior descartado"),
    AuditAction.API_TOKEN_CREATE: _l("Token de API creado"),
    AuditAction.API_TOKEN_REVOKE: _l("Token de API revocado"),
    AuditAction.FAMILY_API_READ: _l("Consulta de un caso por la API"),
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


def record(action: AuditAction, subject_type: str, subject_id: int | None, **details: Any) -> AuditEvent:
    """Add an audit event to the current session (the caller's transaction commits it).

    ``action`` must be an :class:`AuditAction`: a string, even one spelling a known action, is refused,
    so an action cannot be invented (or mistyped) at a call site.
    """
    if not isinstance(action, AuditAction):
        raise TypeError(f"audit action must be an AuditAction, not {type(action).__name__}")
    user_id = details.pop("actor_id", None)
    ip = None
    if has_request_context():
        ip = request.remote_addr
        if user_id is None and current_user and current_user.is_authenticated:
            user_id = current_user.id
    event = AuditEvent(
        action=action.value,
        subject_type=subject_type,
        subject_id=subject_id,
        details=details,
        user_id=user_id,
        ip_address=ip,
    )
    db.session.add(event)
    return event


def record_many(
    action: AuditAction,
    subject_type: str,
    details_by_subject: Mapping[int, dict[str, Any]],
    *,
    actor_id: int | None = None,
) -> None:
    """One event per subject, written by one multi-row INSERT: a batch job's trail (no user, no address),
    or a request's that touches many records at once (``actor_id``: its user; the request's address).

    For commands that change thousands of records in one statement (``ops.retention``), or the API's list
    of 25 cases read, where an ORM object per event would cost more than the work itself. The caller's
    transaction commits them.
    """
    if not isinstance(action, AuditAction):
        raise TypeError(f"audit action must be an AuditAction, not {type(action).__name__}")
    rows = [
        {
            "action": action.value,
            "subject_type": subject_type,
            "subject_id": subject_id,
            "details": details,
            "user_id": actor_id,
            "ip_address": request.remote_addr if actor_id is not None and has_request_context() else None,
        }
        for subject_id, details in details_by_subject.items()
    ]
    if rows:
        db.session.execute(insert(AuditEvent), rows)


def history(subject_type: str, subject_id: int) -> Sequence[AuditEvent]:
    """Every event about one record, newest first (a case page's history)."""
    return db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.subject_type == subject_type, AuditEvent.subject_id == subject_id)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    ).all()
