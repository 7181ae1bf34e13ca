"""Case numbers under load: many desks registering on the same centre and year at the same moment.

Each thread is a desk with its own application context, session and database connection. On
PostgreSQL the counter row's lock queues them; SQLite serialises writers itself (busy timeout).
"""

from __future__ import annotations

import threading

from sqlalchemy import select

from sosep_migrantes.auth.models import User
from sosep_migrantes.cases.models import FamilyUnit, Member
from sosep_migrantes.cases.schemas import FamilyUnitSchema
from sosep_migrantes.cases.services import register_family
from sosep_migrantes.extensions import db
from sosep_migrantes.reception.models import Arrival
from tests.factories import family_payload, make_arrival, make_user, member

DESKS = 6
FAMILIES_PER_DESK = 5


def test_concurrent_registrations_get_distinct_consecutive_case_numbers(app):
    with app.app_context():
        user = make_user("reception", centre="FAG")
        user_id, arrival_id = user.id, make_arrival(user).id
        db.session.remove()

    start = threading.Barrier(DESKS)
    failures: list[BaseException] = []

    def desk(number: int) -> None:
        try:
            with app.app_context():
                start.wait(timeout=10)
                for i in range(FAMILIES_PER_DESK):
                    data = FamilyUnitSchema().load(
                        family_payload(members=[member(f"Persona {number}-{i}", f"Mesa {number}")])
                    )
                    register_family(db.session.get(Arrival, arrival_id), data, db.session.get(User, user_id))
                    db.session.commit()
                db.session.remove()
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=desk, args=(n,)) for n in range(DESKS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    assert not any(thread.is_alive() for thread in threads)

    total = DESKS * FAMILIES_PER_DESK
    with app.app_context():
        numbers = db.session.scalars(select(FamilyUnit.case_number).order_by(FamilyUnit.case_number)).all()
        assert numbers == [f"FAG-2026-{n:05d}" for n in range(1, total + 1)]
        # Every family kept its own member: nothing was mixed up between desks.
        people = db.session.execute(select(Member.family_id, Member.given_names)).all()
        assert (
            len({family for family, _ in people}) == len({name for _, name in people}) == len(people) == total
        )
        # The counter stands at 30: the next family of that centre and year is number 31.
        data = FamilyUnitSchema().load(family_payload())
        after = register_family(db.session.get(Arrival, arrival_id), data, db.session.get(User, user_id))
        assert after.case_number == f"FAG-2026-{total + 1:05d}"
        db.session.rollback()
