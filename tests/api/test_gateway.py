"""What hosts pull: `gatewayExports` (their own, over an API key) and `enrolledFactories`."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from core.crypto import KeyMaterial
from demo import DemoWorld
from tests.api.support import DHAKA, SINAR, error_codes, gid, scalar
from tests.world import demo_exported, demo_world

# Tests here read one shared copy of the world (the demo, or the demo exported: `world`); a
# test that writes is marked `writes`.
pytestmark = pytest.mark.reads_only

EXPORTS = """
query Exports($first: Int, $after: String) {
  gatewayExports(first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id factoryGatewayId cycle createdAt releaseOn contentSha256 envelope } }
  }
}
"""

ENROLLED = """
query Enrolled($first: Int, $after: String) {
  enrolledFactories(first: $first, after: $after) { name country enrolledOn slcpGatewayId cursor }
}
"""

ACCESS_LOG = """
query AccessLog($id: ID!) {
  factory(id: $id) { accessLog { edges { node { operation organization { name } } } } }
}
"""


REVOKE = """
mutation Revoke($input: RevokeConsentInput!) {
  revokeConsent(input: $input) { grant { active } errors { code } }
}
"""

# Open Audit Hub's exportable cycles in the demo: Sinar Garmen 1 and 2, Cahaya Tekstil 2 (its
# cycle 1 was self-assessed late), Dhaka Knitwear 1 and 2 (granted after the assessment,
# which counts: Q27), Saigon Stitch 1 and 2. Phnom Penh waits for Cambodia's roll-out.
OPEN_AUDIT_HUB_EXPORTS = sorted(
    [
        ("SLCP-ID-000101", 1),
        ("SLCP-ID-000101", 2),
        ("SLCP-ID-000102", 2),
        ("SLCP-BD-000201", 1),
        ("SLCP-BD-000201", 2),
        ("SLCP-VN-000301", 1),
        ("SLCP-VN-000301", 2),
    ]
)


@pytest.fixture
async def world(
    request: pytest.FixtureRequest, session: AsyncSession, keys: KeyMaterial, api: Any
) -> DemoWorld:
    """The demo world; for a test that asks for `exported`, the demo after the export job ran
    once over it (`demo_exported`: a world of its own, made once per database)."""
    if "exported" in request.fixturenames:
        return await demo_exported(session, keys, api)
    return await demo_world(session, keys, api)


@pytest.fixture
def exported(world: DemoWorld) -> None:
    """The export job has run once over the demo world (`world` restores that world)."""


async def test_gateway_exports_are_empty_before_the_job_runs(
    api: Any, host_key: dict[str, str]
) -> None:
    data = (await api.gql(EXPORTS, **host_key))["gatewayExports"]

    assert data == {"pageInfo": {"hasNextPage": False, "endCursor": None}, "edges": []}


async def test_gateway_exports_give_a_host_its_exports(
    api: Any, host_key: dict[str, str], exported: None
) -> None:
    data = (await api.gql(EXPORTS, {"first": 100}, **host_key))["gatewayExports"]

    nodes = [e["node"] for e in data["edges"]]
    assert sorted((n["factoryGatewayId"], n["cycle"]) for n in nodes) == OPEN_AUDIT_HUB_EXPORTS
    assert all(len(n["contentSha256"]) == 64 for n in nodes)
    assert all(n["envelope"].count(".") == 4 for n in nodes)  # compact JWE: five parts
    created = [n["createdAt"] for n in nodes]
    assert created == sorted(created, reverse=True)  # newest first


async def test_gateway_exports_page(api: Any, host_key: dict[str, str], exported: None) -> None:
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        data = (await api.gql(EXPORTS, {"first": 3, "after": after}, **host_key))["gatewayExports"]
        seen += [e["node"]["id"] for e in data["edges"]]
        pages += 1
        if not data["pageInfo"]["hasNextPage"]:
            break
        after = data["pageInfo"]["endCursor"]

    assert pages == 3
    assert len(seen) == len(set(seen)) == len(OPEN_AUDIT_HUB_EXPORTS)


@pytest.mark.parametrize(
    "caller",
    ["brand", "manager", "assessor", "admin", "anonymous"],
    ids=["brand", "factory", "programme", "platform", "public"],
)
async def test_gateway_exports_are_empty_for_everyone_but_the_host(
    api: Any, auth_of: dict[str, dict[str, str]], exported: None, caller: str
) -> None:
    data = (await api.gql(EXPORTS, **auth_of[caller]))["gatewayExports"]

    assert data["edges"] == []


@pytest.mark.writes
async def test_gateway_exports_end_with_the_grant(
    api: Any,
    world: DemoWorld,
    session: AsyncSession,
    host_key: dict[str, str],
    login: Any,
    exported: None,
) -> None:
    # given Dhaka Knitwear revokes Open Audit Hub's grant
    grant = await scalar(
        session,
        "SELECT g.id FROM consent_grant g JOIN organization o ON o.id = g.grantee_id "
        "WHERE g.factory_id = :f AND o.name = 'Open Audit Hub'",
        f=world.factory_ids[DHAKA],
    )
    dhaka = await login("manager@dhaka-knitwear.demo")
    revoked = await api.gql(
        REVOKE, {"input": {"grantId": gid("ConsentGrant", grant)}}, **dhaka.auth
    )
    assert revoked["revokeConsent"] == {"grant": {"active": False}, "errors": []}

    # when the host pulls its exports
    data = (await api.gql(EXPORTS, {"first": 100}, **host_key))["gatewayExports"]

    # then Dhaka Knitwear's are gone
    assert "SLCP-BD-000201" not in {e["node"]["factoryGatewayId"] for e in data["edges"]}
    assert len(data["edges"]) == len(OPEN_AUDIT_HUB_EXPORTS) - 2


async def test_gateway_export_pulls_are_in_the_factorys_access_log(
    api: Any, world: DemoWorld, host_key: dict[str, str], manager: Any, exported: None
) -> None:
    await api.gql(EXPORTS, **host_key)

    log = await api.gql(
        ACCESS_LOG,
        {"id": gid("Factory", world.factory_ids[SINAR])},
        **manager.auth,
    )

    assert {
        "operation": "query:gatewayExports",
        "organization": {"name": "Open Audit Hub"},
    } in [e["node"] for e in log["factory"]["accessLog"]["edges"]]


@pytest.mark.parametrize(
    "variables",
    [{"first": 101}, {"first": -5}, {"after": "garbage"}, {"after": "eHw5"}],  # "x|9"
    ids=["first-over-cap", "negative-first", "garbage-cursor", "cursor-with-a-bad-date"],
)
async def test_gateway_exports_refuse_bad_arguments(
    api: Any, host_key: dict[str, str], variables: dict[str, Any]
) -> None:
    response = await api.post(EXPORTS, variables, **host_key)

    assert error_codes(response.json()) == ["BAD_ARGUMENT"]


# -- enrolledFactories -----------------------------------------------------------------------


@pytest.mark.parametrize("caller", ["host_key", "admin"], ids=["host", "platform"])
async def test_enrolled_factories_list_every_enrolled_factory(
    api: Any, auth_of: dict[str, dict[str, str]], caller: str
) -> None:
    rows = (await api.gql(ENROLLED, {"first": 100}, **auth_of[caller]))["enrolledFactories"]

    assert len(rows) == 12
    by_name = {r["name"]: r for r in rows}
    assert {k: by_name[SINAR][k] for k in ("country", "enrolledOn", "slcpGatewayId")} == {
        "country": "ID",
        "enrolledOn": "2023-11-06",
        "slcpGatewayId": "SLCP-ID-000101",
    }
    assert by_name["PT Mitra Busana Abadi"]["slcpGatewayId"] is None


async def test_enrolled_factories_page_with_cursor(api: Any, host_key: dict[str, str]) -> None:
    first = (await api.gql(ENROLLED, {"first": 5}, **host_key))["enrolledFactories"]
    rest = (await api.gql(ENROLLED, {"first": 100, "after": first[-1]["cursor"]}, **host_key))[
        "enrolledFactories"
    ]

    assert len(first) == 5 and len(rest) == 7
    assert not {r["name"] for r in first} & {r["name"] for r in rest}


@pytest.mark.parametrize(
    "caller",
    ["brand", "manager", "assessor", "constituent", "anonymous"],
    ids=["brand-rule-8", "factory", "programme", "constituent", "public"],
)
async def test_enrolled_factories_are_empty_for_everyone_else(
    api: Any, auth_of: dict[str, dict[str, str]], caller: str
) -> None:
    assert (await api.gql(ENROLLED, **auth_of[caller]))["enrolledFactories"] == []


@pytest.mark.parametrize(
    "variables",
    [{"first": 1000}, {"after": "bm90LWEtbnVtYmVy"}],  # "not-a-number"
    ids=["first-over-cap", "garbage-cursor"],
)
async def test_enrolled_factories_refuse_bad_arguments(
    api: Any, host_key: dict[str, str], variables: dict[str, Any]
) -> None:
    response = await api.post(ENROLLED, variables, **host_key)

    assert error_codes(response.json()) == ["BAD_ARGUMENT"]
