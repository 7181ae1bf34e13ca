"""Referrals: creating them, moving them through their states, and the eligibility suggestions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import CursorResult, Select, false, select, update
from sqlalchemy.orm import lazyload, load_only, selectinload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from ..auth.models import User
from ..cases.lifecycle import case_changed
from ..cases.models import FamilyUnit, Member
from ..cases.queries import scoped_families
from ..catalogs.models import Institution
from ..catalogs.services import by_code
from ..core import audit
from ..core.audit import AuditAction
from ..core.errors import ServiceConflict, ServiceError
from ..core.numbering import SequenceKind, next_number
from ..core.schema import is_submission_token, new_submission_token
from ..core.timeutil import now_local, to_local
from ..db import utcnow
from ..extensions import db
from ..needs.models import FamilyNeed, NeedStatus
from ..needs.services import mark_referred
from ..reception.models import Arrival
from . import eligibility
from .models import REFERRAL_STATUS_LABELS, Priority, Referral, ReferralEvent, ReferralStatus

S = ReferralStatus
#: The referral's life: draft -> sent -> accepted or rejected -> attended or not located; cancelled.
TRANSITIONS: dict[ReferralStatus, frozenset[ReferralStatus]] = {
    S.DRAFT: frozenset({S.SENT, S.CANCELLED}),
    S.SENT: frozenset({S.ACCEPTED, S.REJECTED, S.NOT_LOCATED, S.CANCELLED}),
    S.ACCEPTED: frozenset({S.ATTENDED, S.NOT_LOCATED, S.CANCELLED}),
    S.REJECTED: frozenset(),
    S.ATTENDED: frozenset(),
    S.NOT_LOCATED: frozenset(),
    S.CANCELLED: frozenset(),
}
#: Moves that must say why.
NOTE_REQUIRED = frozenset({S.REJECTED, S.NOT_LOCATED, S.CANCELLED})
#: The audit event of a move to each state (nothing moves back to a draft).
STATUS_ACTIONS: dict[ReferralStatus, AuditAction] = {
    S.SENT: AuditAction.REFERRAL_SENT,
    S.ACCEPTED: AuditAction.REFERRAL_ACCEPTED,
    S.REJECTED: AuditAction.REFERRAL_REJECTED,
    S.ATTENDED: AuditAction.REFERRAL_ATTENDED,
    S.NOT_LOCATED: AuditAction.REFERRAL_NOT_LOCATED,
    S.CANCELLED: AuditAction.REFERRAL_CANCELLED,
}
#: Referrals that ended without the family being served: their institution may be suggested again.
CLOSED_WITHOUT_SERVICE = frozenset({S.CANCELLED, S.REJECTED})
#: The moves that answer a referral: a partner institution may record these (sending and cancelling
#: are SOSEP's), and the case pages show the latest with who gave it.
ANSWERS = frozenset({S.ACCEPTED, S.REJECTED, S.ATTENDED, S.NOT_LOCATED})


def scoped_referrals(user: User) -> Select[Referral]:
    """Referrals of the families the user may see (the same scope as the cases)."""
    families = scoped_families(user).with_only_columns(FamilyUnit.id)
    return select(Referral).where(Referral.family_id.in_(families))


def get_referral(user: User, referral_id: int, *, for_update: bool = False) -> Referral | None:
    """The referral if the user may see it.

    ``for_update`` locks its row until the request commits (PostgreSQL), so two people recording
    different outcomes at the same moment are applied one after the other and the second is checked
    against the first (SQLite serialises writers anyway).
    """
    stmt = (
        scoped_referrals(user)
        .where(Referral.id == referral_id)
        .options(selectinload(Referral.members), selectinload(Referral.needs), selectinload(Referral.events))
    )
    if for_update:
        stmt = stmt.with_for_update(of=Referral)
    return db.session.scalar(stmt)


def partner_referrals(user: User) -> Select[Referral]:
    """The referrals a partner institution's user may see: those addressed to its institution that have a
    slip (sent or later). A draft was never handed over and a cancelled one is withdrawn: neither is shown.

    Every partner page and PDF starts from here; anything else answers 404.
    """
    if user.institution_id is None:
        return select(Referral).where(false())
    return select(Referral).where(Referral.institution_id == user.institution_id, Referral.has_slip)


def get_partner_referral(user: User, referral_id: int, *, for_update: bool = False) -> Referral | None:
    """The referral if it is addressed to the partner's institution (see :func:`get_referral` on locking)."""
    stmt = (
        partner_referrals(user)
        .where(Referral.id == referral_id)
        .options(selectinload(Referral.members), selectinload(Referral.events))
    )
    if for_update:
        stmt = stmt.with_for_update(of=Referral)
    return db.session.scalar(stmt)


def answer_referral(referral: Referral, to: ReferralStatus | str, note: str | None, user: User) -> Referral:
    """A partner institution's answer to a referral: accepted, rejected, attended or family not located.

    Only those moves: sending and cancelling stay with SOSEP's staff. The rest (legal moves, the note a
    rejection needs, the audit event, the case's status) is :func:`change_status`'s.
    """
    if ReferralStatus(to) not in ANSWERS:
        raise ServiceError({"status": _("Elija una de las respuestas de la lista.")})
    return change_status(referral, to, note, user)


def latest_answer(referral: Referral) -> ReferralEvent | None:
    """The last answer recorded on the referral (by the institution, or by SOSEP's staff for it)."""
    answers = [e for e in referral.events if e.to_status in ANSWERS]
    return answers[-1] if answers else None


def submitted_referral(user: User, token: str | None) -> Referral | None:
    """The referral a form with this one-time token already created, if any."""
    if not is_submission_token(token):
        return None
    return db.session.scalar(scoped_referrals(user).where(Referral.submission_token == token))


#: A family's referrals as its pages and the API list them: with their steps and, of the users who moved
#: them, what these show (the name, the institution of a partner's user), not whole users joined with
#: their centre and sede; nor who wrote each referral. Built once: building them cost as much as the query.
_FAMILY_REFERRAL_LOADS = (
    lazyload(Referral.created_by),
    selectinload(Referral.events)
    .joinedload(ReferralEvent.user)
    .options(load_only(User.full_name, User.institution_id), lazyload(User.centre), lazyload(User.sede)),
)


def family_referrals_query(family: FamilyUnit) -> Select[Referral]:
    """The family's referrals with their events, oldest first (the case page, the API's list)."""
    return (
        select(Referral)
        .where(Referral.family_id == family.id)
        .options(*_FAMILY_REFERRAL_LOADS)
        .order_by(Referral.id)
    )


def family_referrals(family: FamilyUnit) -> Sequence[Referral]:
    """The family's referrals with their events (the case page shows each one's latest answer)."""
    return db.session.scalars(family_referrals_query(family)).all()


def create_referral(family: FamilyUnit, data: dict[str, Any], user: User) -> Referral:
    """Refer (some members of) a family to an institution, with its slip number.

    A referral outside SOSEP shares the family's data with another institution, so it requires the
    consent recorded on the case.
    """
    institution: Institution = data["institution"]
    if not family.may_refer_to(institution):
        raise ServiceError({"institution": _no_consent_message()})
    members_by_id = {m.id: m for m in family.members}
    if any(member_id not in members_by_id for member_id in data["member_ids"]):
        raise ServiceError({"member_ids": _("Elija integrantes de esta familia.")})
    year = now_local().year
    seq = next_number(SequenceKind.REFERRAL, family.centre_id, year)
    referral = Referral(
        number=f"REF-{family.centre.code}-{year}-{seq:05d}",
        submission_token=data.get("submission_token"),
        family_id=family.id,
        institution=institution,
        reason=data["reason"],
        priority=Priority(data.get("priority") or Priority.NORMAL),
        status=S.DRAFT,
        members=[members_by_id[i] for i in sorted(set(data["member_ids"]), key=list(members_by_id).index)],
        needs=list(data.get("needs") or []),
        created_by_id=user.id,
    )
    referral.events.append(ReferralEvent(from_status=None, to_status=S.DRAFT, user_id=user.id))
    db.session.add(referral)
    db.session.flush()
    audit.record(
        AuditAction.REFERRAL_CREATE,
        "family",
        family.id,
        referral_id=referral.id,
        institution=institution.code,
        actor_id=user.id,
    )
    if data.get("send"):
        change_status(referral, S.SENT, None, user)
    return referral


def _no_consent_message() -> str:
    message: str = _(
        "La familia no ha dado su consentimiento para compartir sus datos: no se puede derivar a una "
        "institución fuera de la SOSEP. Registre el consentimiento en el caso primero."
    )
    return message


def change_status(referral: Referral, to: ReferralStatus | str, note: str | None, user: User) -> Referral:
    """Move a referral to its next state, recording who and when; illegal moves are refused.

    A move made from a state that is no longer the stored one (someone else moved it since this request
    read it) is a :class:`ServiceConflict`, not applied.
    """
    to = ReferralStatus(to)
    current = ReferralStatus(referral.status)
    if to not in TRANSITIONS[current]:
        raise ServiceError(
            {
                "status": _(
                    "No se puede pasar de «%(from)s» a «%(to)s».",
                    **{"from": referral.status_label, "to": str(REFERRAL_STATUS_LABELS[to])},
                )
            }
        )
    if to in NOTE_REQUIRED and not (note and note.strip()):
        raise ServiceError({"note": _("Indique el motivo.")})
    if to is S.SENT and not referral.family.may_refer_to(referral.institution):
        # The consent may have been withdrawn since the draft was written: sending shares the data.
        raise ServiceError({"status": _no_consent_message()})
    # Compare-and-set: the UPDATE only applies if the status is still the one this request read, so two
    # people recording different outcomes at once cannot both win (on SQLite as well as PostgreSQL).
    values = {"status": to, "updated_at": utcnow()}
    if note:
        values["outcome_notes"] = note
    db.session.flush()
    # An UPDATE's result is a CursorResult (it has the rowcount); Session.execute is typed for SELECTs.
    moved = cast(
        "CursorResult[Any]",
        db.session.execute(
            update(Referral)
            .where(Referral.id == referral.id, Referral.status == current)
            .values(**values)
            .execution_options(synchronize_session=False)
        ),
    )
    if moved.rowcount != 1:
        raise ServiceConflict(
            {
                "status": _(
                    "Otra persona cambió el estado de esta derivación mientras tanto. "
                    "Vuelva a cargar la página."
                )
            }
        )
    for key, value in values.items():
        set_committed_value(referral, key, value)
    referral.events.append(ReferralEvent(from_status=current, to_status=to, note=note, user_id=user.id))
    if to is S.SENT:
        mark_referred(referral.family, referral.needs, [m.id for m in referral.members], user)
    try:
        db.session.flush()
    except StaleDataError as exc:  # the case was edited at this very moment (its version moved on)
        raise ServiceConflict({"status": _("El caso cambió mientras tanto. Vuelva a intentarlo.")}) from exc
    audit.record(
        STATUS_ACTIONS[to],
        "family",
        referral.family_id,
        referral_id=referral.id,
        institution=referral.institution.code,
        actor_id=user.id,
    )
    case_changed(referral.family, user)
    return referral


def allowed_transitions(referral: Referral) -> list[ReferralStatus]:
    return sorted(TRANSITIONS[ReferralStatus(referral.status)], key=list(ReferralStatus).index)


def allowed_answers(referral: Referral) -> list[ReferralStatus]:
    """The answers its institution may give the referral now (see :func:`answer_referral`)."""
    return [s for s in allowed_transitions(referral) if s in ANSWERS]


def status_version(referral: Referral) -> int:
    """The referral's version for optimistic locking: its number of status steps. Only a status change
    alters a referral once created, and each one adds exactly one step (the compare-and-set of
    :func:`change_status` lets one mover win), so a step count read earlier says whether it moved since.
    """
    return len(referral.events)


# -- suggestions ------------------------------------------------------------------------------------

#: The need for orthopaedic aid: whoever it is recorded for is suggested to the disability programme.
ORTHOPAEDIC_AID = "ORTHOPAEDIC_AID"


def family_facts(family: FamilyUnit, needs: Sequence[FamilyNeed] | None = None) -> eligibility.FamilyFacts:
    """The plain facts the eligibility rules read, taken from the case; ``needs`` are the family's needs,
    when the caller has them already (the case page)."""
    if needs is None:
        orthopaedic = set(
            db.session.scalars(
                select(FamilyNeed.member_id).where(
                    FamilyNeed.family_id == family.id,
                    FamilyNeed.need.has(code=ORTHOPAEDIC_AID),
                )
            )
        )
    else:
        orthopaedic = {n.member_id for n in needs if n.need.code == ORTHOPAEDIC_AID}
    family_wide_orthopaedic = None in orthopaedic
    return eligibility.FamilyFacts(
        on=to_local(family.arrival.arrived_at).date(),
        members=[
            eligibility.PersonFacts(
                member_id=m.id,
                name=m.full_name,
                sex=m.sex,
                birth_date=m.birth_date,
                estimated_age=m.estimated_age,
                has_disability=m.has_disability,
                needs_orthopaedic_aid=m.id in orthopaedic or (family_wide_orthopaedic and m.has_disability),
            )
            for m in family.members
        ],
        destination_municipality_id=family.destination_municipality_id,
        migration_reasons=frozenset(r.code for r in family.migration_reasons),
        protection_causes=frozenset(c.code for c in family.protection_causes),
    )


@dataclass
class ShownSuggestion:
    suggestion: eligibility.Suggestion
    institution: Institution
    members: list[Member]
    #: An open referral to the same institution already exists.
    already_referred: bool


def suggestions_for(
    family: FamilyUnit,
    referrals: Sequence[Referral] | None = None,
    *,
    needs: Sequence[FamilyNeed] | None = None,
) -> list[ShownSuggestion]:
    """The programmes and institutions the rules suggest for the family, marking those it is already
    referred to; ``referrals`` and ``needs`` are the family's, when the caller has them already."""
    if referrals is None:
        referrals = family_referrals(family)
    open_to = {r.institution_id for r in referrals if r.status not in CLOSED_WITHOUT_SERVICE}
    members = {m.id: m for m in family.members}
    shown = []
    for suggestion in eligibility.suggest(family_facts(family, needs)):
        institution = by_code(Institution, suggestion.institution_code)
        if institution is None or not institution.is_active:
            continue
        shown.append(
            ShownSuggestion(
                suggestion,
                institution,
                [members[i] for i in suggestion.member_ids],
                institution.id in open_to,
            )
        )
    return shown


def pending_needs(family: FamilyUnit) -> list[FamilyNeed]:
    return list(
        db.session.scalars(
            select(FamilyNeed).where(
                FamilyNeed.family_id == family.id, FamilyNeed.status == NeedStatus.IDENTIFIED
            )
        )
    )


def new_referral_values(family: FamilyUnit, institution_code: str) -> dict[str, Any]:
    """What a new referral's form starts with: the suggestion for the chosen institution, if there is
    one (members, reason, priority) and the family's pending needs that the institution serves.
    """
    values: dict[str, Any] = {
        "institution": institution_code,
        "priority": Priority.NORMAL.value,
        "member_ids": [],
        "needs": [],
        "submission_token": new_submission_token(),
    }
    # The reason is printed on the slip, which is always in Spanish, whatever language the desk uses.
    with force_locale("es_GT"):
        suggestions = suggestions_for(family)
    for shown in suggestions:
        if shown.institution.code == institution_code:
            values.update(
                reason=shown.suggestion.reason,
                member_ids=[str(i) for i in shown.suggestion.member_ids],
                priority=(Priority.URGENT if shown.suggestion.urgent else Priority.NORMAL).value,
            )
    institution = by_code(Institution, institution_code)
    if institution is not None:
        served = {n.id for n in institution.needs}
        values["needs"] = [n.need.code for n in pending_needs(family) if n.need_id in served]
    return values


def arrival_slips(user: User, arrival: Arrival) -> Sequence[Referral]:
    """The referrals of an arrival that have a slip, in the user's scope, in case order (one PDF)."""
    return db.session.scalars(
        scoped_referrals(user)
        .join(FamilyUnit, FamilyUnit.id == Referral.family_id)
        .where(FamilyUnit.arrival_id == arrival.id, Referral.has_slip)
        .options(
            selectinload(Referral.members).joinedload(Member.relationship_to_head),
            selectinload(Referral.needs),
            selectinload(Referral.family),
        )
        .order_by(FamilyUnit.case_seq, Referral.id)
    ).all()
