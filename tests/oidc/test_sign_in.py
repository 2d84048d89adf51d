"""People sign in at a real OpenID Provider and call Millgate with its access token.

Given users an admin created (Brand A's alice, ...), when a person signs in at the provider
(authorization code + PKCE, the provider's own login and consent pages) and sends the JWT
access token it issued for Millgate's audience, then Millgate knows them: linked by verified
address the first time, by (issuer, subject) after. An unverified address, an address no
admin created, and a disabled user all get the same 401 as a forged token.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

import models as m
from core.errors import InvalidToken
from tests.builders import make_org, make_user
from tests.conftest import Api
from tests.oidc.conftest import ACCOUNTS, AUDIENCE, OpenIdProvider
from tests.oidc.login import sign_in

VIEWER = "{ viewer { user { email } organization { name } role } }"
GENERIC_CHALLENGE = (
    f'Bearer realm="millgate", error="invalid_token", error_description="{InvalidToken.GENERIC}"'
)


async def _user(session: AsyncSession, login: str, *, disabled: bool = False) -> m.User:
    brand = await make_org(session, m.OrganizationKind.BRAND, name=f"Brand of {login}")
    user = await make_user(session, brand, m.Role.BRAND_VIEWER)
    user.email = ACCOUNTS[login]["email"]
    if disabled:
        user.disabled_at = m.utcnow()
    await session.commit()
    return user


async def _links(session: AsyncSession) -> list[tuple[int, str, str]]:
    rows = await session.execute(text("SELECT user_id, issuer, subject FROM identity_link"))
    return [tuple(r) for r in rows]  # type: ignore[misc]


def _header(token: str) -> dict[str, Any]:
    return dict(json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "==")))


@pytest.mark.parametrize(
    ("client", "alg"),
    [("spa-es256", "ES256"), ("spa-rs256", "RS256"), ("spa-eddsa", "EdDSA")],
    ids=["ES256", "RS256", "EdDSA"],
)
async def test_a_person_signs_in_at_the_provider_and_calls_graphql(
    oidc_api: Api,
    openid_provider: OpenIdProvider,
    session: AsyncSession,
    client: str,
    alg: str,
) -> None:
    # given the user an admin created for alice
    alice = await _user(session, "alice")

    # when alice signs in at the provider (code + PKCE) and calls Millgate with its token
    tokens = await sign_in(openid_provider.issuer, client, "alice", openid_provider.audience)
    access_token = tokens["access_token"]
    data = await oidc_api.gql(VIEWER, token=access_token)

    # then the token was a JWT of the provider for Millgate, and she is her user
    assert _header(access_token)["alg"] == alg
    assert data["viewer"] == {
        "user": {"email": "alice@brand-a.test"},
        "organization": {"name": "Brand of alice"},
        "role": "BRAND_VIEWER",
    }
    assert await _links(session) == [(alice.id, openid_provider.issuer, "alice")]


async def test_once_linked_the_subject_is_enough(
    oidc_api: Api, openid_provider: OpenIdProvider, session: AsyncSession
) -> None:
    alice = await _user(session, "alice")
    token = (await sign_in(openid_provider.issuer, "spa-es256", "alice", AUDIENCE))["access_token"]
    await oidc_api.gql(VIEWER, token=token)

    # when her Millgate address changes, the link still names her
    await session.execute(
        text("UPDATE app_user SET email = 'alice.new@brand-a.test' WHERE id = :id"),
        {"id": alice.id},
    )
    await session.commit()
    data = await oidc_api.gql(VIEWER, token=token)

    assert data["viewer"]["user"] == {"email": "alice.new@brand-a.test"}
    assert len(await _links(session)) == 1


@pytest.mark.parametrize(
    "login",
    ["bob", "carol", "dave"],
    ids=["address-not-verified", "no-such-user", "user-disabled"],
)
async def test_who_may_not_sign_in_gets_the_generic_401(
    oidc_api: Api, openid_provider: OpenIdProvider, session: AsyncSession, login: str
) -> None:
    # given bob (unverified at the provider) and dave (disabled here) have users; carol none
    await _user(session, "bob")
    await _user(session, "dave", disabled=True)

    token = (await sign_in(openid_provider.issuer, "spa-es256", login, AUDIENCE))["access_token"]
    response = await oidc_api.post(VIEWER, token=token)

    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert response.headers["www-authenticate"] == GENERIC_CHALLENGE
    assert await _links(session) == []


async def test_a_linked_user_disabled_later_is_refused(
    oidc_api: Api, openid_provider: OpenIdProvider, session: AsyncSession
) -> None:
    erin = await _user(session, "erin")
    token = (await sign_in(openid_provider.issuer, "spa-es256", "erin", AUDIENCE))["access_token"]
    assert (await oidc_api.post(VIEWER, token=token)).status_code == 200

    await session.execute(
        text("UPDATE app_user SET disabled_at = :now WHERE id = :id"),
        {"now": m.utcnow(), "id": erin.id},
    )
    await session.commit()
    response = await oidc_api.post(VIEWER, token=token)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == GENERIC_CHALLENGE


async def test_a_tampered_provider_token_is_refused(
    oidc_api: Api, openid_provider: OpenIdProvider, session: AsyncSession
) -> None:
    await _user(session, "alice")
    token = (await sign_in(openid_provider.issuer, "spa-es256", "alice", AUDIENCE))["access_token"]
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "carol"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()

    response = await oidc_api.post(VIEWER, token=f"{header}.{forged_payload}.{signature}")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == GENERIC_CHALLENGE


async def test_millgate_tokens_still_work_beside_the_provider(
    oidc_api: Api, session: AsyncSession
) -> None:
    alice = await _user(session, "alice")

    data = await oidc_api.gql(VIEWER, token=oidc_api.token(alice))

    assert data["viewer"]["user"] == {"email": "alice@brand-a.test"}
