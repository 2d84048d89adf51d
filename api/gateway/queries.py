"""Hosts' reads: their Gateway exports and the rolling list of enrolled factories (rule 17)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry
from sqlalchemy import tuple_
from strawberry.types import Info

import models as m
from api.connections import Edge, page_of
from api.context import Context
from api.gateway.types import (
    EnrolledFactory,
    GatewayExport,
    GatewayExportConnection,
)
from api.pagination import TIME_ID_KEY, cursor_of, page_args
from authz.paging import count


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
    for row in rows[: args.first]:
        ctx.record_access(row.factory_id, info)
    edges, page_info = page_of(
        rows,
        args.first,
        lambda r: Edge(node=GatewayExport.of(r), key=(r.created_at.isoformat(), r.id)),
    )
    return GatewayExportConnection(edges=edges, page_info=page_info, count_stmt=count_stmt)


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


@strawberry.type
class GatewayExportQueries:
    @strawberry.field
    async def gateway_exports(
        self,
        info: Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        since: Annotated[
            dt.datetime | None,
            strawberry.argument(description="Only exports made at or after this instant."),
        ] = None,
    ) -> GatewayExportConnection:
        return await gateway_exports(info, first, after, since)


@strawberry.type
class EnrolledFactoryQueries:
    @strawberry.field(description="Hosts and the platform: the rolling list of enrolled factories.")
    async def enrolled_factories(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> list[EnrolledFactory]:
        return await enrolled_factories(info, first, after)
