"""Traces of a request: the ASGI span, the GraphQL operation's and each SQL statement's.

Only when :func:`core.tracing.configure_tracing` (the ``OTEL_*`` variables) or the caller
gives a provider. Field arguments are not recorded: they may carry a finding's detail.

Example:
    traced(app, runtime.engine, provider)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when traces are on: a process without them skips the cost
    from opentelemetry.trace import TracerProvider
    from sqlalchemy.ext.asyncio import AsyncEngine
    from starlette.applications import Starlette
    from strawberry.extensions.tracing import OpenTelemetryExtension


def _no_arguments(_args: dict[str, Any], _info: Any) -> dict[str, Any]:
    return {}


def graphql_extension(provider: TracerProvider) -> OpenTelemetryExtension:
    from strawberry.extensions.tracing import OpenTelemetryExtension

    return OpenTelemetryExtension(tracer_provider=provider, arg_filter=_no_arguments)


def traced(app: Starlette, engine: AsyncEngine, provider: TracerProvider | None) -> None:
    """Adds the request span around ``app`` and SQL spans on ``engine`` (no-op without a
    provider); the GraphQL span comes from :func:`graphql_extension` in the schema."""
    if provider is None:
        return
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    from core.tracing import trace_sql

    app.add_middleware(
        OpenTelemetryMiddleware,
        tracer_provider=provider,
        exclude_spans=["receive", "send"],
    )
    trace_sql(engine, provider)
