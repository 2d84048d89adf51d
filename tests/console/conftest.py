"""Fixtures of the console's tests: the demo world of the API tests, and a console client."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from demo import DemoWorld
from tests.api import conftest as api_fixtures

# The API tests' demo world and its fixtures.
login, world = api_fixtures.login, api_fixtures.world

MANAGER = "manager@sinar-garmen.demo"
WORKER_REP = "worker-rep@sinar-garmen.demo"


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no form token"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, email: str) -> httpx.Response:
    page = await client.get("/console/sign-in")
    return await client.post(
        "/console/sign-in/dev", data={"email": email, "csrf": csrf_of(page.text)}
    )


@pytest.fixture
async def browser_client(api: Any, world: DemoWorld) -> Any:
    """A cookie-keeping client of the app on a loopback address (as a local browser), with
    the demo world seeded."""
    transport = httpx.ASGITransport(app=api.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        yield client


@pytest.fixture
async def console_url(api: Any, world: DemoWorld) -> AsyncIterator[str]:
    """The app, demo world seeded, on a loopback port."""
    from tests.console.browser import serve

    async for url in serve(api.app):
        yield url


@pytest.fixture(scope="session")
def chromium_path() -> str:
    from tests.console.browser import CHROMIUM

    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver")
    return CHROMIUM


@pytest.fixture(scope="module")
async def browser(chromium_path: str) -> AsyncIterator[Any]:
    """Debian's headless Chromium, started once a module; each test opens its own context
    (cookies). Not once a session: its driver's task would live on in the event loop the tests
    of other modules share (tests/authz/test_decisions_per_request.py counts those tasks)."""
    from playwright.async_api import async_playwright

    from tests.console.browser import ARGS

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=chromium_path, args=ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()
