"""Returnee hint at the desk (issue #11, item 5; national since issue #12): while a member is typed, earlier
records of the same person anywhere in the country are offered (``returnees.services.find_candidates``),
cut to the case number, centre, date and sede outside the user's scope, so the new case is not a
stranger's. Once saved, the case page's "Registros anteriores" links or dismisses them."""

from __future__ import annotations

from flask import abort, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user

from ..core.permissions import Permission, permission_required
from ..core.timeutil import to_local
from ..reception.services import get_arrival
from ..returnees.services import find_candidates
from .form import member_rows
from .views import bp


@bp.post("/<int:arrival_id>/families/earlier-records")
@permission_required(Permission.CASE_CREATE)
def earlier(arrival_id: int) -> ResponseReturnValue:
    """The earlier records of one member row (``row``) of the form as typed, as a small fragment."""
    arrival = get_arrival(current_user, arrival_id) or abort(404)
    wanted = request.form.get("row", "")
    row = next((r for r in member_rows(request.form) if str(r.index) == wanted), None)
    if row is None:
        return "", 204
    prefix = f"members-{row.index}-"
    cui = "".join(ch for ch in request.form.get(prefix + "cui", "") if ch.isascii() and ch.isdigit())
    # Confirming a family pre-registered from the passenger list, its members have ids: a member is not
    # an earlier record of itself.
    own = request.form.get(prefix + "id", "")
    candidates = find_candidates(
        current_user,
        given_names=request.form.get(prefix + "given_names", "")[:120],
        surnames=request.form.get(prefix + "surnames", "")[:120],
        cui=cui or None,
        birth_date=row.birth_date,
        age=row.age,
        on=to_local(arrival.arrived_at).date(),
        exclude_member_id=int(own) if own.isascii() and own.isdigit() and len(own) < 10 else None,
        limit=5,
    )
    return render_template("desk/_earlier_records.html", candidates=candidates, row=row)
