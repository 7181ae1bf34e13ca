"""A request that wrote nothing ends with COMMIT (psycopg keeps its prepared statements); one that flushed
without committing is still rolled back, so nothing half-done is kept."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from sosep_migrantes.catalogs.models import Country
from sosep_migrantes.catalogs.services import by_code
from sosep_migrantes.extensions import db
from sosep_migrantes.reception.models import Arrival
from sosep_migrantes.reception.services import create_arrival
from tests.conftest import make_app
from tests.factories import login, make_user


@pytest.fixture
def endings() -> Iterator[list[str]]:
    """How each session transaction ended, in order ("commit" or "rollback")."""
    seen: list[str] = []

    def committed(session: Session) -> None:
        seen.append("commit")

    def rolled_back(session: Session, previous: object) -> None:
        seen.append("rollback")

    event.listen(Session, "after_commit", committed)
    event.listen(Session, "after_soft_rollback", rolled_back)
    yield seen
    event.remove(Session, "after_commit", committed)
    event.remove(Session, "after_soft_rollback", rolled_back)


def test_a_page_that_only_reads_ends_its_transaction_with_a_commit(app, client, endings):
    with app.app_context():
        user = make_user("coordinator")
        login(client, user)
        db.session.remove()
    endings.clear()
    assert client.get("/cases/").status_code == 200
    assert endings == ["commit"]


def test_a_request_that_flushed_without_committing_saves_nothing(app, database_url, endings):
    test_app = make_app(database_url)

    @test_app.get("/test-flushes-and-forgets")
    def flushes_and_forgets():
        user = make_user("reception", centre="FAG")  # committed by the factory
        data = {
            "centre": "FAG",
            "arrived_at": user.created_at,
            "mode": "air",
            "country": by_code(Country, "US"),
        }
        create_arrival(data, user)
        db.session.flush()  # flushed, never committed: a bug in a view must not save it
        return "ok"

    assert test_app.test_client().get("/test-flushes-and-forgets").status_code == 200
    assert endings == ["commit"]  # the factory's; the request's own transaction was not committed
    with test_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Arrival)) == 0
        db.session.remove()
        db.engine.dispose()
