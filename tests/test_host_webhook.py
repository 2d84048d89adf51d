"""setHostWebhook: a public https URL, a secret shown once and stored encrypted."""

from __future__ import annotations

import pytest
from sqlalchemy import text

import models as m
from api.ids import to_global_id
from core.crypto import WEBHOOK_SECRET_PURPOSE
from tests.builders import make_org, make_user

SET_WEBHOOK = """
mutation($org: ID!, $url: String) {
  setHostWebhook(input: {organizationId: $org, url: $url}) {
    organization { name } secret errors { code field }
  }
}"""


@pytest.fixture
async def world(session):
    platform = await make_org(session, m.OrganizationKind.PLATFORM)
    admin = await make_user(session, platform, m.Role.PLATFORM_ADMIN)
    host = await make_org(session, m.OrganizationKind.HOST)
    brand = await make_org(session, m.OrganizationKind.BRAND)
    await session.commit()
    return admin, host, brand


async def test_admin_sets_a_webhook_and_sees_the_secret_once(api, session, world):
    admin, host, _ = world

    out = await api.gql(
        SET_WEBHOOK,
        {"org": to_global_id("Organization", host.id), "url": "https://hooks.example.com/mg"},
        token=api.token(admin),
    )

    secret = out["setHostWebhook"]["secret"]
    assert out["setHostWebhook"]["errors"] == [] and len(secret) >= 40
    row = (await session.execute(
        text("SELECT webhook_url, webhook_secret_encrypted FROM organization WHERE id = :id"),
        {"id": host.id},
    )).one()
    assert row[0] == "https://hooks.example.com/mg"
    assert secret not in row[1]
    assert api.runtime.keys.fields.decrypt(row[1], WEBHOOK_SECRET_PURPOSE) == secret


@pytest.mark.parametrize(
    "url",
    ["http://hooks.example.com/", "https://127.0.0.1/x", "https://10.1.2.3/",
     "https://localhost/", "https://user:pw@hooks.example.com/", "https://[::1]/"],
    ids=["plain-http", "loopback", "private", "localhost", "credentials", "ipv6-loopback"],
)
async def test_non_public_or_plain_urls_are_refused_and_nothing_changes(api, session, world, url):
    admin, host, _ = world

    out = await api.gql(SET_WEBHOOK, {"org": to_global_id("Organization", host.id), "url": url},
                        token=api.token(admin))

    assert out["setHostWebhook"]["errors"] == [{"code": "INVALID", "field": "url"}]
    assert out["setHostWebhook"]["secret"] is None
    stored = await session.scalar(
        text("SELECT webhook_url FROM organization WHERE id = :id"), {"id": host.id}
    )
    assert stored is None


async def test_a_brand_cannot_get_a_webhook(api, world):
    admin, _, brand = world

    out = await api.gql(SET_WEBHOOK, {"org": to_global_id("Organization", brand.id),
                                      "url": "https://hooks.example.com/"}, token=api.token(admin))

    assert out["setHostWebhook"]["errors"] == [{"code": "INVALID", "field": "organizationId"}]
