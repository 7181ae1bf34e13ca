"""Reception desk: opening an arrival (a flight or a bus).

The pages that show or register the families of an arrival are the desk's (``desk/views.py``): they
read family units, which sit above reception.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError

from ..catalogs.models import Country, TransportMode
from ..catalogs.services import active_items, all_centres
from ..core.errors import ServiceError
from ..core.forms import form_errors, form_to_data
from ..core.permissions import Permission, Role, permission_required
from ..core.timeutil import now_local
from ..core.transaction import unit_of_work
from . import services
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


def _arrival_form(values: dict[str, Any], errors: dict[str, str], status: int = 200) -> ResponseReturnValue:
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


@bp.route("/new", methods=["GET", "POST"])
@permission_required(Permission.ARRIVAL_CREATE)
def new_arrival() -> ResponseReturnValue:
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
    return redirect(url_for("desk.new_family", arrival_id=arrival.id))
