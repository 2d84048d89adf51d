"""A selection the fast executor hands back to the standard way is counted in
``millgate_fastpath_fallbacks_total`` (prometheus_client's default registry)."""

from __future__ import annotations

import strawberry
from prometheus_client import REGISTRY

from api.fastpath import FastExecutor


@strawberry.type
class Item:
    name: str


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        # An int where a String is due: the fast way cannot be sure of it and falls back,
        # the standard way coerces it.
        return [Item(name=5)]  # type: ignore[arg-type]


def fallbacks() -> float:
    samples = [
        REGISTRY.get_sample_value("millgate_fastpath_fallbacks_total", {"where": where}) or 0.0
        for where in ("inline", "object", "list")
    ]
    return sum(samples)


async def test_a_fallback_is_counted_and_still_answered() -> None:
    schema = strawberry.Schema(query=Query, execution_context_class=FastExecutor)
    before = fallbacks()

    result = await schema.execute("{ items { name } }")

    assert result.errors is None
    assert result.data == {"items": [{"name": "5"}]}
    assert fallbacks() > before


async def test_a_plain_selection_is_not_counted() -> None:
    schema = strawberry.Schema(query=Query, execution_context_class=FastExecutor)
    before = fallbacks()

    result = await schema.execute("{ items { __typename } }")

    assert result.data == {"items": [{"__typename": "Item"}]}
    assert fallbacks() == before
