"""Server-side sessions: every sign-in is a row in ``user_sessions`` that the server can end.

The signed cookie (Flask's) holds a random session identifier beside Flask-Login's user id; a request is
signed in only while the identifier's row exists, is not ended, has been used in the last
``SESSION_IDLE_MINUTES`` and is younger than ``SESSION_ABSOLUTE_HOURS``. Logout ends the row, so a copy of
the cookie taken before is worth nothing; a password change or reset, a deactivation or a role change ends
every row of the user (see :func:`end_all`). The identifier is new at every sign-in (no fixation).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence

from flask import current_app, g, request, session
from flask_login import login_user
from sqlalchemy import select, update

from ..db import utcnow
from ..extensions import db
from .models import User, UserSession

#: The key of the session identifier in Flask's (signed) cookie session.
SESSION_KEY = "sid"
#: ``last_seen_at`` is written at most this often per session (not on every request).
TOUCH_EVERY = dt.timedelta(seconds=60)


class EndReason:
    LOGOUT = "logout"
    PASSWORD = "password"  # noqa: S105 - a reason, not a secret
    RESET = "reset"
    DEACTIVATED = "deactivated"
    ROLE = "role"
    BY_USER = "by_user"
    IDLE = "idle"
    EXPIRED = "expired"
    SECOND_FACTOR = "second_factor"


def now() -> dt.datetime:
    """The clock of the session rules (tests move it)."""
    return utcnow()


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def idle_limit() -> dt.timedelta:
    return dt.timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])


def absolute_limit() -> dt.timedelta:
    return dt.timedelta(hours=current_app.config["SESSION_ABSOLUTE_HOURS"])


def _aware(moment: dt.datetime) -> dt.datetime:
    # SQLite gives naive datetimes back; they were stored in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def start(user: User, *, second_factor_done: bool) -> UserSession:
    """Sign ``user`` in with a new session (row and cookie); the caller's unit of work commits the row."""
    # The object itself, never Flask-Login's proxy of it: a proxy stored as the signed-in user would point
    # at itself.
    user = user._get_current_object() if hasattr(user, "_get_current_object") else user
    raw = secrets.token_urlsafe(32)
    moment = now()
    row = UserSession(
        token_hash=_digest(raw),
        user_id=user.id,
        created_at=moment,
        last_seen_at=moment,
        second_factor_done=second_factor_done,
        ip_address=request.remote_addr,
        user_agent=(request.user_agent.string or "")[:200] or None,
    )
    db.session.add(row)
    locale = session.get("locale")
    session.clear()  # nothing from before the sign-in survives it
    if locale:
        session["locale"] = locale
    session[SESSION_KEY] = raw
    session.permanent = True
    login_user(user)
    g.user_session = row
    return row


def load(user_id: str) -> User | None:
    """Flask-Login's user loader: the user of a live session, or None (ended, timed out, not ours)."""
    raw = session.get(SESSION_KEY)
    if not isinstance(raw, str) or not raw or not user_id.isdigit():
        return None
    row = db.session.scalar(select(UserSession).where(UserSession.token_hash == _digest(raw)))
    if row is None or row.ended_at is not None or str(row.user_id) != user_id or not row.user.is_active:
        return None
    moment = now()
    if moment - _aware(row.last_seen_at) > idle_limit():
        g.session_timed_out = (row.id, EndReason.IDLE)
        return None
    if moment - _aware(row.created_at) > absolute_limit():
        g.session_timed_out = (row.id, EndReason.EXPIRED)
        return None
    g.user_session = row
    return row.user


def current() -> UserSession | None:
    """The live session of this request (after the user was loaded)."""
    row: UserSession | None = g.get("user_session")
    return row


def touch_or_expire() -> None:
    """At the start of a request: note the session's use (at most once a minute), or end a timed-out one.

    Committed at once, before the view runs: a GET's transaction is not committed otherwise, and nothing of
    the view's own work is pending yet.
    """
    timed_out = g.pop("session_timed_out", None)
    if timed_out is not None:
        row_id, reason = timed_out
        db.session.execute(
            update(UserSession)
            .where(UserSession.id == row_id, UserSession.ended_at.is_(None))
            .values(ended_at=now(), end_reason=reason)
        )
        db.session.commit()
        g.session_ended = reason
        return
    row = current()
    if row is None:
        return
    moment = now()
    if moment - _aware(row.last_seen_at) >= TOUCH_EVERY:
        db.session.execute(update(UserSession).where(UserSession.id == row.id).values(last_seen_at=moment))
        db.session.commit()


def end_current(reason: str) -> None:
    row = current()
    if row is not None:
        row.ended_at = now()
        row.end_reason = reason
    session.clear()


def end_all(user: User, reason: str, *, keep: UserSession | None = None) -> int:
    """End every live session of ``user`` (but ``keep``); returns how many."""
    query = update(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
    if keep is not None:
        query = query.where(UserSession.id != keep.id)
    result = db.session.execute(query.values(ended_at=now(), end_reason=reason))
    return int(getattr(result, "rowcount", 0) or 0)


def end_one(user: User, session_id: int) -> bool:
    """End one of the user's own sessions (from the sessions page); False if it is not one of them."""
    result = db.session.execute(
        update(UserSession)
        .where(
            UserSession.id == session_id,
            UserSession.user_id == user.id,
            UserSession.ended_at.is_(None),
        )
        .values(ended_at=now(), end_reason=EndReason.BY_USER)
    )
    return bool(getattr(result, "rowcount", 0))


def live_sessions(user: User) -> Sequence[UserSession]:
    """The user's sessions that still open pages, newest use first."""
    moment = now()
    rows = db.session.scalars(
        select(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .order_by(UserSession.last_seen_at.desc())
    ).all()
    return [
        row
        for row in rows
        if moment - _aware(row.last_seen_at) <= idle_limit()
        and moment - _aware(row.created_at) <= absolute_limit()
    ]


def renew(user: User, reason: str, *, second_factor_done: bool | None = None) -> None:
    """A new identifier for the current session (after a password change or the second factor), the old
    one ended: whoever held the old cookie holds nothing."""
    row = current()
    done = row.second_factor_done if row is not None else False
    if row is not None:
        row.ended_at = now()
        row.end_reason = reason
    start(user, second_factor_done=done if second_factor_done is None else second_factor_done)
