"""The registration desk: an arrival's families and the one screen that registers, serves and refers each.

These pages stand on reception (the arrival), cases (the family units), needs and referrals: they live in
their own layer above those, under the ``desk`` blueprint so their URLs stay under ``/arrivals``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from marshmallow import ValidationError

from ..cases.forms import form_choices, new_family_values, submitted_values
from ..cases.models import FamilyUnit
from ..cases.queries import (
    CaseFilters,
    arrivals_with_family_counts,
    count,
    get_family,
    list_rows,
    possible_duplicates,
    search_families,
    submitted_family,
)
from ..cases.schemas import FamilyUnitSchema
from ..core.errors import ServiceError
from ..core.forms import form_errors, form_to_data
from ..core.permissions import Permission, permission_required
from ..core.security import MAX_ROUTE_INT
from ..core.transaction import AlreadySaved, unit_of_work
from ..reception.models import Arrival
from ..reception.services import get_arrival
from ..referrals.services import family_referrals
from .form import desk_form_parts, needs_shown, row_positions
from .schemas import DeskExtrasSchema
from .services import register_at_desk

bp = Blueprint("desk", __name__, url_prefix="/arrivals")

#: The desk form's lists beside the members: the needs checklist and the referrals offered.
DESK_LISTS = ("needs", "referrals")


@bp.get("/")
@permission_required(Permission.ARRIVAL_VIEW)
def arrivals() -> ResponseReturnValue:
    return render_template("reception/arrivals.html", arrivals=arrivals_with_family_counts(current_user))


@bp.get("/<int:arrival_id>")
@permission_required(Permission.ARRIVAL_VIEW)
def arrival(arrival_id: int) -> ResponseReturnValue:
    arrival = get_arrival(current_user, arrival_id) or abort(404)
    families = list_rows(search_families(current_user, CaseFilters(arrival_id=arrival.id)))
    return render_template("reception/arrival.html", arrival=arrival, families=families)


def _family_form(
    arrival: Arrival,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
    last: FamilyUnit | None = None,
) -> ResponseReturnValue:
    return render_template(
        "reception/family_new.html",
        arrival=arrival,
        values=values,
        errors=errors,
        last=last,
        last_slips=family_referrals(last) if last is not None else [],
        duplicates=possible_duplicates(current_user, last) if last is not None else [],
        registered=count(search_families(current_user, CaseFilters(arrival_id=arrival.id))),
        choices=form_choices(),
        **desk_form_parts(arrival, errors),
    ), status


@bp.post("/<int:arrival_id>/families/suggestions")
@permission_required(Permission.CASE_CREATE)
def suggestions(arrival_id: int) -> ResponseReturnValue:
    """The referrals section for the family as typed so far (the desk's script asks while staff type)."""
    arrival = get_arrival(current_user, arrival_id) or abort(404)
    return render_template("desk/_referrals.html", **desk_form_parts(arrival))


def _already_saved(arrival: Arrival, token: str | None) -> ResponseReturnValue:
    """A form sent again (a retry on a slow connection) shows the family it registered, not a copy."""
    family = submitted_family(current_user, token)
    if family is None:  # taken by a family this user may not see: the general "already sent" answer
        raise AlreadySaved
    flash(_("Esta unidad familiar ya estaba guardada como %(case)s.", case=family.case_number), "info")
    return redirect(url_for("desk.new_family", arrival_id=arrival.id, saved=family.id))


@bp.route("/<int:arrival_id>/families/new", methods=["GET", "POST"])
@permission_required(Permission.CASE_CREATE)
def new_family(arrival_id: int) -> ResponseReturnValue:
    arrival = get_arrival(current_user, arrival_id) or abort(404)
    if request.method == "GET":
        last_id = request.args.get("saved", type=int)
        in_range = last_id is not None and 0 < last_id <= MAX_ROUTE_INT
        last = get_family(current_user, last_id) if in_range and last_id else None
        if last is not None and last.arrival_id != arrival.id:
            last = None
        return _family_form(arrival, new_family_values(), {}, last=last)
    values = submitted_values()
    if request.form.get("refresh"):
        # Without the script: the button that shows the referrals the data typed so far suggests.
        return _family_form(arrival, values, {})
    token = values.get("submission_token")
    errors: dict[str, str] = {}
    try:
        family_data = FamilyUnitSchema().load(values)
    except ValidationError as exc:
        errors.update(form_errors(exc))
    try:
        extras = DeskExtrasSchema().load(form_to_data(request.form, multi=("persons",), lists=DESK_LISTS))
    except ValidationError as exc:
        errors.update(form_errors(exc))
    if errors:
        return _family_form(arrival, values, errors, 400)
    defaults = {line.need.code: line.default for line in needs_shown(arrival, request.form)}
    try:
        with unit_of_work():
            # Sent again after its first save; sent again at the same moment, the token's unique
            # constraint stops it at the flush and unit_of_work raises AlreadySaved all the same.
            if submitted_family(current_user, token) is not None:
                raise AlreadySaved
            family, referrals = register_at_desk(
                arrival, family_data, extras, row_positions(request.form), defaults, current_user
            )
    except ServiceError as exc:
        return _family_form(arrival, values, form_errors(exc), 400)
    except AlreadySaved:
        return _already_saved(arrival, token)
    message = ngettext(
        "Unidad familiar %(case)s registrada con %(num)d integrante.",
        "Unidad familiar %(case)s registrada con %(num)d integrantes.",
        len(family.members),
        case=family.case_number,
    )
    if referrals:
        message += " " + ngettext(
            "%(num)d derivación enviada; su boleta está en la cola de la llegada.",
            "%(num)d derivaciones enviadas; sus boletas están en la cola de la llegada.",
            len(referrals),
        )
    flash(message, "success")
    # Straight on to the next family of the same arrival.
    return redirect(url_for("desk.new_family", arrival_id=arrival.id, saved=family.id))
