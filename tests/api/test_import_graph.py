"""``api/`` imports in one direction: no module, and no domain package, imports itself back.

Imports under ``if TYPE_CHECKING:`` are left out: they are how types name each other
(with ``strawberry.lazy``) without importing each other when the program runs.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _modules() -> dict[str, Path]:
    found = {}
    for path in (ROOT / "api").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imported(tree: ast.AST, package: str, modules: dict[str, Path]) -> Iterator[str]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for other in node.orelse:
                yield from _imported(other, package, modules)
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, *([node.module] if node.module else [])])
            names = [f"{base}.{alias.name}" for alias in node.names]
            submodules = [name for name in names if name in modules]
            yield from submodules
            if len(submodules) < len(names):
                yield base
        else:  # imports inside functions count: they run too
            yield from _imported(node, package, modules)


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        imported = _imported(ast.parse(path.read_text()), package, modules)
        graph[name] = {target for target in imported if target in modules and target != name}
    return graph


def _packages(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """``api.factories.types`` -> ``api.factories``: the graph of the domain packages."""

    def top(name: str) -> str:
        return ".".join(name.split(".")[:2])

    packages: dict[str, set[str]] = {top(name): set() for name in graph}
    for name, targets in graph.items():
        packages[top(name)] |= {top(t) for t in targets if top(t) != top(name)}
    return packages


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as error:
        return list(error.args[1])
    return []


@pytest.mark.parametrize("level", ["modules", "packages"])
def test_api_has_no_import_cycle(level: str) -> None:
    # given the run-time imports of every module under api/
    graph = _graph()

    # when they are read module by module, or domain package by domain package
    edges = graph if level == "modules" else _packages(graph)

    # then nothing imports itself back
    assert _cycle(edges) == []


def test_the_check_sees_a_cycle() -> None:
    # given two packages that import each other
    graph = {"api.a": {"api.b"}, "api.b": {"api.a"}}

    # then the check names them
    assert sorted(set(_cycle(graph))) == ["api.a", "api.b"]
