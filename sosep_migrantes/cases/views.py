"""Cases: list with filters and search, detail and edit (with optimistic locking)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import false

from ..catalogs.services import all_centres, all_departments, sede_for_municipality
from ..core import audit
from ..core.errors import ServiceError
from ..core.forms import form_errors
from ..core.pagination import paginate
from ..core.permissions import Permission, Role, permission_required
from ..core.transaction import unit_of_work
from . import queries
from .forms import family_values, form_choices, submitted_values, unsaved_changes
from .models import CASE_STATUS_LABELS, FamilyUnit
from .schemas import CaseFilterSchema, FamilyUnitSchema
from .services import EditConflict, update_family

bp = Blueprint("cases", __name__, url_prefix="/cases")

T = TypeVar("T")

#: Filters that say nothing about a person (centre, department, status, dates) are kept in the session
#: so the list remembers them. The search text (a name, a CUI) is kept nowhere: it comes with the POST
#: that shows the results, and pages of results are asked for by POST too. So it never reaches a URL,
#: browser history, access logs or the session cookie.
FILTERS_KEY = "case_filters"
FILTER_KEYS = ("centre_id", "department_id", "status", "arrived_from", "arrived_to", "protection")


@bp.route("/", methods=["GET", "POST"])
@permission_required(Permission.CASE_VIEW)
def list_cases() -> ResponseReturnValue:
    q = None
    if request.method == "POST":
        if "clear" in request.form:
            session.pop(FILTERS_KEY, None)
            return redirect(url_for("cases.list_cases"))
        session[FILTERS_KEY] = {k: request.form.get(k, "").strip()[:20] for k in FILTER_KEYS}
        q = request.form.get("q", "")
        if not q.strip():
            return redirect(url_for("cases.list_cases"))
    raw = session.get(FILTERS_KEY) or {}
    page_arg = request.form.get("page") if request.method == "POST" else request.args.get("page")
    loaded = CaseFilterSchema().load_ignoring_errors({**raw, "q": q, "page": page_arg})
    number = loaded.pop("page")
    filters = queries.CaseFilters(**loaded)
    errors = {}
    listed = queries.search_families(current_user, filters)
    counted = queries.filter_families(current_user, filters)
    if filters.q is not None and not queries.is_searchable(filters.q):
        # One- and two-letter words match half the country and cannot use the search index.
        errors["q"] = _("Escriba al menos una palabra de 3 letras o números, o un número de caso completo.")
        listed, counted = listed.where(false()), counted.where(false())
    if filters.q is not None:
        queries.plan_each_search()
    config = current_app.config
    page = paginate(
        listed,
        number,
        config["CASES_PER_PAGE"],
        config["CASES_COUNT_CAP"],
        load=queries.list_rows,
        count_stmt=counted,
    )
    centres = all_centres()
    if current_user.role_enum is Role.RECEPTION:
        centres = [c for c in centres if c.id == current_user.centre_id]
    return render_template(
        "cases/list.html",
        families=page.items,
        filters=filters,
        raw_filters={**raw, "q": (q or "").strip()[:100]},
        errors=errors,
        searching=filters.q is not None,
        page=page,
        centres=centres,
        departments=all_departments(),
        statuses=CASE_STATUS_LABELS,
    )


class CasePage:
    """The case being drawn, and what its parts have read of it.

    Several parts show the same rows: the timeline names the referrals, needs and follow-ups that their
    own sections list. A part reads them through :meth:`once`, so the page reads each only once, however
    many parts show them.
    """

    def __init__(self, family: FamilyUnit) -> None:
        self.family = family
        self._read: dict[Callable[[FamilyUnit], Any], Any] = {}

    def once(self, read: Callable[[FamilyUnit], T]) -> T:
        """``read(family)``, called on the first use only: later uses get the same result."""
        if read not in self._read:
            self._read[read] = read(self.family)
        result: T = self._read[read]
        return result


#: What the modules above cases (needs, referrals) show on the case page: each function takes the page
#: (:class:`CasePage`) and returns the template's variables for its part. Cases cannot import those
#: modules (they sit above it), so they add their part when their views are imported, which
#: ``create_app`` does for all of them.
CASE_PAGE_PARTS: list[Callable[[CasePage], dict[str, Any]]] = []


def case_page_part(part: Callable[[CasePage], dict[str, Any]]) -> Callable[[CasePage], dict[str, Any]]:
    """Decorator: add ``part`` to the case page (see :data:`CASE_PAGE_PARTS`)."""
    CASE_PAGE_PARTS.append(part)
    return part


@bp.get("/<int:family_id>")
@permission_required(Permission.CASE_VIEW)
def detail(family_id: int) -> ResponseReturnValue:
    family = queries.get_family(current_user, family_id) or abort(404)
    if family.protection_risk or family.protection_causes:
        # Who read a case at risk, and when: saved before the page is drawn, so no reading goes unrecorded.
        # The case read stays loaded: the commit wrote the log only, and reading it all again cost a
        # dozen queries more than the page of a case without risk.
        with unit_of_work(keep_loaded=True):
            audit.record(
                audit.AuditAction.FAMILY_VIEW_PROTECTED, "family", family.id, actor_id=current_user.id
            )
    page = CasePage(family)
    parts: dict[str, Any] = {}
    for part in CASE_PAGE_PARTS:
        parts.update(part(page))
    return render_template(
        "cases/detail.html",
        family=family,
        sede=sede_for_municipality(family.destination_municipality_id),
        duplicates=queries.possible_duplicates(current_user, family),
        **parts,
    )


def _edit_form(
    family: FamilyUnit,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
    conflict: list[tuple[str, str, str]] | None = None,
) -> ResponseReturnValue:
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
def edit(family_id: int) -> ResponseReturnValue:
    family = queries.get_family(current_user, family_id) or abort(404)
    if family.anonymised_at is not None:
        # Its personal data was removed by the retention rule: nothing left to edit, nothing to put back.
        flash(_("Este caso fue anonimizado por el plazo de conservación: ya no se puede editar."), "info")
        return redirect(url_for("cases.detail", family_id=family.id))
    if request.method == "GET":
        return _edit_form(family, family_values(family), {})
    values = submitted_values()
    try:
        with unit_of_work():
            update_family(family, FamilyUnitSchema().load(values), current_user)
    except (ValidationError, ServiceError) as exc:
        # Rolled back: the page is drawn from what is saved, with what was typed in the form.
        family = queries.get_family(current_user, family_id) or abort(404)
        return _edit_form(family, values, form_errors(exc), 400)
    except EditConflict:
        family = queries.get_family(current_user, family_id) or abort(404)
        current = family_values(family)
        # The form now shows what is saved; the user's own changes are listed to re-apply.
        return _edit_form(family, current, {}, 409, conflict=unsaved_changes(values, current))
    if queries.get_family(current_user, family.id) is None:
        # A sede user moved the family to another territory: say where it went instead of showing a 404.
        sede = sede_for_municipality(family.destination_municipality_id)
        flash(
            _(
                "Cambios guardados. El caso %(case)s pasó a %(sede)s y ya no aparece en su lista.",
                case=family.case_number,
                sede=sede.name if sede else _("Sin sede asignada"),
            ),
            "info",
        )
        return redirect(url_for("cases.list_cases"))
    flash(_("Cambios guardados."), "success")
    return redirect(url_for("cases.detail", family_id=family.id))
