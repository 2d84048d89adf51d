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
import uuid
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar, cast

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
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
from api.documents import DocumentCache
from api.ratelimit import Decision, RateLimiter, build_limiter, principal_key
from api.schema import build_schema
from authz.enforcer import PolicyEnforcer
from authz.guard import install_guard
from authz.principal import Principal
from authz.sync import PolicyFollower
from core.errors import InvalidToken
from core.migrate import is_at_head
from core.runtime import Runtime
from core.settings import Settings

log = logging.getLogger("millgate.http")

MAX_BODY = 256 * 1024
T = TypeVar("T")

# (query, variables, operationName) of one request.
Operation = tuple[str, dict[str, Any] | None, str | None]


def _error(status: int, message: str, code: str) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]}, status_code=status
    )


class GraphQLResponse(Response):
    """A GraphQL result as JSON, encoded by orjson: several times faster than the stdlib."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return encode(content)


def encode(payload: Any) -> bytes:
    """The compact JSON of ``payload``, as starlette's JSONResponse would write it."""
    try:
        return orjson.dumps(payload)
    except TypeError:
        # orjson refuses integers past 64 bits (a JSON scalar may hold one): the stdlib
        # writes them, as it did before.
        return json.dumps(
            payload, ensure_ascii=False, allow_nan=False, separators=(",", ":")
        ).encode()


def _too_many(decision: Decision) -> JSONResponse:
    response = _error(429, "too many requests: slow down", "RATE_LIMITED")
    response.headers["retry-after"] = decision.retry_after_header
    return response


def expanded_size(document: DocumentNode) -> int:
    """The number of fields the document selects with every fragment spread expanded.

    Counted with one memo per fragment, so it takes linear time where a naive walk (as the
    depth and alias limiters do) takes time exponential in the nesting of fragments that
    spread each other twice: 20 such fragments, some 200 tokens, stall a process.
    """
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    memo: dict[str, int] = {}

    def size(selection_set: SelectionSetNode | None, visiting: frozenset[str]) -> int:
        total = 0
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                total += 1 + size(selection.selection_set, visiting)
            elif isinstance(selection, InlineFragmentNode):
                total += size(selection.selection_set, visiting)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in visiting or name not in fragments:
                    continue  # a cycle or an unknown fragment: validation refuses both
                if name not in memo:
                    memo[name] = size(fragments[name].selection_set, visiting | {name})
                total += memo[name]
        return total

    return sum(
        size(d.selection_set, frozenset())
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    )


class StatementLock(asyncio.Lock):
    """A request's session lock (``Context.lock``) that stays held while a statement runs.

    When a field fails, GraphQL cancels its sibling resolvers. A resolver cancelled while
    awaiting a statement would release the lock while the statement still runs on the
    session's connection (and, cancelled inside the driver, leave that connection broken:
    aiosqlite's is then closed under the pool). :class:`StatementSession` lets the statement
    finish instead, and this lock waits for it before the next resolver may use the session.
    """

    def __init__(self) -> None:
        super().__init__()
        self.in_flight: set[asyncio.Future[Any]] = set()

    def release(self) -> None:
        pending = [f for f in self.in_flight if not f.done()]
        if not pending:
            super().release()
            return
        done = asyncio.gather(*pending, return_exceptions=True)
        done.add_done_callback(lambda _: asyncio.Lock.release(self))


class StatementSession(AsyncSession):
    """An AsyncSession whose statements run to their end even if their caller is cancelled."""

    statement_lock: StatementLock | None = None

    async def _to_the_end(self, work: Awaitable[T]) -> T:
        task = asyncio.ensure_future(work)
        task.add_done_callback(lambda t: t.cancelled() or t.exception())  # retrieved: no warning
        if self.statement_lock is not None:
            self.statement_lock.in_flight.add(task)
            task.add_done_callback(self.statement_lock.in_flight.discard)
        return await asyncio.shield(task)

    async def finished(self) -> None:
        """Waits for the statements whose callers were cancelled."""
        if self.statement_lock is not None and self.statement_lock.in_flight:
            await asyncio.gather(*self.statement_lock.in_flight, return_exceptions=True)

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        return await self._to_the_end(super().execute(*args, **kwargs))

    async def scalar(self, *args: Any, **kwargs: Any) -> Any:
        return await self._to_the_end(super().scalar(*args, **kwargs))

    async def scalars(self, *args: Any, **kwargs: Any) -> Any:
        return await self._to_the_end(super().scalars(*args, **kwargs))

    async def get(self, *args: Any, **kwargs: Any) -> Any:
        return await self._to_the_end(super().get(*args, **kwargs))

    async def flush(self, *args: Any, **kwargs: Any) -> None:
        await self._to_the_end(super().flush(*args, **kwargs))

    async def commit(self) -> None:
        await self._to_the_end(super().commit())

    async def rollback(self) -> None:
        await self._to_the_end(super().rollback())


async def _close(session: AsyncSession, request_id: str) -> None:
    """Ends a request's session; a connection that cannot be closed is dropped, not raised.

    When a field fails, GraphQL cancels its siblings, and one cancelled in the middle of a
    statement leaves its connection unusable: the answer is complete all the same.
    """
    try:
        if isinstance(session, StatementSession):
            await session.finished()
        await session.close()
    except Exception:
        log.warning("dropping the connection of request %s", request_id, exc_info=True)
        with contextlib.suppress(Exception):
            await session.invalidate()


def _being_cancelled() -> bool:
    """True when this request's own task is being cancelled (the client went away, or the
    server stops), as opposed to a CancelledError escaping from a resolver's shared future."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _payload(result: ExecutionResult) -> tuple[dict[str, Any], int]:
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [error.formatted for error in result.errors]
    return payload, 200 if result.data is not None or not result.errors else 400


def create_app(
    runtime: Runtime | None = None,
    *,
    follow_policy: bool = True,
    rate_limiter: RateLimiter | None = None,
) -> Starlette:
    """The ASGI app. ``runtime`` defaults to one built from ``MILLGATE_*`` settings;
    ``rate_limiter`` to the one the settings ask for (see :mod:`api.ratelimit`)."""
    runtime = runtime or Runtime.create(Settings())
    settings = runtime.settings
    # The documents this app's requests parse and validate: its own, under its settings.
    documents = DocumentCache(max_tokens=settings.max_query_tokens)
    schema = build_schema(settings, documents)
    limiter = rate_limiter or build_limiter(settings)
    enforcer = PolicyEnforcer()
    follower = PolicyFollower(enforcer, runtime.engine, runtime.sessionmaker)
    # Request sessions: the runtime's settings, statements that run to their end.
    sessions = async_sessionmaker(
        runtime.engine, class_=StatementSession, expire_on_commit=False, autoflush=False
    )
    install_guard()

    async def authenticated(request: Request, session: AsyncSession) -> Principal | Response:
        """The caller, or the response that refuses it (401, or 429 past its budget)."""
        client_ip = request.client.host if request.client else "unknown"
        try:
            principal = await authenticate(request, runtime, session)
        except InvalidToken:
            # Failed attempts spend the address's budget: guessing keys is slow too.
            refused = await limiter.hit(f"ip:{client_ip}")
            if not refused.allowed:
                return _too_many(refused)
            return _error(401, "unauthorized", "UNAUTHENTICATED")
        await session.rollback()  # do not hold the auth read's transaction open
        decision = await limiter.hit(principal_key(principal, client_ip))
        if not decision.allowed:
            return _too_many(decision)
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
        request_id = uuid.uuid4().hex[:16]
        if request.method == "GET":
            if settings.production or request.query_params:
                return _error(405, "use POST with a JSON body", "METHOD_NOT_ALLOWED")
            return HTMLResponse(get_graphql_ide_html(graphql_ide="graphiql"))
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return _error(415, "send application/json", "UNSUPPORTED_MEDIA_TYPE")
        body = await request.body()
        if len(body) > MAX_BODY:
            return _error(413, "request too large", "TOO_LARGE")
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):  # nesting too deep is no JSON we take either
            return _error(400, "body is not JSON", "BAD_REQUEST")
        if not isinstance(data, dict):  # batching is off
            return _error(400, "send one operation as a JSON object", "BAD_REQUEST")
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
            return _error(400, "query must be a string, variables an object", "BAD_REQUEST")
        operation: Operation = (query, variables, name)
        try:
            # Cached: strawberry then takes this document instead of parsing the text again.
            document: DocumentNode | None = documents.parse(query)
        except GraphQLError:
            document = None  # the schema answers with the syntax error
        if document is not None and expanded_size(document) > settings.max_query_tokens * 5:
            return _error(400, "the query expands to too many fields", "QUERY_TOO_COMPLEX")
        raw_key = request.headers.get(idempotency.HEADER)
        if raw_key is not None:
            try:
                key = idempotency.parse_key(raw_key)
            except idempotency.BadKey as error:
                return _error(400, str(error), "BAD_REQUEST")
            if document is not None and idempotency.is_mutation(document, name):
                return await idempotent(request, request_id, key, operation)
        session = sessions()
        try:
            principal = await authenticated(request, session)
            if isinstance(principal, Response):
                return principal
            result = await execute(session, principal, request_id, operation, enforcer)
        except Exception:
            log.exception("request %s failed", request_id)
            return _error(500, "unexpected error", "INTERNAL")
        except asyncio.CancelledError:
            if _being_cancelled():
                raise
            log.exception("request %s failed: a cancellation escaped its resolver", request_id)
            return _error(500, "unexpected error", "INTERNAL")
        finally:
            await _close(session, request_id)
        payload, status = _payload(result)
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
                            return _error(
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
                    return _error(
                        500,
                        "unexpected error; nothing was changed: retry with the same "
                        "Idempotency-Key",
                        "INTERNAL",
                    )
                payload, status = _payload(result)
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
            return _error(
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
        ],
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.enforcer = enforcer
    app.state.follower = follower
    app.state.rate_limiter = limiter
    app.state.documents = documents
    return app
