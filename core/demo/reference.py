"""Countries and the question catalogue of every country, from the shipped catalogue."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

import models as m
from core.crypto import FieldCipher
from core.reference import QuestionRef, catalogue

OVERLAY_VERSION = "2021.1"

# The shipped catalogue covers step 1 and Better Work's own questions. These few stand in for
# CAF steps 2 (Management Systems) and 3 (Above & Beyond) so that those steps can be answered;
# they belong to no compliance cluster.
ILLUSTRATIVE_STEP_2_AND_3 = (
    QuestionRef("MS.01.1", None, "Policies and procedures", "MS-01-01", False, False),
    QuestionRef("MS.01.2", None, "Responsibilities and training", "MS-01-02", False, False),
    QuestionRef("MS.02.1", None, "Grievance mechanism", "MS-02-01", False, False),
    QuestionRef("AB.01.1", None, "Community engagement", "AB-01-01", False, False),
    QuestionRef("AB.01.2", None, "Worker well-being programmes", "AB-01-02", False, False),
)


def all_questions() -> tuple[QuestionRef, ...]:
    return (*catalogue().questions.values(), *ILLUSTRATIVE_STEP_2_AND_3)


async def seed_reference(session: AsyncSession, fields: FieldCipher | None = None) -> None:
    """Adds the countries and each country's question catalogue, and flushes.

    Countries whose overlay is not signed off yet (Cambodia, Ethiopia) have no roll-out date
    and no overlay version; their catalogue is seeded all the same, for Better Work's own
    assessments there. Reference data holds no secret: ``fields`` (a ``FieldCipher``) is
    accepted so that every seed function takes the same arguments, and is not used.
    """
    del fields
    ref = catalogue()
    for country in ref.countries:
        rolled_out = country.slcp_rollout_on is not None
        session.add(
            m.Country(
                code=country.code,
                name=country.name,
                betterwork_programme=country.betterwork_programme,
                slcp_rollout_on=country.slcp_rollout_on,
                overlay_version=OVERLAY_VERSION if rolled_out else None,
            )
        )
    await session.flush()
    session.add_all(
        m.Question(
            country_code=country.code,
            overlay_version=OVERLAY_VERSION,
            code=q.code,
            cluster=q.cluster,
            compliance_point=q.compliance_point,
            caf_ref=q.caf_ref,
            step=ref.step_of(q.caf_ref),
            public_reporting=q.public_reporting,
            zero_tolerance=q.zero_tolerance,
        )
        for country in ref.countries
        for q in all_questions()
    )
    await session.flush()
