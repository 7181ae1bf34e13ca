"""Roles, permissions and the one place that maps them.

Routes declare the permission they need with :func:`permission_required`; which *objects* a user may
see is decided in the queries (see ``cases.queries.scoped_families``), not here.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar, cast

import flask_login
from flask import abort
from flask_babel import lazy_gettext as _l
from flask_login import current_user

P = ParamSpec("P")
R = TypeVar("R")


class Role(enum.StrEnum):
    ADMIN = "admin"
    COORDINATOR = "coordinator"
    RECEPTION = "reception"
    SEDE = "sede"
    #: A partner institution's staff (OIM, Refugio de la Niñez): the referrals addressed to it, nothing else.
    PARTNER = "partner"


ROLE_LABELS = {
    Role.ADMIN: _l("Administración"),
    Role.COORDINATOR: _l("Coordinación (nacional)"),
    Role.RECEPTION: _l("Recepción (centro)"),
    Role.SEDE: _l("Sede departamental"),
    Role.PARTNER: _l("Institución aliada"),
}


class Permission(enum.StrEnum):
    USER_MANAGE = "user:manage"
    CATALOG_MANAGE = "catalog:manage"
    ARRIVAL_VIEW = "arrival:view"
    ARRIVAL_CREATE = "arrival:create"
    CASE_VIEW = "case:view"
    CASE_CREATE = "case:create"
    CASE_EDIT = "case:edit"
    REFERRAL_CREATE = "referral:create"
    REFERRAL_UPDATE = "referral:update"
    AUDIT_VIEW = "audit:view"
    #: The follow-up inbox (a sede's cases; a coordinator's, for any sede or the country).
    FOLLOWUP_INBOX = "followup:inbox"
    #: Record follow-ups, linkage, transfers, closures and reopenings (the sedes' work).
    FOLLOWUP_RECORD = "followup:record"
    #: The per-sede overview of follow-up work (coordinators).
    FOLLOWUP_OVERVIEW = "followup:overview"
    #: The protocol reports, for the user's scope (a centre, a sede's territory, the country).
    REPORT_VIEW = "report:view"
    #: Answer the referrals addressed to one's own institution (partners).
    REFERRAL_RESPOND = "referral:respond"
    #: Approve or refuse an access an admin granted (the two-person rule; never one's own request).
    ACCESS_APPROVE = "access:approve"
    #: Earlier records of a person anywhere in the country, cut to the minimum outside one's scope.
    RETURNEE_VIEW = "returnee:view"
    #: Link a person to an earlier record (a re-migration) or dismiss it.
    RETURNEE_LINK = "returnee:link"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    # Admins manage accounts and catalogues; they do not read families' data (least privilege).
    Role.ADMIN: frozenset(
        {
            Permission.USER_MANAGE,
            Permission.CATALOG_MANAGE,
            Permission.AUDIT_VIEW,
            Permission.ACCESS_APPROVE,
        }
    ),
    Role.COORDINATOR: frozenset(
        {
            Permission.ARRIVAL_VIEW,
            Permission.CASE_VIEW,
            Permission.AUDIT_VIEW,
            Permission.FOLLOWUP_INBOX,
            Permission.FOLLOWUP_OVERVIEW,
            Permission.REPORT_VIEW,
            Permission.ACCESS_APPROVE,
            Permission.RETURNEE_VIEW,
        }
    ),
    Role.RECEPTION: frozenset(
        {
            Permission.ARRIVAL_VIEW,
            Permission.ARRIVAL_CREATE,
            Permission.CASE_VIEW,
            Permission.CASE_CREATE,
            Permission.CASE_EDIT,
            Permission.REFERRAL_CREATE,
            Permission.REFERRAL_UPDATE,
            Permission.REPORT_VIEW,
            Permission.RETURNEE_VIEW,
            Permission.RETURNEE_LINK,
        }
    ),
    Role.SEDE: frozenset(
        {
            Permission.CASE_VIEW,
            Permission.CASE_EDIT,
            Permission.REFERRAL_CREATE,
            Permission.REFERRAL_UPDATE,
            Permission.FOLLOWUP_INBOX,
            Permission.FOLLOWUP_RECORD,
            Permission.REPORT_VIEW,
            Permission.RETURNEE_VIEW,
            Permission.RETURNEE_LINK,
        }
    ),
    # No case:view: a partner reaches only its institution's referrals, through referrals.partner.
    Role.PARTNER: frozenset({Permission.REFERRAL_RESPOND}),
}


def role_has(role: Role | str, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS.get(Role(role), frozenset())


def login_required(view: Callable[P, R]) -> Callable[P, R]:
    """Flask-Login's ``login_required``, with the view's signature kept (Flask-Login ships no types)."""
    return cast("Callable[P, R]", flask_login.login_required(view))


def permission_required(permission: Permission) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Require a logged-in user whose role grants ``permission`` (403 otherwise)."""

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        @login_required
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
            if not current_user.can(permission):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_permission = permission  # type: ignore[attr-defined]
        return wrapped

    return decorator
