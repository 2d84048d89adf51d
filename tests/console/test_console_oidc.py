"""Signing in to the console at a real OpenID Provider (tests/oidc/op), code + PKCE."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core.crypto import KeyMaterial
from core.db import make_sessionmaker
from core.runtime import Runtime
from core.settings import Settings
from demo import DemoWorld
from tests.oidc import conftest as oidc_fixtures
from tests.oidc.conftest import OpenIdProvider
from tests.world import demo_world

openid_provider = oidc_fixtures.openid_provider
FORM_ACTION = re.compile(r'<form[^>]*action="([^"]+)"')
PROMPT = re.compile(r'name="prompt" value="(\w+)"')


@pytest.fixture
async def console(
    db: AsyncEngine,
    keys: KeyMaterial,
    database_url: str,
    tmp_path: Path,
    openid_provider: OpenIdProvider,
    session: Any,
    backend: str,
) -> AsyncIterator[tuple[httpx.AsyncClient, DemoWorld]]:
    """A browser's cookie jar on the app that trusts the test provider, world seeded."""
    from api.app import create_app
    from tests.conftest import Api

    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path,
        oidc_issuer=openid_provider.issuer,
        oidc_audience=openid_provider.audience,
        console_oidc_client_id="factory-console",
    )
    runtime = Runtime(settings=settings, engine=db, sessionmaker=make_sessionmaker(db), keys=keys)
    app = create_app(runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            world = await demo_world(session, keys, Api(app, c, runtime), backend)
            yield c, world


async def at_the_provider(authorize: str, login: str) -> str:
    """The person's part at the provider: its login and consent forms; the callback URL."""
    async with httpx.AsyncClient() as person:
        response = await person.get(authorize)
        for _ in range(12):  # bounded: login, consent and their redirects take about eight
            if response.is_redirect:
                location = urljoin(str(response.url), response.headers["location"])
                if "/console/callback" in location:
                    return location
                response = await person.get(location)
                continue
            action, prompt = FORM_ACTION.search(response.text), PROMPT.search(response.text)
            assert action and prompt, response.text
            form = {"prompt": prompt.group(1)}
            if prompt.group(1) == "login":
                form |= {"login": login, "password": "any"}
            response = await person.post(urljoin(str(response.url), action.group(1)), data=form)
    raise AssertionError("the provider did not come back to the console")


async def test_a_manager_signs_in_at_the_provider(console: Any) -> None:
    client, _ = console
    page = await client.get("/console/sign-in")
    assert 'href="/console/sign-in/oidc"' in page.text
    start = await client.get("/console/sign-in/oidc")
    assert start.status_code == 303
    authorize = start.headers["location"]
    asked = parse_qs(urlsplit(authorize).query)
    assert asked["code_challenge_method"] == ["S256"] and asked["client_id"] == ["factory-console"]
    callback = await at_the_provider(authorize, "sinar-manager")
    back = await client.get(callback.replace("http://127.0.0.1", ""))
    assert back.status_code == 303 and back.headers["location"] == "/console/grants"
    grants = await client.get("/console/grants")
    assert grants.status_code == 200
    assert "manager@sinar-garmen.demo" in grants.text and "Northwind Apparel" in grants.text


async def test_a_callback_with_another_state_is_refused(console: Any) -> None:
    client, _ = console
    start = await client.get("/console/sign-in/oidc")
    callback = await at_the_provider(start.headers["location"], "sinar-manager")
    forged = re.sub(r"state=[^&]+", "state=forged", callback)
    back = await client.get(forged.replace("http://127.0.0.1", ""))
    assert back.status_code == 400
    assert (await client.get("/console/grants")).status_code == 303  # not signed in


async def test_a_brand_user_gets_no_console_session(console: Any) -> None:
    client, _ = console
    start = await client.get("/console/sign-in/oidc")
    callback = await at_the_provider(start.headers["location"], "alice")
    back = await client.get(callback.replace("http://127.0.0.1", ""))
    assert back.status_code == 403  # alice is no user of a factory (nor of the demo)
    assert (await client.get("/console/grants")).status_code == 303
