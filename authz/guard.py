"""Refuses an ORM read that did not come from the scoped query builder.

Every SELECT built by :mod:`authz.scope` carries the execution option ``millgate_scope``;
jobs that act as the platform itself (the export worker, migrations, the demo seed) mark
their reads with :func:`system_read` and a reason. A ``do_orm_execute`` listener installed
by :func:`install_guard` raises on any other ORM SELECT, so forgetting authorization fails
loudly in tests instead of leaking in production.

A system read sees every row, so it is an escape hatch kept to the modules named in
:data:`SYSTEM_READERS`: :func:`system_read` refuses a caller from any other module, and the
listener refuses a "system:" label that :func:`system_read` did not set (an execution option
written by hand). ``tests/test_guard_fences.py`` checks the list against the code.
"""

from __future__ import annotations

import sys
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.sql import Executable

from core.errors import MillgateError

SCOPE_OPTION = "millgate_scope"
_SYSTEM_OPTION = "millgate_system_read"
_SYSTEM_MARK = object()  # set by system_read alone: a hand-written "system:" label lacks it

# The modules that may read as the platform itself, each with why. A new one needs a reason.
SYSTEM_READERS: dict[str, str] = {
    "api.auth": "resolves a token or API key to its principal, before any principal exists",
    "api.oidc.accounts": "links a provider's subject to its user, before any principal exists",
    "api.idempotency": "the stored answer of the caller's own idempotency key",
    "api.middleware.metrics": "counts the audit chain and waiting webhook deliveries, no row",
    "cli.audit": "the operator's audit-chain verification",
    "cli.tokens": "the operator issues tokens for named users",
    "audit": "appends to and verifies the audit chain",
    "audit.checkpoints": "signs and checks checkpoints of the whole audit chain's head",
    "demo": "seeds the demo world",
    "demo.tokens": "development: tokens for the demo world's users, by e-mail",
    "exports.facts": "the export job's eligibility facts",
    "exports.job": "the export job picks eligible cycles for every host",
    "exports.snapshot": "the export job builds a cycle's payload",
    "exports.webhooks": "the delivery worker reads its outbox",
}
# Packages that are never imported by the server: tests and operator scripts.
SYSTEM_READER_PACKAGES = ("tests", "scripts")

E = TypeVar("E", bound=Executable)


class UnscopedRead(MillgateError):
    """Raised when an ORM SELECT reaches the database without an authorization scope."""


class SystemReadRefused(MillgateError):
    """Raised when :func:`system_read` is called from a module not in SYSTEM_READERS."""


def scoped(stmt: E, label: str) -> E:
    """Marks a statement as built by the scoped query builder (``authz.scope`` only)."""
    return stmt.execution_options(**{SCOPE_OPTION: label})


def system_read(stmt: E, reason: str) -> E:
    """Marks a read done by the platform itself, not on behalf of a caller; only from the
    modules of :data:`SYSTEM_READERS` (else :class:`SystemReadRefused`).

    Example:
        rows = await session.scalars(system_read(select(m.Factory), "exports: eligible cycles"))
    """
    _check_caller(sys._getframe(1).f_globals)
    return stmt.execution_options(**_system(reason))


def system_options(reason: str) -> dict[str, Any]:
    """:func:`system_read`'s execution options, for ``session.get(..., execution_options=)``."""
    _check_caller(sys._getframe(1).f_globals)
    return _system(reason)


def _system(reason: str) -> dict[str, Any]:
    return {SCOPE_OPTION: f"system:{reason}", _SYSTEM_OPTION: _SYSTEM_MARK}


def caller_module(module_globals: dict[str, Any]) -> str:
    """The dotted name of the module whose globals these are (``-m`` scripts included)."""
    name = str(module_globals.get("__name__", ""))
    spec = module_globals.get("__spec__")
    if name == "__main__" and spec is not None:
        return str(spec.name)
    return name


def may_read_as_system(module: str) -> bool:
    return module in SYSTEM_READERS or module.split(".", 1)[0] in SYSTEM_READER_PACKAGES


def _check_caller(module_globals: dict[str, Any]) -> None:
    module = caller_module(module_globals)
    if not may_read_as_system(module):
        raise SystemReadRefused(
            f"system_read from {module!r}: read through authz.scope, or add the module to "
            "authz.guard.SYSTEM_READERS with the reason it must see every row"
        )


def _scoped(options: Any) -> bool:
    label = options.get(SCOPE_OPTION)
    return bool(label) and (
        not str(label).startswith("system:") or options.get(_SYSTEM_OPTION) is _SYSTEM_MARK
    )


def _check(state: ORMExecuteState) -> None:
    if not state.is_select or state.is_column_load or state.is_relationship_load:
        return
    if not _scoped(state.execution_options):
        raise UnscopedRead(f"unscoped ORM read: {str(state.statement)[:120]!r}")


def checked(stmt: E) -> E:
    """The statement, if the listener would let it through; else :class:`UnscopedRead`.

    For reads run on the session's connection rather than through the session (the
    planner's, :mod:`api.planner`), which the ``do_orm_execute`` listener never sees.
    """
    if not _scoped(stmt.get_execution_options()):
        raise UnscopedRead(f"unscoped read: {str(stmt)[:120]!r}")
    return stmt


def install_guard(target: Any = Session) -> None:
    """Installs the listener (idempotent) on a Session class or sessionmaker."""
    if not event.contains(target, "do_orm_execute", _check):
        event.listen(target, "do_orm_execute", _check)
