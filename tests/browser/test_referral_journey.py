"""From registration to the printed slip, in a real browser: suggestions, needs, a referral to OIM, the PDFs.

And the refusal: a family that did not consent to share its data cannot be referred outside SOSEP.
"""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from playwright.sync_api import APIResponse, Locator, Page, expect
from pypdf import PdfReader
from sqlalchemy import func, select

from sosep_migrantes.core.timeutil import LOCAL_TZ
from sosep_migrantes.extensions import db
from sosep_migrantes.referrals.models import Referral
from tests.browser.test_reception_journey import full_page_screenshot, log_in, member
from tests.factories import make_arrival, make_family, make_user
from tests.factories import member as member_data

pytestmark = pytest.mark.browser

#: Fixed paths, to look at after a run (the issue asks for them).
CASE_PNG = "/tmp/sosep-case.png"  # noqa: S108
NEEDS_PNG = "/tmp/sosep-needs.png"  # noqa: S108
REFERRAL_PNG = "/tmp/sosep-referral.png"  # noqa: S108

OIM = "Organización Internacional para las Migraciones (OIM)"
UNEMPLOYMENT = "Desempleo o falta de oportunidades económicas"
STAFF = "Usuario reception"  # the full name make_user gives a reception user
HOGARES = "SOSEP · Hogares Comunitarios"
DORADOS = "SOSEP · Mis Años Dorados"
#: The reason of the priority-territory rule, which the referral form takes as its reason.
TERRITORY_REASON = "Reside en un municipio priorizado y migró por desempleo o reunificación familiar."

HEAD = "Marta Lucía Domingo Sales"
SON = "Brayan Josué Domingo Sales"
GRANDMOTHER = "Catarina Sales Jiménez"


def today() -> dt.date:
    return dt.datetime.now(LOCAL_TZ).date()


def suggestion(page: Page, institution: str) -> Locator:
    """The line of the case's suggestions that names ``institution``."""
    return page.locator("ul.suggestions > li").filter(has=page.locator("strong", has_text=institution))


def table_row(page: Page, first_cell: str) -> Locator:
    """The table row whose first cell starts with ``first_cell`` (a need's notes may follow its name)."""
    return page.get_by_role("row").filter(
        has=page.locator("td:first-child", has_text=re.compile(f"^{re.escape(first_cell)}"))
    )


def checklist_row(page: Page, need: str) -> Locator:
    return page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=need, exact=True))


def fetch_pdf(page: Page, link: Locator) -> list[str]:
    """Fetch what the link points at with the page's own cookies (it opens in a new tab) and read its text."""
    expect(link).to_have_attribute("target", "_blank")
    response: APIResponse = page.request.get(link.evaluate("a => a.href"))
    assert response.status == 200, response.status
    assert response.headers["content-type"] == "application/pdf"
    body = response.body()
    assert body.startswith(b"%PDF-")
    return [pdf_page.extract_text() for pdf_page in PdfReader(io.BytesIO(body)).pages]


def register_family_at_the_desk(page: Page) -> str:
    """Arrival and family through the forms; returns the case number shown in the saved banner."""
    page.get_by_role("navigation", name="Principal").get_by_role("link", name="Llegadas").click()
    page.get_by_role("link", name="Nueva llegada").click()
    expect(page.get_by_label("Centro de recepción")).to_have_value("FAG")
    page.get_by_label("Fecha y hora de llegada").fill(f"{today().isoformat()}T06:15")
    page.get_by_label("Número de vuelo o de bus").fill("GUA2240")
    page.get_by_label("Aeropuerto o ciudad de salida").fill("Laredo, TX")
    page.get_by_role("button", name="Guardar y registrar familias").click()
    expect(page.get_by_role("heading", name="Registrar unidad familiar")).to_be_visible()

    head = member(page, 1)
    head.get_by_label("Nombres").fill("Marta Lucía")
    head.get_by_label("Apellidos").fill("Domingo Sales")
    head.get_by_label("Sexo").select_option(label="Mujer")
    expect(head.get_by_label("Parentesco con el/la jefe(a)")).to_have_value("HEAD")
    head.get_by_label("Edad estimada (años)").fill("34")

    page.get_by_role("button", name="Agregar integrante").click()
    son = member(page, 2)
    son.get_by_label("Nombres").fill("Brayan Josué")
    expect(son.get_by_label("Apellidos")).to_have_value("Domingo Sales")  # offered from the head
    son.get_by_label("Sexo").select_option(label="Hombre")
    son.get_by_label("Parentesco con el/la jefe(a)").select_option(label="Hijo")
    # Three years and about three months old, whatever day the test runs.
    son.get_by_label("Fecha de nacimiento").fill((today() - dt.timedelta(days=3 * 365 + 100)).isoformat())
    expect(son.locator(".age-hint")).to_have_text("3 años")

    page.get_by_role("button", name="Agregar integrante").click()
    grandmother = member(page, 3)
    grandmother.get_by_label("Nombres").fill("Catarina")
    grandmother.get_by_label("Apellidos").fill("Sales Jiménez")
    grandmother.get_by_label("Sexo").select_option(label="Mujer")
    grandmother.get_by_label("Parentesco con el/la jefe(a)").select_option(label="Abuelo(a)")
    grandmother.get_by_label("Edad estimada (años)").fill("65")

    page.get_by_label("Municipio de destino").press_sequentially("Cuilco, Huehuetenango")
    expect(page.locator("#sede-hint")).to_have_text("Seguimiento: Sede Departamental de Huehuetenango")
    # Cuilco is a priority municipality: migrating for unemployment makes OIM a suggestion.
    page.get_by_role("checkbox", name=UNEMPLOYMENT).check()
    page.get_by_label("Consentimiento para el tratamiento de datos").select_option(label="Escrito (firmado)")
    page.get_by_label("Fecha del consentimiento").fill(today().isoformat())
    page.get_by_role("button", name="Guardar unidad familiar").click()

    banner = page.locator(".saved-banner")
    expect(banner).to_contain_text(HEAD)
    expect(banner).to_contain_text("3 integrantes")
    case_link = banner.get_by_role("link", name=re.compile(r"^FAG-\d{4}-\d{5}$"))
    case_number = case_link.inner_text().strip()
    case_link.click()
    expect(page.get_by_role("heading", name=f"Caso {case_number}")).to_be_visible()
    return case_number


def test_reception_refers_a_family_to_oim_and_prints_the_slip(app, page: Page) -> None:
    with app.app_context():
        make_user("reception", centre="FAG", username="recepcion.fag")
    log_in(page, "recepcion.fag")
    case_number = register_family_at_the_desk(page)

    # --- The case: the three members and the programme and institution suggestions -----------------
    expect(page.get_by_role("heading", name="3 integrantes")).to_be_visible()
    expect(page.get_by_text(UNEMPLOYMENT)).to_be_visible()
    hogares = suggestion(page, HOGARES)
    expect(hogares).to_contain_text(f"Niñas y niños de 6 meses a menos de 7 años: {SON}.")
    expect(hogares).not_to_contain_text(GRANDMOTHER)
    dorados = suggestion(page, DORADOS)
    expect(dorados).to_contain_text(f"Personas de 60 años o más: {GRANDMOTHER}.")
    expect(dorados).not_to_contain_text(SON)
    oim = suggestion(page, OIM)
    expect(oim).to_contain_text(TERRITORY_REASON)
    expect(oim.get_by_text("Prioritaria")).to_have_count(0)  # no protection cause: not urgent
    expect(page.get_by_text("Sin necesidades registradas.")).to_be_visible()
    expect(page.get_by_text("Sin derivaciones.")).to_be_visible()

    # --- Needs: food delivered here, legal advice identified (for OIM) -----------------------------
    page.get_by_role("link", name="Registrar necesidades y servicios").click()
    expect(page.get_by_role("heading", name=f"Necesidades y servicios · {case_number}")).to_be_visible()
    expect(page.get_by_label("Entregado o atendido por")).to_have_value(STAFF)
    food = checklist_row(page, "Alimentación")
    food.get_by_label("Alimentación").select_option(label="Atendida en el centro")
    food.get_by_label("Cantidad").fill("3")
    legal = checklist_row(page, "Asesoría legal")
    legal.get_by_label("Asesoría legal").select_option(label="Identificada")
    legal.get_by_label("Notas").fill("Consulta sobre documentos de los niños.")
    full_page_screenshot(page, NEEDS_PNG)
    page.get_by_role("button", name="Guardar necesidades").click()

    expect(page.get_by_role("heading", name=f"Caso {case_number}")).to_be_visible()
    expect(page.get_by_text("2 necesidades registradas.")).to_be_visible()
    food_row = table_row(page, "Alimentación")
    expect(food_row).to_contain_text("Toda la familia")
    expect(food_row).to_contain_text("Atendida en el centro")
    expect(food_row).to_contain_text(f"3 × Alimentación · {STAFF}")
    legal_row = table_row(page, "Asesoría legal")
    expect(legal_row).to_contain_text("Consulta sobre documentos de los niños.")
    expect(legal_row).to_contain_text("Toda la familia")
    expect(legal_row).to_contain_text("Identificada")

    # --- Refer to OIM from its suggestion: the form comes filled in ---------------------------------
    suggestion(page, OIM).get_by_role("link", name="Derivar").click()
    expect(page.get_by_role("heading", name=f"Nueva derivación · {case_number}")).to_be_visible()
    expect(page.get_by_role("note")).to_have_count(0)  # consent given: no warning
    institution = page.get_by_label("Institución")
    expect(institution).to_have_value("OIM")
    expect(institution).to_be_focused()
    expect(page.get_by_label("Prioridad")).to_have_value("normal")
    members = page.get_by_role("group", name="Integrantes referidos").get_by_role("checkbox")
    expect(members).to_have_count(3)
    for name in (HEAD, SON, GRANDMOTHER):
        expect(page.get_by_role("checkbox", name=re.compile(f"^{name} "))).to_be_checked()
    expect(page.get_by_role("checkbox", name=re.compile(f"^{SON} "))).to_have_accessible_name(
        f"{SON} (3 años, Hijo)"
    )
    expect(page.get_by_label("Motivo de la derivación")).to_have_value(TERRITORY_REASON)
    covered = page.get_by_role("group", name="Necesidades que cubre")
    # Legal advice is pending and OIM serves it; the food was delivered at the centre.
    expect(covered.get_by_role("checkbox", name="Asesoría legal")).to_be_checked()
    expect(covered.get_by_role("checkbox", name="Alimentación", exact=True)).not_to_be_checked()
    expect(covered.get_by_role("checkbox", checked=True)).to_have_count(1)
    # The needs OIM serves stand out; choosing another institution moves the emphasis.
    expect(covered.locator("label.served", has_text="Asesoría legal")).to_have_count(1)
    expect(covered.locator("label.served", has_text="Documentos de identidad (RENAP)")).to_have_count(0)
    page.get_by_label("Institución").select_option(label="Registro Nacional de las Personas (RENAP)")
    expect(covered.locator("label.served")).to_have_text(["Documentos de identidad (RENAP)"])
    page.get_by_label("Institución").select_option(
        label="Organización Internacional para las Migraciones (OIM)"
    )
    full_page_screenshot(page, REFERRAL_PNG)
    page.get_by_role("button", name="Crear y enviar").click()

    # --- The referral: sent, with its slip ---------------------------------------------------------
    heading = page.get_by_role("heading", name=re.compile(r"^Derivación REF-FAG-\d{4}-\d{5}"))
    expect(heading).to_contain_text("Enviada")
    number = re.search(r"REF-FAG-\d{4}-\d{5}", heading.inner_text()).group(0)
    expect(
        page.get_by_text(f"Derivación {number} enviada. Imprima la boleta para la familia.")
    ).to_be_visible()
    summary = page.locator("dl.summary")
    expect(summary).to_contain_text(OIM)
    expect(summary).to_contain_text(f"{HEAD}, {SON}, {GRANDMOTHER}")
    expect(summary).to_contain_text("Asesoría legal")

    pages = fetch_pdf(page, page.get_by_role("link", name="Imprimir boleta (PDF)"))
    assert len(pages) == 1
    slip = pages[0]
    assert f"Boleta de referencia {number}" in slip
    assert f"Caso {case_number}" in slip
    assert OIM in slip
    for name in (HEAD, SON, GRANDMOTHER):
        assert name in slip
    assert "Cuilco, Huehuetenango" in slip
    assert "Asesoría legal" in slip

    # --- Back on the case: the referral listed, legal advice referred, OIM no longer offered --------
    summary.get_by_role("link", name=case_number).click()
    expect(page.get_by_role("heading", name=f"Caso {case_number}")).to_be_visible()
    referral_row = table_row(page, number)
    expect(referral_row).to_contain_text(OIM)
    expect(referral_row).to_contain_text("Enviada")
    expect(referral_row.get_by_role("link", name="Boleta PDF")).to_be_visible()
    expect(table_row(page, "Asesoría legal")).to_contain_text("Derivada")
    expect(suggestion(page, OIM)).to_contain_text("(ya derivada)")
    expect(suggestion(page, OIM).get_by_role("link", name="Derivar")).to_have_count(0)
    expect(suggestion(page, HOGARES).get_by_role("link", name="Derivar")).to_be_visible()
    full_page_screenshot(page, CASE_PNG)

    # --- The arrival: every slip of the flight in one PDF (here, the one) --------------------------
    page.locator("dl.summary").first.get_by_role("link").first.click()
    expect(page.get_by_role("heading", name=re.compile(r"^Llegada del "))).to_be_visible()
    expect(page.get_by_role("link", name=case_number)).to_be_visible()
    pages = fetch_pdf(page, page.get_by_role("link", name="Imprimir todas las boletas (PDF)"))
    assert len(pages) == 1
    assert pages[0].count("Boleta de referencia") == 1
    assert f"Boleta de referencia {number}" in pages[0]
    assert f"Caso {case_number}" in pages[0]


def test_family_without_consent_cannot_be_referred_to_oim(app, page: Page) -> None:
    with app.app_context():
        reception = make_user("reception", centre="FAG", username="recepcion.fag")
        family = make_family(
            reception,
            make_arrival(reception),
            consent_type="refused",
            consent_on=None,
            migration_reasons=["UNEMPLOYMENT"],
            members=[
                member_data("Juana", "Ixcoy Tomás", age=29),
                member_data("Pedro", "Ixcoy Tomás", sex="M", relationship="SON", age=5),
            ],
        )
        family_id, case_number = family.id, family.case_number

    log_in(page, "recepcion.fag")
    page.goto(f"/cases/{family_id}")
    expect(page.get_by_role("heading", name=f"Caso {case_number}")).to_be_visible()
    expect(page.locator("dl.summary").first).to_contain_text("No otorgado")
    # OIM is still suggested (Cuilco, unemployment), but the case says why it cannot be referred there.
    oim = suggestion(page, OIM)
    expect(oim).to_contain_text("(Consentimiento: No otorgado)")
    expect(oim.get_by_role("link", name="Derivar")).to_have_count(0)
    expect(suggestion(page, HOGARES).get_by_role("link", name="Derivar")).to_be_visible()
    page.get_by_role("link", name="Nueva derivación").click()

    expect(page.get_by_role("heading", name=f"Nueva derivación · {case_number}")).to_be_visible()
    expect(page.get_by_role("note")).to_have_text(
        "La familia no dio su consentimiento para compartir datos: "
        "solo puede derivarse a programas de la SOSEP."
    )
    page.get_by_label("Institución").select_option(label=OIM)
    page.get_by_role("checkbox", name=re.compile("^Juana Ixcoy Tomás ")).check()
    page.get_by_role("checkbox", name=re.compile("^Pedro Ixcoy Tomás ")).check()
    page.get_by_label("Motivo de la derivación").fill("Busca empleo en Cuilco.")
    page.get_by_role("button", name="Crear y enviar").click()

    message = (
        "La familia no ha dado su consentimiento para compartir sus datos: no se puede derivar a una "
        "institución fuera de la SOSEP. Registre el consentimiento en el caso primero."
    )
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Revise los campos marcados: no se guardó nada todavía.")
    institution = page.get_by_label("Institución")
    expect(institution).to_have_attribute("aria-invalid", "true")
    expect(institution).to_have_accessible_description(message)
    institution_field = page.locator(".field").filter(has=institution)
    expect(institution_field.locator("p.error")).to_have_text(message)
    expect(page.locator("p.error")).to_have_count(1)
    # What was typed is still there, to change the institution to a SOSEP programme.
    expect(institution).to_have_value("OIM")
    expect(page.get_by_role("checkbox", name=re.compile("^Juana Ixcoy Tomás "))).to_be_checked()
    expect(page.get_by_label("Motivo de la derivación")).to_have_value("Busca empleo en Cuilco.")

    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Referral)) == 0
        db.session.remove()
    page.get_by_role("link", name="Cancelar").click()
    expect(page.get_by_role("heading", name=f"Caso {case_number}")).to_be_visible()
    expect(page.get_by_text("Sin derivaciones.")).to_be_visible()
