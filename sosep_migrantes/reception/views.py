"""Reception desk: arrivals and the registration of family units on them."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from marshmallow import ValidationError

from ..cases.forms import form_choices, new_family_values, submitted_values
from ..cases.models import FamilyUnit
from ..cases.queries import (
    CaseFilters,
    count,
    get_family,
    list_rows,
    possible_duplicates,
    search_families,
    submitted_family,
)
from ..cases.schemas import FamilyUnitSchema
from ..cases.services import register_family
from ..catalogs.models import Country
from ..catalogs.services import active_items, all_centres
from ..core.errors import ServiceError
from ..core.forms import form_errors, form_to_data
from ..core.permissions import Permission, Role, permission_required
from ..core.timeutil import now_local
from ..core.transaction import AlreadySaved, unit_of_work
from . import services
from .models import TransportMode
from .schemas import ArrivalSchema

bp = Blueprint("reception", __name__, url_prefix="/arrivals")

#: Where families usually come from, offered while typing the origin.
COMMON_ORIGINS = (
    "Alexandria, LA",
    "Brownsville, TX",
    "El Paso, TX",
    "Harlingen, TX",
    "Laredo, TX",
    "Mesa, AZ",
    "San Antonio, TX",
    "Miami, FL",
    "Houston, TX",
    "Villahermosa, Tab.",
    "Tapachula, Chis.",
    "Ciudad de México",
    "Monterrey, N.L.",
    "Tenosique, Tab.",
)


def _arrival_form(values: dict, errors: dict, status: int = 200):
    centres = all_centres()
    if current_user.role_enum is Role.RECEPTION:
        centres = [c for c in centres if c.id == current_user.centre_id]
    return render_template(
        "reception/arrival_form.html",
        values=values,
        errors=errors,
        centres=centres,
        countries=active_items(Country),
        modes=list(TransportMode),
        origins=COMMON_ORIGINS,
    ), status


@bp.get("/")
@permission_required(Permission.ARRIVAL_VIEW)
def arrivals():
    return render_template("reception/arrivals.html", arrivals=services.recent_arrivals(current_user))


@bp.route("/new", methods=["GET", "POST"])
@permission_required(Permission.ARRIVAL_CREATE)
def new_arrival():
    if request.method == "GET":
        centre = current_user.centre
        land = centre is not None and centre.mode == TransportMode.LAND
        return _arrival_form(
            {
                "centre": centre.code if centre else "",
                "arrived_at": now_local().strftime("%Y-%m-%dT%H:%M"),
                "mode": TransportMode.LAND.value if land else TransportMode.AIR.value,
                "country": "MX" if land else "US",
            },
            {},
        )
    values = form_to_data(request.form)
    try:
        with unit_of_work():
            arrival = services.create_arrival(ArrivalSchema().load(values), current_user)
    except (ValidationError, ServiceError) as exc:
        return _arrival_form(values, form_errors(exc), 400)
    flash(_("Llegada registrada. Registre ahora las unidades familiares."), "success")
    return redirect(url_for("reception.new_family", arrival_id=arrival.id))


@bp.get("/<int:arrival_id>")
@permission_required(Permission.ARRIVAL_VIEW)
def arrival(arrival_id: int):
    arrival = services.get_arrival(current_user, arrival_id) or abort(404)
    families = list_rows(search_families(current_user, CaseFilters(arrival_id=arrival.id)))
    return render_template("reception/arrival.html", arrival=arrival, families=families)


def _family_form(arrival, values: dict, errors: dict, status: int = 200, last: FamilyUnit | None = None):
    return render_template(
        "reception/family_new.html",
        arrival=arrival,
        values=values,
        errors=errors,
        last=last,
        duplicates=possible_duplicates(current_user, last) if last is not None else [],
        registered=count(search_families(current_user, CaseFilters(arrival_id=arrival.id))),
        choices=form_choices(),
    ), status


def _already_saved(arrival, token: str | None):
    """A form sent again (a retry on a slow connection) shows the family it registered, not a copy."""
    family = submitted_family(current_user, token)
    if family is None:  # taken by a family this user may not see: the general "already sent" answer
        raise AlreadySaved
    flash(_("Esta unidad familiar ya estaba guardada como %(case)s.", case=family.case_number), "info")
    return redirect(url_for("reception.new_family", arrival_id=arrival.id, saved=family.id))


@bp.route("/<int:arrival_id>/families/new", methods=["GET", "POST"])
@permission_required(Permission.CASE_CREATE)
def new_family(arrival_id: int):
    arrival = services.get_arrival(current_user, arrival_id) or abort(404)
    if request.method == "GET":
        last_id = request.args.get("saved", type=int)
        last = get_family(current_user, last_id) if last_id else None
        if last is not None and last.arrival_id != arrival.id:
            last = None
        return _family_form(arrival, new_family_values(), {}, last=last)
    values = submitted_values()
    token = values.get("submission_token")
    try:
        with unit_of_work():
            # Sent again after its first save; sent again at the same moment, the token's unique
            # constraint stops it at the flush and unit_of_work raises AlreadySaved all the same.
            if submitted_family(current_user, token) is not None:
                raise AlreadySaved
            family = register_family(arrival, FamilyUnitSchema().load(values), current_user)
    except ValidationError as exc:
        return _family_form(arrival, values, form_errors(exc), 400)
    except AlreadySaved:
        return _already_saved(arrival, token)
    flash(
        ngettext(
            "Unidad familiar %(case)s registrada con %(num)d integrante.",
            "Unidad familiar %(case)s registrada con %(num)d integrantes.",
            len(family.members),
            case=family.case_number,
        ),
        "success",
    )
    # Straight on to the next family of the same arrival.
    return redirect(url_for("reception.new_family", arrival_id=arrival.id, saved=family.id))
