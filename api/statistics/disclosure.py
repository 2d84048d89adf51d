"""Disclosure control of country statistics: no release can be read off a published cell.

A cell (a country's cluster) counts the factories assessed on it and those found non-compliant.
Exact counts that move with every release let a reader who looks before and after one release,
and who learns from ``publicFindings`` which factory was released, difference out that
factory's non-public findings. So a cell is published per day, in **batches**:

- a contribution to a cell (a released assessment with findings in the cluster) counts from
  the day it became public: its release date, or the day its release was recorded if that is
  later (a release dated in the past cannot slip into a day already published);
- a day counts only once it is over: today's releases are never shown today, so no one can
  read the cell between two releases of the same day;
- the first batch closes at the end of the first day by which at least :data:`K` factories
  contributed; until then the cell is suppressed (rule 12, cells of at least 5 factories);
- every later batch closes at the end of a day once at least :data:`K` distinct factories
  contributed since the last closed batch;
- the published cell is the state after the last closed batch; the open batch shows nothing.

A single release therefore never moves a published cell: it lands on today or later, which
is not shown, and when its day is over it either joins the open batch (no change) or closes
it, and then the change is the sum of at least :data:`K` factories'. Days once over never
change, so a closed batch never reopens and every reader sees the same cell.

Example:
    cell = published_cell(contributions, today=dt.date(2026, 5, 1))
    if cell is None: ...  # suppressed
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

K = 5  # factories a cell, and each change of it, must cover (rule 12)


@dataclass(frozen=True, slots=True)
class Contribution:
    """One released assessment's part in a cell."""

    factory_id: int
    public_on: dt.date
    non_compliant: bool


@dataclass(frozen=True, slots=True)
class Cell:
    """A published cell: factories assessed on the cluster, and those non-compliant."""

    factories: int
    non_compliant: int


def public_on(released_on: dt.date, recorded_at: dt.datetime | None) -> dt.date:
    """The day a release became public: the later of its date and the day it was recorded
    (None for releases written before it was recorded: their date)."""
    if recorded_at is None:
        return released_on
    return max(released_on, recorded_at.astimezone(dt.UTC).date())


def published_cell(
    contributions: Iterable[Contribution], today: dt.date, k: int = K
) -> Cell | None:
    """The cell as published on ``today``, after its last closed batch; None if suppressed."""
    by_day: dict[dt.date, list[Contribution]] = defaultdict(list)
    for contribution in contributions:
        if contribution.public_on < today:  # a day counts once it is over
            by_day[contribution.public_on].append(contribution)
    assessed: set[int] = set()
    non_compliant: set[int] = set()
    batch: set[int] = set()
    published: Cell | None = None
    for day in sorted(by_day):
        for contribution in by_day[day]:
            assessed.add(contribution.factory_id)
            batch.add(contribution.factory_id)
            if contribution.non_compliant:
                non_compliant.add(contribution.factory_id)
        if len(batch) >= k and len(assessed) >= k:
            published = Cell(len(assessed), len(non_compliant))
            batch = set()
    return published
