"""Routes beside the API: liveness, readiness, and the public keys of the platform."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import text  # noqa: TID251 - the readiness probe (SELECT 1) reads no rows
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from core.runtime import Runtime
from migrations.migrate import is_at_head

log = logging.getLogger("millgate.http")

Endpoint = Callable[[Request], Awaitable[Response]]


async def healthz(_: Request) -> Response:
    return PlainTextResponse("ok")


def readyz(runtime: Runtime) -> Endpoint:
    """Ready when the database answers and its migrations are at head."""

    async def probe(_: Request) -> Response:
        try:
            async with runtime.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            if not await is_at_head(runtime.engine):
                return PlainTextResponse("migrations not at head", status_code=503)
        except Exception:
            log.warning("readiness check failed", exc_info=True)
            return PlainTextResponse("database unreachable", status_code=503)
        return PlainTextResponse("ready")

    return probe


def jwks(runtime: Runtime) -> Endpoint:
    async def keys(_: Request) -> Response:
        return JSONResponse(
            runtime.keys.signing.public_jwks(), headers={"cache-control": "public, max-age=300"}
        )

    return keys


def probe_routes(runtime: Runtime) -> list[Route]:
    return [
        Route("/healthz", healthz),
        Route("/readyz", readyz(runtime)),
        Route("/.well-known/jwks.json", jwks(runtime)),
    ]
