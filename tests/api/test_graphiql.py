"""GraphiQL in development works offline: the page loads only same-origin assets, each of
which the app serves, unchanged from the pinned npm packages; production serves none.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.graphiql import ASSETS
from core.runtime import Runtime
from core.settings import Settings

ASSET_REFERENCE = re.compile(r'<(?:script|link)\b[^>]*\b(?:src|href)="([^"]*)"')


async def _client(runtime: Runtime, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    from api.app import create_app

    settings = Settings(**{**runtime.settings.model_dump(), **overrides})
    app = create_app(Runtime(settings, runtime.engine, runtime.sessionmaker, runtime.keys))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://m.test") as client:
            yield client


@pytest.fixture
async def dev(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(runtime):
        yield client


@pytest.fixture
async def production(runtime: Runtime, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    files = {
        name: tmp_path / name
        for name in ("field_keys_file", "signing_keys_file", "api_key_pepper_file")
    }
    async for client in _client(runtime, production=True, **files):
        yield client


async def test_the_page_loads_only_same_origin_assets_and_each_is_served(
    dev: httpx.AsyncClient,
) -> None:
    page = await dev.get("/graphql")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assets = ASSET_REFERENCE.findall(page.text)
    assert len(assets) == 5  # the stylesheet, React, ReactDOM, GraphiQL and its start-up
    for asset in assets:
        assert asset.startswith("/") and not asset.startswith("//"), asset
        served = await dev.get(asset)
        assert served.status_code == 200, asset
        assert served.content == (ASSETS / asset.rsplit("/", 1)[1]).read_bytes()
    assert "://" not in "".join(assets)
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "<script>" not in page.text  # no inline script: the policy allows none


def test_the_vendored_files_are_the_pinned_packages_with_their_licences() -> None:
    readme = (ASSETS / "README.md").read_text()
    sums = dict(
        (name, digest) for digest, name in re.findall(r"^([0-9a-f]{64})  (\S+)$", readme, re.M)
    )

    assert set(sums) == {
        "graphiql.min.js",
        "graphiql.min.css",
        "react.production.min.js",
        "react-dom.production.min.js",
    }
    for name, digest in sums.items():
        assert hashlib.sha256((ASSETS / name).read_bytes()).hexdigest() == digest, name
    for package in ("graphiql", "react", "react-dom"):
        assert "MIT License" in (ASSETS / f"LICENSE.{package}").read_text()
    assert "graphiql@3.8.3" in readme and "react@18.3.1" in readme


async def test_production_serves_neither_the_page_nor_its_assets(
    production: httpx.AsyncClient,
) -> None:
    assert (await production.get("/graphql")).status_code == 405
    assert (await production.get("/static/graphiql/graphiql.min.js")).status_code == 404
