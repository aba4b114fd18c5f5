"""The dependency direction of the house style, checked on the import statements themselves."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "space": {"searcher", "trainers", "ui", "optuna", "streamlit"},
    "trainers": {"searcher", "ui", "optuna", "streamlit"},
    "searcher": {"ui"},
    "ui": {"trainers"},
}


def imported_top_level_names(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_does_not_import_against_the_dependency_direction(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package}/ has no modules"
    offending = {
        str(path.relative_to(ROOT)): sorted(imported_top_level_names(path) & FORBIDDEN[package])
        for path in files
    }
    assert {k: v for k, v in offending.items() if v} == {}


def test_nothing_outside_the_families_branches_on_a_family_name() -> None:
    names = ("wide_resnet", "resnext", '"resnet"')
    hits = [
        str(path.relative_to(ROOT))
        for package in ("space", "trainers", "searcher", "ui")
        for path in (ROOT / package).rglob("*.py")
        if "families" not in path.parts and any(n in path.read_text() for n in names)
    ]
    assert hits == []


# searcher/'s floors: each imports only the ones below it (cli -> export -> run -> study).
FLOORS = ("cli", "export", "run", "study")


def imported_searcher_floors(path: Path) -> set[str]:
    floors = set()
    for node in ast.walk(ast.parse(path.read_text())):
        modules = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for module in modules:
            parts = module.split(".")
            if parts[0] == "searcher" and len(parts) > 1 and parts[1] in FLOORS:
                floors.add(parts[1])
    return floors


@pytest.mark.parametrize("floor", FLOORS)
def test_searcher_floors_import_only_downwards(floor: str) -> None:
    above = set(FLOORS[: FLOORS.index(floor)])
    offending = {
        str(path.relative_to(ROOT)): sorted(imported_searcher_floors(path) & above)
        for path in sorted((ROOT / "searcher" / floor).rglob("*.py"))
    }
    assert {k: v for k, v in offending.items() if v} == {}


def test_ui_reads_only_the_stored_study() -> None:
    offending = {
        str(path.relative_to(ROOT)): sorted(imported_searcher_floors(path) - {"study"})
        for path in sorted((ROOT / "ui").rglob("*.py"))
    }
    assert {k: v for k, v in offending.items() if v} == {}
