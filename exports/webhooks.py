"""Delivers the webhook outbox: tells a host that an export waits for it.

Each ``m.WebhookDelivery`` row becomes one POST of ``{"type", "data"}`` (RFC 8785 JSON) to the
host's ``webhook_url``, signed the Standard Webhooks way (``webhook-id``,
``webhook-timestamp``, ``webhook-signature``: :func:`core.crypto.standard_webhook_headers`)
with the host's secret. ``data`` is ``{"exportId", "contentSha256"}`` for an
``export.created`` event and ``{}`` for a ``webhook.test`` the host asked for. A 2xx answer
delivers it; anything else counts an attempt and schedules the next one with exponential
backoff, until the row is FAILED after ``max_attempts``. Rows are leased
(``next_attempt_at`` pushed ahead) in a short transaction before any HTTP call, so no
database transaction waits on the network and a worker that dies mid-call only delays the
retry. Delivery is therefore at least once: the ``webhook-id`` stays the same on every
attempt of one delivery, and hosts de-duplicate by it. The timestamp is that of the attempt,
so a receiver may refuse old ones (the libraries allow five minutes) and a captured notice
cannot be replayed later.

Only public addresses are reached (:mod:`exports.public_address`): the stored URL is checked
again before each attempt, and :class:`exports.pinned_transport.PinnedTransport` resolves its
host and connects to the address it allowed.

An export whose grant has ended is not announced (the attempt fails and is retried, so a
grant renewed in the meantime still gets its notice).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import httpx
import rfc8785
from sqlalchemy import or_, select  # noqa: TID251 - platform reads, marked with system_read
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import models as m
from authz.guard import system_read
from core import metrics
from core.crypto import WEBHOOK_SECRET_PURPOSE, KeyMaterial, standard_webhook_headers
from core.errors import CryptoError
from exports.grants import host_may_receive
from exports.pinned_transport import PinnedTransport
from exports.public_address import AddressRefused, check_webhook_url

# Field-encryption purpose of Organization.webhook_secret_encrypted.
WEBHOOK_FIELD_PURPOSE = WEBHOOK_SECRET_PURPOSE
EXPORT_CREATED = "export.created"
TEST_EVENT = "webhook.test"
MAX_ATTEMPTS = 8
BASE_DELAY = dt.timedelta(seconds=30)
MAX_DELAY = dt.timedelta(hours=6)
LEASE = dt.timedelta(minutes=2)
TIMEOUT_SECONDS = 10.0


def backoff(attempts: int) -> dt.timedelta:
    """Wait after the ``attempts``-th failure: 30 s, 1 min, 2 min, ... at most 6 h."""
    doublings = min(max(attempts - 1, 0), 20)  # past 20 the cap holds anyway
    return min(BASE_DELAY * (1 << doublings), MAX_DELAY)


@dataclass(frozen=True, slots=True)
class _Job:
    delivery_id: int
    host_id: int
    message_id: str
    url: str | None
    secret_encrypted: str | None
    body: bytes
    visible: bool


@dataclass
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    # (host id, why) of each attempt that did not deliver: the operator's first clue; the
    # host reads the same in webhookDeliveries.
    not_delivered: list[tuple[int, str]] = field(default_factory=list)


def notice_body(event: str, export_uid: str | None, content_sha256: str | None) -> bytes:
    """The exact bytes POSTed and signed."""
    data = {} if export_uid is None else {"exportId": export_uid, "contentSha256": content_sha256}
    return rfc8785.dumps({"type": event, "data": data})


def message_id(delivery: m.WebhookDelivery, export_uid: str | None) -> str:
    """The ``webhook-id``: the same on every attempt, so hosts drop a second copy."""
    return f"msg_{export_uid}" if export_uid is not None else f"msg_test_{delivery.id}"


async def _lease(
    sessionmaker: async_sessionmaker[AsyncSession], now: dt.datetime, batch: int
) -> list[_Job]:
    stmt = (
        select(
            m.WebhookDelivery,
            m.GatewayExport.export_uid,
            m.GatewayExport.content_sha256,
            m.Organization.webhook_url,
            m.Organization.webhook_secret_encrypted,
            or_(
                m.WebhookDelivery.export_id.is_(None),  # a test event names no factory
                host_may_receive(m.GatewayExport.factory_id, m.GatewayExport.host_id),
            ).label("visible"),
        )
        .outerjoin(m.GatewayExport, m.GatewayExport.id == m.WebhookDelivery.export_id)
        .join(m.Organization, m.Organization.id == m.WebhookDelivery.host_id)
        .where(
            m.WebhookDelivery.state == m.DeliveryState.PENDING,
            m.WebhookDelivery.next_attempt_at <= now,
        )
        .order_by(m.WebhookDelivery.next_attempt_at, m.WebhookDelivery.id)
        .limit(batch)
        .with_for_update(of=m.WebhookDelivery, skip_locked=True)
    )
    async with sessionmaker() as session, session.begin():
        rows = (await session.execute(system_read(stmt, "webhooks: due deliveries"))).all()
        jobs = []
        for delivery, uid, sha, url, secret, visible in rows:
            delivery.next_attempt_at = now + LEASE
            body = notice_body(delivery.event, uid, sha)
            msg = message_id(delivery, uid)
            job = _Job(delivery.id, delivery.host_id, msg, url, secret, body, bool(visible))
            jobs.append(job)
    return jobs


async def _post(
    client: httpx.AsyncClient, keys: KeyMaterial, job: _Job, allow_loopback: bool
) -> str | None:  # the wall clock, not ``now``: the timestamp is checked by the receiver
    """None when the host accepted the notice, else why not."""
    if not job.visible:
        return "the export's grant is no longer active"
    if not job.url or not job.secret_encrypted:
        return "the host has no webhook URL or secret"
    try:  # a URL stored before today's rules, or by hand, meets them here
        check_webhook_url(job.url, allow_loopback=allow_loopback)
    except AddressRefused as error:
        return f"webhook URL refused: {error}"
    try:
        secret = keys.fields.decrypt(job.secret_encrypted, WEBHOOK_FIELD_PURPOSE)
    except CryptoError as error:
        return str(error)
    headers = {"Content-Type": "application/json"}
    headers |= standard_webhook_headers(secret, job.message_id, m.utcnow(), job.body)
    try:
        response = await client.post(job.url, content=job.body, headers=headers)
    except httpx.HTTPError as error:
        return f"{type(error).__name__}: {error}"
    if response.is_success:
        return None
    return f"HTTP {response.status_code}"


async def _record(
    sessionmaker: async_sessionmaker[AsyncSession],
    job: _Job,
    error: str | None,
    now: dt.datetime,
    max_attempts: int,
) -> m.DeliveryState:
    async with sessionmaker() as session, session.begin():
        stmt = select(m.WebhookDelivery).where(m.WebhookDelivery.id == job.delivery_id)
        delivery = (await session.scalars(system_read(stmt, "webhooks: record"))).one()
        delivery.attempts += 1
        delivery.last_error = None if error is None else error[:500]
        if error is None:
            delivery.state = m.DeliveryState.DELIVERED
            delivery.delivered_at = now
        elif delivery.attempts >= max_attempts:
            delivery.state = m.DeliveryState.FAILED
        else:
            delivery.next_attempt_at = now + backoff(delivery.attempts)
        return delivery.state


async def deliver_pending(
    sessionmaker: async_sessionmaker[AsyncSession],
    keys: KeyMaterial,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    now: dt.datetime | None = None,
    max_attempts: int = MAX_ATTEMPTS,
    batch: int = 100,
    allow_loopback: bool = False,
) -> DeliveryReport:
    """Attempts every delivery that is due at ``now`` (process clock, UTC), ``batch`` at most.

    ``transport`` replaces the network (``httpx.MockTransport`` in tests); by default a
    :class:`PinnedTransport`. ``allow_loopback`` is the development setting
    ``MILLGATE_WEBHOOK_ALLOW_LOOPBACK``: receivers on this machine too.
    """
    now = now or m.utcnow()
    report = DeliveryReport()
    jobs = await _lease(sessionmaker, now, batch)
    if not jobs:
        return report
    transport = transport or PinnedTransport(allow_loopback=allow_loopback)
    # No redirects: a 3xx from a public host must not lead the POST somewhere inside.
    async with httpx.AsyncClient(
        transport=transport, timeout=TIMEOUT_SECONDS, follow_redirects=False, trust_env=False
    ) as client:
        for job in jobs:
            error = await _post(client, keys, job, allow_loopback)
            state = await _record(sessionmaker, job, error, now, max_attempts)
            if error is not None:
                report.not_delivered.append((job.host_id, error))
            if state == m.DeliveryState.DELIVERED:
                report.delivered += 1
                metrics.WEBHOOK_DELIVERIES.labels("sent").inc()
            elif state == m.DeliveryState.FAILED:
                report.failed += 1
                metrics.WEBHOOK_DELIVERIES.labels("failed").inc()
            else:
                report.retrying += 1
                metrics.WEBHOOK_DELIVERIES.labels("retrying").inc()
    return report
