"""``Factory.auditLog``: the audit entries about a factory's own data."""

from __future__ import annotations

import asyncio
import datetime as dt

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

import models as m
from api.connections import Connection, Edge, count_of, page_of
from api.context import Context
from api.organizations.types import Organization, load_organization
from api.pagination import PageArgs
from audit.checkpoints import CheckpointStore
from authz.paging import count


@strawberry.type
class AuditEntry:
    row: strawberry.Private[m.AuditEntry]
    seq: int
    at: dt.datetime
    action: str
    target: str

    @strawberry.field
    def details(self) -> JSON:
        return self.row.details  # type: ignore[return-value]

    @strawberry.field(description="Who acted; null for the platform's own jobs.")
    async def organization(self, info: Info[Context, None]) -> Organization | None:
        if self.row.organization_id is None:
            return None
        return await load_organization(info, self.row.organization_id)


@strawberry.type
class AuditEntryConnection(Connection[AuditEntry]):
    count_stmt: strawberry.Private[object]

    @strawberry.field(description="The factory's audit entries in all.")
    async def total_count(self, info: Info[Context, None]) -> int:
        return await count_of(info, self.count_stmt)


async def audit_page(
    info: Info[Context, None], factory_id: int, args: PageArgs
) -> AuditEntryConnection:
    ctx = info.context
    stmt = ctx.scope.audit_entries().where(m.AuditEntry.factory_id == factory_id)
    count_stmt = count(stmt)
    if args.after is not None:
        stmt = stmt.where(m.AuditEntry.seq < args.after[0])
    async with ctx.db() as session:
        rows = list(
            (
                await session.scalars(stmt.order_by(m.AuditEntry.seq.desc()).limit(args.first + 1))
            ).all()
        )
    edges, page_info = page_of(
        rows,
        args.first,
        lambda r: Edge(
            node=AuditEntry(row=r, seq=r.seq, at=r.at, action=r.action, target=r.target),
            key=(r.seq,),
        ),
    )
    return AuditEntryConnection(edges=edges, page_info=page_info, count_stmt=count_stmt)


@strawberry.type(
    description="The platform's signature over the audit chain's head: entry `seq` had hash "
    "`headHash`. Verify `jws` with /.well-known/jwks.json and keep it: it proves later that "
    "the trail up to `seq` was not cut or rewritten."
)
class AuditCheckpoint:
    seq: int
    head_hash: str
    signed_at: dt.datetime
    jws: str


async def latest_checkpoint(info: Info[Context, None], factory_id: int) -> AuditCheckpoint | None:
    """The newest checkpoint, for whoever may read the factory's audit log (its own users)."""
    ctx = info.context
    stmt = ctx.scope.factory_ids("access_log").where(m.Factory.id == factory_id)
    async with ctx.db() as session:
        if await session.scalar(stmt) is None:
            return None
    settings = ctx.runtime.settings
    store = CheckpointStore(settings.effective_checkpoint_dir)
    found = await asyncio.to_thread(store.latest, ctx.runtime.keys.signing.public_jwks())
    if found is None:
        return None
    return AuditCheckpoint(
        seq=found.seq, head_hash=found.head_hash, signed_at=found.signed_at, jws=found.jws
    )
