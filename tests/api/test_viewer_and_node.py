"""`viewer` and `node(id)`: who the caller is, and every Node type fetched by its global id.

Each Node type is fetched by a caller that may see it and by one that may not; the second
gets null, exactly as for an id that names nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from demo import DemoWorld
from exports.job import run_once
from tests.api.support import (
    DHAKA,
    NORTHWIND,
    OPEN_AUDIT_HUB,
    SAIGON,
    SINAR,
    factory_gid,
    gid,
    org_gid,
    scalar,
)

# Tests here read one shared copy of the world; a test that writes is marked `writes`.
pytestmark = pytest.mark.reads_only

VIEWER = """
query Viewer {
  viewer { role factoryId user { email } organization { name kind } }
}
"""

NODE = """
query Node($id: ID!) {
  node(id: $id) {
    __typename
    id
    ... on Factory { name }
    ... on Organization { name }
    ... on User { email }
    ... on ApiKey { prefix }
    ... on Assessment { cycle status }
    ... on Finding { questionCode }
    ... on SelfAssessment { step }
    ... on ConsentGrant { active }
    ... on GatewayExport { cycle }
  }
}
"""


@pytest.mark.parametrize(
    ("caller", "role", "organization", "email_domain"),
    [
        pytest.param(
            "manager",
            "FACTORY_MANAGER",
            "PT Sinar Garmen Jaya",
            "sinar-garmen",
            id="factory-manager",
        ),
        pytest.param(
            "worker_rep",
            "WORKER_REPRESENTATIVE",
            "PT Sinar Garmen Jaya",
            "sinar-garmen",
            id="worker-rep",
        ),
        pytest.param("brand", "BRAND_VIEWER", "Northwind Apparel", "northwind-apparel", id="brand"),
        pytest.param("assessor", "ASSESSOR", "Better Work Indonesia", "bw-id", id="assessor"),
        pytest.param(
            "constituent",
            "CONSTITUENT_VIEWER",
            "Indonesian Garment Workers' Federation",
            "id-garment-workers-federation",
            id="constituent",
        ),
        pytest.param(
            "admin", "PLATFORM_ADMIN", "Millgate Operations", "millgate", id="platform-admin"
        ),
    ],
)
async def test_viewer_is_the_signed_in_user(
    api: Any,
    auth_of: dict[str, dict[str, str]],
    caller: str,
    role: str,
    organization: str,
    email_domain: str,
) -> None:
    # given a demo user signed in; when it asks who it is
    viewer = (await api.gql(VIEWER, **auth_of[caller]))["viewer"]

    # then it is told its own user, organisation and role
    assert viewer["role"] == role
    assert viewer["organization"]["name"] == organization
    assert viewer["user"]["email"].endswith(f"@{email_domain}.demo")


async def test_viewer_of_a_factory_user_names_its_factory(
    api: Any, world: DemoWorld, manager: Any, brand: Any
) -> None:
    assert (await api.gql(VIEWER, **manager.auth))["viewer"]["factoryId"] == factory_gid(
        world, SINAR
    )
    assert (await api.gql(VIEWER, **brand.auth))["viewer"]["factoryId"] is None


async def test_viewer_of_a_host_key_has_no_user(api: Any, host_key: dict[str, str]) -> None:
    viewer = (await api.gql(VIEWER, **host_key))["viewer"]

    assert viewer == {
        "role": "HOST_INTEGRATION",
        "factoryId": None,
        "user": None,
        "organization": {"name": "Open Audit Hub", "kind": "HOST"},
    }


async def test_viewer_of_the_anonymous_public_is_nobody(api: Any, world: DemoWorld) -> None:
    viewer = (await api.gql(VIEWER))["viewer"]

    assert viewer == {"role": None, "factoryId": None, "user": None, "organization": None}


# -- node(id) ------------------------------------------------------------------------------

IdOf = Callable[[DemoWorld, AsyncSession], Awaitable[str]]


async def _factory(world: DemoWorld, session: AsyncSession) -> str:
    return factory_gid(world, SINAR)


async def _organization(world: DemoWorld, session: AsyncSession) -> str:
    return org_gid(world, NORTHWIND)


async def _user(world: DemoWorld, session: AsyncSession) -> str:
    pk = await scalar(session, "SELECT id FROM app_user WHERE email = 'manager@sinar-garmen.demo'")
    return gid("User", pk)


async def _api_key(world: DemoWorld, session: AsyncSession) -> str:
    return gid("ApiKey", await scalar(session, "SELECT min(id) FROM api_key"))


async def _sinar_cycle_1_assessment(world: DemoWorld, session: AsyncSession) -> int:
    return int(
        await scalar(
            session,
            "SELECT a.id FROM assessment a JOIN service_cycle c ON c.id = a.cycle_id "
            "WHERE a.factory_id = :f AND c.number = 1",
            f=world.factory_ids[SINAR],
        )
    )


async def _assessment(world: DemoWorld, session: AsyncSession) -> str:
    return gid("Assessment", await _sinar_cycle_1_assessment(world, session))


async def _finding(world: DemoWorld, session: AsyncSession) -> str:
    assessment = await _sinar_cycle_1_assessment(world, session)
    pk = await scalar(session, "SELECT min(id) FROM finding WHERE assessment_id = :a", a=assessment)
    return gid("Finding", pk)


async def _saigon_self_assessment(world: DemoWorld, session: AsyncSession) -> str:
    pk = await scalar(
        session,
        "SELECT min(id) FROM self_assessment WHERE factory_id = :f",
        f=world.factory_ids[SAIGON],
    )
    return gid("SelfAssessment", pk)


async def _grant(world: DemoWorld, session: AsyncSession) -> str:
    pk = await scalar(
        session,
        "SELECT id FROM consent_grant WHERE factory_id = :f AND grantee_id = :g",
        f=world.factory_ids[SINAR],
        g=world.organization_ids[NORTHWIND],
    )
    return gid("ConsentGrant", pk)


async def _host_grant(world: DemoWorld, session: AsyncSession) -> str:
    pk = await scalar(
        session,
        "SELECT id FROM consent_grant WHERE factory_id = :f AND grantee_id = :g",
        f=world.factory_ids[SINAR],
        g=world.organization_ids[OPEN_AUDIT_HUB],
    )
    return gid("ConsentGrant", pk)


async def _dhaka_assessment(world: DemoWorld, session: AsyncSession) -> str:
    pk = await scalar(
        session, "SELECT min(id) FROM assessment WHERE factory_id = :f", f=world.factory_ids[DHAKA]
    )
    return gid("Assessment", pk)


@pytest.mark.parametrize(
    ("id_of", "typename", "reader", "stranger"),
    [
        pytest.param(_factory, "Factory", "brand", "other_brand", id="Factory"),
        pytest.param(_organization, "Organization", "brand", "constituent", id="Organization"),
        pytest.param(_user, "User", "admin", "brand", id="User"),
        pytest.param(_api_key, "ApiKey", "admin", "host_key", id="ApiKey"),
        pytest.param(_assessment, "Assessment", "brand", "other_brand", id="Assessment"),
        pytest.param(_finding, "Finding", "brand", "constituent", id="Finding"),
        pytest.param(
            _saigon_self_assessment, "SelfAssessment", "other_brand", "brand", id="SelfAssessment"
        ),
        pytest.param(_grant, "ConsentGrant", "brand", "other_brand", id="ConsentGrant"),
        pytest.param(
            _host_grant, "ConsentGrant", "manager", "brand", id="ConsentGrant-of-another-grantee"
        ),
        pytest.param(
            _dhaka_assessment, "Assessment", "brand", "assessor", id="Assessment-of-another-country"
        ),
    ],
)
async def test_node_answers_its_audience_and_nobody_else(
    api: Any,
    world: DemoWorld,
    session: AsyncSession,
    auth_of: dict[str, dict[str, str]],
    id_of: IdOf,
    typename: str,
    reader: str,
    stranger: str,
) -> None:
    # given the global id of a row, a caller that may see it and one that may not
    node_id = await id_of(world, session)

    # when each fetches it by id
    seen = (await api.gql(NODE, {"id": node_id}, **auth_of[reader]))["node"]
    hidden = (await api.gql(NODE, {"id": node_id}, **auth_of[stranger]))["node"]

    # then the first gets the row, the second the same null as for no row at all
    assert seen is not None and seen["__typename"] == typename and seen["id"] == node_id
    assert hidden is None


@pytest.mark.writes
async def test_node_of_a_gateway_export_answers_its_host_only(
    api: Any,
    world: DemoWorld,
    session: AsyncSession,
    host_key: dict[str, str],
    brand: Any,
    admin: Any,
) -> None:
    # given the export job has run once
    await run_once(api.runtime.sessionmaker, api.runtime.keys)
    export_id = gid("GatewayExport", await scalar(session, "SELECT min(id) FROM gateway_export"))

    # when the recipient host, a brand and the platform fetch it
    seen = (await api.gql(NODE, {"id": export_id}, **host_key))["node"]

    # then only the host sees it
    assert seen["__typename"] == "GatewayExport"
    assert (await api.gql(NODE, {"id": export_id}, **brand.auth))["node"] is None
    assert (await api.gql(NODE, {"id": export_id}, **admin.auth))["node"] is None


@pytest.mark.parametrize(
    "node_id",
    [
        pytest.param("not-base64-!!", id="garbage"),
        pytest.param(gid("Factory", 999_999), id="no-such-factory"),
        pytest.param(gid("Bogus", 1), id="unknown-type"),
        pytest.param("RmFjdG9yeTphYmM", id="non-numeric-pk"),  # "Factory:abc"
        pytest.param("", id="empty"),
    ],
)
async def test_node_of_an_id_that_names_nothing_is_null(api: Any, admin: Any, node_id: str) -> None:
    assert (await api.gql(NODE, {"id": node_id}, **admin.auth))["node"] is None


async def test_node_of_a_draft_is_seen_by_its_programme_only(
    api: Any, world: DemoWorld, session: AsyncSession, login: Any, admin: Any
) -> None:
    # given Gazipur Denim's cycle 2 assessment, still a draft, in Bangladesh
    pk = await scalar(
        session,
        "SELECT a.id FROM assessment a WHERE a.factory_id = :f AND a.status = 'DRAFT'",
        f=world.factory_ids["Gazipur Denim Mills Ltd."],
    )
    draft_id = gid("Assessment", pk)
    bangladesh = await login("assessor@bw-bd.demo")
    gazipur = await login("manager@gazipur-denim.demo")

    # then Better Work Bangladesh sees it; the factory and the platform do not (access table)
    seen = (await api.gql(NODE, {"id": draft_id}, **bangladesh.auth))["node"]
    assert seen["status"] == "DRAFT"
    assert (await api.gql(NODE, {"id": draft_id}, **gazipur.auth))["node"] is None
    assert (await api.gql(NODE, {"id": draft_id}, **admin.auth))["node"] is None
