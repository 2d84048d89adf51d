"""A host runs its own integration: its key, its webhook, its API keys, its deliveries."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks.webhooks import Webhook

import models as m
from core.crypto import WEBHOOK_SECRET_PURPOSE
from demo import DemoWorld
from exports.job import run_once
from exports.webhooks import deliver_pending
from tests.api.conftest import Caller, Login
from tests.api.support import FAIRTRACE, codes, org_gid, row_counts, scalar

X25519 = {"kty": "OKP", "crv": "X25519", "x": "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}
LOW_ORDER = {"kty": "OKP", "crv": "X25519", "x": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}
HOOK = "https://hooks.example.com/millgate"

REGISTER = """
mutation($jwk: JSON!) {
  registerOwnHostKey(input: {publicJwk: $jwk}) {
    organization { name hasHostKey } errors { code field }
  }
}"""
SET_WEBHOOK = """
mutation($url: String) {
  setOwnWebhook(input: {url: $url}) { organization { name } secret errors { code field } }
}"""
ISSUE = "mutation { issueOwnApiKey { apiKey { id prefix } secret errors { code } } }"
REVOKE = """
mutation($id: ID!) {
  revokeOwnApiKey(input: {apiKeyId: $id}) { apiKey { revokedAt } errors { code field } }
}"""
SEND_TEST = (
    "mutation { sendTestWebhook { delivery { event state webhookId } errors { code field } } }"
)
DELIVERIES = """
query($state: DeliveryState) {
  webhookDeliveries(first: 10, state: $state) {
    totalCount
    pageInfo { hasNextPage }
    edges { node { event webhookId exportId state attempts lastError nextAttemptAt } }
  }
}"""
VIEWER_ORG = "{ viewer { organization { name } } }"
ADMIN_ISSUE = """
mutation($org: ID!) { issueApiKey(input: {organizationId: $org}) { secret errors { code } } }
"""


async def audit_actions(session: AsyncSession) -> list[str]:
    result = await session.execute(text("SELECT action FROM audit_entry ORDER BY id"))
    return [row[0] for row in result]


async def test_a_host_rotates_its_own_key_with_its_api_key(
    api: Any, world: DemoWorld, session: AsyncSession, host_key: dict[str, str]
) -> None:
    out = await api.gql(REGISTER, {"jwk": X25519}, **host_key)

    assert out["registerOwnHostKey"] == {
        "organization": {"name": "Open Audit Hub", "hasHostKey": True},
        "errors": [],
    }
    stored = await scalar(
        session,
        "SELECT host_public_jwk FROM organization WHERE id = :id",
        id=world.organization_ids["open-audit-hub"],
    )
    assert (json.loads(stored) if isinstance(stored, str) else stored)["x"] == X25519["x"]
    assert (await audit_actions(session))[-1] == "host_key.register"


async def test_a_bad_point_is_refused_and_nothing_is_written(
    api: Any, world: DemoWorld, session: AsyncSession, host_key: dict[str, str]
) -> None:
    before = await row_counts(session)
    key_before = await scalar(
        session,
        "SELECT host_public_jwk FROM organization WHERE id = :id",
        id=world.organization_ids["open-audit-hub"],
    )

    out = await api.gql(REGISTER, {"jwk": LOW_ORDER}, **host_key)

    assert out["registerOwnHostKey"]["errors"] == [{"code": "INVALID", "field": "publicJwk"}]
    assert await row_counts(session) == before
    assert key_before == await scalar(
        session,
        "SELECT host_public_jwk FROM organization WHERE id = :id",
        id=world.organization_ids["open-audit-hub"],
    )


async def test_a_host_user_sets_its_webhook_and_gets_a_standard_secret_once(
    api: Any, world: DemoWorld, session: AsyncSession, login: Login
) -> None:
    user: Caller = await login(world.emails[m.Role.HOST_INTEGRATION])

    out = await api.gql(SET_WEBHOOK, {"url": HOOK}, **user.auth)

    secret = out["setOwnWebhook"]["secret"]
    assert out["setOwnWebhook"]["errors"] == [] and secret.startswith("whsec_")
    stored = await scalar(
        session,
        "SELECT webhook_secret_encrypted FROM organization WHERE id = :id",
        id=user.organization_id,
    )
    assert secret not in stored
    assert api.runtime.keys.fields.decrypt(stored, WEBHOOK_SECRET_PURPOSE) == secret
    assert (await audit_actions(session))[-1] == "host_webhook.set"


async def test_a_private_webhook_address_is_refused(
    api: Any, world: DemoWorld, session: AsyncSession, host_key: dict[str, str]
) -> None:
    before = await row_counts(session)

    out = await api.gql(SET_WEBHOOK, {"url": "https://10.0.0.7/hook"}, **host_key)

    assert out["setOwnWebhook"] == {
        "organization": None,
        "secret": None,
        "errors": [{"code": "INVALID", "field": "url"}],
    }
    assert await row_counts(session) == before


async def test_a_host_issues_and_revokes_its_own_keys(
    api: Any, world: DemoWorld, session: AsyncSession, host_key: dict[str, str]
) -> None:
    issued = (await api.gql(ISSUE, **host_key))["issueOwnApiKey"]
    new_key = {"api_key": issued["secret"]}
    assert issued["errors"] == []
    assert (await api.gql(VIEWER_ORG, **new_key))["viewer"]["organization"] == {
        "name": "Open Audit Hub"
    }

    revoked = await api.gql(REVOKE, {"id": issued["apiKey"]["id"]}, **host_key)

    assert revoked["revokeOwnApiKey"]["errors"] == []
    assert (await api.post(VIEWER_ORG, api_key=issued["secret"])).status_code == 401
    assert (await audit_actions(session))[-2:] == ["api_key.issue", "api_key.revoke"]


async def test_another_hosts_key_looks_like_no_key(
    api: Any, world: DemoWorld, session: AsyncSession, host_key: dict[str, str], admin: Caller
) -> None:
    theirs = (await api.gql(ISSUE, **host_key))["issueOwnApiKey"]["apiKey"]["id"]
    other = await api.gql(ADMIN_ISSUE, {"org": org_gid(world, FAIRTRACE)}, **admin.auth)
    other_key = {"api_key": other["issueApiKey"]["secret"]}
    before = await row_counts(session)

    out = await api.gql(REVOKE, {"id": theirs}, **other_key)
    missing = await api.gql(REVOKE, {"id": "QXBpS2V5Ojk5OTk5"}, **other_key)

    assert codes(out["revokeOwnApiKey"]) == codes(missing["revokeOwnApiKey"]) == ["NOT_FOUND"]
    assert await row_counts(session) == before


async def test_a_brand_cannot_act_as_a_host(api: Any, world: DemoWorld, brand: Caller) -> None:
    out = await api.gql(SET_WEBHOOK, {"url": HOOK}, **brand.auth)

    assert codes(out["setOwnWebhook"]) == ["FORBIDDEN"] and out["setOwnWebhook"]["secret"] is None


async def test_test_event_without_a_webhook_is_refused(
    api: Any, world: DemoWorld, host_key: dict[str, str]
) -> None:
    out = await api.gql(SEND_TEST, **host_key)

    assert out["sendTestWebhook"] == {
        "delivery": None,
        "errors": [{"code": "INVALID", "field": "url"}],
    }


async def test_a_test_event_is_signed_listed_and_delivered(
    api: Any, world: DemoWorld, host_key: dict[str, str], admin: Caller, brand: Caller
) -> None:
    # given a webhook whose secret the host received
    secret = (await api.gql(SET_WEBHOOK, {"url": HOOK}, **host_key))["setOwnWebhook"]["secret"]
    received: list[httpx.Request] = []

    def host(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(204)

    # when it sends itself a test event and the worker delivers it
    sent = (await api.gql(SEND_TEST, **host_key))["sendTestWebhook"]
    pending = await api.gql(DELIVERIES, {"state": "PENDING"}, **host_key)
    await deliver_pending(
        api.runtime.sessionmaker, api.runtime.keys, transport=httpx.MockTransport(host)
    )

    # then the host verifies it with a Standard Webhooks library and sees it delivered
    assert sent["errors"] == [] and sent["delivery"]["event"] == "webhook.test"
    assert pending["webhookDeliveries"]["totalCount"] == 1
    [request] = received
    body = Webhook(secret).verify(request.content, dict(request.headers))
    assert body == {"type": "webhook.test", "data": {}}
    assert request.headers["webhook-id"] == sent["delivery"]["webhookId"]
    listed = (await api.gql(DELIVERIES, {}, **host_key))["webhookDeliveries"]
    assert listed["edges"][0]["node"] == {
        "event": "webhook.test",
        "webhookId": sent["delivery"]["webhookId"],
        "exportId": None,
        "state": "DELIVERED",
        "attempts": 1,
        "lastError": None,
        "nextAttemptAt": None,
    }
    platform = await api.gql(
        "{ webhookDeliveries(first: 10) { totalCount edges { node { host { name } } } } }",
        **admin.auth,
    )
    assert platform["webhookDeliveries"]["totalCount"] == listed["totalCount"]
    assert platform["webhookDeliveries"]["edges"][0]["node"]["host"] == {"name": "Open Audit Hub"}
    assert (await api.gql(DELIVERIES, {}, **brand.auth))["webhookDeliveries"]["totalCount"] == 0


async def test_a_failing_receiver_shows_its_error_and_next_retry(
    api: Any, world: DemoWorld, host_key: dict[str, str]
) -> None:
    await api.gql(SET_WEBHOOK, {"url": HOOK}, **host_key)
    await run_once(api.runtime.sessionmaker, api.runtime.keys)
    await deliver_pending(
        api.runtime.sessionmaker,
        api.runtime.keys,
        transport=httpx.MockTransport(lambda request: httpx.Response(503)),
    )

    listed = (await api.gql(DELIVERIES, {}, **host_key))["webhookDeliveries"]
    exports = await api.gql(
        "{ gatewayExports(first: 100) { edges { node { exportId } } } }", **host_key
    )

    nodes = [e["node"] for e in listed["edges"]]
    assert nodes and all(
        n["event"] == "export.created"
        and n["state"] == "PENDING"
        and n["attempts"] == 1
        and n["lastError"] == "HTTP 503"
        and n["nextAttemptAt"] is not None
        for n in nodes
    )
    export_ids = {e["node"]["exportId"] for e in exports["gatewayExports"]["edges"]}
    assert {n["exportId"] for n in nodes} <= export_ids
    assert all(n["webhookId"] == f"msg_{n['exportId']}" for n in nodes)


SINCE = """
query($since: DateTime) {
  gatewayExports(first: 100, since: $since) { totalCount edges { node { exportId createdAt } } }
}"""


async def test_since_lists_only_exports_made_from_that_instant(
    api: Any, world: DemoWorld, session: AsyncSession, host_key: dict[str, str]
) -> None:
    await run_once(api.runtime.sessionmaker, api.runtime.keys)
    # given one export made later than the others
    latest = await scalar(session, "SELECT max(id) FROM gateway_export")
    await session.execute(  # typed, so that each backend stores it in its own form
        update(m.GatewayExport)
        .where(m.GatewayExport.id == latest)
        .values(created_at=dt.datetime(2031, 1, 1, tzinfo=dt.UTC))
    )
    await session.commit()

    every = (await api.gql(SINCE, {}, **host_key))["gatewayExports"]
    since = await api.gql(SINCE, {"since": "2031-01-01T00:00:00+00:00"}, **host_key)

    assert every["totalCount"] > 1
    [edge] = since["gatewayExports"]["edges"]
    assert since["gatewayExports"]["totalCount"] == 1
    uid = await scalar(session, "SELECT export_uid FROM gateway_export WHERE id = :id", id=latest)
    assert edge["node"]["exportId"] == uid


async def test_a_revoked_key_cannot_be_revoked_again(
    api: Any, world: DemoWorld, session: AsyncSession, host_key: dict[str, str]
) -> None:
    issued = (await api.gql(ISSUE, **host_key))["issueOwnApiKey"]["apiKey"]["id"]
    await api.gql(REVOKE, {"id": issued}, **host_key)
    before = await row_counts(session)

    again = await api.gql(REVOKE, {"id": issued}, **host_key)

    assert again["revokeOwnApiKey"] == {
        "apiKey": None,
        "errors": [{"code": "NOT_ACTIVE", "field": "apiKeyId"}],
    }
    assert await row_counts(session) == before
