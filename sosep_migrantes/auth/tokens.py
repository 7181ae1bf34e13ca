"""Personal API tokens (issue #12): created and revoked by their owner (an admin or the operator's command
line for service accounts), shown once, stored hashed, with an expiry and the last use.

A token carries no rights of its own: a request made with it is the account's request, with the same
role, scope and permissions as its pages, through the same query functions. So a token of a sede user
reads only its sede's cases, and a partner's token only its institution's referrals.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from flask import current_app, g, request
from flask_babel import gettext as _
from sqlalchemy import select, update

from ..core import audit
from ..core.audit import AuditAction
from ..core.errors import ServiceError
from ..db import utcnow
from ..extensions import db
from .models import ApiToken, User

#: Every token starts so, which tells a leaked one apart in logs and code (secret scanners key on it).
TOKEN_PREFIX = "sosep_"  # noqa: S105 - a prefix, not a secret
#: ``last_used_at`` is written at most this often per token (not on every request).
TOUCH_EVERY = dt.timedelta(seconds=60)
MAX_DAYS = 365
MAX_LIVE_TOKENS = 20


@dataclass(frozen=True)
class NewToken:
    """A token just made: ``secret`` is shown once and never again."""

    token: ApiToken
    secret: str


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def is_live(token: ApiToken, moment: dt.datetime | None = None) -> bool:
    moment = moment or utcnow()
    return token.revoked_at is None and _aware(token.expires_at) > moment


def create_token(user: User, name: str, days: int, *, created_by: User | None) -> NewToken:
    """Make a token for ``user`` that works for ``days`` days; audited. The caller commits."""
    name = " ".join(name.split())[:80]
    errors = {}
    if not name:
        errors["name"] = _("Escriba para qué es el token (p. ej. «Sistema de OIM»).")
    if not 1 <= days <= MAX_DAYS:
        errors["days"] = _("La vigencia debe estar entre 1 y %(max)d días.", max=MAX_DAYS)
    if not user.is_active or user.access_pending:
        errors["name"] = _("Esta cuenta no está activa o espera la aprobación de su acceso.")
    if len(live_tokens(user)) >= MAX_LIVE_TOKENS:
        errors["name"] = _("Esta cuenta ya tiene %(n)d tokens vigentes; revoque alguno.", n=MAX_LIVE_TOKENS)
    if errors:
        raise ServiceError(errors)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        token_hash=digest(secret),
        prefix=secret[: len(TOKEN_PREFIX) + 4],
        user_id=user.id,
        name=name,
        created_by_id=created_by.id if created_by is not None else None,
        expires_at=utcnow() + dt.timedelta(days=days),
    )
    db.session.add(token)
    db.session.flush()
    audit.record(
        AuditAction.API_TOKEN_CREATE,
        "user",
        user.id,
        token_id=token.id,
        days=days,
        actor_id=created_by.id if created_by is not None else None,
    )
    return NewToken(token, secret)


def live_tokens(user: User) -> Sequence[ApiToken]:
    """The tokens of ``user`` that still work, newest first."""
    return db.session.scalars(
        select(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None), ApiToken.expires_at > utcnow())
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    ).all()


def revoke_token(user: User, token_id: int, *, revoked_by: User | None) -> bool:
    """Revoke one token of ``user``; False if it is not one of its live tokens. Audited."""
    result = db.session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id, ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    if not getattr(result, "rowcount", 0):
        return False
    audit.record(
        AuditAction.API_TOKEN_REVOKE,
        "user",
        user.id,
        token_id=token_id,
        actor_id=revoked_by.id if revoked_by is not None else None,
    )
    return True


def revoke_all(user: User) -> int:
    """Revoke every token of ``user`` (its access was taken away or changed); how many."""
    result = db.session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


def bearer_secret() -> str | None:
    """The token of the request's ``Authorization: Bearer`` header, if it has one."""
    header = request.headers.get("Authorization", "")
    scheme, _space, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def load_from_request(_request: object) -> User | None:
    """Flask-Login's request loader: the account of a live token, on the API's paths only.

    A token opens nothing an account could not: an inactive account, one waiting for a second person's
    approval or one that owes a new password gets no answer through its tokens either.
    """
    if not request.path.startswith(current_app.config["API_PREFIX"] + "/"):
        return None
    secret = bearer_secret()
    if secret is None or not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(secret)))
    moment = utcnow()
    if token is None or not is_live(token, moment):
        return None
    user = token.user
    if not user.is_active or user.access_pending or user.must_change_password:
        return None
    if token.last_used_at is None or moment - _aware(token.last_used_at) > TOUCH_EVERY:
        db.session.execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=moment))
        db.session.commit()
    g.api_token = token
    return user


def current_token() -> ApiToken | None:
    """The token this request was authenticated with (None for a browser session)."""
    token: ApiToken | None = g.get("api_token")
    return token
