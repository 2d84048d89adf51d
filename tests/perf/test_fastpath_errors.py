"""Given a schema whose values break the rules (nulls in non-null fields, values that do
not coerce, exceptions, awaitables), when the standard and the fast executor run the same
documents, then data and errors (message, path, locations) are the same."""

from __future__ import annotations

import asyncio
import enum
from typing import Any

import pytest
import strawberry

from api.fastpath import FastExecutor


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


async def _later(value: Any) -> Any:
    await asyncio.sleep(0)
    return value


@strawberry.type
class Leaf:
    name: str
    count: int
    colour: Colour
    maybe: str | None

    @strawberry.field
    def shout(self) -> str:
        if self.name == "boom":
            raise ValueError("resolver failed")
        return self.name.upper()

    @strawberry.field
    async def slow(self) -> str:
        return await _later(self.name)


@strawberry.type
class Edge:
    node: Leaf
    cursor: str


@strawberry.type
class Maybe:
    node: Leaf | None
    nodes: list[Leaf | None]
    strict: list[Leaf]


def leaf(name: Any = "a", count: Any = 1, colour: Any = Colour.RED, maybe: Any = None) -> Leaf:
    return Leaf(name=name, count=count, colour=colour, maybe=maybe)


GOOD = [leaf("x", 1), leaf("y", 2, Colour.BLUE, "m")]
BAD = [
    leaf(None),  # null in a non-null String
    leaf("a", "not a number"),  # does not coerce to Int
    leaf("a", 1, "purple"),  # not an enum value
    leaf("a", ValueError("an exception as a value")),
    leaf("boom"),  # its resolver raises
    leaf("a", 10**12),  # Int out of range
]


@strawberry.type
class Query:
    @strawberry.field
    def good(self) -> list[Edge]:
        return [Edge(node=n, cursor=str(i)) for i, n in enumerate(GOOD)]

    @strawberry.field
    def bad(self, index: int) -> list[Edge]:
        return [Edge(node=GOOD[0], cursor="0"), Edge(node=BAD[index], cursor="1")]

    @strawberry.field
    def maybe(self, index: int) -> Maybe:
        return Maybe(node=BAD[index], nodes=[GOOD[0], BAD[index], None],
                     strict=[GOOD[1], BAD[index]])

    @strawberry.field
    def awaitable_attribute(self) -> Edge:
        return Edge(node=GOOD[0], cursor=_later("c"))  # type: ignore[arg-type]


DOCUMENTS = [
    "{ good { cursor node { __typename name count colour maybe shout slow } } }",
    "{ good { ...E a: cursor } } fragment E on Edge { node { ... on Leaf { n: name } } }",
    "{ good { node { name @skip(if: true) count @include(if: false) colour } } }",
    "{ awaitableAttribute { cursor node { name } } }",
    *(f"{{ bad(index: {i}) {{ cursor node {{ name count colour maybe shout }} }} }}"
      for i in range(len(BAD))),
    *(f"{{ maybe(index: {i}) {{ node {{ name count colour shout }} nodes {{ name count colour }}"
      f" strict {{ name count }} }} }}" for i in range(len(BAD))),
]


def _result(executor: Any, document: str) -> dict[str, Any]:
    schema = strawberry.Schema(query=Query, execution_context_class=executor)
    result = asyncio.run(schema.execute(document))
    return {"data": result.data,
            "errors": [e.formatted for e in result.errors] if result.errors else None}


@pytest.mark.parametrize("document", DOCUMENTS)
def test_broken_values_give_the_same_errors(document: str) -> None:
    standard = _result(None, document)
    fast = _result(FastExecutor, document)
    assert fast == standard
