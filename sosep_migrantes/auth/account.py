"""A user's own account: its password, its second factor and recovery codes, its open sessions."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError

from ..core.errors import ServiceError
from ..core.forms import form_errors, form_to_data
from ..core.permissions import login_required
from ..core.transaction import unit_of_work
from . import second_factor, services, sessions, tokens
from .schemas import ApiTokenSchema, ChangePasswordSchema, CodeSchema

bp = Blueprint("account", __name__, url_prefix="/account")

#: The enrolment's secret waits in the (signed) session until the app shows a good code.
PENDING_SECRET = "totp_pending"  # noqa: S105 - a session key, not a secret


@bp.get("/")
@login_required
def index() -> ResponseReturnValue:
    return _account_page()


def _account_page(
    token_errors: dict[str, str] | None = None, token_values: dict[str, Any] | None = None
) -> ResponseReturnValue:
    return render_template(
        "auth/account.html",
        sessions=sessions.live_sessions(current_user),
        current=sessions.current(),
        required=second_factor.required_for(current_user),
        codes_left=second_factor.recovery_codes_left(current_user) if current_user.has_second_factor else 0,
        api_tokens=tokens.live_tokens(current_user),
        token_errors=token_errors or {},
        token_values=token_values or {},
    ), (400 if token_errors else 200)


@bp.post("/tokens")
@login_required
def create_token() -> ResponseReturnValue:
    """A personal API token: shown once on the page that answers, never again."""
    values = form_to_data(request.form)
    try:
        with unit_of_work():
            data = ApiTokenSchema().load(values)
            new = tokens.create_token(current_user, data["name"], data["days"], created_by=current_user)
    except (ValidationError, ServiceError) as exc:
        return _account_page(form_errors(exc), values)
    return render_template("auth/api_token_created.html", token=new.token, secret=new.secret)


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int) -> ResponseReturnValue:
    with unit_of_work():
        revoked = tokens.revoke_token(current_user, token_id, revoked_by=current_user)
    if revoked:
        flash(_("Token revocado: ya no abre la API."), "success")
    else:
        flash(_("Ese token no es suyo o ya no está vigente."), "error")
    return redirect(url_for("account.index"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password() -> ResponseReturnValue:
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            with unit_of_work():
                services.change_own_password(
                    current_user, ChangePasswordSchema().load(form_to_data(request.form))
                )
        except (ValidationError, ServiceError) as exc:
            errors = form_errors(exc)
        else:
            flash(_("Contraseña cambiada. Sus otras sesiones se cerraron."), "success")
            return redirect(url_for("core.index"))
    return render_template("auth/password.html", errors=errors), (400 if errors else 200)


@bp.route("/second-factor", methods=["GET", "POST"])
@login_required
def second_factor_setup() -> ResponseReturnValue:
    """Enrol an authenticator app: scan the code (or type the key), then type the code the app shows."""
    if current_user.has_second_factor:
        return redirect(url_for("account.index"))
    secret = session.get(PENDING_SECRET)
    if not isinstance(secret, str) or len(secret) != 32:
        secret = session[PENDING_SECRET] = second_factor.new_secret()
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            data = CodeSchema().load(form_to_data(request.form))
        except ValidationError as exc:
            errors = form_errors(exc)
        else:
            with unit_of_work():
                codes = second_factor.enrol(current_user, secret, data["code"])
            if codes is not None:
                session.pop(PENDING_SECRET, None)
                with unit_of_work():
                    sessions.renew(current_user, sessions.EndReason.SECOND_FACTOR, second_factor_done=True)
                flash(_("Segundo factor activado."), "success")
                return render_template("auth/recovery_codes.html", codes=codes)
            errors["code"] = _(
                "El código no es correcto: revise la hora del teléfono y escriba el código actual."
            )
    uri = second_factor.provisioning_uri(current_user, secret)
    return render_template(
        "auth/second_factor.html",
        qr=second_factor.qr_svg(uri),
        secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        errors=errors,
        required=second_factor.required_for(current_user),
    ), (400 if errors else 200)


@bp.post("/recovery-codes")
@login_required
def recovery_codes() -> ResponseReturnValue:
    """New recovery codes (the old ones stop working), after a code from the app."""
    if not current_user.has_second_factor:
        return redirect(url_for("account.second_factor_setup"))
    code = str(request.form.get("code", ""))[:40]
    with unit_of_work():
        ok = second_factor.verify(current_user, code)
        codes = second_factor.regenerate_recovery_codes(current_user) if ok else None
    if codes is None:
        flash(_("El código no es correcto o ya se usó."), "error")
        return redirect(url_for("account.index"))
    return render_template("auth/recovery_codes.html", codes=codes)


@bp.post("/sessions/<int:session_id>/end")
@login_required
def end_session(session_id: int) -> ResponseReturnValue:
    current = sessions.current()
    if current is not None and current.id == session_id:
        return redirect(url_for("account.index"))
    with unit_of_work():
        ended = services.end_session(current_user, session_id)
    flash(_("Sesión cerrada.") if ended else _("Esa sesión ya estaba cerrada."), "info")
    return redirect(url_for("account.index"))


@bp.post("/sessions/end-others")
@login_required
def end_other_sessions() -> ResponseReturnValue:
    with unit_of_work():
        count = services.end_other_sessions(current_user)
    flash(_("Sesiones cerradas: %(count)s.", count=count), "info")
    return redirect(url_for("account.index"))
