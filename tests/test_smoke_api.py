"""Given a tiny world, when a brand asks, then it sees exactly its granted factory."""

from __future__ import annotations

import models as m
from api.ids import to_global_id
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

    data = await api.gql(FACTORIES, token=api.token(user))

    assert data["factories"]["totalCount"] == 1
    node = data["factories"]["edges"][0]["node"]
    assert node["name"] == "Granted"
    assert node["slcp"] is None  # rule 8
    findings = node["assessments"]["edges"][0]["node"]["findings"]
    assert findings["totalCount"] == 1
    assert findings["edges"][0]["node"]["detail"] == "named worker"


COUNT_ONLY = "{ factories { totalCount } }"
ACCESS_LOG = "query($id: ID!) { factory(id: $id) { accessLog { edges { node { operation } } } } }"


async def test_a_bare_count_reads_no_factory_and_logs_nothing(api, session, keys):
    await make_country(session)
    factory = await make_factory(session, name="Counted")
    brand = await make_org(session, m.OrganizationKind.BRAND)
    await make_grant(session, factory, brand)
    reader = await make_user(session, brand, m.Role.BRAND_VIEWER)
    manager = m.User(
        email="manager@counted.test",
        organization_id=factory.organization_id,
        role=m.Role.FACTORY_MANAGER,
    )
    session.add(manager)
    await session.commit()
    own = {"id": to_global_id("Factory", factory.id)}

    counted = await api.gql(COUNT_ONLY, token=api.token(reader))
    after_count = await api.gql(ACCESS_LOG, own, token=api.token(manager))
    await api.gql(FACTORIES, token=api.token(reader))
    after_read = await api.gql(ACCESS_LOG, own, token=api.token(manager))

    assert counted["factories"]["totalCount"] == 1
    assert after_count["factory"]["accessLog"]["edges"] == []
    assert [e["node"]["operation"] for e in after_read["factory"]["accessLog"]["edges"]] == [
        "query:factories"
    ]
