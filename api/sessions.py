"""A request's database session: statements that run to their end, and its closing.

When a field fails, GraphQL cancels its sibling resolvers; a statement cancelled inside the
driver would leave its connection broken and the session lock released too early. These
let the statement finish and make the next user of the session wait for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger("millgate.http")

T = TypeVar("T")


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


async def close_session(session: AsyncSession, request_id: str) -> None:
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
