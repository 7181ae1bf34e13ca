"""Home page and health check."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from ..auth.models import User
from ..extensions import db, limiter
from .audit import AuditEvent
from .permissions import Permission, permission_required

bp = Blueprint("core", __name__)


@bp.get("/")
@login_required
def index():
    if current_user.can(Permission.ARRIVAL_CREATE):
        return redirect(url_for("reception.arrivals"))
    if current_user.can(Permission.CASE_VIEW):
        return redirect(url_for("cases.list_cases"))
    return redirect(url_for("auth.users"))


@bp.get("/healthz")
@limiter.exempt
def healthz():
    """200 when the database answers, 503 otherwise (for the load balancer and monitoring)."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        # Nothing to roll back here: the session is closed (and its connection returned) at teardown.
        return {"status": "unavailable", "database": "unreachable"}, 503
    return {"status": "ok", "database": "ok"}, 200


@bp.get("/admin/audit")
@permission_required(Permission.AUDIT_VIEW)
def audit_log():
    """The latest changes: who did what to which record (ids only, no personal data)."""
    page = min(max(request.args.get("page", 1, type=int), 1), 100_000)
    per_page = 100
    events = db.session.scalars(
        select(AuditEvent).order_by(AuditEvent.id.desc()).limit(per_page + 1).offset((page - 1) * per_page)
    ).all()
    users = {
        u.id: u
        for u in db.session.scalars(select(User).where(User.id.in_({e.user_id for e in events if e.user_id})))
    }
    return render_template(
        "audit.html", events=events[:per_page], users=users, page=page, has_next=len(events) > per_page
    )
