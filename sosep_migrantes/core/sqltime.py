"""Calendar arithmetic in SQL, the same on PostgreSQL and SQLite, in Guatemala's time.

The database stores UTC; a day for the service is a day in Guatemala (UTC-6 all year, no daylight saving).
Follow-up figures and reports count days between dates; these expressions let the database do it, so a
figure over 300,000 families is one query instead of rows shipped to Python.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Date, Integer, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from .timeutil import LOCAL_TZ


class local_date(FunctionElement[Any]):  # lower case: used like a SQL function
    """The Guatemala calendar day of a UTC timestamp column."""

    type = Date()
    inherit_cache = True
    name = "local_date"


@compiles(local_date, "postgresql")
def _local_date_pg(element: local_date, compiler: Any, **kw: Any) -> str:
    (column,) = element.clauses
    return f"(({compiler.process(column, **kw)}) AT TIME ZONE '{LOCAL_TZ.key}')::date"


@compiles(local_date)
def _local_date_sqlite(element: local_date, compiler: Any, **kw: Any) -> str:
    # SQLite keeps the UTC text the driver wrote; Guatemala has been UTC-6 since 2006 (no summer time).
    (column,) = element.clauses
    return f"date({compiler.process(column, **kw)}, '-6 hours')"


class days_between(FunctionElement[Any]):
    """Whole days from the first date to the second (``later - earlier``)."""

    type = Integer()
    inherit_cache = True
    name = "days_between"


@compiles(days_between, "postgresql")
def _days_between_pg(element: days_between, compiler: Any, **kw: Any) -> str:
    earlier, later = element.clauses
    return f"(({compiler.process(later, **kw)}) - ({compiler.process(earlier, **kw)}))"


@compiles(days_between)
def _days_between_sqlite(element: days_between, compiler: Any, **kw: Any) -> str:
    earlier, later = element.clauses
    return (
        f"CAST(julianday({compiler.process(later, **kw)}) - julianday({compiler.process(earlier, **kw)}) "
        "AS INTEGER)"
    )


def days_from(earlier: ColumnElement[Any], later: ColumnElement[Any]) -> days_between:
    return days_between(earlier, later)


class years_between(FunctionElement[Any]):  # lower case: used like a SQL function
    """Whole years from a date of birth to a day: the service's age rule (``core.timeutil.age_on``).

    A year is complete on the birthday's month and day; someone born on 29 February turns a year older on
    1 March in a common year (the day-of-year comparison of ``MM-DD`` strings gives exactly that).
    """

    type = Integer()
    inherit_cache = True
    name = "years_between"


@compiles(years_between, "postgresql")
def _years_between_pg(element: years_between, compiler: Any, **kw: Any) -> str:
    birth, on = (compiler.process(c, **kw) for c in element.clauses)
    return (
        f"(CAST(EXTRACT(YEAR FROM {on}) AS INTEGER) - CAST(EXTRACT(YEAR FROM {birth}) AS INTEGER) - "
        f"CASE WHEN to_char({on}, 'MM-DD') < to_char({birth}, 'MM-DD') THEN 1 ELSE 0 END)"
    )


@compiles(years_between)
def _years_between_sqlite(element: years_between, compiler: Any, **kw: Any) -> str:
    birth, on = (compiler.process(c, **kw) for c in element.clauses)
    return (
        f"(CAST(strftime('%Y', {on}) AS INTEGER) - CAST(strftime('%Y', {birth}) AS INTEGER) - "
        f"CASE WHEN strftime('%m-%d', {on}) < strftime('%m-%d', {birth}) THEN 1 ELSE 0 END)"
    )


class month_of(FunctionElement[Any]):  # lower case: used like a SQL function
    """``YYYY-MM`` of a date (a report's month)."""

    type = String()
    inherit_cache = True
    name = "month_of"


@compiles(month_of, "postgresql")
def _month_of_pg(element: month_of, compiler: Any, **kw: Any) -> str:
    (day,) = element.clauses
    return f"to_char({compiler.process(day, **kw)}, 'YYYY-MM')"


@compiles(month_of)
def _month_of_sqlite(element: month_of, compiler: Any, **kw: Any) -> str:
    (day,) = element.clauses
    return f"strftime('%Y-%m', {compiler.process(day, **kw)})"
