"""A case's history in words: the timeline on the case page, built from the family's audit events.

The audit keeps ids and field names only (``core/audit.py``); the words come from the case's own rows
(referral numbers, institutions, needs, members' names, notes), which whoever opens the case may read.
One query reads the events with who did them; the rows they point at are the ones the page's other
sections list (referrals, needs, follow-ups), read once for the whole page (``cases.views.CasePage``).
So the timeline costs one query of its own whether the case has five events or five hundred.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import bindparam, select

from ..auth.models import User
from ..cases.models import CASE_STATUS_LABELS, CaseStatus, FamilyUnit, Member, Sex
from ..cases.views import CasePage, case_page_part
from ..catalogs.models import Institution
from ..core.audit import AuditAction, AuditEvent, action_label
from ..core.permissions import ROLE_LABELS, Role
from ..core.templating import local_datetime
from ..core.timeutil import to_local
from ..extensions import db
from ..needs.models import FamilyNeed
from ..needs.services import family_needs
from ..referrals.models import Referral, ReferralStatus
from ..referrals.services import family_referrals
from .models import (
    CLOSURE_REASON_LABELS,
    CONTACT_OUTCOME_LABELS,
    CONTACT_TYPE_LABELS,
    CaseClosure,
    CaseTransfer,
    ClosureReason,
    ContactOutcome,
    ContactType,
    FollowUp,
    Linkage,
)
from .queries import case_followup

A = AuditAction

#: Access logs, not things that happened to the case: the admin's audit page shows them.
NOT_IN_TIMELINE = frozenset({A.FAMILY_VIEW_PROTECTED.value, A.FAMILY_API_READ.value})

#: The fields a ``family:update`` names, as a sentence says them ("Datos modificados: teléfono, destino").
FIELD_WORDS: dict[str, Any] = {
    "destination_municipality": _l("destino"),
    "community": _l("comunidad"),
    "address": _l("dirección"),
    "phone": _l("teléfono"),
    "consent_type": _l("consentimiento"),
    "consent_witness": _l("testigo del consentimiento"),
    "consent_on": _l("fecha del consentimiento"),
    "notes": _l("observaciones"),
    "migration_reasons": _l("motivos de la migración"),
    "protection_causes": _l("causas de riesgo de protección"),
}

#: The referral's state each audit action records.
REFERRAL_MOVES: dict[str, ReferralStatus] = {
    A.REFERRAL_SENT: ReferralStatus.SENT,
    A.REFERRAL_ACCEPTED: ReferralStatus.ACCEPTED,
    A.REFERRAL_REJECTED: ReferralStatus.REJECTED,
    A.REFERRAL_ATTENDED: ReferralStatus.ATTENDED,
    A.REFERRAL_NOT_LOCATED: ReferralStatus.NOT_LOCATED,
    A.REFERRAL_CANCELLED: ReferralStatus.CANCELLED,
}

#: The actions about a need, and about a referral (each names its row by ``family_need_id``, ``referral_id``).
NEED_ACTIONS = frozenset({A.NEED_IDENTIFIED, A.NEED_ATTENDED, A.NEED_REFERRED})
REFERRAL_ACTIONS = frozenset({A.REFERRAL_CREATE, A.SLIP_PRINT, *REFERRAL_MOVES})


@dataclass(frozen=True)
class TimelineEntry:
    """One line of the case's history, in the current language."""

    #: When it happened (UTC, for ``<time datetime>``) and as staff read it (dd/mm/yyyy HH:MM, Guatemala).
    at: dt.datetime
    when: str
    #: Who did it (their full name; "Sistema" for a command) and their role, or their institution.
    who: str
    who_detail: str
    #: What happened, as a sentence; ``note`` is the free text written with it (a reason, an answer).
    what: str
    note: str | None
    action: str

    @property
    def iso(self) -> str:
        """For ``<time datetime>``: the moment with Guatemala's offset."""
        return to_local(self.at).isoformat(timespec="minutes")


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Event:
    """What a sentence reads of an audit event (read as two columns, not as the event's object)."""

    action: str
    details: dict[str, Any]


def _row(rows: dict[int, T], event: _Event, key: str) -> T | None:
    """The row an event's ``details[key]`` points at, if it is still there."""
    value = event.details.get(key)
    return rows.get(value) if isinstance(value, int) else None


def _lower_first(text: str) -> str:
    """A label inside a sentence: "Visita domiciliaria" -> "visita domiciliaria"."""
    return text[:1].lower() + text[1:]


def _label(labels: dict[Any, Any], enum: Callable[[str], Any], code: Any) -> str:
    try:
        return str(labels[enum(code)])
    except (KeyError, ValueError):
        return str(code)


class _Context:
    """The family's rows the events point at, by id: those the case page lists, read once for the page."""

    def __init__(self, page: CasePage) -> None:
        self.members: dict[int, Member] = {m.id: m for m in page.family.members}
        referrals = page.once(family_referrals)
        self.referrals: dict[int, Referral] = {r.id: r for r in referrals}
        # A referral reaches each state at most once (its moves only go forward): a state names its step.
        self.referral_notes: dict[tuple[int, ReferralStatus], str | None] = {
            (r.id, ReferralStatus(e.to_status)): e.note for r in referrals for e in r.events
        }
        self.needs: dict[int, FamilyNeed] = {n.id: n for n in page.once(family_needs)}
        followup = page.once(case_followup)
        self.followups: dict[int, FollowUp] = {f.id: f for f in followup.followups}
        self.linkages: dict[int, Linkage] = {li.id: li for li in followup.linkages}
        self.transfers: dict[int, CaseTransfer] = {t.id: t for t in followup.transfers}
        self.closures: dict[int, CaseClosure] = {c.id: c for c in followup.closures}

    def member_name(self, member_id: Any) -> str | None:
        member = self.members.get(member_id) if isinstance(member_id, int) else None
        return member.full_name if member else None


# -- one sentence per kind of event -------------------------------------------------------------------

Sentence = tuple[str, str | None]


def _created(event: _Event, ctx: _Context) -> Sentence:
    count = len(event.details.get("members") or [])
    if event.details.get("preregistered"):
        return ngettext(
            "Unidad familiar pre-registrada desde la lista de pasajeros con %(num)d integrante",
            "Unidad familiar pre-registrada desde la lista de pasajeros con %(num)d integrantes",
            count,
        ), None
    return ngettext(
        "Unidad familiar registrada con %(num)d integrante",
        "Unidad familiar registrada con %(num)d integrantes",
        count,
    ), None


def _updated(event: _Event, ctx: _Context) -> Sentence:
    removed = {m for m in event.details.get("removed_members") or [] if isinstance(m, int)}
    words: list[str] = []
    for field in event.details.get("changed") or []:
        if field.startswith("member:"):
            member_id = int(field.partition(":")[2]) if field.partition(":")[2].isdigit() else None
            if member_id in removed:
                continue
            name = ctx.member_name(member_id)
            words.append(_("datos de %(name)s", name=name) if name else _("datos de un integrante"))
        else:
            words.append(str(FIELD_WORDS.get(field, field)))
    if removed:
        words.append(ngettext("%(num)d integrante quitado", "%(num)d integrantes quitados", len(removed)))
    if not words:
        return _("Datos guardados sin cambios"), None
    return _("Datos modificados: %(fields)s", fields=", ".join(words)), None


def _status(event: _Event, ctx: _Context) -> Sentence:
    before = _label(CASE_STATUS_LABELS, CaseStatus, event.details.get("from"))
    after = _label(CASE_STATUS_LABELS, CaseStatus, event.details.get("to"))
    return _("Estado: %(from)s → %(to)s", **{"from": before, "to": after}), None


def _need(event: _Event, ctx: _Context) -> Sentence:
    family_need = _row(ctx.needs, event, "family_need_id")
    if family_need is None:
        return action_label(event.action), None
    for_whom = ctx.member_name(family_need.member_id) if family_need.member_id else None
    what = _(
        "%(action)s: %(need)s (%(for)s)",
        action=action_label(event.action),
        need=family_need.need.name,
        **{"for": for_whom or _("toda la familia")},
    )
    return what, None


def _referral(event: _Event, ctx: _Context) -> Sentence:
    referral = _row(ctx.referrals, event, "referral_id")
    if referral is None:
        return action_label(event.action), None
    names = {"number": referral.number, "institution": referral.institution.name}
    action = event.action
    if action == A.REFERRAL_CREATE:
        return _("Derivación %(number)s a %(institution)s creada", **names), None
    if action == A.SLIP_PRINT:
        return _("Boleta de la derivación %(number)s impresa", **names), None
    sentences = {
        A.REFERRAL_SENT: _("Derivación %(number)s a %(institution)s enviada", **names),
        A.REFERRAL_ACCEPTED: _("%(institution)s aceptó la derivación %(number)s", **names),
        A.REFERRAL_REJECTED: _("%(institution)s rechazó la derivación %(number)s", **names),
        A.REFERRAL_ATTENDED: _("%(institution)s atendió la derivación %(number)s", **names),
        A.REFERRAL_NOT_LOCATED: _(
            "%(institution)s no localizó a la familia (derivación %(number)s)", **names
        ),
        A.REFERRAL_CANCELLED: _("Derivación %(number)s a %(institution)s cancelada", **names),
    }
    note = ctx.referral_notes.get((referral.id, REFERRAL_MOVES[action]))
    return sentences[A(action)], note


def _followup(event: _Event, ctx: _Context) -> Sentence:
    followup = _row(ctx.followups, event, "followup_id")
    contact = _label(CONTACT_TYPE_LABELS, ContactType, event.details.get("contact_type"))
    outcome = _label(CONTACT_OUTCOME_LABELS, ContactOutcome, event.details.get("outcome"))
    if followup is None:
        what = _(
            "Seguimiento: %(contact)s — %(outcome)s",
            contact=_lower_first(contact),
            outcome=_lower_first(outcome),
        )
        return what, None
    what = _(
        "Seguimiento del %(date)s: %(contact)s — %(outcome)s",
        date=followup.contacted_on.strftime("%d/%m/%Y"),
        contact=_lower_first(contact),
        outcome=_lower_first(outcome),
    )
    return what, followup.notes


def _linkage(event: _Event, ctx: _Context) -> Sentence:
    linkage = _row(ctx.linkages, event, "linkage_id")
    if linkage is None:
        return action_label(event.action), None
    member = ctx.members.get(linkage.member_id) if linkage.member_id is not None else None
    target = linkage.target_name
    if linkage.member_id is None:
        what = _("Familia vinculada a %(target)s", target=target)
    elif member is None:
        what = _("Integrante vinculado a %(target)s", target=target)
    elif member.sex == Sex.FEMALE:
        what = _("%(name)s vinculada a %(target)s", name=member.full_name, target=target)
    else:
        what = _("%(name)s vinculado a %(target)s", name=member.full_name, target=target)
    return what, linkage.note


def _transfer(event: _Event, ctx: _Context) -> Sentence:
    record = _row(ctx.transfers, event, "transfer_id")
    if record is None:
        return action_label(event.action), None
    before = record.from_sede.name if record.from_sede else record.from_municipality.label
    after = record.to_sede.name if record.to_sede else record.to_municipality.label
    what = _(
        "Trasladado de %(from)s a %(to)s (%(municipality)s)",
        **{"from": before, "to": after, "municipality": record.to_municipality.label},
    )
    return what, record.reason


def _closure(event: _Event, ctx: _Context) -> Sentence:
    closure = _row(ctx.closures, event, "closure_id")
    if event.action == A.FAMILY_REOPEN:
        return _("Caso reabierto"), closure.note if closure else None
    reason = _label(CLOSURE_REASON_LABELS, ClosureReason, event.details.get("reason"))
    return _("Caso cerrado: %(reason)s", reason=_lower_first(reason)), closure.note if closure else None


SENTENCES: dict[str, Callable[[_Event, _Context], Sentence]] = {
    A.FAMILY_CREATE: _created,
    A.FAMILY_UPDATE: _updated,
    A.FAMILY_STATUS: _status,
    **dict.fromkeys(NEED_ACTIONS, _need),
    **dict.fromkeys(REFERRAL_ACTIONS, _referral),
    A.FOLLOWUP_RECORD: _followup,
    A.LINKAGE_CREATE: _linkage,
    A.FAMILY_TRANSFER: _transfer,
    A.FAMILY_CLOSE: _closure,
    A.FAMILY_REOPEN: _closure,
}


def _who(full_name: str | None, role: Role | None, institution: Institution | None) -> tuple[str, str]:
    if full_name is None or role is None:
        return _("Sistema"), ""
    if institution is not None:
        return full_name, institution.name
    return full_name, str(ROLE_LABELS[role])


#: The events of a case as the timeline reads them (built once): the columns shown, and who did it as a
#: name, a role and a partner's institution, not as whole users with their centre and sede.
_EVENTS = (
    select(AuditEvent.created_at, AuditEvent.action, AuditEvent.details)
    .add_columns(User.full_name, User.role, Institution)
    .outerjoin(User, User.id == AuditEvent.user_id)
    .outerjoin(Institution, Institution.id == User.institution_id)
    .where(
        AuditEvent.subject_type == "family",
        AuditEvent.subject_id == bindparam("family_id"),
        AuditEvent.action.not_in(NOT_IN_TIMELINE),
    )
    .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
)


def case_timeline(family: FamilyUnit, page: CasePage | None = None) -> list[TimelineEntry]:
    """Everything that happened to the case, newest first, in words: when, who, and what.

    ``page``: the case page being drawn, whose sections share the rows the timeline names.
    """
    rows = db.session.execute(_EVENTS, {"family_id": family.id}).all()
    ctx = _Context(page or CasePage(family))
    entries = []
    for at, action, details, full_name, role, institution in rows:
        event = _Event(action, details)
        sentence = SENTENCES.get(action)
        what, note = sentence(event, ctx) if sentence else (action_label(action), None)
        who, who_detail = _who(full_name, role, institution)
        entries.append(
            TimelineEntry(
                at=at,
                when=local_datetime(at),
                who=who,
                who_detail=who_detail,
                what=what,
                note=note or None,
                action=action,
            )
        )
    return entries


@case_page_part
def _on_the_case_page(page: CasePage) -> dict[str, Any]:
    return {"timeline": case_timeline(page.family, page)}
