"""Loads everything one cycle's export is made of, in four statements.

The export job reads as the platform itself; every read is marked with
:func:`authz.guard.system_read`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select  # noqa: TID251 - platform reads, marked with system_read
from sqlalchemy.ext.asyncio import AsyncSession

import models as m
from authz.guard import system_read
from authz.scope import current_catalogue
from core.errors import MillgateError


class SnapshotIncomplete(MillgateError):
    """Raised when a cycle lacks something every export needs (release, step 1, overlay)."""


@dataclass(frozen=True, slots=True)
class CycleSnapshot:
    """One released cycle as the payload builder sees it."""

    factory: m.Factory
    country: m.Country
    cycle: m.ServiceCycle
    assessment: m.Assessment
    # Submitted self-assessments only, by step.
    self_assessments: list[m.SelfAssessment]
    findings: list[m.Finding]
    # The country's catalogue at its overlay version, only questions with a CAF reference.
    caf_questions: dict[str, m.Question]

    @property
    def step1(self) -> m.SelfAssessment:
        for self_assessment in self.self_assessments:
            if self_assessment.step == 1:
                return self_assessment
        raise SnapshotIncomplete(f"cycle {self.cycle.id} has no submitted step 1")


async def load_snapshot(session: AsyncSession, cycle_id: int) -> CycleSnapshot:
    """The snapshot of a cycle that has an assessment; raises SnapshotIncomplete otherwise."""
    head = (
        select(m.Factory, m.Country, m.ServiceCycle, m.Assessment)
        .join(m.Country, m.Country.code == m.Factory.country_code)
        .join(m.ServiceCycle, m.ServiceCycle.factory_id == m.Factory.id)
        .join(m.Assessment, m.Assessment.cycle_id == m.ServiceCycle.id)
        .where(m.ServiceCycle.id == cycle_id)
    )
    row = (await session.execute(system_read(head, "exports: snapshot"))).first()
    if row is None:
        raise SnapshotIncomplete(f"cycle {cycle_id} has no assessment")
    factory, country, cycle, assessment = row
    if country.overlay_version is None:
        raise SnapshotIncomplete(f"country {country.code} has no overlay version")

    submitted = (
        select(m.SelfAssessment)
        .where(m.SelfAssessment.cycle_id == cycle_id, m.SelfAssessment.submitted_at.is_not(None))
        .order_by(m.SelfAssessment.step)
    )
    of_assessment = (
        select(m.Finding).where(m.Finding.assessment_id == assessment.id).order_by(m.Finding.id)
    )
    catalogue = current_catalogue(country.code, overlay_version=country.overlay_version).where(
        m.Question.caf_ref.is_not(None)
    )
    self_assessments = await session.scalars(system_read(submitted, "exports: self-assessments"))
    findings = await session.scalars(system_read(of_assessment, "exports: findings"))
    questions = await session.scalars(system_read(catalogue, "exports: catalogue"))
    return CycleSnapshot(
        factory=factory,
        country=country,
        cycle=cycle,
        assessment=assessment,
        self_assessments=list(self_assessments),
        findings=list(findings),
        caf_questions={question.code: question for question in questions},
    )
