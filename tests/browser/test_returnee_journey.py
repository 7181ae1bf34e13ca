"""A returning person recognised across the country, in a real browser (issue #12, item 3).

Catalina Tzoc Brito was received at Tecún Umán in 2024 (going to Nebaj, Quiché's sede). Back through the
Aurora airport, the FAG desk registers her as "Catarina Tzoc Brito" with the same date of birth; on her
new case's earlier records it sees the Tecún Umán case only by its number, centre, date and sede, links
it, and the re-migration shows on both cases: the Tecún Umán desk sees the FAG case the same way.
"""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import Page, expect

from sosep_migrantes.core.timeutil import LOCAL_TZ
from tests.browser.test_reception_journey import log_in, log_out
from tests.factories import make_arrival, make_family, make_user, member

pytestmark = pytest.mark.browser

FAG_DESK, TECUN_DESK = "desk.fag.returnee", "desk.tecun.returnee"


def test_the_fag_desk_links_a_tecun_uman_record_without_seeing_it(app, page: Page) -> None:
    with app.app_context():
        fag = make_user("reception", centre="FAG", username=FAG_DESK)
        tecun = make_user("reception", centre="TECUN_UMAN", username=TECUN_DESK)
        earlier = make_family(
            tecun,
            make_arrival(
                tecun,
                centre="TECUN_UMAN",
                mode="land",
                country="MX",
                when=dt.datetime(2024, 3, 5, 9, 0, tzinfo=LOCAL_TZ),
            ),
            municipality=1413,  # Nebaj, Quiché
            members=[member("Catalina", "Tzoc Brito", age=None, birth_date="1985-09-12")],
        )
        again = make_family(
            fag,
            make_arrival(fag),
            members=[member("Catarina", "Tzoc Brito", age=None, birth_date="1985-09-12")],
        )
        earlier_number, earlier_id, again_number, again_id = (
            earlier.case_number,
            earlier.id,
            again.case_number,
            again.id,
        )

    log_in(page, FAG_DESK)
    page.goto(f"/cases/{again_id}")
    expect(page.get_by_text("Sin re-migraciones vinculadas.")).to_be_visible()
    page.get_by_role("link", name="Registros anteriores").click()
    candidate = page.get_by_role("listitem").filter(has_text=earlier_number)
    expect(candidate).to_contain_text("Otro ámbito")
    expect(candidate).to_contain_text("05/03/2024")
    expect(candidate).to_contain_text("Quiché")
    expect(candidate).to_contain_text("misma fecha de nacimiento")
    expect(page.get_by_text("Catalina")).to_have_count(0)
    candidate.get_by_role("button", name="Vincular").click()
    expect(page.get_by_text("Registro vinculado")).to_be_visible()
    page.get_by_role("link", name=again_number).click()
    section = page.locator(".returnee-links")
    expect(section).to_contain_text(earlier_number)
    expect(section).to_contain_text("registro anterior")
    expect(page.get_by_text("Catalina")).to_have_count(0)
    log_out(page)

    log_in(page, TECUN_DESK)
    page.goto(f"/cases/{earlier_id}")
    section = page.locator(".returnee-links")
    expect(section).to_contain_text(again_number)
    expect(section).to_contain_text("regresó de nuevo")
    expect(page.get_by_text("Catarina")).to_have_count(0)
