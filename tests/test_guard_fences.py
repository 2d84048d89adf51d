"""The read guard's fences: every spelling of a SELECT (and textual SQL) is banned outside
authz/ by ruff, and ``system_read`` (a read of every row) is kept to the modules named in
``authz.guard.SYSTEM_READERS``: at run time, and here against the code itself."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import models as m
from authz.guard import (
    SCOPE_OPTION,
    SYSTEM_READERS,
    SystemReadRefused,
    UnscopedRead,
    checked,
    may_read_as_system,
    system_read,
)

ROOT = Path(__file__).resolve().parents[1]
SERVED = (
    "api",
    "authz",
    "audit",
    "cli",
    "console",
    "core",
    "demo",
    "exports",
    "migrations",
    "models",
    "reference",
    "scripts",
)
USE = re.compile(r"\bsystem_(read|options)\(")


def module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def users_of_system_read() -> set[str]:
    found = set()
    for package in SERVED:
        for path in (ROOT / package).rglob("*.py"):
            if path == ROOT / "authz" / "guard.py":
                continue
            if USE.search(path.read_text()):
                found.add(module_of(path))
    return found


def test_only_the_named_modules_read_as_the_system() -> None:
    outside = sorted(m for m in users_of_system_read() if not may_read_as_system(m))
    assert outside == [], (
        f"system_read used in {outside}: read through authz.scope, or add each module to "
        "authz.guard.SYSTEM_READERS with the reason it must see every row"
    )


def test_the_named_modules_all_still_need_it() -> None:
    stale = sorted(set(SYSTEM_READERS) - users_of_system_read())
    assert stale == [], f"remove {stale} from authz.guard.SYSTEM_READERS: they no longer use it"


def test_system_read_refuses_a_module_not_named() -> None:
    # given a call made from the globals of a resolver module
    resolver_globals = {"__name__": "api.factories.types", "system_read": system_read, "m": m}
    resolver_globals["select"] = select

    # when it marks a read as the system's, then it is refused
    with pytest.raises(SystemReadRefused, match="SYSTEM_READERS"):
        exec("system_read(select(m.Factory), 'every factory')", resolver_globals)  # noqa: S102


async def test_a_hand_written_system_label_does_not_pass_the_guard(session: AsyncSession) -> None:
    forged = select(m.Factory).execution_options(**{SCOPE_OPTION: "system:forged"})

    with pytest.raises(UnscopedRead):
        await session.execute(forged)
    # the same read through system_read passes
    await session.execute(system_read(select(m.Factory), "test: the guard's own check"))


def test_the_check_of_reads_on_a_connection_is_the_listener_s_rule() -> None:
    # given reads without a label, with a hand-written system label, scoped and system
    forged = select(m.Factory).execution_options(**{SCOPE_OPTION: "system:forged"})
    scoped = select(m.Factory).execution_options(**{SCOPE_OPTION: "factories:brand"})
    system = system_read(select(m.Factory), "test: the guard's own check")

    # then the first two are refused and the others pass, unchanged
    for refused in (select(m.Factory), forged):
        with pytest.raises(UnscopedRead):
            checked(refused)
    assert checked(scoped) is scoped and checked(system) is system


SPELLINGS = """\
import sqlalchemy
import sqlalchemy.sql.expression as expression
from sqlalchemy import Select, text
from sqlalchemy.future import select as future_select
from sqlalchemy.sql import select
from sqlalchemy.sql.expression import select as expression_select
from sqlalchemy.sql.selectable import Select as SelectableSelect

a = sqlalchemy.select(1)
b = expression.select(1)
c = sqlalchemy.sql.text("SELECT 1")
"""


def test_ruff_bans_every_spelling_of_a_select_outside_authz(tmp_path: Path) -> None:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "resolver.py").write_text(SPELLINGS)

    found = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--select",
            "TID251",
            "--output-format",
            "concise",
            "api/resolver.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    ).stdout

    lines = {int(line.split(":")[1]) for line in found.splitlines() if "TID251" in line}
    assert lines == {3, 4, 5, 6, 7, 9, 10, 11}, found
    assert found.count("TID251") == 9, found  # line 3 bans both Select and text
