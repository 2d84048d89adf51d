"""``directory``: the brands and hosts a factory may grant to, and nothing more about them.

A factory cannot grant to an organisation it cannot name, and ``organizations`` shows a
factory only its own. The directory shows factory managers (and platform admins) the
BRAND and HOST organisations by name, kind and country: no users, keys, grants or anything
that would tell one grantee about another's factories (rule 8). Everyone else gets an
empty directory, as if it had no entries (``policy.conf``, rule 15).

Example:
    { directory(search: "north", kind: BRAND, first: 10) {
        totalCount edges { node { id name kind country { code } } } } }
"""

from __future__ import annotations

import strawberry
from sqlalchemy import func
from strawberry.types import Info

import models as m
from api.connections import Connection, Edge, count_of, page_of
from api.context import Context
from api.errors import BadArgument
from api.ids import to_global_id
from api.organizations.types import Country, OrganizationKind, load_country
from api.pagination import page_args
from authz.paging import count

MAX_SEARCH = 100


@strawberry.type(description="A brand or host a factory may grant to: name, kind and country.")
class DirectoryEntry:
    row: strawberry.Private[m.Organization]
    id: strawberry.ID = strawberry.field(description="The organisation: pass it as granteeId.")
    name: str
    kind: OrganizationKind  # type: ignore[valid-type]

    @classmethod
    def of(cls, row: m.Organization) -> DirectoryEntry:
        return cls(row=row, id=to_global_id("Organization", row.id), name=row.name, kind=row.kind)

    @strawberry.field
    async def country(self, info: Info[Context, None]) -> Country | None:
        return await load_country(info, self.row.country_code)


@strawberry.type
class DirectoryEdge(Edge[DirectoryEntry]):
    pass  # named for the directory, as the schema has it, not for its entries


@strawberry.type
class DirectoryConnection(Connection[DirectoryEntry]):
    edges: list[DirectoryEdge]
    count_stmt: strawberry.Private[object]

    @strawberry.field
    async def total_count(self, info: Info[Context, None]) -> int:
        return await count_of(info, self.count_stmt)


def _search_term(search: str | None) -> str | None:
    if search is None:
        return None
    term = search.strip()
    if len(term) > MAX_SEARCH or any(ord(c) < 32 or ord(c) == 127 for c in term):
        raise BadArgument(f"search must be at most {MAX_SEARCH} printable characters")
    return term.lower() or None


async def directory_page(
    info: Info[Context, None],
    search: str | None,
    kind: m.OrganizationKind | None,
    first: int | None,
    after: str | None,
) -> DirectoryConnection:
    ctx = info.context
    args = page_args(first, after, ctx.runtime.settings.max_page_size)
    term = _search_term(search)
    stmt = ctx.scope.directory()
    if term is not None:
        stmt = stmt.where(func.lower(m.Organization.name).contains(term, autoescape=True))
    if kind is not None:
        stmt = stmt.where(m.Organization.kind == m.OrganizationKind(kind))
    count_stmt = count(stmt)
    if args.after is not None:
        stmt = stmt.where(m.Organization.id > args.after[0])
    async with ctx.db() as session:
        rows = list(
            (await session.scalars(stmt.order_by(m.Organization.id).limit(args.first + 1))).all()
        )
    edges, page_info = page_of(
        rows,
        args.first,
        lambda r: DirectoryEdge(node=DirectoryEntry.of(r), key=(r.id,)),
    )
    return DirectoryConnection(edges=edges, page_info=page_info, count_stmt=count_stmt)


@strawberry.type
class DirectoryQueries:
    @strawberry.field(
        description="Factory managers and platform admins: the brands and hosts a factory may "
        "grant to, by name (case-insensitive `search`) and `kind`; empty for anyone else."
    )
    async def directory(
        self,
        info: Info[Context, None],
        search: str | None = None,
        kind: OrganizationKind | None = None,  # type: ignore[valid-type]
        first: int | None = None,
        after: str | None = None,
    ) -> DirectoryConnection:
        return await directory_page(info, search, kind, first, after)
