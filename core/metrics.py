"""Every Prometheus metric of Millgate, defined once (``millgate_*``).

One API process serves its registry at ``/metrics``. Several processes on one host (uvicorn
``--workers``) share a folder named by ``PROMETHEUS_MULTIPROC_DIR``: prometheus-client then
writes each process's values there and :func:`exposition` sums them. That variable must be
set, and the folder emptied, before the processes start (``millgate serve`` does both).

Example:
    from core import metrics
    metrics.EXPORTS_WRITTEN.inc()
    body, content_type = metrics.exposition()
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# HTTP requests by GraphQL operation type (query, mutation, subscription; "none" when the
# request carried no parsable operation, "http" for the other routes) and status code.
REQUESTS = Counter(
    "millgate_http_requests_total",
    "HTTP requests answered, by GraphQL operation type and status code.",
    ["operation_type", "status"],
)
REQUEST_DURATION = Histogram(
    "millgate_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer.",
    ["operation_type"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
GRAPHQL_ERRORS = Counter(
    "millgate_graphql_errors_total",
    "Errors in GraphQL answers, by extensions.code.",
    ["code"],
)
RATE_LIMITED = Counter(
    "millgate_rate_limit_refusals_total",
    "Requests refused with 429 because their caller spent its budget.",
)
DB_POOL_IN_USE = Gauge(
    "millgate_db_pool_connections_in_use",
    "Database connections checked out of the pool now.",
    multiprocess_mode="livesum",
)

# The exports worker (exports.job, exports.webhooks).
EXPORTS_WRITTEN = Counter(
    "millgate_exports_written_total", "Gateway export payloads written and committed."
)
EXPORT_FAILURES = Counter(
    "millgate_export_failures_total",
    "Exports that could not be written (the pair is retried on the next pass), by host id.",
    ["host"],
)
EXPORT_LAST_PASS = Gauge(
    "millgate_export_last_complete_pass_timestamp_seconds",
    "Unix time at which the last export pass ran to its end.",
    multiprocess_mode="max",
)
WEBHOOK_DELIVERIES = Counter(
    "millgate_webhook_deliveries_total",
    "Webhook delivery attempts by outcome: sent, retrying (will be tried again), failed "
    "(given up).",
    ["outcome"],
)

# Read from the database when /metrics is scraped (api.middleware.metrics).
WEBHOOKS_WAITING = Gauge(
    "millgate_webhook_deliveries_waiting",
    "Webhook deliveries not yet delivered nor given up.",
    multiprocess_mode="mostrecent",
)
AUDIT_CHAIN_LENGTH = Gauge(
    "millgate_audit_chain_length",
    "Entries in the audit hash chain.",
    multiprocess_mode="mostrecent",
)


def exposition() -> tuple[bytes, str]:
    """The text format of every metric of this host's processes, and its content type."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def _checked_out(*_: Any) -> None:
    DB_POOL_IN_USE.inc()


def _checked_in(*_: Any) -> None:
    DB_POOL_IN_USE.dec()


def watch_pool(engine: AsyncEngine) -> None:
    """Keeps :data:`DB_POOL_IN_USE` as the engine's pool lends and takes back connections."""
    event.listen(engine.sync_engine, "checkout", _checked_out)
    event.listen(engine.sync_engine, "checkin", _checked_in)
