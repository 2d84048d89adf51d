"""One Relay connection for every page: ``Connection[T]`` of ``Edge[T]``.

A page subclasses ``Connection`` once, with the name the schema prints and its own
``totalCount`` (each page counts its own way, and the count runs only when asked for)::

    @strawberry.type
    class AuditEntryConnection(Connection[AuditEntry]):
        count_stmt: strawberry.Private[object]

        @strawberry.field(description="The factory's audit entries in all.")
        async def total_count(self, info: Info[Context, None]) -> int:
            return await count_of(info, self.count_stmt)

strawberry names ``Edge[AuditEntry]`` ``AuditEntryEdge`` by itself. An edge named otherwise
(``DirectoryEdge``) subclasses ``Edge``, and its connection narrows ``edges`` to it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import strawberry
from strawberry.types import Info

from api.context import Context
from api.fastpath import plain
from api.pagination import PageInfo, cursor_of

NodeT = TypeVar("NodeT")
RowT = TypeVar("RowT")
EdgeT = TypeVar("EdgeT", bound="Edge[Any]")


@strawberry.type
class Edge(Generic[NodeT]):
    node: NodeT
    key: strawberry.Private[tuple[object, ...]]  # the row's sort key, as the cursor holds it

    @strawberry.field
    @plain
    def cursor(self) -> str:
        # Made when asked: a page of findings rarely asks for every finding's cursor.
        return cursor_of(*self.key)


@strawberry.type
class Connection(Generic[NodeT]):
    edges: Sequence[Edge[NodeT]]
    page_info: PageInfo


def page_of(
    rows: Sequence[RowT], first: int, edge: Callable[[RowT], EdgeT]
) -> tuple[list[EdgeT], PageInfo]:
    """The edges of the first ``first`` rows (one more was read to learn whether a next page
    exists) and the page's info, its end cursor that of the last edge."""
    edges = [edge(row) for row in rows[:first]]
    end = cursor_of(*edges[-1].key) if edges else None
    return edges, PageInfo(has_next_page=len(rows) > first, end_cursor=end)


async def count_of(info: Info[Context, None], count_stmt: object) -> int:
    """The rows of a page's COUNT statement, read when ``totalCount`` is asked for."""
    async with info.context.db() as session:
        return int(await session.scalar(count_stmt) or 0)  # type: ignore[call-overload]
