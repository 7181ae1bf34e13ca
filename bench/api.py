"""Issue #12 (JSON API): list and read through the API with a personal token, at national scale.

Through the real WSGI application (the token's look-up, the scoped queries, the audit of each case read,
the marshmallow output) next to the SQL each request runs, measured in the same run.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, text, update

from bench.common import BENCH_PERSONS, BENCH_SEED, Row, measure, table, write_section
from bench.dataset import ensure_database, ensure_users, families
from bench.scale import RUNS, bare_search, make_bench_app, samples
from sosep_migrantes.auth import tokens
from sosep_migrantes.auth.models import ApiToken, User
from sosep_migrantes.cases import queries
from sosep_migrantes.core.text import fold
from sosep_migrantes.core.timeutil import today_local
from sosep_migrantes.extensions import db
from sosep_migrantes.returnees.services import find_candidates

TARGET_P95_MS = 50
TARGET_FAMILIES = 300_000
API = "/api/v1"


def token_of(app, username: str) -> str:
    """A fresh token of a benchmark account (the earlier runs' are revoked: only hashes are kept)."""
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        db.session.execute(
            update(ApiToken).where(ApiToken.user_id == user.id).values(revoked_at=db.func.now())
        )
        secret = tokens.create_token(user, "Benchmark", 1, created_by=None).secret
        db.session.commit()
        return secret


class Integration:
    def __init__(self, app, secret: str) -> None:
        self.client = app.test_client()
        self.headers = {"Authorization": f"Bearer {secret}"}

    def get(self, url: str, **query: Any) -> Any:
        response = self.client.get(API + url, headers=self.headers, query_string=query)
        assert response.status_code == 200, (url, response.status_code, response.get_data(as_text=True)[:200])
        return response.json


def bare_read(app, username: str, family_id: int) -> None:
    """The SQL of a case read: the scoped family with its members, languages, reasons and causes."""
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        family = queries.get_family(user, family_id)
        assert family is not None
        db.session.remove()


def people(app) -> list[dict[str, str]]:
    """Persons drawn from the data, typed again as another system would send them (no accents, the
    surnames swapped), with their date of birth: the returnee search's inputs."""
    with app.app_context():
        rows = db.session.execute(
            text(
                "SELECT given_names, surnames, birth_date FROM members "
                "WHERE id % 991 = 0 AND birth_date IS NOT NULL ORDER BY id LIMIT 200"
            )
        ).all()
    found = []
    for given, surnames, birth in rows:
        words = fold(surnames).split()
        found.append(
            {
                "given_names": fold(given),
                "surnames": " ".join(reversed(words)),
                "birth_date": birth.isoformat(),
            }
        )
    return found


def bare_candidates(app, username: str, person: dict[str, str]) -> None:
    """The service the API calls (keys, rows, scoring, scope and disclosure), without HTTP and JSON."""
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        find_candidates(
            user,
            given_names=person["given_names"],
            surnames=person["surnames"],
            cui=None,
            birth_date=dt.date.fromisoformat(person["birth_date"]),
            age=None,
            on=today_local(),
        )
        db.session.remove()


def run() -> tuple[list[Row], int]:
    ensure_database()
    units = families()
    app = make_bench_app()
    with app.app_context():
        ensure_users()
    drawn = samples(app)
    coord = Integration(app, token_of(app, "bench-coord"))
    desk = Integration(app, token_of(app, "bench-fag"))
    at_scale = units >= TARGET_FAMILIES
    target = f"p95 ≤ {TARGET_P95_MS} ms at ≥ {TARGET_FAMILIES:,} families"

    def row(label: str, fn: Any, base: Any, limit: str = "bare SQL") -> Row:
        timing, baseline = measure(fn, RUNS), measure(base, RUNS)
        return Row(label, target, timing, limit, baseline, met=at_scale and timing.p95 <= TARGET_P95_MS)

    ids, names, fag_names = drawn["family_ids"], drawn["names"], drawn["fag_names"]
    persons = people(app)
    rows = [
        row(
            "API list, first page (coordinator token)",
            lambda _i: coord.get("/families/"),
            lambda _i: bare_search(app, "bench-coord", None),
        ),
        row(
            "API list filtered by department (coordinator token)",
            lambda i: coord.get("/families/", department_id=13 if i % 2 else 7),
            lambda i: bare_search(app, "bench-coord", None, department_id=13 if i % 2 else 7),
        ),
        row(
            "API search by name (coordinator token)",
            lambda i: coord.get("/families/", q=names[i % len(names)]),
            lambda i: bare_search(app, "bench-coord", names[i % len(names)]),
        ),
        row(
            "API search by name (FAG reception token)",
            lambda i: desk.get("/families/", q=fag_names[i % len(fag_names)]),
            lambda i: bare_search(app, "bench-fag", fag_names[i % len(fag_names)]),
        ),
        row(
            "API returnee candidates for one person, nationwide (FAG reception token)",
            lambda i: desk.get("/returnees/candidates", **persons[i % len(persons)]),
            lambda i: bare_candidates(app, "bench-fag", persons[i % len(persons)]),
            "the service alone",
        ),
        row(
            "API read of a case with its members (coordinator token, audited)",
            lambda i: coord.get(f"/families/{ids[i % len(ids)]}"),
            lambda i: bare_read(app, "bench-coord", ids[i % len(ids)]),
        ),
    ]
    return rows, units


def main() -> list[Row]:
    rows, units = run()
    body = table(rows) + (
        "\n\nThrough the real WSGI app (Flask test client) with a personal token in `Authorization: Bearer`, "
        "on PostgreSQL with the database `make bench` builds once: "
        f"`flask demo-data --persons {BENCH_PERSONS} --seed {BENCH_SEED}` ({units:,} family units). "
        "Each request looks the token up, loads the account, runs the same scoped query as the pages and "
        "writes the audit of the cases it returns (one `family:api_read` row per case, committed before the "
        "answer). The bare SQL is the list's capped count and page of rows, or the case with its members; "
        "for the returnee candidates, the limit is the service the endpoint calls (`find_candidates`: "
        "the keys' look-up, the rows, scoring, scope and disclosure), the persons drawn from the data "
        "and sent again without accents and with the surnames swapped, with their date of birth."
    )
    write_section("api", f"JSON API (issue #12): {units:,} family units", body)
    print(table(rows))
    return rows
