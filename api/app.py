"""``create_app(runtime)``: routes, the GraphQL endpoint, and the lifespan.

One request's way: HTTP → Starlette → :func:`api.auth.authenticate` (bearer token or API key
→ Principal) → the Strawberry schema with its limits → resolvers → scoped queries (authz) →
SQLAlchemy → dataloaders → response; reads of factory data add access events at the end.
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from strawberry.http.ides import get_graphql_ide_html

from api.auth import authenticate
from api.context import Context
from api.schema import build_schema
from authz.enforcer import PolicyEnforcer
from authz.guard import install_guard
from authz.sync import PolicyFollower
from core.errors import InvalidToken
from core.migrate import is_at_head
from core.runtime import Runtime
from core.settings import Settings

log = logging.getLogger("millgate.http")

MAX_BODY = 256 * 1024


def _error(status: int, message: str, code: str) -> JSONResponse:
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]},
                        status_code=status)


def create_app(runtime: Runtime | None = None, *, follow_policy: bool = True) -> Starlette:
    """The ASGI app. ``runtime`` defaults to one built from ``MILLGATE_*`` settings."""
    runtime = runtime or Runtime.create(Settings())
    settings = runtime.settings
    schema = build_schema(settings)
    enforcer = PolicyEnforcer()
    follower = PolicyFollower(enforcer, runtime.engine, runtime.sessionmaker)
    install_guard()

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
        except ValueError:
            return _error(400, "body is not JSON", "BAD_REQUEST")
        if not isinstance(data, dict):  # batching is off
            return _error(400, "send one operation as a JSON object", "BAD_REQUEST")
        query, variables, operation = (
            data.get("query"), data.get("variables"), data.get("operationName")
        )
        if not isinstance(query, str) or not isinstance(variables, dict | None) or not isinstance(
            operation, str | None
        ):
            return _error(400, "query must be a string, variables an object", "BAD_REQUEST")
        async with runtime.sessionmaker() as session:
            try:
                principal = await authenticate(request, runtime, session)
            except InvalidToken:
                return _error(401, "unauthorized", "UNAUTHENTICATED")
            await session.rollback()  # do not hold the auth read's transaction open
            ctx = Context(
                runtime=runtime, enforcer=enforcer, principal=principal, session=session,
                request_id=request_id, operation=(operation or "anonymous")[:60],
            )
            result = await schema.execute(
                query, variable_values=variables, context_value=ctx, operation_name=operation
            )
            try:
                await ctx.flush_access_log()
            except Exception:
                log.exception("access log write failed (request %s)", request_id)
                return _error(500, "unexpected error", "INTERNAL")
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            payload["errors"] = [error.formatted for error in result.errors]
        status = 200 if result.data is not None or not result.errors else 400
        return JSONResponse(payload, status_code=status, headers={"x-request-id": request_id})

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
        return JSONResponse(runtime.keys.signing.public_jwks(),
                            headers={"cache-control": "public, max-age=300"})

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
    return app
