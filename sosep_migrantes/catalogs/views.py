"""Admin pages for the catalogues: which municipalities each sede covers."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from ..core.permissions import Permission, permission_required
from ..extensions import db
from . import services
from .models import Municipality, Sede

bp = Blueprint("catalogs", __name__, url_prefix="/admin/catalogs")


@bp.get("/sedes")
@permission_required(Permission.CATALOG_MANAGE)
def sedes():
    return render_template("catalogs/sedes.html", sedes=services.all_sedes())


@bp.route("/sedes/<int:sede_id>", methods=["GET", "POST"])
@permission_required(Permission.CATALOG_MANAGE)
def sede_coverage(sede_id: int):
    sede = db.session.get(Sede, sede_id) or abort(404)
    if request.method == "POST":
        known = set(db.session.scalars(select(Municipality.id)))
        wanted = [int(v) for v in request.form.getlist("municipalities") if v.isdigit() and int(v) in known]
        moved = services.set_sede_coverage(sede, wanted)
        db.session.commit()
        if moved:
            flash(_("Cobertura guardada; %(n)d municipios pasaron de otra sede a esta.", n=len(moved)), "success")
        else:
            flash(_("Cobertura guardada."), "success")
        return redirect(url_for("catalogs.sedes"))
    owners = services.sede_names_by_municipality()
    return render_template(
        "catalogs/sede_coverage.html",
        sede=sede,
        departments=services.all_departments(),
        covered={m.id for m in sede.municipalities},
        owners=owners,
    )
