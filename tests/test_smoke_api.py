"""Given a tiny world, when a brand asks, then it sees exactly its granted factory."""

from __future__ import annotations

import models as m
from tests.builders import (
    days,
    make_assessment,
    make_country,
    make_factory,
    make_finding,
    make_grant,
    make_org,
    make_user,
)

FACTORIES = "{ factories { totalCount edges { node { name slcp { gatewayId } assessments { edges { node { findings { totalCount edges { node { detail } } } } } } } } } }"  # noqa: E501 - one line of contract text


async def test_brand_sees_granted_factory_only(api, session, keys):
    await make_country(session)
    granted = await make_factory(
        session, name="Granted", registered_on=days(-400), sharing_confirmed_on=days(-400)
    )
    await make_factory(session, name="Hidden")
    a = await make_assessment(session, granted, released_on=days(-30))
    await make_finding(session, a, keys, detail="named worker")
    brand = await make_org(session, m.OrganizationKind.BRAND)
    await make_grant(session, granted, brand)
    user = await make_user(session, brand, m.Role.BRAND_VIEWER)
    await session.commit()
    await api.reload_policy()

    data = await api.gql(FACTORIES, token=api.token(user))

    assert data["factories"]["totalCount"] == 1
    node = data["factories"]["edges"][0]["node"]
    assert node["name"] == "Granted"
    assert node["slcp"] is None  # rule 8
    findings = node["assessments"]["edges"][0]["node"]["findings"]
    assert findings["totalCount"] == 1
    assert findings["edges"][0]["node"]["detail"] == "named worker"
