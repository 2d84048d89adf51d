"""The typed per-request context: who asks, one session, the scope, loaders, access log."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info

import models as m
from api.access_paths import field_path
from api.loaders import Loaders
from authz.enforcer import allows
from authz.facts import NO_GRANTS, factory_relation
from authz.principal import Principal
from authz.rules import needs_grants
from authz.scope import Scope
from core.runtime import Runtime

_LOG_INSERT = insert(m.AccessEvent)


class RequestFinished(RuntimeError):
    """A statement asked for after its request ended (see :meth:`Context.db`)."""


@dataclass
class Context:
    runtime: Runtime
    principal: Principal
    session: AsyncSession
    request_id: str
    # The reader's own name for its operation: for its logs, never for the access log.
    operation: str = "graphql"
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Factory id -> field paths read by another organisation, written once at the end.
    accessed: dict[int, set[str]] = field(default_factory=dict)
    # "query" or "mutation", as the server parsed the document (set by the first read).
    accessed_by: str = "query"
    # Set when the answer is complete: a dataloader batch that a failing sibling field left
    # behind must not open the session again after the app has closed it.
    finished: bool = False

    @cached_property
    def scope(self) -> Scope:
        return Scope(self.principal)

    @cached_property
    def loaders(self) -> Loaders:
        return Loaders(self)

    @asynccontextmanager
    async def db(self) -> AsyncIterator[AsyncSession]:
        """The request's session, one user at a time (sibling fields resolve concurrently)."""
        async with self.lock:
            if self.finished:
                raise RequestFinished(f"request {self.request_id} has ended")
            yield self.session

    async def allows(self, obj: str, act: str, factory: m.Factory) -> bool:
        """A point decision about a factory in hand (a field rule such as ``slcp``): its row,
        and the caller's grants on it where the rule can turn on them, batched per page."""
        grants = NO_GRANTS
        if needs_grants(self.principal, obj, act):
            grants = await self.loaders.grant_scopes.load(factory.id)
        return allows(self.principal, obj, act, factory_relation(self.principal, factory, grants))

    def record_access(self, factory_id: int, info: Info[Any, Any]) -> None:
        """Notes a resolver's read of a factory's data, named by the schema fields it went
        through (:func:`api.access_paths.field_path`)."""
        self.note_read(factory_id, (field_path(info),), info.operation.operation.value)

    @property
    def reads_logged(self) -> bool:
        """Whether this caller's reads go into the access log at all: the anonymous public's
        do not (nor those of a caller of no organisation, which no event could name)."""
        return not self.principal.is_anonymous and self.principal.organization_id is not None

    def note_read(self, factory_id: int, paths: Iterable[str], operation: str) -> None:
        """Notes a read of a factory's data under these field paths, when someone other than
        the factory itself reads it and :attr:`reads_logged`."""
        if self.principal.factory_id != factory_id and self.reads_logged:
            self.accessed.setdefault(factory_id, set()).update(paths)
            self.accessed_by = operation

    def event(self, paths: Iterable[str], at: dt.datetime) -> dict[str, Any]:
        """The values of an ``access_event`` row for reads under these field paths, all but
        the factories it names; ``operation`` holds their root fields."""
        read = sorted(paths)
        roots = ",".join(sorted({path.split(".", 1)[0] for path in read}))
        return {
            "organization_id": self.principal.organization_id,
            "user_id": self.principal.user_id,
            "api_key_id": self.principal.api_key_id,
            "operation": f"{self.accessed_by}:{roots}"[:120],
            "fields": " ".join(read),
            "at": at,
        }

    def take_access_log(self) -> list[dict[str, Any]]:
        """The ``access_event`` rows of the reads noted so far, which are then forgotten: one
        per distinct set of field paths, naming every factory read with them (a page of 100
        factories is one row); ``operation`` holds the root fields."""
        if not self.accessed:
            return []
        groups: dict[frozenset[str], list[int]] = defaultdict(list)
        for factory_id, paths in sorted(self.accessed.items()):
            groups[frozenset(paths)].append(factory_id)
        now = m.utcnow()
        rows = [
            {"factory_ids": factory_ids, **self.event(read, now)}
            for read, factory_ids in groups.items()
        ]
        self.accessed.clear()
        return rows

    async def flush_access_log(self) -> None:
        """Writes :meth:`take_access_log`'s rows in one statement, whatever was read."""
        rows = self.take_access_log()
        if not rows:
            return
        async with self.db() as session:
            # Parameters for many rows, not a VALUES list: one statement whose SQL (and so its
            # compiled and prepared form) is the same for any number of rows. A Core insert
            # on the session's connection: the ORM's bulk path costs more than the write.
            conn = await session.connection()
            await conn.execute(_LOG_INSERT, rows[0] if len(rows) == 1 else rows)
            await session.commit()
