"""Reference data: the territory, sedes and centres as shipped, and the admin's sede coverage page."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import distinct, func, select

from sosep_migrantes.catalogs.models import (
    Centre,
    Department,
    Institution,
    Municipality,
    Need,
    Sede,
    sede_municipalities,
)
from sosep_migrantes.catalogs.services import (
    INSTITUTION_FIELDS,
    load_catalogs,
    sede_by_code,
    sede_for_municipality,
    set_sede_coverage,
    toggle_need,
)
from sosep_migrantes.extensions import db
from tests.factories import PASSWORD, make_arrival, make_family, make_user, sign_in_as

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
            set_sede_coverage(sede_by_code(code), original[code], confirm_empty=True)
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
        assert sign_in_as(clients[username], username, PASSWORD).status_code == 302
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
    sign_in_as(client, username, PASSWORD)
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
    sign_in_as(client, username, PASSWORD)
    response = client.post(f"/admin/catalogs/sedes/{quiche_id}", data={"municipalities": [str(CUILCO), bad]})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'href="#f-municipalities"' in page and 'id="f-municipalities"' in page
    with app.app_context():
        assert {m.id for m in sede_by_code("QUICHE").municipalities} == before
        assert sede_for_municipality(CUILCO).code == "HUEHUETENANGO"


def _admin_client(app):
    with app.app_context():
        username = make_user("admin").username
        db.session.remove()
    client = app.test_client()
    sign_in_as(client, username, PASSWORD)
    return client


def _coverage(code: str) -> set[int]:
    return {m.id for m in sede_by_code(code).municipalities}


def test_unknown_codes_in_a_coverage_are_named_beside_the_list_and_the_ticks_are_kept(app, coverage_restored):
    """The form used to answer "Cobertura guardada" for some of these; now nothing is saved and the
    admin sees which values were not municipalities, with the boxes ticked as they were sent."""
    client = _admin_client(app)
    with app.app_context():
        quiche_id, before = sede_by_code("QUICHE").id, _coverage("QUICHE")
    sent = [*map(str, sorted(before)), str(CUILCO), "HUE01", "9999"]
    response = client.post(f"/admin/catalogs/sedes/{quiche_id}", data={"municipalities": sent})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "No son municipios del catálogo: «HUE01», «9999». No se guardó nada" in page
    assert 'href="#f-municipalities"' in page and 'id="f-municipalities"' in page
    # Cuilco stays ticked as sent (it is Huehuetenango's), and Quiché's own boxes too.
    assert f'value="{CUILCO}" checked>' in page
    assert all(f'value="{m}" checked>' in page for m in before)
    assert "Cobertura guardada" not in page
    with app.app_context():
        assert _coverage("QUICHE") == before
        assert sede_for_municipality(CUILCO).code == "HUEHUETENANGO"


@pytest.mark.parametrize(
    "form",
    [
        {},
        {"municipalities": [" ", "\t"]},
        {"municipality_codes": ["1301", "1304"]},  # a field the form does not have
        {"municipalities[]": ["1301"]},
    ],
)
def test_a_sede_is_left_without_municipalities_only_when_the_admin_confirms_it(app, coverage_restored, form):
    """Huehuetenango used to be left with 0 municipalities (and its users with no cases) by any of these."""
    client = _admin_client(app)
    with app.app_context():
        huehue_id, before = sede_by_code("HUEHUETENANGO").id, _coverage("HUEHUETENANGO")
    assert len(before) == 33
    response = client.post(f"/admin/catalogs/sedes/{huehue_id}", data=form)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Sede Departamental de Huehuetenango quedaría sin municipios" in page
    assert 'href="#f-confirm_empty"' in page and 'id="f-confirm_empty"' in page
    assert "Confirmo que la sede queda sin municipios" in page
    with app.app_context():
        assert _coverage("HUEHUETENANGO") == before

    confirmed = client.post(f"/admin/catalogs/sedes/{huehue_id}", data={**form, "confirm_empty": "true"})
    assert (confirmed.status_code, confirmed.location) == (302, "/admin/catalogs/sedes")
    with app.app_context():
        assert _coverage("HUEHUETENANGO") == set()


def test_taking_every_municipality_of_another_sede_needs_the_same_confirmation(app, coverage_restored):
    client = _admin_client(app)
    with app.app_context():
        quiche_id, quiche = sede_by_code("QUICHE").id, _coverage("QUICHE")
        huehue = _coverage("HUEHUETENANGO")
    form = {"municipalities": [str(m) for m in sorted(quiche | huehue)]}
    response = client.post(f"/admin/catalogs/sedes/{quiche_id}", data=form)
    assert response.status_code == 400
    assert "Sede Departamental de Huehuetenango quedaría sin municipios" in response.get_data(as_text=True)
    with app.app_context():
        assert (_coverage("QUICHE"), _coverage("HUEHUETENANGO")) == (quiche, huehue)

    response = client.post(f"/admin/catalogs/sedes/{quiche_id}", data={**form, "confirm_empty": "true"})
    assert response.status_code == 302
    with app.app_context():
        assert (_coverage("QUICHE"), _coverage("HUEHUETENANGO")) == (quiche | huehue, set())


# -- the institution form ------------------------------------------------------------------------------


@pytest.fixture
def oim_restored(app) -> Iterator[None]:
    """Institutions and needs are shared by the whole session: put OIM and the needs back afterwards."""
    with app.app_context():
        oim = db.session.scalar(select(Institution).where(Institution.code == "OIM"))
        saved = ({f: getattr(oim, f) for f in INSTITUTION_FIELDS}, [n.id for n in oim.needs])
        active = {n.id: n.is_active for n in db.session.scalars(select(Need))}
        db.session.remove()
    yield
    with app.app_context():
        oim = db.session.scalar(select(Institution).where(Institution.code == "OIM"))
        for field, value in saved[0].items():
            setattr(oim, field, value)
        oim.needs = [db.session.get(Need, i) for i in saved[1]]
        for need in db.session.scalars(select(Need)):
            need.is_active = active[need.id]
        db.session.commit()
        db.session.remove()


def _oim_form(client, oim_id: int) -> dict[str, list[str]]:
    """What the browser posts back from OIM's page, unchanged: every named input's value."""
    page = client.get(f"/admin/catalogs/institutions/{oim_id}").get_data(as_text=True)
    form: dict[str, list[str]] = {}
    for tag in re.findall(r"<input [^>]*>|<select [^>]*>.*?</select>", page, flags=re.S):
        name = re.search(r'name="([^"]+)"', tag)
        if name is None or name[1] == "csrf_token":
            continue
        if tag.startswith("<select"):
            chosen = re.search(r'<option value="([^"]*)" selected', tag)
            value = chosen[1] if chosen else None
        elif 'type="checkbox"' in tag:
            value = re.search(r'value="([^"]*)"', tag)[1] if " checked" in tag else None
        else:
            value = re.search(r'value="([^"]*)"', tag)[1]
        if value is not None:
            form.setdefault(name[1], []).append(html.unescape(value))
    return form


def test_an_unknown_need_on_an_institution_is_refused_beside_the_needs(app, oim_restored):
    client = _admin_client(app)
    with app.app_context():
        oim = db.session.scalar(select(Institution).where(Institution.code == "OIM"))
        oim_id, needs = oim.id, sorted(n.code for n in oim.needs)
    form = _oim_form(client, oim_id)
    assert sorted(form["needs"]) == needs
    response = client.post(f"/admin/catalogs/institutions/{oim_id}", data={**form, "needs": ["NO_SUCH_NEED"]})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'href="#f-needs"' in page and 'id="f-needs"' in page and 'id="e-needs"' in page
    with app.app_context():
        oim = db.session.get(Institution, oim_id)
        assert sorted(n.code for n in oim.needs) == needs


def test_an_institution_serving_a_need_since_deactivated_can_still_be_saved(app, oim_restored):
    """The form lists every need (an inactive one too, so that it can be unticked); sending the page back
    unchanged used to be refused with "Elija una opción de la lista." beside nothing."""
    client = _admin_client(app)
    with app.app_context():
        oim = db.session.scalar(select(Institution).where(Institution.code == "OIM"))
        oim_id, needs = oim.id, sorted(n.code for n in oim.needs)
        toggle_need(db.session.scalar(select(Need).where(Need.code == "SHELTER")))
        db.session.commit()
    form = _oim_form(client, oim_id)
    response = client.post(f"/admin/catalogs/institutions/{oim_id}", data={**form, "phone": "2222 3333"})
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        oim = db.session.get(Institution, oim_id)
        assert sorted(n.code for n in oim.needs) == needs and oim.phone == "2222 3333"
