"""Issue #9 (protocol reports): the yearly national report as a page, a PDF and a spreadsheet.

Through the real WSGI application, as in :mod:`bench.scale`, on the national-scale database: the page next
to the bare SQL aggregates it runs (the same query functions, without labels, charts or templates),
measured in the same run; the PDF and the XLSX downloads on their own.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bench.common import BENCH_PERSONS, BENCH_SEED, Row, measure, table, write_section
from bench.dataset import ensure_database, ensure_users, families
from bench.scale import Desk, make_bench_app
from sosep_migrantes.auth.models import User
from sosep_migrantes.core.timeutil import today_local
from sosep_migrantes.extensions import db
from sosep_migrantes.reports import queries

PAGE_RUNS = 10
FILE_RUNS = 5
#: The last complete year: the report a coordinator sends in January.
YEAR = today_local().year - 1
QUERY = f"period=year&year={YEAR}"


def bare_aggregates(app) -> None:
    """Every aggregate the report runs, through the same query functions, nothing else."""
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "bench-coord"))
        period = queries.ReportFilters(dt.date(YEAR, 1, 1), dt.date(YEAR, 12, 31))
        with queries.report_population(user, period) as p:
            run_breakdowns(p)
        db.session.remove()


def run_breakdowns(p: queries.Population) -> None:
    queries.totals(p)
    for breakdown in (
        queries.by_month,
        queries.by_route,
        queries.by_centre,
        queries.by_department,
        queries.by_municipality,
        queries.by_sex_and_age,
        queries.young_children,
        queries.by_relationship,
        queries.by_pueblo,
        queries.by_language,
        queries.interpreter_needed,
        queries.needs,
        queries.services,
        queries.referrals,
        queries.protection,
        queries.followup,
    ):
        breakdown(p)


def run() -> tuple[list[Row], int]:
    ensure_database()
    units = families()
    app = make_bench_app()
    with app.app_context():
        ensure_users()
    coord = Desk(app, "bench-coord")
    timing = measure(lambda _i: coord.get(f"/reports/?{QUERY}"), PAGE_RUNS, warmup=1)
    base = measure(lambda _i: bare_aggregates(app), PAGE_RUNS, warmup=1)
    rows = [
        Row(
            f"yearly national report page ({YEAR})",
            "≤ 1 s and ≤ 1.5 × the bare SQL",
            timing,
            "bare SQL aggregates",
            base,
            met=timing.median <= 1000 and timing.median <= 1.5 * base.median,
        )
    ]
    timing = measure(lambda _i: coord.get(f"/reports/export.pdf?{QUERY}"), FILE_RUNS, warmup=1)
    rows.append(Row(f"yearly national report, PDF ({YEAR})", "≤ 4 s", timing, met=timing.median <= 4000))
    timing = measure(lambda _i: coord.get(f"/reports/export.xlsx?{QUERY}"), FILE_RUNS, warmup=1)
    rows.append(Row(f"yearly national report, XLSX ({YEAR})", "≤ 3 s", timing, met=timing.median <= 3000))
    return rows, units


def main() -> list[Row]:
    rows, units = run()
    body = table(rows) + (
        "\n\nThrough the real WSGI app (Flask test client, the real login, scoping and templates) on "
        "PostgreSQL with the database `make bench` builds once: "
        f"`flask demo-data --persons {BENCH_PERSONS} --seed {BENCH_SEED}` ({units:,} family units). "
        f"The national report for {YEAR} as a coordinator: the page (totals, map, every breakdown with its "
        "chart), next to the same SQL aggregates run bare; the PDF and the XLSX downloads. Targets on "
        "the median."
    )
    write_section("reports", f"Reports (issue #9): {units:,} family units", body)
    print(table(rows))
    return rows
