"""Referral slips as PDF: one slip, all the slips of an arrival, scope, fonts, QR and the URL fetcher."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import segno
from pypdf import PdfReader
from sqlalchemy import select, update

from sosep_migrantes.cases.models import FamilyUnit
from sosep_migrantes.catalogs.services import centre_by_code
from sosep_migrantes.core.pdf import StaticOnlyFetcher, qr_png
from sosep_migrantes.extensions import db
from sosep_migrantes.referrals import services
from sosep_migrantes.referrals.pdf import qr_url
from tests.catalogs.helpers import contacts_restored, set_contacts
from tests.factories import login, make_arrival, make_family, make_user, member
from tests.referrals.helpers import refer
from tests.referrals.partners import make_partner

QUICHE = "Santa Cruz del Quiché, Quiché"


def pdf_pages(response) -> list[str]:
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF-")
    return [page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages]


def mayan_family(user, arrival, **extra):
    return make_family(
        user,
        arrival,
        municipality=QUICHE,
        community="Cantón Xatinap",
        members=[
            member("Ixchel Catarina", "Tz'ul Xicará", age=34),
            member("José", "Ñuñez Pérez", sex="M", relationship="SON", age=9),
            member("Rosa Amalia", "Chávez Ramos", relationship="DAUGHTER", age=4),
        ],
        **extra,
    )


def test_slip_holds_the_numbers_institution_and_only_the_referred_members(ctx, client):
    user = make_user("reception", centre="FAG")
    family = mayan_family(user, make_arrival(user))
    mother, son, _daughter = family.members
    referral = refer(
        family,
        user,
        "OIM",
        member_ids=[mother.id, son.id],
        send=True,
        priority="urgent",
        needs=["PROTECTION"],
        reason="Amenazas de extorsión en su comunidad.",
    )
    login(client, user)
    response = client.get(f"/referrals/{referral.id}/slip.pdf")
    pages = pdf_pages(response)
    assert len(pages) == 1
    text = pages[0]
    assert f"Boleta de referencia {referral.number}" in text
    assert referral.number.startswith("REF-FAG-")
    assert f"Caso {family.case_number}" in text
    assert "Organización Internacional para las Migraciones (OIM)" in text
    assert "Ixchel Catarina Tz'ul Xicará" in text
    assert "José Ñuñez Pérez" in text
    assert "Rosa Amalia" not in text and "Chávez" not in text
    assert "Santa Cruz del Quiché, Quiché" in text and "Cantón Xatinap" in text
    assert "Prioridad: Urgente" in text
    assert "Amenazas de extorsión en su comunidad." in text
    assert "Protección (amenazas, violencia, persecución)" in text
    # The file is named after the slip only: no names in the download.
    assert response.headers["Content-Disposition"] == f'inline; filename="{referral.number}.pdf"'
    assert response.headers["Cache-Control"] == "no-store"


def test_each_referred_person_is_one_line_in_reading_order(ctx, client):
    """Name, age, sex and relationship on one line per person, under a line naming them (issue #6: a
    table's four cells per person were as costly to lay out as the rest of the slip)."""
    user = make_user("reception", centre="FAG")
    family = mayan_family(user, make_arrival(user))
    referral = refer(family, user, "OIM", send=True)
    login(client, user)
    lines = pdf_pages(client.get(f"/referrals/{referral.id}/slip.pdf"))[0].splitlines()
    persons = lines.index("Nombre · Edad · Sexo · Parentesco")
    assert lines[persons + 1 : persons + 4] == [
        "Ixchel Catarina Tz'ul Xicará · 34 años (aprox.) · Mujer · Jefe(a) de familia",
        "José Ñuñez Pérez · 9 años (aprox.) · Hombre · Hijo",
        "Rosa Amalia Chávez Ramos · 4 años (aprox.) · Mujer · Hija",
    ]


def test_slip_fonts_are_embedded(ctx, client):
    user = make_user("reception", centre="FAG")
    family = mayan_family(user, make_arrival(user))
    referral = refer(family, user, "SOSEP_HOGARES", member_ids=[family.members[2].id], send=True)
    login(client, user)
    response = client.get(f"/referrals/{referral.id}/slip.pdf")
    reader = PdfReader(io.BytesIO(response.data))
    fonts = []
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            if "/DescendantFonts" in font:
                fonts.extend(d.get_object() for d in font["/DescendantFonts"])
            else:
                fonts.append(font)
    assert fonts, "the slip uses fonts"
    for font in fonts:
        descriptor = font["/FontDescriptor"].get_object()
        assert "/FontFile2" in descriptor or "/FontFile3" in descriptor, font["/BaseFont"]
    assert any("Slip-Sans" in str(font["/BaseFont"]) for font in fonts)


def test_draft_and_cancelled_referrals_have_no_slip(ctx, client):
    user = make_user("reception", centre="FAG")
    family = mayan_family(user, make_arrival(user))
    draft = refer(family, user)
    cancelled = refer(family, user, "SOSEP_MUJER", send=True)
    services.change_status(cancelled, "cancelled", "Registrada por error.", user)
    db.session.commit()
    login(client, user)
    assert client.get(f"/referrals/{draft.id}/slip.pdf").status_code == 404
    assert client.get(f"/referrals/{cancelled.id}/slip.pdf").status_code == 404
    detail = client.get(f"/referrals/{draft.id}").get_data(as_text=True)
    assert "slip.pdf" not in detail


def test_arrival_pdf_has_one_slip_per_sent_referral_in_scope(ctx, client):
    user = make_user("reception", centre="FAG")
    arrival = make_arrival(user)
    first = mayan_family(user, arrival)
    second = make_family(user, arrival, members=[member("Lucía", "Ajanel Coc", age=28)])
    make_family(user, arrival, members=[member("Marta", "Sin Derivar", age=40)])  # nothing to print
    moved = make_family(user, arrival, members=[member("Elena", "Otro Centro", age=50)])
    other_arrival_family = make_family(
        user, make_arrival(user), members=[member("Irma", "Otra Llegada", age=33)]
    )

    sent = refer(first, user, "OIM", member_ids=[first.members[0].id], send=True)
    refer(first, user, "SOSEP_SEDES")  # draft
    cancelled = refer(first, user, "CRISTOSAL", send=True)
    services.change_status(cancelled, "cancelled", "La familia no quiso.", user)
    accepted = refer(first, user, "SOSEP_HOGARES", member_ids=[first.members[2].id], send=True)
    services.change_status(accepted, "accepted", None, user)
    for_second = refer(second, user, "SOSEP_MUJER", send=True)
    for_moved = refer(moved, user, "SOSEP_ANOS_DORADOS", send=True)
    refer(other_arrival_family, user, "SOSEP_MUJER", send=True)
    # The case was moved to another centre: the FAG desk no longer sees it.
    db.session.execute(
        update(FamilyUnit).where(FamilyUnit.id == moved.id).values(centre_id=centre_by_code("TECUN_UMAN").id)
    )
    db.session.commit()
    expected = [sent.number, accepted.number, for_second.number]

    login(client, user)
    response = client.get(f"/arrivals/{arrival.id}/slips.pdf")
    pages = pdf_pages(response)
    text = "\n".join(pages)
    assert text.count("Boleta de referencia") == 3
    assert len(pages) == 3
    for page, number in zip(pages, expected, strict=True):
        assert f"Boleta de referencia {number}" in page
        assert page.count("Boleta de referencia") == 1
    assert "Elena" not in text and for_moved.number not in text
    assert "Irma" not in text and "Marta" not in text
    assert cancelled.number not in text
    assert response.headers["Content-Disposition"] == f'inline; filename="boletas-llegada-{arrival.id}.pdf"'

    # A coordinator sees the moved case too.
    client.post("/logout")
    login(client, make_user("coordinator"))
    text = "\n".join(pdf_pages(client.get(f"/arrivals/{arrival.id}/slips.pdf")))
    assert text.count("Boleta de referencia") == 4
    assert for_moved.number in text and "Elena Otro Centro" in text


# -- the institution's contact data (issue #11, item 3) -------------------------------------------------

#: Lines a slip used to print for an institution whose contact data nobody had entered.
PLACEHOLDERS = ("pendiente", "Pendiente", "Dirección:", "Contacto:", "Teléfono:", "Correo:", "—")


@pytest.fixture
def restored(app):
    with contacts_restored(app):
        yield


def test_a_slip_prints_the_institutions_known_contact_data(restored, ctx, client):
    set_contacts(
        "OIM",
        address="Oficina de prueba, 1a. calle 1-01, zona 1",
        phone="2222 3333",
        email="prueba@example.org",
        contact_person="Oficina de prueba",
    )
    user = make_user("reception", centre="FAG")
    referral = refer(mayan_family(user, make_arrival(user)), user, "OIM", send=True)
    login(client, user)
    text = pdf_pages(client.get(f"/referrals/{referral.id}/slip.pdf"))[0]
    assert "Dirección: Oficina de prueba, 1a. calle 1-01, zona 1" in text
    assert "Teléfono: 2222 3333 · Correo: prueba@example.org" in text
    assert "Contacto: Oficina de prueba" in text
    assert "pendiente" not in text.lower()


def test_a_slip_leaves_out_what_is_unknown_and_never_says_pendiente(restored, ctx, client):
    """An institution with no contact data, a family with no phone: no line says something is missing."""
    set_contacts("REFUGIO_NINEZ")
    set_contacts("CRISTOSAL", phone="2222 4444")
    user = make_user("reception", centre="FAG")
    referral = refer(mayan_family(user, make_arrival(user)), user, "REFUGIO_NINEZ", send=True)
    phone_only = refer(mayan_family(user, make_arrival(user)), user, "CRISTOSAL", send=True)
    login(client, user)

    text = pdf_pages(client.get(f"/referrals/{referral.id}/slip.pdf"))[0]
    assert "Asociación Refugio de la Niñez (Organización no gubernamental)" in text
    for placeholder in PLACEHOLDERS:
        assert placeholder not in text, placeholder
    assert "Teléfono de la familia" not in text
    assert "Personas referidas" in text and "Motivo de la referencia" in text

    text = pdf_pages(client.get(f"/referrals/{phone_only.id}/slip.pdf"))[0]
    assert "Teléfono: 2222 4444" in text
    assert "Dirección:" not in text and "Correo:" not in text and "pendiente" not in text.lower()


def test_an_arrivals_slips_print_each_institutions_data_and_no_gap(restored, ctx, client):
    set_contacts("OIM", address="Oficina de prueba, zona 10", email="prueba@example.org")
    set_contacts("SOSEP_HOGARES")
    user = make_user("reception", centre="FAG")
    arrival = make_arrival(user)
    family = mayan_family(user, arrival, phone="5555 0101")
    to_oim = refer(family, user, "OIM", member_ids=[family.members[0].id], send=True)
    to_hogares = refer(family, user, "SOSEP_HOGARES", member_ids=[family.members[2].id], send=True)
    login(client, user)
    pages = pdf_pages(client.get(f"/arrivals/{arrival.id}/slips.pdf"))
    assert [to_oim.number in pages[0], to_hogares.number in pages[1]] == [True, True]
    assert "Dirección: Oficina de prueba, zona 10" in pages[0]
    assert "Correo: prueba@example.org" in pages[0] and "Teléfono:" not in pages[0]
    for placeholder in ("pendiente", "Dirección:", "Correo:", "Contacto:"):
        assert placeholder not in pages[1].replace("Teléfono de la familia", ""), placeholder
    assert all("Teléfono de la familia: 5555 0101" in page for page in pages)
    assert "pendiente" not in "\n".join(pages).lower()


def test_the_partners_copy_leaves_out_an_unknown_family_phone(ctx, client):
    user = make_user("reception", centre="FAG")
    referral = refer(mayan_family(user, make_arrival(user)), user, "OIM", send=True)
    login(client, make_partner("OIM"))
    text = pdf_pages(client.get(f"/partner/referrals/{referral.id}/slip.pdf"))[0]
    assert referral.number in text and "Santa Cruz del Quiché, Quiché" in text
    assert "Teléfono de la familia" not in text and "—" not in text


def test_arrival_without_sent_referrals_redirects_with_a_message(ctx, client):
    user = make_user("reception", centre="FAG")
    arrival = make_arrival(user)
    family = mayan_family(user, arrival)
    refer(family, user)  # only a draft
    login(client, user)
    response = client.get(f"/arrivals/{arrival.id}/slips.pdf")
    assert response.status_code == 302
    assert response.location.endswith(f"/arrivals/{arrival.id}")
    page = client.get(response.location).get_data(as_text=True)
    assert "Esta llegada no tiene derivaciones enviadas para imprimir." in page


@pytest.mark.parametrize(
    ("role", "binding"), [("sede", {"sede": "QUICHE"}), ("reception", {"centre": "TECUN_UMAN"})]
)
def test_users_out_of_scope_get_404(ctx, client, role, binding):
    staff = make_user("reception", centre="FAG")
    arrival = make_arrival(staff)
    family = make_family(staff, arrival)  # Cuilco, Huehuetenango
    referral = refer(family, staff, "OIM", send=True)
    login(client, make_user(role, **binding))
    assert client.get(f"/referrals/{referral.id}/slip.pdf").status_code == 404
    assert client.get(f"/arrivals/{arrival.id}/slips.pdf").status_code == 404


def test_sede_of_the_destination_can_print_the_slip(ctx, client):
    staff = make_user("reception", centre="FAG")
    family = make_family(staff, make_arrival(staff))  # Cuilco, Huehuetenango
    referral = refer(family, staff, "SOSEP_SEDES", send=True)
    login(client, make_user("sede", sede="HUEHUETENANGO"))
    assert referral.number in pdf_pages(client.get(f"/referrals/{referral.id}/slip.pdf"))[0]


# -- the URL fetcher ------------------------------------------------------------------------------------


@pytest.fixture
def fetcher(app) -> StaticOnlyFetcher:
    return StaticOnlyFetcher(app.static_folder)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "file:///work/main/static/fonts/DejaVuSans.ttf",
        "http://example.org/logo.png",
        "https://example.org/fonts/DejaVuSans.ttf",
        "ftp://example.org/x",
        "static:../pyproject.toml",
        "static:fonts/../../sosep_migrantes/__init__.py",
        "static:/../../../etc/passwd",
        "static:fonts/no-such-font.ttf",
        "static:fonts",
        "fonts/DejaVuSans.ttf",
    ],
)
def test_fetcher_refuses_anything_but_static_files(fetcher, url):
    with pytest.raises(ValueError, match="refused"):
        fetcher.fetch(url)


def test_fetcher_serves_static_fonts(app, fetcher):
    response = fetcher.fetch("static:fonts/DejaVuSans.ttf")
    expected = (Path(app.static_folder) / "fonts" / "DejaVuSans.ttf").read_bytes()
    assert response.read() == expected
    assert response.content_type.startswith("font/") or response.content_type.endswith("ttf")


def test_fetcher_serves_inline_data(fetcher):
    assert fetcher.fetch("data:text/plain;base64,SG9sYQ==").read() == b"Hola"


# -- the QR code ---------------------------------------------------------------------------------------


def test_qr_encodes_only_the_slip_number(app):
    number = "REF-FAG-2026-00012"
    fetcher = StaticOnlyFetcher(app.static_folder)
    served = fetcher.fetch(qr_url(number)).read()
    assert served == qr_png(number)
    assert served != qr_png("REF-FAG-2026-00013")
    expected = io.BytesIO()
    segno.make(number, error="m").save(expected, kind="png", scale=4, border=1)
    assert served == expected.getvalue()


def test_slip_qr_is_made_from_the_number(ctx, monkeypatch, client):
    user = make_user("reception", centre="FAG")
    family = mayan_family(user, make_arrival(user))
    referral = refer(family, user, "OIM", send=True)
    encoded = []
    from sosep_migrantes.core import pdf as core_pdf

    real = core_pdf.qr_png
    monkeypatch.setattr(core_pdf, "qr_png", lambda value: encoded.append(value) or real(value))
    login(client, user)
    pdf_pages(client.get(f"/referrals/{referral.id}/slip.pdf"))
    assert encoded == [referral.number]


def test_printing_a_slip_is_audited_without_personal_data(ctx, client):
    from sosep_migrantes.core.audit import AuditEvent

    user = make_user("reception", centre="FAG")
    arrival = make_arrival(user)
    family = mayan_family(user, arrival)
    referral = refer(family, user, "OIM", send=True)
    referral_id, arrival_id, family_id = referral.id, arrival.id, family.id
    login(client, user)
    pdf_pages(client.get(f"/referrals/{referral_id}/slip.pdf"))
    pdf_pages(client.get(f"/arrivals/{arrival_id}/slips.pdf"))
    printed = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "slip:print").order_by(AuditEvent.id)
    ).all()
    assert [(e.subject_type, e.subject_id, e.user_id) for e in printed] == [
        ("family", family_id, user.id),
        ("arrival", arrival_id, user.id),
    ]
    assert printed[0].details == {"referral_id": referral_id}
    assert printed[1].details == {"referrals": [referral_id]}
