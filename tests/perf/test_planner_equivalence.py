"""Given one world and two apps, the standard executor and the planner (api.planner, with the
fast executor for whatever it does not plan), when the benchmark's queries, edge cases and
random documents are sent as every kind of principal, then both answer exactly the same JSON
(status, data and errors) and write the same access-log rows, and the planner runs no more
SQL statements. The benchmark's documents are really planned; what the planner does not know
falls back whole."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from graphql import GraphQLSchema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

import models as m
from bench import queries as q
from core.runtime import Runtime
from tests.builders import make_grant, make_host, make_org, make_user
from tests.perf.test_fastpath_equivalence import (
    ACCESS_LOG,
    BENCHMARK,
    EDGE_CASES,
    _world,
    documents,
)
from tests.world import kept_world

ROLES = ("brand", "factory", "programme", "platform", "host", "anonymous")

# Every test reads the same world (kept between tests: tests/world.py); one that writes is
# marked `writes`.
pytestmark = pytest.mark.reads_only


def _count(outcome: str) -> float:
    found = REGISTRY.get_sample_value("millgate_planner_requests_total", {"outcome": outcome})
    return found or 0.0


@dataclass
class Pair:
    standard: httpx.AsyncClient
    planned: httpx.AsyncClient
    headers: dict[str, dict[str, str]]
    ids: dict[str, str]
    schema: GraphQLSchema
    engine: AsyncEngine
    statements: list[str]

    async def both(
        self,
        role: str,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        no_more_statements: bool = True,
    ) -> tuple[Any, Any]:
        """Each app's (status, JSON, access-log rows written), and each one's statements."""
        body = {"query": query, "variables": variables}
        answers, counts = [], []
        for client in (self.standard, self.planned):
            after = await self._last_access_event()
            self.statements.clear()
            response = await client.post("/graphql", json=body, headers=self.headers[role])
            counts.append(len(self.statements))
            async with self.engine.connect() as conn:
                logged = [tuple(r) for r in await conn.execute(ACCESS_LOG, {"after": after})]
            answers.append((response.status_code, response.json(), logged))
        # A planned read that fails runs both paths' statements. An answer with errors was not
        # planned (the planner falls back before any statement): where a field fails,
        # GraphQL cancels its siblings, and how many of their statements had started is a
        # matter of timing, on either app.
        if no_more_statements and "errors" not in answers[0][1]:
            assert counts[1] <= counts[0], f"planned {counts[1]} statements, standard {counts[0]}"
        return answers[0], answers[1]

    async def planned_twice(
        self, role: str, query: str, variables: dict[str, Any] | None = None
    ) -> tuple[float, float]:
        """(planned, not planned) answers of the planner app to the same request, sent once
        to be validated and once more."""
        body = {"query": query, "variables": variables}
        await self.planned.post("/graphql", json=body, headers=self.headers[role])
        before = _count("planned"), _count("unplanned") + _count("fallback")
        response = await self.planned.post("/graphql", json=body, headers=self.headers[role])
        assert response.status_code in (200, 400)
        return _count("planned") - before[0], _count("unplanned") + _count("fallback") - before[1]

    async def _last_access_event(self) -> int:
        async with self.engine.connect() as conn:
            found = await conn.scalar(text("SELECT max(id) FROM access_event"))
        return int(found or 0)


async def _planner_world(session: Any, keys: Any) -> tuple[dict[str, int], dict[str, str], str]:
    """The executors' world, a host granted its shared factory and the host's API key:
    (user id by role, global ids by name, the key), committed."""
    users, ids = await _world(session, keys)
    host = await make_host(session, keys, "Host")
    secret, prefix, digest = keys.api_keys.new_key()
    session.add(m.ApiKey(organization_id=host.organization.id, prefix=prefix, secret_hmac=digest))
    shared: Any = SimpleNamespace(id=_pk(ids["shared"]))  # make_grant reads its id only
    await make_grant(session, shared, host.organization)
    # A second reader of the brand's, the factory's and the programme's shapes, each with
    # other rows to see: a brand granted the narrow factory's assessments, that factory's
    # manager, the programme of Vietnam.
    narrow: Any = SimpleNamespace(id=_pk(ids["narrow"]))
    owner = await session.scalar(
        text("SELECT organization_id FROM factory WHERE id = :id"), {"id": narrow.id}
    )
    brand2 = await make_org(session, m.OrganizationKind.BRAND, name="Brand 2")
    await make_grant(session, narrow, brand2, scopes=(m.DataScope.ASSESSMENT,))
    programme2 = await make_org(session, m.OrganizationKind.PROGRAMME, country="VN")
    narrow_org: Any = SimpleNamespace(id=owner)  # make_user reads its id only
    seconds = {
        "brand2": await make_user(session, brand2, m.Role.BRAND_VIEWER),
        "factory2": await make_user(session, narrow_org, m.Role.FACTORY_MANAGER),
        "programme2": await make_user(session, programme2, m.Role.ASSESSOR),
    }
    await session.commit()
    return users | {role: user.id for role, user in seconds.items()}, ids, secret


@pytest.fixture
async def pair(runtime: Runtime, session: Any, keys: Any) -> AsyncIterator[Pair]:
    from api.app import create_app
    from api.schema import build_schema

    users, ids, secret = await kept_world(
        runtime.engine, "planner equivalence", lambda: _planner_world(session, keys)
    )
    standard = runtime.settings.model_copy(update={"fast_executor": False, "planned_reads": False})
    planned = runtime.settings.model_copy(update={"fast_executor": True, "planned_reads": True})
    standard_app = create_app(replace(runtime, settings=standard))
    planned_app = create_app(replace(runtime, settings=planned))
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", count)
    headers: dict[str, dict[str, str]] = {
        role: {"authorization": f"Bearer {runtime.token_service.issue(user_id, 600)}"}
        for role, user_id in users.items()
    }
    headers["host"] = {"x-api-key": secret}
    headers["anonymous"] = {}
    async with (
        standard_app.router.lifespan_context(standard_app),
        planned_app.router.lifespan_context(planned_app),
    ):
        a = httpx.AsyncClient(transport=httpx.ASGITransport(app=standard_app), base_url="http://s")
        b = httpx.AsyncClient(transport=httpx.ASGITransport(app=planned_app), base_url="http://p")
        async with a, b:
            schema = build_schema(runtime.settings)._schema
            try:
                yield Pair(a, b, headers, ids, schema, runtime.engine, statements)
            finally:
                event.remove(runtime.engine.sync_engine, "before_cursor_execute", count)


def _pk(global_id: str) -> int:
    from api.ids import from_global_id

    parsed = from_global_id(global_id)
    assert parsed is not None
    return parsed[1]


def test_the_setting_switches_the_planner(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.settings import Settings

    assert Settings().planned_reads
    monkeypatch.setenv("MILLGATE_PLANNED_READS", "false")
    assert not Settings().planned_reads


async def _same_twice(pair: Pair, role: str, query: str, variables: Any) -> None:
    # Twice: the first request validates the document, the second is planned.
    for _ in range(2):
        standard, planned = await pair.both(role, query, variables)
        assert planned == standard


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("query", "variables"), BENCHMARK)
async def test_benchmark_queries_answer_the_same(
    pair: Pair, role: str, query: str, variables: Any
) -> None:
    if isinstance(variables, str):
        variables = {"id": pair.ids[variables]}
    await _same_twice(pair, role, query, variables)


PLANNED = [
    pytest.param(q.BRAND_PAGE, {"first": 100}, id="brand-page"),
    pytest.param(q.BRAND_PAGE, {"first": 0}, id="brand-page-of-none"),
    pytest.param(q.LIGHT_PAGE, None, id="light-page"),
    pytest.param(
        """query ($after: String, $only: Boolean) { __typename factories(first: 2, after: $after,
        country: "ID") { __typename ...Page pageInfo { endCursor hasNextPage __typename }
        totalCount edges { __typename cursor node { ... on Factory { __typename id }
        enrolledOn highPerformance name n: name country { code name slcpRolloutOn
        overlayVersion betterWorkProgramme __typename }
        assessments(first: 2, after: "MjAzMC0wMS0wMXw5OTk5") { totalCount pageInfo
        { hasNextPage endCursor } edges { cursor node { id cycle kind status assessedOn
        releasedOn gatewayReleaseOn virtual __typename findings(first: 2, after: "MQ",
        cluster: CHILD_LABOUR, nonCompliantOnly: $only) { totalCount pageInfo { hasNextPage
        endCursor } edges { cursor node { __typename id cluster compliancePoint questionCode
        nonCompliant publicReporting zeroTolerance detail } } } } } } } } } }
        fragment Page on FactoryConnection { totalCount }""",
        {"only": True},
        id="every-field-after-cursors",
    ),
    pytest.param(
        """query ($after: String) { factories(after: $after) { totalCount edges { node {
        assessments(first: 3) { totalCount edges { node { findings(first: 3) { totalCount
        edges { node { id } } } } } } } } } }""",
        {"after": "MQ"},
        id="after-a-factory",
    ),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("query", "variables"), PLANNED)
async def test_known_documents_are_planned_and_answer_the_same(
    pair: Pair, role: str, query: str, variables: Any
) -> None:
    await _same_twice(pair, role, query, variables)
    assert await pair.planned_twice(role, query, variables) == (1, 0)


NOT_PLANNED = [
    pytest.param("{ factories { edges { node { slcp { gatewayId } } } } }", None, id="a-rule"),
    pytest.param("{ factories { edges { node { name @include(if: true) } } } }", None, id="skip"),
    pytest.param("{ factories { totalCount } viewer { role } }", None, id="two-roots"),
    pytest.param(
        "{ factories { edges { node { ... on Node { id } } } } }", None, id="fragment-on-node"
    ),
    pytest.param(
        "{ factories { edges { node { name } } edges { cursor } } }", None, id="merged-edges"
    ),
    pytest.param("query ($f: Int = 2) { factories(first: $f) { totalCount } }", None, id="default"),
    pytest.param("{ factories(first: 101) { totalCount } }", None, id="first-too-large"),
    pytest.param("{ factories(first: -1) { totalCount } }", None, id="first-negative"),
    pytest.param('{ factories(after: "bad!") { totalCount } }', None, id="bad-cursor"),
    pytest.param('{ factories(country: "XYZ") { totalCount } }', None, id="bad-country"),
    pytest.param(
        """{ factories { edges { node { assessments(after: "MQ") { totalCount } } } } }""",
        None,
        id="bad-nested-cursor",
    ),
    pytest.param(
        "query ($first: Int!) { factories(first: $first) { totalCount } }",
        {"first": 1.0},
        id="float-variable",
    ),
    pytest.param(
        "query ($first: Int!) { factories(first: $first) { totalCount } }", {}, id="missing"
    ),
    pytest.param(
        "query ($first: Int) { factories(first: $first) { totalCount } }",
        {"first": "2"},
        id="string-for-int",
    ),
]


@pytest.mark.parametrize("role", ["brand", "platform"])
@pytest.mark.parametrize(("query", "variables"), NOT_PLANNED)
async def test_what_the_planner_does_not_know_falls_back_whole(
    pair: Pair, role: str, query: str, variables: Any
) -> None:
    await _same_twice(pair, role, query, variables)
    assert await pair.planned_twice(role, query, variables) == (0, 1)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("query", EDGE_CASES, ids=[f"case{i}" for i in range(len(EDGE_CASES))])
async def test_edge_cases_answer_the_same(pair: Pair, role: str, query: str) -> None:
    variables = {
        "yes": True,
        "no": False,
        "f": pair.ids["shared"],
        "a": pair.ids["assessment1"],
        "x": pair.ids["finding1"],
        "b": pair.ids["brand_org"],
    }
    used = {k: v for k, v in variables.items() if f"${k}" in query}
    await _same_twice(pair, role, query, used or None)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_random_queries_answer_the_same(pair: Pair, data: st.DataObject) -> None:
    document = data.draw(documents(pair.schema, pair.ids))
    role = data.draw(st.sampled_from(ROLES))
    variables = {k: v for k, v in (("on", True), ("off", False)) if f"${k})" in document}
    for _ in range(2):
        standard, planned = await pair.both(role, document, variables or None)
        assert planned == standard, json.dumps({"document": document, "role": role})


@st.composite
def factory_pages(draw: st.DrawFn) -> str:
    """Random documents inside the planner's grammar: each is planned or falls back."""
    finding = draw(
        st.lists(
            st.sampled_from(
                [
                    "id",
                    "cluster",
                    "compliancePoint",
                    "questionCode",
                    "nonCompliant",
                    "publicReporting",
                    "zeroTolerance",
                    "detail",
                    "__typename",
                ]
            ),
            min_size=1,
            max_size=4,
        )
    )
    first = st.sampled_from(["", "(first: 0)", "(first: 1)", "(first: 3)", "(first: 101)"])
    findings = draw(
        st.sampled_from(
            [
                f"findings{draw(first)} {{ totalCount edges {{ cursor node {{ "
                f"{' '.join(finding)} }} }} }}",
                f"findings{draw(first)} {{ totalCount }}",  # a column of the assessments page
                "findings(nonCompliantOnly: true, cluster: WORKING_TIME) { __typename totalCount }",
            ]
        )
    )
    assessment = draw(st.sampled_from(["id kind", "cycle virtual status", "releasedOn"]))
    node = draw(st.sampled_from(["id", "name country { code }", "enrolledOn"]))
    page_info = draw(st.sampled_from(["", "pageInfo { hasNextPage endCursor }"]))
    return (
        f"{{ factories{draw(first)} {{ {page_info} totalCount edges {{ cursor node {{ {node} "
        f"assessments{draw(first)} {{ totalCount {page_info} edges {{ cursor node {{ "
        f"{assessment} {findings} }} }} }} }} }} }} }}"
    )


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_random_factory_pages_answer_the_same(pair: Pair, data: st.DataObject) -> None:
    document = data.draw(factory_pages())
    role = data.draw(st.sampled_from(ROLES))
    for _ in range(2):
        standard, planned = await pair.both(role, document)
        assert planned == standard, json.dumps({"document": document, "role": role})


EVENTS = text(
    "SELECT factory_ids, organization_id, user_id, api_key_id, operation, fields "
    "FROM access_event WHERE id > :after ORDER BY id"
)

# Pages whose statements write their own access log on PostgreSQL (authz.logged): the
# factories statement, with an assessment page whose finding counts are read, whose
# assessments are read without theirs, none shown, and the factories alone; a count, which
# reads no factory and logs nothing; and the findings statement, last, on pages whose
# findings are read (the brand page's shape, with and without their count).
SELF_LOGGED = [
    pytest.param(q.LIGHT_PAGE, {}, id="light-page"),
    pytest.param(q.BRAND_PAGE, {"first": 100}, id="brand-page"),
    pytest.param(
        "{ factories(first: 4) { edges { node { id assessments(first: 2) { edges { node "
        "{ id findings(first: 3) { edges { node { id } } } } } } } } } }",
        {},
        id="findings-without-count",
    ),
    pytest.param(
        "{ factories(first: 3) { edges { node { id assessments(first: 1) { totalCount } } } } }",
        {},
        id="assessment-counts",
    ),
    pytest.param(
        "{ factories(first: 5) { edges { node { id assessments(first: 0) { edges { node "
        "{ id findings(first: 0) { totalCount } } } } } } } }",
        {},
        id="no-assessment-shown",
    ),
    pytest.param("{ factories(first: 2) { edges { node { name } } } }", {}, id="factories-only"),
    pytest.param("{ factories(first: 100) { totalCount } }", {}, id="count-only"),
]


@pytest.mark.parametrize(("query", "variables"), SELF_LOGGED)
@pytest.mark.parametrize("role", ROLES)
async def test_a_page_that_logs_itself_writes_the_rows_the_resolvers_would(
    pair: Pair, role: str, query: str, variables: dict[str, Any]
) -> None:
    # given the page, validated by both apps
    body = {"query": query, "variables": variables}
    for client in (pair.standard, pair.planned):
        await client.post("/graphql", json=body, headers=pair.headers[role])

    # when each app answers it once more
    events = []
    for client in (pair.standard, pair.planned):
        after = await pair._last_access_event()
        response = await client.post("/graphql", json=body, headers=pair.headers[role])
        assert response.status_code == 200 and "errors" not in response.json()
        async with pair.engine.connect() as conn:
            found = await conn.execute(EVENTS, {"after": after})
        events.append([(sorted(r[0]), *r[1:]) for r in found])

    # then the planner wrote the same events, row for row: the same factories under the
    # same field paths, the same reader, in the same order
    standard, planned = events
    assert planned == standard


@pytest.mark.parametrize(
    ("first", "second"), [("brand", "brand2"), ("factory", "factory2"), ("programme", "programme2")]
)
async def test_readers_of_one_shape_share_statements_and_each_reads_its_own_rows(
    pair: Pair, monkeypatch: pytest.MonkeyPatch, first: str, second: str
) -> None:
    # given the planner's statement builds, counted
    from api.planner import plan

    built: list[Any] = []
    build = plan.build_statements

    def counted(*args: Any, **kwargs: Any) -> Any:
        built.append(args[0])
        return build(*args, **kwargs)

    monkeypatch.setattr(plan, "build_statements", counted)
    await pair.planned.post(  # validated once: the next answers are planned
        "/graphql",
        json={"query": q.BRAND_PAGE, "variables": {"first": 100}},
        headers=pair.headers[first],
    )

    # when two readers of one shape, each of other rows, read the brand page in turn
    before = _count("planned")
    data = {}
    for role in (first, second, first, second):
        standard, planned = await pair.both(role, q.BRAND_PAGE, {"first": 100})
        assert planned == standard
        data[role] = planned[1]["data"]

    # then each read its own rows, as the standard executor answers it, from statements
    # built once for both (their identity is a parameter: authz.reader)
    assert _count("planned") == before + 4
    assert data[first] != data[second]
    assert all(data[role]["factories"]["edges"] for role in (first, second))
    assert len(built) == 1


@pytest.mark.writes
async def test_a_revocation_holds_at_once_for_kept_statements(pair: Pair) -> None:
    # given a brand whose page has been planned (its statements built and kept)
    await _same_twice(pair, "brand", q.BRAND_PAGE, {"first": 100})
    standard, planned = await pair.both("brand", q.BRAND_PAGE, {"first": 100})
    assert planned == standard and planned[1]["data"]["factories"]["edges"]

    # when every grant to the brand is revoked
    async with pair.engine.begin() as conn:
        await conn.execute(
            text("UPDATE consent_grant SET revoked_at = :now WHERE grantee_id = :brand"),
            {"now": m.utcnow(), "brand": _pk(pair.ids["brand_org"])},
        )

    # then the next planned page shows none of its factories, as the standard one
    standard, planned = await pair.both("brand", q.BRAND_PAGE, {"first": 100})
    assert planned == standard
    assert planned[1]["data"]["factories"]["edges"] == []


async def test_every_planned_read_passes_the_guard(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the guard's check of the reads run on the session's connection, recorded (the
    # planner's reads do not go through the session's listener: authz.guard.checked)
    from api.planner import plan
    from authz.guard import SCOPE_OPTION, checked

    labels: list[str | None] = []

    def seen(stmt: Any) -> Any:
        labels.append(stmt.get_execution_options().get(SCOPE_OPTION))
        return checked(stmt)

    await _same_twice(pair, "brand", q.BRAND_PAGE, {"first": 100})
    monkeypatch.setattr(plan, "checked", seen)
    # when a planned page is read
    before = _count("planned")
    response = await pair.planned.post(
        "/graphql",
        json={"query": q.BRAND_PAGE, "variables": {"first": 100}},
        headers=pair.headers["brand"],
    )

    # then each of its reads (factories, assessments, findings) went through the guard's
    # check with the label of a scoped statement, and nothing else did; on PostgreSQL the
    # assessments are joined to the factories, a statement of both labels, and the findings
    # statement writes the page's access log (authz.logged)
    assert response.status_code == 200 and _count("planned") == before + 1
    scoped = [label for label in labels if label and not label.startswith("system:")]
    assert scoped == labels
    reads = [[part.split(":")[0] for part in label.split("+")] for label in scoped]
    if pair.engine.dialect.name == "postgresql":
        assert reads == [["factories", "assessments"], ["findings", "access_log"]]
    else:
        assert reads == [["factories"], ["assessments"], ["findings"]]


@pytest.mark.writes  # renames a table (and back)
async def test_a_planned_read_that_fails_answers_as_the_standard_executor(pair: Pair) -> None:
    """The findings table is gone mid-life (a failed statement, as a lost database or a
    timeout gives): the planned read gives up, and the answer, its errors and the access
    log are the standard executor's, not a 500."""
    body = {"query": q.BRAND_PAGE, "variables": {"first": 10}}
    await pair.planned.post("/graphql", json=body, headers=pair.headers["brand"])  # validated
    async with pair.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE finding RENAME TO finding_moved"))
    try:
        before = _count("failed")
        standard, planned = await pair.both(
            "brand", q.BRAND_PAGE, {"first": 10}, no_more_statements=False
        )
        failed = _count("failed") - before
    finally:
        async with pair.engine.begin() as conn:
            await conn.execute(text("ALTER TABLE finding_moved RENAME TO finding"))
    assert failed == 1
    assert planned == standard
    status, answer, _logged = planned
    assert status != 500, answer
    assert answer["errors"][0]["extensions"]["code"] == "INTERNAL", answer
