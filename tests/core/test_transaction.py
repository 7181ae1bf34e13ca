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
    from sosep_migrantes.desk import views

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


# -- a service's error, beside its field, after the rollback ------------------------------------------


def test_a_service_error_is_shown_beside_its_field_and_nothing_half_done_is_kept(app, ctx, client):
    """The new name is flushed (the service looks the sede up after setting it) before the service
    refuses a sede user without a sede: the page says so beside the field and the name is not kept."""
    from sosep_migrantes.auth.models import User

    admin = make_user("admin")
    clerk = make_user("reception", centre="FAG")
    clerk_id = clerk.id
    login(client, admin)
    response = client.post(
        f"/admin/users/{clerk_id}",
        data={"full_name": "Nombre Nuevo", "role": "sede", "sede": "NO_EXISTE", "is_active": "true"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert '<p class="error" id="e-sede">Elija una sede de la lista.</p>' in html
    assert 'value="Nombre Nuevo"' in html  # what was typed stays in the form, not in the database
    db.session.expire_all()
    saved = db.session.get(User, clerk_id)
    assert (saved.full_name, saved.role) == ("Usuario reception", "reception")
    assert saved.centre_id is not None


def test_a_service_error_nobody_catches_answers_400_with_the_messages(app, database_url):
    from sosep_migrantes.core.errors import ServiceError
    from tests.conftest import make_app

    test_app = make_app(database_url)

    @test_app.post("/api/test-refused")
    def refused():
        raise ServiceError({"code": "Ya existe una institución con ese código."})

    response = test_app.test_client().post("/api/test-refused")
    assert response.status_code == 400
    assert response.json["errors"] == {"code": "Ya existe una institución con ese código."}
    with test_app.app_context():
        db.engine.dispose()


# -- anything unexpected after a flush: nothing saved ---------------------------------------------------


def test_an_unexpected_error_after_a_flush_leaves_nothing_in_the_database(app, database_url):
    from sosep_migrantes.auth.models import User
    from sosep_migrantes.catalogs.models import Country
    from sosep_migrantes.catalogs.services import by_code
    from sosep_migrantes.core.audit import AuditEvent
    from sosep_migrantes.core.transaction import unit_of_work
    from sosep_migrantes.reception.services import create_arrival
    from tests.conftest import make_app

    test_app = make_app(database_url)

    flushed: list[int] = []

    @test_app.post("/test-breaks-after-a-flush")
    def breaks():
        with unit_of_work():
            user = db.session.scalar(select(User))
            country = by_code(Country, "US")
            data = {"centre": "FAG", "arrived_at": user.created_at, "mode": "air", "country": country}
            flushed.append(create_arrival(data, user).id)  # flushed, with its audit entry
            raise RuntimeError("something nobody expected")

    with test_app.app_context():
        make_user("reception", centre="FAG")
        db.session.remove()
    response = test_app.test_client().post("/test-breaks-after-a-flush")
    assert response.status_code == 500
    assert "Nada se guardó" in response.get_data(as_text=True)
    assert flushed and flushed[0] is not None
    with test_app.app_context():
        assert count(Arrival) == 0
        assert db.session.scalars(select(AuditEvent.action)).all() == ["user:create"]
        db.session.remove()
        db.engine.dispose()


# -- which errors are a one-time token taken (real errors from the database in use) ---------------------


def test_a_token_taken_at_a_flush_or_at_the_commit_is_already_saved(app, ctx):
    from sqlalchemy import update

    from sosep_migrantes.core.transaction import AlreadySaved, unit_of_work

    user = make_user("reception", centre="FAG")
    arrival = make_arrival(user)
    first = make_family(user, arrival, submission_token="a" * 32)
    second_id = make_family(user, arrival).id
    with pytest.raises(AlreadySaved), unit_of_work():  # an UPDATE executed at once
        db.session.execute(
            update(FamilyUnit)
            .where(FamilyUnit.id == second_id)
            .values(submission_token=first.submission_token)
        )
    with pytest.raises(AlreadySaved), unit_of_work():  # a change flushed by the commit itself
        db.session.get(FamilyUnit, second_id).submission_token = "a" * 32
    assert db.session.get(FamilyUnit, second_id).submission_token is None  # rolled back


def test_any_other_integrity_error_is_not_mistaken_for_a_form_sent_twice(app, ctx):
    from sqlalchemy.exc import IntegrityError

    from sosep_migrantes.auth.models import User
    from sosep_migrantes.core.transaction import AlreadySaved, unit_of_work

    taken, other = make_user("coordinator"), make_user("coordinator")
    with pytest.raises(IntegrityError) as raised, unit_of_work():
        db.session.get(User, other.id).username = taken.username
    assert not isinstance(raised.value, AlreadySaved)
    assert db.session.get(User, other.id).username != taken.username
