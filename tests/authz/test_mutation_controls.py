"""The controls of ``test_mutation_authz.py``: each refused input is a valid one.

Given a fresh copy of the mutation world,
when the caller marked "ok" in ``test_mutation_authz.py``'s tables runs the very input the
others were refused,
then it passes authorization (it succeeds, or fails for a reason of its own that is not an
authorization error) and the database changes — so the refusals there are about who asks.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.authz.test_mutation_authz import MUTATIONS, RIGHTFUL, _gid
from tests.conftest import Api
from tests.world import MutationWorld, build_mutation_world, snapshot

# A mutation whose rightful caller still fails, for a reason that is not authorization.
NOT_AUTHORIZATION = {
    "releaseAssessment of a released one": "ALREADY_RELEASED",
    "sendTestWebhook": "INVALID",  # the world's host has no webhook to test
}


async def _given_the_world(api: Api, session: AsyncSession) -> MutationWorld:
    world = await build_mutation_world(session)
    await session.commit()
    return world


async def _rows(api: Api) -> list[tuple[str, str]]:
    async with api.runtime.sessionmaker() as session:
        return await snapshot(session)


@pytest.mark.parametrize("mutation", list(MUTATIONS))
async def test_given_the_rightful_caller_when_it_runs_the_refused_input_then_authorization_passes(
    api: Api, session: AsyncSession, mutation: str
) -> None:
    world = await _given_the_world(api, session)
    spec = MUTATIONS[mutation]
    user = world.users[RIGHTFUL[mutation]]
    assert user is not None
    before = await _rows(api)

    data = await api.gql(spec.document, {"input": spec.input(world.ids)}, token=api.token(user))

    payload = data[spec.field]
    codes = [error["code"] for error in payload["errors"]]
    if mutation in NOT_AUTHORIZATION:
        assert codes == [NOT_AUTHORIZATION[mutation]]
        assert await _rows(api) == before
    else:
        assert codes == []
        assert payload[spec.result] is not None
        assert await _rows(api) != before


async def test_given_an_on_time_draft_when_the_platform_overrides_the_deadline_then_forbidden(
    api: Api, session: AsyncSession
) -> None:
    world = await _given_the_world(api, session)
    platform = world.users["platform admin"]
    assert platform is not None
    spec = MUTATIONS["releaseAssessment"]
    before = await _rows(api)

    data = await api.gql(
        spec.document,
        {
            "input": {
                "assessmentId": _gid("Assessment", world.ids["draft"]),  # assessed 3 days ago
                "releasedOn": dt.datetime.now(dt.UTC).date().isoformat(),
                "overrideDeadline": True,
            }
        },
        token=api.token(platform),
    )

    payload = data[spec.field]
    assert payload["assessment"] is None
    assert [error["code"] for error in payload["errors"]] == ["FORBIDDEN"]
    assert await _rows(api) == before
