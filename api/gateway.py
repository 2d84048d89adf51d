"""What hosts pull: Gateway exports and the rolling list of enrolled factories (rule 17)."""

from __future__ import annotations

import datetime as dt

import strawberry
from sqlalchemy import tuple_
from strawberry.types import Info

import models as m
from api.context import Context
from api.ids import to_global_id
from api.node import Node
from api.pagination import TIME_ID_KEY, PageInfo, cursor_of, page_args
from authz.paging import count


@strawberry.type
class GatewayExport(Node):
    export_id: str = strawberry.field(
        description="The payload's id: the exportId a webhook notice names."
    )
    factory_gateway_id: str
    cycle: int
    created_at: dt.datetime
    release_on: dt.date
    content_sha256: str
    schema_version: str
    envelope: str = strawberry.field(
        description="Compact JWE to the recipient host's registered key, wrapping a compact JWS (EdDSA)."  # noqa: E501 - one line of contract text
    )

    @classmethod
    def of(cls, row: m.GatewayExport) -> GatewayExport:
        return cls(
            id=to_global_id("GatewayExport", row.id),
            export_id=row.export_uid,
            factory_gateway_id=row.factory_gateway_id,
            cycle=row.cycle_number,
            created_at=row.created_at,
            release_on=row.release_on,
            content_sha256=row.content_sha256,
            schema_version=row.schema_version,
            envelope=row.envelope,
        )


@strawberry.type
class GatewayExportEdge:
    node: GatewayExport
    cursor: str


@strawberry.type
class GatewayExportConnection:
    edges: list[GatewayExportEdge]
    page_info: PageInfo
    count_stmt: strawberry.Private[object]

    @strawberry.field(description="The exports addressed to the caller in all.")
    async def total_count(self, info: Info[Context, None]) -> int:
        async with info.context.db() as session:
            return int(await session.scalar(self.count_stmt) or 0)  # type: ignore[call-overload]


@strawberry.type
class EnrolledFactory:
    name: str
    country: str
    enrolled_on: dt.date
    slcp_gateway_id: str | None
    cursor: str = strawberry.field(description="Pass as `after` to continue the list.")


async def gateway_exports(
    info: Info[Context, None],
    first: int | None,
    after: str | None,
    since: dt.datetime | None = None,
) -> GatewayExportConnection:
    ctx = info.context
    args = page_args(first, after, ctx.runtime.settings.max_page_size, TIME_ID_KEY)
    stmt = ctx.scope.exports()
    if since is not None:  # inclusive: an export made at that instant is not skipped
        stmt = stmt.where(m.GatewayExport.created_at >= since)
    count_stmt = count(stmt)
    if args.after is not None:
        stmt = stmt.where(tuple_(m.GatewayExport.created_at, m.GatewayExport.id) < args.after)
    stmt = stmt.order_by(m.GatewayExport.created_at.desc(), m.GatewayExport.id.desc())
    async with ctx.db() as session:
        rows = list((await session.scalars(stmt.limit(args.first + 1))).all())
    page = rows[: args.first]
    for row in page:
        ctx.record_access(row.factory_id, info)
    edges = [
        GatewayExportEdge(
            node=GatewayExport.of(r), cursor=cursor_of(r.created_at.isoformat(), r.id)
        )
        for r in page
    ]
    return GatewayExportConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(rows) > args.first, end_cursor=edges[-1].cursor if edges else None
        ),
        count_stmt=count_stmt,
    )


async def enrolled_factories(
    info: Info[Context, None], first: int | None, after: str | None
) -> list[EnrolledFactory]:
    ctx = info.context
    args = page_args(first, after, ctx.runtime.settings.max_page_size)
    stmt = ctx.scope.enrolled_factories().order_by(m.Factory.id)
    if args.after is not None:
        stmt = stmt.where(m.Factory.id > args.after[0])
    async with ctx.db() as session:
        rows = (await session.scalars(stmt.limit(args.first))).all()
    for row in rows:  # a factory's name and Gateway ID: a read of its data like any other
        ctx.record_access(row.id, info)
    return [
        EnrolledFactory(
            name=r.name,
            country=r.country_code,
            enrolled_on=r.enrolled_on or dt.date.min,
            slcp_gateway_id=r.slcp_gateway_id,
            cursor=cursor_of(r.id),
        )
        for r in rows
    ]
