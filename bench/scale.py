"""Issue #6 (national scale): search, lists, case pages, registration and slips at a million persons.

Every operation goes through the real WSGI application (Flask's test client: routing, login, CSRF,
scoping, templates), timed over repeated runs, next to a limit measured in the same run.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import random
import re
import uuid
from typing import Any

import pyotp
from flask import render_template
from flask_babel import force_locale
from flask_login import login_user
from sqlalchemy import select, text
from weasyprint import HTML

from bench.common import BENCH_PASSWORD, BENCH_PERSONS, BENCH_SEED, Row, measure, table, write_section
from bench.dataset import BENCH_TOTP_SECRET, ensure_database, ensure_users, sqlalchemy_url
from sosep_migrantes import create_app
from sosep_migrantes.auth.models import User
from sosep_migrantes.auth.services import system_user
from sosep_migrantes.cases import queries
from sosep_migrantes.cases.models import FamilyUnit
from sosep_migrantes.catalogs.models import Institution
from sosep_migrantes.catalogs.services import by_code
from sosep_migrantes.core.pagination import COUNT_CAP, capped_count
from sosep_migrantes.core.pdf import STATIC_SCHEME, StaticOnlyFetcher
from sosep_migrantes.core.timeutil import now_local, today_local
from sosep_migrantes.demo.generator import DemoGenerator
from sosep_migrantes.extensions import db
from sosep_migrantes.reception.models import Arrival
from sosep_migrantes.referrals.models import Referral
from sosep_migrantes.referrals.pdf import slip_data
from sosep_migrantes.referrals.services import create_referral

RUNS = int(os.environ.get("BENCH_RUNS", "40"))
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_bench_app():
    # A secret of its own, so create_app does not write one into instance/.
    os.environ.setdefault("SECRET_KEY", "bench")

    app = create_app({"SQLALCHEMY_DATABASE_URI": sqlalchemy_url(), "RATELIMIT_ENABLED": False})

    @app.get("/_bench/bare/<int:family_id>")
    def bare(family_id: int):
        """The limit for a page: a Flask route that runs one query and returns a line of text."""
        return db.session.get(FamilyUnit, family_id).case_number

    # As each gunicorn worker does after loading the app (gunicorn.conf.py, post_fork): what is loaded
    # now stays for the process's life, out of the cyclic collector's full passes.
    gc.freeze()
    return app


class Desk:
    """A logged-in user's browser: the test client with its session cookie and CSRF token."""

    def __init__(self, app, username: str) -> None:
        self.client = app.test_client()
        page = self.client.get("/login").get_data(as_text=True)
        self.csrf = CSRF.search(page).group(1)
        response = self.post("/login", {"username": username, "password": BENCH_PASSWORD})
        assert response.status_code == 302, response.status_code
        if response.location == "/login/code":  # coordinators: the authenticator's code
            with app.app_context():
                db.session.execute(
                    db.update(User).where(User.username == username).values(totp_last_step=None)
                )
                db.session.commit()
            # The sign-in started a new session: the code's form carries its own CSRF token.
            self.csrf = CSRF.search(self.client.get("/login/code").get_data(as_text=True)).group(1)
            response = self.post("/login/code", {"code": pyotp.TOTP(BENCH_TOTP_SECRET).now()})
            assert response.status_code == 302, response.status_code
        self.csrf = CSRF.search(self.client.get("/cases/").get_data(as_text=True)).group(1)

    def get(self, url: str):
        response = self.client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        return response

    def post(self, url: str, data: dict[str, Any]):
        return self.client.post(url, data={**data, "csrf_token": self.csrf})

    def search(self, q: str) -> str:
        response = self.post("/cases/", {"q": q})
        assert response.status_code == 200, response.status_code
        return response.get_data(as_text=True)


def samples(app) -> dict[str, list]:
    """Inputs drawn from the data itself (deterministic): names, CUIs, case numbers, family ids."""

    with app.app_context():
        members = db.session.execute(
            text(
                "SELECT m.given_names, m.surnames, m.cui, f.case_number, f.id, c.code "
                "FROM members m JOIN family_units f ON f.id = m.family_id "
                "JOIN centres c ON c.id = f.centre_id "
                "WHERE m.id % 997 = 0 AND m.cui IS NOT NULL ORDER BY m.id LIMIT 400"
            )
        ).all()
    rng = random.Random(6)
    rng.shuffle(members)
    fag = [m for m in members if m.code == "FAG"]
    return {
        "names": [f"{m.surnames.split()[0]} {m.given_names.split()[0]}" for m in members],
        "fag_names": [f"{m.given_names.split()[0]} {m.surnames}" for m in fag],
        "cuis": [m.cui for m in members],
        "fag_cuis": [m.cui for m in fag],
        "case_numbers": [m.case_number for m in members],
        "family_ids": [m.id for m in members],
    }


def bare_search(app, username: str, q: str | None, **filters: Any) -> None:
    """The SQL a list page runs (capped count, one page of rows), without ORM loading or templates."""

    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        filters = queries.CaseFilters(q=q, **filters)
        if q:
            queries.plan_each_search()
        capped_count(queries.filter_families(user, filters), COUNT_CAP)
        db.session.execute(queries.case_rows(queries.search_families(user, filters)).limit(26)).all()
        db.session.remove()


def family_of_six(municipality: str = "Cuilco, Huehuetenango") -> dict[str, Any]:
    people = [
        ("Rosa", "Tzoc Pérez", "F", "HEAD", 34),
        ("Gaspar", "Méndez Ramos", "M", "SPOUSE", 37),
        ("Ana", "Méndez Tzoc", "F", "DAUGHTER", 12),
        ("Juan", "Méndez Tzoc", "M", "SON", 9),
        ("Lucía", "Méndez Tzoc", "F", "DAUGHTER", 5),
        ("Mateo", "Méndez Tzoc", "M", "SON", 1),
    ]
    form: dict[str, Any] = {
        "destination_municipality": municipality,
        "consent_type": "written",
        "consent_on": today_local().isoformat(),
        "submission_token": uuid.uuid4().hex,
    }
    for i, (given, surnames, sex, relationship, age) in enumerate(people):
        form.update(
            {
                f"members-{i}-given_names": given,
                f"members-{i}-surnames": surnames,
                f"members-{i}-sex": sex,
                f"members-{i}-relationship": relationship,
                f"members-{i}-estimated_age": str(age),
            }
        )
    return form


def slip_arrival(app) -> int:
    """An arrival of 56 families, each referred to OIM (made once in the benchmark database)."""

    with app.app_context():
        found = db.session.scalar(select(Arrival.id).where(Arrival.transport_ref == "BENCH-SLIPS"))
        if found:
            return found
        actor = system_user()
        generator = DemoGenerator(seed=56, until=dt.date(2026, 11, 20), with_services=False)
        generator._arrival_plan = lambda: ("FAG", "air", "US", "Laredo, TX", 56)  # one full flight
        before = db.session.scalar(select(db.func.max(Arrival.id)))
        generator.run(56, actor)
        arrival = db.session.scalar(select(Arrival).where(Arrival.id > before))
        arrival.transport_ref = "BENCH-SLIPS"
        oim = by_code(Institution, "OIM")
        for family in db.session.scalars(select(FamilyUnit).where(FamilyUnit.arrival_id == arrival.id)):
            family.consent_type, family.consent_on = "written", dt.date(2026, 11, 20)
            create_referral(
                family,
                {
                    "institution": oim,
                    "member_ids": [m.id for m in family.members],
                    "reason": "Reintegración y protección",
                    "send": True,
                },
                actor,
            )
        db.session.commit()
        return arrival.id


def weasyprint_alone(app, referral_ids: list[int]):
    """The limit for slips: WeasyPrint on the very HTML the route renders, same fetcher, no app work."""

    with app.test_request_context():
        login_user(db.session.scalar(select(User).where(User.username == "bench-coord")))
        referrals = db.session.scalars(select(Referral).where(Referral.id.in_(referral_ids))).all()
        with force_locale("es_GT"):
            html = render_template("referrals/slips.pdf.html", slips=[slip_data(r) for r in referrals])
    fetcher = StaticOnlyFetcher(app.static_folder)
    return lambda _i: HTML(string=html, base_url=STATIC_SCHEME, url_fetcher=fetcher).write_pdf()


def run() -> list[Row]:
    have = ensure_database()
    print(f"bench: {have:,} persons in the benchmark database")
    app = make_bench_app()
    with app.app_context():
        ensure_users()
    data = samples(app)
    coord, fag = Desk(app, "bench-coord"), Desk(app, "bench-fag")
    rows: list[Row] = []

    def pick(key: str):
        values = data[key]
        return lambda i: values[i % len(values)]

    def search_row(label: str, desk: Desk, username: str, key: str) -> Row:
        value = pick(key)
        timing = measure(lambda i: desk.search(value(i)), RUNS)
        base = measure(lambda i: bare_search(app, username, value(i)), RUNS)
        return Row(label, "p95 ≤ 50 ms", timing, "bare SQL", base, met=timing.p95 <= 50)

    rows.append(search_row("search by name, coordinator", coord, "bench-coord", "names"))
    rows.append(search_row("search by name, FAG reception", fag, "bench-fag", "fag_names"))
    rows.append(search_row("search by CUI, coordinator", coord, "bench-coord", "cuis"))
    rows.append(search_row("search by CUI, FAG reception", fag, "bench-fag", "fag_cuis"))
    rows.append(search_row("search by case number, coordinator", coord, "bench-coord", "case_numbers"))

    # Case list with filters (kept in the session, as the page does): Huehuetenango (INE 13), received.
    huehue = 13
    coord.post("/cases/", {"q": "", "department_id": str(huehue), "status": "received"})
    pages = ["/cases/", "/cases/?page=2", "/cases/?page=5"]
    timing = measure(lambda i: coord.get(pages[i % 3]), RUNS)
    base = measure(
        lambda i: bare_search(app, "bench-coord", None, department_id=huehue, status="received"), RUNS
    )
    rows.append(
        Row(
            "case list, department + status filters, coordinator",
            "p95 ≤ 50 ms",
            timing,
            "bare SQL",
            base,
            met=timing.p95 <= 50,
        )
    )
    fag.post("/cases/", {"q": "", "status": "received"})
    timing = measure(lambda i: fag.get(pages[i % 3]), RUNS)
    base = measure(lambda i: bare_search(app, "bench-fag", None, status="received"), RUNS)
    rows.append(
        Row(
            "case list, status filter, FAG reception",
            "p95 ≤ 50 ms",
            timing,
            "bare SQL",
            base,
            met=timing.p95 <= 50,
        )
    )

    family = pick("family_ids")
    timing = measure(lambda i: coord.get(f"/cases/{family(i)}"), RUNS)
    base = measure(lambda i: coord.get(f"/_bench/bare/{family(i)}"), RUNS)
    rows.append(
        Row(
            "case detail page, coordinator",
            "p95 ≤ 30 ms",
            timing,
            "bare Flask route, one query",
            base,
            met=timing.p95 <= 30,
        )
    )

    # Registration of a family of six on an arrival of today at FAG.
    arrival = fag.post(
        "/arrivals/new",
        {
            "centre": "FAG",
            "arrived_at": now_local().strftime("%Y-%m-%dT%H:%M"),
            "mode": "air",
            "country": "US",
            "origin": "Laredo, TX",
            "transport_ref": "BENCH-DESK",
        },
    )
    assert arrival.status_code == 302, arrival.status_code
    form_url = arrival.headers["Location"]

    def register(_i: int) -> None:
        response = fag.post(form_url, family_of_six())
        assert response.status_code == 302 and "saved=" in response.headers["Location"], response.status_code

    timing = measure(register, RUNS)
    rows.append(Row("registration of a family of 6 (POST)", "p95 ≤ 100 ms", timing, met=timing.p95 <= 100))

    arrival_id = slip_arrival(app)

    with app.app_context():
        referral_ids = db.session.scalars(
            db.select(Referral.id)
            .join(FamilyUnit)
            .where(FamilyUnit.arrival_id == arrival_id)
            .order_by(Referral.id)
        ).all()
    assert len(referral_ids) == 56, len(referral_ids)
    timing = measure(lambda i: coord.get(f"/arrivals/{arrival_id}/slips.pdf"), 5, warmup=1)
    base = measure(weasyprint_alone(app, referral_ids), 5, warmup=1)
    rows.append(
        Row(
            "all slips of a 56-family arrival, one PDF",
            "≤ 2 s",
            timing,
            "WeasyPrint on the same HTML",
            base,
            met=timing.median <= 2000,
        )
    )
    one = referral_ids[0]
    timing = measure(lambda i: coord.get(f"/referrals/{one}/slip.pdf"), 20)
    base = measure(weasyprint_alone(app, [one]), 20)
    rows.append(
        Row("one slip", "≤ 150 ms", timing, "WeasyPrint on the same HTML", base, met=timing.median <= 150)
    )
    return rows


def main() -> list[Row]:
    rows = run()
    body = table(rows) + (
        "\n\nThrough the real WSGI app (Flask test client, the real login, CSRF, scoping and templates) on "
        "PostgreSQL with the database `make bench` builds once: "
        f"`flask demo-data --persons {BENCH_PERSONS} --seed {BENCH_SEED}`. "
        "Search inputs are drawn from the data (a surname and a given name; CUIs; case numbers). "
        "Targets on p95 are met when p95 is under the target; the PDF targets are on the median."
    )
    write_section("scale", f"National scale (issue #6): {BENCH_PERSONS:,} persons", body)
    print(table(rows))
    return rows
