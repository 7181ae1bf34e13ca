"""The rules of status and due dates, at their boundaries (followup.rules: pure functions of facts)."""

from __future__ import annotations

import datetime as dt

import pytest

from sosep_migrantes.cases.models import CaseStatus
from sosep_migrantes.followup import rules
from sosep_migrantes.followup.rules import CaseFacts, Settings

ARRIVED = dt.date(2026, 11, 1)
DEFAULT = Settings()


def facts(**kw) -> CaseFacts:
    return CaseFacts(arrived_on=ARRIVED, **kw)


@pytest.mark.parametrize(
    ("kw", "status"),
    [
        ({}, CaseStatus.RECEIVED),
        ({"referred": True}, CaseStatus.REFERRED),
        ({"referred": True, "last_contact_on": ARRIVED}, CaseStatus.IN_FOLLOWUP),
        ({"last_contact_on": ARRIVED}, CaseStatus.IN_FOLLOWUP),
        ({"last_contact_on": ARRIVED, "linked": True}, CaseStatus.LINKED),
        ({"linked": True, "closed": True}, CaseStatus.CLOSED),
        ({"closed": True}, CaseStatus.CLOSED),
        ({"referred": True, "reopened_on": ARRIVED}, CaseStatus.REFERRED),
    ],
)
def test_the_status_is_the_furthest_step_reached(kw, status):
    assert rules.status(facts(**kw)) is status


def test_first_contact_is_due_15_days_after_arrival():
    assert rules.due_on(facts(), DEFAULT) == dt.date(2026, 11, 16)


@pytest.mark.parametrize("kw", [{"urgent_referral": True}, {"protection_risk": True}])
def test_urgent_referrals_and_protection_cases_are_due_in_3_days(kw):
    assert rules.due_on(facts(**kw), DEFAULT) == dt.date(2026, 11, 4)


def test_the_delays_come_from_the_settings():
    settings = Settings(first_contact_days=10, urgent_first_contact_days=1, next_contact_days=7)
    assert rules.due_on(facts(), settings) == dt.date(2026, 11, 11)
    assert rules.due_on(facts(protection_risk=True), settings) == dt.date(2026, 11, 2)
    assert rules.due_on(facts(last_contact_on=dt.date(2026, 11, 5)), settings) == dt.date(2026, 11, 12)


def test_a_contact_sets_the_next_due_date_or_30_days_after_it():
    contacted = dt.date(2026, 11, 10)
    assert rules.due_on(facts(last_contact_on=contacted, next_contact_on=dt.date(2026, 11, 20)), DEFAULT) == (
        dt.date(2026, 11, 20)
    )
    assert rules.due_on(facts(last_contact_on=contacted), DEFAULT) == dt.date(2026, 12, 10)


@pytest.mark.parametrize(
    "kw", [{"linked": True}, {"closed": True}, {"closed": True, "protection_risk": True}]
)
def test_nothing_is_due_once_linked_or_closed(kw):
    assert rules.due_on(facts(last_contact_on=ARRIVED, **kw), DEFAULT) is None


def test_a_reopened_case_is_due_again_from_the_reopening():
    reopened = dt.date(2026, 12, 20)
    old_contact = dt.date(2026, 11, 10)
    assert rules.due_on(facts(last_contact_on=old_contact, reopened_on=reopened), DEFAULT) == dt.date(
        2027, 1, 4
    )
    assert rules.due_on(facts(reopened_on=reopened, protection_risk=True), DEFAULT) == dt.date(2026, 12, 23)
    # A contact after the reopening counts again.
    later = dt.date(2026, 12, 22)
    assert rules.due_on(facts(last_contact_on=later, reopened_on=reopened), DEFAULT) == dt.date(2027, 1, 21)


def test_overdue_starts_the_day_after_the_due_date():
    due = dt.date(2026, 11, 16)
    assert not rules.is_overdue(due, dt.date(2026, 11, 15))
    assert not rules.is_overdue(due, due)
    assert rules.is_overdue(due, dt.date(2026, 11, 17))
    assert not rules.is_overdue(None, dt.date(2030, 1, 1))


def test_due_this_week_is_today_and_the_next_six_days():
    today = dt.date(2026, 11, 24)
    assert rules.is_due_this_week(today, today)
    assert rules.is_due_this_week(today + dt.timedelta(days=6), today)
    assert not rules.is_due_this_week(today + dt.timedelta(days=7), today)
    assert not rules.is_due_this_week(today - dt.timedelta(days=1), today)  # overdue, not "this week"
    assert rules.week_end(today) == dt.date(2026, 11, 30)


def test_settings_are_read_from_the_configuration():
    settings = rules.settings_from({"FOLLOWUP_FIRST_CONTACT_DAYS": 20, "FOLLOWUP_NOT_LOCATED_ATTEMPTS": "2"})
    assert settings == Settings(first_contact_days=20, not_located_attempts=2)
