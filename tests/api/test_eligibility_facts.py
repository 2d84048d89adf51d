"""`gatewayEligibility` is built only from facts the caller may read (rules 5 and 1).

What the caller may not read (a draft, an assessment its grant does not cover) answers
exactly as if it did not exist.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from demo import DemoWorld
from tests.api.support import CAHAYA, GAZIPUR, factory_gid, scalar

ELIGIBILITY = """
query Eligibility($id: ID!, $cycle: Int!) {
  factory(id: $id) { gatewayEligibility(cycle: $cycle) { eligible reasons gatewayReleaseOn } }
}
"""


@pytest.mark.parametrize("caller", ["gazipur", "admin"], ids=["factory", "platform"])
async def test_a_cycle_with_only_a_draft_answers_as_a_cycle_that_does_not_exist(
    api: Any, world: DemoWorld, login: Any, admin: Any, caller: str
) -> None:
    # given Gazipur Denim's cycle 2, which holds only its programme's draft
    who = admin if caller == "admin" else await login("manager@gazipur-denim.demo")
    gazipur = factory_gid(world, GAZIPUR)

    # when the caller asks about it and about a cycle that does not exist
    draft = await api.gql(ELIGIBILITY, {"id": gazipur, "cycle": 2}, **who.auth)
    nothing = await api.gql(ELIGIBILITY, {"id": gazipur, "cycle": 99}, **who.auth)

    # then both answers are the same: an empty cycle's
    assert "NO_ASSESSMENT" in nothing["factory"]["gatewayEligibility"]["reasons"]
    assert draft == nothing


async def test_the_programme_sees_the_draft_and_is_told_of_a_cycle_that_does_not_exist(
    api: Any, world: DemoWorld, login: Any
) -> None:
    programme = await login("assessor@bw-bd.demo")
    gazipur = factory_gid(world, GAZIPUR)

    draft = await api.gql(ELIGIBILITY, {"id": gazipur, "cycle": 2}, **programme.auth)
    nothing = await api.gql(ELIGIBILITY, {"id": gazipur, "cycle": 99}, **programme.auth)

    assert "NOT_RELEASED" in draft["factory"]["gatewayEligibility"]["reasons"]
    assert nothing["factory"]["gatewayEligibility"]["reasons"] == ["NO_SUCH_CYCLE"]


async def test_a_host_granted_only_self_assessments_learns_nothing_of_the_assessment(
    api: Any, world: DemoWorld, session: AsyncSession, host_key: dict[str, str]
) -> None:
    # given Open Audit Hub's grant on Cahaya Tekstil narrowed to SELF_ASSESSMENT (a grant
    # made before hosts had to take the whole share)
    cahaya = world.factory_ids[CAHAYA]
    grant = await scalar(
        session,
        "SELECT g.id FROM consent_grant g JOIN organization o ON o.id = g.grantee_id"
        " WHERE g.factory_id = :f AND o.name = 'Open Audit Hub'",
        f=cahaya,
    )
    await session.execute(
        text("UPDATE consent_grant SET scope_assessment = false WHERE id = :id"), {"id": grant}
    )
    await session.commit()

    # when the host asks about cycle 1 (self-assessed after the assessment) and cycle 2
    late = await api.gql(ELIGIBILITY, {"id": factory_gid(world, CAHAYA), "cycle": 1}, **host_key)
    fine = await api.gql(ELIGIBILITY, {"id": factory_gid(world, CAHAYA), "cycle": 2}, **host_key)

    # then neither answer tells of the assessment: no lateness, no release date
    for answer in (late, fine):
        assert answer["factory"]["gatewayEligibility"] == {
            "eligible": False,
            "reasons": ["NO_ASSESSMENT"],
            "gatewayReleaseOn": None,
        }
