"""CORS: browsers of the configured origins may call the API; no other origin, and none by
default.

Given ``MILLGATE_CORS_ORIGINS=https://brand.example``, when a page of that origin sends a
preflight and then its request, then both are answered with that origin allowed, the
headers a frontend sends allowed, no credentials mode, and the challenge of a refused token
readable by the script. A page of another origin, or any page when nothing is configured,
gets no CORS header at all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import pytest

from core.runtime import Runtime
from core.settings import Settings

BRAND = "https://brand.example"
VIEWER = {"query": "{ viewer { role } }"}

AppClient = Callable[[str], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def client_for(runtime: Runtime) -> AppClient:
    @asynccontextmanager
    async def open_client(origins: str) -> AsyncIterator[httpx.AsyncClient]:
        from api.app import create_app

        settings = Settings(**{**runtime.settings.model_dump(), "cors_origins": origins})
        rt = Runtime(settings, runtime.engine, runtime.sessionmaker, runtime.keys)
        app = create_app(rt)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://m.test") as c:
                yield c

    return open_client


def preflight(origin: str, headers: str = "authorization, content-type") -> dict[str, str]:
    return {
        "origin": origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": headers,
    }


async def test_a_configured_origin_gets_its_preflight_answered(client_for: AppClient) -> None:
    async with client_for(f"{BRAND}, https://console.example") as client:
        response = await client.options(
            "/graphql",
            headers=preflight(BRAND, "authorization, content-type, idempotency-key, x-api-key"),
        )

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == BRAND
    allowed = {h.strip() for h in response.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key", "x-api-key"} <= allowed
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in response.headers


async def test_a_configured_origin_reads_the_answer_and_the_challenge(
    client_for: AppClient,
) -> None:
    async with client_for(BRAND) as client:
        answered = await client.post("/graphql", json=VIEWER, headers={"origin": BRAND})
        refused = await client.post(
            "/graphql",
            json=VIEWER,
            headers={"origin": BRAND, "authorization": "Bearer not.a.token"},
        )

    assert answered.status_code == 200
    assert answered.headers["access-control-allow-origin"] == BRAND
    assert "access-control-allow-credentials" not in answered.headers
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == BRAND
    exposed = refused.headers["access-control-expose-headers"].lower()
    assert "www-authenticate" in exposed and "x-request-id" in exposed


@pytest.mark.parametrize(
    ("configured", "origin"),
    [("", BRAND), (BRAND, "https://evil.example"), (BRAND, "http://brand.example")],
    ids=["nothing-configured", "another-origin", "same-host-other-scheme"],
)
async def test_other_origins_get_no_cors_header(
    client_for: AppClient, configured: str, origin: str
) -> None:
    async with client_for(configured) as client:
        asked = await client.options("/graphql", headers=preflight(origin))
        posted = await client.post("/graphql", json=VIEWER, headers={"origin": origin})

    assert asked.status_code in (400, 405)  # refused preflight, or no CORS layer at all
    assert "access-control-allow-origin" not in asked.headers
    assert "access-control-allow-origin" not in posted.headers


@pytest.mark.parametrize(
    "origins", ["brand.example", "https://brand.example/app", "ftp://brand.example", "*"]
)
def test_an_origin_that_is_not_scheme_host_port_is_refused_at_start(origins: str) -> None:
    with pytest.raises(ValueError, match="MILLGATE_CORS_ORIGINS"):
        Settings(cors_origins=origins)
