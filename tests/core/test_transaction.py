"""The one write path (``core/transaction.py``): one commit per request, a rollback on any error, and a
form sent twice at the same moment answered with what the first one saved, never a 500 or a copy."""

from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import func, select

from sosep_migrantes.cases.models import FamilyUnit
from sosep_migrantes.extensions import db
from sosep_migrantes.reception.models import Arrival
from sosep_migrantes.referrals.models import Referral
from tests.factories import family_payload, form_data, login, make_arrival, make_family, make_user

TOKEN = re.compile(r'name="submission_token" value="([0-9a-f]{32})"')


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def blind_once(monkeypatch, module, name: str) -> None:
    """The next "already submitted?" check answers None, as it does for a request that read before the
    other one committed: the request goes on to the flush and meets the unique constraint instead."""
    real = getattr(module, name)
    calls = {"n": 0}

    def racing(*args, **kwargs):
        calls["n"] += 1
        return None if calls["n"] == 1 else real(*args, **kwargs)

    monkeypatch.setattr(module, name, racing)


def family_form(client, arrival_id: int) -> dict:
    page = client.get(f"/arrivals/{arrival_id}/families/new").get_data(as_text=True)
    return {**form_data(family_payload()), "submission_token": TOKEN.search(page).group(1)}


def referral_form(client, family) -> dict:
    url = f"/cases/{family.id}/referrals/new?institution=SOSEP_SEDES"
    page = client.get(url).get_data(as_text=True)
    return {
        "institution": "SOSEP_SEDES",
        "member_ids": [str(m.id) for m in family.members],
        "reason": "Seguimiento",
        "send": "true",
        "submission_token": TOKEN.search(page).group(1),
    }


# -- the one-time token race ------------------------------------------------------------------------


def test_a_family_form_racing_past_the_token_check_is_already_saved_not_a_500(app, ctx, client, monkeypatch):
    from sosep_migrantes.reception import views

    user = make_user("reception", centre="FAG")
    arrival_id = make_arrival(user).id
    login(client, user)
    form = family_form(client, arrival_id)
    first = client.post(f"/arrivals/{arrival_id}/families/new", data=form)
    blind_once(monkeypatch, views, "submitted_family")
    again = client.post(f"/arrivals/{arrival_id}/families/new", data=form)
    assert first.status_code == again.status_code == 302
    assert again.location == first.location
    shown = client.get(again.location).get_data(as_text=True)
    assert "Esta unidad familiar ya estaba guardada como FAG-2026-00001." in shown
    assert count(FamilyUnit) == 1
    # The number the second request took was rolled back with it: the next family is 00002.
    assert make_family(user, db.session.get(Arrival, arrival_id)).case_number == "FAG-2026-00002"


def test_a_referral_form_racing_past_the_token_check_is_already_saved_not_a_500(
    app, ctx, client, monkeypatch
):
    from sosep_migrantes.referrals import services

    user = make_user("reception", centre="FAG")
    family = make_family(user, make_arrival(user))
    login(client, user)
    form = referral_form(client, family)
    first = client.post(f"/cases/{family.id}/referrals/new", data=form)
    blind_once(monkeypatch, services, "submitted_referral")
    again = client.post(f"/cases/{family.id}/referrals/new", data=form)
    assert first.status_code == again.status_code == 302
    assert again.location == first.location
    assert "ya estaba guardada como REF-FAG-2026-00001" in client.get(again.location).get_data(as_text=True)
    assert count(Referral) == 1


def _post_at_once(app, user, url: str, form: dict, times: int = 5) -> list[int]:
    """``times`` desks post the same form at the same moment, each with its own session and connection."""
    clients = [app.test_client() for _ in range(times)]
    for c in clients:
        login(c, user)
    start = threading.Barrier(times)
    statuses: list[int] = []
    failures: list[BaseException] = []

    def desk(c) -> None:
        try:
            start.wait(timeout=10)
            statuses.append(c.post(url, data=form).status_code)
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=desk, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    return statuses


def test_five_simultaneous_posts_of_one_family_form_save_one_family(app, is_postgres):
    if not is_postgres:
        pytest.skip("SQLite serialises writers: the race needs a server that runs them at once")
    with app.test_request_context():
        user = make_user("reception", centre="FAG")
        arrival_id = make_arrival(user).id
        client = app.test_client()
        login(client, user)
        form = family_form(client, arrival_id)
    statuses = _post_at_once(app, user, f"/arrivals/{arrival_id}/families/new", form)
    assert statuses == [302] * 5
    with app.app_context():
        assert count(FamilyUnit) == 1
        db.session.remove()


def test_five_simultaneous_posts_of_one_referral_form_save_one_referral(app, is_postgres):
    if not is_postgres:
        pytest.skip("SQLite serialises writers: the race needs a server that runs them at once")
    with app.test_request_context():
        user = make_user("reception", centre="FAG")
        family = make_family(user, make_arrival(user))
        client = app.test_client()
        login(client, user)
        form = referral_form(client, family)
        url = f"/cases/{family.id}/referrals/new"
    statuses = _post_at_once(app, user, url, form)
    assert statuses == [302] * 5
    with app.app_context():
        assert count(Referral) == 1
        db.session.remove()
