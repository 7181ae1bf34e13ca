"""Calendar arithmetic in SQL gives what the Python rules give, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Date, DateTime, bindparam, select

from sosep_migrantes.core.sqltime import days_between, local_date, month_of, years_between
from sosep_migrantes.core.timeutil import LOCAL_TZ, age_on
from sosep_migrantes.extensions import db


def _date(value: dt.date):
    return bindparam(None, value, type_=Date())


@pytest.mark.parametrize(
    ("birth", "on"),
    [
        (dt.date(2020, 2, 29), dt.date(2023, 2, 28)),
        (dt.date(2020, 2, 29), dt.date(2023, 3, 1)),
        (dt.date(2020, 2, 29), dt.date(2024, 2, 29)),
        (dt.date(2020, 5, 10), dt.date(2026, 5, 9)),
        (dt.date(2020, 5, 10), dt.date(2026, 5, 10)),
        (dt.date(2020, 12, 31), dt.date(2021, 1, 1)),
        (dt.date(1960, 1, 1), dt.date(2026, 11, 24)),
        (dt.date(2026, 11, 24), dt.date(2026, 11, 24)),
    ],
)
def test_years_between_is_the_service_age_rule(ctx, birth, on):
    assert db.session.scalar(select(years_between(_date(birth), _date(on)))) == age_on(birth, on)


def test_local_date_is_guatemala_calendar_day(ctx):
    late = dt.datetime(2026, 11, 1, 23, 30, tzinfo=LOCAL_TZ).astimezone(dt.UTC)
    early = dt.datetime(2026, 11, 1, 0, 5, tzinfo=LOCAL_TZ).astimezone(dt.UTC)
    for moment in (late, early):
        value = bindparam(None, moment, type_=DateTime(timezone=True))
        got = db.session.scalar(select(local_date(value)))
        assert str(got) == "2026-11-01"


def test_days_between_and_month_of(ctx):
    february, march = _date(dt.date(2026, 2, 27)), _date(dt.date(2026, 3, 2))
    assert db.session.scalar(select(days_between(february, march))) == 3
    assert db.session.scalar(select(month_of(_date(dt.date(2026, 3, 2))))) == "2026-03"
