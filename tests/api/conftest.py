"""Fixtures of the API tests: the demo world, and one signed-in caller per kind of user.

Every test here talks to the real Starlette app over in-process HTTP (`api`), against the
world `demo` seeds, so what a test shows is what a user of the demo would see. A module
whose tests only read marks itself `pytestmark = pytest.mark.reads_only`: its tests share
one copy of the world (tests/world.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

import models as m
from core.crypto import KeyMaterial
from demo import LABOUR_INSPECTORATE, DemoWorld, email_of
from tests.api.support import HARBOUR
from tests.world import Caller, demo_world


@pytest.fixture
async def world(session: AsyncSession, keys: KeyMaterial, api: Any, backend: str) -> DemoWorld:
    """The demo world (see tests/world.py)."""
    return await demo_world(session, keys, api, backend)


Login = Callable[[str], Awaitable[Caller]]


@pytest.fixture
def login(api: Any, session: AsyncSession) -> Login:
    """Signs in the user with this email: a token, as `millgate token issue` prints one."""

    async def sign_in(email: str) -> Caller:
        row = (
            await session.execute(
                text("SELECT id, organization_id FROM app_user WHERE email = :email"),
                {"email": email},
            )
        ).one()
        return Caller(email, row.id, row.organization_id, api.token(row))

    return sign_in


# The (user id, organization id) of the demo's people, by email, for each kept world: the
# same in every copy of it, so read once. (Its fixtures below run right after the world was
# restored or kept, before the test wrote anything.)
_PEOPLE: dict[int, tuple[DemoWorld, dict[str, tuple[int, int]]]] = {}


@pytest.fixture
def person(world: DemoWorld, login: Login, api: Any) -> Login:
    """`login` for the demo's own people, whose ids are read once per kept world."""
    known = _PEOPLE.get(id(world))
    if known is None or known[0] is not world:
        if len(_PEOPLE) > 8:  # a world made for one test is not kept: forget it
            _PEOPLE.clear()
        known = _PEOPLE[id(world)] = (world, {})
    ids = known[1]

    async def sign_in(email: str) -> Caller:
        if email not in ids:
            caller = await login(email)
            ids[email] = (caller.user_id, caller.organization_id)
            return caller
        user_id, organization_id = ids[email]
        token = api.runtime.token_service.issue(user_id, 600)
        return Caller(email, user_id, organization_id, token)

    return sign_in


@pytest.fixture
async def manager(world: DemoWorld, person: Login) -> Caller:
    """The manager of PT Sinar Garmen Jaya (Indonesia)."""
    return await person(world.emails[m.Role.FACTORY_MANAGER])


@pytest.fixture
async def worker_rep(world: DemoWorld, person: Login) -> Caller:
    """A worker representative of PT Sinar Garmen Jaya: reads, never acts."""
    return await person(world.emails[m.Role.WORKER_REPRESENTATIVE])


@pytest.fixture
async def brand(world: DemoWorld, person: Login) -> Caller:
    """A viewer at Northwind Apparel."""
    return await person(world.emails[m.Role.BRAND_VIEWER])


@pytest.fixture
async def other_brand(world: DemoWorld, person: Login) -> Caller:
    """A viewer at Harbour & Field Outfitters (Saigon Stitch: SELF_ASSESSMENT scope only)."""
    return await person(email_of(m.Role.BRAND_VIEWER, HARBOUR))


@pytest.fixture
async def assessor(world: DemoWorld, person: Login) -> Caller:
    """An assessor of Better Work Indonesia."""
    return await person(world.emails[m.Role.ASSESSOR])


@pytest.fixture
async def constituent(world: DemoWorld, person: Login) -> Caller:
    """A viewer at the Indonesian Garment Workers' Federation (not the inspectorate)."""
    return await person(world.emails[m.Role.CONSTITUENT_VIEWER])


@pytest.fixture
async def inspectorate(world: DemoWorld, person: Login) -> Caller:
    """A viewer at Indonesia's Directorate of Labour Inspection."""
    return await person(email_of(m.Role.CONSTITUENT_VIEWER, LABOUR_INSPECTORATE))


@pytest.fixture
async def admin(world: DemoWorld, person: Login) -> Caller:
    """A platform admin of Millgate Operations."""
    return await person(world.emails[m.Role.PLATFORM_ADMIN])


@pytest.fixture
def host_key(world: DemoWorld) -> dict[str, str]:
    """Open Audit Hub's integration: `api.gql(DOC, **host_key)`."""
    return {"api_key": world.host_api_key}


@pytest.fixture
async def auth_of(
    manager: Caller,
    worker_rep: Caller,
    brand: Caller,
    other_brand: Caller,
    assessor: Caller,
    constituent: Caller,
    inspectorate: Caller,
    admin: Caller,
    host_key: dict[str, str],
) -> dict[str, dict[str, str]]:
    """Credentials by caller name, for tests parametrized over callers (`**auth_of[name]`)."""
    users = {
        "manager": manager,
        "worker_rep": worker_rep,
        "brand": brand,
        "other_brand": other_brand,
        "assessor": assessor,
        "constituent": constituent,
        "inspectorate": inspectorate,
        "admin": admin,
    }
    return {**{name: c.auth for name, c in users.items()}, "host_key": host_key, "anonymous": {}}
