"""Backups of the whole database and their restore.

PostgreSQL: ``pg_dump --format=custom`` and ``pg_restore --clean --if-exists --no-owner`` in one transaction.
SQLite (the embedded default): SQLite's online backup API, both ways.

A backup holds the personal data of every family: files are written with mode 0600, first under a temporary
name and renamed when complete, so a failed or interrupted backup never looks like a good one. The database
password goes to pg_dump through ``PGPASSWORD``, never on the command line (which ``ps`` shows to everyone).
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import URL, make_url

#: The first bytes of each kind of backup: a restore refuses a file of the other kind (or no backup at all).
PG_MAGIC = b"PGDMP"
SQLITE_MAGIC = b"SQLite format 3\x00"


class BackupError(Exception):
    """A backup or restore that could not be done; the message is for the operator (Spanish)."""


def is_postgres(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def backup_suffix(url: str | URL) -> str:
    return ".dump" if is_postgres(url) else ".sqlite3"


def default_backup_name(url: str | URL, now: dt.datetime | None = None) -> str:
    """``sosep-20261124T031500Z.dump``: sorts by time, in UTC so that no two backups share a name."""
    now = now or dt.datetime.now(dt.UTC)
    return f"sosep-{now.strftime('%Y%m%dT%H%M%SZ')}{backup_suffix(url)}"


def libpq_connection(url: str | URL) -> tuple[str, dict[str, str]]:
    """A libpq URI for pg_dump/pg_restore, without the password, and the environment that carries it."""
    sa_url = make_url(url)
    password = sa_url.password
    conninfo = sa_url._replace(drivername="postgresql", password=None).render_as_string(hide_password=False)
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = str(password)
    return conninfo, env


def sqlite_path(url: str | URL) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("La base de datos SQLite está en memoria: no hay nada que respaldar.")
    return Path(database)


def backup_database(url: str | URL, path: Path) -> Path:
    """Write a complete copy of the database to ``path`` (a new file, mode 0600) and return it."""
    if path.exists():
        raise BackupError(f"{path} ya existe; no se sobrescribe un respaldo.")
    if is_postgres(url):
        _write_privately(path, lambda tmp: _pg_dump(url, tmp))
    else:
        source = sqlite_path(url)
        if not source.exists():
            raise BackupError(f"No existe la base de datos {source}.")
        if path.resolve() == source.resolve():
            raise BackupError("El respaldo no puede ser la misma base de datos.")
        _write_privately(path, lambda tmp: _sqlite_copy(source, tmp))
    return path


def restore_database(url: str | URL, path: Path) -> None:
    """Replace the contents of the database with the backup at ``path``."""
    if not path.is_file():
        raise BackupError(f"No existe el respaldo {path}.")
    with path.open("rb") as file:
        head = file.read(len(SQLITE_MAGIC))
    if is_postgres(url):
        if not head.startswith(PG_MAGIC):
            raise BackupError(f"{path} no es un respaldo de PostgreSQL (pg_dump --format=custom).")
        _pg_restore(url, path)
    else:
        if head != SQLITE_MAGIC:
            raise BackupError(f"{path} no es un respaldo de SQLite.")
        target = sqlite_path(url)
        if path.resolve() == target.resolve():
            raise BackupError("El respaldo es la misma base de datos.")
        _sqlite_check(path)
        if not target.exists():
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        _sqlite_copy(path, target)


def _write_privately(path: Path, write: Callable[[Path], None]) -> None:
    """Run ``write`` on a new 0600 file beside ``path``, then rename it to ``path`` once complete."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        write(tmp)
        with tmp.open("rb") as file:
            os.fsync(file.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _run(command: list[str], env: dict[str, str]) -> None:
    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    except FileNotFoundError as exc:
        raise BackupError(
            f"No se encontró {command[0]}: instale el cliente de PostgreSQL de la misma versión "
            "que el servidor (paquete postgresql-client)."
        ) from exc
    if result.returncode != 0:
        # pg_dump/pg_restore report object names and server messages, not the rows themselves.
        raise BackupError(f"{command[0]} falló (código {result.returncode}):\n{result.stderr.strip()}")


def _pg_dump(url: str | URL, target: Path) -> None:
    conninfo, env = libpq_connection(url)
    _run(["pg_dump", "--format=custom", f"--file={target}", f"--dbname={conninfo}"], env)


def _pg_restore(url: str | URL, source: Path) -> None:
    conninfo, env = libpq_connection(url)
    # One transaction: a restore that fails half-way leaves the database as it was.
    _run(
        [
            "pg_restore",
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            f"--dbname={conninfo}",
            str(source),
        ],
        env,
    )


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup: a consistent copy even while the app is writing to ``source``."""
    src = sqlite3.connect(source)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


def _sqlite_check(path: Path) -> None:
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        (result,) = connection.execute("PRAGMA quick_check").fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} no es un respaldo de SQLite válido: {exc}") from exc
    finally:
        connection.close()
    if result != "ok":
        raise BackupError(f"{path} está dañado: {result}")
