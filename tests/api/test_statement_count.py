"""No N+1: a nested list costs the same number of SQL statements whatever its length.

Saleor-style query counting: an event listener on the engine counts every statement the
request sends (authentication, the nested reads, the access log write), for a page of two
factories and for a page of all of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

import models as m
from authz.guard import system_read
from bench import queries as q
from core.crypto import KeyMaterial
from demo import DemoWorld
from tests.api.support import NORTHWIND
from tests.builders import days, make_assessment, make_factory, make_finding, make_grant
from tests.world import demo_world, kept_world

# Tests here read one shared copy of the world (the demo and twenty more factories, `world`
# below); a test that writes is marked `writes`.
pytestmark = pytest.mark.reads_only

NESTED = """
query Nested($first: Int) {
  factories(first: $first) { edges { node {
    name
    assessments(first: 1) { totalCount edges { node {
      findings(first: 20) { totalCount edges { node { cluster detail } } }
    } } }
  } } }
}
"""

FACTORY_CARDS = """
query Cards($first: Int) {
  factories(first: $first) { totalCount edges { node {
    name
    organization { name }
    country { code name }
    slcp { gatewayId }
    consentGrants { active grantee { name } }
    selfAssessments { cycle step }
    assessments(first: 2) { edges { node {
      cycle findings(nonCompliantOnly: true) { totalCount }
    } } }
  } } }
}
"""

# Authentication, factories, the first page of assessments (its window count gives
# totalCount; planned on PostgreSQL, joined to the factories' statement), the first page of
# findings (likewise), and the access log write.
NESTED_STATEMENTS = 5
# The same, plus the count of factories, organisations, countries, SLCP visibility, grants
# and their grantees, self-assessments and the non-compliance counts (a host skips the
# reads its scope never allows).
CARD_STATEMENTS = 12
# The benchmark's pages, planned (api.planner): authentication, the factories (their
# country joined, their count a scalar subquery) with, on PostgreSQL, each one's assessment
# page joined (LEFT JOIN LATERAL; on SQLite a statement of its own), the findings page (the
# light page asks only its totalCount: a column of the assessment rows), and the access log
# write (on PostgreSQL in the page's last statement: authz.logged). The standard executor
# runs 6 for each.
PLANNED_STATEMENTS = {
    "postgres": {"brand": 3, "light": 2},
    "sqlite": {"brand": 5, "light": 4},
}
EXTRA_FACTORIES = 20

CLUSTERS = list(m.ComplianceCluster)


@contextmanager
def count_statements(engine: AsyncEngine) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


@pytest.fixture
async def world(session: AsyncSession, keys: KeyMaterial, api: Any) -> DemoWorld:
    """The demo plus twenty Indonesian factories, each with a released assessment of five
    findings and a grant to Northwind: built once, then kept (tests/world.py)."""

    async def build() -> DemoWorld:
        demo = await demo_world(session, keys, api)
        await session.rollback()  # a fresh snapshot: the copy was written on another connection
        northwind = await session.scalar(
            system_read(
                select(m.Organization).where(m.Organization.id == demo.organization_ids[NORTHWIND]),
                "test: the brand to grant to",
            )
        )
        assert northwind is not None
        for i in range(EXTRA_FACTORIES):
            factory = await make_factory(session, "ID")
            assessment = await make_assessment(session, factory, released_on=days(-30))
            for cluster in CLUSTERS[i % 3 : i % 3 + 5]:
                await make_finding(session, assessment, keys, cluster=cluster, detail=f"note {i}")
            await make_grant(session, factory, northwind)
        await session.commit()
        return demo

    return await kept_world(api.runtime.engine, "demo and twenty factories", build)


@pytest.fixture
def bigger_world(world: DemoWorld) -> int:
    """The number of factories the platform sees in that world."""
    return len(world.factory_ids) + EXTRA_FACTORIES


async def _statements_for(
    api: Any, document: str, first: int, auth: dict[str, str]
) -> tuple[int, int]:
    """(statements sent, factories returned) for one request."""
    with count_statements(api.runtime.engine) as statements:
        data = await api.gql(document, {"first": first}, **auth)
    return len(statements), len(data["factories"]["edges"])


@pytest.mark.parametrize("caller", ["brand", "admin"], ids=["brand", "platform"])
async def test_a_nested_list_costs_the_same_for_two_factories_and_for_all(
    api: Any, auth_of: dict[str, dict[str, str]], bigger_world: int, caller: str
) -> None:
    # given a page of two factories, and a page of every factory the caller sees, the
    # document once validated (it is planned from its second request on: both pages are)
    await _statements_for(api, NESTED, 2, auth_of[caller])
    few, few_rows = await _statements_for(api, NESTED, 2, auth_of[caller])
    many, many_rows = await _statements_for(api, NESTED, 100, auth_of[caller])

    # then both pages cost the same few statements
    assert (few_rows, many_rows > 20) == (2, True)
    assert many == few, f"{few} statements for 2 factories, {many} for {many_rows}"
    assert few <= NESTED_STATEMENTS


@pytest.mark.parametrize(
    "caller", ["brand", "admin", "host_key"], ids=["brand", "platform", "host"]
)
async def test_a_page_of_factory_cards_does_not_grow_with_its_length(
    api: Any, auth_of: dict[str, dict[str, str]], bigger_world: int, caller: str
) -> None:
    few, _ = await _statements_for(api, FACTORY_CARDS, 2, auth_of[caller])
    many, many_rows = await _statements_for(api, FACTORY_CARDS, 100, auth_of[caller])

    assert many_rows > 2
    assert many == few, f"{few} statements for 2 factories, {many} for {many_rows}"
    assert few <= CARD_STATEMENTS


@pytest.mark.parametrize("document", [q.BRAND_PAGE, q.LIGHT_PAGE], ids=["brand", "light"])
@pytest.mark.parametrize("caller", ["brand", "admin"], ids=["brand", "platform"])
async def test_a_planned_page_costs_fewer_statements_whatever_its_length(
    api: Any,
    auth_of: dict[str, dict[str, str]],
    bigger_world: int,
    backend: str,
    caller: str,
    document: str,
) -> None:
    # once to be validated (a document is planned from its second request on); the light
    # page has no $first: its 20 factories are measured twice
    await _statements_for(api, document, 2, auth_of[caller])
    few, few_rows = await _statements_for(api, document, 2, auth_of[caller])
    many, many_rows = await _statements_for(api, document, 100, auth_of[caller])

    assert many_rows > 2 if document is q.BRAND_PAGE else few_rows == many_rows > 2
    assert many == few, f"{few} statements for {few_rows} factories, {many} for {many_rows}"
    assert few <= PLANNED_STATEMENTS[backend]["brand" if document is q.BRAND_PAGE else "light"]


async def test_the_nested_answer_is_complete(api: Any, brand: Any, bigger_world: int) -> None:
    # the count above is only worth something if the big page really holds the nested rows
    data = await api.gql(NESTED, {"first": 100}, **brand.auth)

    edges = data["factories"]["edges"]
    built = [e["node"] for e in edges if e["node"]["name"].startswith("Factory ")]
    assert len(built) == EXTRA_FACTORIES
    for node in built:
        (assessment,) = node["assessments"]["edges"]
        assert node["assessments"]["totalCount"] == 1
        findings = assessment["node"]["findings"]
        assert findings["totalCount"] == len(findings["edges"]) == 5
        assert all(f["node"]["detail"].startswith("note ") for f in findings["edges"])
