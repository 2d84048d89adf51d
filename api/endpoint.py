"""The GraphQL endpoint: one POST's way from its JSON body to its answer.

request → checks of method, media type and body → the document, admitted once
(:mod:`api.documents`) → the caller (:meth:`GraphQLEndpoint._authenticated`: token or API
key, then the rate limit) → the schema in one session → response. A mutation with an
Idempotency-Key takes :meth:`GraphQLEndpoint._idempotent` instead. The middleware around it
(:mod:`api.middleware`) gives the request its id, bounds its body and logs it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from graphql import DocumentNode, GraphQLError, OperationType
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from strawberry import Schema
from strawberry.types import ExecutionResult

from api import idempotency
from api.auth import authenticate
from api.challenge import refused
from api.context import Context
from api.documents import DocumentCache, DocumentRefused
from api.graphiql import graphiql_page
from api.middleware import request_log
from api.oidc import OpenIdProviders
from api.operations import OperationNotChosen, operation_to_run
from api.planner import Planner
from api.ratelimit import RateLimiter, RecentRefusals, principal_key, request_cost
from api.responses import GraphQLResponse, encode, error_response, payload_of, too_many
from api.sessions import StatementLock, StatementSession, close_session
from authz.principal import Principal
from core.errors import InvalidToken
from core.runtime import Runtime

log = logging.getLogger("millgate.http")

# (query, variables, operationName) of one request.
Operation = tuple[str, dict[str, Any] | None, str | None]


def _being_cancelled() -> bool:
    """True when this request's own task is being cancelled (the client went away, or the
    server stops), as opposed to a CancelledError escaping from a resolver's shared future."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class GraphQLEndpoint:
    """``/graphql`` as an ASGI app: GET serves GraphiQL in development, POST runs one
    operation."""

    def __init__(
        self,
        runtime: Runtime,
        schema: Schema,
        documents: DocumentCache,
        limiter: RateLimiter,
        providers: OpenIdProviders | None,
    ) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.schema = schema
        # The documents this app's requests parse and validate: its own, under its settings.
        self.documents = documents
        self.limiter = limiter
        self.providers = providers  # sign-in through OpenID providers, when configured
        # Known queries answered from rows (api.planner); None: the schema answers every one.
        self.planner = Planner(documents, runtime) if self.settings.planned_reads else None
        self.refusals = RecentRefusals()  # anonymous addresses out of budget: refused early
        # Request sessions: the runtime's settings, statements that run to their end.
        self.sessions = async_sessionmaker(
            runtime.engine, class_=StatementSession, expire_on_commit=False, autoflush=False
        )
        # A query on PostgreSQL runs in autocommit: no BEGIN and no COMMIT round trip. It
        # only reads, under READ COMMITTED each statement had its own snapshot anyway, and
        # its one write, the access log, is a single statement (atomic on its own) whose
        # failure still fails the request. Mutations keep their transaction.
        self.query_sessions = self.sessions
        self.on_postgres = runtime.engine.dialect.name == "postgresql"
        if self.on_postgres:
            self.query_sessions = async_sessionmaker(
                runtime.engine.execution_options(isolation_level="AUTOCOMMIT"),
                class_=StatementSession,
                expire_on_commit=False,
                autoflush=False,
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.handle(Request(scope, receive))
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        request_id = request_log.request_id()
        response = await self._answer(request, request_id)
        response.headers.setdefault("x-request-id", request_id)  # refusals and 500s too
        return response

    async def _answer(self, request: Request, request_id: str) -> Response:
        if request.method == "GET":
            if self.settings.production or request.query_params:
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
        earlier = self.refusals.refused(address) if anonymous else None
        if earlier is not None:
            return too_many(earlier)
        try:
            # Cached: strawberry then takes this document instead of parsing the text again.
            admitted = self.documents.admit(query)
        except DocumentRefused as refusal:  # too costly to validate: the address pays for it
            decision = await self.limiter.hit(address, request_cost(refusal.cost, len(query)))
            self.refusals.note(address, decision)
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
                return await self._idempotent(request, request_id, key, operation, cost)
        # Anything but a mutation (a query, or a document the schema will refuse) only reads.
        query_on_postgres = self.on_postgres and not mutation
        session = (self.query_sessions if query_on_postgres else self.sessions)()
        # A mutation on PostgreSQL authenticates in autocommit too: its own transaction
        # starts after authentication all the same, without a BEGIN and ROLLBACK around it.
        autocommit = self.on_postgres and mutation
        try:
            try:
                principal = await self._authenticated(
                    request,
                    session,
                    cost,
                    keep_transaction=query_on_postgres,
                    autocommit=autocommit,
                )
            except DBAPIError as error:
                if not error.connection_invalidated:
                    raise
                # The server closed the connection after the pool's check (see
                # core.db.check_at_checkout) and its first statement found out: nothing was
                # read or written yet, so the request goes on with a new connection.
                log.info("request %s: connection lost before its first statement", request_id)
                await session.rollback()
                principal = await self._authenticated(
                    request,
                    session,
                    cost,
                    keep_transaction=query_on_postgres,
                    autocommit=autocommit,
                )
            if isinstance(principal, Response):
                return principal
            result = await self._execute(session, principal, request_id, operation)
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

    async def _authenticated(
        self,
        request: Request,
        session: AsyncSession,
        cost: int,
        *,
        keep_transaction: bool = False,
        autocommit: bool = False,
    ) -> Principal | Response:
        """The caller, or the response that refuses it (401, or 429 past its budget, of which
        the request spends ``cost``).

        ``keep_transaction`` (a query on PostgreSQL, in autocommit) goes on with the
        authentication's connection: releasing it would cost a second checkout. Mutations,
        and every request on SQLite (where a read transaction may not turn into a write),
        start their transaction anew after authentication. ``autocommit`` (a mutation on
        PostgreSQL) reads the caller outside any transaction, so ending it costs nothing.
        """
        client_ip = request.client.host if request.client else "unknown"
        if autocommit:
            await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        try:
            principal = await authenticate(request, self.runtime, session, self.providers)
            request_log.note_caller(principal)
        except InvalidToken as error:
            # Failed attempts spend the address's budget: guessing keys is slow too.
            spent = await self.limiter.hit(f"ip:{client_ip}")
            if not spent.allowed:
                return too_many(spent)
            return refused(error)
        if not keep_transaction:
            await session.rollback()  # a mutation's transaction starts after authentication
        key = principal_key(principal, client_ip)
        decision = await self.limiter.hit(key, cost)
        self.refusals.note(key, decision)
        if not decision.allowed:
            return too_many(decision)
        return principal

    async def _execute(
        self,
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
            runtime=self.runtime,
            principal=principal,
            session=session,
            request_id=request_id,
            operation=(name or "anonymous")[:60],
            lock=lock,
        )
        try:
            # A known query is answered from rows (api.planner); None: the schema executes it.
            result = None if self.planner is None else await self.planner.execute(ctx, *operation)
            if result is None:
                result = await self.schema.execute(
                    query, variable_values=variables, context_value=ctx, operation_name=name
                )
            await ctx.flush_access_log()  # nothing is shown that is not logged: raises on failure
        finally:
            ctx.finished = True  # no statement after this one (see Context.db)
        return result

    async def _idempotent(
        self, request: Request, request_id: str, key: str, operation: Operation, cost: int
    ) -> Response:
        """A mutation with an Idempotency-Key: see :mod:`api.idempotency`."""
        request_fingerprint = idempotency.fingerprint(*operation)
        headers = {"x-request-id": request_id}
        try:
            async with idempotency.outer_transaction(self.runtime.engine, StatementSession) as (
                conn,
                session,
            ):
                principal = await self._authenticated(request, session, cost)
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
                result = await self._execute(session, principal, request_id, operation)
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
