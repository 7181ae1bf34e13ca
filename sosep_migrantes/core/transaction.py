"""The one way a request writes: services add and flush, :func:`unit_of_work` commits once or rolls back.

A view wraps the schema load and the service call in ``with unit_of_work():`` and builds its answer
after the block, so a flash message or a redirect never announces something the commit did not keep,
and a form shown again with its errors is rendered after the rollback, from what is saved.

A form carries a one-time token (``submission_token``, unique in its table). A form sent again after
its first save is told "already saved" by the view's own check; one sent again *at the same moment*
passes that check too and meets the unique constraint, at a flush inside the service or at the
commit. Either way :func:`unit_of_work` rolls back and raises :class:`AlreadySaved`, so the view
answers both cases the same way: with what the other request saved.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from flask import Flask
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.orm.exc import StaleDataError

from ..extensions import db

T = TypeVar("T")

#: The one-time token column; its unique constraint is ``uq_<table>_submission_token`` (db.py's convention).
TOKEN_COLUMN = "submission_token"  # noqa: S105 - a column name, not a secret
_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (?P<columns>[\w., ]+)")


class AlreadySaved(Exception):
    """The form was saved by an earlier request (its one-time token is taken): nothing was saved now."""


def violated_unique_columns(error: IntegrityError) -> set[tuple[str, str]]:
    """``{(table, column)}`` of the unique constraint an INSERT or UPDATE broke (empty if not that)."""
    orig = error.orig
    diag = getattr(orig, "diag", None)  # psycopg: the server names the constraint
    constraint = getattr(diag, "constraint_name", None)
    if constraint:
        table = getattr(diag, "table_name", None) or ""
        prefix = f"uq_{table}_"
        if table and constraint.startswith(prefix):
            return {(table, constraint.removeprefix(prefix))}
        return set()
    match = _SQLITE_UNIQUE.search(str(orig))  # SQLite names the columns: "family_units.submission_token"
    if match is None:
        return set()
    pairs = (column.strip().split(".", 1) for column in match["columns"].split(","))
    return {(pair[0], pair[1]) for pair in pairs if len(pair) == 2}


def is_token_taken(error: IntegrityError) -> bool:
    """Whether the error is a second save of a one-time form token (and nothing else)."""
    columns = violated_unique_columns(error)
    return bool(columns) and all(column == TOKEN_COLUMN for _table, column in columns)


@contextmanager
def unit_of_work(*, keep_loaded: bool = False) -> Iterator[None]:
    """Commit once at the end of the block; on any exception roll back and re-raise.

    A unique-constraint error on a one-time form token, at a flush inside the block or at the commit,
    becomes :class:`AlreadySaved` (after the rollback), which the view answers as a form sent again.

    ``keep_loaded``: the objects read before the block stay as they are after the commit, instead of
    being read again on their next use. Only for a block that adds a row and changes nothing it read
    (the access log of a page about to be drawn from those objects).
    """
    session = db.session()
    expire = session.expire_on_commit
    if keep_loaded:
        session.expire_on_commit = False
    try:
        yield
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        if is_token_taken(exc):
            raise AlreadySaved from exc
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.expire_on_commit = expire


#: How many times :func:`retried` runs a unit of work that lost a race.
RETRY_ATTEMPTS = 5


def retried(work: Callable[[], T], *, attempts: int = RETRY_ATTEMPTS) -> T:
    """Run ``work`` in a :func:`unit_of_work`; when it lost a race that a second try settles, run it again
    (up to ``attempts`` times), from what is committed by then.

    The races: a versioned row (a case's status and due dates) changed by a request that committed first
    (``StaleDataError``), or a unique pair taken at the same moment (``IntegrityError``: the same returnee
    decision twice). Neither was made from something the user read, so doing it again is what they asked
    for; the services then refuse what no longer applies (a case closed meanwhile) with their own message.
    ``work`` must read what it changes itself. A form sent twice (:class:`AlreadySaved`) is not retried.
    """
    for attempt in range(attempts):
        try:
            with unit_of_work():
                return work()
        except (StaleDataError, IntegrityError):
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


#: Set in ``Session.info`` when the current transaction has flushed something.
_FLUSHED = "flushed"


def end_read_only_transaction(exc: BaseException | None) -> None:
    """At the end of a request, close a transaction that wrote nothing with COMMIT instead of ROLLBACK.

    For the data the two are the same. For speed they are not: psycopg forgets its prepared statements
    on every ROLLBACK, and Flask-SQLAlchemy's teardown rolls back every request that did not commit, so
    every page was planned again from scratch; planning its queries cost PostgreSQL more than running
    them (2-7 ms per query with the eager loads of a case page). A transaction that flushed anything, or
    a request that failed, is left to the rollback.
    """
    session = db.session()
    if exc is not None or not session.in_transaction() or session.info.get(_FLUSHED):
        return
    if session.new or session.dirty or session.deleted:
        return
    # Nothing changed, so nothing loaded is stale: keep the objects as they are (a test, or a caller that
    # pushed the context, may still read them after the request).
    expire, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, _context: object) -> None:
    session.info[_FLUSHED] = True


@event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_FLUSHED, None)


def init_app(app: Flask) -> None:
    # Registered after Flask-SQLAlchemy's own teardown, so it runs before it (Flask runs them in reverse).
    app.teardown_appcontext(end_read_only_transaction)
