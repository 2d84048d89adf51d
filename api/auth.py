"""Credentials → :class:`Principal`: bearer tokens for users, API keys for host integrations.

A bearer token is Millgate's own (development, services, the CLI) or an OpenID Provider's
access token (people, :mod:`api.oidc`), told apart by the issuer it names. No credentials
means the anonymous public. Bad credentials raise :class:`InvalidToken`, whose short reason
:mod:`api.challenge` sends in ``WWW-Authenticate``; which user exists is never told. The
user's organisation and role are read from the database on every request, so a disabled
user or a revoked key stops working at once.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import or_, select  # noqa: TID251 - reads marked with system_read
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

import models as m
from api.oidc import OpenIdProviders
from authz.guard import system_read
from authz.principal import Principal
from core.errors import InvalidToken, MalformedCredentials, NoBearerCredentials
from core.runtime import Runtime

API_KEY_HEADER = "x-api-key"
# RFC 6750 2.1: credentials = "Bearer" 1*SP b64token
B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def _principal(org: m.Organization, factory_id: int | None, **who: object) -> Principal:
    return Principal(
        organization_id=org.id,
        organization_kind=org.kind,
        country_code=org.country_code,
        labour_inspectorate=org.labour_inspectorate,
        factory_id=factory_id,
        **who,  # type: ignore[arg-type]
    )


async def principal_for_user(
    session: AsyncSession, user_id: int, issued_at: int = 0
) -> Principal | None:
    """The user's principal; None when disabled, or for a token issued before the user was
    last disabled (enabling a user again never revives an old token)."""
    issued = dt.datetime.fromtimestamp(issued_at, dt.UTC)
    row = (
        await session.execute(
            system_read(
                select(m.User, m.Organization, m.Factory.id)
                .join(m.Organization, m.Organization.id == m.User.organization_id)
                .outerjoin(m.Factory, m.Factory.organization_id == m.Organization.id)
                .where(
                    m.User.id == user_id,
                    m.User.disabled_at.is_(None),
                    or_(m.User.tokens_issued_after.is_(None), m.User.tokens_issued_after < issued),
                ),
                "auth: the user behind a token",
            )
        )
    ).first()
    if row is None:
        return None
    user, org, factory_id = row
    return _principal(org, factory_id, user_id=user.id, role=user.role)


async def principal_for_api_key(
    session: AsyncSession, runtime: Runtime, secret: str
) -> Principal | None:
    prefix = runtime.keys.api_keys.prefix_of(secret)
    if prefix is None:
        return None
    row = (
        await session.execute(
            system_read(
                select(m.ApiKey, m.Organization)
                .join(m.Organization, m.Organization.id == m.ApiKey.organization_id)
                .where(m.ApiKey.prefix == prefix, m.ApiKey.revoked_at.is_(None)),
                "auth: the organisation behind an API key",
            )
        )
    ).first()
    if row is None or not runtime.keys.api_keys.matches(secret, row[0].secret_hmac):
        return None
    key, org = row
    if org.kind != m.OrganizationKind.HOST:
        return None
    return _principal(org, None, api_key_id=key.id, role=m.Role.HOST_INTEGRATION)


def bearer_token(authorization: str) -> str:
    """The token of an ``Authorization: Bearer <token>`` header."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        raise NoBearerCredentials()
    token = token.strip(" ")
    if not B64TOKEN.fullmatch(token):
        raise MalformedCredentials()
    return token


async def authenticate(
    conn: HTTPConnection,
    runtime: Runtime,
    session: AsyncSession,
    providers: OpenIdProviders | None = None,
) -> Principal:
    """The principal of a request; raises :class:`InvalidToken` for bad credentials."""
    authorization = conn.headers.get("authorization")
    api_key = conn.headers.get(API_KEY_HEADER)
    if authorization is None and api_key is None:
        return Principal.anonymous()
    if authorization is not None and api_key is not None:
        raise MalformedCredentials("send either a bearer token or an API key")
    principal: Principal | None = None
    if api_key is not None:
        principal = await principal_for_api_key(session, runtime, api_key.strip())
    else:
        assert authorization is not None
        token = bearer_token(authorization)
        if providers is not None and providers.trusts(token):
            user_id, issued_at = await providers.user_of(token, session)
        else:
            claims = runtime.token_service.verify(token)
            user_id, issued_at = claims.user_id, claims.issued_at
        principal = await principal_for_user(session, user_id, issued_at)
    if principal is None:
        raise InvalidToken()
    return principal
