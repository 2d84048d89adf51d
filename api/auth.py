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

from sqlalchemy import bindparam, or_, select  # noqa: TID251 - reads marked with system_read
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


# Built once: each request runs them on its connection with its own parameters, as Core
# statements (rows of plain values, no ORM objects); SQLAlchemy's cache holds their SQL.
USER_PRINCIPAL = system_read(
    select(
        m.User.id,
        m.User.role,
        m.Organization.id,
        m.Organization.kind,
        m.Organization.country_code,
        m.Organization.labour_inspectorate,
        m.Factory.id,
    )
    .join(m.Organization, m.Organization.id == m.User.organization_id)
    .outerjoin(m.Factory, m.Factory.organization_id == m.Organization.id)
    .where(
        m.User.id == bindparam("user_id"),
        m.User.disabled_at.is_(None),
        or_(
            m.User.tokens_issued_after.is_(None),
            m.User.tokens_issued_after < bindparam("issued"),
        ),
    ),
    "auth: the user behind a token",
)
API_KEY_PRINCIPAL = system_read(
    select(m.ApiKey.id, m.ApiKey.secret_hmac, m.Organization.id, m.Organization.country_code)
    .join(m.Organization, m.Organization.id == m.ApiKey.organization_id)
    .where(
        m.ApiKey.prefix == bindparam("prefix"),
        m.ApiKey.revoked_at.is_(None),
        m.Organization.kind == m.OrganizationKind.HOST,
    ),
    "auth: the organisation behind an API key",
)


async def principal_for_user(
    session: AsyncSession, user_id: int, issued_at: int = 0
) -> Principal | None:
    """The user's principal; None when disabled, or for a token issued before the user was
    last disabled (enabling a user again never revives an old token)."""
    issued = dt.datetime.fromtimestamp(issued_at, dt.UTC)
    conn = await session.connection()
    row = (await conn.execute(USER_PRINCIPAL, {"user_id": user_id, "issued": issued})).first()
    if row is None:
        return None
    user_id, role, org_id, kind, country_code, labour_inspectorate, factory_id = row
    return Principal(
        organization_id=org_id,
        organization_kind=kind,
        country_code=country_code,
        labour_inspectorate=labour_inspectorate,
        factory_id=factory_id,
        user_id=user_id,
        role=role,
    )


async def principal_for_api_key(
    session: AsyncSession, runtime: Runtime, secret: str
) -> Principal | None:
    prefix = runtime.keys.api_keys.prefix_of(secret)
    if prefix is None:
        return None
    conn = await session.connection()
    row = (await conn.execute(API_KEY_PRINCIPAL, {"prefix": prefix})).first()
    if row is None or not runtime.keys.api_keys.matches(secret, row[1]):
        return None
    key_id, _, org_id, country_code = row
    return Principal(
        organization_id=org_id,
        organization_kind=m.OrganizationKind.HOST,
        country_code=country_code,
        labour_inspectorate=False,
        factory_id=None,
        api_key_id=key_id,
        role=m.Role.HOST_INTEGRATION,
    )


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
