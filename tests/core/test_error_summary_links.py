"""Every error of a form page is shown beside its field, and the summary's link leads to that field.

Errors on list items (the second language of a member, one need of a referral, a row of the needs
checklist) used to be keyed ``members-0-languages-1`` or ``needs-0``: no field had that name, so the
message appeared only in the summary and its link went nowhere.
"""

from __future__ import annotations

from collections import Counter
from html.parser import HTMLParser

from tests.factories import family_payload, form_data, login, make_arrival, make_family, make_user, member
from tests.needs.test_needs import checklist


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: Counter[str] = Counter()
        self.summary_links: list[str] = []
        self.error_texts: list[str] = []
        self._depth_in_summary = 0
        self._in_error = False
        self._summary_stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids[attributes["id"]] += 1
        if self._summary_stack:
            self._summary_stack.append(tag)
            if tag == "a":
                self.summary_links.append(attributes.get("href") or "")
        elif attributes.get("id") == "error-summary":
            self._summary_stack.append(tag)
        if tag == "p" and "error" in (attributes.get("class") or "").split() and not self._summary_stack:
            self._in_error = True
            self.error_texts.append("")

    def handle_endtag(self, tag: str) -> None:
        if self._summary_stack:
            self._summary_stack.pop()
        if tag == "p":
            self._in_error = False

    def handle_data(self, data: str) -> None:
        if self._in_error:
            self.error_texts[-1] += data


def assert_errors_beside_fields(html: str, expected_messages: list[str]) -> None:
    page = _Page()
    page.feed(html)
    duplicated = [i for i, n in page.ids.items() if n > 1]
    assert not duplicated, f"ids used twice: {duplicated}"
    assert page.summary_links, "no error summary"
    for href in page.summary_links:
        assert href.startswith("#") and page.ids[href[1:]] == 1, f"summary link {href} leads nowhere"
    beside = " ".join(page.error_texts)
    for message in expected_messages:
        assert message in beside, f"{message!r} is not shown beside a field"


def test_a_members_second_language_error_is_beside_the_field(app, ctx, client):
    user = make_user("reception", centre="FAG")
    arrival_id = make_arrival(user).id
    login(client, user)
    payload = family_payload(members=[member(languages=["ES", "NO_SUCH_LANGUAGE"])])
    response = client.post(f"/arrivals/{arrival_id}/families/new", data=form_data(payload))
    assert response.status_code == 400
    assert_errors_beside_fields(response.get_data(as_text=True), ["Elija una opción de la lista."])


def test_a_family_without_members_links_to_the_members_message(app, ctx, client):
    user = make_user("reception", centre="FAG")
    arrival_id = make_arrival(user).id
    login(client, user)
    data = form_data(family_payload())
    data = {k: v for k, v in data.items() if not k.startswith("members-")}
    response = client.post(f"/arrivals/{arrival_id}/families/new", data=data)
    assert response.status_code == 400
    assert_errors_beside_fields(response.get_data(as_text=True), ["Registre entre 1 y 25 integrantes."])


def test_an_unknown_need_of_a_referral_is_beside_the_needs(app, ctx, client):
    user = make_user("reception", centre="FAG")
    family = make_family(user, make_arrival(user))
    login(client, user)
    response = client.post(
        f"/cases/{family.id}/referrals/new",
        data={
            "institution": "SOSEP_SEDES",
            "member_ids": [str(m.id) for m in family.members],
            "reason": "Seguimiento.",
            "priority": "normal",
            "needs": ["NO_SUCH_NEED"],
        },
    )
    assert response.status_code == 400
    assert_errors_beside_fields(response.get_data(as_text=True), ["Elija una opción de la lista."])


def test_needs_checklist_errors_are_beside_their_rows(app, ctx, client):
    user = make_user("reception", centre="FAG")
    family = make_family(user, make_arrival(user))
    login(client, user)
    data = checklist(
        client, family.id, {"FOOD": {"action": "attended"}, "HYGIENE_KIT": {"action": "attended"}}
    )
    response = client.post(f"/cases/{family.id}/needs", data=data)
    assert response.status_code == 400
    assert_errors_beside_fields(response.get_data(as_text=True), ["Indique quién entregó o atendió."])


def test_an_empty_needs_checklist_links_to_its_message(app, ctx, client):
    user = make_user("reception", centre="FAG")
    family = make_family(user, make_arrival(user))
    login(client, user)
    response = client.post(f"/cases/{family.id}/needs", data=checklist(client, family.id, {}))
    assert response.status_code == 400
    assert_errors_beside_fields(response.get_data(as_text=True), ["Marque al menos una necesidad."])
