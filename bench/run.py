"""Benchmarks (not tests): PDF slips for a whole flight.

Targets (issue #3): all slips of an arrival with 56 referrals in one PDF <= 3 s; one slip <= 400 ms.
Run with ``make bench``; record the figures in docs/performance.md.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade
from sqlalchemy import select

from sosep_migrantes import create_app
from sosep_migrantes.auth.services import create_user
from sosep_migrantes.cases.models import FamilyUnit
from sosep_migrantes.catalogs.models import Institution
from sosep_migrantes.catalogs.services import by_code, load_catalogs
from sosep_migrantes.demo.generator import DemoGenerator
from sosep_migrantes.extensions import db
from sosep_migrantes.referrals.models import Referral
from sosep_migrantes.referrals.pdf import render_slips
from sosep_migrantes.referrals.services import create_referral

FAMILIES = 56


def timed(fn, repeat: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU seconds per call (CPU time is steadier when the machine is busy)."""
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return wall, cpu


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.sqlite3", "SECRET_KEY": "bench"})
        with app.test_request_context():
            upgrade()
            load_catalogs()
            user = create_user(
                {
                    "username": "bench",
                    "full_name": "Bench",
                    "role": "coordinator",
                    "password": "bench-password",
                }
            )
            import datetime as dt

            generator = DemoGenerator(seed=56, until=dt.date(2026, 11, 20), with_services=False)
            generator._arrival_plan = lambda: ("FAG", "air", "US", "Laredo, TX", FAMILIES)  # one full flight
            generator.run(FAMILIES, user)
            oim = by_code(Institution, "OIM")
            oim.address, oim.phone = "Ciudad de Guatemala", "2222-0000"
            for family in db.session.scalars(select(FamilyUnit)):
                family.consent_type, family.consent_on = "written", dt.date(2026, 11, 20)
                create_referral(
                    family,
                    {
                        "institution": oim,
                        "member_ids": [m.id for m in family.members],
                        "reason": "Reintegración y protección",
                        "send": True,
                    },
                    user,
                )
            db.session.commit()
            referrals = db.session.scalars(select(Referral).order_by(Referral.id)).all()
            assert len(referrals) == FAMILIES

            render_slips(referrals[:1])  # warm up: fonts, templates
            single = timed(lambda: render_slips(referrals[:1]), 10)
            flight = timed(lambda: render_slips(referrals), 3)
            pages = len(
                __import__("pypdf").PdfReader(__import__("io").BytesIO(render_slips(referrals))).pages
            )

    print(
        f"one slip: median {statistics.median(single[0]) * 1000:.0f} ms wall, "
        f"{statistics.median(single[1]) * 1000:.0f} ms CPU (target <= 400 ms)"
    )
    print(
        f"arrival of {FAMILIES} referrals ({pages} pages): median {statistics.median(flight[0]):.2f} s wall, "
        f"{statistics.median(flight[1]):.2f} s CPU (target <= 3 s)"
    )


if __name__ == "__main__":
    main()
