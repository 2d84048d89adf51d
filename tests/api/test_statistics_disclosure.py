"""Country statistics are published in batches: no single release moves a published cell.

The differencing the audit found: read, one factory is released (and named by its public
findings), read again, and the cell's move is that factory's non-compliance. Here, over random
release histories and on the API, a published cell changes only by batches of at least five
factories (docs/statistics.md).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession

from api.disclosure import Cell, Contribution, K, public_on, published_cell
from core.crypto import KeyMaterial
from core.demo import DemoWorld
from tests.builders import days, make_assessment, make_factory, make_finding

STATISTICS = """
query Statistics($country: String!) {
  countryStatistics(country: $country) { cluster factories nonComplianceRate suppressed }
}
"""

START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)

# A release history: (factory, non-compliant) in the order the releases were recorded.
histories = st.lists(st.tuples(st.integers(0, 11), st.booleans()), max_size=40)


def _contributions(history: list[tuple[int, bool]]) -> list[Contribution]:
    return [
        Contribution(
            factory_id=factory,
            public_on=(START + dt.timedelta(hours=i)).date(),
            recorded_at=START + dt.timedelta(hours=i),
            non_compliant=non_compliant,
            assessment_id=i,
        )
        for i, (factory, non_compliant) in enumerate(history)
    ]


@settings(max_examples=300, deadline=None)
@given(history=histories)
def test_every_change_of_a_published_cell_covers_at_least_k_factories(
    history: list[tuple[int, bool]],
) -> None:
    contributions = _contributions(history)
    last: Cell | None = None
    since_last_change: set[int] = set()
    for n in range(len(contributions)):
        since_last_change.add(contributions[n].factory_id)
        cell = published_cell(contributions[: n + 1])
        if cell != last:
            # one release moved the cell: only as the last of at least K factories
            assert len(since_last_change) >= K, (history[: n + 1], last, cell)
            assert cell is not None and cell.factories >= K
            since_last_change = set()
        last = cell


def test_a_release_dated_in_the_past_counts_from_the_day_it_was_recorded() -> None:
    recorded = dt.datetime(2025, 6, 10, 9, tzinfo=dt.UTC)

    assert public_on(dt.date(2025, 5, 1), recorded) == dt.date(2025, 6, 10)
    assert public_on(dt.date(2025, 7, 1), recorded) == dt.date(2025, 7, 1)
    assert public_on(dt.date(2025, 5, 1), None) == dt.date(2025, 5, 1)


async def _child_labour(api: Any, caller: Any) -> dict[str, Any]:
    rows = (await api.gql(STATISTICS, {"country": "ID"}, **caller.auth))["countryStatistics"]
    return next(r for r in rows if r["cluster"] == "CHILD_LABOUR")


async def _release_one(session: AsyncSession, keys: KeyMaterial, non_compliant: bool) -> None:
    factory = await make_factory(session, "ID")
    assessment = await make_assessment(session, factory, released_on=days(-1))
    await make_finding(session, assessment, keys, non_compliant=non_compliant)
    await session.commit()


@pytest.mark.parametrize("non_compliant", [True, False], ids=["non-compliant", "compliant"])
async def test_one_more_release_does_not_move_a_published_cell(
    api: Any,
    world: DemoWorld,
    session: AsyncSession,
    keys: KeyMaterial,
    constituent: Any,
    non_compliant: bool,
) -> None:
    # given Indonesia's child labour cell is published (three demo factories and two more)
    for nc in (True, False):
        await _release_one(session, keys, nc)
    before = await _child_labour(api, constituent)
    assert before["suppressed"] is False and before["factories"] == 5

    # when one more factory is released
    await _release_one(session, keys, non_compliant)

    # then the cell reads as before: nothing of that factory can be differenced out
    assert await _child_labour(api, constituent) == before


async def test_a_batch_of_five_more_factories_moves_the_cell(
    api: Any, world: DemoWorld, session: AsyncSession, keys: KeyMaterial, constituent: Any
) -> None:
    for nc in (True, False):
        await _release_one(session, keys, nc)
    before = await _child_labour(api, constituent)

    for nc in (True, False, False, True, False):
        await _release_one(session, keys, nc)

    after = await _child_labour(api, constituent)
    assert (before["factories"], after["factories"]) == (5, 10)
    assert after["nonComplianceRate"] == 0.4
