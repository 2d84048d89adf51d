"""What an operator sees of the running API: one JSON log line a request, /metrics, traces,
and the client's address behind a proxy."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy.ext.asyncio import AsyncSession

import models as m
from api.app import create_app
from api.ratelimit import MemoryRateLimiter
from core.logs import configure_logging
from core.runtime import Runtime
from core.tracing import tracing_requested
from tests.builders import make_org, make_user

VIEWER = "query Who { viewer { role } }"


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """The root logger's output as the served app writes it (JSON), for this test."""
    stream = io.StringIO()
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    handler = configure_logging("json", level="INFO", stream=stream)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.handlers, _ = before
        root.setLevel(before[1])


@asynccontextmanager
async def client(
    runtime: Runtime, peer: str = "127.0.0.1", **kwargs: Any
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime, **kwargs)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(peer, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://millgate.test") as c:
            yield c


async def brand_token(runtime: Runtime, session: AsyncSession) -> tuple[int, str]:
    brand = await make_org(session, m.OrganizationKind.BRAND)
    user = await make_user(session, brand, m.Role.BRAND_VIEWER)
    await session.commit()
    return brand.id, runtime.token_service.issue(user.id, 600)


def request_lines(output: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    return [line for line in lines if line.get("logger") == "millgate.access"]


# --- logs -------------------------------------------------------------------------------


async def test_each_request_writes_one_json_line_with_who_what_and_cost(
    runtime: Runtime, session: AsyncSession, log_output: io.StringIO
) -> None:
    organization, token = await brand_token(runtime, session)

    async with client(runtime) as c:
        response = await c.post(
            "/graphql",
            json={"query": VIEWER, "operationName": "Who"},
            headers={"authorization": f"Bearer {token}"},
        )

    assert response.status_code == 200
    output = log_output.getvalue()
    assert all(json.loads(line) for line in output.splitlines() if line.strip())
    (line,) = request_lines(output)
    assert line["request_id"] == response.headers["x-request-id"]
    assert line["event"] == "request"
    assert line["level"] == "info"
    assert line["organization"] == organization
    assert line["caller"] == "brand"
    assert line["operation_type"] == "query"
    assert line["root_fields"] == ["viewer"]
    assert line["status"] == 200
    assert line["statements"] >= 1
    assert line["duration_ms"] > 0
    assert token not in output
    assert token.rsplit(".", 1)[-1] not in output


async def test_anonymous_and_refused_requests_are_logged_too(
    runtime: Runtime, log_output: io.StringIO
) -> None:
    async with client(runtime) as c:
        refused = await c.post(
            "/graphql", json={"query": VIEWER}, headers={"authorization": "Bearer forged"}
        )
        health = await c.get("/healthz")

    assert (refused.status_code, health.status_code) == (401, 200)
    first, second = request_lines(log_output.getvalue())
    assert (first["status"], first["caller"], first["organization"]) == (401, "anonymous", None)
    assert (second["path"], second["operation_type"]) == ("/healthz", None)
    assert "forged" not in log_output.getvalue()


def test_console_format_is_for_people() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    try:
        configure_logging("console", level="INFO", stream=stream)
        logging.getLogger("millgate.test").info("hello", extra={"status": 200})
    finally:
        root.handlers, _ = before
        root.setLevel(before[1])

    text = stream.getvalue()
    assert "hello" in text and "status" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.splitlines()[0])


# --- metrics ----------------------------------------------------------------------------


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the exposition ``text`` (0 when absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0


async def test_metrics_count_requests_errors_and_refusals(runtime: Runtime) -> None:
    async with client(runtime, rate_limiter=MemoryRateLimiter(2)) as c:
        before = (await c.get("/metrics")).text
        await c.post("/graphql", json={"query": VIEWER})
        await c.post("/graphql", json={"query": "{ nope }"})
        refused = await c.post("/graphql", json={"query": VIEWER})
        after = await c.get("/metrics")

    assert refused.status_code == 429
    assert after.headers["content-type"].startswith("text/plain")
    text = after.text

    def grew(name: str, **labels: str) -> float:
        return sample(text, name, **labels) - sample(before, name, **labels)

    assert grew("millgate_http_requests_total", operation_type="query", status="200") == 1
    assert grew("millgate_graphql_errors_total", code="GRAPHQL_VALIDATION_FAILED") == 1
    assert grew("millgate_graphql_errors_total", code="RATE_LIMITED") == 1
    assert grew("millgate_rate_limit_refusals_total") == 1
    assert grew("millgate_http_request_duration_seconds_count", operation_type="query") >= 1
    for name in (
        "millgate_db_pool_connections_in_use",
        "millgate_audit_chain_length",
        "millgate_webhook_deliveries_waiting",
        "millgate_exports_written_total",
        "millgate_export_last_complete_pass_timestamp_seconds",
    ):
        assert f"# TYPE {name}" in text, name


@pytest.mark.parametrize(
    ("allow", "peer", "status"),
    [("", "127.0.0.1", 404), ("10.0.0.0/8", "127.0.0.1", 404), ("10.0.0.0/8", "10.2.3.4", 200)],
    ids=["nobody", "not-listed", "listed"],
)
async def test_production_serves_metrics_to_listed_scrapers_only(
    runtime: Runtime, allow: str, peer: str, status: int
) -> None:
    production = Runtime(
        settings=runtime.settings.model_copy(update={"production": True, "metrics_allow": allow}),
        engine=runtime.engine,
        sessionmaker=runtime.sessionmaker,
        keys=runtime.keys,
    )
    async with client(production, peer=peer) as c:
        response = await c.get("/metrics")

    assert response.status_code == status
    assert ("millgate_http_requests_total" in response.text) == (status == 200)


# --- behind a proxy ---------------------------------------------------------------------


def behind(runtime: Runtime, proxies: str) -> Runtime:
    settings = runtime.settings.model_copy(update={"trusted_proxies": proxies})
    return Runtime(settings, runtime.engine, runtime.sessionmaker, runtime.keys)


async def test_a_forged_forwarded_for_from_an_untrusted_peer_changes_nothing(
    runtime: Runtime, log_output: io.StringIO
) -> None:
    async with client(
        behind(runtime, "10.0.0.1"), peer="203.0.113.9", rate_limiter=MemoryRateLimiter(1)
    ) as c:
        first = await c.post(
            "/graphql", json={"query": VIEWER}, headers={"x-forwarded-for": "198.51.100.1"}
        )
        second = await c.post(
            "/graphql", json={"query": VIEWER}, headers={"x-forwarded-for": "198.51.100.2"}
        )

    assert (first.status_code, second.status_code) == (200, 429)
    assert {line["client"] for line in request_lines(log_output.getvalue())} == {"203.0.113.9"}


async def test_a_trusted_proxy_gives_each_client_its_own_budget(
    runtime: Runtime, log_output: io.StringIO
) -> None:
    async with client(
        behind(runtime, "10.0.0.1"), peer="10.0.0.1", rate_limiter=MemoryRateLimiter(1)
    ) as c:
        statuses = [
            (
                await c.post(
                    "/graphql", json={"query": VIEWER}, headers={"x-forwarded-for": address}
                )
            ).status_code
            for address in ("198.51.100.1", "198.51.100.2", "198.51.100.1")
        ]

    assert statuses == [200, 200, 429]
    clients = [line["client"] for line in request_lines(log_output.getvalue())]
    assert clients == ["198.51.100.1", "198.51.100.2", "198.51.100.1"]


# --- traces -----------------------------------------------------------------------------


def test_traces_are_off_unless_the_otel_variables_ask() -> None:
    assert not tracing_requested({})
    assert tracing_requested({"OTEL_TRACES_EXPORTER": "otlp"})
    assert tracing_requested({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert not tracing_requested({"OTEL_TRACES_EXPORTER": "none"})
    assert not tracing_requested({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"})


async def test_a_traced_request_has_http_graphql_and_sql_spans_in_one_trace(
    runtime: Runtime, session: AsyncSession
) -> None:
    _, token = await brand_token(runtime, session)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    async with client(runtime, tracer_provider=provider) as c:
        response = await c.post(
            "/graphql",
            json={"query": VIEWER, "operationName": "Who"},
            headers={"authorization": f"Bearer {token}"},
        )

    assert response.status_code == 200
    spans = exporter.get_finished_spans()
    (server,) = [s for s in spans if s.name.startswith("POST")]
    # The request's trace (the app's start-up reads, outside any request, have their own).
    in_request = [s.name for s in spans if s.context.trace_id == server.context.trace_id]
    assert "GraphQL Query: Who" in in_request, in_request
    assert "SELECT" in in_request, in_request
    for span in spans:
        assert token not in repr(dict(span.attributes or {}))


def test_uvicorn_logs_through_the_root_handler_without_its_own_access_line(
    log_output: io.StringIO,
) -> None:
    logging.getLogger("uvicorn.error").info("Started server process [1]")
    logging.getLogger("uvicorn.access").info('127.0.0.1:5 - "GET /healthz HTTP/1.1" 200')

    (line,) = [json.loads(x) for x in log_output.getvalue().splitlines() if x.strip()]
    assert (line["logger"], line["event"]) == ("uvicorn.error", "Started server process [1]")
    # Not propagated, so uvicorn (which asks hasHandlers()) does not even format it.
    assert not logging.getLogger("uvicorn.access").propagate
