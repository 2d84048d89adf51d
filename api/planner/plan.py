"""A plan: a query's selection read once, and its execution for one request.

Execution binds the variables and checks every argument first (:mod:`api.planner.arguments`:
any doubt and the standard executor runs instead, before any statement), then reads each
level for the whole page with the statements the resolvers' loaders use
(:func:`api.factories.queries.factories_page`, :func:`api.loaders.assessments_page`,
:func:`api.loaders.findings_page`, their counts), records the reads the resolvers record,
and builds the answer with the generated builders (:mod:`api.planner.build`).

Statements: the factory page (its country joined in, its ``totalCount`` a scalar subquery
of the same count statement), on PostgreSQL with each factory's assessment page joined to it
(``LEFT JOIN LATERAL``, :func:`api.loaders.assessments_of_each`); then one statement per
nested page (window functions: the count of a first page is a window count; on SQLite the
assessment pages too), and a count statement for a ``totalCount`` after a cursor, as the
loaders do. Never more than the standard executor runs; the page size changes none of it.
They run on the session's connection as Core statements, each checked by the guard's rule
(:func:`authz.guard.checked`) as the session's listener would check it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from graphql import DocumentNode, FragmentDefinitionNode, OperationDefinitionNode, OperationType

import models as m
from api.context import Context
from api.planner import arguments as a
from api.planner.build import Build, connection_builder, root_builder
from api.planner.grammar import TYPENAME, Item, Unplannable, read_selection
from api.planner.rows import ASSESSMENT, FACTORY, FINDING
from api.planner.statements import PARENTS, Arguments, StatementCache
from api.planner.statements import build as build_statements
from authz import logged
from authz.guard import checked
from authz.reader import check_free, stand_in
from authz.reader import values as reader_values
from core.crypto import FieldCipher

# The access log's names of the reads (api.access_paths.field_path of each resolver).
FACTORIES = "factories"
ASSESSMENTS = "factories.assessments"
FINDINGS = "factories.assessments.findings"

_FACTORY_ID = FACTORY["id"]
_ASSESSMENT_ID = ASSESSMENT["id"]
_ASSESSMENT_FACTORY = ASSESSMENT["factory_id"]
_FINDING_ASSESSMENT = FINDING["assessment_id"]


def _has(item: Item, name: str) -> bool:
    return any(i.name == name for i in item.selection or ())


def _node(connection: Item | None) -> Item | None:
    edges = None if connection is None else connection.child("edges")
    return None if edges is None else edges.child("node")


@dataclass(slots=True)
class Plan:
    variables: tuple[a.Variable, ...]
    factories: Item  # the root field
    total: bool  # factories.totalCount
    edges: bool  # factories.edges: the page's factories are read
    country: bool  # ...node.country
    assessments: Item | None  # ...node.assessments
    assessment_total: bool
    findings: Item | None  # ...assessments.edges.node.findings
    finding_total: bool
    finding_count_only: bool  # ...findings { totalCount } and nothing else of the page
    build: Build
    build_assessments: Build | None
    build_findings: Build | None
    # The access log's paths of the page's factories, and of those whose assessment is
    # shown when its findings are read (authz.logged)
    log_paths: tuple[str, ...]
    log_paths_shown: tuple[str, ...]
    # Names this plan's statements in the planner's StatementCache.
    serial: int = field(default_factory=count().__next__)


def compile_plan(
    document: DocumentNode, operation: OperationDefinitionNode, cipher: FieldCipher
) -> Plan:
    """The operation's plan; :class:`Unplannable` for anything the planner does not know."""
    if operation.operation != OperationType.QUERY or operation.directives:
        raise Unplannable("not a query")
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    variables = a.read_variables(operation)
    roots = read_selection("Query", operation.selection_set, fragments)
    fields = [item for item in roots if item.name != TYPENAME]
    if len(fields) != 1:
        raise Unplannable("not one factories field")
    factories = fields[0]
    node = _node(factories)
    assessments = None if node is None else node.child("assessments")
    assessment_node = _node(assessments)
    findings = None if assessment_node is None else assessment_node.child("findings")
    assert factories.selection is not None
    paths = (FACTORIES,) if assessments is None else (FACTORIES, ASSESSMENTS)
    return Plan(
        variables=variables,
        factories=factories,
        total=_has(factories, "totalCount"),
        edges=factories.child("edges") is not None,
        country=node is not None and node.child("country") is not None,
        assessments=assessments,
        assessment_total=assessments is not None and _has(assessments, "totalCount"),
        findings=findings,
        finding_total=findings is not None and _has(findings, "totalCount"),
        finding_count_only=findings is not None
        and all(i.name in ("totalCount", TYPENAME) for i in findings.selection or ()),
        build=root_builder(roots, cipher),
        build_assessments=None
        if assessments is None or assessments.selection is None
        else connection_builder("AssessmentConnection", assessments.selection, cipher),
        build_findings=None
        if findings is None or findings.selection is None
        else connection_builder("FindingConnection", findings.selection, cipher),
        log_paths=paths,
        log_paths_shown=(*paths, FINDINGS),
    )


def _by_parent(rows: Sequence[Any], column: int) -> dict[int, list[Any]]:
    found: dict[int, list[Any]] = {}
    for row in rows:
        parent = row[column]
        page = found.get(parent)
        if page is None:
            found[parent] = [row]
        else:
            page.append(row)
    return found


def _split(rows: Sequence[Any], width: int) -> tuple[list[Any], dict[int, list[Any]]]:
    """Rows of factories with their assessments joined (ordered by factory): each factory's
    row once, and its assessments' rows (the columns after ``width``) by factory id."""
    factories: list[Any] = []
    pages: dict[int, list[Any]] = {}
    last = None
    for row in rows:
        factory = row[_FACTORY_ID]
        if factory != last:
            factories.append(row)
            last = factory
        if row[width + _ASSESSMENT_ID] is not None:
            pages.setdefault(factory, []).append(row[width:])
    return factories, pages


async def run(
    plan: Plan, ctx: Context, values: dict[str, Any] | None, cache: StatementCache
) -> dict[str, Any]:
    """The ``data`` of the answer; :class:`~api.planner.arguments.Fallback`, before any
    statement, for values the planner does not take."""
    cap = ctx.runtime.settings.max_page_size
    bound = a.bind_variables(plan.variables, values)
    args = Arguments(
        factories=a.page_of(plan.factories.args, bound, cap),
        country=a.country_of(plan.factories.args, bound),
        assessments=None
        if plan.assessments is None
        else a.page_of(plan.assessments.args, bound, cap, True),
        findings=None if plan.findings is None else a.page_of(plan.findings.args, bound, cap),
        flt=None if plan.findings is None else a.finding_filter(plan.findings.args, bound),
    )
    # The statements are built for the reader's shape (authz.reader.stand_in) and kept for
    # it: every reader of that shape runs them, each with its own identity as parameters.
    reader = stand_in(ctx.principal)
    identity = reader_values(ctx.principal)
    # On PostgreSQL the page's statement writes its access log itself (authz.logged): the
    # reads Context.note_read would note, in the same round trip as the read.
    logs = plan.edges and ctx.reads_logged and not ctx.runtime.settings.is_sqlite
    stmts = cache.get(plan.serial, reader, args)
    if stmts is None:
        stmts = build_statements(
            reader,
            args,
            country=plan.country,
            total=plan.total,
            assessment_total=plan.assessment_total,
            finding_total=plan.finding_total,
            finding_count_only=plan.finding_count_only,
            postgres=not ctx.runtime.settings.is_sqlite,
            log=logs,
            findings_read=plan.findings is not None,
        )
        for stmt in stmts.all():
            check_free(stmt)
        cache.put(plan.serial, reader, args, stmts)

    first = args.factories.first
    assessment_pages: dict[int, list[Any]] = {}
    assessment_totals: dict[int, int] = {}
    finding_pages: dict[int, list[Any]] = {}
    finding_totals: dict[int, int] = {}
    shown: list[Any] = []
    assessment_ids: list[int] = []
    async with ctx.db() as session:
        # On the session's connection, not through the session: the ORM's execution path
        # costs about 0.3 ms a statement that these plain column reads do not need. The
        # guard's rule is kept by hand (authz.guard.checked), as the session's listener would.
        conn = await session.connection()

        async def read(stmt: Any, parameters: dict[str, Any] | None = None) -> Sequence[Any]:
            bound = identity if parameters is None else identity | parameters
            return (await conn.execute(checked(stmt), bound)).all()

        rows = await read(stmts.factories, _log_values(plan, ctx) if stmts.logs else None)
        width = stmts.width
        if width is not None:  # the assessment pages came joined: one row per assessment
            rows, assessment_pages = _split(rows, width)
        page = rows[:first]
        total = None
        if plan.total:
            at = -1 if width is None else width - 1
            total = rows[0][at] if rows else int((await read(stmts.factory_count))[0][0] or 0)
        ids = [row[_FACTORY_ID] for row in page]
        if args.assessments is not None and ids:  # joined (width) or a statement of its own
            parents = {PARENTS: ids}
            if stmts.assessments is not None:
                assessment_pages = _by_parent(
                    await read(stmts.assessments, parents),
                    _ASSESSMENT_FACTORY,
                )
            at = -2 if stmts.findings_in_assessments else -1
            if stmts.assessments_counted:
                assessment_totals = {p: found[0][at] for p, found in assessment_pages.items()}
            elif stmts.assessment_count is not None:
                counts = await read(stmts.assessment_count, parents)
                assessment_totals = {parent: n for parent, n in counts}
            size = args.assessments.first
            shown = [row for parent in ids for row in assessment_pages.get(parent, ())[:size]]
            assessment_ids = [row[_ASSESSMENT_ID] for row in shown]
            if stmts.findings_in_assessments:
                finding_totals = {row[_ASSESSMENT_ID]: row[-1] for row in shown}
        recorded = stmts.logs
        if stmts.findings is not None and assessment_ids:
            parents = {PARENTS: assessment_ids}
            findings_stmt = stmts.findings
            if stmts.findings_log:  # the last statement: it writes the page's access log
                _record(plan, ctx, ids, shown)
                recorded = True
                rows_logged = ctx.take_access_log()
                if rows_logged:
                    findings_stmt = stmts.findings_logging(len(rows_logged))
                    parents |= logged.log_row_values(rows_logged)
            finding_pages = _by_parent(await read(findings_stmt, parents), _FINDING_ASSESSMENT)
            if stmts.findings_counted:
                finding_totals = {p: found[0][-1] for p, found in finding_pages.items()}
            elif stmts.finding_count is not None:
                counts = await read(stmts.finding_count, parents)
                finding_totals = {parent: n for parent, n in counts}

    if not recorded:
        _record(plan, ctx, ids, shown)

    findings: dict[int, Any] = {}
    if plan.build_findings is not None and args.findings is not None:
        build, size = plan.build_findings, args.findings.first
        for parent in assessment_ids:
            found = finding_pages.get(parent, [])
            findings[parent] = build(
                found[:size], finding_totals.get(parent, 0), len(found) > size, None
            )
    assessments: dict[int, Any] = {}
    if plan.build_assessments is not None and args.assessments is not None:
        build, size = plan.build_assessments, args.assessments.first
        for parent in ids:
            found = assessment_pages.get(parent, [])
            assessments[parent] = build(
                found[:size], assessment_totals.get(parent, 0), len(found) > size, findings
            )
    data: dict[str, Any] = plan.build(page, total, len(rows) > first, assessments)
    return data


def _log_values(plan: Plan, ctx: Context) -> dict[str, Any]:
    """The bind parameters of a statement that writes its access log (authz.logged): the
    rows Context.flush_access_log would write for the reads _record notes."""
    now = m.utcnow()
    event, shown = ctx.event(plan.log_paths, now), ctx.event(plan.log_paths_shown, now)
    return {
        logged.AT: now,
        logged.ORGANIZATION: event["organization_id"],
        logged.USER: event["user_id"],
        logged.API_KEY: event["api_key_id"],
        logged.OWN_FACTORY: ctx.principal.factory_id,
        logged.OPERATION: event["operation"],
        logged.FIELDS: event["fields"],
        logged.FIELDS_SHOWN: shown["fields"],
    }


def _record(plan: Plan, ctx: Context, ids: list[int], shown: list[Any]) -> None:
    """What the resolvers record (:meth:`api.context.Context.note_read`, which leaves out
    the caller's own factory and the anonymous public): the page's factories when its edges
    are read, each one's assessments, each shown assessment's findings."""
    if not plan.edges:
        return
    query = OperationType.QUERY.value
    paths = (FACTORIES,) if plan.assessments is None else (FACTORIES, ASSESSMENTS)
    for factory_id in ids:
        ctx.note_read(factory_id, paths, query)
    if plan.findings is not None:
        for row in shown:
            ctx.note_read(row[_ASSESSMENT_FACTORY], (FINDINGS,), query)
