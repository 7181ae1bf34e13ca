"""``/api/v1/reports``: the report's figures for a period, as the report page draws them.

The query string is the report page's (:class:`~sosep_migrantes.reports.schemas.ReportQuerySchema`:
``period`` = ``month``, ``quarter``, ``year`` or ``custom`` with ``year``, ``month``, ``quarter`` or
``from`` and ``to``, and the codes ``centre``, ``mode``, ``country``, ``department``, ``sede``); ``from``
and ``to`` alone ask for those days. The figures come from the same
:func:`~sosep_migrantes.reports.tables.build_report` as the page and its files, for the account's scope: a
reception centre gets its centre, a sede its territory (what the scope fixes is ignored in the query string,
as on the page), a coordinator the country or a sede.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import Schema, fields, pre_load

from ..core.permissions import Permission, permission_required
from ..reports.schemas import PeriodKind, ReportQuery, ReportQuerySchema
from ..reports.tables import Report, build_report
from ..reports.views import FIXED_BY_SCOPE, scope_label, within_scope
from .common import errors

blp = Blueprint(
    "api_reports",
    __name__,
    url_prefix="/reports",
    description="Cifras de los informes de un período, para el alcance de la cuenta.",
)


class ReportArgsSchema(ReportQuerySchema):
    """The report page's query string; ``from`` and ``to`` without ``period`` are a custom period."""

    # Named to run before the page schema's ``only_the_period_fields`` (marshmallow runs a schema's
    # hooks in the order of their names), which would drop ``from`` and ``to`` of a month's report.
    @pre_load
    def a_custom_period_from_dates(self, data: Any, **kwargs: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        data = dict(data)  # webargs' proxy of the query string, as the page schema's hooks expect it
        if "period" not in data and ("from" in data or "to" in data):
            data["period"] = PeriodKind.CUSTOM.value
        # What the account's scope fixes is not its to choose: ignored, as the page ignores it.
        for name in FIXED_BY_SCOPE.get(current_user.role_enum, ()):
            data.pop(name, None)
        return data


class PeriodSchema(Schema):
    kind = fields.Function(lambda p: p.kind.value, required=True)
    start = fields.Date(required=True)
    end = fields.Date(required=True)
    #: In words, in the request's language ("octubre de 2026").
    label = fields.String(required=True)


class TotalsSchema(Schema):
    families = fields.Integer(required=True)
    persons = fields.Integer(required=True)
    arrivals = fields.Integer(required=True)
    flights = fields.Integer(required=True)
    buses = fields.Integer(required=True)
    #: Persons of the period linked by staff to an earlier record of theirs (re-migrations).
    remigrations = fields.Integer(required=True)


class ColumnSchema(Schema):
    key = fields.String(required=True)
    label = fields.String(required=True)
    #: A count or quantity (summed in the total row), else a code or a label.
    numeric = fields.Boolean(required=True)


class TableSchema(Schema):
    """One table of the report: its rows are objects keyed by the columns' ``key``."""

    key = fields.String(required=True)
    title = fields.String(required=True)
    columns = fields.List(fields.Nested(ColumnSchema), required=True)
    rows = fields.List(fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True)), required=True)
    #: The total row, when the rows add up.
    total = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True), allow_none=True)
    note = fields.String(allow_none=True)


class ReportFiguresSchema(Schema):
    period = fields.Nested(PeriodSchema, required=True)
    #: What the figures cover, in words ("Sede Departamental de Huehuetenango · Vía: Aérea").
    scope = fields.String(required=True)
    #: The query string that draws the same report on the page (period and codes).
    query = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    totals = fields.Nested(TotalsSchema, required=True)
    #: Families per department INE code (the map).
    families_by_department = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    tables = fields.List(fields.Nested(TableSchema), required=True)


def _figures(query: ReportQuery, report: Report) -> dict[str, Any]:
    return {
        "period": query.period,
        "scope": report.scope_label,
        "query": query.args(),
        "totals": report.totals,
        "families_by_department": {str(k): v for k, v in report.families_by_department.items()},
        "tables": report.tables,
    }


@blp.route("/figures")
class Figures(MethodView):
    @permission_required(Permission.REPORT_VIEW)
    @blp.arguments(ReportArgsSchema, location="query", as_kwargs=False)
    @blp.response(200, ReportFiguresSchema)
    @errors(blp, 401, 403, 422)
    def get(self, query: ReportQuery) -> dict[str, Any]:
        """Every figure of the report for the period and filters (this month by default), in the
        account's scope: the totals (with the re-migrations) and each table of the report page."""
        query = within_scope(current_user, query)
        report = build_report(current_user, query.filters(), scope_label(current_user, query))
        return _figures(query, report)
