"""The report's filters from the query string: a period (month, quarter, year or dates) and filter codes.

The query string carries only the period and catalogue codes (centre, mode, country, department, sede),
never anything about a person, so a report's address can be bookmarked, shared and scheduled. A value that
does not load is refused with a Spanish message beside its field (the report is not drawn from a guess).
"""

from __future__ import annotations

import calendar
import datetime as dt
import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from babel.dates import format_skeleton
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields, post_load, pre_load, validate, validates_schema
from sqlalchemy import select

from ..catalogs.models import Centre, Country, Department, Sede, TransportMode
from ..core.schema import REQUIRED, AsciiInteger, InputSchema, choice, date, is_ascii_number
from ..core.timeutil import today_local
from ..extensions import db
from .queries import ReportFilters

FIRST_YEAR = 2000
LAST_YEAR = 2100
#: The longest custom period: a report of more than ten years is a mistake, not a report.
MAX_YEARS = 10


class PeriodKind(enum.StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"
    CUSTOM = "custom"


PERIOD_KIND_LABELS = {
    PeriodKind.MONTH: _l("Mes"),
    PeriodKind.QUARTER: _l("Trimestre"),
    PeriodKind.YEAR: _l("Año"),
    PeriodKind.CUSTOM: _l("Entre dos fechas"),
}

#: The query-string fields each kind of period reads (the others are ignored, whatever they hold).
PERIOD_FIELDS = {
    PeriodKind.MONTH: ("year", "month"),
    PeriodKind.QUARTER: ("year", "quarter"),
    PeriodKind.YEAR: ("year",),
    PeriodKind.CUSTOM: ("from", "to"),
}
ALL_PERIOD_FIELDS = ("year", "month", "quarter", "from", "to")


def month_bounds(year: int, month: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])


def quarter_bounds(year: int, quarter: int) -> tuple[dt.date, dt.date]:
    """Q1 = January to March ... Q4 = October to December."""
    first_month = 3 * (quarter - 1) + 1
    return dt.date(year, first_month, 1), month_bounds(year, first_month + 2)[1]


def year_bounds(year: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, 1, 1), dt.date(year, 12, 31)


def quarter_of(day: dt.date) -> int:
    return (day.month - 1) // 3 + 1


@dataclass(frozen=True)
class Period:
    """The report's days, both included (Guatemala time), and how they were chosen."""

    kind: PeriodKind
    start: dt.date
    end: dt.date
    year: int | None = None
    month: int | None = None
    quarter: int | None = None

    @classmethod
    def of(
        cls,
        kind: PeriodKind,
        *,
        year: int | None = None,
        month: int | None = None,
        quarter: int | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
        today: dt.date | None = None,
    ) -> Period:
        """The period of ``kind``; a missing year, month or quarter is today's (in Guatemala)."""
        today = today or today_local()
        if kind is PeriodKind.CUSTOM:
            if start is None or end is None:
                raise ValueError("a custom period needs both days")
            return cls(kind, start, end)
        year = year or today.year
        if kind is PeriodKind.MONTH:
            month = month or today.month
            return cls(kind, *month_bounds(year, month), year=year, month=month)
        if kind is PeriodKind.QUARTER:
            quarter = quarter or quarter_of(today)
            return cls(kind, *quarter_bounds(year, quarter), year=year, quarter=quarter)
        return cls(kind, *year_bounds(year), year=year)

    @property
    def label(self) -> str:
        """``octubre de 2026``, ``4.º trimestre de 2026``, ``Año 2026``, ``del 01/10/2026 al 15/11/2026``."""
        text: str
        if self.kind is PeriodKind.MONTH:
            text = format_skeleton("yMMMM", self.start, locale=get_locale() or "es_GT")
        elif self.kind is PeriodKind.QUARTER:
            text = _("%(quarter)d.º trimestre de %(year)d", quarter=self.quarter or 0, year=self.year or 0)
        elif self.kind is PeriodKind.YEAR:
            text = _("Año %(year)d", year=self.year or 0)
        else:
            text = _(
                "del %(start)s al %(end)s",
                start=self.start.strftime("%d/%m/%Y"),
                end=self.end.strftime("%d/%m/%Y"),
            )
        return text

    def args(self) -> dict[str, str]:
        """The period as the query string says it."""
        if self.kind is PeriodKind.CUSTOM:
            return {"period": self.kind.value, "from": self.start.isoformat(), "to": self.end.isoformat()}
        values = {"period": self.kind.value, "year": str(self.year)}
        if self.month is not None:
            values["month"] = str(self.month)
        if self.quarter is not None:
            values["quarter"] = str(self.quarter)
        return values


@dataclass(frozen=True)
class ReportQuery:
    """What a report was asked for: the period and the filters, as catalogue entries."""

    period: Period
    centre: Centre | None = None
    mode: TransportMode | None = None
    country: Country | None = None
    department: Department | None = None
    sede: Sede | None = None

    def filters(self) -> ReportFilters:
        return ReportFilters(
            start=self.period.start,
            end=self.period.end,
            centre_id=self.centre.id if self.centre else None,
            mode=self.mode.value if self.mode else None,
            country_id=self.country.id if self.country else None,
            department_id=self.department.id if self.department else None,
            sede_id=self.sede.id if self.sede else None,
        )

    def args(self) -> dict[str, str]:
        """The query string of this report (period and codes only): for the downloads and the drill-down."""
        values = self.period.args()
        if self.centre:
            values["centre"] = self.centre.code
        if self.mode:
            values["mode"] = self.mode.value
        if self.country:
            values["country"] = self.country.code
        if self.department:
            values["department"] = str(self.department.id)
        if self.sede:
            values["sede"] = self.sede.code
        return values


class _ByCode(fields.Field[Any]):
    """An entry (centre, sede, country) given by its code; loads to the ORM object.

    A deactivated entry still loads: a report may look back at a time when it was in use.
    """

    default_error_messages = {**REQUIRED, "invalid": _l("Elija una opción de la lista.")}

    def __init__(self, find: Callable[[str], Any], **kwargs: Any) -> None:
        super().__init__(allow_none=True, **kwargs)
        self.find = find

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = str(value).strip()
        item = self.find(text) if text and len(text) <= 40 else None
        if item is None:
            raise self.make_error("invalid")
        return item


def _by_code(model: Any) -> Callable[[str], Any]:
    return lambda code: db.session.scalar(select(model).where(model.code == code))


class _DepartmentCode(fields.Field[Any]):
    """A department by its INE code (1 to 22)."""

    default_error_messages = {**REQUIRED, "invalid": _l("Elija una opción de la lista.")}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_none=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Department:
        department = db.session.get(Department, int(value)) if is_ascii_number(value, 2) else None
        if department is None:
            raise self.make_error("invalid")
        return department


def _report_date(**kwargs: Any) -> fields.Date:
    return date(
        validate=validate.Range(
            min=dt.date(FIRST_YEAR, 1, 1),
            max=dt.date(LAST_YEAR, 12, 31),
            error=_l("Escriba una fecha entre {min} y {max}."),
        ),
        **kwargs,
    )


class ReportQuerySchema(InputSchema):
    """The report's query string; loads to a :class:`ReportQuery`."""

    period = choice([k.value for k in PeriodKind], load_default=PeriodKind.MONTH.value)
    year = AsciiInteger(
        4,
        validate=validate.Range(
            min=FIRST_YEAR, max=LAST_YEAR, error=_l("Escriba un año entre {min} y {max}.")
        ),
        error_messages={"invalid": _l("Escriba un año de cuatro cifras, por ejemplo 2026.")},
    )
    month = AsciiInteger(
        2,
        validate=validate.Range(min=1, max=12, error=_l("Elija un mes de la lista.")),
        error_messages={"invalid": _l("Elija un mes de la lista.")},
    )
    quarter = AsciiInteger(
        1,
        validate=validate.Range(min=1, max=4, error=_l("Elija un trimestre de la lista.")),
        error_messages={"invalid": _l("Elija un trimestre de la lista.")},
    )
    start = _report_date(data_key="from")
    end = _report_date(data_key="to")
    centre = _ByCode(_by_code(Centre))
    mode = choice([m.value for m in TransportMode])
    country = _ByCode(_by_code(Country))
    department = _DepartmentCode()
    sede = _ByCode(_by_code(Sede))

    @pre_load
    def only_the_period_fields(self, data: Any, **kwargs: Any) -> Any:
        """Ignore the fields the chosen kind of period does not read (the form sends them all)."""
        if not isinstance(data, dict):
            return data
        kind = data.get("period") or PeriodKind.MONTH.value
        if kind not in PERIOD_FIELDS:
            return data
        used = PERIOD_FIELDS[PeriodKind(kind)]
        return {k: v for k, v in data.items() if k not in ALL_PERIOD_FIELDS or k in used}

    @validates_schema
    def custom_period(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("period") != PeriodKind.CUSTOM:
            return
        errors: dict[str, list[str]] = {}
        start, end = data.get("start"), data.get("end")
        if start is None:
            errors["from"] = [str(_l("Escriba el primer día del período."))]
        if end is None:
            errors["to"] = [str(_l("Escriba el último día del período."))]
        if start is not None and end is not None:
            if end < start:
                errors["to"] = [str(_l("El último día no puede ser anterior al primero."))]
            elif end > _years_after(start, MAX_YEARS):
                errors["to"] = [str(_l("El período puede abarcar como máximo %(num)d años.", num=MAX_YEARS))]
        if errors:
            raise ValidationError(errors)

    @post_load
    def make_query(self, data: dict[str, Any], **kwargs: Any) -> ReportQuery:
        period = Period.of(
            PeriodKind(data["period"]),
            year=data.get("year"),
            month=data.get("month"),
            quarter=data.get("quarter"),
            start=data.get("start"),
            end=data.get("end"),
        )
        mode = data.get("mode")
        return ReportQuery(
            period=period,
            centre=data.get("centre"),
            mode=TransportMode(mode) if mode else None,
            country=data.get("country"),
            department=data.get("department"),
            sede=data.get("sede"),
        )


def _years_after(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)
