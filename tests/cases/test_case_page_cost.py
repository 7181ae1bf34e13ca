"""The case page's cost in SQL: a fixed, small number of statements, however much the case holds.

At national scale the page is among the busiest (issue #6): it ran about 24 statements for a typical case,
over 30 for a case at risk, because the timeline read again the referrals, needs and follow-ups its
sections list, and the access log's commit made the page read the case once more. Each statement costs
more in Python than in PostgreSQL, so their number is what a person waiting for the page notices.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from sqlalchemy import event

from sosep_migrantes.catalogs.models import Municipality, Need
from sosep_migrantes.catalogs.services import by_code
from sosep_migrantes.core.timeutil import LOCAL_TZ, today_local
from sosep_migrantes.extensions import db
from sosep_migrantes.followup import services as followup
from sosep_migrantes.needs import services as needs
from sosep_migrantes.referrals import services as referrals
from sosep_migrantes.returnees.services import link_returnee
from tests.factories import login, make_arrival, make_family, make_user, member
from tests.referrals.helpers import refer
from tests.referrals.partners import make_partner

#: Statements of the page of a case with every kind of row (see :func:`full_case`), as the coordinator:
#: the session and its user; the case with its migration reasons and protection causes, its members with
#: their languages; the access log; the timeline's events; referrals and their steps; needs with their
#: services; contacts, linkages, transfers and closures; the institutions (suggestions); re-migrations
#: (links, the other records, their sedes); the case's sede; possible duplicates. The same page ran 35
#: before the sections shared what they read.
MAX_STATEMENTS = 18

CUI = "2456789050101"
NEBAJ = 1413  # Santa María Nebaj, Quiché


def full_case(rounds: int) -> tuple[int, SimpleNamespace]:
    """A case at risk with ``rounds`` of needs, referrals (answered by a partner), contacts and linkages,
    a transfer, a closure and a reopening, a re-migration linked and a possible duplicate; and who reads
    it (a coordinator), as what ``login`` needs."""
    desk = make_user("reception", centre="FAG")
    huehue = make_user("sede", sede="HUEHUETENANGO")
    coordinator = make_user("coordinator")
    oim = make_partner("OIM")
    arrived = dt.datetime.combine(today_local() - dt.timedelta(days=10), dt.time(9, 0), tzinfo=LOCAL_TZ)
    earlier = make_family(
        desk,
        make_arrival(desk, when=dt.datetime(2024, 3, 5, 9, 0, tzinfo=LOCAL_TZ)),
        members=[member(cui=CUI)],
    )
    family = make_family(
        desk,
        make_arrival(desk, when=arrived),
        protection_causes=["THREATS"],
        migration_reasons=["UNEMPLOYMENT"],
        members=[
            member(cui=CUI, languages=["ES", "ACHI"], needs_interpreter=True),
            member("José", "López Pérez", sex="M", relationship="SON", age=8, languages=["ES"]),
            member("Ana", "López Pérez", relationship="DAUGHTER", age=3),
        ],
    )
    head = family.members[0]
    for n in range(rounds):
        needs.record_needs(
            family,
            [
                {"need": by_code(Need, "FOOD"), "action": "identified"},
                {"need": by_code(Need, "HYGIENE_KIT"), "action": "attended", "delivered_by": "Centro"},
            ],
            desk,
        )
        referral = refer(family, desk, "OIM", send=True)
        referrals.change_status(referral, "accepted", None, oim)
        followup.record_followup(
            family,
            {"contacted_on": today_local(), "contact_type": "phone", "outcome": "located", "notes": "Bien."},
            huehue,
        )
        followup.link(
            family,
            {"linked_on": today_local(), "outside_service": f"Escuela {n}", "member_id": head.id},
            huehue,
        )
        db.session.commit()
    followup.transfer(
        family, {"municipality": db.session.get(Municipality, NEBAJ), "reason": "Mudanza."}, huehue
    )
    followup.close(family, {"reason": "remigrated"}, coordinator)
    followup.reopen(family, {"note": "Volvió."}, coordinator)
    link_returnee(coordinator, head.id, earlier.members[0].id)
    db.session.commit()
    reader = SimpleNamespace(
        id=coordinator.id, username=coordinator.username, totp_secret=coordinator.totp_secret
    )
    return family.id, reader


@contextmanager
def counted_statements() -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def statements_of_the_page(app, client, rounds: int) -> list[str]:
    # Built in a context of its own and read by the client alone, as a browser would: the page's
    # request starts with nothing loaded or cached.
    with app.test_request_context():
        family_id, reader = full_case(rounds)
    login(client, reader)
    with app.app_context(), counted_statements() as seen:
        page = client.get(f"/cases/{family_id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    # The page shows what the statements are counted for.
    for shown in (
        "Riesgo de protección",
        "Posible registro duplicado",
        "Escuela 0",
        "Bien.",
        "Caso reabierto",
    ):
        assert shown in text, shown
    assert text.count("registro anterior") >= 1
    return seen


@pytest.mark.parametrize("rounds", [1, 4])
def test_the_case_page_runs_a_fixed_small_number_of_statements(app, client, rounds):
    seen = statements_of_the_page(app, client, rounds)
    assert len(seen) <= MAX_STATEMENTS, "\n\n".join(seen)
