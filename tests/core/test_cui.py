"""CUI (DPI number) checks: wrong shapes are errors, a failing check digit is only a warning."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from sosep_migrantes.cases.models import Member
from sosep_migrantes.catalogs.services import municipalities_per_department
from sosep_migrantes.core.cui import check_cui
from sosep_migrantes.extensions import db
from tests.factories import family_payload, form_data, login, make_arrival, make_user, member

#: Municipalities per department as in the INE catalogue (only what these tests touch).
COUNTS = {1: 17, 12: 30, 13: 33, 14: 21, 22: 17}

WRONG_LENGTH = "El CUI debe tener 13 dígitos."
CHECK_DIGIT_WARNING = (
    "El dígito verificador del CUI no coincide. Revise el número o confirme que es correcto."
)


def make_cui(serial: str, department: int, municipality: int) -> str:
    """A CUI built by the public rule: check = sum(serial[i] * (i + 2)) mod 11."""
    check = sum(int(d) * (i + 2) for i, d in enumerate(serial)) % 11
    assert check < 10, "this serial has no valid check digit"
    return f"{serial}{check}{department:02d}{municipality:02d}"


def with_wrong_check_digit(cui: str) -> str:
    return cui[:8] + str((int(cui[8]) + 1) % 10) + cui[9:]


@pytest.mark.parametrize(
    "cui",
    [
        "2456789050101",  # serial 24567890 -> 236 mod 11 = 5; Guatemala, Guatemala
        "1234567891333",  # serial 12345678 -> 240 mod 11 = 9; Huehuetenango, its 33rd municipality
        "9876543221401",  # serial 98765432 -> 200 mod 11 = 2; Quiché
        "0000000192217",  # Jutiapa, its last municipality
    ],
)
def test_known_good_cuis_pass_without_error_or_warning(cui):
    result = check_cui(cui, COUNTS)
    assert (result.normalized, result.error, result.warning) == (cui, None, None)


def test_spaces_and_dashes_typed_by_staff_are_dropped():
    result = check_cui(" 2456 78905-0101 ", COUNTS)
    assert result.normalized == "2456789050101"
    assert result.error is None and result.warning is None


@pytest.mark.parametrize("value", ["245678905010", "24567890501011", "", "2456789O50101", "CUI2456789050"])
def test_wrong_length_or_letters_is_an_error(value):
    result = check_cui(value, COUNTS)
    assert result.error == WRONG_LENGTH
    assert result.warning is None


@pytest.mark.parametrize("department", [0, 23])
def test_department_outside_01_to_22_is_an_error(department):
    cui = make_cui("24567890", department, 1)
    assert check_cui(cui, COUNTS).error == "El CUI tiene un código de departamento inexistente (01 a 22)."


@pytest.mark.parametrize("municipality", [0, 34])
def test_municipality_outside_huehuetenangos_33_is_an_error(municipality):
    cui = make_cui("12345678", 13, municipality)
    result = check_cui(cui, COUNTS)
    assert result.error == "El CUI tiene un código de municipio inexistente para ese departamento (01 a 33)."


def test_bad_check_digit_is_a_warning_not_an_error():
    cui = with_wrong_check_digit(make_cui("24567890", 13, 4))
    result = check_cui(cui, COUNTS)
    assert result.error is None
    assert result.warning == CHECK_DIGIT_WARNING


def test_catalogue_counts_match_the_ine_list(app, ctx):
    counts = municipalities_per_department()
    assert len(counts) == 22
    assert {k: counts[k] for k in COUNTS} == COUNTS
    assert check_cui(make_cui("12345678", 13, 33), counts).error is None
    assert check_cui(make_cui("12345678", 13, 34), counts).error is not None


def test_form_refuses_a_bad_check_digit_until_staff_confirm_it(app, ctx, client):
    user = make_user("reception", centre="FAG")
    arrival_id = make_arrival(user).id
    login(client, user)
    doubtful = with_wrong_check_digit(make_cui("24567890", 13, 4))
    payload = family_payload(
        members=[
            member(cui=doubtful),
            member("José", sex="M", relationship="SON", age=8),
        ]
    )

    refused = client.post(f"/arrivals/{arrival_id}/families/new", data=form_data(payload))
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert re.findall(r'<p class="error" id="e-([^"]+)">', html) == ["members-0-cui_check_confirmed"]
    assert CHECK_DIGIT_WARNING in html
    assert 'name="members-0-cui_check_confirmed"' in html  # the box to confirm is now shown
    assert db.session.scalar(select(Member)) is None

    payload["members"][0]["cui_check_confirmed"] = "true"
    saved = client.post(f"/arrivals/{arrival_id}/families/new", data=form_data(payload))
    assert saved.status_code == 302
    head = db.session.scalar(select(Member).where(Member.cui == doubtful))
    assert head is not None and head.given_names == "María"
    assert head.cui_check_confirmed is True


def test_a_good_cui_is_saved_unconfirmed_and_without_separators(app, ctx, client):
    user = make_user("reception", centre="FAG")
    arrival_id = make_arrival(user).id
    login(client, user)
    payload = family_payload(members=[member(cui="2456 78905 0101")])
    assert client.post(f"/arrivals/{arrival_id}/families/new", data=form_data(payload)).status_code == 302
    head = db.session.scalar(select(Member))
    assert (head.cui, head.cui_check_confirmed) == ("2456789050101", False)
