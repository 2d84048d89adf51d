"""Fixtures of the authorization tests: one API and one world per test module.

The shared ``api`` fixture empties the database after every test; a matrix of hundreds of
read-only queries over one world would rebuild that world each time. ``module_api`` runs
the same in-process app on the session's engine and empties the tables once, when the
module is done. A module that takes it must not also take ``db``/``api`` (their per-test
emptying would wipe the module's world).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core.crypto import KeyMaterial
from core.db import make_sessionmaker
from core.runtime import Runtime
from core.settings import Settings
from tests.conftest import Api, _empty


@pytest.fixture(scope="module")
async def module_api(
    engine: AsyncEngine,
    keys: KeyMaterial,
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Api]:
    from api.app import create_app

    await _empty(engine)  # whatever an earlier module may have left
    data_dir: Path = tmp_path_factory.mktemp("authz")
    settings = Settings(database_url=database_url, data_dir=data_dir)
    runtime = Runtime(
        settings=settings, engine=engine, sessionmaker=make_sessionmaker(engine), keys=keys
    )
    app = create_app(runtime)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://millgate.test"
            ) as client:
                yield Api(app=app, client=client, runtime=runtime)
    finally:
        await _empty(engine)
