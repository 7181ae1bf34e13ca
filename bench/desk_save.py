"""Issue #11 (desk speed): the one-screen save of a family of six with needs served and two referrals.

Through the real WSGI application as the FAG reception account, on the national-scale database: one POST
registers the family, serves its food and hygiene kits and creates (as sent) its referrals to Hogares
Comunitarios and the OIM, in one transaction. Beside it, the limit measured in the same run: the bare
route that runs one query. Each run saves a new family into one benchmark arrival (``BENCH-DESK``).
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from bench.common import Row, measure, table, write_section
from bench.dataset import ensure_database, ensure_users, families
from bench.scale import Desk, make_bench_app
from sosep_migrantes.auth.models import User
from sosep_migrantes.cases.models import FamilyUnit
from sosep_migrantes.catalogs.models import Country
from sosep_migrantes.catalogs.services import by_code
from sosep_migrantes.core.timeutil import LOCAL_TZ
from sosep_migrantes.extensions import db
from sosep_migrantes.reception.models import Arrival
from sosep_migrantes.reception.services import create_arrival

TARGET_P95_MS = 150
RUNS = 30
TRANSPORT_REF = "BENCH-DESK"
MEMBERS = (
    ("Rosa Amalia", "Pérez Gómez", "F", "HEAD", "31"),
    ("Juan Carlos", "López Ramírez", "M", "SPOUSE", "35"),
    ("Kevin", "López Pérez", "M", "SON", "12"),
    ("Ana", "López Pérez", "F", "DAUGHTER", "9"),
    ("Luis", "López Pérez", "M", "SON", "5"),
    ("Sofía", "López Pérez", "F", "DAUGHTER", "2"),
)


def bench_arrival(app) -> int:
    with app.app_context():
        arrival_id = db.session.scalar(select(Arrival.id).where(Arrival.transport_ref == TRANSPORT_REF))
        if arrival_id is None:
            user = db.session.scalar(select(User).where(User.username == "bench-fag"))
            arrival_id = create_arrival(
                {
                    "centre": "FAG",
                    "arrived_at": dt.datetime.now(LOCAL_TZ).replace(hour=6, minute=0).astimezone(dt.UTC),
                    "mode": "air",
                    "country": by_code(Country, "US"),
                    "origin": "Alexandria, LA",
                    "transport_ref": TRANSPORT_REF,
                },
                user,
            ).id
            db.session.commit()
        db.session.remove()
    return arrival_id


def family_form(desk: Desk, arrival_id: int) -> dict[str, object]:
    data: dict[str, object] = {
        "destination_municipality": "Cuilco, Huehuetenango",
        "consent_type": "written",
        "consent_on": dt.datetime.now(LOCAL_TZ).strftime("%d/%m/%Y"),
        "migration_reasons": "UNEMPLOYMENT",
    }
    for i, (given, surnames, sex, relationship, age) in enumerate(MEMBERS):
        data |= {
            f"members-{i}-given_names": given,
            f"members-{i}-surnames": surnames,
            f"members-{i}-sex": sex,
            f"members-{i}-relationship": relationship,
            f"members-{i}-estimated_age": age,
        }
    page = desk.get(f"/arrivals/{arrival_id}/families/new").get_data(as_text=True)
    needs = dict(re.findall(r'name="needs-(\d+)-need" value="(\w+)"', page))
    for index, code in needs.items():
        if code in ("FOOD", "HYGIENE_KIT"):
            data |= {f"needs-{index}-need": code, f"needs-{index}-given": "y"}
    offered = desk.post(f"/arrivals/{arrival_id}/families/suggestions", data).get_data(as_text=True)
    lines = {
        code: index
        for index, code in re.findall(r'name="referrals-(\d+)-institution" value="(\w+)"', offered)
    }
    for code, reason in (("SOSEP_HOGARES", "Niñas y niños menores de 7 años."), ("OIM", "Reintegración.")):
        index = lines[code]
        persons = re.findall(rf'name="referrals-{index}-persons" value="(\d+)"[^>]*checked', offered)
        data |= {
            f"referrals-{index}-institution": code,
            f"referrals-{index}-selected": "y",
            f"referrals-{index}-persons": persons or [str(i) for i in range(len(MEMBERS))],
            f"referrals-{index}-reason": reason,
        }
    return data


def run() -> tuple[list[Row], int]:
    ensure_database()
    units = families()
    app = make_bench_app()
    with app.app_context():
        ensure_users()
        db.session.remove()
    arrival_id = bench_arrival(app)
    desk = Desk(app, "bench-fag")
    data = family_form(desk, arrival_id)
    url = f"/arrivals/{arrival_id}/families/new"

    def save(_: int) -> None:
        response = desk.post(url, data)
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]

    saved = measure(save, RUNS)
    with app.app_context():
        family_id = db.session.scalar(select(db.func.max(FamilyUnit.id)))
        db.session.remove()
    bare = measure(lambda _: desk.get(f"/_bench/bare/{family_id or 1}"), RUNS)
    rows = [
        Row(
            "One-screen save: family of six, 2 needs served, 2 referrals sent (one POST)",
            f"p95 ≤ {TARGET_P95_MS} ms",
            saved,
            "bare route, one query",
            bare,
            met=saved.p95 <= TARGET_P95_MS,
        )
    ]
    return rows, units


def main() -> list[Row]:
    rows, units = run()
    body = (
        f"{units:,} family units in the database; {RUNS} saves through the WSGI application as a FAG "
        "reception user, each a new family of six into one arrival.\n\n" + table(rows)
    )
    write_section("desk-save", "Desk: the one-screen save (issue #11)", body)
    print(body)
    return rows
