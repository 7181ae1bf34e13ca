"""Issue #11, item 4 (suite ``desk``): a flight's passenger list of 130 rows (56 families) previewed and
confirmed, target at most 3 s on PostgreSQL.

Through the real WSGI application (login, CSRF, the upload's multipart body, templates) as a FAG reception
account: one POST uploads the XLSX and renders its preview, one POST confirms it and creates the 56
pre-registered family units with their case numbers, search text and audit entries, in one transaction.
Each run uses a new arrival, so every run creates its families. Beside it, the limit measured in the same
run: the same 56 families registered by calling ``cases.services.register_family`` directly (no file, no
HTTP, one commit), the floor of what the confirmation does.

The database is the national-scale one when it is built at this code's Alembic head (``bench.dataset``'s
stamp); otherwise a scratch database of its own (``sosep_bench_desk``: migrations and catalogues, built
again at each run), since what is timed writes into an arrival of its own and reads only the catalogues.
"""

from __future__ import annotations

import datetime as dt
import io
import random
import time

from sqlalchemy import create_engine, delete, func, select, text
from sqlalchemy.engine import make_url

from bench.common import Row, Timing, measure, table, write_section
from bench.dataset import ensure_users, expected_stamp, sqlalchemy_url, stamp
from bench.scale import Desk
from sosep_migrantes import create_app
from sosep_migrantes.auth.models import User
from sosep_migrantes.cases.models import FamilyUnit
from sosep_migrantes.cases.services import register_family
from sosep_migrantes.catalogs.models import Country
from sosep_migrantes.catalogs.services import by_code
from sosep_migrantes.core.timeutil import LOCAL_TZ
from sosep_migrantes.desk.imports import arrival_plan
from sosep_migrantes.desk.passenger_list import read_rows, template_headers
from sosep_migrantes.extensions import db
from sosep_migrantes.reception.models import Arrival
from sosep_migrantes.reception.services import create_arrival

TARGET_MS = 3000
RUNS = 10
ROWS, FAMILIES = 130, 56
SCRATCH_DATABASE = "sosep_bench_desk"
USERNAME = "bench-fag"

GIVEN_F = ("María", "Ana", "Rosa", "Juana", "Catarina", "Elena", "Marta", "Sofía", "Lucía", "Andrea")
GIVEN_M = ("José", "Juan", "Pedro", "Luis", "Carlos", "Gaspar", "Miguel", "Diego", "Mateo", "Tomás")
SURNAMES = (
    "López",
    "Pérez",
    "Ramírez",
    "Tzoc",
    "Chávez",
    "Ixcoy",
    "Gómez",
    "Hernández",
    "Mendoza",
    "Vásquez",
)
#: The top destinations (Huehuetenango, San Marcos and Quiché carry over 40% of returnees).
PLACES = (
    ("Huehuetenango", "Cuilco"),
    ("Huehuetenango", "Jacaltenango"),
    ("Huehuetenango", "Nentón"),
    ("San Marcos", "Tacaná"),
    ("San Marcos", "Comitancillo"),
    ("Quiché", "Santa María Nebaj"),
    ("Quetzaltenango", "Coatepeque"),
    ("Guatemala", "Mixco"),
)


def _cui(rng: random.Random, department: int) -> str:
    while True:
        serial = f"{rng.randrange(10**7, 10**8)}"
        check = sum(int(serial[i]) * (i + 2) for i in range(8)) % 11
        if check < 10:
            return f"{serial}{check}{department:02d}01"


def flight_rows(seed: int = 11) -> list[list[str]]:
    """130 persons in 56 families (4 of four, 10 of three, 42 of two), as the template's columns."""
    rng = random.Random(seed)
    sizes = [4] * 4 + [3] * 10 + [2] * 42
    assert len(sizes) == FAMILIES and sum(sizes) == ROWS
    departments = {"Huehuetenango": 13, "San Marcos": 12, "Quiché": 14, "Quetzaltenango": 9, "Guatemala": 1}
    rows = []
    for number, size in enumerate(sizes, start=1):
        department, municipality = rng.choice(PLACES)
        surnames = f"{rng.choice(SURNAMES)} {rng.choice(SURNAMES)}"
        for position in range(size):
            adult = position == 0
            sex = rng.choice("FM")
            age = rng.randrange(20, 50) if adult else rng.randrange(0, 17)
            born = dt.date(2026 - age, rng.randrange(1, 13), rng.randrange(1, 29))
            rows.append(
                [
                    rng.choice(GIVEN_F if sex == "F" else GIVEN_M),
                    surnames,
                    sex,
                    born.strftime("%d/%m/%Y"),
                    _cui(rng, departments[department]) if adult else "",
                    f"FAM-{number:02d}",
                    department if adult else "",
                    municipality if adult else "",
                    f"5{rng.randrange(10**6, 10**7)}" if adult else "",
                    "",
                ]
            )
    return rows


def flight_xlsx(rows: list[list[str]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(template_headers())
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _scratch_url() -> str:
    return make_url(sqlalchemy_url()).set(database=SCRATCH_DATABASE).render_as_string(hide_password=False)


def _scratch(create: bool) -> None:
    admin = create_engine(make_url(sqlalchemy_url()).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{SCRATCH_DATABASE}" WITH (FORCE)'))
        if create:
            conn.execute(text(f'CREATE DATABASE "{SCRATCH_DATABASE}"'))
    admin.dispose()


def database_url() -> tuple[str | None, str]:
    """The database to run on (``None``: a scratch one, created now), and how to name it in the report."""
    if stamp() == expected_stamp():
        return sqlalchemy_url(), "the national-scale benchmark database"
    _scratch(create=True)
    return None, f"a scratch database ({SCRATCH_DATABASE}: migrations and catalogues only)"


def make_app(url: str):
    from flask_migrate import upgrade

    from sosep_migrantes.catalogs.services import load_catalogs

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": False, "SECRET_KEY": "bench"})
    with app.app_context():
        upgrade()
        load_catalogs()
        db.session.commit()
        ensure_users()
        db.session.remove()
    return app


def new_arrival(app, label: str) -> int:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == USERNAME))
        arrival = create_arrival(
            {
                "centre": "FAG",
                "arrived_at": dt.datetime.now(LOCAL_TZ).replace(hour=6, minute=0).astimezone(dt.UTC),
                "mode": "air",
                "country": by_code(Country, "US"),
                "origin": "Laredo, TX",
                "transport_ref": label,
            },
            user,
        )
        db.session.commit()
        arrival_id = arrival.id
        db.session.remove()
    return arrival_id


def remove_bench_arrivals() -> None:
    """What the runs created, so the national-scale database holds only its own data afterwards (members,
    their languages and the lists go with their family or arrival: ``ON DELETE CASCADE``)."""
    arrivals = select(Arrival.id).where(Arrival.transport_ref.like("BENCH-LIST-%"))
    db.session.execute(delete(FamilyUnit).where(FamilyUnit.arrival_id.in_(arrivals)))
    db.session.execute(delete(Arrival).where(Arrival.id.in_(arrivals)))


def run() -> tuple[list[Row], str, int]:
    url, where = database_url()
    app = make_app(url or _scratch_url())
    with app.app_context():
        units = db.session.scalar(select(func.count()).select_from(FamilyUnit)) or 0
        db.session.remove()
    desk = Desk(app, USERNAME)
    rows = flight_rows()
    content = flight_xlsx(rows)
    preview_ms: list[float] = []
    confirm_ms: list[float] = []

    def preview_and_confirm(i: int) -> None:
        arrival_id = new_arrival(app, f"BENCH-LIST-{i}")
        start = time.perf_counter()
        response = desk.post(
            f"/arrivals/{arrival_id}/passenger-list", {"file": (io.BytesIO(content), "GUA123.xlsx")}
        )
        body = response.get_data(as_text=True)
        assert response.status_code == 200 and f"{FAMILIES} unidades familiares" in body, body[:3000]
        token = body.split('name="token" value="', 1)[1].split('"', 1)[0]
        middle = time.perf_counter()
        response = desk.post(f"/arrivals/{arrival_id}/passenger-list/confirm", {"token": token})
        assert response.status_code == 302, response.status_code
        preview_ms.append((middle - start) * 1000)
        confirm_ms.append((time.perf_counter() - middle) * 1000)

    both = measure(preview_and_confirm, RUNS, warmup=1)
    preview_ms, confirm_ms = preview_ms[1:], confirm_ms[1:]  # the warm-up's

    def register_directly(i: int) -> None:
        arrival_id = new_arrival(app, f"BENCH-LIST-BARE-{i}")
        with app.test_request_context():
            user = db.session.scalar(select(User).where(User.username == USERNAME))
            arrival = db.session.get(Arrival, arrival_id)
            found = arrival_plan(arrival, read_rows("l.xlsx", content))
            for group in found.to_create:
                register_family(arrival, group.family_data(), user, preregistered=True)
            db.session.commit()
            db.session.remove()

    bare = measure(register_directly, RUNS, warmup=1)
    with app.app_context():
        remove_bench_arrivals()
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    if url is None:
        _scratch(create=False)
    table_rows = [
        Row(
            f"Passenger list of {ROWS} rows ({FAMILIES} families): preview + confirm (two POSTs)",
            f"≤ {TARGET_MS / 1000:.0f} s (p95)",
            both,
            f"the same {FAMILIES} families through register_family directly",
            bare,
            met=both.p95 <= TARGET_MS,
        ),
        Row("  of which the upload and its preview (XLSX read, rows checked, page)", "-", Timing(preview_ms)),
        Row(
            f"  of which the confirmation ({FAMILIES} family units, one transaction)", "-", Timing(confirm_ms)
        ),
    ]
    return table_rows, where, units


def main() -> list[Row]:
    rows, where, units = run()
    body = (
        f"On {where} ({units:,} family units), {RUNS} runs through the WSGI application as a FAG "
        f"reception user, each a new arrival; the XLSX list has {ROWS} rows in {FAMILIES} family groups.\n\n"
        + table(rows)
    )
    write_section("desk", "Desk: a passenger list previewed and confirmed (issue #11, item 4)", body)
    print(body)
    return rows
