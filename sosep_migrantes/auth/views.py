"""Login, logout, language, the admin's user pages and the audit log."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import refresh as refresh_locale
from flask_login import current_user, login_user, logout_user
from marshmallow import ValidationError

from ..catalogs.models import Institution
from ..catalogs.services import active_items, all_centres, all_sedes
from ..core.audit import AuditEvent
from ..core.errors import ServiceError
from ..core.forms import form_errors, form_to_data
from ..core.pagination import paginate
from ..core.permissions import ROLE_LABELS, Permission, login_required, permission_required
from ..core.transaction import unit_of_work
from ..extensions import db, limiter, login_manager
from . import services
from .models import User
from .schemas import LoginSchema, NewUserSchema, UserSchema

bp = Blueprint("auth", __name__)

login_manager.login_view = "auth.login"
login_manager.login_message = None  # the login page says it itself
# "basic", not "strong": a centre's connection changes address often (mobile data, NAT), and "strong"
# would throw staff out in the middle of a family's registration.
login_manager.session_protection = "basic"


@login_manager.user_loader  # type: ignore[untyped-decorator]  # Flask-Login ships no types
def load_user(user_id: str) -> User | None:
    user = db.session.get(User, int(user_id))
    return user if user is not None and user.is_active else None


def _safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect would let a phishing link borrow our login page."""
    if target:
        # Browsers read a backslash as a slash: "/\\evil.com" would go to //evil.com.
        path = target.replace("\\", "/")
        parts = urlsplit(path)
        if not parts.scheme and not parts.netloc and path.startswith("/") and not path.startswith("//"):
            return target
    return url_for("core.index")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
# Per account too: guessing one user's password from many addresses (or from behind one proxy) is slowed.
@limiter.limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT"],
    methods=["POST"],
    key_func=lambda: "user:" + request.form.get("username", "").strip().lower()[:60],
)
def login() -> ResponseReturnValue:
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
            with unit_of_work():
                user = services.authenticate(data["username"], data["password"])
            if user is None:
                errors["password"] = _("Usuario o contraseña incorrectos.")
            else:
                session.clear()
                login_user(user)
                return redirect(_safe_next(request.args.get("next")))
        values.pop("password", None)
    return render_template("auth/login.html", values=values, errors=errors), (400 if errors else 200)


@bp.post("/logout")
@login_required
def logout() -> ResponseReturnValue:
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
    user: User | None, values: dict[str, Any], errors: dict[str, str], status: int = 200
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
        values = {
            "username": user.username,
            "full_name": user.full_name,
            "role": user.role,
            "centre": user.centre.code if user.centre else "",
            "sede": user.sede.code if user.sede else "",
            "institution": user.institution.code if user.institution else "",
            "is_active": user.is_active_account,
        }
        return _user_form(user, values, {})
    values = form_to_data(request.form)
    values["username"] = user.username
    try:
        with unit_of_work():
            services.update_user(user, UserSchema().load(values), actor=current_user)
    except (ValidationError, ServiceError) as exc:
        return _user_form(user, _without_password(values), form_errors(exc), 400)
    flash(_("Usuario %(username)s actualizado.", username=user.username), "success")
    return redirect(url_for("auth.users"))


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
