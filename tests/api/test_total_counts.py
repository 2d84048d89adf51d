"""totalCount of the access log, the audit log and the Gateway exports: all rows, any page."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from demo import DemoWorld
from exports.job import run_once
from tests.api.support import SINAR, factory_gid, org_gid, scalar

ACCESS = """
query($id: ID!, $after: String) { factory(id: $id) {
  accessLog(first: 1, after: $after) { totalCount pageInfo { hasNextPage endCursor } }
  auditLog(first: 1) { totalCount edges { cursor } }
} }
"""
GRANT = """
mutation($input: GrantConsentInput!) { grantConsent(input: $input) { errors { code } } }
"""
BRAND_READ = "query($id: ID!) { factory(id: $id) { name } }"
EXPORTS = "query($after: String) { gatewayExports(first: 1, after: $after) { totalCount edges { cursor } pageInfo { endCursor } } }"  # noqa: E501


async def test_the_access_and_audit_logs_count_every_row_whatever_the_page(
    api: Any, world: DemoWorld, session: AsyncSession, manager: Any, brand: Any
) -> None:
    sinar = {"id": factory_gid(world, SINAR)}
    for _ in range(3):
        await api.gql(BRAND_READ, sinar, **brand.auth)
    for grantee in ("fairtrace-platform", "lumen-basics"):
        grant = {
            "factoryId": sinar["id"],
            "granteeId": org_gid(world, grantee),
            # a host's grant is the whole Gateway share; a brand's may be one scope
            "scopes": ["ASSESSMENT", "SELF_ASSESSMENT"],
        }
        assert (await api.gql(GRANT, {"input": grant}, **manager.auth))["grantConsent"] == {
            "errors": []
        }
    logged = await scalar(
        session,
        "SELECT count(*) FROM access_read WHERE factory_id = :f",
        f=world.factory_ids[SINAR],
    )
    audited = await scalar(
        session,
        "SELECT count(*) FROM audit_entry WHERE factory_id = :f",
        f=world.factory_ids[SINAR],
    )
    assert logged >= 3 and audited == 2

    first = (await api.gql(ACCESS, sinar, **manager.auth))["factory"]
    second = (
        await api.gql(
            ACCESS, {**sinar, "after": first["accessLog"]["pageInfo"]["endCursor"]}, **manager.auth
        )
    )["factory"]

    assert first["accessLog"]["totalCount"] == second["accessLog"]["totalCount"] == logged
    assert first["auditLog"]["totalCount"] == audited


async def test_a_host_counts_its_exports(
    api: Any, world: DemoWorld, session: AsyncSession, host_key: dict[str, str]
) -> None:
    await run_once(api.runtime.sessionmaker, api.runtime.keys)
    written = await scalar(
        session,
        "SELECT count(*) FROM gateway_export WHERE host_id = :h",
        h=world.organization_ids["open-audit-hub"],
    )
    assert written >= 2

    page = (await api.gql(EXPORTS, **host_key))["gatewayExports"]

    assert page["totalCount"] == written
    assert len(page["edges"]) == 1
