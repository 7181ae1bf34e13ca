"""The second factor: time-based one-time codes (RFC 6238, any authenticator app) and recovery codes.

Required for coordinators and admins (``SECOND_FACTOR_ROLES``), open to everyone. A code is accepted
once: the step it belongs to is stored, and an equal or earlier step is refused (no replay within the
code's 30 seconds). Recovery codes are ten random codes shown once, kept as SHA-256 digests, each good once.
"""

from __future__ import annotations

import hashlib
import secrets

import pyotp
import segno
from flask import current_app
from sqlalchemy import delete, select

from ..core import audit
from ..core.audit import AuditAction
from ..core.permissions import Role
from ..db import utcnow
from ..extensions import db
from .models import RecoveryCode, User
from .sessions import now

ISSUER = "SOSEP Migrantes"
RECOVERY_CODES = 10
#: Codes one step either side of the server's clock are accepted (a phone's clock drifts).
DRIFT_STEPS = 1


def required_for(user: User) -> bool:
    roles: tuple[str, ...] = current_app.config["SECOND_FACTOR_ROLES"]
    return Role(user.role).value in roles


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The enrolment QR code as inline SVG (no image request, nothing for the CSP to allow)."""
    svg: str = segno.make(uri, error="m").svg_inline(scale=4, omitsize=False)
    return svg


def _step_of(code: str, secret: str) -> int | None:
    """The time step whose code ``code`` is, within the allowed drift, or None."""
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now())
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def clean_code(code: str) -> str:
    return "".join(ch for ch in code if ch.isascii() and ch.isalnum()).lower()


def check_totp(secret: str, code: str, last_step: int | None) -> int | None:
    """The step of a valid, unused code, or None."""
    code = clean_code(code)
    if len(code) != 6 or not code.isdigit():
        return None
    step = _step_of(code, secret)
    if step is None or (last_step is not None and step <= last_step):
        return None
    return step


def enrol(user: User, secret: str, code: str) -> list[str] | None:
    """Turn the second factor on once the app shows a good code; returns the recovery codes (shown once)."""
    step = check_totp(secret, code, None)
    if step is None:
        return None
    user.totp_secret = secret
    user.totp_last_step = step
    codes = _new_recovery_codes(user)
    audit.record(AuditAction.USER_TOTP_ENROL, "user", user.id, actor_id=user.id)
    return codes


def verify(user: User, code: str) -> bool:
    """A code from the app, or an unused recovery code (then spent)."""
    if user.totp_secret is None:
        return False
    step = check_totp(user.totp_secret, code, user.totp_last_step)
    if step is not None:
        user.totp_last_step = step
        return True
    digest = _digest(clean_code(code))
    recovery = db.session.scalar(
        select(RecoveryCode).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == digest,
            RecoveryCode.used_at.is_(None),
        )
    )
    if recovery is None:
        return False
    recovery.used_at = utcnow()
    audit.record(AuditAction.USER_RECOVERY_USED, "user", user.id, actor_id=user.id)
    return True


def recovery_codes_left(user: User) -> int:
    return len(
        db.session.scalars(
            select(RecoveryCode.id).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        ).all()
    )


def regenerate_recovery_codes(user: User) -> list[str]:
    codes = _new_recovery_codes(user)
    audit.record(AuditAction.USER_TOTP_ENROL, "user", user.id, recovery_codes=True, actor_id=user.id)
    return codes


def reset(user: User) -> None:
    """Forget the app and the recovery codes (an admin's reset, or the user turning it off)."""
    user.totp_secret = None
    user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _new_recovery_codes(user: User) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(alphabet) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.session.add(RecoveryCode(user_id=user.id, code_hash=_digest(raw)))
    return codes
