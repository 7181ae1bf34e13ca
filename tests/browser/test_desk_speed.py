"""Desk speed (issue #11): the family of four registered, served, referred and its slips queued on one
screen, counting what the receptionist does (clicks, fields filled, keys) and the full page loads."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from playwright.sync_api import Locator, Page, expect

from sosep_migrantes.cases.models import FamilyUnit
from sosep_migrantes.extensions import db
from sosep_migrantes.referrals.models import Referral
from tests.browser.test_reception_journey import log_in, member
from tests.factories import make_arrival, make_user

#: The issue's ceiling: a family of four in at most 30 interactions and one full page load.
MOST_INTERACTIONS = 30


@dataclass
class Counter:
    """Every action of the person at the desk goes through here, and is counted."""

    page: Page
    actions: list[str] = field(default_factory=list)

    def fill(self, target: Locator, text: str) -> None:
        target.fill(text)
        self.actions.append(f"fill {text}")

    def select(self, target: Locator, label: str) -> None:
        target.select_option(label=label)
        self.actions.append(f"select {label}")

    def click(self, target: Locator) -> None:
        target.click()
        self.actions.append("click")

    def check(self, target: Locator) -> None:
        target.check()
        self.actions.append("check")


def page_loads(page: Page) -> list[str]:
    """Full loads of the page's document (a URL updated by the script is not one), from now on: the page
    signing in landed on has finished loading first, so its late load event is not counted as the desk's."""
    page.wait_for_load_state("load")
    loads: list[str] = []
    page.on("load", lambda loaded: loads.append(loaded.url))
    return loads


def test_a_family_of_four_in_at_most_30_interactions_and_one_page_load(app, page: Page) -> None:
    with app.app_context():
        user = make_user("reception", centre="FAG", username="recepcion.rapida")
        arrival_id = make_arrival(user).id
        db.session.remove()
    log_in(page, "recepcion.rapida")
    loads = page_loads(page)
    desk = Counter(page)

    page.goto(f"/arrivals/{arrival_id}/families/new")  # the one full page load
    desk.fill(page.get_by_label("Municipio de destino"), "Cuilco, Huehuetenango")
    desk.select(page.get_by_label("Consentimiento para el tratamiento de datos"), "Escrito (firmado)")

    mother = member(page, 1)
    desk.fill(mother.get_by_label("Nombres"), "María Elena")
    desk.fill(mother.get_by_label("Apellidos"), "López Pérez")
    desk.select(mother.get_by_label("Sexo"), "Mujer")
    desk.fill(mother.get_by_label("Edad estimada (años)"), "34")

    for number, given, relationship, age in ((2, "José Luis", "Hijo", "3"), (3, "Ana Sofía", "Hija", "8")):
        desk.click(page.get_by_role("button", name="Agregar integrante"))
        child = member(page, number)
        expect(child.get_by_label("Apellidos")).to_have_value("López Pérez")  # offered: not typed
        desk.fill(child.get_by_label("Nombres"), given)
        desk.select(child.get_by_label("Parentesco con el/la jefe(a)"), relationship)
        expect(child.get_by_label("Sexo")).not_to_have_value("")  # given by the relationship
        desk.fill(child.get_by_label("Edad estimada (años)"), age)

    desk.click(page.get_by_role("button", name="Agregar integrante"))
    grandfather = member(page, 4)
    desk.fill(grandfather.get_by_label("Nombres"), "Pedro")
    desk.fill(grandfather.get_by_label("Apellidos"), "López García")
    desk.select(grandfather.get_by_label("Parentesco con el/la jefe(a)"), "Abuelo(a)")
    desk.select(grandfather.get_by_label("Sexo"), "Hombre")
    desk.fill(grandfather.get_by_label("Edad estimada (años)"), "65")
    desk.check(page.get_by_role("checkbox", name="Desempleo o falta de oportunidades económicas"))

    # Needs served now: the usual delivery (a ration and a kit per person) in one click, the quantities
    # prefilled; any other need is one tick.
    needs = page.locator("#desk-needs")
    usual = re.compile("^Entrega habitual: Alimentación \\+ Kit de higiene")
    desk.click(needs.get_by_role("button", name=usual))
    expect(needs.get_by_role("checkbox", name="Alimentación", exact=True)).to_be_checked()
    expect(needs.get_by_role("checkbox", name="Kit de higiene")).to_be_checked()
    expect(needs.get_by_role("checkbox", checked=True)).to_have_count(2)
    expect(needs.get_by_label("Cantidad de Alimentación", exact=True)).to_have_attribute("placeholder", "4")

    # The suggestions followed the typing: one tick each, persons and reason already there.
    referrals = page.locator("#desk-referrals")
    oim = referrals.get_by_role("checkbox", name=re.compile(r"^Derivar a .*\(OIM\)"))
    homes = referrals.get_by_role("checkbox", name=re.compile(r"^Derivar a SOSEP · Hogares Comunitarios"))
    expect(oim).to_be_visible()
    expect(homes).to_be_visible()
    desk.check(oim)
    desk.check(homes)

    desk.click(page.get_by_role("button", name="Guardar unidad familiar"))
    banner = page.locator(".saved-banner")
    expect(banner).to_contain_text("FAG-")
    expect(banner).to_contain_text("4 integrantes")
    expect(banner).to_contain_text("2 boletas en la cola de la llegada")
    # Ready for the next family, on the same screen, from its first field.
    expect(page.get_by_label("Municipio de destino")).to_be_focused()
    expect(member(page, 1).get_by_label("Nombres")).to_have_value("")
    # The slips: printed at once from the banner (a PDF in its own tab, not a page of the desk).
    with page.expect_popup() as popup:
        desk.click(banner.get_by_role("link", name="Imprimir las boletas de la llegada"))
    expect(popup.value).to_have_url(re.compile(r"/slips\.pdf$"))
    popup.value.close()

    assert len(desk.actions) <= MOST_INTERACTIONS, desk.actions
    assert loads == [loads[0]] and "/families/new" in loads[0], loads
    with app.app_context():
        referred = {r.institution.code: r.status for r in db.session.query(Referral)}
        assert referred == {"OIM": "sent", "SOSEP_HOGARES": "sent"}
        db.session.remove()
    print(f"desk: {len(desk.actions)} interactions, {len(loads)} page load")


#: By keyboard alone the same family took 73 key actions before the one screen, 48 with Enter moving to
#: the next field to fill and Alt+M/U/D; 36 with a required list that moves on once the letters typed
#: leave one option, the sex proposed from a common first name (the age typed on it accepts it), the
#: destination moving on once chosen and a letter finding a check box in the lists; 30 with the form
#: starting at the destination (its order on the page: no Enter back up to it), the usual delivery in
#: one chord (Alt+E) and Shift+letter going to a box and ticking it.
MOST_KEY_ACTIONS = 30


@dataclass
class Keyboard:
    """Keys only: every press and every word typed counts one."""

    page: Page
    actions: list[str] = field(default_factory=list)

    def type(self, text: str) -> None:
        self.page.keyboard.type(text)
        self.actions.append(f"type {text}")

    def press(self, key: str) -> None:
        self.page.keyboard.press(key)
        self.actions.append(key)

    def steps(self, *steps: str) -> None:
        """Keys (Enter, Tab, Space, Alt+..., Control+...) are pressed; anything else is typed."""
        for step in steps:
            if step in ("Enter", "Tab", "Space") or "+" in step:
                self.press(step)
            else:
                self.type(step)


def focused(page: Page, locator: Locator) -> bool:
    return bool(locator.evaluate("el => el === document.activeElement"))


def test_the_same_family_by_keyboard_alone(app, page: Page) -> None:
    with app.app_context():
        user = make_user("reception", centre="FAG", username="recepcion.teclado")
        arrival_id = make_arrival(user).id
        db.session.remove()
    log_in(page, "recepcion.teclado")
    loads = page_loads(page)
    page.goto(f"/arrivals/{arrival_id}/families/new")
    keys = Keyboard(page)
    # The form starts where the page does: the destination, typed whole (or chosen from the list), moves
    # on to the consent, where "e" is the only "Escrito" and moves on to the head's names.
    expect(page.get_by_label("Municipio de destino")).to_be_focused()
    keys.steps("Cuilco, Huehuetenango")
    expect(page.get_by_label("Consentimiento para el tratamiento de datos")).to_be_focused()
    keys.steps("e")
    expect(page.get_by_label("Consentimiento para el tratamiento de datos")).to_have_value("written")
    mother = member(page, 1)
    expect(mother.get_by_label("Nombres")).to_be_focused()

    # The mother: Enter goes to the next field to fill (the relationship is already "head"); her
    # first name proposed the sex, marked as a proposal: Enter stops there, and typing her age accepts it
    # (the age goes to the age).
    keys.steps("María Elena", "Enter", "López Pérez", "Enter")
    expect(mother.get_by_label("Sexo")).to_be_focused()
    expect(mother.get_by_label("Sexo")).to_have_value("F")
    expect(mother.get_by_label("Sexo")).to_have_accessible_description(
        "Propuesto por el nombre: cámbielo si no corresponde."
    )
    keys.steps("34")
    expect(mother.get_by_label("Edad estimada (años)")).to_have_value("34")
    expect(mother.get_by_label("Sexo")).to_have_value("F")
    # The children: the head's surnames are offered; "hijo" leaves one option in the relationship, which
    # gives the sex, so the focus is on the age; "hija" is also the start of "hijastro(a)": the age typed
    # next goes to the age all the same.
    for number, given, relationship, age in ((2, "José Luis", "hijo", "3"), (3, "Ana Sofía", "hija", "8")):
        keys.steps("Alt+n", given, "Enter", relationship)
        child = member(page, number)
        expect(child.get_by_label("Apellidos")).to_have_value("López Pérez")
        expect(child.get_by_label("Sexo")).to_have_value("M" if relationship == "hijo" else "F")
        keys.steps(age)
        expect(child.get_by_label("Edad estimada (años)")).to_have_value(age)
    expect(member(page, 3).get_by_label("Parentesco con el/la jefe(a)")).to_have_value("DAUGHTER")
    # The grandfather: other surnames (Tab onto the offered ones, typed over); "a" is already the only
    # relationship that begins so (the rest of "abuelo" is not typed anywhere); "Pedro" proposed the sex,
    # where the focus stops, and his age accepts it.
    keys.steps("Alt+n", "Pedro", "Tab", "López García", "Enter", "abuelo")
    grandfather = member(page, 4)
    expect(grandfather.get_by_label("Parentesco con el/la jefe(a)")).to_have_value("GRANDPARENT")
    expect(grandfather.get_by_label("Sexo")).to_have_value("M")
    expect(grandfather.get_by_label("Sexo")).to_be_focused()
    keys.steps("65")
    expect(grandfather.get_by_label("Edad estimada (años)")).to_have_value("65")
    keys.steps("Alt+m", "Space")  # the reasons: unemployment is the first
    expect(page.get_by_role("checkbox", name="Desempleo o falta de oportunidades económicas")).to_be_checked()
    # The usual delivery (food and a hygiene kit, one per person) in one chord, which goes on to the
    # referrals: Hogares Comunitarios first (Space ticks it); Shift+O goes to the OIM and ticks it.
    keys.steps("Alt+e")
    needs = page.locator("#desk-needs")
    expect(needs.get_by_role("checkbox", name="Alimentación", exact=True)).to_be_checked()
    expect(needs.get_by_role("checkbox", name="Kit de higiene")).to_be_checked()
    expect(needs.get_by_role("checkbox", checked=True)).to_have_count(2)
    expect(needs.get_by_label("Cantidad de Kit de higiene")).to_have_attribute("placeholder", "4")
    referrals = page.locator("#desk-referrals")
    oim = referrals.get_by_role("checkbox", name=re.compile(r"^Derivar a .*\(OIM\)"))
    homes = referrals.get_by_role("checkbox", name=re.compile(r"^Derivar a SOSEP · Hogares Comunitarios"))
    expect(homes).to_be_focused()
    expect(oim).to_be_visible()  # suggested once the reason was ticked (the destination is a priority one)
    keys.steps("Space", "Shift+O")
    expect(oim).to_be_focused()
    expect(oim).to_be_checked()
    expect(homes).to_be_checked()
    expect(referrals.locator(".choose:checked")).to_have_count(2)
    keys.steps("Control+Enter")

    banner = page.locator(".saved-banner")
    expect(banner).to_contain_text("4 integrantes")
    expect(banner).to_contain_text("2 boletas en la cola de la llegada")
    assert len(keys.actions) <= MOST_KEY_ACTIONS, keys.actions
    assert len(loads) == 1, loads
    with app.app_context():
        referred = {r.institution.code: r.status for r in db.session.query(Referral)}
        assert referred == {"OIM": "sent", "SOSEP_HOGARES": "sent"}
        family = db.session.query(FamilyUnit).one()
        people = sorted(
            (m.given_names, m.relationship_to_head.code, m.sex, m.estimated_age) for m in family.members
        )
        assert people == [
            ("Ana Sofía", "DAUGHTER", "F", 8),
            ("José Luis", "SON", "M", 3),
            ("María Elena", "HEAD", "F", 34),
            ("Pedro", "GRANDPARENT", "M", 65),
        ]
        db.session.remove()
    print(f"desk by keyboard: {len(keys.actions)} key actions, {len(loads)} page load")
