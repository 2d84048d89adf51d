"""The typed per-request context: who asks, one session, the scope, loaders, access log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

import models as m
from authz.enforcer import allows
from authz.facts import NO_GRANTS, factory_relation
from authz.principal import Principal
from authz.rules import needs_grants
from authz.scope import Scope
from core.runtime import Runtime

if TYPE_CHECKING:
    from api.loaders import Loaders


class RequestFinished(RuntimeError):
    """A statement asked for after its request ended (see :meth:`Context.db`)."""


@dataclass
class Context:
    runtime: Runtime
    principal: Principal
    session: AsyncSession
    request_id: str
    operation: str = "graphql"
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # (factory id, operation) read by another organisation, written once at the end.
    accessed: set[tuple[int, str]] = field(default_factory=set)
    # Set when the answer is complete: a dataloader batch that a failing sibling field left
    # behind must not open the session again after the app has closed it.
    finished: bool = False

    @cached_property
    def scope(self) -> Scope:
        return Scope(self.principal)

    @cached_property
    def loaders(self) -> Loaders:
        from api.loaders import Loaders

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

    def record_access(self, factory_id: int, what: str) -> None:
        """Notes a read of a factory's data by someone other than the factory itself."""
        if self.principal.factory_id != factory_id and not self.principal.is_anonymous:
            self.accessed.add((factory_id, f"{self.operation}:{what}"))

    async def flush_access_log(self) -> None:
        if not self.accessed or self.principal.organization_id is None:
            return
        rows: list[dict[str, Any]] = [
            {
                "factory_id": factory_id,
                "organization_id": self.principal.organization_id,
                "user_id": self.principal.user_id,
                "api_key_id": self.principal.api_key_id,
                "operation": operation[:120],
                "at": m.utcnow(),
            }
            for factory_id, operation in sorted(self.accessed)
        ]
        self.accessed.clear()
        async with self.db() as session:
            await session.execute(insert(m.AccessEvent), rows)
            await session.commit()
