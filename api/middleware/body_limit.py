"""Refuses a request body past a size limit before it is buffered.

A handler that calls ``await request.body()`` reads the whole body into memory before it
can look at its length: a 200 MB upload was held whole before its 413. This middleware
answers 413 from the ``Content-Length`` header alone, before anything is read, and, for a
body sent without one (chunked), counts what the app pulls from ``receive`` and stops at the
limit: the app never sees more than ``max_body`` bytes, and nothing past them is read.

Example:
    app.add_middleware(BodyLimitMiddleware, max_body=256 * 1024)
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

TOO_LARGE = json.dumps(
    {"errors": [{"message": "request too large", "extensions": {"code": "TOO_LARGE"}}]},
    separators=(",", ":"),
).encode()


class BodyTooLarge(Exception):
    """Raised from ``receive`` when a body without a usable Content-Length passes the limit."""


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body:
            await _refuse(send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise BodyTooLarge
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except BodyTooLarge:
            if started:  # the app answered before reading it all: nothing more to say
                raise
            await _refuse(send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # malformed: the server refuses it, or the count below holds
    return None


async def _refuse(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(TOO_LARGE)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": TOO_LARGE})
