"""Dependencies point down: no module of the package imports from a higher layer.

The layers, lowest first, are those of ``docs/architecture.md`` (Layering). A module may import from its
own layer and from the ones below. Imports inside functions count: hiding an import in a function
breaks no circle, it only hides it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import sosep_migrantes

PACKAGE = Path(sosep_migrantes.__file__).resolve().parent

#: Lowest first. A name is a top-level module or sub-package of sosep_migrantes; "" is the package's
#: own __init__ (the app factory).
LAYERS: list[set[str]] = [
    {"config", "db", "extensions"},
    {"core"},
    {"catalogs"},
    {"auth"},
    {"reception"},
    {"cases"},
    # Earlier records of a returning person across the country, linked or dismissed (issue #12).
    {"returnees"},
    {"needs"},
    {"referrals"},
    # The desk: registration, needs and referrals of a family on one screen.
    {"desk"},
    {"followup"},
    {"reports"},
    # The JSON API: thin handlers over every domain module's schemas, queries and services.
    {"api"},
    # The app factory, the root commands, the tools that use everything, and the Alembic migrations.
    {"", "cli", "demo", "ops", "migrations"},
]
LAYER_OF = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "translations" not in p.parts)


def _dotted(path: Path) -> list[str]:
    """``cases/views.py`` -> ``["cases", "views"]``; ``cases/__init__.py`` -> ``["cases"]``."""
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def _unit(dotted: list[str]) -> str:
    """The layer's name of a module: its top-level part ("" for the package itself)."""
    return dotted[0] if dotted else ""


def _imported(path: Path) -> list[tuple[int, list[str]]]:
    """(line, module inside the package) for every import of ``path``, at any depth."""
    here = _dotted(path)
    package = here if path.name == "__init__.py" else here[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name.split(".") for alias in node.names]
            found += [(node.lineno, n[1:]) for n in names if n[0] == "sosep_migrantes"]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                module = (node.module or "").split(".")
                if module[0] != "sosep_migrantes":
                    continue
                base = module[1:]
            else:
                base = package[: len(package) - (node.level - 1)] + (
                    node.module.split(".") if node.module else []
                )
            if base:
                found.append((node.lineno, base))
            else:  # "from .. import cases" names modules
                found += [(node.lineno, [alias.name]) for alias in node.names]
    return found


def test_every_module_has_a_layer():
    units = {_unit(_dotted(path)) for path in _modules()}
    assert units <= set(LAYER_OF), (
        f"not in LAYERS (add them, and to docs/architecture.md): {units - set(LAYER_OF)}"
    )


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path: Path):
    unit = _unit(_dotted(path))
    upward = [
        f"line {line}: {'.'.join(target)} ({_unit(target)} is above {unit or 'the package'})"
        for line, target in _imported(path)
        if LAYER_OF.get(_unit(target), -1) > LAYER_OF[unit]
    ]
    assert not upward, f"{path.relative_to(PACKAGE)} imports from a higher layer:\n" + "\n".join(upward)


def test_the_check_sees_function_level_and_relative_imports(tmp_path, monkeypatch):
    """The test itself: an import hidden in a function, two levels up, is found."""
    module = tmp_path / "core" / "bad.py"
    module.parent.mkdir()
    module.write_text("def f():\n    from ..cases.services import register_family\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["PACKAGE"]), "PACKAGE", tmp_path)
    assert _imported(module) == [(2, ["cases", "services"])]
