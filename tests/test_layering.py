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


# searcher/'s floors: each imports only the ones below it (cli -> api -> export -> run -> study).
FLOORS = ("cli", "api", "export", "run", "study")


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


# trainers/'s floors, likewise: measure -> train -> data.
TRAINER_FLOORS = ("measure", "train", "data")


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth of the file (lazy and TYPE_CHECKING imports too)."""
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
            modules |= {f"{node.module}.{alias.name}" for alias in node.names}
    return modules


@pytest.mark.parametrize("floor", TRAINER_FLOORS)
def test_trainers_floors_import_only_downwards(floor: str) -> None:
    above = set(TRAINER_FLOORS[: TRAINER_FLOORS.index(floor)])
    offending = {
        str(path.relative_to(ROOT)): sorted(
            {m.split(".")[1] for m in imported_modules(path) if m.startswith("trainers.")} & above
        )
        for path in sorted((ROOT / "trainers" / floor).rglob("*.py"))
    }
    assert {k: v for k, v in offending.items() if v} == {}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


PROJECT_FILES = [p for package in FORBIDDEN for p in (ROOT / package).rglob("*.py")]
MODULES = {module_name(p) for p in PROJECT_FILES}


def project_imports(path: Path) -> set[str]:
    """The project modules a file imports: `from pkg import mod` is mod, `from mod import name`
    is mod (a package's own names live in its __init__)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in MODULES else node.module)
    return found & MODULES


def import_graph() -> dict[str, set[str]]:
    return {module_name(p): project_imports(p) - {module_name(p)} for p in PROJECT_FILES}


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components of more than one module: each is an import circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while (top := stack.pop()) != node:
                component.append(top)
            component.append(node)
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return circles


def test_no_module_imports_itself_through_others() -> None:
    assert strongly_connected(import_graph()) == []


def test_the_circle_finder_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert strongly_connected(graph) == [["a", "b", "c"]]
