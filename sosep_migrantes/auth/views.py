"""Login, logout, language, the admin's user pages and the audit log."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import refresh as refresh_locale
from flask_login import current_user, login_url, logout_user
from marshmallow import ValidationError

from ..catalogs.models import Institution
from ..catalogs.services import active_items, all_centres, all_sedes
from ..core.audit import AuditAction, AuditEvent
from ..core.errors import ServiceError, wants_json
from ..core.forms import form_errors, form_to_data
from ..core.pagination import paginate
from ..core.permissions import ROLE_LABELS, Permission, login_required, permission_required
from ..core.transaction import unit_of_work
from ..extensions import db, limiter, login_manager
from . import second_factor, services, sessions, tokens
from .models import User
from .schemas import ApiTokenSchema, CodeSchema, LoginSchema, NewUserSchema, UserSchema
from .throttle import LoginThrottle

bp = Blueprint("auth", __name__)

login_manager.login_view = "auth.login"
login_manager.login_message = None  # the login page says it itself
# "basic", not "strong": a centre's connection changes address often (mobile data, NAT), and "strong"
# would throw staff out in the middle of a family's registration.
login_manager.session_protection = "basic"


login_manager.user_loader(sessions.load)
# The JSON API's personal tokens (Authorization: Bearer), on the API's paths only.
login_manager.request_loader(tokens.load_from_request)


def unauthorized() -> ResponseReturnValue:
    """Not signed in: the sign-in page, or for the API (and JSON clients) a 401 that says why."""
    if wants_json():
        abort(401)
    return redirect(login_url("auth.login", next_url=request.url))


login_manager.unauthorized_handler(unauthorized)


#: Pages that open without a session, or whatever the session still owes.
PUBLIC_ENDPOINTS = frozenset(
    # The API's OpenAPI document and its documentation page describe it; they hold no data.
    {"static", "auth.login", "auth.set_language", "core.healthz", "api-docs.openapi_json", "api_docs"}
)
#: Pages an account may open while its access waits for a second person (its own account's pages).
ACCOUNT_ENDPOINTS = frozenset(
    {
        "auth.logout",
        "auth.pending",
        "account.index",
        "account.password",
        "account.second_factor_setup",
        "account.recovery_codes",
        "account.end_session",
        "account.end_other_sessions",
    }
)


def owed_step(user: User) -> str | None:
    """The page a signed-in user must go through before any other, or None.

    In order: the second factor of this sign-in (an account that has one); the user's own password (set by
    an admin); a second factor (roles that require one, and any access an admin gave or restored); a second
    person's approval of the access.
    """
    row = sessions.current()
    if user.has_second_factor and (row is None or not row.second_factor_done):
        return "auth.login_code"
    if user.must_change_password:
        return "account.password"
    # Its role requires one; or an admin gave or restored this access: the person sets its own second
    # factor (as its own password) before a second person's approval opens any case.
    if not user.has_second_factor and (second_factor.required_for(user) or user.access_pending):
        return "account.second_factor_setup"
    if user.access_pending:
        return "auth.pending"
    return None


@bp.before_app_request
def gate() -> ResponseReturnValue | None:
    """Every request of a signed-in user passes here: the session is checked (ended, timed out) and noted
    as used, and a user who still owes a step is sent to it, whatever the page asked for."""
    endpoint = request.endpoint
    if endpoint is None or endpoint in PUBLIC_ENDPOINTS:
        return None
    authenticated = current_user.is_authenticated  # loads the session (auth.sessions.load)
    if authenticated and tokens.current_token() is not None:
        return None  # a token's account owes nothing (tokens.load_from_request checked it): no session
    sessions.touch_or_expire()
    if not authenticated:
        ended = g.pop("session_ended", None)
        if ended is not None:
            session.clear()
            flash(_("Su sesión se cerró por inactividad o porque llegó a su duración máxima."), "info")
        return None
    step = g.owed_step = owed_step(current_user)
    if step is None or endpoint == step or endpoint == "auth.logout":
        return None
    if step == "auth.pending" and endpoint in ACCOUNT_ENDPOINTS:
        return None
    return redirect(url_for(step))


def _safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect would let a phishing link borrow our login page."""
    if target:
        # Browsers read a backslash as a slash: "/\\evil.com" would go to //evil.com.
        path = target.replace("\\", "/")
        parts = urlsplit(path)
        if not parts.scheme and not parts.netloc and path.startswith("/") and not path.startswith("//"):
            return target
    return url_for("core.index")


class _NoThrottle:
    """Where rate limiting is switched off (``RATELIMIT_ENABLED=0``: most tests), sign-in is not slowed."""

    def wait_seconds(self, account: str, address: str) -> int:
        return 0

    def failed(self, account: str, address: str) -> None:
        return None

    def succeeded(self, account: str, address: str) -> None:
        return None


def throttle() -> LoginThrottle | _NoThrottle:
    """The sign-in throttle, on the rate limiter's store (Redis where configured: shared by every worker)."""
    config = current_app.config
    if not config["RATELIMIT_ENABLED"]:
        return _NoThrottle()
    return LoginThrottle(
        limiter.storage,
        prefix=(config["RATELIMIT_KEY_PREFIX"] or "sosep") + ":login",
        free_attempts=config["LOGIN_FREE_ATTEMPTS"],
        max_delay=config["LOGIN_MAX_DELAY_SECONDS"],
        secret=config["SECRET_KEY"],
    )


def _address() -> str:
    return request.remote_addr or "-"


def _too_soon(account: str) -> ResponseReturnValue | None:
    wait = throttle().wait_seconds(account, _address())
    if not wait:
        return None
    message = _(
        "Demasiados intentos fallidos. Espere %(seconds)s segundos y vuelva a intentarlo.", seconds=wait
    )
    response = make_response(
        render_template("auth/login.html", values={"username": account}, errors={"password": message}), 429
    )
    response.headers["Retry-After"] = str(wait)
    return response


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login() -> ResponseReturnValue:
    """Password first; an account with a second factor is then asked for its code (auth.second_factor).

    Guessing is slowed per address (the rate limit) and per account (a delay that doubles after a few
    failures, from any address, up to a minute: never a lock-out that someone else can trigger).
    """
    if current_user.is_authenticated:
        return redirect(url_for("core.index"))
    values, errors = {}, {}
    if request.method == "POST":
        values = form_to_data(request.form)
        try:
            data = LoginSchema().load(values)
        except ValidationError as exc:
            errors = form_errors(exc)
        else:
            account = data["username"].strip().lower()
            if (refused := _too_soon(account)) is not None:
                return refused
            with unit_of_work():
                user = services.authenticate(account, data["password"])
                if user is not None:
                    services.sign_in(user)
            if user is None:
                throttle().failed(account, _address())
                errors["password"] = _("Usuario o contraseña incorrectos.")
            else:
                throttle().succeeded(account, _address())
                target = _safe_next(request.args.get("next"))
                if user.has_second_factor:
                    session["next"] = target
                    return redirect(url_for("auth.login_code"))
                return redirect(target)
        values.pop("password", None)
    return render_template("auth/login.html", values=values, errors=errors), (400 if errors else 200)


@bp.route("/login/code", methods=["GET", "POST"])
@login_required
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login_code() -> ResponseReturnValue:
    """The second step of a sign-in: a code from the authenticator app, or a recovery code."""
    row = sessions.current()
    if not current_user.has_second_factor or (row is not None and row.second_factor_done):
        return redirect(url_for("core.index"))
    errors: dict[str, str] = {}
    if request.method == "POST":
        account = f"code:{current_user.id}"
        wait = throttle().wait_seconds(account, _address())
        if wait:
            errors["code"] = _(
                "Demasiados códigos incorrectos. Espere %(seconds)s segundos y vuelva a intentarlo.",
                seconds=wait,
            )
            return render_template("auth/login_code.html", errors=errors), 429
        try:
            data = CodeSchema().load(form_to_data(request.form))
        except ValidationError as exc:
            errors = form_errors(exc)
        else:
            target = _safe_next(session.get("next"))  # the renewed session starts empty
            with unit_of_work():
                passed = services.pass_second_factor(current_user, data["code"])
            if passed:
                throttle().succeeded(account, _address())
                return redirect(target)
            throttle().failed(account, _address())
            errors["code"] = _("El código no es correcto o ya se usó.")
    return render_template("auth/login_code.html", errors=errors), (400 if errors else 200)


@bp.get("/account/pending")
@login_required
def pending() -> ResponseReturnValue:
    """Where an account waits for the second person's approval of its access."""
    if not current_user.access_pending:
        return redirect(url_for("core.index"))
    return render_template("auth/pending.html")


@bp.post("/logout")
@login_required
def logout() -> ResponseReturnValue:
    with unit_of_work():
        services.logout(current_user)
    logout_user()
    session.clear()
    flash(_("Sesión cerrada."), "info")
    return redirect(url_for("auth.login"))


@bp.post("/language")
def set_language() -> ResponseReturnValue:
    locale = request.form.get("locale", "")
    if locale not in current_app.config["LANGUAGES"]:
        abort(400)
    session["locale"] = locale
    if current_user.is_authenticated:
        with unit_of_work():
            services.set_locale(current_user, locale)
    # Forget the locale Flask-Babel cached for this context, so anything rendered from here is in the new one.
    refresh_locale()
    return redirect(_safe_next(request.form.get("next")))


def _user_form(
    user: User | None,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
    token_errors: dict[str, str] | None = None,
    token_values: dict[str, Any] | None = None,
) -> ResponseReturnValue:
    return render_template(
        "auth/user_form.html",
        user=user,
        values=values,
        errors=errors,
        role_labels=ROLE_LABELS,
        centre_options=[(c.code, f"{c.code} · {c.name}") for c in all_centres()],
        sede_options=[(s.code, s.name) for s in all_sedes()],
        institution_options=_institution_options(user),
        api_tokens=tokens.live_tokens(user) if user is not None else [],
        token_errors=token_errors or {},
        token_values=token_values or {},
    ), status


def _institution_options(user: User | None) -> list[tuple[str, str]]:
    """The active institutions, and the user's own if it has been deactivated since (so it stays shown)."""
    institutions = list(active_items(Institution))
    if user is not None and user.institution is not None and user.institution not in institutions:
        institutions.append(user.institution)
    return [(i.code, i.name) for i in institutions]


@bp.get("/admin/users")
@permission_required(Permission.USER_MANAGE)
def users() -> ResponseReturnValue:
    return render_template("auth/users.html", users=services.list_users(), role_labels=ROLE_LABELS)


@bp.route("/admin/users/new", methods=["GET", "POST"])
@permission_required(Permission.USER_MANAGE)
def new_user() -> ResponseReturnValue:
    if request.method == "GET":
        return _user_form(None, {"is_active": True}, {})
    values = form_to_data(request.form)
    try:
        with unit_of_work():
            user = services.create_user(NewUserSchema().load(values), actor=current_user)
    except (ValidationError, ServiceError) as exc:
        return _user_form(None, _without_password(values), form_errors(exc), 400)
    flash(_("Usuario %(username)s creado.", username=user.username), "success")
    return redirect(url_for("auth.users"))


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@permission_required(Permission.USER_MANAGE)
def edit_user(user_id: int) -> ResponseReturnValue:
    user = db.session.get(User, user_id) or abort(404)
    if request.method == "GET":
        return _user_form(user, _user_values(user), {})
    values = form_to_data(request.form)
    values["username"] = user.username
    try:
        with unit_of_work():
            services.update_user(user, UserSchema().load(values), actor=current_user)
    except (ValidationError, ServiceError) as exc:
        return _user_form(user, _without_password(values), form_errors(exc), 400)
    flash(_("Usuario %(username)s actualizado.", username=user.username), "success")
    return redirect(url_for("auth.users"))


def _user_values(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "full_name": user.full_name,
        "role": user.role,
        "centre": user.centre.code if user.centre else "",
        "sede": user.sede.code if user.sede else "",
        "institution": user.institution.code if user.institution else "",
        "is_active": user.is_active_account,
    }


@bp.post("/admin/users/<int:user_id>/tokens")
@permission_required(Permission.USER_MANAGE)
def create_user_token(user_id: int) -> ResponseReturnValue:
    """An API token for a service account, shown once; it works once a second person approves it."""
    user = db.session.get(User, user_id) or abort(404)
    values = form_to_data(request.form)
    try:
        with unit_of_work():
            data = ApiTokenSchema().load(values)
            new = services.create_service_token(user, data["name"], data["days"], actor=current_user)
    except (ValidationError, ServiceError) as exc:
        user = db.session.get(User, user_id) or abort(404)
        return _user_form(user, _user_values(user), {}, 400, form_errors(exc), values)
    return render_template(
        "auth/api_token_created.html", token=new.token, secret=new.secret, for_user=user, pending=True
    )


@bp.post("/admin/users/<int:user_id>/tokens/<int:token_id>/revoke")
@permission_required(Permission.USER_MANAGE)
def revoke_user_token(user_id: int, token_id: int) -> ResponseReturnValue:
    user = db.session.get(User, user_id) or abort(404)
    with unit_of_work():
        revoked = tokens.revoke_token(user, token_id, revoked_by=current_user)
    if revoked:
        flash(_("Token revocado: ya no abre la API."), "success")
    else:
        flash(_("Ese token no es de esta cuenta o ya no está vigente."), "error")
    return redirect(url_for("auth.edit_user", user_id=user.id, _anchor="api-tokens"))


@bp.post("/admin/users/<int:user_id>/second-factor/reset")
@permission_required(Permission.USER_MANAGE)
def reset_second_factor(user_id: int) -> ResponseReturnValue:
    user = db.session.get(User, user_id) or abort(404)
    try:
        with unit_of_work():
            services.reset_second_factor(user, actor=current_user)
    except ServiceError as exc:
        flash(" ".join(exc.errors.values()), "error")
    else:
        flash(
            _(
                "Segundo factor de %(username)s restablecido: lo activará de nuevo al ingresar, "
                "cuando una segunda persona apruebe el acceso.",
                username=user.username,
            ),
            "success",
        )
    return redirect(url_for("auth.edit_user", user_id=user.id))


@bp.get("/admin/approvals")
@permission_required(Permission.ACCESS_APPROVE)
def approvals() -> ResponseReturnValue:
    """Accesses an admin granted or restored that wait for a second person, and the latest decisions."""
    recent = db.session.scalars(
        db.select(AuditEvent)
        .where(
            AuditEvent.action.in_(
                [
                    AuditAction.USER_ACCESS_APPROVE.value,
                    AuditAction.USER_ACCESS_REJECT.value,
                ]
            )
        )
        .order_by(AuditEvent.id.desc())
        .limit(50)
    ).all()
    pending_users = services.pending_accounts()
    people = services.users_by_id(
        {e.user_id for e in recent if e.user_id}
        | {e.subject_id for e in recent if e.subject_id}
        | {u.access_requested_by_id for u in pending_users if u.access_requested_by_id}
    )
    return render_template(
        "auth/approvals.html", pending=pending_users, recent=recent, people=people, role_labels=ROLE_LABELS
    )


@bp.post("/admin/approvals/<int:user_id>")
@permission_required(Permission.ACCESS_APPROVE)
def decide_access(user_id: int) -> ResponseReturnValue:
    user = db.session.get(User, user_id) or abort(404)
    decision = request.form.get("decision")
    if decision not in ("approve", "reject"):
        abort(400)
    try:
        with unit_of_work():
            if decision == "approve":
                services.approve_access(user, current_user)
            else:
                services.reject_access(user, current_user)
    except ServiceError as exc:
        flash(" ".join(exc.errors.values()), "error")
    else:
        if decision == "approve":
            flash(_("Acceso de %(username)s aprobado.", username=user.username), "success")
        else:
            flash(
                _("Acceso de %(username)s rechazado; la cuenta quedó desactivada.", username=user.username),
                "info",
            )
    return redirect(url_for("auth.approvals"))


def _without_password(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k != "password"}


#: Audit events per page of the log.
AUDIT_PER_PAGE = 100


@bp.get("/admin/audit")
@permission_required(Permission.AUDIT_VIEW)
def audit_log() -> ResponseReturnValue:
    """The latest changes: who did what to which record (ids only, no personal data)."""
    number = min(max(request.args.get("page", 1, type=int), 1), 100_000)
    # cap=0: the log is the largest table at national scale; the pager asks only whether a next page
    # exists (one row more than a page), never how many there are.
    page = paginate(db.select(AuditEvent).order_by(AuditEvent.id.desc()), number, AUDIT_PER_PAGE, cap=0)
    return render_template(
        "audit.html", page=page, users=services.users_by_id({e.user_id for e in page.items if e.user_id})
    )
