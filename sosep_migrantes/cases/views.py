"""Cases: list with filters and search, detail and edit (with optimistic locking)."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError

from ..catalogs.services import all_centres, all_departments, sede_for_municipality
from ..core.audit import AuditEvent
from ..core.forms import flatten_errors
from ..core.permissions import Permission, Role, permission_required
from ..extensions import db
from ..needs import services as need_services
from ..referrals import services as referral_services
from . import queries
from .forms import family_values, form_choices, submitted_values, unsaved_changes
from .models import CASE_STATUS_LABELS
from .schemas import FamilyUnitSchema
from .services import EditConflict, update_family

bp = Blueprint("cases", __name__, url_prefix="/cases")

#: Filters live in the session, not in the URL: a name or CUI typed in the search box must not end
#: up in browser history, proxies or access logs.
FILTERS_KEY = "case_filters"


def _filters_from_session() -> queries.CaseFilters:
    raw = session.get(FILTERS_KEY) or {}

    def as_date(value: str | None) -> dt.date | None:
        try:
            return dt.date.fromisoformat(value) if value else None
        except ValueError:
            return None

    def as_int(value: str | None) -> int | None:
        return int(value) if value and str(value).isdigit() else None

    status = raw.get("status") if raw.get("status") in CASE_STATUS_LABELS else None
    return queries.CaseFilters(
        centre_id=as_int(raw.get("centre_id")),
        department_id=as_int(raw.get("department_id")),
        status=status,
        arrived_from=as_date(raw.get("arrived_from")),
        arrived_to=as_date(raw.get("arrived_to")),
        q=(raw.get("q") or "").strip()[:100] or None,
    )


@bp.route("/", methods=["GET", "POST"])
@permission_required(Permission.CASE_VIEW)
def list_cases():
    if request.method == "POST":
        if "clear" in request.form:
            session.pop(FILTERS_KEY, None)
        else:
            keys = ("centre_id", "department_id", "status", "arrived_from", "arrived_to", "q")
            session[FILTERS_KEY] = {k: request.form.get(k, "").strip() for k in keys}
        return redirect(url_for("cases.list_cases"))
    filters = _filters_from_session()
    page = max(request.args.get("page", 1, type=int), 1)
    per_page = current_app.config["CASES_PER_PAGE"]
    stmt = queries.search_families(current_user, filters)
    total = queries.count(stmt)
    families = db.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)).unique().all()
    centres = all_centres()
    if current_user.role_enum is Role.RECEPTION:
        centres = [c for c in centres if c.id == current_user.centre_id]
    return render_template(
        "cases/list.html",
        families=families,
        filters=filters,
        raw_filters=session.get(FILTERS_KEY) or {},
        total=total,
        page=page,
        pages=max((total + per_page - 1) // per_page, 1),
        centres=centres,
        departments=all_departments(),
        statuses=CASE_STATUS_LABELS,
    )


@bp.get("/<int:family_id>")
@permission_required(Permission.CASE_VIEW)
def detail(family_id: int):
    family = queries.get_family(current_user, family_id) or abort(404)
    history = db.session.scalars(
        db.select(AuditEvent)
        .where(AuditEvent.subject_type == "family", AuditEvent.subject_id == family.id)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    ).all()
    return render_template(
        "cases/detail.html",
        family=family,
        sede=sede_for_municipality(family.destination_municipality_id),
        history=history,
        needs=need_services.family_needs(family),
        referrals=referral_services.family_referrals(family),
        suggestions=referral_services.suggestions_for(family),
    )


def _edit_form(family, values: dict, errors: dict, status: int = 200, conflict: list | None = None):
    return render_template(
        "cases/edit.html",
        family=family,
        values=values,
        errors=errors,
        conflict=conflict,
        choices=form_choices(),
    ), status


@bp.route("/<int:family_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.CASE_EDIT)
def edit(family_id: int):
    family = queries.get_family(current_user, family_id) or abort(404)
    if request.method == "GET":
        return _edit_form(family, family_values(family), {})
    values = submitted_values()
    try:
        data = FamilyUnitSchema().load(values)
    except ValidationError as exc:
        return _edit_form(family, values, flatten_errors(exc.messages), 400)
    try:
        update_family(family, data, current_user)
    except EditConflict:
        db.session.rollback()
        family = queries.get_family(current_user, family_id) or abort(404)
        current = family_values(family)
        # The form now shows what is saved; the user's own changes are listed to re-apply.
        return _edit_form(family, current, {}, 409, conflict=unsaved_changes(values, current))
    db.session.commit()
    flash(_("Cambios guardados."), "success")
    return redirect(url_for("cases.detail", family_id=family.id))
