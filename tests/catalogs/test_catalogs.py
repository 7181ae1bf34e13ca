"""Reference data: the territory, sedes and centres as shipped, and the admin's sede coverage page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import distinct, func, select

from sosep_migrantes.catalogs.models import Centre, Department, Municipality, Sede, sede_municipalities
from sosep_migrantes.catalogs.services import (
    load_catalogs,
    sede_by_code,
    sede_for_municipality,
    set_sede_coverage,
)
from sosep_migrantes.extensions import db
from tests.factories import PASSWORD, make_arrival, make_family, make_user

CUILCO = 1304


def count(what) -> int:
    return db.session.scalar(select(func.count(what)))


def test_the_territory_sedes_and_centres_are_complete(app, ctx):
    assert count(Department.id) == 22
    assert count(Municipality.id) == 340
    assert count(Sede.id) == 24
    assert set(db.session.scalars(select(Centre.code))) == {"FAG", "LA_AURORA", "TECUN_UMAN"}
    assert db.session.get(Municipality, 1333).label == "Petatán, Huehuetenango"
    assert db.session.get(Municipality, 108).label == "Mixco, Guatemala"
    per_department = dict(
        db.session.execute(
            select(Municipality.department_id, func.count()).group_by(Municipality.department_id)
        ).all()
    )
    assert per_department[13] == 33


def test_every_municipality_is_followed_up_by_exactly_one_sede(app, ctx):
    assert count(sede_municipalities.c.municipality_id) == 340
    assert count(distinct(sede_municipalities.c.municipality_id)) == 340
    assert sede_for_municipality(CUILCO).code == "HUEHUETENANGO"
    assert sede_for_municipality(1217).code == "MALACATAN"  # Ayutla, where Tecún Umán is
    # Every sede covers part of its own department (Boca Costa and Malacatán share theirs).
    for sede in db.session.scalars(select(Sede)):
        assert sede.municipalities, sede.code
        assert sede.department_id in {m.department_id for m in sede.municipalities}, sede.code


def test_loading_the_catalogues_again_adds_nothing(app, ctx):
    added = load_catalogs()
    assert added and set(added.values()) == {0}
    assert count(Municipality.id) == 340
    assert count(sede_municipalities.c.municipality_id) == 340


@pytest.fixture
def coverage_restored(app) -> Iterator[None]:
    """The coverage is shared by the whole test session: put it back as shipped afterwards."""
    with app.app_context():
        original = {s.code: [m.id for m in s.municipalities] for s in db.session.scalars(select(Sede))}
        db.session.remove()
    yield
    with app.app_context():
        for code in ("QUICHE", "HUEHUETENANGO"):
            set_sede_coverage(sede_by_code(code), original[code])
        db.session.commit()
        assert {
            s.code: [m.id for m in s.municipalities] for s in db.session.scalars(select(Sede))
        } == original
        db.session.remove()


def test_admin_moves_a_municipality_to_another_sede_and_its_cases_follow(app, coverage_restored):
    with app.app_context():
        staff = make_user("coordinator")
        family_id = make_family(staff, make_arrival(staff), municipality=CUILCO).id
        quiche = sede_by_code("QUICHE")
        quiche_id, quiche_covers = quiche.id, [m.id for m in quiche.municipalities]
        admin, huehue_user, quiche_user = (
            make_user("admin").username,
            make_user("sede", sede="HUEHUETENANGO").username,
            make_user("sede", sede="QUICHE").username,
        )
        db.session.remove()
    clients = {}
    for username in (admin, huehue_user, quiche_user):
        clients[username] = app.test_client()
        assert (
            clients[username].post("/login", data={"username": username, "password": PASSWORD}).status_code
            == 302
        )
    assert clients[huehue_user].get(f"/cases/{family_id}").status_code == 200
    assert clients[quiche_user].get(f"/cases/{family_id}").status_code == 404

    page = clients[admin].get(f"/admin/catalogs/sedes/{quiche_id}").get_data(as_text=True)
    assert f'value="{CUILCO}">' in page and "(Sede Departamental de Huehuetenango)" in page
    response = clients[admin].post(
        f"/admin/catalogs/sedes/{quiche_id}",
        data={"municipalities": [str(m) for m in [*quiche_covers, CUILCO]]},
    )
    assert (response.status_code, response.location) == (302, "/admin/catalogs/sedes")
    assert "1 municipio pasó de otra sede a esta." in clients[admin].get(response.location).get_data(
        as_text=True
    )

    with app.app_context():
        assert sede_for_municipality(CUILCO).code == "QUICHE"
        assert CUILCO not in {m.id for m in sede_by_code("HUEHUETENANGO").municipalities}
        assert count(distinct(sede_municipalities.c.municipality_id)) == 340
    assert clients[quiche_user].get(f"/cases/{family_id}").status_code == 200
    assert clients[huehue_user].get(f"/cases/{family_id}").status_code == 404


def test_only_admins_edit_sede_coverage(app):
    with app.app_context():
        username = make_user("coordinator").username
        quiche_id = sede_by_code("QUICHE").id
        db.session.remove()
    client = app.test_client()
    client.post("/login", data={"username": username, "password": PASSWORD})
    assert client.get("/admin/catalogs/sedes").status_code == 403
    assert (
        client.post(f"/admin/catalogs/sedes/{quiche_id}", data={"municipalities": ["1304"]}).status_code
        == 403
    )
    with app.app_context():
        assert sede_for_municipality(CUILCO).code == "HUEHUETENANGO"


@pytest.mark.parametrize("bad", ["99999", "13O4", "١٣٠٤"])
def test_a_coverage_naming_no_municipality_is_refused_and_changes_nothing(app, coverage_restored, bad):
    with app.app_context():
        username = make_user("admin").username
        quiche = sede_by_code("QUICHE")
        quiche_id, before = quiche.id, {m.id for m in quiche.municipalities}
        db.session.remove()
    client = app.test_client()
    client.post("/login", data={"username": username, "password": PASSWORD})
    response = client.post(f"/admin/catalogs/sedes/{quiche_id}", data={"municipalities": [str(CUILCO), bad]})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'href="#f-municipalities"' in page and 'id="f-municipalities"' in page
    with app.app_context():
        assert {m.id for m in sede_by_code("QUICHE").municipalities} == before
        assert sede_for_municipality(CUILCO).code == "HUEHUETENANGO"
