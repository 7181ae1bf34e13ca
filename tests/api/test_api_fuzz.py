"""Property-based fuzzing of the API from its own OpenAPI document (schemathesis, bounded in time).

Every operation of ``/api/v1/openapi.json`` is called with generated parameters and bodies, valid and
invalid, with the tokens of a reception account (which may write cases), a coordinator (which reads
the whole country), a sede and a partner institution: no answer may be a 5xx, and every answer must be
one the document declares, with the declared content type and a body that fits its declared schema.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from sosep_migrantes.extensions import db
from sosep_migrantes.needs.schemas import NeedsBatchSchema
from sosep_migrantes.needs.services import record_needs
from tests.api.helpers import token_for
from tests.factories import make_arrival, make_family, make_user
from tests.referrals.helpers import refer
from tests.referrals.partners import make_partner

#: Examples per operation and account: enough to reach every field's edge, small enough for CI (~1 min).
EXAMPLES = 8
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def test_no_server_error_and_every_answer_as_documented(app) -> None:
    with app.app_context():
        desk = make_user("reception", centre="FAG")
        coordinator = make_user("coordinator")
        sede = make_user("sede", sede="HUEHUETENANGO")
        partner = make_partner("OIM")
        family = make_family(desk, make_arrival(desk))
        # Something behind each resource's ids, so the fuzz reaches their answers, not only their 404s.
        items = NeedsBatchSchema().load({"items": [{"need": "MEDICAL", "action": "identified"}]})["items"]
        record_needs(family, items, desk)
        refer(family, desk, "OIM", send=True)
        db.session.commit()
        tokens = {
            name: token_for(user)
            for name, user in (
                ("reception", desk),
                ("coordinator", coordinator),
                ("sede", sede),
                ("partner", partner),
            )
        }
        db.session.remove()
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 7
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(operation, mode, tokens)


def _fuzz(operation: Any, mode: GenerationMode, tokens: dict[str, str]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        for token in tokens.values():
            headers = {"Authorization": f"Bearer {token}"}
            response = case.call(headers=headers)
            case.validate_response(response, checks=CHECKS, headers=headers)

    run()
