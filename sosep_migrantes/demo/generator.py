"""Realistic synthetic arrivals and families, deterministic for a seed (no real person is described).

Proportions follow CONTEXT.md: about 75% by air from the USA, 6% by air from Mexico and 19% by land
from Mexico; destinations weighted toward Huehuetenango, San Marcos and Quiché; families of 2 to 7.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from ..auth.models import User
from ..cases.models import FamilyUnit
from ..cases.services import register_family
from ..catalogs.models import (
    Country,
    FamilyRelationship,
    Language,
    MigrationReason,
    Municipality,
    Need,
    ProtectionCause,
    Pueblo,
    Sede,
)
from ..catalogs.services import by_code, sede_for_municipality
from ..core import audit
from ..core.audit import AuditAction
from ..core.permissions import Role
from ..core.timeutil import LOCAL_TZ, to_local, today_local
from ..extensions import db
from ..followup import services as followup_services
from ..needs.services import record_needs
from ..reception.services import create_arrival
from ..referrals.services import create_referral, suggestions_for

FEMALE = (
    "María",
    "Ana",
    "Rosa",
    "Juana",
    "Marta",
    "Sandra",
    "Lucía",
    "Catarina",
    "Micaela",
    "Petrona",
    "Elena",
    "Sofía",
    "Andrea",
    "Yesenia",
    "Dulce María",
    "Brenda",
    "Gladys",
    "Rosaura",
    "Floridalma",
    "Ingrid",
    "Heidy",
    "Dayana",
    "Génesis",
    "Valeria",
    "Ixchel",
    "Magdalena",
    "Candelaria",
    "Isabel",
    "Jenifer",
)
MALE = (
    "José",
    "Juan",
    "Pedro",
    "Carlos",
    "Luis",
    "Miguel",
    "Francisco",
    "Marvin",
    "Byron",
    "Edgar",
    "Mynor",
    "Selvin",
    "Wilmer",
    "Erick",
    "Kevin",
    "Brayan",
    "Anderson",
    "Santiago",
    "Mateo",
    "Diego",
    "Domingo",
    "Gaspar",
    "Baltazar",
    "Tomás",
    "Esteban",
    "Julio César",
    "Ángel",
    "Héctor",
    "Nery",
)
SURNAMES = (
    "López",
    "Pérez",
    "García",
    "Hernández",
    "Ramírez",
    "Méndez",
    "Gómez",
    "Velásquez",
    "Vásquez",
    "Morales",
    "Chávez",
    "Ajú",
    "Tzoc",
    "Chen",
    "Xol",
    "Caal",
    "Tum",
    "Cux",
    "Yat",
    "Mejía",
    "Domingo",
    "Ramos",
    "Jiménez",
    "Castillo",
    "Ortiz",
    "Sales",
    "Camposeco",
    "Matías",
    "Tomás",
    "Pascual",
    "Agustín",
    "Bautista",
    "Escobar",
    "Fuentes",
    "Choc",
    "Coy",
    "Batz",
    "Son",
    "Ixcoy",
    "Tojín",
)
#: Share of families by destination department (INE code); the rest spread over the others.
DEPARTMENT_WEIGHTS = {13: 20, 12: 13, 14: 10, 1: 8, 9: 6, 16: 5, 7: 4, 8: 3, 17: 3, 10: 3, 20: 2, 18: 2}
#: The Mayan language most spoken in each department, for families that speak one.
DEPARTMENT_LANGUAGE = {
    13: "MAM",
    12: "MAM",
    14: "KICHE",
    9: "MAM",
    16: "QEQCHI",
    7: "KAQCHIKEL",
    8: "KICHE",
    10: "KICHE",
    17: "QEQCHI",
    15: "ACHI",
    3: "KAQCHIKEL",
    4: "KAQCHIKEL",
}
AIR_US_ORIGINS = (
    "Laredo, TX",
    "Alexandria, LA",
    "Brownsville, TX",
    "Harlingen, TX",
    "El Paso, TX",
    "Mesa, AZ",
)
AIR_MX_ORIGINS = ("Villahermosa, Tab.", "Ciudad de México", "Monterrey, N.L.")
LAND_ORIGINS = ("Tapachula, Chis.", "Ciudad Hidalgo, Chis.", "Tenosique, Tab.")
PROTECTION = ("THREATS", "EXTORTION", "PERSECUTION", "INSECURITY", "DOMESTIC_VIOLENCE", "GENDER_VIOLENCE")
#: Share of *families* by route (air-USA, air-Mexico, land-Mexico) over the mean families per arrival of
#: that route (a flight brings 20-56, a bus 3-10): drawing an arrival's route with these weights makes the
#: families, not the arrivals, split about 75/6/19.
_ROUTE_WEIGHTS = (0.75 / 38, 0.06 / 12.5, 0.19 / 6.5)
AIR_US_CUT = _ROUTE_WEIGHTS[0] / sum(_ROUTE_WEIGHTS)
AIR_MX_CUT = (_ROUTE_WEIGHTS[0] + _ROUTE_WEIGHTS[1]) / sum(_ROUTE_WEIGHTS)

#: How a sede's follow-up of a family it reaches ends (or has not yet), with its weight.
STORIES = ("linked", "not_located", "remigrated", "declined", "deceased", "other", "ongoing")
STORY_WEIGHTS = (46, 14, 10, 7, 1, 2, 14)
#: Families the sede never reaches (they stay received or referred, overdue), and those it reaches
#: two to eight months late.
NEVER_CONTACTED = 0.02
LATE_CONTACT = 0.06
#: A story still open this many days after arrival is closed, all but a quarter of the time: the
#: sedes do not keep following a family for years.
ONGOING_DAYS = 240
#: Families that move to another sede's territory (a contact finds them moved, the case follows).
TRANSFERRED = 0.03
#: Linked families whose case is then closed as linked (the others stay linked).
LINKED_THEN_CLOSED = 0.85
#: Closed cases (not located, re-migrated, declined) reopened later.
REOPENED = 0.04
#: Contacts recorded at most for one family.
MAX_CONTACTS = 4
#: Stories closed right after their last contact (or soon after), and those a few reopen later.
ENDS_WITH_LAST_CONTACT = frozenset({"not_located", "remigrated", "declined", "deceased", "other"})
REOPENABLE = frozenset({"not_located", "remigrated", "declined"})
CONTACT_TYPES = ("phone", "home_visit", "office_visit", "message", "other")
CONTACT_TYPE_WEIGHTS = (55, 25, 8, 10, 2)
CONTACTED_PERSONS = (
    "la jefa de familia",
    "el jefe de familia",
    "la madre",
    "el padre",
    "una hija",
    "una vecina",
)
FOLLOWUP_NOTES = (
    "La familia está instalada con familiares.",
    "Buscan empleo en la cabecera municipal.",
    "Los niños ya asisten a la escuela.",
)
NEXT_ACTIONS = (
    "Llamar de nuevo para saber cómo está la familia.",
    "Visita domiciliaria.",
    "Acompañar la inscripción en el programa.",
)
RETRY_ACTION = "Intentar de nuevo por teléfono o visita."
#: Programmes a family may be linked to without a referral (SOSEP's own).
SOSEP_PROGRAMMES = ("SOSEP_HOGARES", "SOSEP_MUJER", "SOSEP_ANOS_DORADOS", "SOSEP_SERVICIO_SOCIAL")
OUTSIDE_SERVICES = ("Escuela Oficial Rural Mixta", "Centro de Salud", "Oficina Municipal de la Mujer")
TRANSFER_REASONS = (
    "La familia se mudó con familiares a otro municipio.",
    "La familia se trasladó a otro departamento por trabajo.",
)
OTHER_CLOSURE_NOTE = "La familia se estableció y no requiere más seguimiento."
REOPEN_NOTES = ("La familia regresó y pide apoyo.", "Se localizó a la familia después del cierre.")


def story_outcomes(story: str, rnd: Callable[[], float], attempts: int) -> list[str]:
    """The outcomes of the contacts a follow-up story takes (``attempts``: not-located attempts the
    rules ask before such a closure). A transfer adds a first one, ``moved``."""
    if story == "linked":
        return ["located"] * (1 + (rnd() < 0.4) + (rnd() < 0.15))
    if story == "not_located":
        return ["located"] * (rnd() < 0.2) + ["not_located"] * attempts
    if story in ("remigrated", "declined"):
        return ["located"] * (rnd() < 0.3) + [story]
    if story in ("deceased", "other"):
        return ["located"] * (1 + (rnd() < 0.5))
    return ["located" if rnd() < 0.9 else "other" for _ in range(1 + int(rnd() * MAX_CONTACTS))]


@dataclass
class DemoResult:
    arrivals: int = 0
    families: int = 0
    members: int = 0


#: Check-digit sums of the first and last four serial digits (weights 2-5 and 6-9), computed once:
#: the bulk generator makes hundreds of thousands of CUIs.
_CUI_HIGH = [sum(int(d) * w for d, w in zip(f"{n:04d}", (2, 3, 4, 5), strict=True)) for n in range(10_000)]
_CUI_LOW = [sum(int(d) * w for d, w in zip(f"{n:04d}", (6, 7, 8, 9), strict=True)) for n in range(10_000)]


#: Accounts that record the demo's follow-ups, one per sede: ``demo-<sede code>``.
SEDE_USER_PREFIX = "demo-"


def sede_users() -> dict[int, User]:
    """The account of each sede that records the demo's follow-ups, created where missing.

    Made as :func:`~sosep_migrantes.auth.services.system_user` is: inactive, with a password nobody
    knows, so no one signs in with them; staff see their follow-ups under the sede's name.
    """
    users = {
        user.sede_id: user
        for user in db.session.scalars(
            select(User).where(User.username.startswith(SEDE_USER_PREFIX), User.role == Role.SEDE)
        )
        if user.sede_id is not None
    }
    for sede in db.session.scalars(select(Sede).order_by(Sede.id)):
        username = f"{SEDE_USER_PREFIX}{sede.code.lower().replace('_', '-')}"
        if sede.id in users or db.session.scalar(select(User.id).where(User.username == username)):
            continue
        user = User(
            username=username,
            full_name=f"{sede.name} (demostración)",
            role=Role.SEDE,
            sede_id=sede.id,
            is_active_account=False,
        )
        user.set_password(secrets.token_urlsafe(32))
        db.session.add(user)
        db.session.flush()
        audit.record(AuditAction.USER_CREATE, "user", user.id, role=user.role, system=True)
        users[sede.id] = user
    return users


def valid_cui(rng: random.Random, department: int, municipality: int) -> str:
    """A CUI that passes the public check-digit rule, born in the given municipality.

    Each digit is drawn as ``rng.randint(0, 9)`` draws it (four random bits, again while 10 or more),
    without its three Python calls per digit: the same CUIs for a seed, several times faster.
    """
    bits = rng.getrandbits
    while True:
        digits = []
        for _ in range(8):
            d = bits(4)
            while d >= 10:
                d = bits(4)
            digits.append(d)
        a, b, c, d, e, f, g, h = digits
        high, low = a * 1000 + b * 100 + c * 10 + d, e * 1000 + f * 100 + g * 10 + h
        check = (_CUI_HIGH[high] + _CUI_LOW[low]) % 11
        if check < 10:
            return f"{high:04d}{low:04d}{check}{department:02d}{municipality:02d}"


def arrival_plan(rng: random.Random) -> tuple[str, str, str, str, int]:
    """(centre, mode, country, origin, families on it) of one arrival, with the route shares above.

    Shared by the service-driven generator and the bulk one (:mod:`.bulk`).
    """
    roll = rng.random()
    if roll < AIR_US_CUT:
        centre = "FAG" if rng.random() < 0.85 else "LA_AURORA"
        return centre, "air", "US", rng.choice(AIR_US_ORIGINS), rng.randint(20, 56)
    if roll < AIR_MX_CUT:
        return "FAG", "air", "MX", rng.choice(AIR_MX_ORIGINS), rng.randint(5, 20)
    return "TECUN_UMAN", "land", "MX", rng.choice(LAND_ORIGINS), rng.randint(3, 10)


def transport_ref(rng: random.Random, mode: str) -> str:
    """A flight number or bus reference, as the demo arrivals carry."""
    if mode == "air":
        return f"{rng.choice(['GUA', 'ICE', 'DHS'])}{rng.randint(100, 999)}"
    return f"BUS-{rng.randint(10, 99)}"


class DemoGenerator:
    def __init__(self, seed: int, until: dt.date, days: int = 90, with_services: bool = True) -> None:
        self.rng = random.Random(seed)
        self.service_rng = random.Random(seed * 7919 + 1)
        self.followup_rng = random.Random(seed * 104_729 + 2)
        self.until = until
        #: Also record needs, services and referrals for each family, as the desk would, and the
        #: sede's follow-up after it.
        self.with_services = with_services
        self.sede_accounts: dict[int, User] = {}
        self.days = days
        self.municipalities = db.session.scalars(select(Municipality).order_by(Municipality.id)).all()

    def _destination(self) -> Municipality:
        rng = self.rng
        if rng.random() < 0.8:
            dept = rng.choices(list(DEPARTMENT_WEIGHTS), weights=list(DEPARTMENT_WEIGHTS.values()))[0]
        else:
            dept = rng.randint(1, 22)
        return rng.choice([m for m in self.municipalities if m.department_id == dept])

    def _arrival_plan(self) -> tuple[str, str, str, str, int]:
        return arrival_plan(self.rng)

    def _member(
        self,
        sex: str,
        age: int,
        relationship: str,
        surnames: str,
        destination: Municipality,
        arrival_day: dt.date,
        language: str | None,
    ) -> dict[str, Any]:
        rng = self.rng
        member: dict[str, Any] = {
            "given_names": rng.choice(FEMALE if sex == "F" else MALE),
            "surnames": surnames,
            "sex": sex,
            "relationship": by_code(FamilyRelationship, relationship),
            "languages": [by_code(Language, "ES")],
            "pueblo": by_code(Pueblo, "MAYA" if language else "LADINO"),
        }
        if rng.random() < 0.7:
            member["birth_date"] = arrival_day - dt.timedelta(days=age * 365 + rng.randint(0, 364))
        else:
            member["estimated_age"] = age
        if language:
            member["languages"].insert(0, by_code(Language, language))
            member["needs_interpreter"] = rng.random() < 0.15
        if rng.random() < (0.6 if age >= 18 else 0.35):
            member["cui"] = valid_cui(rng, destination.department_id, destination.id % 100)
        if rng.random() < 0.03:
            member["has_disability"] = True
            member["disability_notes"] = rng.choice(["Movilidad reducida", "Discapacidad visual", "Auditiva"])
        if sex == "F" and 16 <= age <= 40 and rng.random() < 0.06:
            member["pregnancy"] = rng.choice(["pregnant", "lactating"])
        return member

    def _family(self, arrival_day: dt.date) -> dict[str, Any]:
        rng = self.rng
        destination = self._destination()
        language = DEPARTMENT_LANGUAGE.get(destination.department_id) if rng.random() < 0.3 else None
        father_surname, mother_surname = rng.sample(SURNAMES, 2)
        head_sex = "F" if rng.random() < 0.6 else "M"
        head_age = rng.randint(19, 50) if rng.random() < 0.95 else rng.randint(60, 72)
        size = rng.choices([2, 3, 4, 5, 6, 7], weights=[30, 28, 20, 12, 6, 4])[0]
        head_surnames = f"{father_surname} {mother_surname}"
        members = [
            self._member(head_sex, head_age, "HEAD", head_surnames, destination, arrival_day, language)
        ]
        if size >= 4 and rng.random() < 0.5:
            members.append(
                self._member(
                    "M" if head_sex == "F" else "F",
                    head_age + rng.randint(-5, 5),
                    "SPOUSE",
                    f"{rng.choice(SURNAMES)} {rng.choice(SURNAMES)}",
                    destination,
                    arrival_day,
                    language,
                )
            )
        child_surname = father_surname if head_sex == "M" else rng.choice([father_surname, mother_surname])
        while len(members) < size:
            sex = rng.choice("FM")
            age = max(0, min(17, head_age - rng.randint(17, 35)))
            age = rng.randint(0, age) if age else 0
            members.append(
                self._member(
                    sex,
                    age,
                    "DAUGHTER" if sex == "F" else "SON",
                    f"{child_surname} {rng.choice(SURNAMES)}",
                    destination,
                    arrival_day,
                    language,
                )
            )
        reasons = ["UNEMPLOYMENT"] if rng.random() < 0.6 else []
        if rng.random() < 0.25:
            reasons.append("FAMILY_REUNIFICATION")
        if rng.random() < 0.15:
            reasons.append("VIOLENCE")
        causes = rng.sample(PROTECTION, rng.randint(1, 2)) if rng.random() < 0.08 else []
        consent = rng.choices(["written", "verbal_witness", "refused"], weights=[85, 10, 5])[0]
        return {
            "destination_municipality": destination,
            "community": f"Aldea {rng.choice(SURNAMES)}" if rng.random() < 0.7 else None,
            "phone": f"{rng.choice('345')}{rng.randint(0, 9999999):07d}" if rng.random() < 0.7 else None,
            "migration_reasons": [by_code(MigrationReason, r) for r in reasons or ["OTHER"]],
            "protection_causes": [by_code(ProtectionCause, c) for c in causes],
            "consent_type": consent,
            "consent_on": arrival_day if consent != "refused" else None,
            "consent_witness": "Personal de turno" if consent == "verbal_witness" else None,
            "members": members,
        }

    def run(self, families: int, actor: User) -> DemoResult:
        result = DemoResult()
        if self.with_services:
            self.sede_accounts = sede_users()
        rng = self.rng
        while result.families < families:
            centre, mode, country, origin, size = self._arrival_plan()
            size = min(size, families - result.families)
            day = self.until - dt.timedelta(days=rng.randint(0, self.days - 1))
            landed = dt.datetime.combine(
                day, dt.time(rng.randint(6, 18), rng.choice((0, 15, 30, 45))), LOCAL_TZ
            )
            arrival = create_arrival(
                {
                    "centre": centre,
                    "arrived_at": landed.astimezone(dt.UTC),
                    "mode": mode,
                    "country": by_code(Country, country),
                    "origin": origin,
                    "transport_ref": transport_ref(rng, mode),
                },
                actor,
            )
            result.arrivals += 1
            for _ in range(size):
                family = register_family(arrival, self._family(day), actor)
                if self.with_services:
                    self._attend(family, actor)
                    self._follow_up(family)
                result.families += 1
                result.members += len(family.members)
        return result

    def _attend(self, family: FamilyUnit, actor: User) -> None:
        """What the desk does next: food and kits given, a need or two identified, a suggestion followed.

        Uses its own random stream so the families themselves do not depend on it.
        """
        rng = self.service_rng
        items = [
            {
                "need": by_code(Need, "FOOD"),
                "action": "attended",
                "quantity": len(family.members),
                "delivered_by": "Personal de turno",
            }
        ]
        if rng.random() < 0.7:
            items.append(
                {
                    "need": by_code(Need, "HYGIENE_KIT"),
                    "action": "attended",
                    "quantity": 1,
                    "delivered_by": "Personal de turno",
                }
            )
        for code in rng.sample(
            ("MEDICAL", "PSYCHOLOGICAL", "LEGAL", "IDENTITY_DOCS", "REINTEGRATION"), rng.randint(0, 2)
        ):
            items.append({"need": by_code(Need, code), "action": "identified"})
        record_needs(family, items, actor)
        suggestions = suggestions_for(family)
        if suggestions and rng.random() < 0.6:
            shown = suggestions[0]
            if shown.institution.is_sosep or family.has_consent:
                create_referral(
                    family,
                    {
                        "institution": shown.institution,
                        "member_ids": shown.suggestion.member_ids,
                        "reason": shown.suggestion.reason,
                        "needs": list(shown.institution.needs)[:2],
                        "priority": "urgent" if shown.suggestion.urgent else "normal",
                        "send": True,
                    },
                    actor,
                )

    def _follow_up(self, family: FamilyUnit) -> None:
        """What the family's sede records next, through the follow-up services: contacts, sometimes a
        move to another sede, a linkage, a closure (and now and then a reopening).

        The stories are the bulk generator's; transfers and reopenings come twice as often, so that a
        small demo shows them. Contacts fall between the arrival and ``until`` (never after today);
        closures and reopenings are recorded now, as the services do. Its own random stream.
        """
        rng = self.followup_rng
        sede = sede_for_municipality(family.destination_municipality_id)
        if sede is None or sede.id not in self.sede_accounts or rng.random() < NEVER_CONTACTED:
            return
        user = self.sede_accounts[sede.id]
        limit = min(self.until, today_local())
        due = family.followup_due_on
        assert due is not None  # just registered: a first contact is owed
        day = max(due + dt.timedelta(days=rng.randint(-5, 20)), to_local(family.arrival.arrived_at).date())
        story = rng.choices(STORIES, weights=STORY_WEIGHTS)[0]
        outcomes = story_outcomes(story, rng.random, followup_services.settings().not_located_attempts)
        target = self._transfer_target(sede.id) if rng.random() < TRANSFERRED * 2 else None
        if target is not None:
            outcomes.insert(0, "moved")
            while len(outcomes) > MAX_CONTACTS and "located" in outcomes:
                outcomes.remove("located")
        for index, outcome in enumerate(outcomes):
            if day > limit:
                return  # the rest of the story has not happened yet
            next_on = None
            closes_now = index == len(outcomes) - 1 and story in ENDS_WITH_LAST_CONTACT
            if not closes_now and rng.random() < 0.8:
                next_on = day + dt.timedelta(
                    days=rng.randint(5, 14) if outcome == "not_located" else rng.randint(7, 45)
                )
            located = outcome != "not_located"
            followup_services.record_followup(
                family,
                {
                    "contacted_on": day,
                    "contact_type": rng.choices(CONTACT_TYPES, weights=CONTACT_TYPE_WEIGHTS)[0]
                    if located
                    else "phone",
                    "contacted_person": rng.choice(CONTACTED_PERSONS) if located else None,
                    "outcome": outcome,
                    "notes": rng.choice(FOLLOWUP_NOTES) if located and rng.random() < 0.3 else None,
                    "next_action": (rng.choice(NEXT_ACTIONS) if located else RETRY_ACTION)
                    if next_on
                    else None,
                    "next_action_on": next_on,
                },
                user,
            )
            if target is not None and outcome == "moved":
                municipality, to_sede = target
                followup_services.transfer(
                    family, {"municipality": municipality, "reason": rng.choice(TRANSFER_REASONS)}, user
                )
                user = self.sede_accounts[to_sede]
            day = (next_on or day + dt.timedelta(days=30)) + dt.timedelta(days=rng.randint(-2, 9))
        if story == "linked":
            assert family.last_contact_on is not None
            linked_on = min(limit, family.last_contact_on + dt.timedelta(days=rng.randint(0, 5)))
            followup_services.link(family, self._linkage(family, linked_on), user)
            if rng.random() < LINKED_THEN_CLOSED:
                followup_services.close(family, {"reason": "linked"}, user)
        elif story in ENDS_WITH_LAST_CONTACT:
            note = OTHER_CLOSURE_NOTE if story == "other" else None
            followup_services.close(family, {"reason": story, "note": note}, user)
            if story in REOPENABLE and rng.random() < REOPENED * 2:
                followup_services.reopen(family, {"note": rng.choice(REOPEN_NOTES)}, user)

    def _transfer_target(self, sede_id: int) -> tuple[Municipality, int] | None:
        """A municipality another sede (one with its demo account) covers, and that sede."""
        rng = self.followup_rng
        for _ in range(10):
            municipality = rng.choice(self.municipalities)
            other = sede_for_municipality(municipality.id)
            if other is not None and other.id != sede_id and other.id in self.sede_accounts:
                return municipality, other.id
        return None

    def _linkage(self, family: FamilyUnit, linked_on: dt.date) -> dict[str, Any]:
        """What the sede links the family to: the institution of a referral it was sent with, a SOSEP
        programme the desk suggested (a member, or the whole family), or a service outside the catalogue."""
        rng = self.followup_rng
        data: dict[str, Any] = {"linked_on": linked_on}
        referrals = followup_services.linkable_referrals(family)
        if referrals and rng.random() < 0.5:
            data["referral_id"] = rng.choice(referrals).id
            return data
        programmes = [s for s in suggestions_for(family) if s.institution.code in SOSEP_PROGRAMMES]
        if programmes:
            shown = rng.choice(programmes)
            data["institution"] = shown.institution
            if rng.random() < 0.7:
                data["member_id"] = rng.choice(shown.suggestion.member_ids)
        else:
            data["outside_service"] = rng.choice(OUTSIDE_SERVICES)
        return data
