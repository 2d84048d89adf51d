"""The audit trail: a hash chain appended in each mutation's own transaction.

Each entry's hash covers its content and the previous entry's hash, so editing, removing
or reordering any entry breaks every hash after it; :func:`verify` finds the first break.
Writers are serialised (an advisory lock on PostgreSQL; SQLite has one writer anyway).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text  # noqa: TID251 - reads marked with system_read
from sqlalchemy.ext.asyncio import AsyncSession

import models as m
from authz.guard import system_read
from authz.principal import Principal

GENESIS = "0" * 64
_LOCK_KEY = 0x6D696C6C  # "mill"


def _digest(prev_hash: str, entry: m.AuditEntry) -> str:
    body = {
        "seq": entry.seq,
        "at": entry.at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "organization": entry.organization_id,
        "user": entry.user_id,
        "apiKey": entry.api_key_id,
        "action": entry.action,
        "factory": entry.factory_id,
        "target": entry.target,
        "details": entry.details,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


async def append(
    session: AsyncSession,
    principal: Principal | None,
    action: str,
    target: str,
    *,
    factory_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> m.AuditEntry:
    """Adds one entry to the chain, inside the caller's transaction."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    last = (
        await session.execute(
            system_read(
                select(m.AuditEntry.seq, m.AuditEntry.entry_hash)
                .order_by(m.AuditEntry.seq.desc())
                .limit(1),
                "audit: chain head",
            )
        )
    ).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    entry = m.AuditEntry(
        seq=seq,
        at=m.utcnow(),
        organization_id=principal.organization_id if principal else None,
        user_id=principal.user_id if principal else None,
        api_key_id=principal.api_key_id if principal else None,
        action=action,
        factory_id=factory_id,
        target=target,
        details=details or {},
        prev_hash=prev,
    )
    entry.entry_hash = _digest(prev, entry)
    session.add(entry)
    await session.flush()
    return entry


@dataclass(frozen=True)
class Break:
    seq: int
    reason: str


def verify(entries: Iterable[m.AuditEntry]) -> list[Break]:
    """Every break in the chain: an edited, removed or reordered entry."""
    problems: list[Break] = []
    prev = GENESIS
    expected_seq = 1
    for entry in entries:
        if entry.seq != expected_seq:
            problems.append(
                Break(entry.seq, f"expected entry {expected_seq}: removed or reordered")
            )
        if entry.prev_hash != prev:
            problems.append(Break(entry.seq, "previous hash does not match"))
        if _digest(entry.prev_hash, entry) != entry.entry_hash:
            problems.append(Break(entry.seq, "content does not match its hash"))
        prev = entry.entry_hash
        expected_seq = entry.seq + 1
    return problems


async def verify_database(session: AsyncSession) -> list[Break]:
    rows = await session.scalars(
        system_read(select(m.AuditEntry).order_by(m.AuditEntry.id), "audit: verify")
    )
    return verify(rows)
