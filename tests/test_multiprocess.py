"""Two API processes on one PostgreSQL: a revocation holds everywhere at once.

Given two real `uvicorn api.main:app` processes A and B sharing a database and key files,
when a factory manager revokes a grant on A, then the brand reading through B sees nothing
at once (the scoped queries read grants in the same statement). Point decisions read their
facts in the request too: a factory enrolled through A is written to by its new manager
through B at once. No process follows a log; there is nothing to wait for.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

import models as m
from api.ids import to_global_id
from authz.guard import system_options
from core.crypto import KeyMaterial, TokenService, load_key_material
from core.db import make_engine, make_sessionmaker
from migrations import migrate
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

POSTGRES_URL = os.environ.get("MILLGATE_TEST_POSTGRES_URL", "")
ROOT = Path(__file__).resolve().parents[1]
MAX_DELAY_S = 1.5
ROUNDS = 5

pytestmark = [
    pytest.mark.skipif(not POSTGRES_URL, reason="needs MILLGATE_TEST_POSTGRES_URL"),
    pytest.mark.long,  # seconds: run first (tests/conftest.py), so that no process ends on it
]

FACTORIES = "{ factories { totalCount edges { node { id name assessments { totalCount } } } } }"
FACTORY = "query($id: ID!) { factory(id: $id) { name } }"
GRANT = """mutation($factory: ID!, $grantee: ID!) { grantConsent(input: {factoryId: $factory,
  granteeId: $grantee, scopes: [ASSESSMENT]}) { grant { id } errors { code message } } }"""
REVOKE = """mutation($id: ID!) { revokeConsent(input: {grantId: $id}) {
  grant { revokedAt active } errors { code message } } }"""


def _asyncpg(url: str) -> str:
    return "postgresql+asyncpg://" + url.split("://", 1)[1]


async def _admin(sql: str) -> None:
    engine = make_engine(_asyncpg(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


@dataclass
class World:
    url: str
    data_dir: Path
    keys: KeyMaterial
    factory_id: int
    brand_id: int
    timed_brand_id: int
    grant_id: int
    manager_id: int
    brand_user_id: int
    assessor_id: int
    admin_id: int

    def token(self, user_id: int) -> str:
        return TokenService(self.keys.signing, "millgate", "millgate-api").issue(user_id, 600)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A fresh database with the schema of the models (stamped at head) and a small world."""
    name = f"millgate_mp_{uuid.uuid4().hex[:12]}"
    url = _asyncpg(POSTGRES_URL).rsplit("/", 1)[0] + "/" + name
    data_dir = tmp_path_factory.mktemp("shared")
    keys = load_key_material(None, None, None, data_dir / "keys", create_missing=True)
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        seeded = asyncio.run(_seed(url, keys))
        # create_all follows the models even while a migration is being written; stamping
        # head lets /readyz (which checks the Alembic revision) say ready.
        from alembic import command

        command.stamp(migrate.alembic_config(url), "head")
        yield World(url=url, data_dir=data_dir, keys=keys, **seeded)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _seed(url: str, keys: KeyMaterial) -> dict[str, int]:
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(m.Base.metadata.create_all)
    async with make_sessionmaker(engine)() as session:
        await make_country(session)
        factory = await make_factory(session, name="Shared Mill")
        assessment = await make_assessment(session, factory, released_on=days(-30))
        await make_finding(session, assessment, keys, detail="a named worker")
        brand = await make_org(session, m.OrganizationKind.BRAND, name="Brand Seen")
        timed = await make_org(session, m.OrganizationKind.BRAND, name="Brand Timed")
        grant = await make_grant(session, factory, brand, scopes=(m.DataScope.ASSESSMENT,))
        factory_org = await session.get(
            m.Organization,
            factory.organization_id,
            execution_options=system_options("test: the factory's own organisation"),
        )
        assert factory_org is not None
        manager = await make_user(session, factory_org, m.Role.FACTORY_MANAGER)
        brand_user = await make_user(session, brand, m.Role.BRAND_VIEWER)
        programme = await make_org(session, m.OrganizationKind.PROGRAMME, country="ID")
        assessor = await make_user(session, programme, m.Role.ASSESSOR)
        platform = await make_org(session, m.OrganizationKind.PLATFORM)
        admin = await make_user(session, platform, m.Role.PLATFORM_ADMIN)
        await session.commit()
        ids = dict(
            factory_id=factory.id,
            brand_id=brand.id,
            timed_brand_id=timed.id,
            grant_id=grant.id,
            manager_id=manager.id,
            brand_user_id=brand_user.id,
            assessor_id=assessor.id,
            admin_id=admin.id,
        )
    await engine.dispose()
    return ids


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    base: str
    process: subprocess.Popen[bytes]


def _start(world: World) -> Server:
    port = _free_port()
    env = {
        **os.environ,
        "MILLGATE_DATABASE_URL": world.url,
        "MILLGATE_DATA_DIR": str(world.data_dir),
    }
    for unset in (
        "MILLGATE_FIELD_KEYS_FILE",
        "MILLGATE_SIGNING_KEYS_FILE",
        "MILLGATE_API_KEY_PEPPER_FILE",
        "MILLGATE_PRODUCTION",
        "MILLGATE_REDIS_URL",
    ):
        env.pop(unset, None)
    process = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
        [
            sys.executable,
            "-m",
            "uvicorn",
            "api.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return Server(base=f"http://127.0.0.1:{port}", process=process)


def _wait_ready(server: Server, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            err = server.process.stderr.read().decode() if server.process.stderr else ""
            raise AssertionError(f"server exited with {server.process.returncode}: {err}")
        try:
            if httpx.get(f"{server.base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{server.base} not ready after {timeout} s")


@pytest.fixture(scope="module")
def servers(world: World) -> Iterator[tuple[Server, Server]]:
    a, b = _start(world), _start(world)
    try:
        _wait_ready(a)
        _wait_ready(b)
        yield a, b
    finally:
        for server in (a, b):
            server.process.terminate()
        for server in (a, b):
            try:
                server.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()
            if server.process.stderr:
                server.process.stderr.close()


async def gql(
    base: str, query: str, variables: dict[str, Any] | None = None, *, token: str
) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        response = await client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"authorization": f"Bearer {token}"},
        )
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


async def test_revocation_on_a_holds_at_once_on_b(
    world: World, servers: tuple[Server, Server]
) -> None:
    a, b = servers
    brand, manager = world.token(world.brand_user_id), world.token(world.manager_id)
    factory_id = str(to_global_id("Factory", world.factory_id))
    seen = await gql(b.base, FACTORIES, token=brand)
    assert seen["factories"]["totalCount"] == 1
    assert seen["factories"]["edges"][0]["node"]["assessments"]["totalCount"] == 1

    revoked = await gql(
        a.base, REVOKE, {"id": str(to_global_id("ConsentGrant", world.grant_id))}, token=manager
    )
    assert revoked["revokeConsent"]["errors"] == []
    assert revoked["revokeConsent"]["grant"]["active"] is False

    after = await gql(b.base, FACTORIES, token=brand)
    assert after["factories"] == {"totalCount": 0, "edges": []}
    assert (await gql(b.base, FACTORY, {"id": factory_id}, token=brand))["factory"] is None

    # And back: a new grant made on B is read through A at once.
    granted = await gql(
        b.base,
        GRANT,
        {
            "factory": factory_id,
            "grantee": str(to_global_id("Organization", world.brand_id)),
        },
        token=manager,
    )
    assert granted["grantConsent"]["errors"] == []
    assert (await gql(a.base, FACTORIES, token=brand))["factories"]["totalCount"] == 1


async def test_both_processes_serve_keys_and_health(servers: tuple[Server, Server]) -> None:
    a, b = servers
    async with httpx.AsyncClient(timeout=5) as client:
        jwks = [(await client.get(f"{s.base}/.well-known/jwks.json")).json() for s in (a, b)]
        ready = [(await client.get(f"{s.base}/readyz")).status_code for s in (a, b)]
    assert jwks[0] == jwks[1]  # one key set: a token from either verifies on both
    assert ready == [200, 200]


# --- a point decision on B reads the facts A just committed ---------------------------------

# The programme names the factory's first manager as it enrols it (rule 1: membership).
ENROLL = """mutation { enrollFactory(input: {name: "Mill Enrolled On A", country: "ID",
  enrolledOn: "2024-01-15", managerEmail: "first-manager@mill-on-a.test"}) {
  factory { id organization { id } } errors { code } } }"""
REGISTER = """mutation($factory: ID!) { registerSlcp(input: {factoryId: $factory,
  gatewayId: "GW-MP-1", confirmAssessmentSharing: true}) { factory { id } errors { code } } }"""


async def test_an_enrolment_on_a_lets_its_manager_write_on_b_at_once(
    world: World, servers: tuple[Server, Server]
) -> None:
    a, b = servers
    enrolled = await gql(a.base, ENROLL, token=world.token(world.assessor_id))
    assert enrolled["enrollFactory"]["errors"] == []
    factory = enrolled["enrollFactory"]["factory"]
    engine = make_engine(world.url)
    try:
        async with engine.connect() as conn:
            manager_id = (
                await conn.execute(
                    text("SELECT id FROM app_user WHERE email = 'first-manager@mill-on-a.test'")
                )
            ).scalar_one()
    finally:
        await engine.dispose()

    # the new manager's first write, the owner rule, decided by B on B's own read of the row
    registered = await gql(
        b.base, REGISTER, {"factory": factory["id"]}, token=world.token(manager_id)
    )

    assert registered["registerSlcp"]["errors"] == []
    assert registered["registerSlcp"]["factory"]["id"] == factory["id"]
