"""Home page and health check (the audit log page is auth's: it names the users)."""

from __future__ import annotations

from flask import Blueprint, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db, limiter
from .permissions import Permission, login_required

bp = Blueprint("core", __name__)


@bp.get("/")
@login_required
def index() -> ResponseReturnValue:
    if current_user.can(Permission.ARRIVAL_CREATE):
        return redirect(url_for("desk.arrivals"))
    if current_user.can(Permission.FOLLOWUP_RECORD):  # a sede: its follow-up inbox
        return redirect(url_for("followup.inbox"))
    if current_user.can(Permission.CASE_VIEW):
        return redirect(url_for("cases.list_cases"))
    if current_user.can(Permission.REFERRAL_RESPOND):  # a partner institution: its referrals
        return redirect(url_for("partner.home"))
    return redirect(url_for("auth.users"))


@bp.get("/healthz")
@limiter.exempt
def healthz() -> ResponseReturnValue:
    """200 when the database answers, 503 otherwise (for the load balancer and monitoring)."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        # Nothing to roll back here: the session is closed (and its connection returned) at teardown.
        return {"status": "unavailable", "database": "unreachable"}, 503
    return {"status": "ok", "database": "ok"}, 200
