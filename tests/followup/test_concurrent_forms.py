"""The follow-up forms sent several times at the same moment (issue #10, item 5): one contact or one
linkage saved, the other requests answered like a form sent twice, never a 500.

The contact and linkage forms carry a one-time token, like the family and referral forms
(``tests/core/test_transaction.py``): requests that pass the "already saved?" check together meet the
token's unique constraint, and each of them also rewrites the case's status and due date (a versioned
row), so the race is run on PostgreSQL, where the requests really run at once.
"""

from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import func, select

from sosep_migrantes.cases.models import FamilyUnit
from sosep_migrantes.core.timeutil import today_local
from sosep_migrantes.extensions import db
from sosep_migrantes.followup.models import FollowUp, Linkage
from tests.factories import login, make_arrival, make_family, make_user

TOKEN = re.compile(r'name="submission_token" value="([0-9a-f]{32})"')
TIMES = 5

pytestmark = pytest.mark.postgres_only


@pytest.fixture(autouse=True)
def _needs_postgres(is_postgres: bool) -> None:
    if not is_postgres:
        pytest.skip("SQLite serialises writers: the race needs a server that runs them at once")


def post_at_once(app, user, url: str, form: dict | list[dict]) -> list[int]:
    """``TIMES`` clients (each its own session and connection) post the same form (or each its own, from
    a list) at the same moment."""
    forms = form if isinstance(form, list) else [form] * TIMES
    clients = [app.test_client() for _ in range(TIMES)]
    for client in clients:
        login(client, user)
    start = threading.Barrier(TIMES)
    statuses: list[int] = []
    failures: list[BaseException] = []

    def post(client, data: dict) -> None:
        try:
            start.wait(timeout=10)
            statuses.append(client.post(url, data=data).status_code)
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=post, args=(c, f)) for c, f in zip(clients, forms, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    assert not any(thread.is_alive() for thread in threads)
    return statuses


def family_and_form(app, kind: str) -> tuple[object, int, dict]:
    """A Huehuetenango sede user, a family of its territory, and the form's token from its page."""
    with app.test_request_context():
        desk = make_user("reception", centre="FAG")
        sede = make_user("sede", sede="HUEHUETENANGO")
        family_id = make_family(desk, make_arrival(desk)).id
        client = app.test_client()
        login(client, sede)
        page = client.get(f"/cases/{family_id}/{kind}/new").get_data(as_text=True)
        db.session.remove()
    return sede, family_id, {"submission_token": TOKEN.search(page)[1]}


def saved(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_five_simultaneous_posts_of_one_contact_form_save_one_contact(app):
    sede, family_id, form = family_and_form(app, "followups")
    form |= {"contacted_on": today_local().isoformat(), "contact_type": "phone", "outcome": "located"}
    statuses = post_at_once(app, sede, f"/cases/{family_id}/followups/new", form)
    assert statuses == [302] * TIMES
    with app.app_context():
        assert saved(FollowUp) == 1
        assert db.session.get(FamilyUnit, family_id).last_contact_on == today_local()
        db.session.remove()


def test_five_simultaneous_posts_of_one_linkage_form_save_one_linkage(app):
    sede, family_id, form = family_and_form(app, "linkages")
    form |= {"linked_on": today_local().isoformat(), "institution": "SOSEP_HOGARES"}
    statuses = post_at_once(app, sede, f"/cases/{family_id}/linkages/new", form)
    assert statuses == [302] * TIMES
    with app.app_context():
        assert saved(Linkage) == 1
        assert db.session.get(FamilyUnit, family_id).status == "linked"
        db.session.remove()


def test_five_different_contacts_recorded_at_the_same_moment_are_all_saved(app):
    """Five staff record five calls to one family at once: each rewrites the case's status and due dates
    (a versioned row), so four find it moved; they are made again from the case as it is, never a 500."""
    sede, family_id, _form = family_and_form(app, "followups")
    forms = [
        {
            "submission_token": f"{n:032x}",
            "contacted_on": today_local().isoformat(),
            "contact_type": "phone",
            "outcome": "located",
            "notes": f"Llamada {n}",
        }
        for n in range(1, TIMES + 1)
    ]
    statuses = post_at_once(app, sede, f"/cases/{family_id}/followups/new", forms)
    assert statuses == [302] * TIMES
    with app.app_context():
        assert saved(FollowUp) == TIMES
        db.session.remove()
