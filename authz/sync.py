"""Keeping every process's enforcer on the same policy revision.

A change to grants, factories or organisations calls :func:`record` inside its transaction:
it bumps the single ``policy_revision`` row (on PostgreSQL the row lock orders writers, so
revisions commit in order), appends the role links added or removed, and on PostgreSQL
queues a ``NOTIFY millgate_policy`` that the database delivers at commit. Each process
replays the changes past its revision with :func:`catch_up`: at once when notified, and
from a poll every second as a fallback for a lost listener connection. Reads of rows never
wait for this: the scoped queries read grants in the same statement.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Iterable

import asyncpg
from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

import models as m
from authz.enforcer import Link, PolicyEnforcer
from authz.guard import system_read

CHANNEL = "millgate_policy"
POLL_SECONDS = 1.0
KEEPALIVE_SECONDS = 10.0

log = logging.getLogger("millgate.policy")

Change = tuple[str, Link, str, dt.datetime | None]


def add(link: Link, source: str, expires_at: dt.datetime | None = None) -> Change:
    return ("add", link, source, expires_at)


def remove(link: Link, source: str) -> Change:
    return ("remove", link, source, None)


async def record(session: AsyncSession, changes: Iterable[Change]) -> int:
    """Bumps the revision and appends ``changes``, in the caller's transaction.

    The bump takes the policy write lock (a row lock on PostgreSQL, the database write lock
    on SQLite) until the transaction ends: call it with no changes first to serialise a
    check-then-write (see grantConsent).
    """
    changes = list(changes)
    first_row = (
        pg_insert(m.PolicyRevision)
        if session.bind is not None and session.bind.dialect.name == "postgresql"
        else sqlite_insert(m.PolicyRevision)
    )
    await session.execute(
        first_row.values(id=1, revision=0, changed_at=m.utcnow()).on_conflict_do_nothing()
    )
    bumped = await session.execute(
        update(m.PolicyRevision)
        .where(m.PolicyRevision.id == 1)
        .values(revision=m.PolicyRevision.revision + 1, changed_at=m.utcnow())
        .returning(m.PolicyRevision.revision)
    )
    revision = int(bumped.scalar_one())
    session.add_all(
        m.PolicyChange(
            revision=revision,
            op=op,
            subject=link[0],
            relation=link[1],
            domain=link[2],
            source=source,
            expires_at=expires_at,
        )
        for op, link, source, expires_at in changes
    )
    await session.flush()
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_notify(:channel, :rev)"), {"channel": CHANNEL, "rev": str(revision)}
        )
    return revision


async def catch_up(enforcer: PolicyEnforcer, session: AsyncSession) -> int:
    """Applies the changes past the enforcer's revision; returns how many."""
    rows = (
        await session.scalars(
            system_read(
                select(m.PolicyChange)
                .where(m.PolicyChange.revision > enforcer.revision)
                .order_by(m.PolicyChange.revision, m.PolicyChange.id),
                "policy: catch up",
            )
        )
    ).all()
    enforcer.apply(rows)
    return len(rows)


class PolicyFollower:
    """Runs in each API process: LISTEN on PostgreSQL, and a one-second poll everywhere."""

    def __init__(
        self,
        enforcer: PolicyEnforcer,
        engine: AsyncEngine,
        sessionmaker: async_sessionmaker[AsyncSession],
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.enforcer = enforcer
        self._engine = engine
        self._sessionmaker = sessionmaker
        self._poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        async with self._lock, self._sessionmaker() as session:
            await catch_up(self.enforcer, session)

    async def start(self) -> None:
        async with self._sessionmaker() as session:
            await self.enforcer.load(session)
        self._tasks.append(asyncio.create_task(self._poll()))
        if self._engine.dialect.name == "postgresql":
            self._tasks.append(asyncio.create_task(self._listen()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    async def _poll(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_seconds)
            self._wake.clear()
            try:
                await self.refresh()
            except Exception:  # the database may be away for a moment: poll again
                log.warning("policy catch-up failed; retrying", exc_info=True)

    async def _listen(self) -> None:
        url = self._engine.url.set(drivername="postgresql")
        while True:
            try:
                conn = await asyncpg.connect(url.render_as_string(hide_password=False))
                try:
                    await conn.add_listener(CHANNEL, lambda *_: self._wake.set())
                    lost = asyncio.Event()
                    conn.add_termination_listener(lambda *_, ev=lost: ev.set())
                    self._wake.set()  # catch up on whatever passed while not listening
                    while not lost.is_set():
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(lost.wait(), KEEPALIVE_SECONDS)
                        if not lost.is_set():  # a dead peer shows only when spoken to
                            await asyncio.wait_for(conn.fetchval("SELECT 1"), KEEPALIVE_SECONDS)
                finally:
                    with contextlib.suppress(Exception):
                        await conn.close()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("policy listener lost its connection; reconnecting", exc_info=True)
                await asyncio.sleep(self._poll_seconds)
