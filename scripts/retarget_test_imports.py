"""Point test files written against the old world and builder modules at the new ones.

    .venv/bin/python -m scripts.retarget_test_imports tests/some/test_new.py ...

Old home -> new home:
  tests.api.world, tests.authz.world          -> tests.world (their make_* -> tests.builders)
  tests.exports.builders: World, make_world   -> tests.world; the rest -> tests.builders,
      its clashing builders renamed make_country -> make_export_country (and so on below)
  tests.adversarial.support: Caller, People, Rows, seed_world, sign_in -> tests.world
Rewrites the `from ... import` lines and, for the renamed builders, their uses in the file.
Run `ruff check --fix` after it to sort the imports.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

WORLD = {
    "Caller",
    "People",
    "Rows",
    "seed_world",
    "sign_in",
    "demo_world",
    "MatrixWorld",
    "build_matrix_world",
    "MutationWorld",
    "build_mutation_world",
    "snapshot",
    "World",
    "make_world",
    "HOME",
    "ABROAD",
    "GRANT_STATES",
    "BOTH",
    "CL",
    "FL",
    "WT",
    "DI",
}
EXPORT_RENAMES = {
    name: name.replace("make_", "make_export_", 1)
    for name in (
        "make_country",
        "make_factory",
        "make_cycle",
        "make_self_assessment",
        "make_assessment",
        "make_finding",
        "make_grant",
    )
}
# old module -> where its names that are not worlds go
REST = {
    "tests.api.world": "tests.world",
    "tests.authz.world": "tests.builders",
    "tests.exports.builders": "tests.builders",
    "tests.adversarial.support": "tests.adversarial.support",
}


def retarget(source: str) -> str:
    lines = source.splitlines(keepends=True)
    renames: dict[str, str] = {}
    edits: list[tuple[int, int, str]] = []
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.ImportFrom) and node.module in REST):
            continue
        world: list[str] = []
        rest: list[str] = []
        for alias in node.names:
            name = alias.name
            if node.module == "tests.exports.builders" and name in EXPORT_RENAMES:
                renames[name] = EXPORT_RENAMES[name]
                name = EXPORT_RENAMES[name]
            (world if name in WORLD else rest).append(name)
        text = ""
        if world:
            text += f"from tests.world import {', '.join(sorted(world))}\n"
        if rest:
            text += f"from {REST[node.module]} import {', '.join(sorted(rest))}\n"
        edits.append((node.lineno, node.end_lineno or node.lineno, text))
    for start, end, text in reversed(edits):
        lines[start - 1 : end] = [text]
    out = "".join(lines)
    for old, new in renames.items():
        out = re.sub(rf"\b{old}\b", new, out)
    return out


def main(paths: list[str]) -> None:
    for path in map(Path, paths):
        before = path.read_text()
        after = retarget(before)
        if after != before:
            path.write_text(after)
            print(f"retargeted {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
