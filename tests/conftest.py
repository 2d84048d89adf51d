"""Fixtures shared by every test: one database per backend and per test process.

Every test that takes `engine` runs on SQLite and, when MILLGATE_TEST_POSTGRES_URL is set
(CI sets it), on PostgreSQL too, in a database created for this run and dropped after it.
Under pytest-xdist (`-n 2`) each process has its own SQLite file and PostgreSQL database.

A test marked `reads_only` (most often through its module's `pytestmark`) leaves the world it
found for the next such test instead of emptying the database: see tests/world.py.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

import models as m
from core.crypto import KeyMaterial, load_key_material
from core.db import make_engine, make_sessionmaker
from tests.world import empty_database, keeps_world, leave_world, tables_made

POSTGRES_URL = os.environ.get("MILLGATE_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite", *(["postgres"] if POSTGRES_URL else [])]
# "gw0", "gw1", ... under pytest-xdist; "main" in a plain run.
PROCESS = os.environ.get("PYTEST_XDIST_WORKER", "main")


def _asyncpg(url: str) -> str:
    return "postgresql+asyncpg://" + url.split("://", 1)[1]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `long` (seconds each, the whole system in processes of its own) run first,
    the others after them, each in its order. pytest puts the tests that no backend
    parametrizes after all the others, so these ran last; under -n a process that draws a
    long test last leaves the others idle until it ends.

    Only for tests that no backend parametrizes: pytest runs the tests of each backend
    together, so that its session fixtures (its database) are made once; moving one of them
    first would split its backend's run in two."""

    def first(item: pytest.Item) -> bool:
        if item.get_closest_marker("long") is None:
            return False
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "backend" in callspec.params:
            raise pytest.UsageError(f"{item.nodeid}: `long` is for tests without a backend")
        return True

    items.sort(key=lambda item: not first(item))


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test process; its async URL."""
    import asyncio

    name = f"millgate_test_{PROCESS}_{uuid.uuid4().hex[:12]}"
    admin_url = _asyncpg(POSTGRES_URL)

    async def admin(sql: str) -> None:
        engine = make_engine(admin_url, isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(text(sql))
        await engine.dispose()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    # A test database need not survive a crash of the server: commits skip the WAL flush.
    asyncio.run(admin(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
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
    return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / f'millgate-{PROCESS}.db'}"


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    if engine.dialect.name == "sqlite":
        # As synchronous_commit for PostgreSQL (postgres_database): no fsync at each commit.
        @event.listens_for(engine.sync_engine, "connect")
        def _no_fsync(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA synchronous=OFF")
            cursor.close()

    async with engine.begin() as conn:
        await conn.run_sync(m.Base.metadata.drop_all)
        await conn.run_sync(m.Base.metadata.create_all)
    tables_made(engine)
    yield engine
    await engine.dispose()


# Kept for callers of the old name (tests/authz).
_empty = empty_database


@pytest.fixture
async def db(engine: AsyncEngine, request: pytest.FixtureRequest) -> AsyncIterator[AsyncEngine]:
    """The session's engine: empty when the test starts, unless the test only reads and
    the world an earlier read-only test left is still there (tests/world.py)."""
    reads_only = keeps_world(request.node)
    if not reads_only:
        await empty_database(engine, only_if_used=True)
    try:
        yield engine
    finally:
        if reads_only:
            await leave_world(engine, request.node)
        else:
            await empty_database(engine)


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

import httpx  # noqa: E402

from core.runtime import Runtime  # noqa: E402
from core.settings import Settings  # noqa: E402

# Settings as read from the environment, by (database URL, MILLGATE_* variables): reading and
# validating them takes some 1.4 ms, for every app of every test. Each test gets a copy with
# its own folder; the one kept here is never handed out (its cached properties stay empty).
_SETTINGS: dict[tuple[str, tuple[tuple[str, str], ...]], Settings] = {}


def settings_for(database_url: str, data_dir: Path) -> Settings:
    """`Settings(database_url=database_url, data_dir=data_dir)`, read once per environment."""
    env = tuple(
        sorted((k.upper(), v) for k, v in os.environ.items() if k.upper().startswith("MILLGATE_"))
    )
    base = _SETTINGS.get((database_url, env))
    if base is None:
        base = _SETTINGS[(database_url, env)] = Settings(
            database_url=database_url, data_dir=data_dir
        )
    return base.model_copy(update={"data_dir": data_dir})


@pytest.fixture
def runtime(db: AsyncEngine, keys: KeyMaterial, database_url: str, tmp_path: Path) -> Runtime:
    settings = settings_for(database_url, tmp_path)
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


def _plain(value: Any) -> Any:
    """A hashable value that is equal for equal schema arguments (a config's name converter
    is a new object each time: compared by its attributes)."""
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        return (type(value), tuple((f.name, _plain(getattr(value, f.name))) for f in fields))
    if isinstance(value, dict):
        return tuple(sorted((key, _plain(item)) for key, item in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_plain(item) for item in value)
    if " object at 0x" in repr(value):
        return (type(value), _plain(vars(value)))
    return value


@pytest.fixture(autouse=True, scope="session")
def _one_type_graph_per_schema() -> Iterator[None]:
    """Every app a test makes builds its schema (`api.schema.build_schema`): strawberry's
    conversion of the types takes some 60 ms, a third of an API test. The conversion depends
    only on the types, the config and the executor, so it is done once per such set for the
    run; each schema is a copy with the extensions its app asked for (its own document cache,
    limits, error masking), as `build_schema` made them."""
    import copy

    import api.schema

    real = api.schema.MillgateSchema
    built: dict[tuple[Any, ...], api.schema.MillgateSchema] = {}

    def shared(*, extensions: Any = (), **arguments: Any) -> api.schema.MillgateSchema:
        key = _plain(arguments)
        base = built.get(key)
        if base is None:
            base = built[key] = real(extensions=extensions, **arguments)
            return base
        schema = copy.copy(base)
        schema.extensions = tuple(extensions)
        return schema

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(api.schema, "MillgateSchema", shared)
        yield


@pytest.fixture(autouse=True, scope="session")
def _refuse_unscoped_reads() -> None:
    """Every ORM SELECT in the tests, as in the app, must come from authz.scope or be marked
    with authz.guard.system_read (plain `text()` SQL is not ORM and passes)."""
    from authz.guard import install_guard

    install_guard()


# --- an empty database, for tests of the migrations ----------------------------------------


async def _admin_sql(sql: str) -> None:
    base = os.environ["MILLGATE_TEST_POSTGRES_URL"]
    engine = make_engine(
        "postgresql+asyncpg://" + base.split("://", 1)[1], isolation_level="AUTOCOMMIT"
    )
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


def _postgres_url(name: str) -> str:
    """The async URL of database ``name`` on the tests' PostgreSQL server."""
    base = os.environ["MILLGATE_TEST_POSTGRES_URL"].rsplit("/", 1)[0]
    return "postgresql+asyncpg://" + base.split("://", 1)[1] + "/" + name


@asynccontextmanager
async def _scratch_database(options: str = "") -> AsyncIterator[str]:
    """A PostgreSQL database of the test's own (``CREATE DATABASE name{options}``), its URL;
    dropped after."""
    name = f"millgate_migrations_{uuid.uuid4().hex[:12]}"
    await _admin_sql(f'CREATE DATABASE "{name}"{options}')
    await _admin_sql(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    try:
        yield _postgres_url(name)
    finally:
        await _admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def migrated_once(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An empty database migrated to head, made once for the run (per backend and process):
    what `migrated_url` copies. On PostgreSQL a database of its own, the copies' template."""
    import asyncio

    from migrations import migrate

    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('migrated') / 'migrated.db'}"
        migrate.upgrade(url)
        yield url
        return
    name = f"millgate_migrated_{PROCESS}_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin_sql(f'CREATE DATABASE "{name}"'))
    try:
        migrate.upgrade(_postgres_url(name))
        yield name
    finally:
        asyncio.run(_admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def migrated_url(backend: str, migrated_once: str, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of the test's own migrated to head, as `empty_url` after
    `millgate db upgrade`: a copy of `migrated_once` (SQLite: its file; PostgreSQL: a database
    made from it as template), instead of the migrations run for each test."""
    if backend == "sqlite":
        source = Path(migrated_once.split("///", 1)[1])
        for part in source.parent.glob(source.name + "*"):  # with its -wal, if any
            shutil.copyfile(part, tmp_path / part.name)
        yield f"sqlite+aiosqlite:///{tmp_path / source.name}"
        return
    async with _scratch_database(f' TEMPLATE "{migrated_once}"') as url:
        yield url


@pytest.fixture
async def empty_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'migrated.db'}"
        return
    async with _scratch_database() as url:
        yield url
