"""Each breakdown against a small hand-counted fixture; the add-up invariants over random demo data; scope.

The fixture's period is October 2026 (Guatemala time). In it: a family arrived at FAG one minute before the
period ends (a mother of 34, a son who turns 6 on the period's last day, a baby of a few months) and a
family arrived at Tecún Umán at the period's first minute (a father of 40 and a grandmother of 65), since
moved from Nebaj to Huehuetenango (a transferred case). Outside it: arrivals one minute before the period
starts and one minute after it ends.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from sosep_migrantes.catalogs.models import Municipality, Sede
from sosep_migrantes.core.timeutil import LOCAL_TZ
from sosep_migrantes.extensions import db
from sosep_migrantes.followup import services as followup
from sosep_migrantes.reports.queries import ReportFilters
from sosep_migrantes.reports.tables import Report, build_report
from tests.factories import make_arrival, make_family, make_user, member
from tests.referrals.helpers import refer

OCTOBER = ReportFilters(start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31))
NEBAJ = 1413


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=LOCAL_TZ)


def rows(report: Report, key: str, column: str) -> dict:
    return {row["code"]: row[column] for row in report.table(key).rows}


@pytest.fixture
def october(ctx):
    fag = make_user("reception", centre="FAG")
    tecun = make_user("reception", centre="TECUN_UMAN")
    huehue = make_user("sede", sede="HUEHUETENANGO")
    inside_last = make_arrival(fag, when=local(2026, 10, 31, 23, 59))
    mother_family = make_family(
        fag,
        inside_last,
        members=[
            member("Rosa", "Pérez Gómez", age=34),
            member("Tomás", "Pérez Gómez", sex="M", relationship="SON", age=None, birth_date="2020-10-31"),
            member("Luz", "Pérez Gómez", relationship="DAUGHTER", age=0),
        ],
        protection_causes=["THREATS"],
    )
    inside_first = make_arrival(
        tecun, centre="TECUN_UMAN", mode="land", country="MX", when=local(2026, 10, 1, 0, 0)
    )
    father_family = make_family(
        tecun,
        inside_first,
        municipality=NEBAJ,
        members=[
            member("Pedro", "Ixcoy Brito", sex="M", age=40),
            member("Juana", "Brito Raymundo", relationship="GRANDPARENT", age=65),
        ],
    )
    quiche = make_user("sede", sede="QUICHE")
    followup.transfer(
        father_family,
        {"municipality": db.session.get(Municipality, 1304), "reason": "Se mudó a Cuilco."},
        quiche,
    )
    db.session.commit()
    for when in (local(2026, 9, 30, 23, 59), local(2026, 11, 1, 0, 0)):
        make_family(fag, make_arrival(fag, when=when))
    refer(mother_family, fag, "OIM", send=True)
    refer(mother_family, fag, "SOSEP_HOGARES", send=True)
    refer(father_family, tecun, "SOSEP_ANOS_DORADOS")  # a draft: no slip, not counted
    followup.record_followup(
        mother_family,
        {"contacted_on": dt.date(2026, 11, 10), "contact_type": "phone", "outcome": "located"},
        huehue,
    )
    followup.link(
        mother_family,
        {
            "linked_on": dt.date(2026, 11, 12),
            "member_id": mother_family.members[0].id,
            "institution": None,
            "outside_service": "Escuela de Cuilco",
        },
        huehue,
    )
    db.session.commit()
    return {
        "coordinator": make_user("coordinator"),
        "fag": fag,
        "tecun": tecun,
        "huehue": huehue,
        "quiche": quiche,
        "admin": make_user("admin"),
    }


def test_totals_and_the_period_boundaries_in_guatemala_time(october):
    report = build_report(october["coordinator"], OCTOBER)
    assert report.totals == {
        "families": 2,
        "persons": 5,
        "arrivals": 2,
        "flights": 1,
        "buses": 1,
        "remigrations": 0,
    }
    assert rows(report, "by_month", "families") == {"2026-10": 2}
    assert rows(report, "by_month", "persons") == {"2026-10": 5}


def test_route_centre_and_department(october):
    report = build_report(october["coordinator"], OCTOBER)
    assert rows(report, "by_route", "families") == {"air-US": 1, "land-MX": 1}
    assert rows(report, "by_route", "persons") == {"air-US": 3, "land-MX": 2}
    assert rows(report, "by_centre", "persons") == {"FAG": 3, "TECUN_UMAN": 2}
    # The transferred family counts where it lives now.
    assert rows(report, "by_department", "families") == {13: 2}
    assert rows(report, "by_municipality", "persons") == {1304: 5}
    assert report.families_by_department == {13: 2}


def test_sex_and_age_group_at_arrival(october):
    table = build_report(october["coordinator"], OCTOBER).table("by_sex_age")
    by_group = {row["code"]: (row["F"], row["M"]) for row in table.rows}
    # The son turns 6 on the day he arrives: 6-12, not 0-5.
    assert by_group == {
        "0-5": (1, 0),
        "6-12": (0, 1),
        "13-17": (0, 0),
        "18-29": (0, 0),
        "30-59": (1, 1),
        "60+": (1, 0),
    }
    assert table.total is not None and (table.total["F"], table.total["M"], table.total["persons"]) == (
        3,
        2,
        5,
    )


def test_young_children_and_relationship(october):
    report = build_report(october["coordinator"], OCTOBER)
    assert rows(report, "young_children", "count") == {
        "under_1": 1,
        "under_6": 1,
        "families_with_child_under_7": 1,
    }
    assert rows(report, "by_relationship", "persons") == {
        "HEAD": 2,
        "MOTHER": 0,
        "FATHER": 0,
        "SON": 1,
        "DAUGHTER": 1,
        "OTHER": 1,
    }


def test_referrals_protection_and_followup(october):
    report = build_report(october["coordinator"], OCTOBER)
    assert rows(report, "referrals", "sent") == {"OIM": 1, "SOSEP_HOGARES": 1}
    assert rows(report, "protection", "families") == {"THREATS": 1}
    figures = {row["code"]: row["value"] for row in report.table("followup").rows}
    assert figures["followed"] == 1 and figures["located"] == 1 and figures["located_rate"] == "100%"
    assert figures["median_days"] == "10"  # arrived 31/10, first contact 10/11
    assert rows(report, "linkage", "persons") == {"": 1}


@pytest.mark.parametrize(
    ("who", "families"),
    [("coordinator", 2), ("fag", 1), ("tecun", 1), ("huehue", 2), ("quiche", 0), ("admin", 0)],
)
def test_each_role_gets_its_scope(october, who, families):
    assert build_report(october[who], OCTOBER).totals["families"] == families


def test_a_coordinator_may_choose_a_sede_and_a_sede_may_not(october):
    quiche_id = db.session.scalar(select(Sede.id).where(Sede.code == "QUICHE"))
    huehue_id = db.session.scalar(select(Sede.id).where(Sede.code == "HUEHUETENANGO"))
    coordinator = october["coordinator"]
    assert (
        build_report(coordinator, ReportFilters(OCTOBER.start, OCTOBER.end, sede_id=quiche_id)).totals[
            "families"
        ]
        == 0
    )
    assert (
        build_report(coordinator, ReportFilters(OCTOBER.start, OCTOBER.end, sede_id=huehue_id)).totals[
            "families"
        ]
        == 2
    )
    # A sede's own scope stands whatever sede it asks for.
    asked = ReportFilters(OCTOBER.start, OCTOBER.end, sede_id=huehue_id)
    assert build_report(october["quiche"], asked).totals["families"] == 0


ADDING_UP = {
    # table: (column, total it adds up to)
    "by_month": ("families", "families"),
    "by_route": ("families", "families"),
    "by_centre": ("families", "families"),
    "by_department": ("families", "families"),
    "by_municipality": ("persons", "persons"),
    "by_sex_age": ("persons", "persons"),
    "by_relationship": ("persons", "persons"),
    "by_pueblo": ("persons", "persons"),
}


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(min_value=1, max_value=10_000), families=st.integers(min_value=1, max_value=25))
def test_breakdowns_add_up_over_random_demo_data(app, ctx, seed, families):
    result = app.test_cli_runner().invoke(
        args=["demo-data", "--families", str(families), "--seed", str(seed), "--until", "2026-11-20"]
    )
    assert result.exit_code == 0, result.output
    coordinator = make_user("coordinator")
    report = build_report(coordinator, ReportFilters(dt.date(2019, 1, 1), dt.date(2026, 11, 30)))
    for key, (column, total) in ADDING_UP.items():
        assert sum(row[column] for row in report.table(key).rows) == report.totals[total], key
    sex_age = report.table("by_sex_age")
    assert all(row["F"] + row["M"] == row["persons"] for row in sex_age.rows)
    young = rows(report, "young_children", "count")
    assert young["under_1"] <= young["under_6"]
    assert young["families_with_child_under_7"] <= report.totals["families"]
    assert report.totals["flights"] + report.totals["buses"] == report.totals["arrivals"]
