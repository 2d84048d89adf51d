"""Counts, totalCount and hasNextPage count what the caller sees and nothing else: no
hidden factory, draft, future release, other grantee's grant or unscoped row shows up as a
number or as one more page."""

from __future__ import annotations

from typing import Any

import pytest

from demo import DemoWorld
from tests.adversarial.support import DHAKA, GAZIPUR, HANOI, KAMPONG, SINAR, gid
from tests.world import People

# Tests here read one shared copy of the world; a test that writes is marked `writes`.
pytestmark = pytest.mark.reads_only

FACTORIES = """query($first: Int, $after: String, $country: String) {
  factories(first: $first, after: $after, country: $country) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { name } } } }"""
ASSESSMENTS = """query($id: ID!, $first: Int) { factory(id: $id) {
  assessments(first: $first) { totalCount pageInfo { hasNextPage } edges { node { cycle status
    findings(first: 100) { totalCount pageInfo { hasNextPage } edges { node { id } } } } } }
  consentGrants { id } selfAssessments { id }
  accessLog(first: 1) { pageInfo { hasNextPage } edges { node { at } } }
  auditLog(first: 1) { pageInfo { hasNextPage } edges { node { seq } } } } }"""


async def test_the_brand_counts_exactly_its_granted_factories(
    api: Any, world: DemoWorld, people: People
) -> None:
    all_ = (await api.gql(FACTORIES, {"first": 100}, **people.brand.auth))["factories"]
    two = (await api.gql(FACTORIES, {"first": 2}, **people.brand.auth))["factories"]
    rest = (
        await api.gql(
            FACTORIES, {"first": 2, "after": two["pageInfo"]["endCursor"]}, **people.brand.auth
        )
    )["factories"]
    exact = (await api.gql(FACTORIES, {"first": 3}, **people.brand.auth))["factories"]
    indonesia = (await api.gql(FACTORIES, {"country": "ID"}, **people.brand.auth))["factories"]
    nowhere = (await api.gql(FACTORIES, {"country": "ET"}, **people.brand.auth))["factories"]

    assert {e["node"]["name"] for e in all_["edges"]} == {SINAR, DHAKA, KAMPONG}
    assert all_["totalCount"] == two["totalCount"] == exact["totalCount"] == 3
    assert two["pageInfo"]["hasNextPage"] is True
    assert len(rest["edges"]) == 1 and rest["pageInfo"]["hasNextPage"] is False
    assert exact["pageInfo"]["hasNextPage"] is False  # no hidden fourth row behind the page
    # Indonesia has three factories; the brand was granted one.
    assert indonesia["totalCount"] == 1 and indonesia["pageInfo"]["hasNextPage"] is False
    assert nowhere == {
        "totalCount": 0,
        "pageInfo": {"hasNextPage": False, "endCursor": None},
        "edges": [],
    }


async def test_a_granted_brand_counts_no_draft(api: Any, world: DemoWorld, people: People) -> None:
    """Gazipur granted Lumen ASSESSMENT; its cycle 2 is a draft, two rows in the database."""
    gazipur = gid("Factory", world.factory_ids[GAZIPUR])

    one = (await api.gql(ASSESSMENTS, {"id": gazipur, "first": 1}, **people.lumen.auth))["factory"]
    many = (await api.gql(ASSESSMENTS, {"id": gazipur, "first": 50}, **people.lumen.auth))[
        "factory"
    ]

    for view in (one, many):
        assert view["assessments"]["totalCount"] == 1
        assert view["assessments"]["pageInfo"]["hasNextPage"] is False
        assert [e["node"]["status"] for e in view["assessments"]["edges"]] == ["RELEASED"]
    findings = many["assessments"]["edges"][0]["node"]["findings"]
    assert findings["totalCount"] == len(findings["edges"])
    assert findings["pageInfo"]["hasNextPage"] is False


async def test_a_release_date_still_ahead_counts_as_nothing(
    api: Any, world: DemoWorld, people: People
) -> None:
    """Hanoi's cycle 2 is released on a date still to come; Lumen holds both scopes."""
    hanoi = gid("Factory", world.factory_ids[HANOI])

    view = (await api.gql(ASSESSMENTS, {"id": hanoi, "first": 1}, **people.lumen.auth))["factory"]

    assert view["assessments"]["totalCount"] == 1
    assert view["assessments"]["pageInfo"]["hasNextPage"] is False
    assert [e["node"]["cycle"] for e in view["assessments"]["edges"]] == [1]


async def test_lists_under_a_granted_factory_hold_only_the_callers_rows(
    api: Any, world: DemoWorld, people: People
) -> None:
    sinar = gid("Factory", world.factory_ids[SINAR])
    dhaka = gid("Factory", world.factory_ids[DHAKA])

    on_sinar = (await api.gql(ASSESSMENTS, {"id": sinar, "first": 1}, **people.brand.auth))[
        "factory"
    ]
    on_dhaka = (await api.gql(ASSESSMENTS, {"id": dhaka, "first": 1}, **people.brand.auth))[
        "factory"
    ]
    own = (await api.gql(ASSESSMENTS, {"id": sinar, "first": 1}, **people.manager.auth))["factory"]

    # Sinar has three grants; Northwind sees the one made to it.
    assert len(own["consentGrants"]) == 3
    assert len(on_sinar["consentGrants"]) == 1
    # Dhaka granted Northwind ASSESSMENT only: no self-assessment, not even a count.
    assert on_dhaka["selfAssessments"] == []
    # The access log and the audit log are the factory's own.
    for view in (on_sinar, on_dhaka):
        assert view["accessLog"] == {"pageInfo": {"hasNextPage": False}, "edges": []}
        assert view["auditLog"] == {"pageInfo": {"hasNextPage": False}, "edges": []}


async def test_views_of_no_single_factory_reveal_no_small_numbers(
    api: Any, world: DemoWorld, people: People
) -> None:
    stats = await api.gql(
        '{ countryStatistics(country: "ID") { cluster factories nonComplianceRate suppressed } }',
        **people.constituent.auth,
    )
    # Indonesia has three factories: every cell would point at one of them.
    assert all(
        c["suppressed"] and c["factories"] == 0 and c["nonComplianceRate"] is None
        for c in stats["countryStatistics"]
    )
    for caller in ("brand", "manager", "anonymous"):
        view = await api.gql(
            '{ countryStatistics(country: "ID") { factories } enrolledFactories { name }'
            " gatewayExports { edges { node { id } } pageInfo { hasNextPage } } }",
            **people.by_name(caller),
        )
        assert view == {
            "countryStatistics": [],
            "enrolledFactories": [],
            "gatewayExports": {"edges": [], "pageInfo": {"hasNextPage": False}},
        }, caller


async def test_the_brand_learns_nothing_of_slcp_participation(
    api: Any, world: DemoWorld, people: People
) -> None:
    """Rule 8: Sinar and Dhaka take part in SLCP, Kampong Speu does not; to the brand all
    three look the same."""
    view = await api.gql(
        "{ factories { edges { node { name slcp { gatewayId } gatewayEligibility(cycle: 1)"
        " { eligible } } } } }",
        **people.brand.auth,
    )

    nodes = [e["node"] for e in view["factories"]["edges"]]
    assert len(nodes) == 3
    assert all(n["slcp"] is None and n["gatewayEligibility"] is None for n in nodes)
