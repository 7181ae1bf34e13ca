"""Eligibility suggestions: which programmes and institutions a family may be referred to.

Rules are plain functions over plain data, kept here in one readable place and tested on their own.
They only *suggest*: staff decide and create the referral.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l

from ..cases.models import Sex
from ..core import timeutil

#: Municipalities (INE codes) where SOSEP's protocol refers families that migrated for unemployment or
#: family reunification to the Coordinación de Sedes and OIM: Huehuetenango (Cuilco, Jacaltenango,
#: Nentón), San Marcos (Tacaná, Comitancillo, Ayutla, Malacatán), Quetzaltenango (Coatepeque,
#: Quetzaltenango) and Quiché (Nebaj).
PRIORITY_MUNICIPALITIES = frozenset({1304, 1307, 1305, 1207, 1204, 1217, 1215, 920, 901, 1413})
PRIORITY_MIGRATION_REASONS = frozenset({"UNEMPLOYMENT", "FAMILY_REUNIFICATION"})

ADULT_AGE = 18
#: Adolescence starts at 13 under Guatemala's Ley PINA; the women's programme takes adolescents and adults.
ADOLESCENT_AGE = 13
OLDER_PERSON_AGE = 60


@dataclass(frozen=True)
class PersonFacts:
    member_id: int
    name: str
    sex: str
    #: Date of birth when known; otherwise ``estimated_age`` (whole years at arrival).
    birth_date: dt.date | None
    estimated_age: int | None
    has_disability: bool = False
    needs_orthopaedic_aid: bool = False


@dataclass(frozen=True)
class FamilyFacts:
    on: dt.date
    members: Sequence[PersonFacts]
    destination_municipality_id: int
    migration_reasons: frozenset[str] = frozenset()
    protection_causes: frozenset[str] = frozenset()


@dataclass
class Suggestion:
    institution_code: str
    reason: str
    member_ids: list[int] = field(default_factory=list)
    urgent: bool = False
    #: Note for staff when the data does not settle the rule (an estimated age of 0, say).
    check: str | None = None


def age_in_months(person: PersonFacts, on: dt.date) -> int | None:
    """Months when the date of birth is known (the youngest children's rule counts them); else ``None``."""
    return None if person.birth_date is None else timeutil.age_in_months(person.birth_date, on)


def age_in_years(person: PersonFacts, on: dt.date) -> int:
    return timeutil.age_on(person.birth_date, on, estimated=person.estimated_age)


def _young_children(family: FamilyFacts) -> list[Suggestion]:
    """Hogares Comunitarios: children from 6 months to under 7 years."""
    eligible: list[PersonFacts] = []
    unsure: list[PersonFacts] = []
    for person in family.members:
        months = age_in_months(person, family.on)
        if months is not None:
            if 6 <= months < 84:
                eligible.append(person)
        elif person.estimated_age is not None and person.estimated_age < 7:
            (unsure if person.estimated_age == 0 else eligible).append(person)
    if not eligible and not unsure:
        return []
    people = eligible + unsure
    return [
        Suggestion(
            "SOSEP_HOGARES",
            str(_l("Niñas y niños de 6 meses a menos de 7 años: %(names)s.", names=_names(people))),
            [p.member_id for p in people],
            check=str(_l("Confirme que tiene al menos 6 meses (edad estimada: menos de 1 año)."))
            if unsure
            else None,
        )
    ]


def _older_people(family: FamilyFacts) -> list[Suggestion]:
    people = [p for p in family.members if age_in_years(p, family.on) >= OLDER_PERSON_AGE]
    if not people:
        return []
    return [
        Suggestion(
            "SOSEP_ANOS_DORADOS",
            str(_l("Personas de 60 años o más: %(names)s.", names=_names(people))),
            [p.member_id for p in people],
        )
    ]


def _women(family: FamilyFacts) -> list[Suggestion]:
    people = [
        p for p in family.members if p.sex == Sex.FEMALE and age_in_years(p, family.on) >= ADOLESCENT_AGE
    ]
    if not people:
        return []
    return [
        Suggestion(
            "SOSEP_MUJER",
            str(_l("Mujeres adultas o adolescentes: %(names)s.", names=_names(people))),
            [p.member_id for p in people],
        )
    ]


def _disability(family: FamilyFacts) -> list[Suggestion]:
    people = [p for p in family.members if p.has_disability or p.needs_orthopaedic_aid]
    if not people:
        return []
    return [
        Suggestion(
            "SOSEP_SERVICIO_SOCIAL",
            str(_l("Discapacidad o necesidad de ayuda ortopédica: %(names)s.", names=_names(people))),
            [p.member_id for p in people],
        )
    ]


def _protection(family: FamilyFacts) -> list[Suggestion]:
    if not family.protection_causes:
        return []
    reason = str(_l("Causa de riesgo de protección: referencia prioritaria."))
    everyone = [p.member_id for p in family.members]
    return [Suggestion(code, reason, everyone, urgent=True) for code in ("REFUGIO_NINEZ", "OIM", "CRISTOSAL")]


def _priority_territory(family: FamilyFacts) -> list[Suggestion]:
    if family.destination_municipality_id not in PRIORITY_MUNICIPALITIES:
        return []
    if not family.migration_reasons & PRIORITY_MIGRATION_REASONS:
        return []
    reason = str(_l("Reside en un municipio priorizado y migró por desempleo o reunificación familiar."))
    everyone = [p.member_id for p in family.members]
    return [Suggestion(code, reason, everyone) for code in ("SOSEP_SEDES", "OIM")]


RULES: tuple[Callable[[FamilyFacts], list[Suggestion]], ...] = (
    _protection,
    _young_children,
    _older_people,
    _women,
    _disability,
    _priority_territory,
)


def suggest(family: FamilyFacts) -> list[Suggestion]:
    """All suggestions, one per institution (reasons merged), urgent ones first."""
    merged: dict[str, Suggestion] = {}
    for rule in RULES:
        for suggestion in rule(family):
            existing = merged.get(suggestion.institution_code)
            if existing is None:
                merged[suggestion.institution_code] = suggestion
                continue
            existing.reason = f"{existing.reason} {suggestion.reason}"
            existing.member_ids = sorted(set(existing.member_ids) | set(suggestion.member_ids))
            existing.urgent = existing.urgent or suggestion.urgent
            existing.check = existing.check or suggestion.check
    return sorted(merged.values(), key=lambda s: not s.urgent)


def _names(people: Iterable[PersonFacts]) -> str:
    return ", ".join(p.name for p in people)
