"""The family schema (shared by the form and the API): what it refuses, and in which words."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from marshmallow import ValidationError

from sosep_migrantes.cases.schemas import FamilyUnitSchema
from sosep_migrantes.core.forms import flatten_errors
from sosep_migrantes.core.timeutil import today_local
from tests.factories import family_payload, member

REQUIRED = "Este campo es obligatorio."
ONE_HEAD = "La unidad familiar debe tener exactamente un(a) jefe(a) de familia; hay {}."
PICK_MUNICIPALITY = "Escriba el municipio y elíjalo de la lista (por ejemplo: Cuilco, Huehuetenango)."


def load(payload: dict[str, Any]) -> dict[str, Any]:
    return FamilyUnitSchema().load(payload)


def errors(payload: dict[str, Any]) -> dict[str, str]:
    """The messages shown beside each form field, keyed by the field's name."""
    with pytest.raises(ValidationError) as caught:
        load(payload)
    return flatten_errors(caught.value.messages)


def son(age: int | None = 8, **extra: Any) -> dict[str, Any]:
    return member("José", sex="M", relationship="SON", age=age, **extra)


def tomorrow() -> str:
    return (today_local() + dt.timedelta(days=1)).isoformat()


def test_an_empty_family_names_each_missing_field_in_spanish(app, ctx):
    assert errors({}) == {
        "destination_municipality": REQUIRED,
        "consent_type": REQUIRED,
        "members": "Registre al menos un integrante.",
    }


def test_an_empty_member_row_names_each_missing_field(app, ctx):
    found = errors(family_payload(members=[{}]))
    assert found == {
        "members-0-given_names": REQUIRED,
        "members-0-surnames": REQUIRED,
        "members-0-sex": REQUIRED,
        "members-0-relationship": REQUIRED,
        "members-0-birth_date": "Indique la fecha de nacimiento o la edad estimada.",
        # The row without a relationship cannot be the head, and the form says so above the members.
        "members_summary": ONE_HEAD.format(0),
    }


def test_a_valid_family_loads_with_catalogue_objects_and_clean_text(app, ctx):
    data = load(family_payload(members=[member("  María   Elena ", "López  Pérez"), son()]))
    assert data["destination_municipality"].label == "Cuilco, Huehuetenango"
    assert [m["relationship"].code for m in data["members"]] == ["HEAD", "SON"]
    assert (data["members"][0]["given_names"], data["members"][0]["surnames"]) == (
        "María Elena",
        "López Pérez",
    )
    assert data["consent_on"] == dt.date(2026, 11, 20)


@pytest.mark.parametrize("heads", [0, 2])
def test_a_family_needs_exactly_one_head(app, ctx, heads):
    relationships = ["HEAD"] * heads + ["SON"] * (2 - heads)
    members = [member(f"Persona {i}", relationship=r) for i, r in enumerate(relationships)]
    assert errors(family_payload(members=members)) == {
        "members_summary": ONE_HEAD.format(heads),
    }


def test_written_consent_needs_its_date(app, ctx):
    found = errors(family_payload(consent_type="written", consent_on=None))
    assert found == {"consent_on": "Indique la fecha del consentimiento."}


def test_consent_cannot_be_dated_in_the_future(app, ctx):
    found = errors(family_payload(consent_type="written", consent_on=tomorrow()))
    assert found == {"consent_on": "La fecha no puede ser posterior a hoy."}


@pytest.mark.parametrize("consent_on", ["0001-01-01", "1999-05-01", "2013-12-31"])
@pytest.mark.parametrize("consent_type", ["written", "verbal_witness"])
def test_consent_cannot_be_dated_before_2014(app, ctx, consent_on, consent_type):
    """The department (and its consent forms) started in 2014; year 1 used to be accepted."""
    payload = family_payload(consent_type=consent_type, consent_on=consent_on, consent_witness="Ana Tzoc")
    today = today_local().strftime("%d/%m/%Y")
    assert errors(payload) == {"consent_on": f"Escriba una fecha entre 01/01/2014 y {today}."}
    assert load({**payload, "consent_on": "2014-01-01"})["consent_on"] == dt.date(2014, 1, 1)


@pytest.mark.parametrize("birth_date", ["0001-01-01", "1899-12-31"])
def test_a_date_of_birth_more_than_120_years_ago_is_refused(app, ctx, birth_date):
    found = errors(family_payload(members=[member(age=None, birth_date=birth_date)]))
    assert found == {"members-0-birth_date": "La fecha de nacimiento es de hace más de 120 años."}


def test_verbal_consent_needs_a_date_and_a_witness(app, ctx):
    found = errors(family_payload(consent_type="verbal_witness", consent_on=None))
    assert found == {
        "consent_on": "Indique la fecha del consentimiento.",
        "consent_witness": "El consentimiento verbal requiere el nombre del testigo.",
    }
    data = load(family_payload(consent_type="verbal_witness", consent_witness=" Ana  Tzoc "))
    assert data["consent_witness"] == "Ana Tzoc"


def test_refused_consent_clears_date_and_witness(app, ctx):
    data = load(family_payload(consent_type="refused", consent_on="2026-11-20", consent_witness="Ana Tzoc"))
    assert (data["consent_type"], data["consent_on"], data["consent_witness"]) == ("refused", None, None)


def test_an_unknown_consent_type_asks_how_it_was_given(app, ctx):
    found = errors(family_payload(consent_type="maybe"))
    assert found == {"consent_type": "Indique si la familia dio su consentimiento y cómo."}


def test_date_of_birth_in_the_future_is_refused(app, ctx):
    found = errors(family_payload(members=[member(age=None, birth_date=tomorrow())]))
    assert found == {"members-0-birth_date": "La fecha no puede ser posterior a hoy."}


def test_a_member_needs_a_date_of_birth_or_an_estimated_age(app, ctx):
    found = errors(family_payload(members=[member(), son(age=None)]))
    assert found == {"members-1-birth_date": "Indique la fecha de nacimiento o la edad estimada."}
    data = load(family_payload(members=[member(), son(age=None, birth_date="2018-03-01")]))
    assert data["members"][1]["birth_date"] == dt.date(2018, 3, 1)


def test_pregnancy_is_only_recorded_for_women(app, ctx):
    found = errors(family_payload(members=[member(), son(pregnancy="pregnant")]))
    assert found == {"members-1-pregnancy": "El embarazo o la lactancia solo se registran para mujeres."}
    assert (
        load(family_payload(members=[member(pregnancy="lactating")]))["members"][0]["pregnancy"]
        == "lactating"
    )


def test_a_document_number_needs_its_type_and_the_other_way_round(app, ctx):
    found = errors(
        family_payload(members=[member(document_number="G1234567"), son(document_type="PASSPORT")])
    )
    assert found == {
        "members-0-document_type": "Indique qué documento es.",
        "members-1-document_number": "Escriba el número del documento.",
    }


@pytest.mark.parametrize(
    ("typed", "label"),
    [
        (1304, "Cuilco, Huehuetenango"),
        ("1304", "Cuilco, Huehuetenango"),
        ("Cuilco, Huehuetenango", "Cuilco, Huehuetenango"),
        ("  cuilco,   HUEHUETENANGO ", "Cuilco, Huehuetenango"),
        ("San Pedro Sacatepéquez, San Marcos", "San Pedro Sacatepéquez, San Marcos"),
        ("Santa Maria Nebaj", "Santa María Nebaj, Quiché"),  # a bare name unique in the country
        ("Ayutla", "Ayutla, San Marcos"),
    ],
)
def test_destination_by_ine_code_label_or_unique_name(app, ctx, typed, label):
    assert load(family_payload(municipality=typed))["destination_municipality"].label == label


@pytest.mark.parametrize("typed", ["San Pedro Sacatepéquez", "Ciudad Inventada", "9999"])
def test_ambiguous_or_unknown_destination_is_refused(app, ctx, typed):
    # "San Pedro Sacatepéquez" exists in Guatemala and in San Marcos: staff must say which.
    assert errors(family_payload(municipality=typed)) == {
        "destination_municipality": PICK_MUNICIPALITY,
    }


@pytest.mark.parametrize(
    "phone", ["55551234", "5555-1234", "5555 1234", "+502 5555 1234", "+1 (956) 555-0134"]
)
def test_phone_formats_staff_type_are_accepted(app, ctx, phone):
    assert load(family_payload(phone=phone))["phone"] == phone


@pytest.mark.parametrize("phone", ["1234", "no tiene", "5555-1234 ext. 2", "+502-"])
def test_bad_phone_numbers_are_refused(app, ctx, phone):
    assert errors(family_payload(phone=phone)) == {
        "phone": "Teléfono no válido: escriba 8 dígitos, o el número con código de país (+502 ...).",
    }


def test_the_member_validator_does_not_change_what_it_checks(app, ctx):
    """Disability notes imply a disability: said after loading, not by the validator (which only checks)."""
    from sosep_migrantes.cases.schemas import MemberSchema

    schema = MemberSchema()
    data = schema.load(member(disability_notes="Usa silla de ruedas."), partial=False)
    assert data["has_disability"] is True
    checked = {**data, "has_disability": False}
    seen = dict(checked)
    schema.check_member(seen)
    assert seen == checked


def test_case_filters_load_what_is_well_formed_and_ignore_the_rest(app, ctx):
    from sosep_migrantes.cases.schemas import CaseFilterSchema

    schema = CaseFilterSchema()
    good = schema.load_ignoring_errors(
        {
            "centre_id": "3",
            "status": "referred",
            "arrived_from": "2026-01-01",
            "protection": "true",
            "q": "  Tzoc\x00 ",
            "page": "2",
        }
    )
    assert good == {
        "centre_id": 3,
        "status": "referred",
        "arrived_from": dt.date(2026, 1, 1),
        "protection_only": True,
        "q": "Tzoc",
        "page": 2,
    }
    bad = schema.load_ignoring_errors(
        {
            "centre_id": "²",
            "department_id": "9" * 40,
            "status": "lost",
            "arrived_from": "1900-01-01",
            "arrived_to": "9999-12-31",
            "protection": "maybe",
            "page": "99999999999999999999",
            "q": "",
        }
    )
    assert bad == {"protection_only": False, "q": None, "page": 1}


@pytest.mark.parametrize("age", ["٣٤", "³", "３４", "-1"])
def test_an_age_is_read_only_from_ascii_digits(ctx, age):
    payload = family_payload(members=[member(age=None, estimated_age=age)])
    with pytest.raises(ValidationError) as refused:
        FamilyUnitSchema().load(payload)
    assert "estimated_age" in refused.value.messages["members"][0]
