"""Database errors reach the logs without the data that caused them (issue #10, item 5).

The engine already hides the statement's parameters (``hide_parameters=True``), but the server's own
message does not: PostgreSQL adds ``DETAIL:  Key (username)=(maria.lopez) already exists.`` to a unique
violation and ``DETAIL:  Failing row contains (...)`` (the whole row: names, CUIs) to a check violation,
psycopg puts that text in the exception, and SQLAlchemy's carries it into every traceback it is logged
with. A statement run on an engine without ``hide_parameters`` also adds ``[parameters: {...}]``.

:class:`DatabaseErrorFilter` removes those parts from a log record's message and from its formatted
exception text (``exc_text``, which every :class:`logging.Formatter` uses instead of formatting the
exception again): the ``DETAIL`` and ``CONTEXT`` lines, the ``[parameters: ...]`` part, and the value
quoted in "invalid input syntax for type integer: "..."". What stays (the error's class, the
constraint's name, the SQL with its placeholders, the traceback) is what an operator needs.

:func:`install` applies the filter to every record as it is created, whichever logger it comes from and
whichever handler writes it (basicConfig's, gunicorn's, one a test adds later): a filter attached to
handlers would miss the handlers added after it.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Callable
from typing import Any

#: Parts of a database error's text that may carry the values of a row, with what replaces them.
_SCRUBS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^[ \t]*(?:DETAIL|CONTEXT):.*(?:\n|$)", re.MULTILINE), ""),
    (re.compile(r"\[parameters: .*$", re.MULTILINE), "[parameters hidden]"),
    (re.compile(r'(invalid input (?:syntax|value) for [^:\n]*: )"[^"\n]*"'), r'\1"…"'),
    (re.compile(r'(value )"[^"\n]*"( is out of range)'), r'\1"…"\2'),
    (re.compile(r'(field value out of range: )"[^"\n]*"'), r'\1"…"'),
)
#: Whether a message may hold such a part (a cheap test before the expressions).
_MARKERS = re.compile(r"DETAIL:|CONTEXT:|\[parameters: |invalid input|out of range")
#: Where the database errors come from: the drivers and SQLAlchemy, whose errors wrap them.
_DATABASE_MODULES = ("sqlalchemy", "psycopg", "psycopg2", "sqlite3")


def scrub(text: str) -> str:
    """``text`` without the parts of a database error that may carry values."""
    for pattern, replacement in _SCRUBS:
        text = pattern.sub(replacement, text)
    return text


def is_database_error(error: BaseException | None) -> bool:
    """Whether ``error``, or an exception it was raised from or during, is a driver's or SQLAlchemy's."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if type(error).__module__.split(".", 1)[0] in _DATABASE_MODULES:
            return True
        error = error.__cause__ or error.__context__
    return False


class DatabaseErrorFilter(logging.Filter):
    """Remove a database error's values from a record's message and exception text; never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and is_database_error(record.exc_info[1]):
            # What Formatter.formatException would write, scrubbed; formatters use exc_text when it is set.
            record.exc_text = scrub("".join(traceback.format_exception(*record.exc_info))).rstrip("\n")
        if self._may_carry_values(record):
            try:
                message = record.getMessage()
            except Exception:  # a malformed message is the logging module's to report
                return True
            scrubbed = scrub(message)
            if scrubbed != message:
                record.msg, record.args = scrubbed, None
        return True

    @staticmethod
    def _may_carry_values(record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else (record.args,)
        for part in (record.msg, *args):
            if isinstance(part, BaseException) and is_database_error(part):
                return True
            if isinstance(part, str) and _MARKERS.search(part):
                return True
        return False


def install() -> None:
    """Filter every log record from now on (once per process, however many apps are created)."""
    previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()
    if getattr(previous, "scrubs_database_errors", False):
        return
    record_filter = DatabaseErrorFilter()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record_filter.filter(record)
        return record

    factory.scrubs_database_errors = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
