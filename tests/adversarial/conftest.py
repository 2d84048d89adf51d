"""Fixtures of the adversarial tests: the demo world, a signed-in caller per role, the rows
each caller may not see, and the app in production mode.

Northwind Apparel (the brand) holds active grants from PT Sinar Garmen Jaya (both scopes),
Dhaka Knitwear and Kampong Speu (ASSESSMENT only); its grant from Hanoi Fashion expired.
Lumen Basics holds Gazipur Denim (ASSESSMENT), whose cycle 2 is still a draft.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

import models as m
from api.app import create_app
from core.crypto import KeyMaterial, load_key_material
from core.db import make_sessionmaker
from core.runtime import Runtime
from core.settings import Settings
from demo import LABOUR_INSPECTORATE, DemoWorld, email_of
from tests.adversarial.support import scalar
from tests.world import Caller, People, Rows, seed_world, sign_in


@pytest.fixture
async def world(api: Any, session: AsyncSession, keys: KeyMaterial) -> DemoWorld:
    return await seed_world(session, keys, api)


@pytest.fixture
async def people(api: Any, session: AsyncSession, world: DemoWorld) -> People:
    async def who(email: str) -> Caller:
        return await sign_in(api, session, email)

    return People(
        manager=await who(world.emails[m.Role.FACTORY_MANAGER]),
        worker_rep=await who(world.emails[m.Role.WORKER_REPRESENTATIVE]),
        mitra_manager=await who(email_of(m.Role.FACTORY_MANAGER, "mitra-busana")),
        brand=await who(world.emails[m.Role.BRAND_VIEWER]),
        lumen=await who(email_of(m.Role.BRAND_VIEWER, "lumen-basics")),
        assessor=await who(world.emails[m.Role.ASSESSOR]),
        bd_assessor=await who(email_of(m.Role.ASSESSOR, "bw-bd")),
        constituent=await who(world.emails[m.Role.CONSTITUENT_VIEWER]),
        inspectorate=await who(email_of(m.Role.CONSTITUENT_VIEWER, LABOUR_INSPECTORATE)),
        admin=await who(world.emails[m.Role.PLATFORM_ADMIN]),
        host_key=world.host_api_key,
    )


# The Rows of each demo world: the ids of its rows are the same in every copy of it
# (`kept_world` returns the one DemoWorld its builder made, for every copy).
_ROWS: dict[int, tuple[DemoWorld, Rows]] = {}


@pytest.fixture
async def rows(session: AsyncSession, world: DemoWorld) -> Rows:
    known = _ROWS.get(id(world))
    if known is not None and known[0] is world:
        return known[1]
    found = await _read_rows(session, world)
    _ROWS[id(world)] = (world, found)
    return found


async def _read_rows(session: AsyncSession, world: DemoWorld) -> Rows:
    orgs = {v: k for k, v in world.organization_ids.items()}
    grants = {}
    for r in (
        await session.execute(text("SELECT id, factory_id, grantee_id FROM consent_grant"))
    ).all():
        factory_org = await scalar(
            session, "SELECT organization_id FROM factory WHERE id = :id", id=r.factory_id
        )
        grants[(orgs[factory_org], orgs[r.grantee_id])] = r.id
    names = {v: k for k, v in world.factory_ids.items()}
    assessments: dict[tuple[str, int], int] = {}
    drafts: set[int] = set()
    finding_of: dict[int, int] = {}
    result = await session.execute(
        text(
            "SELECT a.id, a.factory_id, c.number, a.status FROM assessment a"
            " JOIN service_cycle c ON c.id = a.cycle_id ORDER BY a.id"
        )
    )
    for r in result.all():
        assessments[(names[r.factory_id], r.number)] = r.id
        if r.status == "DRAFT":
            drafts.add(r.id)
    result = await session.execute(text("SELECT id, assessment_id FROM finding ORDER BY id"))
    for r in result.all():
        finding_of.setdefault(r.assessment_id, r.id)
    result = await session.execute(text("SELECT id, factory_id FROM self_assessment"))
    self_assessments = {names[r.factory_id]: r.id for r in result.all()}
    users = {
        r.email: r.id for r in (await session.execute(text("SELECT id, email FROM app_user"))).all()
    }
    api_key = await scalar(session, "SELECT id FROM api_key ORDER BY id LIMIT 1")
    await session.rollback()
    return Rows(grants, assessments, drafts, finding_of, self_assessments, users, api_key)


# --- production mode ----------------------------------------------------------------------


@dataclass
class Client:
    client: httpx.AsyncClient

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, **headers: str
    ) -> httpx.Response:
        return await self.client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )


@pytest.fixture
async def production(db: AsyncEngine, database_url: str, tmp_path: Path) -> AsyncIterator[Client]:
    """The app as `MILLGATE_PRODUCTION=1` runs it: explicit key files, no GraphiQL, no
    introspection, no field suggestions."""
    folder = tmp_path / "production-keys"
    keys = load_key_material(None, None, None, folder, create_missing=True)
    settings = Settings(
        production=True,
        database_url=database_url,
        data_dir=tmp_path,
        field_keys_file=folder / "field-keys.json",
        signing_keys_file=folder / "signing-keys.json",
        api_key_pepper_file=folder / "api-key-pepper",
    )
    runtime = Runtime(settings=settings, engine=db, sessionmaker=make_sessionmaker(db), keys=keys)
    app = create_app(runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://millgate.test") as c:
            yield Client(c)
