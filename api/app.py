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
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    OperationType,
)
from opentelemetry.trace import TracerProvider
from sqlalchemy import text  # noqa: TID251 - the readiness probe (SELECT 1) reads no rows
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from strawberry.types import ExecutionResult

from api import idempotency
from api.auth import authenticate
from api.challenge import refused
from api.context import Context
from api.documents import DocumentRefused, document_cache
from api.graphiql import graphiql_assets, graphiql_page
from api.middleware import request_log
from api.middleware.body_limit import BodyLimitMiddleware
from api.middleware.cors import cors_middleware
from api.middleware.metrics import MetricsMiddleware, metrics_endpoint
from api.middleware.proxies import trust_proxies
from api.middleware.request_log import RequestLogMiddleware
from api.middleware.tracing import traced
from api.oidc import OpenIdProviders
from api.operations import OperationNotChosen, operation_to_run
from api.ratelimit import (
    RateLimiter,
    RecentRefusals,
    build_limiter,
    principal_key,
    request_cost,
)
from api.responses import GraphQLResponse, encode, error_response, payload_of, too_many
from api.schema import build_schema
from api.sessions import StatementLock, StatementSession, close_session
from authz.guard import install_guard
from authz.principal import Principal
from console import mount_console
from core.errors import InvalidToken
from core.runtime import Runtime
from core.settings import Settings
from core.tracing import configure_tracing
from migrations.migrate import is_at_head

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
    documents = document_cache(settings)
    schema = build_schema(settings, documents, tracer_provider)
    limiter = rate_limiter or build_limiter(settings)
    refusals = RecentRefusals()  # anonymous addresses out of budget: refused before parsing
    # Request sessions: the runtime's settings, statements that run to their end.
    sessions = async_sessionmaker(
        runtime.engine, class_=StatementSession, expire_on_commit=False, autoflush=False
    )
    install_guard()
    providers = OpenIdProviders.from_settings(settings, runtime.sessionmaker)

    async def authenticated(
        request: Request, session: AsyncSession, cost: int, *, keep_transaction: bool = False
    ) -> Principal | Response:
        """The caller, or the response that refuses it (401, or 429 past its budget, of which
        the request spends ``cost``).

        ``keep_transaction`` (a query on PostgreSQL) goes on in the authentication's
        transaction: ending it would cost a rollback, a second connection checkout with its
        ping and a new BEGIN, three of a light page's round trips. Mutations, and every
        request on SQLite (where a read transaction may not turn into a write), start anew.
        """
        client_ip = request.client.host if request.client else "unknown"
        try:
            principal = await authenticate(request, runtime, session, providers)
            request_log.note_caller(principal)
        except InvalidToken as error:
            # Failed attempts spend the address's budget: guessing keys is slow too.
            spent = await limiter.hit(f"ip:{client_ip}")
            if not spent.allowed:
                return too_many(spent)
            return refused(error)
        if not keep_transaction:
            await session.rollback()  # a mutation's transaction starts after authentication
        key = principal_key(principal, client_ip)
        decision = await limiter.hit(key, cost)
        refusals.note(key, decision)
        if not decision.allowed:
            return too_many(decision)
        return principal

    async def execute(
        session: AsyncSession,
        principal: Principal,
        request_id: str,
        operation: Operation,
    ) -> ExecutionResult:
        query, variables, name = operation
        lock = StatementLock()
        if isinstance(session, StatementSession):
            session.statement_lock = lock
        ctx = Context(
            runtime=runtime,
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
        response = await answer(request, request_id)
        response.headers.setdefault("x-request-id", request_id)  # refusals and 500s too
        return response

    async def answer(request: Request, request_id: str) -> Response:
        if request.method == "GET":
            if settings.production or request.query_params:
                return error_response(405, "use POST with a JSON body", "METHOD_NOT_ALLOWED")
            return graphiql_page()
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return error_response(415, "send application/json", "UNSUPPORTED_MEDIA_TYPE")
        body = await request.body()  # at most MAX_BODY bytes: BodyLimitMiddleware
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
        if not query.strip():
            return error_response(400, "query must not be empty", "BAD_REQUEST")
        operation: Operation = (query, variables, name)
        address = f"ip:{request.client.host if request.client else 'unknown'}"
        anonymous = "authorization" not in request.headers and "x-api-key" not in request.headers
        earlier = refusals.refused(address) if anonymous else None
        if earlier is not None:
            return too_many(earlier)
        try:
            # Cached: strawberry then takes this document instead of parsing the text again.
            admitted = documents.admit(query)
        except DocumentRefused as refusal:  # too costly to validate: the address pays for it
            decision = await limiter.hit(address, request_cost(refusal.cost, len(query)))
            refusals.note(address, decision)
            if not decision.allowed:
                return too_many(decision)
            return error_response(400, refusal.message, refusal.code)
        except GraphQLError:
            admitted = None  # the schema answers with the syntax error
        document: DocumentNode | None = admitted.document if admitted else None
        cost = request_cost(admitted.cost or 0 if admitted else 0, len(query))
        mutation = False
        if document is not None:
            request_log.note_operation(document, name)
            try:
                mutation = operation_to_run(document, name).operation == OperationType.MUTATION
            except OperationNotChosen as error:
                return error_response(400, error.message, error.code)
        raw_key = request.headers.get(idempotency.HEADER)
        if raw_key is not None:
            try:
                key = idempotency.parse_key(raw_key)
            except idempotency.BadKey as error:
                return error_response(400, str(error), "BAD_REQUEST")
            if mutation:
                return await idempotent(request, request_id, key, operation, cost)
        session = sessions()
        query_on_postgres = not settings.is_sqlite and document is not None and not mutation
        try:
            principal = await authenticated(
                request, session, cost, keep_transaction=query_on_postgres
            )
            if isinstance(principal, Response):
                return principal
            result = await execute(session, principal, request_id, operation)
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
        request: Request, request_id: str, key: str, operation: Operation, cost: int
    ) -> Response:
        """A mutation with an Idempotency-Key: see :mod:`api.idempotency`."""
        request_fingerprint = idempotency.fingerprint(*operation)
        headers = {"x-request-id": request_id}
        try:
            async with idempotency.outer_transaction(runtime.engine, StatementSession) as (
                conn,
                session,
            ):
                principal = await authenticated(request, session, cost)
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
                result = await execute(session, principal, request_id, operation)
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
        try:
            yield
        finally:
            await limiter.close()

    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/.well-known/jwks.json", jwks),
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
