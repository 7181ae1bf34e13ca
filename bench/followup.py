"""Issue #8 (follow-up): the busiest sede's inbox and the coordinators' view per sede, at national scale.

Both pages go through the real WSGI application, as in :mod:`bench.scale`, next to the SQL they run
measured in the same run. The database is the national-scale one (``bench.dataset``), whose bulk data
carries the sedes' follow-up; its sede with the most open cases is found in the data, and a benchmark
sede account is bound to it.
"""

from __future__ import annotations

import datetime as dt

from flask import current_app
from sqlalchemy import select, text

from bench.common import BENCH_PERSONS, BENCH_SEED, Row, measure, table, write_section
from bench.dataset import ensure_database, ensure_sede_user, ensure_users, families
from bench.scale import RUNS, Desk, make_bench_app
from sosep_migrantes.auth.models import User
from sosep_migrantes.cases.models import CaseStatus
from sosep_migrantes.core.pagination import paginate
from sosep_migrantes.core.timeutil import today_local
from sosep_migrantes.extensions import db
from sosep_migrantes.followup import queries

#: The targets: p95 in milliseconds, at this many family units or more.
TARGET_P95_MS = 150
TARGET_FAMILIES = 300_000
INBOX_USER = "bench-sede-busiest"


def busiest_sede(app) -> tuple[str, int]:
    """The sede with the most open cases (not closed) in the data, and how many."""
    open_statuses = ", ".join(f"'{s}'" for s in CaseStatus if s is not CaseStatus.CLOSED)
    with app.app_context():
        code, count = db.session.execute(
            text(
                "SELECT s.code, count(*) FROM family_units f "  # noqa: S608 - our own status values
                "JOIN sede_municipalities sm ON sm.municipality_id = f.destination_municipality_id "
                f"JOIN sedes s ON s.id = sm.sede_id WHERE f.status IN ({open_statuses}) "
                "GROUP BY s.code ORDER BY count(*) DESC, s.code LIMIT 1"
            )
        ).one()
    return code, count


def bare_inbox(app, username: str) -> None:
    """The SQL the inbox's first page runs (capped count, one page of rows, the figures at its top)."""
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        today = today_local()
        since = user.inbox_seen_at or user.created_at
        if since.tzinfo is None:
            since = since.replace(tzinfo=dt.UTC)
        filters = queries.InboxFilters(sede_id=user.sede_id)
        families_stmt = queries.inbox_families(user, filters)
        paginate(
            queries.ordered(families_stmt, filters, today),
            1,
            current_app.config["CASES_PER_PAGE"],
            current_app.config["CASES_COUNT_CAP"],
            load=queries.inbox_loader(today, since),
            count_stmt=queries.count_stmt(families_stmt, filters, today),
        )
        queries.inbox_counts(user, filters, today, since)
        db.session.remove()


def bare_overview(app) -> None:
    """The SQL of the coordinators' view per sede."""
    with app.app_context():
        queries.sede_overview(today_local())
        db.session.remove()


def run() -> tuple[list[Row], str, int, int]:
    ensure_database()
    units = families()
    print(f"bench: {units:,} family units in the benchmark database")
    app = make_bench_app()
    sede, open_cases = busiest_sede(app)
    with app.app_context():
        ensure_users()
        ensure_sede_user(INBOX_USER, sede)
    sede_desk, coord = Desk(app, INBOX_USER), Desk(app, "bench-coord")
    at_scale = units >= TARGET_FAMILIES
    target = f"p95 ≤ {TARGET_P95_MS} ms at ≥ {TARGET_FAMILIES:,} families"

    timing = measure(lambda _i: sede_desk.get("/followup/"), RUNS)
    base = measure(lambda _i: bare_inbox(app, INBOX_USER), RUNS)
    rows = [
        Row(
            f"inbox of the busiest sede ({sede}, {open_cases:,} open cases)",
            target,
            timing,
            "bare SQL",
            base,
            met=at_scale and timing.p95 <= TARGET_P95_MS,
        )
    ]
    timing = measure(lambda _i: coord.get("/followup/sedes"), RUNS)
    base = measure(lambda _i: bare_overview(app), RUNS)
    rows.append(
        Row(
            "coordinator view per sede",
            target,
            timing,
            "bare SQL",
            base,
            met=at_scale and timing.p95 <= TARGET_P95_MS,
        )
    )
    return rows, sede, open_cases, units


def main() -> list[Row]:
    rows, sede, open_cases, units = run()
    body = table(rows) + (
        "\n\nThrough the real WSGI app (Flask test client, the real login, scoping and templates) on "
        "PostgreSQL with the database `make bench` builds once: "
        f"`flask demo-data --persons {BENCH_PERSONS} --seed {BENCH_SEED}` ({units:,} family units, "
        "with the sedes' follow-up as the bulk generator writes it). "
        f"The inbox is the first page a sede account of {sede} sees ({open_cases:,} open cases: new, open, "
        "overdue and due-this-week figures, a page of cases by arrival); the coordinators' view is "
        "`/followup/sedes` (every sede's figures and median days to first contact). The bare SQL is what "
        "each page runs, without the ORM's objects or the templates. A target is met when p95 is under it "
        f"and the database holds at least {TARGET_FAMILIES:,} family units."
    )
    write_section("followup", f"Follow-up (issue #8): {units:,} family units", body)
    print(table(rows))
    return rows
