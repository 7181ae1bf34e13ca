"""``flask demo-data``: synthetic families that look like the real flow and are the same for a seed."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlalchemy import select, text

from sosep_migrantes.cases.models import FamilyUnit
from sosep_migrantes.catalogs.services import municipalities_per_department
from sosep_migrantes.core.cui import check_cui
from sosep_migrantes.core.timeutil import to_local
from sosep_migrantes.extensions import db
from sosep_migrantes.reception.models import Arrival
from tests.conftest import CASE_TABLES

UNTIL = "2026-11-20"


def run_demo(app, families: int, seed: int) -> str:
    result = app.test_cli_runner().invoke(
        args=["demo-data", "--families", str(families), "--seed", str(seed), "--until", UNTIL]
    )
    assert result.exit_code == 0, result.output
    return result.output


def fingerprint() -> list[tuple]:
    families = db.session.scalars(select(FamilyUnit).order_by(FamilyUnit.case_number)).all()
    return [
        (
            f.case_number,
            f.destination_municipality_id,
            f.arrival.arrived_at.isoformat(),
            tuple((m.given_names, m.surnames, m.cui) for m in f.members),
        )
        for f in families
    ]


def delete_case_data() -> None:
    for table in CASE_TABLES:
        db.session.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - table names from conftest
    db.session.commit()


def test_demo_data_creates_the_families_asked_for(app, ctx):
    output = run_demo(app, 40, 7)
    families = db.session.scalars(select(FamilyUnit)).all()
    assert len(families) == 40
    assert "40 unidades familiares" in output
    arrivals = db.session.scalars(select(Arrival)).all()
    assert f"{len(arrivals)} llegadas" in output
    days = {to_local(a.arrived_at).date() for a in arrivals}
    assert (
        dt.date(2026, 8, 23) <= min(days) <= max(days) <= dt.date(2026, 11, 20)
    )  # the 90 days up to --until
    assert all(f.case_number.endswith(f"-{f.case_seq:05d}") for f in families)


def test_the_same_seed_gives_the_same_families(app, ctx):
    run_demo(app, 40, 7)
    first = fingerprint()
    delete_case_data()
    run_demo(app, 40, 7)
    assert fingerprint() == first
    delete_case_data()
    run_demo(app, 40, 8)
    assert fingerprint() != first


def test_demo_families_look_like_the_real_flow(app, ctx):
    run_demo(app, 300, 1)
    families = db.session.scalars(select(FamilyUnit)).all()
    assert len(families) == 300

    routes = Counter((f.arrival.mode, f.arrival.country.code) for f in families)
    air_usa = routes["air", "US"] / len(families)
    assert 0.6 < air_usa < 0.9, routes
    assert routes["land", "MX"] > 0 and routes["air", "MX"] > 0, routes
    assert {f.centre.code for f in families if f.arrival.mode == "land"} == {"TECUN_UMAN"}

    departments = Counter(f.destination.department_id for f in families)
    top = departments[13] + departments[12] + departments[14]  # Huehuetenango, San Marcos, Quiché
    assert top / len(families) > 0.30, departments
    assert departments.most_common(1)[0][0] == 13, departments

    sizes = Counter(len(f.members) for f in families)
    assert set(sizes) <= set(range(2, 8)) and min(sizes) == 2 and max(sizes) == 7, sizes
    assert all(sum(m.is_head for m in f.members) == 1 for f in families)

    # Every generated CUI passes the check: no demo family trips the warning staff would see.
    counts = municipalities_per_department()
    cuis = [m.cui for f in families for m in f.members if m.cui]
    assert len(cuis) > 300
    results = [check_cui(cui, counts) for cui in cuis]
    assert [r for r in results if r.error or r.warning] == []
