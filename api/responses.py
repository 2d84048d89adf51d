"""The HTTP answers of the API: GraphQL results (orjson) and the errors before GraphQL."""

from __future__ import annotations

import json
from typing import Any

import orjson
from starlette.responses import JSONResponse, Response
from strawberry.types import ExecutionResult

from api.ratelimit import Decision
from core import metrics


def error_response(status: int, message: str, code: str) -> JSONResponse:
    metrics.GRAPHQL_ERRORS.labels(code).inc()
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


def too_many(decision: Decision) -> JSONResponse:
    response = error_response(429, "too many requests: slow down", "RATE_LIMITED")
    response.headers["retry-after"] = decision.retry_after_header
    return response


def payload_of(result: ExecutionResult) -> tuple[dict[str, Any], int]:
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [error.formatted for error in result.errors]
    return payload, 200 if result.data is not None or not result.errors else 400
