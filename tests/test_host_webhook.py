"""setHostWebhook: a public https URL, a secret shown once and stored encrypted."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import text

import models as m
from api.ids import to_global_id
from core.crypto import WEBHOOK_SECRET_PURPOSE
from core.settings import Settings
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
    assert out["setHostWebhook"]["errors"] == [] and secret.startswith("whsec_")
    row = (
        await session.execute(
            text("SELECT webhook_url, webhook_secret_encrypted FROM organization WHERE id = :id"),
            {"id": host.id},
        )
    ).one()
    assert row[0] == "https://hooks.example.com/mg"
    assert secret not in row[1]
    assert api.runtime.keys.fields.decrypt(row[1], WEBHOOK_SECRET_PURPOSE) == secret


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/",
        "https://127.0.0.1/x",
        "https://10.1.2.3/",
        "https://localhost/",
        "https://user:pw@hooks.example.com/",
        "https://[::1]/",
        "https://127.1/",
        "https://2130706433/",
        "https://0x7f000001/",
        "https://0/",
        "https://017700000001/",
        "https://[::ffff:127.0.0.1]/",
        "https://169.254.169.254/",
        "https://localhost./",
        "https://printer.home.arpa/",
        "https://[2002:7f00:1::]/",
    ],
    ids=[
        "plain-http",
        "loopback",
        "private",
        "localhost",
        "credentials",
        "ipv6-loopback",
        "short-dotted",
        "decimal",
        "hex",
        "zero",
        "octal",
        "ipv4-mapped",
        "link-local",
        "localhost-dot",
        "home-arpa",
        "6to4-loopback",
    ],
)
async def test_non_public_or_plain_urls_are_refused_and_nothing_changes(api, session, world, url):
    admin, host, _ = world

    out = await api.gql(
        SET_WEBHOOK,
        {"org": to_global_id("Organization", host.id), "url": url},
        token=api.token(admin),
    )

    assert out["setHostWebhook"]["errors"] == [{"code": "INVALID", "field": "url"}]
    assert out["setHostWebhook"]["secret"] is None
    stored = await session.scalar(
        text("SELECT webhook_url FROM organization WHERE id = :id"), {"id": host.id}
    )
    assert stored is None


async def test_a_brand_cannot_get_a_webhook(api, world):
    admin, _, brand = world

    out = await api.gql(
        SET_WEBHOOK,
        {"org": to_global_id("Organization", brand.id), "url": "https://hooks.example.com/"},
        token=api.token(admin),
    )

    assert out["setHostWebhook"]["errors"] == [{"code": "INVALID", "field": "organizationId"}]


async def test_loopback_receivers_only_with_the_development_setting(
    api, session, world, monkeypatch
):
    admin, host, _ = world
    variables = {"org": to_global_id("Organization", host.id), "url": "http://127.0.0.1:9000/h"}

    refused = await api.gql(SET_WEBHOOK, variables, token=api.token(admin))
    allowing = api.runtime.settings.model_copy(update={"webhook_allow_loopback": True})
    monkeypatch.setattr(api.runtime, "settings", allowing)
    accepted = await api.gql(SET_WEBHOOK, variables, token=api.token(admin))
    still_refused = await api.gql(
        SET_WEBHOOK, {**variables, "url": "http://10.0.0.1/h"}, token=api.token(admin)
    )

    assert refused["setHostWebhook"]["errors"] == [{"code": "INVALID", "field": "url"}]
    assert accepted["setHostWebhook"]["errors"] == []
    assert still_refused["setHostWebhook"]["errors"] == [{"code": "INVALID", "field": "url"}]
    stored = await session.scalar(
        text("SELECT webhook_url FROM organization WHERE id = :id"), {"id": host.id}
    )
    assert stored == "http://127.0.0.1:9000/h"


def test_the_loopback_setting_is_refused_in_production(tmp_path):
    keys = {name: tmp_path / name for name in ("f", "s", "p")}

    with pytest.raises(ValidationError, match="MILLGATE_WEBHOOK_ALLOW_LOOPBACK"):
        Settings(
            production=True,
            webhook_allow_loopback=True,
            database_url="postgresql+asyncpg://db/millgate",
            field_keys_file=keys["f"],
            signing_keys_file=keys["s"],
            api_key_pepper_file=keys["p"],
        )
