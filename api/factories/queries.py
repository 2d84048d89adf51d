"""Factories as a page (filtered by country) and one by its id."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

import models as m
from api.context import Context
from api.errors import BadArgument
from api.factories.types import Factory, FactoryConnection, load_factory
from api.ids import pk_of
from api.pagination import PageArgs, PageInfo, cursor_of, page_args
from authz.paging import count
from authz.scope import Scope
from core.country_codes import parse_alpha2


def factories_page(scope: Scope, args: PageArgs, country: str | None) -> tuple[Any, Any]:
    """The page's statement (``args.first + 1`` factories by id, to learn whether a next
    page exists) and the count of every factory it pages through; shared with the planner."""
    stmt = scope.factories()
    if country is not None:
        stmt = stmt.where(m.Factory.country_code == country)
    count_stmt = count(stmt)
    if args.after is not None:
        stmt = stmt.where(m.Factory.id > args.after[0])
    return stmt.order_by(m.Factory.id).limit(args.first + 1), count_stmt


@strawberry.type
class FactoryQueries:
    @strawberry.field
    async def factories(
        self,
        info: Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        country: str | None = None,
    ) -> FactoryConnection:
        ctx = info.context
        args = page_args(first, after, ctx.runtime.settings.max_page_size)
        code = None if country is None else parse_alpha2(country)
        if country is not None and code is None:
            raise BadArgument("country must be an ISO 3166-1 alpha-2 code")
        stmt, count_stmt = factories_page(ctx.scope, args, code)
        async with ctx.db() as session:
            rows = list((await session.scalars(stmt)).all())
        page = rows[: args.first]
        return FactoryConnection(
            rows=page,
            page_info=PageInfo(
                has_next_page=len(rows) > args.first,
                end_cursor=cursor_of(page[-1].id) if page else None,
            ),
            count_stmt=count_stmt,
        )

    @strawberry.field
    async def factory(self, info: Info[Context, None], id: strawberry.ID) -> Factory | None:
        pk = pk_of(id, "Factory")
        return None if pk is None else await load_factory(info, pk)
