"""A grant to a host is the whole Gateway share (docs/hosts.md): both scopes or none.

A Gateway export carries the self-assessment and Better Work's assessment of it together,
so a narrower grant to a host is refused, and one made before the rule exports nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from demo import DemoWorld
from exports.job import run_once
from tests.api.support import SINAR, factory_gid, org_gid, scalar

GRANT = """
mutation Grant($input: GrantConsentInput!) {
  grantConsent(input: $input) { grant { id scopes } errors { code field } }
}
"""

EXPORTS = "query { gatewayExports(first: 100) { edges { node { factoryGatewayId cycle } } } }"


@pytest.mark.parametrize("scopes", [["ASSESSMENT"], ["SELF_ASSESSMENT"]], ids=str)
async def test_a_narrow_grant_to_a_host_is_refused_and_nothing_is_written(
    api: Any, world: DemoWorld, session: AsyncSession, manager: Any, scopes: list[str]
) -> None:
    before = await scalar(session, "SELECT count(*) FROM consent_grant")
    grant = {
        "factoryId": factory_gid(world, SINAR),
        "granteeId": org_gid(world, "fairtrace-platform"),
        "scopes": scopes,
    }

    data = await api.gql(GRANT, {"input": grant}, **manager.auth)

    assert data["grantConsent"] == {
        "grant": None,
        "errors": [{"code": "WHOLE_SHARE_REQUIRED", "field": "scopes"}],
    }
    assert await scalar(session, "SELECT count(*) FROM consent_grant") == before


async def test_a_whole_grant_to_a_host_and_a_narrow_one_to_a_brand_are_accepted(
    api: Any, world: DemoWorld, manager: Any
) -> None:
    sinar = factory_gid(world, SINAR)
    host = {
        "factoryId": sinar,
        "granteeId": org_gid(world, "fairtrace-platform"),
        "scopes": ["ASSESSMENT", "SELF_ASSESSMENT"],
    }
    brand = {"factoryId": sinar, "granteeId": org_gid(world, "harbour-outfitters"),
             "scopes": ["ASSESSMENT"]}  # fmt: skip

    for grant in (host, brand):
        data = await api.gql(GRANT, {"input": grant}, **manager.auth)
        assert data["grantConsent"]["errors"] == []


async def test_a_narrow_host_grant_made_before_the_rule_exports_nothing(
    api: Any, world: DemoWorld, session: AsyncSession, host_key: dict[str, str]
) -> None:
    # given Open Audit Hub's grant on Sinar Garmen holds ASSESSMENT alone (an old grant)
    await session.execute(
        text(
            "UPDATE consent_grant SET scope_self_assessment = false WHERE factory_id = :f"
            " AND grantee_id = (SELECT id FROM organization WHERE name = 'Open Audit Hub')"
        ),
        {"f": world.factory_ids[SINAR]},
    )
    await session.commit()

    # when the export job runs
    await run_once(api.runtime.sessionmaker, api.runtime.keys)

    # then no export of Sinar Garmen (it would carry its self-assessed answers) is made
    data = await api.gql(EXPORTS, **host_key)
    pulled = {e["node"]["factoryGatewayId"] for e in data["gatewayExports"]["edges"]}
    assert pulled  # the host's other factories still export
    assert "SLCP-ID-000101" not in pulled
    assert (
        await scalar(
            session,
            "SELECT count(*) FROM gateway_export WHERE factory_id = :f",
            f=world.factory_ids[SINAR],
        )
        == 0
    )
