"""``.ci/system-deps``: the system packages ``make test`` and ``make run`` need, checked before anything runs.

Each test runs the script with a PATH of its own (a few real tools, a fake ``ldconfig`` and a fake
``apt-get`` that records its arguments) and points it at files under ``tmp_path``: the real system is
neither looked at for the answer nor changed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "system-deps"
PANGO = (
    "\tlibpango-1.0.so.0 (libc6,x86-64) => /lib/x86_64-linux-gnu/libpango-1.0.so.0\n"
    "\tlibpangoft2-1.0.so.0 (libc6,x86-64) => /lib/x86_64-linux-gnu/libpangoft2-1.0.so.0\n"
    "\tlibharfbuzz-subset.so.0 (libc6,x86-64) => /lib/x86_64-linux-gnu/libharfbuzz-subset.so.0\n"
)
FAKE_APT_GET = """#!{python}
import json, os, sys
with open({log!r}, "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
if sys.argv[1:2] == ["install"]:
    for package, path in {provides!r}.items():
        if package in sys.argv:
            with open(path, "w") as f:
                f.write("#!/bin/sh\\n")
            os.chmod(path, 0o755)
"""


@dataclass
class Machine:
    """A pretend machine: what is installed, who we are, and what apt-get was asked."""

    root: Path
    env: dict[str, str]
    chromium: Path
    font: Path
    apt_log: Path

    def run(self, mode: str = "test") -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own script
            [str(SCRIPT), mode], env=self.env, capture_output=True, text=True, timeout=60, check=False
        )

    def apt_calls(self) -> list[list[str]]:
        if not self.apt_log.exists():
            return []
        return [json.loads(line) for line in self.apt_log.read_text().splitlines()]


def _script(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    """Everything present, as root; tests take away what they need missing."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "grep", "id"):
        real = shutil.which(tool)
        assert real, tool
        (bin_dir / tool).symlink_to(real)
    _script(bin_dir / "make", "#!/bin/sh\nexit 0\n")
    _script(bin_dir / "ldconfig", f"#!/bin/sh\necho '{PANGO}'\n")
    chromium = tmp_path / "usr-bin" / "chromium"
    chromium.parent.mkdir()
    _script(chromium, "#!/bin/sh\n")
    font = tmp_path / "fonts" / "DejaVuSans.ttf"
    font.parent.mkdir()
    font.write_bytes(b"")
    apt_log = tmp_path / "apt-get.log"
    provides = {"chromium": str(chromium), "fonts-dejavu-core": str(font)}
    _script(
        bin_dir / "apt-get", FAKE_APT_GET.format(python=sys.executable, log=str(apt_log), provides=provides)
    )
    env = {
        "PATH": str(bin_dir),
        "HOME": str(tmp_path),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "PYTHON": sys.executable,
        "SYSTEM_DEPS_UID": "0",
        "SYSTEM_DEPS_CHROMIUM": str(chromium),
        "SYSTEM_DEPS_FONT": str(font),
    }
    assert shutil.which("apt-get", path=env["PATH"]) == str(bin_dir / "apt-get")
    return Machine(tmp_path, env, chromium, font, apt_log)


def test_everything_present_says_nothing_and_installs_nothing(machine: Machine) -> None:
    result = machine.run("test")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert machine.apt_calls() == []


def test_chromium_missing_as_root_is_installed_from_debian(machine: Machine) -> None:
    machine.chromium.unlink()
    result = machine.run("test")
    assert result.returncode == 0, result.stderr
    assert machine.apt_calls() == [
        ["update", "-qq"],
        ["install", "-y", "-qq", "--no-install-recommends", "chromium"],
    ]
    assert machine.chromium.exists()
    assert "installing chromium" in result.stderr


def test_chromium_missing_without_root_stops_with_the_command_to_run(machine: Machine) -> None:
    machine.chromium.unlink()
    machine.env["SYSTEM_DEPS_UID"] = "1000"
    result = machine.run("test")
    assert result.returncode == 1
    assert "    sudo apt-get install -y chromium\n" in result.stderr
    assert machine.apt_calls() == []
    assert not machine.chromium.exists()


def test_everything_missing_without_root_is_one_command(machine: Machine) -> None:
    machine.chromium.unlink()
    machine.font.unlink()
    _script(Path(machine.env["PATH"]) / "ldconfig", "#!/bin/sh\nexit 0\n")
    (Path(machine.env["PATH"]) / "make").unlink()
    machine.env["SYSTEM_DEPS_UID"] = "1000"
    result = machine.run("test")
    assert result.returncode == 1
    wanted = "libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core make chromium"
    assert f"    sudo apt-get install -y {wanted}\n" in result.stderr
    assert machine.apt_calls() == []


def test_still_missing_after_install_fails(machine: Machine) -> None:
    _script(Path(machine.env["PATH"]) / "ldconfig", "#!/bin/sh\nexit 0\n")
    result = machine.run("run")
    assert result.returncode == 1
    assert machine.apt_calls()[-1] == [
        "install",
        "-y",
        "-qq",
        "--no-install-recommends",
        "libpango-1.0-0",
        "libpangoft2-1.0-0",
        "libharfbuzz-subset0",
    ]
    missing = "libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0"
    assert f"still missing after apt-get install: {missing}" in result.stderr


def test_serving_does_not_need_chromium(machine: Machine) -> None:
    machine.chromium.unlink()
    machine.env["SYSTEM_DEPS_UID"] = "1000"
    result = machine.run("run")
    assert (result.returncode, result.stderr) == (0, "")
    assert machine.apt_calls() == []


def test_python_older_than_3_11_is_refused(machine: Machine) -> None:
    old = Path(machine.env["PATH"]) / "python3.9"
    _script(old, "#!/bin/sh\n[ \"$1\" = -V ] && echo 'Python 3.9.2' && exit 0\nexit 1\n")
    machine.env["PYTHON"] = str(old)
    result = machine.run("run")
    assert result.returncode == 1
    assert "Python 3.9.2; this project needs Python 3.11 or later" in result.stderr
    assert machine.apt_calls() == []
