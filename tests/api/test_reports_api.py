"""The JSON API's report figures: the same figures as the report page, for the account's scope, from the
same query string (a period and codes), with the re-migrations of the period."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from sosep_migrantes.core.timeutil import LOCAL_TZ
from sosep_migrantes.extensions import db
from sosep_migrantes.returnees.services import link_returnee
from tests.api.helpers import Integration, token_for, user_with_token
from tests.factories import make_arrival, make_family, make_user, member
from tests.referrals.partners import make_partner

NOVEMBER = {"period": "month", "year": "2026", "month": "11"}
EARLIER = dt.datetime(2024, 3, 5, 9, 0, tzinfo=LOCAL_TZ)


@pytest.fixture
def world(app) -> dict[str, Any]:
    """November 2026: a FAG family of two going to Cuilco (Huehuetenango), one of them received before
    (March 2024) and linked as a re-migration; a Tecún Umán family of one going to Nebaj (Quiché)."""
    with app.app_context():
        fag, fag_token = user_with_token("reception", centre="FAG")
        tecun = make_user("reception", centre="TECUN_UMAN")
        earlier = make_family(
            fag,
            make_arrival(fag, when=EARLIER),
            members=[member("María Elena", "López Pérez", age=None, birth_date="1990-05-03")],
        )
        again = make_family(
            fag,
            make_arrival(fag),
            members=[
                member("María Elena", "López Pérez", age=None, birth_date="1990-05-03"),
                member("José", "López Pérez", sex="M", relationship="SON", age=8),
            ],
        )
        link_returnee(fag, again.members[0].id, earlier.members[0].id)
        db.session.commit()
        make_family(
            tecun,
            make_arrival(tecun, centre="TECUN_UMAN", mode="land", country="MX"),
            municipality=1413,
            members=[member("Catarina", "Tzoc Brito")],
        )
        tokens = {
            "reception_fag": fag_token,
            "reception_tecun": token_for(tecun),
            "sede_huehuetenango": user_with_token("sede", sede="HUEHUETENANGO")[1],
            "sede_quiche": user_with_token("sede", sede="QUICHE")[1],
            "coordinator": user_with_token("coordinator")[1],
            "admin": user_with_token("admin")[1],
            "partner": token_for(make_partner("OIM")),
        }
        db.session.remove()
    return tokens


def figures(app, world, who: str, language: str | None = None, **args: str) -> Any:
    return Integration(app, world[who], language).get("/reports/figures", query_string=args or NOVEMBER)


def test_the_coordinator_gets_the_country_with_the_re_migrations(app, world) -> None:
    response = figures(app, world, "coordinator")
    assert response.status_code == 200, response.json
    body = response.json
    assert body["totals"] == {
        "families": 2,
        "persons": 3,
        "arrivals": 2,
        "flights": 1,
        "buses": 1,
        "remigrations": 1,
    }
    assert body["period"] == {
        "kind": "month",
        "start": "2026-11-01",
        "end": "2026-11-30",
        "label": "noviembre de 2026",
    }
    assert body["scope"] == "Nacional" and body["query"] == NOVEMBER
    by_centre = next(t for t in body["tables"] if t["key"] == "by_centre")
    assert {row["code"]: row["persons"] for row in by_centre["rows"]} == {"FAG": 2, "TECUN_UMAN": 1}
    assert by_centre["total"]["families"] == 2
    assert body["families_by_department"] == {"13": 1, "14": 1}
    # March 2024: the earlier case; the re-migration is counted on the return's period, not on its.
    march = figures(app, world, "coordinator", period="month", year="2024", month="3").json
    assert march["totals"]["families"] == 1 and march["totals"]["remigrations"] == 0


def test_each_account_gets_its_scope_whatever_the_query_string_says(app, world) -> None:
    def totals(who: str, **extra: str) -> tuple[int, int]:
        body = figures(app, world, who, **{**NOVEMBER, **extra}).json
        return body["totals"]["families"], body["totals"]["remigrations"]

    assert totals("reception_fag") == (1, 1)
    assert totals("reception_fag", centre="TECUN_UMAN", sede="QUICHE") == (1, 1)
    assert totals("reception_tecun") == (1, 0)
    assert totals("sede_huehuetenango") == (1, 1)
    assert totals("sede_huehuetenango", sede="QUICHE") == (1, 1)
    assert totals("sede_quiche") == (1, 0)
    assert totals("coordinator", sede="QUICHE") == (1, 0)
    assert figures(app, world, "sede_quiche").json["scope"].endswith("Quiché")
    assert figures(app, world, "admin").status_code == 403
    assert figures(app, world, "partner").status_code == 403


def test_from_and_to_alone_are_a_custom_period(app, world) -> None:
    body = figures(app, world, "coordinator", **{"from": "2026-11-01", "to": "2026-11-30"}).json
    assert body["period"]["kind"] == "custom" and body["totals"]["families"] == 2
    assert body["query"] == {"period": "custom", "from": "2026-11-01", "to": "2026-11-30"}
    assert (
        figures(app, world, "coordinator", **{"from": "2024-01-01", "to": "2024-12-31"}).json["totals"][
            "remigrations"
        ]
        == 0
    )


def test_bad_periods_are_refused_in_the_request_language(app, world) -> None:
    backwards = {"from": "2026-11-30", "to": "2026-11-01"}
    spanish = figures(app, world, "coordinator", **backwards)
    assert spanish.status_code == 422
    assert spanish.json["errors"]["to"] == ["El último día no puede ser anterior al primero."]
    english = figures(app, world, "coordinator", "en", **backwards)
    assert english.json["errors"]["to"] == ["The last day cannot be earlier than the first."]
    assert (
        figures(app, world, "coordinator", "en", period="month", year="2026", month="13").status_code == 422
    )
    unknown = figures(app, world, "coordinator", "en", period="month", centre="NOWHERE")
    assert (
        unknown.status_code == 422 and unknown.json["errors"]["centre"] == "Choose an option from the list."
    )
    assert figures(app, world, "coordinator", "en", period="week").status_code == 422
