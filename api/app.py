"""``create_app(runtime)``: routes, the GraphQL endpoint, and the lifespan.

One request's way: HTTP → Starlette → :func:`api.auth.authenticate` (bearer token or API key
→ Principal) → the Strawberry schema with its limits → resolvers → scoped queries (authz) →
SQLAlchemy → dataloaders → response; reads of factory data add access events at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any, cast

from graphql import (
    DocumentNode,
    GraphQLError,
)
from opentelemetry.trace import TracerProvider
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from strawberry.http.ides import get_graphql_ide_html
from strawberry.types import ExecutionResult

from api import idempotency
from api.auth import authenticate
from api.context import Context
from api.documents import DocumentCache, expanded_size
from api.middleware import request_log
from api.middleware.metrics import MetricsMiddleware, metrics_endpoint
from api.middleware.proxies import trust_proxies
from api.middleware.request_log import RequestLogMiddleware
from api.middleware.tracing import traced
from api.ratelimit import RateLimiter, build_limiter, principal_key
from api.responses import GraphQLResponse, encode, error_response, payload_of, too_many
from api.schema import build_schema
from api.sessions import StatementLock, StatementSession, close_session
from authz.enforcer import PolicyEnforcer
from authz.guard import install_guard
from authz.principal import Principal
from authz.sync import PolicyFollower
from core.errors import InvalidToken
from core.migrate import is_at_head
from core.runtime import Runtime
from core.settings import Settings
from core.tracing import configure_tracing

log = logging.getLogger("millgate.http")

MAX_BODY = 256 * 1024

# (query, variables, operationName) of one request.
Operation = tuple[str, dict[str, Any] | None, str | None]


def _being_cancelled() -> bool:
    """True when this request's own task is being cancelled (the client went away, or the
    server stops), as opposed to a CancelledError escaping from a resolver's shared future."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def create_app(
    runtime: Runtime | None = None,
    *,
    follow_policy: bool = True,
    rate_limiter: RateLimiter | None = None,
    tracer_provider: TracerProvider | None = None,
) -> Starlette:
    """The ASGI app. ``runtime`` defaults to one built from ``MILLGATE_*`` settings;
    ``rate_limiter`` to the one the settings ask for (see :mod:`api.ratelimit`);
    ``tracer_provider`` to the one the ``OTEL_*`` variables ask for (see :mod:`core.tracing`)."""
    runtime = runtime or Runtime.create(Settings())
    settings = runtime.settings
    tracer_provider = tracer_provider or configure_tracing()
    # The documents this app's requests parse and validate: its own, under its settings.
    documents = DocumentCache(max_tokens=settings.max_query_tokens)
    schema = build_schema(settings, documents, tracer_provider)
    limiter = rate_limiter or build_limiter(settings)
    enforcer = PolicyEnforcer()
    follower = PolicyFollower(enforcer, runtime.engine, runtime.sessionmaker)
    # Request sessions: the runtime's settings, statements that run to their end.
    sessions = async_sessionmaker(
        runtime.engine, class_=StatementSession, expire_on_commit=False, autoflush=False
    )
    install_guard()

    async def authenticated(
        request: Request, session: AsyncSession, *, keep_transaction: bool = False
    ) -> Principal | Response:
        """The caller, or the response that refuses it (401, or 429 past its budget).

        ``keep_transaction`` (a query on PostgreSQL) goes on in the authentication's
        transaction: ending it would cost a rollback, a second connection checkout with its
        ping and a new BEGIN, three of a light page's round trips. Mutations, and every
        request on SQLite (where a read transaction may not turn into a write), start anew.
        """
        client_ip = request.client.host if request.client else "unknown"
        try:
            principal = await authenticate(request, runtime, session)
            request_log.note_caller(principal)
        except InvalidToken:
            # Failed attempts spend the address's budget: guessing keys is slow too.
            refused = await limiter.hit(f"ip:{client_ip}")
            if not refused.allowed:
                return too_many(refused)
            return error_response(401, "unauthorized", "UNAUTHENTICATED")
        if not keep_transaction:
            await session.rollback()  # a mutation's transaction starts after authentication
        decision = await limiter.hit(principal_key(principal, client_ip))
        if not decision.allowed:
            return too_many(decision)
        return principal

    async def execute(
        session: AsyncSession,
        principal: Principal,
        request_id: str,
        operation: Operation,
        policy: PolicyEnforcer,
    ) -> ExecutionResult:
        query, variables, name = operation
        lock = StatementLock()
        if isinstance(session, StatementSession):
            session.statement_lock = lock
        ctx = Context(
            runtime=runtime,
            enforcer=policy,
            principal=principal,
            session=session,
            request_id=request_id,
            operation=(name or "anonymous")[:60],
            lock=lock,
        )
        try:
            result = await schema.execute(
                query, variable_values=variables, context_value=ctx, operation_name=name
            )
            await ctx.flush_access_log()  # nothing is shown that is not logged: raises on failure
        finally:
            ctx.finished = True  # no statement after this one (see Context.db)
        return result

    async def graphql(request: Request) -> Response:
        request_id = request_log.request_id()
        if request.method == "GET":
            if settings.production or request.query_params:
                return error_response(405, "use POST with a JSON body", "METHOD_NOT_ALLOWED")
            return HTMLResponse(get_graphql_ide_html(graphql_ide="graphiql"))
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return error_response(415, "send application/json", "UNSUPPORTED_MEDIA_TYPE")
        body = await request.body()
        if len(body) > MAX_BODY:
            return error_response(413, "request too large", "TOO_LARGE")
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):  # nesting too deep is no JSON we take either
            return error_response(400, "body is not JSON", "BAD_REQUEST")
        if not isinstance(data, dict):  # batching is off
            return error_response(400, "send one operation as a JSON object", "BAD_REQUEST")
        query, variables, name = (
            data.get("query"),
            data.get("variables"),
            data.get("operationName"),
        )
        if (
            not isinstance(query, str)
            or not isinstance(variables, dict | None)
            or not isinstance(name, str | None)
        ):
            return error_response(400, "query must be a string, variables an object", "BAD_REQUEST")
        operation: Operation = (query, variables, name)
        try:
            # Cached: strawberry then takes this document instead of parsing the text again.
            document: DocumentNode | None = documents.parse(query)
        except GraphQLError:
            document = None  # the schema answers with the syntax error
        if document is not None:
            request_log.note_operation(document, name)
        if document is not None and expanded_size(document) > settings.max_query_tokens * 5:
            return error_response(400, "the query expands to too many fields", "QUERY_TOO_COMPLEX")
        mutation = document is not None and idempotency.is_mutation(document, name)
        raw_key = request.headers.get(idempotency.HEADER)
        if raw_key is not None:
            try:
                key = idempotency.parse_key(raw_key)
            except idempotency.BadKey as error:
                return error_response(400, str(error), "BAD_REQUEST")
            if mutation:
                return await idempotent(request, request_id, key, operation)
        session = sessions()
        query_on_postgres = not settings.is_sqlite and document is not None and not mutation
        try:
            principal = await authenticated(request, session, keep_transaction=query_on_postgres)
            if isinstance(principal, Response):
                return principal
            result = await execute(session, principal, request_id, operation, enforcer)
        except Exception:
            log.exception("request %s failed", request_id)
            return error_response(500, "unexpected error", "INTERNAL")
        except asyncio.CancelledError:
            if _being_cancelled():
                raise
            log.exception("request %s failed: a cancellation escaped its resolver", request_id)
            return error_response(500, "unexpected error", "INTERNAL")
        finally:
            await close_session(session, request_id)
        payload, status = payload_of(result)
        return GraphQLResponse(payload, status_code=status, headers={"x-request-id": request_id})

    async def idempotent(
        request: Request, request_id: str, key: str, operation: Operation
    ) -> Response:
        """A mutation with an Idempotency-Key: see :mod:`api.idempotency`."""
        request_fingerprint = idempotency.fingerprint(*operation)
        headers = {"x-request-id": request_id}
        try:
            async with idempotency.outer_transaction(runtime.engine, StatementSession) as (
                conn,
                session,
            ):
                principal = await authenticated(request, session)
                if isinstance(principal, Response):
                    return principal
                scope = idempotency.scope_of(principal)
                if scope is not None:
                    await idempotency.lock(session, scope, key)
                    stored = await idempotency.find(session, scope, key)
                    if stored is not None:
                        if stored.fingerprint != request_fingerprint:
                            return error_response(
                                409,
                                "this Idempotency-Key was used for another request",
                                idempotency.KEY_REUSED,
                            )
                        return Response(
                            stored.body,
                            status_code=stored.status_code,
                            media_type="application/json",
                            headers={**headers, idempotency.REPLAYED_HEADER: "true"},
                        )
                deferred = cast(PolicyEnforcer, idempotency.DeferredEnforcer(enforcer))
                result = await execute(session, principal, request_id, operation, deferred)
                if idempotency.failed_unexpectedly(result.errors or ()):
                    return error_response(
                        500,
                        "unexpected error; nothing was changed: retry with the same "
                        "Idempotency-Key",
                        "INTERNAL",
                    )
                payload, status = payload_of(result)
                body = encode(payload).decode()
                executed = not result.errors or any(e.path is not None for e in result.errors)
                if scope is not None and executed:  # a refused document changed nothing
                    await idempotency.save(session, scope, key, request_fingerprint, status, body)
                await session.commit()
                await conn.commit()
        except (Exception, asyncio.CancelledError) as error:
            if isinstance(error, asyncio.CancelledError) and _being_cancelled():
                raise
            # Rolled back, or the commit's outcome is unknown: a retry with the same key
            # either replays the stored answer or runs the mutation for the first time.
            log.exception("idempotent request %s failed", request_id)
            return error_response(
                503,
                "the request did not complete: retry with the same Idempotency-Key",
                "UNAVAILABLE",
            )
        try:
            await follower.refresh()  # this process's enforcer, before the answer goes out
        except Exception:
            log.warning(
                "policy catch-up after request %s failed; the follower retries",
                request_id,
                exc_info=True,
            )
        return Response(body, status_code=status, media_type="application/json", headers=headers)

    async def healthz(_: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(_: Request) -> Response:
        try:
            async with runtime.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            if not await is_at_head(runtime.engine):
                return PlainTextResponse("migrations not at head", status_code=503)
        except Exception:
            log.warning("readiness check failed", exc_info=True)
            return PlainTextResponse("database unreachable", status_code=503)
        return PlainTextResponse("ready")

    async def jwks(_: Request) -> Response:
        return JSONResponse(
            runtime.keys.signing.public_jwks(), headers={"cache-control": "public, max-age=300"}
        )

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if follow_policy:
            await follower.start()
        else:
            async with runtime.sessionmaker() as session:
                await enforcer.load(session)
        try:
            yield
        finally:
            await follower.stop()
            await limiter.close()

    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/.well-known/jwks.json", jwks),
            Route("/metrics", metrics_endpoint(runtime)),
        ],
        lifespan=lifespan,
    )
    # Innermost first: each add_middleware wraps what is already there.
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(RequestLogMiddleware)
    request_log.count_statements(runtime.engine)
    traced(app, runtime.engine, tracer_provider)
    trust_proxies(app, settings.trusted_proxies)  # outermost: the others see the real client
    app.state.runtime = runtime
    app.state.enforcer = enforcer
    app.state.follower = follower
    app.state.rate_limiter = limiter
    app.state.documents = documents
    return app
