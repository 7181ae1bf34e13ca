"""Needs checklist and services delivered for a case."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from marshmallow import ValidationError

from ..cases.models import FamilyUnit
from ..cases.queries import get_family
from ..cases.views import CasePage, case_page_part
from ..catalogs.models import Need
from ..catalogs.services import active_items
from ..core.errors import ServiceError
from ..core.forms import form_errors, form_to_data
from ..core.permissions import Permission, permission_required
from ..core.transaction import unit_of_work
from . import services
from .models import CHECKLIST_ACTIONS, NEED_STATUS_LABELS
from .schemas import AttendSchema, NeedsBatchSchema, marked_items

bp = Blueprint("needs", __name__, url_prefix="/cases")


@case_page_part
def _on_the_case_page(page: CasePage) -> dict[str, Any]:
    return {"needs": page.once(services.family_needs)}


def _page(
    family: FamilyUnit, values: dict[str, Any], errors: dict[str, str], status: int = 200
) -> ResponseReturnValue:
    return render_template(
        "needs/needs.html",
        family=family,
        needs=services.family_needs(family),
        catalogue=active_items(Need),
        values=values,
        rows={row.get("need"): row for row in values.get("items", [])},
        actions=[(action.value, NEED_STATUS_LABELS[action]) for action in CHECKLIST_ACTIONS],
        errors=errors,
    ), status


@bp.route("/<int:family_id>/needs", methods=["GET", "POST"])
@permission_required(Permission.CASE_VIEW)
def needs(family_id: int) -> ResponseReturnValue:
    family = get_family(current_user, family_id) or abort(404)
    if request.method == "GET":
        return _page(family, {"delivered_by": current_user.full_name}, {})
    if not current_user.can(Permission.CASE_EDIT):
        abort(403)
    values = form_to_data(request.form, lists=("items",))
    try:
        with unit_of_work():
            data = NeedsBatchSchema().load(values)
            recorded = services.record_needs(family, data["items"], current_user)
    except (ValidationError, ServiceError) as exc:
        return _page(family, values, _errors_by_need(marked_items(values), form_errors(exc)), 400)
    flash(
        ngettext("%(num)d necesidad registrada.", "%(num)d necesidades registradas.", len(recorded)),
        "success",
    )
    return redirect(url_for("cases.detail", family_id=family.id) + "#needs")


def _errors_by_need(marked: list[Any], errors: dict[str, str]) -> dict[str, str]:
    """Errors keyed by the need's code (the checklist's row name), not by the position among checked rows."""
    keyed = {}
    for key, message in errors.items():
        parts = key.split("-", 2)
        if len(parts) == 3 and parts[0] == "items" and parts[1].isdigit():
            code = marked[int(parts[1])].get("need", "")
            keyed[f"{code}-{parts[2]}"] = message
        else:
            keyed[key] = message
    return keyed


@bp.post("/<int:family_id>/needs/<int:need_id>/attend")
@permission_required(Permission.CASE_EDIT)
def attend(family_id: int, need_id: int) -> ResponseReturnValue:
    family = get_family(current_user, family_id) or abort(404)
    family_need = services.get_family_need(family, need_id) or abort(404)
    values = form_to_data(request.form)
    try:
        with unit_of_work():
            services.attend_need(family_need, AttendSchema().load(values), current_user)
    except (ValidationError, ServiceError) as exc:
        return _page(family, values, {f"attend-{need_id}-{k}": v for k, v in form_errors(exc).items()}, 400)
    flash(_("Servicio registrado."), "success")
    return redirect(url_for("needs.needs", family_id=family.id))
