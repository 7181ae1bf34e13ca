"""The first given names the desk proposes a sex from (issue #11): a short list, never both ways."""

from __future__ import annotations

import json
import re
from html import unescape

from sosep_migrantes.core.text import fold
from sosep_migrantes.desk.given_names import MEN, WOMEN, sex_by_first_name
from tests.factories import login, make_arrival, make_family, make_user


def test_no_name_proposes_both_and_names_borne_by_both_are_left_out() -> None:
    assert not WOMEN & MEN
    for both in ("Guadalupe", "Cruz", "Santos", "Rosario", "Trinidad", "Carmen", "Reyes", "Concepción"):
        assert fold(both) not in sex_by_first_name()


def test_names_are_compared_folded_as_the_page_folds_them() -> None:
    proposals = sex_by_first_name()
    assert proposals[fold("María")] == "F"
    assert proposals[fold("JOSÉ")] == "M"
    assert all(name == fold(name) and " " not in name for name in proposals)


def test_the_desk_form_carries_the_list_and_the_shortcuts_but_the_case_form_does_not(client, ctx):
    user = make_user("reception", centre="FAG", username="recepcion.nombres")
    arrival = make_arrival(user)
    login(client, user)
    html = client.get(f"/arrivals/{arrival.id}/families/new").get_data(as_text=True)
    names = re.search(r'data-sex-names="([^"]*)"', html)
    assert names is not None and json.loads(unescape(names[1]))["maria"] == "F"
    assert 'id="desk-shortcuts"' in html
    family = make_family(user, arrival=arrival)
    edit = client.get(f"/cases/{family.id}/edit").get_data(as_text=True)
    assert "data-sex-names" not in edit and "desk-shortcuts" not in edit
