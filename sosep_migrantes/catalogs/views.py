"""Admin pages for the catalogues: which municipalities each sede covers."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext
from marshmallow import ValidationError

from ..core.errors import ServiceError
from ..core.forms import form_errors, form_to_data
from ..core.permissions import Permission, permission_required
from ..core.schema import is_ascii_number
from ..core.transaction import unit_of_work
from ..extensions import db
from . import services
from .models import INSTITUTION_KIND_LABELS, Institution, InstitutionKind, Need, Sede
from .schemas import InstitutionSchema, NeedSchema, SedeCoverageSchema

bp = Blueprint("catalogs", __name__, url_prefix="/admin/catalogs")


@bp.get("/sedes")
@permission_required(Permission.CATALOG_MANAGE)
def sedes() -> ResponseReturnValue:
    return render_template(
        "catalogs/sedes.html", sedes=services.all_sedes(), counts=services.coverage_counts()
    )


def _coverage_page(
    sede: Sede, errors: dict[str, str], status: int = 200, ticked: set[int] | None = None
) -> ResponseReturnValue:
    """The coverage form; shown again after a refusal, it keeps the boxes the admin had ticked."""
    return render_template(
        "catalogs/sede_coverage.html",
        sede=sede,
        departments=services.all_departments(),
        covered={m.id for m in sede.municipalities} if ticked is None else ticked,
        owners=services.sede_names_by_municipality(),
        errors=errors,
        ask_confirmation="confirm_empty" in errors,
    ), status


def _ticked(values: dict[str, Any]) -> set[int]:
    """The municipalities ticked in a refused form (those that read as one; the error names the rest)."""
    codes = (str(code).strip() for code in values.get("municipalities") or [])
    return {int(code) for code in codes if is_ascii_number(code, max_digits=4)}


@bp.route("/sedes/<int:sede_id>", methods=["GET", "POST"])
@permission_required(Permission.CATALOG_MANAGE)
def sede_coverage(sede_id: int) -> ResponseReturnValue:
    sede = db.session.get(Sede, sede_id) or abort(404)
    if request.method == "GET":
        return _coverage_page(sede, {})
    values = form_to_data(request.form, multi=("municipalities",))
    try:
        with unit_of_work():
            data = SedeCoverageSchema().load(values)
            moved = services.set_sede_coverage(
                sede, data["municipalities"], confirm_empty=data["confirm_empty"]
            )
    except (ValidationError, ServiceError) as exc:
        sede = db.session.get(Sede, sede_id) or abort(404)
        return _coverage_page(sede, form_errors(exc), 400, ticked=_ticked(values))
    if moved:
        flash(
            ngettext(
                "Cobertura guardada; %(num)d municipio pasó de otra sede a esta.",
                "Cobertura guardada; %(num)d municipios pasaron de otra sede a esta.",
                len(moved),
            ),
            "success",
        )
    else:
        flash(_("Cobertura guardada."), "success")
    return redirect(url_for("catalogs.sedes"))


def _institution_form(
    institution: Institution | None, values: dict[str, Any], errors: dict[str, str], status: int = 200
) -> ResponseReturnValue:
    return render_template(
        "catalogs/institution_form.html",
        institution=institution,
        values=values,
        errors=errors,
        kinds=INSTITUTION_KIND_LABELS,
        needs=services.all_needs(),
    ), status


@bp.get("/institutions")
@permission_required(Permission.CATALOG_MANAGE)
def institutions() -> ResponseReturnValue:
    return render_template("catalogs/institutions.html", institutions=services.all_institutions())


@bp.route("/institutions/new", methods=["GET", "POST"], defaults={"institution_id": None})
@bp.route("/institutions/<int:institution_id>", methods=["GET", "POST"])
@permission_required(Permission.CATALOG_MANAGE)
def institution(institution_id: int | None) -> ResponseReturnValue:
    institution = db.session.get(Institution, institution_id) or abort(404) if institution_id else None
    if request.method == "GET":
        if institution is None:
            return _institution_form(None, {"is_active": True, "kind": InstitutionKind.NGO.value}, {})
        values = {f: getattr(institution, f) for f in services.INSTITUTION_FIELDS}
        values["needs"] = [n.code for n in institution.needs]
        return _institution_form(institution, values, {})
    values = form_to_data(request.form, multi=("needs",))
    try:
        with unit_of_work():
            saved = services.save_institution(institution, InstitutionSchema().load(values))
    except (ValidationError, ServiceError) as exc:
        return _institution_form(institution, values, form_errors(exc), 400)
    flash(_("Institución %(code)s guardada.", code=saved.code), "success")
    return redirect(url_for("catalogs.institutions"))


@bp.route("/needs", methods=["GET", "POST"])
@permission_required(Permission.CATALOG_MANAGE)
def needs() -> ResponseReturnValue:
    values, errors, status = {}, {}, 200
    if request.method == "POST":
        values = form_to_data(request.form)
        try:
            with unit_of_work():
                need = services.save_need(NeedSchema().load(values))
        except (ValidationError, ServiceError) as exc:
            errors, status = form_errors(exc), 400
        else:
            flash(_("Necesidad %(code)s agregada.", code=need.code), "success")
            return redirect(url_for("catalogs.needs"))
    return render_template(
        "catalogs/needs.html", needs=services.all_needs(), values=values, errors=errors
    ), status


@bp.post("/needs/<int:need_id>/toggle")
@permission_required(Permission.CATALOG_MANAGE)
def toggle_need(need_id: int) -> ResponseReturnValue:
    need = db.session.get(Need, need_id) or abort(404)
    with unit_of_work():
        services.toggle_need(need)
    return redirect(url_for("catalogs.needs"))
