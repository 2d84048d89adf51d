"""directory: factory managers find the brands and hosts to grant to, and only that."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from demo import DemoWorld
from tests.api.support import (
    SINAR,
    error_codes,
    factory_gid,
)

DIRECTORY = """
query Directory($search: String, $kind: OrganizationKind, $first: Int, $after: String) {
  directory(search: $search, kind: $kind, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id name kind country { code } } }
  }
}
"""

GRANT = """
mutation($input: GrantConsentInput!) {
  grantConsent(input: $input) { grant { grantee { name } } errors { code } }
}
"""

BRANDS_AND_HOSTS = [
    "Northwind Apparel",
    "Harbour & Field Outfitters",
    "Lumen Basics",
    "Open Audit Hub",
    "FairTrace Platform",
]


async def test_a_factory_manager_finds_every_brand_and_host(
    api: Any, world: DemoWorld, manager: Any
) -> None:
    data = await api.gql(DIRECTORY, {"first": 50}, **manager.auth)

    directory = data["directory"]
    assert sorted(e["node"]["name"] for e in directory["edges"]) == sorted(BRANDS_AND_HOSTS)
    assert directory["totalCount"] == len(BRANDS_AND_HOSTS)
    assert {e["node"]["kind"] for e in directory["edges"]} == {"BRAND", "HOST"}
    assert directory["pageInfo"]["hasNextPage"] is False


async def test_a_found_entry_is_a_grantee_id(
    api: Any, world: DemoWorld, session: AsyncSession, manager: Any
) -> None:
    # given Lumen Basics, found by a part of its name in any case
    found = await api.gql(DIRECTORY, {"search": "  lUMEN ", "kind": "BRAND"}, **manager.auth)
    (edge,) = found["directory"]["edges"]
    assert edge["node"]["name"] == "Lumen Basics"

    # when the manager grants to the id found
    data = await api.gql(
        GRANT,
        {
            "input": {
                "factoryId": factory_gid(world, SINAR),
                "granteeId": edge["node"]["id"],
                "scopes": ["ASSESSMENT"],
            }
        },
        **manager.auth,
    )

    # then the grant names it
    assert data["grantConsent"] == {"grant": {"grantee": {"name": "Lumen Basics"}}, "errors": []}


async def test_kind_and_search_narrow_and_pages_go_on(
    api: Any, world: DemoWorld, manager: Any
) -> None:
    hosts = (await api.gql(DIRECTORY, {"kind": "HOST"}, **manager.auth))["directory"]
    assert sorted(e["node"]["name"] for e in hosts["edges"]) == [
        "FairTrace Platform",
        "Open Audit Hub",
    ]
    assert hosts["totalCount"] == 2
    factories = (await api.gql(DIRECTORY, {"kind": "FACTORY"}, **manager.auth))["directory"]
    assert factories == {
        "totalCount": 0,
        "pageInfo": {"hasNextPage": False, "endCursor": None},
        "edges": [],
    }
    # a search is a substring, with LIKE's wildcards taken literally
    assert (await api.gql(DIRECTORY, {"search": "%"}, **manager.auth))["directory"]["edges"] == []

    names = []
    after = None
    while True:
        page = (await api.gql(DIRECTORY, {"first": 2, "after": after}, **manager.auth))["directory"]
        assert page["totalCount"] == len(BRANDS_AND_HOSTS)
        names += [e["node"]["name"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert sorted(names) == sorted(BRANDS_AND_HOSTS)


async def test_the_platform_reads_the_directory(api: Any, world: DemoWorld, admin: Any) -> None:
    data = await api.gql(DIRECTORY, **admin.auth)

    assert data["directory"]["totalCount"] == len(BRANDS_AND_HOSTS)


@pytest.mark.parametrize(
    "caller",
    ["worker_rep", "brand", "other_brand", "assessor", "constituent", "host_key", "anonymous"],
)
async def test_everyone_else_gets_an_empty_directory(
    api: Any, world: DemoWorld, auth_of: dict[str, dict[str, str]], caller: str
) -> None:
    for variables in ({}, {"search": "Northwind"}, {"kind": "HOST"}):
        data = await api.gql(DIRECTORY, variables, **auth_of[caller])

        assert data["directory"] == {
            "totalCount": 0,
            "pageInfo": {"hasNextPage": False, "endCursor": None},
            "edges": [],
        }


@pytest.mark.parametrize(
    "variables",
    [{"search": "x" * 101}, {"search": "a\x00b"}, {"first": -1}, {"after": "garbage"}],
    ids=["long", "control", "negative-first", "bad-cursor"],
)
async def test_bad_arguments_are_refused_with_a_code(
    api: Any, world: DemoWorld, manager: Any, variables: dict[str, Any]
) -> None:
    response = await api.post(DIRECTORY, variables, token=manager.token)

    assert error_codes(response.json()) == ["BAD_ARGUMENT"]
