"""The login limit holds across processes when the counts live in Redis (RATELIMIT_STORAGE_URI=redis://).

Two gunicorn servers, started with the repository's gunicorn.conf.py and two workers each, stand for two app
servers behind one proxy; the requests alternate between them, so at least two processes answer them.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask_migrate import upgrade

from sosep_migrantes.catalogs.services import load_catalogs
from sosep_migrantes.extensions import db
from tests.conftest import ROOT, make_app, scratch_database
from tests.factories import PASSWORD, make_user

LIMIT = 5
ATTEMPTS = 12


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def wait_until(check, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} did not start within {seconds} s")


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """The machine's Redis on 127.0.0.1:6379, else a throwaway redis-server of our own."""
    url = "redis://127.0.0.1:6379/0"
    if redis_answers(url):
        yield url
        return
    server = shutil.which("redis-server")
    if server is None:
        # `make test` runs .ci/system-deps first, which installs redis-server when no Redis answers.
        pytest.fail(
            "no Redis answers on 127.0.0.1:6379 and redis-server is not installed: run .ci/system-deps test"
        )
    port = free_port()
    process = subprocess.Popen(  # noqa: S603
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--daemonize", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_until(lambda: redis_answers(url), "redis-server", 10)
        yield url
    finally:
        process.terminate()
        process.wait(10)


@contextlib.contextmanager
def gunicorn(env: dict[str, str], log: Path) -> Iterator[str]:
    """``gunicorn -c gunicorn.conf.py wsgi:app`` (as ``make serve`` runs it) on a free port."""
    port = free_port()
    env = {**env, "BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "2", "GUNICORN_THREADS": "2"}
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603
            [Path(sys.executable).parent / "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:

            def healthy() -> bool:
                assert process.poll() is None, log.read_text()
                try:
                    with urllib.request.urlopen(base + "/healthz", timeout=2) as response:  # noqa: S310
                        return response.status == 200
                except OSError:
                    return False

            wait_until(healthy, "gunicorn", 60)
            yield base
        finally:
            process.terminate()
            process.wait(30)


class Browser:
    """One person's browser: one cookie jar, whichever server answers."""

    def __init__(self) -> None:
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
            urllib.request.HTTPErrorProcessor(),
        )

    def get(self, url: str) -> str:
        with self.opener.open(url, timeout=10) as response:
            return response.read().decode()

    def post(self, url: str, data: dict[str, str]) -> int:
        body = urllib.parse.urlencode(data).encode()
        try:
            with self.opener.open(urllib.request.Request(url, data=body), timeout=10) as response:  # noqa: S310
                return response.status
        except urllib.error.HTTPError as error:  # 4xx and 5xx, and the 302 of a login is not followed
            return error.code


@pytest.fixture
def login_database(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A scratch database built by the migrations, with one account."""
    with scratch_database("sosep_limit", tmp_path) as url:
        app = make_app(url)
        with app.app_context():
            upgrade()
            load_catalogs()
            db.session.commit()
            username = make_user("coordinator").username
            db.session.remove()
            db.engine.dispose()
        yield url, username


def test_login_limit_is_shared_by_every_worker_of_every_server(redis_url, login_database, tmp_path: Path):
    database_url, username = login_database
    prefix = f"sosep-test-{uuid.uuid4().hex[:12]}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "shared-by-every-app-server",  # the CSRF token of one server is valid on the other
        "RATELIMIT_STORAGE_URI": redis_url,
        "RATELIMIT_KEY_PREFIX": prefix,
        "LOGIN_RATE_LIMIT": f"{LIMIT} per minute",
    }
    store = redis.Redis.from_url(redis_url)
    try:
        with gunicorn(env, tmp_path / "a.log") as server_a, gunicorn(env, tmp_path / "b.log") as server_b:
            browser = Browser()
            page = browser.get(server_a + "/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
            wrong = {"csrf_token": token, "username": username, "password": "not-the-password"}

            statuses = [
                browser.post((server_a, server_b)[attempt % 2] + "/login", wrong)
                for attempt in range(ATTEMPTS)
            ]
            # Wrong passwords answer 400 until the limit, then 429 on either server: one count for all.
            assert statuses == [400] * LIMIT + [429] * (ATTEMPTS - LIMIT)
            # Even the right password waits now.
            right = {**wrong, "password": PASSWORD}
            assert browser.post(server_b + "/login", right) == 429
            assert browser.post(server_a + "/login", right) == 429

        assert list(store.scan_iter(f"*{prefix}*")), "the counts are not in Redis"
        # Both servers wrote access logs for the login posts, without the query string or form data.
        for log in ("a.log", "b.log"):
            text = (tmp_path / log).read_text()
            assert '"POST /login" 429' in text
            assert "not-the-password" not in text and username not in text
    finally:
        for key in store.scan_iter(f"*{prefix}*"):
            store.delete(key)
        store.close()
