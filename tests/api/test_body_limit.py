"""A body past the limit is refused before it is read: by its Content-Length, or, sent
chunked without one, as soon as the bytes pulled from ``receive`` pass the limit."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import Message

from api.app import MAX_BODY

CHUNK = 64 * 1024
QUERY = json.dumps({"query": "{ viewer { role } }"}).encode()


class Upload:
    """An ASGI ``receive`` that streams ``total`` bytes in chunks and counts what is pulled."""

    def __init__(self, total: int, first: bytes = b"") -> None:
        self.remaining = total
        self.first = first
        self.pulled = 0

    async def __call__(self) -> Message:
        if self.first:
            body, self.first = self.first, b""
        else:
            body = b" " * min(CHUNK, self.remaining)
        self.remaining -= len(body)
        self.pulled += len(body)
        return {"type": "http.request", "body": body, "more_body": self.remaining > 0}


async def call(app: Any, receive: Upload, headers: list[tuple[bytes, bytes]]) -> list[Message]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"millgate.test"), (b"content-type", b"application/json"), *headers],
        "client": ("203.0.113.7", 4000),
        "server": ("millgate.test", 80),
        "state": {},
    }
    await app(scope, receive, send)
    return sent


def status_and_code(sent: list[Message]) -> tuple[int, str]:
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body)["errors"][0]["extensions"]["code"]


async def test_a_declared_length_past_the_limit_is_refused_before_one_byte_is_read(
    api: Any,
) -> None:
    upload = Upload(200 * 1024 * 1024, first=QUERY)

    sent = await call(api.app, upload, [(b"content-length", str(200 * 1024 * 1024).encode())])

    assert status_and_code(sent) == (413, "TOO_LARGE")
    assert upload.pulled == 0


async def test_a_chunked_body_is_read_no_further_than_the_limit(api: Any) -> None:
    upload = Upload(10 * 1024 * 1024, first=QUERY)

    sent = await call(api.app, upload, [(b"transfer-encoding", b"chunked")])

    assert status_and_code(sent) == (413, "TOO_LARGE")
    assert upload.pulled <= MAX_BODY + CHUNK
    assert upload.remaining > 0


async def test_a_chunked_body_within_the_limit_is_answered(api: Any) -> None:
    upload = Upload(len(QUERY), first=QUERY)

    sent = await call(api.app, upload, [(b"transfer-encoding", b"chunked")])

    assert sent[0]["status"] == 200
    assert upload.pulled == len(QUERY)
