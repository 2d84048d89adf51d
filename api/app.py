"""``create_app(runtime)``: the routes, the middleware around them, and the lifespan.

One request's way: HTTP → the middleware of :mod:`api.middleware` (proxies, tracing, request
id and log, metrics, CORS, body limit) → :class:`api.endpoint.GraphQLEndpoint` (the caller,
the rate limit, the schema with its limits) → resolvers → scoped queries (authz) →
SQLAlchemy → dataloaders → response; reads of factory data add access events at the end.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from opentelemetry.trace import TracerProvider
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from api.documents import document_cache
from api.endpoint import GraphQLEndpoint
from api.graphiql import graphiql_assets
from api.middleware import request_log
from api.middleware.body_limit import BodyLimitMiddleware
from api.middleware.cors import cors_middleware
from api.middleware.metrics import MetricsMiddleware, metrics_endpoint
from api.middleware.proxies import trust_proxies
from api.middleware.request_log import RequestLogMiddleware
from api.middleware.tracing import traced
from api.oidc import OpenIdProviders
from api.probes import probe_routes
from api.ratelimit import RateLimiter, build_limiter
from api.schema import build_schema
from authz.guard import install_guard
from console import mount_console
from core.runtime import Runtime
from core.settings import Settings
from core.tracing import configure_tracing

MAX_BODY = 256 * 1024


def create_app(
    runtime: Runtime | None = None,
    *,
    rate_limiter: RateLimiter | None = None,
    tracer_provider: TracerProvider | None = None,
) -> Starlette:
    """The ASGI app. ``runtime`` defaults to one built from ``MILLGATE_*`` settings;
    ``rate_limiter`` to the one the settings ask for (see :mod:`api.ratelimit`);
    ``tracer_provider`` to the one the ``OTEL_*`` variables ask for (see :mod:`core.tracing`)."""
    runtime = runtime or Runtime.create(Settings())
    settings = runtime.settings
    tracer_provider = tracer_provider or configure_tracing()
    documents = document_cache(settings)
    schema = build_schema(settings, documents, tracer_provider)
    limiter = rate_limiter or build_limiter(settings)
    install_guard()
    providers = OpenIdProviders.from_settings(settings, runtime.sessionmaker)
    graphql = GraphQLEndpoint(runtime, schema, documents, limiter, providers)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await limiter.close()

    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            *probe_routes(runtime),
            *graphiql_assets(settings.production),
            Route("/metrics", metrics_endpoint(runtime)),
        ],
        # CORS outermost, so that every refusal (413 included) carries its headers.
        middleware=[*cors_middleware(settings), Middleware(BodyLimitMiddleware, max_body=MAX_BODY)],
        lifespan=lifespan,
    )
    # Innermost first: each add_middleware wraps what is already there.
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(RequestLogMiddleware)
    request_log.count_statements(runtime.engine)
    traced(app, runtime.engine, tracer_provider)
    trust_proxies(app, settings.trusted_proxies)  # outermost: the others see the real client
    mount_console(app, runtime)  # /console: the factory console, on this app's own /graphql
    app.state.runtime = runtime
    app.state.rate_limiter = limiter
    app.state.documents = documents
    return app
