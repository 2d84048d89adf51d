"""Loads the :class:`~exports.eligibility.CycleFacts` of cycles, one statement for many.

These reads act as the platform (marked with :func:`authz.guard.system_read`): a caller such
as the ``gatewayEligibility`` field must already have decided that its principal may know
the factory's SLCP participation.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Row, Select, and_, select  # noqa: TID251 - platform reads, marked below
from sqlalchemy.ext.asyncio import AsyncSession

import models as m
from authz.guard import system_read
from exports.eligibility import CycleFacts


def _facts_statement() -> Select[*tuple[Any, ...]]:
    step1 = and_(m.SelfAssessment.cycle_id == m.ServiceCycle.id, m.SelfAssessment.step == 1)
    return (
        select(
            m.ServiceCycle.id.label("cycle_id"),
            m.Country.slcp_rollout_on,
            m.Factory.slcp_registered_on,
            m.Factory.slcp_verifier_body,
            m.Factory.slcp_sharing_confirmed_on,
            m.SelfAssessment.submitted_at,
            m.Assessment.assessed_on,
            m.Assessment.status,
            m.Assessment.released_on,
        )
        .join(m.Factory, m.Factory.id == m.ServiceCycle.factory_id)
        .join(m.Country, m.Country.code == m.Factory.country_code)
        .outerjoin(m.SelfAssessment, step1)
        .outerjoin(m.Assessment, m.Assessment.cycle_id == m.ServiceCycle.id)
    )


def _to_facts(row: Row[*tuple[Any, ...]]) -> CycleFacts:
    return CycleFacts(
        country_rollout_on=row.slcp_rollout_on,
        registered_on=row.slcp_registered_on,
        verifier_body=row.slcp_verifier_body,
        sharing_confirmed_on=row.slcp_sharing_confirmed_on,
        self_assessment_submitted_at=row.submitted_at,
        assessed_on=row.assessed_on,
        status=row.status,
        released_on=row.released_on,
    )


async def cycle_facts(
    session: AsyncSession, factory_id: int, cycle_number: int
) -> CycleFacts | None:
    """The facts of one factory's cycle ``cycle_number``; None when there is no such cycle."""
    stmt = _facts_statement().where(
        m.ServiceCycle.factory_id == factory_id, m.ServiceCycle.number == cycle_number
    )
    row = (await session.execute(system_read(stmt, "exports: cycle facts"))).first()
    return None if row is None else _to_facts(row)


async def facts_by_cycle(session: AsyncSession, cycle_ids: Iterable[int]) -> dict[int, CycleFacts]:
    """The facts of many cycles by cycle id (cycles that do not exist are absent)."""
    ids = sorted(set(cycle_ids))
    if not ids:
        return {}
    stmt = _facts_statement().where(m.ServiceCycle.id.in_(ids))
    rows = await session.execute(system_read(stmt, "exports: cycle facts"))
    return {row.cycle_id: _to_facts(row) for row in rows}
