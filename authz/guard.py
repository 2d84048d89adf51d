"""Refuses an ORM read that did not come from the scoped query builder.

Every SELECT built by :mod:`authz.scope` carries the execution option ``millgate_scope``;
jobs that act as the platform itself (the export worker, migrations, the demo seed) mark
their reads with :func:`system_read` and a reason. A ``do_orm_execute`` listener installed
by :func:`install_guard` raises on any other ORM SELECT, so forgetting authorization fails
loudly in tests instead of leaking in production.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.sql import Executable

from core.errors import MillgateError

SCOPE_OPTION = "millgate_scope"

E = TypeVar("E", bound=Executable)


class UnscopedRead(MillgateError):
    """Raised when an ORM SELECT reaches the database without an authorization scope."""


def scoped(stmt: E, label: str) -> E:
    """Marks a statement as built by the scoped query builder (``authz.scope`` only)."""
    return stmt.execution_options(**{SCOPE_OPTION: label})


def system_read(stmt: E, reason: str) -> E:
    """Marks a read done by the platform itself, not on behalf of a caller.

    Example:
        rows = await session.scalars(system_read(select(m.Factory), "exports: eligible cycles"))
    """
    return stmt.execution_options(**{SCOPE_OPTION: f"system:{reason}"})


def _check(state: ORMExecuteState) -> None:
    if not state.is_select or state.is_column_load or state.is_relationship_load:
        return
    if state.execution_options.get(SCOPE_OPTION):
        return
    raise UnscopedRead(f"unscoped ORM read: {str(state.statement)[:120]!r}")


def install_guard(target: Any = Session) -> None:
    """Installs the listener (idempotent) on a Session class or sessionmaker."""
    if not event.contains(target, "do_orm_execute", _check):
        event.listen(target, "do_orm_execute", _check)
