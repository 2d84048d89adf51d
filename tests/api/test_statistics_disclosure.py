"""Country statistics are published in batches: no single release moves a published cell.

The differencing the audit found: read, one factory is released (and named by its public
findings), read again, and the cell's move is that factory's non-compliance. Here, over random
release histories and on the API, a published cell changes only at the end of a day and only
by batches of at least five factories (docs/statistics.md).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession

import models as m
from api.statistics.disclosure import Cell, Contribution, K, public_on, published_cell
from core.crypto import KeyMaterial
from demo import DemoWorld
from tests.builders import days, make_assessment, make_factory, make_finding

STATISTICS = """
query Statistics($country: String!) {
  countryStatistics(country: $country) { cluster factories nonComplianceRate suppressed }
}
"""

DAY0 = dt.date(2025, 1, 1)

# A release history: (day it became public, factory, non-compliant), days from DAY0.
releases = st.tuples(st.integers(0, 30), st.integers(0, 11), st.booleans())
histories = st.lists(releases, max_size=40)


def _contribution(day: int, factory: int, non_compliant: bool) -> Contribution:
    return Contribution(factory, DAY0 + dt.timedelta(days=day), non_compliant)


@settings(max_examples=300, deadline=None)
@given(history=histories, new=releases, released_days_back=st.integers(0, 40))
def test_a_release_recorded_today_never_moves_todays_cell(
    history: list[tuple[int, int, bool]], new: tuple[int, int, bool], released_days_back: int
) -> None:
    today, factory, non_compliant = new
    now = dt.datetime.combine(DAY0 + dt.timedelta(days=today), dt.time(12), tzinfo=dt.UTC)
    released_on = now.date() - dt.timedelta(days=released_days_back)  # even dated in the past
    known = [_contribution(*r) for r in history]
    release = Contribution(factory, public_on(released_on, now), non_compliant)

    before = published_cell(known, now.date())
    after = published_cell([*known, release], now.date())

    assert after == before


@settings(max_examples=300, deadline=None)
@given(history=histories)
def test_every_change_of_a_published_cell_covers_at_least_k_factories(
    history: list[tuple[int, int, bool]],
) -> None:
    contributions = [_contribution(*r) for r in history]
    last: Cell | None = None
    last_change = DAY0
    for today in (DAY0 + dt.timedelta(days=n) for n in range(33)):
        cell = published_cell(contributions, today)
        if cell != last:
            # the factories that became public since the last change: at least K
            since = {c.factory_id for c in contributions if last_change <= c.public_on < today}
            assert len(since) >= K, (history, today, last, cell)
            assert cell is not None and cell.factories >= K
            last_change = today
        last = cell


def test_a_release_dated_in_the_past_counts_from_the_day_it_was_recorded() -> None:
    recorded = dt.datetime(2025, 6, 10, 9, tzinfo=dt.UTC)

    assert public_on(dt.date(2025, 5, 1), recorded) == dt.date(2025, 6, 10)
    assert public_on(dt.date(2025, 7, 1), recorded) == dt.date(2025, 7, 1)
    assert public_on(dt.date(2025, 5, 1), None) == dt.date(2025, 5, 1)


async def _child_labour(api: Any, caller: Any) -> dict[str, Any]:
    rows = (await api.gql(STATISTICS, {"country": "ID"}, **caller.auth))["countryStatistics"]
    return next(r for r in rows if r["cluster"] == "CHILD_LABOUR")


async def _release_one(
    session: AsyncSession, keys: KeyMaterial, non_compliant: bool, recorded: dt.datetime
) -> None:
    """One more Indonesian factory, assessed on child labour, released yesterday and recorded
    at ``recorded`` (as `releaseAssessment` records it)."""
    factory = await make_factory(session, "ID")
    assessment = await make_assessment(session, factory, released_on=days(-1))
    assessment.released_at = recorded
    await make_finding(session, assessment, keys, non_compliant=non_compliant)
    await session.commit()


@pytest.fixture
async def published_five(
    world: DemoWorld, session: AsyncSession, keys: KeyMaterial, api: Any, constituent: Any
) -> dict[str, Any]:
    """Indonesia's child labour cell, published: three demo factories and two more."""
    for non_compliant in (True, False):
        factory = await make_factory(session, "ID")
        assessment = await make_assessment(session, factory, released_on=days(-30))
        await make_finding(session, assessment, keys, non_compliant=non_compliant)
    await session.commit()
    cell = await _child_labour(api, constituent)
    assert (cell["suppressed"], cell["factories"], cell["nonComplianceRate"]) == (False, 5, 0.4)
    return cell


@pytest.mark.parametrize("non_compliant", [True, False], ids=["non-compliant", "compliant"])
@pytest.mark.parametrize("recorded", ["now", "yesterday"])
async def test_one_more_release_does_not_move_a_published_cell(
    api: Any,
    session: AsyncSession,
    keys: KeyMaterial,
    constituent: Any,
    published_five: dict[str, Any],
    non_compliant: bool,
    recorded: str,
) -> None:
    # when one more factory is released (today, or yesterday: the day is over)
    when = m.utcnow() - dt.timedelta(days=1 if recorded == "yesterday" else 0)
    await _release_one(session, keys, non_compliant, when)

    # then the cell reads as before: nothing of that factory can be differenced out
    assert await _child_labour(api, constituent) == published_five


async def test_a_batch_of_five_more_factories_moves_the_cell_the_day_after(
    api: Any,
    session: AsyncSession,
    keys: KeyMaterial,
    constituent: Any,
    published_five: dict[str, Any],
) -> None:
    yesterday = m.utcnow() - dt.timedelta(days=1)
    for non_compliant in (True, False, False, True, False):
        await _release_one(session, keys, non_compliant, yesterday)

    after = await _child_labour(api, constituent)

    assert (after["factories"], after["nonComplianceRate"]) == (10, 0.4)
