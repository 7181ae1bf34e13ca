"""Rules pages and services share, decided once: which referral has a slip, who a family may be referred."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from sosep_migrantes.cases.models import ConsentType, FamilyUnit
from sosep_migrantes.catalogs.models import Institution, InstitutionKind
from sosep_migrantes.extensions import db
from sosep_migrantes.referrals.models import Referral, ReferralStatus
from tests.factories import make_arrival, make_family, make_user
from tests.referrals.helpers import refer

S = ReferralStatus
WITH_SLIP = {S.SENT, S.ACCEPTED, S.REJECTED, S.ATTENDED, S.NOT_LOCATED}


@pytest.mark.parametrize("status", list(ReferralStatus))
def test_a_referral_has_a_slip_once_sent_unless_cancelled(status):
    assert Referral(status=status).has_slip is (status in WITH_SLIP)
    assert Referral(status=status.value).has_slip is (status in WITH_SLIP)  # as a form would set it


def test_the_query_and_the_page_agree_on_which_referrals_have_a_slip(app, ctx):
    user = make_user("reception", centre="FAG")
    family = make_family(user, make_arrival(user))
    ids = {status: refer(family, user, "SOSEP_SEDES").id for status in ReferralStatus}
    for status, referral_id in ids.items():
        db.session.execute(update(Referral).where(Referral.id == referral_id).values(status=status))
    db.session.commit()
    with_slip = set(db.session.scalars(select(Referral.id).where(Referral.has_slip)))
    assert with_slip == {ids[s] for s in WITH_SLIP}
    assert {r.id for r in db.session.scalars(select(Referral)) if r.has_slip} == with_slip


@pytest.mark.parametrize(
    ("consent", "is_sosep", "allowed"),
    [
        (ConsentType.REFUSED, True, True),  # SOSEP's own programmes need no consent
        (ConsentType.REFUSED, False, False),
        (ConsentType.WRITTEN, False, True),
        (ConsentType.VERBAL_WITNESS, False, True),
        (ConsentType.WRITTEN, True, True),
    ],
)
def test_who_a_family_may_be_referred_to(consent, is_sosep, allowed):
    institution = Institution(
        is_sosep=is_sosep, kind=InstitutionKind.SOSEP if is_sosep else InstitutionKind.NGO
    )
    family = FamilyUnit(consent_type=consent)
    assert family.has_consent is (consent is not ConsentType.REFUSED)
    assert family.may_refer_to(institution) is allowed
