"""Statuses, roles, modes and kinds: typed once as enums, constrained by the database from that definition."""

from __future__ import annotations

import pytest
from sqlalchemy import Enum, inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from sosep_migrantes import _register_models
from sosep_migrantes.cases.models import CaseStatus, FamilyUnit, Member
from sosep_migrantes.catalogs.models import Need
from sosep_migrantes.catalogs.services import by_code, centre_by_code
from sosep_migrantes.core.permissions import Role
from sosep_migrantes.core.timeutil import today_local
from sosep_migrantes.extensions import db
from sosep_migrantes.followup import services as followup_services
from sosep_migrantes.needs import services as need_services
from sosep_migrantes.needs.models import NeedStatus
from sosep_migrantes.referrals.models import Priority, Referral, ReferralStatus
from sosep_migrantes.returnees.services import link_returnee
from tests.factories import make_arrival, make_family, make_user, member
from tests.referrals.helpers import refer


def enum_columns():
    """(table, column, enum class) of every enum column the models declare."""
    _register_models()
    return sorted(
        (table.name, column.name, column.type.enum_class)
        for table in db.metadata.tables.values()
        for column in table.columns
        if isinstance(column.type, Enum)
    )


ENUM_COLUMNS = enum_columns()


def test_every_status_role_mode_priority_and_kind_column_is_an_enum():
    assert {(table, column) for table, column, _enum in ENUM_COLUMNS} == {
        ("arrivals", "mode"),
        ("case_closures", "kind"),
        ("case_closures", "reason"),
        ("followups", "contact_type"),
        ("followups", "outcome"),
        ("centres", "mode"),
        ("family_needs", "status"),
        ("family_units", "consent_type"),
        ("family_units", "status"),
        ("institutions", "kind"),
        ("member_keys", "kind"),
        ("members", "pregnancy"),
        ("members", "sex"),
        ("number_sequences", "kind"),
        ("referral_events", "from_status"),
        ("referral_events", "to_status"),
        ("referrals", "priority"),
        ("referrals", "status"),
        ("returnee_links", "decision"),
        ("users", "role"),
    }


def test_each_enum_column_has_its_check_named_after_it_in_the_migrated_database(app):
    with app.app_context():
        inspector = inspect(db.engine)
        for table, column, _enum in ENUM_COLUMNS:
            names = {c["name"] for c in inspector.get_check_constraints(table)}
            assert f"ck_{table}_{column}" in names, (table, names)


@pytest.fixture
def case_with_everything(app, ctx):
    """A user, an arrival, a family with a need, a sent referral, a follow-up and its closure: a row in
    every table with an enum."""
    user = make_user("reception", centre="FAG")
    family = make_family(user, make_arrival(user))
    need_services.record_needs(
        family, [{"need": by_code(Need, "FOOD"), "action": NeedStatus.IDENTIFIED}], user
    )
    db.session.commit()
    refer(family, user, "SOSEP_SEDES", send=True)
    followup_services.record_followup(
        family,
        {"contacted_on": today_local(), "contact_type": "phone", "outcome": "declined"},
        user,
    )
    followup_services.close(family, {"reason": "declined"}, user)
    db.session.commit()
    # The same person back again, linked as a re-migration (returnee_links).
    head = family.members[0]
    again = make_family(user, make_arrival(user), members=[member(head.given_names, head.surnames, age=33)])
    link_returnee(user, again.members[0].id, head.id)
    db.session.commit()
    return family


@pytest.mark.parametrize(("table", "column"), [(t, c) for t, c, _e in ENUM_COLUMNS])
def test_the_database_refuses_a_value_outside_the_enum(case_with_everything, table, column):
    """Written straight through SQL (as a script or the bulk loader would), past the ORM's own check."""
    assert db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar() > 0  # noqa: S608
    with pytest.raises(IntegrityError):
        db.session.execute(text(f"UPDATE {table} SET {column} = 'bogus'"))  # noqa: S608
        db.session.flush()
    db.session.rollback()


def test_values_are_stored_as_the_same_strings_and_read_back_as_members(case_with_everything):
    family_id = case_with_everything.id
    stored = db.session.execute(
        text(
            "SELECT f.status, f.consent_type, m.sex FROM family_units f JOIN members m ON m.family_id = f.id "
            "WHERE f.id = :id ORDER BY m.position"
        ),
        {"id": family_id},
    ).first()
    assert tuple(stored) == ("closed", "written", "F")
    db.session.expire_all()
    family = db.session.get(FamilyUnit, family_id)
    assert family.status is CaseStatus.CLOSED
    assert tuple(db.session.execute(text("SELECT status, priority FROM referrals")).one()) == (
        "sent",
        "normal",
    )
    referral = db.session.scalars(select(Referral)).one()
    assert (referral.status, referral.priority) == (ReferralStatus.SENT, Priority.NORMAL)
    assert type(referral.status) is ReferralStatus and type(referral.priority) is Priority


def test_the_orm_refuses_a_string_outside_the_enum_before_the_database_sees_it(case_with_everything):
    member = db.session.scalars(select(Member)).first()
    member.sex = "X"
    with pytest.raises(StatementError) as error:
        db.session.flush()
    assert isinstance(error.value.orig, LookupError)
    db.session.rollback()


def test_a_value_string_is_accepted_where_the_member_is_expected(app, ctx):
    user = make_user("coordinator")
    user.centre_id = centre_by_code("FAG").id
    user.role = "reception"  # what a form or a CSV gives
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(type(user), user.id).role is Role.RECEPTION
