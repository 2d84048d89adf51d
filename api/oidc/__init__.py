"""Access tokens of OpenID Providers: people sign in with their organisation's provider.

Millgate is the resource server. A frontend signs the person in at its provider
(authorization code + PKCE) and sends the JWT access token it got for Millgate's audience
(``MILLGATE_OIDC_AUDIENCE``). :class:`OpenIdProviders` verifies it against the keys of the
issuer it names (one of ``MILLGATE_OIDC_ISSUER``) and finds the user it belongs to
(:mod:`api.oidc.accounts`); the signature and claim checks are in :mod:`core.crypto`.

Example:
    providers = OpenIdProviders.from_settings(settings, runtime.sessionmaker)
    if providers.trusts(token):
        user_id = await providers.user_of(token, session)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.oidc.accounts import link_by_email, linked_user
from api.oidc.provider import Provider, ProviderUnavailable
from core.crypto import token_header, unverified_issuer, verify_provider_token
from core.errors import InvalidToken
from core.settings import Settings

__all__ = ["OpenIdProviders", "Provider"]


class OpenIdProviders:
    """The configured providers, by issuer, and the audience their tokens must name."""

    def __init__(
        self,
        providers: Mapping[str, Provider],
        audience: str,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        self._providers = dict(providers)
        self._audience = audience
        self._sessions = sessions

    @classmethod
    def from_settings(
        cls, settings: Settings, sessions: async_sessionmaker[AsyncSession]
    ) -> OpenIdProviders | None:
        if not settings.oidc_issuers:
            return None
        providers = {
            issuer: Provider(issuer, production=settings.production)
            for issuer in settings.oidc_issuers
        }
        return cls(providers, settings.oidc_audience, sessions)

    def trusts(self, token: str) -> bool:
        """Whether the token claims to be from one of these providers (unverified)."""
        return unverified_issuer(token) in self._providers

    async def user_of(self, token: str, session: AsyncSession) -> tuple[int, int]:
        """The id of the user the token belongs to and the token's ``iat`` (0 when absent);
        :class:`InvalidToken` otherwise."""
        issuer = unverified_issuer(token)
        provider = self._providers.get(issuer or "")
        kid = token_header(token).get("kid")
        if provider is None or not isinstance(kid, str):
            raise InvalidToken()
        keys = await provider.keys_for(kid)
        claims = verify_provider_token(token, keys, issuer=provider.issuer, audience=self._audience)
        subject: str = claims["sub"]
        user_id = await linked_user(session, provider.issuer, subject)
        if user_id is None:
            email = await _verified_email(provider, token, claims)
            if email is not None:
                user_id = await link_by_email(self._sessions, provider.issuer, subject, email)
        if user_id is None:
            raise InvalidToken()  # the same answer as a bad signature: no user is revealed
        issued_at = claims.get("iat")
        return user_id, issued_at if isinstance(issued_at, int) else 0


async def _verified_email(provider: Provider, token: str, claims: Mapping[str, Any]) -> str | None:
    """The address the provider vouches for: from the token, else from its userinfo (whose
    ``sub`` must be the token's, OpenID Connect Core 5.3.2)."""
    if "email_verified" not in claims or "email" not in claims:
        try:
            info = await provider.userinfo(token)
        except ProviderUnavailable:
            return None
        if info.get("sub") != claims["sub"]:
            return None
        claims = info
    email = claims.get("email")
    if claims.get("email_verified") is not True or not isinstance(email, str) or "@" not in email:
        return None
    return email
