"""Needs checklist and services delivered at the centre: POST /cases/<id>/needs and .../attend."""

from __future__ import annotations

import html as htmllib
import re

from sqlalchemy import func, select

from sosep_migrantes.core.audit import AuditEvent
from sosep_migrantes.core.errors import ServiceError
from sosep_migrantes.extensions import db
from sosep_migrantes.needs.models import FamilyNeed, ServiceDelivery
from tests.factories import login, make_arrival, make_family, make_user, member

ROW_NEED = re.compile(r'name="items-(\d+)-need" value="([A-Z_]+)"')


def checklist(client, family_id: int, rows: dict[str, dict], delivered_by: str | None = "") -> dict:
    """The form exactly as the browser posts it: every catalogue row, blank unless filled in ``rows``."""
    page = client.get(f"/cases/{family_id}/needs")
    assert page.status_code == 200
    found = ROW_NEED.findall(page.get_data(as_text=True))
    assert len(found) == 20, "one checklist row per need of the catalogue"
    data = {"delivered_by": delivered_by or ""}
    for index, code in found:
        row = rows.get(code, {})
        data[f"items-{index}-need"] = code
        for field in ("action", "member_id", "quantity", "notes"):
            data[f"items-{index}-{field}"] = str(row.get(field, ""))
    return data


def identify(client, family_id: int, code: str) -> None:
    response = client.post(
        f"/cases/{family_id}/needs", data=checklist(client, family_id, {code: {"action": "identified"}})
    )
    assert response.status_code == 302


def row_with(html: str, text: str) -> str:
    """The first table row holding ``text``."""
    for chunk in html.split("<tr")[1:]:
        row = chunk.split("</tr>")[0]
        if text in row:
            return row
    raise AssertionError(f"no row with {text!r}")


def row_html(html: str, code: str) -> str:
    """The checklist's row of one need."""
    return row_with(html, f'value="{code}"')


def setup_family(**payload):
    user = make_user("reception", centre="FAG")
    arrival = make_arrival(user)
    family = make_family(user, arrival, **payload)
    return user, arrival, family


def saved_needs() -> list[FamilyNeed]:
    db.session.expire_all()
    return list(db.session.scalars(select(FamilyNeed).order_by(FamilyNeed.id)))


def test_checklist_records_identified_and_attended_rows(app, ctx, client):
    user, _, family = setup_family()
    family_id, son_id = family.id, family.members[1].id
    login(client, user)
    data = checklist(
        client,
        family_id,
        {
            "HYGIENE_KIT": {"action": "attended", "quantity": 2},
            "CHILD_FOOD": {"action": "attended", "member_id": son_id, "notes": "Sin gluten"},
            "PSYCHOLOGICAL": {"action": "identified", "notes": "Derivar a seguimiento"},
            # Typed something but chose no action: the row is left out.
            "LEGAL": {"notes": "no marcada"},
        },
        delivered_by="Licda. Ana Tzoc",
    )
    response = client.post(f"/cases/{family_id}/needs", data=data)
    assert response.status_code == 302
    assert response.location.endswith(f"/cases/{family_id}#needs")

    needs = {n.need.code: n for n in saved_needs()}
    assert set(needs) == {"HYGIENE_KIT", "CHILD_FOOD", "PSYCHOLOGICAL"}
    kit = needs["HYGIENE_KIT"]
    assert kit.status == "attended" and kit.member_id is None
    assert [(s.quantity, s.delivered_by, s.description) for s in kit.services] == [
        (2, "Licda. Ana Tzoc", "Kit de higiene")
    ]
    food = needs["CHILD_FOOD"]
    assert food.status == "attended" and food.member_id == son_id and food.notes == "Sin gluten"
    assert [(s.quantity, s.delivered_by) for s in food.services] == [(1, "Licda. Ana Tzoc")]
    psych = needs["PSYCHOLOGICAL"]
    assert psych.status == "identified" and psych.services == [] and psych.notes == "Derivar a seguimiento"

    detail = client.get(f"/cases/{family_id}").get_data(as_text=True)
    assert "Kit de higiene" in detail and "2 × Kit de higiene · Licda. Ana Tzoc" in detail
    assert "Atención psicológica" in detail and "Identificada" in detail
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("need:%"))).all()
    assert sorted(actions) == ["need:attended", "need:attended", "need:identified"]


def test_identified_need_later_attended(app, ctx, client):
    user, _, family = setup_family()
    family_id = family.id
    login(client, user)
    client.post(
        f"/cases/{family_id}/needs", data=checklist(client, family_id, {"MEDICAL": {"action": "identified"}})
    )
    [need] = saved_needs()
    assert need.status == "identified"
    page = client.get(f"/cases/{family_id}/needs").get_data(as_text=True)
    assert f"/cases/{family_id}/needs/{need.id}/attend" in page and "Marcar atendida" in page

    response = client.post(
        f"/cases/{family_id}/needs/{need.id}/attend", data={"quantity": "1", "delivered_by": "Pediatra MSPAS"}
    )
    assert response.status_code == 302
    [need] = saved_needs()
    assert need.status == "attended"
    [service] = need.services
    assert (service.quantity, service.delivered_by) == (1, "Pediatra MSPAS")
    assert service.description == "Atención médica"
    assert service.delivered_at is not None and service.created_by_id == user.id
    page = client.get(f"/cases/{family_id}/needs").get_data(as_text=True)
    assert "Atendida en el centro" in page and "Marcar atendida" not in page

    # A second attempt on a need no longer pending is refused and adds nothing.
    again = client.post(f"/cases/{family_id}/needs/{need.id}/attend", data={"delivered_by": "Otra persona"})
    assert again.status_code == 400
    assert "Esta necesidad ya no está pendiente." in row_with(again.get_data(as_text=True), "Pediatra MSPAS")
    assert db.session.scalar(select(func.count()).select_from(ServiceDelivery)) == 1


def test_attend_without_delivered_by_is_refused(app, ctx, client):
    user, _, family = setup_family()
    family_id = family.id
    login(client, user)
    identify(client, family_id, "LEGAL")
    [need] = saved_needs()
    response = client.post(
        f"/cases/{family_id}/needs/{need.id}/attend", data={"quantity": "1", "delivered_by": ""}
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    need_row = row_with(html, f"/needs/{need.id}/attend")
    assert "Este campo es obligatorio." in need_row
    [need] = saved_needs()
    assert need.status == "identified" and need.services == []


def test_identifying_again_completes_rather_than_duplicates(app, ctx, client):
    user, _, family = setup_family()
    family_id = family.id
    login(client, user)
    identify(client, family_id, "CLOTHING")
    client.post(
        f"/cases/{family_id}/needs",
        data=checklist(
            client, family_id, {"CLOTHING": {"action": "attended", "quantity": 3}}, delivered_by="Pedro Sic"
        ),
    )
    [need] = saved_needs()
    assert need.status == "attended"
    assert [(s.quantity, s.delivered_by) for s in need.services] == [(3, "Pedro Sic")]


def test_attended_without_delivered_by_shows_the_error_in_its_row_and_saves_nothing(app, ctx, client):
    user, _, family = setup_family()
    family_id = family.id
    login(client, user)
    data = checklist(
        client,
        family_id,
        {
            "FOOD": {"action": "identified"},
            "HYGIENE_KIT": {"action": "attended", "quantity": 1, "notes": "Kit adulto"},
        },
        delivered_by="",
    )
    response = client.post(f"/cases/{family_id}/needs", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "no se guardó nada" in html
    kit_row = row_html(html, "HYGIENE_KIT")
    assert 'class="has-error"' in kit_row
    assert "Indique quién entregó o atendió." in kit_row
    assert "Indique quién entregó o atendió." not in row_html(html, "FOOD")
    # What was typed is still there.
    assert 'value="attended" selected' in kit_row and 'value="Kit adulto"' in kit_row
    assert 'value="identified" selected' in row_html(html, "FOOD")
    checklist_table = html.split('id="needs-form"')[1]
    assert checklist_table.count("Indique quién entregó o atendió.") == 1
    assert saved_needs() == []


def test_quantity_zero_is_refused_in_its_row(app, ctx, client):
    user, _, family = setup_family()
    family_id = family.id
    login(client, user)
    data = checklist(
        client,
        family_id,
        {
            "FOOD": {"action": "attended", "quantity": 1},
            "HYGIENE_KIT": {"action": "attended", "quantity": 0},
        },
        delivered_by="Ana Tzoc",
    )
    response = client.post(f"/cases/{family_id}/needs", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "La cantidad debe estar entre 1 y 999." in row_html(html, "HYGIENE_KIT")
    assert "La cantidad debe estar entre 1 y 999." not in row_html(html, "FOOD")
    assert saved_needs() == []
    assert db.session.scalar(select(func.count()).select_from(ServiceDelivery)) == 0


def test_member_of_another_family_is_refused(app, ctx, client):
    user, arrival, family = setup_family()
    other = make_family(user, arrival, members=[member("Lucía", "Chávez Ramos")])
    family_id, stranger_id = family.id, other.members[0].id
    login(client, user)
    data = checklist(
        client,
        family_id,
        {
            "FOOD": {"action": "identified"},
            "MEDICAL": {"action": "identified", "member_id": stranger_id},
        },
    )
    response = client.post(f"/cases/{family_id}/needs", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Elija un integrante de esta familia." in row_html(html, "MEDICAL")
    assert saved_needs() == []
    need_events = select(func.count()).select_from(AuditEvent).where(AuditEvent.action.like("need:%"))
    assert db.session.scalar(need_events) == 0


def test_nothing_marked_asks_for_at_least_one_need(app, ctx, client):
    user, _, family = setup_family()
    family_id = family.id
    login(client, user)
    nothing_marked = checklist(client, family_id, {}, delivered_by="Ana")
    response = client.post(f"/cases/{family_id}/needs", data=nothing_marked)
    assert response.status_code == 400
    assert "Marque al menos una necesidad." in htmllib.unescape(response.get_data(as_text=True))
    assert saved_needs() == []


def test_sede_of_another_territory_gets_404(app, ctx, client):
    _, _, family = setup_family()  # destination Cuilco, Huehuetenango
    family_id = family.id
    quiche = make_user("sede", sede="QUICHE")
    login(client, quiche)
    assert client.get(f"/cases/{family_id}/needs").status_code == 404
    form = {"items-0-need": "FOOD", "items-0-action": "identified"}
    assert client.post(f"/cases/{family_id}/needs", data=form).status_code == 404
    assert saved_needs() == []


def test_sede_of_the_territory_records_needs(app, ctx, client):
    _, _, family = setup_family()
    family_id = family.id
    login(client, make_user("sede", sede="HUEHUETENANGO"))
    response = client.post(
        f"/cases/{family_id}/needs", data=checklist(client, family_id, {"SOCIAL": {"action": "identified"}})
    )
    assert response.status_code == 302
    assert [n.need.code for n in saved_needs()] == ["SOCIAL"]


def test_coordinator_can_view_but_not_record(app, ctx, client):
    user, _, family = setup_family()
    family_id = family.id
    login(client, user)
    identify(client, family_id, "LEGAL")
    [need] = saved_needs()
    client.post("/logout")
    login(client, make_user("coordinator"))
    page = client.get(f"/cases/{family_id}/needs")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Asesoría legal" in html
    assert 'id="needs-form"' not in html and "Marcar atendida" not in html
    form = {"items-0-need": "FOOD", "items-0-action": "attended", "delivered_by": "Coordinación"}
    assert client.post(f"/cases/{family_id}/needs", data=form).status_code == 403
    attend = client.post(f"/cases/{family_id}/needs/{need.id}/attend", data={"delivered_by": "X"})
    assert attend.status_code == 403
    assert [(n.need.code, n.status) for n in saved_needs()] == [("LEGAL", "identified")]


def test_a_need_attended_by_someone_else_meanwhile_is_not_counted_twice(app):
    from sosep_migrantes.auth.models import User
    from sosep_migrantes.cases.models import FamilyUnit
    from sosep_migrantes.catalogs.models import Need
    from sosep_migrantes.needs import services

    with app.test_request_context():
        user = make_user("reception", centre="FAG")
        family = make_family(user, make_arrival(user))
        legal = db.session.scalar(select(Need).where(Need.code == "LEGAL"))
        (need,) = services.record_needs(family, [{"need": legal, "action": "identified"}], user)
        db.session.commit()
        need_id, user_id, family_id = need.id, user.id, family.id
        db.session.remove()

    with app.test_request_context():  # desk 1 opened the page: it still sees the need as identified
        stale = db.session.get(FamilyNeed, need_id)
        assert stale.status == "identified"
        with app.app_context():  # desk 2, with a session of its own, attends it first
            fresh = db.session.get(FamilyNeed, need_id)
            assert fresh is not stale
            services.attend_need(fresh, {"delivered_by": "Ana"}, db.session.get(User, user_id))
            db.session.commit()
            db.session.remove()
        assert stale.status == "identified"  # what desk 1 read, now out of date
        try:
            services.attend_need(stale, {"delivered_by": "Luis"}, db.session.get(User, user_id))
        except ServiceError as exc:
            assert exc.errors == {"delivered_by": "Esta necesidad ya no está pendiente."}
        else:
            raise AssertionError("the second service was recorded")
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(ServiceDelivery)) == 1
        assert db.session.get(FamilyUnit, family_id) is not None


def test_the_checklist_schema_keeps_marked_lines_and_shares_the_delivered_by(app, ctx):
    from sosep_migrantes.needs.schemas import NeedsBatchSchema

    data = NeedsBatchSchema().load(
        {
            "delivered_by": "Ana Pérez",
            "items": [
                {"need": "FOOD", "action": "attended"},
                {"need": "MEDICAL"},
                {"need": "HYGIENE_KIT", "action": "attended", "delivered_by": "Cruz Roja"},
            ],
        }
    )
    assert [(i["need"].code, i["delivered_by"]) for i in data["items"]] == [
        ("FOOD", "Ana Pérez"),
        ("HYGIENE_KIT", "Cruz Roja"),
    ]
