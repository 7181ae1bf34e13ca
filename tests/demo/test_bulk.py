"""``flask demo-data --persons``: bulk synthetic data that keeps the services' invariants.

The consistency checks (``flask demo-data --check``) are the yardstick: data registered through the
services passes them, bulk data must pass them too, and broken data must not.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from sqlalchemy import func, select, text

from sosep_migrantes.auth.services import system_user
from sosep_migrantes.cases.models import FamilyUnit, Member
from sosep_migrantes.catalogs.models import Country
from sosep_migrantes.core.numbering import NumberSequence
from sosep_migrantes.core.timeutil import to_local
from sosep_migrantes.demo.checks import check_consistency
from sosep_migrantes.demo.generator import DemoGenerator
from sosep_migrantes.extensions import db
from sosep_migrantes.reception.models import Arrival
from sosep_migrantes.referrals.models import Referral

from .test_demo_data import UNTIL, delete_case_data, run_demo


def run_bulk(app, persons: int, seed: int = 1) -> str:
    result = app.test_cli_runner().invoke(
        args=["demo-data", "--persons", str(persons), "--seed", str(seed), "--until", UNTIL]
    )
    assert result.exit_code == 0, result.output
    return result.output


def count(stmt) -> int:
    return db.session.scalar(stmt)


def test_data_registered_through_the_services_passes_the_checks(app, ctx):
    run_demo(app, 30, 3)
    assert count(select(func.count()).select_from(Referral)) > 0
    assert check_consistency() == []


def test_a_bulk_run_writes_exactly_the_persons_asked_for_and_passes_the_checks(app, ctx):
    output = run_bulk(app, 2_000)
    assert count(select(func.count()).select_from(Member)) == 2_000
    families = count(select(func.count()).select_from(FamilyUnit))
    assert f"{families} unidades familiares, 2000 personas" in output
    assert "personas por segundo" in output
    assert check_consistency() == []
    result = app.test_cli_runner().invoke(args=["demo-data", "--check"])
    assert result.exit_code == 0 and "sin problemas" in result.output


def test_bulk_continues_the_series_and_the_desk_continues_after_it(app, ctx):
    run_demo(app, 20, 5)  # the desk first
    before = {(s.kind, s.centre_id, s.year): s.last_value for s in db.session.scalars(select(NumberSequence))}
    run_bulk(app, 3_000)
    run_bulk(app, 1_000, seed=2)  # twice: more data, never a collision
    assert count(select(func.count()).select_from(Member)) > 4_000
    assert check_consistency() == []
    after = {(s.kind, s.centre_id, s.year): s.last_value for s in db.session.scalars(select(NumberSequence))}
    assert all(after[key] > value for key, value in before.items() if key[0] == "case")

    # A family registered at the desk afterwards takes the next number of its series.
    DemoGenerator(9, dt.date.fromisoformat(UNTIL), with_services=True).run(1, system_user())
    db.session.commit()
    family = db.session.scalars(select(FamilyUnit).order_by(FamilyUnit.id.desc())).first()
    assert family.case_seq == after[("case", family.centre_id, family.case_year)] + 1
    assert check_consistency() == []


def test_bulk_distributions_look_like_the_real_flow(app, ctx):
    run_bulk(app, 20_000)
    families = count(select(func.count()).select_from(FamilyUnit))
    routes = Counter(
        {
            f"{mode}-{country}": n
            for mode, country, n in db.session.execute(
                select(Arrival.mode, Country.code, func.count())
                .select_from(FamilyUnit)
                .join(Arrival, Arrival.id == FamilyUnit.arrival_id)
                .join(Country, Country.id == Arrival.country_id)
                .group_by(Arrival.mode, Country.code)
            )
        }
    )
    assert abs(routes["air-US"] / families - 0.75) < 0.05, routes
    assert abs(routes["air-MX"] / families - 0.06) < 0.05, routes
    assert abs(routes["land-MX"] / families - 0.19) < 0.05, routes
    land_centres = db.session.scalars(
        select(func.distinct(FamilyUnit.centre_id)).join(Arrival).where(Arrival.mode == "land")
    ).all()
    assert len(land_centres) == 1

    departments = Counter(
        dict(
            db.session.execute(
                text(
                    "SELECT m.department_id, count(*) FROM family_units f "
                    "JOIN municipalities m ON m.id = f.destination_municipality_id GROUP BY m.department_id"
                )
            ).all()
        )
    )
    assert (departments[13] + departments[12] + departments[14]) / families > 0.40, departments
    assert departments.most_common(1)[0][0] == 13

    persons_by_year = Counter()
    for year, persons in db.session.execute(
        select(FamilyUnit.case_year, func.count(Member.id)).join(Member).group_by(FamilyUnit.case_year)
    ):
        persons_by_year[year] = persons
    assert set(persons_by_year) == set(range(2019, 2027))
    # 2019 high; the pandemic years low; about 80 thousand in 2022-2023, 77 in 2024, 55 in 2025.
    assert persons_by_year[2019] > persons_by_year[2022] > persons_by_year[2025] > persons_by_year[2020]
    assert persons_by_year[2020] < persons_by_year[2019] / 2
    assert 0.9 < persons_by_year[2023] / persons_by_year[2024] < 1.2
    assert 0.5 < persons_by_year[2025] / persons_by_year[2023] < 0.85

    sizes = Counter(db.session.scalars(select(func.count(Member.id)).group_by(Member.family_id)).all())
    assert set(sizes) <= set(range(2, 8)) and sizes[2] > sizes[5] > sizes[7], sizes
    statuses = Counter(
        dict(db.session.execute(select(Referral.status, func.count()).group_by(Referral.status)).all())
    )
    assert {"draft", "sent", "accepted", "rejected", "attended", "not_located"} <= set(statuses), statuses
    assert statuses["attended"] > statuses["rejected"]


def fingerprint() -> list[tuple]:
    return db.session.execute(
        text(
            "SELECT f.case_number, f.search_text, f.destination_municipality_id, a.arrived_at, f.status, "
            "f.followup_due_on, f.last_contact_on, "
            "(SELECT count(*) FROM followups u WHERE u.family_id = f.id) "
            "FROM family_units f JOIN arrivals a ON a.id = f.arrival_id ORDER BY f.case_number"
        )
    ).all()


def test_the_same_seed_gives_the_same_bulk_data(app, ctx):
    run_bulk(app, 1_500, seed=4)
    first = fingerprint()
    delete_case_data()
    run_bulk(app, 1_500, seed=4)
    assert fingerprint() == first
    delete_case_data()
    run_bulk(app, 1_500, seed=5)
    assert fingerprint() != first


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (
            "DELETE FROM members WHERE relationship_id = "
            "(SELECT id FROM family_relationships WHERE code = 'HEAD') "
            "AND family_id = (SELECT min(f.id) FROM family_units f "
            "WHERE NOT EXISTS (SELECT 1 FROM referrals r WHERE r.family_id = f.id))",
            "jefe(a) de familia",
        ),
        ("UPDATE family_units SET search_text = 'x'", "texto de búsqueda"),
        (
            "UPDATE referrals SET status = 'cancelled' WHERE id = (SELECT min(id) FROM referrals)",
            "último evento",
        ),
        (
            "UPDATE family_units SET case_seq = case_seq + 1 WHERE id = (SELECT max(id) FROM family_units)",
            "correlativo",
        ),
        ("UPDATE family_units SET status = 'received'", "estado no es el que resulta"),
        (
            "DELETE FROM audit_events WHERE action = 'family:create' "
            "AND subject_id = (SELECT min(id) FROM family_units)",
            "family:create",
        ),
        ("UPDATE members SET cui = '1234567800101' WHERE cui IS NOT NULL", "CUI"),
    ],
)
def test_the_checks_find_broken_data(app, ctx, breakage, expected):
    run_bulk(app, 600)
    assert check_consistency() == []
    db.session.execute(text(breakage))
    db.session.commit()
    problems = check_consistency()
    assert problems, breakage
    assert any(expected in p for p in problems), problems
    result = app.test_cli_runner().invoke(args=["demo-data", "--check"])
    assert result.exit_code != 0


def test_families_and_persons_are_mutually_exclusive(app, ctx):
    result = app.test_cli_runner().invoke(args=["demo-data", "--families", "3", "--persons", "10"])
    assert result.exit_code != 0
    assert count(select(func.count()).select_from(FamilyUnit)) == 0


def test_case_year_is_the_local_year_of_arrival(app, ctx):
    run_bulk(app, 1_000)
    for family in db.session.scalars(select(FamilyUnit).limit(50)):
        assert family.case_year == to_local(family.arrival.arrived_at).year
        assert family.case_number == f"{family.centre.code}-{family.case_year}-{family.case_seq:05d}"


def test_the_big_run_path_rebuilds_the_indexes_and_passes_the_checks(app, ctx, is_postgres, monkeypatch):
    """On PostgreSQL a big run drops the secondary indexes and skips the foreign-key triggers."""
    if not is_postgres:
        pytest.skip("PostgreSQL only")
    from sosep_migrantes.demo import bulk

    def indexes() -> set[str]:
        return set(
            db.session.scalars(
                text("SELECT indexname FROM pg_indexes WHERE tablename IN ('family_units', 'members')")
            )
        )

    before = indexes()
    monkeypatch.setattr(bulk._PostgresWriter, "BIG_RUN", 1_000)
    run_bulk(app, 3_000)
    assert indexes() == before
    assert db.session.scalar(text("SHOW session_replication_role")) == "origin"
    assert check_consistency() == []


def test_a_failure_in_the_generator_process_leaves_nothing_written(app, ctx, is_postgres, monkeypatch):
    """On PostgreSQL the rows are built in a forked process: its error reaches the command, rolled back."""
    if not is_postgres:
        pytest.skip("PostgreSQL only")
    from sosep_migrantes.demo import bulk

    def broken(self, *args, **kwargs):
        raise ValueError("generator broke")

    monkeypatch.setattr(bulk.BulkGenerator, "_suggestions", broken)
    result = app.test_cli_runner().invoke(args=["demo-data", "--persons", "500", "--until", UNTIL])
    assert result.exit_code != 0
    assert "generator broke" in str(result.exception)
    db.session.rollback()
    assert count(select(func.count()).select_from(Member)) == 0
    assert count(select(func.count()).select_from(FamilyUnit)) == 0
