"""Home page and health check."""

from __future__ import annotations

from flask import Blueprint, redirect, url_for
from flask_login import current_user, login_required
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db, limiter
from .permissions import Permission

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
        db.session.rollback()
        return {"status": "unavailable", "database": "unreachable"}, 503
    return {"status": "ok", "database": "ok"}, 200
