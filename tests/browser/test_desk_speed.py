"""Desk speed (issue #11): the family of four registered, served, referred and its slips queued on one
screen, counting what the receptionist does (clicks, fields filled, keys) and the full page loads."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from playwright.sync_api import Locator, Page, expect

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
    """Full loads of the page's document (a URL updated by the script is not one)."""
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

    # Needs served now: one tick each, the quantities prefilled (one per person).
    needs = page.locator("#desk-needs")
    desk.check(needs.get_by_role("checkbox", name="Alimentación", exact=True))
    desk.check(needs.get_by_role("checkbox", name="Kit de higiene"))
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
    # Ready for the next family, on the same screen.
    expect(member(page, 1).get_by_label("Nombres")).to_be_focused()
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


#: By keyboard alone the same family took 73 key actions before the one screen.
MOST_KEY_ACTIONS = 50


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


def test_the_same_family_by_keyboard_alone(app, page: Page) -> None:
    with app.app_context():
        user = make_user("reception", centre="FAG", username="recepcion.teclado")
        arrival_id = make_arrival(user).id
        db.session.remove()
    log_in(page, "recepcion.teclado")
    loads = page_loads(page)
    page.goto(f"/arrivals/{arrival_id}/families/new")
    keys = Keyboard(page)
    expect(member(page, 1).get_by_label("Nombres")).to_be_focused()

    # The mother: Enter goes to the next field still to fill (the relationship is already "head").
    for step in ("María Elena", "Enter", "López Pérez", "Enter", "m", "Enter", "34"):
        keys.press(step) if step == "Enter" else keys.type(step)
    # The children: the head's surnames are offered and the relationship gives the sex.
    for given, relationship, age in (("José Luis", "hijo", "3"), ("Ana Sofía", "hija", "8")):
        keys.press("Alt+n")
        for step in (given, "Enter", relationship, "Enter", age):
            keys.press(step) if step == "Enter" else keys.type(step)
    keys.press("Alt+n")
    for step in ("Pedro", "Tab", "López García", "Enter", "abuelo", "Enter", "h", "Enter", "65"):
        keys.press(step) if step in ("Enter", "Tab") else keys.type(step)
    expect(member(page, 4).get_by_label("Sexo")).to_have_value("M")
    # From the last field Enter goes back up to what is missing: the destination, then the consent.
    keys.press("Enter")
    expect(page.get_by_label("Municipio de destino")).to_be_focused()
    for step in ("Cuilco, Huehuetenango", "Enter", "e"):
        keys.press(step) if step == "Enter" else keys.type(step)
    expect(page.get_by_label("Consentimiento para el tratamiento de datos")).to_have_value("written")
    keys.press("Alt+m")  # the reasons: unemployment is the first
    keys.press("Space")
    keys.press("Alt+u")  # the needs: food, then the hygiene kit two boxes on
    for key in ("Space", "Tab", "Tab", "Space"):
        keys.press(key)
    needs = page.locator("#desk-needs")
    expect(needs.get_by_role("checkbox", name="Kit de higiene")).to_be_checked()
    referrals = page.locator("#desk-referrals")
    oim = referrals.get_by_role("checkbox", name=re.compile(r"^Derivar a .*\(OIM\)"))
    expect(oim).to_be_visible()
    keys.press("Alt+d")  # the referrals: Hogares Comunitarios first, the OIM last
    keys.press("Space")
    while not oim.evaluate("el => el === document.activeElement"):
        keys.press("Tab")
        assert len(keys.actions) < 80, keys.actions
    keys.press("Space")
    keys.press("Control+Enter")

    banner = page.locator(".saved-banner")
    expect(banner).to_contain_text("4 integrantes")
    expect(banner).to_contain_text("2 boletas en la cola de la llegada")
    assert len(keys.actions) <= MOST_KEY_ACTIONS, keys.actions
    assert len(loads) == 1, loads
    print(f"desk by keyboard: {len(keys.actions)} key actions, {len(loads)} page load")
