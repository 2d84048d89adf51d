"""A plan's statements for one shape of reader and one set of page arguments, built once
and kept.

Building the scoped statements (the conditions of ``authz.scope``, the window-function
paging) costs 2-11 ms a brand page in SQLAlchemy, more than running them. What they say
depends on the reader's shape (its kind, role, inspectorate, and whether it has an
organisation, a factory, a country: the row filter's form), the page arguments and the
filter; never on the time (the scope reads grants and dates on the database clock, at
execution), never on the rows, and never on the reader's identity, which the scope names as
parameters (:mod:`authz.reader`); the parents of a nested page are a parameter too. So the
planner builds them for a stand-in of the reader's shape and keeps them per (plan, shape,
arguments), least recently used out: every brand's page runs the same statements, each
with its own organisation as a parameter.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, overload

from sqlalchemy import ARRAY, Enum, Integer, String, bindparam, type_coerce
from sqlalchemy.util import EMPTY_DICT

import models as m
from api.factories.queries import factories_page
from api.loaders import (
    FindingFilter,
    Parents,
    assessment_counts,
    assessments_of_each,
    assessments_page,
    finding_count_of,
    finding_counts,
    findings_page,
)
from api.pagination import PageArgs
from api.planner.rows import COUNTRY_COLUMNS, FACTORY, FACTORY_COLUMNS
from authz.logged import with_access_log, with_log_rows
from authz.paging import ROW_NUMBER
from authz.principal import Principal
from authz.scope import Scope

PARENTS = "parents"  # the bind parameter of a nested page's parent ids
FACTORY_ID = FACTORY["id"]


@dataclass(frozen=True, slots=True)
class Arguments:
    """A request's arguments, as bound and checked."""

    factories: PageArgs
    country: str | None
    assessments: PageArgs | None
    findings: PageArgs | None
    flt: FindingFilter | None


@dataclass(frozen=True, slots=True)
class Statements:
    factories: Any  # the page (its country joined, its count beside each row when asked)
    factory_count: Any  # for a page with no row
    # The assessment pages joined in (PostgreSQL): each row is the factory's first ``width``
    # columns, then an assessment's (nulls for none), as ``assessments``' rows would be.
    width: int | None
    assessments: Any | None  # a statement of its own (SQLite: no LATERAL)
    assessments_counted: bool  # a window count beside each assessment row
    # Each assessment's finding count as its row's last column (then no finding statement)
    findings_in_assessments: bool
    assessment_count: Any | None  # totalCount after a cursor
    findings: Any | None
    findings_counted: bool
    finding_count: Any | None
    # The factories statement writes the access log of the page's reads itself
    # (authz.logged, PostgreSQL): its execution takes authz.logged.LOG_PARAMETERS.
    logs: bool = False
    # The findings statement, the plan's last, writes the page's access log instead
    # (PostgreSQL): then the rows are known before it runs (authz.logged.with_log_rows).
    findings_log: bool = False
    # ``findings`` with the insert of n log rows, by n, built on first use.
    _findings_logging: dict[int, Any] = field(default_factory=dict)

    def all(self) -> list[Any]:
        """Every statement of the plan that is there."""
        found = (
            self.factories,
            self.factory_count,
            self.assessments,
            self.assessment_count,
            self.findings,
            self.finding_count,
        )
        return [stmt for stmt in found if stmt is not None]

    def findings_logging(self, rows: int) -> Any:
        """The findings statement that also inserts ``rows`` access-log rows."""
        stmt = self._findings_logging.get(rows)
        if stmt is None:
            assert self.findings is not None and self.findings_log
            stmt = self._findings_logging[rows] = with_log_rows(self.findings, rows)
        return stmt


def build(
    principal: Principal,
    args: Arguments,
    *,
    country: bool,
    total: bool,
    assessment_total: bool,
    finding_total: bool,
    finding_count_only: bool,
    postgres: bool,
    log: bool = False,
    findings_read: bool = False,
) -> Statements:
    """The plan's statements for this reader and these arguments. With ``log`` (PostgreSQL
    only, and where the factories statement is the only one) that statement also writes
    the page's access log: its factories read, and, with ``findings_read``, the findings of
    each one whose assessment is shown."""
    scope = Scope(principal)
    page, count_stmt = factories_page(scope, args.factories, args.country)
    page = page.with_only_columns(*FACTORY_COLUMNS)
    if country:  # reference data, public: joined instead of a statement of its own
        page = page.join(m.Country, m.Country.code == m.Factory.country_code).add_columns(
            *COUNTRY_COLUMNS
        )
    if total:
        page = page.add_columns(count_stmt.scalar_subquery())
    parents: Parents = bindparam(PARENTS, expanding=True)
    if postgres:
        # One array parameter instead of a placeholder per id, rendered for every page.
        parents = bindparam(PARENTS, type_=ARRAY(Integer))
    assessments = assessment_count = findings = finding_count = None
    assessments_counted = findings_counted = in_assessments = False
    width = None
    rows_of: Any = None
    if args.assessments is not None:
        if postgres:
            # The assessment pages joined to the factory page (LEFT JOIN LATERAL): one
            # statement, one round trip, for both levels.
            width = len(page.selected_columns)
            page, rows_of, assessments_counted = assessments_of_each(
                scope, page, m.Factory.id.key, args.assessments
            )
        else:
            assessments, assessments_counted = assessments_page(scope, parents, args.assessments)
            (rows_of,) = assessments.get_final_froms()
        if assessment_total and not assessments_counted:
            assessment_count = assessment_counts(scope, parents)
        if finding_count_only and args.flt is not None:
            # A finding page's totalCount alone (the light page): a column of the assessment
            # rows, correlated to each one's id.
            column = finding_count_of(scope, rows_of.c.id, args.flt).label("_finding_count")
            if assessments is None:
                page = page.add_columns(column)
            else:
                assessments = assessments.add_columns(column)
            in_assessments = True
    if args.findings is not None and args.flt is not None and not in_assessments:
        findings, findings_counted = findings_page(scope, parents, args.findings, args.flt)
        if finding_total and not findings_counted:
            finding_count = finding_counts(scope, parents, args.flt)
    # Only where that statement is the plan's only one: a later statement that failed would
    # leave logged the reads of an answer the standard executor then gives instead.
    later = (assessments, assessment_count, findings, finding_count)
    logs = log and postgres and all(stmt is None for stmt in later)
    if logs:
        nested = shown_within = None
        if width is not None and args.assessments is not None:  # the assessments joined
            nested = rows_of.c[ROW_NUMBER]
            shown_within = args.assessments.first if findings_read else None
        page = with_access_log(page, FACTORY_ID, args.factories.first, nested, shown_within)
    # Else the findings statement, where no statement follows it: it runs last, when the
    # page's reads are known.
    findings_log = log and postgres and not logs and findings is not None and finding_count is None
    return Statements(
        _core(page),
        _core(count_stmt),
        width,
        _core(assessments),
        assessments_counted,
        in_assessments,
        _core(assessment_count),
        _core(findings),
        findings_counted,
        _core(finding_count),
        logs,
        findings_log,
    )


@overload
def _core(stmt: None) -> None: ...
@overload
def _core(stmt: Any) -> Any: ...
def _core(stmt: Any | None) -> Any | None:
    """The statement run as Core: rows of columns as the driver gives them (types
    processed), without the ORM's per-row work (~3 ms of a page of 2,000 findings).

    Its scope label is kept, and checked at each execution by the guard's rule
    (:func:`authz.guard.checked`, :mod:`api.planner.plan`); only the ORM compile plugin,
    which a statement built from mapped entities carries, is dropped. Same SQL, same rows
    (tests/perf/test_planner_equivalence.py).
    """
    if stmt is None:
        return None
    # Enum columns as the names they are stored as (models.base.enum_column): the builders
    # write the names, and a page's ~2,000 rows skip a lookup of the member for each one.
    columns = [
        type_coerce(c, String) if isinstance(c.type, Enum) else c for c in stmt.selected_columns
    ]
    core = stmt.with_only_columns(*columns, maintain_column_froms=True)
    core = core.execution_options()  # a copy, labels and options kept
    core._propagate_attrs = EMPTY_DICT
    return core


class StatementCache:
    """Statements by (plan, stand-in reader, arguments), least recently used out: ~110 KB
    an entry (a brand page's), so the default bound holds ~30 MB at most."""

    def __init__(self, max_entries: int = 256) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[int, Principal, Arguments], Statements] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, plan: int, reader: Principal, args: Arguments) -> Statements | None:
        key = (plan, reader, args)
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    def put(self, plan: int, reader: Principal, args: Arguments, statements: Statements) -> None:
        self._entries[(plan, reader, args)] = statements
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
