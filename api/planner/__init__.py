"""Planned reads: a query of plain reads answered from rows, without GraphQL execution.

For a document the planner knows (:mod:`api.planner.grammar`: today the ``factories``
connection, each factory's scalars, country and ``assessments`` connection, each
assessment's scalars and ``findings`` connection), the selection is read once per
(document, operation name, principal kind) and kept (:class:`Planner`); a request then
binds its variables, reads every level for the whole page up front with the loaders' own
scoped statements, records the reads the resolvers would record, and builds the answer's
dicts in one pass (:mod:`api.planner.plan`). Anything else, or any value it does not take,
goes to the standard executor, whole, before a statement runs; so does a planned read whose
statement fails (the standard executor then answers with its own errors). Only documents that passed
validation (the document cache says so) are planned.

Example:
    planner = Planner(documents, runtime)
    result = await planner.execute(ctx, query, variables, operation_name)  # None: fall back
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

from strawberry.types import ExecutionResult

from api.context import Context
from api.documents import DocumentCache
from api.operations import OperationNotChosen, operation_to_run
from api.planner import metrics
from api.planner.arguments import Fallback
from api.planner.grammar import Unplannable
from api.planner.plan import Plan, compile_plan, run
from api.planner.statements import StatementCache
from core.runtime import Runtime

__all__ = ["Planner"]

log = logging.getLogger("millgate.planner")

PlanKey = tuple[str, str | None, str | None]


class Planner:
    """The plans of one app's documents (least recently used first out)."""

    def __init__(self, documents: DocumentCache, runtime: Runtime, max_plans: int = 256) -> None:
        self.documents = documents
        self.runtime = runtime
        self.max_plans = max_plans
        # None: known not to be planned (the standard executor answers it).
        self._plans: OrderedDict[PlanKey, Plan | None] = OrderedDict()
        self.statements = StatementCache()

    def plan(self, ctx: Context, query: str, name: str | None) -> Plan | None:
        kind = ctx.principal.organization_kind
        key: PlanKey = (query, name, None if kind is None else kind.value)
        if key in self._plans:
            self._plans.move_to_end(key)
            return self._plans[key]
        entry = self.documents.get(query)
        if entry is None or not entry.validated:
            return None  # not yet validated: the standard executor validates it first
        try:
            operation = operation_to_run(entry.document, name)
            found: Plan | None = compile_plan(entry.document, operation, self.runtime.keys.fields)
        except (Unplannable, OperationNotChosen):
            found = None
        self._plans[key] = found
        while len(self._plans) > self.max_plans:
            self._plans.popitem(last=False)
        return found

    async def execute(
        self, ctx: Context, query: str, variables: dict[str, Any] | None, name: str | None
    ) -> ExecutionResult | None:
        """The planned answer, or None when the standard executor must answer."""
        plan = self.plan(ctx, query, name)
        if plan is None:
            metrics.UNPLANNED.inc()
            return None
        try:
            data = await run(plan, ctx, variables, self.statements)
        except Fallback:
            metrics.FALLBACK.inc()
            return None
        except Exception:
            # A statement failed (the database went away, a timeout) or a row did not build:
            # the standard executor answers, whole, with its own data and its own errors. Its
            # resolvers record their own reads, so none of the plan's stay. (A page whose
            # statement logged its reads itself, authz.logged, and whose rows then did not
            # build, is logged twice: more than was shown, never less.)
            log.warning("planned read failed: the standard executor answers", exc_info=True)
            ctx.accessed.clear()
            metrics.FAILED.inc()
            return None
        metrics.PLANNED.inc()
        return ExecutionResult(data=data, errors=None)
