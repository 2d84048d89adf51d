"""Admins list an organisation's users and keys; others see themselves and no keys."""

from __future__ import annotations

import models as m
from api.ids import to_global_id
from tests.builders import make_org, make_user

MEMBERS = """
query($id: ID!) {
  node(id: $id) { ... on Organization { users { email role } apiKeys { prefix revokedAt } } }
}"""

ORGANIZATIONS = "{ organizations { name users { email } apiKeys { prefix } } }"


async def test_admin_lists_users_and_keys_and_a_member_sees_only_itself(api, session, keys):
    platform = await make_org(session, m.OrganizationKind.PLATFORM)
    admin = await make_user(session, platform, m.Role.PLATFORM_ADMIN)
    host = await make_org(session, m.OrganizationKind.HOST)
    first = await make_user(session, host, m.Role.HOST_INTEGRATION)
    second = await make_user(session, host, m.Role.HOST_INTEGRATION)
    _, prefix, digest = keys.api_keys.new_key()
    session.add(m.ApiKey(organization_id=host.id, prefix=prefix, secret_hmac=digest))
    await session.commit()
    host_id = to_global_id("Organization", host.id)

    as_admin = await api.gql(MEMBERS, {"id": host_id}, token=api.token(admin))
    as_member = await api.gql(MEMBERS, {"id": host_id}, token=api.token(first))

    assert [u["email"] for u in as_admin["node"]["users"]] == [first.email, second.email]
    assert [k["prefix"] for k in as_admin["node"]["apiKeys"]] == [prefix]
    assert as_member["node"]["users"] == [{"email": first.email, "role": "HOST_INTEGRATION"}]
    assert as_member["node"]["apiKeys"] == []


async def test_admin_lists_every_organization_with_its_members(api, session):
    platform = await make_org(session, m.OrganizationKind.PLATFORM)
    admin = await make_user(session, platform, m.Role.PLATFORM_ADMIN)
    for _ in range(5):
        await make_user(
            session, await make_org(session, m.OrganizationKind.BRAND), m.Role.BRAND_VIEWER
        )
    await session.commit()

    data = await api.gql(ORGANIZATIONS, token=api.token(admin))

    assert len(data["organizations"]) == 6
    assert all(len(o["users"]) == 1 for o in data["organizations"])
