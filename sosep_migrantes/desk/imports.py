"""Pre-registering an arrival from its passenger list: the upload kept for its preview, then the confirmation
that turns its family groups into pre-registered family units, in one transaction.

Nothing is created twice, in two ways: the file's SHA-256 is kept with each confirmed list, so the same
file uploaded again for the arrival is refused at once with the date it was imported; and each family
keeps its group reference (``family_units.passenger_group``, unique per arrival), so a corrected list
uploaded again creates only the groups not yet on the arrival. Confirmations of one arrival take turns
(a lock on its row), so two desks confirming at once cannot both create a group.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence

from flask_babel import gettext as _
from sqlalchemy import delete, select

from ..auth.models import User
from ..cases.models import FamilyUnit
from ..cases.services import register_family
from ..core import audit
from ..core.audit import AuditAction
from ..core.errors import ServiceError
from ..core.schema import is_submission_token, new_submission_token
from ..core.templating import local_datetime
from ..core.timeutil import to_local
from ..db import utcnow
from ..extensions import db
from ..reception.models import Arrival
from ..returnees.services import Candidate, find_candidates
from .models import PassengerList
from .passenger_list import PassengerListError, Plan, plan, read_rows

#: An upload previewed but never confirmed is deleted after this long (it holds personal data).
PENDING_FOR = dt.timedelta(hours=24)


def existing_groups(arrival: Arrival) -> dict[str, str]:
    """The group references already on the arrival, with the case number each became."""
    rows = db.session.execute(
        select(FamilyUnit.passenger_group, FamilyUnit.case_number).where(
            FamilyUnit.arrival_id == arrival.id, FamilyUnit.passenger_group.is_not(None)
        )
    )
    return {group: number for group, number in rows if group}


def earlier_records(arrival: Arrival, found: Plan, user: User) -> dict[int, list[Candidate]]:
    """Each listed person's earlier records anywhere in the country (issue #12: detection when importing),
    by the list's row number, with the disclosure the user may have. Only the groups the list will create:
    a group already on the arrival was checked when it was imported."""
    on = to_local(arrival.arrived_at).date()
    by_row: dict[int, list[Candidate]] = {}
    for group in found.groups:
        if not group.will_create:
            continue
        for member in group.members:
            data = member.data
            candidates = find_candidates(
                user,
                given_names=str(data.get("given_names") or ""),
                surnames=str(data.get("surnames") or ""),
                cui=data.get("cui"),
                birth_date=data.get("birth_date"),
                age=data.get("estimated_age"),
                on=on,
                limit=3,
            )
            if candidates:
                by_row[member.row] = candidates
    return by_row


def arrival_plan(arrival: Arrival, records: Sequence[dict[str, object]]) -> Plan:
    return plan(records, to_local(arrival.arrived_at).date(), existing_groups(arrival))


def confirmed_lists(arrival: Arrival) -> Sequence[PassengerList]:
    return db.session.scalars(
        select(PassengerList)
        .where(PassengerList.arrival_id == arrival.id, PassengerList.confirmed_at.is_not(None))
        .order_by(PassengerList.confirmed_at)
    ).all()


def _already_imported(arrival: Arrival, sha256: str) -> PassengerList | None:
    return db.session.scalar(
        select(PassengerList).where(
            PassengerList.arrival_id == arrival.id, PassengerList.confirmed_sha256 == sha256
        )
    )


def _refuse_if_imported(arrival: Arrival, sha256: str) -> None:
    earlier = _already_imported(arrival, sha256)
    if earlier is not None and earlier.confirmed_at is not None:
        raise PassengerListError(
            _(
                "Este mismo archivo ya se importó en esta llegada el %(when)s (%(num)d familias "
                "pre-registradas). No se creó nada nuevo.",
                when=local_datetime(earlier.confirmed_at),
                num=earlier.families_created or 0,
            )
        )


def preview_upload(
    arrival: Arrival, file_name: str, content: bytes, user: User
) -> tuple[Plan, PassengerList | None]:
    """Read an uploaded list and plan its families, nothing created. When some family would be created the
    rows are kept (:class:`PassengerList`, found again by its random ``token``) for the confirmation.

    Raises :class:`PassengerListError` for a file that cannot be read, or that was already imported.
    """
    sha256 = hashlib.sha256(content).hexdigest()
    _refuse_if_imported(arrival, sha256)
    records = read_rows(file_name, content)
    found = arrival_plan(arrival, records)
    db.session.execute(
        delete(PassengerList).where(
            PassengerList.confirmed_at.is_(None), PassengerList.created_at < utcnow() - PENDING_FOR
        )
    )
    if not found.to_create:
        return found, None
    upload = PassengerList(
        arrival_id=arrival.id,
        token=new_submission_token(),
        content_sha256=sha256,
        file_name=(file_name.strip() or "lista")[:200],
        rows=list(records),
        row_count=len(records),
        created_at=utcnow(),
        created_by_id=user.id,
    )
    db.session.add(upload)
    db.session.flush()
    return found, upload


def pending_upload(arrival: Arrival, token: str | None) -> PassengerList | None:
    if not is_submission_token(token):
        return None
    return db.session.scalar(
        select(PassengerList).where(PassengerList.arrival_id == arrival.id, PassengerList.token == token)
    )


def confirm_upload(arrival: Arrival, token: str | None, user: User) -> tuple[PassengerList, list[FamilyUnit]]:
    """Create the previewed list's families as pre-registered family units, all or none (the caller's unit
    of work commits). Through :func:`cases.services.register_family`, so each gets its case number, search
    text and audit entry as a family registered at the desk does."""
    # Confirmations of one arrival take turns: the groups already created are read after the lock.
    db.session.execute(select(Arrival.id).where(Arrival.id == arrival.id).with_for_update())
    upload = db.session.scalar(
        select(PassengerList)
        .where(PassengerList.arrival_id == arrival.id, PassengerList.token == token)
        .with_for_update()
    )
    if upload is None or (upload.rows is None and upload.confirmed_at is None):
        raise ServiceError({"file": _("La vista previa ya no está disponible: suba el archivo otra vez.")})
    if upload.confirmed_at is not None:
        raise ServiceError(
            {
                "file": _(
                    "Esta lista ya se confirmó el %(when)s: %(num)d familias pre-registradas.",
                    when=local_datetime(upload.confirmed_at),
                    num=upload.families_created or 0,
                )
            }
        )
    try:
        _refuse_if_imported(arrival, upload.content_sha256)
    except PassengerListError as exc:
        raise ServiceError({"file": exc.message}) from exc
    found = arrival_plan(arrival, upload.rows or [])
    if not found.to_create:
        raise ServiceError({"file": _("No queda ninguna familia por crear: ya están todas en esta llegada.")})
    families = [
        register_family(arrival, group.family_data(), user, preregistered=True) for group in found.to_create
    ]
    upload.confirmed_at = utcnow()
    upload.confirmed_by_id = user.id
    upload.confirmed_sha256 = upload.content_sha256
    upload.families_created = len(families)
    upload.rows = None  # the families hold the data now
    db.session.flush()
    audit.record(
        AuditAction.PASSENGER_LIST_IMPORT,
        "arrival",
        arrival.id,
        passenger_list_id=upload.id,
        rows=upload.row_count,
        families=[family.id for family in families],
        persons=sum(len(family.members) for family in families),
        actor_id=user.id,
    )
    return upload, families
