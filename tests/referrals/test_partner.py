"""Partner institutions (issue #8): their users, their pages, what they may never see, and their answers.

A partner's user (OIM, Refugio de la Niñez) sees the referrals addressed to its institution that have a
slip, with the slip's facts only, and answers them; SOSEP's staff see the answer and who gave it.
"""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from sosep_migrantes.auth.models import User
from sosep_migrantes.core.audit import AuditEvent
from sosep_migrantes.core.timeutil import now_local
from sosep_migrantes.extensions import db
from sosep_migrantes.referrals import services
from sosep_migrantes.referrals.models import Referral, ReferralEvent
from tests.factories import PASSWORD, login, make_arrival, make_family, make_user, member, sign_in_as
from tests.referrals.helpers import refer
from tests.referrals.partners import make_partner

OIM_NAME = "Organización Internacional para las Migraciones (OIM)"
CUI = "2456789050101"
REASON = "Acompañamiento para su reintegración en la comunidad."


def errors_in(html: str) -> dict[str, str]:
    return dict(re.findall(r'<p class="error" id="e-([^"]+)">([^<]*)</p>', html))


def pdf_text(response) -> str:
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "application/pdf"
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)


def today() -> str:
    return now_local().strftime("%d/%m/%Y")


@pytest.fixture
def case(ctx):
    """A family at FAG with everything a partner must not see, and its referrals to several places."""
    desk = make_user("reception", centre="FAG")
    family = make_family(
        desk,
        make_arrival(desk),
        municipality="Santa Cruz del Quiché, Quiché",
        phone="5555-0101",
        notes="Nota interna: el padre sigue detenido en Texas.",
        protection_causes=["EXTORTION"],
        members=[
            member("Ixchel Catarina", "Tzul Xicará", age=34, cui=CUI, health_notes="Diabetes tipo 2."),
            member("José", "Tzul Ñuñez", sex="M", relationship="SON", age=9),
            member("Rosa Amalia", "Chávez Ramos", relationship="DAUGHTER", age=12),
            member("Luz", "Tzul Chávez", relationship="DAUGHTER", age=None, birth_date="2026-05-10"),
        ],
    )
    mother, son, _daughter, baby = family.members
    referred = refer(
        family,
        desk,
        "OIM",
        member_ids=[mother.id, son.id, baby.id],
        send=True,
        priority="urgent",
        needs=["PROTECTION"],
        reason=REASON,
    )
    draft = refer(family, desk, "OIM", member_ids=[son.id], reason="Borrador sin enviar.")
    withdrawn = refer(family, desk, "OIM", member_ids=[mother.id], send=True, reason="Se retiró.")
    services.change_status(withdrawn, "cancelled", "Registrada por error.", desk)
    elsewhere = refer(family, desk, "REFUGIO_NINEZ", send=True, reason="Para otra institución.")
    db.session.commit()
    return {
        "desk": desk,
        "family": family,
        "referral": referred,
        "draft": draft,
        "withdrawn": withdrawn,
        "elsewhere": elsewhere,
    }


def assert_only_the_slip_facts(text: str, case) -> None:
    """What a partner's page or PDF shows of the case: the referral's facts and nothing else."""
    referral, family = case["referral"], case["family"]
    for shown in (
        referral.number,
        "Urgente",
        "Ixchel Catarina Tzul Xicará",
        "34 años",
        "José Tzul Ñuñez",
        "9 años",
        "Luz Tzul Chávez",
        "6 meses",
        REASON,
        "5555-0101",
        "Santa Cruz del Quiché, Quiché",
    ):
        assert shown in text, shown
    for hidden in (
        "Rosa Amalia",  # a member who was not referred
        "Chávez Ramos",
        CUI,
        "Protección (amenazas",  # the referral's needs
        "Extorsión",  # the family's protection cause
        "detenido en Texas",  # the family's notes
        "Diabetes",  # health data
        "Borrador sin enviar.",
        "Se retiró.",
        "Para otra institución.",
        case["elsewhere"].number,
        case["withdrawn"].number,
    ):
        assert hidden not in text, hidden
    # The case number (FAG-2026-00001) is never shown; the slip number REF-FAG-... contains it.
    assert not re.search(rf"(?<!REF-){re.escape(family.case_number)}", text)


def test_a_partner_lands_on_its_institutions_referrals_with_only_the_slip_facts(case, client):
    login(client, make_partner("OIM"))
    assert client.get("/").location == "/partner/"
    html = client.get("/partner/").get_data(as_text=True)
    assert "Derivaciones recibidas" in html and OIM_NAME in html
    assert today() in html and "Enviada" in html
    assert_only_the_slip_facts(html, case)
    assert "/cases/" not in html and '"/referrals/' not in html
    assert f'href="/partner/referrals/{case["referral"].id}"' in html
    # The partner's menu has its one link, none of the staff's.
    nav = re.search(r"<nav aria-label=\"Principal\">(.*?)</nav>", html, re.S).group(1)
    assert re.findall(r'href="([^"]+)"', nav) == ["/partner/"]


def test_the_detail_page_and_the_pdf_carry_the_same_facts_and_nothing_else(case, client):
    referral = case["referral"]
    login(client, make_partner("OIM"))
    html = client.get(f"/partner/referrals/{referral.id}").get_data(as_text=True)
    assert_only_the_slip_facts(html, case)
    assert "/cases/" not in html
    # Its own history (from the moment it was sent) and the answers it may give now.
    assert "Usuario reception" in html and "Enviada" in html
    for button in ('value="accepted"', 'value="rejected"', 'value="not_located"'):
        assert button in html
    assert 'value="cancelled"' not in html and 'value="attended"' not in html

    response = client.get(f"/partner/referrals/{referral.id}/slip.pdf")
    text = pdf_text(response)
    assert_only_the_slip_facts(text, case)
    assert response.headers["Content-Disposition"] == f'inline; filename="{referral.number}.pdf"'
    assert response.headers["Cache-Control"] == "no-store"
    db.session.expire_all()
    printed = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "slip:print"))
    assert printed.details == {"referral_id": referral.id}


def test_the_home_page_filters_by_status_open_ones_by_default(case, client):
    desk, family = case["desk"], case["family"]
    rejected = refer(family, desk, "OIM", member_ids=[family.members[1].id], send=True, reason="Ya atendida.")
    services.change_status(rejected, "rejected", "No trabajamos en ese municipio.", desk)
    db.session.commit()
    login(client, make_partner("OIM"))

    def listed(query: str = "") -> set[str]:
        html = client.get(f"/partner/{query}").get_data(as_text=True)
        return set(re.findall(r"REF-FAG-\d{4}-\d{5}", html))

    assert listed() == {case["referral"].number}
    assert listed("?status=bogus") == {case["referral"].number}  # an old bookmark: the default
    assert listed("?status=rejected") == {rejected.number}
    assert listed("?status=all") == {case["referral"].number, rejected.number}
    assert listed("?status=draft") == {case["referral"].number}  # not a partner's filter


def test_a_partner_reaches_nothing_else(case, client):
    family = case["family"]
    login(client, make_partner("OIM"))
    for url in (
        "/cases/",
        f"/cases/{family.id}",
        f"/referrals/{case['referral'].id}",
        f"/referrals/{case['referral'].id}/slip.pdf",
        f"/arrivals/{family.arrival_id}",
    ):
        assert client.get(url).status_code == 403, url
    # Another institution's referral, a draft and one cancelled after it was sent: as if they did not exist.
    for other in (case["elsewhere"], case["draft"], case["withdrawn"]):
        assert client.get(f"/partner/referrals/{other.id}").status_code == 404
        assert client.get(f"/partner/referrals/{other.id}/slip.pdf").status_code == 404
        posted = client.post(f"/partner/referrals/{other.id}/status", data={"status": "accepted"})
        assert posted.status_code == 404
    assert client.get("/partner/referrals/999999").status_code == 404


def test_the_other_institution_sees_its_own_referral_only(case, client):
    login(client, make_partner("REFUGIO_NINEZ", full_name="Pedro Refugio"))
    html = client.get("/partner/").get_data(as_text=True)
    assert case["elsewhere"].number in html
    assert case["referral"].number not in html
    assert client.get(f"/partner/referrals/{case['referral'].id}").status_code == 404


def test_a_referral_cancelled_after_it_was_sent_disappears(case, client):
    referral = case["referral"]
    login(client, make_partner("OIM"))
    assert client.get(f"/partner/referrals/{referral.id}").status_code == 200
    services.change_status(referral, "cancelled", "La familia ya no lo necesita.", case["desk"])
    db.session.commit()
    assert client.get(f"/partner/referrals/{referral.id}").status_code == 404
    assert referral.number not in client.get("/partner/?status=all").get_data(as_text=True)


def _events(referral_id: int) -> list[tuple[str, int]]:
    db.session.expire_all()
    return [
        (e.to_status, e.user_id)
        for e in db.session.scalars(
            select(ReferralEvent).where(ReferralEvent.referral_id == referral_id).order_by(ReferralEvent.id)
        )
    ]


def _audited(referral_id: int) -> list[tuple[str, int | None]]:
    return [
        (e.action, e.user_id)
        for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))
        if e.details.get("referral_id") == referral_id and e.action.startswith("referral:")
    ]


def test_accept_then_attended_with_audit_events(case, client):
    referral = case["referral"]
    partner = make_partner("OIM")
    login(client, partner)
    response = client.post(f"/partner/referrals/{referral.id}/status", data={"status": "accepted"})
    assert (response.status_code, response.location) == (302, f"/partner/referrals/{referral.id}")
    page = client.get(response.location).get_data(as_text=True)
    assert "Respuesta registrada: Aceptada." in page
    assert f"Ana López ({OIM_NAME})" in page  # in its history
    assert 'value="attended"' in page and 'value="accepted"' not in page

    response = client.post(
        f"/partner/referrals/{referral.id}/status",
        data={"status": "attended", "note": "Recibió asesoría legal."},
    )
    assert response.status_code == 302
    assert db.session.get(Referral, referral.id).status == "attended"
    assert _events(referral.id)[-2:] == [("accepted", partner.id), ("attended", partner.id)]
    assert _audited(referral.id)[-2:] == [
        ("referral:accepted", partner.id),
        ("referral:attended", partner.id),
    ]
    # A closed referral takes no more answers.
    assert 'id="answer"' not in client.get(f"/partner/referrals/{referral.id}").get_data(as_text=True)


def test_rejecting_without_a_reason_is_refused_beside_the_note_and_saves_nothing(case, client):
    referral = case["referral"]
    login(client, make_partner("OIM"))
    before = (_events(referral.id), _audited(referral.id))
    response = client.post(
        f"/partner/referrals/{referral.id}/status", data={"status": "rejected", "note": " "}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert errors_in(html) == {"note": "Indique el motivo."}
    assert 'id="f-note"' in html and 'aria-describedby="e-note"' in html
    assert_only_the_slip_facts(html, case)  # the page drawn again still shows only the slip's facts
    db.session.expire_all()
    assert db.session.get(Referral, referral.id).status == "sent"
    assert (_events(referral.id), _audited(referral.id)) == before

    partner_id = db.session.scalar(select(User.id).where(User.role == "partner"))
    response = client.post(
        f"/partner/referrals/{referral.id}/status",
        data={"status": "rejected", "note": "No tenemos cobertura en Quiché."},
    )
    assert response.status_code == 302
    db.session.expire_all()
    saved = db.session.get(Referral, referral.id)
    assert (saved.status, saved.outcome_notes) == ("rejected", "No tenemos cobertura en Quiché.")
    assert _audited(referral.id)[-1] == ("referral:rejected", partner_id)


def test_a_partner_cannot_cancel_and_keeps_what_it_typed(case, client):
    referral = case["referral"]
    login(client, make_partner("OIM"))
    response = client.post(
        f"/partner/referrals/{referral.id}/status",
        data={"status": "cancelled", "note": "Texto que escribió la institución."},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert errors_in(html) == {"status": "Elija una de las respuestas de la lista."}
    assert "Texto que escribió la institución." in html
    db.session.expire_all()
    assert db.session.get(Referral, referral.id).status == "sent"


def test_not_located_with_a_note(case, client):
    referral = case["referral"]
    login(client, make_partner("OIM"))
    response = client.post(
        f"/partner/referrals/{referral.id}/status",
        data={"status": "not_located", "note": "El teléfono no responde; tres intentos."},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Referral, referral.id).status == "not_located"
    assert _audited(referral.id)[-1][0] == "referral:not_located"


def test_the_staff_see_the_partners_answer_and_who_gave_it(case, client):
    referral, family = case["referral"], case["family"]
    login(client, make_partner("OIM"))
    assert (
        client.post(f"/partner/referrals/{referral.id}/status", data={"status": "accepted"}).status_code
        == 302
    )
    client.post("/logout")

    answer = f"Aceptada por Ana López ({OIM_NAME}) el {today()}"
    for staff in (case["desk"], make_user("sede", sede="QUICHE")):
        login(client, staff)
        assert answer in client.get(f"/referrals/{referral.id}").get_data(as_text=True)
        assert answer in client.get(f"/cases/{family.id}").get_data(as_text=True)
        client.post("/logout")


def test_an_answer_recorded_by_the_staff_names_no_institution(case, client):
    referral = case["referral"]
    services.change_status(referral, "accepted", None, case["desk"])
    db.session.commit()
    login(client, case["desk"])
    html = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    assert f"Aceptada por Usuario reception el {today()}" in html


# -- accounts ----------------------------------------------------------------------------------------


def _user(app, username: str) -> User | None:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        if user is not None:
            db.session.expunge(user)
        return user


def _institution_code(app, username: str) -> str:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        return user.institution.code


def test_cli_creates_a_partner_user_bound_to_its_institution(app):
    result = app.test_cli_runner().invoke(
        args=["users", "create", "ana.oim", "--role", "partner", "--institution", "OIM"],
        input="long-password-1\n",
    )
    assert result.exit_code == 0, result.output
    assert "Usuario creado: ana.oim (partner)" in result.output
    assert _institution_code(app, "ana.oim") == "OIM"
    client = app.test_client()
    assert sign_in_as(client, "ana.oim", "long-password-1").status_code == 302
    assert client.get("/partner/").status_code == 200


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--institution", "NOWHERE"], "institution: Elija una institución de la lista."),
        ([], "institution: Un usuario de una institución aliada debe tener una institución."),
    ],
)
def test_cli_refuses_a_partner_without_a_known_institution(app, args, message):
    result = app.test_cli_runner().invoke(
        args=["users", "create", "ana.oim", "--role", "partner", *args], input="long-password-1\n"
    )
    assert result.exit_code == 1
    assert message in result.output
    assert _user(app, "ana.oim") is None


def _admin_client(app):
    with app.app_context():
        admin = make_user("admin")
        username = admin.username
        db.session.remove()
    client = app.test_client()
    assert sign_in_as(client, username, PASSWORD).status_code == 302
    return client


def _partner_form(**overrides):
    form = {
        "username": "ana.oim",
        "full_name": "Ana López",
        "role": "partner",
        "institution": "OIM",
        "password": "a-long-password-1",
        "is_active": "true",
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def test_admin_creates_a_partner_user_with_its_institution(app):
    admin = _admin_client(app)
    form = admin.get("/admin/users/new").get_data(as_text=True)
    assert 'name="institution"' in form and f">{OIM_NAME}</option>" in form
    response = admin.post("/admin/users/new", data=_partner_form())
    assert (response.status_code, response.location) == (302, "/admin/users")
    assert _institution_code(app, "ana.oim") == "OIM"
    listing = admin.get("/admin/users").get_data(as_text=True)
    assert re.search(rf"ana\.oim</a></td>.*?<td>{re.escape(OIM_NAME)}</td>", listing, re.S)

    user = _user(app, "ana.oim")
    edit = admin.get(f"/admin/users/{user.id}").get_data(as_text=True)
    assert re.search(r'<option value="OIM" selected>', edit)
    # Made a sede user: the institution goes.
    changed = {"full_name": "Ana López", "role": "sede", "sede": "QUICHE", "institution": "OIM"}
    assert admin.post(f"/admin/users/{user.id}", data={**changed, "is_active": "true"}).status_code == 302
    assert _user(app, "ana.oim").institution_id is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"institution": None}, "Un usuario de una institución aliada debe tener una institución."),
        ({"institution": "NOWHERE"}, "Elija una institución de la lista."),
    ],
)
def test_admin_form_refuses_a_partner_without_institution_beside_the_field(app, overrides, message):
    admin = _admin_client(app)
    response = admin.post("/admin/users/new", data=_partner_form(**overrides))
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert errors_in(html) == {"institution": message}
    assert 'value="Ana López"' in html
    with app.app_context():
        assert db.session.scalar(select(func.count(User.id)).where(User.role == "partner")) == 0
