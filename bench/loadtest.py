"""``make loadtest``: 30 simulated staff for 60 s against the production server on 127.0.0.1.

Starts gunicorn with ``gunicorn.conf.py`` (as ``make serve`` does) on the national-scale PostgreSQL
database, with the login limiter on Redis when it answers; runs locust headless (``bench/locustfile.py``);
reads each worker's peak memory (VmHWM) before stopping it; writes the figures to docs/performance.md.
Bounded: one server on a loopback port, a fixed number of users and seconds; it stops by itself.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BENCH_DATABASE_URL, BENCH_PASSWORD, BENCH_PERSONS, ROOT, write_section
from bench.dataset import ensure_database, ensure_users
from bench.scale import make_bench_app

USERS = int(os.environ.get("LOADTEST_USERS", "30"))
SECONDS = int(os.environ.get("LOADTEST_SECONDS", "60"))
WORKERS = os.environ.get("GUNICORN_WORKERS", "2")
THREADS = os.environ.get("GUNICORN_THREADS", "2")
TARGET_RPS, TARGET_P95_MS, TARGET_MB = 300, 200, 200


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def inputs(app) -> dict:
    """Names, CUIs and family ids per kind of user, and today's FAG arrival to register families on."""
    from sqlalchemy import select, text

    from sosep_migrantes.auth.models import User
    from sosep_migrantes.catalogs.models import Country
    from sosep_migrantes.catalogs.services import by_code
    from sosep_migrantes.extensions import db
    from sosep_migrantes.reception.services import create_arrival

    with app.app_context():
        rows = db.session.execute(
            text(
                "SELECT m.given_names, m.surnames, m.cui, f.id, c.code, mu.department_id AS dept "
                "FROM members m JOIN family_units f ON f.id = m.family_id "
                "JOIN centres c ON c.id = f.centre_id "
                "JOIN municipalities mu ON mu.id = f.destination_municipality_id "
                "WHERE m.id % 499 = 0 AND m.position = 0 ORDER BY m.id LIMIT 2000"
            )
        ).all()
        fag_user = db.session.scalar(select(User).where(User.username == "bench-fag"))
        arrival = create_arrival(
            {
                "centre": "FAG",
                "arrived_at": dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
                "mode": "air",
                "country": by_code(Country, "US"),
                "origin": "Laredo, TX",
                "transport_ref": "BENCH-LOAD",
            },
            fag_user,
        )
        db.session.commit()
        arrival_id = arrival.id

    def name(r) -> str:
        return f"{r.given_names.split()[0]} {r.surnames.split()[0]}"

    fag = [r for r in rows if r.code == "FAG"]
    huehue = [r for r in rows if r.dept == 13]
    return {
        "password": BENCH_PASSWORD,
        "names": [name(r) for r in rows],
        "cuis": [r.cui for r in rows if r.cui],
        "family_ids": [r.id for r in rows],
        "fag_names": [name(r) for r in fag],
        "fag_family_ids": [r.id for r in fag],
        "sede_names": [name(r) for r in huehue],
        "sede_family_ids": [r.id for r in huehue],
        "form_url": f"/arrivals/{arrival_id}/families/new",
    }


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout
    return [int(p) for p in out.split()]


def peak_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # the worker has just ended
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class PeakWatcher(threading.Thread):
    """Every worker's peak memory, read twice a second for the whole run: a worker recycled by
    ``max_requests`` (gunicorn.conf.py) is gone at the end, and its replacement has only part of the
    run behind it; each one that lived is reported."""

    def __init__(self, master: int) -> None:
        super().__init__(daemon=True)
        self.master = master
        self.peaks: dict[int, float] = {}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.5):
            self.read()

    def read(self) -> None:
        for pid in children(self.master):
            self.peaks[pid] = max(self.peaks.get(pid, 0.0), peak_mb(pid))

    def stop(self) -> dict[int, float]:
        self.done.set()
        self.join()
        self.read()
        return {pid: mb for pid, mb in self.peaks.items() if mb > 0}


def main() -> int:
    ensure_database()
    app = make_bench_app()
    with app.app_context():
        ensure_users()
    data = inputs(app)
    port = free_port()
    shared = redis_answers()
    env = {
        **os.environ,
        "DATABASE_URL": BENCH_DATABASE_URL,
        "SECRET_KEY": "bench",
        "BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": WORKERS,
        "GUNICORN_THREADS": THREADS,
        # The limiter stays on (as in production) but 30 users sharing three accounts log in at once.
        "LOGIN_RATE_LIMIT": "10000 per minute",
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/15" if shared else "memory://",
        "RATELIMIT_KEY_PREFIX": f"loadtest-{port}",
    }
    with tempfile.TemporaryDirectory() as tmp:
        inputs_file = Path(tmp) / "inputs.json"
        inputs_file.write_text(json.dumps(data))
        # Kept after the run (errors, tracebacks): the access log itself is off, as its cost is not the app's.
        log = open(Path(tempfile.gettempdir()) / "sosep-loadtest-gunicorn.log", "w")  # noqa: SIM115
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "gunicorn.conf.py",
                "--access-logfile",
                "/dev/null",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            for _ in range(100):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                    break
                except OSError:
                    time.sleep(0.2)
            watcher = PeakWatcher(server.pid)
            watcher.start()
            stats = Path(tmp) / "stats"
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "locust",
                    "-f",
                    str(ROOT / "bench" / "locustfile.py"),
                    "--headless",
                    "-u",
                    str(USERS),
                    "-r",
                    str(USERS),
                    "-t",
                    f"{SECONDS}s",
                    "--stop-timeout",
                    "5",
                    "--host",
                    f"http://127.0.0.1:{port}",
                    "--csv",
                    str(stats),
                    "--only-summary",
                    "--loglevel",
                    "WARNING",
                ],
                cwd=ROOT,
                env={**env, "BENCH_INPUTS": str(inputs_file)},
                check=False,
                timeout=SECONDS + 60,
            )
            memory = watcher.stop()
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
            log.close()
        with open(f"{stats}_stats.csv", newline="") as f:
            table = list(csv.DictReader(f))
    return report(table, memory, shared)


def report(rows: list[dict], memory: dict[int, float], shared: bool) -> int:
    total = next(r for r in rows if r["Name"] == "Aggregated")
    rps = float(total["Requests/s"])
    p95 = float(total["95%"])
    failures = int(total["Failure Count"])
    peak = max(memory.values(), default=0.0)
    met = rps >= TARGET_RPS and p95 <= TARGET_P95_MS and failures == 0 and 0 < peak <= TARGET_MB
    lines = [
        "| request | count | failures | median | p95 | max | per s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['Type']} {r['Name']} | {r['Request Count']} | {r['Failure Count']} | {r['50%']} ms "
            f"| {r['95%']} ms | {float(r['Max Response Time']):.0f} ms | {float(r['Requests/s']):.1f} |"
        )
    body = (
        f"{USERS} simulated users (coordinators, a sede, a reception desk: `bench/locustfile.py`) for "
        f"{SECONDS} s against gunicorn (`gunicorn.conf.py`: {WORKERS} workers x {THREADS} threads) on "
        f"PostgreSQL with {BENCH_PERSONS:,} persons, the load generator on the same 2-core machine; "
        f"login limiter on {'Redis' if shared else 'memory'}.\n\n"
        f"| figure | target | measured |\n|---|---|---|\n"
        f"| requests per second | ≥ {TARGET_RPS} | {rps:.0f} |\n"
        f"| p95 latency, all requests | ≤ {TARGET_P95_MS} ms | {p95:.0f} ms |\n"
        f"| errors | 0 | {failures} |\n"
        f"| peak memory per worker (VmHWM; every worker that served, recycled ones too) | ≤ {TARGET_MB} MB | "
        + ", ".join(f"{mb:.0f} MB" for mb in memory.values())
        + f" |\n| all targets | | {'met' if met else '**NOT met**'} |\n\n"
        + "\n".join(lines)
    )
    write_section("loadtest", "Load test (issue #6): 30 users, 60 s, `make loadtest`", body)
    print(body)
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
