"""One age rule for the case page, the referral form, the slips and the eligibility rules."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sosep_migrantes.cases.models import Member
from sosep_migrantes.core.timeutil import age_in_months, age_on
from sosep_migrantes.referrals.eligibility import PersonFacts, age_in_years
from sosep_migrantes.referrals.pdf import age_text


@pytest.mark.parametrize(
    ("birth", "on", "years"),
    [
        (dt.date(2008, 11, 21), dt.date(2026, 11, 20), 17),  # the day before turning 18
        (dt.date(2008, 11, 20), dt.date(2026, 11, 20), 18),  # the birthday itself
        (dt.date(2020, 2, 29), dt.date(2025, 2, 28), 4),  # leap-day birthday, common year: not yet
        (dt.date(2020, 2, 29), dt.date(2025, 3, 1), 5),
        (dt.date(2020, 2, 29), dt.date(2024, 2, 29), 4),
        (dt.date(2026, 11, 20), dt.date(2026, 11, 20), 0),  # born today
    ],
)
def test_age_in_whole_years(birth, on, years):
    assert age_on(birth, on) == years


@pytest.mark.parametrize(
    ("birth", "on", "months"),
    [
        (dt.date(2026, 5, 20), dt.date(2026, 11, 19), 5),  # the day before six months (Hogares Comunitarios)
        (dt.date(2026, 5, 20), dt.date(2026, 11, 20), 6),
        (dt.date(2026, 1, 31), dt.date(2026, 2, 28), 0),  # no 31 February: the month completes on 1 March
        (dt.date(2026, 1, 31), dt.date(2026, 3, 1), 1),
        (dt.date(2019, 11, 21), dt.date(2026, 11, 20), 83),  # the last day under 7 years
    ],
)
def test_age_in_whole_months(birth, on, months):
    assert age_in_months(birth, on) == months


def test_without_a_date_of_birth_the_estimated_age_counts():
    on = dt.date(2026, 11, 20)
    assert age_on(None, on, estimated=34) == 34
    assert age_on(None, on, estimated=0) == 0
    assert age_on(None, on) == 0
    assert age_on(dt.date(2000, 1, 1), on, estimated=5) == 26  # a known date wins over an estimate


dates = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31))


@given(birth=dates, on=dates, estimated=st.none() | st.integers(0, 120))
def test_the_case_page_the_slip_and_the_eligibility_rules_count_the_same_age(birth, on, estimated):
    if birth > on:
        birth, on = on, birth
    expected = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    assert age_on(birth, on) == expected == age_in_months(birth, on) // 12
    member = Member(birth_date=birth, estimated_age=estimated)
    person = PersonFacts(1, "P", "F", birth, estimated)
    assert member.age_at(on) == age_in_years(person, on) == expected
    unknown = Member(birth_date=None, estimated_age=estimated)
    assert (
        unknown.age_at(on) == age_in_years(PersonFacts(1, "P", "F", None, estimated), on) == (estimated or 0)
    )
    shown = age_text(birth, member.age_at(on), on)
    assert shown.endswith(("año", "años")) if expected >= 1 else shown.endswith(("mes", "meses"))
