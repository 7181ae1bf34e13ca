"""The case page's earlier records: candidates per member, linked or dismissed by staff (issue #12)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError

from ..cases.models import FamilyUnit
from ..cases.queries import get_family
from ..cases.views import CasePage, case_page_part
from ..core.errors import ServiceError
from ..core.forms import form_errors
from ..core.permissions import Permission, permission_required
from ..core.transaction import retried
from . import services
from .schemas import DecisionSchema

bp = Blueprint("returnees", __name__, url_prefix="/cases")


@case_page_part
def _on_the_case_page(page: CasePage) -> dict[str, Any]:
    return {"returnee_links": services.linked_records(current_user, page.family)}


def _page(family: FamilyUnit, errors: dict[str, str], status: int = 200) -> ResponseReturnValue:
    members = [
        (member, services.candidates_for_member(current_user, member))
        for member in family.members
        if member.given_names or member.cui  # an anonymised member has nothing to look for
    ]
    return render_template(
        "returnees/earlier_records.html",
        family=family,
        members=members,
        linked=services.linked_records(current_user, family),
        errors=errors,
    ), status


@bp.get("/<int:family_id>/earlier-records")
@permission_required(Permission.RETURNEE_VIEW)
def earlier_records(family_id: int) -> ResponseReturnValue:
    """Each member's earlier records anywhere in the country (cut to the minimum outside the scope)."""
    family = get_family(current_user, family_id) or abort(404)
    return _page(family, {})


def _decide(family_id: int, link: bool) -> ResponseReturnValue:
    family = get_family(current_user, family_id) or abort(404)
    try:
        data = DecisionSchema().load(request.form)
        if data["member_id"] not in {m.id for m in family.members}:
            raise ServiceError({"member_id": _("Ese integrante no es de este caso.")})
        decide = services.link_returnee if link else services.dismiss_candidate
        # The same pair decided by two people at the same moment: the later finds the other's decision.
        retried(lambda: decide(current_user, data["member_id"], data["earlier_member_id"]))
    except (ValidationError, ServiceError) as exc:
        family = get_family(current_user, family_id) or abort(404)
        return _page(family, form_errors(exc), 400)
    except LookupError:
        abort(404)
    if link:
        flash(_("Registro vinculado: la persona consta como re-migración en ambos casos."), "success")
    else:
        flash(_("Registro descartado: no se volverá a proponer para esta persona."), "success")
    if request.form.get("back") == "desk":  # decided at the desk, under the family just saved
        return redirect(url_for("desk.new_family", arrival_id=family.arrival_id, saved=family.id))
    return redirect(url_for("returnees.earlier_records", family_id=family.id))


@bp.post("/<int:family_id>/earlier-records/link")
@permission_required(Permission.RETURNEE_LINK)
def link(family_id: int) -> ResponseReturnValue:
    return _decide(family_id, link=True)


@bp.post("/<int:family_id>/earlier-records/dismiss")
@permission_required(Permission.RETURNEE_LINK)
def dismiss(family_id: int) -> ResponseReturnValue:
    return _decide(family_id, link=False)
