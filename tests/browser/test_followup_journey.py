"""The sede's follow-up in a real browser, and a partner institution's answer (issue #8).

The sede user finds an overdue family in its inbox, records a home visit (after the form has once
refused a contact without its result), links the mother to Mejoramiento de la Mujer and closes the case;
a partner user of OIM marks a referral attended and the sede sees the answer and who gave it.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import Locator, Page, expect

from sosep_migrantes.core.timeutil import LOCAL_TZ, today_local
from tests.browser.test_reception_journey import log_in, log_out, main_nav
from tests.factories import make_arrival, make_family, make_user, member
from tests.referrals.helpers import refer
from tests.referrals.partners import make_partner

pytestmark = pytest.mark.browser

SEDE_USER = "sede.huehue"
PARTNER_USER = "ana.oim"
PARTNER_NAME = "Ana López"
OIM = "Organización Internacional para las Migraciones (OIM)"
MUJER = "SOSEP · Mejoramiento de las Condiciones Socioeconómicas de la Mujer"

HEAD = "Marta Lucía Domingo Sales"
SON = "Brayan Josué Domingo Sales"
OTHER_HEAD = "Rosa Elena Pérez Mendoza"

REQUIRED = "Este campo es obligatorio."
VISIT_NOTES = "La madre busca trabajo; el niño ya está inscrito en la escuela."
ATTENDED_NOTE = "Recibió asesoría legal sobre los documentos de los niños."


def days_ago(days: int) -> dt.datetime:
    """Ten in the morning, ``days`` days ago in Guatemala."""
    return dt.datetime.combine(today_local() - dt.timedelta(days=days), dt.time(10, 0), tzinfo=LOCAL_TZ)


def shown(day: dt.date) -> str:
    """A date as the pages show it (dd/mm/yyyy)."""
    return day.strftime("%d/%m/%Y")


def inbox_row(page: Page, case_number: str) -> Locator:
    return page.get_by_role("row").filter(has=page.get_by_role("link", name=case_number, exact=True))


def open_count(page: Page) -> Locator:
    """The inbox's count of open cases (the "abiertas" link of its summary)."""
    return page.get_by_role("list", name="Resumen").get_by_role("link", name=re.compile(r"\d+ abiertas?$"))


def summary_value(page: Page, term: str) -> Locator:
    """The ``<dd>`` beside the ``<dt>`` that says ``term`` in a summary list."""
    return page.locator("dl.summary > div").filter(has=page.locator("dt", has_text=term)).locator("dd")


def followup_summary(page: Page, term: str) -> Locator:
    """A value of the summary under "Seguimiento de la sede" (the case's own summary has other terms)."""
    section = page.locator("dl.summary").filter(has=page.locator("dt", has_text="Próximo seguimiento"))
    return section.locator("div").filter(has=page.locator("dt", has_text=term)).locator("dd")


def case_status(page: Page) -> Locator:
    return page.get_by_role("heading", level=1).locator(".badge")


def history(page: Page) -> Locator:
    """The case's history: the list under the heading "Historial"."""
    return page.locator("ul.history")


def test_sede_finds_an_overdue_family_visits_links_the_mother_and_closes_the_case(app, page: Page) -> None:
    with app.app_context():
        desk = make_user("reception", centre="FAG")
        make_user("sede", sede="HUEHUETENANGO", username=SEDE_USER)
        # First contact is due 15 days after arrival: arrived 20 days ago, it is 5 days overdue.
        overdue = make_family(
            desk,
            make_arrival(desk, when=days_ago(20)),
            members=[
                member("Marta Lucía", "Domingo Sales", age=34),
                member("Brayan Josué", "Domingo Sales", sex="M", relationship="SON", age=8),
            ],
        )
        recent = make_family(
            desk,
            make_arrival(desk, when=days_ago(2)),
            members=[member("Rosa Elena", "Pérez Mendoza", age=41)],
        )
        case_number, other_case = overdue.case_number, recent.case_number
    today = today_local()
    first_due = today - dt.timedelta(days=5)
    next_visit = today + dt.timedelta(days=20)

    # --- The inbox: the sede's home page, with the overdue count leading to the overdue family -------
    log_in(page, SEDE_USER)
    expect(page).to_have_url(re.compile(r"/followup/$"))
    expect(page.get_by_role("heading", name=re.compile("^Bandeja de seguimiento"))).to_contain_text(
        "Sede Departamental de Huehuetenango"
    )
    counts = page.get_by_role("list", name="Resumen")
    expect(open_count(page)).to_have_text("2 abiertas")
    overdue_count = counts.get_by_role("link", name=re.compile("con seguimiento vencido$"))
    expect(overdue_count).to_have_text("1 con seguimiento vencido")
    overdue_count.click()

    expect(page).to_have_url(re.compile(r"overdue=1"))
    expect(page.get_by_label("Solo vencidas")).to_be_checked()
    expect(page.get_by_label("Ordenar por")).to_have_value("due")
    expect(page.get_by_role("status").filter(has_text="unidad")).to_have_text("1 unidad familiar")
    row = inbox_row(page, case_number)
    expect(row).to_contain_text(HEAD)
    expect(row).to_contain_text("Cuilco, Huehuetenango")
    expect(row).to_contain_text("Sin contacto")
    expect(row).to_contain_text(shown(first_due))
    expect(row).to_contain_text("Vencido hace 5 días")
    expect(inbox_row(page, other_case)).to_have_count(0)
    row.get_by_role("link", name=case_number).click()

    # --- The case: overdue, nothing recorded yet --------------------------------------------------
    expect(page.get_by_role("heading", name=f"Caso {case_number}")).to_be_visible()
    expect(case_status(page)).to_have_text("Recibida en el centro")
    expect(page.get_by_role("heading", name="Seguimiento de la sede")).to_be_visible()
    due = followup_summary(page, "Próximo seguimiento")
    expect(due).to_contain_text(shown(first_due))
    expect(due.get_by_text("Vencido")).to_be_visible()
    expect(page.get_by_text("Sin seguimientos registrados.")).to_be_visible()
    page.get_by_role("link", name="Registrar seguimiento").click()

    # --- The home visit: refused once without its result, what was typed kept --------------------
    expect(page.get_by_role("heading", name=f"Registrar seguimiento · {case_number}")).to_be_visible()
    expect(page.get_by_label("Fecha del contacto")).to_have_value(today.isoformat())
    contact_type = page.get_by_label("Tipo de contacto")
    expect(contact_type).to_be_focused()
    contact_type.select_option(label="Visita domiciliaria")
    page.get_by_label("Con quién se habló").fill("La madre, Marta Lucía")
    page.get_by_label("Notas").fill(VISIT_NOTES)
    page.get_by_label("Próxima acción").fill("Confirmar la inscripción en el programa de la Mujer")
    page.get_by_label("Fecha del próximo seguimiento").fill(next_visit.isoformat())
    page.get_by_role("button", name="Guardar seguimiento").click()

    expect(page.get_by_role("alert")).to_contain_text(
        "Revise los campos marcados: no se guardó nada todavía."
    )
    outcome = page.get_by_label("Resultado")
    expect(outcome).to_have_attribute("aria-invalid", "true")
    expect(outcome).to_have_accessible_description(REQUIRED)
    expect(page.locator(".field").filter(has=outcome).locator("p.error")).to_have_text(REQUIRED)
    expect(page.locator("p.error")).to_have_count(1)
    expect(page.get_by_label("Tipo de contacto")).to_have_value("home_visit")
    expect(page.get_by_label("Con quién se habló")).to_have_value("La madre, Marta Lucía")
    expect(page.get_by_label("Notas")).to_have_value(VISIT_NOTES)
    expect(page.get_by_label("Próxima acción")).to_have_value(
        "Confirmar la inscripción en el programa de la Mujer"
    )
    expect(page.get_by_label("Fecha del próximo seguimiento")).to_have_value(next_visit.isoformat())
    # The summary's link leads to the field, from the keyboard.
    page.get_by_role("alert").get_by_role("link", name=REQUIRED).press("Enter")
    expect(outcome).to_be_focused()
    outcome.select_option(label="Localizada")
    page.get_by_role("button", name="Guardar seguimiento").click()

    # --- Back on the case: the visit listed, the due date moved to the one chosen -----------------
    expect(page.get_by_role("heading", name=f"Caso {case_number}")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Seguimiento registrado.")).to_be_visible()
    expect(case_status(page)).to_have_text("En seguimiento")
    visits = page.get_by_role("table", name="Seguimientos")
    expect(visits.get_by_role("row")).to_have_count(2)  # the header and the visit
    visit = visits.get_by_role("row").nth(1)
    expect(visit).to_contain_text(shown(today))
    expect(visit).to_contain_text("Visita domiciliaria")
    expect(visit).to_contain_text("La madre, Marta Lucía")
    expect(visit).to_contain_text("Localizada")
    expect(visit).to_contain_text(VISIT_NOTES)
    expect(visit).to_contain_text(
        f"Confirmar la inscripción en el programa de la Mujer · {shown(next_visit)}"
    )
    expect(visit).to_contain_text("Usuario sede")
    due = followup_summary(page, "Próximo seguimiento")
    expect(due).to_have_text(shown(next_visit))
    expect(due.get_by_text("Vencido")).to_have_count(0)
    expect(followup_summary(page, "Último contacto")).to_have_text(shown(today))

    # --- Linking the mother to Mejoramiento de la Mujer -------------------------------------------
    page.get_by_role("link", name="Vincular a un programa").click()
    expect(page.get_by_role("heading", name=f"Vincular a un programa · {case_number}")).to_be_visible()
    who = page.get_by_label("Quién queda vinculado")
    expect(who).to_be_focused()
    who.select_option(label=f"{HEAD} (Jefe(a) de familia)")
    page.get_by_label("Programa o institución").select_option(label=MUJER)
    expect(page.get_by_label("Fecha de la vinculación")).to_have_value(today.isoformat())
    page.get_by_role("button", name="Guardar vinculación").click()

    expect(page.get_by_role("heading", name=f"Caso {case_number}")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Vinculación registrada.")).to_be_visible()
    expect(case_status(page)).to_have_text("Vinculada a un programa")
    expect(page.locator("ul.linkages > li")).to_have_text([f"{shown(today)} · {HEAD} → {MUJER}"])
    expect(followup_summary(page, "Próximo seguimiento")).to_have_text("No corresponde (caso vinculado)")

    # --- Closing the case: linked to a programme ---------------------------------------------------
    page.get_by_role("link", name="Cerrar el caso").click()
    expect(page.get_by_role("heading", name=f"Cerrar el caso · {case_number}")).to_be_visible()
    reason = page.get_by_label("Motivo del cierre")
    expect(reason).to_be_focused()
    reason.select_option(label="Vinculada a un programa")
    page.get_by_role("button", name="Cerrar el caso").click()

    expect(page.get_by_role("heading", name=f"Caso {case_number}")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Caso cerrado.")).to_be_visible()
    expect(case_status(page)).to_have_text("Cerrada")
    expect(followup_summary(page, "Próximo seguimiento")).to_have_text(
        f"Caso cerrado: Vinculada a un programa · {shown(today)}"
    )
    expect(page.get_by_role("link", name="Reabrir el caso")).to_be_visible()
    for action in (
        "Registrar seguimiento",
        "Vincular a un programa",
        "Trasladar a otra sede",
        "Cerrar el caso",
    ):
        expect(page.get_by_role("link", name=action)).to_have_count(0)

    # --- The history tells the steps (robust words: the wording of its lines is being rewritten) ---
    expect(page.get_by_role("heading", name="Historial")).to_be_visible()
    steps = history(page).locator("li")
    expect(steps.filter(has_text="Seguimiento")).not_to_have_count(0)
    expect(steps.filter(has_text=re.compile("vincula", re.IGNORECASE))).not_to_have_count(0)
    expect(steps.filter(has_text="Caso cerrado")).to_have_count(1)

    # --- Back in the inbox: the closed family has left the open list ------------------------------
    main_nav(page).get_by_role("link", name="Seguimiento").click()
    expect(page).to_have_url(re.compile(r"/followup/$"))
    counts = page.get_by_role("list", name="Resumen")
    # "1 abiertas" today: the count's word is not made singular (reported); either reading passes.
    expect(open_count(page)).to_have_text(re.compile(r"^1 abiertas?$"))
    expect(counts.get_by_role("link", name=re.compile("con seguimiento vencido$"))).to_have_text(
        "0 con seguimiento vencido"
    )
    expect(inbox_row(page, case_number)).to_have_count(0)
    expect(inbox_row(page, other_case)).to_contain_text(OTHER_HEAD)
    expect(inbox_row(page, other_case).get_by_text(re.compile("^Vencido"))).to_have_count(0)


def test_a_partner_marks_a_referral_attended_and_the_sede_sees_it(app, page: Page) -> None:
    with app.app_context():
        desk = make_user("reception", centre="FAG")
        make_user("sede", sede="HUEHUETENANGO", username=SEDE_USER)
        make_partner("OIM", full_name=PARTNER_NAME, username=PARTNER_USER)
        family = make_family(
            desk,
            make_arrival(desk, when=days_ago(3)),
            members=[
                member("Marta Lucía", "Domingo Sales", age=34),
                member("Brayan Josué", "Domingo Sales", sex="M", relationship="SON", age=8),
            ],
        )
        referral = refer(family, desk, "OIM", send=True, needs=["LEGAL"], reason="Asesoría legal.")
        case_number, number = family.case_number, referral.number
    today = today_local()

    # --- The partner: its referrals, the one for OIM, accepted then attended -----------------------
    log_in(page, PARTNER_USER)
    expect(page).to_have_url(re.compile(r"/partner/$"))
    expect(page.get_by_role("heading", name=f"Derivaciones recibidas · {OIM}")).to_be_visible()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=number, exact=True))
    expect(row).to_contain_text(f"{HEAD} · 34 años (aprox.)")
    expect(row).to_contain_text(f"{SON} · 8 años (aprox.)")
    expect(row).to_contain_text("Cuilco, Huehuetenango")
    expect(row).to_contain_text("Enviada")
    # The case is not the partner's to see: its number is nowhere but inside the slip's (REF-<case>).
    assert case_number not in page.content().replace(number, "")
    row.get_by_role("link", name=number).click()

    expect(page.get_by_role("heading", name=f"Derivación {number}")).to_contain_text("Enviada")
    # Attended comes after accepted: the partner cannot skip it.
    expect(page.get_by_role("button", name="Registrar que fue atendida")).to_have_count(0)
    page.get_by_role("button", name="Aceptar la derivación").click()
    expect(page.get_by_role("status").filter(has_text="Respuesta registrada: Aceptada.")).to_be_visible()
    expect(page.get_by_role("heading", name=f"Derivación {number}")).to_contain_text("Aceptada")

    page.get_by_label(re.compile("^Nota")).fill(ATTENDED_NOTE)
    page.get_by_role("button", name="Registrar que fue atendida").click()
    expect(page.get_by_role("status").filter(has_text="Respuesta registrada: Atendida.")).to_be_visible()
    expect(page.get_by_role("heading", name=f"Derivación {number}")).to_contain_text("Atendida")
    expect(page.get_by_role("button", name="Registrar que fue atendida")).to_have_count(0)
    attended = page.get_by_role("row").filter(has=page.get_by_role("cell", name="Atendida", exact=True))
    expect(attended).to_contain_text(f"{PARTNER_NAME} ({OIM})")
    expect(attended).to_contain_text(ATTENDED_NOTE)
    log_out(page)

    # --- The sede: the case shows the referral attended; the referral says by whom ----------------
    log_in(page, SEDE_USER)
    expect(page).to_have_url(re.compile(r"/followup/$"))
    inbox_row(page, case_number).get_by_role("link", name=case_number).click()
    expect(page.get_by_role("heading", name=f"Caso {case_number}")).to_be_visible()
    referral_row = page.get_by_role("row").filter(has=page.get_by_role("link", name=number, exact=True))
    expect(referral_row).to_contain_text(OIM)
    expect(referral_row).to_contain_text("Atendida")
    referral_row.get_by_role("link", name=number).click()

    expect(page.get_by_role("heading", name=f"Derivación {number}")).to_contain_text("Atendida")
    expect(summary_value(page, "Respuesta")).to_have_text(
        f"Atendida por {PARTNER_NAME} ({OIM}) el {shown(today)}"
    )
    attended = page.get_by_role("row").filter(has=page.get_by_role("cell", name="Atendida", exact=True))
    expect(attended).to_contain_text(f"{PARTNER_NAME} ({OIM})")
    expect(attended).to_contain_text(ATTENDED_NOTE)
