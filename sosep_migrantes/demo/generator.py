"""Realistic synthetic arrivals and families, deterministic for a seed (no real person is described).

Proportions follow CONTEXT.md: about 75% by air from the USA, 6% by air from Mexico and 19% by land
from Mexico; destinations weighted toward Huehuetenango, San Marcos and Quiché; families of 2 to 7.
"""

from __future__ import annotations

import datetime as dt
import random
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
)
from ..catalogs.services import by_code
from ..core.timeutil import LOCAL_TZ
from ..extensions import db
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


@dataclass
class DemoResult:
    arrivals: int = 0
    families: int = 0
    members: int = 0


#: Check-digit sums of the first and last four serial digits (weights 2-5 and 6-9), computed once:
#: the bulk generator makes hundreds of thousands of CUIs.
_CUI_HIGH = [sum(int(d) * w for d, w in zip(f"{n:04d}", (2, 3, 4, 5), strict=True)) for n in range(10_000)]
_CUI_LOW = [sum(int(d) * w for d, w in zip(f"{n:04d}", (6, 7, 8, 9), strict=True)) for n in range(10_000)]


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
        self.until = until
        #: Also record needs, services and referrals for each family, as the desk would.
        self.with_services = with_services
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
