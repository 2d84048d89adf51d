"""A provider's keys and tokens, against a provider simulated with httpx's MockTransport.

Given a provider whose discovery, JWKS and userinfo answers the test controls, and a clock
the test moves, then: the keys are fetched once and reused; an unknown ``kid`` (rotation)
fetches them again at most once a minute, however many such tokens come; an hour-old set is
renewed; the algorithm is the key's, never the token's; ``iss``, ``aud``, ``exp`` and ``nbf``
are checked with a small leeway; the first link reads a verified address from the token or,
failing that, from the userinfo endpoint.
"""

from __future__ import annotations

import base64
import time
from collections import Counter
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt
from joserfc.jwk import ECKey, OKPKey, RSAKey
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import models as m
from api.oidc import OpenIdProviders
from api.oidc.accounts import link_by_email
from api.oidc.provider import Provider
from core import crypto
from core.crypto import ProviderKeySet, verify_provider_token
from core.errors import InvalidToken
from tests.builders import make_org, make_user

ISSUER = "https://op.example"
AUDIENCE = "https://api.millgate.test"

Key = ECKey | RSAKey | OKPKey


class SimulatedProvider:
    """Discovery, JWKS and userinfo of ``ISSUER``; counts what it is asked."""

    def __init__(self) -> None:
        self.keys: list[Key] = [ECKey.generate_key("P-256", parameters={"kid": "ec-1"})]
        self.requests: Counter[str] = Counter()
        self.issuer_in_discovery = ISSUER
        self.userinfo: dict[str, Any] = {}
        self.userinfo_tokens: list[str] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.requests[path] += 1
        if path == "/.well-known/openid-configuration":
            return httpx.Response(
                200,
                json={
                    "issuer": self.issuer_in_discovery,
                    "jwks_uri": f"{ISSUER}/jwks",
                    "userinfo_endpoint": f"{ISSUER}/me",
                },
            )
        if path == "/jwks":
            return httpx.Response(200, json={"keys": [k.as_dict(private=False) for k in self.keys]})
        if path == "/me":
            self.userinfo_tokens.append(request.headers["authorization"])
            return httpx.Response(200, json=self.userinfo)
        return httpx.Response(404)

    def rotate(self) -> Key:
        new = ECKey.generate_key("P-256", parameters={"kid": f"ec-{len(self.keys) + 1}"})
        self.keys = [new]
        return new

    @property
    def jwks_fetches(self) -> int:
        return self.requests["/jwks"]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    values = {"iss": ISSUER, "aud": AUDIENCE, "sub": "person-1", "iat": now, "exp": now + 300}
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def sign(key: Key, alg: str = "ES256", kid: str | None = None, **overrides: Any) -> str:
    header = {"alg": alg, "kid": kid or key.kid}
    return jwt.encode(header, claims(**overrides), key, algorithms=[alg])


@pytest.fixture
def op() -> SimulatedProvider:
    return SimulatedProvider()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def provider(op: SimulatedProvider, clock: Clock) -> Provider:
    return Provider(ISSUER, production=True, transport=httpx.MockTransport(op.handle), clock=clock)


async def verify(provider: Provider, token: str) -> dict[str, Any]:
    kid = crypto.token_header(token)["kid"]
    return verify_provider_token(
        token, await provider.keys_for(kid), issuer=ISSUER, audience=AUDIENCE
    )


# --- fetching and rotation --------------------------------------------------------------------


async def test_keys_are_discovered_once_and_reused(
    provider: Provider, op: SimulatedProvider
) -> None:
    for _ in range(3):
        assert (await verify(provider, sign(op.keys[0])))["sub"] == "person-1"

    assert op.requests == {"/.well-known/openid-configuration": 1, "/jwks": 1}


async def test_a_rotated_key_is_fetched_once_on_its_first_token(
    provider: Provider, op: SimulatedProvider, clock: Clock
) -> None:
    await verify(provider, sign(op.keys[0]))
    clock.now += 61
    new = op.rotate()

    # when two tokens of the new key arrive
    first = await verify(provider, sign(new))
    second = await verify(provider, sign(new))

    # then the set was fetched once more, and both verify
    assert first["sub"] == second["sub"] == "person-1"
    assert op.jwks_fetches == 2


async def test_unknown_kids_refetch_at_most_once_a_minute(
    provider: Provider, op: SimulatedProvider, clock: Clock
) -> None:
    await verify(provider, sign(op.keys[0]))  # fetched at t
    new = op.rotate()

    # within the minute: a flood of unknown kids, the new key's among them, fetches nothing
    clock.now += 59
    for n in range(20):
        with pytest.raises(InvalidToken) as refused:
            await verify(provider, sign(new, kid=f"made-up-{n}"))
        assert refused.value.description == crypto.UNKNOWN_KEY
    with pytest.raises(InvalidToken):
        await verify(provider, sign(new))
    assert op.jwks_fetches == 1

    # a minute after the fetch: one refetch, and the new key works from then on
    clock.now += 1
    assert (await verify(provider, sign(new)))["sub"] == "person-1"
    for n in range(20):
        with pytest.raises(InvalidToken):
            await verify(provider, sign(new, kid=f"made-up-again-{n}"))
    assert op.jwks_fetches == 2


async def test_an_hour_old_set_is_renewed_and_a_withdrawn_key_stops(
    provider: Provider, op: SimulatedProvider, clock: Clock
) -> None:
    old = op.keys[0]
    await verify(provider, sign(old))
    op.rotate()  # the provider withdraws the old key

    clock.now += 3599
    assert (await verify(provider, sign(old)))["sub"] == "person-1"  # still cached
    clock.now += 1
    with pytest.raises(InvalidToken) as refused:
        await verify(provider, sign(old))

    assert refused.value.description == crypto.UNKNOWN_KEY
    assert op.jwks_fetches == 2


async def test_a_discovery_document_of_another_issuer_is_not_trusted(
    provider: Provider, op: SimulatedProvider
) -> None:
    op.issuer_in_discovery = "https://evil.example"

    with pytest.raises(InvalidToken) as refused:
        await verify(provider, sign(op.keys[0]))

    assert refused.value.description == crypto.UNKNOWN_KEY
    assert op.jwks_fetches == 0


async def test_a_provider_that_is_down_keeps_the_keys_it_gave(
    op: SimulatedProvider, clock: Clock
) -> None:
    up = True

    def handle(request: httpx.Request) -> httpx.Response:
        return op.handle(request) if up else httpx.Response(503)

    provider = Provider(ISSUER, production=True, transport=httpx.MockTransport(handle), clock=clock)
    await verify(provider, sign(op.keys[0]))
    up = False
    clock.now += 3600

    assert (await verify(provider, sign(op.keys[0])))["sub"] == "person-1"


# --- the algorithm is the key's ---------------------------------------------------------------


def test_the_algorithm_comes_from_the_key() -> None:
    assert crypto.provider_key_algorithms({"kty": "RSA"}) == ("RS256",)
    assert crypto.provider_key_algorithms({"kty": "EC", "crv": "P-256"}) == ("ES256",)
    assert crypto.provider_key_algorithms({"kty": "OKP", "crv": "Ed25519"}) == ("EdDSA", "Ed25519")
    assert crypto.provider_key_algorithms({"kty": "RSA", "alg": "RS256"}) == ("RS256",)
    # a key naming an algorithm we do not take, another curve, encryption, a secret: none
    assert crypto.provider_key_algorithms({"kty": "RSA", "alg": "PS256"}) == ()
    assert crypto.provider_key_algorithms({"kty": "EC", "crv": "P-384"}) == ()
    assert crypto.provider_key_algorithms({"kty": "EC", "crv": "P-256", "use": "enc"}) == ()
    assert crypto.provider_key_algorithms({"kty": "oct"}) == ()


def _keys(*keys: Key, **extra: Any) -> ProviderKeySet:
    return ProviderKeySet({"keys": [{**k.as_dict(private=False), **extra} for k in keys]})


def test_a_token_claiming_another_algorithm_than_its_key_is_refused() -> None:
    rsa = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})
    ec = ECKey.generate_key("P-256", parameters={"kid": "ec-1"})
    ed = OKPKey.generate_key("Ed25519", parameters={"kid": "ed-1"})
    keys = _keys(rsa, ec, ed)
    forged = {
        # PS256 by the RSA key itself: a real signature, but not the key's algorithm
        "ps256-by-rsa-key": sign(rsa, "PS256"),
        # ES256 claimed for the RSA key's kid (signed by the EC key)
        "es256-under-rsa-kid": sign(ec, "ES256", kid="rsa-1"),
        # EdDSA under the EC key's kid
        "eddsa-under-ec-kid": sign(ed, "EdDSA", kid="ec-1"),
    }
    for name, token in forged.items():
        with pytest.raises(InvalidToken) as refused:
            verify_provider_token(token, keys, issuer=ISSUER, audience=AUDIENCE)
        assert refused.value.description == InvalidToken.GENERIC, name

    for key, alg in ((rsa, "RS256"), (ec, "ES256"), (ed, "EdDSA")):
        token = sign(key, alg)
        assert verify_provider_token(token, keys, issuer=ISSUER, audience=AUDIENCE)["sub"]


def b64int(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_unusable_keys_are_left_out_of_the_set() -> None:
    # A short key, as a careless provider might publish it: refused.
    numbers = rsa.generate_private_key(65537, 1024).public_key().public_numbers()  # noqa: S505
    short = {"kty": "RSA", "kid": "short", "n": b64int(numbers.n), "e": b64int(numbers.e)}
    ec = ECKey.generate_key("P-256", parameters={"kid": "private"})
    published = {
        "keys": [
            short,
            ec.as_dict(private=True),  # a private key published by mistake
            {"kty": "EC", "crv": "P-256", "kid": "broken", "x": "AA", "y": "AA"},
            {"kty": "oct", "kid": "secret", "k": "c2VjcmV0"},
            "not a key",
        ]
    }

    assert len(ProviderKeySet(published)) == 0


# --- claims -------------------------------------------------------------------------------------


@pytest.fixture
def ec() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": "ec-1"})


@pytest.mark.parametrize(
    ("overrides", "told"),
    [
        ({"exp": -100}, crypto.EXPIRED),
        ({"nbf": 100}, crypto.NOT_YET_VALID),
        ({"iat": 100}, crypto.NOT_YET_VALID),
        ({"aud": "https://other.example"}, crypto.WRONG_AUDIENCE),
        ({"iss": "https://other.example"}, crypto.WRONG_ISSUER),
        ({"exp": None}, InvalidToken.GENERIC),
        ({"aud": None}, InvalidToken.GENERIC),
        ({"sub": None}, InvalidToken.GENERIC),
    ],
    ids=[
        "expired",
        "not-yet-valid",
        "issued-in-future",
        "audience",
        "issuer",
        "no-exp",
        "no-aud",
        "no-sub",
    ],
)
def test_claims_are_checked_and_the_reason_told(
    ec: ECKey, overrides: dict[str, Any], told: str
) -> None:
    now = int(time.time())
    relative = {
        k: now + v if k in ("exp", "nbf", "iat") and v is not None else v
        for k, v in overrides.items()
    }

    with pytest.raises(InvalidToken) as refused:
        verify_provider_token(sign(ec, **relative), _keys(ec), issuer=ISSUER, audience=AUDIENCE)

    assert refused.value.description == told


def test_clocks_a_little_apart_are_forgiven(ec: ECKey) -> None:
    now = int(time.time())
    token = sign(ec, exp=now - 10, nbf=now + 10, iat=now + 10, aud=["other", AUDIENCE])

    assert verify_provider_token(token, _keys(ec), issuer=ISSUER, audience=AUDIENCE)


# --- the first link: a verified address, from the token or the userinfo ------------------------


async def _providers(
    op: SimulatedProvider, clock: Clock, sessions: async_sessionmaker[AsyncSession]
) -> OpenIdProviders:
    provider = Provider(
        ISSUER, production=True, transport=httpx.MockTransport(op.handle), clock=clock
    )
    return OpenIdProviders({ISSUER: provider}, AUDIENCE, sessions)


async def test_the_address_comes_from_userinfo_when_the_token_has_none(
    op: SimulatedProvider,
    clock: Clock,
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    brand = await make_org(session, m.OrganizationKind.BRAND)
    user = await make_user(session, brand, m.Role.BRAND_VIEWER)
    await session.commit()
    op.userinfo = {"sub": "person-1", "email": user.email.upper(), "email_verified": True}
    providers = await _providers(op, clock, sessionmaker)
    token = sign(op.keys[0])

    assert (await providers.user_of(token, session))[0] == user.id
    assert (await providers.user_of(token, session))[0] == user.id  # linked: no second userinfo

    assert op.userinfo_tokens == [f"Bearer {token}"]


@pytest.mark.parametrize(
    "userinfo",
    [
        {"sub": "someone-else", "email_verified": True},
        {"sub": "person-1", "email_verified": False},
        {"sub": "person-1", "email_verified": "true"},
        {"sub": "person-1"},
    ],
    ids=["another-subject", "not-verified", "verified-as-text", "no-verification"],
)
async def test_no_link_without_a_verified_address_of_this_subject(
    op: SimulatedProvider,
    clock: Clock,
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    userinfo: dict[str, Any],
) -> None:
    brand = await make_org(session, m.OrganizationKind.BRAND)
    user = await make_user(session, brand, m.Role.BRAND_VIEWER)
    await session.commit()
    op.userinfo = {**userinfo, "email": user.email}
    providers = await _providers(op, clock, sessionmaker)

    with pytest.raises(InvalidToken) as refused:
        await providers.user_of(sign(op.keys[0]), session)

    assert refused.value.description == InvalidToken.GENERIC
    assert (await session.execute(text("SELECT count(*) FROM identity_link"))).scalar() == 0


async def test_a_user_linked_at_a_provider_is_not_linked_to_a_second_subject_there(
    op: SimulatedProvider,
    clock: Clock,
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    brand = await make_org(session, m.OrganizationKind.BRAND)
    user = await make_user(session, brand, m.Role.BRAND_VIEWER)
    await session.commit()
    providers = await _providers(op, clock, sessionmaker)
    address = {"email": user.email, "email_verified": True}
    assert (await providers.user_of(sign(op.keys[0], **address), session))[0] == user.id

    # a second account at the provider with the same address (reassigned, say)
    with pytest.raises(InvalidToken):
        await providers.user_of(sign(op.keys[0], sub="person-2", **address), session)

    rows = (await session.execute(text("SELECT subject FROM identity_link"))).scalars().all()
    assert rows == ["person-1"]


async def test_a_first_link_that_loses_a_race_answers_the_winner(
    session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Two first sign-ins at once: the second insert breaks the unique (issuer, subject);
    the link the first one wrote is the answer, and nothing else is written."""
    brand = await make_org(session, m.OrganizationKind.BRAND)
    winner = await make_user(session, brand, m.Role.BRAND_VIEWER)
    other = await make_user(session, brand, m.Role.BRAND_VIEWER)
    session.add(m.IdentityLink(user_id=winner.id, issuer=ISSUER, subject="person-1"))
    await session.commit()

    assert await link_by_email(sessionmaker, ISSUER, "person-1", other.email) == winner.id
    rows = (await session.execute(text("SELECT user_id FROM identity_link"))).scalars().all()
    assert rows == [winner.id]


@pytest.mark.parametrize("part", [0, 1], ids=["header", "payload"])
def test_json_nested_too_deep_in_a_token_is_refused_not_a_crash(ec: ECKey, part: int) -> None:
    deep = base64.urlsafe_b64encode(b"[" * 100_000).rstrip(b"=").decode()
    parts = sign(ec).split(".")
    parts[part] = deep
    token = ".".join(parts)

    assert crypto.unverified_issuer(token) == (ISSUER if part == 0 else None)
    with pytest.raises(InvalidToken):
        verify_provider_token(token, _keys(ec), issuer=ISSUER, audience=AUDIENCE)
