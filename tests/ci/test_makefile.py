"""`make clean` removes what the build made, never the developer's database and secret key."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import ROOT


def test_make_clean_keeps_the_instance_folder():
    make = shutil.which("make") or pytest.skip("make is not installed")
    dry_run = subprocess.run(  # noqa: S603 - our own Makefile, dry run
        [make, "-n", "clean"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "rm -rf .venv" in dry_run
    assert "instance" not in dry_run
