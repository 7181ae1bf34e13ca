"""The reception desk in a real browser: arrival, a family of four with one mistake, search, detail.

And the other side of the same case: the sede of the family's destination sees it, another sede does not.
"""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Locator, Page, expect

from sosep_migrantes.core.timeutil import LOCAL_TZ
from tests.factories import PASSWORD, make_arrival, make_family, make_user, totp_code

pytestmark = pytest.mark.browser

#: Serial 24567890, check digit 5 (sum of digit x (position + 2) = 236, 236 mod 11 = 5), born in
#: department 13 (Huehuetenango), municipality 04 (Cuilco).
GOOD_CUI = "2456789051304"
SHORT_CUI = GOOD_CUI[:-1]  # the slip: 12 digits

#: Fixed paths, to look at after a run (the issue asks for them).
FORM_ERRORS_PNG = "/tmp/sosep-form-errors.png"  # noqa: S108
FORM_PNG = "/tmp/sosep-form.png"  # noqa: S108


def log_in(page: Page, username: str, password: str = PASSWORD) -> None:
    """Through the login page, from the keyboard: type, Tab, type, Enter."""
    page.goto("/login")
    user_field = page.get_by_label("Usuario")
    expect(user_field).to_be_focused()  # autofocus: the desk can start typing at once
    user_field.fill(username)
    page.keyboard.press("Tab")
    password_field = page.get_by_label("Contraseña")
    expect(password_field).to_be_focused()
    password_field.fill(password)
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Salir")).to_be_visible()
    if urlsplit(page.url).path == "/login/code":  # coordinators: the authenticator's code
        code_field = page.get_by_label("Código")
        expect(code_field).to_be_focused()
        code_field.fill(totp_code())
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Código de verificación")).to_have_count(0)


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Salir").click()
    expect(page.get_by_role("heading", name="Ingresar")).to_be_visible()


def main_nav(page: Page) -> Locator:
    return page.get_by_role("navigation", name="Principal")


def member(page: Page, number: int) -> Locator:
    """The fieldset of the member shown as 'Integrante <number>' (numbers follow the rows on screen)."""
    return page.get_by_role("group", name=f"Integrante {number}", exact=True)


def member_rows(page: Page) -> Locator:
    return page.locator("#members fieldset.member")


def full_page_screenshot(page: Page, path: str) -> None:
    """The whole form, with the sticky save bar in its place at the end rather than over a member row.

    The scroll position is put back afterwards, so the screenshot changes nothing for the keyboard steps.
    """
    scrolled = page.evaluate("window.scrollY")
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    page.screenshot(path=path, full_page=True)
    page.evaluate("y => window.scrollTo(0, y)", scrolled)


#: Where the focused element is, and whether the sticky save bar covers it.
_FOCUS_PROBE = """() => {
  const el = document.activeElement, bar = document.querySelector('.actions.sticky');
  const r = el.getBoundingClientRect(), b = bar.getBoundingClientRect();
  return {name: el.name || el.id || el.textContent.trim().slice(0, 40),
          hidden: !bar.contains(el) && r.bottom > b.top && r.top < b.bottom};
}"""


def tab_to(page: Page, name: str, max_presses: int = 80) -> None:
    """Tab forward until the field ``name`` has the focus; no field on the way may be under the save bar."""
    for _ in range(max_presses):
        page.keyboard.press("Tab")
        focus = page.evaluate(_FOCUS_PROBE)
        assert not focus["hidden"], f"{focus['name']} has the focus but is hidden under the save bar"
        if focus["name"] == name:
            return
    raise AssertionError(f"{name} never got the focus with Tab")


def expect_member(
    row: Locator,
    *,
    given: str,
    surnames: str,
    sex: str,
    relationship: str,
    age: str = "",
    birth: str = "",
    cui: str = "",
) -> None:
    expect(row.get_by_label("Nombres")).to_have_value(given)
    expect(row.get_by_label("Apellidos")).to_have_value(surnames)
    expect(row.get_by_label("Sexo")).to_have_value(sex)
    expect(row.get_by_label("Parentesco con el/la jefe(a)")).to_have_value(relationship)
    expect(row.get_by_label("Edad estimada (años)")).to_have_value(age)
    expect(row.get_by_label("Fecha de nacimiento")).to_have_value(birth)
    expect(row.get_by_label("CUI (DPI)")).to_have_value(cui)


#: What the four rows hold once the family is typed (the CUI of row 2 is wrong until corrected).
HEAD = {"given": "María Elena", "surnames": "López Pérez", "sex": "F", "relationship": "HEAD", "age": "34"}
SON = {"given": "José Luis", "surnames": "López Pérez", "sex": "M", "relationship": "SON", "age": "8"}
DAUGHTER = {
    "given": "Ana Sofía",
    "surnames": "López Pérez",
    "sex": "F",
    "relationship": "DAUGHTER",
    "birth": "14/03/2021",
}
#: Born 400 days ago: one year old whatever day the test runs.
BABY = {
    "given": "Kevin Alexander",
    "surnames": "Ramírez López",
    "sex": "M",
    "relationship": "SON",
    "birth": (dt.datetime.now(LOCAL_TZ).date() - dt.timedelta(days=400)).strftime("%d/%m/%Y"),
}


def test_reception_registers_a_family_of_four_at_the_desk(app, page: Page) -> None:
    with app.app_context():
        make_user("reception", centre="FAG", username="recepcion.fag")

    log_in(page, "recepcion.fag")
    expect(page.get_by_role("heading", name="Llegadas", exact=True)).to_be_visible()

    # --- The arrival (the flight) -------------------------------------------------------------
    main_nav(page).get_by_role("link", name="Llegadas").click()
    page.get_by_role("link", name="Nueva llegada").click()
    expect(page.get_by_role("heading", name="Nueva llegada")).to_be_visible()
    expect(page.get_by_label("Centro de recepción")).to_have_value("FAG")
    arrival_day = dt.datetime.now(LOCAL_TZ).date()
    page.get_by_label("Fecha y hora de llegada").fill(f"{arrival_day.isoformat()}T06:15")
    page.get_by_label("Número de vuelo o de bus").fill("GUA2231")
    page.get_by_label("Aeropuerto o ciudad de salida").fill("Alexandria, LA")
    page.get_by_role("button", name="Guardar y registrar familias").click()

    # --- The family form: the head (the mother) in row 1, from the keyboard ---------------------
    expect(page.get_by_role("heading", name="Registrar unidad familiar")).to_be_visible()
    expect(page.get_by_text("Llegada registrada. Registre ahora las unidades familiares.")).to_be_visible()
    expect(page.get_by_text("GUA2231 Alexandria, LA")).to_be_visible()
    expect(member_rows(page)).to_have_count(1)
    head = member(page, 1)
    # The form starts at its first field, the destination (asked here at the end); the head's names are
    # one click away.
    expect(page.get_by_label("Municipio de destino")).to_be_focused()
    head.get_by_label("Nombres").click()
    # The only row cannot be removed, so its button is not shown.
    expect(head.get_by_role("button", name=re.compile("Quitar integrante"))).to_be_hidden()
    page.keyboard.type(HEAD["given"])
    page.keyboard.press("Tab")
    expect(head.get_by_label("Apellidos")).to_be_focused()
    page.keyboard.type(HEAD["surnames"])
    page.keyboard.press("Tab")
    expect(head.get_by_label("Parentesco con el/la jefe(a)")).to_be_focused()
    expect(head.get_by_label("Parentesco con el/la jefe(a)")).to_have_value("HEAD")
    page.keyboard.press("Tab")
    expect(head.get_by_label("Sexo")).to_be_focused()
    head.get_by_label("Sexo").select_option(label="Mujer")
    head.get_by_label("Edad estimada (años)").fill(HEAD["age"])

    # --- Row 2 with the button: the head's surnames are offered -----------------------------------
    page.get_by_role("button", name="Agregar integrante").click()
    expect(member_rows(page)).to_have_count(2)
    son = member(page, 2)
    expect(son.get_by_label("Nombres")).to_be_focused()
    expect(son.get_by_label("Apellidos")).to_have_value("López Pérez")
    page.keyboard.type(SON["given"])
    page.keyboard.press("Tab")  # onto the offered surnames: Tab again keeps them
    expect(son.get_by_label("Apellidos")).to_be_focused()
    page.keyboard.press("Tab")
    expect(son.get_by_label("Parentesco con el/la jefe(a)")).to_be_focused()
    son.get_by_label("Parentesco con el/la jefe(a)").select_option(label="Hijo")
    expect(son.get_by_label("Sexo")).to_have_value("M")  # a son: filled from the relationship
    son.get_by_label("Edad estimada (años)").fill(SON["age"])
    son.get_by_label("CUI (DPI)").fill(SHORT_CUI)  # the deliberate mistake: 12 digits

    # --- Row 3 with the button: started by mistake, removed below ---------------------------------
    page.get_by_role("button", name="Agregar integrante").click()
    extra = member(page, 3)
    expect(extra.get_by_label("Nombres")).to_be_focused()
    page.keyboard.type("Fila de más")

    # --- Row 4 with Alt+N ---------------------------------------------------------------------------
    page.keyboard.press("Alt+n")
    expect(member_rows(page)).to_have_count(4)
    daughter = member(page, 4)
    expect(daughter.get_by_label("Nombres")).to_be_focused()
    expect(daughter.get_by_label("Apellidos")).to_have_value("López Pérez")
    page.keyboard.type(DAUGHTER["given"])
    daughter.get_by_label("Sexo").select_option(label="Mujer")
    daughter.get_by_label("Parentesco con el/la jefe(a)").select_option(label="Hija")
    daughter.get_by_label("Fecha de nacimiento").fill(DAUGHTER["birth"])
    expect(daughter.locator(".age-hint")).to_have_text(re.compile(r"^\d+ años$"))

    # --- Row 5 with the button: other surnames typed over the offered ones ------------------------
    page.get_by_role("button", name="Agregar integrante").click()
    baby = member(page, 5)
    expect(baby.get_by_label("Nombres")).to_be_focused()
    page.keyboard.type(BABY["given"])
    page.keyboard.press("Tab")
    expect(baby.get_by_label("Apellidos")).to_be_focused()
    page.keyboard.type(BABY["surnames"])  # the offered text is selected: typing replaces it
    expect(baby.get_by_label("Apellidos")).to_have_value(BABY["surnames"])
    baby.get_by_label("Sexo").select_option(label="Hombre")
    baby.get_by_label("Parentesco con el/la jefe(a)").select_option(label="Hijo")
    baby.get_by_label("Fecha de nacimiento").fill(BABY["birth"])
    expect(baby.locator(".age-hint")).to_have_text("1 año")

    # --- Remove the row typed by mistake; the others keep what was typed and are renumbered -------
    # A filled row is only removed after confirming: saying no keeps it.
    page.once("dialog", lambda dialog: dialog.dismiss())
    extra.get_by_role("button", name="Quitar integrante 3").click()
    expect(member_rows(page)).to_have_count(5)
    page.once("dialog", lambda dialog: dialog.accept())
    extra.get_by_role("button", name="Quitar integrante 3").click()
    expect(member_rows(page)).to_have_count(4)
    expect(member(page, 2).get_by_label("Nombres")).to_be_focused()  # focus stays in the form
    expect(member(page, 5)).to_have_count(0)
    expect_member(member(page, 1), **HEAD)
    expect_member(member(page, 2), **SON, cui=SHORT_CUI)
    expect_member(member(page, 3), **DAUGHTER)
    expect_member(member(page, 4), **BABY)
    for number in range(1, 5):
        expect(member(page, number).get_by_role("button", name=f"Quitar integrante {number}")).to_be_visible()

    # --- Destination, reason, consent -------------------------------------------------------------
    destination = page.get_by_label("Municipio de destino")
    destination.press_sequentially("Cuilco, Huehuetenango")
    expect(page.locator("#sede-hint")).to_have_text("Seguimiento: Sede Departamental de Huehuetenango")
    page.get_by_role("checkbox", name="Desempleo o falta de oportunidades económicas").check()
    page.get_by_label("Consentimiento para el tratamiento de datos").select_option(label="Escrito (firmado)")
    today = dt.datetime.now(LOCAL_TZ).date()
    expect(page.get_by_label("Fecha del consentimiento")).to_have_value(today.strftime("%d/%m/%Y"))
    full_page_screenshot(page, FORM_PNG)

    page.get_by_role("button", name="Guardar unidad familiar").click()

    # --- The error: in Spanish, beside the field, focused; everything typed is still there --------
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Revise los campos marcados: no se guardó nada todavía.")
    expect(summary).to_contain_text("1 campo por corregir:")
    # The summary links straight to the field to correct.
    expect(
        summary.get_by_role("link", name="Integrante 2 · CUI (DPI): el CUI debe tener 13 dígitos.")
    ).to_have_attribute("href", "#" + (member(page, 2).get_by_label("CUI (DPI)").get_attribute("id") or ""))
    son_cui = member(page, 2).get_by_label("CUI (DPI)")
    expect(son_cui).to_be_focused()
    expect(son_cui).to_have_attribute("aria-invalid", "true")
    expect(son_cui).to_have_accessible_description("El CUI debe tener 13 dígitos.")
    cui_field = member(page, 2).locator(".field").filter(has=page.get_by_label("CUI (DPI)"))
    expect(cui_field.locator("p.error")).to_have_text("El CUI debe tener 13 dígitos.")
    expect(page.locator("p.error")).to_have_count(1)
    expect(member_rows(page)).to_have_count(4)
    expect_member(member(page, 1), **HEAD)
    expect_member(member(page, 2), **SON, cui=SHORT_CUI)
    expect_member(member(page, 3), **DAUGHTER)
    expect_member(member(page, 4), **BABY)
    expect(destination).to_have_value("Cuilco, Huehuetenango")
    expect(page.get_by_role("checkbox", name="Desempleo o falta de oportunidades económicas")).to_be_checked()
    expect(page.get_by_label("Consentimiento para el tratamiento de datos")).to_have_value("written")
    full_page_screenshot(page, FORM_ERRORS_PNG)

    # --- Correct it from the keyboard (the field has the focus); Enter moves on, Ctrl+Enter saves -----
    expect(son_cui).to_be_focused()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type(GOOD_CUI)
    expect(son_cui).to_have_value(GOOD_CUI)
    page.keyboard.press("Enter")  # never sends the family: the focus moves to the next field
    expect(son_cui).not_to_be_focused()
    expect(page.get_by_role("alert")).to_have_count(1)
    page.keyboard.press("Control+Enter")

    # --- Saved: the case number, and the form is ready for the next family ------------------------
    case_number = f"FAG-{arrival_day.year}-00001"
    banner = page.locator(".saved-banner")
    expect(banner).to_contain_text(f"Guardada: {case_number}")
    expect(banner).to_contain_text("María Elena López Pérez")
    expect(banner).to_contain_text("4 integrantes")
    expect(page.get_by_text(f"Unidad familiar {case_number} registrada con 4 integrantes.")).to_be_visible()
    expect(page.get_by_role("link", name="1 familia registrada en esta llegada")).to_be_visible()
    expect(member_rows(page)).to_have_count(1)
    next_head = member(page, 1)
    expect(page.get_by_label("Municipio de destino")).to_be_focused()
    expect_member(next_head, given="", surnames="", sex="", relationship="HEAD")
    expect(page.get_by_label("Municipio de destino")).to_have_value("")
    expect(page.get_by_label("Consentimiento para el tratamiento de datos")).to_have_value("")
    expect(page.get_by_role("alert")).to_have_count(0)

    # --- Casos: find the family by the head's name typed without accents --------------------------
    main_nav(page).get_by_role("link", name="Casos").click()
    expect(page.get_by_role("heading", name="Unidades familiares")).to_be_visible()
    search = page.get_by_label("Buscar por nombre, CUI o número de caso")
    search.fill("lopez garcia")  # every word must match: not this family
    search.press("Enter")
    expect(page.get_by_text("0 unidades familiares encontradas")).to_be_visible()
    search.fill("maria lopez")
    search.press("Enter")
    expect(page.get_by_text("1 unidad familiar encontrada")).to_be_visible()
    expect(search).to_have_value("maria lopez")
    result = page.get_by_role("row").filter(has=page.get_by_role("link", name=case_number))
    expect(result).to_contain_text("María Elena López Pérez")
    expect(result).to_contain_text("Cuilco, Huehuetenango")
    expect(result.get_by_role("cell").nth(2)).to_have_text("4")

    # --- The case: the four members -----------------------------------------------------------------
    result.get_by_role("link", name=case_number).click()
    expect(page.get_by_role("heading", name=f"Caso {case_number}")).to_be_visible()
    expect(page.get_by_role("heading", name="4 integrantes")).to_be_visible()
    expect(page.get_by_text("Sede Departamental de Huehuetenango")).to_be_visible()
    members = page.get_by_role("table").get_by_role("row")
    expect(members).to_have_count(5)  # header + 4
    expect(members.nth(1)).to_contain_text("María Elena López Pérez")
    expect(members.nth(1)).to_contain_text("Jefe(a) de familia")
    expect(members.nth(2)).to_contain_text("José Luis López Pérez")
    expect(members.nth(2)).to_contain_text(GOOD_CUI)
    expect(members.nth(3)).to_contain_text("Ana Sofía López Pérez")
    expect(members.nth(3)).to_contain_text("Hija")
    expect(members.nth(4)).to_contain_text("Kevin Alexander Ramírez López")


def test_sede_sees_the_cases_of_its_territory_only(app, page: Page) -> None:
    with app.app_context():
        reception = make_user("reception", centre="FAG")
        family = make_family(reception, make_arrival(reception), municipality="Cuilco, Huehuetenango")
        case_number, family_id = family.case_number, family.id
        make_user("sede", sede="HUEHUETENANGO", username="sede.huehuetenango")
        make_user("sede", sede="QUICHE", username="sede.quiche")

    log_in(page, "sede.huehuetenango")
    # A sede starts at its follow-up inbox, where the new family is waiting.
    expect(
        page.get_by_role("heading", name="Bandeja de seguimiento · Sede Departamental de Huehuetenango")
    ).to_be_visible()
    expect(page.get_by_role("link", name=case_number)).to_be_visible()
    main_nav(page).get_by_role("link", name="Casos").click()
    expect(page.get_by_role("heading", name="Unidades familiares")).to_be_visible()
    expect(main_nav(page).get_by_role("link", name="Llegadas")).to_have_count(0)
    expect(page.get_by_text("1 unidad familiar encontrada")).to_be_visible()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=case_number))
    expect(row).to_contain_text("María López Pérez")
    expect(row).to_contain_text("Cuilco, Huehuetenango")
    row.get_by_role("link", name=case_number).click()
    expect(page.get_by_role("heading", name=f"Caso {case_number}")).to_be_visible()
    log_out(page)

    log_in(page, "sede.quiche")
    expect(page.get_by_role("link", name=case_number)).to_have_count(0)  # not in its inbox either
    main_nav(page).get_by_role("link", name="Casos").click()
    expect(page.get_by_role("heading", name="Unidades familiares")).to_be_visible()
    expect(page.get_by_text("0 unidades familiares encontradas")).to_be_visible()
    expect(page.get_by_text("No hay unidades familiares que coincidan.")).to_be_visible()
    expect(page.get_by_role("link", name=case_number)).to_have_count(0)
    search = page.get_by_label("Buscar por nombre, CUI o número de caso")
    search.fill(case_number)
    with page.expect_navigation():  # the page says "0" before and after: wait for the answer
        search.press("Enter")
    expect(search).to_have_value(case_number)
    expect(page.get_by_text("0 unidades familiares encontradas")).to_be_visible()
    response = page.goto(f"/cases/{family_id}")
    assert response is not None and response.status == 404
