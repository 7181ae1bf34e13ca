"""What the one-screen desk form shows beside the family: the needs checklist and the referrals the
eligibility rules suggest from what has been typed so far (before anything is saved).

The suggestions are computed from the form as it is, even half filled: a member whose age is not typed
yet is simply not counted. Members are named by their row on the page (``members-<row>-...``), the only
identity they have before the family is saved; the service maps rows to members after saving.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from flask import request
from flask_babel import force_locale
from flask_login import current_user
from marshmallow import ValidationError

from ..cases.models import ConsentType
from ..catalogs.fields import MunicipalityRef
from ..catalogs.models import Institution, Need
from ..catalogs.services import active_items, by_code
from ..core.schema import date as date_field
from ..core.timeutil import age_on, to_local
from ..reception.models import Arrival
from ..referrals import eligibility
from ..referrals.models import Priority
from .given_names import sex_by_first_name

_MEMBER_KEY = re.compile(r"^members-(\d+)-(\w+)$")

#: The needs the desk serves most, the usual delivery ticked in one go (a button, Alt+E): their quantity
#: is prefilled from the family, one each per person.
PER_PERSON = frozenset({"FOOD", "HYGIENE_KIT"})
PER_YOUNG_CHILD = frozenset({"CHILD_FOOD"})
YOUNG_CHILD_AGE = 7
CONSENT_NEEDED = "consent"


@dataclass
class Row:
    """A member row as typed: its page index and what the rules need of it."""

    index: int
    name: str
    sex: str
    birth_date: dt.date | None
    age: int | None
    has_disability: bool


@dataclass
class DeskReferral:
    """A suggested (or chosen) referral on the desk form, with what the form shows for it."""

    institution: Institution
    reason: str
    rows: list[int]
    urgent: bool
    selected: bool = False
    check: str | None = None
    #: Why it cannot be chosen now (no consent to share the family's data outside SOSEP).
    blocked: str | None = None
    position: int = 0
    errors: dict[str, str] = field(default_factory=dict)


def member_rows(form: Any) -> list[Row]:
    """The member rows of the posted form, in page order, read leniently (nothing is validated here)."""
    raw: dict[int, dict[str, str]] = {}
    for key in form:
        match = _MEMBER_KEY.match(key)
        if match:
            raw.setdefault(int(match[1]), {})[match[2]] = form.get(key, "").strip()
    rows = []
    for index, values in raw.items():
        name = " ".join(v for v in (values.get("given_names"), values.get("surnames")) if v)
        age_text = values.get("estimated_age", "")
        age = int(age_text) if age_text.isascii() and age_text.isdigit() and len(age_text) < 4 else None
        rows.append(
            Row(
                index=index,
                name=name or f"#{index + 1}",
                sex=values.get("sex", ""),
                birth_date=_lenient_date(values.get("birth_date", "")),
                age=age,
                has_disability=bool(values.get("has_disability")) or bool(values.get("disability_notes")),
            )
        )
    return rows


def _lenient_date(text: str) -> dt.date | None:
    if not text:
        return None
    try:
        value = date_field().deserialize(text)
    except ValidationError:
        return None
    return value if isinstance(value, dt.date) else None


def row_positions(form: Any) -> dict[int, int]:
    """Page index of each member row -> its position among the rows (the order they are saved in)."""
    return {row.index: position for position, row in enumerate(member_rows(form))}


def age_of(row: Row, on: dt.date) -> int | None:
    if row.birth_date is not None and row.birth_date <= on:
        return age_on(row.birth_date, on)
    return row.age


def default_quantity(code: str, rows: list[Row], on: dt.date) -> int:
    """One ration and one kit per person, differentiated food per child under 7; else one."""
    if code in PER_PERSON:
        return max(1, len(rows))
    if code in PER_YOUNG_CHILD:
        young = [r for r in rows if (a := age_of(r, on)) is not None and a < YOUNG_CHILD_AGE]
        return max(1, len(young))
    return 1


def _facts(arrival: Arrival, form: Any, rows: list[Row]) -> eligibility.FamilyFacts | None:
    try:
        destination = MunicipalityRef().deserialize(form.get("destination_municipality", "").strip() or None)
    except ValidationError:
        destination = None
    return eligibility.FamilyFacts(
        on=to_local(arrival.arrived_at).date(),
        members=[
            eligibility.PersonFacts(
                member_id=row.index,
                name=row.name,
                sex=row.sex,
                birth_date=row.birth_date,
                estimated_age=row.age,
                has_disability=row.has_disability,
            )
            for row in rows
            if row.birth_date is not None or row.age is not None
        ],
        destination_municipality_id=destination.id if destination is not None else 0,
        migration_reasons=frozenset(form.getlist("migration_reasons")),
        protection_causes=frozenset(form.getlist("protection_causes")),
    )


def may_share(form: Any) -> bool:
    return form.get("consent_type") in (ConsentType.WRITTEN, ConsentType.VERBAL_WITNESS)


def referrals_shown(arrival: Arrival, form: Any, errors: dict[str, str] | None = None) -> list[DeskReferral]:
    """The suggestions for the family as typed, with what the user already chose or edited for each.

    A referral the user ticked stays on the list even if the data stops suggesting it (its reason and
    persons are the user's now).
    """
    errors = errors or {}
    rows = member_rows(form)
    facts = _facts(arrival, form, rows)
    # The reason is printed on the slip, which is always in Spanish.
    with force_locale("es_GT"):
        suggestions = eligibility.suggest(facts) if facts is not None and facts.members else []
    chosen = _posted_referrals(form)
    shown: list[DeskReferral] = []
    seen: set[str] = set()
    share = may_share(form)
    for suggestion in suggestions:
        institution = by_code(Institution, suggestion.institution_code)
        if institution is None or not institution.is_active:
            continue
        seen.add(institution.code)
        posted = chosen.get(institution.code)
        item = DeskReferral(
            institution=institution,
            reason=suggestion.reason,
            rows=list(suggestion.member_ids),
            urgent=suggestion.urgent,
            check=suggestion.check,
        )
        if posted is not None:
            _apply_posted(item, posted)
        shown.append(item)
    for code, posted in chosen.items():
        institution = by_code(Institution, code)
        if code in seen or institution is None or not posted.get("selected"):
            continue
        item = DeskReferral(institution=institution, reason="", rows=[], urgent=False)
        _apply_posted(item, posted)
        shown.append(item)
    valid_rows = {row.index for row in rows}
    for position, item in enumerate(shown):
        item.position = position
        item.rows = [r for r in item.rows if r in valid_rows]
        if not item.institution.is_sosep and not share:
            item.blocked = CONSENT_NEEDED
            item.selected = False
        prefix = f"referrals-{position}-"
        item.errors = {k.removeprefix(prefix): v for k, v in errors.items() if k.startswith(prefix)}
    return shown


def _posted_referrals(form: Any) -> dict[str, dict[str, Any]]:
    """The referral rows the form sent, by institution code (rows renumber as suggestions come and go)."""
    by_index: dict[str, dict[str, Any]] = {}
    for key in form:
        match = re.match(r"^referrals-(\d+)-(\w+)$", key)
        if not match:
            continue
        row = by_index.setdefault(match[1], {})
        row[match[2]] = form.getlist(key) if match[2] == "persons" else form.get(key, "").strip()
    return {row["institution"]: row for row in by_index.values() if row.get("institution")}


def _apply_posted(item: DeskReferral, posted: dict[str, Any]) -> None:
    item.selected = bool(posted.get("selected"))
    if posted.get("reason"):
        item.reason = posted["reason"]
    if "persons" in posted:
        item.rows = [int(p) for p in posted["persons"] if p.isascii() and p.isdigit() and len(p) < 4]
    if posted.get("priority") in (Priority.URGENT, Priority.NORMAL):
        item.urgent = posted["priority"] == Priority.URGENT


@dataclass
class DeskNeed:
    need: Need
    given: bool
    quantity: str
    default: int
    error: str | None = None

    @property
    def usual(self) -> bool:
        return self.need.code in PER_PERSON


def needs_shown(arrival: Arrival, form: Any, errors: dict[str, str] | None = None) -> list[DeskNeed]:
    errors = errors or {}
    rows = member_rows(form)
    on = to_local(arrival.arrived_at).date()
    posted: dict[str, dict[str, str]] = {}
    for key in form:
        match = re.match(r"^needs-(\d+)-(\w+)$", key)
        if match:
            posted.setdefault(match[1], {})[match[2]] = form.get(key, "").strip()
    by_code_posted = {row.get("need"): row for row in posted.values() if row.get("need")}
    shown = []
    for position, need in enumerate(active_items(Need)):
        row = by_code_posted.get(need.code, {})
        shown.append(
            DeskNeed(
                need=need,
                given=bool(row.get("given")),
                quantity=row.get("quantity", ""),
                default=default_quantity(need.code, rows, on),
                error=errors.get(f"needs-{position}-quantity") or errors.get(f"needs-{position}-need"),
            )
        )
    return shown


def desk_form_parts(
    arrival: Arrival, errors: dict[str, str] | None = None, form: Any = None
) -> dict[str, Any]:
    """The template context of the needs and referrals sections, from ``form`` (by default the request's:
    what was typed, or nothing)."""
    form = request.form if form is None else form
    shown = referrals_shown(arrival, form, errors)
    taken = {item.institution.code for item in shown}
    share = may_share(form)
    needs = needs_shown(arrival, form, errors)
    return {
        "desk_needs": needs,
        "desk_defaults": {line.need.code: line.default for line in needs},
        "desk_referrals": shown,
        "desk_people": [(row.index, row.name) for row in member_rows(form)],
        "other_institutions": [
            i for i in active_items(Institution) if i.code not in taken and (i.is_sosep or share)
        ],
        "delivered_by": form.get("delivered_by") or current_user.full_name,
        "may_share": may_share(form),
        "desk_sex_names": sex_by_first_name(),
    }
