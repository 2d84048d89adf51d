"""Point decisions read their facts in the request: a change holds the moment it commits.

Given two app instances A and B on one database, each with an engine of its own and no
follower of any kind, when a grant, a revocation or an enrolment commits through A, then
the very next decision on B follows it: the fact is read in B's request, not replayed into
a copy. And the enforcer holds nothing that grows with grants: the model, and a bounded
table of answers keyed by the shape of the facts.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

import models as m
from api.ids import to_global_id
from authz.enforcer import ENFORCER, Enforcer, Subject, allows
from authz.facts import NO_GRANTS, factory_relation, grant_scopes
from authz.guard import system_options
from authz.principal import Principal
from authz.scope import Scope
from core.crypto import KeyMaterial
from core.db import make_engine, make_sessionmaker
from core.runtime import Runtime
from core.settings import Settings
from tests.builders import make_country, make_factory, make_grant, make_org, make_user
from tests.conftest import Api

GRANT = """mutation($factory: ID!, $grantee: ID!, $scopes: [DataScope!]!) {
  grantConsent(input: {factoryId: $factory, granteeId: $grantee, scopes: $scopes}) {
    grant { id } errors { code } } }"""
REVOKE = """mutation($id: ID!) { revokeConsent(input: {grantId: $id}) {
  grant { active } errors { code } } }"""
# The programme names the factory's first manager as it enrols it (rule 1: membership).
ENROLL = """mutation($name: String!, $manager: String) { enrollFactory(input: {name: $name,
  country: "ID", enrolledOn: "2024-01-15", managerEmail: $manager}) {
  factory { id organization { id } } errors { code } } }"""
REGISTER = """mutation($factory: ID!) { registerSlcp(input: {factoryId: $factory,
  gatewayId: "GW-NEW-1", confirmAssessmentSharing: true}) { factory { id } errors { code } } }"""
SLCP = "query($id: ID!) { factory(id: $id) { name slcp { gatewayId } } }"


@dataclass
class World:
    factory: m.Factory
    host: m.Organization
    tokens: dict[str, str]
    user_ids: dict[str, int]


@pytest.fixture
async def world(api: Api, session: AsyncSession) -> World:
    await make_country(session)
    factory = await make_factory(session, registered_on=dt.date(2024, 1, 10))
    owner = await session.get(
        m.Organization,
        factory.organization_id,
        execution_options=system_options("test: the factory's organisation"),
    )
    assert owner is not None
    host = await make_org(session, m.OrganizationKind.HOST, name="Host Seen")
    programme = await make_org(session, m.OrganizationKind.PROGRAMME, country="ID")
    platform = await make_org(session, m.OrganizationKind.PLATFORM)
    users = {
        "manager": await make_user(session, owner, m.Role.FACTORY_MANAGER),
        "host": await make_user(session, host, m.Role.HOST_INTEGRATION),
        "assessor": await make_user(session, programme, m.Role.ASSESSOR),
        "admin": await make_user(session, platform, m.Role.PLATFORM_ADMIN),
    }
    await session.commit()
    return World(
        factory=factory,
        host=host,
        tokens={name: api.token(user) for name, user in users.items()},
        user_ids={name: user.id for name, user in users.items()},
    )


@pytest.fixture
async def other_app(
    api: Api, database_url: str, keys: KeyMaterial, tmp_path: Path
) -> AsyncIterator[Api]:
    """App instance B: the same database through an engine and a pool of its own."""
    from api.app import create_app

    engine: AsyncEngine = make_engine(database_url)
    runtime = Runtime(
        settings=Settings(database_url=database_url, data_dir=tmp_path / "b"),
        engine=engine,
        sessionmaker=make_sessionmaker(engine),
        keys=keys,
    )
    app = create_app(runtime)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://b.test") as client:
                yield Api(app=app, client=client, runtime=runtime)
    finally:
        await engine.dispose()


def gid(kind: str, pk: int) -> str:
    return str(to_global_id(kind, pk))


async def test_given_a_grant_committed_on_a_then_b_s_next_field_rule_follows_it_and_its_end(
    api: Api, other_app: Api, world: World
) -> None:
    factory = gid("Factory", world.factory.id)
    host = world.tokens["host"]
    assert (await other_app.gql(SLCP, {"id": factory}, token=host))["factory"] is None

    # when the manager grants the host on A (a host's grant is the whole Gateway share)
    granted = await api.gql(
        GRANT,
        {
            "factory": factory,
            "grantee": gid("Organization", world.host.id),
            "scopes": ["ASSESSMENT", "SELF_ASSESSMENT"],
        },
        token=world.tokens["manager"],
    )
    assert granted["grantConsent"]["errors"] == []

    # then B's very next request decides on it: the registration is shown
    seen = await other_app.gql(SLCP, {"id": factory}, token=host)
    assert seen["factory"]["slcp"] == {"gatewayId": world.factory.slcp_gateway_id}

    # and when A revokes it, B's next request no longer shows the factory at all
    revoked = await api.gql(
        REVOKE, {"id": granted["grantConsent"]["grant"]["id"]}, token=world.tokens["manager"]
    )
    assert revoked["revokeConsent"]["errors"] == []
    assert (await other_app.gql(SLCP, {"id": factory}, token=host))["factory"] is None


async def test_given_an_enrolment_on_a_then_its_manager_writes_through_b_at_once(
    api: Api, other_app: Api, world: World
) -> None:
    # given a factory enrolled on A, with its first manager named there
    enrolled = await api.gql(
        ENROLL,
        {"name": "New Mill", "manager": "first@new-mill.test"},
        token=world.tokens["assessor"],
    )
    assert enrolled["enrollFactory"]["errors"] == []
    factory = enrolled["enrollFactory"]["factory"]
    user_pk = int(await _scalar(api, "SELECT id FROM app_user WHERE email = 'first@new-mill.test'"))
    token = other_app.runtime.token_service.issue(user_pk, 600)

    # when the new manager's first write goes to B: the owner rule (3) on B's own read
    registered = await other_app.gql(REGISTER, {"factory": factory["id"]}, token=token)

    # then it is allowed at once, with no follower to wait for
    assert registered["registerSlcp"]["errors"] == []
    assert registered["registerSlcp"]["factory"]["id"] == factory["id"]


async def _scalar(api: Api, sql: str) -> Any:
    from sqlalchemy import text

    async with api.runtime.engine.connect() as conn:
        return (await conn.execute(text(sql))).scalar()


async def test_given_two_apps_then_neither_runs_a_background_task_nor_keeps_policy_state(
    api: Api, other_app: Api
) -> None:
    # The app is under way in both fixtures: only this test's own task is running.
    running = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    assert running == []
    for app in (api.app, other_app.app):
        assert not hasattr(app.state, "enforcer")
        assert not hasattr(app.state, "follower")


async def test_given_grants_in_every_state_when_read_for_a_decision_then_only_active_ones_count(
    session: AsyncSession, db: AsyncEngine
) -> None:
    await make_country(session)
    factories = [await make_factory(session) for _ in range(4)]
    brand = await make_org(session, m.OrganizationKind.BRAND)
    now = m.utcnow()
    await make_grant(session, factories[0], brand, scopes=(m.DataScope.ASSESSMENT,))
    await make_grant(session, factories[1], brand, revoked=True)
    await make_grant(session, factories[2], brand, expires_at=now - dt.timedelta(seconds=1))
    await make_grant(session, factories[3], brand, revoked=True)  # revoked, then given again
    await make_grant(session, factories[3], brand, scopes=(m.DataScope.SELF_ASSESSMENT,))
    await session.commit()
    principal = Principal(
        organization_id=brand.id,
        organization_kind=m.OrganizationKind.BRAND,
        role=m.Role.BRAND_VIEWER,
    )

    found = await grant_scopes(session, Scope(principal), [f.id for f in factories])

    assert found == {
        factories[0].id: frozenset({"ASSESSMENT"}),
        factories[3].id: frozenset({"SELF_ASSESSMENT"}),
    }
    reads = [
        allows(
            principal,
            "assessment",
            "read",
            factory_relation(principal, f, found.get(f.id, NO_GRANTS)),
        )
        for f in factories
    ]
    assert reads == [True, False, False, False]


def test_given_ten_thousand_grants_decided_then_the_enforcer_does_not_grow() -> None:
    # Every (brand, factory) pair a decision of its own, a third of them without a grant:
    # the table of answers holds one entry per distinct shape of facts, not per grant.
    fresh = Enforcer()
    for n in range(10_000):
        brand = Principal(
            organization_id=n + 1,
            organization_kind=m.OrganizationKind.BRAND,
            role=m.Role.BRAND_VIEWER,
        )
        grants = frozenset() if n % 3 == 0 else frozenset({"ASSESSMENT"})
        rel = factory_relation(brand, _Row(organization_id=10**6 + n, country_code="ID"), grants)
        fresh.decide(Subject.of(brand), brand.role_name, rel, "assessment", "read")

    assert fresh.remembered == 2
    assert fresh.casbin.get_policy() == []  # no policy lines, and no role links to hold
    assert "g" not in set(fresh.casbin.get_model().keys())
    assert ENFORCER.remembered <= 4096


@dataclass(frozen=True)
class _Row:
    organization_id: int
    country_code: str
