"""The request id and the one log line of every request (logger ``millgate.access``).

The middleware gives each request an id (sent back as ``x-request-id``) and a
:class:`RequestInfo` that the GraphQL endpoint fills in as it learns who calls and what they
ask; a statement listener on the engine counts the request's SQL statements. The line names
the caller by organisation id and kind and the operation by type and root fields: never a
token, a key, a variable or an answer.

Example:
    app.add_middleware(RequestLogMiddleware)
    count_statements(runtime.engine)
"""

from __future__ import annotations

import logging
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from graphql import DocumentNode, FieldNode, OperationDefinitionNode
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from authz.principal import Principal

log = logging.getLogger("millgate.access")

HEADER = "x-request-id"


@dataclass(slots=True)
class RequestInfo:
    request_id: str
    organization: int | None = None
    caller: str = "anonymous"
    operation_type: str | None = None
    root_fields: tuple[str, ...] = ()
    statements: int = 0


_current: ContextVar[RequestInfo | None] = ContextVar("millgate_request", default=None)


def current() -> RequestInfo | None:
    """This request's info (None outside a request, e.g. in the export worker)."""
    return _current.get()


def request_id() -> str:
    info = _current.get()
    return info.request_id if info is not None else uuid.uuid4().hex[:16]


def note_caller(principal: Principal) -> None:
    info = _current.get()
    if info is not None:
        info.organization = principal.organization_id
        kind = principal.organization_kind
        info.caller = "anonymous" if kind is None else kind.value.lower()


def operation_of(document: DocumentNode, name: str | None) -> tuple[str | None, tuple[str, ...]]:
    """The type and root field names of the operation ``name`` picks (None: none it picks)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [o for o in operations if name is None or (o.name and o.name.value == name)]
    if len(chosen) != 1:
        return None, ()
    operation = chosen[0]
    fields = tuple(
        s.name.value for s in operation.selection_set.selections if isinstance(s, FieldNode)
    )
    return operation.operation.value, fields[:20]


def note_operation(document: DocumentNode, name: str | None) -> None:
    info = _current.get()
    if info is not None:
        info.operation_type, info.root_fields = operation_of(document, name)


def _count(*_: Any) -> None:
    info = _current.get()
    if info is not None:
        info.statements += 1


def count_statements(engine: AsyncEngine) -> None:
    """Counts each SQL statement sent for a request (the listener is added once an engine)."""
    target = engine.sync_engine
    if not event.contains(target, "before_cursor_execute", _count):
        event.listen(target, "before_cursor_execute", _count)


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        info = RequestInfo(uuid.uuid4().hex[:16])
        token = _current.set(info)
        started = time.perf_counter()
        status = 500  # unless an answer starts

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                if HEADER not in headers:
                    headers.append(HEADER, info.request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _current.reset(token)
            client = scope.get("client")
            log.info(
                "request",
                extra={
                    "request_id": info.request_id,
                    "method": scope["method"],
                    "path": scope["path"],
                    "client": client[0] if client else None,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "organization": info.organization,
                    "caller": info.caller,
                    "operation_type": info.operation_type,
                    "root_fields": list(info.root_fields),
                    "statements": info.statements,
                },
            )
