"""Audit actions are an enum: a typo is an error, not a new kind of event; stored rows keep their strings."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from sosep_migrantes.core import audit
from sosep_migrantes.core.audit import ACTION_LABELS, AuditAction, AuditEvent, action_label
from sosep_migrantes.extensions import db
from sosep_migrantes.needs.models import NeedStatus
from sosep_migrantes.needs.services import STATUS_ACTIONS as NEED_ACTIONS
from sosep_migrantes.referrals.services import STATUS_ACTIONS as REFERRAL_ACTIONS
from sosep_migrantes.referrals.services import TRANSITIONS


@pytest.mark.parametrize("action", ["family:create", "family:craete", None])
def test_a_string_is_refused_even_when_it_spells_a_known_action(ctx, action):
    with pytest.raises(TypeError):
        audit.record(action, "family", 1)
    assert not db.session.new


def test_the_stored_action_is_the_same_string_as_before(ctx):
    event = audit.record(AuditAction.FAMILY_CREATE, "family", 1)
    db.session.flush()
    assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.id == event.id)) == "family:create"


def test_every_action_has_a_label_and_an_unknown_stored_one_shows_its_code(ctx):
    assert set(ACTION_LABELS) == set(AuditAction)
    assert action_label("referral:sent") == "Derivación enviada"
    assert action_label("retired:action") == "retired:action"


def test_every_status_a_referral_or_a_need_can_reach_has_its_audit_action():
    reachable = {target for targets in TRANSITIONS.values() for target in targets}
    assert set(REFERRAL_ACTIONS) == reachable
    assert all(action.value == f"referral:{status.value}" for status, action in REFERRAL_ACTIONS.items())
    assert set(NEED_ACTIONS) == set(NeedStatus)
    assert all(action.value == f"need:{status.value}" for status, action in NEED_ACTIONS.items())
