"""A request's reads are one access-log row per set of field paths, naming its factories;
each factory still sees exactly one event for the request (`docs/operations.md`)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import text

from demo import DemoWorld
from tests.api.support import SINAR, factory_gid

PAGE = "query Page { factories(first: 20) { edges { node { id name } } } }"
LOG = """
query Log($id: ID!) {
  factory(id: $id) {
    accessLog(first: 5) { edges { node { operation fields organization { name } } } }
  }
}
"""


async def _reads_after(api: Any, last: int) -> dict[int, tuple[str, list[int]]]:
    """Rows written after ``last``: id -> (fields, factories named), through the view."""
    async with api.runtime.sessionmaker() as session:
        found = await session.execute(
            text("SELECT id, fields, factory_id FROM access_read WHERE id > :last ORDER BY id"),
            {"last": last},
        )
        rows: dict[int, tuple[str, list[int]]] = {}
        named: dict[int, list[int]] = defaultdict(list)
        for row_id, fields, factory_id in found:
            named[row_id].append(factory_id)
            rows[row_id] = (fields, named[row_id])
        return rows


async def _last(api: Any) -> int:
    async with api.runtime.sessionmaker() as session:
        return int(await session.scalar(text("SELECT coalesce(max(id), 0) FROM access_event")))


async def test_a_page_of_factories_is_one_row_naming_every_factory_read(
    api: Any, world: DemoWorld, manager: Any, brand: Any
) -> None:
    last = await _last(api)

    page = await api.gql(PAGE, **brand.auth)

    read = page["factories"]["edges"]
    assert len(read) >= 2, "the brand must see several factories for this test to mean much"
    rows = await _reads_after(api, last)
    assert len(rows) == 1
    [(fields, factories)] = rows.values()
    assert fields == "factories"
    assert len(factories) == len(set(factories)) == len(read)
    # and the factory sees that read as one event of its own
    log = await api.gql(LOG, {"id": factory_gid(world, SINAR)}, **manager.auth)
    newest = log["factory"]["accessLog"]["edges"][0]["node"]
    assert newest == {
        "operation": "query:factories",
        "fields": ["factories"],
        "organization": {"name": "Northwind Apparel"},
    }


async def test_factories_read_with_different_fields_are_in_different_rows(
    api: Any, world: DemoWorld, brand: Any
) -> None:
    last = await _last(api)
    one = factory_gid(world, SINAR)
    document = (
        "query Two($id: ID!) { factory(id: $id) { name country { code } }"
        " factories(first: 20) { edges { node { name } } } }"
    )

    await api.gql(document, {"id": one}, **brand.auth)

    rows = await _reads_after(api, last)
    named = [f for _, factories in rows.values() for f in factories]
    assert len(named) == len(set(named)), "a factory is named once per request"
    assert len({fields for fields, _ in rows.values()}) == len(rows) >= 2
