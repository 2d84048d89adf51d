"""Fixtures shared by every test: one database per backend, emptied after each test.

Every test that takes `engine` runs on SQLite and, when MILLGATE_TEST_POSTGRES_URL is set
(CI sets it), on PostgreSQL too, in a database created for this run and dropped after it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

import models as m
from core.crypto import KeyMaterial, load_key_material
from core.db import make_engine, make_sessionmaker

POSTGRES_URL = os.environ.get("MILLGATE_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite", *(["postgres"] if POSTGRES_URL else [])]


def _asyncpg(url: str) -> str:
    return "postgresql+asyncpg://" + url.split("://", 1)[1]


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this run; its async URL."""
    import asyncio

    name = f"millgate_test_{uuid.uuid4().hex[:12]}"
    admin_url = _asyncpg(POSTGRES_URL)

    async def admin(sql: str) -> None:
        engine = make_engine(admin_url, isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(text(sql))
        await engine.dispose()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    yield admin_url.rsplit("/", 1)[0] + "/" + name
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def database_url(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> str:
    if backend == "postgres":
        return str(request.getfixturevalue("postgres_database"))
    return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'millgate.db'}"


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(m.Base.metadata.drop_all)
        await conn.run_sync(m.Base.metadata.create_all)
    yield engine
    await engine.dispose()


async def _empty(engine: AsyncEngine) -> None:
    """DELETE every row, children first, and restart the id sequences.

    (TRUNCATE would be simpler, but costs PostgreSQL about a second a test.)
    """
    tables = list(reversed(m.Base.metadata.sorted_tables))
    async with engine.begin() as conn:
        for table in tables:
            await conn.execute(table.delete())
        if engine.dialect.name == "postgresql":
            restarts = [
                f"setval(pg_get_serial_sequence('\"{t.name}\"', 'id'), 1, false)"
                for t in tables
                if "id" in t.c and t.c.id.primary_key and t.c.id.autoincrement
            ]
            await conn.execute(text("SELECT " + ", ".join(restarts)))


@pytest.fixture
async def db(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """The session's engine, emptied after the test."""
    try:
        yield engine
    finally:
        await _empty(engine)


@pytest.fixture
def sessionmaker(db: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(db)


@pytest.fixture
async def session(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with sessionmaker() as session:
        yield session


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyMaterial:
    folder: Path = tmp_path_factory.mktemp("keys")
    return load_key_material(None, None, None, folder, create_missing=True)


# --- the API over HTTP ------------------------------------------------------------------


from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402

from core.runtime import Runtime  # noqa: E402
from core.settings import Settings  # noqa: E402


@pytest.fixture
def runtime(db: AsyncEngine, keys: KeyMaterial, database_url: str, tmp_path: Path) -> Runtime:
    settings = Settings(database_url=database_url, data_dir=tmp_path)
    return Runtime(settings=settings, engine=db, sessionmaker=make_sessionmaker(db), keys=keys)


@dataclass
class Api:
    """The real Starlette app in-process; `post` sends one GraphQL operation."""

    app: Any
    client: httpx.AsyncClient
    runtime: Runtime

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        api_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        sent = dict(headers or {})
        if token is not None:
            sent["authorization"] = f"Bearer {token}"
        if api_key is not None:
            sent["x-api-key"] = api_key
        return await self.client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=sent
        )

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, **kw: Any
    ) -> dict[str, Any]:
        """The `data` of a successful operation; fails the test on any GraphQL error."""
        response = await self.post(query, variables, **kw)
        body = response.json()
        assert response.status_code == 200 and "errors" not in body, body
        return body["data"]  # type: ignore[no-any-return]

    def token(self, user: m.User) -> str:
        return self.runtime.token_service.issue(user.id, 600)


@pytest.fixture
async def api(runtime: Runtime) -> AsyncIterator[Api]:
    from api.app import create_app

    app = create_app(runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://millgate.test"
        ) as client:
            yield Api(app=app, client=client, runtime=runtime)


@pytest.fixture(autouse=True, scope="session")
def _refuse_unscoped_reads() -> None:
    """Every ORM SELECT in the tests, as in the app, must come from authz.scope or be marked
    with authz.guard.system_read (plain `text()` SQL is not ORM and passes)."""
    from authz.guard import install_guard

    install_guard()
