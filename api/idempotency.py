"""Idempotent mutations: with an ``Idempotency-Key`` header, a retry is answered, not re-run.

A mutation sent with the header runs in one outer database transaction that also writes
its response to ``idempotency_record``: the effects and the stored response commit together
or not at all, so there is no moment where one exists without the other. Inside it, each
mutation's own transaction (:func:`api.mutations.base.run`) becomes a savepoint, so a refused
mutation still leaves nothing behind.

- The same key with the same request: the stored response, header ``Idempotency-Replayed:
  true``, and no second effect.
- The same key with another request: 409, code ``IDEMPOTENCY_KEY_REUSED``.
- A request that failed unexpectedly: everything is rolled back and nothing is stored, so
  a retry with the same key runs it afresh.

Keys belong to the caller (organisation and user or API key) and are kept for a day.
Anonymous callers and queries ignore the header: there is nothing to repeat.

Concurrent requests with one key: on PostgreSQL a transaction-level advisory lock on the
(caller, key) makes the second wait for the first to commit and then replay its answer;
SQLite takes its one write lock up front (``BEGIN IMMEDIATE``). The unique (scope, key)
constraint is the last guard.

Decisions inside read their facts in the outer transaction: a mutation sees the grants an
earlier savepoint of the same request wrote, and nothing leaves before the commit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError
from sqlalchemy import delete, select, text  # noqa: TID251 - reads marked with system_read
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

import models as m
from authz.guard import system_read
from authz.principal import Principal

HEADER = "idempotency-key"
REPLAYED_HEADER = "idempotency-replayed"
KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
TTL = dt.timedelta(hours=24)
_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")  # visible ASCII: UUIDs, ULIDs, hashes
_LOCK_CLASS = 0x6964  # "id": the first half of the two-int advisory lock key


class BadKey(ValueError):
    """Raised when an Idempotency-Key header is empty, too long or not visible ASCII."""


def parse_key(value: str) -> str:
    key = value.strip()
    if not _KEY.match(key):
        raise BadKey("Idempotency-Key must be 1 to 200 visible ASCII characters")
    return key


def fingerprint(query: str, variables: dict[str, Any] | None, operation: str | None) -> str:
    canonical = json.dumps(
        {"query": query, "variables": variables, "operationName": operation},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def scope_of(principal: Principal) -> str | None:
    """Whose keys these are; None for the anonymous public."""
    if principal.organization_id is None:
        return None
    if principal.api_key_id is not None:
        return f"org:{principal.organization_id}/key:{principal.api_key_id}"
    return f"org:{principal.organization_id}/user:{principal.user_id}"


@dataclass(frozen=True, slots=True)
class Stored:
    fingerprint: str
    status_code: int
    body: str


@asynccontextmanager
async def outer_transaction(
    engine: AsyncEngine, session_class: type[AsyncSession] = AsyncSession
) -> AsyncIterator[tuple[AsyncConnection, AsyncSession]]:
    """A connection in a transaction, and a session whose commits are savepoints of it.

    Whatever the caller does not commit is rolled back when the block ends.
    """
    async with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            # pysqlite would otherwise start the transaction at the first write, and the
            # first savepoint's release would commit everything before it.
            await conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            await conn.begin()
        session = session_class(
            bind=conn,
            join_transaction_mode="create_savepoint",
            expire_on_commit=False,
            autoflush=False,
        )
        try:
            yield conn, session
        finally:
            finished = getattr(session, "finished", None)  # see api.sessions.StatementSession
            if finished is not None:
                await finished()
            await session.close()
            if conn.in_transaction():
                await conn.rollback()


def _lock_key(scope: str, key: str) -> int:
    digest = hashlib.sha256(f"{scope}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:4], "big", signed=True)


async def lock(session: AsyncSession, scope: str, key: str) -> None:
    """Waits until no other transaction holds this (caller, key); held until commit."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:cls, :key)"),
            {"cls": _LOCK_CLASS, "key": _lock_key(scope, key)},
        )


async def find(session: AsyncSession, scope: str, key: str) -> Stored | None:
    """The stored answer for this (caller, key), if one younger than :data:`TTL` exists."""
    row = await session.scalar(
        system_read(
            select(m.IdempotencyRecord).where(
                m.IdempotencyRecord.scope == scope, m.IdempotencyRecord.key == key
            ),
            "idempotency: the caller's own stored response",
        )
    )
    if row is None:
        return None
    if row.created_at < m.utcnow() - TTL:
        await session.delete(row)
        await session.flush()
        return None
    return Stored(row.fingerprint, row.status_code, row.body)


async def save(
    session: AsyncSession, scope: str, key: str, request_fingerprint: str, status: int, body: str
) -> None:
    """Stores the answer in the caller's transaction, and forgets answers past :data:`TTL`."""
    now = m.utcnow()
    await session.execute(
        delete(m.IdempotencyRecord).where(m.IdempotencyRecord.created_at < now - TTL)
    )
    session.add(
        m.IdempotencyRecord(
            scope=scope,
            key=key,
            fingerprint=request_fingerprint,
            status_code=status,
            body=body,
            created_at=now,
        )
    )
    await session.flush()


# Codes of errors that no deliberate check raised: masked exceptions (INTERNAL) and, with a
# path, execution failures of GraphQL itself (labelled like validation errors, or not at all).
_UNEXPECTED_CODES = {None, "INTERNAL", "GRAPHQL_VALIDATION_FAILED"}


def failed_unexpectedly(errors: Iterable[GraphQLError]) -> bool:
    """True when execution hit an error that no check of ours raised on purpose: the
    answer is not deterministic and must not be stored."""
    return any(
        error.path is not None and (error.extensions or {}).get("code") in _UNEXPECTED_CODES
        for error in errors
    )
