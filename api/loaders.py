"""Per-request dataloaders (``XByYLoader`` style), each built on the request's scope.

Built per request, never at module level: a shared loader would hand one caller's rows to
the next. Every statement starts from :class:`authz.scope.Scope`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from sqlalchemy import BindParameter, and_, any_, func, or_, tuple_
from strawberry.dataloader import DataLoader

import models as m
from api.pagination import PageArgs
from authz.facts import NO_GRANTS, grant_scopes
from authz.paging import (
    count_each,
    count_per_parent,
    first_of_each,
    first_per_parent,
    newest_per_parent,
)
from authz.scope import Scope

if TYPE_CHECKING:
    from api.context import Context
    from authz.scope import Scope

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class FindingFilter:
    cluster: m.ComplianceCluster | None = None
    non_compliant_only: bool = False


class AssessmentSource(Protocol):
    """An assessment as loaded: an ``m.Assessment``, or a row of its columns (pages load
    rows: building ORM objects costs more than the query)."""

    @property
    def id(self) -> int: ...
    @property
    def factory_id(self) -> int: ...
    @property
    def kind(self) -> m.AssessmentKind: ...
    @property
    def status(self) -> m.AssessmentStatus: ...
    @property
    def assessed_on(self) -> dt.date: ...
    @property
    def released_on(self) -> dt.date | None: ...
    @property
    def gateway_release_on(self) -> dt.date | None: ...


@dataclass(frozen=True, slots=True)
class AssessmentRow:
    row: AssessmentSource
    cycle_number: int


class SharedLoader(DataLoader[K, V]):
    """A DataLoader whose callers each await a shield of the shared future.

    Two fields asking for the same key share one cached future. When a field fails,
    the executor cancels its siblings; without the shield, cancelling one sibling would
    cancel the future the others still await, and the whole request would fail.
    """

    def load(self, key: K) -> Awaitable[V]:
        # When every caller is gone, the shield itself marks the shared error as retrieved.
        return asyncio.shield(super().load(key))


def _group(keys: Sequence[tuple[int, V]]) -> dict[V, list[int]]:
    groups: dict[V, list[int]] = defaultdict(list)
    for parent, args in keys:
        groups[args].append(parent)
    return groups


class Loaders:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.factory = self._loader(self._factories)
        self.organization = self._loader(self._organizations)
        self.country = self._loader(self._countries)
        self.assessment = self._loader(self._assessments)
        self.assessments_page = self._loader(self._assessments_pages)
        self.assessment_count = self._loader(self._assessment_counts)
        self.findings_page = self._loader(self._findings_pages)
        self.finding_count = self._loader(self._finding_counts)
        self.self_assessments = self._loader(self._self_assessments)
        self.grants = self._loader(self._grants)
        self.access_page = self._loader(self._access_pages)
        self.grant_scopes = self._loader(self._grant_scopes)
        self.access_count = self._loader(self._access_counts)
        self.event_reader = self._loader(self._event_readers)
        self.users_of = self._loader(self._users_of)
        self.api_keys_of = self._loader(self._api_keys_of)

    @staticmethod
    def _loader(fn: Callable[[list[K]], Any]) -> DataLoader[K, Any]:
        return SharedLoader(load_fn=fn)

    async def _all(self, stmt: Any) -> list[Any]:
        async with self.ctx.db() as session:
            return list((await session.execute(stmt)).all())

    async def _by_id(self, stmt: Any, keys: list[Any], key_of: Callable[[Any], Any]) -> list[Any]:
        rows = {key_of(r[0]): r[0] for r in await self._all(stmt)}
        return [rows.get(k) for k in keys]

    # -- single rows ----------------------------------------------------------------------

    async def _factories(self, ids: list[int]) -> list[m.Factory | None]:
        stmt = self.ctx.scope.factories().where(m.Factory.id.in_(ids))
        return await self._by_id(stmt, ids, lambda f: f.id)

    async def _grant_scopes(self, ids: list[int]) -> list[frozenset[str]]:
        """The caller's active grant scopes on each factory: a page's in one statement."""
        async with self.ctx.db() as session:
            found = await grant_scopes(session, self.ctx.scope, ids)
        return [found.get(i, NO_GRANTS) for i in ids]

    async def _users_of(self, org_ids: list[int]) -> list[list[m.User]]:
        stmt = self.ctx.scope.users().where(m.User.organization_id.in_(org_ids)).order_by(m.User.id)
        found: dict[int, list[m.User]] = defaultdict(list)
        for (user,) in await self._all(stmt):
            found[user.organization_id].append(user)
        return [found.get(i, []) for i in org_ids]

    async def _api_keys_of(self, org_ids: list[int]) -> list[list[m.ApiKey]]:
        stmt = (
            self.ctx.scope.api_keys()
            .where(m.ApiKey.organization_id.in_(org_ids))
            .order_by(m.ApiKey.id)
        )
        found: dict[int, list[m.ApiKey]] = defaultdict(list)
        for (key,) in await self._all(stmt):
            found[key.organization_id].append(key)
        return [found.get(i, []) for i in org_ids]

    async def _organizations(self, ids: list[int]) -> list[m.Organization | None]:
        stmt = self.ctx.scope.reachable_organizations().where(m.Organization.id.in_(ids))
        return await self._by_id(stmt, ids, lambda o: o.id)

    async def _countries(self, codes: list[str]) -> list[m.Country | None]:
        stmt = self.ctx.scope.countries().where(m.Country.code.in_(codes))
        return await self._by_id(stmt, codes, lambda c: c.code)

    async def _assessments(self, ids: list[int]) -> list[AssessmentRow | None]:
        stmt = self.ctx.scope.assessments_with_cycle().where(m.Assessment.id.in_(ids))
        rows = {a.id: AssessmentRow(a, n) for a, n in await self._all(stmt)}
        return [rows.get(i) for i in ids]

    # -- pages per parent ---------------------------------------------------------------

    async def _assessments_pages(
        self, keys: list[tuple[int, PageArgs]]
    ) -> list[list[AssessmentRow]]:
        found: dict[tuple[int, PageArgs], list[AssessmentRow]] = defaultdict(list)
        for args, parents in _group(keys).items():
            page, counted = assessments_page(self.ctx.scope, parents, args)
            totals: dict[int, int] = {}
            for row in await self._all(page):
                found[(row.factory_id, args)].append(AssessmentRow(row, row.cycle_number))
                if counted:
                    totals[row.factory_id] = row[-1]
            if counted:  # totalCount then costs no statement of its own
                for parent in parents:
                    self.assessment_count.prime(parent, totals.get(parent, 0))
        return [found.get(k, []) for k in keys]

    async def _assessment_counts(self, factory_ids: list[int]) -> list[int]:
        counts = dict(
            (r[0], r[1]) for r in await self._all(assessment_counts(self.ctx.scope, factory_ids))
        )
        return [counts.get(i, 0) for i in factory_ids]

    async def _findings_pages(
        self, keys: list[tuple[int, tuple[PageArgs, FindingFilter]]]
    ) -> list[list[Any]]:
        """Rows of the finding columns (not ORM objects), by attribute name."""
        found: dict[tuple[int, Any], list[Any]] = defaultdict(list)
        for (args, flt), parents in _group(keys).items():
            page, counted = findings_page(self.ctx.scope, parents, args, flt)
            totals: dict[int, int] = {}
            for finding in await self._all(page):
                found[(finding.assessment_id, (args, flt))].append(finding)
                if counted:
                    totals[finding.assessment_id] = finding[-1]
            if counted:  # totalCount then costs no statement of its own
                for parent in parents:
                    self.finding_count.prime((parent, flt), totals.get(parent, 0))
        return [found.get(k, []) for k in keys]

    async def _finding_counts(self, keys: list[tuple[int, FindingFilter]]) -> list[int]:
        counts: dict[tuple[int, FindingFilter], int] = {}
        for flt, parents in _group(keys).items():
            for parent, n in await self._all(finding_counts(self.ctx.scope, parents, flt)):
                counts[(parent, flt)] = n
        return [counts.get(k, 0) for k in keys]

    # -- small lists per factory ----------------------------------------------------------

    async def _self_assessments(self, factory_ids: list[int]) -> list[list[Any]]:
        stmt = (
            self.ctx.scope.self_assessments_with_cycle()
            .where(m.SelfAssessment.factory_id.in_(factory_ids))
            .order_by(m.SelfAssessment.id)
        )
        found: dict[int, list[Any]] = defaultdict(list)
        for row, number in await self._all(stmt):
            found[row.factory_id].append((row, number))
        return [found.get(i, []) for i in factory_ids]

    async def _grants(self, factory_ids: list[int]) -> list[list[m.ConsentGrant]]:
        stmt = (
            self.ctx.scope.grants()
            .where(m.ConsentGrant.factory_id.in_(factory_ids))
            .order_by(m.ConsentGrant.granted_at.desc(), m.ConsentGrant.id.desc())
        )
        found: dict[int, list[m.ConsentGrant]] = defaultdict(list)
        for (grant,) in await self._all(stmt):
            found[grant.factory_id].append(grant)
        return [found.get(i, []) for i in factory_ids]

    async def _access_pages(self, keys: list[tuple[int, PageArgs]]) -> list[list[m.AccessEvent]]:
        found: dict[tuple[int, PageArgs], list[m.AccessEvent]] = defaultdict(list)
        async with self.ctx.db() as session:
            postgres = session.get_bind().dialect.name == "postgresql"
        now = m.utcnow()
        for args, parents in _group(keys).items():
            page = access_page_statement(self.ctx.scope, parents, args, now, windows=postgres)
            for event, parent in await self._all(page):
                rows = found[(parent, args)]
                if len(rows) <= args.first:
                    rows.append(event)
        return [found.get(k, []) for k in keys]

    async def _event_readers(self, keys: list[tuple[int, int]]) -> list[m.Organization | None]:
        """Keys ``(event id, factory id)``: the reader of an event in that factory's log."""
        found: dict[int, m.Organization] = {}
        for factory_id, event_ids in _group(keys).items():
            stmt = self.ctx.scope.access_event_readers(factory_id, event_ids)
            found.update((event_id, org) for event_id, org in await self._all(stmt))
        return [found.get(event_id) for event_id, _ in keys]

    async def _access_counts(self, factory_ids: list[int]) -> list[int]:
        stmt = count_each([(f, self.ctx.scope.access_events(f)) for f in factory_ids])
        counts = dict((r[0], r[1]) for r in await self._all(stmt))
        return [counts.get(i, 0) for i in factory_ids]


# How far back the newest windows of a factory's access log reach (access_page_statement).
ACCESS_WINDOWS = tuple(dt.timedelta(hours=6**n) for n in range(5))  # 1 h, 6 h, 36 h, 9 d, 54 d


def access_page_statement(
    scope: Scope, factory_ids: Sequence[int], args: PageArgs, now: dt.datetime, *, windows: bool
) -> Any:
    """``(event, factory id)`` rows: each factory's newest ``args.first + 1`` events after the
    cursor, by ``(at, id)``. With ``windows`` (PostgreSQL) they are read in time windows (the
    last hour, 6 hours, 36 hours, 9 days, 54 days, then the rest), each older one only while
    the newer gave too few, so a factory read a million times costs what one read a few
    times a day does."""
    stmts = []
    for factory_id in factory_ids:
        stmt = scope.access_events(factory_id)
        if args.after is not None:
            at, last = args.after
            stmt = stmt.where(
                m.AccessEvent.at <= at,  # prunes partitions; the rest is the row comparison
                or_(m.AccessEvent.at < at, and_(m.AccessEvent.at == at, m.AccessEvent.id < last)),
            )
        stmts.append((factory_id, stmt))
    bounds = [now - window for window in ACCESS_WINDOWS] if windows else []
    return newest_per_parent(
        stmts, m.AccessEvent, m.AccessEvent.at, m.AccessEvent.id, args.first + 1, bounds
    )


TOTAL = "_total"


# -- the page statements, shared with the planner (api.planner) ---------------------------

# The parents' ids, or the bind parameter that takes them at execution (a planned statement
# is built once and run for many pages): expanding, or one array (PostgreSQL).
Parents = Sequence[int] | BindParameter[Any]


def _among(column: Any, parents: Parents) -> Any:
    if isinstance(parents, BindParameter) and not parents.expanding:
        return column == any_(parents)  # one array parameter, not a placeholder per id
    return column.in_(parents)


def assessments_page(scope: Scope, parents: Parents, args: PageArgs) -> tuple[Any, bool]:
    """The first ``args.first + 1`` visible assessments of each factory, newest first, as
    rows of their columns, then ``cycle_number``, then (when ``counted``) each factory's
    count of visible assessments (a window count: no statement of its own)."""
    stmt = scope.assessments_with_cycle().where(_among(m.Assessment.factory_id, parents))
    if args.after is not None:
        stmt = stmt.where(tuple_(m.Assessment.assessed_on, m.Assessment.id) < tuple_(*args.after))
    counted = _with_total(stmt, m.Assessment.factory_id, args)
    page = first_per_parent(
        stmt if counted is None else counted,
        m.Assessment,
        m.Assessment.factory_id,
        [m.Assessment.assessed_on.desc(), m.Assessment.id.desc()],
        args.first + 1,
        extra=["cycle_number"] if counted is None else ["cycle_number", TOTAL],
        columns=True,
    )
    return page, counted is not None


def assessments_of_each(
    scope: Scope, factories: Any, key: str, args: PageArgs
) -> tuple[Any, Any, bool]:
    """:func:`assessments_page` joined to each row of a factory page (``factories``, a scoped
    statement of columns ordered by its factory id column ``key``): one statement of rows
    (the factory's columns, then the assessment's as in :func:`assessments_page`, nulls for
    a factory with none), and the lateral subquery of the assessments. PostgreSQL only."""
    stmt = scope.assessments_with_cycle()
    if args.after is not None:
        stmt = stmt.where(tuple_(m.Assessment.assessed_on, m.Assessment.id) < tuple_(*args.after))
    counted = args.after is None
    if counted:  # the factory's count of visible assessments: the lateral's window count
        stmt = stmt.add_columns(func.count().over().label(TOTAL))
    page, lateral = first_of_each(
        factories,
        key,
        stmt,
        m.Assessment,
        m.Assessment.factory_id,
        [m.Assessment.assessed_on.desc(), m.Assessment.id.desc()],
        args.first + 1,
        extra=["cycle_number", TOTAL] if counted else ["cycle_number"],
    )
    return page, lateral, counted


def assessment_counts(scope: Scope, factory_ids: Parents) -> Any:
    """``(factory id, visible assessments)`` rows."""
    stmt = scope.assessments().where(_among(m.Assessment.factory_id, factory_ids))
    return count_per_parent(stmt, m.Assessment.factory_id)


def _finding_filter(stmt: Any, flt: FindingFilter) -> Any:
    if flt.cluster is not None:
        stmt = stmt.where(m.Finding.cluster == flt.cluster)
    if flt.non_compliant_only:
        stmt = stmt.where(m.Finding.non_compliant.is_(True))
    return stmt


def _findings_of(scope: Scope, parents: Parents) -> Any:
    """The visible findings of these assessments (:meth:`Scope.findings_among`)."""
    return scope.findings_among(lambda column: _among(column, parents))


def findings_page(
    scope: Scope, parents: Parents, args: PageArgs, flt: FindingFilter
) -> tuple[Any, bool]:
    """The first ``args.first + 1`` visible findings of each assessment by id, as rows of
    their columns, then (when ``counted``) each assessment's count (a window count)."""
    stmt = _finding_filter(_findings_of(scope, parents), flt)
    if args.after is not None:
        stmt = stmt.where(m.Finding.id > args.after[0])
    counted = _with_total(stmt, m.Finding.assessment_id, args)
    page = first_per_parent(
        stmt if counted is None else counted,
        m.Finding,
        m.Finding.assessment_id,
        [m.Finding.id],
        args.first + 1,
        extra=[] if counted is None else [TOTAL],
        columns=True,
    )
    return page, counted is not None


def finding_counts(scope: Scope, parents: Parents, flt: FindingFilter) -> Any:
    """``(assessment id, visible findings)`` rows."""
    stmt = _finding_filter(_findings_of(scope, parents), flt)
    return count_per_parent(stmt, m.Finding.assessment_id)


def finding_count_of(scope: Scope, assessment_id: Any, flt: FindingFilter) -> Any:
    """The count of an assessment's visible findings as a scalar subquery, correlated to the
    column ``assessment_id`` of the statement it is put in (the planner adds it to the
    assessment page when a finding page's ``totalCount`` is all that is asked)."""
    stmt = _finding_filter(scope.findings().where(m.Finding.assessment_id == assessment_id), flt)
    return stmt.with_only_columns(func.count()).scalar_subquery()


def _with_total(stmt: Any, parent_col: Any, args: PageArgs) -> Any:
    """The page statement with each parent's row count beside every row (a window count),
    or None after a cursor, where the page no longer holds every row the count is of."""
    if args.after is not None:
        return None
    return stmt.add_columns(func.count().over(partition_by=parent_col).label(TOTAL))
