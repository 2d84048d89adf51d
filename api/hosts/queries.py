"""The webhook deliveries a host (its own) or the platform (all) may see."""

from __future__ import annotations

import strawberry
from sqlalchemy import tuple_
from strawberry.types import Info

import models as m
from api.context import Context
from api.hosts.types import (
    DeliveryState,
    WebhookDelivery,
    WebhookDeliveryConnection,
    WebhookDeliveryEdge,
)
from api.pagination import TIME_ID_KEY, PageInfo, cursor_of, page_args
from authz.paging import count


@strawberry.type
class HostQueries:
    @strawberry.field(
        description="Webhook notices, newest first: each one's event, state, attempts, last "
        "error and next retry. Hosts see their own; platform admins every host's."
    )
    async def webhook_deliveries(
        self,
        info: Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        state: DeliveryState | None = None,  # type: ignore[valid-type]
    ) -> WebhookDeliveryConnection:
        ctx = info.context
        args = page_args(first, after, ctx.runtime.settings.max_page_size, TIME_ID_KEY)
        stmt = ctx.scope.webhook_deliveries()
        if state is not None:
            stmt = stmt.where(m.WebhookDelivery.state == state)
        count_stmt = count(stmt)
        if args.after is not None:
            key = tuple_(m.WebhookDelivery.created_at, m.WebhookDelivery.id)
            stmt = stmt.where(key < args.after)
        listed = (
            stmt.outerjoin(m.GatewayExport, m.GatewayExport.id == m.WebhookDelivery.export_id)
            .add_columns(m.GatewayExport.export_uid)
            .order_by(m.WebhookDelivery.created_at.desc(), m.WebhookDelivery.id.desc())
            .limit(args.first + 1)
        )
        async with ctx.db() as session:
            rows = list((await session.execute(listed)).all())
        page = rows[: args.first]
        edges = [
            WebhookDeliveryEdge(
                node=WebhookDelivery.of(row, uid),
                cursor=cursor_of(row.created_at.isoformat(), row.id),
            )
            for row, uid in page
        ]
        return WebhookDeliveryConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=len(rows) > args.first,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            count_stmt=count_stmt,
        )
