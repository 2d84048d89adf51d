"""The real provider rotates its signing key; Millgate follows with one refetch.

Given the provider signing with key ``ec-1`` and Millgate holding its key set, when the
provider restarts with a new key ``ec-2`` first (the old one still published) and a person
signs in again, then the first token of the new key makes Millgate fetch the set once, and
the next ones none; within a minute of that fetch, tokens naming unknown keys fetch nothing.
The clock Millgate consults is the test's, so no test waits a minute.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc.jwk import ECKey, RSAKey
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import models as m
from api.oidc import OpenIdProviders
from api.oidc.provider import Provider
from core.errors import InvalidToken
from tests.builders import make_org, make_user
from tests.oidc.conftest import ACCOUNTS, AUDIENCE, running_provider
from tests.oidc.login import sign_in


class CountingTransport(httpx.AsyncBaseTransport):
    """Real HTTP to the provider, counting the paths asked."""

    def __init__(self) -> None:
        self.paths: Counter[str] = Counter()
        self._http = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths[request.url.path] += 1
        return await self._http.handle_async_request(request)

    async def aclose(self) -> None:
        await self._http.aclose()


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def private_jwk(kid: str) -> dict[str, Any]:
    return {**ECKey.generate_key("P-256").as_dict(private=True), "kid": kid, "use": "sig"}


# The provider signs its ID tokens with RS256 whatever the access tokens use.
ID_TOKEN_KEY = {**RSAKey.generate_key(2048).as_dict(private=True), "kid": "rsa-1", "use": "sig"}


async def test_a_rotated_provider_key_is_fetched_once(
    tmp_path: Path, session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    brand = await make_org(session, m.OrganizationKind.BRAND)
    alice = await make_user(session, brand, m.Role.BRAND_VIEWER)
    alice.email = ACCOUNTS["alice"]["email"]
    await session.commit()
    old, new = private_jwk("ec-1"), private_jwk("ec-2")
    transport, clock = CountingTransport(), Clock()

    # given Millgate has verified a token of the provider's first key
    with running_provider(tmp_path, keys=[old, ID_TOKEN_KEY]) as op:
        provider = Provider(op.issuer, production=False, transport=transport, clock=clock)
        providers = OpenIdProviders({op.issuer: provider}, AUDIENCE, sessionmaker)
        first = (await sign_in(op.issuer, "spa-es256", "alice", AUDIENCE))["access_token"]
        assert (await providers.user_of(first, session))[0] == alice.id
    port = int(op.issuer.rsplit(":", 1)[1])
    assert transport.paths["/jwks"] == 1

    # when the provider comes back signing with a new key, the old one still published
    with running_provider(tmp_path, port=port, keys=[new, old, ID_TOKEN_KEY]) as op:
        clock.now += 61
        rotated = (await sign_in(op.issuer, "spa-es256", "alice", AUDIENCE))["access_token"]
        again = (await sign_in(op.issuer, "spa-es256", "alice", AUDIENCE))["access_token"]

        # then one refetch serves both tokens of the new key, and the old token still holds
        assert json.loads(base64.urlsafe_b64decode(rotated.split(".")[0] + "=="))["kid"] == "ec-2"
        assert (await providers.user_of(rotated, session))[0] == alice.id
        assert (await providers.user_of(again, session))[0] == alice.id
        assert (await providers.user_of(first, session))[0] == alice.id
        assert transport.paths["/jwks"] == 2

        # and within the minute a made-up kid fetches nothing
        with pytest.raises(InvalidToken):
            await providers.user_of(_with_kid(rotated, "ec-made-up"), session)
        assert transport.paths["/jwks"] == 2
    await transport.aclose()


def _with_kid(token: str, kid: str) -> str:
    header, rest = token.split(".", 1)
    decoded = json.loads(base64.urlsafe_b64decode(header + "=="))
    encoded = json.dumps({**decoded, "kid": kid}).encode()
    return base64.urlsafe_b64encode(encoded).rstrip(b"=").decode() + "." + rest
