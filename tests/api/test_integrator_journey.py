"""Issue #12's "done when", as an integrator lives it: the documented API, a token from the command line,
cases created and read within the same rules as the pages, and a returning person recognised anywhere in
the country and linked without the other case being exposed."""

from __future__ import annotations

from openapi_spec_validator import validate

from sosep_migrantes.cases.models import FamilyUnit
from sosep_migrantes.extensions import db
from tests.api.helpers import Integration
from tests.factories import make_arrival, make_family, make_user, member


def test_the_openapi_document_is_valid_and_documents_every_route(app) -> None:
    document = app.test_client().get("/api/v1/openapi.json").json
    validate(document)  # OpenAPI 3.0: raises on any error
    documented = {path for path in document["paths"]}
    served = {
        rule.rule.replace("<int:", "{").replace("<string:", "{").replace(">", "}")
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
        and rule.endpoint.startswith("api_")
        and rule.endpoint != "api_docs"
    }
    assert served <= documented, served - documented
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_an_integrator_registers_reads_and_links_a_returning_person(app) -> None:
    with app.app_context():
        make_user("reception", centre="FAG", username="integracion.fag")
        tecun_desk = make_user("reception", centre="TECUN_UMAN")
        earlier = make_arrival(tecun_desk, centre="TECUN_UMAN", mode="land", country="MX")
        # Received in 2026 at Tecún Umán; she comes back by air and another system registers her at FAG.
        make_family(
            tecun_desk,
            earlier,
            municipality=1217,
            members=[member("Rosa Elena", "Ramírez Chávez", birth_date="1990-03-14", age=None)],
        )
        db.session.remove()
    made = app.test_cli_runner().invoke(args=["tokens", "create", "integracion.fag", "--days", "30"])
    assert made.exit_code == 0, made.output
    api = Integration(app, made.output.strip().splitlines()[-1])

    arrival = api.post(
        "/arrivals/",
        json={"centre": "FAG", "arrived_at": "2026-11-23T14:30", "mode": "air", "country": "US"},
    )
    assert arrival.status_code == 201, arrival.json
    family = {
        "destination_municipality": "1217",
        "consent_type": "written",
        "consent_on": "2026-11-23",
        "members": [
            {
                "given_names": "Roza Elena",  # typed with a z, surnames in the other order
                "surnames": "Chavez Ramirez",
                "sex": "F",
                "relationship": "HEAD",
                "birth_date": "1990-03-14",
            }
        ],
    }
    created = api.post(f"/arrivals/{arrival.json['id']}/families", json=family)
    assert created.status_code == 201, created.json
    case = api.get(f"/families/{created.json['id']}")
    assert case.json["case_number"].startswith("FAG-2026-")
    member_id = case.json["members"][0]["id"]

    # The earlier record, found across the country, shown only as its number, centre, date and sede.
    records = api.get(f"/families/{created.json['id']}/earlier-records")
    assert records.status_code == 200, records.json
    body = records.get_data(as_text=True)
    assert "TECUN_UMAN" in body or "Tecún" in body
    assert "Ramírez" not in body and "Rosa" not in body and "1990-03-14" not in body
    [candidate] = [c for entry in records.json["members"] for c in entry["candidates"]]
    linked = api.post(
        f"/families/{created.json['id']}/earlier-records/link",
        json={"member_id": member_id, "earlier_member_id": candidate["member_id"]},
    )
    assert linked.status_code in (200, 201), linked.json

    # Within the same rules as the pages: the Tecún Umán case itself stays out of reach.
    with app.app_context():
        other = db.session.scalar(db.select(FamilyUnit.id).where(FamilyUnit.id != created.json["id"]))
    assert api.get(f"/families/{other}").status_code == 404
