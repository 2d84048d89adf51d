"""A real OpenID Provider (the certified `oidc-provider` for Node) on localhost, and the app
configured to trust it.

The provider runs `tests/oidc/op/provider.js`; its packages are installed from the committed
lock file (`npm ci`) the first time, when `node_modules` is missing. Without Node.js or npm
these tests are skipped, saying so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core.crypto import KeyMaterial
from core.db import make_sessionmaker
from core.runtime import Runtime
from core.settings import Settings
from tests.conftest import Api

OP_DIR = Path(__file__).parent / "op"
AUDIENCE = "https://api.millgate.test"

# The people of the provider: who they are there, and the address it vouches for.
ACCOUNTS: dict[str, dict[str, Any]] = {
    "alice": {"email": "alice@brand-a.test", "email_verified": True},
    "bob": {"email": "bob@brand-a.test", "email_verified": False},
    "carol": {"email": "carol@nowhere.test", "email_verified": True},
    "dave": {"email": "dave@brand-a.test", "email_verified": True},
    "erin": {"email": "erin@brand-a.test", "email_verified": True},
}


@dataclass(frozen=True)
class OpenIdProvider:
    issuer: str
    audience: str


def _node_or_skip() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("Node.js and npm are not installed: the OpenID Provider tests need them")
    if not (OP_DIR / "node_modules" / "oidc-provider").is_dir():
        subprocess.run(  # noqa: S603 - a fixed command on the committed lock file
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=OP_DIR, check=True
        )
    return node


@pytest.fixture(scope="session")
def openid_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenIdProvider]:
    node = _node_or_skip()
    log = (tmp_path_factory.mktemp("op") / "provider.log").open("w")
    env = {**os.environ, "PORT": "0", "AUDIENCE": AUDIENCE, "ACCOUNTS": json.dumps(ACCOUNTS)}
    process = subprocess.Popen(  # noqa: S603 - our own script
        [node, "provider.js"], cwd=OP_DIR, env=env, stdout=subprocess.PIPE, stderr=log, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # the provider prints its issuer once it listens
        assert line.startswith("issuer "), f"the provider did not start: {line!r}"
        yield OpenIdProvider(issuer=line.split()[1], audience=AUDIENCE)
    finally:
        process.terminate()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()
        log.close()


@pytest.fixture
def oidc_runtime(
    db: AsyncEngine,
    keys: KeyMaterial,
    database_url: str,
    tmp_path: Path,
    openid_provider: OpenIdProvider,
) -> Runtime:
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path,
        oidc_issuer=openid_provider.issuer,
        oidc_audience=openid_provider.audience,
    )
    return Runtime(settings=settings, engine=db, sessionmaker=make_sessionmaker(db), keys=keys)


@pytest.fixture
async def oidc_api(oidc_runtime: Runtime) -> AsyncIterator[Api]:
    """The app trusting the test provider, over in-process HTTP."""
    from api.app import create_app

    app = create_app(oidc_runtime, follow_policy=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://millgate.test") as c:
            yield Api(app=app, client=c, runtime=oidc_runtime)
