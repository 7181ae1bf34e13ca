"""The sede's work: the follow-up inbox, the case's follow-up forms, and the coordinators' view per sede."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from marshmallow import Schema, ValidationError
from sqlalchemy import select

from ..cases.models import FamilyUnit
from ..cases.queries import get_family
from ..cases.views import CasePage, case_page_part
from ..catalogs.models import Institution, Sede
from ..catalogs.services import (
    active_items,
    all_municipalities,
    all_sedes,
    sede_for_municipality,
    sede_names_by_municipality,
)
from ..core.errors import ServiceError
from ..core.forms import form_errors, form_to_data
from ..core.pagination import paginate
from ..core.permissions import Permission, Role, permission_required
from ..core.schema import is_submission_token, new_submission_token
from ..core.timeutil import today_local
from ..core.transaction import AlreadySaved, retried, unit_of_work
from ..db import utcnow
from ..extensions import db
from . import queries, rules, services
from .models import (
    CLOSURE_REASON_LABELS,
    CONTACT_OUTCOME_LABELS,
    CONTACT_TYPE_LABELS,
    ContactOutcome,
    FollowUp,
    Linkage,
)
from .schemas import (
    ClosureSchema,
    FollowUpSchema,
    InboxFilterSchema,
    LinkageSchema,
    ReopenSchema,
    TransferSchema,
)

bp = Blueprint("followup", __name__)

#: What a contact's outcome suggests doing next, said after it is saved.
NEXT_STEP_HINTS = {
    ContactOutcome.MOVED: _l("Si la familia se mudó al territorio de otra sede, use «Trasladar»."),
    ContactOutcome.REMIGRATED: _l("Si la familia volvió a migrar, puede cerrar el caso con ese motivo."),
    ContactOutcome.DECLINED: _l("Si la familia no desea los servicios, puede cerrar el caso con ese motivo."),
}

#: Where "new since my last visit" starts, for the rest of this sign-in.
INBOX_SINCE_KEY = "inbox_since"


# -- the case page's part ----------------------------------------------------------------------------


@case_page_part
def _on_the_case_page(page: CasePage) -> dict[str, Any]:
    return {"followup": page.once(queries.case_followup)}


# -- the inbox ---------------------------------------------------------------------------------------


def _inbox_since() -> dt.datetime:
    """Start of "new since my last visit": the previous visit before this sign-in, kept for the session."""
    stored = session.get(INBOX_SINCE_KEY)
    if stored:
        return dt.datetime.fromisoformat(stored)
    since: dt.datetime = current_user.inbox_seen_at or current_user.created_at
    if since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)
    session[INBOX_SINCE_KEY] = since.isoformat()
    with unit_of_work():
        current_user.inbox_seen_at = utcnow()
    return since


@bp.get("/followup/")
@permission_required(Permission.FOLLOWUP_INBOX)
def inbox() -> ResponseReturnValue:
    loaded = InboxFilterSchema().load_ignoring_errors(request.args.to_dict())
    number = loaded.pop("page")
    filters = queries.InboxFilters(**loaded)
    sede: Sede | None
    if current_user.role_enum is Role.SEDE:
        sede = current_user.sede
        filters.sede_id = current_user.sede_id
    else:
        sede = db.session.get(Sede, filters.sede_id) if filters.sede_id else None
        filters.sede_id = sede.id if sede else None
    today = today_local()
    since = _inbox_since()
    families = queries.inbox_families(current_user, filters)
    page = paginate(
        queries.ordered(families, filters, today),
        number,
        current_app.config["CASES_PER_PAGE"],
        current_app.config["CASES_COUNT_CAP"],
        load=queries.inbox_loader(today, since),
        count_stmt=queries.count_stmt(families, filters, today),
    )
    args = {k: v for k, v in request.args.items() if k != "page"}
    return render_template(
        "followup/inbox.html",
        page=page,
        rows=page.items,
        counts=queries.inbox_counts(current_user, filters, today, since),
        filters=filters,
        args=args,
        sede=sede,
        sedes=all_sedes() if current_user.role_enum is not Role.SEDE else [],
        municipalities=queries.municipalities_of(filters.sede_id),
        statuses=dict(queries.status_choices()),
        today=today,
        week_end=rules.week_end(today),
    )


@bp.get("/followup/sedes")
@permission_required(Permission.FOLLOWUP_OVERVIEW)
def overview() -> ResponseReturnValue:
    today = today_local()
    return render_template(
        "followup/overview.html",
        figures=queries.sede_overview(today),
        today=today,
        period_days=queries.CONTACT_PERIOD_DAYS,
    )


# -- the case's follow-up forms ----------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    template: str
    schema: type[Schema]
    service: Callable[[FamilyUnit, dict[str, Any], Any], Any]
    done: Any
    defaults: Callable[[FamilyUnit], dict[str, Any]]
    #: The form carries a one-time token (its table has ``submission_token``): a resent form saves nothing.
    model_with_token: Any = None


def _followup_defaults(family: FamilyUnit) -> dict[str, Any]:
    today = today_local()
    return {
        "contacted_on": today.isoformat(),
        "next_action_on": (today + dt.timedelta(days=services.settings().next_contact_days)).isoformat(),
        "submission_token": new_submission_token(),
    }


def _linkage_defaults(family: FamilyUnit) -> dict[str, Any]:
    values: dict[str, Any] = {
        "linked_on": today_local().isoformat(),
        "submission_token": new_submission_token(),
    }
    referral = request.args.get("referral", "")
    if referral.isascii() and referral.isdigit():
        values["referral_id"] = referral
    return values


ACTIONS: dict[str, Action] = {
    "followup": Action(
        "followup/followup_form.html",
        FollowUpSchema,
        services.record_followup,
        _l("Seguimiento registrado."),
        _followup_defaults,
        FollowUp,
    ),
    "linkage": Action(
        "followup/linkage_form.html",
        LinkageSchema,
        services.link,
        _l("Vinculación registrada."),
        _linkage_defaults,
        Linkage,
    ),
    "transfer": Action(
        "followup/transfer_form.html", TransferSchema, services.transfer, _l("Caso trasladado."), lambda f: {}
    ),
    "close": Action(
        "followup/close_form.html", ClosureSchema, services.close, _l("Caso cerrado."), lambda f: {}
    ),
    "reopen": Action(
        "followup/reopen_form.html", ReopenSchema, services.reopen, _l("Caso reabierto."), lambda f: {}
    ),
}


def _form(
    family: FamilyUnit, action: Action, values: dict[str, Any], errors: dict[str, str], status: int = 200
) -> ResponseReturnValue:
    referrals = services.linkable_referrals(family)
    moving = action is ACTIONS["transfer"]  # the transfer form offers the country's municipalities
    return render_template(
        action.template,
        family=family,
        values=values,
        errors=errors,
        contact_types=CONTACT_TYPE_LABELS,
        outcomes=CONTACT_OUTCOME_LABELS,
        closure_reasons=CLOSURE_REASON_LABELS,
        institutions=active_items(Institution),
        referrals=referrals,
        member_options=[(m.id, f"{m.full_name} ({m.relationship_to_head.name})") for m in family.members],
        referral_options=[(r.id, f"{r.number} · {r.institution.name} · {r.status_label}") for r in referrals],
        municipalities=all_municipalities() if moving else [],
        municipality_sedes=sede_names_by_municipality() if moving else {},
        sede=sede_for_municipality(family.destination_municipality_id),
        followup=queries.case_followup(family),
        not_located_attempts=services.settings().not_located_attempts,
    ), status


def _already_saved(action: Action, family: FamilyUnit, token: str | None) -> bool:
    model = action.model_with_token
    if model is None or not is_submission_token(token):
        return False
    found = db.session.scalar(select(model.id).where(model.submission_token == token))
    return found is not None


def _handle(family_id: int, kind: str) -> ResponseReturnValue:
    action = ACTIONS[kind]
    family = get_family(current_user, family_id) or abort(404)
    if request.method == "GET":
        return _form(family, action, action.defaults(family), {})
    values = form_to_data(request.form)
    token = values.get("submission_token")

    def save() -> Any:
        # Read again at each try: a contact recorded by someone else at the same moment moved the case.
        fresh = get_family(current_user, family_id) or abort(404)
        if _already_saved(action, fresh, token):
            raise AlreadySaved
        return action.service(fresh, action.schema().load(values), current_user)

    try:
        saved = retried(save)
    except (ValidationError, ServiceError) as exc:
        family = get_family(current_user, family_id) or abort(404)
        return _form(family, action, values, form_errors(exc), 400)
    except AlreadySaved:
        flash(_("Este formulario ya se había guardado; no se guardó dos veces."), "info")
        return redirect(url_for("cases.detail", family_id=family_id, _anchor="followup"))
    if get_family(current_user, family.id) is None:
        # Transferred out of this user's territory: say where it went instead of showing a 404.
        sede = sede_for_municipality(family.destination_municipality_id)
        flash(
            _(
                "Caso %(case)s trasladado a %(sede)s; ya no aparece en su bandeja.",
                case=family.case_number,
                sede=sede.name if sede else _("Sin sede asignada"),
            ),
            "success",
        )
        return redirect(url_for("followup.inbox"))
    flash(str(action.done), "success")
    if isinstance(saved, FollowUp) and saved.outcome in NEXT_STEP_HINTS:
        flash(str(NEXT_STEP_HINTS[ContactOutcome(saved.outcome)]), "info")
    return redirect(url_for("cases.detail", family_id=family.id, _anchor="followup"))


@bp.route("/cases/<int:family_id>/followups/new", methods=["GET", "POST"])
@permission_required(Permission.FOLLOWUP_RECORD)
def new_followup(family_id: int) -> ResponseReturnValue:
    return _handle(family_id, "followup")


@bp.route("/cases/<int:family_id>/linkages/new", methods=["GET", "POST"])
@permission_required(Permission.FOLLOWUP_RECORD)
def new_linkage(family_id: int) -> ResponseReturnValue:
    return _handle(family_id, "linkage")


@bp.route("/cases/<int:family_id>/transfer", methods=["GET", "POST"])
@permission_required(Permission.FOLLOWUP_RECORD)
def transfer(family_id: int) -> ResponseReturnValue:
    return _handle(family_id, "transfer")


@bp.route("/cases/<int:family_id>/close", methods=["GET", "POST"])
@permission_required(Permission.FOLLOWUP_RECORD)
def close(family_id: int) -> ResponseReturnValue:
    return _handle(family_id, "close")


@bp.route("/cases/<int:family_id>/reopen", methods=["GET", "POST"])
@permission_required(Permission.FOLLOWUP_RECORD)
def reopen(family_id: int) -> ResponseReturnValue:
    return _handle(family_id, "reopen")
