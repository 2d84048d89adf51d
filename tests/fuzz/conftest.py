"""Fixtures of the fuzz tests: the demo world with unique markers in every encrypted row,
its exports written, a caller per kind of principal, and the oracle of what each must not
read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

import models as m
from api.app import create_app
from api.ids import to_global_id
from api.ratelimit import MemoryRateLimiter
from core.crypto import KeyMaterial
from demo import KEYED_HOST, LABOUR_INSPECTORATE, DemoWorld, email_of
from exports.job import run_once
from tests.fuzz.oracle import Facts, Who, mark_rows, read_facts
from tests.world import kept_world, seed_world


@dataclass(frozen=True)
class Principal:
    who: Who
    headers: dict[str, str]
    forbidden: dict[str, str]


@dataclass
class FuzzWorld:
    world: DemoWorld
    facts: Facts
    principals: list[Principal]
    ids: list[str]  # global IDs of every row of every type, for the ID scalar
    client: httpx.AsyncClient


async def _user(session: AsyncSession, email: str) -> tuple[int, int]:
    row = (
        await session.execute(
            text("SELECT id, organization_id FROM app_user WHERE email = :e"), {"e": email}
        )
    ).one()
    await session.rollback()
    return int(row.id), int(row.organization_id)


async def _global_ids(session: AsyncSession) -> list[str]:
    tables = {
        "Factory": "factory",
        "Organization": "organization",
        "Assessment": "assessment",
        "Finding": "finding",
        "ConsentGrant": "consent_grant",
        "SelfAssessment": "self_assessment",
        "User": "app_user",
        "ApiKey": "api_key",
        "GatewayExport": "gateway_export",
    }
    out = []
    for kind, table in tables.items():
        result = await session.execute(text(f'SELECT id FROM "{table}"'))  # noqa: S608
        out += [str(to_global_id(kind, pk)) for pk in result.scalars().all()]
    await session.rollback()
    return out


@pytest.fixture
async def fuzz(api: Any, session: AsyncSession, keys: KeyMaterial) -> AsyncIterator[FuzzWorld]:
    async def build() -> DemoWorld:
        world = await seed_world(session, keys, api)
        await mark_rows(session, keys)
        await run_once(api.runtime.sessionmaker, keys)
        return world

    # Made once per database, then restored (tests/world.py).
    world = await kept_world(api.runtime.engine, "demo, marked and exported", build)
    await session.rollback()  # a fresh snapshot: the copy was written on another connection

    app = create_app(api.runtime, rate_limiter=MemoryRateLimiter(10**9))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://fuzz.test") as client:
            public = (
                await client.post(
                    "/graphql", json={"query": "{ publicFindings(first: 100) { factoryName } }"}
                )
            ).json()["data"]["publicFindings"]
            facts = await read_facts(session, {p["factoryName"] for p in public})
            factories = world.factory_ids

            async def user(name: str, kind: str, email: str, **where: Any) -> Principal:
                user_id, org = await _user(session, email)
                who = Who(name, kind, organization_id=org, **where)
                token = api.runtime.token_service.issue(user_id, 3600)
                return Principal(who, {"authorization": f"Bearer {token}"}, facts.forbidden(who))

            host_org = world.organization_ids[KEYED_HOST]
            host = Who("host-key", "host", organization_id=host_org)
            principals = [
                await user("northwind", "brand", world.emails[m.Role.BRAND_VIEWER]),
                await user("lumen", "brand", email_of(m.Role.BRAND_VIEWER, "lumen-basics")),
                await user("harbour", "brand", email_of(m.Role.BRAND_VIEWER, "harbour-outfitters")),
                Principal(host, {"x-api-key": world.host_api_key}, facts.forbidden(host)),
                await user(
                    "fairtrace", "host", email_of(m.Role.HOST_INTEGRATION, "fairtrace-platform")
                ),
                await user(
                    "sinar-manager",
                    "factory",
                    world.emails[m.Role.FACTORY_MANAGER],
                    factory_id=factories["PT Sinar Garmen Jaya"],
                ),
                await user(
                    "sinar-worker-rep",
                    "factory",
                    world.emails[m.Role.WORKER_REPRESENTATIVE],
                    factory_id=factories["PT Sinar Garmen Jaya"],
                ),
                await user(
                    "dhaka-manager",
                    "factory",
                    email_of(m.Role.FACTORY_MANAGER, "dhaka-knitwear"),
                    factory_id=factories["Dhaka Knitwear Ltd."],
                ),
                await user("bw-id", "programme", world.emails[m.Role.ASSESSOR], country="ID"),
                await user("bw-bd", "programme", email_of(m.Role.ASSESSOR, "bw-bd"), country="BD"),
                await user(
                    "federation",
                    "constituent",
                    world.emails[m.Role.CONSTITUENT_VIEWER],
                    country="ID",
                ),
                await user(
                    "inspectorate",
                    "inspectorate",
                    email_of(m.Role.CONSTITUENT_VIEWER, LABOUR_INSPECTORATE),
                    country="ID",
                ),
                await user("platform", "platform", world.emails[m.Role.PLATFORM_ADMIN]),
                Principal(Who("public", "public"), {}, facts.forbidden(Who("public", "public"))),
            ]
            yield FuzzWorld(world, facts, principals, await _global_ids(session), client)
