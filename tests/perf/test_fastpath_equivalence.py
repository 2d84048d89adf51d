"""Given one world and two apps, the standard executor and the fast one (api.fastpath),
when the benchmark's queries and random queries are sent as several principals,
then both answer exactly the same JSON (status, data and errors), write the same access-log
rows and run the same number of SQL statements: the fast way reads no more and logs no less.
And every resolver the fast way calls directly (marked ``@plain``) only reads its object."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInterfaceType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    get_named_type,
    is_leaf_type,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

import models as m
from api.fastpath import FastExecutor
from api.ids import to_global_id
from bench import queries as q
from core.runtime import Runtime
from tests.builders import (
    days,
    make_assessment,
    make_country,
    make_cycle,
    make_factory,
    make_finding,
    make_grant,
    make_org,
    make_self_assessment,
    make_user,
)
from tests.world import kept_world

ROLES = ("brand", "factory", "programme", "platform", "anonymous")

# Every test reads the same world (kept between tests: tests/world.py); one that writes is
# marked `writes`.
pytestmark = pytest.mark.reads_only


ACCESS_LOG = text(
    "SELECT factory_id, organization_id, user_id, api_key_id, operation FROM access_read "
    "WHERE id > :after ORDER BY factory_id, organization_id, operation"
)


@dataclass
class Pair:
    standard: httpx.AsyncClient
    fast: httpx.AsyncClient
    tokens: dict[str, str | None]
    ids: dict[str, str]
    schema: GraphQLSchema
    engine: AsyncEngine
    statements: list[str]

    async def both(
        self, role: str, query: str, variables: dict[str, Any] | None = None
    ) -> tuple[Any, Any]:
        """Each app's (status, JSON, access-log rows written, SQL statements run)."""
        token = self.tokens[role]
        headers = {} if token is None else {"authorization": f"Bearer {token}"}
        body = {"query": query, "variables": variables}
        answers = []
        for client in (self.standard, self.fast):
            after = await self._last_access_event()
            self.statements.clear()
            response = await client.post("/graphql", json=body, headers=headers)
            count = len(self.statements)
            async with self.engine.connect() as conn:
                logged = [tuple(r) for r in await conn.execute(ACCESS_LOG, {"after": after})]
            answers.append((response.status_code, response.json(), logged, count))
        return answers[0], answers[1]

    async def _last_access_event(self) -> int:
        async with self.engine.connect() as conn:
            found = await conn.scalar(text("SELECT max(id) FROM access_event"))
        return int(found or 0)


async def _world(session: Any, keys: Any) -> tuple[dict[str, int], dict[str, str]]:
    """The world both apps read: (user id by role, global ids by name), committed."""
    await make_country(session, "ID")
    await make_country(session, "VN")
    shared = await make_factory(
        session, "ID", name="Shared", registered_on=days(-900), sharing_confirmed_on=days(-900)
    )
    narrow = await make_factory(session, "ID", name="Narrow")
    revoked = await make_factory(session, "VN", name="Revoked")
    brand = await make_org(session, m.OrganizationKind.BRAND, name="Brand")
    ids = {
        "shared": to_global_id("Factory", shared.id),
        "narrow": to_global_id("Factory", narrow.id),
        "revoked": to_global_id("Factory", revoked.id),
        "missing": to_global_id("Factory", 999999),
    }
    for number, factory in enumerate((shared, narrow, revoked, shared), start=1):
        released = factory is not narrow or number == 2
        a = await make_assessment(
            session,
            factory,
            cycle=number if factory is shared else 1 + number,
            assessed_on=days(-400 + number * 50),
            released_on=days(-390 + number * 50) if released else None,
            kind=m.AssessmentKind.VIRTUAL_COMPLIANCE_CHECK
            if number == 3
            else m.AssessmentKind.ONSITE,
        )
        ids[f"assessment{number}"] = to_global_id("Assessment", a.id)
        for i, cluster in enumerate(m.ComplianceCluster):
            f = await make_finding(
                session,
                a,
                keys,
                cluster=cluster,
                non_compliant=i % 2 == 0,
                public=i % 3 == 0,
                zero_tolerance=i == 0,
                detail=f"detail {number}.{i}" if i % 4 else None,
                code=f"Q.{number}.{i}",
            )
            ids.setdefault(f"finding{number}", to_global_id("Finding", f.id))
    cycle = await make_cycle(session, shared, 9)
    await make_self_assessment(session, shared, keys, cycle=cycle)
    await make_grant(session, shared, brand)
    await make_grant(session, narrow, brand, scopes=(m.DataScope.SELF_ASSESSMENT,))
    await make_grant(session, revoked, brand, revoked=True)
    await make_grant(
        session,
        narrow,
        brand,
        expires_at=m.utcnow() - dt.timedelta(days=1),
        granted_at=m.utcnow() - dt.timedelta(days=20),
    )
    programme = await make_org(session, m.OrganizationKind.PROGRAMME, country="ID")
    platform = await make_org(session, m.OrganizationKind.PLATFORM)
    shared_org = SimpleNamespace(id=shared.organization_id)  # make_user needs only its id
    users = {
        "brand": await make_user(session, brand, m.Role.BRAND_VIEWER),
        "factory": await make_user(session, shared_org, m.Role.FACTORY_MANAGER),
        "programme": await make_user(session, programme, m.Role.ASSESSOR),
        "platform": await make_user(session, platform, m.Role.PLATFORM_ADMIN),
    }
    ids["brand_org"] = to_global_id("Organization", brand.id)
    await session.commit()
    return {role: user.id for role, user in users.items()}, ids


@pytest.fixture
async def pair(
    runtime: Runtime, session: Any, keys: Any, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Pair]:
    from api.app import create_app

    users, ids = await kept_world(
        runtime.engine, "fastpath equivalence", lambda: _world(session, keys)
    )
    # Planned reads off in both: these compare the executors (test_planner_equivalence.py
    # compares the planner with the standard executor).
    standard = runtime.settings.model_copy(update={"fast_executor": False, "planned_reads": False})
    standard_app = create_app(replace(runtime, settings=standard))
    fast = runtime.settings.model_copy(update={"fast_executor": True, "planned_reads": False})
    fast_app = create_app(replace(runtime, settings=fast))
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", count)
    tokens: dict[str, str | None] = {
        role: runtime.token_service.issue(user_id, 600) for role, user_id in users.items()
    }
    tokens["anonymous"] = None
    async with (
        standard_app.router.lifespan_context(standard_app),
        fast_app.router.lifespan_context(fast_app),
    ):
        a = httpx.AsyncClient(transport=httpx.ASGITransport(app=standard_app), base_url="http://s")
        b = httpx.AsyncClient(transport=httpx.ASGITransport(app=fast_app), base_url="http://f")
        async with a, b:
            from api.schema import build_schema

            schema = build_schema(runtime.settings)._schema
            try:
                yield Pair(a, b, tokens, ids, schema, runtime.engine, statements)
            finally:
                event.remove(runtime.engine.sync_engine, "before_cursor_execute", count)


def test_the_setting_switches_the_executor(monkeypatch: pytest.MonkeyPatch) -> None:
    from api.schema import build_schema
    from core.settings import Settings

    monkeypatch.setenv("MILLGATE_FAST_EXECUTOR", "false")
    assert not Settings().fast_executor
    assert build_schema(Settings()).execution_context_class is not FastExecutor
    monkeypatch.delenv("MILLGATE_FAST_EXECUTOR")
    assert build_schema(Settings()).execution_context_class is FastExecutor
    assert build_schema(Settings(fast_executor=False)).execution_context_class is not FastExecutor


BENCHMARK = [
    pytest.param(q.BRAND_PAGE, {"first": 100}, id="brand-page"),
    pytest.param(q.BRAND_PAGE, {"first": 1}, id="brand-page-of-one"),
    pytest.param(q.BRAND_PAGE, {"first": 1000}, id="brand-page-too-large"),
    pytest.param(q.LIGHT_PAGE, None, id="light-page"),
    pytest.param(q.ONE_FACTORY, "shared", id="one-factory"),
    pytest.param(q.ONE_FACTORY, "narrow", id="one-factory-narrow-grant"),
    pytest.param(q.ONE_FACTORY, "revoked", id="one-factory-revoked"),
    pytest.param(q.ONE_FACTORY, "missing", id="no-such-factory"),
    pytest.param(q.EXPORTS_PAGE, None, id="exports"),
    pytest.param(q.STATISTICS, {"country": "ID"}, id="statistics"),
    pytest.param(q.STATISTICS, {"country": "not a country"}, id="statistics-bad-country"),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("query", "variables"), BENCHMARK)
async def test_benchmark_queries_answer_the_same(
    pair: Pair, role: str, query: str, variables: Any
) -> None:
    if isinstance(variables, str):
        variables = {"id": pair.ids[variables]}
    standard, fast = await pair.both(role, query, variables)
    assert fast == standard


EDGE_CASES = [
    # aliases, fragments, @skip/@include, __typename, repeated fields merged
    """query ($yes: Boolean!, $no: Boolean!) { a: factories(first: 2) { ...Page
       b: edges @include(if: $yes) { __typename n: node { __typename x: name y: name
       ... on Factory @skip(if: $no) { id enrolledOn } } }
       c: edges @include(if: $no) { cursor } } }
       fragment Page on FactoryConnection { __typename totalCount pageInfo { ...PI }
       edges { cursor } }
       fragment PI on PageInfo { hasNextPage endCursor __typename }""",
    # interfaces through node(), abstract completion
    """query ($f: ID!, $a: ID!, $x: ID!) { f: node(id: $f) { __typename id ... on Factory { name
       assessments { edges { node { id findings(first: 3) { edges { node { id detail } } } } } } } }
       a: node(id: $a) { id ... on Assessment { virtual kind status findings { totalCount } } }
       x: node(id: $x) { __typename id ... on Finding { cluster detail questionCode } } }""",
    # errors: bad argument inside a list, bad cursor, null propagation to a nullable parent
    """{ factories(first: 5) { edges { node { name assessments(first: 5, after: "bad!") {
       totalCount } } } } }""",
    """{ factories(first: 5) { edges { node { name assessments { edges { node {
       findings(first: -1) { totalCount } } } } } } } }""",
    # a field that does not exist, a syntax error, an unknown operation name
    "{ factories { edges { node { nope } } } }",
    "{ factories { edges { node { name }",
    "query A { viewer { role } } query B { viewer { factoryId } }",
    # the viewer and every list of one factory
    """{ viewer { role factoryId user { email role organization { name kind } }
       organization { __typename id name kind labourInspectorate hasHostKey
       country { code } } } }""",
    """query ($f: ID!) { factory(id: $f) { selfAssessments { id cycle step toolVersion submittedAt }
       consentGrants { id scopes active grantedAt expiresAt revokedAt factory { name }
       grantee { name kind } } accessLog(first: 3) { edges { cursor node { at operation via
       organization { name } } } pageInfo { hasNextPage } } slcp { gatewayId }
       gatewayEligibility(cycle: 1) { eligible reasons gatewayReleaseOn } } }""",
    """{ publicFindings(first: 5) { factoryName country assessedOn cluster compliancePoint }
       enrolledFactories(first: 3) { name country enrolledOn slcpGatewayId cursor }
       organizations { id name kind } }""",
    # a mutation: serial root fields, payloads with typed errors
    """mutation ($f: ID!, $b: ID!) { grantConsent(input: {factoryId: $f, granteeId: $b,
       scopes: []}) { grant { id } errors { code message field } __typename } }""",
]


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
    standard, fast = await pair.both(role, query, used or None)
    assert fast == standard


# --- random documents ---------------------------------------------------------------------

ARGUMENT_VALUES: dict[str, list[str]] = {
    "first": ["0", "1", "2", "3", "20", "100", "101", "-1"],
    "after": ['"MQ"', '"bad cursor"', '""', '"MjAyNC0wMS0wMXwx"'],
    "country": ['"ID"', '"VN"', '"id"', '"XYZ"'],
    "cycle": ["1", "2", "9"],
    "nonCompliantOnly": ["true", "false", "null"],
}
MUTATION_FREE_ROOTS = (
    "node",
    "viewer",
    "factories",
    "factory",
    "gatewayExports",
    "countryStatistics",
    "publicFindings",
    "zeroToleranceFindings",
    "enrolledFactories",
    "organizations",
)


@st.composite
def documents(draw: st.DrawFn, schema: GraphQLSchema, ids: dict[str, str]) -> str:
    counter = [0]

    def alias() -> str:
        counter[0] += 1
        return f"a{counter[0]}: " if draw(st.integers(0, 3)) == 0 else ""

    def directive() -> str:
        pick = draw(st.integers(0, 7))
        return {
            0: " @skip(if: true)",
            1: " @include(if: false)",
            2: " @include(if: true)",
            3: " @skip(if: $off)",
            4: " @include(if: $on)",
        }.get(pick, "")

    def arguments(field: Any) -> str:
        parts = []
        for name, arg in field.args.items():
            required = isinstance(arg.type, GraphQLNonNull)
            if not required and draw(st.booleans()):
                continue
            named = get_named_type(arg.type)
            if name == "id":
                value = f'"{draw(st.sampled_from(sorted(ids.values())))}"'
            elif isinstance(named, GraphQLEnumType):
                value = draw(st.sampled_from(sorted(named.values)))
            elif name in ARGUMENT_VALUES:
                value = draw(st.sampled_from(ARGUMENT_VALUES[name]))
            else:
                return "SKIP"
            parts.append(f"{name}: {value}")
        return f"({', '.join(parts)})" if parts else ""

    def selection(type_: Any, depth: int) -> str:
        if isinstance(type_, GraphQLInterfaceType | GraphQLUnionType):
            possible = schema.get_possible_types(type_)
            chosen = draw(
                st.lists(
                    st.sampled_from(possible), min_size=1, max_size=2, unique_by=lambda t: t.name
                )
            )
            parts = ["__typename"] + [
                f"... on {t.name}{directive()} {{ {selection(t, depth)} }}" for t in chosen
            ]
            if isinstance(type_, GraphQLInterfaceType):
                parts.append("id")
            return " ".join(parts)
        assert isinstance(type_, GraphQLObjectType)
        names = sorted(type_.fields)
        picked = draw(st.lists(st.sampled_from(names), min_size=1, max_size=5))
        parts = []
        for name in picked:
            field = type_.fields[name]
            named = get_named_type(field.type)
            args = arguments(field)
            if args == "SKIP":
                continue
            if is_leaf_type(named):
                parts.append(f"{alias()}{name}{args}{directive()}")
            elif depth > 0:
                parts.append(
                    f"{alias()}{name}{args}{directive()} {{ {selection(named, depth - 1)} }}"
                )
        if draw(st.integers(0, 4)) == 0:
            parts.append(f"... on {type_.name} {{ __typename }}")
        return " ".join(parts) or "__typename"

    query_type = schema.query_type
    assert query_type is not None
    roots = draw(st.lists(st.sampled_from(MUTATION_FREE_ROOTS), min_size=1, max_size=3))
    parts = []
    for name in roots:
        field = query_type.fields[name]
        args = arguments(field)
        if args == "SKIP":
            continue
        named = get_named_type(field.type)
        body = "" if is_leaf_type(named) else f" {{ {selection(named, draw(st.integers(1, 5)))} }}"
        parts.append(f"{alias()}{name}{args}{body}")
    body = " ".join(parts) or "__typename"
    used = [f"${v}: Boolean!" for v in ("on", "off") if f"${v})" in body]
    return f"query ({', '.join(used)}) {{ {body} }}" if used else f"{{ {body} }}"


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
    standard, fast = await pair.both(role, document, variables or None)
    assert fast == standard, json.dumps({"document": document, "role": role})
    print(
        standard[0],
        "errors" in standard[1],
        len(json.dumps(standard[1])),
        document[:150],
    )
