"""The desk's keyboard helps (issue #11): a required list moves on once the letters typed leave one option,
the sex proposed from the relationship or a common first name, a letter finding a check box in the lists."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from sosep_migrantes.extensions import db
from tests.browser.test_reception_journey import log_in, member
from tests.factories import make_arrival, make_user

PROPOSED = "Propuesto por el nombre: cámbielo si no corresponde."


def open_desk(app, page: Page, username: str, *, at_head: bool = True) -> None:
    with app.app_context():
        user = make_user("reception", centre="FAG", username=username)
        arrival_id = make_arrival(user).id
        db.session.remove()
    log_in(page, username)
    page.goto(f"/arrivals/{arrival_id}/families/new")
    # The form starts at its first field, the destination; most tests here begin with the family's head.
    expect(page.get_by_label("Municipio de destino")).to_be_focused()
    if at_head:
        member(page, 1).get_by_label("Nombres").focus()


def mother_and_daughter(page: Page) -> None:
    """Rosa, 30, head of the family, and her daughter Ana, 2 (a child under 7: Hogares Comunitarios)."""
    head = member(page, 1)
    head.get_by_label("Nombres").fill("Rosa")
    head.get_by_label("Apellidos").fill("Ajú Tum")
    head.get_by_label("Edad estimada (años)").fill("30")
    page.keyboard.press("Alt+n")
    member(page, 2).get_by_label("Nombres").fill("Ana")
    member(page, 2).get_by_label("Parentesco con el/la jefe(a)").select_option(label="Hija")
    member(page, 2).get_by_label("Edad estimada (años)").fill("2")


def test_letters_choose_and_move_on_without_spilling_into_the_next_field(app, page: Page) -> None:
    open_desk(app, page, "teclado.listas")
    head = member(page, 1)
    sex = head.get_by_label("Sexo")
    age = head.get_by_label("Edad estimada (años)")
    # A name the list does not know proposes nothing.
    page.keyboard.type("Xiomara")
    expect(sex).to_have_value("")
    sex.focus()
    page.keyboard.type("mujer")  # "m" already leaves one option: the rest of the word goes nowhere
    expect(sex).to_have_value("F")
    expect(age).to_be_focused()
    expect(age).to_have_value("")
    page.keyboard.type("30")
    expect(age).to_have_value("30")

    page.keyboard.press("Alt+n")
    child = member(page, 2)
    relationship = child.get_by_label("Parentesco con el/la jefe(a)")
    relationship.focus()
    page.keyboard.type("hijastro")  # passes by "Hijo" and "Hija" (a whole option, and the start of this one)
    expect(relationship).to_have_value("STEPCHILD")
    expect(child.get_by_label("Sexo")).to_be_focused()  # a stepchild's sex is not said: still to fill
    expect(child.get_by_label("Sexo")).to_have_value("")
    page.keyboard.type("x")  # no option: nothing changes, the focus stays
    expect(child.get_by_label("Sexo")).to_have_value("")
    expect(child.get_by_label("Sexo")).to_be_focused()
    # Arrow keys still go option by option and stay in the list.
    page.keyboard.press("ArrowDown")
    expect(child.get_by_label("Sexo")).to_be_focused()


def test_the_sex_proposed_by_the_name_is_marked_and_gives_way(app, page: Page) -> None:
    open_desk(app, page, "teclado.nombres")
    head = member(page, 1)
    sex = head.get_by_label("Sexo")
    page.keyboard.type("José María")  # the first given name counts
    expect(sex).to_have_value("M")
    expect(sex).to_have_accessible_description(PROPOSED)
    expect(head.get_by_text(PROPOSED)).to_be_visible()
    # Another name: another proposal; a name not on the list: none.
    head.get_by_label("Nombres").fill("María José")
    expect(sex).to_have_value("F")
    head.get_by_label("Nombres").fill("Guadalupe")
    expect(sex).to_have_value("")
    expect(head.get_by_text(PROPOSED)).to_have_count(0)
    # Staff's choice is theirs: a name typed afterwards does not change it.
    head.get_by_label("Nombres").fill("Pedro")
    expect(sex).to_have_value("M")
    sex.select_option(label="Mujer")
    expect(head.get_by_text(PROPOSED)).to_have_count(0)
    head.get_by_label("Nombres").fill("Pedro Antonio")
    expect(sex).to_have_value("F")

    # The relationship says more than the name: "Hija" wins over "Juan", without the name's mark.
    page.keyboard.press("Alt+n")
    child = member(page, 2)
    page.keyboard.type("Juan")
    expect(child.get_by_label("Sexo")).to_have_value("M")
    child.get_by_label("Parentesco con el/la jefe(a)").select_option(label="Hija")
    expect(child.get_by_label("Sexo")).to_have_value("F")
    expect(child.get_by_text(PROPOSED)).to_have_count(0)


def test_a_letter_finds_a_box_in_the_lists_and_enter_moves_to_the_next_list(app, page: Page) -> None:
    open_desk(app, page, "teclado.casillas")
    mother_and_daughter(page)
    page.get_by_label("Municipio de destino").fill("Cuilco, Huehuetenango")
    page.get_by_label("Consentimiento para el tratamiento de datos").select_option(label="Escrito (firmado)")

    needs = page.locator("#desk-needs")
    page.keyboard.press("Alt+u")
    expect(needs.get_by_role("checkbox", name="Alimentación", exact=True)).to_be_focused()
    page.keyboard.press("a")  # the next that begins with "a"
    child_food = "Alimentación diferenciada para niñez de 0 a 6 años"
    expect(needs.get_by_role("checkbox", name=child_food)).to_be_focused()
    page.keyboard.press("a")  # and the next
    expect(needs.get_by_role("checkbox", name="Atención médica")).to_be_focused()
    page.keyboard.press("k")
    kit = needs.get_by_role("checkbox", name="Kit de higiene")
    expect(kit).to_be_focused()
    expect(kit).not_to_be_checked()  # a letter only moves: Space ticks
    page.keyboard.press("Space")
    expect(kit).to_be_checked()
    page.keyboard.type("as")  # more letters narrow it: past "Atención médica" to "Asesoría legal"
    expect(needs.get_by_role("checkbox", name="Asesoría legal")).to_be_focused()
    page.keyboard.type("zq")  # nothing begins so: the focus stays
    expect(needs.get_by_role("checkbox", name="Asesoría legal")).to_be_focused()

    referrals = page.locator("#desk-referrals")
    homes = referrals.get_by_role("checkbox", name="Derivar a SOSEP · Hogares Comunitarios")
    expect(homes).to_be_visible()
    page.keyboard.press("Enter")  # the needs are done: the referrals' first box
    expect(referrals.get_by_role("checkbox").first).to_be_focused()
    page.keyboard.press("h")  # a word of the name: "SOSEP · Hogares Comunitarios"
    expect(homes).to_be_focused()
    page.keyboard.press("Enter")  # the last list: the save button
    expect(page.get_by_role("button", name="Guardar unidad familiar")).to_be_focused()


def test_the_shortcuts_are_listed_on_the_page(app, page: Page) -> None:
    open_desk(app, page, "teclado.ayuda")
    help_ = page.locator("#desk-shortcuts")
    page.get_by_role("link", name="Más atajos").click()
    expect(help_).to_have_attribute("open", "")
    expect(help_).to_contain_text("Parentesco, Sexo y Consentimiento: escriba las primeras letras.")
    expect(help_).to_contain_text("Espacio la marca o la desmarca")


def test_the_longer_way_with_enter_after_each_choice_still_registers_the_family(app, page: Page) -> None:
    """The way staff learnt before the lists moved on by themselves (48 keys: Enter after each choice,
    the sex typed, Tab through the lists) still ends with the same family: an Enter straight after a
    choice that already moved on stays where it is; a letter typed on a proposed sex replaces it."""
    open_desk(app, page, "teclado.costumbre")
    keyboard = page.keyboard

    def steps(*keys: str) -> None:
        for key in keys:
            if key in ("Enter", "Tab", "Space") or "+" in key:
                keyboard.press(key)
            else:
                keyboard.type(key)

    steps("María Elena", "Enter", "López Pérez", "Enter", "m", "Enter", "34")
    for given, relationship, age in (("José Luis", "hijo", "3"), ("Ana Sofía", "hija", "8")):
        steps("Alt+n", given, "Enter", relationship, "Enter", age)
    steps("Alt+n", "Pedro", "Tab", "López García", "Enter", "abuelo", "Enter", "h", "Enter", "65")
    steps("Enter", "Cuilco, Huehuetenango", "Enter", "e")
    expect(page.get_by_label("Consentimiento para el tratamiento de datos")).to_have_value("written")
    for number, sex, relationship, age in (
        (1, "F", "HEAD", "34"),
        (2, "M", "SON", "3"),
        (3, "F", "DAUGHTER", "8"),
        (4, "M", "GRANDPARENT", "65"),
    ):
        row = member(page, number)
        expect(row.get_by_label("Sexo")).to_have_value(sex)
        expect(row.get_by_label("Parentesco con el/la jefe(a)")).to_have_value(relationship)
        expect(row.get_by_label("Edad estimada (años)")).to_have_value(age)
    expect(page.get_by_label("Municipio de destino")).to_have_value("Cuilco, Huehuetenango")
    steps("Alt+u", "Space", "Tab", "Tab", "Space", "Control+Enter")
    banner = page.locator(".saved-banner")
    expect(banner).to_contain_text("4 integrantes")


def test_verbal_consent_asks_for_the_witness_next(app, page: Page) -> None:
    open_desk(app, page, "teclado.testigo")
    witness = page.get_by_label("Testigo del consentimiento verbal")
    expect(witness).to_have_attribute("aria-required", "false")
    page.get_by_label("Consentimiento para el tratamiento de datos").focus()
    page.keyboard.type("v")
    expect(witness).to_be_focused()
    expect(witness).to_have_attribute("aria-required", "true")
    expect(page.locator("label[for='f-consent_witness'] .req")).to_have_count(1)
    page.get_by_label("Consentimiento para el tratamiento de datos").select_option(label="Escrito (firmado)")
    expect(witness).to_have_attribute("aria-required", "false")
    expect(page.locator("label[for='f-consent_witness'] .req")).to_have_count(0)


def test_shift_and_a_letter_ticks_and_alt_e_gives_the_usual_delivery(app, page: Page) -> None:
    open_desk(app, page, "teclado.entrega")
    head = member(page, 1)
    head.get_by_label("Nombres").fill("Rosa")
    head.get_by_label("Apellidos").fill("Ajú Tum")
    head.get_by_label("Edad estimada (años)").fill("30")
    page.get_by_label("Municipio de destino").fill("Cuilco, Huehuetenango")
    page.get_by_label("Consentimiento para el tratamiento de datos").select_option(label="Escrito (firmado)")

    needs = page.locator("#desk-needs")
    food = needs.get_by_role("checkbox", name="Alimentación", exact=True)
    child_food = needs.get_by_role("checkbox", name="Alimentación diferenciada para niñez de 0 a 6 años")
    page.keyboard.press("Alt+u")
    expect(food).to_be_focused()
    page.keyboard.press("Shift+A")  # this box first: ticked
    expect(food).to_be_checked()
    page.keyboard.press("Shift+A")  # the next box with "a" not yet ticked
    expect(child_food).to_be_focused()
    expect(child_food).to_be_checked()
    page.keyboard.press("Space")  # Space unticks, as ever; Shift+letter never does
    expect(child_food).not_to_be_checked()
    expect(food).to_be_checked()
    page.keyboard.press("Shift+Z")  # no box begins so: nothing moves, nothing ticked
    expect(child_food).to_be_focused()
    expect(needs.get_by_role("checkbox", checked=True)).to_have_count(1)

    # Alt+E from anywhere: the usual delivery (a ration and a kit per person) and on to the referrals.
    head.get_by_label("Nombres").focus()
    page.keyboard.press("Alt+e")
    expect(food).to_be_checked()
    expect(needs.get_by_role("checkbox", name="Kit de higiene")).to_be_checked()
    expect(needs.get_by_role("checkbox", checked=True)).to_have_count(2)
    expect(page.locator("#desk-referrals .choose").first).to_be_focused()
    expect(head.get_by_label("Nombres")).to_have_value("Rosa")  # the chord typed nothing
    # The same by the button, which says what it ticks; with the boxes ticked it changes nothing.
    button = needs.get_by_role("button", name="Entrega habitual: Alimentación + Kit de higiene Alt+E")
    needs.get_by_role("checkbox", name="Kit de higiene").uncheck()
    button.click()
    expect(needs.get_by_role("checkbox", checked=True)).to_have_count(2)


def test_the_form_starts_at_the_destination_and_the_consent_moves_on_to_the_head(app, page: Page) -> None:
    open_desk(app, page, "teclado.inicio", at_head=False)
    page.keyboard.type("Cuilco, Huehuetenango")
    expect(page.get_by_label("Consentimiento para el tratamiento de datos")).to_be_focused()
    page.keyboard.type("e")
    expect(member(page, 1).get_by_label("Nombres")).to_be_focused()
    page.keyboard.type("Rosa")  # the rest of "escrito" is not asked for: the name is typed whole
    expect(member(page, 1).get_by_label("Nombres")).to_have_value("Rosa")


def test_a_destination_typed_far_enough_to_be_one_completes_and_moves_on(app, page: Page) -> None:
    open_desk(app, page, "teclado.destino", at_head=False)
    destination = page.get_by_label("Municipio de destino")
    consent = page.get_by_label("Consentimiento para el tratamiento de datos")
    expect(destination).to_be_focused()
    page.keyboard.type("cuilco")  # the only municipality that begins so
    expect(destination).to_have_value("Cuilco, Huehuetenango")
    expect(consent).to_be_focused()
    expect(page.locator("#sede-hint")).to_contain_text("HUEHUETENANGO", ignore_case=True)
    page.keyboard.type("e")
    expect(consent).to_have_value("written")
    expect(member(page, 1).get_by_label("Nombres")).to_be_focused()

    # Typed whole, from the start of the name on: the rest is not typed into the consent.
    page.reload()
    expect(destination).to_be_focused()
    page.keyboard.type("Cuilco, Huehuetenango")
    expect(destination).to_have_value("Cuilco, Huehuetenango")
    expect(consent).to_be_focused()
    expect(consent).to_have_value("")
    # The start of several: nothing is chosen, the focus stays.
    page.reload()
    page.keyboard.type("San José")
    expect(destination).to_be_focused()
    expect(destination).to_have_value("San José")
    # Erasing never chooses.
    destination.fill("Cuilcox")
    destination.press("Backspace")
    expect(destination).to_be_focused()
    expect(destination).to_have_value("Cuilco")


def test_a_late_answer_of_the_suggestions_keeps_what_staff_did_meanwhile(app, page: Page) -> None:
    """The suggestions are recomputed by the server as the family is typed; what staff tick or type in
    them while an answer is on its way is kept, the rest is the server's newer answer."""
    open_desk(app, page, "teclado.sugerencias")
    mother_and_daughter(page)
    referrals = page.locator("#desk-referrals")
    homes_line = referrals.locator("fieldset[data-institution='SOSEP_HOGARES']")
    expect(homes_line).to_be_visible()

    held = []
    page.route("**/families/suggestions", lambda route: held.append(route))
    page.keyboard.press("Alt+n")  # a third member, under 7: the next answer is held back
    member(page, 3).get_by_label("Nombres").fill("Luis")
    member(page, 3).get_by_label("Parentesco con el/la jefe(a)").select_option(label="Hijo")
    member(page, 3).get_by_label("Edad estimada (años)").fill("1")
    page.wait_for_timeout(700)
    assert held, "no question was asked"
    # Meanwhile staff tick Hogares Comunitarios and write their own reason.
    homes_line.locator(".choose").check()
    homes_line.get_by_label("Motivo").fill("Escrito por la trabajadora social")
    for route in held:
        route.continue_()
    # The newer answer is in (Luis is among the persons the line offers), and staff's work stayed.
    expect(homes_line.get_by_role("checkbox", name="Luis Ajú Tum")).to_be_visible()
    expect(homes_line.locator(".choose")).to_be_checked()
    expect(homes_line.get_by_label("Motivo")).to_have_value("Escrito por la trabajadora social")
