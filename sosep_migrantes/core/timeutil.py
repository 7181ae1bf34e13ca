"""The service works in Guatemala's time (UTC-6, no daylight saving); the database stores UTC."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("America/Guatemala")


def now_local() -> dt.datetime:
    return dt.datetime.now(LOCAL_TZ)


def today_local() -> dt.date:
    return now_local().date()


def to_local(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:  # SQLite gives naive datetimes back; they are stored in UTC.
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(LOCAL_TZ)


def local_naive_to_utc(value: dt.datetime) -> dt.datetime:
    """A datetime typed by staff (no zone) is Guatemala time."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=LOCAL_TZ)
    return value.astimezone(dt.UTC)


def age_in_months(birth: dt.date, on: dt.date) -> int:
    """Whole months lived on ``on``: a month is complete on the day of the month the person was born."""
    return (on.year - birth.year) * 12 + on.month - birth.month - (on.day < birth.day)


def age_on(birth: dt.date | None, on: dt.date, estimated: int | None = None) -> int:
    """Whole years on ``on``; without a date of birth, the age estimated at arrival (0 if none either).

    The service's one age rule: the case page, the referral form, the slips and the eligibility rules
    all count it here (someone born on 29 February turns a year older on 1 March).
    """
    if birth is None:
        return estimated or 0
    return age_in_months(birth, on) // 12
