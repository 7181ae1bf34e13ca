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


def age_on(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
