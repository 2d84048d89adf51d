"""OpenTelemetry traces: off unless the standard ``OTEL_*`` variables turn them on.

``OTEL_TRACES_EXPORTER=otlp`` (or ``console``), or an ``OTEL_EXPORTER_OTLP_ENDPOINT`` /
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, turns them on; ``OTEL_SDK_DISABLED=true`` or
``OTEL_TRACES_EXPORTER=none`` keeps them off. The OTLP exporter speaks HTTP/protobuf and
reads the other standard variables itself (headers, timeout, ``OTEL_SERVICE_NAME``, ...).

A traced request has a span from the ASGI layer, one for its GraphQL operation (strawberry's
extension, see ``api.middleware.tracing``) and one per SQL statement (:func:`trace_sql`,
statement text only: never its parameters).

Example:
    provider = configure_tracing()  # None when the environment does not ask for traces
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import event

if TYPE_CHECKING:  # the SDK is imported when traces are on: others skip its cost
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from sqlalchemy.ext.asyncio import AsyncEngine

_configured: TracerProvider | None = None
SPAN_KEY = "_millgate_span"


def tracing_requested(environ: Mapping[str, str] = os.environ) -> bool:
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def _exporter(name: str) -> SpanExporter:
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    if name == "console":
        return ConsoleSpanExporter()
    if name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    raise ValueError(f"OTEL_TRACES_EXPORTER: {name!r} is not otlp, console or none")


def configure_tracing() -> TracerProvider | None:
    """This process's provider, made once from the environment (None: traces are off)."""
    global _configured
    if _configured is not None or not tracing_requested():
        return _configured
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    names = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").lower()
    provider = TracerProvider(resource=Resource.create({"service.name": "millgate"}))
    for name in (n.strip() for n in names.split(",")):
        if name and name != "none":
            provider.add_span_processor(BatchSpanProcessor(_exporter(name)))
    trace.set_tracer_provider(provider)
    _configured = provider
    return provider


def trace_sql(engine: AsyncEngine, provider: trace.TracerProvider) -> None:
    """A client span around each SQL statement the engine sends."""
    from opentelemetry.trace import SpanKind, Status, StatusCode

    tracer = provider.get_tracer("millgate.sql")
    system = engine.dialect.name

    def before(_conn: Any, _cursor: Any, statement: str, _p: Any, context: Any, _m: Any) -> None:
        verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "SQL"
        span = tracer.start_span(verb, kind=SpanKind.CLIENT)
        span.set_attribute("db.system", system)
        span.set_attribute("db.statement", statement[:2000])
        setattr(context, SPAN_KEY, span)

    def after(_conn: Any, _cursor: Any, _s: str, _p: Any, context: Any, _m: Any) -> None:
        span = getattr(context, SPAN_KEY, None)
        if span is not None:
            span.end()

    def failed(exception_context: Any) -> None:
        span = getattr(exception_context.execution_context, SPAN_KEY, None)
        if span is not None:
            span.set_status(
                Status(StatusCode.ERROR, type(exception_context.original_exception).__name__)
            )
            span.end()

    target = engine.sync_engine
    event.listen(target, "before_cursor_execute", before)
    event.listen(target, "after_cursor_execute", after)
    event.listen(target, "handle_error", failed)
