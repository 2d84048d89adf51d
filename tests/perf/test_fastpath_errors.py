"""Given a schema whose values break the rules (nulls in non-null fields, values that do
not coerce, exceptions, awaitables), when the standard and the fast executor run the same
documents, then data and errors (message, path, locations) are the same."""

from __future__ import annotations

import asyncio
import enum
from typing import Any

import pytest
import strawberry

from api.fastpath import FastExecutor, plain


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
        value: str = await _later(self.name)
        return value

    @strawberry.field
    @plain
    def plain_shout(self) -> str:
        # Projected without strawberry's resolver path: must fail and answer the same way.
        if self.name == "boom":
            raise ValueError("plain resolver failed")
        return self.name.upper() if isinstance(self.name, str) else self.name


class LeafChild(Leaf):
    """Not the selection's own class: a projection must not take it."""


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
    leaf(True),  # a bool where a String is due: graphql-core prints it, a projection may not
    leaf("a", True),  # a bool where an Int is due
    LeafChild(name="child", count=3, colour=Colour.BLUE, maybe=None),  # a subclass
    leaf("a", 1, Colour.RED, 7),  # an int in a nullable String
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
        return Maybe(
            node=BAD[index], nodes=[GOOD[0], BAD[index], None], strict=[GOOD[1], BAD[index]]
        )

    @strawberry.field
    def boom(self) -> list[Edge]:
        return [Edge(node=GOOD[0], cursor="0"), Edge(node=BAD[4], cursor="1")]

    @strawberry.field
    def awaitable_attribute(self) -> Edge:
        return Edge(node=GOOD[0], cursor=_later("c"))  # type: ignore[arg-type]


DOCUMENTS = [
    "{ good { cursor node { __typename name count colour maybe shout slow } } }",
    "{ good { cursor node { __typename name count colour maybe plainShout } } }",
    "{ good { a: cursor b: cursor node { n: name name ... on Leaf { plainShout } } } }",
    "{ good { ...E a: cursor } } fragment E on Edge { node { ... on Leaf { n: name } } }",
    "{ good { node { name @skip(if: true) count @include(if: false) colour } } }",
    "{ awaitableAttribute { cursor node { name } } }",
    "{ boom { cursor node { name plainShout } } }",
    *(
        f"{{ bad(index: {i}) {{ cursor node {{ name count colour maybe shout }} }} }}"
        for i in range(len(BAD))
    ),
    *(
        f"{{ bad(index: {i}) {{ cursor node {{ __typename name count colour maybe plainShout"
        f" }} }} }}"
        for i in range(len(BAD))
    ),
    *(
        f"{{ maybe(index: {i}) {{ node {{ name count colour shout }} nodes {{ name count colour }}"
        f" strict {{ name count }} }} }}"
        for i in range(len(BAD))
    ),
    *(
        f"{{ maybe(index: {i}) {{ node {{ name plainShout }} nodes {{ name maybe plainShout }}"
        f" strict {{ count colour }} }} }}"
        for i in range(len(BAD))
    ),
]


def _result(executor: Any, document: str) -> dict[str, Any]:
    schema = strawberry.Schema(query=Query, execution_context_class=executor)
    result = asyncio.run(schema.execute(document))
    return {
        "data": result.data,
        "errors": [e.formatted for e in result.errors] if result.errors else None,
    }


@pytest.mark.parametrize("document", DOCUMENTS)
def test_broken_values_give_the_same_errors(document: str) -> None:
    standard = _result(None, document)
    fast = _result(FastExecutor, document)
    assert fast == standard


def test_a_plain_selection_is_projected_without_the_field_by_field_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The equality above would hold trivially if nothing were ever projected."""
    calls: list[int] = []
    original = FastExecutor._complete_items

    def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(FastExecutor, "_complete_items", spy)
    good = _result(FastExecutor, "{ good { cursor node { name count colour plainShout } } }")
    assert good["errors"] is None and good["data"]["good"][1]["node"]["plainShout"] == "Y"
    assert calls == []
    bad = _result(FastExecutor, "{ boom { node { name plainShout } } }")
    assert bad == _result(None, "{ boom { node { name plainShout } } }")
    assert bad["errors"] and bad["errors"][0]["path"] == ["boom", 1, "node", "plainShout"]
    assert calls == [1]  # the failing list went the standard way
