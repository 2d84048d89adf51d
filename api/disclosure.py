"""Disclosure control of country statistics: no release can be read off a published cell.

A cell (a country's cluster) counts the factories assessed on it and those found non-compliant.
Exact counts that move with every release let a reader who looks before and after one release,
and who learns from ``publicFindings`` which factory was released, difference out that
factory's non-public findings. So a cell is published in **batches**:

- the contributions to a cell (one per released assessment with findings in the cluster) are
  ordered by the day they became public (the later of the release date and the day the
  release was recorded) and then by the moment the release was recorded, so a new release
  always comes last;
- the first batch closes once it holds at least :data:`K` factories: until then the cell is
  suppressed (rule 12, cells of at least 5 factories);
- every later batch closes once at least :data:`K` distinct factories contributed to it;
- the published cell is the state after the last closed batch; the open batch shows nothing.

A single release therefore never moves a published cell: it either joins the open batch (no
change) or closes it, and then the change is the sum of at least :data:`K` factories'. The
order depends only on data already public, so the published value is the same whoever asks and
whenever, and a batch once closed never reopens.

Example:
    cell = published_cell([Contribution(7, day, dt.datetime(...), True), ...])
    if cell is None: ...  # suppressed
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

K = 5  # factories a cell, and each change of it, must cover (rule 12)


@dataclass(frozen=True, slots=True)
class Contribution:
    """One released assessment's part in a cell."""

    factory_id: int
    public_on: dt.date
    recorded_at: dt.datetime
    non_compliant: bool
    assessment_id: int = 0  # the last tie-breaker: the order is total

    @property
    def order(self) -> tuple[dt.date, dt.datetime, int]:
        return (self.public_on, self.recorded_at, self.assessment_id)


@dataclass(frozen=True, slots=True)
class Cell:
    """A published cell: factories assessed on the cluster, and those non-compliant."""

    factories: int
    non_compliant: int


def public_on(released_on: dt.date, recorded_at: dt.datetime | None) -> dt.date:
    """The day a release became public: a release dated in the past counts from the day it
    was recorded, so it cannot slip into a batch already published."""
    if recorded_at is None:
        return released_on
    return max(released_on, recorded_at.astimezone(dt.UTC).date())


def published_cell(contributions: Iterable[Contribution], k: int = K) -> Cell | None:
    """The cell as published after its last closed batch; None while suppressed."""
    ordered = sorted(contributions, key=lambda c: c.order)
    assessed: set[int] = set()
    non_compliant: set[int] = set()
    published: Cell | None = None
    batch: set[int] = set()
    for contribution in ordered:
        assessed.add(contribution.factory_id)
        if contribution.non_compliant:
            non_compliant.add(contribution.factory_id)
        batch.add(contribution.factory_id)
        if len(batch) >= k and len(assessed) >= k:
            published = Cell(len(assessed), len(non_compliant))
            batch = set()
    return published
