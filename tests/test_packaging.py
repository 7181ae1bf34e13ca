"""A wheel carries everything the service needs: templates, static files, migrations, catalogues and
translations. Built here and run from its unpacked files, away from the checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import ROOT

NOT_SOURCES = (".git", ".venv", "build", "*.egg-info", "instance", "__pycache__", ".*_cache", "tests")

RUN_FROM_WHEEL = """
import sys
from pathlib import Path

import sosep_migrantes
from flask_migrate import upgrade

from sosep_migrantes import create_app
from sosep_migrantes.catalogs.services import load_catalogs
from sosep_migrantes.extensions import db

site = Path(sys.argv[1]).resolve()
assert Path(sosep_migrantes.__file__).resolve().is_relative_to(site), sosep_migrantes.__file__
app = create_app()
with app.app_context():
    upgrade()
    load_catalogs()
    db.session.commit()
client = app.test_client()
login = client.get("/login")
assert login.status_code == 200 and b'name="password"' in login.data, login.status_code
assert client.get("/static/css/app.css").status_code == 200
with app.test_request_context():
    from flask_babel import force_locale, gettext

    with force_locale("en"):
        assert gettext("Contraseña") == "Password"  # the compiled English catalogue came along
print("served from the wheel")
"""


def test_a_wheel_installs_and_serves_without_the_checkout(tmp_path: Path) -> None:
    # Built from a copy: setuptools writes build/ and *.egg-info beside the sources.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCES))
    offline = ["--quiet", "--no-deps", "--no-build-isolation"]
    built = subprocess.run(  # noqa: S603 - our own interpreter and checkout
        [sys.executable, "-m", "pip", "wheel", *offline, "-w", tmp_path, source],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("sosep_migrantes-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for wanted in (
        "sosep_migrantes/templates/base.html",
        "sosep_migrantes/static/css/app.css",
        "sosep_migrantes/static/fonts/DejaVuSans.ttf",
        "sosep_migrantes/migrations/env.py",
        "sosep_migrantes/migrations/versions/0001_initial_schema.py",
        "sosep_migrantes/catalogs/data/municipalities.csv",
        "sosep_migrantes/translations/en/LC_MESSAGES/messages.mo",
    ):
        assert wanted in names, wanted

    site, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": str(site),  # before the checkout's editable install
        "DATABASE_URL": f"sqlite:///{elsewhere / 'sosep.sqlite3'}",
        "SECRET_KEY": "packaging-test",
    }
    served = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", RUN_FROM_WHEEL, str(site)],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert served.returncode == 0, served.stderr[-3000:]
    assert "served from the wheel" in served.stdout
    assert not (elsewhere / "instance").exists()  # the secret came from the environment
