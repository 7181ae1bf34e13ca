"""The report page and its downloads (PDF, XLSX, CSV in a zip), for the user's scope.

Thin views: the query string passes :class:`.schemas.ReportQuerySchema`, the figures come from
:func:`.tables.build_report` (which reads through the user's scope), the files from :mod:`.exports`.
What the user's scope fixes is not theirs to choose: a sede always gets its own territory, a reception
centre its own arrivals, whatever the query string says; only a coordinator chooses a sede (or the country).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError

from ..auth.models import User
from ..catalogs.models import TRANSPORT_MODE_LABELS, Country, TransportMode
from ..catalogs.services import active_items, all_centres, all_departments, all_sedes
from ..core.forms import form_errors, form_to_data
from ..core.permissions import Permission, Role, permission_required
from ..core.timeutil import today_local
from . import charts, exports
from .schemas import PERIOD_KIND_LABELS, PeriodKind, ReportQuery, ReportQuerySchema, quarter_of
from .tables import Report, Table, build_report

bp = Blueprint("reports", __name__, url_prefix="/reports")
# The PDF's template includes reports/_table.html too: the chart of a table is a global of the app.
bp.add_app_template_global(charts.table_chart, "table_chart")
bp.add_app_template_filter(charts.format_value, "report_number")

#: The downloads: (how the report becomes the file, its media type, its extension).
EXPORTS: dict[str, tuple[Callable[[Report], bytes], str]] = {
    "pdf": (exports.to_pdf, "application/pdf"),
    "xlsx": (exports.to_xlsx, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "zip": (exports.to_csv_zip, "application/zip"),
}


def within_scope(user: User, query: ReportQuery) -> ReportQuery:
    """The query with what the user's scope fixes put back (the queries enforce the scope anyway).

    A reception centre's report is its centre's (no sede to choose); a sede's, its own territory.
    """
    if user.role_enum is Role.RECEPTION:
        return dataclasses.replace(query, centre=user.centre, sede=None)
    if user.role_enum is Role.SEDE:
        return dataclasses.replace(query, sede=user.sede)
    return query


def scope_label(user: User, query: ReportQuery) -> str:
    """What the report covers, in words: "Sede Departamental de Huehuetenango · Vía: Aérea"."""
    reception = user.role_enum is Role.RECEPTION
    if reception and user.centre is not None:
        parts = [_("Centro %(code)s", code=user.centre.code)]
    elif query.sede is not None:
        parts = [query.sede.name]
    else:
        parts = [_("Nacional")]
    if query.centre is not None and not reception:
        parts.append(_("Centro: %(code)s", code=query.centre.code))
    if query.mode is not None:
        parts.append(_("Vía: %(mode)s", mode=TRANSPORT_MODE_LABELS[query.mode]))
    if query.country is not None:
        parts.append(_("País de retorno: %(name)s", name=query.country.name))
    if query.department is not None:
        parts.append(_("Departamento: %(name)s", name=query.department.name))
    return " · ".join(parts)


#: Filters a role's scope fixes: they are not on its form, so a value in the address is ignored, not checked.
FIXED_BY_SCOPE = {Role.SEDE: ("sede",), Role.RECEPTION: ("sede", "centre")}


def _load() -> tuple[ReportQuery | None, dict[str, str]]:
    args = request.args.copy()
    for name in FIXED_BY_SCOPE.get(current_user.role_enum, ()):
        args.pop(name, None)
    try:
        query: ReportQuery = ReportQuerySchema().load(form_to_data(args))
    except ValidationError as exc:
        return None, form_errors(exc)
    return within_scope(current_user, query), {}


def _form_values() -> dict[str, str]:
    """What the filters form shows: today's month by default, then what was typed (kept when refused)."""
    today = today_local()
    values = {
        "period": PeriodKind.MONTH.value,
        "year": str(today.year),
        "month": str(today.month),
        "quarter": str(quarter_of(today)),
    }
    values.update({k: v for k, v in request.args.items() if len(v) <= 100})
    return values


def _form_choices(user: User) -> dict[str, Any]:
    role = user.role_enum
    return {
        "kinds": [(k.value, str(label)) for k, label in PERIOD_KIND_LABELS.items()],
        "months": [(m, format_date(dt.date(2000, m, 1), "LLLL")) for m in range(1, 13)],
        "sedes": [(s.code, s.name) for s in all_sedes()] if role is Role.COORDINATOR else [],
        "centres": [(c.code, c.code + " · " + c.name) for c in all_centres()]
        if role is not Role.RECEPTION
        else [],
        "modes": [(m.value, str(TRANSPORT_MODE_LABELS[m])) for m in TransportMode],
        "countries": [(c.code, c.name) for c in active_items(Country)],
        "departments": [(d.id, d.name) for d in all_departments()],
    }


@bp.get("/")
@permission_required(Permission.REPORT_VIEW)
def index() -> ResponseReturnValue:
    query, errors = _load()
    context: dict[str, Any] = {
        "values": _form_values(),
        "errors": errors,
        "choices": _form_choices(current_user),
    }
    if query is None:
        return render_template("reports/page.html", report=None, **context), 400
    report = build_report(current_user, query.filters(), scope_label(current_user, query))
    args = query.args()

    def row_link(table: Table, row: dict[str, Any]) -> str | None:
        """The department's row leads to the same report for that department (its municipalities)."""
        if table.key != "by_department" or not isinstance(row.get("code"), int) or query.department:
            return None
        params: dict[str, Any] = {**args, "department": str(row["code"])}
        return url_for("reports.index", **params)

    return render_template(
        "reports/page.html",
        report=report,
        query=query,
        args=args,
        choropleth=exports.report_map(report),
        row_link=row_link,
        **context,
    )


def _export(kind: str) -> ResponseReturnValue:
    query, errors = _load()
    if query is None:
        context = {"values": _form_values(), "errors": errors, "choices": _form_choices(current_user)}
        return render_template("reports/page.html", report=None, **context), 400
    report = build_report(current_user, query.filters(), scope_label(current_user, query))
    write, mimetype = EXPORTS[kind]
    return Response(
        write(report),
        mimetype=mimetype,
        headers={
            "Content-Disposition": f'attachment; filename="{exports.filename(report, kind)}"',
            "Cache-Control": "no-store",
        },
    )


@bp.get("/export.pdf")
@permission_required(Permission.REPORT_VIEW)
def export_pdf() -> ResponseReturnValue:
    return _export("pdf")


@bp.get("/export.xlsx")
@permission_required(Permission.REPORT_VIEW)
def export_xlsx() -> ResponseReturnValue:
    return _export("xlsx")


@bp.get("/export.zip")
@permission_required(Permission.REPORT_VIEW)
def export_zip() -> ResponseReturnValue:
    return _export("zip")
