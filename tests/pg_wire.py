"""Counts real database round trips: a TCP relay in front of PostgreSQL that reads the
client's side of the wire protocol.

Every exchange in which the client waits for the server ends with a Sync ('S', the extended
protocol: a bound execution, a pipelined executemany), a Flush ('H': asyncpg's prepare, which
waits for the statement's description) or is a simple Query ('Q': BEGIN, COMMIT, ROLLBACK).
Counting those three messages counts round trips, whatever layer (pool, ORM, driver) sent
them.

Example:
    async with RoundTripCounter("127.0.0.1", 5432) as relay:
        engine = make_engine(relay.url_for(database_url))
        before = relay.round_trips
        ...
        assert relay.round_trips - before <= 3
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Coroutine
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

# Startup-phase request codes (no type byte): SSL and GSS encryption requests come before
# the StartupMessage, which ends the untyped phase.
_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104
_CANCEL_REQUEST = 80877102


async def _until_closed(pipe: Coroutine[Any, Any, None]) -> None:
    """Runs one direction of a relay until either side closes."""
    with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
        await pipe


class RoundTripCounter:
    """A relay to ``host:port`` on a local port; ``round_trips`` counts the Sync, Flush and
    Query messages sent by every client through it, ``messages`` all types in order."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.round_trips = 0
        self.messages: list[str] = []
        self.connections = 0
        self.closed_by_server = 0
        self._closed = asyncio.Condition()
        # Per live connection, by the relay's port towards PostgreSQL (pg_stat_activity's
        # client_port): its writer to the server, and whether it is severed (see sever()).
        self._links: dict[int, tuple[asyncio.StreamWriter, list[bool]]] = {}
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def upstream_ports(self) -> list[int]:
        """The client ports PostgreSQL sees for the relay's live connections."""
        return sorted(self._links)

    async def wait_closed_by_server(self, count: int) -> None:
        """Returns once the server has closed ``count`` connections in all."""
        async with self._closed:
            await self._closed.wait_for(lambda: self.closed_by_server >= count)

    def sever(self) -> None:
        """Cuts every live connection the way a dead network does: the server's side is
        closed, and the client learns it only when it next sends something."""
        for server_out, severed in self._links.values():
            severed[0] = True
            server_out.close()

    @property
    def listen_port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def url_for(self, database_url: str) -> str:
        """``database_url`` with its host and port replaced by the relay's."""
        parts = urlsplit(database_url)
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo + '@' if userinfo else ''}127.0.0.1:{self.listen_port}"
        return urlunsplit(parts._replace(netloc=netloc))

    async def __aenter__(self) -> RoundTripCounter:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        await self._server.wait_closed()

    async def _relay(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        self.connections += 1
        server_in, server_out = await asyncio.open_connection(self.host, self.port)
        port = int(server_out.get_extra_info("sockname")[1])
        severed = [False]
        self._links[port] = (server_out, severed)
        upstream = asyncio.ensure_future(
            _until_closed(self._client_to_server(client_in, server_out, severed))
        )
        downstream = asyncio.ensure_future(
            _until_closed(self._server_to_client(server_in, client_out, severed))
        )
        for task in (upstream, downstream):
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        try:
            await asyncio.wait([upstream, downstream], return_when=asyncio.FIRST_COMPLETED)
            if downstream.done() and severed[0]:
                await upstream  # the client finds out when it next sends something
        finally:
            self._links.pop(port, None)
            for task in (upstream, downstream):
                task.cancel()
            for writer in (client_out, server_out):
                writer.close()

    async def _server_to_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, severed: list[bool]
    ) -> None:
        while (data := await reader.read(65536)) and not severed[0]:
            writer.write(data)
            await writer.drain()
        async with self._closed:
            self.closed_by_server += 1
            self._closed.notify_all()

    async def _client_to_server(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, severed: list[bool]
    ) -> None:
        started = False
        while True:
            if not started:  # untyped: int32 length (itself included), int32 code, body
                head = await reader.readexactly(8)
                length, code = struct.unpack("!ii", head)
                body = await reader.readexactly(length - 8)
                writer.write(head + body)
                if code == _CANCEL_REQUEST:
                    return
                started = code not in (_SSL_REQUEST, _GSSENC_REQUEST)
            else:  # typed: one byte, int32 length (itself included), body
                head = await reader.readexactly(5)
                kind, length = head[:1].decode(), struct.unpack("!i", head[1:])[0]
                body = await reader.readexactly(length - 4)
                if severed[0]:
                    return  # the client learns now that its connection is gone
                writer.write(head + body)
                self.messages.append(kind)
                if kind in ("S", "H", "Q"):
                    self.round_trips += 1
            await writer.drain()
