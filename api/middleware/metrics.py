"""Request metrics, and the ``/metrics`` endpoint in the Prometheus text format.

Requests are counted by GraphQL operation type (read from the request's
:class:`~api.middleware.request_log.RequestInfo`, so this middleware sits inside
:class:`~api.middleware.request_log.RequestLogMiddleware`) and status; a 429 is a rate-limit
refusal. ``/metrics`` is open in development. In production it answers only peers in
``MILLGATE_METRICS_ALLOW`` (addresses or networks, comma-separated; empty: nobody), so that
the scraper reaches it and the public does not.

Example:
    app.add_middleware(MetricsMiddleware)
    Route("/metrics", metrics_endpoint(runtime))
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import func, select  # noqa: TID251 - reads marked with system_read
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import models as m
from api.middleware import request_log
from authz.guard import system_read
from core import metrics
from core.runtime import Runtime

log = logging.getLogger("millgate.metrics")


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # The labelled series, looked up once: ``labels()`` takes a lock and builds a key on
        # every call (a few label values only: operation types and status codes).
        self._counted: dict[tuple[str, int], Any] = {}
        self._timed: dict[str, Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == "/metrics":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            info = request_log.current()
            kind = (info.operation_type if info else None) or "none"
            counted = self._counted.get((kind, status))
            if counted is None:
                counted = self._counted[kind, status] = metrics.REQUESTS.labels(kind, str(status))
            counted.inc()
            timed = self._timed.get(kind)
            if timed is None:
                timed = self._timed[kind] = metrics.REQUEST_DURATION.labels(kind)
            timed.observe(time.perf_counter() - started)
            if status == 429:
                metrics.RATE_LIMITED.inc()


def allowed_networks(value: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """``MILLGATE_METRICS_ALLOW``: ``10.0.0.5, 10.1.0.0/16``; ``*`` is everyone."""
    parts = [part.strip() for part in value.split(",")]
    parts = [q for p in parts for q in (("0.0.0.0/0", "::/0") if p == "*" else (p,))]
    return [ipaddress.ip_network(part, strict=False) for part in parts if part]


async def _refresh_database_gauges(runtime: Runtime) -> None:
    """The gauges read from the database, as of this scrape."""
    async with runtime.sessionmaker() as session:
        audit = await session.scalar(
            system_read(select(func.max(m.AuditEntry.seq)), "metrics: audit chain")
        )
        waiting = await session.scalar(
            system_read(
                select(func.count())
                .select_from(m.WebhookDelivery)
                .where(m.WebhookDelivery.state == m.DeliveryState.PENDING),
                "metrics: webhooks",
            )
        )
    metrics.AUDIT_CHAIN_LENGTH.set(audit or 0)
    metrics.WEBHOOKS_WAITING.set(waiting or 0)


def metrics_endpoint(runtime: Runtime) -> Callable[[Request], Awaitable[Response]]:
    settings = runtime.settings
    networks = allowed_networks(settings.metrics_allow)

    async def endpoint(request: Request) -> Response:
        if settings.production:
            peer = request.client.host if request.client else ""
            try:
                address = ipaddress.ip_address(peer)
            except ValueError:
                address = None
            if address is None or not any(address in n for n in networks):
                return PlainTextResponse("not found", status_code=404)
        try:
            await _refresh_database_gauges(runtime)
        except Exception:  # the process's own figures are still worth serving
            log.warning("metrics: database gauges not refreshed", exc_info=True)
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    return endpoint
