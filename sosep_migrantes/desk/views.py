"""The registration desk: an arrival's families and the one screen that registers, serves and refers each.

These pages stand on reception (the arrival), cases (the family units), needs and referrals: they live in
their own layer above those, under the ``desk`` blueprint so their URLs stay under ``/arrivals``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import RequestEntityTooLarge

from ..cases.forms import family_values, form_choices, new_family_values, submitted_values
from ..cases.models import FamilyUnit
from ..cases.queries import (
    CaseFilters,
    arrivals_with_family_counts,
    count,
    get_family,
    list_rows,
    possible_duplicates,
    preregistered_families,
    search_families,
    submitted_family,
)
from ..cases.schemas import FamilyUnitSchema
from ..cases.services import EditConflict
from ..core.errors import ServiceError
from ..core.forms import form_errors, form_to_data
from ..core.permissions import Permission, permission_required
from ..core.security import MAX_ROUTE_INT, allows_upload
from ..core.timeutil import today_local
from ..core.transaction import AlreadySaved, unit_of_work
from ..reception.models import Arrival
from ..reception.services import get_arrival
from ..referrals.services import family_referrals
from ..returnees.services import Candidate, candidates_for_member
from .form import desk_form_parts, needs_shown, row_positions
from .imports import confirm_upload, confirmed_lists, earlier_records, preview_upload
from .passenger_list import (
    MAX_FILE_BYTES,
    MAX_ROWS,
    TEMPLATE_NOTES,
    PassengerListError,
    Plan,
    template_csv,
    template_xlsx,
)
from .schemas import DeskExtrasSchema
from .services import confirm_at_desk, register_at_desk

bp = Blueprint("desk", __name__, url_prefix="/arrivals")

#: The desk form's lists beside the members: the needs checklist and the referrals offered.
DESK_LISTS = ("needs", "referrals")


@bp.get("/")
@permission_required(Permission.ARRIVAL_VIEW)
def arrivals() -> ResponseReturnValue:
    return render_template("reception/arrivals.html", arrivals=arrivals_with_family_counts(current_user))


@bp.route("/<int:arrival_id>", methods=["GET", "POST"])
@permission_required(Permission.ARRIVAL_VIEW)
def arrival(arrival_id: int) -> ResponseReturnValue:
    """The arrival's families: those received, and those pre-registered from its passenger list waiting
    for the desk (a search by name or group reference is posted, so no name reaches a URL)."""
    arrival = get_arrival(current_user, arrival_id) or abort(404)
    q = request.form.get("q", "").strip()[:100] if request.method == "POST" else ""
    return _arrival_page(arrival, q)


def _arrival_page(
    arrival: Arrival, q: str = "", upload_error: str | None = None, status: int = 200
) -> ResponseReturnValue:
    families = list_rows(search_families(current_user, CaseFilters(arrival_id=arrival.id)))
    waiting = preregistered_families(current_user, arrival.id)
    confirmed_id = request.args.get("confirmed", type=int)
    confirmed = None
    if confirmed_id is not None and 0 < confirmed_id <= MAX_ROUTE_INT:
        confirmed = get_family(current_user, confirmed_id)
        if confirmed is not None and confirmed.arrival_id != arrival.id:
            confirmed = None
    return render_template(
        "reception/arrival.html",
        arrival=arrival,
        families=families,
        preregistered=preregistered_families(current_user, arrival.id, q) if q else waiting,
        preregistered_total=len(waiting),
        q=q,
        passenger_lists=confirmed_lists(arrival),
        confirmed=confirmed,
        confirmed_slips=family_referrals(confirmed) if confirmed is not None else [],
        max_rows=f"{MAX_ROWS:,}".replace(",", "."),
        max_file_bytes=MAX_FILE_BYTES,
        too_large=_too_large_message(),
        upload_error=upload_error,
    ), status


def _family_form(
    arrival: Arrival,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
    last: FamilyUnit | None = None,
    confirming: FamilyUnit | None = None,
) -> ResponseReturnValue:
    # Confirming a pre-registered family, the page first shows what the list said: the needs' quantities
    # and the suggested referrals are read from those values, as from a form sent.
    opened = confirming is not None and request.method == "GET"
    parts = desk_form_parts(arrival, errors, _as_form(values)) if opened else None
    return render_template(
        "reception/family_new.html",
        arrival=arrival,
        values=values,
        errors=errors,
        last=last,
        last_slips=family_referrals(last) if last is not None else [],
        duplicates=possible_duplicates(current_user, last) if last is not None else [],
        # Earlier records of the family just saved, anywhere in the country: linked or dismissed right here.
        earlier=[
            (member, found)
            for member in last.members
            if (found := candidates_for_member(current_user, member))
        ]
        if last is not None
        else [],
        registered=count(search_families(current_user, CaseFilters(arrival_id=arrival.id))),
        choices=form_choices(),
        confirming=confirming,
        **(parts or desk_form_parts(arrival, errors)),
    ), status


def _as_form(values: dict[str, Any]) -> MultiDict[str, str]:
    """The form a browser would post for ``values`` (flat names: ``members-0-given_names``)."""
    form: MultiDict[str, str] = MultiDict()

    def add(name: str, value: Any) -> None:
        if isinstance(value, list):
            for item in value:
                form.add(name, str(item))
        elif value is True:
            form.add(name, "y")
        elif value not in (None, False, ""):
            form.add(name, str(value))

    for key, value in values.items():
        if key == "members":
            for index, member in enumerate(value):
                for field, member_value in member.items():
                    add(f"members-{index}-{field}", member_value)
        else:
            add(key, value)
    return form


def _flash_saved(message: str, referrals: list[Any]) -> None:
    """The desk's answer to a save: the family, and where its slips went."""
    if referrals:
        message += " " + ngettext(
            "%(num)d derivación enviada; su boleta está en la cola de la llegada.",
            "%(num)d derivaciones enviadas; sus boletas están en la cola de la llegada.",
            len(referrals),
        )
    flash(message, "success")


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
    _flash_saved(
        ngettext(
            "Unidad familiar %(case)s registrada con %(num)d integrante.",
            "Unidad familiar %(case)s registrada con %(num)d integrantes.",
            len(family.members),
            case=family.case_number,
        ),
        referrals,
    )
    # Straight on to the next family of the same arrival.
    return redirect(url_for("desk.new_family", arrival_id=arrival.id, saved=family.id))


# -- the passenger list --------------------------------------------------------------------------------


def _download(content: bytes, name: str, mimetype: str) -> Response:
    response = Response(content, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.get("/passenger-list-template.csv")
@permission_required(Permission.CASE_CREATE)
def passenger_list_template_csv() -> ResponseReturnValue:
    return _download(template_csv(), "plantilla_lista_de_pasajeros.csv", "text/csv")


@bp.get("/passenger-list-template.xlsx")
@permission_required(Permission.CASE_CREATE)
def passenger_list_template_xlsx() -> ResponseReturnValue:
    return _download(
        template_xlsx(),
        "plantilla_lista_de_pasajeros.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


def _preview(
    arrival: Arrival,
    plan: Plan | None = None,
    token: str | None = None,
    error: str | None = None,
    earlier: dict[int, list[Candidate]] | None = None,
) -> ResponseReturnValue:
    return render_template(
        "desk/passenger_list_preview.html",
        arrival=arrival,
        plan=plan,
        token=token,
        error=error,
        earlier=earlier or {},
        notes=TEMPLATE_NOTES,
    ), 200 if error is None else 400


def _too_large_message() -> str:
    message: str = _(
        "El archivo pesa más de %(mb)d MB, el máximo para una lista de pasajeros (una de %(rows)s filas "
        "pesa mucho menos): revise que sea el archivo correcto, o divídalo en dos.",
        mb=MAX_FILE_BYTES // 2**20,
        rows=f"{MAX_ROWS:,}".replace(",", "."),
    )
    return message


class PassengerListTooLarge(RequestEntityTooLarge):
    """A passenger list over the upload limit, sent by someone who may import lists for the arrival."""

    def __init__(self, arrival: Arrival) -> None:
        super().__init__()
        self.arrival = arrival


@bp.url_value_preprocessor
def _refuse_large_passenger_list(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """The same test as Werkzeug's, made first (URL value preprocessors run before CSRF protection reads
    the body), so that the arrival's page can say what happened beside the file field instead of the
    general error page; the body is still not read. Anyone who may not import for this arrival gets the
    general answer, as before."""
    if endpoint != "desk.upload_passenger_list" or not values:
        return
    size, limit = request.content_length, request.max_content_length
    if size is None or limit is None or size <= limit:
        return
    if not current_user.is_authenticated or not current_user.can(Permission.CASE_CREATE):
        return
    arrival = get_arrival(current_user, values["arrival_id"])
    if arrival is not None:
        raise PassengerListTooLarge(arrival)


@bp.errorhandler(PassengerListTooLarge)
def _passenger_list_too_large(error: PassengerListTooLarge) -> ResponseReturnValue:
    return _arrival_page(error.arrival, upload_error=_too_large_message(), status=413)


@bp.post("/<int:arrival_id>/passenger-list")
# The file and the form's token: a little more than the largest list accepted.
@allows_upload(MAX_FILE_BYTES + 64 * 1024)
@permission_required(Permission.CASE_CREATE)
def upload_passenger_list(arrival_id: int) -> ResponseReturnValue:
    """The preview of an uploaded passenger list: each row's problems and the families it would create.
    Nothing is created; the rows are kept on the server for the confirmation (the form carries a token)."""
    arrival = get_arrival(current_user, arrival_id) or abort(404)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _preview(arrival, error=_("Elija el archivo de la lista de pasajeros (.xlsx o .csv)."))
    content = upload.read(MAX_FILE_BYTES + 1)
    try:
        with unit_of_work():
            found, kept = preview_upload(arrival, upload.filename, content, current_user)
            token = kept.token if kept is not None else None
    except PassengerListError as exc:
        return _preview(arrival, error=exc.message)
    return _preview(arrival, plan=found, token=token, earlier=earlier_records(arrival, found, current_user))


@bp.post("/<int:arrival_id>/passenger-list/confirm")
@permission_required(Permission.CASE_CREATE)
def confirm_passenger_list(arrival_id: int) -> ResponseReturnValue:
    """Create the previewed list's families, pre-registered, in one transaction."""
    arrival = get_arrival(current_user, arrival_id) or abort(404)
    try:
        with unit_of_work():
            _upload, families = confirm_upload(arrival, request.form.get("token"), current_user)
            persons = sum(len(family.members) for family in families)
    except ServiceError as exc:
        flash(next(iter(exc.errors.values())), "error")
        return redirect(url_for("desk.arrival", arrival_id=arrival.id))
    flash(
        ngettext(
            "%(num)d unidad familiar pre-registrada (%(persons)d personas): confírmela en el escritorio "
            "cuando llegue.",
            "%(num)d unidades familiares pre-registradas (%(persons)d personas): confírmelas en el "
            "escritorio a medida que lleguen.",
            len(families),
            persons=persons,
        ),
        "success",
    )
    return redirect(url_for("desk.arrival", arrival_id=arrival.id))


@bp.route("/<int:arrival_id>/families/<int:family_id>/confirm", methods=["GET", "POST"])
@permission_required(Permission.CASE_CREATE)
def confirm_family(arrival_id: int, family_id: int) -> ResponseReturnValue:
    """The desk's one screen for a family pre-registered from the passenger list: its data prefilled from
    the list, completed (consent, needs served, referrals) and saved as received, in one transaction."""
    arrival = get_arrival(current_user, arrival_id) or abort(404)
    family = get_family(current_user, family_id)
    if family is None or family.arrival_id != arrival.id:
        abort(404)
    if not family.is_preregistered:
        flash(_("La unidad familiar %(case)s ya está confirmada.", case=family.case_number), "info")
        return redirect(url_for("cases.detail", family_id=family.id))
    if request.method == "GET":
        values = family_values(family)
        values["consent_on"] = today_local().strftime("%d/%m/%Y")
        return _family_form(arrival, values, {}, confirming=family)
    values = submitted_values()
    if request.form.get("refresh"):
        return _family_form(arrival, values, {}, confirming=family)
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
        return _family_form(arrival, values, errors, 400, confirming=family)
    defaults = {line.need.code: line.default for line in needs_shown(arrival, request.form)}
    try:
        with unit_of_work():
            family, referrals = confirm_at_desk(
                family, family_data, extras, row_positions(request.form), defaults, current_user
            )
    except ServiceError as exc:
        return _family_form(arrival, values, form_errors(exc), 400, confirming=family)
    except EditConflict:
        # Confirmed by another desk meanwhile, or changed since this form was opened: show what is saved.
        flash(
            _("Otra persona guardó esta unidad familiar mientras la confirmaba: revise sus datos."), "error"
        )
        return redirect(url_for("desk.confirm_family", arrival_id=arrival.id, family_id=family_id))
    _flash_saved(
        ngettext(
            "Unidad familiar %(case)s confirmada con %(num)d integrante.",
            "Unidad familiar %(case)s confirmada con %(num)d integrantes.",
            len(family.members),
            case=family.case_number,
        ),
        referrals,
    )
    return redirect(url_for("desk.arrival", arrival_id=arrival.id, confirmed=family.id))
