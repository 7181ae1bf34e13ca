"""The eligibility rules on their own: plain facts in, suggestions out (no database rows needed).

The reasons are translatable strings, so the tests run inside a request context (``ctx``).
"""

from __future__ import annotations

import csv
import datetime as dt

import pytest

from sosep_migrantes.referrals.eligibility import FamilyFacts, PersonFacts, suggest
from tests.conftest import ROOT

ON = dt.date(2026, 11, 20)
MIXCO = 108
CUILCO = 1304

DATA = ROOT / "sosep_migrantes" / "catalogs" / "data"


def read_csv(name: str) -> list[dict[str, str]]:
    return list(csv.DictReader((DATA / name).read_text(encoding="utf-8").splitlines()))


PROTECTION_CAUSES = [row["code"] for row in read_csv("protection_causes.csv")]

PRIORITY_MUNICIPALITIES = {
    1304: "Cuilco",
    1307: "Jacaltenango",
    1305: "Nentón",
    1207: "Tacaná",
    1204: "Comitancillo",
    1217: "Ayutla",
    1215: "Malacatán",
    920: "Coatepeque",
    901: "Quetzaltenango",
    1413: "Nebaj",
}

PRIORITY_NAMES = list(PRIORITY_MUNICIPALITIES.values())

_ids = iter(range(1, 10_000))


def person(
    name: str = "Persona",
    *,
    sex: str = "F",
    born: dt.date | None = None,
    age: int | None = None,
    disability: bool = False,
    orthopaedic: bool = False,
    member_id: int | None = None,
) -> PersonFacts:
    return PersonFacts(
        member_id=member_id if member_id is not None else next(_ids),
        name=name,
        sex=sex,
        birth_date=born,
        estimated_age=age,
        has_disability=disability,
        needs_orthopaedic_aid=orthopaedic,
    )


def adult_man(member_id: int = 900) -> PersonFacts:
    return person("Juan Pérez", sex="M", age=35, member_id=member_id)


def family(
    *members: PersonFacts,
    municipality: int = MIXCO,
    reasons: set[str] = frozenset(),
    causes: set[str] = frozenset(),
    on: dt.date = ON,
) -> FamilyFacts:
    return FamilyFacts(
        on=on,
        members=list(members),
        destination_municipality_id=municipality,
        migration_reasons=frozenset(reasons),
        protection_causes=frozenset(causes),
    )


def by_code(facts: FamilyFacts) -> dict:
    suggestions = suggest(facts)
    codes = [s.institution_code for s in suggestions]
    assert len(codes) == len(set(codes)), f"one suggestion per institution, got {codes}"
    return {s.institution_code: s for s in suggestions}


# -- Hogares Comunitarios: 6 months to under 7 years ---------------------------------------------------


@pytest.mark.parametrize(
    ("born", "eligible"),
    [
        (dt.date(2026, 5, 21), False),  # 5 months and 30 days
        (dt.date(2026, 5, 20), True),  # exactly 6 months
        (dt.date(2019, 11, 21), True),  # 6 years and 364 days
        (dt.date(2019, 11, 20), False),  # exactly 7 years
    ],
    ids=["5m30d", "6m", "6y364d", "7y"],
)
def test_community_homes_age_boundaries_by_birth_date(ctx, born, eligible):
    child = person("Ixchel Tz'ul", born=born, member_id=1)
    suggestions = by_code(family(adult_man(), child))
    if eligible:
        hogares = suggestions["SOSEP_HOGARES"]
        assert hogares.member_ids == [1]
        assert "Ixchel Tz'ul" in hogares.reason
        assert "6 meses a menos de 7 años" in hogares.reason
        assert hogares.check is None
        assert hogares.urgent is False
    else:
        assert "SOSEP_HOGARES" not in suggestions


def test_estimated_age_zero_is_suggested_with_a_note_to_check(ctx):
    baby = person("Bebé López", age=0, member_id=1)
    hogares = by_code(family(adult_man(), baby))["SOSEP_HOGARES"]
    assert hogares.member_ids == [1]
    assert hogares.check is not None
    assert "6 meses" in hogares.check


def test_estimated_age_six_is_eligible_without_a_note(ctx):
    hogares = by_code(family(adult_man(), person("Ana", age=6, member_id=1)))["SOSEP_HOGARES"]
    assert hogares.member_ids == [1]
    assert hogares.check is None


def test_estimated_age_seven_is_not_eligible(ctx):
    assert "SOSEP_HOGARES" not in by_code(family(adult_man(), person("Ana", age=7)))


def test_one_unsure_baby_keeps_the_note_beside_a_sure_child(ctx):
    facts = family(person("Ana", age=4, member_id=1), person("Bebé", age=0, member_id=2))
    hogares = by_code(facts)["SOSEP_HOGARES"]
    assert sorted(hogares.member_ids) == [1, 2]
    assert hogares.check is not None


# -- Mis Años Dorados: 60 and older ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("born", "eligible"),
    [(dt.date(1966, 11, 21), False), (dt.date(1966, 11, 20), True)],
    ids=["59-turns-60-tomorrow", "60-today"],
)
def test_golden_years_birthday_boundary(ctx, born, eligible):
    grandmother = person("Catarina Xicará", born=born, member_id=7)
    suggestions = by_code(family(grandmother))
    if eligible:
        assert suggestions["SOSEP_ANOS_DORADOS"].member_ids == [7]
        assert "60 años o más" in suggestions["SOSEP_ANOS_DORADOS"].reason
        assert "Catarina Xicará" in suggestions["SOSEP_ANOS_DORADOS"].reason
    else:
        assert "SOSEP_ANOS_DORADOS" not in suggestions


@pytest.mark.parametrize(("age", "eligible"), [(59, False), (60, True)])
def test_golden_years_with_estimated_age(ctx, age, eligible):
    suggestions = by_code(family(person("Tomás", sex="M", age=age, member_id=3)))
    assert ("SOSEP_ANOS_DORADOS" in suggestions) is eligible


# -- Women's programme: women and adolescent girls from 13 ---------------------------------------------


@pytest.mark.parametrize(
    ("facts", "eligible"),
    [
        (dict(sex="F", born=dt.date(2013, 11, 21)), False),  # 12, turns 13 tomorrow
        (dict(sex="F", born=dt.date(2013, 11, 20)), True),  # 13 today
        (dict(sex="F", age=12), False),
        (dict(sex="F", age=13), True),
        (dict(sex="F", age=34), True),
        (dict(sex="M", age=34), False),
        (dict(sex="M", age=15), False),
    ],
    ids=["girl-12-by-date", "girl-13-by-date", "girl-12", "girl-13", "woman", "man", "boy-15"],
)
def test_women_programme(ctx, facts, eligible):
    suggestions = by_code(family(person("Rosa", member_id=5, **facts)))
    if eligible:
        assert suggestions["SOSEP_MUJER"].member_ids == [5]
    else:
        assert "SOSEP_MUJER" not in suggestions


def test_women_programme_lists_only_the_women(ctx):
    mother = person("María", sex="F", age=34, member_id=1)
    father = person("José", sex="M", age=36, member_id=2)
    daughter = person("Rosa", sex="F", age=9, member_id=3)
    mujer = by_code(family(mother, father, daughter))["SOSEP_MUJER"]
    assert mujer.member_ids == [1]
    assert "María" in mujer.reason and "José" not in mujer.reason and "Rosa" not in mujer.reason


# -- Servicio Social: disability and orthopaedic aid ---------------------------------------------------


def test_disability_suggests_social_service(ctx):
    social = by_code(family(adult_man(1), person("Pedro", sex="M", age=40, disability=True, member_id=2)))
    assert social["SOSEP_SERVICIO_SOCIAL"].member_ids == [2]
    assert "Discapacidad" in social["SOSEP_SERVICIO_SOCIAL"].reason


def test_orthopaedic_aid_suggests_social_service(ctx):
    social = by_code(family(adult_man(1), person("Pedro", sex="M", age=40, orthopaedic=True, member_id=2)))
    assert social["SOSEP_SERVICIO_SOCIAL"].member_ids == [2]


def test_no_disability_no_social_service(ctx):
    assert "SOSEP_SERVICIO_SOCIAL" not in by_code(family(adult_man(1)))


# -- Protection causes ----------------------------------------------------------------------------------


def test_the_catalogue_has_the_eleven_protection_causes():
    assert len(PROTECTION_CAUSES) == 11


@pytest.mark.parametrize("cause", PROTECTION_CAUSES)
def test_each_protection_cause_is_an_urgent_referral_to_the_partners(ctx, cause):
    members = (person("María", age=30, member_id=1), person("José", sex="M", age=8, member_id=2))
    suggestions = by_code(family(*members, causes={cause}))
    for code in ("REFUGIO_NINEZ", "OIM", "CRISTOSAL"):
        assert code in suggestions, code
        assert suggestions[code].urgent is True
        assert suggestions[code].member_ids == [1, 2]
        assert "protección" in suggestions[code].reason
    partners = [s.institution_code for s in suggest(family(*members, causes={cause}))][:3]
    assert set(partners) == {"REFUGIO_NINEZ", "OIM", "CRISTOSAL"}


def test_no_protection_cause_no_partner_referral(ctx):
    suggestions = by_code(family(person("María", age=30), person("José", sex="M", age=8)))
    assert not {"REFUGIO_NINEZ", "CRISTOSAL", "OIM"} & set(suggestions)


# -- Priority territories -------------------------------------------------------------------------------


def test_priority_municipalities_exist_in_the_catalogue():
    names = {int(row["code"]): row["name"] for row in read_csv("municipalities.csv")}
    for code, name in PRIORITY_MUNICIPALITIES.items():
        assert name in names[code], (code, names.get(code))


@pytest.mark.parametrize("reason", ["UNEMPLOYMENT", "FAMILY_REUNIFICATION"])
@pytest.mark.parametrize("municipality", list(PRIORITY_MUNICIPALITIES), ids=PRIORITY_NAMES)
def test_priority_municipality_and_reason_suggest_sedes_and_oim(ctx, municipality, reason):
    suggestions = by_code(
        family(adult_man(1), person("Ana", age=30, member_id=2), municipality=municipality, reasons={reason})
    )
    for code in ("SOSEP_SEDES", "OIM"):
        assert suggestions[code].member_ids == [1, 2]
        assert suggestions[code].urgent is False
        assert "municipio priorizado" in suggestions[code].reason


@pytest.mark.parametrize("municipality", list(PRIORITY_MUNICIPALITIES), ids=PRIORITY_NAMES)
def test_priority_municipality_with_only_violence_is_not_suggested(ctx, municipality):
    suggestions = by_code(family(adult_man(), municipality=municipality, reasons={"VIOLENCE"}))
    assert "SOSEP_SEDES" not in suggestions and "OIM" not in suggestions


def test_other_municipality_with_unemployment_is_not_suggested(ctx):
    facts = family(adult_man(), municipality=MIXCO, reasons={"UNEMPLOYMENT", "FAMILY_REUNIFICATION"})
    suggestions = by_code(facts)
    assert "SOSEP_SEDES" not in suggestions and "OIM" not in suggestions


# -- Merging and ordering -------------------------------------------------------------------------------


def test_oim_from_protection_and_territory_appears_once_urgent_with_both_reasons(ctx):
    facts = family(
        adult_man(1),
        person("Ana", age=30, member_id=2),
        municipality=CUILCO,
        reasons={"UNEMPLOYMENT"},
        causes={"THREATS"},
    )
    suggestions = suggest(facts)
    oim = [s for s in suggestions if s.institution_code == "OIM"]
    assert len(oim) == 1
    assert oim[0].urgent is True
    assert "protección" in oim[0].reason
    assert "municipio priorizado" in oim[0].reason
    assert oim[0].member_ids == [1, 2]
    assert not next(s for s in suggestions if s.institution_code == "SOSEP_SEDES").urgent


def test_urgent_suggestions_come_first(ctx):
    facts = family(
        person("Abuela", age=70, member_id=1),
        person("Mamá", age=30, member_id=2),
        person("Niño", sex="M", age=3, member_id=3),
        municipality=CUILCO,
        reasons={"FAMILY_REUNIFICATION"},
        causes={"EXTORTION"},
    )
    suggestions = suggest(facts)
    flags = [s.urgent for s in suggestions]
    assert flags == sorted(flags, reverse=True)
    assert {s.institution_code for s in suggestions if s.urgent} == {"REFUGIO_NINEZ", "OIM", "CRISTOSAL"}
    assert {s.institution_code for s in suggestions if not s.urgent} == {
        "SOSEP_HOGARES",
        "SOSEP_ANOS_DORADOS",
        "SOSEP_MUJER",
        "SOSEP_SEDES",
    }


def test_a_single_adult_man_with_no_risk_gets_no_suggestion(ctx):
    assert suggest(family(adult_man())) == []
