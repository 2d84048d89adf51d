"""The enforcer follows the policy log exactly once per change, whatever the timing.

Given a brand with an ASSESSMENT grant, when the grant is revoked and the revocation is
replayed (concurrent catch-ups, a start-up racing a commit, a re-grant after an expiring
grant was revoked), then the enforcer's point decision matches the database. Each of these
was a bug once (double counted links surviving a revocation, a stale expiry ending a newer
grant, two first writers of the revision row): the tests keep them fixed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import models as m
from authz import sync
from authz.enforcer import Link, PolicyEnforcer, factory_domain, grant_links, grant_source, org
from authz.principal import Principal
from tests.builders import make_country, make_factory, make_grant, make_org

Sessions = async_sessionmaker[AsyncSession]


def brand_principal(brand: m.Organization) -> Principal:
    return Principal(organization_id=brand.id, organization_kind=m.OrganizationKind.BRAND,
                     role=m.Role.BRAND_VIEWER)


def reads_assessments(enforcer: PolicyEnforcer, brand: m.Organization,
                      factory: m.Factory) -> bool:
    return enforcer.allows(brand_principal(brand), "assessment", "read", factory_id=factory.id)


async def given_factory_and_brand(session: AsyncSession) -> tuple[m.Factory, m.Organization]:
    await make_country(session)
    factory = await make_factory(session)
    brand = await make_org(session, m.OrganizationKind.BRAND)
    await session.commit()
    return factory, brand


async def grant_now(sessions: Sessions, factory: m.Factory, brand: m.Organization
                    ) -> m.ConsentGrant:
    """What grantConsent writes: the grant row and its policy changes, in one transaction."""
    async with sessions() as session:
        grant = await make_grant(session, factory, brand, scopes=(m.DataScope.ASSESSMENT,))
        await sync.record(session, [sync.add(link, grant_source(grant), grant.expires_at)
                                    for link in grant_links(grant)])
        await session.commit()
    return grant


async def revoke_now(sessions: Sessions, grant: m.ConsentGrant) -> None:
    """What revokeConsent writes."""
    async with sessions() as session:
        await sync.record(session, [sync.remove(link, grant_source(grant))
                                    for link in grant_links(grant)])
        await session.execute(text("UPDATE consent_grant SET revoked_at = :now WHERE id = :id"),
                              {"now": m.utcnow(), "id": grant.id})
        await session.commit()


async def loaded(sessions: Sessions) -> PolicyEnforcer:
    enforcer = PolicyEnforcer()
    async with sessions() as session:
        await enforcer.load(session)
    return enforcer


async def catch_up(enforcer: PolicyEnforcer, sessions: Sessions) -> None:
    async with sessions() as session:
        await sync.catch_up(enforcer, session)


async def test_grant_and_revoke_are_followed(session: AsyncSession, sessionmaker: Sessions) -> None:
    factory, brand = await given_factory_and_brand(session)
    enforcer = await loaded(sessionmaker)
    assert not reads_assessments(enforcer, brand, factory)

    grant = await grant_now(sessionmaker, factory, brand)
    await catch_up(enforcer, sessionmaker)
    assert reads_assessments(enforcer, brand, factory)

    await revoke_now(sessionmaker, grant)
    await catch_up(enforcer, sessionmaker)
    assert not reads_assessments(enforcer, brand, factory)


async def test_a_restarted_process_loads_the_same_decision(session: AsyncSession,
                                                           sessionmaker: Sessions) -> None:
    factory, brand = await given_factory_and_brand(session)
    grant = await grant_now(sessionmaker, factory, brand)
    assert reads_assessments(await loaded(sessionmaker), brand, factory)

    await revoke_now(sessionmaker, grant)

    assert not reads_assessments(await loaded(sessionmaker), brand, factory)


async def test_overlapping_catch_ups_apply_a_change_once(session: AsyncSession,
                                                         sessionmaker: Sessions) -> None:
    factory, brand = await given_factory_and_brand(session)
    enforcer = await loaded(sessionmaker)
    grant = await grant_now(sessionmaker, factory, brand)

    # As after a grantConsent: run() catches up while the follower, woken by NOTIFY, does too.
    await asyncio.gather(catch_up(enforcer, sessionmaker), catch_up(enforcer, sessionmaker))
    await revoke_now(sessionmaker, grant)
    await catch_up(enforcer, sessionmaker)

    assert not reads_assessments(enforcer, brand, factory)


async def test_a_grant_committed_while_loading_is_counted_once(session: AsyncSession,
                                                               sessionmaker: Sessions) -> None:
    factory, brand = await given_factory_and_brand(session)
    enforcer = PolicyEnforcer()
    granted: list[m.ConsentGrant] = []

    async with sessionmaker() as loading:
        real_scalar: Callable[..., Awaitable[Any]] = loading.scalar

        async def scalar_then_someone_grants(stmt: Any, *args: Any, **kwargs: Any) -> Any:
            result = await real_scalar(stmt, *args, **kwargs)  # the revision, read first
            if not granted:
                granted.append(await grant_now(sessionmaker, factory, brand))
            return result

        loading.scalar = scalar_then_someone_grants  # type: ignore[method-assign]
        await enforcer.load(loading)

    await catch_up(enforcer, sessionmaker)
    assert reads_assessments(enforcer, brand, factory)
    await revoke_now(sessionmaker, granted[0])
    await catch_up(enforcer, sessionmaker)

    assert not reads_assessments(enforcer, brand, factory)


async def test_expiry_of_a_revoked_grant_does_not_end_a_newer_grant() -> None:
    enforcer = PolicyEnforcer()
    brand = m.Organization(id=7, name="B", kind=m.OrganizationKind.BRAND)
    factory = m.Factory(id=3)
    enforcer.add((org(7), "brand", "*"), org(7))
    link = (org(7), m.DataScope.ASSESSMENT.value, factory_domain(3))
    enforcer.add(link, "grant:1", m.utcnow() + dt.timedelta(milliseconds=300))  # until soon
    enforcer.remove(link, "grant:1")  # revoked
    enforcer.add(link, "grant:2")  # granted again, with no end
    assert reads_assessments(enforcer, brand, factory)

    await asyncio.sleep(0.4)  # the first grant's expiry passes

    assert reads_assessments(enforcer, brand, factory)


async def test_expiry_ends_the_link_without_a_policy_change() -> None:
    enforcer = PolicyEnforcer()
    brand = m.Organization(id=7, name="B", kind=m.OrganizationKind.BRAND)
    factory = m.Factory(id=3)
    enforcer.add((org(7), "brand", "*"), org(7))
    enforcer.add((org(7), "ASSESSMENT", factory_domain(3)), "grant:1",
                 m.utcnow() + dt.timedelta(seconds=0.2))
    assert reads_assessments(enforcer, brand, factory)

    await asyncio.sleep(0.3)

    assert not reads_assessments(enforcer, brand, factory)


async def test_two_first_policy_writers_both_commit(session: AsyncSession,
                                                    sessionmaker: Sessions) -> None:
    if session.bind.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers on its database lock")
    revisions: list[int] = []

    async def writer(delay_before: float, delay_after: float, link: Link) -> None:
        await asyncio.sleep(delay_before)
        async with sessionmaker() as s:
            revisions.append(await sync.record(s, [sync.add(link, link[0])]))
            await asyncio.sleep(delay_after)
            await s.commit()

    await asyncio.gather(writer(0, 0.3, ("org:1", "brand", "*")),
                         writer(0.1, 0, ("org:2", "brand", "*")))

    assert sorted(revisions) == [1, 2]
