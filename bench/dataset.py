"""The national-scale benchmark database: 1,000,000 persons on PostgreSQL, built once and reused.

It is built with the commands a person would run (``flask setup``, then ``flask demo-data --persons``),
so the benchmark also exercises them. Benchmark accounts (one per kind of user) are added if missing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.common import BENCH_DATABASE_URL, BENCH_PASSWORD, BENCH_PERSONS, BENCH_SEED, ROOT

#: username -> (role, centre, sede)
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


def ensure_database() -> int:
    """Create and fill the benchmark database unless it already holds ``BENCH_PERSONS`` persons."""
    have = persons()
    if have is not None and have >= BENCH_PERSONS:
        _flask("setup")  # migrations added since it was built
        return have
    url = make_url(sqlalchemy_url())
    if have is None:
        admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": url.database}):
                conn.execute(text(f'CREATE DATABASE "{url.database}"'))
        admin.dispose()
    _flask("setup")
    missing = BENCH_PERSONS - (persons() or 0)
    print(f"bench: building the national-scale database ({missing:,} persons) in {url.database} ...")
    start = time.perf_counter()
    _flask("demo-data", "--persons", str(missing), "--seed", str(BENCH_SEED))
    print(f"bench: built in {time.perf_counter() - start:.0f} s")
    engine = create_engine(sqlalchemy_url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return persons() or 0


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
    db.session.commit()
