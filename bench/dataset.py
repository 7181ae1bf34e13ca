"""The national-scale benchmark database: ``BENCH_PERSONS`` persons on PostgreSQL, built once and reused.

It is built with the commands a person would run (``flask setup``, then ``flask demo-data --persons``),
so the benchmark also exercises them. Benchmark accounts (one per kind of user) are added if missing.

The database carries a stamp (its PostgreSQL comment): persons, seed, the Alembic head it was built at
and the bulk generator's version. It is reused only while all four are today's; otherwise it is dropped
and built again, since a migration or a generator that writes more (the follow-up of issue #8) leaves
a database whose data no longer looks like what the code would write.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from bench.common import BENCH_DATABASE_URL, BENCH_PASSWORD, BENCH_PERSONS, BENCH_SEED, ROOT

#: username -> (role, centre, sede)
#: The authenticator secret of the synthetic coordinator (a synthetic database only).
BENCH_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # noqa: S105

BENCH_USERS = {
    "bench-coord": ("coordinator", None, None),
    "bench-fag": ("reception", "FAG", None),
    "bench-huehue": ("sede", None, "HUEHUETENANGO"),
}


def sqlalchemy_url(url: str = BENCH_DATABASE_URL) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def _flask(*args: str) -> None:
    env = {**os.environ, "DATABASE_URL": BENCH_DATABASE_URL, "SECRET_KEY": "bench"}
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env, check=True)


def persons() -> int | None:
    """Persons in the benchmark database; ``None`` when it does not exist or has no schema yet."""
    engine = create_engine(sqlalchemy_url())
    try:
        with engine.connect() as conn:
            return conn.scalar(text("SELECT count(*) FROM members"))
    except Exception:
        return None
    finally:
        engine.dispose()


def expected_stamp() -> str:
    """What the database must have been built with to be reused."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from sosep_migrantes.demo.bulk import GENERATOR_VERSION

    config = Config()
    config.set_main_option("script_location", str(ROOT / "sosep_migrantes" / "migrations"))
    head = ScriptDirectory.from_config(config).get_current_head()
    return (
        f"sosep-bench persons={BENCH_PERSONS} seed={BENCH_SEED} alembic={head} generator={GENERATOR_VERSION}"
    )


def _admin(url: URL):
    return create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")


def stamp() -> str | None:
    """The stamp of the benchmark database: ``None`` if it does not exist, ``""`` if it has none."""
    url = make_url(sqlalchemy_url())
    admin = _admin(url)
    try:
        with admin.connect() as conn:
            row = conn.execute(
                text("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = :n"),
                {"n": url.database},
            ).first()
    finally:
        admin.dispose()
    return None if row is None else row[0] or ""


def ensure_database() -> int:
    """Build the benchmark database unless one built by this code (same stamp) is there already."""
    url = make_url(sqlalchemy_url())
    wanted, found = expected_stamp(), stamp()
    if found == wanted:
        _flask("setup")  # catalogue rows added since it was built
        return persons() or 0
    admin = _admin(url)
    with admin.connect() as conn:
        if found is not None:
            print(f"bench: {url.database} was built by other code ({found or 'no stamp'}); building it again")
            conn.execute(text(f'DROP DATABASE "{url.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()
    _flask("setup")
    print(f"bench: building the national-scale database ({BENCH_PERSONS:,} persons) in {url.database} ...")
    start = time.perf_counter()
    _flask("demo-data", "--persons", str(BENCH_PERSONS), "--seed", str(BENCH_SEED))
    print(f"bench: built in {time.perf_counter() - start:.0f} s")
    engine = create_engine(sqlalchemy_url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("VACUUM ANALYZE"))
        conn.execute(text(f"COMMENT ON DATABASE \"{url.database}\" IS '{wanted}'"))
    engine.dispose()
    return persons() or 0


def families() -> int:
    engine = create_engine(sqlalchemy_url())
    try:
        with engine.connect() as conn:
            return int(conn.scalar(text("SELECT count(*) FROM family_units")) or 0)
    finally:
        engine.dispose()


def ensure_users() -> None:
    """One account per kind of user, with a known password (a synthetic database only)."""
    from sosep_migrantes.auth.models import User
    from sosep_migrantes.auth.services import create_user
    from sosep_migrantes.extensions import db

    for username, (role, centre, sede) in BENCH_USERS.items():
        if db.session.scalar(db.select(User).where(User.username == username)) is None:
            create_user(
                {
                    "username": username,
                    "full_name": username,
                    "role": role,
                    "centre": centre,
                    "sede": sede,
                    "password": BENCH_PASSWORD,
                }
            )
    # Coordinators sign in with a second factor: the synthetic accounts share a known secret.
    db.session.execute(
        db.update(User)
        .where(User.username.in_(list(BENCH_USERS)), User.role.in_(("coordinator", "admin")))
        .values(totp_secret=BENCH_TOTP_SECRET)
    )
    db.session.commit()


def ensure_sede_user(username: str, sede_code: str) -> None:
    """A sede account bound to ``sede_code`` (created, or moved there if it was another sede's)."""
    from sosep_migrantes.auth.models import User
    from sosep_migrantes.auth.services import create_user
    from sosep_migrantes.catalogs.models import Sede
    from sosep_migrantes.extensions import db

    user = db.session.scalar(db.select(User).where(User.username == username))
    if user is None:
        create_user(
            {
                "username": username,
                "full_name": username,
                "role": "sede",
                "centre": None,
                "sede": sede_code,
                "password": BENCH_PASSWORD,
            }
        )
    else:
        user.sede_id = db.session.scalar(db.select(Sede.id).where(Sede.code == sede_code))
    db.session.commit()
