"""Templates translate through a per-locale cache of the request's translations (core.templating)."""

from __future__ import annotations

from flask import render_template_string
from flask_babel import force_locale


def test_templates_follow_the_request_locale_and_a_forced_one(app) -> None:
    template = "{{ _('Guardar cambios') }}|{{ _('Guardar') }}"
    with app.test_request_context("/api/v1/catalogs", headers={"Accept-Language": "en"}):
        english = render_template_string(template)
        with force_locale("es"):
            spanish = render_template_string(template)
        again = render_template_string(template)
    assert spanish == "Guardar cambios|Guardar"
    assert english == "Save changes|Save"
    assert english == again
    assert english != spanish
