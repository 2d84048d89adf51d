"""Credentials over HTTP: every bad token or key gets the same 401 body; good ones work.

Given a brand user and a host with an API key, when a request carries a forged, stale or
misaddressed credential, then the answer is exactly ``UNAUTHORIZED_BODY`` with status 401 and
an RFC 6750 challenge: ``invalid_token`` with a short reason only where the caller holds the
fact already (expired, not yet valid, another audience or issuer, an unknown key), the same
generic one for everything else. A malformed header is ``invalid_request`` (400), another
scheme a bare challenge; with no credentials at all the caller is the anonymous public.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OKPKey
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

import models as m
from api.ids import to_global_id
from core import crypto
from core.crypto import ApiKeyHasher, KeyMaterial, SigningKeys, TokenService
from core.errors import InvalidToken
from core.runtime import Runtime
from tests.builders import make_country, make_org, make_user

VIEWER = "{ viewer { user { email } organization { name kind } role } }"
ISSUE_KEY = """mutation($org: ID!) { issueApiKey(input: {organizationId: $org}) {
  apiKey { id prefix } secret errors { code } } }"""
REVOKE_KEY = """mutation($id: ID!) { revokeApiKey(input: {apiKeyId: $id}) {
  apiKey { revokedAt } errors { code } } }"""

UNAUTHORIZED_BODY = {
    "errors": [{"message": "unauthorized", "extensions": {"code": "UNAUTHENTICATED"}}]
}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value: Any) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


GENERIC = InvalidToken.GENERIC
BARE_CHALLENGE = 'Bearer realm="millgate"'
MALFORMED_BODY = {
    "errors": [{"message": "malformed credentials", "extensions": {"code": "BAD_REQUEST"}}]
}


def challenge(error: str, description: str) -> str:
    return f'Bearer realm="millgate", error="{error}", error_description="{description}"'


def assert_unauthorized(response: httpx.Response, description: str = GENERIC) -> None:
    assert response.status_code == 401, response.text
    assert response.json() == UNAUTHORIZED_BODY
    assert response.headers["www-authenticate"] == challenge("invalid_token", description)


def assert_malformed(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.json() == MALFORMED_BODY
    assert response.headers["www-authenticate"] == challenge(
        "invalid_request", "malformed credentials"
    )


@dataclass
class World:
    user: m.User
    other: m.User
    brand: m.Organization
    host: m.Organization
    admin: m.User


@pytest.fixture
async def world(session: AsyncSession, api: Any) -> World:
    brand = await make_org(session, m.OrganizationKind.BRAND, name="Brand A")
    host = await make_org(session, m.OrganizationKind.HOST, name="Host H")
    platform = await make_org(session, m.OrganizationKind.PLATFORM, name="Operator")
    user = await make_user(session, brand, m.Role.BRAND_VIEWER)
    other = await make_user(session, brand, m.Role.BRAND_VIEWER)
    admin = await make_user(session, platform, m.Role.PLATFORM_ADMIN)
    await session.commit()
    return World(user=user, other=other, brand=brand, host=host, admin=admin)


def claims_for(runtime: Runtime, user_id: int, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": runtime.settings.token_issuer,
        "aud": runtime.settings.token_audience,
        "sub": f"user:{user_id}",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "t",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def sign(key: OKPKey, claims: dict[str, Any], **header: Any) -> str:
    return jwt.encode({"alg": "EdDSA", "kid": key.kid, **header}, claims, key, algorithms=["EdDSA"])


# --- forged and misaddressed tokens -----------------------------------------------------


def _alg_none(rt: Runtime, w: World) -> str:
    header = {"alg": "none", "kid": rt.keys.signing.current.kid, "typ": "JWT"}
    return f"{b64json(header)}.{b64json(claims_for(rt, w.user.id))}."


def _alg_none_with_signature(rt: Runtime, w: World) -> str:
    good = rt.token_service.issue(w.user.id, 600)
    header = {"alg": "none", "kid": rt.keys.signing.current.kid}
    return f"{b64json(header)}.{good.split('.')[1]}.{good.split('.')[2]}"


def _other_key_same_kid(rt: Runtime, w: World) -> str:
    forger = OKPKey.generate_key("Ed25519", parameters={"kid": rt.keys.signing.current.kid})
    return sign(forger, claims_for(rt, w.user.id))


def _embedded_jwk(rt: Runtime, w: World) -> str:
    # The attacker's own public key in the header (CVE-2018-0114 style): must be ignored.
    forger = OKPKey.generate_key("Ed25519", parameters={"kid": rt.keys.signing.current.kid})
    return sign(forger, claims_for(rt, w.user.id), jwk=forger.as_dict(private=False))


def _hs256_with_public_key(rt: Runtime, w: World) -> str:
    # Algorithm confusion: HMAC keyed with the public key (raw bytes, as served in the JWKS).
    public = rt.keys.signing.current.as_dict(private=False)
    secret = base64.urlsafe_b64decode(public["x"] + "=" * (-len(public["x"]) % 4))
    signing_input = (
        f"{b64json({'alg': 'HS256', 'kid': public['kid'], 'typ': 'JWT'})}."
        f"{b64json(claims_for(rt, w.user.id))}"
    )
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def _hs256_with_public_jwk_text(rt: Runtime, w: World) -> str:
    public = json.dumps(rt.keys.signing.public_jwks()["keys"][-1]).encode()
    kid = rt.keys.signing.current.kid
    signing_input = f"{b64json({'alg': 'HS256', 'kid': kid})}.{b64json(claims_for(rt, w.user.id))}"
    mac = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def _unknown_kid(rt: Runtime, w: World) -> str:
    stranger = OKPKey.generate_key("Ed25519", parameters={"kid": "sig-unknown"})
    return sign(stranger, claims_for(rt, w.user.id))


def _known_key_unknown_kid(rt: Runtime, w: World) -> str:
    return sign(rt.keys.signing.current, claims_for(rt, w.user.id), kid="sig-unknown")


def _no_kid(rt: Runtime, w: World) -> str:
    key = rt.keys.signing.current
    return jwt.encode({"alg": "EdDSA"}, claims_for(rt, w.user.id), key, algorithms=["EdDSA"])


def _wrong_audience(rt: Runtime, w: World) -> str:
    service = TokenService(rt.keys.signing, rt.settings.token_issuer, "another-api")
    return service.issue(w.user.id, 600)


def _wrong_issuer(rt: Runtime, w: World) -> str:
    return TokenService(rt.keys.signing, "evil", rt.settings.token_audience).issue(w.user.id, 600)


def _expired(rt: Runtime, w: World) -> str:
    return rt.token_service.issue(w.user.id, 600, now=int(time.time()) - 3600)


def _not_yet_valid(rt: Runtime, w: World) -> str:
    return rt.token_service.issue(w.user.id, 7200, now=int(time.time()) + 3600)


def _nbf_only_in_future(rt: Runtime, w: World) -> str:
    now = int(time.time())
    return sign(rt.keys.signing.current, claims_for(rt, w.user.id, iat=now, nbf=now + 600))


def _tampered_sub(rt: Runtime, w: World) -> str:
    header, _, signature = rt.token_service.issue(w.user.id, 600).split(".")
    payload = b64json(claims_for(rt, w.other.id))
    return f"{header}.{payload}.{signature}"


def _tampered_exp(rt: Runtime, w: World) -> str:
    header, body, signature = _expired(rt, w).split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["exp"] = int(time.time()) + 3600
    return f"{header}.{b64json(claims)}.{signature}"


def _missing_exp(rt: Runtime, w: World) -> str:
    return sign(rt.keys.signing.current, claims_for(rt, w.user.id, exp=None))


def _missing_aud(rt: Runtime, w: World) -> str:
    return sign(rt.keys.signing.current, claims_for(rt, w.user.id, aud=None))


def _sub_not_a_user(rt: Runtime, w: World) -> str:
    return sign(rt.keys.signing.current, claims_for(rt, w.user.id, sub=f"org:{w.brand.id}"))


def _sub_as_number(rt: Runtime, w: World) -> str:
    claims = claims_for(rt, w.user.id)
    claims["sub"] = w.user.id
    return sign(rt.keys.signing.current, claims)


def _nonexistent_user(rt: Runtime, w: World) -> str:
    return rt.token_service.issue(987654, 600)


FORGED: dict[str, Callable[[Runtime, World], str]] = {
    "alg-none": _alg_none,
    "alg-none-keeping-signature": _alg_none_with_signature,
    "other-ed25519-key-same-kid": _other_key_same_kid,
    "embedded-jwk-header": _embedded_jwk,
    "hs256-keyed-with-public-key-bytes": _hs256_with_public_key,
    "hs256-keyed-with-public-jwk-text": _hs256_with_public_jwk_text,
    "unknown-kid": _unknown_kid,
    "real-key-unknown-kid": _known_key_unknown_kid,
    "no-kid": _no_kid,
    "wrong-audience": _wrong_audience,
    "wrong-issuer": _wrong_issuer,
    "expired": _expired,
    "not-yet-valid": _not_yet_valid,
    "nbf-in-future": _nbf_only_in_future,
    "tampered-sub": _tampered_sub,
    "tampered-exp": _tampered_exp,
    "missing-exp": _missing_exp,
    "missing-aud": _missing_aud,
    "sub-not-a-user": _sub_not_a_user,
    "sub-as-number": _sub_as_number,
    "nonexistent-user": _nonexistent_user,
}


# The reasons a caller is told; every other forged token reads GENERIC, like a bad signature.
TOLD = {
    "unknown-kid": crypto.UNKNOWN_KEY,
    "real-key-unknown-kid": crypto.UNKNOWN_KEY,
    "wrong-audience": crypto.WRONG_AUDIENCE,
    "wrong-issuer": crypto.WRONG_ISSUER,
    "expired": crypto.EXPIRED,
    "not-yet-valid": crypto.NOT_YET_VALID,
    "nbf-in-future": crypto.NOT_YET_VALID,
}


@pytest.mark.parametrize("name", FORGED.keys())
async def test_forged_or_misaddressed_token_is_refused(api: Any, world: World, name: str) -> None:
    token = FORGED[name](api.runtime, world)

    response = await api.post(VIEWER, token=token)

    assert_unauthorized(response, TOLD.get(name, GENERIC))


async def test_an_unknown_user_reads_like_a_bad_signature(api: Any, world: World) -> None:
    """Which user ids exist is not told: a signed token of nobody reads as a forged one."""
    nobody = await api.post(VIEWER, token=_nonexistent_user(api.runtime, world))
    forged = await api.post(VIEWER, token=_other_key_same_kid(api.runtime, world))

    def seen(r: Any) -> tuple[int, dict[str, str], bytes]:
        # Every answer has its own x-request-id; everything else must be the same.
        headers = {k: v for k, v in r.headers.items() if k != "x-request-id"}
        return r.status_code, headers, r.content

    assert seen(nobody) == seen(forged)


async def test_tampered_sub_does_not_verify_even_though_the_original_does(
    api: Any, world: World
) -> None:
    original = api.token(world.user)

    assert (await api.post(VIEWER, token=original)).status_code == 200
    assert_unauthorized(await api.post(VIEWER, token=_tampered_sub(api.runtime, world)))


@pytest.mark.parametrize("user_id", [2**31, 2**63 + 5], ids=["beyond-int32", "beyond-int64"])
async def test_signed_token_with_an_out_of_range_user_id_is_refused(
    api: Any, world: World, user_id: int
) -> None:
    """Once a driver error (a 500): the subject is checked against the id column's range."""
    token = api.runtime.token_service.issue(user_id, 600)

    response = await api.post(VIEWER, token=token)

    assert_unauthorized(response)


async def test_token_of_a_disabled_user_is_refused(
    api: Any, world: World, session: AsyncSession
) -> None:
    token = api.token(world.user)
    assert (await api.post(VIEWER, token=token)).status_code == 200

    await session.execute(
        text("UPDATE app_user SET disabled_at = :now WHERE id = :id"),
        {"now": m.utcnow(), "id": world.user.id},
    )
    await session.commit()

    assert_unauthorized(await api.post(VIEWER, token=token))


async def test_token_of_a_deleted_user_is_refused(api: Any, session: AsyncSession) -> None:
    brand = await make_org(session, m.OrganizationKind.BRAND)
    gone = await make_user(session, brand, m.Role.BRAND_VIEWER)
    await session.commit()
    token = api.token(gone)
    assert (await api.post(VIEWER, token=token)).status_code == 200

    await session.execute(text("DELETE FROM app_user WHERE id = :id"), {"id": gone.id})
    await session.commit()

    assert_unauthorized(await api.post(VIEWER, token=token))


# --- malformed headers --------------------------------------------------------------------


# Not a bearer credential at all (RFC 6750 3.1: "Bearer" 1*SP b64token): 400 invalid_request.
MALFORMED_BEARER = {
    "bearer-alone": "Bearer",
    "bearer-space": "Bearer ",
    "bearer-spaces": "Bearer     ",
    "bad-base64": "Bearer !!!.@@@.###",
    "inner-space": "Bearer abc def",
}
# Another scheme, or none: 401 with the bare challenge, no error code (RFC 6750 3.1).
OTHER_SCHEME = {
    "basic-scheme": "Basic dXNlcjpwYXNz",
    "token-without-scheme": "eyJhbGciOiJFZERTQSJ9.e30.sig",
    "tab-separated": "Bearer\teyJhbGciOiJFZERTQSJ9.e30.sig",
}
# A bearer token that is no JWS of ours: 401 invalid_token, the generic reason.
MALFORMED_AUTHORIZATION = {
    "one-segment": "Bearer abc",
    "two-segments": "Bearer abc.def",
    "empty-segments": "Bearer ..",
    "four-segments": "Bearer a.b.c.d",
    "header-not-json": f"Bearer {b64(b'not json')}.{b64json({})}.AAAA",
    "header-a-list": f"Bearer {b64json(['EdDSA'])}.{b64json({})}.AAAA",
    "header-a-string": f"Bearer {b64json('EdDSA')}.{b64json({})}.AAAA",
    "kid-a-number": f"Bearer {b64json({'alg': 'EdDSA', 'kid': 7})}.{b64json({})}.AAAA",
    "huge": "Bearer " + "A" * 20000 + "." + "B" * 20000 + ".C",
    "jwe-shaped": "Bearer a.b.c.d.e",
    # once a 500: json.loads raised RecursionError, which nothing caught
    "header-nested-too-deep": f"Bearer {b64(b'[' * 5000)}.{b64json({})}.AAAA",
}


@pytest.mark.parametrize(
    "value", MALFORMED_AUTHORIZATION.values(), ids=MALFORMED_AUTHORIZATION.keys()
)
async def test_malformed_authorization_header_is_refused(
    api: Any, world: World, value: str
) -> None:
    response = await api.post(VIEWER, headers={"authorization": value})

    assert_unauthorized(response)


@pytest.mark.parametrize("value", MALFORMED_BEARER.values(), ids=MALFORMED_BEARER.keys())
async def test_malformed_bearer_header_is_an_invalid_request(
    api: Any, world: World, value: str
) -> None:
    response = await api.post(VIEWER, headers={"authorization": value})

    assert_malformed(response)


@pytest.mark.parametrize("value", OTHER_SCHEME.values(), ids=OTHER_SCHEME.keys())
async def test_another_scheme_gets_the_bare_challenge(api: Any, world: World, value: str) -> None:
    response = await api.post(VIEWER, headers={"authorization": value})

    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED_BODY
    assert response.headers["www-authenticate"] == BARE_CHALLENGE


async def test_empty_authorization_header_is_refused(api: Any, world: World) -> None:
    response = await api.post(VIEWER, headers={"authorization": ""})

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == BARE_CHALLENGE


async def test_valid_signature_over_a_garbage_payload_is_refused(api: Any, world: World) -> None:
    key = api.runtime.keys.signing.current
    header = b64json({"alg": "EdDSA", "kid": key.kid})
    for payload in (b"not json", b"[1,2]", b'"user:1"', b"{}"):
        signing_input = f"{header}.{b64(payload)}".encode()
        signature = key.private_key.sign(signing_input)
        token = f"{signing_input.decode()}.{b64(signature)}"
        assert_unauthorized(await api.post(VIEWER, token=token))


async def test_both_token_and_api_key_are_refused(
    api: Any, world: World, session: AsyncSession
) -> None:
    secret = await _insert_key(session, api.runtime.keys, world.host)
    assert (await api.post(VIEWER, api_key=secret)).status_code == 200
    assert (await api.post(VIEWER, token=api.token(world.user))).status_code == 200

    response = await api.post(VIEWER, token=api.token(world.user), api_key=secret)

    assert response.status_code == 400
    assert response.headers["www-authenticate"] == challenge(
        "invalid_request", "send either a bearer token or an API key"
    )


# --- the good path, and key rotation ---------------------------------------------------------


async def test_valid_token_gives_the_user(api: Any, world: World) -> None:
    data = await api.gql(VIEWER, token=api.token(world.user))

    assert data["viewer"] == {
        "user": {"email": world.user.email},
        "organization": {"name": "Brand A", "kind": "BRAND"},
        "role": "BRAND_VIEWER",
    }


async def test_no_credentials_is_the_anonymous_public(api: Any, world: World) -> None:
    data = await api.gql(VIEWER)

    assert data["viewer"] == {"user": None, "organization": None, "role": None}


def test_rotated_key_set_verifies_old_and_new_and_signs_with_new() -> None:
    old = OKPKey.generate_key("Ed25519", parameters={"kid": "sig-old"})
    new = OKPKey.generate_key("Ed25519", parameters={"kid": "sig-new"})
    before = TokenService(SigningKeys([old]), "millgate", "millgate-api")
    after = TokenService(SigningKeys([old, new]), "millgate", "millgate-api")
    old_token = before.issue(7, 600)

    new_token = after.issue(8, 600)

    assert after.verify(old_token).user_id == 7
    assert after.verify(new_token).user_id == 8
    assert json.loads(base64.urlsafe_b64decode(new_token.split(".")[0] + "=="))["kid"] == "sig-new"
    with pytest.raises(InvalidToken):
        before.verify(new_token)  # the old set does not know the new key


@pytest.fixture
async def rotated_api(runtime: Runtime, keys: KeyMaterial) -> AsyncIterator[Any]:
    """The app with the session key set plus a newer key: old tokens verify, new ones use it."""
    from api.app import create_app
    from tests.conftest import Api

    newer = OKPKey.generate_key("Ed25519", parameters={"kid": "sig-rotated"})
    rotated = KeyMaterial(
        fields=keys.fields,
        api_keys=keys.api_keys,
        signing=SigningKeys([keys.signing.current, newer]),
    )
    rt = Runtime(
        settings=runtime.settings,
        engine=runtime.engine,
        sessionmaker=runtime.sessionmaker,
        keys=rotated,
    )
    app = create_app(rt)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://millgate.test") as c:
            yield Api(app=app, client=c, runtime=rt)


async def test_rotation_over_http_accepts_tokens_of_both_keys(
    api: Any, rotated_api: Any, world: World
) -> None:
    old_token = api.token(world.user)  # signed by the pre-rotation key
    new_token = rotated_api.token(world.other)

    assert (await rotated_api.gql(VIEWER, token=old_token))["viewer"]["user"] == {
        "email": world.user.email
    }
    assert (await rotated_api.gql(VIEWER, token=new_token))["viewer"]["user"] == {
        "email": world.other.email
    }
    assert json.loads(base64.urlsafe_b64decode(new_token.split(".")[0] + "=="))["kid"] == (
        "sig-rotated"
    )
    assert_unauthorized(await api.post(VIEWER, token=new_token), crypto.UNKNOWN_KEY)  # not rotated


async def test_jwks_lists_public_keys_only(rotated_api: Any) -> None:
    response = await rotated_api.client.get("/.well-known/jwks.json")

    assert response.status_code == 200
    keys = response.json()["keys"]
    assert [k["kid"] for k in keys] == [k.kid for k in rotated_api.runtime.keys.signing._keys]
    for key in keys:
        assert "d" not in key
        assert key["kty"] == "OKP" and key["crv"] == "Ed25519" and key["alg"] == "EdDSA"
        assert set(key) <= {"kty", "crv", "x", "kid", "alg", "use"}
    for private in rotated_api.runtime.keys.signing._keys:
        assert private.as_dict(private=True)["d"] not in response.text


async def test_jwks_verifies_issued_tokens(api: Any, world: World) -> None:
    from joserfc.jwk import KeySet

    jwks = (await api.client.get("/.well-known/jwks.json")).json()

    decoded = jwt.decode(api.token(world.user), KeySet.import_key_set(jwks), algorithms=["EdDSA"])

    assert decoded.claims["sub"] == f"user:{world.user.id}"


# --- API keys -------------------------------------------------------------------------------


async def _insert_key(
    session: AsyncSession, keys: KeyMaterial, org: m.Organization, *, revoked: bool = False
) -> str:
    secret, prefix, digest = keys.api_keys.new_key()
    session.add(
        m.ApiKey(
            organization_id=org.id,
            prefix=prefix,
            secret_hmac=digest,
            revoked_at=m.utcnow() if revoked else None,
        )
    )
    await session.commit()
    return secret


async def test_api_key_issued_by_admin_gives_a_host_principal(api: Any, world: World) -> None:
    admin = api.token(world.admin)
    issued = (
        await api.gql(
            ISSUE_KEY, {"org": str(to_global_id("Organization", world.host.id))}, token=admin
        )
    )["issueApiKey"]
    assert issued["errors"] == []

    data = await api.gql(VIEWER, api_key=issued["secret"])

    assert data["viewer"] == {
        "user": None,
        "organization": {"name": "Host H", "kind": "HOST"},
        "role": "HOST_INTEGRATION",
    }


async def test_revoked_api_key_is_refused(api: Any, world: World) -> None:
    admin = api.token(world.admin)
    issued = (
        await api.gql(
            ISSUE_KEY, {"org": str(to_global_id("Organization", world.host.id))}, token=admin
        )
    )["issueApiKey"]
    assert (await api.post(VIEWER, api_key=issued["secret"])).status_code == 200

    revoked = await api.gql(REVOKE_KEY, {"id": issued["apiKey"]["id"]}, token=admin)
    assert revoked["revokeApiKey"]["errors"] == []

    assert_unauthorized(await api.post(VIEWER, api_key=issued["secret"]))


async def test_key_revoked_in_the_database_is_refused(
    api: Any, world: World, session: AsyncSession
) -> None:
    secret = await _insert_key(session, api.runtime.keys, world.host, revoked=True)

    assert_unauthorized(await api.post(VIEWER, api_key=secret))


def _unknown_valid_looking(keys: KeyMaterial, secret: str) -> dict[str, str]:
    fresh, _, _ = keys.api_keys.new_key()
    _, prefix, body = secret.split("_", 2)
    flipped = ("B" if body[0] == "A" else "A") + body[1:]
    return {
        "unknown-prefix": fresh,
        "known-prefix-wrong-secret": f"mg_{prefix}_{fresh.split('_', 2)[2]}",
        "known-prefix-one-char-changed": f"mg_{prefix}_{flipped}",
        "secret-truncated": secret[:-1],
        "secret-with-suffix": secret + "x",
        "hmac-as-secret": keys.api_keys.digest(secret),
        "wrong-product-prefix": "xx" + secret[2:],
        "empty": "",
        "no-underscores": secret.replace("_", ""),
    }


async def test_unknown_or_altered_api_keys_are_refused(
    api: Any, world: World, session: AsyncSession
) -> None:
    secret = await _insert_key(session, api.runtime.keys, world.host)
    assert (await api.post(VIEWER, api_key=secret)).status_code == 200

    for name, candidate in _unknown_valid_looking(api.runtime.keys, secret).items():
        response = await api.post(VIEWER, api_key=candidate)
        assert response.status_code == 401, name
        assert response.json() == UNAUTHORIZED_BODY, name


@pytest.mark.parametrize(
    "kind",
    [
        m.OrganizationKind.BRAND,
        m.OrganizationKind.FACTORY,
        m.OrganizationKind.PLATFORM,
        m.OrganizationKind.PROGRAMME,
    ],
    ids=lambda k: k.value,
)
async def test_api_key_of_a_non_host_organisation_is_refused(
    api: Any, world: World, session: AsyncSession, kind: m.OrganizationKind
) -> None:
    country = None
    if kind == m.OrganizationKind.PROGRAMME:
        country = (await make_country(session, "ID")).code
    org = await make_org(session, kind, country=country)
    secret = await _insert_key(session, api.runtime.keys, org)

    assert_unauthorized(await api.post(VIEWER, api_key=secret))


async def test_admin_cannot_issue_a_key_to_a_non_host(api: Any, world: World) -> None:
    result = await api.gql(
        ISSUE_KEY,
        {"org": str(to_global_id("Organization", world.brand.id))},
        token=api.token(world.admin),
    )

    assert result["issueApiKey"]["secret"] is None
    assert [e["code"] for e in result["issueApiKey"]["errors"]] == ["INVALID"]


async def test_only_an_hmac_of_the_key_is_stored(
    api: Any, world: World, session: AsyncSession
) -> None:
    issued = (
        await api.gql(
            ISSUE_KEY,
            {"org": str(to_global_id("Organization", world.host.id))},
            token=api.token(world.admin),
        )
    )["issueApiKey"]
    secret = issued["secret"]
    random_part = secret.split("_", 2)[2]

    rows = (await session.execute(text("SELECT * FROM api_key"))).mappings().all()

    assert len(rows) == 1
    stored = " ".join(str(v) for v in rows[0].values())
    assert secret not in stored and random_part not in stored
    assert rows[0]["prefix"] == secret.split("_")[1]
    assert rows[0]["secret_hmac"] == api.runtime.keys.api_keys.digest(secret)
    assert rows[0]["secret_hmac"] != hashlib.sha256(secret.encode()).hexdigest()  # peppered
    audit = (await session.execute(text("SELECT * FROM audit_entry"))).mappings().all()
    assert random_part not in json.dumps([dict(r) for r in audit], default=str)


async def test_api_key_with_underscore_in_its_secret_works(
    api: Any, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = secrets.token_bytes
    monkeypatch.setattr(
        secrets, "token_bytes", lambda n=32: b"\xff" * n if n == 32 else real(n)
    )  # body "____...8"
    issued = (
        await api.gql(
            ISSUE_KEY,
            {"org": str(to_global_id("Organization", world.host.id))},
            token=api.token(world.admin),
        )
    )["issueApiKey"]
    assert "_" in issued["secret"].split("_", 2)[2]

    response = await api.post(VIEWER, api_key=issued["secret"])

    assert response.status_code == 200, response.text


def test_api_key_hasher_compares_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    hasher = ApiKeyHasher(b"p" * 32)
    secret, _, digest = hasher.new_key()
    calls: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr("core.crypto.hmac.compare_digest", spy)

    assert hasher.matches(secret, digest) is True
    assert hasher.matches(secret + "x", digest) is False
    assert hasher.matches(secret, "0" * 64) is False
    assert calls == [(digest, digest), (hasher.digest(secret + "x"), digest), (digest, "0" * 64)]


def test_api_key_hasher_digest_depends_on_the_pepper() -> None:
    one, other = ApiKeyHasher(b"a" * 32), ApiKeyHasher(b"b" * 32)
    secret, prefix, digest = one.new_key()

    assert ApiKeyHasher.prefix_of(secret) == prefix
    assert one.matches(secret, digest)
    assert not other.matches(secret, digest)
    assert digest == hmac.new(b"a" * 32, secret.encode(), hashlib.sha256).hexdigest()


def test_a_remembered_token_is_checked_against_the_clock_and_its_key_every_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = OKPKey.generate_key("Ed25519", parameters={"kid": "sig-a"})
    keys = SigningKeys([key])
    service = TokenService(keys, "millgate", "millgate-api", remember=2)
    token = service.issue(7, 600)
    verified: list[str] = []
    signature_check = crypto._verified_claims

    def counting(token: str, *args: Any) -> dict[str, Any]:
        verified.append(token)
        return signature_check(token, *args)

    monkeypatch.setattr(crypto, "_verified_claims", counting)

    assert service.verify(token).user_id == 7
    assert service.verify(token).user_id == 7
    assert verified == [token]  # the signature was checked once
    # Past its expiry (and the leeway), the remembered token is refused as before.
    later = time.time() + 600 + crypto.CLOCK_LEEWAY_SECONDS + 5
    monkeypatch.setattr("joserfc._rfc7519.claims.time.time", lambda: later)
    with pytest.raises(InvalidToken) as expired:
        service.verify(token)
    assert expired.value.description == crypto.EXPIRED
    monkeypatch.undo()
    # Remembered under another key of the same kid: verified anew, and refused.
    stranger = TokenService(
        SigningKeys([OKPKey.generate_key("Ed25519", parameters={"kid": "sig-a"})]),
        "millgate",
        "millgate-api",
        remember=2,
    )
    stranger._signed[token] = service._signed[token]
    with pytest.raises(InvalidToken):
        stranger.verify(token)
    # Bounded: the oldest token is forgotten first, and a forgotten one verifies in full.
    others = [service.issue(user, 600) for user in (8, 9)]
    for other in others:
        service.verify(other)
    assert len(service._signed) == 2 and token not in service._signed
    assert service.verify(token).user_id == 7


def test_the_app_remembers_token_signatures(runtime: Runtime) -> None:
    assert runtime.token_service._remember > 0
