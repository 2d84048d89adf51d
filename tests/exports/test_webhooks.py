"""The webhook outbox: signed notices, retries with backoff, FAILED after the last attempt."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks.webhooks import Webhook

import models as m
from authz.guard import system_read
from core.crypto import KeyMaterial
from exports.job import run_once
from exports.webhooks import backoff, deliver_pending
from tests.builders import GATEWAY_ON
from tests.world import World, make_world

URL = "https://host.example/millgate-hook"
SECRET = "whsec-3f9a1c"
T0 = dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.UTC)


class Recorder:
    """A host endpoint: answers with the given statuses in turn and keeps what it got."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0])

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


@pytest.fixture
async def world(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession, keys: KeyMaterial
) -> World:
    made = await make_world(session, keys, webhook_url=URL, webhook_secret=SECRET)
    await run_once(sessionmaker, keys, today=GATEWAY_ON)
    return made


async def delivery(session: AsyncSession) -> m.WebhookDelivery:
    session.expire_all()
    return (await session.scalars(system_read(select(m.WebhookDelivery), "test"))).one()


async def test_notice_is_signed_and_names_the_export(
    world: World,
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    keys: KeyMaterial,
) -> None:
    host = Recorder(204)

    report = await deliver_pending(sessionmaker, keys, transport=host.transport, now=T0)

    assert report.delivered == 1
    [request] = host.requests
    assert (request.method, str(request.url)) == ("POST", URL)
    # any Standard Webhooks library verifies it (an older secret keys the HMAC as text)
    Webhook(SECRET.encode()).verify(request.content, dict(request.headers))
    export = (await session.scalars(system_read(select(m.GatewayExport), "test"))).one()
    assert request.headers["webhook-id"] == f"msg_{export.export_uid}"
    assert json.loads(request.content) == {
        "type": "export.created",
        "data": {"exportId": export.export_uid, "contentSha256": export.content_sha256},
    }
    row = await delivery(session)
    assert (row.state, row.attempts, row.delivered_at, row.last_error) == (
        m.DeliveryState.DELIVERED,
        1,
        T0,
        None,
    )

    again = await deliver_pending(sessionmaker, keys, transport=host.transport, now=T0 + backoff(9))
    assert (again.delivered, len(host.requests)) == (0, 1)


async def test_server_error_is_retried_with_exponential_backoff(
    world: World,
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    keys: KeyMaterial,
) -> None:
    host = Recorder(500, 503, 200)

    first = await deliver_pending(sessionmaker, keys, transport=host.transport, now=T0)
    row = await delivery(session)
    assert first.retrying == 1
    assert first.not_delivered == [(row.host_id, "HTTP 500")]
    assert (row.state, row.attempts, row.last_error) == (m.DeliveryState.PENDING, 1, "HTTP 500")
    assert row.next_attempt_at == T0 + dt.timedelta(seconds=30)

    # not due yet: nothing is sent
    early = await deliver_pending(
        sessionmaker, keys, transport=host.transport, now=T0 + dt.timedelta(seconds=29)
    )
    assert (early.retrying, len(host.requests)) == (0, 1)

    second_at = T0 + dt.timedelta(seconds=30)
    await deliver_pending(sessionmaker, keys, transport=host.transport, now=second_at)
    row = await delivery(session)
    assert (row.attempts, row.last_error) == (2, "HTTP 503")
    assert row.next_attempt_at == second_at + dt.timedelta(seconds=60)

    third_at = second_at + dt.timedelta(seconds=60)
    last = await deliver_pending(sessionmaker, keys, transport=host.transport, now=third_at)
    row = await delivery(session)
    assert last.delivered == 1
    assert (row.state, row.attempts, row.delivered_at) == (m.DeliveryState.DELIVERED, 3, third_at)


async def test_failed_after_the_last_attempt(
    world: World,
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    keys: KeyMaterial,
) -> None:
    host = Recorder(500)
    now = T0
    for attempt in range(1, 4):
        report = await deliver_pending(
            sessionmaker, keys, transport=host.transport, now=now, max_attempts=3
        )
        now += backoff(attempt)
    row = await delivery(session)

    assert (report.failed, row.state, row.attempts) == (1, m.DeliveryState.FAILED, 3)
    later = now + backoff(20)
    after = await deliver_pending(sessionmaker, keys, transport=host.transport, now=later)
    assert (after.failed, after.retrying, len(host.requests)) == (0, 0, 3)


async def test_unreachable_host_counts_an_attempt(
    world: World,
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    keys: KeyMaterial,
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    await deliver_pending(sessionmaker, keys, transport=httpx.MockTransport(refuse), now=T0)

    row = await delivery(session)
    assert (row.state, row.attempts) == (m.DeliveryState.PENDING, 1)
    assert row.last_error == "ConnectError: connection refused"


async def test_no_notice_once_the_grant_is_revoked(
    world: World,
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    keys: KeyMaterial,
) -> None:
    await session.execute(
        update(m.ConsentGrant)
        .where(m.ConsentGrant.id == world.grant.id)
        .values(revoked_at=m.utcnow())
    )
    await session.commit()
    host = Recorder(200)

    report = await deliver_pending(sessionmaker, keys, transport=host.transport, now=T0)

    row = await delivery(session)
    assert (report.delivered, host.requests) == (0, [])
    assert (row.attempts, row.last_error) == (1, "the export's grant is no longer active")


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff(50) == dt.timedelta(hours=6)
