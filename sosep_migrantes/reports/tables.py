"""The report as tables: the figures of :mod:`.queries`, labelled in the current language, with codes.

One :class:`Report` feeds the page, the PDF, the XLSX and the CSV files and the command, so they cannot
disagree: each :class:`Table` has its columns (a code column where the institutions use codes: centre,
department INE code, sex F/M, age group), its rows, a total row where the rows add up, and which column a
chart draws.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from flask_babel import format_date
from flask_babel import gettext as _
from sqlalchemy import select

from ..auth.models import User
from ..cases.models import SEX_LABELS, Sex
from ..catalogs.models import (
    Centre,
    Country,
    Department,
    FamilyRelationship,
    Institution,
    Language,
    Municipality,
    Need,
    ProtectionCause,
    Pueblo,
    TransportMode,
)
from ..core.permissions import Permission, Role
from ..core.timeutil import today_local
from ..extensions import db
from ..followup.models import CLOSURE_REASON_LABELS, ClosureReason
from ..followup.queries import median_of, sede_overview
from ..referrals.models import REFERRAL_STATUS_LABELS, ReferralStatus
from . import queries
from .queries import AGE_GROUPS, OTHER_RELATIONSHIP, RELATIONSHIP_GROUPS, ReportFilters


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    #: A count or a quantity (right-aligned, summed in the total row); otherwise a code or a label.
    numeric: bool = True


@dataclass
class Table:
    key: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    #: The total row, when the rows add up (persons by language do not: a person speaks several).
    total: dict[str, Any] | None = None
    #: The column whose values a bar chart draws, by the label column; ``None``: no chart.
    chart_value: str | None = None
    chart_label: str = "label"
    note: str | None = None

    @property
    def numeric_columns(self) -> list[Column]:
        return [c for c in self.columns if c.numeric]


@dataclass
class Report:
    filters: ReportFilters
    #: What the filters say, in words ("Centro: FAG"), for the page and the files' headers.
    scope_label: str
    totals: dict[str, int]
    tables: list[Table] = field(default_factory=list)
    #: Families per department INE code (the map).
    families_by_department: dict[int, int] = field(default_factory=dict)

    def table(self, key: str) -> Table:
        return next(t for t in self.tables if t.key == key)


def _code(label: str = "") -> Column:
    return Column("code", label or _("Código"), numeric=False)


def _label(label: str) -> Column:
    return Column("label", label, numeric=False)


def _total(rows: Sequence[dict[str, Any]], columns: Sequence[Column]) -> dict[str, Any]:
    total: dict[str, Any] = {"code": "", "label": _("Total")}
    for column in columns:
        if column.numeric:
            total[column.key] = sum(row.get(column.key) or 0 for row in rows)
    return total


def _fp_table(
    key: str,
    title: str,
    label: str,
    figures: dict[Any, tuple[int, int]],
    labels: dict[Any, str],
    order: Sequence[Any] | None = None,
    code_label: str = "",
) -> Table:
    """A table of families and persons per key."""
    columns = [
        _code(code_label),
        _label(label),
        Column("families", _("Familias")),
        Column("persons", _("Personas")),
    ]
    keys = list(order) if order is not None else sorted(figures, key=lambda k: (-figures[k][0], str(k)))
    rows = [
        {
            "code": "" if k is None else k,
            "label": labels.get(k, str(k)),
            "families": figures.get(k, (0, 0))[0],
            "persons": figures.get(k, (0, 0))[1],
        }
        for k in keys
    ]
    return Table(key, title, columns, rows, _total(rows, columns), chart_value="families")


def months_of(start: dt.date, end: dt.date) -> list[str]:
    months, day = [], start.replace(day=1)
    while day <= end:
        months.append(day.strftime("%Y-%m"))
        day = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return months


def _names(model: Any, key: str = "id") -> dict[Any, str]:
    return {getattr(item, key): item.name for item in db.session.scalars(select(model))}


def route_label(route: str, countries: dict[str, str]) -> str:
    mode, _sep, country = route.partition("-")
    mode_label = TransportMode(mode).label if mode in TransportMode.__members__.values() else mode
    label: str = _("%(mode)s desde %(country)s", mode=mode_label, country=countries.get(country, country))
    return label


def build_report(user: User, filters: ReportFilters, scope_label: str = "") -> Report:
    """Every figure of the report for ``user``'s scope and ``filters``."""
    with queries.report_population(user, filters) as p:
        return _build(user, filters, scope_label, p)


def _build(user: User, filters: ReportFilters, scope_label: str, p: queries.Population) -> Report:
    report = Report(filters=filters, scope_label=scope_label, totals=queries.totals(p))
    add = report.tables.append

    months = months_of(filters.start, filters.end)
    month_names = {m: format_date(dt.date.fromisoformat(m + "-01"), "MMMM y") for m in months}
    add(_fp_table("by_month", _("Por mes de llegada"), _("Mes"), queries.by_month(p), month_names, months))
    countries = {c.code: c.name for c in db.session.scalars(select(Country))}
    routes = queries.by_route(p)
    add(
        _fp_table(
            "by_route",
            _("Por vía y país de retorno"),
            _("Vía"),
            routes,
            {r: route_label(r, countries) for r in routes},
        )
    )
    centres = {c.code: c.name for c in db.session.scalars(select(Centre))}
    add(_fp_table("by_centre", _("Por centro de recepción"), _("Centro"), queries.by_centre(p), centres))
    add(_sex_age_table(queries.by_sex_and_age(p)))
    add(_young_children_table(queries.young_children(p)))
    add(_relationship_table(queries.by_relationship(p)))
    departments = queries.by_department(p)
    report.families_by_department = {k: v[0] for k, v in departments.items() if k is not None}
    add(
        _fp_table(
            "by_department",
            _("Por departamento de destino"),
            _("Departamento"),
            departments,
            _names(Department),
            code_label=_("Código INE"),
        )
    )
    add(_municipality_table(queries.by_municipality(p)))
    add(_persons_table("by_pueblo", _("Por pueblo"), _("Pueblo"), queries.by_pueblo(p), Pueblo))
    languages = _persons_table("by_language", _("Por idioma"), _("Idioma"), queries.by_language(p), Language)
    languages.total = None
    languages.note = _("Una persona puede hablar varios idiomas: las filas no suman el total de personas.")
    add(languages)
    interpreter = queries.interpreter_needed(p)
    add(
        Table(
            "interpreter",
            _("Intérprete"),
            [_label(_("Personas")), Column("persons", _("Personas"))],
            [{"code": "", "label": _("Necesitan intérprete"), "persons": interpreter}],
        )
    )
    add(_needs_table(queries.needs(p)))
    add(_services_table(queries.services(p)))
    add(_referrals_table(queries.referrals(p)))
    causes, with_any = queries.protection(p)
    protection = _persons_table(
        "protection",
        _("Casos de protección por causa"),
        _("Causa"),
        causes,
        ProtectionCause,
        "families",
    )
    protection.total = None
    protection.note = _(
        "%(num)d familias con al menos una causa; una familia puede tener varias.", num=with_any
    )
    add(protection)
    for table in _followup_tables(queries.followup(p)):
        add(table)
    if user.can(Permission.FOLLOWUP_INBOX):
        add(_workload_table(user, filters))
    return report


def _workload_table(user: User, filters: ReportFilters) -> Table:
    """Open and overdue cases per sede today (not bound to the period): the sedes' workload."""
    figures = sede_overview(today_local())
    if user.role_enum is Role.SEDE:
        figures = [f for f in figures if f.sede.id == user.sede_id]
    elif filters.sede_id:
        figures = [f for f in figures if f.sede.id == filters.sede_id]
    columns = [
        _code(),
        _label(_("Sede")),
        Column("open", _("Abiertas")),
        Column("overdue", _("Vencidas")),
        Column("due_this_week", _("Vencen esta semana")),
    ]
    rows = [
        {
            "code": f.sede.code,
            "label": f.sede.name,
            "open": f.open,
            "overdue": f.overdue,
            "due_this_week": f.due_this_week,
        }
        for f in figures
    ]
    table = Table(
        "sede_workload", _("Carga de trabajo por sede (hoy)"), columns, rows, _total(rows, columns), "open"
    )
    table.note = _("Casos abiertos y vencidos a la fecha de hoy, sin importar el período.")
    return table


def _persons_table(
    key: str, title: str, label: str, figures: dict[Any, int], model: Any, unit: str = "persons"
) -> Table:
    """A table of persons (or families) per catalogue entry, with the entry's code."""
    labels, codes = _names(model), _names_codes(model)
    unit_label = _("Familias") if unit == "families" else _("Personas")
    columns = [_code(), _label(label), Column(unit, unit_label)]
    rows = [
        {
            "code": codes.get(k, ""),
            "label": labels.get(k, _("Sin dato")),
            unit: n,
        }
        for k, n in sorted(figures.items(), key=lambda kv: (-kv[1], str(kv[0])))
    ]
    return Table(key, title, columns, rows, _total(rows, columns), chart_value=unit)


def _sex_age_table(figures: dict[tuple[str, str], int]) -> Table:
    columns = [
        _code(_("Grupo de edad")),
        _label(_("Edad al llegar")),
        Column(Sex.FEMALE.value, str(SEX_LABELS[Sex.FEMALE])),
        Column(Sex.MALE.value, str(SEX_LABELS[Sex.MALE])),
        Column("persons", _("Total")),
    ]
    rows = []
    for code, low, high in AGE_GROUPS:
        women, men = figures.get((code, "F"), 0), figures.get((code, "M"), 0)
        label = (
            _("%(low)d a %(high)d años", low=low, high=high)
            if high is not None
            else _("%(low)d años o más", low=low)
        )
        rows.append({"code": code, "label": label, "F": women, "M": men, "persons": women + men})
    return Table(
        "by_sex_age", _("Personas por sexo y grupo de edad"), columns, rows, _total(rows, columns), "persons"
    )


def _young_children_table(figures: dict[str, int]) -> Table:
    labels = {
        "under_1": _("Niñas y niños menores de 1 año"),
        "under_6": _("Niñas y niños menores de 6 años"),
        "families_with_child_under_7": _("Familias con una niña o niño menor de 7 años"),
    }
    rows = [{"code": k, "label": labels[k], "count": n} for k, n in figures.items()]
    return Table(
        "young_children",
        _("Primera infancia (alimentación diferenciada, Hogares Comunitarios)"),
        [_code(), _label(_("Grupo")), Column("count", _("Número"))],
        rows,
    )


def _relationship_table(figures: dict[str, int]) -> Table:
    labels = dict(_names(FamilyRelationship, "code"))
    plural = {
        "HEAD": _("Jefas y jefes de familia"),
        "MOTHER": _("Madres"),
        "FATHER": _("Padres"),
        "SON": _("Hijos"),
        "DAUGHTER": _("Hijas"),
        OTHER_RELATIONSHIP: _("Otros parentescos"),
    }
    order = [code for code, _codes in RELATIONSHIP_GROUPS] + [OTHER_RELATIONSHIP]
    columns = [_code(), _label(_("Parentesco con la jefatura")), Column("persons", _("Personas"))]
    rows = [
        {"code": c, "label": plural.get(c, labels.get(c, c)), "persons": figures.get(c, 0)} for c in order
    ]
    return Table(
        "by_relationship", _("Integrantes por parentesco"), columns, rows, _total(rows, columns), "persons"
    )


def _municipality_table(figures: dict[int, tuple[int, int]]) -> Table:
    municipalities = {m.id: m for m in db.session.scalars(select(Municipality))}
    departments = _names(Department)
    columns = [
        _code(_("Código INE")),
        _label(_("Municipio")),
        Column("department", _("Departamento"), numeric=False),
        Column("families", _("Familias")),
        Column("persons", _("Personas")),
    ]
    rows = []
    for muni_id, (families, persons) in sorted(
        figures.items(), key=lambda kv: (kv[0] // 100, -kv[1][0], kv[0])
    ):
        muni = municipalities.get(muni_id)
        rows.append(
            {
                "code": muni_id,
                "label": muni.name if muni else str(muni_id),
                "department": departments.get(muni.department_id, "") if muni else "",
                "department_code": muni.department_id if muni else None,
                "families": families,
                "persons": persons,
            }
        )
    return Table("by_municipality", _("Por municipio de destino"), columns, rows, _total(rows, columns))


def _needs_table(figures: dict[int, tuple[int, int, int]]) -> Table:
    names = _names(Need)
    codes = _names_codes(Need)
    columns = [
        _code(),
        _label(_("Necesidad")),
        Column("identified", _("Identificadas")),
        Column("attended", _("Atendidas en el centro")),
        Column("referred", _("Derivadas")),
    ]
    rows = [
        {
            "code": codes.get(k, ""),
            "label": names.get(k, str(k)),
            "identified": n,
            "attended": a,
            "referred": r,
        }
        for k, (n, a, r) in sorted(figures.items(), key=lambda kv: (-kv[1][0], kv[0]))
    ]
    return Table(
        "needs",
        _("Necesidades identificadas y atendidas"),
        columns,
        rows,
        _total(rows, columns),
        "identified",
    )


def _services_table(figures: dict[int, tuple[int, int]]) -> Table:
    names, codes = _names(Need), _names_codes(Need)
    columns = [
        _code(),
        _label(_("Necesidad atendida")),
        Column("services", _("Entregas")),
        Column("quantity", _("Cantidad entregada")),
    ]
    rows = [
        {"code": codes.get(k, ""), "label": names.get(k, str(k)), "services": n, "quantity": q}
        for k, (n, q) in sorted(figures.items(), key=lambda kv: (-kv[1][1], kv[0]))
    ]
    return Table(
        "services", _("Servicios entregados en el centro"), columns, rows, _total(rows, columns), "quantity"
    )


def _names_codes(model: Any) -> dict[int, str]:
    return {item.id: item.code for item in db.session.scalars(select(model))}


def _referrals_table(figures: dict[tuple[int, str], int]) -> Table:
    names, codes = _names(Institution), _names_codes(Institution)
    statuses = [s for s in ReferralStatus if s not in (ReferralStatus.DRAFT, ReferralStatus.CANCELLED)]
    columns = [_code(), _label(_("Institución"))]
    columns += [Column(s.value, str(REFERRAL_STATUS_LABELS[s])) for s in statuses]
    columns.append(Column("total", _("Total")))
    institutions = sorted({i for i, _s in figures}, key=lambda i: names.get(i, ""))
    rows = []
    for institution in institutions:
        row: dict[str, Any] = {"code": codes.get(institution, ""), "label": names.get(institution, "")}
        for status in statuses:
            row[status.value] = figures.get((institution, status.value), 0)
        row["total"] = sum(row[s.value] for s in statuses)
        rows.append(row)
    return Table(
        "referrals", _("Derivaciones por institución y estado"), columns, rows, _total(rows, columns), "total"
    )


def _followup_tables(figures: queries.FollowUpFigures) -> list[Table]:
    rate = figures.located_rate
    days = figures.days_to_first_contact
    median = median_of(days)
    summary = Table(
        "followup",
        _("Seguimiento de las sedes"),
        [_label(_("Indicador")), Column("value", _("Valor"), numeric=False)],
        [
            {
                "code": "followed",
                "label": _("Familias con al menos un seguimiento"),
                "value": figures.followed,
            },
            {"code": "located", "label": _("Familias localizadas"), "value": figures.located},
            {
                "code": "located_rate",
                "label": _("Tasa de localización"),
                "value": f"{rate:.0%}" if rate is not None else "—",
            },
            {
                "code": "median_days",
                "label": _("Mediana de días de la llegada al primer contacto"),
                "value": f"{median:g}" if median is not None else "—",
            },
        ],
    )
    names, codes = _names(Institution), _names_codes(Institution)
    linked_rows = [
        {
            "code": codes.get(k, "") if k is not None else "",
            "label": names.get(k, "") if k is not None else _("Servicio externo"),
            "families": families,
            "persons": persons,
        }
        for k, (families, persons) in sorted(figures.linked.items(), key=lambda kv: -kv[1][0])
    ]
    linked_columns = [
        _code(),
        _label(_("Programa o servicio")),
        Column("families", _("Familias")),
        Column("persons", _("Personas")),
    ]
    linked = Table(
        "linkage", _("Vinculación por programa"), linked_columns, linked_rows, chart_value="families"
    )
    linked.note = _("Una familia puede quedar vinculada a varios programas.")
    closure_rows = [
        {
            "code": r.value,
            "label": str(CLOSURE_REASON_LABELS[r]),
            "families": figures.closures.get(r.value, 0),
        }
        for r in ClosureReason
    ]
    closure_columns = [_code(), _label(_("Motivo")), Column("families", _("Familias"))]
    closures = Table(
        "closures",
        _("Casos cerrados por motivo"),
        closure_columns,
        closure_rows,
        _total(closure_rows, closure_columns),
        "families",
    )
    return [summary, linked, closures]
