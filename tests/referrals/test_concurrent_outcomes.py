"""Two people record different outcomes of the same referral at the same moment: one wins, cleanly."""

from __future__ import annotations

import threading

from sqlalchemy import select

from sosep_migrantes.auth.models import User
from sosep_migrantes.core.errors import ServiceError
from sosep_migrantes.extensions import db
from sosep_migrantes.referrals import services
from sosep_migrantes.referrals.models import Referral, ReferralEvent
from tests.factories import make_arrival, make_family, make_user
from tests.referrals.helpers import refer


def test_simultaneous_accept_and_reject_leave_one_outcome(app):
    with app.app_context():
        user = make_user("reception", centre="FAG")
        family = make_family(user, make_arrival(user))
        referral_id, user_id = refer(family, user, "OIM", send=True).id, user.id
        db.session.remove()

    start = threading.Barrier(2)
    results: dict[str, str] = {}

    def desk(outcome: str, note: str | None) -> None:
        with app.test_request_context():
            start.wait(timeout=10)
            user = db.session.get(User, user_id)
            referral = services.get_referral(user, referral_id, for_update=True)
            try:
                services.change_status(referral, outcome, note, user)
                db.session.commit()
                results[outcome] = "done"
            except ServiceError:
                db.session.rollback()
                results[outcome] = "refused"
            finally:
                db.session.remove()

    threads = [
        threading.Thread(target=desk, args=("accepted", None)),
        threading.Thread(target=desk, args=("rejected", "Sin cupo")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(results.values()) == ["done", "refused"]
    winner = next(outcome for outcome, result in results.items() if result == "done")
    with app.app_context():
        assert db.session.get(Referral, referral_id).status == winner
        steps = db.session.scalars(
            select(ReferralEvent.to_status)
            .where(ReferralEvent.referral_id == referral_id)
            .order_by(ReferralEvent.id)
        ).all()
        assert steps == ["draft", "sent", winner]
