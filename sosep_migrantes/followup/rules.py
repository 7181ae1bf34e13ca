"""Every rule about a case's status and when its next contact is due: the only place they are decided.

Pure functions of plain facts (:class:`CaseFacts`), so each rule is tested at its boundaries without a
database; :func:`.services.refresh_case` gathers the facts of one case and stores what these decide, and
the bulk generator's data is checked against the same functions. Days are Guatemala's calendar days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..cases.models import CaseStatus

#: Defaults of the settings that ``FOLLOWUP_*`` in the configuration override.
FIRST_CONTACT_DAYS = 15
URGENT_FIRST_CONTACT_DAYS = 3
NEXT_CONTACT_DAYS = 30
NOT_LOCATED_ATTEMPTS = 3
#: "Due this week": due today or in the next six days.
WEEK_DAYS = 7


@dataclass(frozen=True)
class Settings:
    first_contact_days: int = FIRST_CONTACT_DAYS
    urgent_first_contact_days: int = URGENT_FIRST_CONTACT_DAYS
    next_contact_days: int = NEXT_CONTACT_DAYS
    not_located_attempts: int = NOT_LOCATED_ATTEMPTS


@dataclass(frozen=True)
class CaseFacts:
    """What the rules read of a case."""

    #: Day of arrival at the centre (Guatemala time).
    arrived_on: dt.date
    #: A referral has been sent (has a slip), whatever became of it since, unless cancelled.
    referred: bool = False
    #: An urgent referral that is not cancelled or rejected.
    urgent_referral: bool = False
    protection_risk: bool = False
    #: Contacts recorded: the first, the latest, and the next date the latest one set.
    first_contact_on: dt.date | None = None
    last_contact_on: dt.date | None = None
    next_contact_on: dt.date | None = None
    linked: bool = False
    closed: bool = False
    #: Day of the latest reopening, if the case was closed and reopened.
    reopened_on: dt.date | None = None
    #: Pre-registered from a passenger list and not yet confirmed at the desk: not received yet.
    preregistered: bool = False


def status(facts: CaseFacts) -> CaseStatus:
    """The case's status follows from what happened, the furthest step winning; a family pre-registered
    from a passenger list stays so until the desk confirms it (nothing happens to it before)."""
    if facts.preregistered:
        return CaseStatus.PREREGISTERED
    if facts.closed:
        return CaseStatus.CLOSED
    if facts.linked:
        return CaseStatus.LINKED
    if facts.last_contact_on is not None:
        return CaseStatus.IN_FOLLOWUP
    if facts.referred:
        return CaseStatus.REFERRED
    return CaseStatus.RECEIVED


def first_contact_days(facts: CaseFacts, settings: Settings) -> int:
    """Days after arrival (or reopening) to the first contact: fewer if urgent or a protection case."""
    if facts.urgent_referral or facts.protection_risk:
        return settings.urgent_first_contact_days
    return settings.first_contact_days


def due_on(facts: CaseFacts, settings: Settings) -> dt.date | None:
    """When the next contact falls due; ``None`` once the case is linked or closed (nothing is owed).

    - no contact yet: arrival + 15 days (3 for an urgent referral or a protection case);
    - after a contact: the next date it set, or 30 days after it when it set none;
    - reopened with no contact since: the reopening day + the first-contact delay;
    - pre-registered: nothing yet (the delay starts when the desk confirms the family).
    """
    if facts.closed or facts.linked or facts.preregistered:
        return None
    if facts.reopened_on is not None and (
        facts.last_contact_on is None or facts.last_contact_on < facts.reopened_on
    ):
        return facts.reopened_on + dt.timedelta(days=first_contact_days(facts, settings))
    if facts.last_contact_on is not None:
        if facts.next_contact_on is not None:
            return facts.next_contact_on
        return facts.last_contact_on + dt.timedelta(days=settings.next_contact_days)
    return facts.arrived_on + dt.timedelta(days=first_contact_days(facts, settings))


def is_overdue(due: dt.date | None, today: dt.date) -> bool:
    """Overdue from the day after the due date (a contact on the due day is on time)."""
    return due is not None and today > due


def is_due_this_week(due: dt.date | None, today: dt.date) -> bool:
    """Due today or within the next six days (not overdue)."""
    return due is not None and today <= due < today + dt.timedelta(days=WEEK_DAYS)


def week_end(today: dt.date) -> dt.date:
    """The last day counted as "this week" (see :func:`is_due_this_week`)."""
    return today + dt.timedelta(days=WEEK_DAYS - 1)


def settings_from(config: dict[str, object]) -> Settings:
    def _int(key: str, default: int) -> int:
        value = config.get(key, default)
        return int(value) if isinstance(value, int | str) else default

    return Settings(
        first_contact_days=_int("FOLLOWUP_FIRST_CONTACT_DAYS", FIRST_CONTACT_DAYS),
        urgent_first_contact_days=_int("FOLLOWUP_URGENT_FIRST_CONTACT_DAYS", URGENT_FIRST_CONTACT_DAYS),
        next_contact_days=_int("FOLLOWUP_NEXT_CONTACT_DAYS", NEXT_CONTACT_DAYS),
        not_located_attempts=_int("FOLLOWUP_NOT_LOCATED_ATTEMPTS", NOT_LOCATED_ATTEMPTS),
    )
